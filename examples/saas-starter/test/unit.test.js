// Unit suite (all services running, the app included). Pure tests of the app's modules,
// plus one HTTP call to the running app's /health (APP_URL, default http://app:3000).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createStripe, handleStripeWebhook } from '../src/billing.js';
import { loadConfig } from '../src/config.js';
import { invoiceMessage, passwordResetMessage, welcomeMessage } from '../src/mailer.js';
import { hashPassword, verifyPassword } from '../src/passwords.js';

const config = loadConfig();

test('passwords: scrypt hashes verify, are salted and reject wrong input', async () => {
  const hash = await hashPassword('correct horse battery');
  assert.match(hash, /^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
  assert.equal(await verifyPassword('correct horse battery', hash), true);
  assert.equal(await verifyPassword('correct horse battery!', hash), false);
  assert.notEqual(await hashPassword('correct horse battery'), hash, 'a fresh salt each time');
  assert.equal(await verifyPassword('anything', 'md5$abc'), false);
  assert.equal(await verifyPassword('anything', null), false);
  await assert.rejects(hashPassword('short'), /at least 8/);
});

test('config: defaults name the vers services and the analytics database follows DATABASE_URL', () => {
  const saved = { ...process.env };
  try {
    for (const k of ['STRIPE_API_HOST', 'OAUTH_ISSUER_BASE', 'ANALYTICS_DATABASE_URL']) delete process.env[k];
    process.env.DATABASE_URL = 'postgres://postgres@postgres/app';
    const c = loadConfig();
    assert.equal(c.stripe.host, 'stripe');
    assert.equal(c.stripe.port, 12111);
    assert.equal(c.oauth.issuerBase, 'http://oauth:8080');
    assert.equal(c.analyticsDatabaseUrl, 'postgres://postgres@postgres/analytics');
  } finally {
    process.env = saved;
  }
});

test('mailer: messages carry the recipient, links and amounts, HTML-escaped', () => {
  const mailer = { publicUrl: 'https://app.example' };
  const user = { email: 'a@example.com', name: 'A <b>' };
  const welcome = welcomeMessage(mailer, user);
  assert.equal(welcome.subject, 'Welcome to SaaS Starter');
  assert.ok(welcome.text.includes('a@example.com'));
  assert.ok(welcome.html.includes('A &lt;b&gt;') && !welcome.html.includes('<b>'));
  const reset = passwordResetMessage(mailer, user, 'tok/+en');
  assert.ok(reset.text.includes('https://app.example/reset-password?token=tok%2F%2Ben'));
  const receipt = invoiceMessage(mailer, user, { number: 'INV-1', amountPaid: 999, currency: 'usd', planName: 'Starter Plan' });
  assert.ok(receipt.text.includes('$9.99 for Starter Plan'));
});

test('webhooks: only events signed with the endpoint secret reach the database', async () => {
  const queries = [];
  const db = { query: async (sql, params) => { queries.push({ sql, params }); return { rows: [], rowCount: 1 }; } };
  const stripe = createStripe(config);
  const ctx = { db, stripe, config };
  const payload = JSON.stringify({ id: 'evt_unit_1', object: 'event', type: 'charge.succeeded', created: 1, data: { object: { id: 'ch_1' } } });

  const bad = stripe.webhooks.generateTestHeaderString({ payload, secret: 'whsec_wrong' });
  const refused = await handleStripeWebhook(ctx, Buffer.from(payload), bad);
  assert.equal(refused.status, 400);
  assert.match(refused.body.error, /signature/);
  const tampered = stripe.webhooks.generateTestHeaderString({ payload, secret: config.stripe.webhookSecret });
  assert.equal((await handleStripeWebhook(ctx, Buffer.from(payload.replace('ch_1', 'ch_2')), tampered)).status, 400);
  assert.equal(queries.length, 0, 'nothing was written for refused deliveries');

  const good = stripe.webhooks.generateTestHeaderString({ payload, secret: config.stripe.webhookSecret });
  const accepted = await handleStripeWebhook(ctx, Buffer.from(payload), good);
  assert.equal(accepted.status, 200);
  assert.equal(accepted.body.type, 'charge.succeeded');
  assert.equal(queries.length, 1);
  assert.match(queries[0].sql, /INSERT INTO webhook_events/);
  assert.equal(queries[0].params[0], 'evt_unit_1');
});

test('the running app answers /health with postgres and redis ok', async () => {
  const base = process.env.APP_URL || 'http://app:3000';
  const response = await fetch(`${base}/health`);
  assert.equal(response.status, 200);
  const body = await response.json();
  assert.deepEqual(body, { status: 'ok', checks: { postgres: 'ok', redis: 'ok' } });
  const plans = await (await fetch(`${base}/plans`)).json();
  assert.deepEqual(plans.plans.map((p) => [p.id, p.stripe_price_id, p.amount_cents]), [
    ['free', null, 0],
    ['starter', 'price_starter_monthly', 999],
    ['pro', 'price_pro_monthly', 2999],
  ]);
});
