// order-service: takes orders (checking the customer with user-service), writes each with its
// OrderCreated event in one transaction (the outbox relay publishes it to order-events), moves
// orders to confirmed/rejected as inventory-events arrive, and cancels them (OrderCancelled).
// Idempotency-Key headers are remembered in Redis. Routes are relative: the gateway strips
// `/api/orders`.
import {
  HttpError,
  TOPICS,
  connectProducer,
  createKafka,
  createServer,
  enqueue,
  listen,
  makeEvent,
  onShutdown,
  pendingCount,
  retryUntil,
  startConsumer,
  startRelay,
} from '@edm/events';
import Redis from 'ioredis';

import { createPool, migrate } from './db.js';
import { STATUS, canCancel, idempotencyKey, nextStatus, publicOrder, validateNewOrder } from './orders.js';

const SERVICE = 'order-service';
const USER_SERVICE_URL = process.env.USER_SERVICE_URL ?? 'http://user-service:3000';
const IDEMPOTENCY_TTL_S = 24 * 3600;

const pool = createPool(process.env.DATABASE_URL ?? 'postgres://postgres@postgres-orders/orders');
const redis = new Redis(process.env.REDIS_URL ?? 'redis://redis:6379', {
  maxRetriesPerRequest: 1,
  connectTimeout: 2000,
  commandTimeout: 1000,
});
redis.on('error', () => {});
const kafka = createKafka(SERVICE);

await retryUntil('postgres-orders', () => migrate(pool));
const publisher = await retryUntil('kafka producer', () => connectProducer(kafka));
const relay = startRelay({ pool, publisher });

/** The customer, from user-service: 422 when there is no such user, 503 when it cannot say. */
async function customer(userId) {
  let res;
  try {
    res = await fetch(`${USER_SERVICE_URL}/${userId}`, { signal: AbortSignal.timeout(5000) });
  } catch (err) {
    throw new HttpError(503, `user-service unreachable: ${err.message}`);
  }
  if (res.status === 404) throw new HttpError(422, `no user ${userId}`);
  if (!res.ok) throw new HttpError(503, `user-service answered ${res.status}`);
  return res.json();
}

async function getOrder(id) {
  const { rows } = await pool.query('SELECT * FROM orders WHERE id = $1', [id]);
  return rows[0] ? publicOrder(rows[0]) : null;
}

/** Claims an idempotency key: null when new, else the order id it already made. */
async function claimKey(key) {
  let claimed;
  try {
    claimed = await redis.set(`idem:${key}`, 'pending', 'EX', IDEMPOTENCY_TTL_S, 'NX');
  } catch (err) {
    throw new HttpError(503, `cannot check Idempotency-Key (redis: ${err.message})`);
  }
  if (claimed === 'OK') return null;
  const value = await redis.get(`idem:${key}`);
  if (value === 'pending') throw new HttpError(409, 'a request with this Idempotency-Key is in progress');
  return Number(value);
}

