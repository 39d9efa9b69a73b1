#!/usr/bin/env bash
# Checkpoint `etl-complete`: one full extraction through transform (3 replicas) and load, to
# the end: every record in the warehouse and the search indices.
set -euo pipefail
cd "$(dirname "$0")/.."
node scripts/run-etl.js full
