#!/bin/bash
# ingest.sh - end-to-end ingest throughput, against plain COPY measured in the same run
#
#   tests/bench/ingest.sh [BIN_DIR] [RECORDS_PER_SCHOOL] [SCHOOLS]
#
# Starts its own PostgreSQL cluster and county (from the sample's registry), then measures:
#   1. the sample county's files (data, corrections, bad rows): records/s from the first drop
#      until every record is stored;
#   2. a load of SCHOOLS x RECORDS_PER_SCHOOL records dropped at once into SCHOOLS collectors:
#      records/s from the drop until every record is stored, through CSV parsing, the spool
#      (fsync), CURVE, validation and the exactly-once store;
#   3. the baseline: psql \copy of the same rows into a table shaped like edu.observation_log
#      in the same cluster, and the ratio of 2 to 3.
# Prints the figures; asserts nothing (it is a measurement, not a test). With EDU_PERF=FILE the
# load (2) is recorded by `perf record -a -g` into FILE, for `perf report -i FILE`.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-$root/build/bin}
per_school=${2:-25000}
nschools=${3:-4}
sample=$root/deploy/sample/county-430405
. "$root/tests/lib/pg.sh"
. "$root/tests/lib/county.sh"
. "$root/tests/lib/check.sh"

work=$(mktemp -d /tmp/edu-bench.XXXXXX)
chmod 755 "$work"
trap 'county_stop_all "$work/county" 2>/dev/null; pg_stop "$work/pg" >/dev/null 2>&1; rm -rf "$work"' EXIT
pg_start "$work/pg" "$(check_free_port)"
export EDU_SOURCE_DIR=$root
county_init "$work/county" "$bin" "$sample" bench "$(check_free_port)"
c=$work/county
county_aggregator_start "$c"
schools=$(awk -F, 'NR > 1 { print $1 }' "$sample/schools.csv")
for code in $schools; do county_collector_start "$c" "$code"; done
sleep 0.5 # let the collectors connect

ms() { date +%s%3N; }
rate() { awk -v n="$1" -v ms="$2" 'BEGIN { printf "%.0f", n * 1000 / (ms > 0 ? ms : 1) }'; }

# 1. the sample county
n=0
t0=$(ms)
for code in $schools; do
  county_drop "$c" "$code" "$sample/data-$code.csv"
  n=$((n + $(tr -d '\r' <"$sample/data-$code.csv" | tail -n +2 | grep -c .)))
done
county_wait_marked "$c" "$n" 120
t1=$(ms)
echo "sample county: $n records from 30 collectors stored in $((t1 - t0)) ms: $(rate $n $((t1 - t0))) records/s"

# 2. the load
load_schools=$(echo "$schools" | head -"$nschools")
for code in $load_schools; do
  awk -v code="$code" -v n="$per_school" 'BEGIN {
    print "school_code,indicator,period,value"
    for (i = 1; i <= n; i++) printf "%s,training_hours,2025-2026,%d\n", code, i % 2000
  }' >"$work/load-$code.csv"
done
total=$((nschools * per_school))
base=$(county_marked "$c")
# CPU seconds of each kind of process (clock ticks from /proc), to see where the time goes
cpu() { # cpu NAME - total user+system ticks of processes named NAME
  local t=0 p
  for p in $(pgrep -x "$1"); do
    t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  echo $t
}
# the whole machine: busy and all clock ticks of /proc/stat's first line
machine() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 }' /proc/stat; }
for who in edu-collector edu-aggregator postgres; do eval "cpu0_${who//-/_}=$(cpu $who)"; done
read -r busy0 all0 <<<"$(machine)"
if [ -n "${EDU_PERF:-}" ]; then
  perf record -a -g -q -o "$EDU_PERF" &
  perf_pid=$!
  sleep 0.5
