-- Stock of physical products by SKU, holds taken at checkout, and the ledger of every change.
-- Digital products have no stock rows: they never run out.
CREATE EXTENSION IF NOT EXISTS "uuid-ossp";

CREATE TABLE IF NOT EXISTS stock (
  sku        text PRIMARY KEY,
  on_hand    integer NOT NULL CHECK (on_hand >= 0),
  reserved   integer NOT NULL DEFAULT 0 CHECK (reserved >= 0),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK (reserved <= on_hand)
);

CREATE TABLE IF NOT EXISTS reservations (
  id         uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  ref        text NOT NULL,
  sku        text NOT NULL REFERENCES stock (sku) ON DELETE CASCADE,
  quantity   integer NOT NULL CHECK (quantity > 0),
  status     text NOT NULL CHECK (status IN ('held', 'committed', 'released')),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS reservations_ref ON reservations (ref);

CREATE TABLE IF NOT EXISTS stock_movements (
  id         bigserial PRIMARY KEY,
  sku        text NOT NULL,
  delta      integer NOT NULL,
  reason     text NOT NULL CHECK (reason IN ('initial', 'restock', 'adjustment', 'sale')),
  ref        text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS stock_movements_sku ON stock_movements (sku);
