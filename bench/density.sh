#!/usr/bin/env bash
# Benchmark (issue 15): how many branches of a seeded postgres + redis checkpoint fit in
# memory. Starts N (default 16) branches side by side and reads the memory their
# environments' cgroups account (usage and RSS), against the goal of 16 in 4 GiB; the
# baseline is the root environment the branches were forked from, measured in the same run.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
N="${N:-16}"
KEYS="${KEYS:-100000}"
work="$(scratch density)"
cleanup() { (cd "$work" && "$VERS" down --all >/dev/null 2>&1) || true; rm -rf "$work"; }
trap cleanup EXIT
cat > "$work/vers-integration.yaml" <<YAML
name: bench-density
services:
  postgres:
    template: postgres@15
    config:
      databases: [app]
  redis:
    template: redis@7
checkpoints:
  - name: seeded
    after: >-
      psql -q postgres://postgres@postgres/app -c "create table t as select g as id, md5(g::text) as v from generate_series(1, 200000) g"
      && redis-cli -h redis eval "for i=1,$KEYS do redis.call('set','key:'..i,string.rep('v',100)) end return 1" 0 >/dev/null
YAML
cd "$work"
"$VERS" up >/dev/null
for i in $(seq "$N"); do "$VERS" branch --alias "d$i" --from seeded >/dev/null; done
python3 - "$N" <<'PY'
import json, os, sys
n = int(sys.argv[1])
st = json.load(open(".vers/state.json"))
roots = [d for d in os.listdir("/sys/fs/cgroup/memory/vers") if os.path.isdir(f"/sys/fs/cgroup/memory/vers/{d}")] \
    if os.path.isdir("/sys/fs/cgroup/memory/vers") else []
def usage(env_id):
    for r in roots:
        p = f"/sys/fs/cgroup/memory/vers/{r}/{env_id}"
        if os.path.isdir(p):
            stat = dict(l.split() for l in open(p + "/memory.stat"))
            return int(open(p + "/memory.usage_in_bytes").read()), int(stat["total_rss"])
    for r in ("/sys/fs/cgroup/vers",):
        for d, _, _ in os.walk(r):
            if d.endswith("/" + env_id):
                stat = dict(l.split() for l in open(d + "/memory.stat"))
                return int(open(d + "/memory.current").read()), int(stat["anon"])
    raise SystemExit(f"no cgroup for {env_id}")
mib = lambda b: b / 2**20
branches = [(i, usage(i)) for i, e in st["envs"].items() if e["name"].startswith("d")]
root = [usage(i) for i, e in st["envs"].items() if e["name"] == "root"]
tot = sum(u for _, (u, _) in branches); rss = sum(r for _, (_, r) in branches)
print(f"density: {len(branches)} branches running, cgroup memory {mib(tot):.0f} MiB in all "
      f"({mib(tot)/len(branches):.1f} MiB each, RSS {mib(rss)/len(branches):.1f} MiB each); goal: {n} in 4096 MiB")
if root:
    print(f"baseline: the root environment they fork from: {mib(root[0][0]):.1f} MiB (RSS {mib(root[0][1]):.1f} MiB)")
print(f"branches that fit in 4 GiB at this size: {int(4096 / (mib(tot)/len(branches)))}")
PY
echo "machine: $(machine)"
