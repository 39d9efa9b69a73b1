// PostgreSQL: the orders table and the outbox, created at start.
import pg from 'pg';
import { OUTBOX_DDL } from '@edm/events';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS orders (
  id         bigserial PRIMARY KEY,
  user_id    bigint NOT NULL,
  email      text NOT NULL,
  status     text NOT NULL CHECK (status IN ('pending', 'confirmed', 'rejected', 'cancelled')),
  items      jsonb NOT NULL,
  reason     text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
${OUTBOX_DDL}
`;

/** A pool on `url`. */
export function createPool(url) {
  return new pg.Pool({ connectionString: url, max: 8, connectionTimeoutMillis: 10000, idleTimeoutMillis: 10000 });
}

/** Creates the tables if they are missing (one replica at a time). */
export async function migrate(pool) {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(1)');
    await client.query(SCHEMA);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
