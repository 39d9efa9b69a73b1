// The app's three dependencies, each behind a time limit, retries with exponential
// backoff (where a retry is safe) and a circuit breaker:
// - PostgreSQL (`pg`): the orders, the source of truth;
// - Redis (`redis`): a read-through cache of orders, optional;
// - Stripe (stripe-mock, over node's fetch): the charge for each order, which may be
//   settled later when Stripe is failing. A charge is a confirmed PaymentIntent.
import pg from 'pg';
import { createClient } from 'redis';

import { CircuitBreaker, retry, withTimeout } from './resilience.js';

export function loadConfig(env = process.env) {
  const num = (name, dflt) => Number(env[name] ?? dflt);
  return {
    host: env.HOST ?? '0.0.0.0',
    port: num('PORT', 3000),
    databaseUrl: env.DATABASE_URL ?? 'postgres://postgres@postgres/orders',
    redisUrl: env.REDIS_URL ?? 'redis://redis:6379',
    stripeUrl: env.STRIPE_URL ?? 'http://stripe:12111',
    stripeKey: env.STRIPE_SECRET_KEY ?? 'sk_test_resilience',
    breaker: { threshold: num('BREAKER_THRESHOLD', 3), cooldownMs: num('BREAKER_COOLDOWN_MS', 1000) },
    // Stripe errors are often one-offs: its breaker tolerates more of them in a row.
    stripeThreshold: num('STRIPE_BREAKER_THRESHOLD', 5),
    dbTimeoutMs: num('DB_TIMEOUT_MS', 3000),
    cacheTimeoutMs: num('CACHE_TIMEOUT_MS', 250),
    stripeTimeoutMs: num('STRIPE_TIMEOUT_MS', 2000),
  };
}

/** Counts retries per dependency, for `/health`. */
export const retries = { postgres: 0, redis: 0, stripe: 0 };

export function createDeps(config) {
  const breakers = {
    postgres: new CircuitBreaker('postgres', config.breaker),
    redis: new CircuitBreaker('redis', config.breaker),
    stripe: new CircuitBreaker('stripe', { ...config.breaker, threshold: config.stripeThreshold }),
  };

  const pool = new pg.Pool({
    connectionString: config.databaseUrl,
    max: 5,
    connectionTimeoutMillis: config.dbTimeoutMs,
    query_timeout: config.dbTimeoutMs,
  });
  // A killed server drops idle connections; the pool replaces them on the next query.
  pool.on('error', (err) => console.error(`postgres: idle connection lost: ${err.message}`));

  const redis = createClient({
    url: config.redisUrl,
    // Fail at once while disconnected instead of queueing until Redis is back.
    disableOfflineQueue: true,
    socket: {
      connectTimeout: 1000,
      reconnectStrategy: (n) => Math.min(50 * 2 ** n, 1000),
    },
  });
  redis.on('error', (err) => console.error(`redis: ${err.message}`));

  /** A query with retries: every statement the app sends is idempotent or keyed. */
  async function query(text, params = []) {
    return retry(
      () => breakers.postgres.call(() => pool.query(text, params)),
      {
        attempts: 4,
        baseMs: 100,
        // SQL errors are answers, not outages: only connection failures (and the
        // server's own "connection exception" / "operator intervention" classes) retry.
        retryable: (err) => !(err instanceof pg.DatabaseError) || /^(08|57)/.test(err.code ?? ''),
        onRetry: () => {
          retries.postgres += 1;
        },
      },
    );
  }

  /** A cache read: one short try, `undefined` when Redis is unavailable. */
  async function cacheGet(key) {
    try {
      return await breakers.redis.call(() =>
        withTimeout(redis.get(key), config.cacheTimeoutMs, 'redis GET'),
      );
    } catch {
      return undefined;
    }
  }

  /** A cache write: best effort. */
  async function cacheSet(key, value) {
    try {
      await breakers.redis.call(() =>
        withTimeout(redis.set(key, value, { EX: 600 }), config.cacheTimeoutMs, 'redis SET'),
      );
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Charges an order. The Idempotency-Key makes retries safe: Stripe answers a repeated
   * request with the first charge. 5xx, 429 and network errors are retried.
   */
  async function charge(order) {
    let attempts = 0;
    const result = await retry(
      () =>
        breakers.stripe.call(async () => {
          attempts += 1;
          const body = new URLSearchParams({
            amount: String(order.amount),
            currency: 'usd',
            payment_method: 'pm_card_visa',
            confirm: 'true',
            'metadata[order_id]': String(order.id),
          });
          const res = await fetch(`${config.stripeUrl}/v1/payment_intents`, {
            method: 'POST',
            headers: {
              authorization: `Bearer ${config.stripeKey}`,
              'content-type': 'application/x-www-form-urlencoded',
              'idempotency-key': `order-${order.id}`,
            },
            body,
            signal: AbortSignal.timeout(config.stripeTimeoutMs),
          });
          const json = await res.json().catch(() => ({}));
          if (res.status >= 500 || res.status === 429) {
            const err = new Error(`stripe answered ${res.status}`);
            err.status = res.status;
            throw err;
          }
          if (!res.ok) {
            // A card error is an answer: it does not count against the breaker.
            return { declined: json.error?.message ?? `status ${res.status}` };
          }
          if (json.status !== 'succeeded') return { declined: `payment intent ${json.status}` };
          return { id: json.id };
        }),
      {
        attempts: 5,
        baseMs: 100,
        onRetry: () => {
          retries.stripe += 1;
        },
      },
    );
    return { ...result, attempts };
  }

  return {
    breakers,
    pool,
    redis,
    query,
    cacheGet,
    cacheSet,
    charge,
    async connect() {
      await redis.connect();
    },
    async close() {
      await Promise.allSettled([pool.end(), redis.quit()]);
    },
  };
}
