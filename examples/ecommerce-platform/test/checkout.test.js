// Checkout suite: carts in Redis, shipping rates from Stripe, sales tax by destination and
// promo codes, each ending in a real charge whose amount is checked in Stripe. Branches:
// cart-operations, shipping-calculation, tax-calculation, promo-codes.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { getObject } from '../src/storage.js';
import { api, cartWith, expectError, expectStatus, runs, services, testUsers, waitFor } from './support.js';

const ctx = services();
after(() => ctx.close());
const address = (email) => testUsers.find((u) => u.email === email).address;

async function chargedAmount(order) {
  const pi = await ctx.stripe.paymentIntents.retrieve(order.payment_intent_id);
  assert.equal(pi.status, 'succeeded');
  assert.equal(pi.metadata.order_id, order.id);
  return pi.amount;
}

describe('cart-operations', { skip: !runs('cart-operations') }, () => {
  test('add, change and remove lines; prices come from the catalogue', async () => {
    const cart = await expectStatus(201, 'POST', '/carts');
    assert.deepEqual([cart.lines, cart.subtotal_cents, cart.promo_code], [[], 0, null]);
    assert.ok(cart.expires_in > 0 && cart.expires_in <= 7 * 24 * 3600, `ttl ${cart.expires_in}`);

    await expectStatus(200, 'POST', `/carts/${cart.id}/items`, { sku: 'RUN-SHOE-01', quantity: 1 });
    await expectStatus(200, 'POST', `/carts/${cart.id}/items`, { sku: 'SOCK-MERINO-01', quantity: 2 });
    let body = await expectStatus(200, 'POST', `/carts/${cart.id}/items`, { sku: 'SOCK-MERINO-01', quantity: 1 });
    assert.deepEqual(body.lines.map((l) => [l.sku, l.quantity, l.line_total_cents]), [['RUN-SHOE-01', 1, 8999], ['SOCK-MERINO-01', 3, 4497]]);
    assert.equal(body.subtotal_cents, 13496);
    assert.deepEqual(await ctx.redis.hgetall(`cart:${cart.id}`), { 'RUN-SHOE-01': '1', 'SOCK-MERINO-01': '3' });
    const ttl = await ctx.redis.ttl(`cart:${cart.id}`);
    assert.ok(ttl > 0 && ttl <= 7 * 24 * 3600, 'the cart expires');

    body = await expectStatus(200, 'PATCH', `/carts/${cart.id}/items/SOCK-MERINO-01`, { quantity: 2 });
    assert.equal(body.subtotal_cents, 8999 + 2998);
    // The cart keeps quantities only: a price change shows at once.
    const sock = (await expectStatus(200, 'GET', '/products')).products.find((p) => p.sku === 'SOCK-MERINO-01');
    await expectStatus(200, 'PATCH', `/products/${sock.id}`, { price_cents: 1599 });
    assert.equal((await expectStatus(200, 'GET', `/carts/${cart.id}`)).subtotal_cents, 8999 + 3198);
    body = await expectStatus(200, 'DELETE', `/carts/${cart.id}/items/RUN-SHOE-01`);
    assert.deepEqual(body.lines.map((l) => l.sku), ['SOCK-MERINO-01']);
    body = await expectStatus(200, 'PATCH', `/carts/${cart.id}/items/SOCK-MERINO-01`, { quantity: 0 });
    assert.deepEqual([body.lines, body.subtotal_cents], [[], 0]);
  });

  test('refuses what cannot be bought', async () => {
    const id = await cartWith([]);
    assert.equal(await expectError(404, 'POST', `/carts/${id}/items`, { sku: 'NO-SUCH-SKU', quantity: 1 }), 'not_found');
    assert.equal(await expectError(400, 'POST', `/carts/${id}/items`, { sku: 'RUN-SHOE-01', quantity: 0 }), 'invalid_quantity');
    assert.equal(await expectError(400, 'POST', `/carts/${id}/items`, { sku: 'RUN-SHOE-01', quantity: 100 }), 'invalid_quantity');
    assert.equal(await expectError(409, 'POST', `/carts/${id}/items`, { sku: 'JACKET-DOWN-02', quantity: 6 }), 'insufficient_stock');
    await expectStatus(200, 'POST', `/carts/${id}/items`, { sku: 'JACKET-DOWN-02', quantity: 5 });
    const more = await api('POST', `/carts/${id}/items`, { sku: 'JACKET-DOWN-02', quantity: 1 });
    assert.deepEqual([more.status, more.body.error.details], [409, { sku: 'JACKET-DOWN-02', available: 5 }]);
    assert.equal(await expectError(404, 'DELETE', `/carts/${id}/items/RUN-SHOE-01`), 'not_found');
    assert.equal(await expectError(404, 'GET', '/carts/no-such-cart'), 'not_found');
    assert.equal(await expectError(400, 'POST', `/carts/${id}/items`, 'not json'), 'invalid_json');
  });

  test('carts expire in Redis', async () => {
    const id = await cartWith([{ sku: 'PACK-DAY-01', quantity: 1 }]);
    await ctx.redis.expire(`cart:${id}:meta`, 1);
    await waitFor(async () => (await api('GET', `/carts/${id}`)).status === 404, { timeoutMs: 4000, what: 'the cart to expire' });
  });

  test('a paid checkout empties the cart', async () => {
    const id = await cartWith([{ sku: 'SOCK-HIKE-02', quantity: 2 }]);
    const { order } = await expectStatus(201, 'POST', '/checkout', { cart_id: id, email: 'carol@example.com', payment_method: 'pm_card_visa', shipping_rate: 'shr_standard' });
    assert.equal(order.status, 'paid');
    assert.equal(await expectError(404, 'GET', `/carts/${id}`), 'not_found');
    assert.equal(await ctx.redis.exists(`cart:${id}`, `cart:${id}:meta`), 0);
    assert.equal(await chargedAmount(order), order.total_cents);
  });
});

