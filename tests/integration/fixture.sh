#!/bin/bash
# fixture.sh - the contract's sample county end to end, through real collectors, CURVE sockets
# on loopback and the PostgreSQL that tests/run.sh started
#
# Every school's collector takes its data file; then the corrections; then each row of bad.csv
# is sent by the collector of its `sender`. Afterwards edu.current_observation must equal
# current.csv, edu.observation must hold every accepted row once, edu.rejected_record must hold
# bad.csv's rows with their reasons, and each refusal must be reported back in the sending
# school's inbox/rejected/<file>.errors.csv.
#
#   fixture.sh BIN_DIR FIXTURE_DIR
set -u
bin=$1 fixture=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/county.sh"
. "$here/../lib/check.sh"

county_test fixture
county_aggregator_start "$work" || check_fail "aggregator start"
# The fixture's files end their lines with CRLF, as Excel writes them; the collectors read them
# as they are, the comparisons below read copies without the CR.
mkdir -p "$work/want"
for f in bad current corrections; do
  tr -d '\r' <"$fixture/$f.csv" >"$work/want/$f.csv"
done

schools=$(awk -F, 'NR > 1 { print $1 }' "$fixture/schools.csv")
county_feed "$work" "$fixture" || check_fail "the sample county not stored"
data_rows=$(cat "$fixture"/data-*.csv | grep -vc '^school_code,')
corr_rows=$(grep -vc '^school_code,' "$work/want/corrections.csv")
bad_rows=$(grep -vc '^sender,' "$work/want/bad.csv")
check_eq "$COUNTY_FED" $((data_rows + corr_rows + bad_rows)) "every sample record sent"

# current.csv, as a set, equals edu.current_observation (values compared at 1e-9).
county_sql "$work" "select school_code, indicator, period, value from edu.current_observation" \
  | sort >"$work/got-current"
tail -n +2 "$work/want/current.csv" | tr , '|' | sort >"$work/want-current"
check_same_values "$work/want-current" "$work/got-current" "edu.current_observation"

check_eq "$(county_sql "$work" "select count(*) from edu.observation")" $((data_rows + corr_rows)) \
  "edu.observation holds every accepted row once"
check_eq "$(county_sql "$work" "select count(*) from (select school_code, indicator, period
  from edu.observation group by 1, 2, 3 having count(*) = 2) corrected")" "$corr_rows" \
  "a correction keeps the value it replaced in edu.observation"
# the history's received_at is its transaction's now(), as the current value's and the
# refusals' are: each current value has its record in the history, received at the same instant
check_eq "$(county_sql "$work" "select count(*) from edu.current_value c where not exists (
  select from edu.observation_log o where (o.school_code, o.indicator, o.period, o.value,
  o.received_at) = (c.school_code, c.indicator, c.period, c.value, c.received_at))")" 0 \
  "every current value is in the history, received at the same time"
check_eq "$(county_sql "$work" "select count(*) from edu.observation_log
  where received_at not between now() - interval '10 minutes' and now()")" 0 \
  "the history is received now"

county_sql "$work" "select school_code, indicator, period, reason from edu.rejected_record" \
  | sort >"$work/got-rejected"
tail -n +2 "$work/want/bad.csv" | awk -F, -v OFS='|' '{ print $2, $3, $4, $6 }' | sort \
  >"$work/want-rejected"
check_same_file "$work/want-rejected" "$work/got-rejected" "edu.rejected_record"

# Every refusal is reported to the school that sent it, naming row 2 and the reason.
n=0
while IFS=, read -r sender _ _ _ _ reason; do
  n=$((n + 1))
  errors="$work/schools/$sender/inbox/rejected/bad-$n.csv.errors.csv"
  check_wait_for ",$reason," "$errors"
  check_grep "^2,[a-z_]*,$reason," "$errors" "bad row $n reported to school $sender"
done < <(tail -n +2 "$work/want/bad.csv")

# The aggregator ran as its own role: no superuser, and it cannot reach outside its database.
role="fixture_$$"
check_eq "$(county_sql "$work" "select rolsuper or rolcreaterole or rolcreatedb from pg_roles
  where rolname = '$role'")" f "the aggregator's role is no superuser and makes no roles or databases"
check_eq "$(psql -X -qAt -U "$role" -d "$role" -c "select count(*) from edu.observation" 2>&1)" \
  $((data_rows + corr_rows)) "its role reads its own tables"
psql -X -qAt -U "$role" -d postgres -c "create table intruder (x int)" >/dev/null 2>&1
check_ne "$?" 0 "its role cannot create tables in another database"

# Every dropped file was taken: nothing waits in an inbox, each file is in done/.
for code in $schools; do
  county_wait_inbox_empty "$work" "$code" 10 || check_fail "inbox of $code not empty"
done
check_eq "$(find "$work"/schools/*/inbox/done -type f | wc -l)" \
  $(( $(ls "$fixture"/data-*.csv | wc -l) + $(ls "$work"/corrections-*.csv | wc -l) + bad_rows )) \
  "every file moved to done/"

county_stop_all "$work"
check_logs_clean "$work"
check_done
