#!/bin/bash
# collector_feedback.sh - what school staff read about their files, and records too big for
# the county never block a school
#
#   - rejected/<file>.errors.csv: UTF-8 with a BOM, a Chinese header beside the column names,
#     the reason code in its own column beside a Chinese explanation, in row order with the
#     county's refusals among the rows the collector could not read; hints for an indicator
#     given by its Chinese name and a school code in Excel's scientific notation; a record for
#     a year the county has approved (period_locked) explained;
#   - a workbook (.xlsx) and a UTF-16 file dropped in the inbox go to rejected/ with a sentence
#     saying to save as CSV UTF-8;
#   - a value pasted from a 10 MB cell, and 130 rows with Excel's largest cell (32 767
#     characters) as indicator, are refused row by row; the good rows and the next files flow;
#   - with the county's max_batch_bytes at its smallest (64 KiB) and the collector's set to
#     it, a file of 5 000 records is stored whole (batches of the collector's size only would
#     be dropped by the county's socket).
#
#   collector_feedback.sh BIN_DIR FIXTURE_DIR
set -u
bin=$1 fixture=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/county.sh"
. "$here/../lib/check.sh"

work=$(mktemp -d /tmp/edu-cfeedback.XXXXXX)
trap 'county_stop_all "$work"; check_keep_on_failure "$work"' EXIT
port=$(check_free_port)
county_init "$work" "$bin" "$fixture" "cfeedback_$$" "$port" || check_fail "county setup"
county_set "$work/aggregator.ini" aggregator 'max_batch_bytes = 65536'
# a supervisor, to approve (lock) a year
mkdir -p "$work/keys/supervisors"
county_set "$work/aggregator.ini" curve "supervisors = $work/keys/supervisors"
"$bin/edu-keygen" --out "$work/keys/secret" --name 李督学 supervisor >/dev/null
cp "$work/keys/secret/supervisor" "$work/keys/supervisors/"
printf '[alerts]\nendpoint = tcp://127.0.0.1:%s\nquery = tcp://127.0.0.1:%s\n[curve]\nsecret = %s\nserver = %s\n' \
  $((port + 1)) $((port + 2)) "$work/keys/secret/supervisor_secret" "$work/keys/aggregator" \
  >"$work/supervisor.ini"
county_aggregator_start "$work" || check_fail "aggregator start"
header='school_code,indicator,period,value'

a=2143004052
inbox_a="$work/schools/$a/inbox"
county_collector_start "$work" "$a"
big=$(head -c $((10 * 1024 * 1024)) /dev/zero | tr '\0' 9)
{
  echo "$header"
  echo "$a,training_hours,2025-2026,90"       # 2: stored
  echo "2.143E+09,training_hours,2025-2026,90" # 3: unknown_school, Excel's notation
  echo "$a,生师比,2025-2026,15"                # 4: unknown_indicator, a Chinese name
  echo "$a,training_hours,2025-2026,\"12,5\""  # 5: not_a_number (the collector)
  echo "$a,training_hours,2025-2027,3"         # 6: bad_period
  echo "$a,training_hours,2025-2026,$big"      # 7: too_long (the collector)
  echo "$a,myopia_pct,2025-2026,31"            # 8: stored
} >"$work/mixed.csv"
unset big
stored=$(county_stored "$work")
county_drop "$work" "$a" "$work/mixed.csv"
county_wait_stored "$work" $((stored + 5)) 30 || check_fail "the mixed file"
errors="$inbox_a/rejected/mixed.csv.errors.csv"
check_wait_for ",bad_period," "$errors" 10
check_eq "$(head -c 3 "$errors" | od -An -tx1 | tr -d ' ')" efbbbf "errors.csv starts with a BOM"
check_eq "$(sed -n 1p "$errors" | tail -c +4)" "行号(row),列(column),原因代码(reason),说明(explanation),详情(detail)" \
  "errors.csv: a Chinese header beside the column names"
check_eq "$(tail -n +2 "$errors" | cut -d, -f1-3 | tr '\n' ' ')" \
  "3,school_code,unknown_school 4,indicator,unknown_indicator 5,value,not_a_number 6,period,bad_period 7,,too_long " \
  "errors.csv: in row order, the county's refusals among the collector's"
