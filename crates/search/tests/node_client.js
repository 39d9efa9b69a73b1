// vers search judged by the official Node client (@elastic/elasticsearch 8).
// Usage: node node_client.js BASE_URL  (with the client installed in NODE_PATH)
'use strict';
const assert = require('assert');
const { Client, errors } = require('@elastic/elasticsearch');

async function main() {
  const client = new Client({ node: process.argv[2] });
  const info = await client.info();
  assert.ok(info.version.number.startsWith('8.'), JSON.stringify(info));

  await client.indices.create({
    index: 'catalog',
    settings: {
      analysis: {
        analyzer: { product_analyzer: { type: 'custom', tokenizer: 'standard', filter: ['lowercase', 'snowball'] } },
      },
    },
    mappings: {
      properties: {
        name: { type: 'text', analyzer: 'product_analyzer', fields: { keyword: { type: 'keyword' } } },
        category: { type: 'keyword' },
        price: { type: 'scaled_float', scaling_factor: 100 },
      },
    },
  });
  const bulk = await client.helpers.bulk({
    datasource: [
      { id: 'a', name: 'Running Shoe', category: 'shoes', price: 89.99 },
      { id: 'b', name: 'Trail running shoes', category: 'shoes', price: 119.5 },
      { id: 'c', name: 'Leather Boots', category: 'boots', price: 149 },
    ],
    onDocument: (doc) => ({ index: { _index: 'catalog', _id: doc.id } }),
    refresh: 'wait_for',
  });
  assert.strictEqual(bulk.successful, 3, JSON.stringify(bulk));

  const r = await client.search({
    index: 'catalog',
    query: { match: { name: 'runs shoes' } },
    aggs: { cats: { terms: { field: 'category' } } },
  });
  assert.deepStrictEqual(r.hits.hits.map((h) => h._id).sort(), ['a', 'b']);
  assert.deepStrictEqual(r.aggregations.cats.buckets.map((b) => [b.key, b.doc_count]), [['shoes', 2]]);

  const typo = await client.search({ index: 'catalog', query: { match: { name: { query: 'lether bots', fuzziness: 'AUTO' } } } });
  assert.deepStrictEqual(typo.hits.hits.map((h) => h._id), ['c']);

  await client.update({ index: 'catalog', id: 'c', doc: { price: 129 }, refresh: true });
  const c = await client.get({ index: 'catalog', id: 'c' });
  assert.strictEqual(c._source.price, 129);

  try {
    await client.get({ index: 'catalog', id: 'zzz' });
    assert.fail('missing document found');
  } catch (e) {
    assert.ok(e instanceof errors.ResponseError && e.meta.statusCode === 404, String(e));
  }
  const count = await client.count({ index: 'catalog' });
  assert.strictEqual(count.count, 3);
  console.log('node client checks passed');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
