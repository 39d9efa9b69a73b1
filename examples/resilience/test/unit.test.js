// The resilience primitives on their own, with a fake clock: no services needed.
import assert from 'node:assert/strict';
import test from 'node:test';

import {
  BreakerOpenError,
  CircuitBreaker,
  TimeoutError,
  backoffSchedule,
  retry,
  withTimeout,
} from '../src/resilience.js';

const fail = () => Promise.reject(new Error('down'));
const ok = () => Promise.resolve('up');

test('breaker opens after the threshold, short-circuits, then closes after a good trial', async () => {
  let now = 0;
  const b = new CircuitBreaker('dep', { threshold: 3, cooldownMs: 1000, now: () => now });
  for (let i = 0; i < 3; i += 1) await assert.rejects(b.call(fail), /down/);
  assert.equal(b.current(), 'open');
  let called = false;
  await assert.rejects(
    b.call(() => {
      called = true;
      return ok();
    }),
    BreakerOpenError,
  );
  assert.equal(called, false, 'an open breaker must not call the dependency');
  now = 999;
  assert.equal(b.current(), 'open');
  now = 1000;
  assert.equal(b.current(), 'half-open');
  assert.equal(await b.call(ok), 'up');
  assert.equal(b.current(), 'closed');
  assert.deepEqual(
    { opened: b.stats.opened, closed: b.stats.closed, shortCircuits: b.stats.shortCircuits },
    { opened: 1, closed: 1, shortCircuits: 1 },
  );
});

test('a failed half-open trial opens the breaker again', async () => {
  let now = 0;
  const b = new CircuitBreaker('dep', { threshold: 1, cooldownMs: 500, now: () => now });
  await assert.rejects(b.call(fail));
  now = 600;
  await assert.rejects(b.call(fail), /down/);
  assert.equal(b.current(), 'open');
  now = 1000;
  assert.equal(b.current(), 'open', 'the cooldown restarts at the failed trial');
});

test('success resets the count of consecutive failures', async () => {
  const b = new CircuitBreaker('dep', { threshold: 2 });
  await assert.rejects(b.call(fail));
  await b.call(ok);
  await assert.rejects(b.call(fail));
  assert.equal(b.current(), 'closed');
});

test('retry backs off exponentially and returns the first success', async () => {
  let calls = 0;
  const delays = [];
  const value = await retry(
    async () => {
      calls += 1;
      if (calls < 3) throw new Error('flaky');
      return calls;
    },
    { attempts: 5, baseMs: 10, onRetry: (_e, _n, ms) => delays.push(ms) },
  );
  assert.equal(value, 3);
  assert.deepEqual(delays, [10, 20]);
  assert.deepEqual(backoffSchedule({ attempts: 5, baseMs: 100, maxMs: 500 }), [100, 200, 400, 500]);
});

test('retry gives up after its attempts, and at once on an open breaker or a final error', async () => {
  let calls = 0;
  await assert.rejects(
    retry(() => {
      calls += 1;
      return fail();
    }, { attempts: 3, baseMs: 1 }),
    /down/,
  );
  assert.equal(calls, 3);
  calls = 0;
  await assert.rejects(
    retry(() => {
      calls += 1;
      throw new BreakerOpenError('dep');
    }, { attempts: 3, baseMs: 1 }),
    BreakerOpenError,
  );
  assert.equal(calls, 1);
  calls = 0;
  await assert.rejects(
    retry(() => {
      calls += 1;
      return fail();
    }, { attempts: 3, baseMs: 1, retryable: () => false }),
  );
  assert.equal(calls, 1);
});

test('withTimeout rejects a call that hangs', async () => {
  const started = Date.now();
  await assert.rejects(withTimeout(new Promise(() => {}), 50, 'hang'), TimeoutError);
  assert.ok(Date.now() - started < 1000);
  assert.equal(await withTimeout(ok(), 50, 'fast'), 'up');
});
