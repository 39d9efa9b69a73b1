// The catalogue in Elasticsearch: the `products` index's mapping (its `product_analyzer`,
// lowercase + snowball, comes from vers-integration.yaml), product documents, full-text search
// with typo tolerance and facets, and autocomplete through the completion suggester.
import { Client } from '@elastic/elasticsearch';

/** Price buckets of the price facet, in cents. */
export const PRICE_RANGES = [
  { key: 'under-50', to: 5000 },
  { key: '50-100', from: 5000, to: 10000 },
  { key: '100-200', from: 10000, to: 20000 },
  { key: '200-and-up', from: 20000 },
];

/** The mapping the app needs on the products index. */
export const PRODUCT_MAPPING = {
  properties: {
    sku: { type: 'keyword' },
    name: { type: 'text', analyzer: 'product_analyzer', fields: { raw: { type: 'keyword' } } },
    description: { type: 'text', analyzer: 'product_analyzer' },
    brand: { type: 'keyword', fields: { text: { type: 'text', analyzer: 'product_analyzer' } } },
    category: { type: 'keyword' },
    categories: { type: 'keyword' },
    kind: { type: 'keyword' },
    price_cents: { type: 'integer' },
    active: { type: 'boolean' },
    suggest: { type: 'completion' },
  },
};

/** An Elasticsearch client for `config.elasticsearchUrl`. */
export function createSearchClient(config) {
  return new Client({ node: config.elasticsearchUrl, requestTimeout: 10000 });
}

/** Puts the app's mapping on the index (idempotent). */
export async function ensureMapping(es, index) {
  await es.indices.putMapping({ index, ...PRODUCT_MAPPING });
}

/**
 * What autocomplete matches: the name and every run of its words that starts later
 * ("Trail Running Shoes", "Running Shoes", "Shoes"), plus the brand.
 */
export function suggestInputs(product) {
  const words = product.name.split(/\s+/).filter(Boolean);
  const inputs = words.map((_, i) => words.slice(i).join(' '));
  inputs.push(product.brand);
  return [...new Set(inputs)];
}

/** The search document of a product; `categoryPath` lists its category and every ancestor. */
export function toDocument(product, categoryPath) {
  return {
    sku: product.sku,
    name: product.name,
    description: product.description,
    brand: product.brand,
    category: product.category_slug,
    categories: categoryPath,
    kind: product.kind,
    price_cents: product.price_cents,
    active: product.active,
    suggest: { input: suggestInputs(product), weight: product.active ? 10 : 1 },
  };
}

/** Indexes (or replaces) a product; searchable when this returns. */
export async function indexProduct(es, index, product, categoryPath) {
  await es.index({ index, id: product.id, document: toDocument(product, categoryPath), refresh: 'wait_for' });
}

/** Removes a product from the index; false when it was not there. */
export async function removeProduct(es, index, id) {
  try {
    await es.delete({ index, id, refresh: 'wait_for' });
    return true;
  } catch (err) {
    if (err?.meta?.statusCode === 404) return false;
    throw err;
  }
}

/** Ids of every document in the index. */
export async function indexedIds(es, index) {
  const response = await es.search({ index, size: 1000, _source: false, query: { match_all: {} } });
  return response.hits.hits.map((h) => h._id);
}

function filters({ category, brand, kind, minPrice, maxPrice, includeInactive }) {
  const out = [];
  if (!includeInactive) out.push({ term: { active: true } });
  if (category) out.push({ term: { categories: category } });
  if (brand) out.push({ terms: { brand: Array.isArray(brand) ? brand : [brand] } });
  if (kind) out.push({ term: { kind } });
  if (minPrice !== undefined || maxPrice !== undefined) {
    const range = {};
    if (minPrice !== undefined) range.gte = Number(minPrice);
    if (maxPrice !== undefined) range.lt = Number(maxPrice);
    out.push({ range: { price_cents: range } });
  }
  return out;
}

/**
 * Full-text search over name (boosted), brand and description. `fuzzy` (default true) lets
 * each word be off by the edit distance Elasticsearch's AUTO allows, so "runing shoos" still
 * finds running shoes; exact matches score higher. Returns hits, the total and the facets of
 * the matching set (categories, brands, kinds, price ranges).
 */
export async function searchProducts(es, index, params = {}) {
  const { q = '', fuzzy = true, page = 1, size = 10 } = params;
  const text = q.trim();
  const must = text
    ? [{
        bool: {
          should: [
            { multi_match: { query: text, fields: ['name^3', 'brand.text^2', 'description'], operator: 'and' } },
            ...(fuzzy
              ? [{ multi_match: { query: text, fields: ['name^3', 'description'], operator: 'and', fuzziness: 'AUTO', prefix_length: 1 } }]
              : []),
          ],
          minimum_should_match: 1,
        },
      }]
    : [{ match_all: {} }];
  const response = await es.search({
    index,
    from: (Math.max(1, Number(page)) - 1) * Number(size),
    size: Number(size),
    query: { bool: { must, filter: filters(params) } },
    sort: text ? ['_score', { 'name.raw': 'asc' }] : [{ 'name.raw': 'asc' }],
    track_total_hits: true,
    aggs: {
      categories: { terms: { field: 'categories', size: 50 } },
      brands: { terms: { field: 'brand', size: 50 } },
      kinds: { terms: { field: 'kind' } },
      prices: { range: { field: 'price_cents', ranges: PRICE_RANGES } },
    },
  });
  const buckets = (agg) => Object.fromEntries(agg.buckets.map((b) => [b.key, b.doc_count]));
  return {
    total: response.hits.total.value,
    hits: response.hits.hits.map((h) => ({ id: h._id, score: h._score, ...h._source, suggest: undefined })),
    facets: {
      categories: buckets(response.aggregations.categories),
      brands: buckets(response.aggregations.brands),
      kinds: buckets(response.aggregations.kinds),
      prices: Object.fromEntries(response.aggregations.prices.buckets.map((b) => [b.key, b.doc_count])),
    },
  };
}

/** Autocomplete: up to `size` active product names whose words start with `prefix`. */
export async function suggest(es, index, prefix, { size = 5, fuzzy = false } = {}) {
  const completion = { field: 'suggest', size: size * 4 };
  if (fuzzy) completion.fuzzy = { fuzziness: 'AUTO' };
  const response = await es.search({
    index,
    _source: ['name', 'active'],
    suggest: { products: { prefix, completion } },
  });
  const names = [];
  for (const option of response.suggest.products[0].options) {
    if (option._source.active && !names.includes(option._source.name)) names.push(option._source.name);
  }
  return names.slice(0, size);
}
