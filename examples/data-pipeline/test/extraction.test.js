// The `extraction` suite (postgres-source, etl-extract, redis): each branch changes the source
// in its own copy of the `validated` checkpoint and checks exactly what one extraction mode
// puts on etl:raw. EXTRACTION_MODE picks the branch: full, incremental or cdc.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { sourcePool } from '../etl/extract/src/clients.js';
import { RAW_STREAM, WATERMARK_KEY, CDC_SLOT } from '../lib/pipeline.js';
import { startRun } from '../lib/driver.js';
import { SOURCE, scenarios, redisClient, readRun } from './support.js';

const run = scenarios(['full', 'incremental', 'cdc'], process.env.EXTRACTION_MODE);
const db = sourcePool();
const redis = redisClient();
after(async () => {
  await db.end();
  redis.disconnect();
});

const ids = (rows, key = 'id') => rows.map((r) => r[key]).sort((a, b) => a - b);
const sorted = (xs) => [...xs].sort((a, b) => a - b);

async function messages(run) {
  const all = await readRun(redis, RAW_STREAM, run);
  const end = all[all.length - 1];
  assert.equal(end.kind, 'end', 'the end marker closes the run');
  assert.equal(all.filter((m) => m.kind === 'end').length, 1);
  const body = all.slice(0, -1);
  assert.equal(end.body.expected, body.length, 'the end marker counts the run');
  const of = (kind) => body.filter((m) => m.kind === kind).map((m) => m.body);
  return { customers: of('customer'), products: of('product'), deleted: of('customer-deleted') };
}

async function slotPosition() {
  const { rows } = await db.query('SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1', [CDC_SLOT]);
  assert.equal(rows.length, 1, `slot ${CDC_SLOT} exists (scripts/load-source-data.sh)`);
  return rows[0].lsn;
}

async function lsnAtLeast(a, b) {
  return (await db.query('SELECT $1::pg_lsn >= $2::pg_lsn AS ok', [a, b])).rows[0].ok;
}

test('full extraction sends every customer and product whole, then hands over to CDC', { skip: !run.has('full') }, async () => {
  const major = (await db.query("SELECT current_setting('server_version_num')::int / 10000 AS v")).rows[0].v;
  if (process.env.VERS_MATRIX_POSTGRES) assert.equal(major, Number(process.env.VERS_MATRIX_POSTGRES), 'source PostgreSQL major');
  await db.query("UPDATE customers SET name = 'Ada King' WHERE id = 3");
  const r = await startRun('full');
  assert.equal(r.customers.length, SOURCE.customers);
  assert.equal(r.products.length, SOURCE.products);
  assert.equal(r.expected, SOURCE.customers + SOURCE.products);
  const m = await messages(r.run);
  assert.equal(m.customers.length, SOURCE.customers);
  assert.equal(m.products.length, SOURCE.products);
  const orders = m.customers.flatMap((c) => c.orders);
  assert.equal(orders.length, SOURCE.orders);
  assert.equal(orders.reduce((n, o) => n + o.items.length, 0), SOURCE.lines);
  assert.equal(m.products.reduce((n, p) => n + p.sales.length, 0), SOURCE.lines);
  // The change made just before is in the run, and customer 5's orders are exactly the source's.
  assert.equal(m.customers.find((c) => c.customer.id === 3).customer.name, 'Ada King');
  const five = m.customers.find((c) => c.customer.id === 5);
  assert.deepEqual(five.orders.map((o) => o.id), ids((await db.query('SELECT id FROM orders WHERE customer_id = 5')).rows));
  const line = five.orders[0].items[0];
  const src = (await db.query('SELECT product_id, quantity, unit_price_cents FROM order_items WHERE order_id = $1 AND line_no = 1', [five.orders[0].id])).rows[0];
  assert.deepEqual([line.product_id, line.quantity, line.unit_price_cents], [src.product_id, src.quantity, src.unit_price_cents]);
  // The watermark is the newest change, to the microsecond; CDC starts after the snapshot.
  const newest = (await db.query('SELECT max(updated_at)::text AS t FROM customers')).rows[0].t;
  assert.equal(await redis.get(WATERMARK_KEY), newest);
  const cdc = await startRun('cdc');
  assert.equal(cdc.changes, 0, 'the full run moved the slot past the rename');
  assert.equal(cdc.expected, 0);
});

