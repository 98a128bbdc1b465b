#!/bin/bash
# metrics.sh - the aggregator's and a collector's /metrics are well-formed exposition: one
# family per TYPE with all its samples after its own header (tests/lib/promcheck.py, and
# `promtool check metrics` where EDU_PROMTOOL or PATH has it), series kept at zero (a red
# warning resolved reads 0, refusal reasons read 0 before the first), edu_build_info; and the
# aggregator, started as systemd starts it with stderr on the journal (JOURNAL_STREAM), logs
# with priority prefixes instead of timestamps
#
#   metrics.sh BIN_DIR FIXTURE_DIR
set -u
bin=$1 fixture=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/county.sh"
. "$here/../lib/check.sh"

export EDU_NOW=2025-11-08T12:00:00+08:00
work=$(mktemp -d /tmp/edu-metrics.XXXXXX)
trap 'county_stop_all "$work"; check_keep_on_failure "$work"' EXIT
port=$(check_free_port 5) # the county's three, the aggregator's http, the collector's metrics
county_init "$work" "$bin" "$fixture" "metrics_$$" "$port" || check_fail "county setup"
http=$((port + 3)) cmetrics=$((port + 4))
county_set "$work/aggregator.ini" aggregator "http = 127.0.0.1:$http"
school=2143004053 # a primary school of the sample county
county_set "$work/schools/$school/collector.ini" collector "metrics = 127.0.0.1:$cmetrics"

# stderr is "the journal": a file whose device and inode JOURNAL_STREAM names, as systemd
# sets it for a unit with StandardError=journal
: >"$work/log/aggregator.log"
JOURNAL_STREAM=$(stat -c '%d:%i' "$work/log/aggregator.log") county_aggregator_start "$work" ||
  check_fail "aggregator start"
county_collector_start "$work" "$school"

promtool=${EDU_PROMTOOL:-$(command -v promtool || true)}
scrape() { # scrape PORT NAME [--require SERIES]... - saves it as NAME.txt and checks it
  local port=$1 name=$2
  shift 2
  curl -sf "http://127.0.0.1:$port/metrics" >"$work/$name.txt"
  check_eq "$?" 0 "$name: /metrics answers"
  python3 "$here/../lib/promcheck.py" "$work/$name.txt" "$@" >"$work/$name.check" 2>&1
  check_eq "$?" 0 "$name: one family per TYPE, every sample after its own header, well-formed$(
    sed 's/^/\n    /' "$work/$name.check")"
  if [ -n "$promtool" ]; then
    "$promtool" check metrics <"$work/$name.txt" >"$work/$name.promtool" 2>&1
    check_eq "$?" 0 "$name: promtool check metrics finds nothing$(sed 's/^/\n    /' "$work/$name.promtool")"
  fi
}
value() { # value NAME SERIES - its value in the last scrape NAME.txt, or "none"
  awk -v m="$2" '$1 == m { print $2; found = 1 } END { if (!found) print "none" }' "$work/$1.txt"
}
[ -n "$promtool" ] || echo "# promtool not found: the strict parser only"

# before any record
scrape "$http" before --require 'edu_warnings{level="red",kind="threshold"}' \
  --require 'edu_records_refused_total{reason="out_of_range"}' --require edu_commit_seconds_count
check_eq "$(value before 'edu_warnings{level="red",kind="threshold"}')" 0 \
  "no warning yet: the red threshold series reads 0"
check_eq "$(value before 'edu_records_refused_total{reason="unknown_school"}')" 0 \
  "no refusal yet: each reason reads 0"
check_eq "$(value before 'edu_batches_total{status="ok"}')" 0 "no batch yet: 0"
check_grep "^edu_build_info\{version=\"[0-9][^\"]*\",compiler=\"(gcc|clang) [^\"]+\"\} 1$" \
  "$work/before.txt" "the aggregator's edu_build_info"

# a red threshold warning (student-teacher ratio 40 against a target of 15) and a refusal
printf 'school_code,indicator,period,value\n%s,student_teacher_ratio,2024-2025,40\n%s,student_teacher_ratio,2023-2024,400\n' \
  "$school" "$school" >"$work/red.csv"
county_drop "$work" "$school" "$work/red.csv"
county_wait_stored "$work" 2 20 || check_fail "the red record not stored"
red=$(county_sql "$work" "select count(*) from edu.current_warning where level = 'red' and kind = 'threshold'")
check_eq "$red" 1 "the county has one red threshold warning"
scrape "$http" red
check_eq "$(value red 'edu_warnings{level="red",kind="threshold"}')" 1 "/metrics counts it"
check_eq "$(value red 'edu_records_refused_total{reason="out_of_range"}')" 1 "and the refusal"

# corrected: the red warning is gone, its series stays at 0
printf 'school_code,indicator,period,value\n%s,student_teacher_ratio,2024-2025,12\n' "$school" >"$work/green.csv"
county_drop "$work" "$school" "$work/green.csv"
county_wait_stored "$work" 3 20 || check_fail "the correction not stored"
check_eq "$(county_sql "$work" "select count(*) from edu.current_warning where level = 'red' and kind = 'threshold'")" 0 \
  "the correction turned it green"
scrape "$http" green
check_eq "$(value green 'edu_warnings{level="red",kind="threshold"}')" 0 \
  "a red count that fell to none reads 0 rather than vanishing"

# the collector's
scrape "$cmetrics" collector --require edu_collector_spool_pending_records
check_grep "^edu_build_info\{version=" "$work/collector.txt" "the collector's edu_build_info"

# the journal's format
check_grep '^<6>aggregator: county [0-9]+ listening on' "$work/log/aggregator.log" \
  "under the journal an info line starts with <6> and the module"
check_no_grep '^[0-9]{4}-[0-9]{2}-[0-9]{2}T' "$work/log/aggregator.log" \
  "and no line carries a timestamp of its own"
check_grep '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]+Z info  ' "$work/log/collector-$school.log" \
  "the collector, started from a shell, keeps the timestamped format"

county_stop_all "$work"
check_logs_clean "$work"
check_done
