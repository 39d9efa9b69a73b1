// Tenant schema migrations: migrations/NNN_name.sql, applied in order, each tenant in its own
// transaction as its own role, recorded in the tenant's schema_migrations.
import { readdir, readFile } from 'node:fs/promises';
import { transaction, enterTenant } from './db.js';

const DIR = new URL('../migrations/', import.meta.url);

/** Every migration: `{version, name, sql}`, by version. */
export async function migrations() {
  const files = (await readdir(DIR)).filter((f) => /^\d{3}_.+\.sql$/.test(f)).sort();
  return Promise.all(files.map(async (f) => ({
    version: Number(f.slice(0, 3)),
    name: f.slice(4, -4),
    sql: await readFile(new URL(f, DIR), 'utf8'),
  })));
}

/** The newest migration version. */
export async function latestVersion() {
  const all = await migrations();
  return all.length ? all[all.length - 1].version : 0;
}

/** Applies pending migrations up to `target` with a client already in the tenant's context. */
export async function applyPending(client, target = Infinity) {
  await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  const { rows } = await client.query('SELECT COALESCE(max(version), 0) AS v FROM schema_migrations');
  const from = rows[0].v;
  const applied = [];
  for (const m of await migrations()) {
    if (m.version <= from || m.version > target) continue;
    try {
      await client.query(m.sql);
    } catch (err) {
      err.message = `migration ${m.version} (${m.name}): ${err.message}`;
      err.migration = m.version;
      throw err;
    }
    await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
    applied.push(m.version);
  }
  return { from, to: applied.length ? applied[applied.length - 1] : from, applied };
}

/**
 * Migrates one tenant (by schema) to `target`, all or nothing: a failing migration rolls back
 * every migration of this call for this tenant, and no other tenant.
 */
export async function migrateTenant(adminPool, schema, target = Infinity) {
  return transaction(adminPool, async (client) => {
    await enterTenant(client, schema);
    return applyPending(client, target);
  });
}
