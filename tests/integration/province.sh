#!/bin/bash
# province.sh - one province pulls three counties, each a real aggregator with its own database
#
# 430405 is the sample county; 430406 and 430407 are made from it with a subset of its schools.
# Checks: province.county_indicator equals each county's own aggregates; a new batch at one
# county moves only that county's rows at the next pull; a puller killed mid-pull resumes with
# nothing missing or doubled; a county that is down makes `pull --once` fail, naming it.
#
#   province.sh BIN_DIR FIXTURE_DIR
set -u
bin=$1 fixture=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/county.sh"
. "$here/../lib/check.sh"

export EDU_NOW=2025-11-08T12:00:00+08:00
work=$(mktemp -d /tmp/edu-province.XXXXXX)
counties="430405 430406 430407"
trap 'for c in $counties; do county_stop_all "$work/$c"; done; check_keep_on_failure "$work"' EXIT

# the counties' samples
mkdir -p "$work/samples/430405" "$work/keys" "$work/log"
cp "$fixture"/*.csv "$work/samples/430405/"
for c in 430406 430407; do
  mkdir -p "$work/samples/$c"
  tr -d '\r' <"$fixture/schools.csv" | sed "s/,430405,/,$c,/" | awk -v c=$c 'NR == 1 ||
    (c == 430406 && NR <= 21) || (c == 430407 && NR > 16)' >"$work/samples/$c/schools.csv"
  for code in $(tail -n +2 "$work/samples/$c/schools.csv" | cut -d, -f1); do
    cp "$fixture/data-$code.csv" "$work/samples/$c/"
  done
done
"$bin/edu-keygen" --out "$work/keys" province >/dev/null
ini=$work/province.ini
cat >"$ini" <<INI
[province]
database = dbname=province_$$ host=$PGHOST port=$PGPORT user=$PGUSER
timeout_ms = 3000
page_rows = 40
[curve]
secret = $work/keys/province_secret
INI
for c in $counties; do
  county_init "$work/$c" "$bin" "$work/samples/$c" "county_${c}_$$" "$(check_free_port)" ||
    check_fail "county $c setup"
  cp "$work/keys/province" "$work/$c/keys/readers/province"
  county_aggregator_start "$work/$c" || check_fail "aggregator $c"
  county_feed "$work/$c" "$work/samples/$c" >/dev/null || check_fail "county $c not stored"
  # the province sees approved years only (docs/approval.md): every year, recorded as the
  # county's owner would (it_approval drives edu-alerts approve itself)
  county_sql "$work/$c" "insert into edu.period_log (period, at, actor, action)
    select distinct period, now(), 'test', 'approved' from edu.county_aggregate" >/dev/null
  printf '[county.%s]\nendpoint = tcp://127.0.0.1:%s\nserver = %s\n' "$c" \
    $(( $(cat "$work/$c/port") + 2 )) "$work/$c/keys/aggregator" >>"$ini"
done
createdb "province_$$" || check_fail "province database"
"$bin/edu-province" -c "$ini" --check >/dev/null || check_fail "province --check"

pull() { "$bin/edu-province" -c "$ini" pull --once >>"$work/log/province.log" 2>&1; }
# same COUNTY - the province's rows of a county equal the county's own aggregates
same() {
  local c=$1
  county_sql "$work/$c" "select stage, indicator, period, schools, coalesce(mean::text, ''),
    coalesce(cv::text, ''), red, yellow, green from edu.county_aggregate" | sort >"$work/want-$c"
  psql -X -qAt -d "province_$$" -c "select stage, indicator, period, schools,
    coalesce(mean::text, ''), coalesce(cv::text, ''), red, yellow, green
    from province.county_indicator where county_code = '$c'" | sort >"$work/got-$c"
  check_same_file "$work/want-$c" "$work/got-$c" "$2"
}
pull
check_eq "$?" 0 "pull --once of three counties succeeds"
for c in $counties; do same "$c" "county $c: province.county_indicator equals its aggregates"; done
check_eq "$(psql -X -qAt -d "province_$$" -c "select count(*) from province.county_warning
  where county_code = '430405'")" "$(county_sql "$work/430405" "select count(*) from
  edu.current_warning where kind in ('dispersion', 'progress')")" "county 430405's county-level warnings"

# a new batch at 430406 only
snapshot() { psql -X -qAt -d "province_$$" -c "select county_code, stage, indicator, period, version,
  pulled_at from province.indicator_row where county_code <> '430406'" | sort; }
snapshot >"$work/others-before"
school=$(awk -F, 'NR == 2 { print $1 }' "$work/samples/430406/schools.csv")
printf 'school_code,indicator,period,value\n%s,degree_teachers_per100,2025-2026,9.9\n' "$school" \
  >"$work/new.csv"
stored=$(county_stored "$work/430406")
county_drop "$work/430406" "$school" "$work/new.csv"
county_wait_stored "$work/430406" $((stored + 1)) 30 || check_fail "new batch not stored"
pull
same 430406 "after a new batch, county 430406 is current again"
snapshot >"$work/others-after"
check_same_file "$work/others-before" "$work/others-after" "the other counties' rows did not move"

# killed mid-pull: start from nothing with one-row pages, SIGKILL, pull again
PGOPTIONS="-c client_min_messages=warning" psql -X -q -d "province_$$" -c "drop schema province cascade" >/dev/null
sed -i 's/^page_rows = .*/page_rows = 1/' "$ini"
"$bin/edu-province" -c "$ini" pull --once >>"$work/log/province.log" 2>&1 &
pid=$!
sleep 0.5
kill -KILL $pid 2>/dev/null
wait $pid 2>/dev/null
partial=$(psql -X -qAt -d "province_$$" -c "select count(*) from province.indicator_row" 2>/dev/null || echo 0)
total=$(for c in $counties; do county_sql "$work/$c" "select count(*) from edu.county_aggregate"; done |
  awk '{ s += $1 } END { print s }')
echo "# killed after $partial of $total rows"
sed -i 's/^page_rows = .*/page_rows = 40/' "$ini"
pull
check_eq "$?" 0 "the pull after the kill succeeds"
for c in $counties; do same "$c" "after the kill, county $c is complete and nothing is doubled"; done

# a county that is down
county_stop "$work/430407" aggregator
pull
check_ne "$?" 0 "pull --once fails when a county is down"
check_grep "county 430407: no answer from" "$work/log/province.log" "the failure names the county"
check_no_grep "county 43040[56]:" "$work/log/province.log" "the other counties did not fail"

for c in $counties; do county_stop_all "$work/$c"; done
check_logs_clean "$work/430405"
dropdb "province_$$" 2>/dev/null
check_done
