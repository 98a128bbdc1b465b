#!/bin/bash
# cli.sh - the command lines of the contract: --help, --version, -c FILE --check with file, line
# and problem, edu-keygen's files, and migrate
#
#   cli.sh BIN_DIR FIXTURE_DIR
set -u
bin=$1 fixture=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/county.sh"
. "$here/../lib/check.sh"

work=$(mktemp -d /tmp/edu-cli.XXXXXX)
trap 'check_keep_on_failure "$work"' EXIT
out=$work/out

# run EXPECTED_STATUS COMMAND... - runs a command, output (both streams) in $out
run() {
  local want=$1 got
  shift
  "$@" >"$out" 2>&1
  got=$?
  check_eq "$got" "$want" "exit status $want: $(basename "$1") ${*:2}"
}

for p in edu-collector edu-aggregator edu-keygen; do
  run 0 "$bin/$p" --help
  check_grep "^usage: $p" "$out" "$p --help shows the usage"
  run 0 "$bin/$p" --version
  check_grep "^$p [0-9]+\.[0-9]+" "$out" "$p --version prints a version"
  run 2 "$bin/$p" --no-such-option
done
run 0 "$bin/edu-collector" --help
check_grep "^school = +; required" "$out" "collector --help lists every key with its default"
check_grep "^spool_max_mb = 1024" "$out" "collector --help shows defaults"
run 0 "$bin/edu-aggregator" --help
check_grep "^; \[webhook\.NAME\]" "$out" "aggregator --help shows the named sections, commented out"

# edu-keygen: a public file and a secret file in CZMQ's format, the secret readable by owner only
run 0 "$bin/edu-keygen" --out "$work/keys" 2143004052
check_grep '^    public-key = ".{40}"' "$work/keys/2143004052" "public certificate written"
check_no_grep 'secret-key' "$work/keys/2143004052" "the public certificate holds no secret"
check_grep '^    secret-key = ".{40}"' "$work/keys/2143004052_secret" "secret certificate written"
check_eq "$(stat -c %a "$work/keys/2143004052_secret")" 600 "secret certificate is mode 600"
run 1 "$bin/edu-keygen" --out "$work/keys" 2143004052
check_grep "exists" "$out" "keygen refuses to overwrite a pair"
run 0 "$bin/edu-keygen" --out "$work/keys" --force 2143004052
run 2 "$bin/edu-keygen" --out "$work/keys"

# The collector's --check
"$bin/edu-keygen" --out "$work/keys" aggregator >/dev/null
cfg=$work/collector.ini
good="[collector]
school = 2143004052
endpoint = tcp://127.0.0.1:5555
inbox = $work/inbox
spool = $work/spool
[curve]
secret = $work/keys/2143004052_secret
server = $work/keys/aggregator"
echo "$good" >"$cfg"
run 0 "$bin/edu-collector" -c "$cfg" --check
check_grep "ok" "$out" "a good collector config passes --check"

# collector_bad SED_SCRIPT EXPECTED_PATTERN WHAT - the good config edited by SED_SCRIPT fails
collector_bad() {
  echo "$good" | sed "$1" >"$cfg"
  run 1 "$bin/edu-collector" -c "$cfg" --check
  check_grep "$2" "$out" "collector --check: $3"
}
collector_bad '$a colour = red' "$cfg:9: unknown key \"colour\" in section \[curve\]" "unknown key"
collector_bad '1a batch_records = many' "$cfg:2: invalid value \"many\" for \"batch_records\"" \
  "not a number"
collector_bad '1a window_records = 0' "$cfg:2: value 0 for \"window_records\" is out of range" \
  "out of range"
collector_bad 's/^school = .*/school = 214300405/' "$cfg:2: school: \"214300405\" is not a 10-digit code" \
  "school code"
collector_bad '$a [tls]\ncert = x' "$cfg:10: unknown section \[tls\]" "unknown section"
collector_bad "s|^server = .*|server = $work/keys/nobody|" "$cfg:8: \[curve\] server: .*$work/keys/nobody" \
  "missing server certificate"
printf '[collector]\nendpoint = tcp://127.0.0.1:5555\n' >"$cfg"
run 1 "$bin/edu-collector" -c "$cfg" --check
check_grep "$cfg: missing key \"school\" in section \[collector\]" "$out" "collector --check: missing key"
run 1 "$bin/edu-collector" -c "$work/none.ini" --check
check_grep "$work/none.ini" "$out" "collector --check: missing file named"

