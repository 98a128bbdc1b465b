# county.sh - a county on one machine: keys, configs and processes for an aggregator and its
# schools' collectors, laid out under one directory
#
# Sourced by the integration tests and deploy/quickstart.sh, after pg.sh has started a cluster
# (PGHOST, PGPORT, PGUSER set). Every process's pid goes to DIR/pids/, its log to DIR/log/.
#
#   county_test NAME [PORTS]             the opening integration tests share (below)
#   county_init DIR BIN FIXTURE DB PORT  keys and configs for the aggregator and every school
#                                        of FIXTURE/schools.csv (none with
#                                        EDU_COUNTY_SCHOOLS=none); the database DB is created
#   county_aggregator_start DIR          starts the aggregator and waits until it listens
#   county_collector_start DIR CODE      starts the collector of school CODE
#   county_stop DIR NAME [SIGNAL]        stops one process (default TERM) and waits for it
#   county_stop_all DIR                  stops everything started
#   county_drop DIR CODE FILE [NAME]     drops FILE into the school's inbox, atomically
#   county_sql DIR QUERY                 runs QUERY on the county database, unaligned output
#   county_wait_stored DIR N [SECONDS]   waits until N records are stored (accepted + refused)
#   county_wait_marked DIR N [SECONDS]   waits until the spools' marks add up to N: as
#                                        county_wait_stored where no spool lost records, but
#                                        reads one small table instead of counting the
#                                        history, so a benchmark does not slow what it measures
#   county_wait_inbox_empty DIR CODE     waits until the school's inbox holds no waiting file
#   county_feed DIR FIXTURE              starts every school's collector and feeds the sample
#   county_set FILE SECTION 'k = v'...   puts keys into [SECTION] of an INI file (added at the
#                                        end when missing): a section or key may appear once

county_init() {
  local dir=$1 bin=$2 fixture=$3 db=$4 port=$5 code
  mkdir -p "$dir"/{keys/secret,keys/schools,keys/readers,pids,log,schools}
  dir=$(cd "$dir" && pwd)
  echo "$bin" >"$dir/bin"
  echo "$db" >"$dir/db"
  echo "$port" >"$dir/port"
  "$bin/edu-keygen" --out "$dir/keys" aggregator >/dev/null || return 1
  # the aggregator's own role: it owns its database and nothing else (no superuser, no roles,
  # no other databases)
  psql -X -qAt -d postgres -c "select 1 from pg_roles where rolname = '$db'" | grep -q 1 ||
    createuser --no-superuser --no-createdb --no-createrole "$db" || return 1
  createdb -O "$db" "$db" 2>/dev/null || psql -qAt -d "$db" -c 'select 1' >/dev/null || return 1
  cat >"$dir/aggregator.ini" <<EOF
[aggregator]
county = $(awk -F, 'NR == 2 { print $3 }' "$fixture/schools.csv")
listen = tcp://127.0.0.1:$port
alerts = tcp://127.0.0.1:$((port + 1))
query = tcp://127.0.0.1:$((port + 2))
database = dbname=$db host=$PGHOST port=$PGPORT user=$db
rules = ${EDU_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}/deploy/rules.ini
schools = $fixture/schools.csv
[curve]
secret = $dir/keys/aggregator_secret
clients = $dir/keys/schools
readers = $dir/keys/readers
EOF
  [ "${EDU_COUNTY_SCHOOLS:-all}" = none ] && return 0
  for code in $(awk -F, 'NR > 1 { print $1 }' "$fixture/schools.csv"); do
    county_school_init "$dir" "$code" || return 1
  done
}

# county_school_init DIR CODE - a key pair (public half in the aggregator's clients directory)
# and a collector config for one school
county_school_init() {
  local dir=$1 code=$2 bin port
  read -r bin <"$dir/bin"
  read -r port <"$dir/port"
  mkdir -p "$dir/schools/$code"
  "$bin/edu-keygen" --out "$dir/keys/secret" "$code" >/dev/null || return 1
  cp "$dir/keys/secret/$code" "$dir/keys/schools/$code"
  cat >"$dir/schools/$code/collector.ini" <<EOF
[collector]
school = $code
endpoint = tcp://127.0.0.1:$port
inbox = $dir/schools/$code/inbox
spool = $dir/schools/$code/spool
ack_timeout_ms = ${EDU_ACK_TIMEOUT_MS:-3000}
max_backoff_ms = ${EDU_MAX_BACKOFF_MS:-1000}
scan_interval_ms = 500
batch_records = ${EDU_BATCH_RECORDS:-5000}
window_records = ${EDU_WINDOW_RECORDS:-50000}
[curve]
secret = $dir/keys/secret/${code}_secret
server = $dir/keys/aggregator
EOF
}

