// Login sessions: the live session is a Redis key with a TTL (checked on every request);
// a row in the `sessions` table keeps the durable record of who logged in and how.
import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';

const PREFIX = 'session:';

/** Connects a Redis client to `redisUrl`. */
export async function connectRedis(redisUrl) {
  const client = createClient({
    url: redisUrl,
    socket: { connectTimeout: 5000, reconnectStrategy: (retries) => (retries > 20 ? false : 200) },
  });
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** Creates a session for `userId`; returns `{ token, userId, method, expiresAt }`. */
export async function createSession({ db, redis, ttlSeconds }, userId, method) {
  const token = randomBytes(32).toString('base64url');
  const expiresAt = new Date(Date.now() + ttlSeconds * 1000);
  const session = { userId, method, createdAt: new Date().toISOString() };
  await db.query(
    'INSERT INTO sessions (id, user_id, method, expires_at) VALUES ($1, $2, $3, $4)',
    [token, userId, method, expiresAt],
  );
  await redis.set(PREFIX + token, JSON.stringify(session), { EX: ttlSeconds });
  return { token, userId, method, expiresAt };
}

/** The live session behind `token`, or null when it is unknown or expired. */
export async function getSession({ redis }, token) {
  if (!token) return null;
  const raw = await redis.get(PREFIX + token);
  return raw ? JSON.parse(raw) : null;
}

/** Ends the session behind `token`. */
export async function destroySession({ db, redis }, token) {
  await redis.del(PREFIX + token);
  await db.query('UPDATE sessions SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL', [token]);
}
