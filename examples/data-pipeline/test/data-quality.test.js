// The `data-quality` suite (every service): the checks of scripts/quality.js on the
// `validated` checkpoint, then each branch drives the whole pipeline (extract → transform ×3
// → load) after a change to the source and checks the result still holds. VERS_BRANCH picks
// row-counts-match, aggregations-correct, no-duplicates or referential-integrity.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { connectSearch } from '../etl/load/src/clients.js';
import { INDICES } from '../etl/load/src/search.js';
import { runEtl, startRun, waitForRun } from '../lib/driver.js';
import { databases, counts, countProblems, integrityProblems, duplicateProblems, aggregationProblems } from '../scripts/quality.js';
import { SOURCE, scenarios } from './support.js';

const run = scenarios(['row-counts-match', 'aggregations-correct', 'no-duplicates', 'referential-integrity']);
const { source, warehouse } = databases();
const search = await connectSearch();
const ctx = { source, warehouse, search };
after(async () => {
  await source.end();
  await warehouse.end();
  await search.close();
});

const one = async (db, sql, params) => (await db.query(sql, params)).rows[0];

test('row counts match across source, warehouse and indices, also after an incremental run', { skip: !run.has('row-counts-match') }, async () => {
  const start = await countProblems(ctx);
  assert.deepEqual(start.problems, []);
  assert.deepEqual(start.counts.warehouse, { customers: SOURCE.customers, products: SOURCE.products, orders: SOURCE.orders, lines: SOURCE.lines, days: SOURCE.days });

  await source.query("INSERT INTO customers (id, name, email, country, created_at) VALUES (201, 'Hedy Lamarr', 'hedy@example.com', 'AT', now())");
  await source.query(`WITH o AS (INSERT INTO orders (id, customer_id, status, placed_at) VALUES (6001, 201, 'paid', '2024-05-15T12:00:00Z') RETURNING id)
                      INSERT INTO order_items SELECT id, l, l, 1, 1000 FROM o, generate_series(1, 3) AS l`);
  const r = await runEtl('incremental');
  assert.equal(r.state.status, 'done', JSON.stringify(r));
  assert.deepEqual(r.customers, [201]);
  const now = await countProblems(ctx);
  assert.deepEqual(now.problems, []);
  assert.deepEqual(now.counts.warehouse, { customers: 201, products: SOURCE.products, orders: 1001, lines: 2503, days: SOURCE.days + 1 });
  assert.deepEqual(now.counts.search, { products: SOURCE.products, orders: 1001, days: SOURCE.days + 1 });

  // The check is not blind: a row the pipeline never saw is a mismatch.
  await source.query("INSERT INTO customers (id, name, email, country, created_at) VALUES (202, 'Not Loaded', 'nl@example.com', 'NL', now())");
  assert.deepEqual((await countProblems(ctx)).problems, ['customers: source 202, warehouse 201']);
});

test('aggregates computed by the transform equal the same figures computed in SQL from the source', { skip: !run.has('aggregations-correct') }, async () => {
  const start = await aggregationProblems(ctx);
  assert.deepEqual(start.problems, []);

  // Customer 42's first order gets 5 more units of its first line: its value and the day's
  // revenue move by exactly that much once the change has been through the pipeline.
  const { id, unit } = await one(source, `SELECT o.id, i.unit_price_cents AS unit FROM orders o JOIN order_items i ON i.order_id = o.id AND i.line_no = 1
    WHERE o.customer_id = 42 AND o.status <> 'cancelled' ORDER BY o.id LIMIT 1`);
  const before = await one(warehouse, 'SELECT lifetime_value_cents::int AS v FROM customer_summary WHERE customer_id = 42');
  await source.query('UPDATE order_items SET quantity = quantity + 5 WHERE order_id = $1 AND line_no = 1', [id]);
  const r = await runEtl('cdc');
  assert.equal(r.state.status, 'done');
  const afterRun = await one(warehouse, 'SELECT lifetime_value_cents::int AS v FROM customer_summary WHERE customer_id = 42');
  assert.equal(afterRun.v - before.v, 5 * unit);
  const end = await aggregationProblems(ctx);
  assert.deepEqual(end.problems, []);
  assert.equal(end.revenue - start.revenue, 5 * unit);

  // The check is not blind: a wrong figure in the warehouse is reported.
  await warehouse.query('UPDATE customer_summary SET lifetime_value_cents = lifetime_value_cents + 1 WHERE customer_id = 7');
  assert.ok((await aggregationProblems(ctx)).problems.some((p) => p.startsWith('customer 7 lifetime_value_cents')));
});

test('no duplicates: full runs repeated and overlapping leave every record once', { skip: !run.has('no-duplicates') }, async () => {
  assert.deepEqual((await duplicateProblems(ctx)).problems, []);
  const before = await counts(ctx);
  // Two full runs in flight at once, interleaved across the three transform replicas.
  const [a, b] = [await startRun('full'), await startRun('full')];
  const states = [await waitForRun(a.run), await waitForRun(b.run)];
  for (const s of states) assert.deepEqual([s.status, s.loaded, s.failed ?? '0'], ['done', String(SOURCE.customers + SOURCE.products), '0']);
  const third = await runEtl('full');
  assert.equal(third.state.status, 'done');
  assert.deepEqual(await counts(ctx), before);
  assert.deepEqual((await duplicateProblems(ctx)).problems, []);
  assert.deepEqual((await countProblems(ctx)).problems, []);
  const runs = await one(warehouse, "SELECT count(*)::int AS n FROM etl_runs WHERE mode = 'full'");
  assert.ok(runs.n >= 4, `four full runs recorded, got ${runs.n}`);

  // The check is not blind: a second row for a natural key is reported.
  await warehouse.query("INSERT INTO dim_customer (customer_id, name, email, email_domain, country, created_at, run_id) SELECT 999999, name, email, email_domain, country, created_at, 'manual' FROM dim_customer WHERE customer_id = 1");
  assert.equal((await duplicateProblems(ctx)).problems.length, 1);
});

test('referential integrity holds through deletes in the source, and orphans are caught', { skip: !run.has('referential-integrity') }, async () => {
  assert.deepEqual((await integrityProblems(ctx)).problems, []);
  const gone = (await source.query('SELECT id FROM orders WHERE customer_id = 17')).rows.map((r) => String(r.id));
  assert.equal(gone.length, 5);
  await source.query('DELETE FROM customers WHERE id = 17');
  const r = await runEtl('cdc');
  assert.equal(r.state.status, 'done');
  assert.deepEqual(r.deleted_customers, [17]);
  assert.deepEqual((await integrityProblems(ctx)).problems, []);
  assert.equal((await one(warehouse, 'SELECT count(*)::int AS n FROM fact_order WHERE customer_id = 17')).n, 0);
  for (const id of gone) assert.equal(await search.get(INDICES.orders, id), null, `order ${id} left the index`);
  assert.deepEqual((await countProblems(ctx)).problems, []);

  // The checks are not blind: an order without customer or lines, and a stray index document.
  await warehouse.query("INSERT INTO fact_order VALUES (777777, 424242, 'paid', now(), current_date, 1, 1, 100, '{}', 'manual')");
  await search.bulk([{ index: { _index: INDICES.orders, _id: '888888' } }, { order_id: 888888, customer_id: 1 }]);
  await search.refresh(INDICES.orders);
  const { problems } = await integrityProblems(ctx);
  assert.deepEqual(problems.sort(), [
    'index orders not in the warehouse: 1 (e.g. 888888)',
    'order totals not the sum of their lines: 1',
    'orders without a customer: 1',
    'orders without lines: 1',
  ]);
});
