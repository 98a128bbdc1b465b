#!/bin/bash
# robots.sh - alerts that really reach the group: local DingTalk, WeCom and Feishu robots that
# answer HTTP 200 with their verdict in the body, check signatures, keywords, size and rate.
# Nothing is marked delivered until a robot says errcode 0: a robot whose secret is wrong
# refuses (reported once at error level, retried slowly) until the secret is mended; a robot
# that says "too fast" is left alone for its window; a robot that takes 3 messages a minute
# gets no more, the alerts meanwhile going out together. No credential of a URL or of the SMTP
# server reaches a log line, --check's words, the cursor's last error or the metrics.
#
#   robots.sh BIN_DIR FIXTURE_DIR
set -u
bin=$1 fixture=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/county.sh"
. "$here/../lib/check.sh"

export EDU_NOW=2025-11-08T12:00:00+08:00
work=$(mktemp -d /tmp/edu-robots.XXXXXX)
pids=()
trap 'county_stop_all "$work"; kill "${pids[@]}" 2>/dev/null; check_keep_on_failure "$work"' EXIT
port=$(check_free_port 5)
county_init "$work" "$bin" "$fixture" "robots_$$" "$port" || check_fail "county setup"
start_sink() { # start_sink NAME ARGS... - sets the variable NAME to its port
  python3 "$here/../lib/sinks.py" "${@:2}" >"$work/log/$1.ready" 2>"$work/sink-$1.log" &
  pids+=($!)
  check_wait_for ready "$work/log/$1.ready" 5 || check_fail "sink $1 did not start"
  printf -v "$1" '%s' "$(awk '{ print $2 }' "$work/log/$1.ready")"
}
# the secrets of this run: none may appear where people or machines read
ding_secret=SECd1ngs1gn4tur3 feishu_secret=f3ishuS1gn keyword=督导
secrets=(SECwr0ngs3cr3t "$ding_secret" "$feishu_secret" D1NGT0KEN F3ISHUT0KEN W3C0MKEY
  H00KPASS L3AKT0KEN L0STT0KEN SMTPPASS JS0NPASS JS0NT0KEN CH3CKPASS CH3CKT0KEN)

start_sink signed robot 0 "$work/signed.jsonl" dingtalk --secret "$ding_secret" --keyword "$keyword"
start_sink feishu robot 0 "$work/feishu.jsonl" feishu --secret "$feishu_secret" \
  --keyword "$keyword" --per-minute 100
touch "$work/wecom.jsonl.throttle"
start_sink wecom robot 0 "$work/wecom.jsonl" wecom
start_sink json http 0 "$work/json.jsonl"
touch "$work/json.jsonl.down"
start_sink smtp smtp 0 "$work/mail" --refuse-auth
closed=$(check_free_port 1) # nothing listens there
# digest_items: the start-up judgement reaches people item by item here, a long burst the
# robots must split and pace (it_cases shows the digest)
county_set "$work/aggregator.ini" aggregator 'alert_group_wait_ms = 200' \
  "http = 127.0.0.1:$((port + 3))" 'digest_items = 1000000'

cat >>"$work/aggregator.ini" <<INI
[webhook.signed]
url = http://127.0.0.1:$signed/robot/send?access_token=D1NGT0KEN
format = dingtalk
secret = SECwr0ngs3cr3t
keyword = $keyword
min_level = red
max_per_minute = 600
[webhook.feishu]
url = http://127.0.0.1:$feishu/open-apis/bot/v2/hook/F3ISHUT0KEN
format = feishu
secret = $feishu_secret
keyword = $keyword
[webhook.wecom]
url = http://127.0.0.1:$wecom/cgi-bin/webhook/send?key=W3C0MKEY
format = wecom
min_level = red
max_per_minute = 600
throttled_wait_s = 1
[webhook.leaky]
url = http://robot:H00KPASS@127.0.0.1:$closed/robot/send?access_token=L3AKT0KEN
format = dingtalk
secret = $ding_secret
[webhook.lost]
url = http://127.0.0.1:$closed/open-apis/bot/v2/hook/L0STT0KEN
format = feishu
[webhook.json]
url = http://hook:JS0NPASS@127.0.0.1:$json/hook?access_token=JS0NT0KEN
[smtp]
url = smtp://mailer:SMTPPASS@127.0.0.1:$smtp
from = eduwatch@county.example
[email.chief]
to = chief@county.example
min_level = red
INI
"$bin/edu-aggregator" -c "$work/aggregator.ini" --check >"$work/check.out" 2>&1
check_eq "$?" 0 "the robots' settings pass --check"
# a mistake in a URL is shown without its credentials
sed 's|^url = http://hook:JS0NPASS@.*|url = ftp://u:CH3CKPASS@127.0.0.1/x?access_token=CH3CKT0KEN|' \
  "$work/aggregator.ini" >"$work/bad.ini"
