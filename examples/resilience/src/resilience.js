// Retry with exponential backoff, per-call timeouts and a circuit breaker: the three tools
// the app wraps around every call to a dependency.

/** Thrown when a breaker is open and the call was not attempted. */
export class BreakerOpenError extends Error {
  constructor(name) {
    super(`${name} circuit is open`);
    this.name = 'BreakerOpenError';
    this.dependency = name;
  }
}

/** Thrown when a call took longer than its time limit. */
export class TimeoutError extends Error {
  constructor(what, ms) {
    super(`${what} timed out after ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

/** Rejects with a TimeoutError when `promise` has not settled within `ms`. */
export function withTimeout(promise, ms, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(what, ms)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A circuit breaker. `closed`: calls go through and consecutive failures are counted;
 * `threshold` of them open it. `open`: calls fail at once with BreakerOpenError until
 * `cooldownMs` has passed. `half-open`: one trial call goes through; success closes the
 * breaker, failure opens it again.
 */
export class CircuitBreaker {
  constructor(name, { threshold = 3, cooldownMs = 1000, now = Date.now } = {}) {
    this.name = name;
    this.threshold = threshold;
    this.cooldownMs = cooldownMs;
    this.now = now;
    this.state = 'closed';
    this.failures = 0;
    this.openedAt = 0;
    this.trial = false;
    this.stats = { calls: 0, failures: 0, shortCircuits: 0, opened: 0, closed: 0 };
  }

  /** The state, moving from open to half-open once the cooldown has passed. */
  current() {
    if (this.state === 'open' && this.now() - this.openedAt >= this.cooldownMs) {
      this.state = 'half-open';
      this.trial = false;
    }
    return this.state;
  }

  async call(fn) {
    const state = this.current();
    if (state === 'open' || (state === 'half-open' && this.trial)) {
      this.stats.shortCircuits += 1;
      throw new BreakerOpenError(this.name);
    }
    if (state === 'half-open') this.trial = true;
    this.stats.calls += 1;
    try {
      const value = await fn();
      this.onSuccess();
      return value;
    } catch (err) {
      this.onFailure();
      throw err;
    }
  }

  onSuccess() {
    if (this.state !== 'closed') {
      this.state = 'closed';
      this.stats.closed += 1;
    }
    this.failures = 0;
    this.trial = false;
  }

  onFailure() {
    this.stats.failures += 1;
    this.failures += 1;
    if (this.state === 'half-open' || this.failures >= this.threshold) {
      if (this.state !== 'open') this.stats.opened += 1;
      this.state = 'open';
      this.openedAt = this.now();
      this.trial = false;
    }
  }

  report() {
    return { state: this.current(), consecutive_failures: this.failures, ...this.stats };
  }
}

/**
 * Calls `fn(attempt)` up to `attempts` times, sleeping `baseMs * 2^(n-1)` (capped at
 * `maxMs`, with up to 20 % random jitter) between attempts. Errors for which
 * `retryable(err)` is false, and BreakerOpenError, end the retries at once. `onRetry` is
 * told about every retry.
 */
export async function retry(
  fn,
  { attempts = 4, baseMs = 100, maxMs = 2000, retryable = () => true, onRetry = () => {} } = {},
) {
  let last;
  for (let attempt = 1; attempt <= attempts; attempt += 1) {
    try {
      return await fn(attempt);
    } catch (err) {
      last = err;
      if (err instanceof BreakerOpenError || !retryable(err) || attempt === attempts) break;
      const backoff = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
      onRetry(err, attempt, backoff);
      await sleep(backoff + Math.random() * backoff * 0.2);
    }
  }
  throw last;
}

/** Backoff delays `retry` sleeps for, without jitter: for tests and the README. */
export function backoffSchedule({ attempts = 4, baseMs = 100, maxMs = 2000 } = {}) {
  return Array.from({ length: attempts - 1 }, (_, i) => Math.min(maxMs, baseMs * 2 ** i));
}
