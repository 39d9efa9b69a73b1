// Billing through Stripe: a customer per user, subscriptions to the plans' prices, and the
// webhook handler that keeps the `subscriptions` table in step with Stripe. The handler is
// the only writer of that table, so what the app shows is what Stripe confirmed.
import Stripe from 'stripe';
import { findPlanByPrice, findUserById, findUserByStripeCustomer, setStripeCustomer } from './db.js';
import { sendInvoiceEmail } from './mailer.js';

/** A billing request the app refuses (HTTP `status`). */
export class BillingError extends Error {
  constructor(message, status = 400) {
    super(message);
    this.name = 'BillingError';
    this.status = status;
  }
}

/** A Stripe client for the configured API endpoint (stripe-mock inside vers). */
export function createStripe(config) {
  const { secretKey, host, port, protocol } = config.stripe;
  return new Stripe(secretKey, { host, port, protocol, maxNetworkRetries: 1, timeout: 10000 });
}

/** The user's Stripe customer id, creating the customer on first use. */
export async function ensureCustomer({ db, stripe }, user) {
  if (user.stripe_customer_id) return user.stripe_customer_id;
  const customer = await stripe.customers.create({
    email: user.email,
    name: user.name ?? undefined,
    metadata: { user_id: user.id },
  });
  await setStripeCustomer(db, user.id, customer.id);
  return customer.id;
}

async function loadUser(db, userId) {
  const user = await findUserById(db, userId);
  if (!user) throw new BillingError(`no user ${userId}`, 404);
  return user;
}