test('incremental extraction sends exactly what changed since the watermark', { skip: !run.has('incremental') }, async () => {
  const idle = await startRun('incremental');
  assert.equal(idle.expected, 0, `nothing changed since the checkpoint's full run: ${JSON.stringify(idle)}`);

  await db.query("UPDATE customers SET name = 'Ada Byron' WHERE id = 7");
  await db.query("UPDATE orders SET status = 'shipped' WHERE id = 4");
  await db.query("INSERT INTO orders (id, customer_id, status, placed_at) VALUES (5001, 9, 'placed', '2024-04-02T10:00:00Z')");
  await db.query('INSERT INTO order_items VALUES (5001, 1, 3, 2, 11950), (5001, 2, 4, 1, 4500)');
  await db.query('UPDATE products SET price_cents = 9499 WHERE id = 20');
  const owner4 = (await db.query('SELECT customer_id FROM orders WHERE id = 4')).rows[0].customer_id;
  const lineProducts = ids((await db.query('SELECT DISTINCT product_id FROM order_items WHERE order_id IN (4, 5001)')).rows, 'product_id');

  const r = await startRun('incremental');
  assert.deepEqual(sorted(r.customers), sorted(new Set([7, 9, owner4])));
  assert.deepEqual(sorted(r.products), sorted(new Set([20, ...lineProducts])));
  const m = await messages(r.run);
  assert.equal(m.customers.find((c) => c.customer.id === 7).customer.name, 'Ada Byron');
  const nine = m.customers.find((c) => c.customer.id === 9);
  const o5001 = nine.orders.find((o) => o.id === 5001);
  assert.deepEqual(o5001.items.map((i) => [i.product_id, i.quantity, i.unit_price_cents]), [[3, 2, 11950], [4, 1, 4500]]);
  assert.equal(nine.orders.length, 6, 'the customer is sent whole: its 5 orders and the new one');
  assert.equal(m.customers.find((c) => c.customer.id === owner4).orders.find((o) => o.id === 4).status, 'shipped');
  assert.equal(m.products.find((p) => p.product.id === 20).product.price_cents, 9499);
  assert.ok(r.watermark > r.since, `the watermark moved: ${r.since} → ${r.watermark}`);

  const again = await startRun('incremental');
  assert.equal(again.expected, 0, 'a second incremental run finds nothing new');
});

test('CDC extraction decodes the replication slot: updates, inserts, cascaded deletes', { skip: !run.has('cdc') }, async () => {
  const idle = await startRun('cdc');
  assert.equal(idle.changes, 0, `the slot starts where the checkpoint's full run left it: ${JSON.stringify(idle)}`);
  const before = await slotPosition();

  const gone = ids((await db.query('SELECT DISTINCT i.product_id FROM order_items i JOIN orders o ON o.id = i.order_id WHERE o.customer_id = 13')).rows, 'product_id');
  const firstOf21 = (await db.query('SELECT min(id) AS id FROM orders WHERE customer_id = 21')).rows[0].id;
  const bumped = (await db.query('SELECT product_id FROM order_items WHERE order_id = $1 AND line_no = 1', [firstOf21])).rows[0].product_id;
  await db.query("UPDATE customers SET email = 'New.Address@Example.COM' WHERE id = 11");
  await db.query('DELETE FROM customers WHERE id = 13');
  await db.query(`WITH o AS (INSERT INTO orders (id, customer_id, status, placed_at) VALUES (5002, 15, 'paid', '2024-04-03T09:00:00Z') RETURNING id)
                  INSERT INTO order_items SELECT id, 1, 6, 1, 19900 FROM o`);
  await db.query('UPDATE order_items SET quantity = quantity + 1 WHERE order_id = $1 AND line_no = 1', [firstOf21]);

  const r = await startRun('cdc');
  assert.ok(r.changes >= 5, `decoded ${r.changes} row changes`);
  assert.deepEqual(sorted(r.customers), [11, 15, 21]);
  assert.deepEqual(r.deleted_customers, [13]);
  assert.deepEqual(sorted(r.products), sorted(new Set([...gone, 6, bumped])));
  const m = await messages(r.run);
  assert.deepEqual(m.deleted, [{ customer_id: 13 }]);
  assert.equal(m.customers.find((c) => c.customer.id === 11).customer.email, 'New.Address@Example.COM');
  assert.ok(m.customers.find((c) => c.customer.id === 15).orders.some((o) => o.id === 5002));
  assert.ok(!m.customers.some((c) => c.customer.id === 13), 'a deleted customer is not sent as a customer');
  for (const p of m.products) assert.ok(!p.sales.some((s) => s.customer_id === 13), `product ${p.product.id} no longer lists customer 13's sales`);

  assert.ok(await lsnAtLeast(await slotPosition(), before), 'the slot was consumed');
  const again = await startRun('cdc');
  assert.equal(again.changes, 0, 'each change is delivered once');
});
