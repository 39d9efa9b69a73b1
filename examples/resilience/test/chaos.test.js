// The `chaos` suite: one run per scenario of `tests.chaos.scenarios`, each on its own branch.
// vers applies the scenario's fault itself (at `after`, for `duration`) and passes its name
// (VERS_SCENARIO) and what the test should observe (VERS_EXPECT, comma-separated labels);
// this test checks each label in order. No `vers chaos` call here: the schedule is vers's.
import assert from 'node:assert/strict';
import test from 'node:test';

const APP = process.env.APP_URL ?? `http://${process.env.VERS_APP_HOST ?? 'app'}:3000`;
const scenario = process.env.VERS_SCENARIO;
const expected = (process.env.VERS_EXPECT ?? '').split(',').filter(Boolean);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A request to the app: status, parsed body; a 500 is never acceptable. */
async function api(method, path, body) {
  const res = await fetch(`${APP}${path}`, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(10000),
  });
  const json = await res.json();
  assert.notEqual(res.status, 500, `${method} ${path} answered 500: ${JSON.stringify(json)}`);
  return { status: res.status, json, headers: res.headers };
}

const order = (item) => api('POST', '/orders', { item, amount: 1200 });

/** Polls `check` until it returns a truthy value, or fails after `ms`. */
async function eventually(what, ms, check) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const v = await check();
    if (v) return v;
    await sleep(100);
  }
  assert.fail(`${what} within ${ms} ms`);
}

/** What each label of `expect:` means, as a check run against the app. */
const checks = {
  // Before the fault's `after`: the stack is healthy and orders are accepted.
  async 'app.healthy_before'() {
    const made = await order('before-the-fault');
    assert.equal(made.status, 201, JSON.stringify(made.json));
  },
  // Once PostgreSQL is down, writes are refused with 503 + Retry-After, never a 500.
  async 'app.returns_503'() {
    const refused = await eventually('a write is refused with 503', 15000, async () => {
      const r = await order('during-the-crash');
      return r.status === 503 && r;
    });
    assert.equal(refused.headers.get('retry-after'), '1');
  },
  // Once the fault's `duration` is over, vers restarts PostgreSQL and the app reconnects.
  async 'app.reconnects'() {
    const made = await eventually('an order is accepted again', 30000, async () => {
      const r = await order('after-the-crash');
      return r.status === 201 && r;
    });
    assert.equal(made.json.order.payment, 'charged');
    const old = await api('GET', '/orders/2');
    assert.equal(old.json.order.item, 'mouse');
  },
  // Redis is frozen from the start: reads fall back to PostgreSQL.
  async 'app.serves_from_db'() {
    const r = await api('GET', '/orders/1');
    assert.equal(r.status, 200);
    assert.equal(r.json.source, 'db');
    assert.equal(r.json.order.item, 'keyboard');
  },
  // Redis thaws when the fault's `duration` ends: the cache is used again.
  async 'app.uses_cache_again'() {
    await eventually('reads come from the cache again', 30000, async () => {
      const r = await api('GET', '/orders/1');
      return r.json.source === 'cache';
    });
  },
};

test(`chaos: ${scenario}`, async () => {
  assert.ok(scenario, 'VERS_SCENARIO is not set: run this suite with `vers test chaos`');
  assert.ok(expected.length > 0, `scenario ${scenario} expects nothing`);
  for (const label of expected) {
    assert.ok(checks[label], `no check for the label ${label} of scenario ${scenario}`);
    await checks[label]();
  }
});
