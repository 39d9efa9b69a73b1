import assert from 'node:assert/strict';
import test from 'node:test';

import { STATUS, canCancel, idempotencyKey, nextStatus, validateNewOrder } from '../src/orders.js';

test('an order is normalised: SKUs upper-cased, repeated SKUs merged', () => {
  const order = validateNewOrder({
    userId: '3',
    items: [
      { sku: 'kb-101', quantity: 1 },
      { sku: 'MS-202', quantity: 2 },
      { sku: 'KB-101', quantity: 2 },
    ],
  });
  assert.deepEqual(order, {
    userId: 3,
    items: [
      { sku: 'KB-101', quantity: 3 },
      { sku: 'MS-202', quantity: 2 },
    ],
  });
});

test('orders without a user, items, a valid SKU or a valid quantity are 400s', () => {
  const bad = [
    null,
    { items: [{ sku: 'A', quantity: 1 }] },
    { userId: 0, items: [{ sku: 'A', quantity: 1 }] },
    { userId: 1, items: [] },
    { userId: 1, items: [{ sku: 'a b', quantity: 1 }] },
    { userId: 1, items: [{ sku: 'A', quantity: 0 }] },
    { userId: 1, items: [{ sku: 'A', quantity: 1.5 }] },
    { userId: 1, items: [{ sku: 'A', quantity: 1001 }] },
  ];
  for (const body of bad) {
    assert.throws(() => validateNewOrder(body), (err) => err.status === 400, JSON.stringify(body));
  }
});

test('inventory events move only pending orders', () => {
  assert.equal(nextStatus(STATUS.pending, 'InventoryReserved'), STATUS.confirmed);
  assert.equal(nextStatus(STATUS.pending, 'InventoryRejected'), STATUS.rejected);
  assert.equal(nextStatus(STATUS.cancelled, 'InventoryReserved'), null);
  assert.equal(nextStatus(STATUS.confirmed, 'InventoryReserved'), null);
  assert.equal(nextStatus(STATUS.confirmed, 'InventoryReleased'), null);
});

test('only pending and confirmed orders can be cancelled', () => {
  assert.deepEqual(
    Object.values(STATUS).filter(canCancel),
    [STATUS.pending, STATUS.confirmed],
  );
});

test('Idempotency-Key: absent is null, visible ASCII up to 100 characters, else a 400', () => {
  assert.equal(idempotencyKey({}), null);
  assert.equal(idempotencyKey({ 'idempotency-key': 'order-7' }), 'order-7');
  for (const key of ['', 'has space', 'x'.repeat(101), 'é']) {
    assert.throws(() => idempotencyKey({ 'idempotency-key': key }), (err) => err.status === 400, key);
  }
});
