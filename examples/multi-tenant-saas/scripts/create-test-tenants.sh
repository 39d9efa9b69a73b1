#!/usr/bin/env bash
# Checkpoint `tenants-created`: the tenants of scripts/test-tenants.json (acme-corp,
# globex-inc, initech) provisioned through the admin API, then filled through each tenant's
# own API key, so the data went the way a customer's would.
set -euo pipefail
cd "$(dirname "$0")/.."
node scripts/create-test-tenants.js
