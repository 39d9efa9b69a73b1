// Fulfilment: digital goods are delivered when the order is paid (download links to the files
// in S3); physical goods leave in shipments, each with a tracking number, a packing slip in S3
// and a mail. An order is `paid` until something is fulfilled, then `partially_fulfilled`,
// then `fulfilled`.
import { randomBytes } from 'node:crypto';
import { recordEvent, transaction } from './db.js';
import { badRequest, conflict, notFound } from './errors.js';
import { storePackingSlip } from './invoices.js';
import { sendShipmentNotice } from './mailer.js';
import { presignedGet } from './storage.js';

const CARRIERS = { UPS: '1Z', USPS: '94', DHL: 'JD' };
const FULFILLABLE = ['paid', 'partially_fulfilled'];
const DOWNLOAD_SECONDS = 24 * 3600;

function trackingNumber(carrier) {
  const alphabet = '0123456789ABCDEFGHJKLMNPQRSTUVWXYZ';
  const bytes = randomBytes(16);
  return CARRIERS[carrier] + [...bytes].map((b) => alphabet[b % alphabet.length]).join('');
}

/** Records the delivery of every digital line of a paid order (idempotent, inside `client`'s transaction). */
export async function deliverDigital(client, orderId) {
  await client.query(
    `INSERT INTO digital_deliveries (order_id, line_no, asset_key)
     SELECT l.order_id, l.line_no, p.asset_key FROM order_lines l JOIN products p ON p.id = l.product_id
      WHERE l.order_id = $1 AND l.kind = 'digital'
     ON CONFLICT DO NOTHING`,
    [orderId],
  );
}

/** Sets the order's status from what was shipped and delivered (inside `client`'s transaction). */
export async function refreshStatus(client, orderId) {
  const { rows: [s] } = await client.query(
    `SELECT
       coalesce(sum(l.quantity - l.shipped_quantity) FILTER (WHERE l.kind = 'physical'), 0)::int AS to_ship,
       coalesce(sum(l.shipped_quantity), 0)::int AS shipped,
       count(*) FILTER (WHERE l.kind = 'digital' AND d.order_id IS NULL)::int AS undelivered,
       count(d.order_id)::int AS delivered
     FROM order_lines l LEFT JOIN digital_deliveries d ON d.order_id = l.order_id AND d.line_no = l.line_no
     WHERE l.order_id = $1`,
    [orderId],
  );
  let status = 'paid';
  if (s.to_ship === 0 && s.undelivered === 0) status = 'fulfilled';
  else if (s.shipped > 0 || s.delivered > 0) status = 'partially_fulfilled';
  await client.query(
    "UPDATE orders SET status = $2 WHERE id = $1 AND status IN ('paid', 'partially_fulfilled', 'fulfilled')",
    [orderId, status],
  );
  return status;
}

/** Download links (valid a day) of the delivered digital lines of an order. */
export async function downloads(ctx, orderId) {
  const { rows } = await ctx.pools.ecommerce.query(
    `SELECT d.line_no, d.asset_key, l.name, l.sku FROM digital_deliveries d
       JOIN order_lines l USING (order_id, line_no) WHERE d.order_id = $1 ORDER BY d.line_no`,
    [orderId],
  );
  return Promise.all(rows.map(async (r) => ({
    line_no: r.line_no,
    sku: r.sku,
    name: r.name,
    url: await presignedGet(ctx.s3, ctx.config.s3.imagesBucket, r.asset_key, DOWNLOAD_SECONDS),
  })));
}

/**
 * Ships `lines` ([{line_no, quantity}]) of a paid order with `carrier`: never more than is
 * left of a line, never a digital line. Stores the packing slip and mails the customer.
 */
export async function ship(ctx, orderId, { lines, carrier = 'UPS' }) {
  if (!CARRIERS[carrier]) throw badRequest('invalid_carrier', `carrier must be one of ${Object.keys(CARRIERS).join(', ')}`);
  if (!Array.isArray(lines) || lines.length === 0) throw badRequest('invalid_lines', 'lines must list {line_no, quantity}');
  for (const l of lines) {
    if (!Number.isInteger(l.line_no) || !Number.isInteger(l.quantity) || l.quantity < 1) {
      throw badRequest('invalid_lines', 'each line needs an integer line_no and a positive quantity');
    }
  }
  const shipment = { carrier, tracking_number: trackingNumber(carrier) };
  const result = await transaction(ctx.pools.ecommerce, async (client) => {
    const { rows: [order] } = await client.query('SELECT * FROM orders WHERE id = $1 FOR UPDATE', [orderId]);
    if (!order) throw notFound(`order ${orderId}`);
    if (!FULFILLABLE.includes(order.status)) throw conflict('order_not_shippable', `order ${order.number} is ${order.status}`);
    const { rows: orderLines } = await client.query('SELECT * FROM order_lines WHERE order_id = $1 ORDER BY line_no', [orderId]);
    const byNo = new Map(orderLines.map((l) => [l.line_no, l]));
    const shipped = [];
    for (const { line_no: no, quantity } of lines) {
      const line = byNo.get(no);
      if (!line) throw badRequest('unknown_line', `order ${order.number} has no line ${no}`);
      if (line.kind !== 'physical') throw conflict('not_shippable', `line ${no} (${line.sku}) is a download`);
      const left = line.quantity - line.shipped_quantity;
      if (quantity > left) throw conflict('over_shipment', `line ${no} has ${left} left to ship`, { line_no: no, left });
      shipped.push({ ...line, quantity });
    }
    shipment.packing_slip_key = await storePackingSlip(ctx, order, shipment, shipped);
    const { rows: [row] } = await client.query(
      'INSERT INTO shipments (order_id, tracking_number, carrier, packing_slip_key) VALUES ($1, $2, $3, $4) RETURNING id, created_at',
      [orderId, shipment.tracking_number, carrier, shipment.packing_slip_key],
    );
    shipment.id = row.id;
    for (const l of shipped) {
      await client.query('INSERT INTO shipment_lines (shipment_id, order_id, line_no, quantity) VALUES ($1, $2, $3, $4)', [row.id, orderId, l.line_no, l.quantity]);
      await client.query('UPDATE order_lines SET shipped_quantity = shipped_quantity + $3 WHERE order_id = $1 AND line_no = $2', [orderId, l.line_no, l.quantity]);
    }
    const status = await refreshStatus(client, orderId);
    const { rows: [user] } = await client.query('SELECT * FROM users WHERE id = $1', [order.user_id]);
    return { order: { ...order, status }, user, shipped };
  });
  await sendShipmentNotice(ctx.mailer, { user: result.user, order: result.order, shipment, lines: result.shipped });
  await recordEvent(ctx.pools, 'shipment_created', {
    order_id: orderId,
    tracking_number: shipment.tracking_number,
    units: result.shipped.reduce((s, l) => s + l.quantity, 0),
  });
  return {
    ...shipment,
    order_status: result.order.status,
    lines: result.shipped.map((l) => ({ line_no: l.line_no, sku: l.sku, quantity: l.quantity })),
  };
}
