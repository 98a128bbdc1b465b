#!/bin/bash
# alerts.sh - every change of level reaches the supervisors: the PUB socket, a JSON webhook, a
# DingTalk robot that fails twice before it answers, and e-mail (red only) through an SMTP sink,
# all on loopback; a late supervisor asks what is current; a key that is not among the readers
# hears nothing; an aggregator killed right after a commit still delivers the alert
#
#   alerts.sh BIN_DIR FIXTURE_DIR
set -u
bin=$1 fixture=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/county.sh"
. "$here/../lib/check.sh"

export EDU_NOW=2025-11-08T12:00:00+08:00
work=$(mktemp -d /tmp/edu-alerts.XXXXXX)
pids=()
trap 'county_stop_all "$work"; kill "${pids[@]}" 2>/dev/null; check_keep_on_failure "$work"' EXIT
port=$(check_free_port)
county_init "$work" "$bin" "$fixture" "alerts_$$" "$port" || check_fail "county setup"
# the sinks, each on a port of its own choosing
start_sink() { # start_sink NAME ARGS... - sets the variable NAME to its port
  python3 "$here/../lib/sinks.py" "${@:2}" >"$work/log/$1.ready" 2>"$work/log/$1.log" &
  pids+=($!)
  check_wait_for ready "$work/log/$1.ready" 5 || check_fail "sink $1 did not start"
  printf -v "$1" '%s' "$(awk '{ print $2 }' "$work/log/$1.ready")"
}
start_sink hook http 0 "$work/hook.jsonl"
start_sink robot http 0 "$work/robot.jsonl" 2
start_sink smtp smtp 0 "$work/mail"
start_sink wecom http 0 "$work/wecom.jsonl"
sed -i 's/^\[aggregator\]$/[aggregator]\nalert_group_wait_ms = 4000/' "$work/aggregator.ini"
cat >>"$work/aggregator.ini" <<INI
[webhook.json]
url = http://127.0.0.1:$hook/hook
format = json
[webhook.robot]
url = http://127.0.0.1:$robot/robot
format = dingtalk
[webhook.wecom]
url = http://127.0.0.1:$wecom/wecom
format = wecom
min_level = red
[smtp]
url = smtp://127.0.0.1:$smtp
from = eduwatch@county.example
[email.chief]
to = chief@county.example
min_level = red
INI
"$bin/edu-aggregator" -c "$work/aggregator.ini" --check >/dev/null || check_fail "config with destinations"

# a supervisor among the readers, and a stranger who is not
for who in supervisor stranger; do
  "$bin/edu-keygen" --out "$work/keys/secret" "$who" >/dev/null
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
cp "$work/keys/secret/supervisor" "$work/keys/readers/supervisor"

county_aggregator_start "$work" || check_fail "aggregator start"
for who in supervisor stranger; do
  "$bin/edu-alerts" -c "$work/$who.ini" watch >"$work/$who.jsonl" 2>"$work/log/watch-$who.log" &
  pids+=($!)
done
"$bin/edu-alerts" -c "$work/supervisor.ini" --format text watch >"$work/supervisor.txt" \
  2>"$work/log/watch-text.log" &
pids+=($!)
sleep 1.5 # the subscriptions reach the aggregator; the start-up judgement is done
first=$(county_sql "$work" "select coalesce(max(id), 0) from edu.alert")

county_feed "$work" "$fixture" >/dev/null || check_fail "the sample county not stored"
# alerts of the warnings (the response loop adds alerts of its own: cases, digests, reminders)
total=$(county_sql "$work" "select count(*) from edu.alert where kind not in ('judgement_digest',
  'case_reminder', 'case_overdue', 'case_reopened')")
check_eq "$total" "$(county_sql "$work" "select count(*) from edu.warning_transition")" \
  "one alert per change of level ($total)"
check_eq "$(county_sql "$work" "select count(*) from edu.alert a join edu.warning_transition t
  using (id) where a.level = t.to_level and a.previous_level = t.from_level")" "$total" \
  "each alert is its change of level"

# wait_lines FILE N - until FILE has N lines
wait_lines() {
  for i in $(seq 1 200); do
    [ "$(wc -l <"$1" 2>/dev/null || echo 0)" -ge "$2" ] && return 0
    sleep 0.1
  done
  return 1
}
ids() { grep -o '"alert_id" : "[0-9]*-[0-9]*"' "$1" | grep -o '[0-9]*-[0-9]*"' | tr -d '"' | sort; }
# digests and reminders are for people (audience people): machines get every item instead
county_sql "$work" "select county || '-' || id from edu.alert where audience <> 'people'" | sort \
  >"$work/want-all"
county_sql "$work" "select county || '-' || id from edu.alert where id > $first
  and audience <> 'people'" | sort >"$work/want-fed"

wait_lines "$work/hook.jsonl" "$(wc -l <"$work/want-all")"
ids "$work/hook.jsonl" >"$work/got-hook"
check_same_file "$work/want-all" "$work/got-hook" "the JSON webhook got every alert exactly once"
check_grep '"message" : "【(红色|黄色)预警】' "$work/hook.jsonl" "the alert object carries the Chinese message"

