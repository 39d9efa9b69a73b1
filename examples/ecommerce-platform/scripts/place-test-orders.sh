#!/usr/bin/env bash
# Checkpoint `orders-placed`: test orders checked out through the app (Stripe, S3, mail).
set -euo pipefail
cd "$(dirname "$0")/.."
exec node scripts/place-test-orders.js
