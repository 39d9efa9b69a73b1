// The `loading` suite (postgres-warehouse, elasticsearch, etl-load, redis): each branch puts
// transformed records on etl:transformed and checks what etl-load made of them in the
// warehouse and the indices. VERS_BRANCH picks warehouse-load, elasticsearch-sync or
// full-pipeline (what the `etl-complete` checkpoint's full run left behind).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { pool, connectSearch } from '../etl/load/src/clients.js';
import { INDICES } from '../etl/load/src/search.js';
import { transformCustomer, transformProduct } from '../etl/transform/src/transform.js';
import { TRANSFORMED_STREAM, DEAD_LETTER_STREAM } from '../lib/pipeline.js';
import { waitForRun } from '../lib/driver.js';
import { SOURCE, scenarios, redisClient, newRunId, pushRun } from './support.js';

const run = scenarios(['warehouse-load', 'elasticsearch-sync', 'full-pipeline']);
const warehouse = pool();
const redis = redisClient();
const search = await connectSearch();
after(async () => {
  await warehouse.end();
  redis.disconnect();
  await search.close();
});

const q = async (sql, params) => (await warehouse.query(sql, params)).rows;
const item = (line_no, product_id, category, quantity, unit_price_cents) => ({ line_no, product_id, category, quantity, unit_price_cents });

/** A transformed customer built by the transform's own code. */
function customer(id, name, orders) {
  return ['customer', transformCustomer({
    customer: { id, name, email: `${name.split(' ')[0].toLowerCase()}@example.com`, country: 'NL', created_at: '2023-05-01T00:00:00Z' },
    orders,
  })];
}

function product(id, name, description, price) {
  return ['product', transformProduct({
    product: { id, sku: `SKU-L${id}`, name, category: 'outdoor', description, price_cents: price },
    sales: [{ order_id: 1, line_no: 1, customer_id: 1, status: 'paid', quantity: 2, unit_price_cents: price, placed_at: '2030-01-01T08:00:00Z' }],
  })];
}

/** Loads messages as one run through etl-load; returns the run's final state. */
async function load(messages) {
  const id = newRunId('test');
  await pushRun(redis, TRANSFORMED_STREAM, id, messages);
  return { id, ...(await waitForRun(id, { timeoutMs: 60000 })) };
}

test('warehouse load: upserts are idempotent, a customer message replaces its orders, deletes cascade', { skip: !run.has('warehouse-load') }, async () => {
  const orders = [
    { id: 910001, status: 'paid', placed_at: '2030-01-01T09:00:00Z', items: [item(1, 910001, 'outdoor', 2, 1500), item(2, 1, 'shoes', 1, 8999)] },
    { id: 910002, status: 'shipped', placed_at: '2030-01-02T09:00:00Z', items: [item(1, 910001, 'outdoor', 1, 1500)] },
  ];
  const messages = [customer(910001, 'Hedy Lamarr', orders), product(910001, 'Storm Lantern', 'Lantern that keeps burning in storms', 1500)];
  const first = await load(messages);
  assert.equal(first.status, 'done');
  assert.equal(first.loaded, '2');
  const facts = await q('SELECT order_id, total_cents::int AS total, units, item_count, day::text AS day, categories FROM fact_order WHERE customer_id = 910001 ORDER BY order_id');
  assert.deepEqual(facts, [
    { order_id: 910001, total: 2 * 1500 + 8999, units: 3, item_count: 2, day: '2030-01-01', categories: ['outdoor', 'shoes'] },
    { order_id: 910002, total: 1500, units: 1, item_count: 1, day: '2030-01-02', categories: ['outdoor'] },
  ]);
  assert.equal((await q('SELECT count(*)::int AS n FROM fact_order_line WHERE order_id IN (910001, 910002)'))[0].n, 3);
  const [summary] = await q('SELECT orders_count, lifetime_value_cents::int AS ltv, top_category FROM customer_summary WHERE customer_id = 910001');
  assert.deepEqual(summary, { orders_count: 2, ltv: 2 * 1500 + 8999 + 1500, top_category: 'shoes' });
  const [dim] = await q('SELECT email, price_band FROM dim_customer, dim_product WHERE customer_id = 910001 AND product_id = 910001');
  assert.deepEqual(dim, { email: 'hedy@example.com', price_band: 'budget' });
  assert.deepEqual(await q("SELECT day::text AS day, orders, revenue_cents::int AS revenue FROM daily_metrics WHERE day >= '2030-01-01' ORDER BY day"), [
    { day: '2030-01-01', orders: 1, revenue: 2 * 1500 + 8999 },
    { day: '2030-01-02', orders: 1, revenue: 1500 },
  ]);
  assert.deepEqual(await q('SELECT loaded, failed FROM etl_runs WHERE run_id = $1', [first.id]), [{ loaded: 2, failed: 0 }]);
  // Fuzzy search through pg_trgm's index over the loaded names.
  assert.deepEqual(await q("SELECT customer_id FROM dim_customer WHERE name % 'Hedy Lamar'"), [{ customer_id: 910001 }]);

  // The same records again: nothing doubles.
  const before = await q('SELECT (SELECT count(*) FROM fact_order)::int AS o, (SELECT count(*) FROM fact_order_line)::int AS l, (SELECT count(*) FROM dim_customer)::int AS c');
  assert.equal((await load(messages)).status, 'done');
  assert.deepEqual(await q('SELECT (SELECT count(*) FROM fact_order)::int AS o, (SELECT count(*) FROM fact_order_line)::int AS l, (SELECT count(*) FROM dim_customer)::int AS c'), before);

  // The customer now has one order: the other, its line and its day are gone.
  assert.equal((await load([customer(910001, 'Hedy Lamarr', orders.slice(0, 1))])).status, 'done');
  assert.deepEqual((await q('SELECT order_id FROM fact_order WHERE customer_id = 910001')).map((r) => r.order_id), [910001]);
  assert.equal((await q('SELECT count(*)::int AS n FROM fact_order_line WHERE order_id = 910002'))[0].n, 0);
  assert.deepEqual((await q("SELECT day::text AS day FROM daily_metrics WHERE day >= '2030-01-01'")).map((r) => r.day), ['2030-01-01']);

  // A record the warehouse refuses (no name) fails alone; the run still finishes, and says so.
  const broken = customer(910003, 'Ken Thompson', []);
  delete broken[1].customer.name;
  const mixed = await load([broken, customer(910004, 'Frances Allen', [])]);
  assert.equal(mixed.status, 'done-with-errors');
  assert.deepEqual([mixed.loaded, mixed.failed], ['1', '1']);
  assert.equal((await q('SELECT count(*)::int AS n FROM dim_customer WHERE customer_id IN (910003, 910004)'))[0].n, 1);
  const dead = await redis.xrange(DEAD_LETTER_STREAM, '-', '+');
  assert.ok(dead.some(([, f]) => f.includes(mixed.id) && f.join(' ').includes('null value in column "name"')), 'the refused record is on the dead-letter stream');

  // Deleting the customer removes everything of it.
  assert.equal((await load([['customer-deleted', { customer_id: 910001 }]])).status, 'done');
  assert.deepEqual(await q('SELECT 1 FROM dim_customer WHERE customer_id = 910001 UNION ALL SELECT 1 FROM fact_order WHERE customer_id = 910001 UNION ALL SELECT 1 FROM customer_summary WHERE customer_id = 910001'), []);
});

