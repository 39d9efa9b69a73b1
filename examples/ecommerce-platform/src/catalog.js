// The catalogue: categories (a tree) and products in the `ecommerce` database, kept in step
// with the search index, the stock table, the Redis product cache and the images in S3.
import { recordEvent, transaction } from './db.js';
import { badRequest, conflict, HttpError, notFound } from './errors.js';
import * as inventory from './inventory.js';
import { indexedIds, indexProduct, removeProduct } from './search.js';
import { deleteObject, presignedGet, presignedPut } from './storage.js';

const PRODUCT_CACHE_SECONDS = 300;
const SKU = /^[A-Z0-9][A-Z0-9-]{2,31}$/;
const SLUG = /^[a-z0-9][a-z0-9-]{0,40}$/;
const IMAGE_TYPES = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/webp': 'webp' };

/** A product row as the API shows it. */
export function productJson(row) {
  return {
    id: row.id,
    sku: row.sku,
    name: row.name,
    description: row.description,
    brand: row.brand,
    category: row.category_slug,
    kind: row.kind,
    price_cents: row.price_cents,
    currency: row.currency,
    stripe_product_id: row.stripe_product_id,
    image_key: row.image_key,
    asset_key: row.asset_key,
    active: row.active,
  };
}

// ---------------------------------------------------------------------------------------------
// Categories

/** The category `slug` and its ancestors, root first; throws 404 for an unknown slug. */
export async function categoryPath(db, slug) {
  const { rows } = await db.query(
    `WITH RECURSIVE up AS (
       SELECT slug, parent_slug, 0 AS depth FROM categories WHERE slug = $1
       UNION ALL
       SELECT c.slug, c.parent_slug, up.depth + 1 FROM categories c JOIN up ON c.slug = up.parent_slug
     ) SELECT slug FROM up ORDER BY depth DESC`,
    [slug],
  );
  if (rows.length === 0) throw notFound(`category ${slug}`);
  return rows.map((r) => r.slug);
}

/** `slug` and every category below it. */
async function subtree(db, slug) {
  const { rows } = await db.query(
    `WITH RECURSIVE down AS (
       SELECT slug FROM categories WHERE slug = $1
       UNION ALL
       SELECT c.slug FROM categories c JOIN down ON c.parent_slug = down.slug
     ) SELECT slug FROM down`,
    [slug],
  );
  return rows.map((r) => r.slug);
}

/** Every category as a tree: `{slug, name, products (own), total_products, children}`. */
export async function categoryTree(ctx) {
  const { rows } = await ctx.pools.ecommerce.query(
    `SELECT c.slug, c.name, c.parent_slug, count(p.id) FILTER (WHERE p.active) AS products
       FROM categories c LEFT JOIN products p ON p.category_slug = c.slug
      GROUP BY c.slug ORDER BY c.slug`,
  );
  const nodes = new Map(rows.map((r) => [r.slug, { slug: r.slug, name: r.name, parent: r.parent_slug, products: Number(r.products), children: [] }]));
  const roots = [];
  for (const node of nodes.values()) {
    if (node.parent && nodes.has(node.parent)) nodes.get(node.parent).children.push(node);
    else roots.push(node);
  }
  const total = (node) => {
    node.total_products = node.products + node.children.reduce((sum, c) => sum + total(c), 0);
    return node.total_products;
  };
  roots.forEach(total);
  return roots;
}

/** Creates a category under `parent` (or at the root). */
export async function createCategory(ctx, { slug, name, parent = null }) {
  if (typeof slug !== 'string' || !SLUG.test(slug)) throw badRequest('invalid_slug', 'slug must be lowercase letters, digits and dashes');
  if (typeof name !== 'string' || !name.trim()) throw badRequest('invalid_name', 'name is required');
  try {
    const { rows } = await ctx.pools.ecommerce.query(
      'INSERT INTO categories (slug, name, parent_slug) VALUES ($1, $2, $3) RETURNING slug, name, parent_slug AS parent',
      [slug, name.trim(), parent],
    );
    return rows[0];
  } catch (err) {
    if (err.code === '23505') throw conflict('duplicate_category', `category ${slug} exists`);
    if (err.code === '23503') throw badRequest('unknown_parent', `parent category ${parent} does not exist`);
    throw err;
  }
}

