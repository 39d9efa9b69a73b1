// etl-extract: `POST /runs {"mode": "full"|"incremental"|"cdc"}` extracts from the source
// database onto the etl:raw stream and answers with what it sent; `GET /health`.
import { serve, stopOnSignal } from '../../../lib/http.js';
import { sourcePool, redisClient } from './clients.js';
import { extract } from './extract.js';

const db = sourcePool();
const redis = redisClient();
let queue = Promise.resolve();

const server = await serve({
  'GET /health': async () => {
    await db.query('SELECT 1');
    await redis.ping();
    return { ok: true, service: 'etl-extract' };
  },
  // One extraction at a time: a run sees the watermark and slot position its predecessor left.
  'POST /runs': ({ body }) => {
    const run = queue.then(() => extract(db, redis, body.mode ?? 'full'));
    queue = run.catch(() => {});
    return run.then((r) => [201, r]);
  },
});
console.log(`etl-extract listening on ${process.env.HOST ?? '0.0.0.0'}:${process.env.PORT ?? 3000}`);
stopOnSignal(async () => {
  server.close();
  await db.end();
  redis.disconnect();
});
