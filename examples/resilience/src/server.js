// The order service (`npm start`): node:http routes over PostgreSQL, Redis and Stripe.
// No dependency failure becomes a 500: reads fall back from the cache to the database,
// orders are kept with payment `pending` when Stripe fails, and a database outage is a
// 503 with Retry-After.
import http from 'node:http';

import { createDeps, loadConfig, retries } from './deps.js';
import { BreakerOpenError } from './resilience.js';

function send(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

async function readJson(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : {};
}

function unavailable(res, err, breaker) {
  const retryAfter = Math.ceil(breaker.cooldownMs / 1000);
  send(
    res,
    503,
    {
      error: 'database unavailable',
      detail: err.message,
      circuit: breaker.current(),
      short_circuited: err instanceof BreakerOpenError,
    },
    { 'retry-after': String(retryAfter) },
  );
}

export function createApp(deps) {
  const { breakers } = deps;

  async function chargeAndRecord(order) {
    let payment;
    try {
      payment = await deps.charge(order);
    } catch (err) {
      // Stripe is failing: keep the order, settle the payment later.
      return { order, stripe: { error: err.message } };
    }
    if (payment.declined) {
      const { rows } = await deps.query(
        "update orders set payment = 'declined' where id = $1 returning *",
        [order.id],
      );
      return { order: rows[0], stripe: payment };
    }
    const { rows } = await deps.query(
      "update orders set payment = 'charged', payment_intent = $2 where id = $1 returning *",
      [order.id, payment.id],
    );
    return { order: rows[0], stripe: payment };
  }

  async function createOrder(req, res) {
    const body = await readJson(req);
    const amount = Number(body.amount);
    if (!body.item || !Number.isInteger(amount) || amount <= 0) {
      return send(res, 400, { error: 'item and a positive integer amount are required' });
    }
    let order;
    try {
      const { rows } = await deps.query(
        "insert into orders(item, amount, payment) values ($1, $2, 'pending') returning *",
        [body.item, amount],
      );
      order = rows[0];
    } catch (err) {
      return unavailable(res, err, breakers.postgres);
    }
    let result;
    try {
      result = await chargeAndRecord(order);
    } catch (err) {
      // The order is stored; only recording the charge failed.
      result = { order, stripe: { error: err.message } };
    }
    const cached = await deps.cacheSet(`order:${order.id}`, JSON.stringify(result.order));
    const degraded = [];
    if (result.order.payment === 'pending') degraded.push('payment pending');
    if (!cached) degraded.push('not cached');
    send(res, 201, { order: result.order, stripe: result.stripe, cached, degraded });
  }

  async function getOrder(res, id) {
    const hit = await deps.cacheGet(`order:${id}`);
    if (hit) return send(res, 200, { order: JSON.parse(hit), source: 'cache' });
    let rows;
    try {
      ({ rows } = await deps.query('select * from orders where id = $1', [id]));
    } catch (err) {
      return unavailable(res, err, breakers.postgres);
    }
    if (rows.length === 0) return send(res, 404, { error: `no order ${id}` });
    await deps.cacheSet(`order:${id}`, JSON.stringify(rows[0]));
    send(res, 200, { order: rows[0], source: 'db' });
  }

  async function settle(res) {
    let rows;
    try {
      ({ rows } = await deps.query("select * from orders where payment = 'pending' order by id"));
    } catch (err) {
      return unavailable(res, err, breakers.postgres);
    }
    const settled = [];
    const pending = [];
    for (const order of rows) {
      const result = await chargeAndRecord(order).catch((err) => ({
        order,
        stripe: { error: err.message },
      }));
      (result.order.payment === 'pending' ? pending : settled).push(order.id);
      if (result.order.payment !== 'pending') {
        await deps.cacheSet(`order:${order.id}`, JSON.stringify(result.order));
      }
    }
    send(res, 200, { settled, pending });
  }

  function health(res) {
    const report = Object.fromEntries(
      Object.entries(breakers).map(([name, b]) => [name, b.report()]),
    );
    const degraded = Object.values(report).some((b) => b.state !== 'closed');
    send(res, 200, { status: degraded ? 'degraded' : 'ok', breakers: report, retries });
  }

  return http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://app');
    const orderId = url.pathname.match(/^\/orders\/(\d+)$/);
    try {
      if (req.method === 'GET' && url.pathname === '/health') return health(res);
      if (req.method === 'POST' && url.pathname === '/orders') return await createOrder(req, res);
      if (req.method === 'GET' && orderId) return await getOrder(res, Number(orderId[1]));
      if (req.method === 'POST' && url.pathname === '/payments/settle') return await settle(res);
      send(res, 404, { error: `no route ${req.method} ${url.pathname}` });
    } catch (err) {
      console.error(`${req.method} ${url.pathname}: ${err.stack ?? err}`);
      send(res, 500, { error: err.message });
    }
  });
}

async function main() {
  const config = loadConfig();
  const deps = createDeps(config);
  await deps.connect();
  const server = createApp(deps);
  server.listen(config.port, config.host, () => {
    console.log(`resilience listening on http://${config.host}:${config.port}`);
  });
  const stop = (signal) => {
    console.log(`resilience: ${signal}, shutting down`);
    server.close();
    server.closeAllConnections();
    deps.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err) => {
    console.error(`resilience failed to start: ${err.stack ?? err}`);
    process.exit(1);
  });
}
