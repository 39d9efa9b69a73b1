// The `transformation` suite (etl-transform ×3, redis): each branch feeds hand-made raw
// records with known answers into etl:raw and reads what the replicas wrote to
// etl:transformed. VERS_BRANCH picks customer-aggregation, order-metrics or product-analytics.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { RAW_STREAM, TRANSFORMED_STREAM, TRANSFORM_GROUP, DEAD_LETTER_STREAM } from '../lib/pipeline.js';
import { scenarios, redisClient, readRun, newRunId, pushRun, waitFor, getFresh } from './support.js';

const run = scenarios(['customer-aggregation', 'order-metrics', 'product-analytics']);
const redis = redisClient();
after(() => redis.disconnect());

const transformUrl = process.env.ETL_TRANSFORM_URL ?? 'http://etl-transform:3000';

/** Feeds raw messages as one run and waits for all of them (and the end marker) downstream. */
async function transformRun(messages) {
  const id = newRunId('test');
  await pushRun(redis, RAW_STREAM, id, messages);
  return waitFor(async () => {
    const out = await readRun(redis, TRANSFORMED_STREAM, id);
    return out.length === messages.length + 1 ? out : null;
  }, { what: `run ${id} transformed` });
}

const item = (line_no, product_id, category, quantity, unit_price_cents) => ({ line_no, product_id, category, quantity, unit_price_cents });

test('customer aggregation: normalised customer, lifetime value without cancelled orders, top category', { skip: !run.has('customer-aggregation') }, async () => {
  const out = await transformRun([
    ['customer', {
      customer: { id: 900001, name: '  Grace   Hopper ', email: 'Grace.Hopper@Navy.MIL', country: 'us', created_at: '2023-02-01T00:00:00Z' },
      orders: [
        { id: 1, status: 'paid', placed_at: '2024-02-01T10:00:00Z', items: [item(1, 16, 'books', 2, 1500), item(2, 31, 'audio', 1, 25000)] },
        { id: 2, status: 'shipped', placed_at: '2024-03-01T10:00:00Z', items: [item(1, 17, 'books', 3, 1000)] },
        { id: 3, status: 'cancelled', placed_at: '2024-04-01T10:00:00Z', items: [item(1, 33, 'audio', 1, 99999)] },
      ],
    }],
    ['customer', { customer: { id: 900002, name: 'Alan Turing', email: 'alan@bletchley.test', country: 'GB', created_at: '2023-02-02T00:00:00Z' }, orders: [] }],
    ['customer', {
      customer: { id: 900003, name: 'Ken Thompson', email: 'ken@bell.test', country: 'US', created_at: '2023-02-03T00:00:00Z' },
      orders: [{ id: 4, status: 'paid', placed_at: '2024-02-05T10:00:00Z', items: [item(1, 36, 'office', 1, 3000), item(2, 26, 'garden', 1, 3000)] }],
    }],
  ]);
  const by = new Map(out.filter((m) => m.kind === 'customer').map((m) => [m.body.customer.customer_id, m.body]));
  const grace = by.get(900001);
  assert.deepEqual(grace.customer, {
    customer_id: 900001, name: 'Grace Hopper', email: 'grace.hopper@navy.mil', email_domain: 'navy.mil', country: 'US', created_at: '2023-02-01T00:00:00.000Z',
  });
  assert.deepEqual(grace.summary, {
    customer_id: 900001,
    orders_count: 2,
    cancelled_count: 1,
    lifetime_value_cents: 2 * 1500 + 25000 + 3 * 1000,
    avg_order_cents: 15500,
    first_order_at: '2024-02-01T10:00:00.000Z',
    last_order_at: '2024-03-01T10:00:00.000Z',
    top_category: 'audio',
  });
  assert.deepEqual(by.get(900002).summary, {
    customer_id: 900002, orders_count: 0, cancelled_count: 0, lifetime_value_cents: 0, avg_order_cents: 0,
    first_order_at: null, last_order_at: null, top_category: null,
  });
  assert.equal(by.get(900003).summary.top_category, 'garden', 'a tie goes to the first category by name');
  assert.equal(out.filter((m) => m.kind === 'end').length, 1, 'the end marker passes through');
});

