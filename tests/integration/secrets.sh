#!/bin/bash
# secrets.sh - no password in a log line while the database is down: each program that takes a
# libpq conninfo is given one holding a password and a port where no PostgreSQL listens; it
# says it could not connect (the aggregator keeps trying), and no line it writes holds the
# password. (edu-alerts takes no conninfo: it talks to the aggregator only.)
#
#   secrets.sh BIN_DIR FIXTURE_DIR
set -u
bin=$1 fixture=$2
here=$(cd "$(dirname "$0")" && pwd)
src=${EDU_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
. "$here/../lib/county.sh"
. "$here/../lib/check.sh"

secret=S3CRETpw
work=$(mktemp -d /tmp/edu-secrets.XXXXXX)
trap 'county_stop_all "$work"; check_keep_on_failure "$work"' EXIT
mkdir -p "$work"/{keys/schools,keys/readers,pids,log}
"$bin/edu-keygen" --out "$work/keys" aggregator >/dev/null || check_fail "aggregator keys"
"$bin/edu-keygen" --out "$work/keys" province >/dev/null || check_fail "province keys"

# the aggregator's three endpoints, and a fourth port where nothing listens: the "database"
port=$(check_free_port 4)
dead=$((port + 3))

# aggregator_ini FILE CONNINFO - an aggregator whose database is CONNINFO
aggregator_ini() {
  cat >"$1" <<EOF
[aggregator]
county = $(awk -F, 'NR == 2 { print $3 }' "$fixture/schools.csv")
listen = tcp://127.0.0.1:$port
alerts = tcp://127.0.0.1:$((port + 1))
query = tcp://127.0.0.1:$((port + 2))
database = $2
rules = $src/deploy/rules.ini
schools = $fixture/schools.csv
[curve]
secret = $work/keys/aggregator_secret
clients = $work/keys/schools
readers = $work/keys/readers
EOF
}

# no_secret LOG WHAT - LOG says the database could not be reached (so the check below is not
# passed by an empty log) and holds the password nowhere
no_secret() {
  check_grep 'could not connect to database' "$1" "$2: says it could not reach the database"
  check_no_grep "$secret" "$1" "$2: no line holds the password"
}

# The aggregator waits for its database, trying again every two seconds (reported once, with
# back-off); it is stopped after a few attempts, in both forms of conninfo
for form in "dbname=edu host=127.0.0.1 port=$dead user=edu password=$secret" \
            "postgresql://edu:$secret@127.0.0.1:$dead/edu"; do
  n=$((${n:-0} + 1))
  aggregator_ini "$work/aggregator$n.ini" "$form"
  "$bin/edu-aggregator" -c "$work/aggregator$n.ini" -v >"$work/log/aggregator$n.log" 2>&1 &
  echo $! >"$work/pids/aggregator$n"
  check_wait_for 'could not connect to database' "$work/log/aggregator$n.log" 20 ||
    check_fail "aggregator $n did not report the database unavailable"
  sleep 5 # two more attempts (one every 2 s)
  kill -0 "$(cat "$work/pids/aggregator$n")" 2>/dev/null
  check_eq "$?" 0 "aggregator ($n) still waiting for its database"
  county_stop "$work" "aggregator$n"
  no_secret "$work/log/aggregator$n.log" "edu-aggregator, conninfo form $n"
done

# the aggregator's migrate command, once
"$bin/edu-aggregator" -c "$work/aggregator1.ini" migrate >"$work/log/migrate.log" 2>&1
check_eq "$?" 1 "edu-aggregator migrate fails without its database"
no_secret "$work/log/migrate.log" "edu-aggregator migrate"

# The province: each command that opens its database fails at once, naming it
cat >"$work/province.ini" <<EOF
[province]
database = host=127.0.0.1 port=$dead dbname=province user=province password=$secret
[curve]
secret = $work/keys/province_secret
[county.430405]
endpoint = tcp://127.0.0.1:$((port + 2))
server = $work/keys/aggregator
EOF
for cmd in "pull --once" pull migrate "report 2025-2026 --out $work/report.csv"; do
  what=${cmd%% --out*}
  log=$work/log/province-${what// /_}.log
  # shellcheck disable=SC2086 # the command's words
  timeout 60 "$bin/edu-province" -c "$work/province.ini" $cmd >"$log" 2>&1
  check_eq "$?" 1 "edu-province $what fails without its database"
  no_secret "$log" "edu-province $what"
done

check_logs_clean "$work"
check_done
