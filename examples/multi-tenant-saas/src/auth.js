// Who is calling: `Authorization: Bearer <key>`. Tenant keys are looked up by their hash in
// the registry (cached in Redis for a minute); the admin key is configured. Nothing else,
// no header or parameter, can choose the tenant.
import { timingSafeEqual } from 'node:crypto';
import { hashKey, HttpError } from './tenants.js';

const CACHE_SECONDS = 60;

function bearer(req) {
  const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
  if (!m) throw new HttpError(401, 'missing bearer token');
  return m[1];
}

/** The tenant of the request's key: `{id, slug, schema, plan}`. */
export async function tenantOf(req, { admin, redis }) {
  const hash = hashKey(bearer(req));
  const cached = await redis.get(`apikey:${hash}`);
  if (cached) return JSON.parse(cached);
  const { rows } = await admin.query(
    'SELECT t.id, t.slug, t.schema_name AS schema, t.plan_id AS plan FROM api_keys k JOIN tenants t ON t.id = k.tenant_id WHERE k.key_hash = $1', [hash]);
  if (!rows.length) throw new HttpError(401, 'unknown API key');
  await redis.set(`apikey:${hash}`, JSON.stringify(rows[0]), 'EX', CACHE_SECONDS);
  return rows[0];
}

/** Refuses anything but the admin key. */
export function requireAdmin(req, cfg) {
  const given = Buffer.from(bearer(req));
  const want = Buffer.from(cfg.adminApiKey);
  if (given.length !== want.length || !timingSafeEqual(given, want)) throw new HttpError(403, 'admin key required');
}
