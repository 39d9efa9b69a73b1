#!/usr/bin/env bash
# Benchmark (issue 7): a matrix of three PostgreSQL majors (15 from Debian, 14 and 16 from the
# npm registry's server builds, installed here when missing) with a seeded checkpoint.
# Wall time of `vers integration matrix --parallel` against the same cells one after another,
# measured in the same run on two identical projects:
#   cold: each fresh project's first run (every combination seeds its own checkpoint), p50 of COLD_RUNS
#   warm: later runs, checkpoints from the cache (p50 of RUNS)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
RUNS="${RUNS:-3}"
COLD_RUNS="${COLD_RUNS:-3}"
ROWS="${ROWS:-300000}"
MAJORS="${MAJORS:-14 15 16}"
work="$(mktemp -d /tmp/vers-bench-mx.XXXXXX)"
chmod 755 "$work"
cleanup() { for d in "$work"/*/; do (cd "$d" && "$VERS" down --all >/dev/null 2>&1) || true; done; rm -rf "$work"; }
trap cleanup EXIT


installs=()
for m in $MAJORS; do [ "$m" = 15 ] || installs+=("postgres@$m"); done
"$VERS" engines install "${installs[@]}" >/dev/null
majors_list="$(echo "$MAJORS" | tr ' ' ',' | sed 's/,/, /g')"

make_project() {
  local d="$work/$1"
  mkdir -p "$d/scripts"
  cat > "$d/scripts/seed.sh" <<SH
#!/bin/sh
set -e
psql -q -v ON_ERROR_STOP=1 postgres://postgres@postgres/app <<SQL
create table events as
  select g as id, g % 1000 as account, md5(g::text) as payload, now() - g * interval '1 second' as at
  from generate_series(1, $ROWS) g;
create index on events (account);
create index events_payload_trgm on events using gin (payload gin_trgm_ops);
analyze events;
SQL
SH
  cat > "$d/scripts/check.sh" <<'SH'
set -e
q() { psql -v ON_ERROR_STOP=1 -tA postgres://postgres@postgres/app -c "$1"; }
v=$(q "show server_version")
test "${v%%.*}" = "$VERS_MATRIX_POSTGRES"
q "select account, count(*), max(at) from events group by account order by 2 desc limit 5" >/dev/null
q "select count(*) from events where payload like '%abc%'" >/dev/null
test "$(q "select count(*) > 0 from events where account = 7")" = t
SH
  cat > "$d/vers-integration.yaml" <<YAML
name: bench-matrix-$1
services:
  postgres:
    template: postgres@15
    config:
      databases: [app]
      extensions: [pg_trgm]
checkpoints:
  - name: seeded
    after: scripts/seed.sh
tests:
  queries:
    command: sh scripts/check.sh
    branches:
      - name: aggregate
matrix:
  postgres: [$majors_list]
YAML
}

# Runs the matrix in project $1 with extra flags; prints the wall time in ms, fails loudly.
timed_matrix() {
  local d="$work/$1"; shift
  local t0 out
  t0=$(now)
  if ! out=$(cd "$d" && "$VERS" integration matrix "$@" 2>&1); then
    echo "$out" > "$ROOT/target/bench-matrix-failure.log"
    echo "matrix run failed in $d ($*), output kept in target/bench-matrix-failure.log:" >&2
    echo "$out" >&2; exit 1
  fi
  ms_since "$t0"
}

# Cold rounds on fresh projects, alternating which mode goes first (other load on the machine
# then hits both alike); warm runs alternate too.
cold_seq=(); cold_par=()
for r in $(seq "$COLD_RUNS"); do
  make_project "par$r"; make_project "seq$r"
  if [ $((r % 2)) = 1 ]; then
    cold_seq+=("$(timed_matrix "seq$r")"); cold_par+=("$(timed_matrix "par$r" --parallel)")
  else
    cold_par+=("$(timed_matrix "par$r" --parallel)"); cold_seq+=("$(timed_matrix "seq$r")")
  fi
done
warm_seq=(); warm_par=()
for i in $(seq "$RUNS"); do
  warm_seq+=("$(timed_matrix "seq$COLD_RUNS")")
  warm_par+=("$(timed_matrix "par$COLD_RUNS" --parallel)")
done
cs=$(printf '%s\n' "${cold_seq[@]}" | median)
cp=$(printf '%s\n' "${cold_par[@]}" | median)
ws=$(printf '%s\n' "${warm_seq[@]}" | median)
wp=$(printf '%s\n' "${warm_par[@]}" | median)
engines=$("$VERS" engines list --json | python3 -c "
import json, sys
want = sys.argv[1].split()
seen = {}
for e in json.load(sys.stdin)['engines']:
    if e['template'] == 'postgres' and e['major'] in want:
        seen.setdefault(e['major'], '%s %s' % (e['version'], e['source'].split(' ')[0]))
print(', '.join(seen[m] for m in want if m in seen))" "$MAJORS")
echo "matrix of postgres [$majors_list] ($engines), seed of $ROWS rows + 2 indexes, $(nproc) cores"
echo "cold (each cell seeds, p50 of $COLD_RUNS): one after another $cs ms; --parallel $cp ms; speed-up $(ratio "$cs" "$cp")x (runs: seq ${cold_seq[*]}; par ${cold_par[*]})"
echo "warm (cached checkpoints, p50 of $RUNS): one after another $ws ms; --parallel $wp ms; speed-up $(ratio "$ws" "$wp")x (runs: seq ${warm_seq[*]}; par ${warm_par[*]})"
