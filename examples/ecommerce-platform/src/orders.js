// Checkout and orders: a quote of the cart, stock held for the order, one Stripe
// PaymentIntent charged with the customer's card; then either the paid path (stock committed,
// downloads delivered, invoice in S3, confirmation mail) or the failed path (stock released,
// failure recorded and mailed). Cards that need 3D Secure come back through /checkout/return.
import { randomUUID } from 'node:crypto';
import * as carts from './cart.js';
import { recordEvent, transaction } from './db.js';
import { badRequest, HttpError, notFound } from './errors.js';
import { deliverDigital, downloads, refreshStatus } from './fulfillment.js';
import * as inventory from './inventory.js';
import { invoiceUrl, renderInvoice, storeInvoice } from './invoices.js';
import { sendOrderConfirmation, sendPaymentFailed } from './mailer.js';
import { quote } from './pricing.js';

/** The customer with `email`, or a 404. */
export async function userByEmail(ctx, email) {
  const { rows } = await ctx.pools.ecommerce.query('SELECT * FROM users WHERE email = $1', [String(email ?? '').toLowerCase()]);
  if (!rows[0]) throw notFound(`customer ${email}`);
  return rows[0];
}

/** An order with its lines, payments, shipments and digital deliveries. */
export async function getOrder(ctx, id) {
  if (!/^[0-9a-f-]{36}$/i.test(String(id))) throw notFound(`order ${id}`);
  const db = ctx.pools.ecommerce;
  const { rows: [order] } = await db.query(
    'SELECT o.*, u.email FROM orders o JOIN users u ON u.id = o.user_id WHERE o.id = $1',
    [id],
  );
  if (!order) throw notFound(`order ${id}`);
  const [lines, payments, shipments, deliveries] = await Promise.all([
    db.query('SELECT line_no, product_id, sku, name, kind, quantity, unit_price_cents, discount_cents, tax_cents, shipped_quantity FROM order_lines WHERE order_id = $1 ORDER BY line_no', [id]),
    db.query('SELECT payment_intent_id, status, amount_cents, decline_code FROM payments WHERE order_id = $1 ORDER BY id', [id]),
    db.query(
      `SELECT s.id, s.tracking_number, s.carrier, s.packing_slip_key,
              json_agg(json_build_object('line_no', sl.line_no, 'quantity', sl.quantity) ORDER BY sl.line_no) AS lines
         FROM shipments s JOIN shipment_lines sl ON sl.shipment_id = s.id
        WHERE s.order_id = $1 GROUP BY s.id ORDER BY s.created_at, s.id`,
      [id],
    ),
    db.query('SELECT line_no, asset_key FROM digital_deliveries WHERE order_id = $1 ORDER BY line_no', [id]),
  ]);
  return {
    ...order,
    number: Number(order.number),
    lines: lines.rows,
    payments: payments.rows,
    shipments: shipments.rows,
    deliveries: deliveries.rows,
  };
}

/** Orders of a customer, newest first. */
export async function listOrders(ctx, email) {
  const user = await userByEmail(ctx, email);
  const { rows } = await ctx.pools.ecommerce.query(
    'SELECT id, number, status, total_cents, created_at FROM orders WHERE user_id = $1 ORDER BY number DESC',
    [user.id],
  );
  return rows.map((r) => ({ ...r, number: Number(r.number) }));
}

async function failPayment(ctx, orderId, paymentIntentId, error) {
  const failed = await transaction(ctx.pools.ecommerce, async (client) => {
    const { rows: [order] } = await client.query(
      `UPDATE orders SET status = 'payment_failed', payment_intent_id = coalesce(payment_intent_id, $2)
        WHERE id = $1 AND status IN ('pending_payment', 'requires_action') RETURNING *`,
      [orderId, paymentIntentId],
    );
    if (!order) return null;
    await client.query(
      "INSERT INTO payments (order_id, payment_intent_id, status, amount_cents, decline_code) VALUES ($1, $2, 'failed', $3, $4)",
      [orderId, paymentIntentId ?? 'none', order.total_cents, error.decline_code ?? error.code ?? null],
    );
    const { rows: [user] } = await client.query('SELECT * FROM users WHERE id = $1', [order.user_id]);
    return { order, user };
  });
  await inventory.release(ctx, orderId);
  if (!failed) return;
  await sendPaymentFailed(ctx.mailer, { user: failed.user, order: failed.order, reason: error.message ?? 'declined' });
  await recordEvent(ctx.pools, 'payment_failed', {
    order_id: orderId,
    decline_code: error.decline_code ?? error.code ?? null,
    amount_cents: failed.order.total_cents,
  });
}