test('elasticsearch sync: the indices follow the warehouse, with the mappings of mappings/*.json', { skip: !run.has('elasticsearch-sync') }, async () => {
  const productsMapping = await search.mapping(INDICES.products);
  assert.equal(productsMapping.properties.description.analyzer, 'english', 'mappings/products.json was applied');
  assert.equal((await search.mapping(INDICES.orders)).properties.status.type, 'keyword');

  const orders = [
    { id: 920001, status: 'paid', placed_at: '2031-01-01T09:00:00Z', items: [item(1, 920001, 'outdoor', 3, 2500)] },
    { id: 920002, status: 'placed', placed_at: '2031-01-02T09:00:00Z', items: [item(1, 920001, 'outdoor', 1, 2500)] },
  ];
  const done = await load([
    customer(920001, 'Margaret Hamilton', orders),
    product(920001, 'Hurricane Lamp', 'Lamp that keeps burning through storms and gales', 2500),
  ]);
  assert.equal(done.status, 'done');

  // Stemming from the english analyzer: "storm burns" finds "burning through storms".
  const hits = (await search.search(INDICES.products, { query: { match: { description: 'storm burns' } } })).hits.hits;
  assert.deepEqual(hits.map((h) => h._id), ['920001']);
  assert.deepEqual(await search.get(INDICES.products, '920001'), {
    product_id: 920001, sku: 'SKU-L920001', name: 'Hurricane Lamp', category: 'outdoor',
    description: 'Lamp that keeps burning through storms and gales', price_cents: 2500, price_band: 'standard',
    units_sold: 2, revenue_cents: 5000,
  });
  const mine = await search.search(INDICES.orders, { size: 10, query: { bool: { filter: [{ term: { customer_id: 920001 } }] } }, sort: [{ order_id: 'asc' }] });
  assert.deepEqual(mine.hits.hits.map((h) => [h._id, h._source.total_cents, h._source.status, h._source.customer_name]),
    [['920001', 7500, 'paid', 'Margaret Hamilton'], ['920002', 2500, 'placed', 'Margaret Hamilton']]);
  const byName = await search.search(INDICES.orders, { query: { match: { customer_name: 'hamilton' } } });
  assert.equal(byName.hits.hits.length, 2);
  // The analytics index mirrors daily_metrics.
  const [day] = await q("SELECT orders, revenue_cents::int AS revenue FROM daily_metrics WHERE day = '2031-01-01'");
  assert.deepEqual(day, { orders: 1, revenue: 7500 });
  const doc = await search.get(INDICES.analytics, '2031-01-01');
  assert.deepEqual([doc.orders, doc.revenue_cents, doc.run_id], [1, 7500, done.id]);
  const range = await search.search(INDICES.analytics, { size: 0, query: { range: { day: { gte: '2031-01-01', lte: '2031-12-31' } } }, aggs: { r: { sum: { field: 'revenue_cents' } } } });
  assert.equal(range.aggregations.r.value, 7500 + 2500);

  // Removing an order and deleting a product reach the indices.
  assert.equal((await load([customer(920001, 'Margaret Hamilton', orders.slice(0, 1)), ['product-deleted', { product_id: 920001 }]])).status, 'done');
  assert.equal(await search.get(INDICES.orders, '920002'), null);
  assert.notEqual(await search.get(INDICES.orders, '920001'), null);
  assert.equal(await search.get(INDICES.products, '920001'), null);
  assert.equal(await search.get(INDICES.analytics, '2031-01-02'), null, 'a day with no orders left leaves the analytics index');
  assert.equal(await search.count(INDICES.products), SOURCE.products, "the checkpoint's products are untouched");
});

