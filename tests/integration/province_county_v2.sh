#!/bin/bash
# province_county_v2.sh - the province against a real aggregator that speaks pull version 2: nothing of a year reaches
# the province before the county approves it; approved, its figures equal the county's; the
# province accepts it, returns it (withdrawn), the county approves it again (back), unlocks
# it (withdrawn, the unlock among the late changes); the late changes and cases equal the
# county's.
#
#   province_county_v2.sh BIN_DIR FIXTURE_DIR
set -u
bin=$1 fixture=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/county.sh"
. "$here/../lib/check.sh"

export EDU_NOW=2025-11-08T12:00:00+08:00
work=$(mktemp -d /tmp/edu-province-v2.XXXXXX)
trap 'county_stop_all "$work/c"; check_keep_on_failure "$work"' EXIT
port=$(check_free_port)
county_init "$work/c" "$bin" "$fixture" "county_v2_$$" "$port" || check_fail "county setup"
mkdir -p "$work/c/keys/supervisors" "$work/c/keys/province" "$work/keys" "$work/log"
county_set "$work/c/aggregator.ini" curve "supervisors = $work/c/keys/supervisors" \
  "province = $work/c/keys/province"
"$bin/edu-keygen" --out "$work/keys" --name 张督学 supervisor >/dev/null
cp "$work/keys/supervisor" "$work/c/keys/supervisors/"
"$bin/edu-keygen" --out "$work/keys" --name 省教育厅 province >/dev/null
cp "$work/keys/province" "$work/c/keys/province/"
cat >"$work/supervisor.ini" <<INI
[alerts]
endpoint = tcp://127.0.0.1:$((port + 1))
query = tcp://127.0.0.1:$((port + 2))
timeout_ms = 5000
[curve]
secret = $work/keys/supervisor_secret
server = $work/c/keys/aggregator
INI
county_aggregator_start "$work/c" || check_fail "aggregator"
county_feed "$work/c" "$fixture" >/dev/null || check_fail "the sample county not stored"
db=province_v2_$$
createdb "$db" || check_fail "province database"
ini=$work/province.ini
cat >"$ini" <<INI
[province]
database = dbname=$db host=$PGHOST port=$PGPORT user=$PGUSER
timeout_ms = 5000
page_rows = 40
[curve]
secret = $work/keys/province_secret
[county.430405]
endpoint = tcp://127.0.0.1:$((port + 2))
server = $work/c/keys/aggregator
name = 示例县
INI
sql() { psql -X -qAt -d "$db" -c "$1"; }
pull() { "$bin/edu-province" -c "$ini" pull --once >>"$work/log/province.log" 2>&1; }
period=2025-2026
same() { # same WHAT - the province's rows of the year equal the county's aggregates
  county_sql "$work/c" "select stage, indicator, period, schools, coalesce(mean::text, ''),
    coalesce(cv::text, ''), red, yellow, green from edu.county_aggregate where period = '$period'" |
    sort >"$work/want"
  sql "select stage, indicator, period, schools, coalesce(mean::text, ''), coalesce(cv::text, ''),
    red, yellow, green from province.county_indicator where period = '$period'" | sort >"$work/got"
  check_same_file "$work/want" "$work/got" "$1"
}

pull
check_eq "$?" 0 "pull --once succeeds"
check_eq "$(sql "select protocol from province.county")" 2 "the county speaks pull version 2"
check_eq "$(sql "select count(*) from province.county_indicator")" 0 "nothing before approval"

# the year's 核查 flags are checked first (docs/approval.md): a note on each, named in --checked
checked=$(county_sql "$work/c" "select string_agg(c.id::text, ',') from edu.case c
  join edu.current_warning w on w.kind = c.kind and w.subject = c.subject
  and w.indicator = c.indicator and w.period = c.period
  where c.kind = 'data_quality' and c.period = '$period' and c.state <> 'closed'")
for id in ${checked//,/ }; do
  "$bin/edu-alerts" -c "$work/supervisor.ini" note "$id" 已核 >/dev/null
done
"$bin/edu-alerts" -c "$work/supervisor.ini" approve "$period" --note 已核 --checked "$checked" \
  >"$work/out" 2>&1 || check_fail "approve at the county: $(cat "$work/out")"
pull
check_eq "$(sql "select state from province.county_period where period = '$period'")" approved \
  "the approved year reads approved"
same "approved, the year's figures equal the county's"
check_eq "$(sql "select count(*) from province.late_change")" \
  "$(county_sql "$work/c" "select count(*) from edu.late_change")" "the late changes are the county's"
check_eq "$(sql "select count(*) from province.county_case")" \
  "$(county_sql "$work/c" "select count(*) from edu.case")" "the cases are the county's"

"$bin/edu-province" -c "$ini" accept 430405 "$period" >"$work/out" 2>&1
check_eq "$?" 0 "the province accepts"
pull
check_eq "$(sql "select state from province.county_period where period = '$period'")" accepted \
  "the accepted year reads accepted"
"$bin/edu-province" -c "$ini" return 430405 "$period" --reason 请核实生师比 >"$work/out" 2>&1
check_eq "$?" 0 "the province returns: $(cat "$work/out")"
pull
check_eq "$(sql "select state from province.county_period where period = '$period'")" returned \
  "the returned year reads returned"
check_eq "$(sql "select count(*) from province.county_indicator where period = '$period'")" 0 \
  "a returned year is withdrawn"
check_ne "$(sql "select count(*) from province.indicator_row where period = '$period' and withdrawn")" 0 \
  "its rows kept, marked withdrawn"
# the county's side of the return: the year reads returned, by the province, with its reason,
# and the county's people have a red period_returned alert saying so
check_eq "$(county_sql "$work/c" "select state || ' ' || actor || ' ' || note from edu.period_approval
  where period = '$period'")" "returned 省教育厅 请核实生师比" \
  "the county's edu.period_approval: returned, by the province, with its reason"
check_eq "$(county_sql "$work/c" "select level || ' ' || message from edu.alert
  where kind = 'period_returned' and period = '$period'")" \
  "red 【省级退回】$period 学年数据被省里退回（省教育厅）：请核实生师比。该学年已解锁，请核实修改后重新审核（edu-alerts approve $period）。" \
  "the county got one red period_returned alert with the reason"

"$bin/edu-alerts" -c "$work/supervisor.ini" approve "$period" --checked "$checked" \
  >"$work/out" 2>&1 || check_fail "approve again: $(cat "$work/out")"
pull
same "approved again, the year is back"
"$bin/edu-alerts" -c "$work/supervisor.ini" unlock "$period" --reason 更正数据 >"$work/out" 2>&1 ||
  check_fail "unlock at the county: $(cat "$work/out")"
pull
check_eq "$(sql "select state from province.county_period where period = '$period'")" open \
  "an unlocked year reads open"
check_eq "$(sql "select count(*) from province.county_indicator where period = '$period'")" 0 \
  "an unlocked year is withdrawn"
check_eq "$(sql "select note from province.late_change where kind = 'unlock'")" 更正数据 \
  "the unlock is among the late changes, with its reason"

county_stop_all "$work/c"
check_logs_clean "$work/c"
dropdb "$db" 2>/dev/null
check_done
