#!/bin/bash
# province.sh - one province pulling many counties: a full first pull and an incremental one
#
#   tests/bench/province.sh [BIN_DIR] [COUNTIES] [ROWS] [SERVERS]
#
# SERVERS county servers (tests/sim/county_sim, speaking the aggregator's pull protocol over
# CURVE) on loopback serve COUNTIES counties between them (default 300), ROWS aggregate rows
# each (default 1000, plus a county-level warning change every 20 rows). edu-province pulls
# them all with `pull --once` into its own PostgreSQL cluster: first from nothing, then — after
# the servers restart with 5% more rows — incrementally. Prints the times and rows/s; asserts
# only that both pulls succeed.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-$root/build/bin}
counties=${2:-300}
rows=${3:-1000}
servers=${4:-4}
. "$root/tests/lib/pg.sh"
. "$root/tests/lib/check.sh"

work=$(mktemp -d /tmp/edu-bench-province.XXXXXX)
chmod 755 "$work"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; pg_stop "$work/pg" >/dev/null 2>&1; rm -rf "$work"' EXIT
pg_start "$work/pg" "$(check_free_port)"
createdb province
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
serve "$rows"
{
  printf '[province]\ndatabase = dbname=province host=%s port=%s user=%s\n' "$PGHOST" "$PGPORT" "$PGUSER"
  printf 'timeout_ms = 30000\npage_rows = 5000\nconcurrency = 64\n'
  printf '[curve]\nsecret = %s/keys/province_secret\n' "$work"
  for c in $(seq 1 "$counties"); do
    printf '[county.%06d]\nendpoint = tcp://127.0.0.1:%s\nserver = %s/keys/sim\n' $((430000 + c)) \
      "${ports[$((c % servers))]}" "$work"
  done
} >"$work/province.ini"

ms() { date +%s%3N; }
pull() { # pull WHAT - prints the time and rows
  local t0 t1 before after
  before=$(psql -X -qAt -d province -c "select coalesce(sum(cursor), 0) from province.county_cursor" 2>/dev/null || echo 0)
  t0=$(ms)
  "$bin/edu-province" -c "$work/province.ini" pull --once 2>"$work/pull.err" ||
    { cat "$work/pull.err" >&2; echo "the $1 pull failed" >&2; exit 1; }
  t1=$(ms)
  after=$(psql -X -qAt -d province -c "select sum(cursor) from province.county_cursor")
  echo "$1 pull: $counties counties, $((after - before)) versions in $((t1 - t0)) ms:" \
    "$(awk -v n=$((after - before)) -v ms=$((t1 - t0)) 'BEGIN { printf "%.0f", n * 1000 / ms }') rows/s"
}
pull "first"
serve $((rows + rows / 20))
pull "incremental"
echo "province.indicator_row: $(psql -X -qAt -d province -c "select count(*) from province.indicator_row") rows"
