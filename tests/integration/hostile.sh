#!/bin/bash
# hostile.sh - what comes over the wire that should not: a client without CURVE, a key that is
# not registered, garbage bytes on every port, thousands of connections opened and dropped, a
# message over the size limit. The aggregator keeps serving the registered school and stores
# nothing else.
#
#   hostile.sh BIN_DIR FIXTURE_DIR
set -u
bin=$1 fixture=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/county.sh"
. "$here/../lib/check.sh"

trap '' PIPE # writing to a socket the aggregator has closed must not end this script
county_test hostile 4
http=$((port + 3))
sed -i "s/^\[aggregator\]$/[aggregator]\nmax_batch_bytes = 65536\nhttp = 127.0.0.1:$http/" "$work/aggregator.ini"
county_aggregator_start "$work" || check_fail "aggregator start"
good=2143004052
county_collector_start "$work" "$good"
county_drop "$work" "$good" "$fixture/data-$good.csv"
good_rows=$(tr -d '\r' <"$fixture/data-$good.csv" | tail -n +2 | grep -c .)
county_wait_stored "$work" "$good_rows" 30 || check_fail "the registered school's file"

# a client without CURVE
nocurve=2143004053
sed -i 's/^\[curve\]$/[curve]\nenabled = false/' "$work/schools/$nocurve/collector.ini"
county_collector_start "$work" "$nocurve"
county_drop "$work" "$nocurve" "$fixture/data-$nocurve.csv"
# a key that is not among the clients
stranger=2143004055
"$bin/edu-keygen" --out "$work/keys/stranger" "$stranger" >/dev/null
sed -i "s|^secret = .*|secret = $work/keys/stranger/${stranger}_secret|" "$work/schools/$stranger/collector.ini"
county_collector_start "$work" "$stranger"
county_drop "$work" "$stranger" "$fixture/data-$stranger.csv"
# a registered school whose batches are over the size limit
big=2143004056
sed -i 's/^batch_records = .*/batch_records = 5000/' "$work/schools/$big/collector.ini"
awk -v code=$big 'BEGIN { print "school_code,indicator,period,value"
  for (i = 0; i < 5000; i++) printf "%s,training_hours,2025-2026,%d\n", code, i % 2000 }' \
  >"$work/big.csv"
county_collector_start "$work" "$big"
county_drop "$work" "$big" "$work/big.csv"

# garbage on every port, and thousands of connections opened and dropped
for p in "$port" $((port + 1)) $((port + 2)) "$http"; do
  for i in 1 2 3; do
    (exec 3<>"/dev/tcp/127.0.0.1/$p" && head -c 200000 /dev/urandom >&3; exec 3>&-) 2>/dev/null
  done
  (printf 'GET / HTTP/1.1\r\n\r\n\xff\xfe\x00garbage' >"/dev/tcp/127.0.0.1/$p") 2>/dev/null
done
# (each opened and closed by a builtin's redirection: a subshell each was 2 000 forks, 13 s of CPU)
for i in $(seq 1 2000); do
  true 2>/dev/null 3<>"/dev/tcp/127.0.0.1/$port"
done
sleep 3 # the hostile collectors have had time to try, and try again

check_eq "$(kill -0 "$(cat "$work/pids/aggregator")" 2>/dev/null && echo alive)" alive \
  "the aggregator is still running"
check_eq "$(county_sql "$work" "select count(*) from edu.observation where school_code <> '$good'")" 0 \
  "nothing stored from the client without CURVE, the stranger's key or the oversize batches"
check_eq "$(county_sql "$work" "select count(*) from edu.rejected_record")" 0 "and nothing refused"
check_grep 'refused key .* on "schools"' "$work/log/aggregator.log" "the gate refused the stranger's key"
check_grep 'no answer from the county in time|connection to the county lost' "$work/log/collector-$big.log" \
  "the oversize batches were sent and dropped, not answered"

# and it still serves the registered school
stored=$(county_stored "$work")
printf 'school_code,indicator,period,value\n%s,training_hours,2025-2026,90\n' "$good" >"$work/more.csv"
county_drop "$work" "$good" "$work/more.csv"
county_wait_stored "$work" $((stored + 1)) 30
check_eq "$?" 0 "after all that, the registered school's next file is stored"
check_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$http/metrics")" 200 \
  "the metrics port still answers"

county_stop_all "$work"
check_logs_clean "$work"
check_done