test('order metrics: totals from the lines, UTC days; the three replicas share the stream; bad records go to the dead-letter stream', { skip: !run.has('order-metrics') }, async () => {
  // Three live replicas behind the balancer, each a consumer of the group under its own name.
  const workers = new Set();
  for (let i = 0; i < 12; i++) workers.add((await getFresh(`${transformUrl}/health`)).body.worker);
  assert.deepEqual([...workers].sort(), ['etl-transform-0', 'etl-transform-1', 'etl-transform-2'], 'each replica is its own consumer (VERS_INSTANCE)');
  const consumers = (await redis.xinfo('CONSUMERS', RAW_STREAM, TRANSFORM_GROUP)).map((c) => c[1]);
  for (const w of workers) assert.ok(consumers.includes(w), `${w} is a consumer of ${TRANSFORM_GROUP}: ${consumers}`);

  const customers = [];
  for (let c = 1; c <= 40; c++) {
    customers.push(['customer', {
      customer: { id: 800000 + c, name: `Customer ${c}`, email: `c${c}@example.com`, country: 'DE', created_at: '2023-01-01T00:00:00Z' },
      orders: [
        // 23:30 at UTC-2 is 01:30 the next day in UTC
        { id: 80000 + c * 2, status: 'paid', placed_at: '2024-03-05T23:30:00-02:00', items: [item(1, 1, 'shoes', c % 3 + 1, 8999), item(2, 12, 'kitchen', 2, 4200)] },
        { id: 80001 + c * 2, status: 'placed', placed_at: '2024-03-05T12:00:00Z', items: [item(1, 12, 'kitchen', 1, 4200), item(2, 13, 'kitchen', 1, 3600), item(3, 21, 'toys', 4, 3499)] },
      ],
    }]);
  }
  const bad = ['customer', {
    customer: { id: 899999, name: 'Broken', email: 'broken@example.com', country: 'DE', created_at: '2023-01-01T00:00:00Z' },
    orders: [{ id: 89999, status: 'paid', placed_at: '2024-03-05T12:00:00Z', items: [item(1, 1, 'shoes', -1, 8999)] }],
  }];
  const out = await transformRun([...customers, bad]);
  for (const m of out.filter((x) => x.kind === 'customer')) {
    const c = m.body.customer.customer_id - 800000;
    const [late, noon] = m.body.orders;
    assert.deepEqual(
      { total: late.total_cents, units: late.units, items: late.item_count, day: late.day, categories: late.categories },
      { total: (c % 3 + 1) * 8999 + 2 * 4200, units: c % 3 + 3, items: 2, day: '2024-03-06', categories: ['kitchen', 'shoes'] });
    assert.deepEqual(
      { total: noon.total_cents, units: noon.units, items: noon.item_count, day: noon.day },
      { total: 4200 + 3600 + 4 * 3499, units: 6, items: 3, day: '2024-03-05' });
    assert.deepEqual(late.lines.map((l) => l.line_total_cents), [(c % 3 + 1) * 8999, 8400]);
    assert.ok(workers.has(m.body.worker), `made by a live replica: ${m.body.worker}`);
  }
  assert.equal(out.filter((m) => m.kind === 'customer').length, 40);
  const failed = out.filter((m) => m.kind === 'failed');
  assert.equal(failed.length, 1, 'the bad record is reported downstream so the run still adds up');
  assert.match(failed[0].body.error, /quantity must be a positive integer/);
  const dead = (await redis.xrange(DEAD_LETTER_STREAM, '-', '+')).map(([id, f]) => Object.fromEntries(f.reduce((a, v, i) => (i % 2 ? a[a.length - 1].push(v) : a.push([v]), a), [])));
  assert.ok(dead.some((d) => d.run === out[0].run && /quantity/.test(d.error)), 'the bad record is on the dead-letter stream');
  const pending = await redis.xpending(RAW_STREAM, TRANSFORM_GROUP);
  assert.equal(pending[0], 0, 'every raw record was acknowledged');
});

test('product analytics: units, revenue, distinct orders and customers without cancelled orders; price bands', { skip: !run.has('product-analytics') }, async () => {
  const sale = (order_id, customer_id, status, quantity, unit_price_cents, placed_at) => ({ order_id, line_no: 1, customer_id, status, quantity, unit_price_cents, placed_at });
  const product = (id, price_cents, sales = []) => ['product', {
    product: { id, sku: `SKU-T${id}`, name: `Product ${id}`, category: 'toys', description: 'A test product', price_cents },
    sales,
  }];
  const out = await transformRun([
    product(700001, 1999, [
      sale(1, 10, 'paid', 2, 1999, '2024-01-02T00:00:00Z'),
      sale(2, 10, 'shipped', 1, 1799, '2024-01-09T00:00:00Z'),
      sale(3, 11, 'placed', 3, 1999, '2024-01-05T00:00:00Z'),
      sale(4, 12, 'cancelled', 50, 1999, '2024-02-01T00:00:00Z'),
    ]),
    product(700002, 2000),
    product(700003, 9999),
    product(700004, 10000),
  ]);
  const by = new Map(out.filter((m) => m.kind === 'product').map((m) => [m.body.product.product_id, m.body]));
  assert.deepEqual(by.get(700001).analytics, {
    product_id: 700001, units_sold: 6, revenue_cents: 2 * 1999 + 1799 + 3 * 1999, orders_count: 3, customers_count: 2,
    last_sold_at: '2024-01-09T00:00:00.000Z',
  });
  assert.deepEqual([700001, 700002, 700003, 700004].map((id) => by.get(id).product.price_band), ['budget', 'standard', 'standard', 'premium']);
  assert.deepEqual(by.get(700002).analytics, { product_id: 700002, units_sold: 0, revenue_cents: 0, orders_count: 0, customers_count: 0, last_sold_at: null });
});
