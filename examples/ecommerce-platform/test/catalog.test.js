// Catalogue suite: products, categories, the search index kept in step with PostgreSQL, and
// stock. Branches: product-crud, category-management, search-indexing, inventory-tracking.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { productImage } from '../scripts/lib.js';
import { getObject, objectExists } from '../src/storage.js';
import {
  api, cardPaymentMethod, cartWith, catalogData, events, expectError, expectStatus, runs, seededOrder, services,
} from './support.js';

const ctx = services();
after(() => ctx.close());
const suffix = Math.random().toString(36).slice(2, 8).toUpperCase();
const index = ctx.config.productsIndex;

async function esDoc(id) {
  try {
    return (await ctx.es.get({ index, id }))._source;
  } catch (err) {
    if (err?.meta?.statusCode === 404) return null;
    throw err;
  }
}

const searchIds = async (query) => (await expectStatus(200, 'GET', `/search?${query}`)).hits.map((h) => h.sku);

describe('product-crud', { skip: !runs('product-crud') }, () => {
  test('invalid products are refused with the reason', async () => {
    const good = { sku: `HAT-${suffix}`, name: 'Sun Hat', brand: 'Stride', category: 'apparel', kind: 'physical', price_cents: 2500, stock: 4 };
    assert.equal(await expectError(400, 'POST', '/products', { ...good, name: ' ' }), 'invalid_name');
    assert.equal(await expectError(400, 'POST', '/products', { ...good, price_cents: -5 }), 'invalid_price');
    assert.equal(await expectError(400, 'POST', '/products', { ...good, price_cents: 19.99 }), 'invalid_price');
    assert.equal(await expectError(400, 'POST', '/products', { ...good, sku: 'bad sku' }), 'invalid_sku');
    assert.equal(await expectError(400, 'POST', '/products', { ...good, category: 'hats' }), 'unknown_category');
    assert.equal(await expectError(400, 'POST', '/products', { ...good, kind: 'service' }), 'invalid_kind');
    assert.equal(await expectError(409, 'POST', '/products', { ...good, sku: 'RUN-SHOE-01' }), 'duplicate_sku');
    const { rows } = await ctx.pools.ecommerce.query('SELECT count(*)::int AS n FROM products WHERE sku = $1', [good.sku]);
    assert.equal(rows[0].n, 0, 'nothing was written for refused products');
  });

  test('create, read, update, upload an image and delete a product', async () => {
    const input = {
      sku: `LAMP-${suffix}`, name: 'Camp Lantern', brand: 'Ridgeline', category: 'lighting', kind: 'physical',
      price_cents: 4999, stock: 7, description: 'A dimmable lantern for the tent.',
    };
    const created = await expectStatus(201, 'POST', '/products', input);
    assert.equal(created.sku, input.sku);
    assert.equal(created.stripe_product_id, 'prod_physical', 'physical goods sell as the Stripe fixture product');

    // One write reached PostgreSQL, the stock table, the search index and the analytics log.
    const product = await expectStatus(200, 'GET', `/products/${created.id}`);
    assert.deepEqual(product.stock, { sku: input.sku, on_hand: 7, reserved: 0, available: 7 });
    const doc = await esDoc(created.id);
    assert.equal(doc.name, 'Camp Lantern');
    assert.deepEqual(doc.categories, ['gear', 'lighting'], 'the document carries the category path');
    const ledger = await expectStatus(200, 'GET', `/inventory/${input.sku}/movements`);
    assert.deepEqual(ledger.movements.map((m) => [m.delta, m.reason]), [[7, 'initial']]);
    assert.equal((await events(ctx, 'product_created', { sku: input.sku })).length, 1);

    // Reading caches the product in Redis; an update drops the cache and reindexes.
    assert.equal(JSON.parse(await ctx.redis.get(`product:${created.id}`)).price_cents, 4999);
    const updated = await expectStatus(200, 'PATCH', `/products/${created.id}`, { price_cents: 4599, name: 'Camp Lantern XL' });
    assert.equal(updated.price_cents, 4599);
    assert.equal(await ctx.redis.get(`product:${created.id}`), null, 'the stale cache entry is gone');
    assert.equal((await expectStatus(200, 'GET', `/products/${created.id}`)).name, 'Camp Lantern XL');
    assert.equal((await esDoc(created.id)).price_cents, 4599);
    assert.deepEqual(await searchIds('q=lantern+xl'), [input.sku]);
    assert.equal(await expectError(400, 'PATCH', `/products/${created.id}`, { sku: 'OTHER-1' }), 'immutable_field');
    assert.equal(await expectError(400, 'PATCH', `/products/${created.id}`, { colour: 'red' }), 'unknown_field');
    assert.equal(await expectError(404, 'GET', '/products/00000000-0000-0000-0000-000000000000'), 'not_found');

    // The browser uploads the image straight to S3 with a presigned URL; CORS allows it.
    const upload = await expectStatus(200, 'POST', `/products/${created.id}/image-upload`, { content_type: 'image/png' });
    assert.equal(upload.key, `products/lamp-${suffix.toLowerCase()}.png`);
    const preflight = await fetch(upload.url, {
      method: 'OPTIONS',
      headers: { Origin: 'https://shop.example', 'Access-Control-Request-Method': 'PUT' },
    });
    assert.equal(preflight.status, 200, 'the product-images CORS rules allow PUT from any origin');
    assert.ok(['*', 'https://shop.example'].includes(preflight.headers.get('access-control-allow-origin')));
    assert.match(preflight.headers.get('access-control-allow-methods') ?? '', /PUT/);
    const png = productImage('lantern');
    const put = await fetch(upload.url, { method: 'PUT', headers: { 'content-type': 'image/png', Origin: 'https://shop.example' }, body: png });
    assert.equal(put.status, 200);
    const image = await expectStatus(200, 'GET', `/products/${created.id}/image`);
    const fetched = Buffer.from(await (await fetch(image.url)).arrayBuffer());
    assert.deepEqual(fetched, png, 'the presigned GET returns the uploaded bytes');

    // A product never ordered is deleted everywhere.
    assert.deepEqual(await expectStatus(200, 'DELETE', `/products/${created.id}`), { deleted: true, deactivated: false });
    assert.equal(await expectError(404, 'GET', `/products/${created.id}`), 'not_found');
    assert.equal(await esDoc(created.id), null, 'the search document is gone');
    assert.equal(await expectError(404, 'GET', `/inventory/${input.sku}`), 'not_found');
    assert.equal(await objectExists(ctx.s3, ctx.config.s3.imagesBucket, upload.key), false, 'the image is gone');
  });

  test('a product that was ordered is deactivated, not deleted', async () => {
    const order = await seededOrder('alice@example.com');
    const line = order.lines.find((l) => l.sku === 'RUN-SHOE-01');
    assert.ok(line, 'Alice ordered the running shoe');
    assert.deepEqual(await expectStatus(200, 'DELETE', `/products/${line.product_id}`), { deleted: false, deactivated: true });
    const listed = await expectStatus(200, 'GET', '/products?category=running-shoes');
    assert.deepEqual(listed.products.map((p) => p.sku), ['TRAIL-SHOE-02']);
    assert.ok(!(await searchIds('q=running+shoe')).includes('RUN-SHOE-01'), 'search no longer shows it');
    assert.equal((await esDoc(line.product_id)).active, false);
    const again = await seededOrder('alice@example.com');
    assert.equal(again.lines.find((l) => l.line_no === line.line_no).sku, 'RUN-SHOE-01', 'the order keeps its line');
    assert.equal(await expectError(404, 'POST', `/carts/${await cartWith([])}/items`, { sku: 'RUN-SHOE-01', quantity: 1 }), 'not_found');
  });
});

