// Everything the app talks to, connected from the configuration; used by the server, the
// checkpoint scripts and the tests alike.
import Redis from 'ioredis';
import Stripe from 'stripe';
import { loadConfig } from './config.js';
import { closePools, createPools } from './db.js';
import { createMailer } from './mailer.js';
import { createSearchClient } from './search.js';
import { createS3 } from './storage.js';

/** A Stripe client for the configured API (stripe-mock inside vers). */
export function createStripe(config) {
  return new Stripe(config.stripe.secretKey, {
    host: config.stripe.host,
    port: config.stripe.port,
    protocol: config.stripe.protocol,
    maxNetworkRetries: 2,
  });
}

/** `{config, pools, redis, es, s3, stripe, mailer, close()}`. */
export function createContext(config = loadConfig()) {
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 3 });
  let lastRedisError = '';
  redis.on('error', (err) => {
    // ioredis reconnects by itself; say so once per distinct error rather than per retry.
    if (err.message !== lastRedisError) console.error(`redis: ${err.message}`);
    lastRedisError = err.message;
  });
  const ctx = {
    config,
    pools: createPools(config),
    redis,
    es: createSearchClient(config),
    s3: createS3(config),
    stripe: createStripe(config),
    mailer: createMailer(config),
    async close() {
      await Promise.allSettled([closePools(ctx.pools), redis.quit(), ctx.es.close()]);
      ctx.s3.destroy();
      ctx.mailer.transport.close();
    },
  };
  return ctx;
}
