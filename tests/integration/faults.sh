#!/bin/bash
# faults.sh - exactly once across crashes: collectors stream records while the aggregator is
# SIGKILLed again and again, PostgreSQL crashes (immediate stop) and restarts, collectors are
# SIGKILLed, the network between collectors and aggregator is cut, and one collector's spool
# disk fills up; afterwards every record is stored exactly once and every alert was delivered
# at least once
#
# The test runs its own PostgreSQL cluster (it crashes it), on a free port under its work dir.
# The collectors reach the aggregator through a TCP forwarder (tests/lib/proxy.py); the cut
# stops it. The disk that fills is a small tmpfs (as root; otherwise that part is skipped and
# says so). The short version runs in tests/run.sh; tests/faults.sh runs the long one:
#
#   EDU_FAULT_SCHOOLS    collectors (default 4)
#   EDU_FAULT_RECORDS    records per collector (default 30000)
#   EDU_FAULT_ROUNDS     aggregator SIGKILLs, one per round (default 5)
#   EDU_FAULT_PG_ROUNDS  rounds in which PostgreSQL crashes too (default "2")
#   EDU_FAULT_CUT_S      seconds the network stays cut, in round 4 (default 3)
#
#   faults.sh BIN_DIR FIXTURE_DIR
set -u
bin=$1 fixture=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/pg.sh"
. "$here/../lib/county.sh"
. "$here/../lib/check.sh"

nschools=${EDU_FAULT_SCHOOLS:-4}
per_school=${EDU_FAULT_RECORDS:-30000}
rounds=${EDU_FAULT_ROUNDS:-5}
pg_rounds=" ${EDU_FAULT_PG_ROUNDS:-2} "
cut_s=${EDU_FAULT_CUT_S:-3}
parts=$((rounds + 1)) # files per school: one dropped each round, the last after the rounds
work=$(mktemp -d /tmp/edu-faults.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  county_stop_all "$work"
  kill "${pids[@]}" 2>/dev/null
  pg_crash "$work/pg" >/dev/null 2>&1
  mountpoint -q "$work/disk" 2>/dev/null && umount "$work/disk"
  check_keep_on_failure "$work"
}
trap cleanup EXIT
pg_start "$work/pg" "$(check_free_port)" || check_fail "start PostgreSQL"
port=$(check_free_port)
# small batches and a short acknowledgement timeout, so that each crash lands mid-stream
export EDU_BATCH_RECORDS=200 EDU_WINDOW_RECORDS=1000 EDU_ACK_TIMEOUT_MS=1000 EDU_MAX_BACKOFF_MS=500
county_init "$work" "$bin" "$fixture" faults "$port" || check_fail "county setup"
schools=$(awk -F, 'NR > 1 { print $1 }' "$fixture/schools.csv" | head -"$nschools")

# alerts go to a JSON webhook (every alert, at least once)
python3 "$here/../lib/sinks.py" http 0 "$work/hook.jsonl" >"$work/log/hook.ready" 2>"$work/log/hook.log" &
pids+=($!)
check_wait_for ready "$work/log/hook.ready" 5 || check_fail "the webhook sink did not start"
printf '[webhook.json]\nurl = http://127.0.0.1:%s/hook\nformat = json\n' \
  "$(awk '{ print $2 }' "$work/log/hook.ready")" >>"$work/aggregator.ini"

# the collectors reach the aggregator through the forwarder
proxy=$(check_free_port)
while [ "$proxy" -ge "$port" ] && [ "$proxy" -le $((port + 2)) ]; do proxy=$(check_free_port); done
start_proxy() {
  python3 "$here/../lib/proxy.py" "$proxy" "$port" >"$work/log/proxy.ready" 2>>"$work/log/proxy.log" &
  echo $! >"$work/proxy.pid"
  check_wait_for ready "$work/log/proxy.ready" 5 || check_fail "the forwarder did not start"
}
start_proxy
for code in $schools; do
  sed -i "s|^endpoint = .*|endpoint = tcp://127.0.0.1:$proxy|" "$work/schools/$code/collector.ini"
done

# one school's spool lives on a small disk that fills up
full=$(echo "$schools" | tail -1)
disk=skipped
if [ "$(id -u)" = 0 ] && mkdir -p "$work/disk" && mount -t tmpfs -o size=256k tmpfs "$work/disk" 2>/dev/null; then
  disk=mounted
  sed -i "s|^spool = .*|spool = $work/disk/spool|" "$work/schools/$full/collector.ini"
else
  echo "# the disk-full part is skipped: mounting a tmpfs needs root"
fi

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
per_school=$((per_school / parts * parts))
total=$((nschools * per_school))
refused=$((nschools * parts * (per_school / parts / 97)))

