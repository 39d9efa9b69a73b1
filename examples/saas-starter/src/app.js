// The HTTP interface of the app (node:http): health, plans, sign-up and login (password,
// OIDC providers, GitHub), password reset, billing and the Stripe webhook endpoint.
// `createApp(ctx)` builds the server from whatever dependencies `ctx` holds, so a test can
// serve the real routes with only the services it runs.
import http from 'node:http';
import Stripe from 'stripe';
import {
  AuthError,
  beginOAuthLogin,
  completeOAuthLogin,
  loginWithPassword,
  requestPasswordReset,
  resetPassword,
  signUp,
} from './auth.js';
import {
  BillingError,
  cancelSubscription,
  changePlan,
  currentSubscription,
  handleStripeWebhook,
  subscribe,
} from './billing.js';
import { findUserById, listPlans, listSubscriptions, ping } from './db.js';
import { sendPasswordResetEmail, sendWelcomeEmail } from './mailer.js';
import { destroySession, getSession } from './sessions.js';

const MAX_BODY_BYTES = 1024 * 1024;
const OAUTH_PROVIDERS = new Set(['google', 'github']);

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new HttpError(413, 'request body too large'));
        req.destroy();
      } else {
        chunks.push(chunk);
      }
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

async function readJson(req) {
  const raw = await readBody(req);
  if (raw.length === 0) return {};
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw new HttpError(400, 'request body is not valid JSON');
  }
}

