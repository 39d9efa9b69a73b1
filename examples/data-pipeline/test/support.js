// Shared by the suites: the seed's data, scenario selection, Redis stream helpers. The tests
// use the workers' own modules (and through them the workers' pg, ioredis and Elasticsearch
// clients), so nothing is installed at the project root.
import assert from 'node:assert/strict';
import http from 'node:http';
import { redisClient } from '../etl/load/src/clients.js';
import { appendMessage, readRun, newRunId } from '../lib/pipeline.js';

export { redisClient, readRun, newRunId, appendMessage };

/** What scripts/sql/source-data.sql loads. */
export const SOURCE = { customers: 200, products: 40, orders: 1000, lines: 2500, days: 90, categories: 8 };

/**
 * The scenarios of a suite that this branch runs: the one named by `value` (a branch env
 * such as EXTRACTION_MODE) or by VERS_BRANCH, else all of them. An unknown name is an error,
 * so a renamed branch cannot pass by running nothing.
 */
export function scenarios(all, value = process.env.VERS_BRANCH) {
  if (!value) return new Set(all);
  assert.ok(all.includes(value), `unknown scenario ${JSON.stringify(value)}: expected one of ${all.join(', ')}`);
  return new Set([value]);
}

/** Polls `fn` until it returns a truthy value. */
export async function waitFor(fn, { timeoutMs = 30000, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Appends messages `[kind, body]` of a run, then its end marker. */
export async function pushRun(redis, stream, run, messages) {
  for (const [kind, body] of messages) await appendMessage(redis, stream, run, kind, body);
  await appendMessage(redis, stream, run, 'end', { expected: messages.length });
}

/** GET on a fresh connection each time (so the balancer picks a replica per request). */
export function getFresh(url) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode, body: JSON.parse(text) });
        } catch (err) {
          reject(new Error(`${url}: ${err.message}: ${text}`));
        }
      });
    });
    req.on('error', reject);
  });
}