describe('category-management', { skip: !runs('category-management') }, () => {
  const node = (tree, slug) => {
    for (const n of tree) {
      if (n.slug === slug) return n;
      const found = node(n.children, slug);
      if (found) return found;
    }
    return null;
  };

  test('the tree counts products at each level', async () => {
    const { categories } = await expectStatus(200, 'GET', '/categories');
    assert.deepEqual(categories.map((c) => c.slug), ['apparel', 'footwear', 'gear', 'guides']);
    const footwear = node(categories, 'footwear');
    assert.deepEqual(footwear.children.map((c) => c.slug), ['hiking-boots', 'running-shoes']);
    for (const c of catalogData.categories) {
      const expected = catalogData.products.filter((p) => p.category === c.slug
        || catalogData.categories.some((sub) => sub.parent === c.slug && sub.slug === p.category)).length;
      assert.equal(node(categories, c.slug).total_products, expected, `products under ${c.slug}`);
    }
    const boots = await expectStatus(200, 'GET', '/categories/footwear/products');
    assert.deepEqual(boots.products.map((p) => p.sku).sort(), ['BOOT-LEATHER-01', 'BOOT-LIGHT-02', 'RUN-SHOE-01', 'TRAIL-SHOE-02']);
  });

  test('create, rename, move and delete categories', async () => {
    assert.equal(await expectError(409, 'POST', '/categories', { slug: 'socks', name: 'Socks' }), 'duplicate_category');
    assert.equal(await expectError(400, 'POST', '/categories', { slug: 'Bad Slug', name: 'x' }), 'invalid_slug');
    assert.equal(await expectError(400, 'POST', '/categories', { slug: 'tents', name: 'Tents', parent: 'camping' }), 'unknown_parent');
    await expectStatus(201, 'POST', '/categories', { slug: 'outdoor', name: 'Outdoor' });
    await expectStatus(201, 'POST', '/categories', { slug: 'tents', name: 'Tents', parent: 'gear' });

    // Moving hiking-boots under outdoor moves its products in search too.
    const moved = await expectStatus(200, 'PATCH', '/categories/hiking-boots', { parent: 'outdoor' });
    assert.equal(moved.reindexed, 2);
    assert.deepEqual((await searchIds('category=outdoor')).sort(), ['BOOT-LEATHER-01', 'BOOT-LIGHT-02']);
    assert.deepEqual((await searchIds('category=footwear')).sort(), ['RUN-SHOE-01', 'TRAIL-SHOE-02']);
    const facets = (await expectStatus(200, 'GET', '/search?q=boots')).facets.categories;
    assert.deepEqual(facets, { outdoor: 2, 'hiking-boots': 2 });

    // No cycles: a category cannot go under itself or its descendants.
    assert.equal(await expectError(409, 'PATCH', '/categories/outdoor', { parent: 'hiking-boots' }), 'category_cycle');
    assert.equal(await expectError(409, 'PATCH', '/categories/gear', { parent: 'gear' }), 'category_cycle');
    assert.equal(await expectError(400, 'PATCH', '/categories/gear', { parent: 'nowhere' }), 'unknown_parent');

    await expectStatus(200, 'PATCH', '/categories/socks', { name: 'Socks & Liners' });
    const { categories } = await expectStatus(200, 'GET', '/categories');
    assert.equal(node(categories, 'socks').name, 'Socks & Liners');
    assert.equal(node(categories, 'outdoor').total_products, 2);

    // Only empty leaves can be deleted.
    assert.equal(await expectError(409, 'DELETE', '/categories/outdoor'), 'category_has_children');
    assert.equal(await expectError(409, 'DELETE', '/categories/socks'), 'category_not_empty');
    await expectStatus(204, 'DELETE', '/categories/tents');
    assert.equal(await expectError(404, 'DELETE', '/categories/tents'), 'not_found');
    assert.equal(node((await expectStatus(200, 'GET', '/categories')).categories, 'tents'), null);
  });
});

