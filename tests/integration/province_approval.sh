#!/bin/bash
# province_approval.sh - pull version 2 against simulated counties (tests/sim/county_sim):
# only approved years reach province.county_indicator; the province accepts and returns a
# year; a county's unlock withdraws the year (rows marked, not deleted) and its approval brings
# it back with the new figures; the bulletin (report) as a workbook and as CSV agrees with the
# database; requests past their bounds are refused before they leave.
#
#   province_approval.sh BIN_DIR FIXTURE_DIR
set -u
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/check.sh"

py=/usr/bin/python3 # Debian's, with python3-openpyxl
work=$(mktemp -d /tmp/edu-province-approval.XXXXXX)
db=province_approval_$$
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; dropdb --if-exists "$db" 2>/dev/null; check_keep_on_failure "$work"' EXIT
mkdir -p "$work/keys" "$work/log"
"$bin/edu-keygen" --out "$work/keys" province >/dev/null
"$bin/edu-keygen" --out "$work/keys" sim >/dev/null
port=$(check_free_port 1)
# 100 rows a county: years 2024-2025 back to 2022-2023 approved, 2025-2026 open
"$bin/county_sim" "tcp://127.0.0.1:$port" "$work/keys" 100 >"$work/log/sim.log" 2>&1 &
pids+=($!)
check_wait_for ready "$work/log/sim.log" 10 || check_fail "county_sim did not start"
ini=$work/province.ini
cat >"$ini" <<INI
[province]
database = dbname=$db host=$PGHOST port=$PGPORT user=$PGUSER
timeout_ms = 5000
page_rows = 30
[curve]
secret = $work/keys/province_secret
INI
counties="430101 430102 430103"
for c in $counties; do
  printf '[county.%s]\nendpoint = tcp://127.0.0.1:%s\nserver = %s/keys/sim\nname = 第%s县\n' \
    "$c" "$port" "$work" "${c: -1}" >>"$ini"
done
createdb "$db" || check_fail "province database"
sql() { psql -X -qAt -d "$db" -c "$1"; }
pull() { "$bin/edu-province" -c "$ini" pull --once >>"$work/log/province.log" 2>&1; }
review() { "$bin/edu-province" -c "$ini" "$@" >"$work/out" 2>"$work/err"; }

pull
check_eq "$?" 0 "pull --once of three counties (version 2) succeeds"
check_eq "$(sql "select string_agg(distinct protocol::text, ',') from province.county")" 2 \
  "the counties spoke pull version 2"
check_eq "$(sql "select count(*) from province.county_period where state = 'approved'")" 9 \
  "three approved years per county"
check_eq "$(sql "select count(*) from province.county_indicator where period = '2025-2026'")" 0 \
  "the open year has no rows at the province"
check_eq "$(sql "select count(*) from province.county_indicator")" 300 \
  "100 rows of approved years per county"
check_eq "$(sql "select count(*) from province.late_change where kind = 'change'")" 12 \
  "a late change per year and county, the open year's too"
check_eq "$(sql "select count(*) from province.county_case where escalated")" 6 \
  "escalated cases (督办)"
check_eq "$(sql "select count(*) from province.warning_row where kind = 'county_balanced' and level = 'green'")" \
  "$(sql "select count(*) from province.warning_row where kind = 'county_balanced' and value >= 0.85")" \
  "county_balanced kept at every level (green counties count)"

# the province accepts one year and returns another
review accept 430101 2024-2025
check_eq "$?" 0 "accept an approved year"
check_grep '已确认' "$work/out" "accept prints the county's answer"
review return 430102 2023-2024 --reason "生师比数据存疑，请核实后重新审核"
check_eq "$?" 0 "return an approved year"
review accept 430102 2025-2026
check_ne "$?" 0 "the open year cannot be accepted"
check_grep 'county 430102 refused: .*open' "$work/err" "the county's refusal is shown"
pull
check_eq "$(sql "select state, accepted_at is not null from province.county_period
  where county_code = '430101' and period = '2024-2025'")" "accepted|t" "the accepted year reads accepted"
