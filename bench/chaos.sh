#!/usr/bin/env bash
# Benchmark (issue 16), each figure against a baseline measured in the same run:
#  C1  the chaos proxy's added latency in front of a single-replica app: round trips of one
#      small message on a kept-open connection (and new connections) to the app's name (its
#      proxy) against the app's own pod address (direct), interleaved, ROUNDS each
#  C2  scheduling accuracy of a scenario suite's `after` and `duration`: the test command
#      watches redis every 20 ms and notes when the delay starts and ends, against what the
#      scenario asked (p50 and max of |observed - asked| over the scenarios)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VERS="${VERS:-$ROOT/target/release/vers}"
ROUNDS="${ROUNDS:-5000}"
work="$(mktemp -d /tmp/vers-bench-chaos.XXXXXX)"
chmod 755 "$work"
cleanup() { for d in "$work"/*/; do (cd "$d" && "$VERS" down --all >/dev/null 2>&1) || true; done; rm -rf "$work"; }
trap cleanup EXIT

# ---- C1: proxy overhead -----------------------------------------------------------------
mkdir -p "$work/proxy/echo"
cat > "$work/proxy/echo/echo.py" <<'PY'
import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 7000)); s.listen(128)
def serve(c):
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while True:
        d = c.recv(4096)
        if not d: break
        c.sendall(d)
    c.close()
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
cat > "$work/proxy/client.py" <<'PY'
import socket, sys, time, statistics
direct, rounds = sys.argv[1], int(sys.argv[2])
targets = {"proxy": ("echo", 7000), "direct": (direct, 7000)}
def conn(addr):
    c = socket.create_connection(addr); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1); return c
kept = {k: conn(a) for k, a in targets.items()}
rt = {k: [] for k in targets}; nc = {k: [] for k in targets}
for i in range(rounds):
    for k in (("proxy", "direct") if i % 2 else ("direct", "proxy")):
        c = kept[k]; t = time.perf_counter_ns(); c.sendall(b"x" * 64); got = 0
        while got < 64: got += len(c.recv(64 - got))
        rt[k].append(time.perf_counter_ns() - t)
    if i % 10 == 0:
        for k, a in targets.items():
            t = time.perf_counter_ns(); c = conn(a); c.sendall(b"y"); c.recv(1)
            nc[k].append(time.perf_counter_ns() - t); c.close()
def p(v, q): v = sorted(v); return v[min(len(v) - 1, int(q * len(v)))] / 1000
for name, d in (("round trip, kept connection", rt), ("new connection + round trip", nc)):
    dp, pp = p(d["direct"], .5), p(d["proxy"], .5)
    print(f"{name}: direct p50 {dp:.1f} us p99 {p(d['direct'], .99):.1f} us; "
          f"proxy p50 {pp:.1f} us p99 {p(d['proxy'], .99):.1f} us; "
          f"added p50 {pp - dp:.1f} us, ratio {pp / dp:.2f}x (n={len(d['direct'])})")
PY
cat > "$work/proxy/vers-integration.yaml" <<'YAML'
name: bench-proxy
services:
  echo:
    build: ./echo
    command: python3 echo.py
    ports: ["7000"]
    healthcheck:
      command: python3 -c "import socket; socket.create_connection(('127.0.0.1', 7000))"
YAML
cd "$work/proxy"
"$VERS" up --no-checkpoints >/dev/null
pod=$("$VERS" execute --service echo "hostname -I" | awk '{print $1}')
echo "C1 proxy overhead, single-replica app (pod $pod), $ROUNDS rounds each, interleaved:"
"$VERS" execute "python3 $work/proxy/client.py $pod $ROUNDS"
"$VERS" down --all >/dev/null

# ---- C2: scheduling accuracy ------------------------------------------------------------
mkdir -p "$work/sched"
cat > "$work/sched/watch.sh" <<'SH'
# Pings redis every 20 ms; prints when the 300 ms delay is first seen (the start of the first
# slow ping) and when it is gone (the start of the first fast ping after it), ms since start.
start=$(date +%s%N); first=""; last=""
now() { echo $(( ($(date +%s%N) - start) / 1000000 )); }
while [ "$(now)" -lt "$WATCH_MS" ]; do
  s=$(now); redis-cli -h redis ping >/dev/null; e=$(now)
  if [ $((e - s)) -ge 250 ]; then [ -z "$first" ] && first=$s
  elif [ -n "$first" ] && [ -z "$last" ]; then last=$s; fi
  sleep 0.02
done
echo "observed $VERS_SCENARIO start=${first:-none} end=${last:-none}"
SH
{
  echo "name: bench-sched"
  echo "services:"
  echo "  redis: {template: redis@7}"
  echo "tests:"
  echo "  sched:"
  echo "    command: WATCH_MS=7000 sh watch.sh"
  echo "    timeout: 1m"
  echo "    scenarios:"
  for a in 500 1000 1500 2000 2500 3000; do
    echo "      - {name: after-$a, inject: {service: redis, action: network-delay, latency: 300ms, after: ${a}ms, duration: 2s}}"
  done
} > "$work/sched/vers-integration.yaml"
cd "$work/sched"
"$VERS" test --json > report.json || true
python3 - "$work/sched/report.json" <<'PY'
import json, sys, re, statistics
r = json.load(open(sys.argv[1]))
starts, ends, applied = [], [], []
for b in r["suites"][0]["branches"]:
    after = int(b["name"].split("-")[1]); log = open(b["log"]).read()
    m = re.search(r"start=(\d+) end=(\d+)", log)
    at = b.get("scenario", {}).get("injected_at_ms")
    print(f"  {b['name']}: {b['status']}, applied at +{at} ms, observed {m.group(0) if m else 'nothing'}")
    if at is not None: applied.append(abs(at - after))
    if m:
        s, e = int(m.group(1)), int(m.group(2))
        starts.append(abs(s - after)); ends.append(abs(e - (after + 2000)))
def fig(v): return f"p50 {statistics.median(v):.0f} ms, max {max(v)} ms" if v else "none"
print("C2 scheduling accuracy (|observed - asked|, 6 scenarios, after 0.5-3 s, duration 2 s):")
print(f"  applied (engine's clock): {fig(applied)}")
print(f"  start seen by the test (20 ms polling, 300 ms delay): {fig(starts)}")
print(f"  end seen by the test: {fig(ends)}")
PY
