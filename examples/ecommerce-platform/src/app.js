// The HTTP API (node:http, JSON in and out). Errors are `{error: {code, message, details}}`
// with the status of the HttpError, 500 otherwise.
import http from 'node:http';
import * as carts from './cart.js';
import * as catalog from './catalog.js';
import { recordEvent } from './db.js';
import { badRequest, HttpError, notFound } from './errors.js';
import { downloads, ship } from './fulfillment.js';
import * as inventory from './inventory.js';
import * as orders from './orders.js';
import { checkPromo, quote, shippingRates } from './pricing.js';
import { searchProducts, suggest } from './search.js';

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  if (chunks.length === 0) return {};
  try {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new Error('not an object');
    return body;
  } catch {
    throw badRequest('invalid_json', 'the body must be a JSON object');
  }
}

/** Route table: [method, pattern, handler(ctx, {params, query, body})]. */
function routes() {
  const r = [];
  const add = (method, path, handler) => {
    const names = [];
    const pattern = new RegExp(`^${path.replace(/:(\w+)/g, (_, n) => { names.push(n); return '([^/]+)'; })}$`);
    r.push({ method, pattern, names, handler });
  };

  add('GET', '/health', async (ctx) => health(ctx));

  add('GET', '/categories', async (ctx) => ({ categories: await catalog.categoryTree(ctx) }));
  add('POST', '/categories', async (ctx, { body }) => [201, await catalog.createCategory(ctx, body)]);
  add('PATCH', '/categories/:slug', async (ctx, { params, body }) => catalog.updateCategory(ctx, params.slug, body));
  add('DELETE', '/categories/:slug', async (ctx, { params }) => { await catalog.deleteCategory(ctx, params.slug); return [204, null]; });
  add('GET', '/categories/:slug/products', async (ctx, { params }) => ({ products: await catalog.categoryProducts(ctx, params.slug) }));

  add('GET', '/products', async (ctx, { query }) => ({ products: await catalog.listProducts(ctx, { category: query.get('category') }) }));
  add('POST', '/products', async (ctx, { body }) => [201, await catalog.createProduct(ctx, body)]);
  add('GET', '/products/:id', async (ctx, { params }) => catalog.getProduct(ctx, params.id));
  add('PATCH', '/products/:id', async (ctx, { params, body }) => catalog.updateProduct(ctx, params.id, body));
  add('DELETE', '/products/:id', async (ctx, { params }) => catalog.deleteProduct(ctx, params.id));
  add('POST', '/products/:id/image-upload', async (ctx, { params, body }) => catalog.imageUpload(ctx, params.id, body.content_type));
  add('GET', '/products/:id/image', async (ctx, { params }) => catalog.imageUrl(ctx, params.id));

  add('GET', '/search', async (ctx, { query }) => {
    const params = {
      q: query.get('q') ?? '',
      category: query.get('category') ?? undefined,
      brand: query.getAll('brand').length ? query.getAll('brand') : undefined,
      kind: query.get('kind') ?? undefined,
      minPrice: query.get('min_price') ?? undefined,
      maxPrice: query.get('max_price') ?? undefined,
      page: Number(query.get('page') ?? 1),
      size: Math.min(50, Number(query.get('size') ?? 10)),
      fuzzy: query.get('fuzzy') !== 'false',
    };
    const result = await searchProducts(ctx.es, ctx.config.productsIndex, params);
    await recordEvent(ctx.pools, 'search', { q: params.q, total: result.total });
    return result;
  });
  add('GET', '/search/suggest', async (ctx, { query }) => ({
    suggestions: await suggest(ctx.es, ctx.config.productsIndex, query.get('prefix') ?? '', { fuzzy: query.get('fuzzy') === 'true' }),
  }));
  add('POST', '/admin/reindex', async (ctx) => catalog.reindexAll(ctx));

  add('GET', '/inventory', async (ctx, { query }) => ({ low_stock: await inventory.lowStock(ctx, Number(query.get('below') ?? 5)) }));
  add('GET', '/inventory/:sku', async (ctx, { params }) => {
    const level = await inventory.getStock(ctx, params.sku);
    if (!level) throw notFound(`stock of ${params.sku}`);
    return level;
  });
  add('POST', '/inventory/:sku/adjustments', async (ctx, { params, body }) => [201, await inventory.adjust(ctx, params.sku, body.delta, body.reason, body.ref ?? null)]);
  add('GET', '/inventory/:sku/movements', async (ctx, { params }) => ({ movements: await inventory.movements(ctx, params.sku) }));
  add('POST', '/inventory/reservations', async (ctx, { body }) => {
    if (typeof body.ref !== 'string' || !Array.isArray(body.items)) throw badRequest('invalid_reservation', 'give ref and items');
    return [201, { ref: body.ref, held: await inventory.reserve(ctx, body.ref, body.items) }];
  });
  add('POST', '/inventory/reservations/:ref/release', async (ctx, { params }) => ({ released: await inventory.release(ctx, params.ref) }));

  add('GET', '/shipping-rates', async (ctx) => ({ shipping_rates: await shippingRates(ctx) }));

  add('POST', '/carts', async (ctx) => [201, await carts.getCart(ctx, await carts.createCart(ctx))]);
  add('GET', '/carts/:id', async (ctx, { params }) => carts.getCart(ctx, params.id));
  add('POST', '/carts/:id/items', async (ctx, { params, body }) => carts.addItem(ctx, params.id, body.sku, body.quantity ?? 1));
  add('PATCH', '/carts/:id/items/:sku', async (ctx, { params, body }) => carts.setQuantity(ctx, params.id, params.sku, body.quantity));
  add('DELETE', '/carts/:id/items/:sku', async (ctx, { params }) => carts.removeItem(ctx, params.id, params.sku));
  add('PUT', '/carts/:id/promo', async (ctx, { params, body }) => {
    const cart = await carts.getCart(ctx, params.id);
    const user = body.email ? await orders.userByEmail(ctx, body.email) : null;
    const promo = await checkPromo(ctx, body.code ?? '', cart.subtotal_cents, user?.id ?? null);
    await carts.setPromo(ctx, params.id, promo.code);
    return carts.getCart(ctx, params.id);
  });
  add('DELETE', '/carts/:id/promo', async (ctx, { params }) => { await carts.clearPromo(ctx, params.id); return carts.getCart(ctx, params.id); });
  add('POST', '/carts/:id/quote', async (ctx, { params, body }) => {
    const cart = await carts.getCart(ctx, params.id);
    const user = body.email ? await orders.userByEmail(ctx, body.email) : null;
    return quote(ctx, {
      lines: cart.lines,
      promoCode: body.promo_code ?? cart.promo_code,
      userId: user?.id ?? null,
      shippingRateId: body.shipping_rate ?? null,
      address: body.address ?? user?.address,
    });
  });

  add('POST', '/checkout', async (ctx, { body }) => {
    const result = await orders.checkout(ctx, body);
    return [result.status === 'paid' ? 201 : 202, result];
  });
  add('GET', '/checkout/return', async (ctx, { query }) => orders.completeReturn(ctx, query.get('payment_intent')));

  add('GET', '/orders', async (ctx, { query }) => ({ orders: await orders.listOrders(ctx, query.get('email')) }));
  add('GET', '/orders/:id', async (ctx, { params }) => orders.getOrder(ctx, params.id));
  add('GET', '/orders/:id/invoice', async (ctx, { params }) => orders.orderInvoice(ctx, params.id));
  add('GET', '/orders/:id/downloads', async (ctx, { params }) => {
    await orders.getOrder(ctx, params.id);
    return { downloads: await downloads(ctx, params.id) };
  });
  add('POST', '/orders/:id/shipments', async (ctx, { params, body }) => [201, await ship(ctx, params.id, body)]);
  return r;
}

