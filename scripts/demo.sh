#!/usr/bin/env bash
# The main demo: set up, bring up examples/saas-starter (seed 000 Pattern 1), and run its
# test suites on copy-on-write branches in parallel.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
VERS="$(pwd)/target/release/vers"
cd examples/saas-starter
"$VERS" integration validate
"$VERS" integration plan
"$VERS" integration up --checkpoint db-seeded
"$VERS" integration test --parallel
"$VERS" integration down --all
