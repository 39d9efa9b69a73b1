#!/usr/bin/env bash
# The whole test suite: set up, then every crate's unit and integration tests against real
# PostgreSQL, Redis and mock servers inside real namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo test --workspace --release -- --test-threads=4
