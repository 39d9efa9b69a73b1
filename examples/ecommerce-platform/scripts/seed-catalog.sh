#!/usr/bin/env bash
# Checkpoint `catalog-seeded`: schemas, catalogue, stock, images, search index, pricing rules.
set -euo pipefail
cd "$(dirname "$0")/.."
exec node scripts/seed-catalog.js