/**
 * Marks an order paid by `pi` (a succeeded PaymentIntent for exactly its total) and does what
 * follows: payment row, promo redemption, stock committed, downloads delivered, invoice stored,
 * mail sent, cart emptied. Idempotent: a second call for a paid order does nothing.
 */
export async function finalizePaid(ctx, orderId, pi) {
  const done = await transaction(ctx.pools.ecommerce, async (client) => {
    const { rows: [order] } = await client.query(
      `UPDATE orders SET status = 'paid', paid_at = now(), payment_intent_id = $2
        WHERE id = $1 AND status IN ('pending_payment', 'requires_action') RETURNING *`,
      [orderId, pi.id],
    );
    if (!order) return null;
    if (pi.amount !== order.total_cents || pi.currency !== order.currency) {
      throw new Error(`PaymentIntent ${pi.id} is for ${pi.amount} ${pi.currency}, order ${order.number} for ${order.total_cents} ${order.currency}`);
    }
    await client.query(
      "INSERT INTO payments (order_id, payment_intent_id, status, amount_cents) VALUES ($1, $2, 'succeeded', $3)",
      [orderId, pi.id, pi.amount],
    );
    if (order.promo_code) {
      await client.query('INSERT INTO promo_redemptions (code, user_id, order_id) VALUES ($1, $2, $3)', [order.promo_code, order.user_id, orderId]);
      await client.query('UPDATE promo_codes SET redemptions = redemptions + 1 WHERE code = $1', [order.promo_code]);
    }
    await deliverDigital(client, orderId);
    const status = await refreshStatus(client, orderId);
    const { rows: lines } = await client.query('SELECT * FROM order_lines WHERE order_id = $1 ORDER BY line_no', [orderId]);
    const { rows: [user] } = await client.query('SELECT * FROM users WHERE id = $1', [order.user_id]);
    return { order: { ...order, status, number: Number(order.number) }, lines, user };
  });
  if (!done) return;
  const { order, lines, user } = done;
  await inventory.commit(ctx, orderId);
  const invoiceHtml = renderInvoice(order, lines, user);
  const key = await storeInvoice(ctx, order, invoiceHtml);
  await ctx.pools.ecommerce.query('UPDATE orders SET invoice_key = $2 WHERE id = $1', [orderId, key]);
  await sendOrderConfirmation(ctx.mailer, { user, order, lines, invoiceHtml, downloads: await downloads(ctx, orderId) });
  if (order.cart_id) await carts.deleteCart(ctx, order.cart_id);
  await recordEvent(ctx.pools, 'order_paid', {
    order_id: orderId,
    number: order.number,
    total_cents: order.total_cents,
    skus: lines.map((l) => l.sku),
  });
}

/**
 * Checks out a cart for the customer `email`: `{cart_id, email, payment_method, shipping_rate,
 * address?, promo_code?}` (the card is a Stripe PaymentMethod made by the browser; the
 * address defaults to the customer's). Returns `{status: 'paid', order}` or `{status:
 * 'requires_action', order, next_action_url}`; a declined card is a 402 with Stripe's codes.
 */
