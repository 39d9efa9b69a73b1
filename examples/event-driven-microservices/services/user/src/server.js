// user-service: sign-up (a users row and a UserRegistered event, committed together), reads
// through a Redis cache, and /health. Routes are relative: the gateway strips `/api/users`.
import {
  HttpError,
  TOPICS,
  connectProducer,
  createKafka,
  createServer,
  enqueue,
  listen,
  makeEvent,
  onShutdown,
  retryUntil,
  startRelay,
} from '@edm/events';
import Redis from 'ioredis';

import { createPool, migrate } from './db.js';
import { cacheKey, isUserId, publicUser, validateNewUser } from './users.js';

const SERVICE = 'user-service';
const CACHE_TTL_S = 300;

const pool = createPool(process.env.DATABASE_URL ?? 'postgres://postgres@postgres-users/users');
const redis = new Redis(process.env.REDIS_URL ?? 'redis://redis:6379', {
  maxRetriesPerRequest: 1,
  connectTimeout: 2000,
  commandTimeout: 1000,
});
redis.on('error', () => {});
const kafka = createKafka(SERVICE);

await retryUntil('postgres-users', () => migrate(pool));
const publisher = await retryUntil('kafka producer', () => connectProducer(kafka));
const relay = startRelay({ pool, publisher });

/** The user from the cache, else PostgreSQL (then cached); the cache is optional. */
async function findUser(id) {
  try {
    const cached = await redis.get(cacheKey(id));
    if (cached) return { user: JSON.parse(cached), cache: 'hit' };
  } catch {
    // Redis unavailable: read through to PostgreSQL.
  }
  const { rows } = await pool.query('SELECT * FROM users WHERE id = $1', [id]);
  if (rows.length === 0) return { user: null, cache: 'miss' };
  const user = publicUser(rows[0]);
  await redis.set(cacheKey(id), JSON.stringify(user), 'EX', CACHE_TTL_S).catch(() => {});
  return { user, cache: 'miss' };
}

async function register({ body }) {
  const input = validateNewUser(body);
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query(
      'INSERT INTO users (email, name) VALUES ($1, $2) ON CONFLICT (email) DO NOTHING RETURNING *',
      [input.email, input.name],
    );
    if (rows.length === 0) {
      await client.query('ROLLBACK');
      throw new HttpError(409, `${input.email} is already registered`);
    }
    const user = publicUser(rows[0]);
    await enqueue(
      client,
      TOPICS.users,
      makeEvent('UserRegistered', SERVICE, { userId: user.id, email: user.email, name: user.name }),
      user.id,
    );
    await client.query('COMMIT');
    relay.kick();
    return { status: 201, body: user };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

async function health() {
  const checks = {};
  checks.postgres = await pool.query('SELECT 1').then(() => 'ok', (e) => e.message);
  checks.redis = await redis.ping().then(() => 'ok', (e) => e.message);
  checks.outbox = relay.state.lastError ?? 'ok';
  const ok = checks.postgres === 'ok' && checks.redis === 'ok';
  return { status: ok ? 200 : 503, body: { service: SERVICE, status: ok ? 'ok' : 'degraded', checks, published: relay.state.published } };
}

const server = createServer([
  ['GET', '/health', health],
  ['POST', '/', register],
  [
    'GET',
    '/',
    async ({ query }) => {
      const email = query.get('email');
      if (!email) throw new HttpError(400, 'give ?email=');
      const { rows } = await pool.query('SELECT * FROM users WHERE email = $1', [email.toLowerCase()]);
      if (rows.length === 0) throw new HttpError(404, `no user ${email}`);
      return { body: publicUser(rows[0]) };
    },
  ],
  [
    'GET',
    '/:id',
    async ({ params }) => {
      if (!isUserId(params.id)) throw new HttpError(404, `no user ${params.id}`);
      const { user, cache } = await findUser(params.id);
      if (!user) throw new HttpError(404, `no user ${params.id}`);
      return { body: user, headers: { 'x-cache': cache } };
    },
  ],
]);

const { host, port } = await listen(server);
console.log(`${SERVICE} listening on ${host}:${port}`);
onShutdown(async () => {
  relay.stop();
  server.close();
  await publisher.disconnect().catch(() => {});
  await pool.end().catch(() => {});
  redis.disconnect();
});