check_eq "$(sql "select state from province.county_period where county_code = '430102'
  and period = '2023-2024'")" returned "the returned year reads returned"
check_eq "$(sql "select note from province.period_row where county_code = '430102'
  and period = '2023-2024'")" "生师比数据存疑，请核实后重新审核" "with the reason"
check_eq "$(sql "select count(*) from province.indicator_row where county_code = '430102'
  and period = '2023-2024' and withdrawn")" 34 "the returned year's rows are kept, marked withdrawn"
check_eq "$(sql "select count(*) from province.county_indicator where county_code = '430102'
  and period = '2023-2024'")" 0 "and left out of county_indicator"
check_eq "$(sql "select count(*) from province.county_warning where county_code = '430102'
  and period = '2023-2024'")" 0 "and its county-level warnings out of county_warning"

# the county unlocks a year, then approves it again with other figures
before=$(sql "select sum(mean) from province.county_indicator where county_code = '430103' and period = '2022-2023'")
"$bin/county_sim" --send "tcp://127.0.0.1:$port" "$work/keys/sim" sim-unlock 430103 2022-2023 \
  "更正体育场馆面积" >/dev/null || check_fail "sim-unlock"
pull
check_eq "$(sql "select state from province.county_period where county_code = '430103'
  and period = '2022-2023'")" open "an unlocked year reads open"
check_eq "$(sql "select count(*) from province.county_indicator where county_code = '430103'
  and period = '2022-2023'")" 0 "an unlocked year is withdrawn at the next pull"
check_eq "$(sql "select note from province.late_change where county_code = '430103' and kind = 'unlock'")" \
  "更正体育场馆面积" "the unlock is in the late changes with its reason"
"$bin/county_sim" --send "tcp://127.0.0.1:$port" "$work/keys/sim" sim-approve 430103 2022-2023 \
  >/dev/null || check_fail "sim-approve"
pull
check_eq "$(sql "select count(*) from province.county_indicator where county_code = '430103'
  and period = '2022-2023'")" 32 "approved again, the year is back"
check_ne "$(sql "select sum(mean) from province.county_indicator where county_code = '430103' and period = '2022-2023'")" \
  "$before" "with the corrected figures"

# bounds: refused before anything is sent
review return 430101 2022-2023 --reason "$(head -c 2001 /dev/zero | tr '\0' x)"
check_ne "$?" 0 "a reason of 2001 bytes is refused"
check_grep 'more than 2000' "$work/err" "saying why"
review return 430101 2022-2023 --reason "$(head -c 2000 /dev/zero | tr '\0' x)"
check_eq "$?" 0 "a reason of 2000 bytes goes"
review return 430101 2022-2023 --reason "$(printf 'two\nlines')"
check_ne "$?" 0 "a reason of two lines is refused"
review return 430101 2022-2023 --reason ""
check_ne "$?" 0 "an empty reason is refused"
review accept 439999 2024-2025
check_grep 'not configured' "$work/err" "an unknown county is refused"
review accept 430101 2024-2026
check_grep 'not an academic year' "$work/err" "a malformed year is refused"
pull

# the bulletin, as a workbook and as CSV
"$bin/edu-province" -c "$ini" report 2024-2025 --out "$work/通报.xlsx" >"$work/out" 2>"$work/err"
check_eq "$?" 0 "report writes a workbook"
"$bin/edu-province" -c "$ini" report 2024-2025 --out "$work/通报.csv" >>"$work/out" 2>>"$work/err"
check_eq "$?" 0 "report writes CSV"
"$bin/edu-province" -c "$ini" report 2024-2025 --out "$work/通报.txt" 2>"$work/err"
check_ne "$?" 0 "report refuses another file type"
"$bin/edu-province" -c "$ini" report 2024 --out "$work/x.csv" 2>"$work/err"
check_ne "$?" 0 "report refuses a malformed year"
$py - "$work/通报.xlsx" >"$work/xlsx.txt" 2>&1 <<'PY'
import sys, openpyxl
book = openpyxl.load_workbook(sys.argv[1])
print("sheets", ",".join(book.sheetnames))
summary = {r[0]: r[1] for r in book["概况"].iter_rows(min_row=2, values_only=True)}
for k in ("县（区）总数", "县级已审核（含省级已确认）", "省级已确认", "未审核或已退回",
          "小学优质均衡达标率（%）", "初中优质均衡达标率（%）", "县级红色预警（条）", "逾期修改与解锁（条）"):
    print("summary", k, repr(summary[k]))
