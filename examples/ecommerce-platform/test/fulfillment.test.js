// Fulfilment suite: the orders placed by the `orders-placed` checkpoint (their invoices in S3
// and mails in MailHog came with the checkpoint) are shipped or downloaded. Branches:
// physical-product, digital-product, mixed-order, partial-shipment.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { getObject, listKeys } from '../src/storage.js';
import { events, expectError, expectStatus, mailTo, runs, seededOrder, services, waitFor } from './support.js';

const ctx = services();
after(() => ctx.close());
const ship = (order, lines, carrier) => expectStatus(201, 'POST', `/orders/${order.id}/shipments`, { lines, carrier });

/** The order's invoice and confirmation mail, both made when it was placed in the checkpoint. */
async function assertPlaced(order, email) {
  const invoice = await getObject(ctx.s3, ctx.config.s3.invoicesBucket, order.invoice_key);
  assert.ok(invoice, `invoice ${order.invoice_key} is in S3`);
  for (const line of order.lines) assert.match(invoice.body.toString('utf8'), new RegExp(line.sku));
  const mails = await mailTo(ctx, email);
  assert.ok(mails.some((m) => m.subject === `Order ${order.number} confirmed`), 'the confirmation mail is in MailHog');
  return mails;
}

async function assertShipmentMail(email, order, shipment) {
  const mail = await waitFor(async () => (await mailTo(ctx, email)).find((m) => m.subject === `Order ${order.number} shipped: ${shipment.tracking_number}`), { what: 'the shipment mail' });
  assert.match(mail.text, new RegExp(`with ${shipment.carrier}, tracking number ${shipment.tracking_number}`));
  return mail;
}

async function packingSlip(shipment) {
  const slip = await getObject(ctx.s3, ctx.config.s3.invoicesBucket, shipment.packing_slip_key);
  assert.ok(slip, `packing slip ${shipment.packing_slip_key}`);
  return slip.body.toString('utf8');
}

describe('physical-product', { skip: !runs('physical-product') }, () => {
  test('a paid parcel ships in full', async () => {
    const order = await seededOrder('alice@example.com');
    assert.equal(order.status, 'paid');
    assert.deepEqual(order.lines.map((l) => [l.line_no, l.sku, l.quantity, l.shipped_quantity]), [[1, 'RUN-SHOE-01', 1, 0], [2, 'SOCK-MERINO-01', 2, 0]]);
    await assertPlaced(order, 'alice@example.com');

    const shipment = await ship(order, [{ line_no: 1, quantity: 1 }, { line_no: 2, quantity: 2 }], 'UPS');
    assert.match(shipment.tracking_number, /^1Z[0-9A-Z]{16}$/);
    assert.equal(shipment.order_status, 'fulfilled');
    const slip = await packingSlip(shipment);
    assert.match(slip, new RegExp(`Packing slip for order ${order.number}`));
    assert.match(slip, /1 x RUN-SHOE-01 {2}Running Shoe/);
    assert.match(slip, /2 x SOCK-MERINO-01 {2}Merino Running Socks/);
    assert.match(slip, /Ship to: Alice Anders, 500 Valencia St, San Francisco, US/);
    const mail = await assertShipmentMail('alice@example.com', order, shipment);
    assert.match(mail.text, /2 x Merino Running Socks/);

    const after = await expectStatus(200, 'GET', `/orders/${order.id}`);
    assert.equal(after.status, 'fulfilled');
    assert.deepEqual(after.lines.map((l) => l.shipped_quantity), [1, 2]);
    assert.deepEqual(after.shipments.map((s) => [s.tracking_number, s.lines]), [[shipment.tracking_number, [{ line_no: 1, quantity: 1 }, { line_no: 2, quantity: 2 }]]]);
    assert.equal(await expectError(409, 'POST', `/orders/${order.id}/shipments`, { lines: [{ line_no: 1, quantity: 1 }] }), 'order_not_shippable');
    assert.equal((await events(ctx, 'shipment_created', { order_id: order.id, units: 3 })).length, 1);
  });

  test('bad shipments are refused', async () => {
    const order = await seededOrder('alice@example.com');
    const failed = await seededOrder('erin@example.com');
    assert.equal(failed.status, 'payment_failed');
    assert.equal(await expectError(409, 'POST', `/orders/${failed.id}/shipments`, { lines: [{ line_no: 1, quantity: 1 }] }), 'order_not_shippable');
    assert.equal(await expectError(400, 'POST', `/orders/${order.id}/shipments`, { lines: [{ line_no: 1, quantity: 1 }], carrier: 'Pigeon' }), 'invalid_carrier');
    assert.equal(await expectError(400, 'POST', `/orders/${order.id}/shipments`, { lines: [] }), 'invalid_lines');
    assert.equal(await expectError(404, 'POST', '/orders/00000000-0000-0000-0000-000000000000/shipments', { lines: [{ line_no: 1, quantity: 1 }] }), 'not_found');
  });
});

