// Payment suite: one checkout per Stripe test card (CARD, from the branch env), followed
// through Stripe, PostgreSQL, the stock table, S3 (the invoice) and MailHog. Branches:
// card-success, card-declined, 3ds-required, insufficient-funds.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { GetBucketAclCommand } from '@aws-sdk/client-s3';
import { formatCents } from '../src/money.js';
import { getObject } from '../src/storage.js';
import { api, cardPaymentMethod, cartWith, events, expectStatus, mailTo, services, waitFor } from './support.js';

/** What each card of the seed's payment branches does. */
const CARDS = {
  '4242424242424242': { outcome: 'success' },
  '4000000000000002': { outcome: 'declined', code: 'card_declined', decline: 'generic_decline', message: 'Your card was declined.' },
  '4000002760003184': { outcome: '3ds' },
  '4000000000009995': { outcome: 'declined', code: 'card_declined', decline: 'insufficient_funds', message: 'Your card has insufficient funds.' },
};

const ctx = services();
after(() => ctx.close());
const card = process.env.CARD ?? '4242424242424242';
const expected = CARDS[card];
const email = 'erin@example.com';
// A trail shoe (physical, stock 11 after Carol's order) and a handbook (a download).
const items = [{ sku: 'EBOOK-TRAILS', quantity: 1 }, { sku: 'TRAIL-SHOE-02', quantity: 1 }];

const stock = async () => expectStatus(200, 'GET', '/inventory/TRAIL-SHOE-02');
const checkout = async (cartId, paymentMethod) => api('POST', '/checkout', { cart_id: cartId, email, payment_method: paymentMethod, shipping_rate: 'shr_standard' });

/** Everything a paid order must have left behind. */
async function assertPaid(order, paymentMethod) {
  assert.equal(order.status, 'partially_fulfilled', 'paid, the download delivered, the shoe still to ship');
  assert.deepEqual(order.payments.at(-1), { payment_intent_id: order.payment_intent_id, status: 'succeeded', amount_cents: order.total_cents, decline_code: null });

  // Stripe: one succeeded PaymentIntent for the total, its charge on this card.
  const pi = await ctx.stripe.paymentIntents.retrieve(order.payment_intent_id);
  assert.deepEqual([pi.status, pi.amount, pi.currency, pi.metadata.order_id], ['succeeded', order.total_cents, 'usd', order.id]);
  const charges = await ctx.stripe.charges.list({ payment_intent: pi.id });
  assert.equal(charges.data.length, 1);
  assert.equal(charges.data[0].paid, true);
  assert.equal(charges.data[0].payment_method_details.card.last4, card.slice(-4));
  assert.equal(pi.payment_method, paymentMethod.id);

  // Stock left the warehouse: committed, not just held.
  assert.deepEqual(await stock(), { sku: 'TRAIL-SHOE-02', on_hand: 10, reserved: 0, available: 10 });

  // The invoice is in the private bucket, and reachable only through a presigned link.
  assert.equal(order.invoice_key, `invoices/${order.number}.html`);
  const invoice = await getObject(ctx.s3, ctx.config.s3.invoicesBucket, order.invoice_key);
  const html = invoice.body.toString('utf8');
  assert.equal(invoice.metadata['order-id'], order.id);
  assert.match(html, new RegExp(`Invoice ${order.number}`));
  assert.match(html, new RegExp(`Total: ${formatCents(order.total_cents).replace('$', '\\$')}`));
  assert.match(html, /TRAIL-SHOE-02/);
  const acl = await ctx.s3.send(new GetBucketAclCommand({ Bucket: ctx.config.s3.invoicesBucket }));
  assert.deepEqual(acl.Grants.map((g) => [g.Grantee.Type, g.Permission]), [['CanonicalUser', 'FULL_CONTROL']], 'order-invoices is private');
  const link = await expectStatus(200, 'GET', `/orders/${order.id}/invoice`);
  assert.equal(await (await fetch(link.url)).text(), html);

  // The confirmation mail: the invoice attached, the download link working.
  const mail = await waitFor(async () => (await mailTo(ctx, email)).find((m) => m.subject === `Order ${order.number} confirmed`), { what: 'the confirmation mail' });
  assert.match(mail.text, new RegExp(`We charged ${formatCents(order.total_cents).replace('$', '\\$')}`));
  assert.deepEqual(mail.attachments.map((a) => a.filename), [`invoice-${order.number}.html`]);
  assert.equal(mail.attachments[0].content, html);
  const download = /Trail Running Handbook: (\S+)/.exec(mail.text)?.[1];
  assert.ok(download, mail.text);
  assert.match(await (await fetch(download)).text(), /^Trail Running Handbook\n/);

  assert.equal((await events(ctx, 'order_paid', { order_id: order.id })).length, 1);
}