county_aggregator_start "$work" || check_fail "aggregator start"
for code in $schools; do
  county_collector_start "$work" "$code"
done

# Each round drops one more file per school and SIGKILLs the aggregator at an uneven moment
# while they stream; some rounds crash PostgreSQL too (and start the aggregator while it is
# down), kill a collector, or cut the network.
kills=0
midstream=0
for round in $(seq 1 "$rounds"); do
  for code in $schools; do
    county_drop "$work" "$code" "$work/load-$code-$round.csv"
  done
  sleep "0.$((RANDOM % 4 + 1))"
  before=$(county_stored "$work")
  county_stop "$work" aggregator KILL && kills=$((kills + 1))
  [ "$before" -lt $((round * total / parts)) ] && midstream=$((midstream + 1))
  echo "# round $round: SIGKILL aggregator with $before of $((round * total / parts)) dropped records stored"
  if [ "${pg_rounds#* $round }" != "$pg_rounds" ]; then
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
  if [ $((round % 4)) = 3 ]; then
    victim=$(echo "$schools" | sed -n "$(( (round / 4) % nschools + 1 ))p")
    county_stop "$work" "collector-$victim" KILL
    echo "# SIGKILL collector $victim"
    county_collector_start "$work" "$victim"
  fi
  if [ "$round" = 4 ]; then
    kill "$(cat "$work/proxy.pid")"
    echo "# network cut for ${cut_s}s"
    county_aggregator_restart "$work" || check_fail "aggregator restart $round"
    sleep "$cut_s"
    cut_stored=$(county_stored "$work")
    sleep 1
    check_eq "$(county_stored "$work")" "$cut_stored" "nothing arrives while the network is cut"
    start_proxy
    echo "# network back"
    continue
  fi
  county_aggregator_restart "$work" || check_fail "aggregator restart $round"
done
for code in $schools; do
  county_drop "$work" "$code" "$work/load-$code-$parts.csv"
done
check_ne "$midstream" 0 "at least one SIGKILL landed while records were streaming ($midstream of $rounds)"
check_eq "$kills" "$rounds" "the aggregator was killed $rounds times"

if [ "$disk" = mounted ]; then
  check_wait_for "could not spool" "$work/log/collector-$full.log"
  check_grep "could not spool .* it stays in the inbox" "$work/log/collector-$full.log" \
    "the full disk stops school $full taking files, which wait in its inbox"
  mount -o remount,size=64m "$work/disk" || check_fail "grow the disk"
  echo "# school $full's disk grown"
fi

county_wait_stored "$work" "$total" 600 || check_fail "not every record stored"
sleep 2 # anything resent late would show up now
check_eq "$(county_stored "$work")" "$total" "every record stored once ($total)"
check_eq "$(county_sql "$work" "select count(*) from edu.rejected_record")" "$refused" \
  "every out-of-range record refused once"
check_eq "$(county_sql "$work" "select count(*) - count(distinct (spool_id, seq)) from
  (select spool_id, seq from edu.observation_log union all
   select spool_id, seq from edu.rejected_log) s")" 0 "no spool position stored twice"
bad=0
for code in $schools; do
  [ "$(county_sql "$work" "select count(*) || ' ' || max(seq) from
    (select seq from edu.observation_log where sender = '$code' union all
     select seq from edu.rejected_log where sender = '$code') s")" = "$per_school $per_school" ] ||
    { bad=$((bad + 1)); echo "    school $code: positions not 1..$per_school once each" >&2; }
done
check_eq "$bad" 0 "every school's positions 1..$per_school stored once each"
for code in $schools; do
  check_wait_for "every spooled record is acknowledged \(mark $per_school\)" \
    "$work/log/collector-$code.log"
done
check_eq "$(grep -l "every spooled record is acknowledged (mark $per_school)" \
  $(for code in $schools; do echo "$work/log/collector-$code.log"; done) | wc -l)" "$nschools" \
  "every school's spool is fully acknowledged"

# every alert delivered at least once
county_sql "$work" "select county || '-' || id from edu.alert where audience <> 'people'" | sort >"$work/alerts-want"
for i in $(seq 1 300); do
  grep -o '"alert_id" : "[0-9-]*"' "$work/hook.jsonl" 2>/dev/null | grep -o '[0-9]*-[0-9]*' |
    sort -u >"$work/alerts-got"
  [ -z "$(comm -23 "$work/alerts-want" "$work/alerts-got")" ] && break
  sleep 0.2
done
check_eq "$(comm -23 "$work/alerts-want" "$work/alerts-got" | wc -l)" 0 \
  "every alert ($(wc -l <"$work/alerts-want")) reached the webhook at least once"

county_stop_all "$work"
check_logs_clean "$work"
check_done
