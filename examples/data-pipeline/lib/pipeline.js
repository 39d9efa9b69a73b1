// The contract between the three ETL workers: stream and key names, message shapes, and the
// small helpers every worker uses to read and write them. Plain JavaScript with no package
// imports, so each worker (and the tests) can import it whatever its node_modules hold; the
// Redis client is always passed in.

/** Raw records, written by etl-extract, read by the `transform` consumer group. */
export const RAW_STREAM = 'etl:raw';
/** Transformed records, written by etl-transform, read by the `load` consumer group. */
export const TRANSFORMED_STREAM = 'etl:transformed';
/** Records a worker could not process, with the error. */
export const DEAD_LETTER_STREAM = 'etl:dead-letter';
/** Consumer group of the etl-transform replicas on RAW_STREAM. */
export const TRANSFORM_GROUP = 'transform';
/** Consumer group of etl-load on TRANSFORMED_STREAM. */
export const LOAD_GROUP = 'load';
/** Highest `updated_at` seen by the last full or incremental extraction (ISO text). */
export const WATERMARK_KEY = 'etl:watermark';
/** The logical replication slot CDC extraction reads (test_decoding output). */
export const CDC_SLOT = 'etl_cdc';
/** Streams are capped at about this many entries. */
export const STREAM_MAXLEN = 200000;

/** The Redis hash that tracks one run: mode, expected, loaded, status, timestamps. */
export function runKey(run) {
  return `etl:run:${run}`;
}

/** A new run id: the mode, the time and a random suffix. */
export function newRunId(mode) {
  return `${mode}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Appends one message (`run`, `kind`, JSON `body`) to a stream. */
export function appendMessage(redis, stream, run, kind, body) {
  return redis.xadd(stream, 'MAXLEN', '~', STREAM_MAXLEN, '*', 'run', run, 'kind', kind, 'body', JSON.stringify(body));
}

/** Turns an ioredis stream entry `[id, [k, v, …]]` into `{id, run, kind, body}`. */
export function decodeEntry([id, fields]) {
  const map = {};
  for (let i = 0; i < fields.length; i += 2) map[fields[i]] = fields[i + 1];
  let body;
  try {
    body = JSON.parse(map.body);
  } catch (err) {
    return { id, run: map.run, kind: map.kind, body: undefined, error: `body is not JSON: ${err.message}` };
  }
  return { id, run: map.run, kind: map.kind, body };
}

/** Creates a consumer group (and its stream) unless it exists. */
export async function ensureGroup(redis, stream, group) {
  try {
    await redis.xgroup('CREATE', stream, group, '0', 'MKSTREAM');
  } catch (err) {
    if (!String(err.message).includes('BUSYGROUP')) throw err;
  }
}

/** Every message of `run` on `stream`, in stream order. */
export async function readRun(redis, stream, run) {
  const out = [];
  let start = '-';
  for (;;) {
    const page = await redis.xrange(stream, start, '+', 'COUNT', 1000);
    for (const entry of page) {
      const m = decodeEntry(entry);
      if (m.run === run) out.push(m);
    }
    if (page.length < 1000) return out;
    start = `(${page[page.length - 1][0]}`;
  }
}

/**
 * Runs `handle` on every message delivered to `consumer` of `group`, acknowledging each once
 * handled. Messages left pending by a consumer that died are claimed after `claimIdleMs`.
 * A message whose handler throws goes to the dead-letter stream (and is acknowledged), so one
 * bad record never stops the pipeline; `onFailure(message, error)` then tells the next stage.
 * Returns a function that stops the loop.
 */
export function consume(redis, { stream, group, consumer, handle, onFailure, batch = 50, claimIdleMs = 30000, log = console }) {
  let stopped = false;
  const done = (async () => {
    await ensureGroup(redis, stream, group);
    let lastClaim = 0;
    while (!stopped) {
      let entries = [];
      try {
        if (Date.now() - lastClaim > claimIdleMs / 2) {
          lastClaim = Date.now();
          const [, claimed] = await redis.xautoclaim(stream, group, consumer, claimIdleMs, '0', 'COUNT', batch);
          entries = claimed.filter(Boolean);
        }
        if (entries.length === 0) {
          const res = await redis.xreadgroup('GROUP', group, consumer, 'COUNT', batch, 'BLOCK', 1000, 'STREAMS', stream, '>');
          entries = res ? res[0][1] : [];
        }
      } catch (err) {
        if (stopped) break;
        log.error(`${consumer}: reading ${stream}: ${err.message}`);
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      for (const entry of entries) {
        const m = decodeEntry(entry);
        try {
          if (m.error) throw new Error(m.error);
          await handle(m);
        } catch (err) {
          log.error(`${consumer}: ${stream} ${m.id} (${m.kind}, run ${m.run}): ${err.message}`);
          await redis.xadd(DEAD_LETTER_STREAM, '*', 'run', m.run ?? '', 'kind', m.kind ?? '', 'source', stream, 'id', m.id,
            'consumer', consumer, 'error', err.message, 'body', JSON.stringify(m.body ?? null));
          if (onFailure) await onFailure(m, err);
        }
        await redis.xack(stream, group, m.id);
      }
    }
  })();
  return async () => {
    stopped = true;
    await done;
  };
}
