// The rules of a user record, free of I/O.
import { HttpError } from '@edm/events';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** The normalised `{ email, name }` of a sign-up body, or an HttpError 400. */
export function validateNewUser(body) {
  if (body === null || typeof body !== 'object') throw new HttpError(400, 'a JSON object is required');
  const email = typeof body.email === 'string' ? body.email.trim().toLowerCase() : '';
  const name = typeof body.name === 'string' ? body.name.trim() : '';
  if (!EMAIL.test(email)) throw new HttpError(400, 'email must be an email address');
  if (!name || name.length > 100) throw new HttpError(400, 'name must have 1 to 100 characters');
  return { email, name };
}

/** The Redis key caching user `id`. */
export const cacheKey = (id) => `user:${id}`;

/** The public form of a users row. */
export function publicUser(row) {
  return { id: Number(row.id), email: row.email, name: row.name, createdAt: new Date(row.created_at).toISOString() };
}

/** Whether `id` can be a user id (a positive integer). */
export const isUserId = (id) => /^[1-9][0-9]{0,17}$/.test(String(id));
