# Shared helpers of the bench scripts; source it: `. "$(dirname "$0")/lib.sh"`.
# Sets ROOT and VERS (the release binary unless VERS is set) and defines timing helpers.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERS="${VERS:-$ROOT/target/release/vers}"

# Seconds since the epoch, with nanoseconds.
now() { date +%s.%N; }
# Seconds since $1 (a `now`), fractional.
elapsed() { echo "$(now) - $1" | bc -l; }
# Whole milliseconds since $1 (a `now`).
ms_since() { echo "($(now) - $1) * 1000" | bc -l | cut -d. -f1; }
# The median of numbers on stdin, one a line.
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# The median of the arguments.
p50() { printf '%s\n' "$@" | median; }
# $1 / $2 with two decimals.
ratio() { echo "scale=2; $1 / $2" | bc -l; }
# A scratch directory the engine user can enter, removed with the script's other cleanup.
scratch() { local d; d="$(mktemp -d "/tmp/vers-bench-$1.XXXXXX")"; chmod 755 "$d"; echo "$d"; }
# Load average and cores, for the figures' context.
machine() { echo "$(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, load $(cut -d' ' -f1-3 /proc/loadavg)"; }
