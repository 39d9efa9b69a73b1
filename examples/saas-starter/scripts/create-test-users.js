// Creates the test users (scripts/test-users.json) and their Stripe customers. A user that
// already exists keeps its row; one without a Stripe customer gets one.
import { readFile } from 'node:fs/promises';
import { ensureCustomer, createStripe } from '../src/billing.js';
import { loadConfig } from '../src/config.js';
import { createPool, findUserByEmail, insertUser } from '../src/db.js';
import { hashPassword } from '../src/passwords.js';

const config = loadConfig();
const db = createPool(config.databaseUrl);
const stripe = createStripe(config);
const users = JSON.parse(await readFile(new URL('./test-users.json', import.meta.url), 'utf8'));

try {
  for (const entry of users) {
    let user = await findUserByEmail(db, entry.email);
    if (!user) {
      user = await insertUser(db, { email: entry.email, name: entry.name, passwordHash: await hashPassword(entry.password) });
    }
    const customerId = await ensureCustomer({ db, stripe }, user);
    console.log(`user ${user.email} (${user.id}) -> stripe customer ${customerId}`);
  }
} finally {
  await db.end();
}
