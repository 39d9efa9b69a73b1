#!/usr/bin/env bash
# Benchmark (issue 15): a branch from a warm pool against a cold branch of the same data, in
# the same run. postgres 15 + redis 7 seeded with ROWS rows and KEYS keys; checkpoint
# `seeded` keeps `warm: 2`, and `cold` (a commit of the same data, no pool) is the baseline.
# Prints the whole `vers branch` call for each (p50 of RUNS) and the hand-out time measured
# inside the engine (from .vers/daemon.log).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
RUNS="${RUNS:-7}"
ROWS="${ROWS:-100000}"
KEYS="${KEYS:-10000}"
work="$(scratch warm)"
trap 'cd "$ROOT"; (cd "$work" && "$VERS" down --all >/dev/null 2>&1) || true; rm -rf "$work"' EXIT

mkdir -p "$work/scripts"
cat > "$work/scripts/seed.sh" <<SH2
#!/bin/bash
set -e
psql -q -v ON_ERROR_STOP=1 postgres://postgres@postgres/app -c "create table t as select g as id, md5(g::text) as v from generate_series(1, $ROWS) g"
redis-cli -h redis eval "for i=1,$KEYS do redis.call('set','key:'..i,'v') end return 1" 0 >/dev/null
SH2
cat > "$work/vers-integration.yaml" <<'YAML'
name: bench-warm
services:
  postgres:
    template: postgres@15
    config:
      databases: [app]
  redis:
    template: redis@7
checkpoints:
  - name: seeded
    after: scripts/seed.sh
    warm: 2
YAML
cd "$work"
"$VERS" up >/dev/null
"$VERS" commit --tag cold >/dev/null

# Waits until the pool holds two healthy branches again.
pool_full() {
  for _ in $(seq 600); do
    n=$("$VERS" status --json | python3 -c "import json,sys; r=json.load(sys.stdin); print(sum(1 for e in r['environments'] if e.get('warm') and e['status']=='running' and all(s['health']=='healthy' for s in e['services'])))")
    [ "$n" = 2 ] && return 0
    sleep 0.1
  done
  echo "the pool never filled" >&2; exit 1
}

warm=(); cold=()
for i in $(seq "$RUNS"); do
  pool_full
  t0=$(now); "$VERS" branch --alias "w$i" --from seeded >/dev/null; warm+=("$(ms_since "$t0")")
  pool_full
  t0=$(now); "$VERS" branch --alias "c$i" --from cold >/dev/null; cold+=("$(ms_since "$t0")")
  "$VERS" branch delete "w$i" >/dev/null; "$VERS" branch delete "c$i" >/dev/null
done
inside=$(grep -o 'warm hand-out: .* in [0-9.]* ms' .vers/daemon.log | awk '{print $(NF-1)}')
echo "machine: $(machine)"
echo "warm hand-out inside the engine: p50 $(p50 $inside) ms (runs: $(echo $inside))"
echo "vers branch, warm: p50 $(p50 "${warm[@]}") ms (runs: ${warm[*]})"
echo "vers branch, cold (baseline): p50 $(p50 "${cold[@]}") ms (runs: ${cold[*]})"
echo "warm / cold: $(ratio "$(p50 "${warm[@]}")" "$(p50 "${cold[@]}")")"
