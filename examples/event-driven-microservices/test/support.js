// What the suites (and the seed) share: where the services are, HTTP calls, polling, a Kafka
// topic watcher, the databases, MailHog, `vers` itself, and which scenario a branch runs.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { createKafka, parseEvent } from '@edm/events';
import Redis from 'ioredis';
import { MongoClient } from 'mongodb';
import pg from 'pg';

/** The services, by the names vers resolves inside the environment (each app listens on 3000). */
export const SERVICES = {
  user: process.env.USER_SERVICE_URL ?? 'http://user-service:3000',
  order: process.env.ORDER_SERVICE_URL ?? 'http://order-service:3000',
  inventory: process.env.INVENTORY_SERVICE_URL ?? 'http://inventory-service:3000',
  notification: process.env.NOTIFICATION_SERVICE_URL ?? 'http://notification-service:3000',
};

/** Kong's proxy, and the route prefix of each service on it. */
export const GATEWAY = process.env.GATEWAY_URL ?? 'http://gateway:8000';
export const ROUTES = { user: '/api/users', order: '/api/orders', inventory: '/api/inventory' };

/** The data scripts/seed-all-services.sh put in every service. */
export const SEED = JSON.parse(readFileSync(new URL('../scripts/seed-data.json', import.meta.url), 'utf8'));
export const PURCHASING_EMAIL = 'purchasing@example.com';

/**
 * The scenario this run is for: VERS_SCENARIO, else `explicit` (a suite's own variable), else
 * VERS_BRANCH; null outside a branch (then a suite runs all of its scenarios).
 */
export function scenario(explicit) {
  return process.env.VERS_SCENARIO || explicit || process.env.VERS_BRANCH || null;
}

/** The scenarios of `all` to run: the selected one (which must exist), or every one. */
export function selectScenarios(all, selected) {
  if (!selected) return Object.keys(all);
  assert.ok(Object.hasOwn(all, selected), `no scenario ${selected} in this suite (known: ${Object.keys(all).join(', ')})`);
  return [selected];
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** `method path` on `base`: `{ status, json, headers, ms }`; a network failure is status 0. */
export async function api(base, method, path, body, headers = {}) {
  const started = performance.now();
  let res;
  try {
    res = await fetch(`${base}${path}`, {
      method,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      signal: AbortSignal.timeout(20000),
    });
  } catch (err) {
    return { status: 0, json: null, headers: new Headers(), ms: performance.now() - started, error: err.cause?.code ?? err.message };
  }
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = { raw: text };
  }
  return { status: res.status, json, headers: res.headers, ms: performance.now() - started };
}

/** Polls `fn` until it returns a truthy value (returned), failing after `timeoutMs`. */
export async function waitFor(what, fn, { timeoutMs = 30000, intervalMs = 200 } = {}) {
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
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${lastError.message})` : ''}`);
    }
    await sleep(intervalMs);
  }
}

/**
 * Reads `topics` from the beginning in a consumer group of its own, keeping every message:
 * `{ topic, partition, offset, key, event }` (event null when the value is not an event).
 */
export async function watchTopics(topics) {
  const kafka = createKafka(`test-${process.pid}`);
  const consumer = kafka.consumer({ groupId: `test-${randomUUID()}`, sessionTimeout: 10000, heartbeatInterval: 1000, maxWaitTimeInMs: 200 });
  const seen = [];
  let joined = false;
  consumer.on(consumer.events.GROUP_JOIN, () => {
    joined = true;
  });
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      let event = null;
      try {
        event = parseEvent(message.value, topic);
      } catch {
        // kept with event null: the dead-letter tests look for such messages
      }
      seen.push({ topic, partition, offset: Number(message.offset), key: message.key?.toString('utf8') ?? null, value: message.value?.toString('utf8'), event });
    },
  });
  await waitFor(`a consumer group on ${topics.join(', ')}`, () => joined, { timeoutMs: 60000 });
  return {
    seen,
    /** Messages matching `pred` so far. */
    find: (pred) => seen.filter(pred),
    /** The first message matching `pred`, waiting for it. */
    waitFor: (what, pred, opts) => waitFor(what, () => seen.find(pred), { timeoutMs: 60000, ...opts }),
    stop: () => consumer.disconnect(),
  };
}

