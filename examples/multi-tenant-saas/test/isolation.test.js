// The `tenant-isolation` suite: the tenants of the `tenants-created` checkpoint, in a branch
// of their own. VERS_BRANCH picks data-isolation (the API), schema-isolation (the database
// itself, through the app's own tenant context) or connection-pooling.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { withTenant, schemaFor } from '../src/db.js';
import { T, ADMIN, api, ok, scenarios, ownerPool, appPool, redisClient, pgError, projectNames } from './support.js';

const run = scenarios(['data-isolation', 'schema-isolation', 'connection-pooling']);
const owner = ownerPool();
const redis = redisClient();
after(async () => {
  await owner.end();
  redis.disconnect();
});

const acme = T['acme-corp'].api_key;
const globex = T['globex-inc'].api_key;
const initech = T['initech'].api_key;

test('data isolation: each key sees its own tenant and nothing of the others', { skip: !run.has('data-isolation') }, async () => {
  const lists = {};
  for (const t of Object.values(T)) {
    lists[t.slug] = (await ok(t.api_key, 'GET', '/projects')).projects;
    assert.deepEqual(lists[t.slug].map((p) => p.name), projectNames(t.slug), t.slug);
  }
  // The same name in two tenants is two projects.
  const acmeRoadmap = lists['acme-corp'].find((p) => p.name === 'Roadmap');
  const globexRoadmap = lists['globex-inc'].find((p) => p.name === 'Roadmap');
  assert.notEqual(acmeRoadmap.id, globexRoadmap.id);
  assert.deepEqual([acmeRoadmap.tasks, globexRoadmap.tasks], [2, 0]);

  // Another tenant's ids lead nowhere, for reads and for writes.
  const doomsday = lists['globex-inc'].find((p) => p.name === 'Doomsday Device');
  assert.equal((await api(acme, 'GET', `/projects/${doomsday.id}`)).status, 404);
  assert.equal((await api(acme, 'GET', `/projects/${doomsday.id}/tasks`)).status, 404);
  assert.equal((await api(acme, 'POST', `/projects/${doomsday.id}/tasks`, { title: 'sabotage' })).status, 404);
  const [laser] = (await ok(globex, 'GET', `/projects/${doomsday.id}/tasks`)).tasks.filter((t) => t.title === 'Build the laser');
  assert.equal((await api(acme, 'PATCH', `/tasks/${laser.id}`, { done: true })).status, 404);
  assert.equal((await api(initech, 'PATCH', `/tasks/${laser.id}`, { done: true })).status, 404);
  const after1 = (await ok(globex, 'GET', `/projects/${doomsday.id}/tasks`)).tasks;
  assert.equal(after1.find((t) => t.id === laser.id).done, false, "globex's task is unchanged");
  assert.equal(after1.length, 4);

  // No header chooses the tenant: only the key does.
  const made = await ok(acme, 'POST', '/projects', { name: 'Spoofed' }, 201);
  assert.equal((await api(acme, 'POST', '/projects', { name: 'Spoofed again' }, { 'x-tenant': 'globex-inc', 'x-tenant-id': 'globex-inc' })).status, 201);
  assert.ok(!(await ok(globex, 'GET', '/projects')).projects.some((p) => p.name.startsWith('Spoofed')));
  assert.equal((await api(globex, 'GET', `/projects/${made.id}`)).status, 404);
  assert.equal((await ok(acme, 'GET', `/projects/${made.id}`)).name, 'Spoofed');

  // Keys: unknown and missing are refused; the admin key is not a tenant key.
  assert.equal((await api('sk_test_nobody_000000000000', 'GET', '/projects')).status, 401);
  assert.equal((await api(null, 'GET', '/projects')).status, 401);
  assert.equal((await api(ADMIN, 'GET', '/projects')).status, 401);

  // The per-tenant cache in the shared Redis holds each tenant's list under its own key.
  await ok(globex, 'GET', '/projects');
  const cachedAgain = await ok(globex, 'GET', '/projects');
  assert.equal(cachedAgain.cached, true);
  const cachedGlobex = JSON.parse(await redis.get('t:globex-inc:projects'));
  assert.deepEqual(cachedGlobex.map((p) => p.name), projectNames('globex-inc'));
  assert.deepEqual((await ok(acme, 'GET', '/projects')).projects.map((p) => p.name), [...projectNames('acme-corp'), 'Spoofed', 'Spoofed again'],
    "acme's write invalidated acme's cache only");
});

