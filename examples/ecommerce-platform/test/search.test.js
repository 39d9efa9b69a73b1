// Search suite: runs with Elasticsearch alone (`depends_on: [elasticsearch]`), on the index the
// `catalog-seeded` checkpoint built, through the app's search module. Expected results are
// derived from scripts/catalog.json. Branches: basic-search, faceted-search, autocomplete,
// typo-tolerance.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { loadConfig } from '../src/config.js';
import { createSearchClient, indexProduct, PRICE_RANGES, searchProducts, suggest } from '../src/search.js';
import { catalogData, runs } from './support.js';

const config = loadConfig();
const es = createSearchClient(config);
after(() => es.close());
const index = config.productsIndex;
const products = catalogData.products;
const search = (params) => searchProducts(es, index, params);
const skus = async (params) => (await search(params)).hits.map((h) => h.sku);
const sorted = (list) => [...list].sort();

describe('basic-search', { skip: !runs('basic-search') }, () => {
  test('words are stemmed and case-folded by the product analyzer', async () => {
    const shoes = await skus({ q: 'running shoes' });
    assert.deepEqual(sorted(shoes.slice(0, 2)), ['RUN-SHOE-01', 'TRAIL-SHOE-02'], 'shoe and shoes, run and running');
    assert.deepEqual(await skus({ q: 'RUNNING SHOE' }), shoes);
    assert.deepEqual(sorted(await skus({ q: 'boots' })), ['BOOT-LEATHER-01', 'BOOT-LIGHT-02']);
    assert.deepEqual(await skus({ q: 'merino' }), ['SOCK-MERINO-01']);
    assert.deepEqual(sorted(await skus({ q: 'waterproof' })), ['BOOT-LEATHER-01', 'JACKET-RAIN-01'], 'descriptions are searched');
    assert.deepEqual(sorted(await skus({ q: 'northpeak' })), sorted(products.filter((p) => p.brand === 'Northpeak').map((p) => p.sku)));
    assert.deepEqual(await skus({ q: 'xyzzy' }), []);
    assert.deepEqual(await skus({ q: 'running shoes', kind: 'digital' }), []);
  });

  test('the name counts more than the description', async () => {
    const { hits } = await search({ q: 'trail' });
    assert.deepEqual(sorted(hits.slice(0, 2).map((h) => h.sku)), ['EBOOK-TRAILS', 'TRAIL-SHOE-02']);
    assert.ok(hits.length >= 3, 'the leather boots mention the trail in their description');
    assert.ok(hits[1].score > hits.at(-1).score);
  });

  test('pages cover every active product once, in name order', async () => {
    const pages = [];
    for (let page = 1; page <= 3; page += 1) pages.push(await search({ page, size: 5 }));
    assert.equal(pages[0].total, products.length);
    const names = pages.flatMap((p) => p.hits.map((h) => h.name));
    assert.deepEqual(names, products.map((p) => p.name).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    assert.deepEqual(pages.map((p) => p.hits.length), [5, 5, products.length - 10]);
  });

  test('inactive products are hidden; new ones are found at once', async () => {
    const id = '00000000-0000-4000-8000-000000000001';
    const product = { id, sku: 'TENT-2P', name: 'Two Person Tent', description: 'Freestanding.', brand: 'Ridgeline', category_slug: 'gear', kind: 'physical', price_cents: 29999, active: true };
    await indexProduct(es, index, product, ['gear']);
    assert.deepEqual(await skus({ q: 'tents' }), ['TENT-2P']);
    await indexProduct(es, index, { ...product, active: false }, ['gear']);
    assert.deepEqual(await skus({ q: 'tents' }), []);
    assert.deepEqual(await skus({ q: 'tents', includeInactive: true }), ['TENT-2P']);
  });
});

describe('faceted-search', { skip: !runs('faceted-search') }, () => {
  const count = (pred) => products.filter(pred).length;
  const parents = Object.fromEntries(catalogData.categories.map((c) => [c.slug, c.parent ?? null]));

  test('facets of the whole catalogue match the seed data', async () => {
    const { total, facets } = await search({});
    assert.equal(total, products.length);
    const expectedCategories = {};
    for (const p of products) {
      for (let c = p.category; c; c = parents[c]) expectedCategories[c] = (expectedCategories[c] ?? 0) + 1;
    }
    assert.deepEqual(facets.categories, expectedCategories);
    const brands = {};
    for (const p of products) brands[p.brand] = (brands[p.brand] ?? 0) + 1;
    assert.deepEqual(facets.brands, brands);
    assert.deepEqual(facets.kinds, { physical: count((p) => p.kind === 'physical'), digital: count((p) => p.kind === 'digital') });
    const prices = Object.fromEntries(PRICE_RANGES.map((r) => [r.key, count((p) => p.price_cents >= (r.from ?? 0) && p.price_cents < (r.to ?? Infinity))]));
    assert.deepEqual(facets.prices, prices);
  });

  test('each facet value narrows to exactly its count', async () => {
    const { facets } = await search({});
    for (const [brand, n] of Object.entries(facets.brands)) {
      const narrowed = await search({ brand });
      assert.equal(narrowed.total, n, `brand ${brand}`);
      assert.ok(narrowed.hits.every((h) => h.brand === brand));
      assert.deepEqual(narrowed.facets.brands, { [brand]: n });
    }
    for (const [category, n] of Object.entries(facets.categories)) {
      assert.equal((await search({ category, size: 50 })).total, n, `category ${category}`);
    }
  });

  test('filters combine with text and with each other', async () => {
    const result = await search({ q: 'hiking', category: 'footwear', maxPrice: 16000 });
    assert.deepEqual(result.hits.map((h) => h.sku), ['BOOT-LIGHT-02']);
    const both = await search({ brand: ['Stride', 'Northpeak'], kind: 'physical', size: 50 });
    assert.equal(both.total, count((p) => ['Stride', 'Northpeak'].includes(p.brand) && p.kind === 'physical'));
    const midRange = await search({ minPrice: 5000, maxPrice: 10000, size: 50 });
    assert.deepEqual(sorted(midRange.hits.map((h) => h.sku)), sorted(products.filter((p) => p.price_cents >= 5000 && p.price_cents < 10000).map((p) => p.sku)));
    assert.deepEqual(midRange.facets.prices, { 'under-50': 0, '50-100': midRange.total, '100-200': 0, '200-and-up': 0 });
  });
});

describe('autocomplete', { skip: !runs('autocomplete') }, () => {
  test('prefixes of any word of the name, and of the brand', async () => {
    assert.deepEqual(sorted(await suggest(es, index, 'run', { size: 10 })), ['Merino Running Socks', 'Running Shoe', 'Trail Running Handbook', 'Trail Running Shoes']);
    // "Trail…" and "Training…" in names, and the brand Trailhead Press (every download).
    assert.deepEqual(sorted(await suggest(es, index, 'trai', { size: 10 })), ['Alps Hiking Maps Bundle', 'Marathon Training Plan', 'Trail Running Handbook', 'Trail Running Shoes']);
    assert.deepEqual(sorted(await suggest(es, index, 'Hik', { size: 10 })), ['Alps Hiking Maps Bundle', 'Cushioned Hiking Socks', 'Leather Hiking Boots', 'Lightweight Hiking Boots']);
    assert.deepEqual(sorted(await suggest(es, index, 'northp', { size: 10 })), sorted(products.filter((p) => p.brand === 'Northpeak').map((p) => p.name)));
    assert.deepEqual(await suggest(es, index, 'zzz'), []);
  });

  test('size limits the list; typos need fuzzy', async () => {
    assert.equal((await suggest(es, index, 'hik', { size: 2 })).length, 2);
    assert.deepEqual(await suggest(es, index, 'jakc'), []);
    assert.deepEqual(sorted(await suggest(es, index, 'jakc', { fuzzy: true, size: 10 })), ['Down Winter Jacket', 'Packable Rain Jacket']);
  });

  test('a new product is suggested at once', async () => {
    const product = { id: '00000000-0000-4000-8000-000000000002', sku: 'BOTTLE-1', name: 'Insulated Bottle', description: '', brand: 'Stride', category_slug: 'gear', kind: 'physical', price_cents: 2999, active: true };
    await indexProduct(es, index, product, ['gear']);
    assert.deepEqual(await suggest(es, index, 'insul'), ['Insulated Bottle']);
    assert.ok((await suggest(es, index, 'strid', { size: 10 })).includes('Insulated Bottle'));
  });
});

describe('typo-tolerance', { skip: !runs('typo-tolerance') }, () => {
  test('misspelt words still find the product', async () => {
    assert.deepEqual(sorted((await skus({ q: 'runing shoes' })).slice(0, 2)), ['RUN-SHOE-01', 'TRAIL-SHOE-02']);
    assert.deepEqual((await skus({ q: 'lether boots' }))[0], 'BOOT-LEATHER-01');
    assert.deepEqual(await skus({ q: 'merino sokcs' }), ['SOCK-MERINO-01']);
    assert.deepEqual((await skus({ q: 'rain jaket' }))[0], 'JACKET-RAIN-01');
    assert.deepEqual(await skus({ q: 'headlmap' }), ['LAMP-SUMMIT-01']);
  });

  test('without fuzziness the same typos find nothing', async () => {
    for (const q of ['lether boots', 'merino sokcs', 'headlmap']) assert.deepEqual(await skus({ q, fuzzy: false }), [], q);
  });

  test('exact spellings rank above near misses', async () => {
    const { hits } = await search({ q: 'boots' });
    assert.ok(hits.length >= 2);
    assert.ok(hits.slice(0, 2).every((h) => h.name.includes('Boots')));
    const exact = (await search({ q: 'leather' })).hits[0];
    const typo = (await search({ q: 'lether' })).hits[0];
    assert.equal(exact.sku, typo.sku);
    assert.ok(exact.score > typo.score, `exact ${exact.score} > fuzzy ${typo.score}`);
  });

  test('too many typos are not guessed', async () => {
    assert.deepEqual(await skus({ q: 'lthr btts' }), []);
    assert.deepEqual(await skus({ q: 'xacket' }), [], 'the first letter must be right');
  });
});
