#!/bin/bash
# cases.sh - the response loop on the sample county (监测 → 预警 → 响应 → 评估), with EDU_NOW
# moved forward: cases open on red, a supervisor acknowledges and assigns, an overdue case is
# escalated with an alert, a correction resolves it, 销号 is refused while red and accepted
# once green, red again within the window reopens it; a yellow item opens a case after
# case_yellow_days; each class of key on each act; the first judgement reaches people as one
# digest; the evaluation (评估) sums it up.
#
#   cases.sh BIN_DIR FIXTURE_DIR
set -u
bin=$1 fixture=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/county.sh"
. "$here/../lib/check.sh"

export EDU_NOW=2025-11-08T12:00:00+08:00
county_test cases
python3 "$here/../lib/sinks.py" robot 0 "$work/robot.jsonl" dingtalk --per-minute 600 \
  >"$work/log/robot.ready" \
  2>"$work/log/robot.log" &
COUNTY_TEST_PIDS+=($!)
check_wait_for ready "$work/log/robot.ready" 5 || check_fail "the robot sink did not start"
robot=$(awk '{ print $2 }' "$work/log/robot.ready")
python3 "$here/../lib/sinks.py" http 0 "$work/hook.jsonl" >"$work/log/hook.ready" \
  2>"$work/log/hook.log" &
COUNTY_TEST_PIDS+=($!)
check_wait_for ready "$work/log/hook.ready" 5 || check_fail "the JSON sink did not start"
hook=$(awk '{ print $2 }' "$work/log/hook.ready")
mkdir -p "$work/keys/supervisors" "$work/keys/province"
# reminders every 20 hours (not the default 7 days), so that the restarts below fall both
# inside an interval and past one
county_set "$work/aggregator.ini" aggregator 'alert_group_wait_ms = 500' \
  "http = 127.0.0.1:$((port + 3))" 'repeat_interval = 20h'
county_set "$work/aggregator.ini" curve "supervisors = $work/keys/supervisors" \
  "province = $work/keys/province"
cat >>"$work/aggregator.ini" <<INI
[webhook.robot]
url = http://127.0.0.1:$robot/robot/send?access_token=T0KEN
max_per_minute = 600
format = dingtalk
[webhook.json]
url = http://127.0.0.1:$hook/hook
format = json
INI
# a key of each class: a supervisor (named), a reader, the province, and a school's
"$bin/edu-keygen" --out "$work/keys/secret" --name 张督学 supervisor >/dev/null
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
alerts() { # alerts WHO ARGS... - edu-alerts with WHO's key; output in $work/out, errors in $work/err
  "$bin/edu-alerts" -c "$work/$1.ini" "${@:2}" >"$work/out" 2>"$work/err"
}
# overdue_by_view TIME - the cases edu.case says are overdue at TIME (case_ack_days 7), and
# escalated_at TIME - those the clock escalated at TIME: the sweep's query reads the cases' own
# events, not the view, and must agree with it
overdue_by_view() {
  county_sql "$work" "select coalesce(string_agg(id::text, ',' order by id), '') from edu.case
    where state <> 'closed' and not escalated
      and ((due is not null and due < ('$1'::timestamptz at time zone 'Asia/Shanghai')::date)
        or (state <> 'resolved' and acknowledged_at is null
          and started_at <= '$1'::timestamptz - interval '7 days'))"
}
escalated_at() {
  county_sql "$work" "select coalesce(string_agg(case_id::text, ',' order by case_id), '')
    from edu.case_log where action = 'escalated' and at = '$1'::timestamptz"
}
restart_at() { # restart_at TIME - the county's clock moves to TIME
  export EDU_NOW=$1
  county_stop "$work" aggregator
  county_aggregator_restart "$work" || check_fail "aggregator restart at $1"
  check_wait_for "judged everything" "$work/log/aggregator.log" 20 || check_fail "judgement at $1"
  sleep 0.5 # the response loop's clock runs right after the judgement
}
"$bin/edu-aggregator" -c "$work/aggregator.ini" --check >/dev/null || check_fail "config with supervisors"

county_aggregator_start "$work" || check_fail "aggregator start"
county_feed "$work" "$fixture" >/dev/null || check_fail "the sample county not stored"
sleep 1

