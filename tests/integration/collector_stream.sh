#!/bin/bash
# collector_stream.sh - a big file is taken as a stream, exactly once across kill -9
#
# Against a real aggregator and PostgreSQL, through a real collector:
#   1. a file of 100 000 rows (UTF-8 with BOM, CRLF, a note column with Chinese and some
#      multi-line quoted notes) is dropped, and the collector is SIGKILLed in the middle of the
#      take: records appended to the spool (more than 2 MB of its segment written), not
#      committed. Nothing of the file reached the county; it is still in .taking/. Restarted,
#      the collector takes it again; the county holds each of the 100 000 records once;
#   2. a GB18030 file of 20 000 rows with multi-line quoted notes and a few bad rows: every
#      good row arrives once, the bad ones are in errors.csv in row order, on the lines a person
#      sees;
#   3. with the county stopped, a fresh collector takes a 200 000-row file (10 MB): its memory
#      grows by much less than the file (checked without AddressSanitizer, whose quarantine
#      keeps freed memory).
#
#   collector_stream.sh BIN_DIR FIXTURE_DIR
set -u
bin=$1 fixture=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/county.sh"
. "$here/../lib/check.sh"

work=$(mktemp -d /tmp/edu-cstream.XXXXXX)
killer=
trap '[ -n "$killer" ] && kill "$killer" 2>/dev/null; county_stop_all "$work"; check_keep_on_failure "$work"' EXIT
port=$(check_free_port)
county_init "$work" "$bin" "$fixture" "cstream_$$" "$port" || check_fail "county setup"
county_aggregator_start "$work" || check_fail "aggregator start"

a=2143004052
inbox="$work/schools/$a/inbox"
spool="$work/schools/$a/spool"
sql() { county_sql "$work" "$1"; }

# 1. 100 000 rows, SIGKILL in the middle of the take
awk -v code=$a 'BEGIN {
  split("bachelor_teacher_pct backbone_rotation_pct fitness_pass_pct exam_excellent_pct myopia_pct psych_teacher_pct inquiry_learning_pct parent_satisfaction_pct", ind, " ")
  printf "\xef\xbb\xbfschool_code,indicator,period,value,备注\r\n"
  for (i = 1; i <= 100000; i++) {
    y = 2015 + i % 10
    note = i % 997 ? "第" i "行" : "\"多行备注，\r\n含逗号和\"\"引号\"\"\""
    printf "%s,%s,%d-%d,%.3f,%s\r\n", code, ind[i % 8 + 1], y, y + 1, i / 1000, note
  }
}' >"$work/big.csv"
county_collector_start "$work" "$a"
check_wait_for "sending to" "$work/log/collector-$a.log" 10 || check_fail "collector start"
pid=$(cat "$work/pids/collector-$a")
# polls the live segment's size without sleeping, and SIGKILLs the collector once more than
# 2 MB of records are in it: a quarter of the file's records, written, not committed
python3 - "$spool/seg-00000000000000000001.log" "$pid" $((2 << 20)) "$work/killer.ready" \
  >"$work/killer.out" <<'EOF' &
import os, signal, sys, time
seg, pid, threshold, ready = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
open(ready, "w").close()
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        size = os.stat(seg).st_size
    except FileNotFoundError:
        continue
    if size > threshold:
        os.kill(pid, signal.SIGKILL)
        print(size)
        sys.exit(0)
sys.exit(1)
EOF
killer=$!
for i in $(seq 1 100); do [ -e "$work/killer.ready" ] && break; sleep 0.05; done
county_drop "$work" "$a" "$work/big.csv"
wait $killer
check_eq "$?" 0 "the collector was SIGKILLed while it spooled the file ($(cat "$work/killer.out") bytes in the segment)"
killer=
county_stop "$work" "collector-$a" KILL
check_eq "$(ls "$inbox/.taking" | wc -l)" 1 "killed in the take: the file is in .taking/"
check_eq "$(ls "$inbox/done" | wc -l)" 0 "and not in done/"
if grep -q 'took "big.csv"' "$work/log/collector-$a.log"; then
  check_fail "the take had finished before the kill"
fi
check_eq "$(county_stored "$work")" 0 "nothing of it reached the county (nothing was committed)"