export async function checkout(ctx, body) {
  const { cart_id: cartId, email, payment_method: paymentMethod } = body;
  if (typeof paymentMethod !== 'string' || !paymentMethod) throw badRequest('payment_method_required', 'payment_method is required');
  const user = await userByEmail(ctx, email);
  const cart = await carts.getCart(ctx, cartId);
  const address = body.address ?? user.address;
  const priced = await quote(ctx, {
    lines: cart.lines,
    promoCode: body.promo_code ?? cart.promo_code,
    userId: user.id,
    shippingRateId: body.shipping_rate ?? null,
    address,
  });

  const orderId = randomUUID();
  await inventory.reserve(ctx, orderId, priced.lines.filter((l) => l.kind === 'physical').map((l) => ({ sku: l.sku, quantity: l.quantity })));
  let order;
  try {
    order = await transaction(ctx.pools.ecommerce, async (client) => {
      const { rows: [row] } = await client.query(
        `INSERT INTO orders (id, user_id, status, subtotal_cents, discount_cents, shipping_cents, tax_cents, total_cents,
                             promo_code, shipping_rate_id, shipping_address, cart_id)
         VALUES ($1, $2, 'pending_payment', $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *`,
        [orderId, user.id, priced.subtotal_cents, priced.discount_cents, priced.shipping_cents, priced.tax_cents,
          priced.total_cents, priced.promo_code, priced.shipping_rate?.id ?? null, { name: user.name, ...address }, cartId],
      );
      for (const [i, l] of priced.lines.entries()) {
        await client.query(
          `INSERT INTO order_lines (order_id, line_no, product_id, sku, name, kind, quantity, unit_price_cents, discount_cents, tax_cents)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
          [orderId, i + 1, l.product_id, l.sku, l.name, l.kind, l.quantity, l.unit_price_cents, l.discount_cents, l.tax_cents],
        );
      }
      return { ...row, number: Number(row.number) };
    });
  } catch (err) {
    await inventory.release(ctx, orderId);
    throw err;
  }

  let pi;
  try {
    pi = await ctx.stripe.paymentIntents.create(
      {
        amount: order.total_cents,
        currency: order.currency,
        customer: user.stripe_customer_id ?? undefined,
        payment_method: paymentMethod,
        payment_method_types: ['card'],
        confirm: true,
        return_url: `${ctx.config.publicUrl}/checkout/return`,
        description: `Order ${order.number}`,
        metadata: { order_id: orderId, order_number: String(order.number) },
      },
      { idempotencyKey: `checkout-${orderId}` },
    );
  } catch (err) {
    const piId = err?.raw?.payment_intent?.id ?? null;
    await failPayment(ctx, orderId, piId, { code: err.code, decline_code: err.decline_code, message: err.message });
    if (err?.type === 'StripeCardError') {
      throw new HttpError(402, err.code, err.message, { decline_code: err.decline_code ?? null, order_id: orderId, order_number: order.number });
    }
    throw err;
  }
  await ctx.pools.ecommerce.query('UPDATE orders SET payment_intent_id = $2 WHERE id = $1', [orderId, pi.id]);
  if (pi.status === 'succeeded') {
    await finalizePaid(ctx, orderId, pi);
    return { status: 'paid', order: await getOrder(ctx, orderId) };
  }
  if (pi.status === 'requires_action') {
    await ctx.pools.ecommerce.query("UPDATE orders SET status = 'requires_action' WHERE id = $1", [orderId]);
    await ctx.pools.ecommerce.query(
      "INSERT INTO payments (order_id, payment_intent_id, status, amount_cents) VALUES ($1, $2, 'requires_action', $3)",
      [orderId, pi.id, pi.amount],
    );
    const next = pi.next_action?.redirect_to_url?.url ?? pi.next_action?.use_stripe_sdk?.stripe_js;
    return { status: 'requires_action', next_action_url: next, order: await getOrder(ctx, orderId) };
  }
  await failPayment(ctx, orderId, pi.id, { code: pi.status, message: `payment ended as ${pi.status}` });
  throw new HttpError(402, 'payment_incomplete', `payment ended as ${pi.status}`, { order_id: orderId });
}

/**
 * Where the customer lands after 3D Secure (`?payment_intent=pi_…`): the PaymentIntent is
 * read back from Stripe (never trusted from the URL) and the order finished accordingly.
 */
export async function completeReturn(ctx, paymentIntentId) {
  if (!paymentIntentId) throw badRequest('payment_intent_required', 'payment_intent is required');
  const { rows: [row] } = await ctx.pools.ecommerce.query('SELECT id FROM orders WHERE payment_intent_id = $1', [paymentIntentId]);
  if (!row) throw notFound(`order of ${paymentIntentId}`);
  const pi = await ctx.stripe.paymentIntents.retrieve(paymentIntentId);
  if (pi.metadata?.order_id !== row.id) throw badRequest('payment_mismatch', `${paymentIntentId} is not this order's payment`);
  if (pi.status === 'succeeded') {
    await finalizePaid(ctx, row.id, pi);
  } else if (pi.status === 'requires_payment_method' || pi.status === 'canceled') {
    const e = pi.last_payment_error ?? {};
    await failPayment(ctx, row.id, pi.id, { code: e.code ?? pi.status, decline_code: e.decline_code, message: e.message ?? 'authentication failed' });
  }
  return getOrder(ctx, row.id);
}

/** A 10-minute link to the order's invoice. */
export async function orderInvoice(ctx, id) {
  const order = await getOrder(ctx, id);
  if (!order.invoice_key) throw notFound(`invoice of order ${order.number}`);
  return { key: order.invoice_key, url: await invoiceUrl(ctx, order.invoice_key) };
}
