#!/bin/bash
# all.sh - the benchmarks in one table, this checkout against a baseline checkout, same run
#
#   tests/bench/all.sh [BASELINE_CHECKOUT] [ROUNDS]
#
# BASELINE_CHECKOUT is another checkout of eduwatch, built (its build/bin), e.g. made with
# `git worktree add /tmp/base <commit> && cmake -S /tmp/base -B /tmp/base/build -DEDU_TESTS=ON
# && cmake --build /tmp/base/build -j2`; each benchmark runs with that checkout's own scripts,
# rules and binaries (the rush: this checkout's script and simulator with the baseline's
# binaries and rules, so that both meet the same load; the latency: this checkout's
# measurement), then with this one's, alternating,
# ROUNDS times (default 1). Without a
# baseline only this checkout runs. Prints one row per figure: the baseline's, this one's and
# their ratio (this / baseline; the better direction is named in the figure), the median over
# the rounds. Asserts nothing. Takes about 10 minutes a round on the 2-core development machine.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
base=${1:-}
rounds=${2:-1}
out=$(mktemp -d /tmp/edu-bench-all.XXXXXX)
trap 'rm -rf "$out"' EXIT

# figure NAME FILE REGEX - the first number after REGEX in FILE
figure() { grep -Eo -- "$3 *-?[0-9.]+" "$2" 2>/dev/null | head -1 | grep -Eo -- '-?[0-9.]+$'; }

# run WHO CHECKOUT ROUND - every benchmark of CHECKOUT, outputs under $out/WHO-ROUND-*
run() {
  local who=$1 dir=$2 r=$3 bin=$2/build/bin
  echo "== $who, round $r" >&2
  "$dir/tests/bench/ingest.sh" "$bin" 100000 4 >"$out/$who-$r-ingest" 2>&1
  "$dir/tests/bench/evaluate.sh" "$bin" >"$out/$who-$r-evaluate" 2>&1
  "$root/tests/bench/latency.sh" "$bin" 10000 20 10 >"$out/$who-$r-latency" 2>&1
  # the rush: this checkout's script and simulator for both (the load of the deadline day)
  "$root/tests/bench/connections.sh" "$bin" 2000 >"$out/$who-$r-connections" 2>&1
  # the collector's benchmark measures the baseline's collector itself, alternating runs
  if [ "$who" = this ]; then
    local base_bin=$bin
    [ -n "$base" ] && base_bin=$base/build/bin
    "$dir/tests/bench/collector.sh" "$bin" "$base_bin" 1000000 1 >"$out/$who-$r-collector" 2>&1
  fi
}
for r in $(seq 1 "$rounds"); do
  [ -n "$base" ] && run base "$base" "$r"
  run this "$root" "$r"
done

# the figures: name | benchmark file | regex before the number
figures=(
  "ingest, records/s (higher is better)|ingest|load: [0-9]+ records from [0-9]+ collectors stored in [0-9]+ ms:"
  "ingest / bare COPY (higher)|ingest|ratio: end to end / COPY ="
  "ingest / the store's statements alone (higher)|ingest|ratio: end to end / the store's statements alone ="
  "evaluate on, records/s (higher)|evaluate|evaluate = true: [0-9]+ records from [0-9]+ collectors in [0-9]+ ms:"
  "evaluate off, records/s (higher)|evaluate|evaluate = false: [0-9]+ records from [0-9]+ collectors in [0-9]+ ms:"
  "collector peak RSS streaming 200 000 records, kB (lower)|ingest|at most [0-9]+ MiB \\("
  "latency p50, ms (lower)|latency|p50"
  "latency p99, ms (lower)|latency|p99"
  "2 000 schools at once, ms (lower)|connections|answered in"
  "aggregator RSS with 2 000 schools, kB (lower)|connections|schools connected: [0-9]+ fds, RSS"
  "collector peak RSS taking 1 000 000 rows (UTF-8), MiB (lower)|collector|measured: [0-9]+ ms, RSS [0-9.]+ MiB before, peak|baseline: [0-9]+ ms, RSS [0-9.]+ MiB before, peak"
  "collector's take of 1 000 000 rows (UTF-8), ms (lower)|collector|measured:|baseline:"
)
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
printf '| figure | baseline | this | this / baseline |\n|---|---|---|---|\n'
for f in "${figures[@]}"; do
  # a fourth field: the baseline's figure is in this checkout's output, after that regex
  IFS='|' read -r name bench regex base_regex <<<"$f"
  if [ -n "$base_regex" ]; then
    b=$(for r in $(seq 1 "$rounds"); do figure x "$out/this-$r-$bench" "$base_regex"; done | median)
    [ -n "$base" ] || b=
  else
    b=$(for r in $(seq 1 "$rounds"); do figure x "$out/base-$r-$bench" "$regex"; done | median)
  fi
  t=$(for r in $(seq 1 "$rounds"); do figure x "$out/this-$r-$bench" "$regex"; done | median)
  ratio=$(awk -v a="$t" -v b="$b" 'BEGIN { if (a != "" && b != "" && b + 0 != 0) printf "%.2f", a / b; else print "—" }')
  printf '| %s | %s | %s | %s |\n' "$name" "${b:-—}" "${t:-—}" "$ratio"
done
echo
echo "(each benchmark's whole output: rerun it alone; this run's are removed)"
