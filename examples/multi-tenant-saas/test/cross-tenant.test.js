// The `cross-tenant` suite: what tenants share (plans, Redis, the usage table) and who may
// look across them (the operator). VERS_BRANCH picks shared-resources, admin-access or
// usage-metering.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { withTenant, schemaFor } from '../src/db.js';
import { T, ADMIN, api, ok, scenarios, ownerPool, redisClient, pgError, projectNames } from './support.js';

const run = scenarios(['shared-resources', 'admin-access', 'usage-metering']);
const owner = ownerPool();
const redis = redisClient();
after(async () => {
  await owner.end();
  redis.disconnect();
});

const acme = T['acme-corp'].api_key;
const globex = T['globex-inc'].api_key;
const initech = T['initech'].api_key;

test('shared resources: one plans table for all, limits per plan, per-tenant keys in the shared Redis', { skip: !run.has('shared-resources') }, async () => {
  const views = {};
  for (const t of Object.values(T)) views[t.slug] = await ok(t.api_key, 'GET', '/plan');
  assert.deepEqual(views['acme-corp'].plans, views['globex-inc'].plans);
  assert.deepEqual(views['acme-corp'].plans, views.initech.plans);
  assert.deepEqual(views['acme-corp'].plans.map((p) => p.id), ['free', 'pro', 'enterprise']);
  for (const t of Object.values(T)) assert.equal(views[t.slug].plan.id, t.plan);

  // Free allows 3 projects: globex has 2.
  await ok(globex, 'POST', '/projects', { name: 'Hammock District' }, 201);
  const refused = await api(globex, 'POST', '/projects', { name: 'One too many' });
  assert.deepEqual([refused.status, refused.body.error], [402, 'the Free plan allows 3 projects']);
  // …which says nothing about the others.
  for (let i = 1; i <= 3; i++) await ok(acme, 'POST', '/projects', { name: `Acme project ${i}` }, 201);
  await ok(initech, 'POST', '/projects', { name: 'Hammock District' }, 201);
  // Free allows 3 members: globex has 1.
  await ok(globex, 'POST', '/members', { email: 'mindy@globex.test' }, 201);
  await ok(globex, 'POST', '/members', { email: 'bart@globex.test' }, 201);
  assert.equal((await api(globex, 'POST', '/members', { email: 'homer@globex.test' })).status, 402);

  // No tenant can change what they share.
  await withTenant(owner, schemaFor('acme-corp'), async (c) => {
    assert.equal(await pgError(c.query("UPDATE plans SET max_projects = NULL WHERE id = 'free'")), '42501');
  });
  assert.equal((await owner.query("SELECT max_projects FROM plans WHERE id = 'free'")).rows[0].max_projects, 3);

  // One Redis, one key space per tenant: t:<slug>:…
  for (const t of Object.values(T)) await ok(t.api_key, 'GET', '/projects');
  const keys = (await redis.keys('t:*')).sort();
  for (const t of Object.values(T)) {
    assert.ok(keys.includes(`t:${t.slug}:projects`) && keys.includes(`t:${t.slug}:usage:requests`), keys.join(' '));
  }
  assert.ok(keys.every((k) => Object.keys(T).some((s) => k.startsWith(`t:${s}:`))), keys.join(' '));
  const cachedInitech = JSON.parse(await redis.get('t:initech:projects')).map((p) => p.name);
  assert.deepEqual(cachedInitech, [...projectNames('initech'), 'Hammock District']);
});

