// Data quality checks shared by scripts/validate-data.js (checkpoint `validated`) and the
// data-quality suite: row counts across source, warehouse and index; duplicates; referential
// integrity; aggregates recomputed from the source. Each check returns a list of problems.
import { readFile } from 'node:fs/promises';
import { pool } from '../etl/load/src/clients.js';
import { INDICES } from '../etl/load/src/search.js';

export const sourceUrl = () => process.env.SOURCE_DATABASE_URL ?? 'postgres://postgres@postgres-source/production_mirror';

/** Pools on the source and the warehouse. */
export function databases() {
  return { source: pool(sourceUrl()), warehouse: pool() };
}

async function one(db, sql, params = []) {
  return (await db.query(sql, params)).rows[0];
}

/** Row counts of the source, the warehouse and the indices (non-cancelled days for metrics). */
export async function counts({ source, warehouse, search }) {
  const src = await one(source, `SELECT (SELECT count(*) FROM customers)::int AS customers, (SELECT count(*) FROM products)::int AS products,
    (SELECT count(*) FROM orders)::int AS orders, (SELECT count(*) FROM order_items)::int AS lines,
    (SELECT count(DISTINCT (placed_at AT TIME ZONE 'UTC')::date) FROM orders WHERE status <> 'cancelled')::int AS days`);
  const wh = await one(warehouse, `SELECT (SELECT count(*) FROM dim_customer)::int AS customers, (SELECT count(*) FROM dim_product)::int AS products,
    (SELECT count(*) FROM fact_order)::int AS orders, (SELECT count(*) FROM fact_order_line)::int AS lines,
    (SELECT count(*) FROM daily_metrics)::int AS days`);
  const idx = {
    products: await search.count(INDICES.products),
    orders: await search.count(INDICES.orders),
    days: await search.count(INDICES.analytics),
  };
  return { source: src, warehouse: wh, search: idx };
}

/** Problems: counts that differ between the source, the warehouse and the indices. */
export async function countProblems(ctx) {
  const c = await counts(ctx);
  const problems = [];
  for (const k of ['customers', 'products', 'orders', 'lines', 'days']) {
    if (c.source[k] !== c.warehouse[k]) problems.push(`${k}: source ${c.source[k]}, warehouse ${c.warehouse[k]}`);
  }
  for (const k of ['products', 'orders', 'days']) {
    if (c.warehouse[k] !== c.search[k]) problems.push(`${k}: warehouse ${c.warehouse[k]}, index ${c.search[k]}`);
  }
  return { counts: c, problems };
}

/** Problems: warehouse integrity checks with violations, and index orders the warehouse lacks. */
export async function integrityProblems({ warehouse, search }) {
  const sql = await readFile(new URL('./sql/integrity.sql', import.meta.url), 'utf8');
  const rows = (await warehouse.query(sql)).rows;
  const problems = rows.filter((r) => Number(r.violations) > 0).map((r) => `${r.check}: ${r.violations}`);
  const ids = new Set((await warehouse.query('SELECT order_id FROM fact_order')).rows.map((r) => String(r.order_id)));
  const indexed = await search.search(INDICES.orders, { size: 10000, _source: ['customer_id'], query: { match_all: {} } });
  const strays = indexed.hits.hits.filter((h) => !ids.has(h._id));
  if (strays.length) problems.push(`index orders not in the warehouse: ${strays.length} (e.g. ${strays[0]._id})`);
  return { checks: rows, problems };
}

/** Problems: duplicated natural keys in the warehouse or documents in the index. */
export async function duplicateProblems({ warehouse, search }) {
  const problems = [];
  const dup = await warehouse.query(`SELECT 'dim_customer.email' AS key, email AS value, count(*)::int AS n FROM dim_customer GROUP BY email HAVING count(*) > 1
    UNION ALL SELECT 'dim_product.sku', sku, count(*)::int FROM dim_product GROUP BY sku HAVING count(*) > 1
    UNION ALL SELECT 'fact_order_line (order, product)', order_id || '/' || product_id, count(*)::int FROM fact_order_line GROUP BY order_id, product_id HAVING count(*) > 1`);
  for (const r of dup.rows) problems.push(`${r.key} ${r.value} appears ${r.n} times`);
  const agg = await search.search(INDICES.orders, { size: 0, aggs: { ids: { terms: { field: 'order_id', min_doc_count: 2, size: 10 } } } });
  for (const b of agg.aggregations.ids.buckets) problems.push(`order ${b.key} indexed ${b.doc_count} times`);
  return { problems };
}

/**
 * Problems: aggregates of the warehouse (computed by the transform in JavaScript, or pivoted
 * with crosstab) that differ from the same figures computed by SQL in the source, and index
 * sums that differ from the warehouse.
 */
