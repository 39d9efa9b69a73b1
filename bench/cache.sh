#!/usr/bin/env bash
# Benchmark (issue 14): the time to decide that a checkpoint is reused, on a project of FILES
# (default 10,000) files in git, warm (the (size, mtime) fast path); against `git status` on
# the same tree in the same run (git's own "has anything changed?"), and a `vers plan` on a
# project of one file (what vers costs apart from hashing). Also how long the decision takes
# after one file changed (so the checkpoint is not reused).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
FILES="${FILES:-10000}"
RUNS="${RUNS:-7}"
work="$(scratch cache)"
cleanup() { for d in "$work"/*/; do (cd "$d" && "$VERS" down --all >/dev/null 2>&1) || true; done; rm -rf "$work"; }
trap cleanup EXIT
manifest() {
  cat <<'YAML'
name: bench-cache
services:
  redis:
    template: redis@7
checkpoints:
  - name: seeded
    after: redis-cli -h redis set seeded yes
YAML
}
mkdir -p "$work/big/src" "$work/small"
manifest > "$work/big/vers-integration.yaml"
manifest | sed 's/bench-cache/bench-cache-small/' > "$work/small/vers-integration.yaml"
python3 - "$work/big/src" "$FILES" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, f"m{i // 100:03d}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i}.txt"), "w") as f:
        f.write(f"file {i}\n" * 20)
PY
for p in big small; do
  (cd "$work/$p" && git init -q && git add -A && git -c user.email=b@b -c user.name=b commit -qm init \
    && "$VERS" up >/dev/null && "$VERS" plan --json >/dev/null)
done
time_plan() { local t0; t0=$(now); "$VERS" plan --json > "$work/plan.json"; ms_since "$t0"; }
cd "$work/big"
reused=(); git_st=(); small=()
for i in $(seq "$RUNS"); do
  reused+=("$(time_plan)")
  python3 -c "import json,sys; c=json.load(open('$work/plan.json'))['checkpoint_cache']; sys.exit(0 if all(x['reused'] for x in c) else 1)" \
    || { echo "checkpoints were not reused on an unchanged tree" >&2; exit 1; }
  t0=$(now); git status --porcelain >/dev/null; git_st+=("$(ms_since "$t0")")
  (cd "$work/small" && time_plan >/dev/null)
  small+=("$(cd "$work/small" && time_plan)")
done
echo "change" >> src/m050/f5000.txt
changed=()
for i in $(seq "$RUNS"); do changed+=("$(time_plan)"); done
python3 -c "import json,sys; c=json.load(open('$work/plan.json'))['checkpoint_cache']; sys.exit(0 if not any(x['reused'] for x in c if x['name'] == 'seeded') else 1)" \
  || { echo "a changed file did not invalidate the checkpoint" >&2; exit 1; }
echo "cache decision, ${FILES} files, warm: vers plan p50 $(p50 "${reused[@]}") ms (runs: ${reused[*]}); goal ≤ 50 ms"
echo "baseline: git status on the same tree p50 $(p50 "${git_st[@]}") ms; vers plan on a one-file project p50 $(p50 "${small[@]}") ms"
echo "after one file changed (not reused): p50 $(p50 "${changed[@]}") ms"
echo "machine: $(machine)"
