// PostgreSQL: one pool per database of the `postgres` service (ecommerce, inventory,
// analytics), transactions, and the analytics event log.
import pg from 'pg';

/** Pools for the three databases named in `config.databases`. */
export function createPools(config) {
  const pool = (url) => new pg.Pool({ connectionString: url, max: 5 });
  return {
    ecommerce: pool(config.databases.ecommerce),
    inventory: pool(config.databases.inventory),
    analytics: pool(config.databases.analytics),
  };
}

/** Closes every pool of `pools`. */
export async function closePools(pools) {
  await Promise.allSettled(Object.values(pools).map((p) => p.end()));
}

/** Runs `fn(client)` in a transaction of `pool`; commits on success, rolls back on error. */
export async function transaction(pool, fn) {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

/** Appends an event to analytics.events. */
export async function recordEvent(pools, name, properties) {
  await pools.analytics.query('INSERT INTO events (name, properties) VALUES ($1, $2)', [name, properties]);
}
