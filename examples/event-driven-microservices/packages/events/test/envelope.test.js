import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import test from 'node:test';

import { EVENT_TYPES, TOPICS, brokersFromEnv, deadLetterEvent, makeEvent, parseEvent, toMessage } from '../src/index.js';

test('an event round-trips through a Kafka message', () => {
  const event = makeEvent('OrderCreated', 'order-service', { orderId: 7 });
  const message = toMessage(event, 7);
  assert.equal(message.key, '7');
  assert.equal(message.headers['event-type'], 'OrderCreated');
  assert.deepEqual(parseEvent(Buffer.from(message.value), TOPICS.orders), event);
  assert.match(event.id, /^[0-9a-f-]{36}$/);
  assert.ok(!Number.isNaN(Date.parse(event.time)));
});

test('what is not an event of its topic is refused as permanent', () => {
  const good = JSON.stringify(makeEvent('OrderCreated', 'x', {}));
  for (const [value, topic, why] of [
    ['{not json', TOPICS.orders, /not JSON/],
    ['[1,2]', TOPICS.orders, /envelope/],
    [JSON.stringify({ type: 'OrderCreated', source: 'x', time: 't', data: {} }), TOPICS.orders, /no id/],
    [good, TOPICS.users, /does not belong on user-events/],
  ]) {
    assert.throws(() => parseEvent(value, topic), (err) => err.permanent === true && why.test(err.message), value);
  }
});

test('a dead letter records where the message was and why it failed', () => {
  const dead = deadLetterEvent('inventory-service', { topic: 'order-events', partition: 2, message: { offset: '41', key: Buffer.from('9'), value: Buffer.from('oops') } }, new Error('not JSON'));
  assert.equal(dead.type, 'DeadLettered');
  assert.deepEqual(dead.data, { topic: 'order-events', partition: 2, offset: '41', key: '9', value: 'oops', error: 'not JSON' });
});

test('the topics are the ones vers-integration.yaml creates', () => {
  const manifest = readFileSync(new URL('../../../vers-integration.yaml', import.meta.url), 'utf8');
  const kafka = manifest.slice(manifest.indexOf('  kafka:'), manifest.indexOf('schema_registry'));
  const declared = [...kafka.matchAll(/- name: (\S+)/g)].map((m) => m[1]).sort();
  assert.deepEqual(declared, Object.values(TOPICS).sort());
  assert.deepEqual(Object.keys(EVENT_TYPES).sort(), declared);
});

test('brokers come from KAFKA_BROKERS', () => {
  assert.deepEqual(brokersFromEnv({}), ['kafka:9092']);
  assert.deepEqual(brokersFromEnv({ KAFKA_BROKERS: 'a:1, b:2,' }), ['a:1', 'b:2']);
});
