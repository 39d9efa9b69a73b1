-- The source ("production mirror") schema: customers, products, orders and their lines.
-- Every table keeps updated_at (incremental extraction) and has REPLICA IDENTITY FULL, so the
-- logical decoding stream (CDC extraction) carries whole old rows, customer_id included, on
-- UPDATE and DELETE.
CREATE TABLE IF NOT EXISTS customers (
  id          integer PRIMARY KEY,
  name        text NOT NULL,
  email       text NOT NULL UNIQUE,
  country     text NOT NULL CHECK (length(country) = 2),
  created_at  timestamptz NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE IF NOT EXISTS products (
  id           integer PRIMARY KEY,
  sku          text NOT NULL UNIQUE,
  name         text NOT NULL,
  category     text NOT NULL,
  description  text NOT NULL,
  price_cents  integer NOT NULL CHECK (price_cents > 0),
  updated_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE IF NOT EXISTS orders (
  id           integer PRIMARY KEY,
  customer_id  integer NOT NULL REFERENCES customers ON DELETE CASCADE,
  status       text NOT NULL CHECK (status IN ('placed', 'paid', 'shipped', 'cancelled')),
  placed_at    timestamptz NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE IF NOT EXISTS order_items (
  order_id          integer NOT NULL REFERENCES orders ON DELETE CASCADE,
  line_no           integer NOT NULL,
  product_id        integer NOT NULL REFERENCES products,
  quantity          integer NOT NULL CHECK (quantity > 0),
  unit_price_cents  integer NOT NULL CHECK (unit_price_cents > 0),
  PRIMARY KEY (order_id, line_no)
);

CREATE INDEX IF NOT EXISTS orders_customer ON orders (customer_id);
CREATE INDEX IF NOT EXISTS orders_updated ON orders (updated_at);
CREATE INDEX IF NOT EXISTS customers_updated ON customers (updated_at);
CREATE INDEX IF NOT EXISTS products_updated ON products (updated_at);
CREATE INDEX IF NOT EXISTS order_items_product ON order_items (product_id);

ALTER TABLE customers REPLICA IDENTITY FULL;
ALTER TABLE products REPLICA IDENTITY FULL;
ALTER TABLE orders REPLICA IDENTITY FULL;
ALTER TABLE order_items REPLICA IDENTITY FULL;

-- updated_at follows every change; a change to an order's lines is a change to the order.
CREATE OR REPLACE FUNCTION touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := clock_timestamp();
  RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION touch_order() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- lines removed by a cascade belong to an order being deleted: nothing to touch
  IF pg_trigger_depth() > 1 THEN
    RETURN NULL;
  END IF;
  UPDATE orders SET updated_at = clock_timestamp()
   WHERE id = COALESCE(NEW.order_id, OLD.order_id);
  RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS customers_touch ON customers;
CREATE TRIGGER customers_touch BEFORE UPDATE ON customers FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
DROP TRIGGER IF EXISTS products_touch ON products;
CREATE TRIGGER products_touch BEFORE UPDATE ON products FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
DROP TRIGGER IF EXISTS orders_touch ON orders;
CREATE TRIGGER orders_touch BEFORE UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
DROP TRIGGER IF EXISTS order_items_touch ON order_items;
CREATE TRIGGER order_items_touch AFTER INSERT OR UPDATE OR DELETE ON order_items FOR EACH ROW EXECUTE FUNCTION touch_order();
