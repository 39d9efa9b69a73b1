// Suite `service-integration`: one service per branch (TEST_SERVICE), driven through the Kong
// gateway with every service of the stack running, and followed into its database, its
// topics and, at the end of each cascade, the mail MailHog received.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { createKafka } from '@edm/events';

import {
  GATEWAY,
  PURCHASING_EMAIL,
  ROUTES,
  SEED,
  api,
  eventOf,
  freshEmail,
  inventoryDb,
  mailhog,
  postgres,
  redis,
  scenario,
  selectScenarios,
  waitFor,
  watchTopics,
} from './support.js';

const mail = mailhog();
let topics;

before(async () => {
  topics = await watchTopics(['user-events', 'order-events', 'inventory-events', 'notification-events', 'dead-letter']);
});
after(() => topics?.stop());

const gw = (service, method, path = '', body, headers) => api(GATEWAY, method, `${ROUTES[service]}${path}`, body, headers);

const seededUser = async (email) => {
  const res = await gw('user', 'GET', `/?email=${encodeURIComponent(email)}`);
  assert.equal(res.status, 200, `seeded user ${email}: ${JSON.stringify(res.json)}`);
  return res.json;
};

/** The one mail to `to` with `subject`, proven to be the mail of event `eventId`. */
async function mailOfEvent(to, subject, eventId) {
  const mails = await mail.waitFor(to, subject);
  // At-least-once delivery may repeat a mail, but every copy is the same event's.
  assert.deepEqual([...new Set(mails.map((m) => m.messageId))], [`<${eventId}@notification-service>`]);
  return mails[0];
}

async function orderAndWait(userId, items, status, headers) {
  const res = await gw('order', 'POST', '', { userId, items }, headers);
  assert.equal(res.status, 201, JSON.stringify(res.json));
  await waitFor(`order ${res.json.id} ${status}`, async () => (await gw('order', 'GET', `/${res.json.id}`)).json?.status === status, { timeoutMs: 60000 });
  return res.json;
}