describe('search-indexing', { skip: !runs('search-indexing') }, () => {
  test('the products index uses the manifest analyzer', async () => {
    const settings = await ctx.es.indices.getSettings({ index });
    const analyzer = settings[index].settings.index.analysis.analyzer.product_analyzer;
    assert.deepEqual(analyzer.filter, ['lowercase', 'snowball']);
    const { tokens } = await ctx.es.indices.analyze({ index, analyzer: 'product_analyzer', text: 'Running SHOES' });
    assert.deepEqual(tokens.map((t) => t.token), ['run', 'shoe']);
    const mapping = await ctx.es.indices.getMapping({ index });
    assert.equal(mapping[index].mappings.properties.name.analyzer, 'product_analyzer');
  });

  test('writes through the API are searchable at once and follow every change', async () => {
    const created = await expectStatus(201, 'POST', '/products', {
      sku: `POLES-${suffix}`, name: 'Ultralight Trekking Poles', brand: 'Ridgeline', category: 'gear', kind: 'physical', price_cents: 8999, stock: 6,
    });
    assert.deepEqual(await searchIds('q=trekking+pole'), [created.sku], 'stemmed: poles → pole');
    await expectStatus(200, 'PATCH', `/products/${created.id}`, { name: 'Carbon Trekking Poles' });
    assert.deepEqual(await searchIds('q=ultralight'), []);
    assert.deepEqual(await searchIds('q=carbon'), [created.sku]);
    await expectStatus(200, 'PATCH', `/products/${created.id}`, { active: false });
    assert.deepEqual(await searchIds('q=carbon'), [], 'inactive products are not found');
    await expectStatus(200, 'PATCH', `/products/${created.id}`, { active: true, price_cents: 7999 });
    const hit = (await expectStatus(200, 'GET', '/search?q=carbon')).hits[0];
    assert.equal(hit.price_cents, 7999);
    assert.ok((await events(ctx, 'search', { q: 'carbon' })).length >= 3, 'searches are logged to analytics');
  });

  test('a reindex repairs drift between PostgreSQL and the index', async () => {
    const { rows: [boot] } = await ctx.pools.ecommerce.query("SELECT id FROM products WHERE sku = 'BOOT-LEATHER-01'");
    await ctx.es.delete({ index, id: boot.id, refresh: true });
    await ctx.es.index({ index, id: 'stray-document', document: { sku: 'STRAY', name: 'Stray Boots', active: true }, refresh: true });
    assert.ok(!(await searchIds('q=leather')).includes('BOOT-LEATHER-01'));
    assert.ok((await searchIds('q=stray')).includes('STRAY'));

    const result = await expectStatus(200, 'POST', '/admin/reindex');
    const { rows: [{ n }] } = await ctx.pools.ecommerce.query('SELECT count(*)::int AS n FROM products');
    assert.deepEqual(result, { indexed: n, removed: 1 });
    assert.deepEqual(await searchIds('q=leather'), ['BOOT-LEATHER-01']);
    assert.deepEqual(await searchIds('q=stray'), []);
    assert.equal((await ctx.es.count({ index })).count, n);
  });
});

