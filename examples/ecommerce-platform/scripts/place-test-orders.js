// Checkpoint `orders-placed`: the orders of scripts/test-orders.json, checked out through the
// running app's API exactly as a shop front would (cart, promo, checkout with a Stripe test
// card). Erin's card is declined on purpose. Safe to run again: customers who already have an
// order are skipped.
import { api } from './lib.js';
import { readFileSync } from 'node:fs';

const orders = JSON.parse(readFileSync(new URL('./test-orders.json', import.meta.url), 'utf8'));

function expect(response, status, what) {
  if (response.status !== status) {
    throw new Error(`${what}: HTTP ${response.status}, expected ${status}: ${JSON.stringify(response.body)}`);
  }
  return response.body;
}

const placed = [];
for (const o of orders) {
  const existing = expect(await api('GET', `/orders?email=${encodeURIComponent(o.email)}`), 200, `orders of ${o.email}`);
  if (existing.orders.length > 0) continue;
  const cart = expect(await api('POST', '/carts'), 201, 'new cart');
  for (const item of o.items) expect(await api('POST', `/carts/${cart.id}/items`, item), 200, `add ${item.sku}`);
  if (o.promo_code) expect(await api('PUT', `/carts/${cart.id}/promo`, { code: o.promo_code, email: o.email }), 200, `promo ${o.promo_code}`);
  const result = await api('POST', '/checkout', {
    cart_id: cart.id,
    email: o.email,
    payment_method: o.card,
    shipping_rate: o.shipping_rate,
  });
  const declined = o.card === 'pm_card_chargeDeclined';
  const body = expect(result, declined ? 402 : 201, `checkout of ${o.email}`);
  placed.push(`${o.email}: ${declined ? `declined (${body.error.details.decline_code})` : `order ${body.order.number} ${body.order.status} ${body.order.total_cents}`}`);
}
console.log(`place-test-orders:\n  ${placed.join('\n  ') || 'nothing new'}`);
