#!/bin/bash
# latency.sh - how long a file waits: from landing in a school's inbox until its records and
# the warnings they change are committed, at a steady rate
#
#   tests/bench/latency.sh [BIN_DIR] [RECORDS_PER_SECOND] [SECONDS] [SCHOOLS] [PULL] [HISTORY]
#
# PULL=pull: meanwhile a province pulls 100 000 aggregate rows from the county again and again
# (one page of 100 000 rows each time), to show that the county's query endpoint does not hold
# up the batches (compare the figures with and without).
#
# SCHOOLS collectors (default 10) each receive one file per second of RECORDS_PER_SECOND /
# SCHOOLS records (default 10 000 records/s in all) for SECONDS (default 20), warnings on; the
# files come evenly spaced, one every 1/SCHOOLS s, the schools in turn (a steady load). A
# file's latency is the commit time of the transaction that stored its last record (and the
# warnings they change: PostgreSQL's commit timestamp, track_commit_timestamp = on) minus the
# moment just before it was renamed into the inbox, read by the process that renames it right
# before its rename(2) (one process renames every file: with an `mv` per file, starting mv took
# 7-9 ms of every figure on the 2-core machine). The files wait beforehand in the inboxes under
# names the collectors ignore (.f-N.tmp), so nothing is copied during the measurement.
# HISTORY=N: the county has N cases (整改事项) of earlier years in its history, all closed, as a
# county has after some years; the response loop's clock (every 10 s) must not read them all
# while the batches wait.
# Prints p50, p99 and the worst, and the rate actually achieved. Asserts nothing.
#
# BIN_DIR's own checkout gives the rules (a baseline's binaries with its own rules), this one
# the sample county's schools and the measurement.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-$root/build/bin}
rate=${2:-10000}
seconds=${3:-20}
nschools=${4:-10}
mode=${5:-}
history=${6:-0}
. "$root/tests/lib/pg.sh"
. "$root/tests/lib/county.sh"
. "$root/tests/lib/check.sh"
src=$root
[ -f "$bin/../../deploy/rules.ini" ] && src=$(cd "$bin/../.." && pwd)
export EDU_SOURCE_DIR=$src EDU_NOW=2025-11-08T12:00:00+08:00
export EDU_PG_OPTIONS="${EDU_PG_OPTIONS:-} -c track_commit_timestamp=on"

work=$(mktemp -d /tmp/edu-bench-latency.XXXXXX)
chmod 755 "$work"
trap 'county_stop_all "$work/county" 2>/dev/null; pg_stop "$work/pg" >/dev/null 2>&1; rm -rf "$work"' EXIT
pg_start "$work/pg" "$(check_free_port)"
c=$work/county
county_init "$c" "$bin" "$root/deploy/sample/county-430405" latency "$(check_free_port)" >/dev/null
county_aggregator_start "$c"
schools=$(awk -F, 'NR > 1 { print $1 }' "$root/deploy/sample/county-430405/schools.csv" | head -"$nschools")
for code in $schools; do county_collector_start "$c" "$code"; done
sleep 1
per_file=$((rate / nschools))
# the files, made beforehand: second s of school x holds per_file records
for code in $schools; do
  mkdir -p "$c/schools/$code/inbox" # the collector makes it too, maybe not yet
  for s in $(seq 1 "$seconds"); do
    awk -v code="$code" -v n="$per_file" -v s="$s" 'BEGIN { print "school_code,indicator,period,value"
      for (i = 1; i <= n; i++) printf "%s,training_hours,%d-%d,%d\n", code, 2000 + i % 20,
        2001 + i % 20, (s * n + i) % 2000 }' >"$c/schools/$code/inbox/.f-$s.tmp"
  done
done
if [ "$history" -gt 0 ]; then
  county_sql "$c" "insert into edu.case_item (kind, subject, stage, indicator, period, case_type,
      opened_at)
    select 'threshold', '$(set -- $schools; echo "$1")', 'primary', 'history_' || i,
      (2000 + i % 20) || '-' || (2001 + i % 20), 'rectify', now() - interval '400 days'
    from generate_series(1, $history) i;
  insert into edu.case_log (case_id, at, actor, action, level)
    select id, opened_at, 'system', 'opened', 'red' from edu.case_item
    where indicator like 'history_%' order by id;
  insert into edu.case_log (case_id, at, actor, action)
    select id, opened_at + interval '30 days', 'bench', 'closed' from edu.case_item
    where indicator like 'history_%' order by id;
  analyze edu.case_item; analyze edu.case_log" >/dev/null
