// etl-load: the `load` consumer group on etl:transformed, writing the warehouse and the
// search indices; `GET /health`, `GET /runs/<id>` (the run's state in Redis).
import Redis from 'ioredis';
import { serve, stopOnSignal } from '../../../lib/http.js';
import { TRANSFORMED_STREAM, LOAD_GROUP, consume, runKey } from '../../../lib/pipeline.js';
import { pool, redisClient, redisUrl, connectSearch } from './clients.js';
import { applySchema, loader } from './load.js';

const db = pool();
const redis = redisClient();
const reader = new Redis(redisUrl(), { maxRetriesPerRequest: null });
await applySchema(db);
const search = await connectSearch();
const { handle, account } = loader({ db, search, redis });
const worker = process.env.VERS_INSTANCE ?? `etl-load-${process.pid}`;

const stop = consume(reader, {
  stream: TRANSFORMED_STREAM,
  group: LOAD_GROUP,
  consumer: worker,
  handle,
  onFailure: async (m) => {
    if (m.run && m.kind !== 'end') await account(m.run, 'failed');
  },
});

const server = await serve({
  'GET /health': async () => {
    await db.query('SELECT 1');
    await redis.ping();
    return { ok: true, service: 'etl-load', elasticsearch: search.version };
  },
  'GET /runs/*': async ({ param }) => {
    const state = await redis.hgetall(runKey(param));
    return Object.keys(state).length ? state : [404, { error: `no run ${param}` }];
  },
});
console.log(`${worker} listening on ${process.env.HOST ?? '0.0.0.0'}:${process.env.PORT ?? 3000} (elasticsearch ${search.version})`);
stopOnSignal(async () => {
  server.close();
  await stop();
  await db.end();
  redis.disconnect();
  reader.disconnect();
});
