// Checkpoint `catalog-seeded`: the schemas of the three databases, the search mapping, the
// catalogue (categories, products with stock, images and downloads in S3, search documents),
// tax rates and promo codes. Safe to run again.
import { readFileSync } from 'node:fs';
import { createProduct } from '../src/catalog.js';
import { createContext } from '../src/context.js';
import { ensureMapping } from '../src/search.js';
import { putObject } from '../src/storage.js';
import { catalogData, digitalAsset, imageKey, productImage } from './lib.js';

const ctx = createContext();
try {
  for (const db of ['ecommerce', 'inventory', 'analytics']) {
    await ctx.pools[db].query(readFileSync(new URL(`../db/${db}.sql`, import.meta.url), 'utf8'));
  }
  await ensureMapping(ctx.es, ctx.config.productsIndex);

  const db = ctx.pools.ecommerce;
  for (const c of catalogData.categories) {
    await db.query(
      'INSERT INTO categories (slug, name, parent_slug) VALUES ($1, $2, $3) ON CONFLICT (slug) DO NOTHING',
      [c.slug, c.name, c.parent ?? null],
    );
  }
  for (const t of catalogData.tax_rates) {
    await db.query(
      `INSERT INTO tax_rates (country, region, physical_bp, digital_bp, shipping_taxable) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (country, region) DO UPDATE SET physical_bp = EXCLUDED.physical_bp, digital_bp = EXCLUDED.digital_bp,
         shipping_taxable = EXCLUDED.shipping_taxable`,
      [t.country, t.region, t.physical_bp, t.digital_bp, t.shipping_taxable],
    );
  }
  for (const p of catalogData.promo_codes) {
    await db.query(
      `INSERT INTO promo_codes (code, kind, value, min_subtotal_cents, expires_at, once_per_customer, max_redemptions)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (code) DO NOTHING`,
      [p.code, p.kind, p.value ?? 0, p.min_subtotal_cents ?? 0, p.expires_at ?? null, p.once_per_customer ?? false, p.max_redemptions ?? null],
    );
  }

  let created = 0;
  for (const p of catalogData.products) {
    if (p.asset_key) await putObject(ctx.s3, ctx.config.s3.imagesBucket, p.asset_key, digitalAsset(p), 'text/plain; charset=utf-8');
    const { rows } = await db.query('SELECT id FROM products WHERE sku = $1', [p.sku]);
    let id = rows[0]?.id;
    if (!id) {
      ({ id } = await createProduct(ctx, p));
      created += 1;
    }
    await putObject(ctx.s3, ctx.config.s3.imagesBucket, imageKey(p.sku), productImage(p.sku), 'image/png');
    await db.query('UPDATE products SET image_key = $2 WHERE id = $1', [id, imageKey(p.sku)]);
  }

  const indexed = (await ctx.es.count({ index: ctx.config.productsIndex })).count;
  const { rows: [{ n }] } = await db.query('SELECT count(*)::int AS n FROM products');
  if (indexed !== n) throw new Error(`${n} products in PostgreSQL but ${indexed} in the search index`);
  console.log(`seed-catalog: ${catalogData.categories.length} categories, ${n} products (${created} new), all indexed and with images`);
} finally {
  await ctx.close();
}