fi
if [ "$mode" = pull ]; then
  # 100 000 rows to pull, in approved years (the province sees approved years only)
  county_sql "$c" "insert into edu.county_aggregate (stage, indicator, period, schools, mean,
      min, max, cv, red, yellow, green)
    select 'primary', 'bench_' || (i % 5000), (1990 + i / 5000) || '-' || (1991 + i / 5000), 10,
      1, 0, 2, 0.1, 0, 0, 10 from generate_series(0, 99999) i" >/dev/null
  county_sql "$c" "insert into edu.period_log (period, at, actor, action)
    select distinct period, now(), 'bench', 'approved' from edu.county_aggregate" >/dev/null 2>&1 || true
  "$bin/edu-keygen" --out "$work/keys" province >/dev/null
  cp "$work/keys/province" "$c/keys/readers/province"
  createdb -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" province_bench
  cat >"$work/province.ini" <<INI
[province]
database = dbname=province_bench host=$PGHOST port=$PGPORT user=$PGUSER
timeout_ms = 60000
page_rows = 100000
[curve]
secret = $work/keys/province_secret
[county.$(county_sql "$c" "select value from edu.setting where key = 'county'")]
endpoint = tcp://127.0.0.1:$(($(cat "$c/port") + 2))
server = $c/keys/aggregator
INI
  (while :; do
     psql -X -qAt -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d province_bench \
       -c "delete from province.county_cursor" >/dev/null 2>&1 || true
     "$bin/edu-province" -c "$work/province.ini" pull --once >>"$work/pulls.log" 2>&1
     echo pulled >>"$work/pulls"
   done) &
  puller=$!
  trap 'kill $puller 2>/dev/null; county_stop_all "$work/county" 2>/dev/null; pg_stop "$work/pg" >/dev/null 2>&1; rm -rf "$work"' EXIT
  sleep 2
fi
# One process lands every file, evenly spaced (SCHOOLS files a second, one every 1/SCHOOLS s, the
# schools in turn): it renames each into its inbox at its time and writes the clock it read
# just before the rename(2) to $work/landed.
for s in $(seq 1 "$seconds"); do
  for code in $schools; do echo "$code f-$s.csv $c/schools/$code/inbox/.f-$s.tmp"; done
done >"$work/schedule"
start=$(date +%s.%N)
python3 -c 'import os, sys, time
every = 1.0 / int(sys.argv[1])
begin = time.time()
with open(sys.argv[2]) as schedule, open(sys.argv[3], "w") as landed:
    for i, line in enumerate(schedule):
        code, name, hidden = line.split()
        time.sleep(max(0.0, begin + i * every - time.time()))
        t = time.time()
        os.rename(hidden, os.path.join(os.path.dirname(hidden), name))
        landed.write("%s %s %.6f\n" % (code, name, t))' "$nschools" "$work/schedule" "$work/landed"
total=$((nschools * seconds * per_file))
county_wait_stored "$c" "$total" 300
end=$(date +%s.%N)
county_sql "$c" "select sender, source_file,
    extract(epoch from max(pg_xact_commit_timestamp(xmin)))
  from edu.observation_log group by 1, 2" | tr '|' ' ' | sort >"$work/committed"
join -o 1.2,2.2 <(awk '{ print $1 "/" $2, $3 }' "$work/landed" | sort) \
  <(awk '{ print $1 "/" $2, $3 }' "$work/committed" | sort) |
  awk '{ printf "%.3f\n", ($2 - $1) * 1000 }' | sort -n >"$work/latency"
n=$(wc -l <"$work/latency")
p() { awk -v q="$1" -v n="$n" 'NR == int((n - 1) * q) + 1 { print; exit }' "$work/latency"; }
echo "$n files of $per_file records from $nschools collectors over ${seconds}s:" \
  "$(awk -v t="$total" -v s="$start" -v e="$end" 'BEGIN { printf "%.0f", t / (e - s) }') records/s achieved (asked $rate)"
[ "$history" -gt 0 ] && echo "with $history closed cases in the county's history"
echo "latency from inbox to committed warnings: p50 $(p 0.5) ms, p99 $(p 0.99) ms, worst $(tail -1 "$work/latency") ms"
if [ "$mode" = pull ]; then
  kill $puller 2>/dev/null || true
  echo "meanwhile the province pulled 100 000 rows $(cat "$work/pulls" 2>/dev/null | wc -l) times"
fi
