#!/usr/bin/env bash
# Benchmark (issue 11): vers search, the built-in Elasticsearch stand-in, measured with the
# official Python client: bulk indexing throughput and sequential search throughput.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VERS="${VERS:-$ROOT/target/release/vers}"
PYTHON="${VERS_TEST_VENV:-/var/cache/vers/test-venv}/bin/python"
DOCS="${DOCS:-20000}"
QUERIES="${QUERIES:-400}"
PORT="${PORT:-19250}"
work="$(mktemp -d /tmp/vers-bench-search.XXXXXX)"
"$VERS" mock elasticsearch --listen 127.0.0.1 --port "$PORT" --data-dir "$work/data" --major 8 >"$work/log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
until curl -sf "http://127.0.0.1:$PORT/" >/dev/null; do sleep 0.05; done
"$PYTHON" "$ROOT/bench/search_throughput.py" "http://127.0.0.1:$PORT" "$DOCS" "$QUERIES"
echo "data directory: $(du -sh "$work/data" | cut -f1) for $DOCS documents"
