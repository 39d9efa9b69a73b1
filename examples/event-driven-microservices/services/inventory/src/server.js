// inventory-service: products and reservations in MongoDB. It consumes order-events: an
// OrderCreated reserves every item (all or nothing) and an OrderCancelled releases them; each
// outcome is published to inventory-events (InventoryReserved / InventoryRejected /
// InventoryReleased, and InventoryLow when a product falls to its reorder level) with a
// NotificationRequested on notification-events. The events of an outcome are stored in its
// reservation document before they are published, so a redelivered order event publishes
// them again instead of reserving twice. Routes are relative: the gateway strips
// `/api/inventory`.
import {
  HttpError,
  TOPICS,
  connectProducer,
  createKafka,
  createServer,
  listen,
  onShutdown,
  retryUntil,
  startConsumer,
} from '@edm/events';
import { MongoClient } from 'mongodb';

import {
  crossedReorderLevel,
  orderItems,
  publicProduct,
  rejectedEvents,
  releasedEvents,
  reservedEvents,
  shortage,
  validateProduct,
} from './stock.js';

const SERVICE = 'inventory-service';
const PURCHASING_EMAIL = process.env.PURCHASING_EMAIL ?? 'purchasing@example.com';

const mongo = new MongoClient(process.env.MONGODB_URL ?? 'mongodb://mongodb-inventory/inventory', {
  serverSelectionTimeoutMS: 5000,
});
await retryUntil('mongodb-inventory', () => mongo.connect());
const db = mongo.db();
const products = db.collection('products');
const reservations = db.collection('reservations');

const kafka = createKafka(SERVICE);
const publisher = await retryUntil('kafka producer', () => connectProducer(kafka));

/** Publishes the stored events of reservation `orderId` unless they already were. */
async function publishOutcome(orderId) {
  const doc = await reservations.findOne({ _id: orderId });
  if (!doc || doc.published || !doc.outbox?.length) return;
  await publisher.publishAll(doc.outbox);
  await reservations.updateOne({ _id: orderId }, { $set: { published: true, publishedAt: new Date() } });
}

async function restore(items, skus) {
  for (const sku of skus) {
    const quantity = items.find((i) => i.sku === sku).quantity;
    await products.updateOne({ _id: sku }, { $inc: { stock: quantity, reserved: -quantity }, $set: { updatedAt: new Date() } });
  }
}

async function onOrderCreated(event) {
  const items = orderItems(event.data);
  const order = { orderId: event.data.orderId, email: event.data.email, items };
  try {
    await reservations.insertOne({
      _id: order.orderId,
      status: 'reserving',
      email: order.email,
      items,
      applied: [],
      published: false,
      createdAt: new Date(),
    });
  } catch (err) {
    if (err.code !== 11000) throw err; // already seen: finish what was started
  }
  const res = await reservations.findOne({ _id: order.orderId });
  if (res.status === 'reserving') {
    const applied = [...res.applied];
    const low = [];
    let outcome = null;
    for (const item of items) {
      if (applied.includes(item.sku)) continue;
      const before = await products.findOneAndUpdate(
        { _id: item.sku, stock: { $gte: item.quantity } },
        { $inc: { stock: -item.quantity, reserved: item.quantity }, $set: { updatedAt: new Date() } },
        { returnDocument: 'before' },
      );
      if (!before) {
        await restore(items, applied);
        const reason = shortage(item.sku, item.quantity, await products.findOne({ _id: item.sku }));
        outcome = { status: 'rejected', reason, applied: [], outbox: rejectedEvents(order, item.sku, reason) };
        break;
      }
      applied.push(item.sku);
      await reservations.updateOne({ _id: order.orderId }, { $push: { applied: item.sku } });
      const stockAfter = before.stock - item.quantity;
      if (crossedReorderLevel(before.stock, stockAfter, before.reorderLevel)) {
        low.push({ ...publicProduct(before), stock: stockAfter });
      }
    }
    outcome ??= { status: 'reserved', outbox: reservedEvents(order, low, PURCHASING_EMAIL) };
    await reservations.updateOne(
      { _id: order.orderId, status: 'reserving' },
      { $set: { ...outcome, updatedAt: new Date() } },
    );
  }
  await publishOutcome(order.orderId);
}

async function onOrderCancelled(event) {
  const items = orderItems(event.data);
  const order = { orderId: event.data.orderId, email: event.data.email, items };
  const claimed = await reservations.findOneAndUpdate(
    { _id: order.orderId, status: 'reserved' },
    { $set: { status: 'releasing', updatedAt: new Date() } },
  );
  if (claimed) {
    await restore(items, claimed.applied);
  }
  if (claimed || (await reservations.findOne({ _id: order.orderId, status: 'releasing' }))) {
    await reservations.updateOne(
      { _id: order.orderId },
      { $set: { status: 'released', published: false, outbox: releasedEvents(order), updatedAt: new Date() } },
    );
  }
  await publishOutcome(order.orderId);
}

const consumer = await retryUntil('kafka consumer', () =>
  startConsumer({
    kafka,
    groupId: SERVICE,
    topics: [TOPICS.orders],
    publisher,
    handle: async (event) => {
      if (event.type === 'OrderCreated') await onOrderCreated(event);
      else if (event.type === 'OrderCancelled') await onOrderCancelled(event);
    },
  }),
);

async function health() {
  const mongoCheck = await db.command({ ping: 1 }).then(() => 'ok', (e) => e.message);
  const consumerCheck = consumer.state.joined ? 'ok' : (consumer.state.lastError ?? 'joining');
  const ok = mongoCheck === 'ok' && consumerCheck === 'ok';
  return {
    status: ok ? 200 : 503,
    body: {
      service: SERVICE,
      status: ok ? 'ok' : 'degraded',
      checks: { mongodb: mongoCheck, consumer: consumerCheck },
      consumed: consumer.state.handled,
      deadLettered: consumer.state.deadLettered,
    },
  };
}

const server = createServer([
  ['GET', '/health', health],
  [
    'GET',
    '/',
    async () => ({ body: (await products.find().sort({ _id: 1 }).toArray()).map(publicProduct) }),
  ],
  [
    'POST',
    '/',
    async ({ body }) => {
      const p = validateProduct(body);
      const result = await products.updateOne(
        { _id: p.sku },
        { $set: { name: p.name, stock: p.stock, reorderLevel: p.reorderLevel, updatedAt: new Date() }, $setOnInsert: { reserved: 0 } },
        { upsert: true },
      );
      const doc = await products.findOne({ _id: p.sku });
      return { status: result.upsertedCount ? 201 : 200, body: publicProduct(doc) };
    },
  ],
  [
    'GET',
    '/reservations/:orderId',
    async ({ params }) => {
      const doc = await reservations.findOne({ _id: Number(params.orderId) });
      if (!doc) throw new HttpError(404, `no reservation for order ${params.orderId}`);
      const { _id, outbox, ...rest } = doc;
      return { body: { orderId: _id, ...rest, events: (outbox ?? []).map((r) => r.event.type) } };
    },
  ],
  [
    'GET',
    '/:sku',
    async ({ params }) => {
      const doc = await products.findOne({ _id: params.sku.toUpperCase() });
      if (!doc) throw new HttpError(404, `no product ${params.sku}`);
      return { body: publicProduct(doc) };
    },
  ],
]);

const { host, port } = await listen(server);
console.log(`${SERVICE} listening on ${host}:${port}`);
onShutdown(async () => {
  server.close();
  await consumer.stop().catch(() => {});
  await publisher.disconnect().catch(() => {});
  await mongo.close().catch(() => {});
});
