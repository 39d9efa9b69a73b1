#!/usr/bin/env bash
# The seed's "load production-like data" step (`vers execute "scripts/load-production-snapshot.sh"`):
# loads the production-like snapshot into the source database (the same data as the
# `sources-loaded` checkpoint) and runs a full ETL so the warehouse and the indices hold it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/load-source-data.sh
node scripts/run-etl.js full
