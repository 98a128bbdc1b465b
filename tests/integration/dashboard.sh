#!/bin/bash
# dashboard.sh - the aggregator's and a collector's Prometheus metrics count what happened, and
# the dashboard page, rendered by headless Chromium, shows the sample county's red cells
#
#   dashboard.sh BIN_DIR FIXTURE_DIR
set -u
bin=$1 fixture=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/county.sh"
. "$here/../lib/check.sh"

export EDU_NOW=2025-11-08T12:00:00+08:00
work=$(mktemp -d /tmp/edu-dashboard.XXXXXX)
trap 'county_stop_all "$work"; check_keep_on_failure "$work"' EXIT
port=$(check_free_port 4) # the county's three and the dashboard's
county_init "$work" "$bin" "$fixture" "dashboard_$$" "$port" || check_fail "county setup"
http=$((port + 3))
sed -i "s/^\[aggregator\]$/[aggregator]\nhttp = 127.0.0.1:$http/" "$work/aggregator.ini"
school=2143004053 # a school with a refusal in bad.csv
cmetrics=$((http + 1))
sed -i "s/^\[collector\]$/[collector]\nmetrics = 127.0.0.1:$cmetrics/" "$work/schools/$school/collector.ini"
county_aggregator_start "$work" || check_fail "aggregator start"
county_feed "$work" "$fixture" >/dev/null || check_fail "the sample county not stored"

scrape() { curl -sf "http://127.0.0.1:$1/metrics"; }
metric() { # metric PORT NAME_WITH_LABELS - its value, or "none"
  scrape "$1" | awk -v m="$2" '$1 == m { print $2; found = 1 } END { if (!found) print "none" }'
}
accepted=$(county_sql "$work" "select count(*) from edu.observation")
check_eq "$(metric "$http" 'edu_records_stored_total{result="accepted"}')" "$accepted" \
  "aggregator: accepted records counted"
check_eq "$(metric "$http" 'edu_records_stored_total{result="refused"}')" \
  "$(county_sql "$work" "select count(*) from edu.rejected_record")" "aggregator: refused records counted"
check_eq "$(metric "$http" 'edu_records_refused_total{reason="out_of_range"}')" 2 \
  "aggregator: refusals by reason"
check_ne "$(metric "$http" 'edu_commit_seconds_count')" none "aggregator: commit latency histogram"
check_eq "$(metric "$http" 'edu_schools_connected')" 30 "aggregator: 30 schools connected"
check_eq "$(metric "$http" 'edu_warnings{level="red",kind="threshold"}')" \
  "$(county_sql "$work" "select count(*) from edu.current_warning where level = 'red' and kind = 'threshold'")" \
  "aggregator: warnings by level and kind"
check_eq "$(metric "$http" 'edu_alerts_pending{destination="pub"}')" 0 "aggregator: no alert pending on PUB"

# the counts move
printf 'school_code,indicator,period,value\n%s,training_hours,2025-2026,81\n' "$school" >"$work/more.csv"
stored=$(county_stored "$work")
county_drop "$work" "$school" "$work/more.csv"
county_wait_stored "$work" $((stored + 1)) 20 || check_fail "more not stored"
check_eq "$(metric "$http" 'edu_records_stored_total{result="accepted"}')" $((accepted + 1)) \
  "aggregator: the accepted count moves with a new batch"

# the collector
rows=$(tr -d '\r' <"$fixture/data-$school.csv" | tail -n +2 | grep -c .)
check_eq "$(metric "$cmetrics" 'edu_collector_files_taken_total')" 3 "collector: files taken (data, bad row, more)"
check_eq "$(metric "$cmetrics" 'edu_collector_records_spooled_total')" $((rows + 2)) "collector: records spooled"
check_eq "$(metric "$cmetrics" 'edu_collector_spool_pending_records')" 0 "collector: nothing pending"
check_eq "$(metric "$cmetrics" 'edu_collector_refusals_total{reason="out_of_range"}')" 1 \
  "collector: the county's refusal counted"

# the JSON and the page
curl -sf "http://127.0.0.1:$http/api/matrix" >"$work/matrix.json"
check_grep '"name" : "第2学校"' "$work/matrix.json" "the matrix names the schools"
check_grep '"red"' "$work/matrix.json" "the matrix has red cells"
curl -sf "http://127.0.0.1:$http/api/dispersion" >"$work/dispersion.json"
check_grep '"level" : "red"' "$work/dispersion.json" "dispersion shows the red CV"
check_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$http/nothing")" 404 "unknown paths are 404"
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  check_fail "chromium is not installed (tests/run.sh installs it)"
fi
"$browser" --headless --no-sandbox --disable-gpu --virtual-time-budget=10000 \
  --dump-dom "http://127.0.0.1:$http/" >"$work/dom.html" 2>"$work/log/chromium.log"
red=$(tr -d '\n' <"$work/dom.html" | grep -o '<table id="matrix">.*</table>' |
  sed 's|</table>.*||' | grep -o '<td class="red"' | wc -l)
want=$(county_sql "$work" "select count(distinct (subject, indicator)) from edu.warning_state w
  join edu.school s on s.code = w.subject join edu.indicator i on i.code = w.indicator
  where level = 'red' and period = (select max(period) from edu.current_value)")
check_eq "$red" "$want" "the rendered page has a red cell per red school and indicator ($want)"
check_grep '第2学校' "$work/dom.html" "the rendered page names the schools"
check_grep '校际差异系数' "$work/dom.html" "the rendered page has the dispersion table"
"$browser" --headless --no-sandbox --disable-gpu --virtual-time-budget=10000 --hide-scrollbars \
  --window-size=1500,1400 --screenshot="$work/dashboard.png" "http://127.0.0.1:$http/" \
  >>"$work/log/chromium.log" 2>&1
check_eq "$(head -c 8 "$work/dashboard.png" 2>/dev/null | od -An -c | tr -d ' ')" '211PNG\r\n032\n' \
  "a screenshot of the page is a PNG"
[ -n "${EDU_SCREENSHOT:-}" ] && cp "$work/dashboard.png" "$EDU_SCREENSHOT"

county_stop_all "$work"
check_logs_clean "$work"
check_done
