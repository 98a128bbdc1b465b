#!/bin/bash
# roles.sh - least privilege in the county database: three roles, each able to do its part only
#
# The schema's owner migrates (owner_database); the aggregator works as a role that may read
# and add to the history but not change or remove it, nor create or drop anything (database);
# the province's pulls and supervisors' `current` are answered as a role that reads aggregates
# and warnings only (query_database). The sample county goes through, the province pulls it,
# and each role is then tried on what it must not do.
#
#   roles.sh BIN_DIR FIXTURE_DIR
set -u
bin=$1 fixture=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/county.sh"
. "$here/../lib/check.sh"

export EDU_NOW=2025-11-08T12:00:00+08:00
work=$(mktemp -d /tmp/edu-roles.XXXXXX)
trap 'county_stop_all "$work"; check_keep_on_failure "$work"' EXIT
db=roles_$$
county_init "$work" "$bin" "$fixture" "$db" "$(check_free_port)" || check_fail "county setup"
writer=${db}_writer reader=${db}_reader
for role in $writer $reader; do
  psql -X -qAt -d postgres -c "select 1 from pg_roles where rolname = '$role'" | grep -q 1 ||
    createuser --no-superuser --no-createdb --no-createrole "$role" || check_fail "create $role"
done
conn="dbname=$db host=$PGHOST port=$PGPORT"
sed -i "s|^database = .*|database = $conn user=$writer\nowner_database = $conn user=$db\nquery_database = $conn user=$reader|" \
  "$work/aggregator.ini"
"$bin/edu-aggregator" -c "$work/aggregator.ini" --check >/dev/null || check_fail "--check"
county_aggregator_start "$work" || check_fail "aggregator start"
county_feed "$work" "$fixture" >/dev/null || check_fail "the sample county was not stored"

# as ROLE, SQL must fail with "permission denied" (or "must be owner")
as() { psql -X -qAt -v ON_ERROR_STOP=1 -U "$1" -d "$db" -c "$2" 2>&1; }
denied() { # denied ROLE SQL
  local out
  out=$(as "$1" "$2")
  [ $? != 0 ] && echo "$out" | grep -Eq 'permission denied|must be owner'
  s_check_result $? "$1 may not: $2"
  echo "$out" | grep -Eq 'permission denied|must be owner' || echo "    got: $out" >&2
}
allowed() { # allowed ROLE SQL
  local out
  out=$(as "$1" "$2")
  s_check_result $? "$1 may: $2"
  [ -n "$out" ] && echo "    $out"
}

stored=$(as "$db" "select count(*) from edu.observation_log")
check_eq "$(as "$db" "select count(*) from edu.current_observation")" \
  "$(tr -d '\r' <"$fixture/current.csv" | tail -n +2 | grep -c .)" \
  "the working role stored the sample county (current values as current.csv)"
check_ne "$(as "$db" "select count(*) from edu.warning_state")" 0 "and judged its warnings"
check_eq "$(as "$db" "select tableowner from pg_tables where schemaname = 'edu' and tableowner <> '$db'")" "" \
  "every table belongs to the owner, none to the working role"

# the working role: reads and adds, never rewrites the history, never changes the schema
allowed "$writer" "select count(*) from edu.observation"
denied "$writer" "delete from edu.observation_log"
denied "$writer" "update edu.observation_log set value = 0"
denied "$writer" "truncate edu.rejected_log"
denied "$writer" "delete from edu.rejected_log"
denied "$writer" "drop table edu.alert"
denied "$writer" "create table edu.extra (a int)"
denied "$writer" "alter table edu.current_value add column extra int"
denied "$writer" "select edu.grant_roles('$writer', '$writer')"
# the response loop's and the sign-off's events: added, never changed nor removed
allowed "$writer" "select count(*) from edu.case"
for table in case_log period_log late_change_log; do
  denied "$writer" "delete from edu.$table"
  denied "$writer" "truncate edu.$table"
done
denied "$writer" "update edu.case_log set actor = 'someone else'"
denied "$writer" "update edu.period_log set action = 'approved'"
denied "$writer" "update edu.late_change_log set new_value = 0"
# the cases not closed (what the clock reads) follow the events, whoever adds them: the working
# role's events move a case in and out, the working role itself cannot
for sql in "delete from edu.case_open" "truncate edu.case_open" \
  "insert into edu.case_open (case_id) values (-1)"; do
  denied "$writer" "$sql"
done
case_id=$(as "$writer" "insert into edu.case_item (kind, subject, stage, indicator, period,
  case_type, opened_at) values ('threshold', 'x', '', 'x', 'x', 'rectify', now()) returning id")