rank = list(book["排名"].iter_rows(values_only=True))
head = rank[0]
for r in rank[1:]:
    d = dict(zip(head, r))
    print("rank", d["学段"], d["县（区）代码"], d["差异系数名次"], d["平均差异系数"],
          d["绿色学校占比（%）"], type(d["平均差异系数"]).__name__)
print("late", book["逾期修改"].max_row - 1)
print("unapproved", ",".join(r[0] for r in book["未审核县"].iter_rows(min_row=2, values_only=True)))
print("redlist", book["县级红色预警"].max_row - 1)
PY
check_grep '^sheets 概况,排名,县级红色预警,红色学校分布,逾期修改,未审核县,督办事项$' "$work/xlsx.txt" \
  "the workbook has a sheet per table, named in Chinese"
check_grep "^summary 县（区）总数 3$" "$work/xlsx.txt" "summary: counties, as a number"
check_grep "^summary 县级已审核（含省级已确认） 3$" "$work/xlsx.txt" "summary: approved"
check_grep "^summary 省级已确认 1$" "$work/xlsx.txt" "summary: accepted"
for stage in primary:小学 junior:初中; do
  rate=$(sql "select round(100.0 * count(*) filter (where level = 'green') / 3, 1)::float8
    from province.warning_row where kind = 'county_balanced' and stage = '${stage%:*}'
    and period = '2024-2025' and not withdrawn")
  check_grep "^summary ${stage#*:}优质均衡达标率（%） $rate$" "$work/xlsx.txt" \
    "summary: ${stage#*:} 达标率 $rate% as in the database"
done
check_grep "^summary 县级红色预警（条） $(sql "select count(*) from province.county_warning
  where period = '2024-2025' and level = 'red' and kind <> 'county_balanced'")$" "$work/xlsx.txt" \
  "summary: red county-level warnings as in the database"
sql "select case stage when 'primary' then '小学' else '初中' end, county_code,
  rank() over (partition by stage order by avg(cv)), round(avg(cv)::numeric, 4)::float8,
  round((100 * sum(green)::float8 / sum(red + yellow + green))::numeric, 1)::float8
  from province.county_indicator where period = '2024-2025' group by stage, county_code" |
  tr '|' ' ' | sort >"$work/rank-want"
grep '^rank ' "$work/xlsx.txt" | awk '{ print $2, $3, $4, $5, $6 }' | sort >"$work/rank-got"
check_same_file "$work/rank-want" "$work/rank-got" "rankings: ranks, mean CV and green share as in the database"
check_no_grep '^rank .* (str|NoneType)$' "$work/xlsx.txt" "the CV is a number in the workbook"
check_grep "^late $(sql "select count(*) from province.late_change where period = '2024-2025'")$" \
  "$work/xlsx.txt" "late changes of the year"
check_grep "^unapproved $" "$work/xlsx.txt" "no unapproved county in 2024-2025"
check_eq "$(head -c 3 "$work/通报.csv" | od -An -tx1 | tr -d ' ')" efbbbf "the CSV starts with a BOM"
check_grep '^【未审核县】' "$work/通报.csv" "the CSV names its tables"
"$bin/edu-province" -c "$ini" report 2023-2024 --out "$work/y.csv" >/dev/null 2>&1
check_grep '^430102,第2县,已退回' "$work/y.csv" "the returned county is among the unapproved of 2023-2024"

check_no_grep 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$work/log/province.log" \
  "no sanitizer report"
check_done
