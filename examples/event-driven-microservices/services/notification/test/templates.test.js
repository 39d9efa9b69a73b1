import assert from 'node:assert/strict';
import test from 'node:test';

import { TEMPLATE_NAMES, mailFor, render } from '../src/templates.js';

test('every template renders a subject, text and HTML', () => {
  const data = { name: 'Ada', email: 'ada@example.com', orderId: 4, items: [{ sku: 'KB-101', quantity: 2 }], reason: 'none left', sku: 'KB-101', stock: 2, reorderLevel: 3 };
  for (const name of TEMPLATE_NAMES) {
    const mail = render(name, data);
    assert.ok(mail.subject && mail.text && mail.html, name);
  }
  assert.equal(render('order-confirmed', data).subject, 'Order #4 confirmed');
  assert.match(render('order-confirmed', data).text, /2 x KB-101/);
  assert.equal(render('reorder', data).subject, 'Reorder KB-101: 2 left');
});

test('HTML bodies escape what users typed', () => {
  const mail = render('welcome', { name: '<script>x</script>', email: 'a@b.c' });
  assert.ok(!mail.html.includes('<script>'));
  assert.match(mail.html, /&lt;script&gt;/);
});

test('unknown templates and missing fields are permanent errors', () => {
  assert.throws(() => render('nope', {}), (err) => err.permanent === true);
  assert.throws(() => render('__proto__', {}), (err) => err.permanent === true);
  assert.throws(() => render('order-confirmed', { orderId: 1 }), (err) => err.permanent === true && /items/.test(err.message));
});

test('which events ask for mail', () => {
  assert.deepEqual(mailFor({ type: 'UserRegistered', data: { email: 'a@b.c', name: 'A' } }).template, 'welcome');
  assert.deepEqual(mailFor({ type: 'NotificationRequested', data: { to: 'x@y.z', template: 'reorder', data: { sku: 'A' } } }), {
    to: 'x@y.z',
    template: 'reorder',
    data: { sku: 'A' },
  });
  assert.equal(mailFor({ type: 'OrderCreated', data: {} }), null);
  assert.throws(() => mailFor({ type: 'NotificationRequested', data: { template: 'reorder' } }), (err) => err.permanent === true);
});