describe('shipping-calculation', { skip: !runs('shipping-calculation') }, () => {
  const quote = (id, body) => api('POST', `/carts/${id}/quote`, { email: 'dave@example.com', ...body });

  test('rates come from the Stripe fixtures', async () => {
    const { shipping_rates: rates } = await expectStatus(200, 'GET', '/shipping-rates');
    assert.deepEqual(rates, [
      { id: 'shr_standard', name: 'Standard Shipping', amount_cents: 500, currency: 'usd' },
      { id: 'shr_express', name: 'Express Shipping', amount_cents: 1500, currency: 'usd' },
    ]);
  });

  test('physical goods need a rate, downloads must not have one', async () => {
    const id = await cartWith([{ sku: 'SOCK-MERINO-01', quantity: 2 }]);
    assert.equal((await quote(id, {})).body.error.code, 'shipping_rate_required');
    assert.equal((await quote(id, { shipping_rate: 'shr_nope' })).body.error.code, 'unknown_shipping_rate');
    const standard = (await quote(id, { shipping_rate: 'shr_standard' })).body;
    assert.deepEqual([standard.shipping_cents, standard.total_cents], [500, 2998 + 500]);
    const express = (await quote(id, { shipping_rate: 'shr_express' })).body;
    assert.deepEqual([express.shipping_cents, express.shipping_rate.name], [1500, 'Express Shipping']);
    await expectStatus(200, 'PATCH', `/carts/${id}/items/SOCK-MERINO-01`, { quantity: 5 });
    assert.equal((await quote(id, { shipping_rate: 'shr_standard' })).body.shipping_cents, 500, 'a flat rate per order');

    const digital = await cartWith([{ sku: 'EBOOK-TRAILS', quantity: 1 }]);
    assert.equal((await quote(digital, { shipping_rate: 'shr_standard' })).body.error.code, 'shipping_not_required');
    const noShipping = (await quote(digital, {})).body;
    assert.deepEqual([noShipping.shipping_cents, noShipping.shipping_rate, noShipping.total_cents], [0, null, 2499]);
  });

  test('FREESHIP waives the rate above its minimum', async () => {
    const id = await cartWith([{ sku: 'SOCK-MERINO-01', quantity: 2 }]);
    assert.equal(await expectError(400, 'PUT', `/carts/${id}/promo`, { code: 'FREESHIP' }), 'promo_min_subtotal');
    await expectStatus(200, 'POST', `/carts/${id}/items`, { sku: 'PACK-DAY-01', quantity: 1 });
    await expectStatus(200, 'PUT', `/carts/${id}/promo`, { code: 'FREESHIP' });
    const q = (await quote(id, { shipping_rate: 'shr_express' })).body;
    assert.deepEqual([q.shipping_cents, q.shipping_rate.amount_cents, q.discount_cents, q.total_cents], [0, 1500, 0, 2998 + 6999]);
  });

  test('a rate added or retired in Stripe shows at once', async () => {
    const overnight = await ctx.stripe.shippingRates.create({
      display_name: 'Overnight', type: 'fixed_amount', fixed_amount: { amount: 3500, currency: 'usd' },
    });
    const { shipping_rates: rates } = await expectStatus(200, 'GET', '/shipping-rates');
    assert.deepEqual(rates.map((r) => r.id), ['shr_standard', 'shr_express', overnight.id]);
    const id = await cartWith([{ sku: 'LAMP-SUMMIT-01', quantity: 1 }]);
    assert.equal((await quote(id, { shipping_rate: overnight.id })).body.shipping_cents, 3500);
    await ctx.stripe.shippingRates.update(overnight.id, { active: false });
    assert.equal((await quote(id, { shipping_rate: overnight.id })).body.error.code, 'unknown_shipping_rate');
    assert.equal((await expectStatus(200, 'GET', '/shipping-rates')).shipping_rates.length, 2);
  });

  test('the charge includes the chosen rate', async () => {
    const id = await cartWith([{ sku: 'LAMP-SUMMIT-01', quantity: 1 }]);
    const { order } = await expectStatus(201, 'POST', '/checkout', {
      cart_id: id, email: 'dave@example.com', payment_method: 'pm_card_visa', shipping_rate: 'shr_express',
    });
    assert.deepEqual([order.shipping_cents, order.shipping_rate_id, order.tax_cents, order.total_cents], [1500, 'shr_express', 0, 3999 + 1500]);
    assert.equal(await chargedAmount(order), 5499);
  });
});

