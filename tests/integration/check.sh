#!/bin/bash
# check.sh - `--check` catches what would break the start: each broken file is fed to the
# --check of the program that reads it, which must exit 1 naming the file and the line; every
# shipped example still passes; and a port taken at the start is a clear error, not another port
#
#   check.sh BIN_DIR FIXTURE_DIR
set -u
bin=$1 fixture=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/county.sh"
. "$here/../lib/check.sh"

work=$(mktemp -d /tmp/edu-check.XXXXXX)
holder=
trap '[ -n "$holder" ] && kill "$holder" 2>/dev/null; county_stop_all "$work/county";
      check_keep_on_failure "$work"' EXIT
out=$work/out
mkdir -p "$work/log"

# The sample county as the tests make it: an aggregator and every school's collector
port=$(check_free_port 4)
county_init "$work/county" "$bin" "$fixture" "check_$$" "$port" >/dev/null 2>&1 ||
  check_fail "county setup"
acfg=$work/county/aggregator.ini
keys=$work/county/keys
school=$(awk -F, 'NR == 2 { print $1 }' "$fixture/schools.csv")
ccfg=$work/county/schools/$school/collector.ini
"$bin/edu-keygen" --out "$keys" supervisor >/dev/null
"$bin/edu-keygen" --out "$keys" province >/dev/null

# passes PROGRAM FILE WHAT - PROGRAM -c FILE --check exits 0
passes() {
  "$bin/$1" -c "$2" --check >"$out" 2>&1
  check_eq "$?" 0 "$3 passes --check"
  [ "$(grep -c . "$out")" = 1 ] || cat "$out" >&2
}

# refused PROGRAM FILE LINE PATTERN WHAT - PROGRAM -c FILE --check exits 1 with one line that
# names FILE and LINE (the broken file may be another one than FILE: the rules, say) and
# matches PATTERN (an extended regular expression)
refused() {
  local program=$1 file=$2 at=$3 pattern=$4 what=$5
  "$bin/$program" -c "$file" --check >"$out" 2>&1
  check_eq "$?" 1 "$program --check refuses $what"
  check_grep "^$program: $at: .*$pattern" "$out" "$program names file, line and problem: $what"
}

# line_of FILE PATTERN - the number of the first line of FILE matching PATTERN
line_of() { grep -nE -- "$2" "$1" | head -1 | cut -d: -f1; }

