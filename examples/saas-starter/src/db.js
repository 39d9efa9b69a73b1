// PostgreSQL access: one pool per database URL and the queries the app makes on its tables
// (schema in db/schema.sql, applied by scripts/seed.sh).
import pg from 'pg';

/** Opens a connection pool on `databaseUrl`. */
export function createPool(databaseUrl) {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 5, connectionTimeoutMillis: 5000 });
  // An idle connection dropped by the server must not crash the process; the pool replaces it.
  pool.on('error', (err) => console.error(`postgres pool: ${err.message}`));
  return pool;
}

/** Normalises an email address the way the unique index on users does. */
export function normalizeEmail(email) {
  return String(email).trim().toLowerCase();
}

/** The user with `email`, or null. */
export async function findUserByEmail(db, email) {
  const { rows } = await db.query('SELECT * FROM users WHERE email = $1', [normalizeEmail(email)]);
  return rows[0] ?? null;
}

/** The user with `id`, or null. */
export async function findUserById(db, id) {
  const { rows } = await db.query('SELECT * FROM users WHERE id = $1', [id]);
  return rows[0] ?? null;
}

/** The user whose Stripe customer is `customerId`, or null. */
export async function findUserByStripeCustomer(db, customerId) {
  const { rows } = await db.query('SELECT * FROM users WHERE stripe_customer_id = $1', [customerId]);
  return rows[0] ?? null;
}

/** Inserts a user; `passwordHash` is null for accounts that only sign in through a provider. */
export async function insertUser(db, { email, name, passwordHash = null }) {
  const { rows } = await db.query(
    'INSERT INTO users (email, name, password_hash) VALUES ($1, $2, $3) RETURNING *',
    [normalizeEmail(email), name ?? null, passwordHash],
  );
  return rows[0];
}

/** Records the Stripe customer of a user. */
export async function setStripeCustomer(db, userId, customerId) {
  await db.query('UPDATE users SET stripe_customer_id = $2 WHERE id = $1', [userId, customerId]);
}

/** The user linked to the provider account `(provider, subject)`, or null. */
export async function findUserByIdentity(db, provider, subject) {
  const { rows } = await db.query(
    `SELECT u.* FROM identities i JOIN users u ON u.id = i.user_id
      WHERE i.provider = $1 AND i.subject = $2`,
    [provider, String(subject)],
  );
  return rows[0] ?? null;
}

/** Links a provider account to a user (idempotent). */
export async function linkIdentity(db, { provider, subject, userId, email }) {
  await db.query(
    `INSERT INTO identities (provider, subject, user_id, email) VALUES ($1, $2, $3, $4)
     ON CONFLICT (provider, subject) DO UPDATE SET email = EXCLUDED.email, last_login_at = now()`,
    [provider, String(subject), userId, email],
  );
}

/** Every plan, cheapest first. */
export async function listPlans(db) {
  const { rows } = await db.query('SELECT * FROM plans ORDER BY amount_cents, id');
  return rows;
}

/** The plan sold through the Stripe price `priceId`, or null. */
export async function findPlanByPrice(db, priceId) {
  const { rows } = await db.query('SELECT * FROM plans WHERE stripe_price_id = $1', [priceId]);
  return rows[0] ?? null;
}

/** The subscription rows of a user, newest first. */
export async function listSubscriptions(db, userId) {
  const { rows } = await db.query(
    'SELECT * FROM subscriptions WHERE user_id = $1 ORDER BY updated_at DESC',
    [userId],
  );
  return rows;
}

/** Whether the database answers. */
export async function ping(db) {
  const { rows } = await db.query('SELECT 1 AS ok');
  return rows[0]?.ok === 1;
}
