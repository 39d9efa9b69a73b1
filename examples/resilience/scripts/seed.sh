#!/bin/bash
# The orders table and three orders; order 1 is also in the Redis cache.
set -euo pipefail
psql -v ON_ERROR_STOP=1 -q postgres://postgres@postgres/orders <<'SQL'
create table orders (
  id serial primary key,
  item text not null,
  amount integer not null check (amount > 0),
  payment text not null default 'pending',
  payment_intent text,
  created_at timestamptz not null default now()
);
insert into orders(item, amount, payment, payment_intent) values
  ('keyboard', 4900, 'charged', 'pi_seed_1'),
  ('mouse', 1900, 'charged', 'pi_seed_2'),
  ('monitor', 19900, 'charged', 'pi_seed_3');
SQL
redis-cli -h redis set order:1 "$(psql -tA postgres://postgres@postgres/orders -c "select row_to_json(o) from orders o where id = 1")" > /dev/null
echo "seeded 3 orders"
