// Suite `event-flow`: one event cascade per branch, followed hop by hop — the order-service's
// outbox publishes to order-events, inventory-service consumes it and writes MongoDB, its
// outcome goes to inventory-events (which order-service consumes) and its notification
// request to notification-events. The suite `depends_on` kafka and the three services (with
// their databases), so the branch runs neither notification-service nor MailHog: the request
// on notification-events is where this suite's cascade ends (the mails themselves are checked
// by service-integration and resilience, where every service runs).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  SEED,
  SERVICES,
  PURCHASING_EMAIL,
  api,
  eventOf,
  inventoryDb,
  notificationOf,
  scenario,
  selectScenarios,
  waitFor,
  watchTopics,
} from './support.js';

let topics;
let mongo;

before(async () => {
  topics = await watchTopics(['order-events', 'inventory-events', 'notification-events']);
  mongo = await inventoryDb();
});

after(async () => {
  await topics?.stop();
  await mongo?.client.close();
});

const userByEmail = async (email) => {
  const res = await api(SERVICES.user, 'GET', `/?email=${encodeURIComponent(email)}`);
  assert.equal(res.status, 200, `seeded user ${email} is missing: ${JSON.stringify(res.json)}`);
  return res.json;
};

const product = async (sku) => {
  const doc = await mongo.db.collection('products').findOne({ _id: sku });
  assert.ok(doc, `seeded product ${sku} is missing from MongoDB`);
  return doc;
};

async function placeOrder(email, items) {
  const user = await userByEmail(email);
  const res = await api(SERVICES.order, 'POST', '/', { userId: user.id, items });
  assert.equal(res.status, 201, JSON.stringify(res.json));
  assert.equal(res.json.status, 'pending');
  assert.equal(res.json.email, email);
  return res.json;
}

const orderStatus = async (id) => (await api(SERVICES.order, 'GET', `/${id}`)).json?.status;

async function waitForStatus(id, status) {
  await waitFor(`order ${id} ${status}`, async () => (await orderStatus(id)) === status, { timeoutMs: 60000 });
}

/** The partition Kafka keeps all of an order's events in: every hop must use the order's key. */
function sameKey(messages, orderId) {
  for (const m of messages) assert.equal(m.key, String(orderId), `${m.topic} ${m.event.type} keyed ${m.key}`);
}