# --- what is shipped passes ------------------------------------------------------------------
passes edu-aggregator "$acfg" "the sample county's aggregator config (with deploy/rules.ini)"
n=0
for f in "$work"/county/schools/*/collector.ini; do
  "$bin/edu-collector" -c "$f" --check >/dev/null 2>&1 || { echo "refused: $f" >&2; n=$((n + 1)); }
done
check_eq "$n" 0 "every school's collector config of the sample county passes --check"

"$bin/edu-collector" --example |
  sed "s|^school = .*|school = $school|; s|^secret = .*|secret = $keys/secret/${school}_secret|;
       s|^server = .*|server = $keys/aggregator|" >"$work/collector-example.ini"
passes edu-collector "$work/collector-example.ini" "edu-collector --example, filled in"
"$bin/edu-aggregator" --example |
  sed "s|^county = .*|county = 430405|; s|^rules = .*|rules = $EDU_SOURCE_DIR/deploy/rules.ini|;
       s|^schools = .*|schools = $fixture/schools.csv|; s|^secret = .*|secret = $keys/aggregator_secret|;
       s|^clients = .*|clients = $keys/schools|; s|^readers = .*|readers = $keys/readers|" \
    >"$work/aggregator-example.ini"
passes edu-aggregator "$work/aggregator-example.ini" "edu-aggregator --example, filled in"
"$bin/edu-alerts" --example |
  sed "s|^secret = .*|secret = $keys/supervisor_secret|; s|^server = .*|server = $keys/aggregator|" \
    >"$work/alerts.ini"
passes edu-alerts "$work/alerts.ini" "edu-alerts --example, filled in"
{
  "$bin/edu-province" --example | sed "s|^secret = .*|secret = $keys/province_secret|"
  printf '[county.430405]\nendpoint = tcp://127.0.0.1:%s\nserver = %s\n' $((port + 2)) "$keys/aggregator"
} >"$work/province.ini"
passes edu-province "$work/province.ini" "edu-province --example with a county"

# --- the collector ---------------------------------------------------------------------------
# collector_bad SED_SCRIPT LINE_PATTERN PATTERN WHAT - the school's config edited by SED_SCRIPT;
# the refusal names the line that LINE_PATTERN finds in the edited file
collector_bad() {
  local f=$work/collector-bad.ini
  sed "$1" "$ccfg" >"$f"
  refused edu-collector "$f" "$f:$(line_of "$f" "$2")" "$3" "$4"
}
collector_bad 's|^endpoint = .*|endpoint = 127.0.0.1:5555|' '^endpoint' \
  'endpoint: "127.0.0.1:5555" is not an endpoint: write tcp://HOST:PORT' "an endpoint without tcp://"
collector_bad 's|^endpoint = .*|endpoint = tcp://127.0.0.1:65536|' '^endpoint' \
  '"65536" is not a port from 1 to 65535' "a port above 65535"
collector_bad 's|^endpoint = .*|endpoint = tcp://127.0.0.1:0|' '^endpoint' \
  'port 0 would be a random port' "port 0"
collector_bad 's|^endpoint = .*|endpoint = ipc:///run/edu.sock|' '^endpoint' \
  'ipc:// is not supported' "an ipc:// endpoint"
collector_bad 's|^endpoint = .*|endpoint = tcp://[::1]:5555|' '^endpoint' \
  'IPv6 addresses are not supported' "an IPv6 endpoint (the sockets are IPv4 only)"
collector_bad '/^\[collector\]/a metrics = 127.0.0.1:0' '^metrics' \
  'metrics: "127.0.0.1:0": port 0 would be a random port' "a metrics port 0"
collector_bad 's|^inbox = .*|&\ninbox = /tmp/elsewhere|' '^inbox = /tmp/elsewhere' \
  'key "inbox" is given twice in section \[collector\] \(lines [0-9]+ and [0-9]+\): keep one' \
  "a key given twice"
# last_line FILE PATTERN - the number of the last line of FILE matching PATTERN
last_line() { grep -nE -- "$2" "$1" | tail -1 | cut -d: -f1; }
f=$work/collector-bad.ini
printf '[collector]\nspool_max_mb = 10\n' | cat "$ccfg" - >"$f"
refused edu-collector "$f" "$f:$(last_line "$f" '^\[collector\]$')" \
  'section \[collector\] is given twice \(lines 1 and [0-9]+\): merge them into one' \
  "a section given twice"
collector_bad 's|^inbox = .*|&\n  spool_max_mb = 10|' '^  spool_max_mb' \
  'line is indented, so it would continue the value of "inbox"' "an indented line"
collector_bad "s|^secret = .*|secret = $keys/aggregator|; s|^server = .*|server = $keys/secret/${school}_secret|" \
  '^secret' "\\[curve\\] secret: cannot use \"$keys/aggregator\" as a secret certificate: it is a public one" \
  "a secret and a public certificate swapped"
collector_bad "s|^server = .*|server = $keys/secret/${school}_secret|" '^server' \
  '\[curve\] server: .* as a public certificate: it holds a secret key' "a secret certificate as server"
collector_bad "s|^server = .*|server = $keys/schools/$school|" '^server' \
  '\[curve\] server: .* is the public half of the secret certificate' "its own public half as server"
collector_bad "s|^server = .*|server = $fixture/schools.csv|" '^server' \
  '\[curve\] server: cannot load certificate .*: not a CZMQ certificate' "a file that is not a certificate"
# the halves of two pairs side by side
mkdir -p "$work/mixed"
"$bin/edu-keygen" --out "$work/mixed" one >/dev/null
"$bin/edu-keygen" --out "$work/mixed" two >/dev/null
cp "$work/mixed/two_secret" "$work/mixed/one_secret"
collector_bad "s|^secret = .*|secret = $work/mixed/one_secret|" '^secret' \
  "\\[curve\\] secret: cannot use \"$work/mixed/one_secret\": the public certificate \"$work/mixed/one\" beside it is not its public half" \
  "a secret certificate whose public half beside it is another pair's"

# --- the aggregator --------------------------------------------------------------------------
aggregator_bad() {
  local f=$work/aggregator-bad.ini
  sed "$1" "$acfg" >"$f"
  refused edu-aggregator "$f" "$f:$(line_of "$f" "$2")" "$3" "$4"
}
aggregator_bad 's|^listen = .*|listen = tcp://*:70000|' '^listen' \
  'listen: "tcp://\*:70000": "70000" is not a port from 1 to 65535' "a listen port above 65535"
aggregator_bad 's|^listen = .*|listen = tcp://*:0|' '^listen' \
  'port 0 would be a random port that nobody can find' "a random listen port (0)"
aggregator_bad 's|^query = .*|query = tcp://127.0.0.1:*|' '^query' \
  'port \* would be a random port' "a random query port (*)"
aggregator_bad 's|^listen = .*|listen = tcp://localhost:5555|' '^listen' \
  'neither an IPv4 address nor a network interface of this machine' "a host name to bind"
aggregator_bad 's|^alerts = .*|alerts = inproc://alerts|' '^alerts' \
  'inproc:// is not supported' "an inproc:// endpoint"
aggregator_bad "s|^query = .*|query = tcp://*:$port|" '^query' \
  "\\[aggregator\\] query = \"tcp://\\*:$port\": port $port is taken by listen = .* \\(.*:[0-9]+: \\[aggregator\\] listen\\)" \
  "two endpoints on one port"
aggregator_bad "/^\\[aggregator\\]/a http = 127.0.0.1:$((port + 1))" '^http' \
  "port $((port + 1)) is taken by alerts" "the http port on an endpoint's port"
aggregator_bad 's|^database = .*|database = dbname=edu host=x password=s3cret bogus|' '^database' \
  'database: \(a connection string of [0-9]+ bytes that libpq cannot parse\): missing "=" after "\*\*\*"' \
  "a conninfo libpq cannot parse"
check_no_grep 's3cret' "$out" "the refusal does not show the password"
aggregator_bad "/^database/a owner_database = postgresql://owner:s3cret@[::1/edu" '^owner_database' \
  'owner_database: .*libpq cannot parse' "an owner_database libpq cannot parse"
check_no_grep 's3cret' "$out" "the refusal does not show the URI's password"
aggregator_bad "/^database/a query_database = dbname=edu hots=x" '^query_database' \
  'query_database: .*invalid connection option "hots"' "a query_database with an unknown option"
aggregator_bad "s|^secret = .*|secret = $keys/aggregator|" '^secret' \
  '\[curve\] secret: cannot use .* as a secret certificate: it is a public one' "a public certificate as secret"
cp "$keys/aggregator_secret" "$work/mixed/aggregator_secret"
cp "$work/mixed/two" "$work/mixed/aggregator"
aggregator_bad "s|^secret = .*|secret = $work/mixed/aggregator_secret|" '^secret' \
  'is not its public half' "the aggregator's secret beside another pair's public certificate"
mkdir -p "$work/clients"
cp "$keys"/schools/* "$work/clients/"
cp "$keys/secret/${school}_secret" "$work/clients/$school"
aggregator_bad "s|^clients = .*|clients = $work/clients|" '^clients' \
  '\[curve\] clients: 1 file\(s\) of the directory are no public certificate of a peer .*cannot use .* as a public certificate: it holds a secret key' \
  "a secret certificate among the clients"
cp "$keys/schools/$school" "$work/clients/$school"
cp "$work/mixed/two_secret" "$work/clients/${school}_secret"
aggregator_bad "s|^clients = .*|clients = $work/clients|" '^clients' \
  '\[curve\] clients: .* are not one pair' "a pair in the clients directory that does not match"
aggregator_bad 's|^listen = .*|&\nlisten = tcp://127.0.0.1:5555|' '^listen = tcp://127.0.0.1:5555$' \
  'key "listen" is given twice in section \[aggregator\]' "a key given twice"
f=$work/aggregator-bad.ini
printf '[curve]\nenabled = true\n' | cat "$acfg" - >"$f"
refused edu-aggregator "$f" "$f:$(last_line "$f" '^\[curve\]$')" \
  'section \[curve\] is given twice' "a section given twice"

# the rules file it names
rules_bad() {
  sed "$1" "$EDU_SOURCE_DIR/deploy/rules.ini" >"$work/rules.ini"
  sed "s|^rules = .*|rules = $work/rules.ini|" "$acfg" >"$work/aggregator-rules.ini"
  refused edu-aggregator "$work/aggregator-rules.ini" "$work/rules.ini:$(line_of "$work/rules.ini" "$2")" \
    "$3" "$4"
}
rules_bad 's/^deadline = .*/deadline = 02-30/' '^deadline' 'deadline = "02-30" is not a date' \
  "a deadline that is no date (02-30)"