/** Reindexes every product whose category is in `slugs` (their category paths changed). */
async function reindexCategories(ctx, slugs) {
  const { rows } = await ctx.pools.ecommerce.query('SELECT * FROM products WHERE category_slug = ANY($1)', [slugs]);
  for (const row of rows) {
    await indexProduct(ctx.es, ctx.config.productsIndex, row, await categoryPath(ctx.pools.ecommerce, row.category_slug));
  }
  return rows.length;
}

/** Renames a category and/or moves it under another parent (never under itself). */
export async function updateCategory(ctx, slug, { name, parent }) {
  const below = await subtree(ctx.pools.ecommerce, slug);
  if (below.length === 0) throw notFound(`category ${slug}`);
  if (parent !== undefined && parent !== null && below.includes(parent)) {
    throw conflict('category_cycle', `${parent} is ${parent === slug ? 'the category itself' : `below ${slug}`}`);
  }
  const sets = [];
  const values = [slug];
  if (name !== undefined) {
    if (typeof name !== 'string' || !name.trim()) throw badRequest('invalid_name', 'name must not be empty');
    values.push(name.trim());
    sets.push(`name = $${values.length}`);
  }
  if (parent !== undefined) {
    values.push(parent);
    sets.push(`parent_slug = $${values.length}`);
  }
  if (sets.length === 0) throw badRequest('nothing_to_update', 'give name and/or parent');
  let row;
  try {
    ({ rows: [row] } = await ctx.pools.ecommerce.query(
      `UPDATE categories SET ${sets.join(', ')} WHERE slug = $1 RETURNING slug, name, parent_slug AS parent`,
      values,
    ));
  } catch (err) {
    if (err.code === '23503') throw badRequest('unknown_parent', `parent category ${parent} does not exist`);
    throw err;
  }
  const reindexed = parent !== undefined ? await reindexCategories(ctx, below) : 0;
  return { ...row, reindexed };
}

/** Deletes an empty category; one with subcategories or products is a 409. */
export async function deleteCategory(ctx, slug) {
  const db = ctx.pools.ecommerce;
  const children = await db.query('SELECT count(*)::int AS n FROM categories WHERE parent_slug = $1', [slug]);
  if (children.rows[0].n > 0) throw conflict('category_has_children', `${slug} has ${children.rows[0].n} subcategories`);
  const products = await db.query('SELECT count(*)::int AS n FROM products WHERE category_slug = $1', [slug]);
  if (products.rows[0].n > 0) throw conflict('category_not_empty', `${slug} has ${products.rows[0].n} products`);
  const { rowCount } = await db.query('DELETE FROM categories WHERE slug = $1', [slug]);
  if (rowCount === 0) throw notFound(`category ${slug}`);
}

/** Active products of `slug` and of every category below it, by name. */
export async function categoryProducts(ctx, slug) {
  const slugs = await subtree(ctx.pools.ecommerce, slug);
  if (slugs.length === 0) throw notFound(`category ${slug}`);
  const { rows } = await ctx.pools.ecommerce.query(
    'SELECT * FROM products WHERE category_slug = ANY($1) AND active ORDER BY name',
    [slugs],
  );
  return rows.map(productJson);
}

// ---------------------------------------------------------------------------------------------
// Products

function checkProductFields(input, partial) {
  const has = (k) => input[k] !== undefined;
  const need = (k) => !partial || has(k);
  if (!partial && (typeof input.sku !== 'string' || !SKU.test(input.sku))) {
    throw badRequest('invalid_sku', 'sku must be 3-32 upper-case letters, digits or dashes');
  }
  if (need('name') && (typeof input.name !== 'string' || !input.name.trim() || input.name.length > 200)) {
    throw badRequest('invalid_name', 'name must be 1-200 characters');
  }
  if (need('brand') && (typeof input.brand !== 'string' || !input.brand.trim())) throw badRequest('invalid_brand', 'brand is required');
  if (need('category') && typeof input.category !== 'string') throw badRequest('invalid_category', 'category is required');
  if (need('price_cents') && (!Number.isInteger(input.price_cents) || input.price_cents <= 0)) {
    throw badRequest('invalid_price', 'price_cents must be a positive integer');
  }
  if (has('description') && typeof input.description !== 'string') throw badRequest('invalid_description', 'description must be text');
  if (partial && (has('sku') || has('kind'))) throw badRequest('immutable_field', 'sku and kind cannot change');
}

