-- Production-like data, deterministic so tests can state exact figures: 200 customers, 40
-- products in 8 categories, 1000 orders over 90 days (5 per customer), 2500 order lines.
-- Loads only into empty tables.
BEGIN;
-- no triggers while loading: every row keeps its load time as updated_at
SET LOCAL session_replication_role = replica;

INSERT INTO products (id, sku, name, category, description, price_cents, updated_at)
SELECT row_number() OVER (), 'SKU-' || lpad((row_number() OVER ())::text, 4, '0'), p.name, p.category, p.description,
       p.price_cents, timestamptz '2024-01-01 00:00:00+00'
  FROM (VALUES
    ('Running Shoe', 'shoes', 'Lightweight running shoe with a cushioned sole', 8999),
    ('Trail Running Shoes', 'shoes', 'Grippy shoes for running on muddy trails', 11950),
    ('Leather Boots', 'shoes', 'Waterproof leather boots for hiking and walking', 14900),
    ('Canvas Sneakers', 'shoes', 'Classic canvas sneakers in many colours', 4500),
    ('Wool Slippers', 'shoes', 'Warm slippers knitted from merino wool', 2900),
    ('Camping Tent', 'outdoor', 'Two person tent that pitches in minutes', 19900),
    ('Sleeping Bag', 'outdoor', 'Down sleeping bag rated for freezing nights', 15900),
    ('Headlamp', 'outdoor', 'Rechargeable headlamp for night hiking', 3450),
    ('Water Filter', 'outdoor', 'Pocket filter that makes stream water drinkable', 2999),
    ('Trekking Poles', 'outdoor', 'Folding carbon poles for long hikes', 8900),
    ('Chef Knife', 'kitchen', 'Forged steel knife that stays sharp', 7900),
    ('Cast Iron Pan', 'kitchen', 'Pre-seasoned pan for searing and baking', 4200),
    ('Espresso Maker', 'kitchen', 'Stovetop maker brewing rich espresso', 3600),
    ('Cutting Board', 'kitchen', 'End grain walnut board', 5500),
    ('Spice Rack', 'kitchen', 'Wall rack holding twenty spice jars', 1999),
    ('Mystery Novel', 'books', 'A detective unravels a murder on a night train', 1499),
    ('Cookbook', 'books', 'Simple recipes for weeknight cooking', 2450),
    ('Hiking Guide', 'books', 'Fifty walks through the mountains with maps', 1899),
    ('Poetry Collection', 'books', 'Poems about the sea and the seasons', 1250),
    ('Science Atlas', 'books', 'Illustrated atlas of the stars and planets', 3999),
    ('Building Blocks', 'toys', 'Five hundred interlocking bricks', 3499),
    ('Puzzle', 'toys', 'A thousand piece puzzle of a lighthouse', 1999),
    ('Toy Train', 'toys', 'Wooden train set with bridges and tunnels', 6499),
    ('Kite', 'toys', 'Stunt kite that flies in light wind', 2799),
    ('Board Game', 'toys', 'Strategy game of trading and building', 4599),
    ('Garden Hose', 'garden', 'Kink free hose with a spray nozzle', 3999),
    ('Pruning Shears', 'garden', 'Sharp shears for roses and shrubs', 2499),
    ('Seed Kit', 'garden', 'Heirloom vegetable seeds for a kitchen garden', 1599),
    ('Watering Can', 'garden', 'Galvanised steel can with a long spout', 2999),
    ('Raised Bed', 'garden', 'Cedar raised bed for growing vegetables', 12900),
    ('Headphones', 'audio', 'Wireless headphones with noise cancelling', 24900),
    ('Bluetooth Speaker', 'audio', 'Waterproof speaker for the beach', 7999),
    ('Turntable', 'audio', 'Belt drive turntable for vinyl records', 29900),
    ('Microphone', 'audio', 'USB microphone for podcasts and streaming', 9900),
    ('Earbuds', 'audio', 'Compact earbuds with a charging case', 5999),
    ('Desk Lamp', 'office', 'Dimmable lamp with a warm light', 4999),
    ('Notebook', 'office', 'Dotted notebook with a linen cover', 1299),
    ('Fountain Pen', 'office', 'Steel nib pen that writes smoothly', 3299),
    ('Office Chair', 'office', 'Ergonomic chair with lumbar support', 27900),
    ('Monitor Stand', 'office', 'Bamboo stand that raises the monitor', 3999)
  ) AS p(name, category, description, price_cents)
 WHERE NOT EXISTS (SELECT 1 FROM products);

INSERT INTO customers (id, name, email, country, created_at, updated_at)
SELECT i,
       (ARRAY['Ada','Grace','Alan','Edsger','Barbara','Donald','Frances','Ken','Radia','Linus'])[i % 10 + 1] || ' ' ||
       (ARRAY['Lovelace','Hopper','Turing','Dijkstra','Liskov','Knuth','Allen','Thompson','Perlman','Torvalds'])[(i / 10) % 10 + 1],
       -- a fifth of the addresses have upper-case letters: the transform normalises them
       CASE WHEN i % 5 = 0 THEN 'Customer' || i || '@' || upper((ARRAY['example.com','example.org','mail.test','corp.test'])[i % 4 + 1])
            ELSE 'customer' || i || '@' || (ARRAY['example.com','example.org','mail.test','corp.test'])[i % 4 + 1] END,
       (ARRAY['US','GB','DE','FR','JP','BR','IN','CA'])[i % 8 + 1],
       timestamptz '2023-06-01 00:00:00+00' + i * interval '1 day',
       timestamptz '2024-01-01 00:00:00+00'
  FROM generate_series(1, 200) AS i
 WHERE NOT EXISTS (SELECT 1 FROM customers);

INSERT INTO orders (id, customer_id, status, placed_at, updated_at)
SELECT i,
       (i * 7919) % 200 + 1,
       CASE WHEN i % 20 = 0 THEN 'cancelled' WHEN i % 20 < 4 THEN 'placed' WHEN i % 20 < 10 THEN 'paid' ELSE 'shipped' END,
       timestamptz '2024-01-01 00:00:00+00' + (i % 90) * interval '1 day' + ((i * 37) % 86400) * interval '1 second',
       timestamptz '2024-01-01 00:00:00+00'
  FROM generate_series(1, 1000) AS i
 WHERE NOT EXISTS (SELECT 1 FROM orders);

INSERT INTO order_items (order_id, line_no, product_id, quantity, unit_price_cents)
SELECT o.id, l, (o.id * 13 + l * 7) % 40 + 1, (o.id + l) % 3 + 1, p.price_cents
  FROM orders o
  CROSS JOIN LATERAL generate_series(1, o.id % 4 + 1) AS l
  JOIN products p ON p.id = (o.id * 13 + l * 7) % 40 + 1
 WHERE NOT EXISTS (SELECT 1 FROM order_items);

COMMIT;