describe('digital-product', { skip: !runs('digital-product') }, () => {
  test('a download is delivered on payment and nothing ships', async () => {
    const order = await seededOrder('bob@example.com');
    assert.equal(order.status, 'fulfilled');
    assert.deepEqual([order.shipping_cents, order.shipping_rate_id, order.shipments], [0, null, []]);
    assert.deepEqual(order.deliveries, [{ line_no: 1, asset_key: 'assets/marathon-training-plan.txt' }]);
    const mails = await assertPlaced(order, 'bob@example.com');

    const { downloads } = await expectStatus(200, 'GET', `/orders/${order.id}/downloads`);
    assert.deepEqual(downloads.map((d) => [d.sku, d.name]), [['EBOOK-MARATHON', 'Marathon Training Plan']]);
    const file = await (await fetch(downloads[0].url)).text();
    assert.match(file, /^Marathon Training Plan\n/);
    assert.match(file, /SKU EBOOK-MARATHON/);

    // The link mailed at checkout (in the checkpoint) still downloads the same file.
    const mail = mails.find((m) => m.subject === `Order ${order.number} confirmed`);
    const mailed = /Marathon Training Plan: (\S+)/.exec(mail.text)?.[1];
    assert.ok(mailed, mail.text);
    assert.equal(new URL(mailed).pathname, '/product-images/assets/marathon-training-plan.txt');
    assert.equal(await (await fetch(mailed)).text(), file);

    assert.equal(await expectError(409, 'POST', `/orders/${order.id}/shipments`, { lines: [{ line_no: 1, quantity: 1 }] }), 'order_not_shippable');
    assert.equal(await expectError(404, 'GET', '/inventory/EBOOK-MARATHON'), 'not_found', 'downloads never run out');
  });
});

describe('mixed-order', { skip: !runs('mixed-order') }, () => {
  test('the download is delivered at once, the shoe when it ships', async () => {
    const order = await seededOrder('carol@example.com');
    assert.equal(order.status, 'partially_fulfilled');
    assert.deepEqual(order.lines.map((l) => [l.line_no, l.sku, l.kind]), [[1, 'MAP-ALPS', 'digital'], [2, 'TRAIL-SHOE-02', 'physical']]);
    assert.deepEqual(order.deliveries.map((d) => d.line_no), [1]);
    assert.equal(order.shipping_cents, 1500, 'express');
    await assertPlaced(order, 'carol@example.com');

    assert.equal(await expectError(409, 'POST', `/orders/${order.id}/shipments`, { lines: [{ line_no: 1, quantity: 1 }] }), 'not_shippable');
    assert.equal(await expectError(400, 'POST', `/orders/${order.id}/shipments`, { lines: [{ line_no: 9, quantity: 1 }] }), 'unknown_line');
    const shipment = await ship(order, [{ line_no: 2, quantity: 1 }], 'DHL');
    assert.match(shipment.tracking_number, /^JD[0-9A-Z]{16}$/);
    assert.equal(shipment.order_status, 'fulfilled');
    assert.match(await packingSlip(shipment), /1 x TRAIL-SHOE-02/);
    assert.doesNotMatch(await packingSlip(shipment), /MAP-ALPS/, 'downloads are not packed');
    await assertShipmentMail('carol@example.com', order, shipment);
    assert.equal((await expectStatus(200, 'GET', `/orders/${order.id}`)).status, 'fulfilled');
  });
});

describe('partial-shipment', { skip: !runs('partial-shipment') }, () => {
  test('an order ships in parts and never ships more than was bought', async () => {
    const order = await seededOrder('dave@example.com');
    assert.equal(order.status, 'paid');
    assert.deepEqual(order.lines.map((l) => [l.line_no, l.sku, l.quantity]), [[1, 'PACK-DAY-01', 1], [2, 'SOCK-HIKE-02', 3]]);
    assert.equal(order.promo_code, 'LAUNCH');
    assert.equal(order.discount_cents, 1000);

    const first = await ship(order, [{ line_no: 2, quantity: 2 }], 'USPS');
    assert.equal(first.order_status, 'partially_fulfilled');
    const over = await expectStatus(409, 'POST', `/orders/${order.id}/shipments`, { lines: [{ line_no: 2, quantity: 2 }] });
    assert.deepEqual([over.error.code, over.error.details], ['over_shipment', { line_no: 2, left: 1 }]);
    const middle = await expectStatus(200, 'GET', `/orders/${order.id}`);
    assert.deepEqual([middle.status, middle.lines.map((l) => l.shipped_quantity)], ['partially_fulfilled', [0, 2]]);

    const second = await ship(order, [{ line_no: 1, quantity: 1 }, { line_no: 2, quantity: 1 }], 'USPS');
    assert.equal(second.order_status, 'fulfilled');
    assert.notEqual(first.tracking_number, second.tracking_number);

    const done = await expectStatus(200, 'GET', `/orders/${order.id}`);
    assert.deepEqual(done.lines.map((l) => l.shipped_quantity), [1, 3]);
    assert.deepEqual(done.shipments.map((s) => s.lines), [[{ line_no: 2, quantity: 2 }], [{ line_no: 1, quantity: 1 }, { line_no: 2, quantity: 1 }]]);
    const slips = await listKeys(ctx.s3, ctx.config.s3.invoicesBucket, `packing-slips/${order.number}/`);
    assert.deepEqual(slips.sort(), [first.packing_slip_key, second.packing_slip_key].sort());
    assert.match(await packingSlip(first), /2 x SOCK-HIKE-02/);
    assert.match(await packingSlip(second), /1 x PACK-DAY-01/);
    await assertShipmentMail('dave@example.com', order, first);
    await assertShipmentMail('dave@example.com', order, second);
    assert.equal(await expectError(409, 'POST', `/orders/${order.id}/shipments`, { lines: [{ line_no: 2, quantity: 1 }] }), 'order_not_shippable');
    assert.equal((await events(ctx, 'shipment_created', { order_id: order.id })).length, 2);
  });
});
