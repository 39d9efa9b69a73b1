#!/usr/bin/env bash
# Checkpoint `users-created`: test customers in PostgreSQL and Stripe.
set -euo pipefail
cd "$(dirname "$0")/.."
exec node scripts/create-test-users.js
