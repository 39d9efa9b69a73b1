// Pure parts, no services (`npm run test:unit`): the test_decoding parser and the transform's
// validation. The suites of vers-integration.yaml exercise everything else against the engines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseChange, affected } from '../etl/extract/src/cdc.js';
import { transform, priceBand } from '../etl/transform/src/transform.js';

test('test_decoding lines parse into table, operation, old and new rows', () => {
  const u = parseChange("table public.orders: UPDATE: old-key: id[integer]:5 customer_id[integer]:3 status[text]:'paid' new-tuple: id[integer]:5 customer_id[integer]:4 status[text]:'it''s shipped'");
  assert.deepEqual(u, { table: 'orders', op: 'UPDATE', old: { id: 5, customer_id: 3, status: 'paid' }, new: { id: 5, customer_id: 4, status: "it's shipped" } });
  const d = parseChange("table public.order_items: DELETE: order_id[integer]:7 line_no[integer]:1 product_id[integer]:9 quantity[integer]:2 unit_price_cents[integer]:100");
  assert.equal(d.new, null);
  assert.equal(d.old.product_id, 9);
  const i = parseChange("table public.customers: INSERT: id[integer]:1 name[text]:'A B' created_at[timestamp with time zone]:'2024-01-01 00:00:00+00' note[text]:null");
  assert.deepEqual(i.new, { id: 1, name: 'A B', created_at: '2024-01-01 00:00:00+00', note: null });
  assert.equal(parseChange('BEGIN 1234'), null);
  const a = affected([u, d, i]);
  assert.deepEqual([[...a.customers].sort(), [...a.products], [...a.orders]], [[1, 3, 4], [9], [7]]);
});

test('the transform refuses malformed records and bands prices', () => {
  assert.throws(() => transform('customer', { customer: { id: 1, name: 'x', email: 'no-domain@', country: 'DE', created_at: '2024-01-01' } }), /has no domain/);
  assert.throws(() => transform('mystery', {}), /unknown kind/);
  assert.throws(() => transform('product', { product: { id: 1, sku: 's', name: 'n', category: 'c', description: 'd', price_cents: 0 } }), /price_cents/);
  assert.deepEqual([1, 1999, 2000, 9999, 10000].map(priceBand), ['budget', 'budget', 'standard', 'standard', 'premium']);
});