describe('inventory-tracking', { skip: !runs('inventory-tracking') }, () => {
  test('the seeded sales are in the ledger', async () => {
    const order = await seededOrder('alice@example.com');
    const level = await expectStatus(200, 'GET', '/inventory/RUN-SHOE-01');
    assert.deepEqual(level, { sku: 'RUN-SHOE-01', on_hand: 24, reserved: 0, available: 24 });
    const { movements } = await expectStatus(200, 'GET', '/inventory/RUN-SHOE-01/movements');
    assert.deepEqual(movements.map((m) => [m.delta, m.reason, m.ref]), [[25, 'initial', null], [-1, 'sale', order.id]]);
    // Erin's declined order held the jacket and gave it back.
    assert.deepEqual(await expectStatus(200, 'GET', '/inventory/JACKET-RAIN-01'), { sku: 'JACKET-RAIN-01', on_hand: 15, reserved: 0, available: 15 });
    assert.equal(await expectError(404, 'GET', '/inventory/EBOOK-MARATHON'), 'not_found', 'downloads have no stock');
  });

  test('restock and adjustments keep stock non-negative', async () => {
    assert.equal(await expectError(404, 'POST', '/inventory/NO-SUCH-SKU/adjustments', { delta: 1, reason: 'restock' }), 'not_found');
    assert.equal((await expectStatus(201, 'POST', '/inventory/JACKET-DOWN-02/adjustments', { delta: 10, reason: 'restock' })).on_hand, 15);
    assert.equal(await expectError(409, 'POST', '/inventory/JACKET-DOWN-02/adjustments', { delta: -16, reason: 'adjustment' }), 'insufficient_stock');
    assert.equal((await expectStatus(201, 'POST', '/inventory/JACKET-DOWN-02/adjustments', { delta: -15, reason: 'adjustment', ref: 'stocktake' })).on_hand, 0);
    assert.equal(await expectError(400, 'POST', '/inventory/JACKET-DOWN-02/adjustments', { delta: 1, reason: 'sale' }), 'invalid_reason');
    assert.equal(await expectError(400, 'POST', '/inventory/JACKET-DOWN-02/adjustments', { delta: 0, reason: 'restock' }), 'invalid_delta');
    const { movements } = await expectStatus(200, 'GET', '/inventory/JACKET-DOWN-02/movements');
    assert.equal(movements.reduce((s, m) => s + m.delta, 0), 0, 'the ledger adds up to the stock on hand');
    const { low_stock: low } = await expectStatus(200, 'GET', '/inventory?below=4');
    assert.deepEqual(low.map((l) => l.sku), ['JACKET-DOWN-02', 'LAMP-SUMMIT-01']);
  });

  test('concurrent holds never oversell', async () => {
    // Three headlamps, eight shoppers at the same moment.
    const attempts = await Promise.all(Array.from({ length: 8 }, (_, i) => api('POST', '/inventory/reservations', {
      ref: `rush-${suffix}-${i}`, items: [{ sku: 'LAMP-SUMMIT-01', quantity: 1 }],
    })));
    const statuses = attempts.map((a) => a.status).sort();
    assert.deepEqual(statuses, [201, 201, 201, 409, 409, 409, 409, 409]);
    assert.ok(attempts.filter((a) => a.status === 409).every((a) => a.body.error.code === 'out_of_stock'));
    assert.deepEqual(await expectStatus(200, 'GET', '/inventory/LAMP-SUMMIT-01'), { sku: 'LAMP-SUMMIT-01', on_hand: 3, reserved: 3, available: 0 });
    const cart = await cartWith([]);
    assert.equal(await expectError(409, 'POST', `/carts/${cart}/items`, { sku: 'LAMP-SUMMIT-01', quantity: 1 }), 'insufficient_stock');
    const winner = attempts.findIndex((a) => a.status === 201);
    assert.deepEqual(await expectStatus(200, 'POST', `/inventory/reservations/rush-${suffix}-${winner}/release`), { released: 1 });
    assert.equal((await expectStatus(200, 'GET', '/inventory/LAMP-SUMMIT-01')).available, 1);
  });

  test('checkout takes stock only when the card is charged', async () => {
    const paid = await expectStatus(201, 'POST', '/checkout', {
      cart_id: await cartWith([{ sku: 'PACK-DAY-01', quantity: 2 }]), email: 'erin@example.com', payment_method: 'pm_card_visa', shipping_rate: 'shr_standard',
    });
    assert.deepEqual(await expectStatus(200, 'GET', '/inventory/PACK-DAY-01'), { sku: 'PACK-DAY-01', on_hand: 17, reserved: 0, available: 17 });
    const { movements } = await expectStatus(200, 'GET', '/inventory/PACK-DAY-01/movements');
    assert.deepEqual(movements.at(-1), { ...movements.at(-1), delta: -2, reason: 'sale', ref: paid.order.id });

    const pm = await cardPaymentMethod(ctx.stripe, '4000000000000002');
    const declined = await api('POST', '/checkout', {
      cart_id: await cartWith([{ sku: 'PACK-DAY-01', quantity: 3 }]), email: 'erin@example.com', payment_method: pm.id, shipping_rate: 'shr_standard',
    });
    assert.equal(declined.status, 402);
    assert.equal((await expectStatus(200, 'GET', '/inventory/PACK-DAY-01')).on_hand, 17, 'a declined card takes nothing');
    const { rows } = await ctx.pools.inventory.query('SELECT status, quantity FROM reservations WHERE ref = $1', [declined.body.error.details.order_id]);
    assert.deepEqual(rows, [{ status: 'released', quantity: 3 }]);
  });
});
