// The HTTP API (`node:http`). Tenant routes authenticate the key, count the request in Redis,
// and run their SQL in the key's tenant context; admin routes need the admin key.
import http from 'node:http';
import { withTenant } from './db.js';
import { tenantOf, requireAdmin } from './auth.js';
import * as tenants from './tenants.js';
import * as data from './projects.js';
import { HttpError } from './tenants.js';

/** Redis key of a tenant: every key of a tenant starts with `t:<slug>:`. */
export const tenantKey = (slug, rest) => `t:${slug}:${rest}`;
const PROJECTS_CACHE_SECONDS = 30;

async function readJson(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  if (!chunks.length) return {};
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'body is not JSON');
  }
}

/** Builds the request handler over the pools, Redis and the config. */
export function createApp({ pools, redis, cfg }) {
  const { admin, tenant: tenantPool } = pools;

  /** A tenant route: `(ctx) => result` with ctx = {t (tenant), c (client in its context), body, params}. */
  const asTenant = (fn) => async (req, body, params) => {
    const t = await tenantOf(req, { admin, redis });
    await redis.incr(tenantKey(t.slug, 'usage:requests'));
    return withTenant(tenantPool, t.schema, (c) => fn({ t, c, body, params }));
  };
  const asAdmin = (fn) => async (req, body, params) => {
    requireAdmin(req, cfg);
    return fn({ body, params });
  };
  const forget = (t) => redis.del(tenantKey(t.slug, 'projects'));

  const routes = [
    ['GET', '/health', async () => {
      await admin.query('SELECT 1');
      await redis.ping();
      return { ok: true, isolation: cfg.isolation };
    }],
    ['GET', '/whoami', asTenant(async ({ t, c }) => ({ tenant: t.slug, plan: t.plan, ...(await data.whoami(c)) }))],
    ['GET', '/plan', asTenant(async ({ t, c }) => ({
      plan: await data.plan(c, t.plan),
      plans: (await c.query('SELECT id, name, max_projects, max_members, price_cents FROM plans ORDER BY price_cents')).rows,
    }))],
    ['GET', '/projects', asTenant(async ({ t, c }) => {
      const key = tenantKey(t.slug, 'projects');
      const cached = await redis.get(key);
      if (cached) return { projects: JSON.parse(cached), cached: true };
      const projects = await data.listProjects(c);
      await redis.set(key, JSON.stringify(projects), 'EX', PROJECTS_CACHE_SECONDS);
      return { projects, cached: false };
    })],
    ['POST', '/projects', asTenant(async ({ t, c, body }) => {
      const p = await data.createProject(c, t, body);
      await forget(t);
      return [201, p];
    })],
    ['GET', '/projects/:id', asTenant(({ c, params }) => data.getProject(c, params.id))],
    ['GET', '/projects/:id/tasks', asTenant(async ({ c, params }) => ({ tasks: await data.listTasks(c, params.id) }))],
    ['POST', '/projects/:id/tasks', asTenant(async ({ t, c, params, body }) => {
      const task = await data.createTask(c, params.id, body);
      await forget(t);
      return [201, task];
    })],
    ['PATCH', '/tasks/:id', asTenant(async ({ t, c, params, body }) => {
      const task = await data.updateTask(c, params.id, body);
      await forget(t);
      return task;
    })],
    ['GET', '/members', asTenant(async ({ c }) => ({ members: await data.listMembers(c) }))],
    ['POST', '/members', asTenant(async ({ t, c, body }) => [201, await data.addMember(c, t, body)])],
    ['GET', '/usage', asTenant(async ({ t, c }) => ({
      tenant: t.slug,
      requests: Number(await redis.get(tenantKey(t.slug, 'usage:requests'))),
      events: await data.usage(c),
    }))],

    ['GET', '/admin/tenants', asAdmin(async () => ({ tenants: await tenants.list(admin) }))],
    ['POST', '/admin/tenants', asAdmin(async ({ body }) => [201, await tenants.provision(admin, body)])],
    ['DELETE', '/admin/tenants/:slug', asAdmin(({ params }) => tenants.remove(admin, redis, params.slug))],
    ['GET', '/admin/tenants/:slug/export', asAdmin(({ params }) => tenants.exportTenant(admin, params.slug))],
    ['POST', '/admin/tenants/:slug/migrate', asAdmin(async ({ params, body }) => {
      const r = await tenants.migrate(admin, params.slug, body.target ?? Infinity);
      return r.error ? [409, r] : r;
    })],
    ['POST', '/admin/migrate', asAdmin(async () => {
      const results = await tenants.migrateAll(admin);
      return [results.some((r) => r.error) ? 207 : 200, { results }];
    })],
    // Support access: an operator reads a tenant's projects under that tenant's role, audited.
    ['GET', '/admin/tenants/:slug/projects', asAdmin(async ({ params }) => {
      const t = await tenants.find(admin, params.slug);
      const projects = await withTenant(admin, t.schema_name, (c) => data.listProjects(c));
      await admin.query("INSERT INTO admin_audit (action, tenant_slug) VALUES ('support-read', $1)", [params.slug]);
      return { tenant: t.slug, projects };
    })],
    ['GET', '/admin/usage', asAdmin(async () => {
      const { rows } = await admin.query(`SELECT t.slug, t.plan_id AS plan, u.metric, COALESCE(sum(u.quantity), 0)::int AS quantity
        FROM tenants t LEFT JOIN usage_events u ON u.tenant_role = t.schema_name GROUP BY 1, 2, 3 ORDER BY 1, 3`);
      const out = {};
      for (const r of rows) {
        out[r.slug] ??= { plan: r.plan, requests: Number(await redis.get(tenantKey(r.slug, 'usage:requests'))), events: {} };
        if (r.metric) out[r.slug].events[r.metric] = r.quantity;
      }
      return { usage: out };
    })],
    ['GET', '/admin/audit', asAdmin(async () => ({
      audit: (await admin.query('SELECT action, tenant_slug, detail, at FROM admin_audit ORDER BY id')).rows,
    }))],
  ].map(([method, path, handler]) => {
    const names = [];
    const re = new RegExp(`^${path.replace(/:([a-z]+)/g, (_, n) => { names.push(n); return '([^/]+)'; })}$`);
    return { method, re, names, handler };
  });

  return async function handle(req, res) {
    let status = 200;
    let out;
    try {
      const path = new URL(req.url, 'http://app').pathname;
      const matches = routes.filter((r) => r.re.test(path));
      if (!matches.length) throw new HttpError(404, `no route ${path}`);
      const route = matches.find((r) => r.method === req.method);
      if (!route) throw new HttpError(405, `${req.method} not allowed on ${path}`);
      const m = route.re.exec(path);
      const params = Object.fromEntries(route.names.map((n, i) => [n, decodeURIComponent(m[i + 1])]));
      const body = ['POST', 'PATCH', 'PUT'].includes(req.method) ? await readJson(req) : {};
      const result = await route.handler(req, body, params);
      if (Array.isArray(result)) [status, out] = result;
      else out = result;
    } catch (err) {
      status = err.status ?? 500;
      out = { error: err.message };
      if (status >= 500) console.error(`${req.method} ${req.url}: ${err.stack}`);
    }
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(out));
  };
}

/** Starts the HTTP server. */
export function listen(handler, cfg) {
  const server = http.createServer(handler);
  return new Promise((resolve) => server.listen(cfg.port, cfg.host, () => resolve(server)));
}

