#!/bin/bash
# evaluate.sh - what judging the warnings costs ingest: records/s with and without evaluation
#
#   tests/bench/evaluate.sh [BIN_DIR] [SCHOOLS] [ROUNDS]
#
# A synthetic county of SCHOOLS schools (half primary, half junior; a third of them rural, so
# that urban_rural_gap has both sides) reports every indicator of deploy/rules.ini (19: the 17
# and enrolment and capacity) for 10 academic years (2016-2017 … 2025-2026), ROUNDS times over
# (each round corrects every value): SCHOOLS × 19 × 10 × ROUNDS records (default 50 × 19 × 10 ×
# 12 = 114 000), one file per school, dropped at once into SCHOOLS collectors. Values scatter
# around each indicator's target (enrolment and places around 50), so every kind of warning
# occurs, the second round's included (trend, capacity, persistent, consistency,
# county_balanced, urban_rural_gap). The load runs twice in the same PostgreSQL cluster,
# each time into a fresh database: with `[aggregator] evaluate = true` (the default) and with
# `evaluate = false`; the script prints records/s for both and their ratio. It asserts nothing.
# EDU_BENCH_RULES=FILE runs with another rules file (e.g. an earlier release's, to compare its
# binary with this one on the same load).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
rules=${EDU_BENCH_RULES:-$root/deploy/rules.ini}
bin=${1:-$root/build/bin}
nschools=${2:-50}
rounds=${3:-12}
. "$root/tests/lib/pg.sh"
. "$root/tests/lib/county.sh"
. "$root/tests/lib/check.sh"
export EDU_SOURCE_DIR=$root EDU_NOW=2025-11-08T12:00:00+08:00

work=$(mktemp -d /tmp/edu-bench-eval.XXXXXX)
chmod 755 "$work"
cleanup() {
  for d in "$work"/county-*; do [ -d "$d" ] && county_stop_all "$d"; done
  pg_stop "$work/pg" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
pg_start "$work/pg" "$(check_free_port)"

# the synthetic registry and each school's file
mkdir -p "$work/sample"
awk -v n="$nschools" 'BEGIN {
  print "school_code,name,county_code,stage,students,location"
  for (i = 1; i <= n; i++)
    printf "%d%s,学校%d,430405,%s,%d,%s\n", (i % 2 ? 21 : 31), sprintf("43%06d", i), i,
      (i % 2 ? "primary" : "junior"), 300 + (i * 37) % 1700, (i % 3 ? "urban" : "rural")
}' >"$work/sample/schools.csv"
for code in $(tail -n +2 "$work/sample/schools.csv" | cut -d, -f1); do
  awk -v code="$code" -v rounds="$rounds" -v seed="$code" '
    /^\[indicator\./ { ind = substr($0, 12, length($0) - 12); codes[++n] = ind }
    /^target/ { split($0, f, " = "); base[ind] = f[2] }
    /^min/ { split($0, f, " = "); lo[ind] = f[2] }
    /^max/ { split($0, f, " = "); hi[ind] = f[2] }
    END {
      srand(seed)
      print "school_code,indicator,period,value"
      for (r = 1; r <= rounds; r++)
        for (y = 2016; y <= 2025; y++)
          for (i = 1; i <= n; i++) {
            ind = codes[i]
            b = (ind in base) ? base[ind] : (hi[ind] > 100 ? 50 : hi[ind] / 2)
            v = b * (0.6 + 0.8 * rand())
            if (v > hi[ind]) v = hi[ind]
            if (v < lo[ind]) v = lo[ind]
            printf "%s,%s,%d-%d,%.2f\n", code, ind, y, y + 1, v
          }
    }' "$rules" >"$work/sample/data-$code.csv"
done
indicators=$(grep -c '^\[indicator\.' "$rules")
total=$((nschools * indicators * 10 * rounds))

ms() { date +%s%3N; }
load() { # load EVALUATE - prints records/s
  local mode=$1 c=$work/county-$1 t0 t1 code
  county_init "$c" "$bin" "$work/sample" "bench_$1" "$(check_free_port)" >/dev/null
  sed -i "s/^\[aggregator\]$/[aggregator]\nevaluate = $mode/; s|^rules = .*|rules = $rules|" \
    "$c/aggregator.ini"
  county_aggregator_start "$c"
  for code in $(tail -n +2 "$work/sample/schools.csv" | cut -d, -f1); do
    county_collector_start "$c" "$code"
  done
  sleep 1 # let the collectors connect
  t0=$(ms)
  for code in $(tail -n +2 "$work/sample/schools.csv" | cut -d, -f1); do
    county_drop "$c" "$code" "$work/sample/data-$code.csv"
  done
  county_wait_stored "$c" "$total" 900
  t1=$(ms)
  local warnings cpu
  warnings=$(county_sql "$c" "select count(*) from edu.current_warning" 2>/dev/null || echo 0)
  # the aggregator's own CPU time (user + system, clock ticks of 10 ms), less sensitive than
  # the wall clock to other work on the machine
  cpu=$(awk '{ print ($14 + $15) * 10 }' "/proc/$(cat "$c/pids/aggregator")/stat")
  echo "evaluate = $mode: $total records from $nschools collectors in $((t1 - t0)) ms:" \
    "$(awk -v n=$total -v ms=$((t1 - t0)) 'BEGIN { printf "%.0f", n * 1000 / ms }') records/s;" \
    "aggregator CPU $cpu ms; $warnings warnings yellow or red" >&2
  awk -v n=$total -v ms=$((t1 - t0)) 'BEGIN { printf "%.0f", n * 1000 / ms }'
  county_stop_all "$c"
}
with=$(load true)
without=$(load false)
awk -v a="$with" -v b="$without" 'BEGIN { printf "ratio: with / without evaluation = %.2f\n", a / b }'