"$bin/edu-aggregator" -c "$work/bad.ini" --check >"$work/log/check-bad.out" 2>&1
check_ne "$?" 0 "--check refuses an ftp:// webhook"
check_grep 'bad.ini:[0-9]+: url = "ftp://u:\*\*\*@127.0.0.1/x\?access_token=\*\*\*" is not an http' \
  "$work/log/check-bad.out" "--check names the line and shows the URL redacted"
printf '[webhook.w]\nurl = http://h/x\nformat = wecom\nsecret = %s\n' "$ding_secret" \
  >"$work/wecom-secret.ini"
cat "$work/aggregator.ini" "$work/wecom-secret.ini" >"$work/bad2.ini"
"$bin/edu-aggregator" -c "$work/bad2.ini" --check >"$work/log/check-bad2.out" 2>&1
check_ne "$?" 0 "--check refuses a secret for a WeCom robot, which cannot sign"
check_grep 'cannot sign with format = wecom' "$work/log/check-bad2.out" "and says why"

county_aggregator_start "$work" || check_fail "aggregator start"
cursor() { county_sql "$work" "select last_id from edu.alert_destination where name = 'webhook.$1'"; }
last_error() {
  county_sql "$work" "select coalesce(last_error, '') from edu.alert_destination
    where name = 'webhook.$1'"
}
# wait_sql SQL [SECONDS] - until the query answers t
wait_sql() {
  local until=$((SECONDS + ${2:-20}))
  while [ $SECONDS -lt $until ]; do
    [ "$(county_sql "$work" "$1")" = t ] && return 0
    sleep 0.1
  done
  return 1
}
# the county's start-up judgement raises the overdue reports as alerts
wait_sql "select count(*) > 100 from edu.alert" || check_fail "no alerts at start"
sleep 1 # the start-up judgement is committed whole
total=$(county_sql "$work" "select max(id) from edu.alert")
start=$(cursor signed)

# Feishu: signed and with its keyword, every alert in messages within its size, none refused
wait_sql "select last_id = $total from edu.alert_destination where name = 'webhook.feishu'" 60
check_eq "$(cursor feishu)" "$total" "the Feishu robot took every alert"
check_eq "$(grep -vc '^0 ' "$work/feishu.jsonl.answers")" 0 \
  "the Feishu robot refused nothing: its signature and keyword were right"
check_ne "$(wc -l <"$work/feishu.jsonl")" 1 "a long burst goes out as several messages"
check_eq "$(awk 'length($0) > 20480' "$work/feishu.jsonl" | wc -l)" 0 "each within 20 KB"
check_grep '"msg_type":"post".*"title":"督导 县 430405 预警变化' "$work/feishu.jsonl" \
  "Feishu gets post messages, the keyword in their title"

# DingTalk with a wrong secret: refused with errcode 310000 in an HTTP 200, never delivered
wait_sql "select last_error like '%310000%' from edu.alert_destination
  where name = 'webhook.signed'" 20 || check_fail "the signed robot was not tried"
check_eq "$(cursor signed)" "$start" "nothing is marked delivered while the robot refuses (HTTP 200, errcode 310000)"
check_eq "$(grep -c . "$work/signed.jsonl" 2>/dev/null || echo 0)" 0 "the robot took nothing"
check_grep '^310000 sign not match' "$work/signed.jsonl.answers" "the robot checked the signature"
check_grep 'error deliver: webhook.signed: the DingTalk robot at "http://127.0.0.1:[0-9]+/robot/send\?access_token=\*\*\*" refused the message: errcode 310000' \
  "$work/log/aggregator.log" "the refusal is reported at error level, naming the robot with its token hidden"

# WeCom says "too fast" (45009): not delivered, tried again after throttled_wait_s
wait_sql "select last_error like '%45009%' from edu.alert_destination
  where name = 'webhook.wecom'" 20 || check_fail "the WeCom robot was not tried"
check_eq "$(cursor wecom)" "$start" "nothing is marked delivered while the robot says too fast"
check_grep 'warn  deliver: webhook.wecom: .*errcode 45009.*; waiting 1 s' "$work/log/aggregator.log" \
  "the robot's rate limit is reported and waited out"
rm "$work/wecom.jsonl.throttle"
wait_sql "select last_id = $total from edu.alert_destination where name = 'webhook.wecom'" 60
check_eq "$(cursor wecom)" "$total" "once the robot takes messages again, every alert is delivered"
check_eq "$(awk '$1 == 0' "$work/wecom.jsonl.answers" | wc -l)" "$(wc -l <"$work/wecom.jsonl")" \
  "what the robot took is what it answered errcode 0 to"

# the destinations that fail, for the secrets below
wait_sql "select count(*) = 4 from edu.alert_destination where name in ('webhook.leaky',
  'webhook.lost', 'webhook.json', 'email.chief') and attempts >= 1" 30 ||
  check_fail "not every failing destination was tried"
check_eq "$(grep -c 'error deliver: webhook.signed:' "$work/log/aggregator.log")" 1 \
  "a refusal is reported at error level once"

