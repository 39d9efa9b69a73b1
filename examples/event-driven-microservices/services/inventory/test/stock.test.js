import assert from 'node:assert/strict';
import test from 'node:test';

import {
  crossedReorderLevel,
  orderItems,
  rejectedEvents,
  releasedEvents,
  reservedEvents,
  shortage,
  validateProduct,
} from '../src/stock.js';

const order = { orderId: 9, email: 'ada@example.com', items: [{ sku: 'KB-101', quantity: 2 }] };

test('a product is normalised and checked', () => {
  assert.deepEqual(validateProduct({ sku: 'kb-101', name: ' Keyboard ', stock: 5, reorderLevel: 2 }), {
    sku: 'KB-101',
    name: 'Keyboard',
    stock: 5,
    reorderLevel: 2,
  });
  for (const body of [{ sku: 'x y', name: 'a', stock: 1 }, { sku: 'A', name: '', stock: 1 }, { sku: 'A', name: 'a', stock: -1 }]) {
    assert.throws(() => validateProduct(body), (err) => err.status === 400);
  }
});

test('an order event without items is a permanent (dead-lettered) error', () => {
  assert.deepEqual(orderItems(order), order.items);
  for (const data of [{}, { orderId: 1, email: 'a@b.c', items: [] }, { orderId: '1', email: 'a@b.c', items: order.items }, { orderId: 1, email: 'a@b.c', items: [{ sku: 'A', quantity: 0 }] }]) {
    assert.throws(() => orderItems(data), (err) => err.permanent === true, JSON.stringify(data));
  }
});

test('low stock is crossing the reorder level, not being below it', () => {
  assert.equal(crossedReorderLevel(6, 5, 5), true);
  assert.equal(crossedReorderLevel(10, 0, 5), true);
  assert.equal(crossedReorderLevel(5, 4, 5), false);
  assert.equal(crossedReorderLevel(10, 6, 5), false);
});

test('shortages name the product and the quantities', () => {
  assert.equal(shortage('X-1', 2, null), 'unknown product X-1');
  assert.equal(shortage('X-1', 5, { stock: 3 }), 'only 3 of X-1 left, 5 ordered');
});

test('a reservation publishes InventoryReserved, a confirmation, and per low product an alert and a reorder mail', () => {
  const low = [{ sku: 'KB-101', name: 'Keyboard', stock: 2, reorderLevel: 3 }];
  const records = reservedEvents(order, low, 'buyer@example.com');
  assert.deepEqual(
    records.map((r) => [r.topic, r.event.type, r.event.data.template ?? null, r.key]),
    [
      ['inventory-events', 'InventoryReserved', null, 9],
      ['notification-events', 'NotificationRequested', 'order-confirmed', 'ada@example.com'],
      ['inventory-events', 'InventoryLow', null, 'KB-101'],
      ['notification-events', 'NotificationRequested', 'reorder', 'buyer@example.com'],
    ],
  );
  assert.equal(records[3].event.data.to, 'buyer@example.com');
  assert.equal(records[3].event.data.data.stock, 2);
});

test('rejections and releases carry the order id and tell the customer', () => {
  const rejected = rejectedEvents(order, 'KB-101', 'only 1 of KB-101 left, 2 ordered');
  assert.equal(rejected[0].event.type, 'InventoryRejected');
  assert.equal(rejected[0].event.data.reason, 'only 1 of KB-101 left, 2 ordered');
  assert.equal(rejected[1].event.data.template, 'order-rejected');
  const released = releasedEvents(order);
  assert.deepEqual(released.map((r) => r.event.type), ['InventoryReleased', 'NotificationRequested']);
  assert.equal(released[1].event.data.template, 'order-cancelled');
  assert.deepEqual(released[0].event.data.items, order.items);
});