county_aggregator_start() {
  local dir=$1 bin
  read -r bin <"$dir/bin"
  "$bin/edu-aggregator" -c "$dir/aggregator.ini" >>"$dir/log/aggregator.log" 2>&1 &
  echo $! >"$dir/pids/aggregator"
  county_wait_listening "$dir"
}

# county_wait_listening DIR - waits until the aggregator started last says it listens
county_wait_listening() {
  local dir=$1 i pid
  for i in $(seq 1 400); do
    grep -q "listening on" "$dir/log/aggregator.log" 2>/dev/null && return 0
    read -r pid <"$dir/pids/aggregator"
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "county.sh: the aggregator did not start:" >&2
  tail -20 "$dir/log/aggregator.log" >&2
  return 1
}

# Marks the log so that the next county_aggregator_start waits for a fresh "listening on".
county_aggregator_restart() {
  local dir=$1
  mv "$dir/log/aggregator.log" "$dir/log/aggregator.log.$(date +%s%N)" 2>/dev/null
  county_aggregator_start "$dir"
}

county_collector_start() {
  local dir=$1 code=$2 bin
  read -r bin <"$dir/bin"
  "$bin/edu-collector" -c "$dir/schools/$code/collector.ini" >>"$dir/log/collector-$code.log" 2>&1 &
  echo $! >"$dir/pids/collector-$code"
}

county_stop() {
  local dir=$1 name=$2 sig=${3:-TERM} pid i
  [ -f "$dir/pids/$name" ] || return 0
  read -r pid <"$dir/pids/$name"
  kill -"$sig" "$pid" 2>/dev/null || true
  for i in $(seq 1 200); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$dir/pids/$name"
}

county_stop_all() {
  local dir=$1 f
  for f in "$dir"/pids/collector-*; do
    if [ -e "$f" ]; then county_stop "$dir" "${f##*/}"; fi
  done
  county_stop "$dir" aggregator
}

county_drop() {
  local dir=$1 code=$2 file=$3 name=${4:-$(basename "$3")}
  mkdir -p "$dir/schools/$code/inbox"
  cp "$file" "$dir/schools/$code/inbox/.$name.tmp"
  mv "$dir/schools/$code/inbox/.$name.tmp" "$dir/schools/$code/inbox/$name"
}

# (the helpers read their files with `read`: $(cat FILE) starts two processes, which cost 8 ms of
# CPU on the 2-core test machine, and the suite calls county_sql thousands of times)
county_sql() {
  local db
  read -r db <"$1/db"
  psql -X -qAt -v ON_ERROR_STOP=1 -d "$db" -c "$2"
}

county_stored() {
  county_sql "$1" "select (select count(*) from edu.observation) +
                          (select count(*) from edu.rejected_record)" 2>/dev/null || echo 0
}

# one psql that polls inside the server ten times a second (a psql, and a PostgreSQL backend,
# started ten times a second by every waiting test was most of the suite's system time); the
# views may not exist yet while the aggregator has not migrated
county_wait_stored() {
  local dir=$1 want=$2 seconds=${3:-120}
  PGOPTIONS="-c statement_timeout=${seconds}s" county_sql "$dir" "do \$\$ declare n bigint := 0;
    begin
      loop
        begin
          n := (select count(*) from edu.observation) + (select count(*) from edu.rejected_record);
        exception when undefined_table or invalid_schema_name then n := 0;
        end;
        exit when n >= $want;
        perform pg_sleep(0.1);
      end loop;
    end \$\$" 2>/dev/null && return 0
  echo "county.sh: $(county_stored "$dir") of $want records stored after ${seconds}s" >&2
  return 1
}

county_marked() {
  county_sql "$1" "select coalesce(sum(hwm), 0) from edu.spool_state" 2>/dev/null || echo 0
}

# one psql that polls inside the server every 10 ms: starting psql ten times a second would
# cost a benchmark a tenth of a core
county_wait_marked() {
  local dir=$1 want=$2 seconds=${3:-120}
  PGOPTIONS="-c statement_timeout=${seconds}s" county_sql "$dir" "do \$\$ begin
    while (select coalesce(sum(hwm), 0) from edu.spool_state) < $want loop
      perform pg_sleep(0.01);
    end loop; end \$\$" 2>/dev/null && return 0
  echo "county.sh: spool marks at $(county_marked "$dir") of $want after ${seconds}s" >&2
  return 1
}

