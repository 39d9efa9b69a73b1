#!/usr/bin/env bash
# Checkpoint `validated`: the data quality checks (scripts/validate-data.js) must pass.
set -euo pipefail
cd "$(dirname "$0")/.."
node scripts/validate-data.js
