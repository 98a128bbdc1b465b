#!/bin/bash
# province_national.sh - the national tier: two provinces' databases publish their tables, a
# national database subscribes to both (deploy/national/) and sees the union; a county's
# approved year arrives, an unlock withdraws it, and neither a province's crash nor the
# national database being down loses a change
#
# Three PostgreSQL clusters of its own (the provinces with wal_level = logical) and simulated
# counties (tests/sim/county_sim).
#
#   province_national.sh BIN_DIR FIXTURE_DIR
set -u
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
root=${EDU_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
. "$here/../lib/pg.sh"
. "$here/../lib/check.sh"

work=$(mktemp -d /tmp/edu-national.XXXXXX)
chmod 755 "$work"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; for c in p43 p44 nation; do pg_stop "$work/$c" >/dev/null 2>&1; done; check_keep_on_failure "$work"' EXIT
mkdir -p "$work/keys" "$work/log"
ports=$(check_free_port 4) # three clusters and the simulated counties
sim=$((ports + 3))
i=0
for c in p43 p44 nation; do
  pg_start "$work/$c" $((ports + i)) >/dev/null || check_fail "cluster $c"
  i=$((i + 1))
done
# the provinces publish: wal_level = logical takes a restart
for c in p43 p44; do
  psql -X -q -h "$work/$c/sock" -p "$(cat "$work/$c/port")" -U postgres -d postgres \
    -c "alter system set wal_level = logical" -c "create database province" ||
    check_fail "$c: wal_level"
  pg_stop "$work/$c" && pg_restart "$work/$c" || check_fail "$c: restart"
done
conn() { echo "host=$work/$1/sock port=$(cat "$work/$1/port") user=postgres dbname=$2"; }
q() { psql -X -qAt -d "$(conn "$1" "$2")" -c "$3"; } # q CLUSTER DB SQL

"$bin/edu-keygen" --out "$work/keys" province >/dev/null
"$bin/edu-keygen" --out "$work/keys" sim >/dev/null
"$bin/county_sim" "tcp://127.0.0.1:$sim" "$work/keys" 68 >"$work/log/sim.log" 2>&1 &
pids+=($!)
check_wait_for ready "$work/log/sim.log" 10 || check_fail "county_sim did not start"
for c in p43 p44; do
  {
    printf '[province]\ndatabase = %s\ntimeout_ms = 5000\n' "$(conn "$c" province)"
    printf '[curve]\nsecret = %s/keys/province_secret\n' "$work"
    for n in 01 02; do
      printf '[county.%s01%s]\nendpoint = tcp://127.0.0.1:%s\nserver = %s/keys/sim\n' \
        "${c#p}" "$n" "$sim" "$work"
    done
  } >"$work/$c.ini"
  "$bin/edu-province" -c "$work/$c.ini" migrate >>"$work/log/province.log" 2>&1 ||
    check_fail "$c: migrate (publication)"
done
pull() { "$bin/edu-province" -c "$work/$1.ini" pull --once >>"$work/log/province.log" 2>&1; }

# the national database subscribes to both
q nation postgres "create database national" || check_fail "national database"
psql -X -q -v ON_ERROR_STOP=1 -d "$(conn nation national)" -f "$root/deploy/national/national.sql" \
  >/dev/null || check_fail "national.sql"
for c in p43 p44; do
  psql -X -q -v ON_ERROR_STOP=1 -d "$(conn nation national)" -v name="edu_${c#p}" \
    -v conninfo="$(conn "$c" province)" -f "$root/deploy/national/subscribe.sql" \
    2>>"$work/log/national.log" || check_fail "subscribe to $c"
done
# wait_same SQL WHAT - the national answer equals both provinces' together (60 s at most)
wait_same() {
  local want got i
  for i in $(seq 1 120); do
    want=$( (q p43 province "$1"; q p44 province "$1") | sort)
    got=$(q nation national "$1" | sort)
    [ "$want" = "$got" ] && [ -n "$want" ] && break
    sleep 0.5
  done
  check_eq "$got" "$want" "$2"
}

pull p43 && pull p44 || check_fail "first pulls"
wait_same "select county_code, count(*), sum(version) from province.indicator_row
  where not withdrawn group by county_code" "the national database sees both provinces' rows"
check_eq "$(q nation national "select count(distinct province_code) || ' ' || count(distinct county_code)
  from national.county_indicator")" "2 4" "two provinces, four counties, keyed by county code"
check_eq "$(q nation national "select count(*) from national.county_indicator
  where county_code = '430101' and period = '2024-2025'")" 34 "a county's approved year is there"
wait_same "select county_code, period, state from province.period_row" "the years' approval too"

# an unlock at a county of 44 withdraws the year at the national level
"$bin/county_sim" --send "tcp://127.0.0.1:$sim" "$work/keys/sim" sim-unlock 440101 2024-2025 \
  "更正数据" >/dev/null || check_fail "sim-unlock"
pull p44
wait_same "select county_code, period, count(*) filter (where withdrawn)
  from province.indicator_row group by 1, 2" "the withdrawal arrives"
check_eq "$(q nation national "select count(*) from national.county_indicator
  where county_code = '440101' and period = '2024-2025'")" 0 "the unlocked year is withdrawn nationally"
check_eq "$(q nation national "select count(*) from province.indicator_row
  where county_code = '440101' and period = '2024-2025' and withdrawn")" 34 "its rows kept, marked"

# a province crashes right after a pull: nothing is lost
"$bin/county_sim" --send "tcp://127.0.0.1:$sim" "$work/keys/sim" sim-unlock 430102 2023-2024 \
  "核查" >/dev/null || check_fail "sim-unlock 430102"
pull p43
pg_crash "$work/p43"
pg_restart "$work/p43" || check_fail "p43 restart"
wait_same "select county_code, period, state, count(*) filter (where withdrawn) from province.indicator_row
  join province.period_row using (county_code, period) group by 1, 2, 3" \
  "after a province's crash the national database has its last pull"

# the national database is down while a province pulls, then catches up
pg_stop "$work/nation"
"$bin/county_sim" --send "tcp://127.0.0.1:$sim" "$work/keys/sim" sim-approve 430102 2023-2024 \
  >/dev/null || check_fail "sim-approve"
"$bin/county_sim" --send "tcp://127.0.0.1:$sim" "$work/keys/sim" accept 440102 2024-2025 \
  >/dev/null || check_fail "accept"
pull p43 && pull p44 || check_fail "pulls while the national database is down"
pg_restart "$work/nation" || check_fail "national restart"
wait_same "select county_code, stage, indicator, period, schools, mean, cv, red, yellow, green,
  version, withdrawn from province.indicator_row" "after its restart every row is the provinces'"
wait_same "select county_code, period, state, accepted_at from province.period_row" \
  "and every year's state"
wait_same "select county_code, version, seq, kind, note from province.late_change" \
  "and the late changes"
check_eq "$(q nation national "select approved || '/' || accepted || '/' || counties
  from national.province_year where province_code = '44' and period = '2024-2025'")" "1/1/2" \
  "national.province_year: 44 has one county's 2024-2025 approved (accepted), one unlocked"

check_no_grep 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$work/log/province.log" \
  "no sanitizer report"
check_done