describe('tax-calculation', { skip: !runs('tax-calculation') }, () => {
  // An eBook (1999, digital) and a daypack (6999, physical): subtotal 8998. Lines come in SKU order.
  const items = [{ sku: 'PACK-DAY-01', quantity: 1 }, { sku: 'EBOOK-MARATHON', quantity: 1 }];
  const at = async (addr, rate = 'shr_standard', extra = {}) => {
    const id = await cartWith(items);
    return expectStatus(200, 'POST', `/carts/${id}/quote`, { address: addr, shipping_rate: rate, ...extra });
  };

  test('rates by destination, goods and shipping', async () => {
    const ca = await at(address('alice@example.com'));
    assert.deepEqual(ca.lines.map((l) => l.tax_cents), [0, 507], 'California: 7.25% on goods, downloads exempt');
    assert.deepEqual([ca.shipping_tax_cents, ca.tax_cents, ca.total_cents], [0, 507, 10005]);

    const ny = await at(address('bob@example.com'));
    assert.deepEqual(ny.lines.map((l) => l.tax_cents), [80, 280], 'New York: 4% on both');
    assert.deepEqual([ny.shipping_tax_cents, ny.tax_cents, ny.total_cents], [20, 380, 9878]);

    const or = await at(address('dave@example.com'));
    assert.deepEqual([or.tax_cents, or.total_cents], [0, 9498], 'Oregon has no sales tax');

    const de = await at(address('carol@example.com'), 'shr_express');
    assert.deepEqual(de.lines.map((l) => l.tax_cents), [380, 1330], 'Germany: 19% VAT');
    assert.deepEqual([de.shipping_tax_cents, de.tax_cents, de.total_cents], [285, 1995, 12493]);

    assert.equal((await at({ country: 'JP', region: '13' })).tax_cents, 0, 'no rule, no tax');
    assert.equal((await at({ country: 'US', region: 'TX' })).tax_cents, 0, 'a state without a rule');
    const id = await cartWith(items);
    assert.equal(await expectError(400, 'POST', `/carts/${id}/quote`, { shipping_rate: 'shr_standard' }), 'address_required');
  });

  test('tax is on the discounted price and is what Stripe charges', async () => {
    const q = await at(address('alice@example.com'), 'shr_standard', { email: 'bob@example.com', promo_code: 'WELCOME10' });
    // 10% of 8998 is 900, spread 700/200 over the lines; 7.25% of 6299 is 457.
    assert.deepEqual(q.lines.map((l) => [l.discount_cents, l.tax_cents]), [[200, 0], [700, 457]]);
    assert.deepEqual([q.discount_cents, q.tax_cents, q.total_cents], [900, 457, 9055]);

    const { order } = await expectStatus(201, 'POST', '/checkout', {
      cart_id: await cartWith(items), email: 'bob@example.com', payment_method: 'pm_card_visa', shipping_rate: 'shr_standard',
      address: address('alice@example.com'), promo_code: 'WELCOME10',
    });
    assert.deepEqual([order.tax_cents, order.total_cents], [457, 9055]);
    assert.deepEqual(order.lines.map((l) => [l.sku, l.discount_cents, l.tax_cents]), [['EBOOK-MARATHON', 200, 0], ['PACK-DAY-01', 700, 457]]);
    assert.equal(await chargedAmount(order), 9055);
    const invoice = await getObject(ctx.s3, ctx.config.s3.invoicesBucket, order.invoice_key);
    assert.match(invoice.body.toString('utf8'), /Tax: \$4\.57/);
  });
});

