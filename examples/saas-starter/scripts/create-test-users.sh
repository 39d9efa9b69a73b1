#!/usr/bin/env bash
# Checkpoint `users-created`: the users of scripts/test-users.json with scrypt password
# hashes, each with a Stripe customer (created through the Stripe API).
set -euo pipefail
cd "$(dirname "$0")/.."
exec node scripts/create-test-users.js
