#!/usr/bin/env bash
# Benchmark (issue 4), each figure against a baseline measured in the same run:
#  P1  checkpoint -> branch healthy, postgres + redis with ~SIZE_MB of seeded data (p50 of RUNS);
#      VERS_SNAPSHOTTER=btrfs|overlay|copy picks the snapshotter
#  P2  a suite of 4 and of 8 branches whose seed takes ~10 s: branched run vs the naive way
#      (fresh stack + re-seed + test, per branch), one after another and all in parallel
#  P3  checkpoint time at 100 MB and at SIZE_MB, beside `cp -a` of the same data
set -euo pipefail
. "$(dirname "$0")/lib.sh"
RUNS="${RUNS:-5}"
SIZE_MB="${SIZE_MB:-1024}"   # SKIP_P2=1 runs P1 and P3 only
KEYS="${KEYS:-100000}"       # redis keys of ~100 bytes; SIZE_MB=0 KEYS=0 is the empty stack
work="$(mktemp -d /tmp/vers-bench-br.XXXXXX)"
chmod 755 "$work"
cleanup() { for d in "$work"/*/; do (cd "$d" && "$VERS" down --all >/dev/null 2>&1) || true; done; rm -rf "$work"; }
trap cleanup EXIT


# ---- P1 / P3: big seeded data ------------------------------------------------------------
mkdir -p "$work/big/scripts"
cat > "$work/big/scripts/fill.sh" <<SH
#!/bin/bash
set -e
psql -q -v ON_ERROR_STOP=1 postgres://postgres@postgres/app -c "create table big as select g as id, repeat(md5(g::text), 30) as pad from generate_series(1, \$ROWS) g"
redis-cli -h redis eval "for i=1,${KEYS} do redis.call('set','key:'..i,string.rep('v',100)) end return 1" 0 >/dev/null
SH
cat > "$work/big/vers-integration.yaml" <<'YAML'
name: bench-big
services:
  postgres:
    template: postgres@15
    config:
      databases: [app]
  redis:
    template: redis@7
checkpoints:
  - name: small
    after: ROWS=100000 bash scripts/fill.sh
YAML
cd "$work/big"
"$VERS" up >/dev/null
"$VERS" commit --tag at-small >/dev/null
rows=$(( SIZE_MB * 1024 * 1024 / 1000 ))
"$VERS" execute "psql -q postgres://postgres@postgres/app -c 'drop table big' && ROWS=$rows bash scripts/fill.sh" >/dev/null
size_mb=$(du -sm .vers/store/volumes 2>/dev/null | tail -1 | cut -f1 || echo "?")
c_small=(); c_big=()
for i in $(seq "$RUNS"); do
  t0=$(now); "$VERS" commit --tag "big-$i" >/dev/null; c_big+=("$(ms_since "$t0")")
done
vol=$(python3 -c "import json;s=json.load(open('.vers/state.json'));print(s['head'])")
src=".vers/store/volumes/$vol"
t0=$(now); cp -a "$src" "$work/copy-big"; cp_big=$(ms_since "$t0"); rm -rf "$work/copy-big"
p1=()
for i in $(seq "$RUNS"); do
  t0=$(now); "$VERS" branch --alias "fork-$i" --from "big-1" >/dev/null; p1+=("$(ms_since "$t0")")
  "$VERS" branch delete "fork-$i" >/dev/null
done
# The floor: the same engines started bare (in parallel, polled every 5 ms) on a copy of the
# same checkpoint's data (a btrfs snapshot when the store is btrfs, else `cp -a`, untimed).
ck=$(python3 -c "import json;s=json.load(open('.vers/state.json'));print(s['tags']['big-1'])")
bare=()
for i in $(seq "$RUNS"); do
  d="$PWD/.vers/store/bare-$i"; sock="$work/sock-$i"
  mkdir -p "$sock"; chown vers "$sock"
  if ! btrfs subvolume snapshot ".vers/store/checkpoints/$ck" "$d" >/dev/null 2>&1; then
    cp -a ".vers/store/checkpoints/$ck" "$d"
  fi
  rm -f "$d/postgres/pgdata/postmaster.pid"
  t0=$(now)
  runuser -u vers -- /usr/lib/postgresql/15/bin/postgres -D "$d/postgres/pgdata" -c listen_addresses=127.0.0.1 -c port=55433 -c unix_socket_directories="$sock" -c fsync=off >/dev/null 2>&1 &
  pg=$!
  runuser -u vers -- redis-server --bind 127.0.0.1 --port 56380 --dir "$d/redis" --appendonly yes >/dev/null 2>&1 &
  rs=$!
  pg_ok=""; rs_ok=""
  until [ -n "$pg_ok" ] && [ -n "$rs_ok" ]; do
    [ "$(ms_since "$t0")" -lt 30000 ] || { echo "bare engines did not start on $d" >&2; exit 1; }
    [ -n "$pg_ok" ] || { /usr/lib/postgresql/15/bin/pg_isready -q -h 127.0.0.1 -p 55433 && pg_ok=1; } || true
    [ -n "$rs_ok" ] || { [ "$(redis-cli -p 56380 ping 2>/dev/null)" = PONG ] && rs_ok=1; } || true
    sleep 0.005
  done
  bare+=("$(ms_since "$t0")")
  pkill -P "$pg" 2>/dev/null || true; pkill -P "$rs" 2>/dev/null || true
  kill "$pg" "$rs" 2>/dev/null || true; wait "$pg" "$rs" 2>/dev/null || true
  btrfs subvolume delete "$d" >/dev/null 2>&1 || rm -rf "$d"
done
echo "P1 branch from a ${size_mb} MB checkpoint (${KEYS} redis keys) to healthy (postgres + redis): p50 $(printf '%s\n' "${p1[@]}" | median) ms (runs: ${p1[*]})"
echo "P1 floor: bare start of the same engines on the same data: p50 $(p50 "${bare[@]}") ms (runs: ${bare[*]}); vers / bare: $(ratio "$(p50 "${p1[@]}")" "$(p50 "${bare[@]}")")"
echo "P3 checkpoint of ${size_mb} MB: p50 $(printf '%s\n' "${c_big[@]}" | median) ms; cp -a of the same data: ${cp_big} ms; ratio cp/checkpoint $(echo "$cp_big / $(printf '%s\n' "${c_big[@]}" | median)" | bc -l | cut -c1-6)"
"$VERS" down --all >/dev/null
cd "$ROOT"

# P3 small: a fresh project at ~100 MB
mkdir -p "$work/small/scripts"; cp "$work/big/scripts/fill.sh" "$work/small/scripts/"
sed 's/bench-big/bench-small/' "$work/big/vers-integration.yaml" > "$work/small/vers-integration.yaml"
cd "$work/small"
"$VERS" up >/dev/null
for i in $(seq "$RUNS"); do t0=$(now); "$VERS" commit --tag "s-$i" >/dev/null; c_small+=("$(ms_since "$t0")"); done
vol=$(python3 -c "import json;s=json.load(open('.vers/state.json'));print(s['head'])")
t0=$(now); cp -a ".vers/store/volumes/$vol" "$work/copy-small"; cp_small=$(ms_since "$t0"); rm -rf "$work/copy-small"
echo "P3 checkpoint of ~100 MB: p50 $(printf '%s\n' "${c_small[@]}" | median) ms; cp -a: ${cp_small} ms"
"$VERS" down --all >/dev/null
cd "$ROOT"

[ "${SKIP_P2:-0}" = 1 ] && exit 0

# ---- P2: branched vs naive ----------------------------------------------------------------
for n in 4 8; do
  d="$work/suite$n"; mkdir -p "$d/scripts"
  cat > "$d/scripts/seed.sh" <<'SH'
#!/bin/bash
set -e
psql -q -v ON_ERROR_STOP=1 postgres://postgres@postgres/app -c "create table t as select g from generate_series(1,100000) g"
sleep 10
SH
  {
    echo "name: bench-p2-$n"
    echo "services:"
    echo "  postgres: { template: postgres@15, config: { databases: [app] } }"
    echo "  redis: { template: redis@7 }"
    echo "checkpoints:"
    echo "  - name: seeded"
    echo "    after: scripts/seed.sh"
    echo "tests:"
    echo "  s:"
    echo "    command: psql -tA postgres://postgres@postgres/app -c 'insert into t values (0)' && redis-cli -h redis incr n"
    echo "    branches:"
    for i in $(seq "$n"); do echo "      - name: b$i"; done
  } > "$d/vers-integration.yaml"
  cd "$d"
  t0=$(now); "$VERS" test --parallel --jobs "$n" >/dev/null; branched=$(ms_since "$t0")
  # Second run: the seeded checkpoint comes from the cache, as in everyday use.
  t0=$(now); "$VERS" test --parallel --jobs "$n" >/dev/null; warm=$(ms_since "$t0")
  "$VERS" down --all >/dev/null; rm -rf .vers
  t0=$(now)
  for i in $(seq "$n"); do
    "$VERS" up >/dev/null
    "$VERS" execute "psql -tA postgres://postgres@postgres/app -c 'insert into t values (0)' && redis-cli -h redis incr n" >/dev/null
    "$VERS" down --all >/dev/null; rm -rf .vers
  done
  naive=$(ms_since "$t0")
  # The naive way in parallel: n separate copies of the project, each starting, seeding,
  # testing and stopping its own stack at the same time (parallelism without seed reuse).
  for i in $(seq "$n"); do
    mkdir -p "$work/naive$n-$i"; cp -r "$d/scripts" "$work/naive$n-$i/"
    sed "s/bench-p2-$n/bench-p2-$n-naive-$i/" "$d/vers-integration.yaml" > "$work/naive$n-$i/vers-integration.yaml"
  done
  t0=$(now)
  pids=()
  for i in $(seq "$n"); do
    (cd "$work/naive$n-$i" && "$VERS" up >/dev/null \
      && "$VERS" execute "psql -tA postgres://postgres@postgres/app -c 'insert into t values (0)' && redis-cli -h redis incr n" >/dev/null \
      && "$VERS" down --all >/dev/null) &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || { echo "a naive parallel stack failed" >&2; exit 1; }; done
  naive_par=$(ms_since "$t0")
  echo "P2 suite of $n branches, 10 s seed: naive one after another $naive ms, naive in parallel $naive_par ms; branched first run (seeds once) $branched ms: $(ratio "$naive" "$branched")x / $(ratio "$naive_par" "$branched")x faster; branched with cached seed $warm ms: $(ratio "$naive" "$warm")x / $(ratio "$naive_par" "$warm")x faster"
  cd "$ROOT"
done
