// The transformations, pure functions from a raw message body to a transformed one. They
// validate what they read: a malformed record throws, and the worker sends it to the
// dead-letter stream instead of loading something wrong.

/** Price bands of the product analytics: below 20.00 budget, below 100.00 standard. */
export const PRICE_BANDS = [
  [2000, 'budget'],
  [10000, 'standard'],
  [Infinity, 'premium'],
];

function fail(message) {
  throw new Error(`invalid record: ${message}`);
}

function positiveInt(value, what) {
  if (!Number.isInteger(value) || value <= 0) fail(`${what} must be a positive integer, got ${JSON.stringify(value)}`);
  return value;
}

function text(value, what) {
  if (typeof value !== 'string' || value.trim() === '') fail(`${what} must be non-empty text`);
  return value.trim();
}

function instant(value, what) {
  const t = new Date(value);
  if (Number.isNaN(t.getTime())) fail(`${what} is not a timestamp: ${JSON.stringify(value)}`);
  return t;
}

/** The price band of a price in cents. */
export function priceBand(cents) {
  return PRICE_BANDS.find(([limit]) => cents < limit)[1];
}

/** Order metrics: one order with its lines, totals computed from the lines. */
export function orderMetrics(order, customerId) {
  const placed = instant(order.placed_at, `order ${order.id} placed_at`);
  if (!Array.isArray(order.items) || order.items.length === 0) fail(`order ${order.id} has no lines`);
  const lines = order.items.map((i) => {
    const quantity = positiveInt(i.quantity, `order ${order.id} line ${i.line_no} quantity`);
    const unit = positiveInt(i.unit_price_cents, `order ${order.id} line ${i.line_no} unit_price_cents`);
    return {
      line_no: positiveInt(i.line_no, `order ${order.id} line_no`),
      product_id: positiveInt(i.product_id, `order ${order.id} product_id`),
      category: text(i.category, `order ${order.id} line ${i.line_no} category`),
      quantity,
      unit_price_cents: unit,
      line_total_cents: quantity * unit,
    };
  });
  return {
    order_id: positiveInt(order.id, 'order id'),
    customer_id: customerId,
    status: text(order.status, `order ${order.id} status`),
    placed_at: placed.toISOString(),
    day: placed.toISOString().slice(0, 10),
    item_count: lines.length,
    units: lines.reduce((n, l) => n + l.quantity, 0),
    total_cents: lines.reduce((n, l) => n + l.line_total_cents, 0),
    categories: [...new Set(lines.map((l) => l.category))].sort(),
    lines,
  };
}

/**
 * Customer aggregation: the normalised customer, its orders' metrics, and its summary
 * (cancelled orders count apart and add nothing to the value; the top category is the one
 * with the most revenue, the first by name on a tie).
 */
export function transformCustomer(body) {
  const c = body.customer ?? fail('no customer');
  const id = positiveInt(c.id, 'customer id');
  const email = text(c.email, `customer ${id} email`).toLowerCase();
  const at = email.lastIndexOf('@');
  if (at <= 0 || at === email.length - 1) fail(`customer ${id} email ${JSON.stringify(email)} has no domain`);
  const orders = (body.orders ?? []).map((o) => orderMetrics(o, id));
  const kept = orders.filter((o) => o.status !== 'cancelled');
  const value = kept.reduce((n, o) => n + o.total_cents, 0);
  const byCategory = new Map();
  for (const o of kept) for (const l of o.lines) byCategory.set(l.category, (byCategory.get(l.category) ?? 0) + l.line_total_cents);
  const top = [...byCategory].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0];
  const times = kept.map((o) => o.placed_at).sort();
  return {
    customer: {
      customer_id: id,
      name: text(c.name, `customer ${id} name`).replace(/\s+/g, ' '),
      email,
      email_domain: email.slice(at + 1),
      country: text(c.country, `customer ${id} country`).toUpperCase(),
      created_at: instant(c.created_at, `customer ${id} created_at`).toISOString(),
    },
    orders,
    summary: {
      customer_id: id,
      orders_count: kept.length,
      cancelled_count: orders.length - kept.length,
      lifetime_value_cents: value,
      avg_order_cents: kept.length ? Math.round(value / kept.length) : 0,
      first_order_at: times[0] ?? null,
      last_order_at: times[times.length - 1] ?? null,
      top_category: top ? top[0] : null,
    },
  };
}

/** Product analytics: the product with its band, and what it sold outside cancelled orders. */
export function transformProduct(body) {
  const p = body.product ?? fail('no product');
  const id = positiveInt(p.id, 'product id');
  const price = positiveInt(p.price_cents, `product ${id} price_cents`);
  const sales = (body.sales ?? []).filter((s) => s.status !== 'cancelled');
  for (const s of sales) positiveInt(s.quantity, `product ${id} sale ${s.order_id} quantity`);
  const times = sales.map((s) => instant(s.placed_at, `product ${id} sale placed_at`).toISOString()).sort();
  return {
    product: {
      product_id: id,
      sku: text(p.sku, `product ${id} sku`),
      name: text(p.name, `product ${id} name`),
      category: text(p.category, `product ${id} category`),
      description: text(p.description, `product ${id} description`),
      price_cents: price,
      price_band: priceBand(price),
    },
    analytics: {
      product_id: id,
      units_sold: sales.reduce((n, s) => n + s.quantity, 0),
      revenue_cents: sales.reduce((n, s) => n + s.quantity * s.unit_price_cents, 0),
      orders_count: new Set(sales.map((s) => s.order_id)).size,
      customers_count: new Set(sales.map((s) => s.customer_id)).size,
      last_sold_at: times[times.length - 1] ?? null,
    },
  };
}

/** Transforms one raw message: `[kind, body]` of the transformed message. */
export function transform(kind, body) {
  switch (kind) {
    case 'customer':
      return ['customer', transformCustomer(body)];
    case 'product':
      return ['product', transformProduct(body)];
    case 'customer-deleted':
      return [kind, { customer_id: positiveInt(body.customer_id, 'customer_id') }];
    case 'product-deleted':
      return [kind, { product_id: positiveInt(body.product_id, 'product_id') }];
    case 'end':
      return [kind, body];
    default:
      return fail(`unknown kind ${JSON.stringify(kind)}`);
  }
}
