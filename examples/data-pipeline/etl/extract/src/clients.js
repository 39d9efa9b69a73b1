// Connections of the extract worker, also used by the tests: the source database and Redis.
import pg from 'pg';
import Redis from 'ioredis';

/** The source database URL (the seed's `SOURCE_DATABASE_URL`). */
export const sourceUrl = () => process.env.SOURCE_DATABASE_URL ?? 'postgres://postgres@postgres-source/production_mirror';
/** The Redis URL (the seed's `REDIS_URL`). */
export const redisUrl = () => process.env.REDIS_URL ?? 'redis://redis:6379';

/** A small pool on the source database. */
export function sourcePool(url = sourceUrl()) {
  const p = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 10000 });
  // An idle connection that breaks (a restarted server) is dropped; the pool makes a new one.
  p.on('error', (err) => console.error(`pool ${url}: idle connection lost: ${err.message}`));
  return p;
}

/** A Redis client that fails fast instead of queueing commands while disconnected. */
export function redisClient(url = redisUrl()) {
  return new Redis(url, { maxRetriesPerRequest: 3, enableOfflineQueue: true, lazyConnect: false });
}
