// The tenant lifecycle, run by the admin API as the database owner: provisioning (registry
// row, role, schema, migrations, API key, in one transaction), migration, export and import,
// deletion (schema, role, keys, usage and Redis keys).
import { createHash, randomBytes } from 'node:crypto';
import { transaction, enterTenant, schemaFor, ident } from './db.js';
import { applyPending, migrateTenant } from './migrations.js';

/** Allowed slugs: lower-case letters, digits and inner dashes, 3 to 40 characters. */
export const SLUG = /^[a-z][a-z0-9-]{1,38}[a-z0-9]$/;
/** The tables of a tenant schema, in an order that respects their foreign keys. */
export const TENANT_TABLES = ['projects', 'tasks', 'members'];

/** An HTTP-facing error. */
export class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** The stored form of an API key. */
export function hashKey(key) {
  return createHash('sha256').update(key).digest('hex');
}

/** Checks and normalises a provisioning request. */
function checkRequest({ slug, name, plan = 'free', api_key: apiKey, schema_version: version }) {
  if (typeof slug !== 'string' || !SLUG.test(slug)) throw new HttpError(400, `invalid slug ${JSON.stringify(slug)}: lower-case letters, digits and dashes, 3 to 40`);
  if (typeof name !== 'string' || !name.trim()) throw new HttpError(400, 'name is required');
  if (apiKey !== undefined && (typeof apiKey !== 'string' || apiKey.length < 16)) throw new HttpError(400, 'api_key must be at least 16 characters');
  if (version !== undefined && !(Number.isInteger(version) && version > 0)) throw new HttpError(400, 'schema_version must be a positive integer');
  return { slug, name: name.trim(), plan, apiKey: apiKey ?? `sk_${slug}_${randomBytes(18).toString('hex')}`, version: version ?? Infinity };
}

/**
 * Provisions a tenant; returns it with its API key (shown once). With `import`, an export of
 * another tenant is loaded into the new schema in the same transaction.
 */
export async function provision(admin, request) {
  const r = checkRequest(request);
  const schema = schemaFor(r.slug);
  try {
    return await transaction(admin, async (c) => {
      const { rows: [tenant] } = await c.query(
        'INSERT INTO tenants (slug, name, schema_name, plan_id) VALUES ($1, $2, $3, $4) RETURNING id, slug, name, schema_name, plan_id AS plan, created_at',
        [r.slug, r.name, schema, r.plan]);
      await c.query(`CREATE ROLE ${ident(schema)} NOLOGIN IN ROLE tenant_base`);
      await c.query(`GRANT ${ident(schema)} TO saas_app`);
      await c.query(`CREATE SCHEMA ${ident(schema)} AUTHORIZATION ${ident(schema)}`);
      await enterTenant(c, schema);
      const migrated = await applyPending(c, r.version);
      if (request.import) await importRows(c, request.import);
      await c.query('RESET ROLE');
      await c.query('INSERT INTO api_keys (key_hash, tenant_id) VALUES ($1, $2)', [hashKey(r.apiKey), tenant.id]);
      await c.query("INSERT INTO admin_audit (action, tenant_slug, detail) VALUES ('provision', $1, $2)", [r.slug, { plan: r.plan, schema_version: migrated.to }]);
      return { ...tenant, schema_version: migrated.to, api_key: r.apiKey };
    });
  } catch (err) {
    if (err.code === '23505' && /tenants_slug_key|tenants_schema_name_key/.test(err.constraint ?? '')) throw new HttpError(409, `tenant ${r.slug} exists`);
    if (err.code === '23503') throw new HttpError(400, `unknown plan ${JSON.stringify(r.plan)}`);
    throw err;
  }
}

/** Loads an export's rows (tables in foreign-key order) into the current tenant schema. */
async function importRows(c, doc) {
  for (const table of TENANT_TABLES) {
    const rows = doc?.tables?.[table] ?? [];
    if (rows.length) {
      await c.query(`INSERT INTO ${ident(table)} SELECT * FROM json_populate_recordset(NULL::${ident(table)}, $1::json)`, [JSON.stringify(rows)]);
    }
  }
}