/** Does `m` carry an event of `type` on `topic` whose data has `orderId`? */
export const eventOf = (topic, type, match = {}) => (m) =>
  m.topic === topic && m.event?.type === type && Object.entries(match).every(([k, v]) => m.event.data[k] === v);

/** A NotificationRequested for `template` matching `match` within its data. */
export const notificationOf = (template, to, match = {}) => (m) =>
  m.topic === 'notification-events' &&
  m.event?.type === 'NotificationRequested' &&
  m.event.data.template === template &&
  m.event.data.to === to &&
  Object.entries(match).every(([k, v]) => m.event.data.data?.[k] === v);

/** A connected client of `database` on its PostgreSQL service. */
export async function postgres(service, database) {
  const client = new pg.Client({ connectionString: `postgres://postgres@${service}/${database}`, connectionTimeoutMillis: 10000 });
  await client.connect();
  return client;
}

/** The inventory database, through the official driver. */
export async function inventoryDb() {
  const client = new MongoClient(process.env.MONGODB_URL ?? 'mongodb://mongodb-inventory/inventory', { serverSelectionTimeoutMS: 10000 });
  await client.connect();
  return { client, db: client.db() };
}

/** A Redis client. */
export function redis() {
  return new Redis(process.env.REDIS_URL ?? 'redis://redis:6379', { maxRetriesPerRequest: 2 });
}

function header(headers, name) {
  const key = Object.keys(headers ?? {}).find((k) => k.toLowerCase() === name.toLowerCase());
  return key ? String(headers[key][0] ?? '') : '';
}

function decode(headers, body) {
  const encoding = header(headers, 'Content-Transfer-Encoding').toLowerCase();
  if (encoding === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (encoding === 'quoted-printable') {
    const soft = body.replace(/=\r?\n/g, '');
    return Buffer.from(soft.replace(/=([0-9A-F]{2})/gi, (_, h) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8');
  }
  return body;
}

/** `{ to, subject, messageId, eventId, template, text }` of a MailHog v2 message. */
export function readMail(message) {
  const headers = message.Content.Headers;
  const parts = message.MIME?.Parts?.length ? message.MIME.Parts : [{ Headers: headers, Body: message.Content.Body }];
  const plain = parts.find((p) => header(p.Headers, 'Content-Type').toLowerCase().startsWith('text/plain')) ?? parts[0];
  return {
    to: header(headers, 'To'),
    subject: header(headers, 'Subject'),
    messageId: header(headers, 'Message-ID'),
    eventId: header(headers, 'X-Event-Id'),
    template: header(headers, 'X-Template'),
    text: decode(plain.Headers, plain.Body),
  };
}

/** MailHog's API on the `smtp` service. */
export function mailhog(base = process.env.MAILHOG_API_URL ?? 'http://smtp:8025') {
  const get = async (path) => {
    const res = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(10000) });
    if (!res.ok) throw new Error(`MailHog ${path}: HTTP ${res.status}`);
    return res.json();
  };
  return {
    all: () => get('/api/v2/messages?limit=1000'),
    /** The mails to `address`, decoded. */
    async to(address) {
      const found = await get(`/api/v2/search?kind=to&query=${encodeURIComponent(address)}&limit=1000`);
      return found.items.map(readMail);
    },
    /** Waits for a mail to `address` whose subject is `subject`; returns all such mails. */
    async waitFor(address, subject, opts) {
      return waitFor(`a mail "${subject}" to ${address}`, async () => {
        const mails = (await this.to(address)).filter((m) => m.subject === subject);
        return mails.length > 0 ? mails : null;
      }, { timeoutMs: 60000, intervalMs: 300, ...opts });
    },
  };
}

/** Runs `vers` (acting on this branch: VERS_ENV is set inside it). */
export function vers(...args) {
  return execFileSync('vers', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** The faults active in this environment (`vers chaos list --json`). */
export const faults = () => JSON.parse(vers('chaos', 'list', '--json')).faults;

/** A fresh address for a test user, unique per run. */
export const freshEmail = (name) => `${name}-${randomUUID().slice(0, 8)}@example.com`;
