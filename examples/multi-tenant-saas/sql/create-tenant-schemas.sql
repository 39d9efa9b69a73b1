-- The shared part of the database, run once by the postgres service (init_scripts). Each
-- tenant gets, at provisioning (src/tenants.js), a schema `tenant_<slug>` owned by a role of
-- the same name; this script makes what they share:
--   * tenant_base: the group role of every tenant role (read the plans, meter usage);
--   * saas_app: the login role of tenant requests. NOINHERIT: it is a member of every tenant
--     role, but holds none of their privileges until it SETs ROLE to one, so a connection
--     that is not inside a tenant context can read no tenant's data;
--   * plans (shared, read-only to tenants), tenants and api_keys (the app's registry, no
--     tenant can read it), usage_events (shared, with row-level security: a tenant sees and
--     writes only its own rows), admin_audit.
-- Idempotent, so it can run on every start.

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tenant_base') THEN
    CREATE ROLE tenant_base NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'saas_app') THEN
    CREATE ROLE saas_app LOGIN NOINHERIT;
  END IF;
END $$;

REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO tenant_base, saas_app;

CREATE TABLE IF NOT EXISTS plans (
  id            text PRIMARY KEY,
  name          text NOT NULL,
  max_projects  integer,
  max_members   integer,
  price_cents   integer NOT NULL
);
INSERT INTO plans (id, name, max_projects, max_members, price_cents) VALUES
  ('free', 'Free', 3, 3, 0),
  ('pro', 'Pro', 50, 25, 4900),
  ('enterprise', 'Enterprise', NULL, NULL, 49900)
ON CONFLICT (id) DO NOTHING;
GRANT SELECT ON plans TO tenant_base;

CREATE TABLE IF NOT EXISTS tenants (
  id           uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  slug         text NOT NULL UNIQUE CHECK (slug ~ '^[a-z][a-z0-9-]{1,38}[a-z0-9]$'),
  name         text NOT NULL,
  schema_name  name NOT NULL UNIQUE,
  plan_id      text NOT NULL REFERENCES plans,
  created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS api_keys (
  key_hash    text PRIMARY KEY,
  tenant_id   uuid NOT NULL REFERENCES tenants ON DELETE CASCADE,
  label       text NOT NULL DEFAULT 'default',
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS usage_events (
  id           bigserial PRIMARY KEY,
  tenant_role  name NOT NULL DEFAULT current_user,
  metric       text NOT NULL,
  quantity     integer NOT NULL DEFAULT 1 CHECK (quantity > 0),
  at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS usage_events_tenant ON usage_events (tenant_role, metric);
ALTER TABLE usage_events ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS own_usage ON usage_events;
CREATE POLICY own_usage ON usage_events TO tenant_base
  USING (tenant_role = current_user) WITH CHECK (tenant_role = current_user);
GRANT SELECT, INSERT ON usage_events TO tenant_base;
GRANT USAGE ON SEQUENCE usage_events_id_seq TO tenant_base;

CREATE TABLE IF NOT EXISTS admin_audit (
  id           bigserial PRIMARY KEY,
  at           timestamptz NOT NULL DEFAULT now(),
  action       text NOT NULL,
  tenant_slug  text,
  detail       jsonb NOT NULL DEFAULT '{}'
);