/** Everything a declined order must have left behind. */
async function assertDeclined(response, exp) {
  assert.equal(response.status, 402);
  assert.deepEqual([response.body.error.code, response.body.error.message, response.body.error.details.decline_code], [exp.code, exp.message, exp.decline]);
  const order = await expectStatus(200, 'GET', `/orders/${response.body.error.details.order_id}`);
  assert.equal(order.status, 'payment_failed');
  assert.deepEqual(order.payments.map((p) => [p.status, p.decline_code]), [['failed', exp.decline]]);
  const pi = await ctx.stripe.paymentIntents.retrieve(order.payment_intent_id);
  assert.equal(pi.status, 'requires_payment_method');
  assert.equal(pi.last_payment_error.decline_code, exp.decline);
  assert.deepEqual(await stock(), { sku: 'TRAIL-SHOE-02', on_hand: 11, reserved: 0, available: 11 }, 'the hold was released');
  assert.equal(order.invoice_key, null);
  assert.equal(await getObject(ctx.s3, ctx.config.s3.invoicesBucket, `invoices/${order.number}.html`), null, 'no invoice for an unpaid order');
  const mail = await waitFor(async () => (await mailTo(ctx, email)).find((m) => m.subject === `Payment for order ${order.number} failed`), { what: 'the failure mail' });
  assert.match(mail.text, /Nothing was charged/);
  assert.equal((await events(ctx, 'payment_failed', { order_id: order.id, decline_code: exp.decline })).length, 1);
  return order;
}

test(`card ${card} is known to this suite`, () => {
  assert.ok(expected, `CARD=${card} is not one of the seed's test cards`);
});

test(`checkout with card ${card}`, { skip: !expected }, async () => {
  const cartId = await cartWith(items);
  const pm = await cardPaymentMethod(ctx.stripe, card);
  assert.equal(pm.card.last4, card.slice(-4));

  if (expected.outcome === 'success') {
    const response = await checkout(cartId, pm.id);
    assert.equal(response.status, 201, JSON.stringify(response.body));
    await assertPaid(response.body.order, pm);
    assert.equal((await api('GET', `/carts/${cartId}`)).status, 404, 'the cart is gone');
    return;
  }

  if (expected.outcome === 'declined') {
    await assertDeclined(await checkout(cartId, pm.id), expected);
    // The cart survives a decline; another card pays for it.
    const retry = await checkout(cartId, 'pm_card_visa');
    assert.equal(retry.status, 201, JSON.stringify(retry.body));
    assert.equal(retry.body.order.status, 'partially_fulfilled');
    assert.equal((await stock()).on_hand, 10);
    return;
  }

  // 3D Secure: the first attempt fails authentication, the second passes it.
  const first = await checkout(cartId, pm.id);
  assert.equal(first.status, 202, JSON.stringify(first.body));
  assert.equal(first.body.status, 'requires_action');
  assert.equal(first.body.order.status, 'requires_action');
  assert.deepEqual(await stock(), { sku: 'TRAIL-SHOE-02', on_hand: 11, reserved: 1, available: 10 }, 'held while the customer authenticates');
  assert.equal(first.body.order.invoice_key, null);
  const failed = await fetch(`${first.body.next_action_url}?result=fail`);
  assert.equal(failed.status, 200, 'the return page answers');
  const afterFail = await failed.json();
  assert.deepEqual([afterFail.id, afterFail.status], [first.body.order.id, 'payment_failed']);
  assert.equal(afterFail.payments.at(-1).decline_code, 'payment_intent_authentication_failure');
  assert.deepEqual(await stock(), { sku: 'TRAIL-SHOE-02', on_hand: 11, reserved: 0, available: 11 });

  const second = await checkout(cartId, pm.id);
  assert.equal(second.status, 202);
  const url = new URL(second.body.next_action_url);
  assert.equal(url.hostname, 'stripe', 'the customer is sent to Stripe to authenticate');
  // The browser follows Stripe's redirect back to the shop, which finishes the order.
  const landed = await fetch(second.body.next_action_url);
  assert.equal(landed.status, 200);
  assert.ok(landed.url.startsWith(`${ctx.config.publicUrl}/checkout/return?payment_intent=`), landed.url);
  const order = await landed.json();
  assert.equal(order.id, second.body.order.id);
  await assertPaid(order, pm);
  const again = await fetch(landed.url);
  assert.equal((await again.json()).payments.length, order.payments.length, 'landing twice pays once');
});
