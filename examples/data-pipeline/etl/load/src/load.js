// Loading: each transformed message replaces what it describes in the warehouse (one
// transaction) and in the search indices, so a message applied twice changes nothing. When
// every message of a run is accounted for (loaded or failed) and its end marker has been
// seen, the run is finalised: daily metrics recomputed, the analytics index rebuilt, the
// indices refreshed, the run recorded in etl_runs and marked `done` in Redis.
import { readFile } from 'node:fs/promises';
import { runKey } from '../../../lib/pipeline.js';
import { INDICES, bulkOrThrow } from './search.js';

/** Applies sql/warehouse.sql once at a time (an advisory lock guards concurrent starts). */
export async function applySchema(db) {
  const sql = await readFile(new URL('../sql/warehouse.sql', import.meta.url), 'utf8');
  const client = await db.connect();
  try {
    await client.query('SELECT pg_advisory_lock(727274)');
    await client.query(sql);
  } finally {
    await client.query('SELECT pg_advisory_unlock(727274)').catch(() => {});
    client.release();
  }
}

async function inTransaction(db, work) {
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    const out = await work(client);
    await client.query('COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

const UPSERT_CUSTOMER = `
INSERT INTO dim_customer (customer_id, name, email, email_domain, country, created_at, run_id, loaded_at)
SELECT customer_id, name, email, email_domain, country, created_at, $2, now()
  FROM json_populate_record(NULL::dim_customer, $1::json)
ON CONFLICT (customer_id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email,
  email_domain = EXCLUDED.email_domain, country = EXCLUDED.country, created_at = EXCLUDED.created_at,
  run_id = EXCLUDED.run_id, loaded_at = EXCLUDED.loaded_at`;

const UPSERT_ORDERS = `
INSERT INTO fact_order (order_id, customer_id, status, placed_at, day, item_count, units, total_cents, categories, run_id)
SELECT order_id, customer_id, status, placed_at, day, item_count, units, total_cents, categories, $2
  FROM json_populate_recordset(NULL::fact_order, $1::json)
ON CONFLICT (order_id) DO UPDATE SET customer_id = EXCLUDED.customer_id, status = EXCLUDED.status,
  placed_at = EXCLUDED.placed_at, day = EXCLUDED.day, item_count = EXCLUDED.item_count,
  units = EXCLUDED.units, total_cents = EXCLUDED.total_cents, categories = EXCLUDED.categories,
  run_id = EXCLUDED.run_id`;

const INSERT_LINES = `
INSERT INTO fact_order_line SELECT * FROM json_populate_recordset(NULL::fact_order_line, $1::json)`;

const UPSERT_SUMMARY = `
INSERT INTO customer_summary SELECT * FROM json_populate_record(NULL::customer_summary, $1::json)
ON CONFLICT (customer_id) DO UPDATE SET orders_count = EXCLUDED.orders_count,
  cancelled_count = EXCLUDED.cancelled_count, lifetime_value_cents = EXCLUDED.lifetime_value_cents,
  avg_order_cents = EXCLUDED.avg_order_cents, first_order_at = EXCLUDED.first_order_at,
  last_order_at = EXCLUDED.last_order_at, top_category = EXCLUDED.top_category`;

const UPSERT_PRODUCT = `
INSERT INTO dim_product (product_id, sku, name, category, description, price_cents, price_band, run_id, loaded_at)
SELECT product_id, sku, name, category, description, price_cents, price_band, $2, now()
  FROM json_populate_record(NULL::dim_product, $1::json)
ON CONFLICT (product_id) DO UPDATE SET sku = EXCLUDED.sku, name = EXCLUDED.name,
  category = EXCLUDED.category, description = EXCLUDED.description, price_cents = EXCLUDED.price_cents,
  price_band = EXCLUDED.price_band, run_id = EXCLUDED.run_id, loaded_at = EXCLUDED.loaded_at`;

const UPSERT_ANALYTICS = `
INSERT INTO product_analytics SELECT * FROM json_populate_record(NULL::product_analytics, $1::json)
ON CONFLICT (product_id) DO UPDATE SET units_sold = EXCLUDED.units_sold,
  revenue_cents = EXCLUDED.revenue_cents, orders_count = EXCLUDED.orders_count,
  customers_count = EXCLUDED.customers_count, last_sold_at = EXCLUDED.last_sold_at`;

const DAILY_METRICS = `
INSERT INTO daily_metrics (day, orders, units, revenue_cents, avg_order_cents)
SELECT day, count(*), sum(units), sum(total_cents), round(avg(total_cents))
  FROM fact_order WHERE status <> 'cancelled' GROUP BY day`;

/** The search document of an order. */
function orderDoc(order, customer) {
  const { lines, ...rest } = order;
  return { ...rest, customer_name: customer.name, country: customer.country, email_domain: customer.email_domain };
}

/** The loader: warehouse pool, search adapter, Redis client. */
export function loader({ db, search, redis, log = console }) {
  async function loadCustomer(run, { customer, orders, summary }) {
    const id = customer.customer_id;
    const keep = orders.map((o) => o.order_id);
    const removed = await inTransaction(db, async (c) => {
      const prev = (await c.query('SELECT order_id FROM fact_order WHERE customer_id = $1 FOR UPDATE', [id])).rows.map((r) => r.order_id);
      await c.query(UPSERT_CUSTOMER, [JSON.stringify(customer), run]);
      await c.query('DELETE FROM fact_order_line WHERE order_id = ANY($1)', [[...new Set([...prev, ...keep])]]);
      await c.query('DELETE FROM fact_order WHERE customer_id = $1 AND NOT (order_id = ANY($2))', [id, keep]);
      if (orders.length) {
        await c.query(UPSERT_ORDERS, [JSON.stringify(orders), run]);
        const lines = orders.flatMap((o) => o.lines.map((l) => ({ order_id: o.order_id, ...l })));
        await c.query(INSERT_LINES, [JSON.stringify(lines)]);
      }
      await c.query(UPSERT_SUMMARY, [JSON.stringify(summary)]);
      return prev.filter((o) => !keep.includes(o));
    });
    await bulkOrThrow(search, [
      ...orders.flatMap((o) => [{ index: { _index: INDICES.orders, _id: String(o.order_id) } }, orderDoc(o, customer)]),
      ...removed.map((o) => ({ delete: { _index: INDICES.orders, _id: String(o) } })),
    ]);
  }

  async function deleteCustomer(run, { customer_id: id }) {
    const removed = await inTransaction(db, async (c) => {
      const ids = (await c.query('DELETE FROM fact_order WHERE customer_id = $1 RETURNING order_id', [id])).rows.map((r) => r.order_id);
      await c.query('DELETE FROM fact_order_line WHERE order_id = ANY($1)', [ids]);
      await c.query('DELETE FROM customer_summary WHERE customer_id = $1', [id]);
      await c.query('DELETE FROM dim_customer WHERE customer_id = $1', [id]);
      return ids;
    });
    await bulkOrThrow(search, removed.map((o) => ({ delete: { _index: INDICES.orders, _id: String(o) } })));
  }

  async function loadProduct(run, { product, analytics }) {
    await inTransaction(db, async (c) => {
      await c.query(UPSERT_PRODUCT, [JSON.stringify(product), run]);
      await c.query(UPSERT_ANALYTICS, [JSON.stringify(analytics)]);
    });
    const { product_id: id, ...doc } = product;
    await bulkOrThrow(search, [
      { index: { _index: INDICES.products, _id: String(id) } },
      { product_id: id, ...doc, units_sold: analytics.units_sold, revenue_cents: analytics.revenue_cents },
    ]);
  }

  async function deleteProduct(run, { product_id: id }) {
    await inTransaction(db, async (c) => {
      await c.query('DELETE FROM product_analytics WHERE product_id = $1', [id]);
      await c.query('DELETE FROM dim_product WHERE product_id = $1', [id]);
    });
    await bulkOrThrow(search, [{ delete: { _index: INDICES.products, _id: String(id) } }]);
  }

  /** Daily metrics from the facts, mirrored into the analytics index; every index refreshed. */
  async function finalize(run, state) {
    const days = await inTransaction(db, async (c) => {
      await c.query('DELETE FROM daily_metrics');
      await c.query(DAILY_METRICS);
      await c.query(
        `INSERT INTO etl_runs (run_id, mode, expected, loaded, failed) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (run_id) DO UPDATE SET expected = EXCLUDED.expected, loaded = EXCLUDED.loaded,
           failed = EXCLUDED.failed, finished_at = now()`,
        [run, state.mode ?? null, Number(state.expected), Number(state.loaded ?? 0), Number(state.failed ?? 0)]);
      return (await c.query('SELECT day::text AS day, orders, units, revenue_cents::bigint AS revenue_cents, avg_order_cents FROM daily_metrics')).rows;
    });
    await search.refresh(INDICES.analytics);
    const indexed = await search.search(INDICES.analytics, { size: 10000, _source: false, query: { match_all: {} } });
    const keep = new Set(days.map((d) => d.day));
    await bulkOrThrow(search, [
      ...days.flatMap((d) => [
        { index: { _index: INDICES.analytics, _id: d.day } },
        { day: d.day, orders: d.orders, units: Number(d.units), revenue_cents: Number(d.revenue_cents), avg_order_cents: d.avg_order_cents, run_id: run },
      ]),
      ...indexed.hits.hits.filter((h) => !keep.has(h._id)).map((h) => ({ delete: { _index: INDICES.analytics, _id: h._id } })),
    ]);
    await search.refresh(Object.values(INDICES).join(','));
  }

  /** Counts a message of a run as loaded or failed; finalises the run when it adds up. */
  async function account(run, field) {
    await redis.hincrby(runKey(run), field, 1);
    await maybeFinalize(run);
  }

  async function maybeFinalize(run) {
    const state = await redis.hgetall(runKey(run));
    if (state.ended !== '1' || state.status === 'done' || state.status === 'done-with-errors') return;
    const accounted = Number(state.loaded ?? 0) + Number(state.failed ?? 0);
    if (accounted < Number(state.expected)) return;
    await finalize(run, state);
    const status = Number(state.failed ?? 0) > 0 ? 'done-with-errors' : 'done';
    await redis.hset(runKey(run), 'status', status, 'finished_at', new Date().toISOString());
    log.log(`run ${run}: ${status} (${state.loaded ?? 0} loaded, ${state.failed ?? 0} failed of ${state.expected})`);
  }

  /** Handles one message of etl:transformed. */
  async function handle(m) {
    switch (m.kind) {
      case 'customer':
        await loadCustomer(m.run, m.body);
        break;
      case 'customer-deleted':
        await deleteCustomer(m.run, m.body);
        break;
      case 'product':
        await loadProduct(m.run, m.body);
        break;
      case 'product-deleted':
        await deleteProduct(m.run, m.body);
        break;
      case 'failed':
        return account(m.run, 'failed');
      case 'end':
        await redis.hset(runKey(m.run), 'ended', 1, 'expected', m.body.expected, ...(m.body.mode ? ['mode', m.body.mode] : []));
        return maybeFinalize(m.run);
      default:
        throw new Error(`unknown kind ${JSON.stringify(m.kind)}`);
    }
    return account(m.run, 'loaded');
  }

  return { handle, account };
}