export async function aggregationProblems({ source, warehouse, search }) {
  const problems = [];
  const byId = (rows, key) => new Map(rows.map((r) => [r[key], r]));
  const srcCustomers = byId((await source.query(`
    SELECT c.id AS customer_id, count(o.id) FILTER (WHERE o.status <> 'cancelled')::int AS orders_count,
           count(o.id) FILTER (WHERE o.status = 'cancelled')::int AS cancelled_count,
           COALESCE(sum(t.total) FILTER (WHERE o.status <> 'cancelled'), 0)::bigint AS lifetime_value_cents
      FROM customers c LEFT JOIN orders o ON o.customer_id = c.id
      LEFT JOIN LATERAL (SELECT sum(quantity * unit_price_cents) AS total FROM order_items i WHERE i.order_id = o.id) t ON true
     GROUP BY c.id`)).rows, 'customer_id');
  const whCustomers = byId((await warehouse.query(
    'SELECT customer_id, orders_count, cancelled_count, lifetime_value_cents::bigint AS lifetime_value_cents FROM customer_summary')).rows, 'customer_id');
  for (const [id, s] of srcCustomers) {
    const w = whCustomers.get(id);
    if (!w) problems.push(`customer ${id}: no summary`);
    else for (const k of ['orders_count', 'cancelled_count', 'lifetime_value_cents']) {
      if (String(w[k]) !== String(s[k])) problems.push(`customer ${id} ${k}: source ${s[k]}, warehouse ${w[k]}`);
    }
  }
  const srcProducts = byId((await source.query(`
    SELECT p.id AS product_id, COALESCE(sum(i.quantity) FILTER (WHERE o.status <> 'cancelled'), 0)::int AS units_sold,
           COALESCE(sum(i.quantity * i.unit_price_cents) FILTER (WHERE o.status <> 'cancelled'), 0)::bigint AS revenue_cents
      FROM products p LEFT JOIN order_items i ON i.product_id = p.id LEFT JOIN orders o ON o.id = i.order_id
     GROUP BY p.id`)).rows, 'product_id');
  const whProducts = byId((await warehouse.query(
    'SELECT product_id, units_sold, revenue_cents::bigint AS revenue_cents FROM product_analytics')).rows, 'product_id');
  for (const [id, s] of srcProducts) {
    const w = whProducts.get(id);
    if (!w) problems.push(`product ${id}: no analytics`);
    else for (const k of ['units_sold', 'revenue_cents']) {
      if (String(w[k]) !== String(s[k])) problems.push(`product ${id} ${k}: source ${s[k]}, warehouse ${w[k]}`);
    }
  }
  const srcPivot = byId((await source.query(`
    SELECT p.category,
           COALESCE(sum(i.quantity * i.unit_price_cents) FILTER (WHERE o.status = 'placed'), 0)::bigint AS placed,
           COALESCE(sum(i.quantity * i.unit_price_cents) FILTER (WHERE o.status = 'paid'), 0)::bigint AS paid,
           COALESCE(sum(i.quantity * i.unit_price_cents) FILTER (WHERE o.status = 'shipped'), 0)::bigint AS shipped,
           COALESCE(sum(i.quantity * i.unit_price_cents) FILTER (WHERE o.status = 'cancelled'), 0)::bigint AS cancelled
      FROM order_items i JOIN orders o ON o.id = i.order_id JOIN products p ON p.id = i.product_id
     GROUP BY p.category`)).rows, 'category');
  const whPivot = byId((await warehouse.query('SELECT * FROM revenue_by_category_status')).rows, 'category');
  if (whPivot.size !== srcPivot.size) problems.push(`crosstab has ${whPivot.size} categories, source ${srcPivot.size}`);
  for (const [cat, s] of srcPivot) {
    for (const k of ['placed', 'paid', 'shipped', 'cancelled']) {
      const w = whPivot.get(cat)?.[k] ?? '0';
      if (String(w ?? '0') !== String(s[k])) problems.push(`crosstab ${cat}/${k}: source ${s[k]}, warehouse ${w}`);
    }
  }
  const wh = await one(warehouse, `SELECT COALESCE(sum(total_cents), 0)::bigint AS revenue, COALESCE(sum(units), 0)::bigint AS units
    FROM fact_order WHERE status <> 'cancelled'`);
  const daily = await one(warehouse, 'SELECT COALESCE(sum(revenue_cents), 0)::bigint AS revenue FROM daily_metrics');
  if (String(daily.revenue) !== String(wh.revenue)) problems.push(`daily metrics revenue ${daily.revenue}, orders ${wh.revenue}`);
  const idx = await search.search(INDICES.orders, {
    size: 0,
    query: { bool: { must_not: [{ term: { status: 'cancelled' } }] } },
    aggs: { revenue: { sum: { field: 'total_cents' } }, units: { sum: { field: 'units' } } },
  });
  if (Number(idx.aggregations.revenue.value) !== Number(wh.revenue)) problems.push(`index revenue ${idx.aggregations.revenue.value}, warehouse ${wh.revenue}`);
  if (Number(idx.aggregations.units.value) !== Number(wh.units)) problems.push(`index units ${idx.aggregations.units.value}, warehouse ${wh.units}`);
  const an = await search.search(INDICES.analytics, { size: 0, aggs: { revenue: { sum: { field: 'revenue_cents' } } } });
  if (Number(an.aggregations.revenue.value) !== Number(wh.revenue)) problems.push(`analytics index revenue ${an.aggregations.revenue.value}, warehouse ${wh.revenue}`);
  return { problems, revenue: Number(wh.revenue) };
}
