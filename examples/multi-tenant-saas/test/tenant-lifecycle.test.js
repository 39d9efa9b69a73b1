// The `tenant-lifecycle` suite, on the tenants of the `tenants-created` checkpoint. VERS_BRANCH
// picks tenant-provisioning, tenant-migration, tenant-deletion or tenant-export.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { withTenant, schemaFor } from '../src/db.js';
import { T, ADMIN, api, ok, scenarios, ownerPool, redisClient, projectNames } from './support.js';

const run = scenarios(['tenant-provisioning', 'tenant-migration', 'tenant-deletion', 'tenant-export']);
const owner = ownerPool();
const redis = redisClient();
after(async () => {
  await owner.end();
  redis.disconnect();
});

const exists = {
  schema: async (s) => (await owner.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [s])).rows.length === 1,
  role: async (r) => (await owner.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [r])).rows.length === 1,
};
const versions = async (schema) => (await owner.query(`SELECT array_agg(version ORDER BY version) AS v FROM "${schema}".schema_migrations`)).rows[0].v;

test('provisioning: registry row, role, schema at the latest version and a working key, all or nothing', { skip: !run.has('tenant-provisioning') }, async () => {
  const made = await ok(ADMIN, 'POST', '/admin/tenants', { slug: 'umbrella-corp', name: 'Umbrella Corp', plan: 'pro' }, 201);
  assert.deepEqual([made.slug, made.schema_name, made.plan, made.schema_version], ['umbrella-corp', 'tenant_umbrella_corp', 'pro', 3]);
  assert.match(made.api_key, /^sk_umbrella-corp_[0-9a-f]{36}$/);
  const key = made.api_key;
  assert.deepEqual((await ok(key, 'GET', '/projects')).projects, []);
  const p = await ok(key, 'POST', '/projects', { name: 'T-Virus' }, 201);
  assert.equal((await ok(key, 'POST', `/projects/${p.id}/tasks`, { title: 'Contain it', priority: 1 }, 201)).priority, 1);
  const who = await ok(key, 'GET', '/whoami');
  assert.deepEqual([who.tenant, who.db_role, who.schema], ['umbrella-corp', 'tenant_umbrella_corp', 'tenant_umbrella_corp']);
  assert.ok(await exists.schema('tenant_umbrella_corp'));
  assert.deepEqual(await versions('tenant_umbrella_corp'), [1, 2, 3]);
  const { rows: [m] } = await owner.query(`SELECT pg_has_role('tenant_umbrella_corp', 'tenant_base', 'MEMBER') AS base,
    pg_has_role('saas_app', 'tenant_umbrella_corp', 'MEMBER') AS app, pg_has_role('saas_app', 'tenant_umbrella_corp', 'USAGE') AS inherits`);
  assert.deepEqual(m, { base: true, app: true, inherits: false });
  // The other tenants do not see the newcomer, and it does not see them.
  assert.deepEqual((await ok(T['acme-corp'].api_key, 'GET', '/projects')).projects.map((x) => x.name), projectNames('acme-corp'));
  assert.equal((await api(key, 'GET', `/projects/${(await ok(T['acme-corp'].api_key, 'GET', '/projects')).projects[0].id}`)).status, 404);

  // Refusals: a taken slug, a slug that is not a name, an unknown plan (after the role and the
  // schema were made: the transaction takes them back), and a tenant key.
  assert.equal((await api(ADMIN, 'POST', '/admin/tenants', { slug: 'acme-corp', name: 'Again' })).status, 409);
  assert.equal((await api(ADMIN, 'POST', '/admin/tenants', { slug: 'x"; DROP SCHEMA public; --', name: 'Evil' })).status, 400);
  const badPlan = await api(ADMIN, 'POST', '/admin/tenants', { slug: 'bad-plan', name: 'Bad', plan: 'platinum' });
  assert.deepEqual([badPlan.status, badPlan.body.error], [400, 'unknown plan "platinum"']);
  assert.equal(await exists.schema('tenant_bad_plan'), false);
  assert.equal(await exists.role('tenant_bad_plan'), false);
  assert.equal((await owner.query("SELECT count(*)::int AS n FROM tenants WHERE slug = 'bad-plan'")).rows[0].n, 0);
  assert.equal((await api(T['acme-corp'].api_key, 'POST', '/admin/tenants', { slug: 'sneaky', name: 'Sneaky' })).status, 403);
  const list = (await ok(ADMIN, 'GET', '/admin/tenants')).tenants;
  assert.deepEqual(list.map((t) => t.slug), ['acme-corp', 'globex-inc', 'initech', 'umbrella-corp']);
});

