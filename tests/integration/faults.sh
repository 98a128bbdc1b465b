#!/bin/bash
# faults.sh - exactly once across crashes: the aggregator is killed with SIGKILL several times,
# one collector once, and PostgreSQL is crashed and restarted once, while four collectors
# stream tens of thousands of records; afterwards every record is stored exactly once
#
# The test runs its own PostgreSQL cluster (it crashes it), on a free port under its work dir.
#
#   faults.sh BIN_DIR FIXTURE_DIR
set -u
bin=$1 fixture=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/pg.sh"
. "$here/../lib/county.sh"
. "$here/../lib/check.sh"

parts=6                                 # files per school, one dropped each round
per_school=${EDU_FAULT_RECORDS:-30000} # records per school
work=$(mktemp -d /tmp/edu-faults.XXXXXX)
chmod 755 "$work"
trap 'county_stop_all "$work"; pg_crash "$work/pg" >/dev/null 2>&1; check_keep_on_failure "$work"' EXIT
pg_start "$work/pg" "$(check_free_port)" || check_fail "start PostgreSQL"
port=$(check_free_port)
# small batches and a short acknowledgement timeout, so that each crash lands mid-stream
export EDU_BATCH_RECORDS=200 EDU_WINDOW_RECORDS=1000 EDU_ACK_TIMEOUT_MS=1000 EDU_MAX_BACKOFF_MS=500
county_init "$work" "$bin" "$fixture" faults "$port" || check_fail "county setup"
schools=$(awk -F, 'NR > 1 { print $1 }' "$fixture/schools.csv" | head -4)

# Every 97th record is out of range (refused), the rest accepted; values tell records apart.
for code in $schools; do
  for part in $(seq 1 $parts); do
    awk -v code="$code" -v n=$((per_school / parts)) -v part=$part 'BEGIN {
      print "school_code,indicator,period,value"
      for (i = 1; i <= n; i++)
        printf "%s,training_hours,2025-2026,%s\n", code, (i % 97 == 0) ? 9999 : (part * n + i) % 2000
    }' >"$work/load-$code-$part.csv"
  done
done
total=$(( $(echo "$schools" | wc -l) * per_school ))
refused=$(( $(echo "$schools" | wc -l) * parts * (per_school / parts / 97) ))

county_aggregator_start "$work" || check_fail "aggregator start"
for code in $schools; do
  county_collector_start "$work" "$code"
done

# Each round drops one more file per school and SIGKILLs the aggregator at an uneven moment
# while they stream. In round 2 PostgreSQL crashes too, and the aggregator is started while
# it is down; in round 3 one collector is SIGKILLed as well.
kills=0
midstream=0
for round in $(seq 1 5); do
  for code in $schools; do
    county_drop "$work" "$code" "$work/load-$code-$round.csv"
  done
  sleep "0.$((RANDOM % 4 + 1))"
  before=$(county_stored "$work")
  county_stop "$work" aggregator KILL && kills=$((kills + 1))
  [ "$before" -lt $((round * total / parts)) ] && midstream=$((midstream + 1))
  echo "# round $round: SIGKILL aggregator with $before of $((round * total / parts)) dropped records stored"
  if [ $round = 2 ]; then
    pg_crash "$work/pg" || check_fail "crash PostgreSQL"
    echo "# PostgreSQL crashed (immediate stop); the aggregator starts without it"
    mv "$work/log/aggregator.log" "$work/log/aggregator.log.$round"
    "$bin/edu-aggregator" -c "$work/aggregator.ini" >>"$work/log/aggregator.log" 2>&1 &
    echo $! >"$work/pids/aggregator"
    sleep 1.5
    pg_restart "$work/pg" || check_fail "restart PostgreSQL"
    echo "# PostgreSQL restarted"
    county_wait_listening "$work" || check_fail "aggregator waits for its database"
    continue
  fi
  if [ $round = 3 ]; then
    victim=$(echo "$schools" | head -1)
    county_stop "$work" "collector-$victim" KILL
    echo "# SIGKILL collector $victim"
    county_collector_start "$work" "$victim"
  fi
  county_aggregator_restart "$work" || check_fail "aggregator restart $round"
done
for code in $schools; do
  county_drop "$work" "$code" "$work/load-$code-$parts.csv"
done
check_ne "$midstream" 0 "at least one SIGKILL landed while records were streaming ($midstream of 5)"
check_eq "$kills" 5 "the aggregator was killed five times"

county_wait_stored "$work" "$total" 240 || check_fail "not every record stored"
sleep 2 # anything resent late would show up now
check_eq "$(county_stored "$work")" "$total" "every record stored once ($total)"
check_eq "$(county_sql "$work" "select count(*) from edu.rejected_record")" "$refused" \
  "every out-of-range record refused once"
check_eq "$(county_sql "$work" "select count(*) - count(distinct (spool_id, seq)) from
  (select spool_id, seq from edu.observation_log union all
   select spool_id, seq from edu.rejected_log) s")" 0 "no spool position stored twice"
for code in $schools; do
  check_eq "$(county_sql "$work" "select count(*) || ' ' || max(seq) from
    (select seq from edu.observation_log where sender = '$code' union all
     select seq from edu.rejected_log where sender = '$code') s")" "$per_school $per_school" \
    "school $code: positions 1..$per_school each stored once"
done
for code in $schools; do
  check_grep "every spooled record is acknowledged \\(mark $per_school\\)" \
    "$work/log/collector-$code.log" "school $code: its spool is fully acknowledged"
done
county_stop_all "$work"
check_logs_clean "$work"
check_done
