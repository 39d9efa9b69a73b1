// PostgreSQL access. Tenant work runs in `withTenant`: one transaction on a pooled saas_app
// connection with `SET LOCAL ROLE tenant_x` and `SET LOCAL search_path = tenant_x, public`.
// Both end with the transaction (commit or rollback), so a connection goes back to the pool
// as bare saas_app, and the next request, whatever its tenant, starts from nothing.
import pg from 'pg';

/** The two pools: `admin` (database owner) and `tenant` (saas_app). */
export function pools(cfg) {
  const out = {
    admin: new pg.Pool({ connectionString: cfg.adminDatabaseUrl, max: 4, connectionTimeoutMillis: 10000 }),
    tenant: new pg.Pool({ connectionString: cfg.tenantDatabaseUrl, max: cfg.poolMax, connectionTimeoutMillis: 10000 }),
  };
  // An idle connection that breaks (a restarted server) is dropped; the pool makes a new one.
  for (const [name, pool] of Object.entries(out)) pool.on('error', (err) => console.error(`${name} pool: idle connection lost: ${err.message}`));
  return out;
}

/** The schema (and role) name of a tenant slug: `acme-corp` → `tenant_acme_corp`. */
export function schemaFor(slug) {
  return `tenant_${slug.replaceAll('-', '_')}`;
}

/** A quoted identifier; only the names this app makes are accepted. */
export function ident(name) {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`refusing identifier ${JSON.stringify(name)}`);
  return `"${name}"`;
}

/** Runs `work(client)` in one transaction; rolls back on error. */
export async function transaction(pool, work) {
  const client = await pool.connect();
  let broken;
  try {
    await client.query('BEGIN');
    const out = await work(client);
    await client.query('COMMIT');
    return out;
  } catch (err) {
    try {
      await client.query('ROLLBACK');
    } catch (rollbackErr) {
      broken = rollbackErr;
    }
    throw err;
  } finally {
    client.release(broken);
  }
}

/** Enters a tenant's context inside an open transaction. */
export async function enterTenant(client, schema) {
  await client.query(`SET LOCAL ROLE ${ident(schema)}`);
  await client.query(`SET LOCAL search_path = ${ident(schema)}, public`);
}

/** Runs `work(client)` as the tenant whose schema is `schema`, in one transaction. */
export function withTenant(pool, schema, work) {
  return transaction(pool, async (client) => {
    await enterTenant(client, schema);
    return work(client);
  });
}
