#!/bin/bash
# collector_status.sh - the school is told when the county does not answer
#
#   - a collector whose county is not running (connection refused: a wrong port looks the
#     same): after stall_s, inbox/状态.txt says in Chinese that the county does not answer, why
#     that usually is and whom to call; the log says it once, at warning level; the metrics show
#     the stall and no acknowledgement; the file is in done/ (safe in the spool) but not in
#     delivered/;
#   - a collector whose key the county does not know: 状态.txt says the county refused the key;
#   - once the county runs, the first collector's records are stored, the log says the county
#     acknowledges again, 状态.txt no longer warns, the file is in delivered/ and the metrics
#     show when the county acknowledged.
#
#   collector_status.sh BIN_DIR FIXTURE_DIR
set -u
bin=$1 fixture=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/county.sh"
. "$here/../lib/check.sh"

work=$(mktemp -d /tmp/edu-cstatus.XXXXXX)
trap 'county_stop_all "$work"; check_keep_on_failure "$work"' EXIT
port=$(check_free_port 4) # the county's three and the collector's metrics
metrics=$((port + 3))
county_init "$work" "$bin" "$fixture" "cstatus_$$" "$port" || check_fail "county setup"

w=2143004052
inbox_w="$work/schools/$w/inbox"
county_set "$work/schools/$w/collector.ini" collector 'stall_s = 10' \
  'contact = 县电教馆 王老师 0731-12345678' "metrics = 127.0.0.1:$metrics"
county_collector_start "$work" "$w"
printf 'school_code,indicator,period,value\n%s,training_hours,2025-2026,80\n' "$w" >"$work/w.csv"
county_drop "$work" "$w" "$work/w.csv"

# a key the county does not know
k=2143004053
"$bin/edu-keygen" --out "$work/keys/stranger" "$k" >/dev/null
county_set "$work/schools/$k/collector.ini" curve "secret = $work/keys/stranger/${k}_secret"
county_set "$work/schools/$k/collector.ini" collector 'stall_s = 10'
county_collector_start "$work" "$k"
printf 'school_code,indicator,period,value\n%s,training_hours,2025-2026,81\n' "$k" >"$work/k.csv"
county_drop "$work" "$k" "$work/k.csv"

check_wait_for "【请注意】" "$inbox_w/状态.txt" 40 || check_fail "no stall in 状态.txt"
status="$inbox_w/状态.txt"
check_eq "$(head -c 3 "$status" | od -An -tx1 | tr -d ' ')" efbbbf "状态.txt is UTF-8 with a BOM"
check_grep "县级平台已经 [0-9]+ 秒没有确认收到数据，有 1 条记录在等待发送" "$status" \
  "状态.txt: the county has not answered, a record waits"
check_grep "本机连不上县级平台（tcp://127.0.0.1:$port）" "$status" "状态.txt: the cause, as the link says it"
check_grep "网络不通；本机配置的县级平台地址（endpoint）不对；或本校的密钥还没有在县教育局登记" "$status" \
  "状态.txt: what that usually means"
check_grep "请联系县电教馆 王老师 0731-12345678" "$status" "状态.txt: whom to call"
check_grep "还没有收到过县级平台的确认" "$status" "状态.txt: no acknowledgement ever"
check_grep "等待发送的记录：1 条，最早的从 .* 起等待" "$status" "状态.txt: what waits, since when"
check_grep "w.csv：1 条记录，已安全保存在本机，等待县级平台确认" "$status" "状态.txt: the file is safe, not delivered"
check_grep "warn +collector: the county at .* has acknowledged nothing for [0-9]+ s while 1 records wait" \
  "$work/log/collector-$w.log" "the log says it at warning level"
m=$(curl -s "http://127.0.0.1:$metrics/metrics")
check_eq "$(echo "$m" | grep '^edu_collector_county_last_ack_timestamp_seconds ')" \
  "edu_collector_county_last_ack_timestamp_seconds 0" "metrics: no acknowledgement"
check_eq "$(echo "$m" | grep '^edu_collector_county_stalled ')" "edu_collector_county_stalled 1" \
  "metrics: the stall"
check_eq "$(ls "$inbox_w/done")" w.csv "done/: safe in the spool"
check_eq "$(ls "$inbox_w/delivered")" "" "delivered/: nothing yet"

# the county starts; the stranger's key is refused
county_aggregator_start "$work" || check_fail "aggregator start"
county_wait_stored "$work" 1 30 || check_fail "the first school's record"
check_wait_for "acknowledges again after a silence" "$work/log/collector-$w.log" 10
check_eq "$?" 0 "the log says the county acknowledges again"
check_eq "$(grep -c 'has acknowledged nothing' "$work/log/collector-$w.log")" 1 \
  "the stall was logged once"
for i in $(seq 1 50); do [ -e "$inbox_w/delivered/w.csv" ] && break; sleep 0.1; done
check_eq "$(ls "$inbox_w/delivered")" w.csv "delivered/: the county has the file"
check_wait_for "w.csv：1 条记录，已全部送达县级平台" "$status" 10
check_eq "$?" 0 "状态.txt: the file is delivered"
check_no_grep "【请注意】" "$status" "状态.txt no longer warns"
m=$(curl -s "http://127.0.0.1:$metrics/metrics")
check_eq "$(echo "$m" | grep -c '^edu_collector_county_last_ack_timestamp_seconds 1[0-9]\{9\}')" 1 \
  "metrics: when the county acknowledged"
check_eq "$(echo "$m" | grep '^edu_collector_county_stalled ')" "edu_collector_county_stalled 0" \
  "metrics: no stall"

status_k="$work/schools/$k/inbox/状态.txt"
check_wait_for "拒绝了本校的密钥" "$status_k" 40
check_eq "$?" 0 "状态.txt of the stranger: the county refused the key"
check_grep "【请注意】" "$status_k" "and it does not answer"
check_grep "refused this school's key" "$work/log/collector-$k.log" "its log says which key trouble"
check_eq "$(county_sql "$work" "select count(*) from edu.observation where school_code = '$k'")" 0 \
  "nothing stored from the stranger"

county_stop_all "$work"
check_logs_clean "$work"
check_done
