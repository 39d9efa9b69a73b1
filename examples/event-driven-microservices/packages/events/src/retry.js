// Waiting for a dependency at start-up.

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `fn` until it resolves, waiting `intervalMs` between attempts, for at most
 * `timeoutMs`; the last error is rethrown with `what` in front.
 */
export async function retryUntil(what, fn, { timeoutMs = 60000, intervalMs = 500 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) {
        throw new Error(`${what}: ${err.message}`, { cause: err });
      }
      await sleep(intervalMs);
    }
  }
}
