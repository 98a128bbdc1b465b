#!/bin/bash
# hostile_key.sh - a school's valid key used against its county cannot hurt the county:
# periods nobody means, messages too big or too costly to decode, sequence numbers beyond
# bigint, forged log lines, a flood of batches, a flood of refusals, revocation on an open
# connection, a stray file among the keys, handshakes with random keys, and slow HTTP clients.
# Each time another school is still served.
#
#   hostile_key.sh BIN_DIR FIXTURE_DIR
set -u
bin=$1 fixture=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/county.sh"
. "$here/../lib/check.sh"

trap '' PIPE
export EDU_NOW=2025-11-08T12:00:00+08:00
work=$(mktemp -d /tmp/edu-hostile-key.XXXXXX)
slow=()
trap 'kill "${slow[@]}" 2>/dev/null; county_stop_all "$work"; check_keep_on_failure "$work"' EXIT
port=$(check_free_port 4) # the county's three and the HTTP port
county_init "$work" "$bin" "$fixture" "hostile_key_$$" "$port" || check_fail "county setup"
http=$((port + 3))
county_set "$work/aggregator.ini" aggregator 'max_batch_bytes = 65536' \
  'max_refusals_per_batch = 100' 'max_refusals_per_hour = 300' "http = 127.0.0.1:$http"
# a stray file among the schools' certificates locks nobody out
echo "the schools' public certificates go here" >"$work/keys/schools/README.txt"
county_aggregator_start "$work" || check_fail "aggregator start"
endpoint=tcp://127.0.0.1:$port
rogue() { # rogue SCHOOL MODE [COUNT] - prints the answers
  "$bin/rogue_school" "$endpoint" "$work/keys/aggregator" "$work/keys/secret/${1}_secret" "$@"
}
good=2143004052
county_collector_start "$work" "$good"
county_drop "$work" "$good" "$fixture/data-$good.csv"
stored=$(tr -d '\r' <"$fixture/data-$good.csv" | tail -n +2 | grep -c .)
county_wait_stored "$work" "$stored" 30
check_eq "$?" 0 "with README.txt among the certificates, a school's file is stored"
check_grep 'skipped 1 file\(s\) of the schools certificates' "$work/log/aggregator.log" \
  "the stray file is named in the log"
# serves GOOD again: a new file of the good school is stored
served() { # served WHAT
  local n=$1
  printf 'school_code,indicator,period,value\n%s,training_hours,2025-2026,%s\n' "$good" "$n" \
    >"$work/more-$n.csv"
  county_drop "$work" "$good" "$work/more-$n.csv"
  county_wait_stored "$work" $((stored + 1)) 30
  check_eq "$?" 0 "another school is still served ($2)"
  stored=$((stored + 1))
}

# 1. periods nobody means: refused, and nothing of them reaches warnings or aggregates
rogue 2143004053 far-periods 300 >"$work/far"
check_grep '^OK [0-9]+ 300 ' "$work/far" "300 records for 2100-2399: all 300 refused in the answer"
check_eq "$(county_sql "$work" "select count(*) from edu.observation where period >= '2027'")" 0 \
  "none stored as an observation"
check_eq "$(county_sql "$work" "select count(*) from edu.current_warning where period >= '2027'")" 0 \
  "no warning for those years"
check_eq "$(county_sql "$work" "select count(*) from edu.county_aggregate where period >= '2027'")" 0 \
  "no county aggregate for those years"
check_eq "$(county_sql "$work" "select count(*) from edu.rejected_record
  where reason = 'bad_period' and sender = '2143004053'")" 100 \
  "100 refusals stored one by one (max_refusals_per_batch), with the sender"
check_eq "$(county_sql "$work" "select sum(records) from edu.refusal_overflow
  where reason = 'bad_period' and sender = '2143004053'")" 200 "the other 200 counted"
stored=$(county_stored "$work")
served 91 "after far periods"

# 2. messages too big, too costly, or out of shape: each refused with a reason the school gets
rogue 2143004061 newline-spool >"$work/newline"
check_grep '^INVALID .*spool_id' "$work/newline" "a spool id with a newline is refused"
check_eq "$(grep -c '^2026-01-01T00:00:00Z error aggregator: forged' "$work/log/aggregator.log")" 0 \
  "and cannot forge a log line"
check_grep 'abcdef01\\n2026-01-01' "$work/log/aggregator.log" "the newline is logged escaped"
rogue 2143004061 oversize >"$work/oversize"
check_grep '^INVALID .*exceeds max_batch_bytes 65536' "$work/oversize" \
  "a batch just over max_batch_bytes is answered INVALID with the reason"
rogue 2143004061 empty-records 30000 >"$work/empty"
check_grep '^INVALID .*cannot decode a 60034-byte message within 2097152 bytes of memory' \
  "$work/empty" "30 000 empty records are refused when decoding them would pass the budget"
rogue 2143004061 huge-seq >"$work/seq"
check_grep '^INVALID .*seq 9223372036854775808, above the largest' "$work/seq" \
  "a sequence number of 2^63 is refused"
check_eq "$(county_sql "$work" "select count(*) from edu.spool_state where sender = '2143004061'")" 0 \
  "and none of them touched the database"
check_eq "$(grep -c 'refused a message from 2143004061' "$work/log/aggregator.log")" 1 \
  "four refused messages in a row make one log line (back-off)"
served 92 "after malformed batches"