fed=$(wc -l <"$work/want-fed")
wait_lines "$work/supervisor.jsonl" "$fed"
ids "$work/supervisor.jsonl" | sort -u >"$work/got-watch"
comm -23 "$work/want-fed" "$work/got-watch" >"$work/missed-watch"
check_eq "$(wc -l <"$work/missed-watch")" 0 "edu-alerts watch printed every alert raised while it listened ($fed)"
check_grep '^【(红色|黄色)预警】' "$work/supervisor.txt" "edu-alerts --format text prints the message"
check_eq "$(wc -l <"$work/stranger.jsonl")" 0 "a key that is not among the readers hears nothing"
check_grep 'refused key .* on "alerts"' "$work/log/aggregator.log" "the gate refused the stranger's key"

# the robot answered 500 twice, then took grouped markdown messages
for i in $(seq 1 100); do
  [ "$(county_sql "$work" "select last_id from edu.alert_destination where name = 'webhook.robot'")" \
    = "$(county_sql "$work" "select max(id) from edu.alert")" ] && break
  sleep 0.1
done
check_eq "$(county_sql "$work" "select last_id = (select max(id) from edu.alert) and attempts = 0
  from edu.alert_destination where name = 'webhook.robot'")" t "the robot has every alert after its failures"
check_grep 'webhook.robot: .*HTTP 500; trying again' "$work/log/aggregator.log" "the robot's 500 was retried"
check_grep '^\{"msgtype" : "markdown", "markdown" : \{"title" : "县 430405 预警变化 [0-9]+ 条' \
  "$work/robot.jsonl" "the robot got DingTalk markdown messages with a count"
check_ne "$(wc -l <"$work/robot.jsonl")" "$total" "a burst goes to the robot as one message, not one per alert"

# red silences yellow: where one batch raised the same school, indicator and period both red
# (say threshold) and yellow (say data_quality), and it is red still, the robot got no yellow
county_sql "$work" "select distinct '【黄色预警】' || y.subject_name || ' ' || y.period || '学年 '
    || y.indicator_name || ' '
  from edu.alert y join edu.alert r using (batch, subject, indicator, period)
  where y.level = 'yellow' and r.level = 'red' and exists (select 1 from edu.warning_state s
    where s.subject = y.subject and s.indicator = y.indicator and s.period = y.period
      and s.level = 'red')" >"$work/silenced"
check_ne "$(wc -l <"$work/silenced")" 0 "the sample has yellow alerts raised with a red one"
check_eq "$(grep -cFf "$work/silenced" "$work/robot.jsonl")" 0 "red silenced their yellow for the robot"
check_ne "$(grep -cFf "$work/silenced" "$work/hook.jsonl")" 0 \
  "the JSON webhook, for machines, still gets those yellow alerts"