fi
t0=$(ms)
for code in $load_schools; do county_drop "$c" "$code" "$work/load-$code.csv"; done
county_wait_marked "$c" $((base + total)) 600
t1=$(ms)
read -r busy1 all1 <<<"$(machine)"
if [ -n "${EDU_PERF:-}" ]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; fi
hz=$(getconf CLK_TCK)
for who in edu-collector edu-aggregator postgres; do
  v=cpu0_${who//-/_}
  echo "  CPU during the load: $who $(awk -v a="$(cpu $who)" -v b="${!v}" -v hz="$hz" -v ms=$((t1 - t0)) \
    'BEGIN { printf "%.2f s (%.0f%% of one core)", (a - b) / hz, (a - b) / hz * 100000 / ms }')"
done
awk -v b=$((busy1 - busy0)) -v a=$((all1 - all0)) -v n="$(nproc)" 'BEGIN {
  printf "  the machine during the load: %.0f%% of its %d cores busy (%.2f cores)\n", b * 100 / a, n, b * n / a }'
e2e=$(rate $total $((t1 - t0)))
echo "load: $total records from $nschools collectors stored in $((t1 - t0)) ms: $e2e records/s end to end"

# 3. the baseline: plain COPY of the same rows
county_sql "$c" "create table bench_copy (school_code text, indicator text, period text,
  value double precision, received_at timestamptz default now(), sender text default '',
  spool_id text default '', seq bigint default 0, source_file text, source_row integer)"
cat "$work"/load-*.csv | grep -v '^school_code' >"$work/all.csv"
t0=$(ms)
psql -X -q -d bench -c "\\copy bench_copy (school_code, indicator, period, value) from '$work/all.csv' csv"
t1=$(ms)
copy=$(rate $total $((t1 - t0)))
echo "baseline: psql \\copy of the same $total rows in $((t1 - t0)) ms: $copy records/s"
awk -v a="$e2e" -v b="$copy" 'BEGIN { printf "ratio: end to end / COPY = %.2f\n", a / b }'

# 4. the floor: the store's own statements on the same rows, run by psql without the pipeline
#    (no CSV, spool, network, validation or warnings): per 5 000-row batch of one school, COPY
#    of its records into the history, COPY of each key's latest record into a stage table, then
#    current values and the spool's mark in one statement, COMMIT. What PostgreSQL must do for
#    each record under the contract, at its own pace.
county_sql "$c" "create table floor_log (like edu.observation_log including all);
  create table floor_current (like edu.current_value including all);
  create table floor_state (like edu.spool_state including all)"