test('migration: every tenant migrated in its own transaction; a failing tenant is rolled back alone', { skip: !run.has('tenant-migration') }, async () => {
  const hooli = await ok(ADMIN, 'POST', '/admin/tenants', { slug: 'hooli', name: 'Hooli', plan: 'pro', schema_version: 2 }, 201);
  const piper = await ok(ADMIN, 'POST', '/admin/tenants', { slug: 'pied-piper', name: 'Pied Piper', plan: 'pro', schema_version: 1 }, 201);
  assert.deepEqual([hooli.schema_version, piper.schema_version], [2, 1]);
  await ok(hooli.api_key, 'POST', '/projects', { name: 'Nucleus' }, 201);
  await ok(hooli.api_key, 'POST', '/projects', { name: 'nucleus' }, 201);
  // At version 1 tasks have no priority column: write as the tenant, straight to its schema.
  await withTenant(owner, 'tenant_pied_piper', async (c) => {
    const { rows: [p] } = await c.query("INSERT INTO projects (name) VALUES ('Compression') RETURNING id");
    await c.query("INSERT INTO tasks (project_id, title) VALUES ($1, 'Middle-out')", [p.id]);
  });

  const res = await api(ADMIN, 'POST', '/admin/migrate');
  assert.equal(res.status, 207, JSON.stringify(res.body));
  const by = Object.fromEntries(res.body.results.map((r) => [r.slug, r]));
  for (const s of Object.keys(T)) assert.deepEqual([by[s].from, by[s].to, by[s].applied], [3, 3, []], s);
  assert.deepEqual([by['pied-piper'].from, by['pied-piper'].to, by['pied-piper'].applied], [1, 3, [2, 3]]);
  assert.equal(by.hooli.failed_migration, 3);
  assert.match(by.hooli.error, /migration 3 \(unique_project_names\): could not create unique index/);

  assert.deepEqual(await versions('tenant_pied_piper'), [1, 2, 3]);
  assert.deepEqual(await versions('tenant_hooli'), [1, 2]);
  const idx = await owner.query("SELECT schemaname FROM pg_indexes WHERE indexname = 'projects_name_unique' ORDER BY 1");
  assert.deepEqual(idx.rows.map((r) => r.schemaname), ['tenant_acme_corp', 'tenant_globex_inc', 'tenant_initech', 'tenant_pied_piper']);
  const middleOut = (await owner.query("SELECT priority FROM tenant_pied_piper.tasks WHERE title = 'Middle-out'")).rows[0];
  assert.equal(middleOut.priority, 3, 'migration 2 gave the existing task the default priority');
  assert.deepEqual((await ok(hooli.api_key, 'GET', '/projects')).projects.map((p) => p.name).sort(), ['Nucleus', 'nucleus']);

  // Fix the data, migrate the one tenant; now its names are unique.
  await withTenant(owner, 'tenant_hooli', (c) => c.query("UPDATE projects SET name = 'Nucleus 2' WHERE name = 'nucleus'"));
  const fixed = await ok(ADMIN, 'POST', '/admin/tenants/hooli/migrate', {});
  assert.deepEqual([fixed.from, fixed.to, fixed.applied], [2, 3, [3]]);
  assert.equal((await api(hooli.api_key, 'POST', '/projects', { name: 'NUCLEUS' })).status, 409);
  assert.equal((await api(ADMIN, 'POST', '/admin/migrate')).status, 200, 'everyone is current');
});