# a flap: an item that meets its target turns yellow and back within the group wait: the
# robot reports it once, as resolved
item=$(county_sql "$work" "select c.school_code, c.indicator, c.period from edu.current_observation c
  where c.indicator = 'training_hours' and c.value >= 80 and c.period = '2025-2026'
  order by 1 limit 1")
IFS='|' read -r school indicator period <<<"$item"
[ -n "$school" ] || check_fail "no green item to flap"
name=$(awk -F, -v c="$school" '$1 == c { print $2 }' "$fixture/schools.csv" | tr -d '\r')
stored=$(county_stored "$work")
for value in 70 85; do
  printf 'school_code,indicator,period,value\n%s,%s,%s,%s\n' "$school" "$indicator" "$period" \
    "$value" >"$work/flap-$value.csv"
  county_drop "$work" "$school" "$work/flap-$value.csv"
  stored=$((stored + 1))
  county_wait_stored "$work" "$stored" 10 || check_fail "flap not stored"
done
check_eq "$(county_sql "$work" "select string_agg(level, ',' order by id) from edu.alert
  where subject = '$school' and indicator = '$indicator' and period = '$period'
    and kind = 'threshold'")" "yellow,green" "the flap made two alerts"
robot_through() { county_sql "$work" "select last_id from edu.alert_destination where name = 'webhook.robot'"; }
last=$(county_sql "$work" "select max(id) from edu.alert")
for i in $(seq 1 100); do [ "$(robot_through)" -ge "$last" ] && break; sleep 0.1; done
check_eq "$(grep -o "$name $period学年 教师年均培训时长 70小时，未达到标准" "$work/robot.jsonl" | wc -l)" 0 \
  "the robot did not hear of the flap's yellow"
check_eq "$(grep -o "【预警解除】$name $period学年 教师年均培训时长 85小时，已恢复正常（原黄色预警）" \
  "$work/robot.jsonl" | wc -l)" 1 "the robot heard of the flap once, as resolved"

# the WeCom robot (min_level = red) gets WeCom markdown, red only
check_grep '^\{"msgtype" : "markdown", "markdown" : \{"content" : "### 县 430405 预警变化' \
  "$work/wecom.jsonl" "the WeCom robot got WeCom markdown messages"
check_no_grep '【黄色预警】' "$work/wecom.jsonl" "no yellow alert for a min_level = red robot"

# e-mail, min_level = red: only red alerts and resolutions of red ones
for i in $(seq 1 100); do ls "$work"/mail/*.eml >/dev/null 2>&1 && break; sleep 0.1; done
cat "$work"/mail/*.eml >"$work/mail.all" 2>/dev/null
check_grep '^Subject: =\?UTF-8\?B\?' "$work/mail.all" "mail has an encoded Chinese subject"
check_grep '^X-Envelope-To: <chief@county.example>' "$work/mail.all" "mail goes to the chief inspector"
check_grep '^【红色预警】' "$work/mail.all" "red alerts are mailed"
check_no_grep '^【黄色预警】' "$work/mail.all" "no yellow alert is mailed with min_level = red"

# a late supervisor asks what is current
"$bin/edu-alerts" -c "$work/supervisor.ini" current >"$work/current" 2>"$work/current.err"
check_eq "$(wc -l <"$work/current")" "$(county_sql "$work" "select count(*) from edu.current_warning")" \
  "edu-alerts current prints every yellow and red warning"
"$bin/edu-alerts" -c "$work/stranger.ini" current >/dev/null 2>"$work/stranger.err"
check_ne "$?" 0 "a stranger cannot ask what is current"

# revoking a reader's key: its file leaves the readers directory, the next handshake fails
rm "$work/keys/readers/supervisor"
"$bin/edu-alerts" -c "$work/supervisor.ini" current >/dev/null 2>"$work/revoked.err"
check_ne "$?" 0 "a revoked key can no longer ask what is current"
cp "$work/keys/secret/supervisor" "$work/keys/readers/supervisor"

# SIGKILL right after a commit: the webhook is down, a correction turns a red item green, the
# aggregator dies before it could deliver; once restarted (and the webhook up) it delivers.
touch "$work/hook.jsonl.down"
item=$(county_sql "$work" "select subject, indicator, period from edu.current_warning
  where kind = 'threshold' and level = 'red' and period = '2025-2026'
    and indicator = 'bachelor_teacher_pct' order by 1 limit 1")
IFS='|' read -r school indicator period <<<"$item"
[ -n "$school" ] || check_fail "no red item to correct"
before=$(county_sql "$work" "select max(id) from edu.alert")
printf 'school_code,indicator,period,value\n%s,%s,%s,95\n' "$school" "$indicator" "$period" \
  >"$work/fix.csv"
county_drop "$work" "$school" "$work/fix.csv"
for i in $(seq 1 200); do
  [ "$(county_sql "$work" "select count(*) from edu.alert where id > $before")" -gt 0 ] && break
  sleep 0.05
done
county_stop "$work" aggregator KILL
new=$(county_sql "$work" "select county || '-' || id from edu.alert where id > $before and
  subject = '$school' and indicator = '$indicator' and level = 'green'")
check_ne "$new" "" "the correction's alert was committed before the kill"
check_no_grep "\"$new\"" "$work/hook.jsonl" "and not delivered before it"
rm -f "$work/hook.jsonl.down"
county_aggregator_restart "$work" || check_fail "aggregator restart"
check_wait_for "\"$new\"" "$work/hook.jsonl" 20
check_grep "\"$new\"" "$work/hook.jsonl" "after the restart the alert is delivered"

# a destination added later hears what happens from then on, not the county's history
start_sink late http 0 "$work/late.jsonl"
printf '[webhook.late]\nurl = http://127.0.0.1:%s/late\nformat = json\n' "$late" >>"$work/aggregator.ini"
county_stop "$work" aggregator
county_aggregator_restart "$work" || check_fail "aggregator restart with a new webhook"
before=$(county_sql "$work" "select max(id) from edu.alert")
school=$(county_sql "$work" "select subject from edu.current_warning where kind = 'threshold'
  and level = 'red' and indicator = 'bachelor_teacher_pct' order by 1 limit 1")
period=$(county_sql "$work" "select period from edu.current_warning where kind = 'threshold'
  and level = 'red' and indicator = 'bachelor_teacher_pct' and subject = '$school' limit 1")
printf 'school_code,indicator,period,value\n%s,bachelor_teacher_pct,%s,99\n' "$school" "$period" \
  >"$work/late.csv"
county_drop "$work" "$school" "$work/late.csv"
for i in $(seq 1 100); do
  [ "$(county_sql "$work" "select count(*) from edu.alert where id > $before")" -gt 0 ] && break
  sleep 0.1
done
new=$(county_sql "$work" "select count(*) from edu.alert where id > $before")
wait_lines "$work/late.jsonl" "$new"
check_eq "$(wc -l <"$work/late.jsonl")" "$new" "a webhook added later gets only the alerts raised after it ($new)"

county_stop_all "$work"
check_logs_clean "$work"
check_done
