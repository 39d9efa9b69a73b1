#!/usr/bin/env bash
# Benchmark (issue 3): `vers up` of postgres + redis + a small app, against the sum of the
# engines' bare start times measured in the same run. Prints the overhead ratio.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
RUNS="${RUNS:-3}"
PGBIN=/usr/lib/postgresql/15/bin
work="$(mktemp -d /tmp/vers-bench-up.XXXXXX)"
chmod 755 "$work"
trap 'cd "$ROOT"; (cd "$work/proj" 2>/dev/null && "$VERS" down --all >/dev/null 2>&1) || true; rm -rf "$work"' EXIT


bare_once() {
  local d="$work/bare"; rm -rf "$d"; mkdir -p "$d"; chown vers "$d"
  local t0; t0=$(now)
  runuser -u vers -- "$PGBIN/initdb" -D "$d/pg" -U postgres --auth=trust --no-sync --no-instructions >/dev/null
  runuser -u vers -- "$PGBIN/postgres" -D "$d/pg" -c listen_addresses=127.0.0.1 -c port=55432 -c unix_socket_directories="$d" -c fsync=off >/dev/null 2>&1 &
  local pg=$!
  until "$PGBIN/pg_isready" -q -h 127.0.0.1 -p 55432; do sleep 0.01; done
  local t_pg; t_pg=$(elapsed "$t0")
  t0=$(now)
  redis-server --port 56379 --bind 127.0.0.1 --save '' --dir "$d" >/dev/null &
  local rs=$!
  until [ "$(redis-cli -p 56379 ping 2>/dev/null)" = PONG ]; do sleep 0.01; done
  local t_redis; t_redis=$(elapsed "$t0")
  t0=$(now)
  PORT=53000 node "$work/proj/app.js" &
  local app=$!
  until (exec 3<>/dev/tcp/127.0.0.1/53000) 2>/dev/null; do sleep 0.01; done
  local t_app; t_app=$(elapsed "$t0")
  kill $pg $rs $app; wait $pg $rs $app 2>/dev/null || true
  echo "$t_pg + $t_redis + $t_app" | bc -l
}

mkdir -p "$work/proj"
cat > "$work/proj/app.js" <<'JS'
require('http').createServer((q, s) => s.end('ok')).listen(+process.env.PORT || 3000, process.env.HOST);
JS
cat > "$work/proj/vers-integration.yaml" <<'YAML'
name: bench-up
services:
  postgres:
    template: postgres@15
  redis:
    template: redis@7
  app:
    command: node app.js
    depends_on: [postgres, redis]
YAML

bare=(); first=(); cold=(); warm=()
for i in $(seq "$RUNS"); do
  bare+=("$(bare_once)")
  # First on this machine: an empty init cache, so initdb runs.
  (cd "$work/proj" && "$VERS" down --all >/dev/null 2>&1 || true; rm -rf .vers)
  t0=$(now); (cd "$work/proj" && VERS_INIT_CACHE="$work/init-$i" "$VERS" up >/dev/null 2>&1); first+=("$(elapsed "$t0")")
  # A new project on a machine that ran vers before: initdb's result comes from the init cache.
  (cd "$work/proj" && VERS_INIT_CACHE="$work/init-$i" "$VERS" down --all >/dev/null 2>&1 || true; rm -rf .vers)
  export VERS_INIT_CACHE="$work/init-$i"
  t0=$(now); (cd "$work/proj" && "$VERS" up >/dev/null 2>&1); cold+=("$(elapsed "$t0")")
  (cd "$work/proj" && "$VERS" down >/dev/null)
  t0=$(now); (cd "$work/proj" && "$VERS" up >/dev/null 2>&1); warm+=("$(elapsed "$t0")")
done
b=$(printf '%s\n' "${bare[@]}" | median)
f=$(printf '%s\n' "${first[@]}" | median)
c=$(printf '%s\n' "${cold[@]}" | median)
w=$(printf '%s\n' "${warm[@]}" | median)
printf 'bare engines (initdb+postgres, redis, app; sum): %.3fs\n' "$b"
printf 'vers up, first on this machine (initdb, setup, checkpoint): %.3fs  ratio %.2f  overhead %+.0f%%\n' "$f" "$(echo "$f/$b" | bc -l)" "$(echo "($f/$b-1)*100" | bc -l)"
printf 'vers up, new project (init cache, setup, checkpoint):       %.3fs  ratio %.2f  overhead %+.0f%%\n' "$c" "$(echo "$c/$b" | bc -l)" "$(echo "($c/$b-1)*100" | bc -l)"
printf 'vers up, again (from the checkpoint cache):                 %.3fs  ratio %.2f  overhead %+.0f%%\n' "$w" "$(echo "$w/$b" | bc -l)" "$(echo "($w/$b-1)*100" | bc -l)"
