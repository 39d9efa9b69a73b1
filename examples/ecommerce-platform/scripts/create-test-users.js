// Checkpoint `users-created`: the customers of scripts/test-users.json, each with a Stripe
// customer made through the Stripe API. Safe to run again.
import { createContext } from '../src/context.js';
import { testUsers } from './lib.js';

const ctx = createContext();
try {
  for (const u of testUsers) {
    const { rows } = await ctx.pools.ecommerce.query('SELECT id, stripe_customer_id FROM users WHERE email = $1', [u.email]);
    if (rows[0]?.stripe_customer_id) continue;
    const { rows: [user] } = await ctx.pools.ecommerce.query(
      `INSERT INTO users (email, name, address) VALUES ($1, $2, $3)
       ON CONFLICT (email) DO UPDATE SET name = EXCLUDED.name RETURNING id`,
      [u.email, u.name, u.address],
    );
    const customer = await ctx.stripe.customers.create({
      email: u.email,
      name: u.name,
      address: { line1: u.address.line1, city: u.address.city, state: u.address.region, postal_code: u.address.postal_code, country: u.address.country },
      metadata: { user_id: user.id },
    });
    await ctx.pools.ecommerce.query('UPDATE users SET stripe_customer_id = $2 WHERE id = $1', [user.id, customer.id]);
  }
  const { rows } = await ctx.pools.ecommerce.query('SELECT email, stripe_customer_id FROM users ORDER BY email');
  for (const r of rows) {
    const customer = await ctx.stripe.customers.retrieve(r.stripe_customer_id);
    if (customer.email !== r.email) throw new Error(`Stripe customer ${r.stripe_customer_id} is ${customer.email}, not ${r.email}`);
  }
  console.log(`create-test-users: ${rows.length} customers, each with a Stripe customer`);
} finally {
  await ctx.close();
}
