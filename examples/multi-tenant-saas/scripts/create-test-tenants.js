// Provisions and fills the test tenants (see create-test-tenants.sh).
import { readFile } from 'node:fs/promises';

const fixtures = JSON.parse(await readFile(new URL('./test-tenants.json', import.meta.url), 'utf8'));
const base = process.env.APP_URL ?? 'http://app:3000';
const adminKey = process.env.ADMIN_API_KEY ?? fixtures.admin_api_key;

async function call(key, method, path, body) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const out = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status}: ${out.error}`);
  return out;
}

for (const t of fixtures.tenants) {
  const made = await call(adminKey, 'POST', '/admin/tenants', { slug: t.slug, name: t.name, plan: t.plan, api_key: t.api_key });
  for (const m of t.members) await call(t.api_key, 'POST', '/members', m);
  for (const p of t.projects) {
    const project = await call(t.api_key, 'POST', '/projects', { name: p.name });
    for (const task of p.tasks) {
      const created = await call(t.api_key, 'POST', `/projects/${project.id}/tasks`, { title: task.title, priority: task.priority });
      if (task.done) await call(t.api_key, 'PATCH', `/tasks/${created.id}`, { done: true });
    }
  }
  const tasks = t.projects.reduce((n, p) => n + p.tasks.length, 0);
  console.log(`${t.slug}: schema ${made.schema_name} v${made.schema_version}, plan ${t.plan}, ${t.members.length} members, ${t.projects.length} projects, ${tasks} tasks`);
}
