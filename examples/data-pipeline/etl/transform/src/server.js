// etl-transform: every replica joins the `transform` consumer group on etl:raw under its own
// name (its address), so the replicas share the records; each transformed record goes to
// etl:transformed with the name of the replica that made it. `GET /health` reports counts.
import Redis from 'ioredis';
import { serve, stopOnSignal } from '../../../lib/http.js';
import { RAW_STREAM, TRANSFORMED_STREAM, TRANSFORM_GROUP, appendMessage, consume } from '../../../lib/pipeline.js';
import { transform } from './transform.js';

const url = process.env.REDIS_URL ?? 'redis://redis:6379';
// One consumer per replica: vers names each instance (VERS_INSTANCE); elsewhere the pid.
const worker = process.env.VERS_INSTANCE ?? `etl-transform-${process.pid}`;
const redis = new Redis(url, { maxRetriesPerRequest: 3 });
const reader = new Redis(url, { maxRetriesPerRequest: null });
const stats = { worker, transformed: 0, failed: 0 };

const stop = consume(reader, {
  stream: RAW_STREAM,
  group: TRANSFORM_GROUP,
  consumer: worker,
  handle: async (m) => {
    const [kind, body] = transform(m.kind, m.body);
    await appendMessage(redis, TRANSFORMED_STREAM, m.run, kind, { ...body, worker });
    stats.transformed += 1;
  },
  // The run still adds up downstream: the loader counts this record as failed.
  onFailure: async (m, err) => {
    stats.failed += 1;
    if (m.run) await appendMessage(redis, TRANSFORMED_STREAM, m.run, 'failed', { error: err.message, source_id: m.id, worker });
  },
});

const server = await serve({
  'GET /health': async () => {
    await redis.ping();
    return { ok: true, ...stats };
  },
});
console.log(`${worker} listening on ${process.env.HOST ?? '0.0.0.0'}:${process.env.PORT ?? 3000}`);
stopOnSignal(async () => {
  server.close();
  await stop();
  redis.disconnect();
  reader.disconnect();
});
