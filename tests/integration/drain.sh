#!/bin/bash
# drain.sh - SIGTERM drains: a collector stopped while it takes and streams a large file, and
# the aggregator stopped with batches in flight, both exit cleanly (status 0), and after a
# restart every record is stored exactly once
#
#   drain.sh BIN_DIR FIXTURE_DIR
set -u
bin=$1 fixture=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/county.sh"
. "$here/../lib/check.sh"

county_test drain
schools=$(awk -F, 'NR > 1 { print $1 }' "$fixture/schools.csv" | head -2)
per=60000
for code in $schools; do
  awk -v code="$code" -v n=$per 'BEGIN { print "school_code,indicator,period,value"
    for (i = 1; i <= n; i++) printf "%s,training_hours,2025-2026,%d\n", code, i % 2000 }' \
    >"$work/big-$code.csv"
done
county_aggregator_start "$work" || check_fail "aggregator start"
for code in $schools; do county_collector_start "$work" "$code"; done
for code in $schools; do county_drop "$work" "$code" "$work/big-$code.csv"; done

# stop (SIGTERM) one collector and the aggregator while the records stream
first=$(echo "$schools" | head -1)
sleep 0.3
term() { # term NAME - SIGTERM, then its exit status in $status (this shell started it)
  local pid
  pid=$(cat "$work/pids/$1")
  kill -TERM "$pid"
  wait "$pid"
  status=$?
  rm -f "$work/pids/$1"
}
stored_before=$(county_stored "$work")
term "collector-$first"
check_eq "$status" 0 "a collector stopped by SIGTERM mid-stream exits cleanly"
term aggregator
check_eq "$status" 0 "the aggregator stopped by SIGTERM with batches in flight exits cleanly"
echo "# stopped with $stored_before of $((2 * per)) records stored"
check_grep "stopping; [0-9]+ records wait in the spool" "$work/log/collector-$first.log" \
  "the collector says what waits in its spool"
check_grep "stopping after [0-9]+ batches" "$work/log/aggregator.log" "the aggregator says it stops"
check_ne "$stored_before" $((2 * per)) "the stops landed mid-stream"

county_aggregator_restart "$work" || check_fail "aggregator restart"
county_collector_start "$work" "$first"
county_wait_stored "$work" $((2 * per)) 120 || check_fail "not every record stored"
sleep 1
check_eq "$(county_stored "$work")" $((2 * per)) "every record stored once after the restarts"
check_eq "$(county_sql "$work" "select count(*) - count(distinct (sender, spool_id, seq))
  from edu.observation_log")" 0 "no spool position stored twice"
check_eq "$(find "$work/schools/$first/inbox/done" -type f | wc -l)" 1 "the file was taken once"

county_stop_all "$work"
check_logs_clean "$work"
check_done