# The aggregator's --check reads the rules and schools files too
county_init "$work/county" "$bin" "$fixture" "cli_$$" "$(check_free_port)" >/dev/null 2>&1 ||
  check_fail "county setup"
acfg=$work/county/aggregator.ini
run 0 "$bin/edu-aggregator" -c "$acfg" --check
check_grep "ok" "$out" "a good aggregator config passes --check"
aggregator_bad() {
  sed "$1" "$acfg" >"$work/bad.ini"
  run 1 "$bin/edu-aggregator" -c "$work/bad.ini" --check
  check_grep "$2" "$out" "aggregator --check: $3"
}
aggregator_bad 's/^county = .*/county = 4304/' "$work/bad.ini:2: county: \"4304\" is not a 6-digit code" \
  "county code"
aggregator_bad 's/^county = .*/county = 430406/' "school [0-9]{10} belongs to county 430405, not 430406" \
  "registry of another county"
aggregator_bad 's/^listen = .*/listen = tcp:\/\/0.0.0.0:5555\nx = 1/' "$work/bad.ini:4: unknown key \"x\"" \
  "unknown key after a value"
printf '[curve]\nenabled = false\n' >"$work/nocurve.ini"
sed 's/^listen = .*/listen = tcp:\/\/0.0.0.0:5555/; /^\[curve\]/,$d' "$acfg" >"$work/bad.ini"
cat "$work/nocurve.ini" >>"$work/bad.ini"
run 1 "$bin/edu-aggregator" -c "$work/bad.ini" --check
check_grep "without CURVE: only loopback" "$out" "aggregator --check: no CURVE on a public address"

# A broken rules file: named with its line
sed 's/^max = 100$/max = lots/' "$EDU_SOURCE_DIR/deploy/rules.ini" >"$work/rules.ini"
line=$(grep -n '^max = lots' "$work/rules.ini" | head -1 | cut -d: -f1)
aggregator_bad "s|^rules = .*|rules = $work/rules.ini|" \
  "$work/rules.ini:$line: max = \"lots\" is not a number" "rules file line"
# A broken registry: named with its line
{ cat "$fixture/schools.csv"; printf '2143004099,某校,430405,middle,100,urban\n'; } >"$work/schools.csv"
line=$(wc -l <"$work/schools.csv")
aggregator_bad "s|^schools = .*|schools = $work/schools.csv|" "$work/schools.csv:$line" \
  "registry line"
check_grep "middle" "$out" "the registry error names the bad value"

# The example config (what cmake --install puts in /etc/edu), with its required keys and paths
# filled in, passes --check
"$bin/edu-aggregator" --example |
  sed "s|^county = .*|county = 430405|; s|^rules = .*|rules = $EDU_SOURCE_DIR/deploy/rules.ini|;
       s|^schools = .*|schools = $fixture/schools.csv|;
       s|^secret = .*|secret = $work/county/keys/aggregator_secret|;
       s|^clients = .*|clients = $work/county/keys/schools|;
       s|^readers = .*|readers = $work/county/keys/readers|" >"$work/example.ini"
run 0 "$bin/edu-aggregator" -c "$work/example.ini" --check
check_grep "ok" "$out" "the aggregator's example config passes --check once filled in"
printf '[alerts]\nendpoint = tcp://127.0.0.1:5556 # a comment\n[curve]\nenabled = false\n' >"$work/alerts.ini"
run 0 "$bin/edu-alerts" -c "$work/alerts.ini" --check
sed 's|^listen = .*|listen = tcp://127.0.0.1:5555|; s|^enabled = true|enabled = false|' \
  "$work/example.ini" >"$work/nocurve-alerts.ini"
run 1 "$bin/edu-aggregator" -c "$work/nocurve-alerts.ini" --check
check_grep 'cannot use alerts = "tcp://\*:5556" without CURVE' "$out" \
  "without CURVE, alerts and query must be loopback too"

# migrate: applies the schema, twice without harm
run 0 "$bin/edu-aggregator" -c "$acfg" migrate
run 0 "$bin/edu-aggregator" -c "$acfg" migrate
check_eq "$(county_sql "$work/county" "select count(*) from information_schema.views
  where table_schema = 'edu' and table_name in ('observation', 'current_observation',
  'rejected_record')")" 3 "migrate creates the contract's views"
run 2 "$bin/edu-aggregator" -c "$acfg" frobnicate
dropdb "cli_$$" 2>/dev/null

check_done