rules_bad 's/^deadline = .*/deadline = 13-01/' '^deadline' 'deadline = "13-01" is not a date' \
  "a deadline that is no date (13-01)"
rules_bad '0,/^target_primary = 4.2$/s//target_primary = 420/' '^target_primary = 420' \
  '\[indicator.degree_teachers_per100\] target_primary = 420 is outside the bounds min = 0, max = 100' \
  "a target outside the indicator's bounds"
rules_bad 's/^fluctuation_red = .*/fluctuation_red = 4/' '^fluctuation_red' \
  '\[rules\] fluctuation_red = 4 is below fluctuation_yellow = 5 \(line [0-9]+\)' \
  "red and yellow limits in the wrong order"
rules_bad '0,/^target = 0.50$/s//target = 0.6/' '^target = 0.6$' \
  'the dispersion target 0.6 is above every national limit \(0.5 小学, 0.45 初中\)' \
  "a dispersion target above every national limit"
rules_bad '0,/^max = 100$/s//max = -100/' '^max = -100' \
  'min = 0 is not below max = -100' "min above max"
rules_bad 's/^tolerance = .*/&\ntolerance = 0.9/' '^tolerance = 0.9' \
  'key "tolerance" is given twice in section \[rules\]' "a rules key given twice"

# --- edu-alerts and edu-province -------------------------------------------------------------
alerts_bad() {
  local f=$work/alerts-bad.ini
  sed "$1" "$work/alerts.ini" >"$f"
  refused edu-alerts "$f" "$f:$(line_of "$f" "$2")" "$3" "$4"
}
alerts_bad 's|^endpoint = .*|endpoint = tcp://127.0.0.1|' '^endpoint' 'has no port' "an endpoint without a port"
alerts_bad 's|^query = .*|query = tcp://*:5557|' '^query' 'can only be listened on' "* to connect to"
alerts_bad "s|^server = .*|server = $keys/supervisor_secret|" '^server' \
  'holds a secret key' "a secret certificate as server"
