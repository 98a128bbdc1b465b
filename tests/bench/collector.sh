#!/bin/bash
# collector.sh - what taking a big file costs a collector (peak memory, time), against a
# baseline collector measured in the same run
#
#   tests/bench/collector.sh [BIN_DIR] [BASE] [ROWS] [RUNS]
#
#   BIN_DIR  the collector measured (default build/bin)
#   BASE     the baseline: a directory holding an edu-collector, or a git revision (default
#            main) exported with `git archive` and built (edu-collector only) in a temporary
#            directory
#   ROWS     rows of the file (default 1000000: about 50 MB)
#   RUNS     runs of each collector and encoding, alternating (default 3)
#
# 1. The take alone: a ROWS-row file (UTF-8, then the same in GB18030) renamed into the inbox
#    of a fresh collector whose county is not running (the collector spools first; CURVE off).
#    Time from the rename until the file is in done/ (its records committed to the spool with
#    one fsync); the collector's RSS before the file came and its peak (VmHWM of
#    /proc/PID/status, the kernel's own high-water mark).
# 2. Once, the whole delivery to a real county (its own PostgreSQL, an aggregator, CURVE):
#    time from the rename until the county's mark holds every record, and the peak RSS over the
#    take and the delivery.
# Prints the figures of each run, the medians and the ratios to the baseline; asserts nothing.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$(cd "${1:-$root/build/bin}" && pwd)
base=${2:-main}
rows=${3:-1000000}
runs=${4:-3}
sample=$root/deploy/sample/county-430405
. "$root/tests/lib/pg.sh"
. "$root/tests/lib/county.sh"
. "$root/tests/lib/check.sh"

work=$(mktemp -d /tmp/edu-bench-collector.XXXXXX)
chmod 755 "$work"
collector=
trap '[ -n "$collector" ] && kill "$collector" 2>/dev/null; county_stop_all "$work/county" 2>/dev/null
  pg_stop "$work/pg" >/dev/null 2>&1; rm -rf "$work"' EXIT

# the baseline
if [ -x "$base/edu-collector" ]; then
  base_bin=$(cd "$base" && pwd)
  base_name=$base_bin
else
  base_name="$base ($(git -C "$root" rev-parse --short "$base"))"
  echo "building the baseline collector from $base_name ..."
  mkdir -p "$work/base-src"
  git -C "$root" archive "$base" | tar -x -C "$work/base-src"
  cmake -S "$work/base-src" -B "$work/base-build" -DEDU_TESTS=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$work/base-cmake.log" 2>&1 ||
    { tail -20 "$work/base-cmake.log"; exit 1; }
  cmake --build "$work/base-build" -j2 --target edu-collector >"$work/base-build.log" 2>&1 ||
    { tail -20 "$work/base-build.log"; exit 1; }
  base_bin=$work/base-build/bin
fi

# the file: the 17 indicators over ten years, one row in ten with a note in Chinese (so that
# the GB18030 copy is not plain ASCII)
code=2143004052
gen() { # gen CODE - the file of school CODE on stdout
  awk -v code="$1" -v n="$rows" 'BEGIN {
    split("degree_teachers_per100 backbone_teachers_per100 pe_art_teachers_per100 " \
          "teaching_area_per_student sports_area_per_student equipment_value_per_student " \
          "multimedia_rooms_per100 student_teacher_ratio bachelor_teacher_pct training_hours " \
          "backbone_rotation_pct fitness_pass_pct exam_excellent_pct myopia_pct " \
          "psych_teacher_pct inquiry_learning_pct parent_satisfaction_pct", ind, " ")
    print "school_code,indicator,period,value,备注"
    for (i = 0; i < n; i++) {
      y = 2015 + i % 10
      printf "%s,%s,%d-%d,%d.%02d,%s\n", code, ind[i % 17 + 1], y, y + 1, 1 + i % 99, i % 100,
        i % 10 ? "" : "复核"
    }
  }'
}
gen $code >"$work/utf8.csv"
iconv -f UTF-8 -t GB18030 "$work/utf8.csv" >"$work/gb18030.csv"
mb() { awk -v b="$(stat -c %s "$1")" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }
echo "file: $rows rows, $(mb "$work/utf8.csv") in UTF-8, $(mb "$work/gb18030.csv") in GB18030"
echo "baseline: $base_name; measured: $bin"

