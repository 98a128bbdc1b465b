#!/bin/bash
# connections.sh - the deadline-day rush: thousands of schools connected to one aggregator at
# once; how long their first answers take, and the aggregator's file descriptors and memory
#
#   tests/bench/connections.sh [BIN_DIR] [SCHOOLS]
#
# A synthetic registry of SCHOOLS schools (default 2000); tests/sim/many_schools opens one CURVE
# connection per school (each its own key, registered in the clients directory), sends one
# record from each and waits for every acknowledgement. Prints the time, then the aggregator's
# open file descriptors and memory with every connection open, against its idle figures
# measured before in the same run. Asserts nothing.
#
# The county is the one of the issue: it is the deadline day of the year it reports
# (EDU_NOW=2025-10-31T10:00:00+08:00, the records are of 2025-2026) and its monitoring begins
# with that year (first_period = 2025-2026 in a copy of BIN_DIR's checkout's rules), so nothing
# is overdue yet; the schools connect once the aggregator has judged its (empty) county.
# EDU_RUSH=after measures instead an empty county after the deadline with the rules as they
# are: then every school is missing every indicator of every year, the aggregator raises
# (and opens cases for) tens of thousands of red warnings while the schools connect, and the
# figure is mostly that work. The simulator is this checkout's (build/bin) when it has one, so a
# baseline's binaries meet the same load.
#
# Also prints the CPU time each of the aggregator's threads, its PostgreSQL backends and the
# simulator used during the rush. With EDU_PERF=FILE the rush is recorded by `perf record -a -g`
# into FILE, for `perf report -i FILE`.
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
# the simulator of this checkout (the same load for a baseline's binaries), else BIN_DIR's
sim_bin=$bin
[ -x "$root/build/bin/many_schools" ] && sim_bin=$root/build/bin
# the rules of BIN_DIR's own checkout (a baseline's binaries with its own rules)
rules=$root/deploy/rules.ini
[ -f "$bin/../../deploy/rules.ini" ] && rules=$(cd "$bin/../.." && pwd)/deploy/rules.ini
if [ "${EDU_RUSH:-deadline}" = after ]; then
  cp "$rules" "$work/rules.ini"
else
  sed 's/^first_period *=.*/first_period = 2025-2026/' "$rules" >"$work/rules.ini"
  export EDU_NOW=2025-10-31T10:00:00+08:00
fi
c=$work/county
# the registry only: the simulator makes the schools' keys
EDU_COUNTY_SCHOOLS=none county_init "$c" "$bin" "$work/sample" conn "$(check_free_port)" >/dev/null
county_set "$c/aggregator.ini" aggregator "rules = $work/rules.ini"
county_aggregator_start "$c"
# the county judged before the rush: its first full judgement is not part of the figure
check_wait_for "judged everything" "$c/log/aggregator.log" 120 || true
pid=$(cat "$c/pids/aggregator")
stat() { echo "$(ls "/proc/$pid/fd" | wc -l) fds, RSS $(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status") kB"; }
idle=$(stat)
# CPU ticks of the threads of a process by name: "name ticks" per line
threads() { for t in /proc/"$1"/task/*; do
  awk '{ sub(/^[^(]*\(/, ""); n = $0; sub(/\).*/, "", n); sub(/^[^)]*\) /, ""); print n, $12 + $13 }' "$t/stat"
done 2>/dev/null | awk '{ t[$1] += $2 } END { for (n in t) print n, t[n] }' | sort; }
backends() { # CPU ticks of the database's backends
  local total=0 p
  for p in $(pgrep -u "$(command stat -c %U "$work/pg/data")" postgres); do
    total=$((total + $(awk '{ sub(/^[^)]*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
threads "$pid" >"$work/threads.before"
pg0=$(backends)
if [ -n "${EDU_PERF:-}" ]; then
  perf record -a -g -q -o "$EDU_PERF" &
  perf_pid=$!
  sleep 0.5
fi
mkfifo "$work/hold"
"$sim_bin/many_schools" "tcp://127.0.0.1:$(cat "$c/port")" "$c/keys/aggregator" "$c/keys/schools" "$n" \
  <"$work/hold" >"$work/sim.out" 2>&1 &
exec 3>"$work/hold" # holds the connections open until the end
check_wait_for answered "$work/sim.out" 300 || true
if [ -n "${EDU_PERF:-}" ]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; fi
threads "$pid" >"$work/threads.after"
pg1=$(backends)
sim=$(pgrep -f "$sim_bin/many_schools" | head -1)
cat "$work/sim.out"
hz=$(getconf CLK_TCK)
echo "CPU during the rush (ms): aggregator's threads $(join -a 2 "$work/threads.before" \
  "$work/threads.after" | awk -v hz="$hz" '{ b = NF == 3 ? $2 : 0; printf "%s%s %d", (NR > 1 ? ", " : ""), $1, ($NF - b) * 1000 / hz }'); PostgreSQL $(( (pg1 - pg0) * 1000 / hz )); simulator $(awk -v hz="$hz" '{ sub(/^[^)]*\) /, ""); print int(($12 + $13) * 1000 / hz) }' "/proc/$sim/stat" 2>/dev/null)"
echo "aggregator idle: $idle"
echo "aggregator with $n schools connected: $(stat)"
echo "records stored: $(county_sql "$c" "select count(*) from edu.observation")"
