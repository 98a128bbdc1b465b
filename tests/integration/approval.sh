#!/bin/bash
# approval.sh - the county signs off a year before the province sees it (县级审核): approval is
# refused while a data_quality warning (核查) of the year is unresolved, accepted once each is
# checked (noted and named) ; a correction to an approved year is refused as period_locked and
# reported to the school; a reader's, the province's and a school's key are refused each act;
# unlocking is recorded as a late change; corrections after a year's deadline are in
# edu.late_change; the province's pull sees approved years only.
#
#   approval.sh BIN_DIR FIXTURE_DIR
set -u
bin=$1 fixture=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/county.sh"
. "$here/../lib/check.sh"

export EDU_NOW=2025-11-08T12:00:00+08:00
work=$(mktemp -d /tmp/edu-approval.XXXXXX)
trap 'county_stop_all "$work"; check_keep_on_failure "$work"' EXIT
port=$(check_free_port)
county_init "$work" "$bin" "$fixture" "approval_$$" "$port" || check_fail "county setup"
mkdir -p "$work/keys/supervisors" "$work/keys/province"
county_set "$work/aggregator.ini" curve "supervisors = $work/keys/supervisors" \
  "province = $work/keys/province"
"$bin/edu-keygen" --out "$work/keys/secret" --name 李督学 supervisor >/dev/null
cp "$work/keys/secret/supervisor" "$work/keys/supervisors/"
"$bin/edu-keygen" --out "$work/keys/secret" reader >/dev/null
cp "$work/keys/secret/reader" "$work/keys/readers/"
"$bin/edu-keygen" --out "$work/keys/secret" province >/dev/null
cp "$work/keys/secret/province" "$work/keys/province/"
for who in supervisor reader province; do
  cat >"$work/$who.ini" <<INI
[alerts]
endpoint = tcp://127.0.0.1:$((port + 1))
query = tcp://127.0.0.1:$((port + 2))
timeout_ms = 3000
[curve]
secret = $work/keys/secret/${who}_secret
server = $work/keys/aggregator
INI
done
alerts() { # alerts WHO ARGS... - output in $work/out, errors in $work/err
  "$bin/edu-alerts" -c "$work/$1.ini" "${@:2}" >"$work/out" 2>"$work/err"
}
county_aggregator_start "$work" || check_fail "aggregator start"
county_feed "$work" "$fixture" >/dev/null || check_fail "the sample county not stored"
sleep 1
year=2024-2025

# who may approve
for who in reader province; do
  alerts "$who" approve "$year"
  check_eq "$?" 1 "a $who's key cannot approve"
  alerts "$who" unlock "$year" --reason x
  check_eq "$?" 1 "nor unlock ($who)"
done
check_eq "$(county_sql "$work" "select state from edu.period_approval where period = '$year'")" open \
  "the year is open"

