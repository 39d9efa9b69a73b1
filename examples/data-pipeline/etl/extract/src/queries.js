// The source queries: whole entities (a customer with all its orders and lines, a product with
// all its sales), so every message downstream replaces what it describes and a message
// applied twice changes nothing.

/** Customers (all, or those in `ids`) with their orders and order lines. */
export const CUSTOMERS = `
SELECT c.id, c.name, c.email, c.country, c.created_at,
       COALESCE((
         SELECT json_agg(json_build_object(
                  'id', o.id, 'status', o.status, 'placed_at', o.placed_at,
                  'items', COALESCE((
                    SELECT json_agg(json_build_object(
                             'line_no', i.line_no, 'product_id', i.product_id, 'category', p.category,
                             'quantity', i.quantity, 'unit_price_cents', i.unit_price_cents) ORDER BY i.line_no)
                      FROM order_items i JOIN products p ON p.id = i.product_id
                     WHERE i.order_id = o.id), '[]'::json)) ORDER BY o.id)
           FROM orders o WHERE o.customer_id = c.id), '[]'::json) AS orders
  FROM customers c
 WHERE $1::int[] IS NULL OR c.id = ANY($1)
 ORDER BY c.id`;

/** Products (all, or those in `ids`) with every line that sold them. */
export const PRODUCTS = `
SELECT p.id, p.sku, p.name, p.category, p.description, p.price_cents,
       COALESCE((
         SELECT json_agg(json_build_object(
                  'order_id', i.order_id, 'line_no', i.line_no, 'customer_id', o.customer_id,
                  'status', o.status, 'quantity', i.quantity, 'unit_price_cents', i.unit_price_cents,
                  'placed_at', o.placed_at) ORDER BY i.order_id, i.line_no)
           FROM order_items i JOIN orders o ON o.id = i.order_id
          WHERE i.product_id = p.id), '[]'::json) AS sales
  FROM products p
 WHERE $1::int[] IS NULL OR p.id = ANY($1)
 ORDER BY p.id`;

/** The newest change in the source, as exact text (microseconds kept). */
export const WATERMARK = `
SELECT GREATEST((SELECT max(updated_at) FROM customers), (SELECT max(updated_at) FROM orders),
                (SELECT max(updated_at) FROM products))::text AS watermark`;

/** Customers touched since a watermark, directly or through their orders. */
export const CHANGED_CUSTOMERS = `
SELECT id FROM customers WHERE updated_at > $1::timestamptz
UNION SELECT customer_id FROM orders WHERE updated_at > $1::timestamptz`;

/** Products touched since a watermark, directly or through the lines of changed orders. */
export const CHANGED_PRODUCTS = `
SELECT id FROM products WHERE updated_at > $1::timestamptz
UNION SELECT i.product_id FROM order_items i JOIN orders o ON o.id = i.order_id WHERE o.updated_at > $1::timestamptz`;
