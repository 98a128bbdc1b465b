#!/bin/bash
# connections.sh - thousands of schools connected to one aggregator: its file descriptors and
# memory, and how long the handshakes and first answers take
#
#   tests/bench/connections.sh [BIN_DIR] [SCHOOLS]
#
# A synthetic registry of SCHOOLS schools (default 2000); tests/sim/many_schools opens one CURVE
# connection per school (each its own key, registered in the clients directory), sends one
# record from each and waits for every acknowledgement. Prints the time, then the aggregator's
# open file descriptors and memory with every connection open, against its idle figures
# measured before in the same run. Asserts nothing.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-$root/build/bin}
n=${2:-2000}
. "$root/tests/lib/pg.sh"
. "$root/tests/lib/county.sh"
. "$root/tests/lib/check.sh"
export EDU_SOURCE_DIR=$root

work=$(mktemp -d /tmp/edu-bench-conn.XXXXXX)
chmod 755 "$work"
trap 'exec 3>&- 2>/dev/null; county_stop_all "$work/county" 2>/dev/null; pg_stop "$work/pg" >/dev/null 2>&1; [ -n "${EDU_KEEP:-}" ] || rm -rf "$work"' EXIT
pg_start "$work/pg" "$(check_free_port)"
mkdir -p "$work/sample"
awk -v n="$n" 'BEGIN { print "school_code,name,county_code,stage,students,location"
  for (i = 1; i <= n; i++) printf "21%08d,学校%d,430405,primary,%d,urban\n", i, i, 300 + i % 900 }' \
  >"$work/sample/schools.csv"
c=$work/county
# the registry only: the simulator makes the schools' keys
EDU_COUNTY_SCHOOLS=none county_init "$c" "$bin" "$work/sample" conn "$(check_free_port)" >/dev/null
county_aggregator_start "$c"
pid=$(cat "$c/pids/aggregator")
stat() { echo "$(ls "/proc/$pid/fd" | wc -l) fds, RSS $(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status") kB"; }
idle=$(stat)
mkfifo "$work/hold"
"$bin/many_schools" "tcp://127.0.0.1:$(cat "$c/port")" "$c/keys/aggregator" "$c/keys/schools" "$n" \
  <"$work/hold" >"$work/sim.out" 2>&1 &
exec 3>"$work/hold" # holds the connections open until the end
check_wait_for answered "$work/sim.out" 300 || true
cat "$work/sim.out"
echo "aggregator idle: $idle"
echo "aggregator with $n schools connected: $(stat)"
echo "records stored: $(county_sql "$c" "select count(*) from edu.observation")"