allowed "$writer" "insert into edu.case_log (case_id, at, actor, action, level)
  values ($case_id, now(), 'test', 'opened', 'red')"
check_eq "$(as "$db" "select count(*) from edu.case_open where case_id = $case_id")" 1 \
  "a case the working role opens is among the open cases"
allowed "$writer" "insert into edu.case_log (case_id, at, actor, action)
  values ($case_id, now(), 'test', 'closed')"
check_eq "$(as "$db" "select count(*) from edu.case_open where case_id = $case_id")" 0 \
  "and leaves them when it closes it"
check_eq "$(as "$db" "select count(*) from edu.observation_log")" "$stored" "the history is untouched"

# the readers' role: aggregates and warnings, nothing of the schools' records, no writes
allowed "$reader" "select count(*) from edu.county_aggregate"
allowed "$reader" "select count(*) from edu.county_warning_change"
allowed "$reader" "select count(*) from edu.current_warning"
for table in observation_log observation current_value current_observation rejected_log \
  rejected_record spool_state alert alert_json warning_transition school; do
  denied "$reader" "select count(*) from edu.$table"
done
denied "$reader" "insert into edu.county_aggregate (stage, indicator, period, schools, red, yellow, green) values ('x', 'x', 'x', 0, 0, 0, 0)"
denied "$reader" "delete from edu.county_aggregate"

# the province pulls through the readers' role; a supervisor asks what is current through it
"$bin/edu-keygen" --out "$work/keys" province >/dev/null
cp "$work/keys/province" "$work/keys/readers/province"
cat >"$work/province.ini" <<INI
[province]
database = dbname=province_$$ host=$PGHOST port=$PGPORT user=$PGUSER
timeout_ms = 5000
[curve]
secret = $work/keys/province_secret
[county.$(awk -F, 'NR == 2 { print $3 }' "$fixture/schools.csv")]
endpoint = tcp://127.0.0.1:$(($(cat "$work/port") + 2))
server = $work/keys/aggregator
INI
createdb "province_$$" || check_fail "province database"
# the province sees approved years only: approve them all, as the owner would record it
as "$db" "insert into edu.period_log (period, at, actor, action)
  select distinct period, now(), 'test', 'approved' from edu.county_aggregate" >/dev/null
"$bin/edu-province" -c "$work/province.ini" pull --once >"$work/log/province.log" 2>&1
check_eq $? 0 "the province pulls the county through the readers' role"
check_eq "$(psql -X -qAt -d "province_$$" -c "select count(*) from province.county_indicator")" \
  "$(as "$db" "select count(*) from edu.county_aggregate")" "every aggregate reached the province"
cat >"$work/supervisor.ini" <<INI
[alerts]
endpoint = tcp://127.0.0.1:$(($(cat "$work/port") + 1))
query = tcp://127.0.0.1:$(($(cat "$work/port") + 2))
[curve]
secret = $work/keys/province_secret
server = $work/keys/aggregator
INI
"$bin/edu-alerts" -c "$work/supervisor.ini" current >"$work/current" 2>"$work/current.err"
check_eq "$(wc -l <"$work/current")" "$(as "$db" "select count(*) from edu.current_warning")" \
  "edu-alerts current is answered through the readers' role"

# the daemon itself works as those roles: every connection it keeps (the writer's, the
# deliverers', the readers') logs in as the working role or the readers' role, none as the owner
# (asked as the cluster's superuser: other roles see no details of each other's sessions)
check_eq "$(county_sql "$work" "select string_agg(distinct usename, ' ' order by usename) from pg_stat_activity
  where datname = '$db' and backend_type = 'client backend' and pid <> pg_backend_pid()")" \
  "$(printf '%s\n' "$reader" "$writer" | sort | tr '\n' ' ' | sed 's/ $//')" \
  "the aggregator's connections log in as the working and the readers' role only"

# a restart migrates and grants again, idempotently, and the aggregator keeps working
county_stop "$work" aggregator
county_aggregator_restart "$work" || check_fail "aggregator restart"
code=$(awk -F, 'NR == 2 { print $1 }' "$fixture/schools.csv")
printf 'school_code,indicator,period,value\n%s,training_hours,2025-2026,91\n' "$code" >"$work/late.csv"
before=$(county_stored "$work")
county_drop "$work" "$code" "$work/late.csv"
county_wait_stored "$work" $((before + 1)) 30
check_eq $? 0 "after a restart the working role stores again"
dropdb "province_$$" 2>/dev/null
check_logs_clean "$work"
check_done