alerts_bad 's|^subscribe = .*|&\nsubscribe = 430405.red|' '^subscribe = 430405' 'given twice' "a key given twice"

province_bad() {
  local f=$work/province-bad.ini
  sed "$1" "$work/province.ini" >"$f"
  refused edu-province "$f" "$f:$(line_of "$f" "$2")" "$3" "$4"
}
province_bad "s|^database = .*|database = dbname=province password='s3cret|" '^database' \
  'database: .*unterminated quoted string' "a conninfo libpq cannot parse"
check_no_grep 's3cret' "$out" "the province's refusal does not show the password"
province_bad "s|^endpoint = .*|endpoint = tcp://127.0.0.1:0|" '^endpoint' \
  'endpoint: "tcp://127.0.0.1:0": port 0' "a county endpoint on port 0"
province_bad "s|^server = .*|server = $keys/aggregator_secret|" '^server = ' \
  '\[county.430405\] server: .*holds a secret key' "a county's secret certificate as server"
province_bad "s|^secret = .*|secret = $keys/province|" '^secret' \
  '\[curve\] secret: .*it is a public one' "a public certificate as the province's secret"
f=$work/province-bad.ini
printf '[county.430405]\nendpoint = tcp://127.0.0.1:5557\n' | cat "$work/province.ini" - >"$f"
refused edu-province "$f" "$f:$(last_line "$f" '^\[county.430405\]$')" \
  'section \[county.430405\] is given twice' "a county given twice"

# --- at the start: a port that is taken is named, never replaced by another ------------------
python3 -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen()
open(sys.argv[2], "w").close()
time.sleep(120)' "$port" "$work/held" &
holder=$!
for i in $(seq 1 100); do [ -f "$work/held" ] && break; sleep 0.1; done
[ -f "$work/held" ] || check_fail "could not hold port $port"
timeout 60 "$bin/edu-aggregator" -c "$acfg" >"$work/log/start.log" 2>&1
check_eq "$?" 1 "the aggregator does not start when listen's port is taken"
check_grep "^edu-aggregator: could not bind listen on \"tcp://127.0.0.1:$port\": Address already in use" \
  "$work/log/start.log" "it says which key and which port"
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
holder=
dropdb "check_$$" 2>/dev/null

check_done
