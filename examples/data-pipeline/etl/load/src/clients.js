// Connections of the load worker, also used by the tests: the warehouse, Redis and search.
import pg from 'pg';
import Redis from 'ioredis';

export { connectSearch, searchUrl } from './search.js';

/** The seed's `WAREHOUSE_DATABASE_URL`. */
export const warehouseUrl = () => process.env.WAREHOUSE_DATABASE_URL ?? 'postgres://postgres@postgres-warehouse/warehouse';
/** The seed's `REDIS_URL`. */
export const redisUrl = () => process.env.REDIS_URL ?? 'redis://redis:6379';

/** A pool on a PostgreSQL database (the warehouse unless told otherwise). */
export function pool(url = warehouseUrl()) {
  const p = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 10000 });
  // An idle connection that breaks (a restarted server) is dropped; the pool makes a new one.
  p.on('error', (err) => console.error(`pool ${url}: idle connection lost: ${err.message}`));
  return p;
}

/** A Redis client. */
export function redisClient(url = redisUrl()) {
  return new Redis(url, { maxRetriesPerRequest: 3 });
}
