// Invoices: an HTML document per paid order, stored in the private `order-invoices` bucket
// under `invoices/<order number>.html`, and packing slips under `packing-slips/`.
import { escapeHtml, formatCents } from './money.js';
import { presignedGet, putObject } from './storage.js';

/** The S3 key of an order's invoice. */
export const invoiceKey = (orderNumber) => `invoices/${orderNumber}.html`;

/** The invoice of `order` (with `lines`) for `user`, as HTML. */
export function renderInvoice(order, lines, user) {
  const rows = lines
    .map((l) => `<tr><td>${escapeHtml(l.sku)}</td><td>${escapeHtml(l.name)}</td><td>${l.quantity}</td>`
      + `<td>${formatCents(l.unit_price_cents)}</td><td>${formatCents(l.unit_price_cents * l.quantity)}</td></tr>`)
    .join('\n');
  const a = order.shipping_address;
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>Invoice ${order.number}</title></head>
<body>
<h1>Invoice ${order.number}</h1>
<p>Order <code>${order.id}</code>, paid ${new Date(order.paid_at).toISOString()}, payment ${escapeHtml(order.payment_intent_id)}</p>
<p>Bill to: ${escapeHtml(user.name)} &lt;${escapeHtml(user.email)}&gt;<br>
${escapeHtml(a.line1 ?? '')}, ${escapeHtml(a.city ?? '')} ${escapeHtml(a.region ?? '')} ${escapeHtml(a.postal_code ?? '')}, ${escapeHtml(a.country)}</p>
<table>
<tr><th>SKU</th><th>Item</th><th>Qty</th><th>Unit</th><th>Amount</th></tr>
${rows}
</table>
<p>Subtotal: ${formatCents(order.subtotal_cents)}</p>
<p>Discount: ${formatCents(-order.discount_cents)}${order.promo_code ? ` (${escapeHtml(order.promo_code)})` : ''}</p>
<p>Shipping: ${formatCents(order.shipping_cents)}</p>
<p>Tax: ${formatCents(order.tax_cents)}</p>
<p><strong>Total: ${formatCents(order.total_cents)}</strong></p>
</body></html>
`;
}

/** Stores the invoice; returns its key. */
export async function storeInvoice(ctx, order, html) {
  const key = invoiceKey(order.number);
  await putObject(ctx.s3, ctx.config.s3.invoicesBucket, key, html, 'text/html; charset=utf-8', {
    'order-id': order.id,
    'total-cents': String(order.total_cents),
  });
  return key;
}

/** A short-lived URL of a stored invoice. */
export function invoiceUrl(ctx, key) {
  return presignedGet(ctx.s3, ctx.config.s3.invoicesBucket, key, 600);
}

/** Stores the packing slip of a shipment; returns its key. */
export async function storePackingSlip(ctx, order, shipment, lines) {
  const key = `packing-slips/${order.number}/${shipment.tracking_number}.txt`;
  const text = [
    `Packing slip for order ${order.number}`,
    `Carrier: ${shipment.carrier}  Tracking: ${shipment.tracking_number}`,
    `Ship to: ${order.shipping_address.name ?? ''}, ${order.shipping_address.line1 ?? ''}, ${order.shipping_address.city ?? ''}, ${order.shipping_address.country}`,
    '',
    ...lines.map((l) => `${l.quantity} x ${l.sku}  ${l.name}`),
    '',
  ].join('\n');
  await putObject(ctx.s3, ctx.config.s3.invoicesBucket, key, text, 'text/plain; charset=utf-8', { 'order-id': order.id });
  return key;
}