function send(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function publicUser(user) {
  return { id: user.id, email: user.email, name: user.name, stripeCustomerId: user.stripe_customer_id ?? null };
}

function sessionToken(req) {
  const auth = req.headers.authorization ?? '';
  if (auth.startsWith('Bearer ')) return auth.slice(7);
  const cookie = (req.headers.cookie ?? '').split(/;\s*/).find((c) => c.startsWith('session='));
  return cookie ? decodeURIComponent(cookie.slice(8)) : null;
}

function need(ctx, ...names) {
  for (const name of names) {
    if (!ctx[name]) throw new HttpError(503, `${name} is not available in this process`);
  }
}

function sessionCookie(session) {
  const maxAge = Math.max(0, Math.round((session.expiresAt.getTime() - Date.now()) / 1000));
  return `session=${encodeURIComponent(session.token)}; HttpOnly; SameSite=Lax; Path=/; Max-Age=${maxAge}`;
}

async function currentUser(ctx, req) {
  need(ctx, 'db', 'redis');
  const session = await getSession(ctx, sessionToken(req));
  const user = session ? await findUserById(ctx.db, session.userId) : null;
  if (!user) throw new HttpError(401, 'login required');
  return user;
}

async function health(ctx) {
  const checks = {};
  const probe = async (name, fn) => {
    try {
      checks[name] = (await fn()) ? 'ok' : 'failing';
    } catch (err) {
      checks[name] = `failing: ${err.message}`;
    }
  };
  if (ctx.db) await probe('postgres', () => ping(ctx.db));
  if (ctx.redis) await probe('redis', async () => (await ctx.redis.ping()) === 'PONG');
  const ok = Object.values(checks).every((v) => v === 'ok');
  return { status: ok ? 200 : 503, body: { status: ok ? 'ok' : 'degraded', checks } };
}

async function route(ctx, req, res) {
  const url = new URL(req.url, 'http://app.local');
  const key = `${req.method} ${url.pathname}`;
  switch (key) {
    case 'GET /health': {
      const { status, body } = await health(ctx);
      return send(res, status, body);
    }
    case 'GET /plans':
      need(ctx, 'db');
      return send(res, 200, { plans: await listPlans(ctx.db) });
    case 'POST /signup': {
      need(ctx, 'db');
      const body = await readJson(req);
      const user = await signUp(ctx, body);
      if (ctx.mailer) await sendWelcomeEmail(ctx.mailer, user).catch((err) => ctx.log(`welcome mail: ${err.message}`));
      return send(res, 201, { user: publicUser(user) });
    }
    case 'POST /login': {
      need(ctx, 'db', 'redis');
      const { email, password } = await readJson(req);
      const { user, session } = await loginWithPassword(ctx, email, password);
      return send(res, 200, { user: publicUser(user), token: session.token }, { 'set-cookie': sessionCookie(session) });
    }
    case 'POST /logout': {
      need(ctx, 'db', 'redis');
      const token = sessionToken(req);
      if (token) await destroySession(ctx, token);
      return send(res, 200, { ok: true }, { 'set-cookie': 'session=; Path=/; Max-Age=0' });
    }
    case 'GET /me':
      return send(res, 200, { user: publicUser(await currentUser(ctx, req)) });
    case 'GET /auth/callback': {
      need(ctx, 'db', 'redis');
      // The provider redirected the browser to the registered redirect URI; rebuild it
      // exactly (the token request must repeat it) whatever Host this request came on.
      const callback = `${ctx.config.oauth.redirectUri.split('?')[0]}${url.search}`;
      const { user, session, provider, created } = await completeOAuthLogin(ctx, callback);
      return send(res, 200, { user: publicUser(user), provider, created, token: session.token }, { 'set-cookie': sessionCookie(session) });
    }
    case 'POST /password-reset': {
      need(ctx, 'db', 'redis');
      const { email } = await readJson(req);
      const issued = await requestPasswordReset(ctx, email ?? '');
      if (issued && ctx.mailer) await sendPasswordResetEmail(ctx.mailer, issued.user, issued.token);
      return send(res, 202, { ok: true });
    }
    case 'POST /password-reset/confirm': {
      need(ctx, 'db', 'redis');
      const { token, password } = await readJson(req);
      await resetPassword(ctx, token, password);
      return send(res, 200, { ok: true });
    }
    case 'GET /billing/subscription': {
      need(ctx, 'stripe');
      const user = await currentUser(ctx, req);
      return send(res, 200, { stripe: await currentSubscription(ctx, user.id), recorded: await listSubscriptions(ctx.db, user.id) });
    }
    case 'POST /billing/subscribe': {
      need(ctx, 'stripe');
      const user = await currentUser(ctx, req);
      const { priceId, paymentMethod } = await readJson(req);
      const subscription = await subscribe(ctx, user.id, priceId, paymentMethod);
      return send(res, 201, { subscription: { id: subscription.id, status: subscription.status } });
    }
    case 'POST /billing/change': {
      need(ctx, 'stripe');
      const user = await currentUser(ctx, req);
      const { priceId } = await readJson(req);
      const subscription = await changePlan(ctx, user.id, priceId);
      return send(res, 200, { subscription: { id: subscription.id, status: subscription.status } });
    }
    case 'POST /billing/cancel': {
      need(ctx, 'stripe');
      const user = await currentUser(ctx, req);
      const subscription = await cancelSubscription(ctx, user.id);
      return send(res, 200, { subscription: { id: subscription.id, status: subscription.status } });
    }
    case 'POST /webhooks/stripe': {
      need(ctx, 'db', 'stripe');
      const raw = await readBody(req);
      const { status, body } = await handleStripeWebhook(ctx, raw, req.headers['stripe-signature']);
      return send(res, status, body);
    }
    default:
      break;
  }
  const login = url.pathname.match(/^\/auth\/([a-z]+)\/login$/);
  if (req.method === 'GET' && login && OAUTH_PROVIDERS.has(login[1])) {
    need(ctx, 'redis');
    const { url: target } = await beginOAuthLogin(ctx, login[1], { loginHint: url.searchParams.get('login_hint') ?? undefined });
    res.writeHead(302, { location: target });
    return res.end();
  }
  throw new HttpError(404, `no route for ${req.method} ${url.pathname}`);
}

function statusOf(err) {
  if (err instanceof HttpError || err instanceof AuthError || err instanceof BillingError) return err.status;
  if (err instanceof Stripe.errors.StripeCardError) return 402;
  return 500;
}

/**
 * Builds the HTTP server. `ctx` holds `config` and any of `db`, `redis`, `stripe`, `mailer`
 * (routes whose dependency is missing answer 503) and optionally `log`.
 */
export function createApp(ctx) {
  const context = { log: (line) => console.error(line), ...ctx };
  return http.createServer((req, res) => {
    route(context, req, res).catch((err) => {
      const status = statusOf(err);
      if (status >= 500) context.log(`${req.method} ${req.url}: ${err.stack ?? err}`);
      if (!res.headersSent) send(res, status, { error: err.message, code: err.code });
      else res.end();
    });
  });
}
