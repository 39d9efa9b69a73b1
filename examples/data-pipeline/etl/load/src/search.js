// The search side of the loader: the official Elasticsearch client of the server's major
// (the seed's matrix runs elasticsearch 7 and 8), behind the few calls the pipeline needs.
import { Client as Client8 } from '@elastic/elasticsearch';
import { Client as Client7 } from '@elastic/elasticsearch7';

/** The seed's `ELASTICSEARCH_URL`. */
export const searchUrl = () => process.env.ELASTICSEARCH_URL ?? 'http://elasticsearch:9200';

/** The indices of the manifest, with the mappings of mappings/*.json. */
export const INDICES = { products: 'products', orders: 'orders', analytics: 'analytics' };

function notFound(err) {
  return err?.meta?.statusCode === 404 || err?.statusCode === 404;
}

/** Client 8: bodies are returned directly, request bodies are top-level keys. */
function adapter8(client) {
  return {
    major: 8,
    bulk: (operations) => client.bulk({ operations }),
    search: (index, body) => client.search({ index, ...body }),
    count: async (index, query) => (await client.count({ index, ...(query ? { query } : {}) })).count,
    refresh: (index) => client.indices.refresh({ index }),
    get: async (index, id) => {
      try {
        return (await client.get({ index, id }))._source;
      } catch (err) {
        if (notFound(err)) return null;
        throw err;
      }
    },
    mapping: async (index) => (await client.indices.getMapping({ index }))[index].mappings,
    close: () => client.close(),
  };
}

/** Client 7: responses are `{body}`, request bodies go under `body`. */
function adapter7(client) {
  return {
    major: 7,
    bulk: async (operations) => (await client.bulk({ body: operations })).body,
    search: async (index, body) => (await client.search({ index, body })).body,
    count: async (index, query) => (await client.count({ index, body: query ? { query } : {} })).body.count,
    refresh: (index) => client.indices.refresh({ index }),
    get: async (index, id) => {
      try {
        return (await client.get({ index, id })).body._source;
      } catch (err) {
        if (notFound(err)) return null;
        throw err;
      }
    },
    mapping: async (index) => (await client.indices.getMapping({ index })).body[index].mappings,
    close: () => client.close(),
  };
}

/** Connects with the client matching the server's major version. */
export async function connectSearch(url = searchUrl()) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url} answered ${res.status}`);
  const info = await res.json();
  const major = Number(String(info.version?.number ?? '').split('.')[0]);
  if (major === 7) return { ...adapter7(new Client7({ node: url })), version: info.version.number };
  if (major === 8) return { ...adapter8(new Client8({ node: url })), version: info.version.number };
  throw new Error(`${url} is Elasticsearch ${info.version?.number}: the pipeline speaks 7 and 8`);
}

/** Runs a bulk request and throws on any failed item. */
export async function bulkOrThrow(search, operations) {
  if (operations.length === 0) return;
  const res = await search.bulk(operations);
  if (res.errors) {
    const bad = res.items.map((i) => Object.values(i)[0]).filter((i) => i.error && !(i.status === 404 && i.result === 'not_found'));
    if (bad.length) throw new Error(`bulk: ${bad.length} failed, first: ${JSON.stringify(bad[0].error)}`);
  }
}