const flows = {
  async 'order-created-flow'() {
    const items = [
      { sku: 'KB-101', quantity: 2 },
      { sku: 'MS-202', quantity: 1 },
    ];
    const before = { kb: await product('KB-101'), ms: await product('MS-202') };
    const order = await placeOrder('alice@example.com', items);

    // order-service → order-events
    const created = await topics.waitFor('OrderCreated', eventOf('order-events', 'OrderCreated', { orderId: order.id }));
    assert.equal(created.event.source, 'order-service');
    assert.deepEqual(created.event.data.items, items);
    assert.equal(created.event.data.email, 'alice@example.com');

    // inventory-service consumed it: the reservation and the stock in MongoDB
    const reservation = await waitFor('the reservation in MongoDB', () =>
      mongo.db.collection('reservations').findOne({ _id: order.id, status: 'reserved' }),
    );
    assert.deepEqual(reservation.applied.sort(), ['KB-101', 'MS-202']);
    const kb = await product('KB-101');
    const ms = await product('MS-202');
    assert.equal(kb.stock, before.kb.stock - 2);
    assert.equal(kb.reserved, before.kb.reserved + 2);
    assert.equal(ms.stock, before.ms.stock - 1);

    // → inventory-events, consumed by order-service
    const reserved = await topics.waitFor('InventoryReserved', eventOf('inventory-events', 'InventoryReserved', { orderId: order.id }));
    assert.equal(reserved.event.source, 'inventory-service');
    await waitForStatus(order.id, 'confirmed');

    // → notification-events: the confirmation for the customer
    const note = await topics.waitFor('the confirmation request', notificationOf('order-confirmed', 'alice@example.com', { orderId: order.id }));
    assert.deepEqual(note.event.data.data.items, items);
    sameKey([created, reserved], order.id);

    // Causality: each hop happened after the one before it.
    assert.ok(Date.parse(created.event.time) <= Date.parse(reserved.event.time));
    assert.ok(Date.parse(reserved.event.time) <= Date.parse(note.event.time));
    // Stock stayed above every reorder level: no alert.
    assert.equal(topics.find(eventOf('inventory-events', 'InventoryLow', { sku: 'KB-101' })).length, 0);
    // Exactly one reservation outcome for the order.
    assert.equal(topics.find((m) => m.topic === 'inventory-events' && m.event?.data.orderId === order.id).length, 1);
  },

  async 'order-cancelled-flow'() {
    const items = [{ sku: 'MN-303', quantity: 3 }];
    const start = await product('MN-303');
    const order = await placeOrder('bob@example.com', items);
    await waitForStatus(order.id, 'confirmed');
    assert.equal((await product('MN-303')).stock, start.stock - 3);

    const res = await api(SERVICES.order, 'POST', `/${order.id}/cancel`);
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal(res.json.status, 'cancelled');

    const cancelled = await topics.waitFor('OrderCancelled', eventOf('order-events', 'OrderCancelled', { orderId: order.id }));
    assert.deepEqual(cancelled.event.data.items, items);
    const reservation = await waitFor('the released reservation', () =>
      mongo.db.collection('reservations').findOne({ _id: order.id, status: 'released' }),
    );
    assert.deepEqual(reservation.items, items);
    const after = await product('MN-303');
    assert.equal(after.stock, start.stock, 'the cancelled order gave back its monitors');
    assert.equal(after.reserved, start.reserved);

    const released = await topics.waitFor('InventoryReleased', eventOf('inventory-events', 'InventoryReleased', { orderId: order.id }));
    assert.ok(Date.parse(cancelled.event.time) <= Date.parse(released.event.time));
    await topics.waitFor('the cancellation notice', notificationOf('order-cancelled', 'bob@example.com', { orderId: order.id }));

    // A cancelled order stays cancelled and cannot be cancelled twice.
    assert.equal((await api(SERVICES.order, 'POST', `/${order.id}/cancel`)).status, 409);
    assert.equal(await orderStatus(order.id), 'cancelled');
    assert.equal(topics.find(eventOf('order-events', 'OrderCancelled', { orderId: order.id })).length, 1);
  },

  async 'inventory-low-flow'() {
    const seeded = SEED.products.find((p) => p.sku === 'CB-404');
    const start = await product('CB-404');
    assert.ok(start.stock > start.reorderLevel, `CB-404 must start above its reorder level (stock ${start.stock})`);
    assert.equal(start.reorderLevel, seeded.reorderLevel);
    const quantity = start.stock - start.reorderLevel + 1; // lands one below the reorder level
    const order = await placeOrder('carol@example.com', [{ sku: 'CB-404', quantity }]);
    await waitForStatus(order.id, 'confirmed');

    // The alert, on inventory-events, and the reorder request for purchasing.
    const low = await topics.waitFor('InventoryLow', eventOf('inventory-events', 'InventoryLow', { sku: 'CB-404' }));
    assert.equal(low.event.data.stock, start.stock - quantity);
    assert.equal(low.event.data.reorderLevel, start.reorderLevel);
    assert.equal(low.key, 'CB-404');
    const reorder = await topics.waitFor('the reorder request', notificationOf('reorder', PURCHASING_EMAIL, { sku: 'CB-404' }));
    assert.equal(reorder.event.data.data.stock, start.stock - quantity);

    // Already below the level: the next order raises no second alert.
    const next = await placeOrder('carol@example.com', [{ sku: 'CB-404', quantity: 1 }]);
    await waitForStatus(next.id, 'confirmed');
    await topics.waitFor('the second reservation', eventOf('inventory-events', 'InventoryReserved', { orderId: next.id }));
    assert.equal(topics.find(eventOf('inventory-events', 'InventoryLow', { sku: 'CB-404' })).length, 1);

    // More than is left: rejected, nothing reserved, and the customer is told why.
    const left = (await product('CB-404')).stock;
    const tooMany = await placeOrder('carol@example.com', [{ sku: 'CB-404', quantity: left + 1 }]);
    await waitForStatus(tooMany.id, 'rejected');
    const rejected = await topics.waitFor('InventoryRejected', eventOf('inventory-events', 'InventoryRejected', { orderId: tooMany.id }));
    assert.equal(rejected.event.data.reason, `only ${left} of CB-404 left, ${left + 1} ordered`);
    assert.equal((await product('CB-404')).stock, left);
    assert.equal((await api(SERVICES.order, 'GET', `/${tooMany.id}`)).json.reason, rejected.event.data.reason);
    await topics.waitFor('the rejection notice', notificationOf('order-rejected', 'carol@example.com', { orderId: tooMany.id }));
  },
};

if (process.env.VERS_BRANCH) {
  test('the branch runs only what the suite depends on', async () => {
    // notification-service and MailHog are not among the suite's dependencies: not started.
    assert.equal((await api(SERVICES.notification, 'GET', '/health')).status, 0);
    assert.equal((await api('http://smtp:8025', 'GET', '/api/v2/messages')).status, 0);
    // A branch's Kafka consumer rejoins its group after the fork: healthy again within seconds.
    await waitFor('order-service healthy', async () => (await api(SERVICES.order, 'GET', '/health')).status === 200, { timeoutMs: 60000 });
  });
}

for (const name of selectScenarios(flows, scenario())) {
  test(name, { timeout: 180000 }, flows[name]);
}
