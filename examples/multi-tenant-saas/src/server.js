// Entry point: config, pools, Redis, HTTP; stops on SIGTERM.
import Redis from 'ioredis';
import { config } from './config.js';
import { pools as makePools } from './db.js';
import { createApp, listen } from './app.js';

const cfg = config();
const pools = makePools(cfg);
const redis = new Redis(cfg.redisUrl, { maxRetriesPerRequest: 3 });
const server = await listen(createApp({ pools, redis, cfg }), cfg);
console.log(`multi-tenant-saas (isolation: ${cfg.isolation}) listening on ${cfg.host}:${cfg.port}`);

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.once(sig, async () => {
    server.close();
    await Promise.all([pools.admin.end(), pools.tenant.end()]);
    redis.disconnect();
    process.exit(0);
  });
}
