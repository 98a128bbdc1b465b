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
county_test approval
mkdir -p "$work/keys/supervisors" "$work/keys/province"
county_set "$work/aggregator.ini" curve "supervisors = $work/keys/supervisors" \
  "province = $work/keys/province"
"$bin/edu-keygen" --out "$work/keys/secret" --name 李督学 supervisor >/dev/null
cp "$work/keys/secret/supervisor" "$work/keys/supervisors/"
"$bin/edu-keygen" --out "$work/keys/secret" reader >/dev/null
cp "$work/keys/secret/reader" "$work/keys/readers/"
"$bin/edu-keygen" --out "$work/keys/secret" province >/dev/null
cp "$work/keys/secret/province" "$work/keys/province/"
for who in supervisor reader province 2143004052; do
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
county=$(county_sql "$work" "select value from edu.setting where key = 'county'")
# the province's acts (accept, return) tried with other classes' keys, through edu-province
for who in reader supervisor; do
  cat >"$work/$who-province.ini" <<INI
[province]
timeout_ms = 3000
[curve]
secret = $work/keys/secret/${who}_secret
[county.$county]
endpoint = tcp://127.0.0.1:$((port + 2))
server = $work/keys/aggregator
name = 示例县
INI
done
refused() { # refused WHO - the reason WHO's key is given for a supervisor's act
  case $1 in
    reader) echo '这把密钥是只读（reader）密钥，不能办理整改、静默或审核' ;;
    province) echo '这把密钥是省级（province）密钥，不能办理整改、静默或审核' ;;
    # a school's key does not get past the query endpoint's handshake: told so at once
    *) echo '县里的汇聚服务拒绝了本机的密钥：它不在县里登记的只读、督学或省级' ;;
  esac
}
year_log() { county_sql "$work" "select count(*) from edu.period_log"; }

# who may approve
log_before=$(year_log)
for who in reader province 2143004052; do
  alerts "$who" approve "$year"
  check_eq "$?" 1 "a $who's key cannot approve"
  check_grep "$(refused "$who")" "$work/err" "and is told why ($who, approve)"
  alerts "$who" unlock "$year" --reason x
  check_eq "$?" 1 "nor unlock ($who)"
  check_grep "$(refused "$who")" "$work/err" "and is told why ($who, unlock)"
done
check_eq "$(county_sql "$work" "select state from edu.period_approval where period = '$year'")" open \
  "the year is open"
check_eq "$(year_log)" "$log_before" "the refused acts left no event"

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

# while it is approved: the others' keys cannot unlock it, nor accept or return it in the
# province's place
log_before=$(year_log)
for who in reader province 2143004052; do
  alerts "$who" unlock "$year" --reason x
  check_eq "$?" 1 "a $who's key cannot unlock the approved year"
  check_grep "$(refused "$who")" "$work/err" "and is told why ($who, unlock)"
done
for who in reader supervisor; do
  class=$([ "$who" = reader ] && echo '只读（reader）' || echo '督学（supervisor）')
  "$bin/edu-province" -c "$work/$who-province.ini" accept "$county" "$year" >"$work/out" 2>"$work/err"
  check_eq "$?" 1 "a $who's key cannot accept the year"
  check_grep "这把密钥是${class}密钥，不能接受或退回学年" "$work/err" "and is told why ($who, accept)"
  "$bin/edu-province" -c "$work/$who-province.ini" return "$county" "$year" --reason 请核实 \
    >"$work/out" 2>"$work/err"
  check_eq "$?" 1 "a $who's key cannot return the year"
  check_grep "这把密钥是${class}密钥，不能接受或退回学年" "$work/err" "and is told why ($who, return)"
done
check_eq "$(county_sql "$work" "select state || ' ' || actor || ' ' || note from edu.period_approval
  where period = '$year'")" "approved 李督学 审核通过" "the year is still approved as it was"
check_eq "$(year_log)" "$log_before" "the refused acts left no event"
check_eq "$(county_sql "$work" "select count(*) from edu.alert where kind = 'period_returned'")" 0 \
  "and no return reached anyone"

# a correction to the approved year: refused as period_locked, reported to the school
school=2143004052
before=$(county_sql "$work" "select value from edu.current_observation where school_code = '$school'
  and indicator = 'training_hours' and period = '$year'")
stored=$(county_stored "$work")
# rows of the locked year that are wrong on another count keep that reason: period_locked is
# checked after the six of the contract
{
  printf 'school_code,indicator,period,value\n%s,training_hours,%s,123\n' "$school" "$year"
  printf '%s,training_hours,2026-2027,77\n' "$school"
  printf '2143999999,training_hours,%s,90\n' "$year"        # unknown_school
  printf '2143004053,training_hours,%s,90\n' "$year"        # school_mismatch
  printf '%s,teacher_happiness,%s,3.2\n' "$school" "$year"  # unknown_indicator
  printf '%s,bachelor_teacher_pct,%s,130\n' "$school" "$year" # out_of_range
} >"$work/late.csv"
county_drop "$work" "$school" "$work/late.csv"
county_wait_stored "$work" $((stored + 6)) 20 || check_fail "the correction not stored"
check_eq "$(county_sql "$work" "select count(*) from edu.rejected_record where reason = 'period_locked'
  and school_code = '$school' and period = '$year'")" 1 "the correction to $year is refused as period_locked"
check_eq "$(county_sql "$work" "select string_agg(school_code || ' ' || indicator || ' ' || reason, ',' order by reason)
  from edu.rejected_record where period = '$year' and reason <> 'period_locked'")" \
  "2143004052 bachelor_teacher_pct out_of_range,2143004053 training_hours school_mismatch,2143004052 teacher_happiness unknown_indicator,2143999999 training_hours unknown_school" \
  "the locked year's rows wrong on another count are refused for that, not as period_locked"
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
