// Shared by the suites: the fixture tenants, an HTTP client for the app, direct database
// access through the app's own modules, and scenario selection.
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import Redis from 'ioredis';
import { config } from '../src/config.js';

export const fixtures = JSON.parse(await readFile(new URL('../scripts/test-tenants.json', import.meta.url), 'utf8'));
export const cfg = config();
export const APP = process.env.APP_URL ?? 'http://app:3000';
export const ADMIN = process.env.ADMIN_API_KEY ?? fixtures.admin_api_key;
/** Fixture tenants by slug. */
export const T = Object.fromEntries(fixtures.tenants.map((t) => [t.slug, t]));

/** The branch's scenarios: the one VERS_BRANCH names, else all; an unknown name fails. */
export function scenarios(all, value = process.env.VERS_BRANCH) {
  if (!value) return new Set(all);
  assert.ok(all.includes(value), `unknown scenario ${JSON.stringify(value)}: expected one of ${all.join(', ')}`);
  return new Set([value]);
}

/**
 * One API call on a fresh connection: `{status, body}`. `key` is a bearer key (or null);
 * `headers` adds headers.
 */
export function api(key, method, path, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(`${APP}${path}`, {
      method,
      agent: false,
      headers: {
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...(data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {}),
        ...headers,
      },
    }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode, body: JSON.parse(text) });
        } catch (err) {
          reject(new Error(`${method} ${path}: ${err.message}: ${text}`));
        }
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}

/** An API call that must answer `status` (200 by default); returns the body. */
export async function ok(key, method, path, body, status = 200) {
  const r = await api(key, method, path, body);
  assert.equal(r.status, status, `${method} ${path}: ${JSON.stringify(r.body)}`);
  return r.body;
}

/** A pool as the database owner (for checks from outside the app). */
export const ownerPool = () => new pg.Pool({ connectionString: cfg.adminDatabaseUrl, max: 2 });
/** A pool as saas_app, the app's tenant login. */
export const appPool = (max = 2) => new pg.Pool({ connectionString: cfg.tenantDatabaseUrl, max });
export const redisClient = () => new Redis(cfg.redisUrl, { maxRetriesPerRequest: 3 });

/** The PostgreSQL error code of a rejected promise. */
export async function pgError(promise) {
  try {
    await promise;
  } catch (err) {
    return err.code;
  }
  return 'no error';
}

/** Project names of a fixture tenant, in creation order. */
export const projectNames = (slug) => T[slug].projects.map((p) => p.name);