const services = {
  async user() {
    const email = freshEmail('dora');
    const users = await postgres('postgres-users', 'users');
    try {
      const before = Number((await users.query('SELECT count(*) FROM users')).rows[0].count);
      assert.equal(before, SEED.users.length, 'the branch starts with the seeded users only');

      const made = await gw('user', 'POST', '', { email: email.toUpperCase(), name: 'Dora Diaz' });
      assert.equal(made.status, 201, JSON.stringify(made.json));
      assert.equal(made.json.email, email);
      assert.equal((await gw('user', 'POST', '', { email, name: 'Again' })).status, 409);
      assert.equal((await gw('user', 'POST', '', { email: 'not-an-address', name: 'X' })).status, 400);
      const { rows } = await users.query('SELECT name FROM users WHERE email = $1', [email]);
      assert.deepEqual(rows, [{ name: 'Dora Diaz' }]);

      // Reads go through Redis: a miss, then hits, and the cached copy is in Redis.
      const first = await gw('user', 'GET', `/${made.json.id}`);
      assert.equal(first.status, 200);
      const second = await gw('user', 'GET', `/${made.json.id}`);
      assert.equal(second.headers.get('x-cache'), 'hit');
      const r = redis();
      try {
        assert.equal(JSON.parse(await r.get(`user:${made.json.id}`)).email, email);
      } finally {
        r.disconnect();
      }

      // Kong spreads requests over both replicas of user-service.
      const instances = new Set();
      for (let i = 0; i < 8; i += 1) instances.add((await gw('user', 'GET', `/${made.json.id}`)).headers.get('x-instance'));
      assert.equal(instances.size, 2, `replicas that answered: ${[...instances].join(', ')}`);

      // user-events → notification-service → MailHog
      const registered = await topics.waitFor('UserRegistered', eventOf('user-events', 'UserRegistered', { userId: made.json.id }));
      assert.equal(registered.key, String(made.json.id));
      const welcome = await mailOfEvent(email, 'Welcome to Event Shop, Dora Diaz', registered.event.id);
      assert.match(welcome.text, new RegExp(`your account ${email} is ready`));

      // Kong's answer for a path no route matches.
      const nowhere = await api(GATEWAY, 'GET', '/api/nowhere');
      assert.equal(nowhere.status, 404);
      assert.deepEqual(nowhere.json, { message: 'no Route matched with those values' });
    } finally {
      await users.end();
    }
  },

  async order() {
    const alice = await seededUser('alice@example.com');
    const orders = await postgres('postgres-orders', 'orders');
    try {
      const seeded = await gw('order', 'GET', `/?userId=${alice.id}`);
      assert.equal(seeded.status, 200);
      assert.deepEqual(seeded.json.map((o) => o.status), ['confirmed'], 'alice has her seeded order');

      // The whole cascade, ending in the customer's mailbox.
      const order = await orderAndWait(alice.id, [{ sku: 'KB-101', quantity: 1 }], 'confirmed');
      const note = await topics.waitFor('the confirmation request', (m) => m.event?.type === 'NotificationRequested' && m.event.data.data?.orderId === order.id);
      const confirmed = await mailOfEvent('alice@example.com', `Order #${order.id} confirmed`, note.event.id);
      assert.match(confirmed.text, /1 x KB-101/);

      // The outbox row of the order was published.
      const { rows } = await orders.query("SELECT published_at FROM outbox WHERE event->'data'->>'orderId' = $1", [String(order.id)]);
      assert.equal(rows.length, 1);
      assert.ok(rows[0].published_at, 'the OrderCreated outbox row is marked published');

      // An unknown customer is refused, and no order or event is made.
      const countBefore = Number((await orders.query('SELECT count(*) FROM orders')).rows[0].count);
      const unknown = await gw('order', 'POST', '', { userId: 999999, items: [{ sku: 'KB-101', quantity: 1 }] });
      assert.equal(unknown.status, 422, JSON.stringify(unknown.json));
      assert.equal(Number((await orders.query('SELECT count(*) FROM orders')).rows[0].count), countBefore);

      // The same Idempotency-Key twice: one order, one OrderCreated.
      const key = `checkout-${Date.now()}`;
      const once = await gw('order', 'POST', '', { userId: alice.id, items: [{ sku: 'MS-202', quantity: 1 }] }, { 'idempotency-key': key });
      const twice = await gw('order', 'POST', '', { userId: alice.id, items: [{ sku: 'MS-202', quantity: 1 }] }, { 'idempotency-key': key });
      assert.equal(once.status, 201);
      assert.equal(twice.status, 200);
      assert.equal(twice.headers.get('idempotent-replay'), 'true');
      assert.equal(twice.json.id, once.json.id);
      assert.equal(Number((await orders.query('SELECT count(*) FROM orders')).rows[0].count), countBefore + 1);
      await topics.waitFor('the idempotent order', eventOf('order-events', 'OrderCreated', { orderId: once.json.id }));
      await waitFor('its reservation', () => topics.find(eventOf('inventory-events', 'InventoryReserved', { orderId: once.json.id })).length > 0);
      assert.equal(topics.find(eventOf('order-events', 'OrderCreated', { orderId: once.json.id })).length, 1);

      // Cancelling ends in a second mail.
      const cancel = await gw('order', 'POST', `/${order.id}/cancel`);
      assert.equal(cancel.status, 200);
      const cancelNote = await topics.waitFor('the cancellation request', (m) => m.event?.data.template === 'order-cancelled' && m.event.data.data?.orderId === order.id);
      await mailOfEvent('alice@example.com', `Order #${order.id} cancelled`, cancelNote.event.id);
    } finally {
      await orders.end();
    }
  },

  async inventory() {
    const list = await gw('inventory', 'GET', '');
    assert.equal(list.status, 200);
    assert.deepEqual(list.json.map((p) => p.sku), SEED.products.map((p) => p.sku).sort());
    const carol = await seededUser('carol@example.com');

    // A message that is not an event goes to dead-letter; the consumer carries on.
    const producer = createKafka('integration-test').producer();
    await producer.connect();
    const poisonKey = `poison-${Date.now()}`;
    await producer.send({ topic: 'order-events', messages: [{ key: poisonKey, value: '{"this is": not json' }] });
    await producer.disconnect();
    const dead = await topics.waitFor('the dead letter', (m) => m.topic === 'dead-letter' && m.event?.data.key === poisonKey);
    assert.equal(dead.event.source, 'inventory-service');
    assert.equal(dead.event.data.topic, 'order-events');
    assert.equal(dead.event.data.value, '{"this is": not json');
    assert.match(dead.event.data.error, /not JSON/);

    // Laptop stands: 2 in stock, reorder at 1. Ordering 3 is rejected and mailed as such.
    const stand = (await gw('inventory', 'GET', '/LS-505')).json;
    assert.equal(stand.stock, 2);
    const tooMany = await orderAndWait(carol.id, [{ sku: 'LS-505', quantity: 3 }], 'rejected');
    const rejection = await topics.waitFor('the rejection request', (m) => m.event?.data.template === 'order-rejected' && m.event.data.data?.orderId === tooMany.id);
    const rejectedMail = await mailOfEvent('carol@example.com', `Order #${tooMany.id} could not be fulfilled`, rejection.event.id);
    assert.match(rejectedMail.text, /only 2 of LS-505 left, 3 ordered/);
    assert.equal((await gw('inventory', 'GET', '/LS-505')).json.stock, 2);

    // Ordering 1 reserves it (the consumer survived the poison message) and crosses the
    // reorder level: purchasing gets the reorder mail.
    const one = await orderAndWait(carol.id, [{ sku: 'LS-505', quantity: 1 }], 'confirmed');
    const reservation = await gw('inventory', 'GET', `/reservations/${one.id}`);
    assert.equal(reservation.json.status, 'reserved');
    assert.deepEqual(reservation.json.events, ['InventoryReserved', 'NotificationRequested', 'InventoryLow', 'NotificationRequested']);
    const reorder = await topics.waitFor('the reorder request', (m) => m.event?.data.template === 'reorder' && m.event.data.data?.sku === 'LS-505');
    const reorderMail = await mailOfEvent(PURCHASING_EMAIL, 'Reorder LS-505: 1 left', reorder.event.id);
    assert.match(reorderMail.text, /Laptop stand \(LS-505\) fell to 1, at or below its reorder level of 1/);

    // MongoDB agrees with the API.
    const mongo = await inventoryDb();
    try {
      const doc = await mongo.db.collection('products').findOne({ _id: 'LS-505' });
      assert.equal(doc.stock, 1);
      assert.equal(doc.reserved, 1);
    } finally {
      await mongo.client.close();
    }
  },
};

for (const name of selectScenarios(services, scenario(process.env.TEST_SERVICE)?.replace(/-service$/, ''))) {
  test(`${name}-service`, { timeout: 180000 }, services[name]);
}
