-- Referential integrity of the warehouse: one row per check with its number of violations.
SELECT 'orders without a customer' AS "check", count(*) AS violations
  FROM fact_order o LEFT JOIN dim_customer c USING (customer_id) WHERE c.customer_id IS NULL
UNION ALL
SELECT 'order lines without an order', count(*)
  FROM fact_order_line l LEFT JOIN fact_order o USING (order_id) WHERE o.order_id IS NULL
UNION ALL
SELECT 'order lines without a product', count(*)
  FROM fact_order_line l LEFT JOIN dim_product p USING (product_id) WHERE p.product_id IS NULL
UNION ALL
SELECT 'orders without lines', count(*)
  FROM fact_order o WHERE NOT EXISTS (SELECT 1 FROM fact_order_line l WHERE l.order_id = o.order_id)
UNION ALL
SELECT 'order totals not the sum of their lines', count(*)
  FROM fact_order o
 WHERE o.total_cents <> (SELECT COALESCE(sum(line_total_cents), 0) FROM fact_order_line l WHERE l.order_id = o.order_id)
UNION ALL
SELECT 'customer summaries without a customer', count(*)
  FROM customer_summary s LEFT JOIN dim_customer c USING (customer_id) WHERE c.customer_id IS NULL
UNION ALL
SELECT 'customers without a summary', count(*)
  FROM dim_customer c LEFT JOIN customer_summary s USING (customer_id) WHERE s.customer_id IS NULL
UNION ALL
SELECT 'product analytics without a product', count(*)
  FROM product_analytics a LEFT JOIN dim_product p USING (product_id) WHERE p.product_id IS NULL