async function fetchRow(db, id) {
  if (!/^[0-9a-f-]{36}$/i.test(String(id))) throw notFound(`product ${id}`);
  const { rows } = await db.query('SELECT * FROM products WHERE id = $1', [id]);
  if (!rows[0]) throw notFound(`product ${id}`);
  return rows[0];
}

/** The active product with `sku`, or null. */
export async function productBySku(ctx, sku) {
  const { rows } = await ctx.pools.ecommerce.query('SELECT * FROM products WHERE sku = $1 AND active', [sku]);
  return rows[0] ? productJson(rows[0]) : null;
}

/**
 * Creates a product: its row, its stock (physical products, `stock` units), its search
 * document. The row is committed only once the other two are written.
 */
export async function createProduct(ctx, input) {
  checkProductFields(input, false);
  if (!['physical', 'digital'].includes(input.kind)) throw badRequest('invalid_kind', 'kind must be physical or digital');
  const stock = input.stock ?? 0;
  if (input.kind === 'physical' && (!Number.isInteger(stock) || stock < 0)) throw badRequest('invalid_stock', 'stock must be a non-negative integer');
  if (input.kind === 'digital' && input.stock !== undefined) throw badRequest('invalid_stock', 'digital products have no stock');
  if (input.kind === 'digital' && typeof input.asset_key !== 'string') throw badRequest('asset_required', 'digital products need asset_key');
  const path = await categoryPath(ctx.pools.ecommerce, input.category).catch((err) => {
    if (err instanceof HttpError) throw badRequest('unknown_category', `category ${input.category} does not exist`);
    throw err;
  });
  const row = await transaction(ctx.pools.ecommerce, async (client) => {
    let inserted;
    try {
      ({ rows: [inserted] } = await client.query(
        `INSERT INTO products (sku, name, description, brand, category_slug, kind, price_cents, stripe_product_id, asset_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *`,
        [input.sku, input.name.trim(), input.description ?? '', input.brand.trim(), input.category, input.kind,
          input.price_cents, input.kind === 'physical' ? 'prod_physical' : 'prod_digital', input.asset_key ?? null],
      ));
    } catch (err) {
      if (err.code === '23505') throw conflict('duplicate_sku', `a product with SKU ${input.sku} exists`);
      throw err;
    }
    if (input.kind === 'physical') await inventory.createStock(ctx, input.sku, stock);
    try {
      await indexProduct(ctx.es, ctx.config.productsIndex, inserted, path);
    } catch (err) {
      if (input.kind === 'physical') await inventory.dropStock(ctx, input.sku);
      throw err;
    }
    return inserted;
  });
  await recordEvent(ctx.pools, 'product_created', { sku: row.sku, kind: row.kind, price_cents: row.price_cents });
  return productJson(row);
}

/** A product with its stock level; the product itself comes from Redis when cached. */
export async function getProduct(ctx, id) {
  const cacheKey = `product:${id}`;
  let product;
  const cached = await ctx.redis.get(cacheKey);
  if (cached) {
    product = JSON.parse(cached);
  } else {
    product = productJson(await fetchRow(ctx.pools.ecommerce, id));
    await ctx.redis.set(cacheKey, JSON.stringify(product), 'EX', PRODUCT_CACHE_SECONDS);
  }
  return { ...product, stock: product.kind === 'physical' ? await inventory.getStock(ctx, product.sku) : null };
}

/** Active products, optionally of one category (not its subcategories), by name. */
export async function listProducts(ctx, { category } = {}) {
  const { rows } = category
    ? await ctx.pools.ecommerce.query('SELECT * FROM products WHERE active AND category_slug = $1 ORDER BY name', [category])
    : await ctx.pools.ecommerce.query('SELECT * FROM products WHERE active ORDER BY name');
  return rows.map(productJson);
}