mkdir "$work/floor"
# the COPY files (COPY's text format, as aggregator/store.c makes them): per batch
# B-NNNNN.history and B-NNNNN.stage; the latest of a batch's key is its last row (the load has
# one key per school), as the aggregator marks it
received=$(date -u '+%Y-%m-%d %H:%M:%S.000000+00')
awk -F, -v dir="$work/floor" -v received="$received" '
  { seq = ++n[$1]; f = sprintf("%s/%s-%05d", dir, $1, int((seq - 1) / 5000))
    if (f != open) { if (open != "") close(open ".history"); open = f }
    key = $1 "\t" $2 "\t" $3 "\t" $4
    print received "\t" $1 "\tbench\t" key "\t" seq "\tload.csv\t" seq + 1 >(f ".history")
    stage[f] = seq "\t" key "\tload.csv\t" seq + 1 "\t\\N\t\\N\t\\N" }
  END { for (f in stage) { print stage[f] >(f ".stage"); close(f ".stage") } }' "$work/all.csv"
{
  echo "create temp table edu_stage (seq bigint, school_code text, indicator text, period text,
    value double precision, source_file text, source_row integer, reason text,
    column_name text, detail text) on commit delete rows;"
  for f in "$work"/floor/*.history; do
    f=${f%.history}
    b=$(basename "$f")
    last=$(( (10#${b##*-} + 1) * 5000 ))
    last=$(( last < per_school ? last : per_school ))
    echo "begin;"
    echo "\\copy floor_log (received_at, sender, spool_id, school_code, indicator, period, value, seq, source_file, source_row) from '$f.history'"
    echo "\\copy edu_stage from '$f.stage'"
    echo "with latest as (insert into floor_current as c (school_code, indicator, period, value,
      received_at) select school_code, indicator, period, value, now() from edu_stage
      where reason is null on conflict (school_code, indicator, period) do update set
      value = excluded.value, received_at = excluded.received_at)
      insert into floor_state (sender, spool_id, hwm) values ('${b%-*}', 'bench', $last)
      on conflict (sender, spool_id) do update set hwm = excluded.hwm, updated_at = now();"
    echo "commit;"
  done
} >"$work/floor.sql"
t0=$(ms)
psql -X -q -v ON_ERROR_STOP=1 -d bench -f "$work/floor.sql" >/dev/null
t1=$(ms)
floor=$(rate $total $((t1 - t0)))
echo "baseline: the store's statements alone (psql, 5 000-row transactions, COPY) on the same $total rows in $((t1 - t0)) ms: $floor records/s"
awk -v a="$e2e" -v b="$floor" 'BEGIN { printf "ratio: end to end / the store'"'"'s statements alone = %.2f\n", a / b }'

# 5. another baseline: one INSERT per row, each its own statement in one transaction
#    (of the first 100 000 rows at most: its rate does not depend on the count)
county_sql "$c" "create table bench_insert (like bench_copy including defaults)"
head -100000 "$work/all.csv" | awk -F, '{ printf "INSERT INTO bench_insert (school_code, indicator, period, value) VALUES (\x27%s\x27, \x27%s\x27, \x27%s\x27, %s);\n", $1, $2, $3, $4 }' \
  >"$work/inserts.sql"
t0=$(ms)
{ echo "BEGIN;"; cat "$work/inserts.sql"; echo "COMMIT;"; } | psql -X -q -d bench >/dev/null
t1=$(ms)
inserted=$(wc -l <"$work/inserts.sql")
insert=$(rate "$inserted" $((t1 - t0)))
echo "baseline: per-row INSERT of $inserted of the same rows in $((t1 - t0)) ms: $insert records/s"
awk -v a="$e2e" -v b="$insert" 'BEGIN { printf "ratio: end to end / per-row INSERT = %.2f\n", a / b }'

# 6. a collector's memory: idle, and while it streams a file
code=$(echo "$load_schools" | head -1)
pid=$(cat "$c/pids/collector-$code")
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
idle=$(rss "$pid")
idle_anon=$(awk '/^RssAnon/ { print $2 }' "/proc/$pid/status")
# PSS shares each shared page among the processes mapping it; private pages are the
# collector's alone (what it would give back if it stopped)
idle_pss=$(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup")
idle_private=$(awk '/^Private_(Clean|Dirty):/ { n += $2 } END { print n }' "/proc/$pid/smaps_rollup")
libs=$(awk '/^[0-9a-f]+-/ { name = $6 } /^Rss:/ && name ~ /\.so/ { n[name] += $2 }
  END { for (k in n) printf "%d %s\n", n[k], k }' "/proc/$pid/smaps" | sort -rn | head -6 |
  awk '{ sub(".*/", "", $2); printf "%s%s %d kB", sep, $2, $1; sep = ", " }')
awk -v code="$code" 'BEGIN { print "school_code,indicator,period,value"
  for (i = 1; i <= 200000; i++) printf "%s,training_hours,2025-2026,%d\n", code, i % 2000 }' \
  >"$work/rss.csv"
base=$(county_marked "$c")
county_drop "$c" "$code" "$work/rss.csv"
peak=$idle
while [ "$(county_marked "$c")" -lt $((base + 200000)) ]; do
  r=$(rss "$pid"); [ "$r" -gt "$peak" ] && peak=$r
  sleep 0.05
done
echo "collector RSS: idle after the load (all acknowledged) $((idle / 1024)) MiB ($idle kB, of which $idle_anon kB its own memory, the rest shared library pages); while taking and streaming 200000 records at most $((peak / 1024)) MiB ($peak kB)"
echo "collector memory then: PSS $idle_pss kB, private $idle_private kB; the largest shared libraries in its RSS: $libs"
