#!/usr/bin/env bash
# Checkpoint `seeded`: users, products and two orders put through the running services (so
# every topic, table and collection holds real data and every consumer group has committed
# offsets), then a wait until every group has read everything, so the checkpoint is quiet.
# Runs inside the environment; safe to run again (users and products are upserted).
set -euo pipefail
cd "$(dirname "$0")/.."
exec node scripts/seed.js