async function placeOrder({ body, headers }) {
  const input = validateNewOrder(body);
  const key = idempotencyKey(headers);
  if (key) {
    const existing = await claimKey(key);
    if (existing) return { status: 200, body: await getOrder(existing), headers: { 'idempotent-replay': 'true' } };
  }
  try {
    const user = await customer(input.userId);
    const client = await pool.connect();
    let order;
    try {
      await client.query('BEGIN');
      const { rows } = await client.query(
        'INSERT INTO orders (user_id, email, status, items) VALUES ($1, $2, $3, $4) RETURNING *',
        [user.id, user.email, STATUS.pending, JSON.stringify(input.items)],
      );
      order = publicOrder(rows[0]);
      const event = makeEvent('OrderCreated', SERVICE, {
        orderId: order.id,
        userId: order.userId,
        email: order.email,
        items: order.items,
      });
      await enqueue(client, TOPICS.orders, event, order.id);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
    relay.kick();
    if (key) await redis.set(`idem:${key}`, String(order.id), 'EX', IDEMPOTENCY_TTL_S).catch(() => {});
    return { status: 201, body: order };
  } catch (err) {
    if (key) await redis.del(`idem:${key}`).catch(() => {});
    throw err;
  }
}

async function cancelOrder({ params }) {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query('SELECT * FROM orders WHERE id = $1 FOR UPDATE', [params.id]);
    if (rows.length === 0) throw new HttpError(404, `no order ${params.id}`);
    const order = publicOrder(rows[0]);
    if (!canCancel(order.status)) throw new HttpError(409, `order ${order.id} is ${order.status}`);
    const updated = await client.query(
      "UPDATE orders SET status = 'cancelled', updated_at = now() WHERE id = $1 RETURNING *",
      [order.id],
    );
    const event = makeEvent('OrderCancelled', SERVICE, {
      orderId: order.id,
      userId: order.userId,
      email: order.email,
      items: order.items,
    });
    await enqueue(client, TOPICS.orders, event, order.id);
    await client.query('COMMIT');
    relay.kick();
    return { body: publicOrder(updated.rows[0]) };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

/** inventory-events: a reservation confirms a pending order, a rejection rejects it. */
async function onInventoryEvent(event) {
  const { orderId } = event.data;
  if (orderId === undefined) return; // InventoryLow is about a product, not an order.
  const { rows } = await pool.query('SELECT status FROM orders WHERE id = $1', [orderId]);
  if (rows.length === 0) {
    const err = new Error(`${event.type} for unknown order ${orderId}`);
    err.permanent = true;
    throw err;
  }
  const status = nextStatus(rows[0].status, event.type);
  if (!status) return;
  await pool.query(
    'UPDATE orders SET status = $2, reason = $3, updated_at = now() WHERE id = $1 AND status = $4',
    [orderId, status, event.data.reason ?? null, rows[0].status],
  );
}

const consumer = await retryUntil('kafka consumer', () =>
  startConsumer({ kafka, groupId: SERVICE, topics: [TOPICS.inventory], handle: onInventoryEvent, publisher }),
);

async function health() {
  const checks = {};
  checks.postgres = await pool.query('SELECT 1').then(() => 'ok', (e) => e.message);
  checks.redis = await redis.ping().then(() => 'ok', (e) => e.message);
  checks.consumer = consumer.state.joined ? 'ok' : (consumer.state.lastError ?? 'joining');
  checks.outbox = relay.state.lastError ?? 'ok';
  const outboxPending = checks.postgres === 'ok' ? await pendingCount(pool).catch(() => null) : null;
  const ok = checks.postgres === 'ok' && checks.consumer === 'ok';
  return {
    status: ok ? 200 : 503,
    body: { service: SERVICE, status: ok ? 'ok' : 'degraded', checks, outboxPending, published: relay.state.published, consumed: consumer.state.handled },
  };
}

const server = createServer([
  ['GET', '/health', health],
  ['POST', '/', placeOrder],
  [
    'GET',
    '/',
    async ({ query }) => {
      const userId = Number(query.get('userId'));
      if (!Number.isSafeInteger(userId) || userId <= 0) throw new HttpError(400, 'give ?userId=');
      const { rows } = await pool.query('SELECT * FROM orders WHERE user_id = $1 ORDER BY id', [userId]);
      return { body: rows.map(publicOrder) };
    },
  ],
  [
    'GET',
    '/:id',
    async ({ params }) => {
      if (!/^[1-9][0-9]{0,17}$/.test(params.id)) throw new HttpError(404, `no order ${params.id}`);
      const order = await getOrder(params.id);
      if (!order) throw new HttpError(404, `no order ${params.id}`);
      return { body: order };
    },
  ],
  ['POST', '/:id/cancel', cancelOrder],
]);

const { host, port } = await listen(server);
console.log(`${SERVICE} listening on ${host}:${port}`);
onShutdown(async () => {
  relay.stop();
  server.close();
  await consumer.stop().catch(() => {});
  await publisher.disconnect().catch(() => {});
  await pool.end().catch(() => {});
  redis.disconnect();
});
