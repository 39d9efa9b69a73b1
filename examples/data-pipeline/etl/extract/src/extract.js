// Extraction runs: read whole entities from the source and append them to the raw stream,
// followed by an `end` marker carrying how many entity messages the run has.
import { RAW_STREAM, WATERMARK_KEY, CDC_SLOT, appendMessage, newRunId, runKey } from '../../../lib/pipeline.js';
import * as q from './queries.js';
import { parseChange, affected } from './cdc.js';

/** The extraction modes of the seed's `extraction` suite. */
export const MODES = ['full', 'incremental', 'cdc'];

function badRequest(message) {
  const err = new Error(message);
  err.status = 400;
  return err;
}

function conflict(message) {
  const err = new Error(message);
  err.status = 409;
  return err;
}

/** Raw `customer` message bodies from query rows. */
function customerBodies(rows) {
  return rows.map((r) => ({
    customer: { id: r.id, name: r.name, email: r.email, country: r.country, created_at: r.created_at.toISOString() },
    orders: r.orders,
  }));
}

/** Raw `product` message bodies from query rows. */
function productBodies(rows) {
  return rows.map((r) => ({
    product: { id: r.id, sku: r.sku, name: r.name, category: r.category, description: r.description, price_cents: r.price_cents },
    sales: r.sales,
  }));
}

/** Reads customers and products by id (`null`: all) in one consistent snapshot. */
async function readEntities(client, customerIds, productIds) {
  const customers = customerIds && customerIds.length === 0 ? { rows: [] } : await client.query(q.CUSTOMERS, [customerIds]);
  const products = productIds && productIds.length === 0 ? { rows: [] } : await client.query(q.PRODUCTS, [productIds]);
  return { customers: customers.rows, products: products.rows };
}

/** Appends a run's messages and its end marker, and records the run in Redis. */
async function emit(redis, run, mode, { customers, products, deletedCustomers = [], deletedProducts = [] }) {
  const expected = customers.length + products.length + deletedCustomers.length + deletedProducts.length;
  await redis.hset(runKey(run), 'mode', mode, 'expected', expected, 'loaded', 0, 'status', 'extracting', 'started_at', new Date().toISOString());
  const p = redis.pipeline();
  for (const body of customerBodies(customers)) appendMessage(p, RAW_STREAM, run, 'customer', body);
  for (const body of productBodies(products)) appendMessage(p, RAW_STREAM, run, 'product', body);
  for (const id of deletedCustomers) appendMessage(p, RAW_STREAM, run, 'customer-deleted', { customer_id: id });
  for (const id of deletedProducts) appendMessage(p, RAW_STREAM, run, 'product-deleted', { product_id: id });
  appendMessage(p, RAW_STREAM, run, 'end', { mode, expected });
  p.hset(runKey(run), 'status', 'extracted', 'extracted_at', new Date().toISOString());
  p.lpush('etl:runs', run);
  for (const [err] of await p.exec()) if (err) throw err;
  return {
    run,
    mode,
    expected,
    customers: customers.map((c) => c.id),
    products: products.map((p2) => p2.id),
    deleted_customers: deletedCustomers,
    deleted_products: deletedProducts,
  };
}

/** Whether the CDC slot exists (scripts/load-source-data.sh creates it). */
async function slotExists(db) {
  const { rows } = await db.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [CDC_SLOT]);
  return rows.length > 0;
}

/** Everything in the source; moves the watermark and the CDC slot to the snapshot read. */
async function full(db, redis, run) {
  const client = await db.connect();
  let snapshot;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const { rows: [{ lsn }] } = await client.query('SELECT pg_current_wal_lsn()::text AS lsn');
    const entities = await readEntities(client, null, null);
    const { rows: [{ watermark }] } = await client.query(q.WATERMARK);
    await client.query('COMMIT');
    snapshot = { lsn, watermark, ...entities };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
  const result = await emit(redis, run, 'full', snapshot);
  if (snapshot.watermark) await redis.set(WATERMARK_KEY, snapshot.watermark);
  if (await slotExists(db)) {
    // Changes up to the snapshot are in this run: CDC continues from there.
    await db.query(
      `SELECT pg_replication_slot_advance($1, $2::pg_lsn) FROM pg_replication_slots
        WHERE slot_name = $1 AND confirmed_flush_lsn < $2::pg_lsn`, [CDC_SLOT, snapshot.lsn]);
  }
  return { ...result, watermark: snapshot.watermark };
}

/** Entities changed since the last full or incremental run's watermark. */
async function incremental(db, redis, run) {
  const since = await redis.get(WATERMARK_KEY);
  if (!since) throw conflict('no watermark yet: run a full extraction first');
  const client = await db.connect();
  let snapshot;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const customerIds = (await client.query(q.CHANGED_CUSTOMERS, [since])).rows.map((r) => r.id);
    const productIds = (await client.query(q.CHANGED_PRODUCTS, [since])).rows.map((r) => r.id);
    const entities = await readEntities(client, customerIds, productIds);
    const { rows: [{ watermark }] } = await client.query(q.WATERMARK);
    await client.query('COMMIT');
    snapshot = { watermark, ...entities };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
  const result = await emit(redis, run, 'incremental', snapshot);
  if (snapshot.watermark) await redis.set(WATERMARK_KEY, snapshot.watermark);
  return { ...result, since, watermark: snapshot.watermark };
}

/**
 * The changes decoded from the replication slot since it was last consumed: the entities
 * they touch are re-read and sent whole, deleted ones as `*-deleted`. The slot is consumed
 * only once the messages are on the stream, so a failed run loses no change.
 */
async function cdc(db, redis, run) {
  if (!(await slotExists(db))) throw conflict(`replication slot ${CDC_SLOT} does not exist: run scripts/load-source-data.sh`);
  const { rows: [{ upto }] } = await db.query('SELECT pg_current_wal_lsn()::text AS upto');
  const { rows } = await db.query('SELECT data FROM pg_logical_slot_peek_changes($1, $2::pg_lsn, NULL)', [CDC_SLOT, upto]);
  const changes = rows.map((r) => parseChange(r.data)).filter(Boolean);
  const touched = affected(changes);
  const client = await db.connect();
  let entities;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    if (touched.orders.size > 0) {
      const owners = await client.query('SELECT customer_id FROM orders WHERE id = ANY($1)', [[...touched.orders]]);
      for (const r of owners.rows) touched.customers.add(r.customer_id);
    }
    entities = await readEntities(client, [...touched.customers], [...touched.products]);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
  const present = (rows) => new Set(rows.map((r) => r.id));
  const liveCustomers = present(entities.customers);
  const liveProducts = present(entities.products);
  const result = await emit(redis, run, 'cdc', {
    ...entities,
    deletedCustomers: [...touched.customers].filter((id) => !liveCustomers.has(id)).sort((a, b) => a - b),
    deletedProducts: [...touched.products].filter((id) => !liveProducts.has(id)).sort((a, b) => a - b),
  });
  await db.query('SELECT count(*) FROM pg_logical_slot_get_changes($1, $2::pg_lsn, NULL)', [CDC_SLOT, upto]);
  return { ...result, changes: changes.length };
}

/** Runs one extraction; returns what it sent. */
export async function extract(db, redis, mode) {
  if (!MODES.includes(mode)) throw badRequest(`mode must be one of ${MODES.join(', ')}, not ${JSON.stringify(mode)}`);
  const run = newRunId(mode);
  if (mode === 'full') return full(db, redis, run);
  if (mode === 'incremental') return incremental(db, redis, run);
  return cdc(db, redis, run);
}