# the 核查 flags stand in the way until each is checked
flags=$(county_sql "$work" "select count(*) from edu.current_warning
  where kind = 'data_quality' and period = '$year'")
check_ne "$flags" 0 "the sample has $flags data_quality warnings in $year"
alerts supervisor approve "$year" --note 初审
check_eq "$?" 1 "approval is refused while they are unresolved"
check_grep '未处理的数据核查' "$work/err" "and says why"
check_eq "$(grep -c '核查事项 #' "$work/err")" "$flags" "naming each of the $flags verification cases"
ids=$(county_sql "$work" "select string_agg(c.id::text, ' ' order by c.id) from edu.case c
  join edu.current_warning w on w.kind = c.kind and w.subject = c.subject
  and w.indicator = c.indicator and w.period = c.period
  where c.kind = 'data_quality' and c.period = '$year' and c.state <> 'closed'")
other=$(county_sql "$work" "select min(id) from edu.case where case_type = 'rectify'")
# shellcheck disable=SC2086
alerts supervisor approve "$year" --checked $ids
check_eq "$?" 1 "naming them is not enough without a note of the check"
check_grep '没有核查说明' "$work/err" "and says what is missing"
for id in $ids; do
  alerts supervisor note "$id" "已到校核查，数据属实"
done
alerts supervisor approve "$year" --checked "$other"
check_eq "$?" 1 "--checked with a case that is no verification case of the year is refused"
# shellcheck disable=SC2086
alerts supervisor approve "$year" --note 审核通过 --checked $ids
check_eq "$?" 0 "approval passes once each flag is checked and named"
check_grep "已审核 $year 学年" "$work/out" "and says so"
check_eq "$(county_sql "$work" "select state || ' ' || actor || ' ' || note from edu.period_approval
  where period = '$year'")" "approved 李督学 审核通过" "edu.period_approval: approved, by whom, with the note"
alerts supervisor approve "$year"
check_eq "$?" 1 "an approved year cannot be approved again"

# a correction to the approved year: refused as period_locked, reported to the school
school=2143004052
before=$(county_sql "$work" "select value from edu.current_observation where school_code = '$school'
  and indicator = 'training_hours' and period = '$year'")
stored=$(county_stored "$work")
printf 'school_code,indicator,period,value\n%s,training_hours,%s,123\n%s,training_hours,2026-2027,77\n' \
  "$school" "$year" "$school" >"$work/late.csv"
county_drop "$work" "$school" "$work/late.csv"
county_wait_stored "$work" $((stored + 2)) 20 || check_fail "the correction not stored"
check_eq "$(county_sql "$work" "select count(*) from edu.rejected_record where reason = 'period_locked'
  and school_code = '$school' and period = '$year'")" 1 "the correction to $year is refused as period_locked"
check_eq "$(county_sql "$work" "select value from edu.current_observation where school_code = '$school'
  and indicator = 'training_hours' and period = '$year'")" "$before" "the approved value stands"
check_eq "$(county_sql "$work" "select value from edu.current_observation where school_code = '$school'
  and indicator = 'training_hours' and period = '2026-2027'")" 77 "the open year's row of the same file is stored"
check_wait_for 'period_locked' "$work/schools/$school/inbox/rejected/late.csv.errors.csv" 20
check_eq "$?" 0 "the school's errors.csv reports it"

check_eq "$(county_sql "$work" "select state from edu.period_approval where period = '2026-2027'")" open \
  "the other years stay open"

# unlock: recorded as a late change; the correction then goes through, as a late change too
alerts supervisor unlock "$year"
check_eq "$?" 2 "unlock needs a reason"
alerts supervisor unlock "$year" --reason 学校申请更正培训学时
check_eq "$?" 0 "a supervisor unlocks the year"
check_eq "$(county_sql "$work" "select state from edu.period_approval where period = '$year'")" open \
  "the year is open again"
check_eq "$(county_sql "$work" "select kind || ' ' || note from edu.late_change where kind = 'unlock'")" \
  "unlock 学校申请更正培训学时" "the unlock is in edu.late_change with its reason"
stored=$(county_stored "$work")
printf 'school_code,indicator,period,value\n%s,training_hours,%s,124\n%s,training_hours,2026-2027,78\n' \
  "$school" "$year" "$school" >"$work/again.csv"
county_drop "$work" "$school" "$work/again.csv"
county_wait_stored "$work" $((stored + 2)) 20 || check_fail "the correction not stored"
check_eq "$(county_sql "$work" "select value from edu.current_observation where school_code = '$school'
  and indicator = 'training_hours' and period = '$year'")" 124 "once unlocked, the correction is stored"
check_eq "$(county_sql "$work" "select old_value || ' -> ' || new_value from edu.late_change
  where kind = 'change' and school_code = '$school' and period = '$year'")" "$before -> 124" \
  "a change after the year's deadline (2024-10-31) is in edu.late_change"
check_eq "$(county_sql "$work" "select count(*) from edu.late_change where kind = 'change'
  and period = '2026-2027'")" 0 "a change before the year's deadline (2026-10-31) is not"

county_stop_all "$work"
check_logs_clean "$work"
check_done