/** The registry row of a tenant, or a 404. */
export async function find(admin, slug) {
  const { rows } = await admin.query('SELECT id, slug, name, schema_name, plan_id AS plan, created_at FROM tenants WHERE slug = $1', [slug]);
  if (!rows.length) throw new HttpError(404, `no tenant ${slug}`);
  return rows[0];
}

/** Every tenant with its schema version and row counts (read as each tenant). */
export async function list(admin) {
  const { rows } = await admin.query('SELECT id, slug, name, schema_name, plan_id AS plan, created_at FROM tenants ORDER BY slug');
  const out = [];
  for (const t of rows) {
    const counts = await transaction(admin, async (c) => {
      await enterTenant(c, t.schema_name);
      const { rows: [n] } = await c.query(`SELECT (SELECT count(*) FROM projects)::int AS projects, (SELECT count(*) FROM tasks)::int AS tasks,
        (SELECT count(*) FROM members)::int AS members, (SELECT COALESCE(max(version), 0) FROM schema_migrations)::int AS schema_version`);
      return n;
    });
    out.push({ ...t, ...counts });
  }
  return out;
}

/** Everything of one tenant, read under its own role: it cannot contain another tenant's rows. */
export async function exportTenant(admin, slug) {
  const t = await find(admin, slug);
  return transaction(admin, async (c) => {
    await enterTenant(c, t.schema_name);
    const tables = {};
    for (const table of TENANT_TABLES) tables[table] = (await c.query(`SELECT * FROM ${ident(table)} ORDER BY created_at, id`)).rows;
    const { rows: [v] } = await c.query('SELECT COALESCE(max(version), 0)::int AS version FROM schema_migrations');
    await c.query('RESET ROLE');
    await c.query("INSERT INTO admin_audit (action, tenant_slug) VALUES ('export', $1)", [slug]);
    return { tenant: { slug: t.slug, name: t.name, plan: t.plan }, schema_version: v.version, exported_at: new Date().toISOString(), tables };
  });
}

/** Migrates one tenant; returns `{slug, from, to, applied}` or `{slug, error}`. */
export async function migrate(admin, slug, target) {
  const t = await find(admin, slug);
  try {
    return { slug, ...(await migrateTenant(admin, t.schema_name, target)) };
  } catch (err) {
    return { slug, error: err.message, failed_migration: err.migration ?? null };
  }
}

/** Migrates every tenant, each on its own: one failure leaves the others migrated. */
export async function migrateAll(admin) {
  const { rows } = await admin.query('SELECT slug FROM tenants ORDER BY slug');
  const out = [];
  for (const { slug } of rows) out.push(await migrate(admin, slug));
  return out;
}

/** Deletes a tenant and everything it had; returns what was removed. */
export async function remove(admin, redis, slug) {
  const t = await find(admin, slug);
  const keys = await transaction(admin, async (c) => {
    const hashes = (await c.query('SELECT key_hash FROM api_keys WHERE tenant_id = $1', [t.id])).rows.map((r) => r.key_hash);
    await c.query('DELETE FROM tenants WHERE id = $1', [t.id]);
    await c.query('DELETE FROM usage_events WHERE tenant_role = $1', [t.schema_name]);
    await c.query(`DROP SCHEMA ${ident(t.schema_name)} CASCADE`);
    await c.query(`DROP ROLE ${ident(t.schema_name)}`);
    await c.query("INSERT INTO admin_audit (action, tenant_slug) VALUES ('delete', $1)", [slug]);
    return hashes;
  });
  let purged = 0;
  for (const h of keys) purged += await redis.del(`apikey:${h}`);
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `t:${slug}:*`, 'COUNT', 200);
    cursor = next;
    if (batch.length) purged += await redis.del(...batch);
  } while (cursor !== '0');
  return { slug, schema: t.schema_name, api_keys: keys.length, redis_keys: purged };
}