/** Updates name, description, brand, category, price or active; reindexes and drops the cache. */
export async function updateProduct(ctx, id, patch) {
  checkProductFields(patch, true);
  const columns = { name: 'name', description: 'description', brand: 'brand', category: 'category_slug', price_cents: 'price_cents', active: 'active' };
  const unknown = Object.keys(patch).filter((k) => !(k in columns));
  if (unknown.length) throw badRequest('unknown_field', `cannot update ${unknown.join(', ')}`);
  if (patch.active !== undefined && typeof patch.active !== 'boolean') throw badRequest('invalid_active', 'active must be a boolean');
  const keys = Object.keys(patch);
  if (keys.length === 0) throw badRequest('nothing_to_update', 'no fields given');
  await fetchRow(ctx.pools.ecommerce, id);
  const values = [id, ...keys.map((k) => (typeof patch[k] === 'string' ? patch[k].trim() : patch[k]))];
  let row;
  try {
    ({ rows: [row] } = await ctx.pools.ecommerce.query(
      `UPDATE products SET ${keys.map((k, i) => `${columns[k]} = $${i + 2}`).join(', ')}, updated_at = now() WHERE id = $1 RETURNING *`,
      values,
    ));
  } catch (err) {
    if (err.code === '23503') throw badRequest('unknown_category', `category ${patch.category} does not exist`);
    throw err;
  }
  await indexProduct(ctx.es, ctx.config.productsIndex, row, await categoryPath(ctx.pools.ecommerce, row.category_slug));
  await ctx.redis.del(`product:${id}`);
  return productJson(row);
}

/**
 * Deletes a product. One that was ever ordered stays (orders point at it) but is deactivated:
 * gone from search and listings. Otherwise its row, stock, search document and image go.
 */
export async function deleteProduct(ctx, id) {
  const row = await fetchRow(ctx.pools.ecommerce, id);
  const ordered = await ctx.pools.ecommerce.query('SELECT 1 FROM order_lines WHERE product_id = $1 LIMIT 1', [id]);
  await ctx.redis.del(`product:${id}`);
  if (ordered.rowCount > 0) {
    const { rows: [updated] } = await ctx.pools.ecommerce.query(
      'UPDATE products SET active = false, updated_at = now() WHERE id = $1 RETURNING *',
      [id],
    );
    await indexProduct(ctx.es, ctx.config.productsIndex, updated, await categoryPath(ctx.pools.ecommerce, updated.category_slug));
    return { deleted: false, deactivated: true };
  }
  await ctx.pools.ecommerce.query('DELETE FROM products WHERE id = $1', [id]);
  if (row.kind === 'physical') await inventory.dropStock(ctx, row.sku);
  await removeProduct(ctx.es, ctx.config.productsIndex, id);
  if (row.image_key) await deleteObject(ctx.s3, ctx.config.s3.imagesBucket, row.image_key);
  return { deleted: true, deactivated: false };
}

/**
 * A presigned URL the browser PUTs the product's image to (the bucket's CORS rules allow it),
 * and the key it will have; the product points at the key from now on.
 */
export async function imageUpload(ctx, id, contentType) {
  const ext = IMAGE_TYPES[contentType];
  if (!ext) throw badRequest('invalid_content_type', `content_type must be one of ${Object.keys(IMAGE_TYPES).join(', ')}`);
  const row = await fetchRow(ctx.pools.ecommerce, id);
  const key = `products/${row.sku.toLowerCase()}.${ext}`;
  const url = await presignedPut(ctx.s3, ctx.config.s3.imagesBucket, key, contentType);
  await ctx.pools.ecommerce.query('UPDATE products SET image_key = $2, updated_at = now() WHERE id = $1', [id, key]);
  await ctx.redis.del(`product:${id}`);
  return { url, key, content_type: contentType };
}

/** A presigned URL of the product's image. */
export async function imageUrl(ctx, id) {
  const row = await fetchRow(ctx.pools.ecommerce, id);
  if (!row.image_key) throw notFound(`image of product ${id}`);
  return { url: await presignedGet(ctx.s3, ctx.config.s3.imagesBucket, row.image_key), key: row.image_key };
}

/** Rebuilds the search index from PostgreSQL: every product indexed, strays removed. */
export async function reindexAll(ctx) {
  const { rows } = await ctx.pools.ecommerce.query('SELECT * FROM products ORDER BY sku');
  const ids = new Set();
  for (const row of rows) {
    await indexProduct(ctx.es, ctx.config.productsIndex, row, await categoryPath(ctx.pools.ecommerce, row.category_slug));
    ids.add(row.id);
  }
  let removed = 0;
  for (const id of await indexedIds(ctx.es, ctx.config.productsIndex)) {
    if (!ids.has(id)) {
      await removeProduct(ctx.es, ctx.config.productsIndex, id);
      removed += 1;
    }
  }
  return { indexed: rows.length, removed };
}
