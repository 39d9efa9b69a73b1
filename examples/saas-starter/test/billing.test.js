// Billing suite (depends_on: postgres, stripe; the app is NOT running). The test serves the
// app's real HTTP routes (createApp, so POST /webhooks/stripe is the production handler) on
// the address `app` resolves to, port 3000, where stripe-mock delivers webhooks. It drives
// Stripe with the official `stripe` package and asserts both Stripe's answers and what the
// webhook handler recorded in PostgreSQL after verifying each signature with
// stripe.webhooks.constructEvent. BILLING_SCENARIO: create, upgrade, cancel, card_declined.
import assert from 'node:assert/strict';
import dns from 'node:dns/promises';
import { after, before, mock, test } from 'node:test';
import Stripe from 'stripe';
import { createApp } from '../src/app.js';
import { cancelSubscription, changePlan, createStripe, currentSubscription, subscribe } from '../src/billing.js';
import { loadConfig } from '../src/config.js';
import { createPool, findUserByEmail } from '../src/db.js';
import { selectedScenario, testUsers, waitFor } from './support.js';

const BRANCH_SCENARIOS = {
  'subscription-create': 'create',
  'subscription-upgrade': 'upgrade',
  'subscription-cancel': 'cancel',
  'payment-failure': 'card_declined',
};
const config = loadConfig();
const scenario = selectedScenario(process.env.BILLING_SCENARIO, (b) => BRANCH_SCENARIOS[b] ?? b);
let ctx;
let server;
let webhookUrl;
let constructEvent;