test('admin access: the operator sees across tenants, audited; tenant keys cannot', { skip: !run.has('admin-access') }, async () => {
  const { tenants } = await ok(ADMIN, 'GET', '/admin/tenants');
  assert.deepEqual(tenants.map((t) => [t.slug, t.plan, t.schema_version, t.projects, t.tasks, t.members]),
    Object.values(T).map((t) => [t.slug, t.plan, 3, t.projects.length, t.projects.reduce((n, p) => n + p.tasks.length, 0), t.members.length]));
  assert.deepEqual(new Set(tenants.map((t) => t.id)).size, 3);

  for (const path of ['/admin/tenants', '/admin/usage', '/admin/audit', '/admin/tenants/acme-corp/export', '/admin/tenants/acme-corp/projects']) {
    assert.equal((await api(acme, 'GET', path)).status, 403, `tenant key on ${path}`);
    assert.equal((await api('admin-test-kex', 'GET', path)).status, 403, `wrong admin key on ${path}`);
    assert.equal((await api(null, 'GET', path)).status, 401, `no key on ${path}`);
  }
  assert.equal((await api(globex, 'DELETE', '/admin/tenants/acme-corp')).status, 403);
  assert.equal((await api(globex, 'POST', '/admin/migrate')).status, 403);

  // Support access reads a tenant's data as that tenant, and leaves a trace.
  const support = await ok(ADMIN, 'GET', '/admin/tenants/acme-corp/projects');
  const own = (await ok(acme, 'GET', '/projects')).projects;
  assert.deepEqual(support.projects.map((p) => [p.id, p.name, p.tasks]), own.map((p) => [p.id, p.name, p.tasks]));
  const audit = (await ok(ADMIN, 'GET', '/admin/audit')).audit;
  assert.deepEqual(audit.filter((a) => a.action === 'provision').map((a) => a.tenant_slug), Object.keys(T));
  assert.equal(audit.filter((a) => a.action === 'support-read' && a.tenant_slug === 'acme-corp').length, 1);
  assert.equal((await api(ADMIN, 'GET', '/admin/tenants/vandelay/projects')).status, 404);
});

test('usage metering: requests counted in Redis and billable events in PostgreSQL, per tenant; each tenant sees only its own', { skip: !run.has('usage-metering') }, async () => {
  const before = (await ok(ADMIN, 'GET', '/admin/usage')).usage;
  assert.deepEqual(Object.keys(before).sort(), Object.keys(T).sort());
  // The checkpoint's own usage: its projects, tasks and members were created through the API.
  for (const t of Object.values(T)) {
    assert.deepEqual(before[t.slug].events, {
      'member.added': t.members.length,
      'project.created': t.projects.length,
      'task.created': t.projects.reduce((n, p) => n + p.tasks.length, 0),
    }, t.slug);
  }

  const [roadmap] = (await ok(acme, 'GET', '/projects')).projects.filter((p) => p.name === 'Roadmap');
  await ok(acme, 'POST', `/projects/${roadmap.id}/tasks`, { title: 'Metered 1' }, 201);
  await ok(acme, 'POST', `/projects/${roadmap.id}/tasks`, { title: 'Metered 2' }, 201);
  await ok(acme, 'POST', '/projects', { name: 'Metered project' }, 201);
  assert.equal((await api(acme, 'POST', '/projects', { name: '' })).status, 400); // counted, not billed
  for (let i = 0; i < 3; i++) await ok(globex, 'GET', '/whoami');
  assert.equal((await api('sk_test_nobody_000000000000', 'GET', '/whoami')).status, 401); // nobody's

  const now = (await ok(ADMIN, 'GET', '/admin/usage')).usage;
  assert.equal(now['acme-corp'].requests - before['acme-corp'].requests, 5);
  assert.equal(now['globex-inc'].requests - before['globex-inc'].requests, 3);
  assert.equal(now.initech.requests, before.initech.requests);
  assert.equal(now['acme-corp'].events['task.created'] - before['acme-corp'].events['task.created'], 2);
  assert.equal(now['acme-corp'].events['project.created'] - before['acme-corp'].events['project.created'], 1);
  assert.deepEqual(now['globex-inc'].events, before['globex-inc'].events);

  // A tenant reads its own usage through row-level security on the shared table.
  for (const t of Object.values(T)) {
    const mine = await ok(t.api_key, 'GET', '/usage');
    assert.deepEqual(Object.fromEntries(mine.events.map((e) => [e.metric, e.quantity])), now[t.slug].events, t.slug);
    assert.equal(mine.requests, now[t.slug].requests + 1, 'this request counted too');
  }
  const { rows: [all] } = await owner.query('SELECT count(DISTINCT tenant_role)::int AS n FROM usage_events');
  assert.equal(all.n, 3, 'one shared table holds every tenant');
});
