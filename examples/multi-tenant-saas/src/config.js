// Settings from the environment. The defaults are the service names of vers-integration.yaml,
// which gives the app only TENANT_ISOLATION.

/** The isolation modes the seed names; this app implements `schema`. */
export const ISOLATION_MODES = ['schema', 'database', 'row'];

export function config(env = process.env) {
  const isolation = env.TENANT_ISOLATION ?? 'schema';
  if (!ISOLATION_MODES.includes(isolation)) {
    throw new Error(`TENANT_ISOLATION=${isolation}: expected one of ${ISOLATION_MODES.join(', ')}`);
  }
  if (isolation !== 'schema') {
    throw new Error(`TENANT_ISOLATION=${isolation} is not implemented by this app: it isolates tenants by schema (TENANT_ISOLATION=schema)`);
  }
  return {
    isolation,
    // Provisioning, migrations and the registry: the database owner.
    adminDatabaseUrl: env.DATABASE_URL ?? 'postgres://postgres@postgres/saas',
    // Tenant requests: saas_app, which can act only as one tenant role at a time.
    tenantDatabaseUrl: env.TENANT_DATABASE_URL ?? 'postgres://saas_app@postgres/saas',
    redisUrl: env.REDIS_URL ?? 'redis://redis:6379',
    poolMax: Number(env.PG_POOL_MAX ?? 4),
    adminApiKey: env.ADMIN_API_KEY ?? 'admin-test-key',
    host: env.HOST ?? '0.0.0.0',
    port: Number(env.PORT ?? 3000),
  };
}
