-- Schema of the `app` database. Applied by scripts/seed.sh; every statement is idempotent.
CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE IF NOT EXISTS plans (
  id               text PRIMARY KEY,
  name             text NOT NULL,
  stripe_product_id text,
  stripe_price_id  text UNIQUE,
  amount_cents     integer NOT NULL,
  currency         text NOT NULL DEFAULT 'usd',
  billing_interval text
);

CREATE TABLE IF NOT EXISTS users (
  id                 uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  email              text NOT NULL UNIQUE CHECK (email = lower(email)),
  name               text,
  password_hash      text,
  stripe_customer_id text UNIQUE,
  created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS users_email_trgm ON users USING gin (email gin_trgm_ops);

CREATE TABLE IF NOT EXISTS identities (
  provider      text NOT NULL,
  subject       text NOT NULL,
  user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  email         text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_login_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (provider, subject)
);

-- Durable record of sessions; the live session (looked up per request) is in Redis.
CREATE TABLE IF NOT EXISTS sessions (
  id         text PRIMARY KEY,
  user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  method     text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz
);

-- Written by the Stripe webhook handler only: Stripe is the source of truth.
CREATE TABLE IF NOT EXISTS subscriptions (
  id                   text PRIMARY KEY,
  user_id              uuid REFERENCES users (id) ON DELETE SET NULL,
  stripe_customer_id   text NOT NULL,
  plan_id              text REFERENCES plans (id),
  stripe_price_id      text,
  status               text NOT NULL,
  cancel_at_period_end boolean NOT NULL DEFAULT false,
  current_period_end   timestamptz,
  last_event_id        text,
  last_event_created   bigint NOT NULL DEFAULT 0,
  updated_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS payment_failures (
  id                 bigserial PRIMARY KEY,
  user_id            uuid REFERENCES users (id) ON DELETE SET NULL,
  stripe_customer_id text,
  stripe_price_id    text,
  code               text,
  decline_code       text,
  message            text,
  source             text NOT NULL,
  created_at         timestamptz NOT NULL DEFAULT now()
);

-- Every verified webhook event, once (Stripe may deliver an event more than once).
CREATE TABLE IF NOT EXISTS webhook_events (
  id          text PRIMARY KEY,
  type        text NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  payload     jsonb NOT NULL
);
