-- The shop's own database: catalogue, customers, pricing rules, orders, payments and
-- fulfilment. Idempotent, applied by scripts/seed-catalog.sh.
CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE IF NOT EXISTS categories (
  slug        text PRIMARY KEY CHECK (slug ~ '^[a-z0-9-]+$'),
  name        text NOT NULL,
  parent_slug text REFERENCES categories (slug) ON UPDATE CASCADE,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS products (
  id                uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  sku               text NOT NULL UNIQUE,
  name              text NOT NULL,
  description       text NOT NULL DEFAULT '',
  brand             text NOT NULL,
  category_slug     text NOT NULL REFERENCES categories (slug) ON UPDATE CASCADE,
  kind              text NOT NULL CHECK (kind IN ('physical', 'digital')),
  price_cents       integer NOT NULL CHECK (price_cents > 0),
  currency          text NOT NULL DEFAULT 'usd',
  stripe_product_id text NOT NULL,
  image_key         text,
  asset_key         text,
  active            boolean NOT NULL DEFAULT true,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS products_name_trgm ON products USING gin (name gin_trgm_ops);
CREATE INDEX IF NOT EXISTS products_category ON products (category_slug);

CREATE TABLE IF NOT EXISTS users (
  id                 uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  email              text NOT NULL UNIQUE,
  name               text NOT NULL,
  stripe_customer_id text,
  address            jsonb NOT NULL,
  created_at         timestamptz NOT NULL DEFAULT now()
);

-- Sales tax in basis points (725 = 7.25%) by destination; region '' covers a whole country.
CREATE TABLE IF NOT EXISTS tax_rates (
  country          text NOT NULL,
  region           text NOT NULL DEFAULT '',
  physical_bp      integer NOT NULL CHECK (physical_bp >= 0),
  digital_bp       integer NOT NULL CHECK (digital_bp >= 0),
  shipping_taxable boolean NOT NULL,
  PRIMARY KEY (country, region)
);

CREATE TABLE IF NOT EXISTS promo_codes (
  code               text PRIMARY KEY,
  kind               text NOT NULL CHECK (kind IN ('percent', 'fixed', 'free_shipping')),
  value              integer NOT NULL DEFAULT 0 CHECK (value >= 0),
  min_subtotal_cents integer NOT NULL DEFAULT 0,
  expires_at         timestamptz,
  once_per_customer  boolean NOT NULL DEFAULT false,
  max_redemptions    integer,
  redemptions        integer NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS orders (
  id                uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  number            bigserial UNIQUE,
  user_id           uuid NOT NULL REFERENCES users (id),
  status            text NOT NULL CHECK (status IN ('pending_payment', 'requires_action', 'paid',
                      'payment_failed', 'partially_fulfilled', 'fulfilled')),
  subtotal_cents    integer NOT NULL,
  discount_cents    integer NOT NULL,
  shipping_cents    integer NOT NULL,
  tax_cents         integer NOT NULL,
  total_cents       integer NOT NULL CHECK (total_cents = subtotal_cents - discount_cents + shipping_cents + tax_cents),
  currency          text NOT NULL DEFAULT 'usd',
  promo_code        text REFERENCES promo_codes (code),
  shipping_rate_id  text,
  shipping_address  jsonb NOT NULL,
  cart_id           text,
  payment_intent_id text UNIQUE,
  invoice_key       text,
  created_at        timestamptz NOT NULL DEFAULT now(),
  paid_at           timestamptz
);

CREATE TABLE IF NOT EXISTS order_lines (
  order_id         uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
  line_no          integer NOT NULL,
  product_id       uuid NOT NULL REFERENCES products (id),
  sku              text NOT NULL,
  name             text NOT NULL,
  kind             text NOT NULL,
  quantity         integer NOT NULL CHECK (quantity > 0),
  unit_price_cents integer NOT NULL,
  discount_cents   integer NOT NULL,
  tax_cents        integer NOT NULL,
  shipped_quantity integer NOT NULL DEFAULT 0 CHECK (shipped_quantity BETWEEN 0 AND quantity),
  PRIMARY KEY (order_id, line_no)
);

CREATE TABLE IF NOT EXISTS payments (
  id                bigserial PRIMARY KEY,
  order_id          uuid NOT NULL REFERENCES orders (id),
  payment_intent_id text NOT NULL,
  status            text NOT NULL,
  amount_cents      integer NOT NULL,
  decline_code      text,
  created_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS promo_redemptions (
  code     text NOT NULL REFERENCES promo_codes (code),
  user_id  uuid NOT NULL REFERENCES users (id),
  order_id uuid NOT NULL REFERENCES orders (id),
  PRIMARY KEY (code, order_id)
);

CREATE TABLE IF NOT EXISTS shipments (
  id               uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  order_id         uuid NOT NULL REFERENCES orders (id),
  tracking_number  text NOT NULL UNIQUE,
  carrier          text NOT NULL,
  packing_slip_key text NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS shipment_lines (
  shipment_id uuid NOT NULL REFERENCES shipments (id),
  order_id    uuid NOT NULL,
  line_no     integer NOT NULL,
  quantity    integer NOT NULL CHECK (quantity > 0),
  PRIMARY KEY (shipment_id, line_no),
  FOREIGN KEY (order_id, line_no) REFERENCES order_lines (order_id, line_no)
);

CREATE TABLE IF NOT EXISTS digital_deliveries (
  order_id     uuid NOT NULL,
  line_no      integer NOT NULL,
  asset_key    text NOT NULL,
  delivered_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (order_id, line_no),
  FOREIGN KEY (order_id, line_no) REFERENCES order_lines (order_id, line_no)
);