# every red warning has its case, each kept at the warning's level
check_eq "$(county_sql "$work" "select count(*) from edu.current_warning w where level = 'red'
  and not exists (select 1 from edu.case c where c.kind = w.kind and c.subject = w.subject
    and c.indicator = w.indicator and c.period = w.period and c.state <> 'closed')")" 0 \
  "every red warning has an open case"
check_eq "$(county_sql "$work" "select count(*) from edu.case c join edu.current_warning w
  on w.kind = c.kind and w.subject = c.subject and w.stage is not distinct from c.stage
  and w.indicator = c.indicator and w.period = c.period
  where c.state <> 'closed' and c.level <> w.level")" 0 \
  "each open case has its warning's level"
check_ne "$(county_sql "$work" "select count(*) from edu.case where case_type = 'verify'")" 0 \
  "data_quality warnings open verification cases (核查)"
check_eq "$(county_sql "$work" "select count(*) from edu.case where kind = 'data_quality'
  and case_type <> 'verify'")" 0 "and only those"

# the item to follow: a school's threshold red on fitness_pass_pct
item=$(county_sql "$work" "select c.id, c.subject, c.period from edu.case c
  where c.kind = 'threshold' and c.indicator = 'fitness_pass_pct' and c.level = 'red'
  order by c.id limit 1")
IFS='|' read -r id school period <<<"$item"
[ -n "$id" ] || check_fail "no red fitness_pass_pct case in the sample"
name=$(awk -F, -v c="$school" '$1 == c { print $2 }' "$fixture/schools.csv" | tr -d '\r')

# reading: a reader's key may list, in Chinese, red first, names beside codes
alerts reader cases --school "$school"
check_eq "$?" 0 "a reader lists the school's cases"
check_grep "^#$id 红色 整改 待确认 $name（$school）$period学年 学生体质健康合格率（fitness_pass_pct）" \
  "$work/out" "in Chinese, names beside codes"
check_eq "$(head -1 "$work/out" | grep -c 红色)" 1 "red first"
alerts reader --format json cases --state open
check_grep '^\{"id" : [0-9]+, "kind" : ' "$work/out" "--format json prints one object a line"

# acting: refused to every class but supervisors, each act, each with its reason, and nothing
# changes in the case or its events
case_now() { # the case as edu.case shows it, and how many events the cases have
  county_sql "$work" "select row(c.*)::text || ' ' || (select count(*) from edu.case_event)
    from edu.case c where c.id = $id"
}
case_before=$(case_now)
refused() { # refused WHO - the reason WHO's key is given
  case $1 in
    reader) echo '这把密钥是只读（reader）密钥，不能办理整改、静默或审核' ;;
    province) echo '这把密钥是省级（province）密钥，不能办理整改、静默或审核' ;;
    # a school's key does not get past the query endpoint's handshake: told so at once
    *) echo '县里的汇聚服务拒绝了本机的密钥：它不在县里登记的只读、督学或省级' ;;
  esac
}
for who in reader province 2143004052; do
  alerts "$who" ack "$id"
  check_eq "$?" 1 "a $who's key cannot acknowledge"
  check_grep "$(refused "$who")" "$work/err" "and is told why ($who, ack)"
  alerts "$who" assign "$id" --to 王五 --due 2025-11-30 --plan 补足培训学时
  check_eq "$?" 1 "a $who's key cannot assign"
  check_grep "$(refused "$who")" "$work/err" "and is told why ($who, assign)"
  alerts "$who" note "$id" 已到校查看
  check_eq "$?" 1 "a $who's key cannot add a note"
  check_grep "$(refused "$who")" "$work/err" "and is told why ($who, note)"
  alerts "$who" close "$id" --note 已整改
  check_eq "$?" 1 "a $who's key cannot close (销号)"
  check_grep "$(refused "$who")" "$work/err" "and is told why ($who, close)"
done
check_eq "$(case_now)" "$case_before" "the refused acts changed neither the case nor any event"
alerts 2143004052 cases
check_eq "$?" 1 "a school's key cannot even read the cases"
alerts province cases
check_eq "$?" 1 "nor can the province's"
alerts province silence --match kind=missing --until 1d --comment x
check_eq "$?" 1 "the province cannot silence"