# the secret mended and a robot that takes 3 messages a minute added: the signed robot gets
# every alert, the paced one never more than 3 a minute, the rest merged
county_stop "$work" aggregator
start_sink paced robot 0 "$work/paced.jsonl" dingtalk --per-minute 3
sed -i "s/^secret = SECwr0ngs3cr3t/secret = $ding_secret/" "$work/aggregator.ini"
printf '[webhook.paced]\nurl = http://127.0.0.1:%s/robot/send?access_token=D1NGT0KEN\nformat = dingtalk\nmax_per_minute = 3\n' \
  "$paced" >>"$work/aggregator.ini"
county_aggregator_restart "$work" || check_fail "aggregator restart"
wait_sql "select last_id = $total from edu.alert_destination where name = 'webhook.signed'" 60
check_eq "$(cursor signed)" "$total" "with the right secret the DingTalk robot took every alert"
check_eq "$(awk '$1 != 0 && $1 != 310000' "$work/signed.jsonl.answers" | wc -l)" 0 \
  "and refused nothing else (signature, keyword, size)"
check_grep '"title" : "督导 县 430405 预警变化' "$work/signed.jsonl" "the keyword is in every title"
check_eq "$(grep -vc '督导' "$work/signed.jsonl")" 0 "in every message"

school=$(awk -F, 'NR == 2 { print $1 }' "$fixture/schools.csv")
county_collector_start "$work" "$school"
stored=0
drop() { # drop INDICATOR - one report of the school, stored (so: one batch, one commit)
  printf 'school_code,indicator,period,value\n%s,%s,2025-2026,50\n' "$school" "$1" >"$work/$1.csv"
  county_drop "$work" "$school" "$work/$1.csv"
  stored=$((stored + 1))
  county_wait_stored "$work" "$stored" 20 || check_fail "$1 not stored"
}
wait_lines() { # wait_lines FILE N [SECONDS]
  local until=$((SECONDS + ${3:-20}))
  while [ $SECONDS -lt $until ]; do
    [ "$(grep -c . "$1" 2>/dev/null || echo 0)" -ge "$2" ] && return 0
    sleep 0.1
  done
  return 1
}
n=0
for indicator in training_hours psych_teacher_pct inquiry_learning_pct; do
  drop "$indicator"
  n=$((n + 1))
  wait_lines "$work/paced.jsonl" "$n" || check_fail "the paced robot did not get message $n"
done
for indicator in parent_satisfaction_pct backbone_rotation_pct bachelor_teacher_pct; do
  drop "$indicator"
done
last=$(county_sql "$work" "select max(id) from edu.alert")
wait_sql "select last_id = $last from edu.alert_destination where name = 'webhook.paced'" 120
check_eq "$(cursor paced)" "$last" "the paced robot got every alert"
check_eq "$(grep -c . "$work/paced.jsonl")" 4 "six reports in a minute went out as four messages"
check_eq "$(grep -vc '^0 ' "$work/paced.jsonl.answers")" 0 "the robot never had to say too fast"
tail -1 "$work/paced.jsonl" >"$work/paced.last"
check_eq "$(grep -c '社会认可度' "$work/paced.last")$(grep -c '骨干教师交流轮岗比例' "$work/paced.last")$(grep -c '本科及以上学历教师占比' "$work/paced.last")" \
  111 "the three reports that waited went out together, in the last message"

# no secret anywhere people or machines read
curl -s "http://127.0.0.1:$((port + 3))/metrics" >"$work/log/metrics.out"
curl -s "http://127.0.0.1:$((port + 3))/api/alerts" >"$work/log/api-alerts.out"
check_grep 'edu_alerts_pending\{destination="webhook.leaky"\}' "$work/log/metrics.out" \
  "the metrics name the destinations"
county_sql "$work" "select name || ': ' || coalesce(last_error, '') from edu.alert_destination" \
  >"$work/log/last_errors.out"
check_grep '^webhook.leaky: could not POST to "http://robot:\*\*\*@127.0.0.1:[0-9]+/robot/send\?access_token=\*\*\*": ' \
  "$work/log/last_errors.out" "a failing webhook's error shows its URL redacted"
check_grep '^webhook.lost: could not POST to "http://127.0.0.1:[0-9]+/open-apis/bot/v2/hook/\*\*\*"' \
  "$work/log/last_errors.out" "a Feishu robot's token in its path too"
check_grep '^webhook.json: "http://hook:\*\*\*@127.0.0.1:[0-9]+/hook\?access_token=\*\*\*" answered HTTP 500' \
  "$work/log/last_errors.out" "a webhook that answers 500 too"
check_grep '^email.chief: could not mail chief@county.example through "smtp://mailer:\*\*\*@127.0.0.1:[0-9]+": Login denied' \
  "$work/log/last_errors.out" "an SMTP server that refuses the login: its password hidden"
county_stop_all "$work"
for s in "${secrets[@]}"; do
  found=$(grep -rlF -- "$s" "$work/log" "$work/check.out" 2>/dev/null)
  check_eq "$found" "" "no log line, --check output, last error or metrics holds $s"
done
check_logs_clean "$work"
check_done
