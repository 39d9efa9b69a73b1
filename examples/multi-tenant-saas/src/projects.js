// A tenant's own data: projects, tasks, members. Every function takes a client already in the
// tenant's context (src/db.js withTenant): the SQL names no schema and filters on no tenant
// column, because the connection can only see the tenant's schema.
import { HttpError } from './tenants.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function uuid(id, what) {
  if (!UUID.test(id ?? '')) throw new HttpError(404, `no ${what} ${id}`);
  return id;
}

/** Records one billable event for the current tenant (row-level security checks the owner). */
export async function meter(c, metric, quantity = 1) {
  await c.query('INSERT INTO usage_events (metric, quantity) VALUES ($1, $2)', [metric, quantity]);
}

/** The tenant's plan, from the shared plans table. */
async function plan(c, planId) {
  const { rows } = await c.query('SELECT id, name, max_projects, max_members, price_cents FROM plans WHERE id = $1', [planId]);
  return rows[0];
}

export async function listProjects(c) {
  return (await c.query(`SELECT p.id, p.name, p.created_at, count(t.id)::int AS tasks, count(t.id) FILTER (WHERE NOT t.done)::int AS open
    FROM projects p LEFT JOIN tasks t ON t.project_id = p.id GROUP BY p.id ORDER BY p.created_at, p.name`)).rows;
}

export async function createProject(c, tenant, { name }) {
  if (typeof name !== 'string' || !name.trim()) throw new HttpError(400, 'name is required');
  const limits = await plan(c, tenant.plan);
  const { rows: [{ n }] } = await c.query('SELECT count(*)::int AS n FROM projects');
  if (limits.max_projects !== null && n >= limits.max_projects) {
    throw new HttpError(402, `the ${limits.name} plan allows ${limits.max_projects} projects`);
  }
  try {
    const { rows: [p] } = await c.query('INSERT INTO projects (name) VALUES ($1) RETURNING id, name, created_at', [name.trim()]);
    await meter(c, 'project.created');
    return p;
  } catch (err) {
    if (err.code === '23505') throw new HttpError(409, `a project named ${JSON.stringify(name.trim())} exists`);
    throw err;
  }
}

export async function getProject(c, id) {
  const { rows } = await c.query('SELECT id, name, created_at FROM projects WHERE id = $1', [uuid(id, 'project')]);
  if (!rows.length) throw new HttpError(404, `no project ${id}`);
  return rows[0];
}

export async function listTasks(c, projectId) {
  await getProject(c, projectId);
  return (await c.query('SELECT id, project_id, title, done, priority, created_at FROM tasks WHERE project_id = $1 ORDER BY created_at, title', [projectId])).rows;
}

export async function createTask(c, projectId, { title, priority = 3 }) {
  await getProject(c, projectId);
  if (typeof title !== 'string' || !title.trim()) throw new HttpError(400, 'title is required');
  try {
    const { rows: [t] } = await c.query(
      'INSERT INTO tasks (project_id, title, priority) VALUES ($1, $2, $3) RETURNING id, project_id, title, done, priority, created_at',
      [projectId, title.trim(), priority]);
    await meter(c, 'task.created');
    return t;
  } catch (err) {
    if (err.code === '23514' || err.code === '22P02') throw new HttpError(400, `invalid task: ${err.message}`);
    throw err;
  }
}

export async function updateTask(c, id, { done }) {
  if (typeof done !== 'boolean') throw new HttpError(400, 'done must be true or false');
  const { rows } = await c.query('UPDATE tasks SET done = $2 WHERE id = $1 RETURNING id, project_id, title, done, priority', [uuid(id, 'task'), done]);
  if (!rows.length) throw new HttpError(404, `no task ${id}`);
  return rows[0];
}

export async function listMembers(c) {
  return (await c.query('SELECT id, email, role FROM members ORDER BY email')).rows;
}

export async function addMember(c, tenant, { email, role = 'member' }) {
  const limits = await plan(c, tenant.plan);
  const { rows: [{ n }] } = await c.query('SELECT count(*)::int AS n FROM members');
  if (limits.max_members !== null && n >= limits.max_members) throw new HttpError(402, `the ${limits.name} plan allows ${limits.max_members} members`);
  try {
    const { rows: [m] } = await c.query('INSERT INTO members (email, role) VALUES (lower($1), $2) RETURNING id, email, role', [email, role]);
    await meter(c, 'member.added');
    return m;
  } catch (err) {
    if (err.code === '23505') throw new HttpError(409, `${email} is a member`);
    if (err.code === '23514' || err.code === '23502') throw new HttpError(400, err.message);
    throw err;
  }
}

/** What the connection is, seen from inside the tenant's context. */
export async function whoami(c) {
  const { rows: [w] } = await c.query(`SELECT current_user AS db_role, session_user AS session_role,
    current_schema() AS schema, current_setting('search_path') AS search_path, pg_backend_pid() AS backend_pid`);
  return w;
}

/** The tenant's own usage events, by metric (row-level security hides everyone else's). */
export async function usage(c) {
  return (await c.query('SELECT metric, sum(quantity)::int AS quantity FROM usage_events GROUP BY metric ORDER BY metric')).rows;
}

export { plan };