check_grep "^3,.*科学计数法.*文本" "$errors" "row 3: the school code in Excel's notation, format the column as text"
check_grep "^4,.*“生师比”请写成指标代码 student_teacher_ratio" "$errors" "row 4: the code for the Chinese name"
check_grep "^5,.*不是数字" "$errors" "row 5: not a number, in Chinese"
check_grep "^6,.*2025-2026" "$errors" "row 6: how a period is written"
check_grep "^7,.*太长" "$errors" "row 7: too long"
check_eq "$(county_sql "$work" "select indicator || '=' || value from edu.current_observation
  where school_code = '$a' order by 1" | tr '\n' ' ')" "myopia_pct=31 training_hours=90 " \
  "the good rows of the same file are stored"
check_eq "$(county_sql "$work" "select count(*) from edu.rejected_record where school_code = '2.143E+09'")" 1 \
  "the county judged the school code itself"

# a year the county has approved (locked): refused as period_locked, explained
"$bin/edu-alerts" -c "$work/supervisor.ini" approve 2023-2024 --note "县级审核" >"$work/approve.out" 2>&1 ||
  check_fail "approve 2023-2024: $(cat "$work/approve.out")"
printf '%s\n%s,training_hours,2023-2024,70\n' "$header" "$a" >"$work/locked.csv"
stored=$(county_stored "$work")
county_drop "$work" "$a" "$work/locked.csv"
county_wait_stored "$work" $((stored + 1)) 30 || check_fail "the record for a locked year"
check_wait_for ",period_locked," "$inbox_a/rejected/locked.csv.errors.csv" 10
check_eq "$?" 0 "a record for an approved year: period_locked in errors.csv"
check_grep "^2,period,period_locked,.*审核.*解锁" "$inbox_a/rejected/locked.csv.errors.csv" \
  "saying the year is approved and the county must unlock it"

# Excel's largest cell as indicator on 130 rows: refused row by row, the next file flows
cell=$(head -c 32767 /dev/zero | tr '\0' x)
{
  echo "$header"
  for i in $(seq 1 130); do echo "$a,$cell,2025-2026,$i"; done
} >"$work/cells.csv"
unset cell
county_drop "$work" "$a" "$work/cells.csv"
printf '%s\n%s,psych_teacher_pct,2025-2026,100\n' "$header" "$a" >"$work/next.csv"
stored=$(county_stored "$work")
county_drop "$work" "$a" "$work/next.csv"
county_wait_stored "$work" $((stored + 1)) 30
check_eq "$?" 0 "after 130 rows of 32 KB cells, the next file is stored"
check_eq "$(grep -c ',indicator,too_long,' "$inbox_a/rejected/cells.csv.errors.csv")" 130 \
  "each of the 130 rows refused as too_long"

# a workbook and a UTF-16 file
printf 'PK\003\004\024\000\006\000 not really a workbook' >"$work/book.xlsx"
county_drop "$work" "$a" "$work/book.xlsx"
printf '%s\n%s,training_hours,2025-2026,1\n' "$header" "$a" | iconv -f UTF-8 -t UTF-16 >"$work/u16.csv"
county_drop "$work" "$a" "$work/u16.csv"
check_wait_for ",not_csv," "$inbox_a/rejected/book.xlsx.errors.csv" 10
check_eq "$?" 0 "an .xlsx in the inbox is answered in rejected/"
check_grep "CSV UTF-8" "$inbox_a/rejected/book.xlsx.errors.csv" "saying to save it as CSV UTF-8"
check_eq "$(ls "$inbox_a/rejected/book.xlsx" 2>/dev/null)" "$inbox_a/rejected/book.xlsx" \
  "and the workbook is moved there, out of the inbox"
check_wait_for ",not_csv," "$inbox_a/rejected/u16.csv.errors.csv" 10
check_eq "$?" 0 "a UTF-16 file is answered in rejected/"
check_grep "UTF-16.*CSV UTF-8" "$inbox_a/rejected/u16.csv.errors.csv" "saying what it is and what to do"

# 5 000 records under the county's smallest max_batch_bytes
b=2143004053
county_set "$work/schools/$b/collector.ini" collector 'batch_records = 5000' \
  'max_batch_bytes = 65536'
awk -v code=$b 'BEGIN { print "school_code,indicator,period,value"
  for (i = 0; i < 5000; i++) printf "%s,training_hours,2025-2026,%d\n", code, i % 2000 }' \
  >"$work/many.csv"
county_collector_start "$work" "$b"
stored=$(county_stored "$work")
county_drop "$work" "$b" "$work/many.csv"
county_wait_stored "$work" $((stored + 5000)) 60
check_eq "$?" 0 "5 000 records in batches of at most 64 KiB all stored"
check_no_grep "no answer from the county in time|connection to the county lost" \
  "$work/log/collector-$b.log" "no batch was dropped by the county"

county_stop_all "$work"
check_logs_clean "$work"
check_done