/** Records a failed payment so support can see it and the user can be told. */
export async function recordPaymentFailure(db, { userId, customerId, priceId, error, source }) {
  await db.query(
    `INSERT INTO payment_failures (user_id, stripe_customer_id, stripe_price_id, code, decline_code, message, source)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [userId ?? null, customerId ?? null, priceId ?? null, error.code ?? null, error.decline_code ?? null, error.message ?? null, source],
  );
}

/**
 * Subscribes a user to `priceId`, paying with `paymentMethod` (a Stripe payment method id
 * such as `pm_card_visa`). A declined card is recorded in `payment_failures` and rethrown
 * as Stripe's StripeCardError. Returns the Stripe subscription.
 */
export async function subscribe(ctx, userId, priceId, paymentMethod = 'pm_card_visa') {
  const { db, stripe } = ctx;
  const user = await loadUser(db, userId);
  if (!(await findPlanByPrice(db, priceId))) throw new BillingError(`unknown price ${priceId}`);
  const customerId = await ensureCustomer(ctx, user);
  try {
    const method = await stripe.paymentMethods.attach(paymentMethod, { customer: customerId });
    await stripe.customers.update(customerId, {
      invoice_settings: { default_payment_method: method.id },
    });
    return await stripe.subscriptions.create({
      customer: customerId,
      items: [{ price: priceId }],
      default_payment_method: method.id,
      payment_behavior: 'error_if_incomplete',
      metadata: { user_id: user.id },
    });
  } catch (err) {
    if (err instanceof Stripe.errors.StripeCardError) {
      await recordPaymentFailure(db, { userId: user.id, customerId, priceId, error: err, source: 'subscribe' });
    }
    throw err;
  }
}

/** The user's live (not canceled) Stripe subscription, or null. */
export async function currentSubscription({ db, stripe }, userId) {
  const user = await loadUser(db, userId);
  if (!user.stripe_customer_id) return null;
  const list = await stripe.subscriptions.list({ customer: user.stripe_customer_id, limit: 10 });
  return list.data.find((s) => s.status !== 'canceled' && s.status !== 'incomplete_expired') ?? null;
}

/** Moves the user's subscription to `priceId` (upgrade or downgrade, prorated). */
export async function changePlan(ctx, userId, priceId) {
  if (!(await findPlanByPrice(ctx.db, priceId))) throw new BillingError(`unknown price ${priceId}`);
  const subscription = await currentSubscription(ctx, userId);
  if (!subscription) throw new BillingError('no active subscription', 409);
  const item = subscription.items.data[0];
  return ctx.stripe.subscriptions.update(subscription.id, {
    items: [{ id: item.id, price: priceId }],
    proration_behavior: 'create_prorations',
  });
}

/** Cancels the user's subscription now. */
export async function cancelSubscription(ctx, userId) {
  const subscription = await currentSubscription(ctx, userId);
  if (!subscription) throw new BillingError('no active subscription', 409);
  return ctx.stripe.subscriptions.cancel(subscription.id);
}

function periodEnd(subscription) {
  const seconds = subscription.current_period_end ?? subscription.items?.data?.[0]?.current_period_end;
  return typeof seconds === 'number' ? new Date(seconds * 1000) : null;
}

async function upsertSubscription(db, event, subscription) {
  const customerId = typeof subscription.customer === 'string' ? subscription.customer : subscription.customer?.id;
  const user = customerId ? await findUserByStripeCustomer(db, customerId) : null;
  const priceId = subscription.items?.data?.[0]?.price?.id ?? null;
  const plan = priceId ? await findPlanByPrice(db, priceId) : null;
  const status = event.type === 'customer.subscription.deleted' ? 'canceled' : subscription.status;
  await db.query(
    `INSERT INTO subscriptions (id, user_id, stripe_customer_id, plan_id, stripe_price_id, status,
                                cancel_at_period_end, current_period_end, last_event_id, last_event_created, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now())
     ON CONFLICT (id) DO UPDATE SET
       user_id = EXCLUDED.user_id, plan_id = EXCLUDED.plan_id, stripe_price_id = EXCLUDED.stripe_price_id,
       status = EXCLUDED.status, cancel_at_period_end = EXCLUDED.cancel_at_period_end,
       current_period_end = EXCLUDED.current_period_end, last_event_id = EXCLUDED.last_event_id,
       last_event_created = EXCLUDED.last_event_created, updated_at = now()
     WHERE subscriptions.last_event_created <= EXCLUDED.last_event_created`,
    [
      subscription.id,
      user?.id ?? null,
      customerId,
      plan?.id ?? null,
      priceId,
      status,
      Boolean(subscription.cancel_at_period_end),
      periodEnd(subscription),
      event.id,
      event.created ?? 0,
    ],
  );
}

async function recordInvoiceFailure(db, invoice) {
  const customerId = typeof invoice.customer === 'string' ? invoice.customer : invoice.customer?.id;
  const user = customerId ? await findUserByStripeCustomer(db, customerId) : null;
  const error = invoice.last_finalization_error ?? { code: 'invoice_payment_failed', message: `invoice ${invoice.id} was not paid` };
  await recordPaymentFailure(db, {
    userId: user?.id,
    customerId,
    priceId: invoice.lines?.data?.[0]?.price?.id ?? invoice.lines?.data?.[0]?.pricing?.price_details?.price ?? null,
    error,
    source: 'webhook:invoice.payment_failed',
  });
}

async function mailReceipt(ctx, invoice) {
  const customerId = typeof invoice.customer === 'string' ? invoice.customer : invoice.customer?.id;
  const user = customerId ? await findUserByStripeCustomer(ctx.db, customerId) : null;
  if (!user || !invoice.amount_paid) return;
  const line = invoice.lines?.data?.[0];
  try {
    await sendInvoiceEmail(ctx.mailer, user, {
      number: invoice.number ?? invoice.id,
      amountPaid: invoice.amount_paid,
      currency: invoice.currency ?? 'usd',
      planName: line?.description ?? 'your plan',
    });
  } catch (err) {
    ctx.log?.(`receipt for ${invoice.id}: ${err.message}`);
  }
}

/**
 * Handles one webhook delivery: verifies `Stripe-Signature` over the raw body with the
 * endpoint secret (stripe.webhooks.constructEvent), stores the event once and applies it.
 * Returns `{ status, body }` for the HTTP answer; a bad signature is a 400 and changes nothing.
 */
export async function handleStripeWebhook(ctx, rawBody, signature) {
  const { db, stripe, config } = ctx;
  let event;
  try {
    event = stripe.webhooks.constructEvent(rawBody, signature ?? '', config.stripe.webhookSecret);
  } catch (err) {
    return { status: 400, body: { error: `webhook signature verification failed: ${err.message}` } };
  }
  const inserted = await db.query(
    'INSERT INTO webhook_events (id, type, payload) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING',
    [event.id, event.type, event],
  );
  if (inserted.rowCount === 0) return { status: 200, body: { received: true, duplicate: true } };
  const object = event.data?.object ?? {};
  switch (event.type) {
    case 'customer.subscription.created':
    case 'customer.subscription.updated':
    case 'customer.subscription.deleted':
      await upsertSubscription(db, event, object);
      break;
    case 'invoice.payment_failed':
      await recordInvoiceFailure(db, object);
      break;
    case 'invoice.paid':
      if (ctx.mailer) await mailReceipt(ctx, object);
      break;
    default:
      break;
  }
  return { status: 200, body: { received: true, type: event.type } };
}
