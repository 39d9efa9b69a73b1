#!/usr/bin/env bash
# The whole test suite: set up, check formatting and lints, then every crate's unit and
# integration tests against real PostgreSQL, Redis and mock servers inside real namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
# Formatting first (seconds); clippy in the release profile shares the test build's
# dependencies, so it adds little on top of it.
cargo fmt --all -- --check
cargo clippy --release --all-targets -- -D warnings
cargo test --workspace --release -- --test-threads=4
