#!/usr/bin/env bash
# Checkpoint `db-seeded`: the app schema and the plan catalogue in the `app` database, and
# the events table in `analytics`. Safe to run again (every statement is idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."

: "${DATABASE_URL:?DATABASE_URL must point at the app database}"
ANALYTICS_DATABASE_URL="${ANALYTICS_DATABASE_URL:-${DATABASE_URL%/*}/analytics}"
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"

psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -q -f db/schema.sql

psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -q <<'SQL'
INSERT INTO plans (id, name, stripe_product_id, stripe_price_id, amount_cents, currency, billing_interval) VALUES
  ('free',    'Free',         NULL,           NULL,                    0,    'usd', NULL),
  ('starter', 'Starter Plan', 'prod_starter', 'price_starter_monthly', 999,  'usd', 'month'),
  ('pro',     'Pro Plan',     'prod_pro',     'price_pro_monthly',     2999, 'usd', 'month')
ON CONFLICT (id) DO UPDATE SET
  name = EXCLUDED.name, stripe_product_id = EXCLUDED.stripe_product_id,
  stripe_price_id = EXCLUDED.stripe_price_id, amount_cents = EXCLUDED.amount_cents,
  currency = EXCLUDED.currency, billing_interval = EXCLUDED.billing_interval;
SQL

psql "$ANALYTICS_DATABASE_URL" -v ON_ERROR_STOP=1 -q <<'SQL'
CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
CREATE TABLE IF NOT EXISTS events (
  id          uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  user_id     uuid,
  name        text NOT NULL,
  properties  jsonb NOT NULL DEFAULT '{}',
  occurred_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS events_name_time ON events (name, occurred_at);
SQL

plans=$(psql "$DATABASE_URL" -At -c "SELECT count(*) FROM plans")
echo "seed: schema applied, ${plans} plans in app, analytics.events ready"
