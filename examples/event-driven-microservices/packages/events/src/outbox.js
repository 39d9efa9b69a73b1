// The transactional outbox: a service writes the events of a state change into its `outbox`
// table in the same PostgreSQL transaction as the change, and a relay publishes them to Kafka
// in order and marks them published. A change is never visible without its event, and an
// event is never lost while Kafka is unreachable: it waits in the table.

/** The outbox table (run inside the service's migration). */
export const OUTBOX_DDL = `
CREATE TABLE IF NOT EXISTS outbox (
  id           bigserial PRIMARY KEY,
  topic        text NOT NULL,
  key          text NOT NULL,
  event        jsonb NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  published_at timestamptz
);
CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
`;

/** Advisory lock id that makes one relay (of all replicas) publish at a time, keeping order. */
const RELAY_LOCK = 74_007;

/** Queues `event` for `topic` under `key`, on `client` (inside the caller's transaction). */
export async function enqueue(client, topic, event, key) {
  await client.query('INSERT INTO outbox (topic, key, event) VALUES ($1, $2, $3)', [
    topic,
    String(key),
    JSON.stringify(event),
  ]);
}

/**
 * Publishes unpublished outbox rows of `pool` through `publisher`, oldest first, every
 * `intervalMs` and whenever `kick()` is called. Returns `{ state, kick, stop }`.
 */
export function startRelay({ pool, publisher, intervalMs = 200, batch = 100, log = console }) {
  const state = { published: 0, lastError: null, lastPublishedAt: null };
  let running = false;
  let again = false;
  let stopped = false;
  let timer = null;

  async function drainOnce() {
    const client = await pool.connect();
    let broken;
    try {
      await client.query('BEGIN');
      const lock = await client.query('SELECT pg_try_advisory_xact_lock($1) AS locked', [RELAY_LOCK]);
      if (!lock.rows[0].locked) {
        await client.query('ROLLBACK');
        return 0;
      }
      const { rows } = await client.query(
        'SELECT id, topic, key, event FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1',
        [batch],
      );
      if (rows.length > 0) {
        await publisher.publishAll(rows.map((r) => ({ topic: r.topic, event: r.event, key: r.key })));
        await client.query('UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])', [
          rows.map((r) => r.id),
        ]);
      }
      await client.query('COMMIT');
      return rows.length;
    } catch (err) {
      broken = err;
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release(broken);
    }
  }

  async function tick() {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    clearTimeout(timer);
    try {
      do {
        again = false;
        for (;;) {
          const n = await drainOnce();
          if (n === 0) break;
          state.published += n;
          state.lastPublishedAt = new Date().toISOString();
        }
      } while (again);
      state.lastError = null;
    } catch (err) {
      if (state.lastError !== err.message) log.warn?.(`outbox relay: ${err.message}`);
      state.lastError = err.message;
    } finally {
      running = false;
      if (!stopped) timer = setTimeout(tick, intervalMs);
    }
  }

  timer = setTimeout(tick, 0);
  return {
    state,
    kick: () => {
      tick();
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/** How many outbox rows wait to be published. */
export async function pendingCount(pool) {
  const { rows } = await pool.query('SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL');
  return rows[0].n;
}