describe('promo-codes', { skip: !runs('promo-codes') }, () => {
  test('each rule of a code is enforced', async () => {
    const id = await cartWith([{ sku: 'SOCK-MERINO-01', quantity: 1 }]);
    assert.equal(await expectError(400, 'PUT', `/carts/${id}/promo`, { code: 'SAVE5' }), 'promo_min_subtotal');
    await expectStatus(200, 'POST', `/carts/${id}/items`, { sku: 'SOCK-MERINO-01', quantity: 1 });
    assert.equal(await expectError(400, 'PUT', `/carts/${id}/promo`, { code: 'SAVE5' }), 'promo_min_subtotal', '2998 is still below 3000');
    await expectStatus(200, 'POST', `/carts/${id}/items`, { sku: 'SOCK-MERINO-01', quantity: 1 });
    const cart = await expectStatus(200, 'PUT', `/carts/${id}/promo`, { code: 'save5' });
    assert.equal(cart.promo_code, 'SAVE5', 'codes are case-insensitive');
    const q = await expectStatus(200, 'POST', `/carts/${id}/quote`, { email: 'dave@example.com', shipping_rate: 'shr_standard' });
    assert.deepEqual([q.discount_cents, q.total_cents], [500, 4497 - 500 + 500]);

    assert.equal(await expectError(400, 'PUT', `/carts/${id}/promo`, { code: 'SPRING22' }), 'promo_expired');
    assert.equal(await expectError(400, 'PUT', `/carts/${id}/promo`, { code: 'NOPE' }), 'promo_not_found');
    assert.equal(await expectError(400, 'PUT', `/carts/${id}/promo`, { code: 'LAUNCH' }), 'promo_exhausted', 'Dave used its only redemption');
    assert.equal(await expectError(400, 'PUT', `/carts/${id}/promo`, { code: 'WELCOME10', email: 'alice@example.com' }), 'promo_already_redeemed');
    await expectStatus(200, 'DELETE', `/carts/${id}/promo`);
    const plain = await expectStatus(200, 'POST', `/carts/${id}/quote`, { email: 'dave@example.com', shipping_rate: 'shr_standard' });
    assert.equal(plain.discount_cents, 0);
  });

  test('a redeemed code is charged, recorded and cannot be used twice', async () => {
    const id = await cartWith([{ sku: 'BOOT-LIGHT-02', quantity: 1 }]);
    await expectStatus(200, 'PUT', `/carts/${id}/promo`, { code: 'WELCOME10', email: 'bob@example.com' });
    const { order } = await expectStatus(201, 'POST', '/checkout', { cart_id: id, email: 'bob@example.com', payment_method: 'pm_card_visa', shipping_rate: 'shr_standard' });
    // 14999 − 1500 (10%) + 500 shipping + 4% NY tax on 13499 (540) and on shipping (20).
    assert.deepEqual([order.promo_code, order.discount_cents, order.tax_cents, order.total_cents], ['WELCOME10', 1500, 560, 14559]);
    assert.equal(await chargedAmount(order), 14559);
    const { rows } = await ctx.pools.ecommerce.query("SELECT u.email FROM promo_redemptions r JOIN users u ON u.id = r.user_id WHERE code = 'WELCOME10' ORDER BY u.email");
    assert.deepEqual(rows.map((r) => r.email), ['alice@example.com', 'bob@example.com']);
    const { rows: [promo] } = await ctx.pools.ecommerce.query("SELECT redemptions FROM promo_codes WHERE code = 'WELCOME10'");
    assert.equal(promo.redemptions, 2);

    const bob = await ctx.pools.ecommerce.query("SELECT stripe_customer_id FROM users WHERE email = 'bob@example.com'");
    const before = (await ctx.stripe.paymentIntents.list({ customer: bob.rows[0].stripe_customer_id, limit: 100 })).data.length;
    const again = await cartWith([{ sku: 'PACK-DAY-01', quantity: 1 }]);
    assert.equal(await expectError(400, 'POST', '/checkout', {
      cart_id: again, email: 'bob@example.com', payment_method: 'pm_card_visa', shipping_rate: 'shr_standard', promo_code: 'WELCOME10',
    }), 'promo_already_redeemed');
    const afterCount = (await ctx.stripe.paymentIntents.list({ customer: bob.rows[0].stripe_customer_id, limit: 100 })).data.length;
    assert.equal(afterCount, before, 'a refused promo charges nothing');
  });
});