alerts supervisor ack "$id" --note 已收到
check_eq "$?" 0 "a supervisor acknowledges"
check_grep "已确认 #$id（张督学）" "$work/out" "named as the certificate says"
alerts supervisor assign "$id" --to 王五 --due 2025-11-30 --plan 补足培训学时
check_eq "$?" 0 "and assigns it"
check_eq "$(county_sql "$work" "select state || ' ' || assignee || ' ' || due from edu.case where id = $id")" \
  "assigned 王五 2025-11-30" "the case is assigned, with its responsible person and due date"
check_eq "$(county_sql "$work" "select string_agg(actor || ':' || action, ',' order by id)
  from edu.case_log where case_id = $id")" "system:opened,张督学:acknowledged,张督学:assigned" \
  "every act is an event with its actor"
alerts supervisor close "$id" --note 已整改
check_eq "$?" 1 "销号 is refused while the warning is red"
check_grep '不能销号.*仍为红色' "$work/err" "and says why"
alerts supervisor assign "$id" --to 王五 --due 2025-13-01
check_eq "$?" 1 "a due date that is not a date is refused"
alerts supervisor ack 999999
check_eq "$?" 1 "an unknown case is refused"
check_grep '没有编号为 #999999' "$work/err" "by its number"

# reminders (repeat_interval = 20h): none at the first start, the interval begins then
reminders() { grep -o '【督办提醒】' "$work/robot.jsonl" | wc -l; }
reminders_reach() { # reminders_reach N - waits until the robot has N reminders (15 s at most)
  local i
  for i in $(seq 1 150); do
    [ "$(reminders)" -ge "$1" ] && return 0
    sleep 0.1
  done
  return 1
}
check_eq "$(county_sql "$work" "select count(*) from edu.alert where kind = 'case_reminder'")" 0 \
  "no reminder at the first start"

# overdue: the due date passes, the case is escalated (督办), with a red alert
overdue=$(overdue_by_view 2025-12-02T09:00:00+08:00)
restart_at 2025-12-02T09:00:00+08:00
check_eq "$(escalated_at 2025-12-02T09:00:00+08:00)" "$overdue" \
  "the clock escalates the $(echo "$overdue" | tr ',' '\n' | grep -c .) cases edu.case says are overdue, no other"