test("full pipeline: the checkpoint's full run landed every record in the warehouse and the indices", { skip: !run.has('full-pipeline') }, async () => {
  // In a matrix cell, the servers are the versions the cell names.
  const major = (await q("SELECT current_setting('server_version_num')::int / 10000 AS v"))[0].v;
  if (process.env.VERS_MATRIX_POSTGRES) assert.equal(major, Number(process.env.VERS_MATRIX_POSTGRES), 'warehouse PostgreSQL major');
  if (process.env.VERS_MATRIX_ELASTICSEARCH) assert.equal(search.major, Number(process.env.VERS_MATRIX_ELASTICSEARCH), 'Elasticsearch major');
  const loaderInfo = await (await fetch(`${process.env.ETL_LOAD_URL ?? 'http://etl-load:3000'}/health`)).json();
  assert.equal(loaderInfo.elasticsearch.split('.')[0], String(search.major), 'etl-load speaks to the same major');
  const [counts] = await q(`SELECT (SELECT count(*) FROM dim_customer)::int AS customers, (SELECT count(*) FROM dim_product)::int AS products,
    (SELECT count(*) FROM fact_order)::int AS orders, (SELECT count(*) FROM fact_order_line)::int AS lines, (SELECT count(*) FROM daily_metrics)::int AS days`);
  assert.deepEqual(counts, { customers: SOURCE.customers, products: SOURCE.products, orders: SOURCE.orders, lines: SOURCE.lines, days: SOURCE.days });
  assert.equal(await search.count(INDICES.products), SOURCE.products);
  assert.equal(await search.count(INDICES.orders), SOURCE.orders);
  assert.equal(await search.count(INDICES.analytics), SOURCE.days);
  const runs = await q("SELECT mode, expected, loaded, failed FROM etl_runs WHERE mode = 'full'");
  assert.ok(runs.some((r) => r.expected === SOURCE.customers + SOURCE.products && r.loaded === r.expected && r.failed === 0), JSON.stringify(runs));

  // Search over the loaded catalogue, and aggregations that agree with the warehouse.
  const shoes = (await search.search(INDICES.products, { size: 5, query: { match: { name: 'running shoes' } } })).hits.hits.map((h) => h._id);
  assert.deepEqual(shoes.slice(0, 2).sort(), ['1', '2']);
  const cats = (await search.search(INDICES.products, { size: 0, aggs: { c: { terms: { field: 'category', size: 20 } } } })).aggregations.c.buckets;
  assert.equal(cats.length, SOURCE.categories);
  assert.ok(cats.every((b) => b.doc_count === 5), JSON.stringify(cats));
  const [wh] = await q("SELECT sum(total_cents)::bigint AS revenue FROM fact_order WHERE status = 'shipped'");
  const idx = await search.search(INDICES.orders, { size: 0, query: { term: { status: 'shipped' } }, aggs: { r: { sum: { field: 'total_cents' } } } });
  assert.equal(idx.aggregations.r.value, Number(wh.revenue));
  const [top] = await q('SELECT product_id, units_sold FROM product_analytics ORDER BY units_sold DESC, product_id LIMIT 1');
  assert.equal((await search.get(INDICES.products, String(top.product_id))).units_sold, top.units_sold);
  // The crosstab pivot covers every category and status.
  const pivot = await q('SELECT * FROM revenue_by_category_status ORDER BY category');
  assert.equal(pivot.length, SOURCE.categories);
  assert.ok(pivot.every((r) => Number(r.shipped) > 0 && Number(r.paid) > 0), JSON.stringify(pivot));
});
