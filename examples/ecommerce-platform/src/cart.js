// Shopping carts in Redis: `cart:<id>` (a hash of SKU → quantity) and `cart:<id>:meta`
// (promo code, creation time), both expiring `cartTtlSeconds` after the last change.
import { randomUUID } from 'node:crypto';
import { productBySku } from './catalog.js';
import { badRequest, conflict, notFound } from './errors.js';
import * as inventory from './inventory.js';

const MAX_QUANTITY = 99;
const itemsKey = (id) => `cart:${id}`;
const metaKey = (id) => `cart:${id}:meta`;

async function touch(ctx, id) {
  await ctx.redis.multi()
    .expire(itemsKey(id), ctx.config.cartTtlSeconds)
    .expire(metaKey(id), ctx.config.cartTtlSeconds)
    .exec();
}

async function requireCart(ctx, id) {
  if (!(await ctx.redis.exists(metaKey(id)))) throw notFound(`cart ${id}`);
}

function checkQuantity(quantity, allowZero) {
  if (!Number.isInteger(quantity) || quantity < (allowZero ? 0 : 1) || quantity > MAX_QUANTITY) {
    throw badRequest('invalid_quantity', `quantity must be an integer from ${allowZero ? 0 : 1} to ${MAX_QUANTITY}`);
  }
}

async function checkAvailable(ctx, product, quantity) {
  if (product.kind !== 'physical') return;
  const stock = await inventory.getStock(ctx, product.sku);
  const available = stock?.available ?? 0;
  if (quantity > available) {
    throw conflict('insufficient_stock', `only ${available} of ${product.sku} available`, { sku: product.sku, available });
  }
}

/** A new empty cart; returns its id. */
export async function createCart(ctx) {
  const id = randomUUID();
  await ctx.redis.hset(metaKey(id), 'created_at', new Date().toISOString());
  await touch(ctx, id);
  return id;
}

/** Adds `quantity` of `sku`; the total in the cart may not exceed the stock available. */
export async function addItem(ctx, id, sku, quantity) {
  checkQuantity(quantity, false);
  await requireCart(ctx, id);
  const product = await productBySku(ctx, sku);
  if (!product) throw notFound(`product ${sku}`);
  const current = Number((await ctx.redis.hget(itemsKey(id), sku)) ?? 0);
  if (current + quantity > MAX_QUANTITY) throw badRequest('invalid_quantity', `at most ${MAX_QUANTITY} of one product`);
  await checkAvailable(ctx, product, current + quantity);
  await ctx.redis.hincrby(itemsKey(id), sku, quantity);
  await touch(ctx, id);
  return getCart(ctx, id);
}

/** Sets the quantity of a line; 0 removes it. */
export async function setQuantity(ctx, id, sku, quantity) {
  checkQuantity(quantity, true);
  await requireCart(ctx, id);
  if (!(await ctx.redis.hexists(itemsKey(id), sku))) throw notFound(`${sku} in cart ${id}`);
  if (quantity === 0) {
    await ctx.redis.hdel(itemsKey(id), sku);
  } else {
    const product = await productBySku(ctx, sku);
    if (!product) throw notFound(`product ${sku}`);
    await checkAvailable(ctx, product, quantity);
    await ctx.redis.hset(itemsKey(id), sku, quantity);
  }
  await touch(ctx, id);
  return getCart(ctx, id);
}

/** Removes a line. */
export async function removeItem(ctx, id, sku) {
  await requireCart(ctx, id);
  if (!(await ctx.redis.hdel(itemsKey(id), sku))) throw notFound(`${sku} in cart ${id}`);
  await touch(ctx, id);
  return getCart(ctx, id);
}

/** Remembers a promo code for the cart (checked by the caller). */
export async function setPromo(ctx, id, code) {
  await requireCart(ctx, id);
  await ctx.redis.hset(metaKey(id), 'promo_code', code);
  await touch(ctx, id);
}

/** Forgets the cart's promo code. */
export async function clearPromo(ctx, id) {
  await requireCart(ctx, id);
  await ctx.redis.hdel(metaKey(id), 'promo_code');
}

/**
 * The cart with its lines priced from the catalogue: `{id, lines: [{sku, name, kind,
 * quantity, unit_price_cents, line_total_cents, product_id}], subtotal_cents, promo_code,
 * expires_in}`. Lines whose product was deactivated are dropped.
 */
export async function getCart(ctx, id) {
  const [meta, items, ttl] = await Promise.all([
    ctx.redis.hgetall(metaKey(id)),
    ctx.redis.hgetall(itemsKey(id)),
    ctx.redis.ttl(metaKey(id)),
  ]);
  if (!meta || Object.keys(meta).length === 0) throw notFound(`cart ${id}`);
  const skus = Object.keys(items).sort();
  const { rows } = skus.length
    ? await ctx.pools.ecommerce.query('SELECT * FROM products WHERE sku = ANY($1) AND active', [skus])
    : { rows: [] };
  const bySku = new Map(rows.map((r) => [r.sku, r]));
  const lines = [];
  for (const sku of skus) {
    const p = bySku.get(sku);
    if (!p) continue;
    const quantity = Number(items[sku]);
    lines.push({
      sku,
      product_id: p.id,
      name: p.name,
      kind: p.kind,
      quantity,
      unit_price_cents: p.price_cents,
      line_total_cents: p.price_cents * quantity,
    });
  }
  return {
    id,
    lines,
    subtotal_cents: lines.reduce((sum, l) => sum + l.line_total_cents, 0),
    promo_code: meta.promo_code ?? null,
    expires_in: ttl,
  };
}

/** Deletes the cart (after a successful checkout). */
export async function deleteCart(ctx, id) {
  await ctx.redis.del(itemsKey(id), metaKey(id));
}
