// Prices of an order: shipping (Stripe shipping rates), promo codes, sales tax by destination,
// and the quote that checkout charges. All amounts are integer cents.
import { badRequest } from './errors.js';

/** Rounds `amount * bp / 10000` half up (amount ≥ 0, bp in basis points). */
export function applyBasisPoints(amount, bp) {
  return Math.floor((amount * bp + 5000) / 10000);
}

/**
 * Splits `total` over `weights` in proportion, in whole cents that add up to `total`
 * (largest remainder; ties go to the earlier line).
 */
export function allocate(total, weights) {
  const sum = weights.reduce((a, b) => a + b, 0);
  if (sum === 0 || total === 0) return weights.map(() => 0);
  const exact = weights.map((w) => (total * w) / sum);
  const out = exact.map(Math.floor);
  let left = total - out.reduce((a, b) => a + b, 0);
  const order = exact.map((x, i) => [x - Math.floor(x), i]).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, i] of order) {
    if (left === 0) break;
    out[i] += 1;
    left -= 1;
  }
  return out;
}

/** Active shipping rates from Stripe: `[{id, name, amount_cents, currency}]`, cheapest first. */
export async function shippingRates(ctx) {
  const list = await ctx.stripe.shippingRates.list({ active: true, limit: 100 });
  return list.data
    .map((r) => ({ id: r.id, name: r.display_name, amount_cents: r.fixed_amount.amount, currency: r.fixed_amount.currency }))
    .sort((a, b) => a.amount_cents - b.amount_cents || a.id.localeCompare(b.id));
}

async function shippingRate(ctx, id) {
  try {
    const r = await ctx.stripe.shippingRates.retrieve(id);
    if (!r.active) throw badRequest('unknown_shipping_rate', `shipping rate ${id} is not active`);
    return { id: r.id, name: r.display_name, amount_cents: r.fixed_amount.amount };
  } catch (err) {
    if (err?.statusCode === 404) throw badRequest('unknown_shipping_rate', `no shipping rate ${id}`);
    throw err;
  }
}

/**
 * The promo code `code` if it may be used on `subtotal` by `userId` (null: not known yet);
 * otherwise a 400 saying why.
 */
export async function checkPromo(ctx, code, subtotal, userId) {
  const { rows } = await ctx.pools.ecommerce.query('SELECT * FROM promo_codes WHERE code = $1', [String(code).toUpperCase()]);
  const promo = rows[0];
  if (!promo) throw badRequest('promo_not_found', `no promo code ${code}`);
  if (promo.expires_at && promo.expires_at <= new Date()) throw badRequest('promo_expired', `${promo.code} expired`);
  if (subtotal < promo.min_subtotal_cents) {
    throw badRequest('promo_min_subtotal', `${promo.code} needs a subtotal of at least ${promo.min_subtotal_cents}`, { min_subtotal_cents: promo.min_subtotal_cents });
  }
  if (promo.max_redemptions !== null && promo.redemptions >= promo.max_redemptions) {
    throw badRequest('promo_exhausted', `${promo.code} has been used up`);
  }
  if (promo.once_per_customer && userId) {
    const used = await ctx.pools.ecommerce.query('SELECT 1 FROM promo_redemptions WHERE code = $1 AND user_id = $2', [promo.code, userId]);
    if (used.rowCount > 0) throw badRequest('promo_already_redeemed', `${promo.code} was already used by this customer`);
  }
  return promo;
}

/** The tax rule for an address: the region's, else the country's, else none. */
async function taxRule(ctx, address) {
  const { rows } = await ctx.pools.ecommerce.query(
    `SELECT * FROM tax_rates WHERE country = $1 AND region IN ($2, '') ORDER BY region DESC LIMIT 1`,
    [String(address.country).toUpperCase(), String(address.region ?? '').toUpperCase()],
  );
  return rows[0] ?? { physical_bp: 0, digital_bp: 0, shipping_taxable: false, country: address.country, region: '' };
}

/**
 * Prices `lines` ([{sku, kind, quantity, unit_price_cents}]) for delivery to `address`:
 * subtotal − promo discount (spread over the lines in proportion) + shipping + tax. Tax is
 * per line on the discounted amount, at the physical or digital rate of the destination, plus
 * tax on shipping where the destination taxes it. Physical goods need a shipping rate; a cart
 * of downloads must not have one.
 */
export async function quote(ctx, { lines, promoCode = null, userId = null, shippingRateId = null, address }) {
  if (!lines.length) throw badRequest('cart_empty', 'the cart is empty');
  if (!address?.country) throw badRequest('address_required', 'a destination address with a country is required');
  const subtotal = lines.reduce((s, l) => s + l.unit_price_cents * l.quantity, 0);
  const needsShipping = lines.some((l) => l.kind === 'physical');
  let shipping = null;
  if (needsShipping && !shippingRateId) throw badRequest('shipping_rate_required', 'physical goods need a shipping rate');
  if (!needsShipping && shippingRateId) throw badRequest('shipping_not_required', 'nothing in this cart is shipped');
  if (needsShipping) shipping = await shippingRate(ctx, shippingRateId);

  const promo = promoCode ? await checkPromo(ctx, promoCode, subtotal, userId) : null;
  let discount = 0;
  let shippingCents = shipping?.amount_cents ?? 0;
  if (promo?.kind === 'percent') discount = applyBasisPoints(subtotal, promo.value * 100);
  if (promo?.kind === 'fixed') discount = Math.min(promo.value, subtotal);
  if (promo?.kind === 'free_shipping') shippingCents = 0;

  const rule = await taxRule(ctx, address);
  const lineTotals = lines.map((l) => l.unit_price_cents * l.quantity);
  const discounts = allocate(discount, lineTotals);
  const priced = lines.map((l, i) => {
    const taxable = lineTotals[i] - discounts[i];
    const bp = l.kind === 'digital' ? rule.digital_bp : rule.physical_bp;
    return { ...l, line_total_cents: lineTotals[i], discount_cents: discounts[i], tax_cents: applyBasisPoints(taxable, bp) };
  });
  const shippingTax = rule.shipping_taxable ? applyBasisPoints(shippingCents, rule.physical_bp) : 0;
  const tax = priced.reduce((s, l) => s + l.tax_cents, 0) + shippingTax;
  return {
    lines: priced,
    subtotal_cents: subtotal,
    discount_cents: discount,
    promo_code: promo?.code ?? null,
    shipping_rate: shipping ? { ...shipping, charged_cents: shippingCents } : null,
    shipping_cents: shippingCents,
    shipping_tax_cents: shippingTax,
    tax_cents: tax,
    tax_rule: { country: rule.country, region: rule.region, physical_bp: rule.physical_bp, digital_bp: rule.digital_bp, shipping_taxable: rule.shipping_taxable },
    total_cents: subtotal - discount + shippingCents + tax,
    currency: 'usd',
  };
}