county_collector_start "$work" "$a"
county_wait_stored "$work" 100000 120 || check_fail "the 100 000 records after the restart"
check_grep 'file "big.csv" was being taken at a restart; taking it again' \
  "$work/log/collector-$a.log" "the restarted collector takes the file again"
check_grep 'took "big.csv": 100000 records spooled \(seq 1\.\.100000\)' \
  "$work/log/collector-$a.log" "whole, from the spool's first seq (the torn take was cut off)"
check_eq "$(sql "select count(*), count(distinct value), min(value), max(value)
  from edu.observation where school_code = '$a'")" "100000|100000|0.001|100" \
  "the county holds each of the 100 000 records once"
check_eq "$(sql "select count(*) from edu.rejected_record")" 0 "and refused none"
check_eq "$(ls "$inbox/done")" "big.csv" "done/ holds the file once"
check_eq "$(ls "$inbox/.taking" | wc -l)" 0 ".taking/ is empty"
check_wait_for "big.csv：100000 条记录，已全部送达县级平台" "$inbox/状态.txt" 20
check_eq "$?" 0 "状态.txt says every record of it arrived"

# 2. GB18030, multi-line quoted notes, a few bad rows: the lines errors.csv names are counted
#    as the file is written
awk -v code=$a -v lines="$work/gb.lines" 'BEGIN {
  print "school_code,indicator,period,value,备注"; line = 2
  for (i = 1; i <= 20000; i++) {
    multi = i % 1501 == 0
    note = multi ? "\"第一行\n第二行，“引号”\"" : "学校" i
    if (i % 5000 == 0) {
      printf "%s,training_hours,2025-2026,九十,%s\n", code, note
      print line >lines
    } else
      printf "%s,training_hours,2025-2026,%.3f,%s\n", code, 100 + i / 1000, note
    line += multi ? 2 : 1
  }
}' | iconv -f UTF-8 -t GB18030 >"$work/gb.csv"
iconv -f UTF-8 -t UTF-8 "$work/gb.csv" >/dev/null 2>&1
check_ne "$?" 0 "the second file is not UTF-8"
county_drop "$work" "$a" "$work/gb.csv"
county_wait_stored "$work" $((100000 + 19996)) 60 || check_fail "the GB18030 file"
check_eq "$(sql "select count(*), count(distinct value) from edu.observation
  where school_code = '$a' and indicator = 'training_hours'")" "19996|19996" \
  "GB18030: each good row once"
check_eq "$(tail -n +2 "$inbox/rejected/gb.csv.errors.csv" | cut -d, -f1 | tr '\n' ' ')" \
  "$(tr '\n' ' ' <"$work/gb.lines")" "its bad rows in errors.csv, in row order, on their lines"
check_grep "数值“九十”不是数字" "$inbox/rejected/gb.csv.errors.csv" "with the Chinese hint"

# 3. the memory a take costs, the county stopped (the records wait in the spool)
county_stop "$work" aggregator
county_stop "$work" "collector-$a"
awk -v code=$a 'BEGIN { print "school_code,indicator,period,value"
  for (i = 1; i <= 200000; i++) printf "%s,myopia_pct,2024-2025,%.4f\n", code, i / 2000 }' \
  >"$work/mem.csv"
: >"$work/log/collector-$a.log"
county_collector_start "$work" "$a"
check_wait_for "sending to" "$work/log/collector-$a.log" 10 || check_fail "collector restart"
pid=$(cat "$work/pids/collector-$a")
sleep 0.5
before=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
county_drop "$work" "$a" "$work/mem.csv"
check_wait_for 'took "mem.csv": 200000 records' "$work/log/collector-$a.log" 60
check_eq "$?" 0 "a 200 000-row file taken with the county down"
peak=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status")
size=$(($(stat -c %s "$work/mem.csv") / 1024))
echo "# collector RSS ${before} kB before the take, ${peak} kB at its peak; the file is ${size} kB"
if ldd "$bin/edu-collector" | grep -q libasan; then
  echo "# (AddressSanitizer keeps freed memory in quarantine: the bound is checked without it)"
else
  check_eq "$([ $((peak - before)) -lt $((size / 2)) ] && echo bounded)" bounded \
    "taking the file grew the collector by less than half its size ($((peak - before)) kB)"
fi

county_stop_all "$work"
check_logs_clean "$work"
check_done