async function health(ctx) {
  const checks = {};
  const probe = async (name, fn) => {
    try {
      await fn();
      checks[name] = 'ok';
    } catch (err) {
      checks[name] = `error: ${err.message}`;
    }
  };
  await Promise.all([
    probe('postgres', () => ctx.pools.ecommerce.query('SELECT 1')),
    probe('redis', () => ctx.redis.ping()),
    probe('elasticsearch', () => ctx.es.ping()),
    probe('stripe', () => ctx.stripe.shippingRates.list({ limit: 1 })),
  ]);
  const ok = Object.values(checks).every((v) => v === 'ok');
  return [ok ? 200 : 503, { ok, checks }];
}

function send(res, status, body) {
  if (body === null) {
    res.writeHead(status).end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}

/** The HTTP server over `ctx` ({config, pools, redis, es, s3, stripe, mailer}); not yet listening. */
export function createApp(ctx) {
  const table = routes();
  return http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://app');
    try {
      const candidates = table.filter((r) => r.pattern.test(url.pathname));
      if (candidates.length === 0) throw notFound(`route ${url.pathname}`);
      const route = candidates.find((r) => r.method === req.method);
      if (!route) throw new HttpError(405, 'method_not_allowed', `${req.method} ${url.pathname} is not allowed`);
      const match = route.pattern.exec(url.pathname);
      const params = Object.fromEntries(route.names.map((n, i) => [n, decodeURIComponent(match[i + 1])]));
      const body = ['POST', 'PUT', 'PATCH'].includes(req.method) ? await readJson(req) : {};
      const out = await route.handler(ctx, { params, query: url.searchParams, body });
      if (Array.isArray(out)) send(res, out[0], out[1]);
      else send(res, 200, out);
    } catch (err) {
      if (err instanceof HttpError) {
        send(res, err.status, { error: { code: err.code, message: err.message, details: err.details } });
      } else {
        console.error(`${req.method} ${url.pathname}: ${err.stack ?? err}`);
        send(res, 500, { error: { code: 'internal', message: err.message } });
      }
    }
  });
}