before(async () => {
  const db = createPool(config.databaseUrl);
  const stripe = createStripe(config);
  constructEvent = mock.method(stripe.webhooks, 'constructEvent');
  ctx = { config, db, stripe, log: () => {} };
  const host = process.env.WEBHOOK_LISTEN_HOST || (await appAddress());
  const port = Number(process.env.WEBHOOK_LISTEN_PORT || 3000);
  server = createApp(ctx);
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  webhookUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}/webhooks/stripe`;
});

/** The address `app` resolves to in this environment, where stripe-mock sends webhooks. */
async function appAddress() {
  try {
    return (await dns.lookup('app')).address;
  } catch (err) {
    throw new Error(`cannot resolve "app" (${err.code}): run inside the vers environment or set WEBHOOK_LISTEN_HOST`);
  }
}

after(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve()));
  await ctx?.db.end();
});

async function seededUser(index) {
  const user = await findUserByEmail(ctx.db, testUsers[index].email);
  assert.ok(user, `${testUsers[index].email} was created by create-test-users.sh`);
  assert.match(user.stripe_customer_id ?? '', /^cus_/, 'the seeded user has a Stripe customer');
  const customer = await ctx.stripe.customers.retrieve(user.stripe_customer_id);
  assert.equal(customer.email, user.email, 'stripe-mock kept the customer made by the seed');
  return user;
}

/** The subscription row once the webhook handler has recorded `expected` for it. */
async function recorded(subscriptionId, expected) {
  return waitFor(async () => {
    const { rows } = await ctx.db.query('SELECT * FROM subscriptions WHERE id = $1', [subscriptionId]);
    const row = rows[0];
    return row && Object.entries(expected).every(([k, v]) => row[k] === v) ? row : null;
  }, { timeoutMs: 8000, what: `webhook to record ${subscriptionId} as ${JSON.stringify(expected)}` });
}

/** The event `type` for `objectId` that went through constructEvent with a valid signature. */
function verifiedEvent(type, objectId) {
  const call = constructEvent.mock.calls.find(
    (c) => c.error === undefined && c.result?.type === type && c.result?.data?.object?.id === objectId,
  );
  assert.ok(call, `${type} for ${objectId} was delivered and verified by constructEvent`);
  assert.match(String(call.arguments[1]), /^t=\d+,v1=[0-9a-f]{64}/, 'it carried a Stripe-Signature header');
  assert.equal(call.arguments[2], config.stripe.webhookSecret);
  return call.result;
}

async function assertForgedWebhookRejected() {
  const event = { id: `evt_forged_${Date.now()}`, object: 'event', type: 'customer.subscription.created', created: Math.floor(Date.now() / 1000), data: { object: { id: 'sub_forged', object: 'subscription', customer: 'cus_forged', status: 'active', items: { data: [] } } } };
  const payload = JSON.stringify(event);
  const wrongSecret = ctx.stripe.webhooks.generateTestHeaderString({ payload, secret: 'whsec_not_the_secret' });
  const forged = await fetch(webhookUrl, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': wrongSecret }, body: payload });
  assert.equal(forged.status, 400, 'a webhook signed with another secret is refused');
  const unsigned = await fetch(webhookUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: payload });
  assert.equal(unsigned.status, 400, 'an unsigned webhook is refused');
  const { rows } = await ctx.db.query('SELECT 1 FROM webhook_events WHERE id = $1 UNION ALL SELECT 1 FROM subscriptions WHERE id = $2', [event.id, 'sub_forged']);
  assert.equal(rows.length, 0, 'a refused webhook changes nothing');
}

async function subscribeToStarter(user) {
  const subscription = await subscribe(ctx, user.id, 'price_starter_monthly');
  assert.equal(subscription.status, 'active');
  assert.equal(subscription.customer, user.stripe_customer_id);
  assert.equal(subscription.items.data[0].price.id, 'price_starter_monthly');
  assert.equal(subscription.items.data[0].price.unit_amount, 999);
  const row = await recorded(subscription.id, { status: 'active', plan_id: 'starter' });
  assert.equal(row.user_id, user.id, 'the handler mapped the customer to the user');
  assert.equal(row.stripe_price_id, 'price_starter_monthly');
  verifiedEvent('customer.subscription.created', subscription.id);
  return subscription;
}

const scenarios = {
  create: async () => {
    await assertForgedWebhookRejected();
    const user = await seededUser(0);
    const subscription = await subscribeToStarter(user);
    const { rows } = await ctx.db.query("SELECT count(*) FROM webhook_events WHERE type = 'customer.subscription.created' AND payload->'data'->'object'->>'id' = $1", [subscription.id]);
    assert.equal(Number(rows[0].count), 1, 'the verified event is stored once');
    assert.equal((await currentSubscription(ctx, user.id)).id, subscription.id);
  },
  upgrade: async () => {
    await assertForgedWebhookRejected();
    const user = await seededUser(1);
    const subscription = await subscribeToStarter(user);
    const upgraded = await changePlan(ctx, user.id, 'price_pro_monthly');
    assert.equal(upgraded.id, subscription.id, 'the same subscription changes plan');
    assert.equal(upgraded.items.data.length, 1);
    assert.equal(upgraded.items.data[0].price.id, 'price_pro_monthly');
    const fromStripe = await ctx.stripe.subscriptions.retrieve(subscription.id);
    assert.equal(fromStripe.items.data[0].price.unit_amount, 2999);
    const row = await recorded(subscription.id, { plan_id: 'pro', status: 'active' });
    assert.equal(row.stripe_price_id, 'price_pro_monthly');
    verifiedEvent('customer.subscription.updated', subscription.id);
  },
  cancel: async () => {
    await assertForgedWebhookRejected();
    const user = await seededUser(2);
    const subscription = await subscribeToStarter(user);
    const canceled = await cancelSubscription(ctx, user.id);
    assert.equal(canceled.id, subscription.id);
    assert.equal(canceled.status, 'canceled');
    assert.equal((await ctx.stripe.subscriptions.retrieve(subscription.id)).status, 'canceled');
    await recorded(subscription.id, { status: 'canceled' });
    assert.equal(await currentSubscription(ctx, user.id), null, 'no live subscription is left');
  },
  card_declined: async () => {
    await assertForgedWebhookRejected();
    const user = await seededUser(3);
    await assert.rejects(subscribe(ctx, user.id, 'price_starter_monthly', 'pm_card_chargeDeclined'), (err) => {
      assert.ok(err instanceof Stripe.errors.StripeCardError, `a StripeCardError, got ${err.constructor.name}: ${err.message}`);
      assert.equal(err.code, 'card_declined');
      assert.equal(err.statusCode, 402);
      return true;
    });
    const { rows } = await ctx.db.query("SELECT * FROM payment_failures WHERE user_id = $1 AND source = 'subscribe'", [user.id]);
    assert.equal(rows.length, 1, 'the app recorded the failed payment');
    assert.equal(rows[0].code, 'card_declined');
    assert.equal(rows[0].stripe_customer_id, user.stripe_customer_id);
    assert.equal(rows[0].stripe_price_id, 'price_starter_monthly');
    const live = await ctx.stripe.subscriptions.list({ customer: user.stripe_customer_id, status: 'active' });
    assert.equal(live.data.length, 0, 'Stripe has no active subscription for the customer');
    const active = await ctx.db.query("SELECT count(*) FROM subscriptions WHERE user_id = $1 AND status = 'active'", [user.id]);
    assert.equal(Number(active.rows[0].count), 0, 'the app shows no active subscription');
  },
};

if (scenario && !scenarios[scenario]) {
  test(`billing scenario ${scenario}`, () => assert.fail(`unknown billing scenario "${scenario}" (known: ${Object.keys(scenarios).join(', ')})`));
}
for (const [name, run] of Object.entries(scenarios)) {
  if (!scenario || scenario === name) test(`billing: ${name}`, run);
}