test('schema isolation: a tenant context reaches its own schema and the shared tables it is granted, nothing else', { skip: !run.has('schema-isolation') }, async () => {
  const pool = appPool();
  try {
    const acmeSchema = schemaFor('acme-corp');
    await withTenant(pool, acmeSchema, async (c) => {
      const { rows: [w] } = await c.query('SELECT current_user AS u, session_user AS s, current_schema() AS schema');
      assert.deepEqual(w, { u: acmeSchema, s: 'saas_app', schema: acmeSchema });
      assert.equal((await c.query('SELECT count(*)::int AS n FROM projects')).rows[0].n, 2);
      // Other tenants' schemas, the registry and the public schema are closed.
      for (const sql of ['SELECT * FROM tenant_globex_inc.projects', 'SELECT * FROM tenant_initech.members', 'SELECT * FROM public.tenants',
        'SELECT * FROM api_keys', 'SELECT * FROM admin_audit', 'CREATE TABLE public.evil (x int)', 'UPDATE plans SET price_cents = 0',
        'DROP TABLE tenant_globex_inc.tasks']) {
        await c.query('SAVEPOINT s');
        assert.equal(await pgError(c.query(sql)), '42501', `${sql} must be refused`);
        await c.query('ROLLBACK TO SAVEPOINT s');
      }
      // Row-level security on the shared usage table: no forged owner.
      await c.query('SAVEPOINT s');
      assert.equal(await pgError(c.query("INSERT INTO usage_events (tenant_role, metric) VALUES ('tenant_globex_inc', 'forged')")), '42501');
      await c.query('ROLLBACK TO SAVEPOINT s');
      // The catalogue of tables this context can use: its own, plus plans and usage_events.
      const { rows } = await c.query(`SELECT DISTINCT table_schema || '.' || table_name AS t FROM information_schema.tables
        WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`);
      assert.deepEqual(rows.map((r) => r.t), [
        'public.plans', 'public.usage_events',
        `${acmeSchema}.members`, `${acmeSchema}.projects`, `${acmeSchema}.schema_migrations`, `${acmeSchema}.tasks`,
      ]);
    });
    // Outside any tenant context the app's login reads no tenant data at all (NOINHERIT).
    const bare = await pool.connect();
    try {
      assert.equal((await bare.query('SELECT current_user AS u')).rows[0].u, 'saas_app');
      for (const sql of ['SELECT * FROM tenant_acme_corp.projects', 'SELECT * FROM usage_events', 'SELECT * FROM tenants']) {
        assert.equal(await pgError(bare.query(sql)), '42501', `bare saas_app: ${sql}`);
      }
    } finally {
      bare.release();
    }
  } finally {
    await pool.end();
  }
  // Every tenant schema is owned by its own role, at the latest migration.
  const { rows } = await owner.query(`SELECT t.slug, n.nspname, pg_get_userbyid(n.nspowner) AS owner
    FROM tenants t JOIN pg_namespace n ON n.nspname = t.schema_name ORDER BY t.slug`);
  assert.deepEqual(rows.map((r) => [r.slug, r.nspname, r.owner]), Object.keys(T).sort().map((s) => [s, schemaFor(s), schemaFor(s)]));
  for (const s of Object.keys(T)) {
    const v = (await owner.query(`SELECT array_agg(version ORDER BY version) AS v FROM ${schemaFor(s)}.schema_migrations`)).rows[0].v;
    assert.deepEqual(v, [1, 2, 3], s);
  }
});

test('connection pooling: pooled connections switch tenants per transaction and never carry one over', { skip: !run.has('connection-pooling') }, async () => {
  // 90 concurrent requests over the app's pool of 4 connections, the three tenants interleaved.
  const calls = [];
  for (let i = 0; i < 30; i++) {
    for (const t of Object.values(T)) {
      calls.push(api(t.api_key, 'GET', '/whoami').then((r) => ({ t, r })));
      // Requests that fail inside the tenant transaction (404 after a query, a refused value).
      if (i % 5 === 0) calls.push(api(t.api_key, 'GET', '/projects/00000000-0000-0000-0000-000000000000').then((r) => ({ t, r, failing: 404 })));
      if (i % 7 === 0) calls.push(api(t.api_key, 'POST', '/projects', { name: '' }).then((r) => ({ t, r, failing: 400 })));
    }
  }
  const results = await Promise.all(calls);
  const pidTenants = new Map();
  for (const { t, r, failing } of results) {
    if (failing) {
      assert.equal(r.status, failing, JSON.stringify(r.body));
      continue;
    }
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual([r.body.tenant, r.body.db_role, r.body.schema, r.body.session_role], [t.slug, schemaFor(t.slug), schemaFor(t.slug), 'saas_app']);
    assert.equal(r.body.search_path, `${schemaFor(t.slug)}, public`);
    if (!pidTenants.has(r.body.backend_pid)) pidTenants.set(r.body.backend_pid, new Set());
    pidTenants.get(r.body.backend_pid).add(t.slug);
  }
  assert.ok(pidTenants.size <= 4, `at most the pool's 4 connections: ${pidTenants.size}`);
  assert.ok([...pidTenants.values()].some((s) => s.size === 3), 'a connection served all three tenants in turn');

  // The app's own withTenant on a one-connection pool: after a tenant transaction, committed
  // or failed, the connection is bare saas_app again.
  const pool = appPool(1);
  try {
    const bare = async () => (await pool.query("SELECT current_user AS u, current_setting('search_path') AS p, pg_backend_pid() AS pid")).rows[0];
    const first = await bare();
    assert.equal(first.u, 'saas_app');
    await withTenant(pool, schemaFor('initech'), (c) => c.query('SELECT 1'));
    assert.deepEqual(await bare(), first);
    await assert.rejects(withTenant(pool, schemaFor('globex-inc'), async (c) => {
      await c.query('SELECT 1');
      throw new Error('request failed half-way');
    }), /half-way/);
    assert.deepEqual(await bare(), first, 'same connection, no tenant left on it');
    await assert.rejects(withTenant(pool, schemaFor('acme-corp'), (c) => c.query('SELECT * FROM no_such_table')), /no_such_table/);
    assert.deepEqual(await bare(), first);
  } finally {
    await pool.end();
  }
  const { rows: [{ n }] } = await owner.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = 'saas_app'");
  assert.ok(n <= 4, `the app holds at most 4 connections as saas_app: ${n}`);
});
