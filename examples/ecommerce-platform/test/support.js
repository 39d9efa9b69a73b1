// Helpers shared by the test suites: the scenario a branch selects, the app's API, the seed
// data, Stripe test cards, S3 and MailHog clients, and polling.
import { createContext } from '../src/context.js';
import { catalogData, testUsers } from '../scripts/lib.js';

export { catalogData, testUsers };

/** The branch being run (VERS_BRANCH), or null outside vers: then every scenario runs. */
export const branch = process.env.VERS_BRANCH || null;

/** Whether the scenario `name` runs in this branch. */
export const runs = (name) => branch === null || branch === name;

/** Clients of every service (the app's own context), closed by `after`. */
export function services() {
  return createContext();
}

/** Calls the app's API; returns `{status, body, headers}`. */
export async function api(method, path, body) {
  const base = process.env.APP_URL ?? 'http://app:3000';
  const response = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = text;
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

/** Calls the API and fails unless the status is `status`; returns the body. */
export async function expectStatus(status, method, path, body) {
  const r = await api(method, path, body);
  if (r.status !== status) {
    throw new Error(`${method} ${path}: HTTP ${r.status}, expected ${status}: ${JSON.stringify(r.body)}`);
  }
  return r.body;
}

/** The error code of a failed call, checking its status. */
export async function expectError(status, method, path, body) {
  const r = await expectStatus(status, method, path, body);
  return r.error.code;
}

/** A cart holding `items` ([{sku, quantity}]); returns its id. */
export async function cartWith(items) {
  const cart = await expectStatus(201, 'POST', '/carts');
  for (const item of items) await expectStatus(200, 'POST', `/carts/${cart.id}/items`, item);
  return cart.id;
}

/** A card PaymentMethod made the way Stripe.js makes one in the browser. */
export async function cardPaymentMethod(stripe, number) {
  return stripe.paymentMethods.create({ type: 'card', card: { number, exp_month: 12, exp_year: new Date().getFullYear() + 3, cvc: '123' } });
}

/** The first order of a test customer (placed by scripts/place-test-orders.sh). */
export async function seededOrder(email) {
  const { orders } = await expectStatus(200, 'GET', `/orders?email=${encodeURIComponent(email)}`);
  if (orders.length === 0) throw new Error(`${email} has no order: did the orders-placed checkpoint run?`);
  return expectStatus(200, 'GET', `/orders/${orders[orders.length - 1].id}`);
}

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes; returns that value. */
export async function waitFor(fn, { timeoutMs = 5000, intervalMs = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${lastError.message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** The analytics events named `name` whose properties contain `match`. */
export async function events(ctx, name, match = {}) {
  const { rows } = await ctx.pools.analytics.query(
    'SELECT properties FROM events WHERE name = $1 AND properties @> $2 ORDER BY id',
    [name, match],
  );
  return rows.map((r) => r.properties);
}

function header(headers, name) {
  const key = Object.keys(headers ?? {}).find((k) => k.toLowerCase() === name.toLowerCase());
  return key ? String(headers[key][0] ?? '') : '';
}

function decodeQuotedPrintable(text) {
  const bytes = [];
  const soft = text.replace(/=\r?\n/g, '');
  for (let i = 0; i < soft.length; i += 1) {
    const hex = soft.slice(i + 1, i + 3);
    if (soft[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(soft[i], 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

function decodeBody(headers, body) {
  const encoding = header(headers, 'Content-Transfer-Encoding').toLowerCase();
  if (encoding === 'quoted-printable') return decodeQuotedPrintable(body);
  if (encoding === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  return body;
}

function leaves(mime, out) {
  for (const part of mime?.Parts ?? []) {
    if (part.MIME?.Parts?.length) leaves(part.MIME, out);
    else out.push(part);
  }
  return out;
}

/**
 * `{subject, to, text, html, attachments: [{filename, contentType, content}]}` of a MailHog
 * API message, bodies decoded.
 */
export function readMessage(message) {
  const headers = message.Content.Headers;
  const result = { subject: header(headers, 'Subject'), to: header(headers, 'To'), text: '', html: '', attachments: [] };
  const parts = leaves(message.MIME, []);
  if (parts.length === 0) parts.push({ Headers: headers, Body: message.Content.Body });
  for (const part of parts) {
    const type = header(part.Headers, 'Content-Type');
    const disposition = header(part.Headers, 'Content-Disposition');
    const body = decodeBody(part.Headers, part.Body);
    if (/attachment/i.test(disposition)) {
      const filename = /filename="?([^";]+)"?/i.exec(disposition)?.[1] ?? '';
      result.attachments.push({ filename, contentType: type.split(';')[0].trim(), content: body });
    } else if (type.toLowerCase().startsWith('text/html')) {
      result.html += body;
    } else if (type.toLowerCase().startsWith('text/plain') || type === '') {
      result.text += body;
    }
  }
  return result;
}

/** Decoded messages MailHog captured for `address`, oldest first. */
export async function mailTo(ctx, address) {
  const response = await fetch(`${ctx.config.smtp.apiUrl}/api/v2/search?kind=to&query=${encodeURIComponent(address)}&limit=200`);
  if (!response.ok) throw new Error(`MailHog search: HTTP ${response.status}`);
  const { items } = await response.json();
  return items.map(readMessage).reverse();
}