# 3. a flood of batches from one key: memory stays bounded, the others are served
rss() { awk '/^VmRSS/ { print int($2 / 1024) }' "/proc/$(cat "$work/pids/aggregator")/status"; }
before=$(rss)
rogue 2143004055 flood 200 >"$work/flood" &
flood=$!
peak=$before
for i in $(seq 1 120); do
  now=$(rss)
  [ "$now" -gt "$peak" ] && peak=$now
  kill -0 $flood 2>/dev/null || break
  sleep 0.25
done
served 93 "during a flood of 200 batches of 60 KiB"
wait $flood
check_eq "$(grep -c '^OK' "$work/flood")" 200 "every flooded batch is answered in turn"
echo "# aggregator RSS ${before} MiB before the flood, ${peak} MiB at its peak"
# what it holds is the batches in flight (at most 10 000 records, in a group commit) and two
# queued per connection; with libzmq's default queue it grew by 18 MiB
check_eq "$([ $((peak - before)) -lt 14 ] && echo bounded)" bounded \
  "12 MB sent at once grew the aggregator by less than 14 MiB (${before} -> ${peak} MiB)"

# 4. a flood of refusals cannot fill the disk
rogue 2143004056 mismatch 10 >"$work/mismatch"
check_eq "$(grep -c '^OK [0-9]* 500 ' "$work/mismatch")" 10 \
  "10 batches of 500 records naming another school: each answered with its 500 refusals"
check_eq "$(county_sql "$work" "select count(*) from edu.rejected_record where sender = '2143004056'")" 300 \
  "300 stored one by one (max_refusals_per_hour)"
check_eq "$(county_sql "$work" "select count(*) from edu.rejected_record
  where sender = '2143004056' and school_code = '2143004059'")" 300 \
  "filed under the school they name, beside the sender"
check_eq "$(county_sql "$work" "select sum(records) from edu.refusal_overflow where sender = '2143004056'")" 4700 \
  "the other 4 700 counted"
check_grep 'edu_refusals_summarized_total\{reason="school_mismatch"\} 4700' \
  <(curl -s "http://127.0.0.1:$http/metrics") "the metrics show the count"

# 5. revocation takes effect on an open connection, and across SIGHUP
rogue 2143004062 steady 16 >"$work/steady" &
steady=$!
check_wait_for '^OK' "$work/steady" 10 || check_fail "the school to revoke was not served first"
mv "$work/keys/schools/2143004062" "$work/revoked-2143004062"
sleep 2
kill -HUP "$(cat "$work/pids/aggregator")"
wait $steady
check_grep '^UNAUTHORIZED .*revoked' "$work/steady" "a revoked key's batches are refused"
check_eq "$(tail -3 "$work/steady" | grep -c '^UNAUTHORIZED')" 3 "and stay refused after SIGHUP"
n_ok=$(grep -c '^OK' "$work/steady")
check_eq "$(county_sql "$work" "select count(*) from edu.observation_log where sender = '2143004062'")" "$n_ok" \
  "nothing stored after the revocation"
check_grep 'no longer among the schools.*revoked' "$work/log/aggregator.log" "the log says why"

# 6. handshakes with random keys: refused, reported with back-off
lines_before=$(grep -c 'refused key' "$work/log/aggregator.log")
rogue 2143004058 random-keys 500 >/dev/null
lines=$(($(grep -c 'refused key' "$work/log/aggregator.log") - lines_before))
check_eq "$([ "$lines" -le 5 ] && echo few)" few "500 handshakes with random keys make $lines log lines"
served 94 "after 500 random keys"

# 7. the HTTP port survives slow clients, and answers only for its own name
for i in $(seq 1 64); do
  (exec 3<>"/dev/tcp/127.0.0.1/$http" || exit 0
   printf 'GET /metrics HTTP/1.1\r\n' >&3
   for j in $(seq 1 6); do sleep 5; printf 'X-Slow: %d\r\n' "$j" >&3 || exit 0; done) 2>/dev/null &
  slow+=($!)
done
sleep 1
code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' --interface 127.0.0.2 "http://127.0.0.1:$http/metrics")
check_eq "$code" 200 "with 64 slow connections open from one address, another address is answered"
code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' --interface 127.0.0.3 -H 'Host: evil.example' \
  "http://127.0.0.1:$http/metrics")
check_eq "$code" 421 "a request for another host name is refused"
kill "${slow[@]}" 2>/dev/null
"$bin/edu-aggregator" -c "$work/aggregator.ini" --check >/dev/null 2>"$work/check-readme"
check_grep 'are no public certificate of a peer.*README.txt' "$work/check-readme" \
  "--check names the stray file among the certificates"
rm "$work/keys/schools/README.txt"
"$bin/edu-aggregator" -c "$work/aggregator.ini" --check >/dev/null 2>"$work/check-loopback"
check_eq "$(grep -c warning "$work/check-loopback")" 0 "--check is quiet about a loopback http"
sed -i "s/^http = 127.0.0.1:/http = 0.0.0.0:/" "$work/aggregator.ini"
"$bin/edu-aggregator" -c "$work/aggregator.ini" --check >/dev/null 2>"$work/check-open"
check_grep 'warning: .*behind a proxy with authentication' "$work/check-open" \
  "--check warns when http is open beyond the machine"

check_eq "$(kill -0 "$(cat "$work/pids/aggregator")" 2>/dev/null && echo alive)" alive \
  "the aggregator is still running"
county_stop_all "$work"
check_logs_clean "$work"
check_done
