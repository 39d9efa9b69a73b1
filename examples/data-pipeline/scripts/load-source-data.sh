#!/usr/bin/env bash
# Checkpoint `sources-loaded`: the source schema, production-like data (200 customers, 40
# products, 1000 orders, 2500 lines) and the logical replication slot CDC extraction reads.
# Safe to run again: tables load only when empty, the slot is made only once.
set -euo pipefail
cd "$(dirname "$0")/.."
SOURCE_DATABASE_URL="${SOURCE_DATABASE_URL:-postgres://postgres@postgres-source/production_mirror}"
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"

psql "$SOURCE_DATABASE_URL" -v ON_ERROR_STOP=1 -q -f scripts/sql/source-schema.sql
psql "$SOURCE_DATABASE_URL" -v ON_ERROR_STOP=1 -q -f scripts/sql/source-data.sql
psql "$SOURCE_DATABASE_URL" -v ON_ERROR_STOP=1 -q -At -c "
  SELECT 'slot ' || slot_name || ' at ' || lsn
    FROM pg_create_logical_replication_slot('etl_cdc', 'test_decoding')
   WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = 'etl_cdc')"
psql "$SOURCE_DATABASE_URL" -At -c "
  SELECT format('source: %s customers, %s products, %s orders, %s order lines; wal_level %s',
    (SELECT count(*) FROM customers), (SELECT count(*) FROM products),
    (SELECT count(*) FROM orders), (SELECT count(*) FROM order_items), current_setting('wal_level'))"