test('deletion: schema, role, keys, usage and Redis keys go; the other tenants stay whole', { skip: !run.has('tenant-deletion') }, async () => {
  const key = T['globex-inc'].api_key;
  await ok(key, 'GET', '/projects'); // cached key, cached list, a request counter
  assert.ok((await redis.keys('t:globex-inc:*')).length >= 2);
  const acmeBefore = (await ok(ADMIN, 'GET', '/admin/tenants')).tenants.find((t) => t.slug === 'acme-corp');

  const gone = await ok(ADMIN, 'DELETE', '/admin/tenants/globex-inc');
  assert.deepEqual([gone.schema, gone.api_keys], ['tenant_globex_inc', 1]);
  assert.ok(gone.redis_keys >= 3, `purged ${gone.redis_keys} Redis keys`);
  assert.equal((await api(key, 'GET', '/projects')).status, 401, 'the key died with the tenant, cache included');
  assert.equal(await exists.schema('tenant_globex_inc'), false);
  assert.equal(await exists.role('tenant_globex_inc'), false);
  assert.deepEqual(await redis.keys('t:globex-inc:*'), []);
  assert.equal((await owner.query("SELECT count(*)::int AS n FROM usage_events WHERE tenant_role = 'tenant_globex_inc'")).rows[0].n, 0);
  const audit = (await ok(ADMIN, 'GET', '/admin/audit')).audit;
  assert.ok(audit.some((a) => a.action === 'delete' && a.tenant_slug === 'globex-inc'));
  assert.equal((await api(ADMIN, 'DELETE', '/admin/tenants/globex-inc')).status, 404);

  const rest = (await ok(ADMIN, 'GET', '/admin/tenants')).tenants;
  assert.deepEqual(rest.map((t) => t.slug), ['acme-corp', 'initech']);
  assert.deepEqual(rest.find((t) => t.slug === 'acme-corp'), acmeBefore);
  assert.deepEqual((await ok(T.initech.api_key, 'GET', '/projects')).projects.map((p) => p.name), projectNames('initech'));

  // The slug can be provisioned again, and starts empty.
  const again = await ok(ADMIN, 'POST', '/admin/tenants', { slug: 'globex-inc', name: 'Globex Again', plan: 'free' }, 201);
  assert.deepEqual((await ok(again.api_key, 'GET', '/projects')).projects, []);
  assert.deepEqual((await ok(again.api_key, 'GET', '/usage')).events, []);
});

test('export: everything of one tenant and nothing else; an import of it is an identical tenant', { skip: !run.has('tenant-export') }, async () => {
  const doc = await ok(ADMIN, 'GET', '/admin/tenants/initech/export');
  assert.deepEqual(doc.tenant, { slug: 'initech', name: 'Initech', plan: 'enterprise' });
  assert.equal(doc.schema_version, 3);
  assert.deepEqual(doc.tables.projects.map((p) => p.name), projectNames('initech'));
  assert.deepEqual(doc.tables.members.map((m) => m.email).sort(), T.initech.members.map((m) => m.email).sort());
  assert.deepEqual(doc.tables.tasks.map((t) => [t.title, t.priority]).sort(),
    T.initech.projects.flatMap((p) => p.tasks.map((t) => [t.title, t.priority ?? 3])).sort());
  const projectIds = new Set(doc.tables.projects.map((p) => p.id));
  assert.ok(doc.tables.tasks.every((t) => projectIds.has(t.project_id)));
  for (const other of ['acme-corp', 'globex-inc']) {
    const theirs = (await ok(T[other].api_key, 'GET', '/projects')).projects.map((p) => p.id);
    assert.ok(theirs.every((id) => !projectIds.has(id)), `no ${other} project in the export`);
  }
  assert.equal((await api(T.initech.api_key, 'GET', '/admin/tenants/initech/export')).status, 403, 'a tenant key cannot export');
  assert.equal((await api(ADMIN, 'GET', '/admin/tenants/vandelay/export')).status, 404);

  const copy = await ok(ADMIN, 'POST', '/admin/tenants', { slug: 'initech-copy', name: 'Initech', plan: 'enterprise', import: doc }, 201);
  const copied = await ok(ADMIN, 'GET', '/admin/tenants/initech-copy/export');
  assert.deepEqual(copied.tables, doc.tables, 'the copy has the same rows, ids included');
  assert.deepEqual((await ok(copy.api_key, 'GET', '/projects')).projects.map((p) => p.name), projectNames('initech'));
  // Two tenants with the same rows are still two tenants.
  await ok(copy.api_key, 'POST', '/projects', { name: 'Only in the copy' }, 201);
  assert.deepEqual((await ok(ADMIN, 'GET', '/admin/tenants/initech/export')).tables.projects.length, 2);
  assert.ok((await ok(ADMIN, 'GET', '/admin/audit')).audit.filter((a) => a.action === 'export').length >= 3);
});
