#!/bin/bash
# collector_skip.sh - what the county sees when a collector skips a record
#
# A collector skips a record the county refuses as malformed again and again (batch_refused)
# by acknowledging it in its own spool: the next batch starts after it and its `floor` says the
# record is no longer held. The sender's unit test (test_sender) drives the skip itself against
# a fake county; this test shows the real aggregator's side of it. Ten records are spooled
# while the county is down, the spool's mark is then moved past the first one as a skip moves
# it, and the county is started: it must log the record as lost at the school, store the nine
# others once, answer OK (no GAP loop), and the collector must end with nothing pending.
#
#   collector_skip.sh BIN_DIR FIXTURE_DIR
set -u
bin=$1 fixture=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/county.sh"
. "$here/../lib/check.sh"

work=$(mktemp -d /tmp/edu-cskip.XXXXXX)
trap 'county_stop_all "$work"; check_keep_on_failure "$work"' EXIT
port=$(check_free_port)
county_init "$work" "$bin" "$fixture" "cskip_$$" "$port" || check_fail "county setup"

a=2143004052
county_collector_start "$work" "$a"
awk -v code=$a 'BEGIN { print "school_code,indicator,period,value"
  for (i = 1; i <= 10; i++) printf "%s,training_hours,%d-%d,%d\n", code, 2015 + i, 2016 + i, i }' \
  >"$work/ten.csv"
county_drop "$work" "$a" "$work/ten.csv"
check_wait_for 'took "ten.csv": 10 records' "$work/log/collector-$a.log" 10 || check_fail "spooled"
county_stop "$work" "collector-$a"
# the mark as a skip of record 1 leaves it (spool_ack(1) without the county)
echo 1 >"$work/schools/$a/spool/acked"

county_aggregator_start "$work" || check_fail "aggregator start"
county_collector_start "$work" "$a"
county_wait_stored "$work" 9 30 || check_fail "the nine records after the skip"
check_grep "school $a spool [0-9a-f]+ declares records 1\.\.1 lost \(quarantined at the school\)" \
  "$work/log/aggregator.log" "the county logs the skipped record as lost at the school"
check_eq "$(county_sql "$work" "select string_agg(value::text, ',' order by value)
  from edu.observation where school_code = '$a'")" "2,3,4,5,6,7,8,9,10" "the nine others stored once"
check_eq "$(county_sql "$work" "select hwm from edu.spool_state")" 10 "the county's mark is past them"
check_wait_for "every spooled record is acknowledged \(mark 10\)" "$work/log/collector-$a.log" 10
check_eq "$?" 0 "the collector has nothing pending"
check_no_grep "county asks to resend" "$work/log/collector-$a.log" "no GAP: the floor says record 1 is gone"

county_stop_all "$work"
check_logs_clean "$work"
check_done
