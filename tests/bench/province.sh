#!/bin/bash
# province.sh - every county in China pulled by its provinces: a first pull and a 5 % one
#
#   tests/bench/province.sh [BIN_DIR] [COUNTIES] [ROWS] [SERVERS] [PER_PROVINCE]
#
# SERVERS county servers (tests/sim/county_sim, speaking pull version 2 over CURVE) on
# loopback serve COUNTIES counties between them (default 2850, every county in China), ROWS
# aggregate rows each (default 680: 20 approved years of 2 stages x 17 indicators, each year
# with its approval, snapshot of county-level warnings, a late change and a case). The
# counties are split into provinces of PER_PROVINCE (default 150; the last takes the rest),
# each an edu-province with its own database in one PostgreSQL cluster, pulled one after the
# other (each would have its own machine). First every province pulls from nothing; then the
# servers restart with one more approved year per county (5 % more rows) and every province
# pulls again. Prints per province and in all: time, rows, rows/s, and the databases' size.
#
# EDU_BENCH_PARTITION=hash makes province.indicator_row a table partitioned by hash of the
# county code (8 partitions), =period by period (list, one partition a year), before
# edu-province migrates it: the migrations adopt it as it is (docs/scale.md compares them).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-$root/build/bin}
counties=${2:-2850}
rows=${3:-680}
servers=${4:-4}
per=${5:-150}
partition=${EDU_BENCH_PARTITION:-none}
. "$root/tests/lib/pg.sh"
. "$root/tests/lib/check.sh"

work=$(mktemp -d /tmp/edu-bench-province.XXXXXX)
chmod 755 "$work"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; pg_stop "$work/pg" >/dev/null 2>&1; rm -rf "$work"' EXIT
pg_start "$work/pg" "$(check_free_port)"
mkdir -p "$work/keys"
"$bin/edu-keygen" --out "$work/keys" province >/dev/null
"$bin/edu-keygen" --out "$work/keys" sim >/dev/null # the county servers' certificate
ports=()
first=$(check_free_port "$servers") # one draw: the servers do not listen yet
for s in $(seq 1 "$servers"); do ports+=($((first + s - 1))); done

serve() { # serve ROWS
  kill "${pids[@]}" 2>/dev/null || true
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
  for p in "${ports[@]}"; do
    "$bin/county_sim" "tcp://127.0.0.1:$p" "$work/keys" "$1" >"$work/sim-$p.out" &
    pids+=($!)
  done
  for p in "${ports[@]}"; do
    for i in $(seq 1 100); do grep -q ready "$work/sim-$p.out" 2>/dev/null && break; sleep 0.05; done
  done
}

# the provinces: codes 11.., counties 0001.. within each
provinces=$(( (counties + per - 1) / per ))
n=0
for p in $(seq 1 "$provinces"); do
  code=$((10 + p))
  db=province_$code
  createdb "$db"
  take=$(( counties - n < per ? counties - n : per ))
  if [ "$partition" != none ]; then
    psql -X -q -d "$db" <<SQL >/dev/null
SET client_min_messages = warning;
CREATE SCHEMA province;
CREATE TABLE province.indicator_row (
  county_code text NOT NULL, stage text NOT NULL, indicator text NOT NULL,
  period text NOT NULL, schools integer NOT NULL, mean double precision,
  min double precision, max double precision, cv double precision,
  red integer NOT NULL, yellow integer NOT NULL, green integer NOT NULL,
  version bigint NOT NULL, pulled_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (county_code, stage, indicator, period))
  PARTITION BY $( [ "$partition" = hash ] && echo "HASH (county_code)" || echo "LIST (period)");
SELECT format(CASE WHEN '$partition' = 'hash'
    THEN 'CREATE TABLE province.indicator_row_%s PARTITION OF province.indicator_row FOR VALUES WITH (MODULUS 8, REMAINDER %s)'
    ELSE 'CREATE TABLE province.indicator_row_%s PARTITION OF province.indicator_row FOR VALUES IN (''%s-%s'')' END,
  i, CASE WHEN '$partition' = 'hash' THEN i::text ELSE (2025 - i)::text END, 2026 - i)
  FROM generate_series(0, CASE WHEN '$partition' = 'hash' THEN 7 ELSE 40 END) i \gexec
SQL
  fi
  {
    printf '[province]\ndatabase = dbname=%s host=%s port=%s user=%s\n' "$db" "$PGHOST" "$PGPORT" "$PGUSER"
    printf 'timeout_ms = 60000\npage_rows = 5000\nconcurrency = 64\n'
    printf '[curve]\nsecret = %s/keys/province_secret\n' "$work"
    for c in $(seq 1 "$take"); do
      printf '[county.%02d%04d]\nendpoint = tcp://127.0.0.1:%s\nserver = %s/keys/sim\n' "$code" "$c" \
        "${ports[$(( (n + c) % servers ))]}" "$work"
    done
  } >"$work/province-$code.ini"
  n=$((n + take))
done

ms() { date +%s%3N; }
rows_of() { # rows_of DB - rows stored at the province
  psql -X -qAt -d "$1" -c "select (select count(*) from province.indicator_row)
    + (select count(*) from province.warning_row) + (select count(*) from province.period_event)
    + (select count(*) from province.late_change) + (select count(*) from province.county_case)"
}
pull_all() { # pull_all WHAT
  local total_ms=0 total_rows=0 t0 t1 before after code
  for p in $(seq 1 "$provinces"); do
    code=$((10 + p))
    before=$(rows_of "province_$code" 2>/dev/null || echo 0)
    t0=$(ms)
    "$bin/edu-province" -c "$work/province-$code.ini" pull --once 2>"$work/pull.err" ||
      { cat "$work/pull.err" >&2; echo "the $1 pull of province $code failed" >&2; exit 1; }
    t1=$(ms)
    after=$(rows_of "province_$code")
    # an incremental pull rewrites rows as often as it adds them: count what it received
    received=$(grep -o '[0-9]* rows' "$work/pull.err" | awk '{ s += $1 } END { print s + 0 }')
    total_ms=$((total_ms + t1 - t0))
    total_rows=$((total_rows + received))
    printf '  %s province %s: %s counties, %s rows received (%s stored now) in %s ms\n' "$1" "$code" \
      "$(grep -c '^\[county\.' "$work/province-$code.ini")" "$received" "$after" $((t1 - t0))
  done
  echo "$1 pull: $counties counties in $provinces provinces, $total_rows rows in $total_ms ms:" \
    "$(awk -v n=$total_rows -v ms=$total_ms 'BEGIN { printf "%.0f", n * 1000 / ms }') rows/s" \
    "(partition: $partition)"
}
serve "$rows"
pull_all first
serve $((rows + 34)) # one more approved year per county
pull_all incremental
size=$(psql -X -qAt -d postgres -c "select sum(pg_database_size(datname)) from pg_database
  where datname like 'province_%'")
one=$(psql -X -qAt -d postgres -c "select pg_size_pretty(pg_database_size('province_11'))")
echo "databases: $(awk -v b="$size" 'BEGIN { printf "%.0f MB", b / 1048576 }') in all," \
  "province_11 ($(grep -c '^\[county\.' "$work/province-11.ini") counties) $one;" \
  "province.indicator_row of province_11: $(psql -X -qAt -d province_11 -c "select count(*) from province.indicator_row") rows"