county_wait_inbox_empty() {
  local dir=$1 code=$2 seconds=${3:-60} i
  for i in $(seq 1 $((seconds * 10))); do
    [ -z "$(find "$dir/schools/$code/inbox" -maxdepth 1 -name '*.csv' 2>/dev/null)" ] && return 0
    sleep 0.1
  done
  echo "county.sh: files still waiting in $dir/schools/$code/inbox" >&2
  return 1
}

# county_feed DIR FIXTURE - starts a collector per school of FIXTURE/schools.csv and feeds the
# sample as a county would see it: each school's data-CODE.csv; once stored, the corrections
# (through each school's own collector, as corrections.csv); once stored, each row of bad.csv
# as its own file bad-N.csv sent by its `sender`. Waits for each step to be stored. The
# fixture's files end their lines with CRLF, as Excel writes them; the collectors read them as
# they are, the counts ignore the CR. Sets COUNTY_FED to the number of records sent.
county_feed() {
  local dir=$1 fixture=$2 code n=0 rows sender school indicator period value
  for code in $(awk -F, 'NR > 1 { print $1 }' "$fixture/schools.csv"); do
    county_collector_start "$dir" "$code"
    if [ -f "$fixture/data-$code.csv" ]; then
      county_drop "$dir" "$code" "$fixture/data-$code.csv"
      rows=$(tr -d '\r' <"$fixture/data-$code.csv" | tail -n +2 | grep -c .)
      n=$((n + rows))
    fi
  done
  echo "county.sh: dropped $n records into the schools' inboxes"
  county_wait_stored "$dir" "$n" 120 || return 1
  if [ -f "$fixture/corrections.csv" ]; then
    tr -d '\r' <"$fixture/corrections.csv" >"$dir/corrections.csv"
    for code in $(tail -n +2 "$dir/corrections.csv" | cut -d, -f1 | sort -u); do
      { head -1 "$dir/corrections.csv"; grep "^$code," "$dir/corrections.csv"; } \
        >"$dir/corrections-$code.csv"
      county_drop "$dir" "$code" "$dir/corrections-$code.csv" corrections.csv
    done
    rows=$(tail -n +2 "$dir/corrections.csv" | grep -c .)
    n=$((n + rows))
    echo "county.sh: dropped $rows corrections"
    county_wait_stored "$dir" "$n" 60 || return 1
  fi
  if [ -f "$fixture/bad.csv" ]; then
    rows=0
    while IFS=, read -r sender school indicator period value _; do
      rows=$((rows + 1))
      printf 'school_code,indicator,period,value\n%s,%s,%s,%s\n' "$school" "$indicator" \
        "$period" "$value" >"$dir/bad-$rows.csv"
      county_drop "$dir" "$sender" "$dir/bad-$rows.csv"
    done < <(tr -d '\r' <"$fixture/bad.csv" | tail -n +2)
    n=$((n + rows))
    echo "county.sh: dropped $rows bad rows, each from its sender"
    county_wait_stored "$dir" "$n" 60 || return 1
  fi
  COUNTY_FED=$n
}

county_set() {
  local file=$1 section=$2 line
  shift 2
  grep -q "^\[$section\]\$" "$file" || printf '[%s]\n' "$section" >>"$file"
  for line in "$@"; do
    # the same key set before is replaced
    sed -i "/^\[$section\]\$/,/^\[/{/^${line%% *} *=/d}" "$file"
    sed -i "/^\[$section\]\$/a $line" "$file"
  done
}

# county_test NAME [PORTS] - the opening most integration tests share: a work directory
# /tmp/edu-NAME.XXXXXX (removed after a pass, kept after a failure, with the end of each log
# shown), everything started under it stopped at exit and the pids the test adds to
# COUNTY_TEST_PIDS killed, PORTS free ports in one draw (default 3: the county's listen,
# alerts and query), and the county's keys and configs (county_init, database NAME_PID). Uses
# bin and fixture; sets work and port.
county_test() {
  local name=$1 ports=${2:-3}
  work=$(mktemp -d "/tmp/edu-$name.XXXXXX")
  COUNTY_TEST_PIDS=()
  trap 'kill "${COUNTY_TEST_PIDS[@]}" 2>/dev/null; county_stop_all "$work"; check_keep_on_failure "$work"' EXIT
  port=$(check_free_port "$ports")
  county_init "$work" "$bin" "$fixture" "${name//-/_}_$$" "$port" || check_fail "county setup"
}