kb() { awk -v k="$2" "/^$1:/ { print \$2 }" "/proc/$3/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
ms() { date +%s%3N; }
dead_port=$(check_free_port 1) # nobody listens there: the county is down

# take BIN FILE - a fresh collector of BIN takes FILE; prints "MS IDLE_KB PEAK_KB"
take() {
  local b=$1 file=$2 d=$work/take i t0 t1 idle peak
  rm -rf "$d"
  mkdir -p "$d/inbox"
  cat >"$d/collector.ini" <<EOF
[collector]
school = $code
endpoint = tcp://127.0.0.1:$dead_port
inbox = $d/inbox
spool = $d/spool
[curve]
enabled = false
EOF
  "$b/edu-collector" -c "$d/collector.ini" >"$d/log" 2>&1 &
  collector=$!
  check_wait_for "sending to" "$d/log" 10 || { cat "$d/log" >&2; return 1; }
  sleep 0.3
  idle=$(kb VmRSS x "$collector")
  cp "$file" "$d/inbox/.data.csv.tmp"
  t0=$(ms)
  mv "$d/inbox/.data.csv.tmp" "$d/inbox/data.csv"
  for i in $(seq 1 60000); do
    [ -e "$d/inbox/done/data.csv" ] && break
    sleep 0.01
  done
  t1=$(ms)
  peak=$(kb VmHWM x "$collector")
  [ -e "$d/inbox/done/data.csv" ] || { echo "the file was not taken:" >&2; cat "$d/log" >&2; return 1; }
  kill "$collector"
  wait "$collector" 2>/dev/null || true
  collector=
  echo "$((t1 - t0)) $idle $peak"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# 1. the take alone, alternating runs
for enc in utf8 gb18030; do
  : >"$work/base.$enc" && : >"$work/new.$enc"
  for r in $(seq 1 "$runs"); do
    for who in base new; do
      b=$bin && [ $who = base ] && b=$base_bin
      read -r t idle peak <<<"$(take "$b" "$work/$enc.csv")"
      echo "$t $idle $peak" >>"$work/$who.$enc"
      printf '  take %-7s run %d %-8s %6d ms, RSS %s before, peak %s\n' "$enc" "$r" "$who" "$t" \
        "$(mib "$idle")" "$(mib "$peak")"
    done
  done
  bt=$(cut -d' ' -f1 "$work/base.$enc" | median) nt=$(cut -d' ' -f1 "$work/new.$enc" | median)
  bp=$(cut -d' ' -f3 "$work/base.$enc" | median) np=$(cut -d' ' -f3 "$work/new.$enc" | median)
  bi=$(cut -d' ' -f2 "$work/base.$enc" | median) ni=$(cut -d' ' -f2 "$work/new.$enc" | median)
  echo "take of $rows rows ($enc), medians of $runs runs:"
  echo "  baseline: $bt ms, RSS $(mib "$bi") before, peak $(mib "$bp") (+$(mib $((bp - bi))))"
  echo "  measured: $nt ms, RSS $(mib "$ni") before, peak $(mib "$np") (+$(mib $((np - ni))))"
  awk -v bt="$bt" -v nt="$nt" -v bp="$bp" -v np="$np" -v bi="$bi" -v ni="$ni" 'BEGIN {
    printf "  ratio measured / baseline: time %.2f, peak RSS %.3f, growth over idle %.3f\n",
      nt / bt, np / bp, (np - ni) / (bp - bi > 0 ? bp - bi : 1) }'
done

# 2. the whole delivery to a real county, once for each collector
pg_start "$work/pg" "$(check_free_port 1)" >/dev/null
export EDU_SOURCE_DIR=$root
EDU_COUNTY_SCHOOLS=none county_init "$work/county" "$bin" "$sample" bench "$(check_free_port)" >/dev/null
c=$work/county
county_aggregator_start "$c"
want=0
for who in base new; do
  b=$bin && [ $who = base ] && b=$base_bin
  school=$(awk -F, -v n=$([ $who = base ] && echo 2 || echo 3) 'NR == n { print $1 }' "$sample/schools.csv")
  county_school_init "$c" "$school"
  gen "$school" >"$work/deliver.csv"
  "$b/edu-collector" -c "$c/schools/$school/collector.ini" >"$c/log/collector-$who.log" 2>&1 &
  collector=$!
  echo $collector >"$c/pids/collector-$who"
  check_wait_for "sending to" "$c/log/collector-$who.log" 10
  sleep 0.5
  idle=$(kb VmRSS x "$collector")
  want=$((want + rows))
  cp "$work/deliver.csv" "$c/schools/$school/inbox/.data.csv.tmp"
  t0=$(ms)
  mv "$c/schools/$school/inbox/.data.csv.tmp" "$c/schools/$school/inbox/data.csv"
  county_wait_marked "$c" "$want" 900
  t1=$(ms)
  peak=$(kb VmHWM x "$collector")
  county_stop "$c" "collector-$who"
  collector=
  echo "$((t1 - t0)) $idle $peak" >"$work/deliver.$who"
  awk -v who="$who" -v n="$rows" -v ms=$((t1 - t0)) -v idle="$idle" -v peak="$peak" 'BEGIN {
    printf "delivery to a real county, %-8s %d records in %d ms (%.0f records/s); collector RSS %.1f MiB before, peak %.1f MiB\n",
      who ":", n, ms, n * 1000 / ms, idle / 1024, peak / 1024 }'
done
read -r bt _ bp <"$work/deliver.base"
read -r nt _ np <"$work/deliver.new"
awk -v bt="$bt" -v nt="$nt" -v bp="$bp" -v np="$np" 'BEGIN {
  printf "  ratio measured / baseline: delivery time %.2f, peak RSS %.3f\n", nt / bt, np / bp }'
