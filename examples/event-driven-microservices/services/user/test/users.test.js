import assert from 'node:assert/strict';
import test from 'node:test';

import { cacheKey, isUserId, publicUser, validateNewUser } from '../src/users.js';

test('a sign-up is normalised: trimmed, lower-cased email', () => {
  assert.deepEqual(validateNewUser({ email: '  Ada@Example.COM ', name: ' Ada ' }), {
    email: 'ada@example.com',
    name: 'Ada',
  });
});

test('a sign-up without a valid email or name is a 400', () => {
  for (const body of [null, {}, { email: 'ada', name: 'Ada' }, { email: 'a@b.c', name: '' }, { email: 'a@b.c', name: 'x'.repeat(101) }]) {
    assert.throws(() => validateNewUser(body), (err) => err.status === 400, JSON.stringify(body));
  }
});

test('user ids are positive integers; cache keys name them', () => {
  assert.equal(isUserId('42'), true);
  for (const id of ['0', '-1', 'abc', '1.5', '', '01']) assert.equal(isUserId(id), false, id);
  assert.equal(cacheKey(42), 'user:42');
});

test('the public form of a row has a numeric id and an ISO date', () => {
  const row = { id: '7', email: 'a@b.c', name: 'A', created_at: new Date('2024-01-02T03:04:05Z') };
  assert.deepEqual(publicUser(row), { id: 7, email: 'a@b.c', name: 'A', createdAt: '2024-01-02T03:04:05.000Z' });
});