reminders_reach 1
check_eq "$(reminders)" 1 "past repeat_interval, the robot gets one reminder, not one per interval missed"
open_red=$(county_sql "$work" "select count(*) from edu.case where level = 'red'
  and state in ('open', 'acknowledged', 'assigned')")
check_eq "$([ "$open_red" -gt 1 ] && echo many)" many "$open_red open red cases"
check_eq "$(county_sql "$work" "select count(*) from edu.alert where kind = 'case_reminder'")" 1 \
  "one reminder for all of them, not one per case"
check_grep "【督办提醒】全县仍有 $open_red 项红色整改事项未销号" "$work/robot.jsonl" \
  "the reminder counts the $open_red open red cases"
check_eq "$(county_sql "$work" "select escalated from edu.case where id = $id")" t \
  "past its due date, the case is escalated"
check_eq "$(county_sql "$work" "select count(*) from edu.alert where kind = 'case_overdue'
  and level = 'red' and message like '%#$id %'")" 1 "with one red case_overdue alert"
check_ne "$(county_sql "$work" "select count(*) from edu.case where escalated and acknowledged_at is null")" 0 \
  "cases not acknowledged within case_ack_days are escalated too"
check_wait_for "case_overdue" "$work/hook.jsonl" 10
check_eq "$?" 0 "the JSON webhook got the case_overdue alert"
alerts supervisor cases --overdue
check_grep "^#$id .*已逾期 · 挂牌督办" "$work/out" "cases --overdue lists it, marked 督办"
restart_at 2025-12-03T09:00:00+08:00
check_eq "$(county_sql "$work" "select count(*) from edu.alert where kind = 'case_overdue'
  and message like '%#$id %'")" 1 "escalated once, not again the next day"
reminders_reach 2
check_eq "$(reminders)" 2 "24 hours later, past the 20-hour repeat_interval, one more reminder"

# a correction makes the warning green: the case is resolved, and then 销号 is accepted
stored=$(county_stored "$work")
printf 'school_code,indicator,period,value\n%s,fitness_pass_pct,%s,96\n' "$school" "$period" \
  >"$work/fix.csv"
county_drop "$work" "$school" "$work/fix.csv"
county_wait_stored "$work" $((stored + 1)) 20 || check_fail "the correction not stored"
sleep 0.5
check_eq "$(county_sql "$work" "select state from edu.case where id = $id")" resolved \
  "green data resolve the case"
alerts supervisor close "$id" --note 已补足培训学时，核实无误
check_eq "$?" 0 "销号 is accepted once green"
check_eq "$(county_sql "$work" "select state from edu.case where id = $id")" closed "the case is closed"
check_eq "$(county_sql "$work" "select count(*) from edu.case_open where case_id = $id")" 0 \
  "and leaves the cases the clock looks at (edu.case_open)"
alerts supervisor ack "$id"
check_eq "$?" 1 "a closed case cannot be acknowledged again"

# 回头看: red again within case_reopen_days reopens the same case, with an alert
printf 'school_code,indicator,period,value\n%s,fitness_pass_pct,%s,40\n' "$school" "$period" \
  >"$work/again.csv"
county_drop "$work" "$school" "$work/again.csv"
county_wait_stored "$work" $((stored + 2)) 20 || check_fail "the relapse not stored"
sleep 0.5
check_eq "$(county_sql "$work" "select state || ' ' || reopened from edu.case where id = $id")" \
  "open 1" "red again reopens the same case (reopened 1)"
check_eq "$(county_sql "$work" "select count(*) from edu.case_open where case_id = $id")" 1 \
  "and is among the cases the clock looks at again"
check_eq "$(county_sql "$work" "select count(*) from edu.alert where kind = 'case_reopened'
  and message like '%#$id %'")" 1 "with a case_reopened alert"
check_eq "$(county_sql "$work" "select count(*) from edu.case where kind = 'threshold'
  and subject = '$school' and indicator = 'fitness_pass_pct' and period = '$period'")" 1 \
  "still one case for the item"

# silences: a matching alert is recorded and goes to machines, held back from people until the
# silence is lifted; then, still firing, it is delivered
other=2143004053
alerts reader silence --match kind=threshold,school=$other --until 2h --comment x
check_eq "$?" 1 "a reader's key cannot silence"
alerts supervisor silence --match kind=threshold,school=$other --until 2h --comment 校舍改造，数据待复核
check_eq "$?" 0 "a supervisor silences a school's threshold alerts"
sid=$(grep -o '已静默 #[0-9]*' "$work/out" | grep -o '[0-9]*')
alerts supervisor silence --match colour=red --until 2h --comment x
check_eq "$?" 1 "an unknown matcher is refused"
alerts supervisor silence --match kind=missing --until 400d --comment x
check_eq "$?" 1 "a silence longer than a year is refused"
alerts reader silences
check_grep "^#$sid 生效中 kind=threshold,school=$other .*张督学 · 校舍改造" "$work/out" \
  "silences lists it with its author and comment"
stored=$(county_stored "$work")
printf 'school_code,indicator,period,value\n%s,training_hours,2025-2026,10\n' "$other" >"$work/silenced.csv"
county_drop "$work" "$other" "$work/silenced.csv"
county_wait_stored "$work" $((stored + 1)) 20 || check_fail "the silenced school's file not stored"
alert=$(county_sql "$work" "select id from edu.alert where kind = 'threshold' and subject = '$other'
  and indicator = 'training_hours' and period = '2025-2026' order by id desc limit 1")
check_wait_for "\"$other\".*training_hours|training_hours.*\"$other\"" "$work/hook.jsonl" 15
check_eq "$?" 0 "the JSON webhook got the silenced alert"
sleep 3
check_eq "$(county_sql "$work" "select count(*) from edu.alert_held where alert_id = $alert")" 1 \
  "people's robot holds it back"
check_eq "$(grep -c "$(county_sql "$work" "select name from edu.school where code = '$other'") 2025-2026学年 教师年均培训时长 10" "$work/robot.jsonl")" 0 \
  "the robot has not heard of it"
silence_now() { county_sql "$work" "select row(s.*)::text from edu.silence s where s.id = $sid"; }
silence_before=$(silence_now)
for who in reader province 2143004052; do
  alerts "$who" unsilence "$sid"
  check_eq "$?" 1 "a $who's key cannot lift a silence"
  check_grep "$(refused "$who")" "$work/err" "and is told why ($who, unsilence)"
done
check_eq "$(silence_now)" "$silence_before" "the refused unsilences left the silence as it was"
check_eq "$(county_sql "$work" "select count(*) from edu.alert_held where alert_id = $alert")" 1 \
  "and it still holds the alert back"
alerts supervisor unsilence "$sid"
check_eq "$?" 0 "the silence is lifted"
check_wait_for '（静默结束，仍在报警）【(红色|黄色)预警】[^"]*教师年均培训时长 10' "$work/robot.jsonl" 15
check_eq "$?" 0 "what still fires reaches the robot once the silence ends"
check_eq "$(county_sql "$work" "select count(*) from edu.case c join edu.current_warning w using (kind, subject, indicator, period)
  where c.kind = 'threshold' and c.subject = '$other' and c.indicator = 'training_hours'
  and c.period = '2025-2026'")" 1 \
  "and the silence never hid the case"

# a silence that runs out by its --until (not lifted): once the clock passes its end, what
# still fires is delivered then
late=2143004055
late_name=$(county_sql "$work" "select name from edu.school where code = '$late'")
alerts supervisor silence --match kind=threshold,school=$late --until 2h --comment 等待复核
check_eq "$?" 0 "a supervisor silences another school's threshold alerts for two hours"
stored=$(county_stored "$work")
printf 'school_code,indicator,period,value\n%s,training_hours,2025-2026,10\n' "$late" >"$work/late.csv"
county_drop "$work" "$late" "$work/late.csv"
county_wait_stored "$work" $((stored + 1)) 20 || check_fail "the second silenced school's file not stored"
late_alert=$(county_sql "$work" "select id from edu.alert where kind = 'threshold' and subject = '$late'
  and indicator = 'training_hours' and period = '2025-2026' order by id desc limit 1")
check_wait_for "\"$late\".*training_hours|training_hours.*\"$late\"" "$work/hook.jsonl" 15
check_eq "$?" 0 "the JSON webhook got the alert of the second silence"
sleep 3
check_eq "$(county_sql "$work" "select count(*) from edu.alert_held where alert_id = $late_alert")" 1 \
  "people's robot holds it back"
check_eq "$(grep -c "$late_name 2025-2026学年 教师年均培训时长 10" "$work/robot.jsonl")" 0 \
  "the robot has not heard of it while the silence runs"
restart_at 2025-12-03T12:00:00+08:00
check_wait_for "（静默结束，仍在报警）【(红色|黄色)预警】[^\"]*$late_name 2025-2026学年 教师年均培训时长 10" \
  "$work/robot.jsonl" 15
check_eq "$?" 0 "three hours later, past its --until, what still fires reaches the robot"
check_eq "$(county_sql "$work" "select count(*) from edu.alert_held where alert_id = $late_alert")" 0 \
  "and is held no more"
check_eq "$(reminders)" 2 "three hours after the last reminder, within repeat_interval, none more"

# a yellow warning opens a case after case_yellow_days (30)
yellow=$(county_sql "$work" "select count(*) from edu.current_warning w where level = 'yellow'
  and kind <> 'data_quality' and not exists (select 1 from edu.case c where c.kind = w.kind
  and c.subject = w.subject and c.indicator = w.indicator and c.period = w.period)")
check_ne "$yellow" 0 "yellow warnings without a case after a few weeks"
restart_at 2025-12-09T12:00:00+08:00
reminders_reach 3
check_eq "$(reminders)" 3 "six days later, one more reminder, not one per interval missed"
check_eq "$(county_sql "$work" "select count(*) from edu.alert where kind = 'case_reminder'")" 3 \
  "three reminders in all"
check_eq "$(county_sql "$work" "select count(*) from edu.current_warning w
  join edu.case_watch cw on cw.kind = w.kind and cw.subject = w.subject
  and cw.stage = coalesce(w.stage, '') and cw.indicator = w.indicator and cw.period = w.period
  where w.level = 'yellow' and cw.yellow_since <= '2025-12-09T12:00:00+08:00'::timestamptz - interval '30 days'
  and not exists (select 1 from edu.case c where c.kind = w.kind and c.subject = w.subject
    and c.indicator = w.indicator and c.period = w.period)")" 0 \
  "after 30 days yellow, each has its case"
check_ne "$(county_sql "$work" "select count(*) from edu.case_log e join edu.case c on c.id = e.case_id
  where e.action = 'opened' and e.level = 'yellow' and c.case_type = 'rectify'")" 0 \
  "cases opened by the yellow rule"

# 评估
alerts reader cases --summary
check_grep '^全县：开单 [0-9]+ 项，按期销号 [0-9]+ 项，逾期督办 [0-9]+ 项' "$work/out" \
  "the evaluation for the county"
check_grep "^$name（$school）：开单" "$work/out" "and per school"

# the first judgement of the empty county reached people as one digest
check_grep '【预警汇总】全县研判完成' "$work/robot.jsonl" "people got a digest of the first judgement"
check_eq "$(head -1 "$work/robot.jsonl" | grep -c '【预警汇总】')" 1 "as its first message"
missing_items=$(grep -o '【红色预警】[^】]*逾期两周以上仍未报送' "$work/robot.jsonl" | wc -l)
check_eq "$([ "$missing_items" -lt 50 ] && echo few)" few \
  "people read $missing_items missing items, not the first judgement's 1 530"
machines=$(county_sql "$work" "select count(*) from edu.alert where audience = 'machines'")
for i in $(seq 1 100); do
  [ "$(grep -c '"kind" : "missing"' "$work/hook.jsonl")" -ge "$machines" ] && break
  sleep 0.1
done
check_eq "$([ "$(grep -c '"kind" : "missing"' "$work/hook.jsonl")" -ge "$machines" ] && echo yes)" yes \
  "the JSON webhook still got each of the $machines items"


# a reopened case is a new cycle: not acknowledged since it reopened, it is escalated again
overdue=$(overdue_by_view 2025-12-20T09:00:00+08:00)
check_eq "$(echo ",$overdue," | grep -c ",$id,")" 1 "case $id, reopened, is overdue again by edu.case"
restart_at 2025-12-20T09:00:00+08:00
check_eq "$(escalated_at 2025-12-20T09:00:00+08:00)" "$overdue" \
  "and the clock escalates it with the others edu.case says are overdue, no other"

# edu.case_open holds exactly the cases not closed, kept by their events; an older schema
# gets it filled from the cases it has (migration 12 again on a schema at 11)
open_mismatch() {
  county_sql "$work" "select count(*) from edu.case c full join edu.case_open o on o.case_id = c.id
    where (c.state <> 'closed') is distinct from (o.case_id is not null)"
}
not_closed=$(county_sql "$work" "select count(*) from edu.case where state <> 'closed'")
check_eq "$([ "$not_closed" -gt 1 ] && echo some)" some "cases to check ($not_closed not closed)"
check_eq "$(open_mismatch)" 0 "edu.case_open holds the $not_closed cases not closed, and no other"
county_stop_all "$work"
# the schema at 11, where case $id is closed again (so the filling has a closed case to leave)
county_sql "$work" "set client_min_messages = warning;
  drop table edu.case_open; drop function edu.case_open_follow() cascade;
  delete from edu.role_grant where objects = 'edu.case_open';
  delete from edu.schema_version where version = 12;
  insert into edu.case_log (case_id, at, actor, action) values ($id, now(), 'x', 'closed')" \
  >/dev/null
"$bin/edu-aggregator" -c "$work/aggregator.ini" migrate >"$work/out" 2>&1
check_eq "$?" 0 "migrate brings the schema from 11 to 12"
check_eq "$(open_mismatch)" 0 "and fills edu.case_open from the cases there are"
check_eq "$(county_sql "$work" "select count(*) from edu.case_open")" "$((not_closed - 1))" \
  "($((not_closed - 1)) cases: case $id is closed)"

check_logs_clean "$work"
check_done
