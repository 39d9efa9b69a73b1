// PostgreSQL: the users table and the outbox, created at start (under an advisory lock, as
// both replicas start at once).
import pg from 'pg';
import { OUTBOX_DDL } from '@edm/events';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS users (
  id         bigserial PRIMARY KEY,
  email      text NOT NULL UNIQUE,
  name       text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
${OUTBOX_DDL}
`;

/** A pool on `url`. */
export function createPool(url) {
  return new pg.Pool({ connectionString: url, max: 5, connectionTimeoutMillis: 5000, idleTimeoutMillis: 10000 });
}

/** Creates the tables if they are missing. */
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
