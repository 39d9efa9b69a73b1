-- The warehouse schema, applied by etl-load at start (idempotent). Dimensions, facts and the
-- aggregates the transform computes; no foreign keys, as usual in a warehouse: integrity is
-- checked after loading (scripts/sql/integrity.sql). Uses the manifest's extensions: pg_trgm
-- (fuzzy customer search), btree_gin (one GIN index over a scalar and an array) and tablefunc
-- (the category × status pivot).
CREATE TABLE IF NOT EXISTS dim_customer (
  customer_id   integer PRIMARY KEY,
  name          text NOT NULL,
  email         text NOT NULL,
  email_domain  text NOT NULL,
  country       text NOT NULL,
  created_at    timestamptz NOT NULL,
  run_id        text NOT NULL,
  loaded_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS dim_product (
  product_id   integer PRIMARY KEY,
  sku          text NOT NULL,
  name         text NOT NULL,
  category     text NOT NULL,
  description  text NOT NULL,
  price_cents  integer NOT NULL,
  price_band   text NOT NULL,
  run_id       text NOT NULL,
  loaded_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS fact_order (
  order_id     integer PRIMARY KEY,
  customer_id  integer NOT NULL,
  status       text NOT NULL,
  placed_at    timestamptz NOT NULL,
  day          date NOT NULL,
  item_count   integer NOT NULL,
  units        integer NOT NULL,
  total_cents  bigint NOT NULL,
  categories   text[] NOT NULL,
  run_id       text NOT NULL
);

CREATE TABLE IF NOT EXISTS fact_order_line (
  order_id          integer NOT NULL,
  line_no           integer NOT NULL,
  product_id        integer NOT NULL,
  category          text NOT NULL,
  quantity          integer NOT NULL,
  unit_price_cents  integer NOT NULL,
  line_total_cents  bigint NOT NULL,
  PRIMARY KEY (order_id, line_no)
);

CREATE TABLE IF NOT EXISTS customer_summary (
  customer_id           integer PRIMARY KEY,
  orders_count          integer NOT NULL,
  cancelled_count       integer NOT NULL,
  lifetime_value_cents  bigint NOT NULL,
  avg_order_cents       integer NOT NULL,
  first_order_at        timestamptz,
  last_order_at         timestamptz,
  top_category          text
);

CREATE TABLE IF NOT EXISTS product_analytics (
  product_id       integer PRIMARY KEY,
  units_sold       integer NOT NULL,
  revenue_cents    bigint NOT NULL,
  orders_count     integer NOT NULL,
  customers_count  integer NOT NULL,
  last_sold_at     timestamptz
);

CREATE TABLE IF NOT EXISTS daily_metrics (
  day              date PRIMARY KEY,
  orders           integer NOT NULL,
  units            integer NOT NULL,
  revenue_cents    bigint NOT NULL,
  avg_order_cents  integer NOT NULL
);

CREATE TABLE IF NOT EXISTS etl_runs (
  run_id       text PRIMARY KEY,
  mode         text,
  expected     integer NOT NULL,
  loaded       integer NOT NULL,
  failed       integer NOT NULL,
  finished_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS fact_order_customer ON fact_order (customer_id);
CREATE INDEX IF NOT EXISTS fact_order_line_product ON fact_order_line (product_id);
CREATE INDEX IF NOT EXISTS dim_customer_name_trgm ON dim_customer USING gin (name gin_trgm_ops);
CREATE INDEX IF NOT EXISTS fact_order_status_categories ON fact_order USING gin (status, categories);

-- Revenue of every category by order status, pivoted with tablefunc's crosstab.
CREATE OR REPLACE VIEW revenue_by_category_status AS
SELECT * FROM crosstab(
  $$SELECT l.category, o.status, sum(l.line_total_cents)::bigint
      FROM fact_order_line l JOIN fact_order o USING (order_id)
     GROUP BY 1, 2 ORDER BY 1, 2$$,
  $$VALUES ('placed'), ('paid'), ('shipped'), ('cancelled')$$
) AS ct(category text, placed bigint, paid bigint, shipped bigint, cancelled bigint);
