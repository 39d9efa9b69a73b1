// The seed of checkpoint `seeded` (see seed-all-services.sh), through the services' own APIs.
import { readFileSync } from 'node:fs';

import { TOPICS, createKafka } from '@edm/events';

import { SERVICES, api, mailhog, waitFor } from '../test/support.js';

const seed = JSON.parse(readFileSync(new URL('./seed-data.json', import.meta.url), 'utf8'));
const started = Date.now();
const log = (text) => console.log(`seed: ${text} (${((Date.now() - started) / 1000).toFixed(1)} s)`);

for (const [name, url] of Object.entries(SERVICES)) {
  await waitFor(`${name} healthy`, async () => (await api(url, 'GET', '/health')).status === 200, { timeoutMs: 120000, intervalMs: 250 });
}
log('all four services healthy');

const users = {};
for (const u of seed.users) {
  let res = await api(SERVICES.user, 'POST', '/', u);
  if (res.status === 409) res = await api(SERVICES.user, 'GET', `/?email=${encodeURIComponent(u.email)}`);
  if (res.status !== 200 && res.status !== 201) throw new Error(`user ${u.email}: ${res.status} ${JSON.stringify(res.json)}`);
  users[u.email] = res.json;
}
log(`${seed.users.length} users`);

for (const p of seed.products) {
  const res = await api(SERVICES.inventory, 'POST', '/', p);
  if (res.status !== 200 && res.status !== 201) throw new Error(`product ${p.sku}: ${res.status} ${JSON.stringify(res.json)}`);
}
log(`${seed.products.length} products`);

for (const o of seed.orders) {
  const made = await api(SERVICES.order, 'POST', '/', { userId: users[o.user].id, items: o.items });
  if (made.status !== 201) throw new Error(`order of ${o.user}: ${made.status} ${JSON.stringify(made.json)}`);
  const id = made.json.id;
  await waitFor(`order ${id} confirmed`, async () => (await api(SERVICES.order, 'GET', `/${id}`)).json.status === 'confirmed', { timeoutMs: 60000 });
  if (o.then === 'cancel') {
    const cancelled = await api(SERVICES.order, 'POST', `/${id}/cancel`);
    if (cancelled.status !== 200) throw new Error(`cancel ${id}: ${cancelled.status}`);
    await waitFor(`reservation of order ${id} released`, async () => (await api(SERVICES.inventory, 'GET', `/reservations/${id}`)).json.status === 'released', { timeoutMs: 60000 });
  }
  log(`order ${id} of ${o.user}: ${o.then === 'cancel' ? 'confirmed, then cancelled' : 'confirmed'}`);
}

// Every mail the seed caused: a welcome per user, a confirmation per order, one cancellation.
const expected = seed.users.length + seed.orders.length + seed.orders.filter((o) => o.then === 'cancel').length;
const mail = mailhog();
await waitFor(`${expected} mails in MailHog`, async () => (await mail.all()).total >= expected, { timeoutMs: 60000 });
log(`${(await mail.all()).total} mails delivered`);

// Quiet before the checkpoint: every consumer group has committed the end of its topics.
const admin = createKafka('seed').admin();
await admin.connect();
const groups = {
  'order-service': [TOPICS.inventory],
  'inventory-service': [TOPICS.orders],
  'notification-service': [TOPICS.notifications, TOPICS.users],
};
for (const [groupId, topics] of Object.entries(groups)) {
  await waitFor(
    `${groupId} caught up`,
    async () => {
      for (const topic of topics) {
        const ends = await admin.fetchTopicOffsets(topic);
        const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
        for (const end of ends) {
          const at = committed.partitions.find((p) => p.partition === end.partition);
          const offset = Number(at?.offset ?? -1);
          if (Number(end.high) > 0 && offset < Number(end.high)) return false;
        }
      }
      return true;
    },
    { timeoutMs: 60000, intervalMs: 250 },
  );
}
await admin.disconnect();
log('every consumer group is caught up');
