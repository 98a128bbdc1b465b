#!/bin/bash
# quickstart.sh - the sample county end to end on this machine
#
#   deploy/quickstart.sh [--keep | --stop] [--sample DIR]
#
# Installs what eduwatch needs (Debian 12), builds it into build/, starts a private PostgreSQL
# under var/ (its own port and socket directory; no system service is touched), an aggregator
# and one collector per school of the sample county in deploy/sample/county-430405, drops each
# school's CSV into its inbox, then the corrections, then the sample's bad rows (each sent by
# its `sender`), waits until every record is stored, and prints what was accepted and refused,
# per school and by reason, and then the warnings (红黄绿三色预警), red first, with the
# county's dispersion and progress lines. The sample is judged as of EDU_NOW (default
# 2025-11-08T12:00:00+08:00, the sample's own date).
#
#   --keep         leave everything running (stop it later with --stop)
#   --stop         stop what an earlier --keep left running, then exit
#   --sample DIR   another county directory laid out like deploy/sample/county-430405
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/tests/lib/deps.sh"
. "$root/tests/lib/pg.sh"
. "$root/tests/lib/county.sh"
. "$root/tests/lib/check.sh"

keep=0
sample=$root/deploy/sample/county-430405
usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case $1 in
    --keep) keep=1 ;;
    --stop) stop_only=1 ;;
    --sample) sample=$(cd "$2" && pwd); shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "quickstart.sh: unknown argument \"$1\" (try --help)" >&2; exit 2 ;;
  esac
  shift
done

var=$root/var
county=$var/county
stop_everything() {
  [ -d "$county/pids" ] && county_stop_all "$county"
  [ -f "$var/pg/data/postmaster.pid" ] && pg_stop "$var/pg"
  return 0
}
stop_everything # whatever an earlier --keep left running
if [ "${stop_only:-0}" = 1 ]; then
  echo "stopped"
  exit 0
fi

echo "== dependencies"
edu_install_deps
echo "== build (build/)"
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEDU_WERROR=OFF >/dev/null
cmake --build "$root/build" -j "$(nproc)" 2>&1 | grep -Ev '^\[ *[0-9]+%\]' || true
bin=$root/build/bin

echo "== PostgreSQL (var/pg)"
mkdir -p "$var"
if [ "$(id -u)" = 0 ] && ! runuser -u nobody -- test -x "$var" 2>/dev/null; then
  # PostgreSQL runs as an unprivileged user, who must be able to reach var/
  echo "note: $var is not reachable by unprivileged users; the cluster goes to /var/tmp" >&2
  mkdir -p /var/tmp/eduwatch-quickstart
  ln -sfn /var/tmp/eduwatch-quickstart "$var/pg"
fi
port=$( [ -f "$var/pg/port" ] && cat "$var/pg/port" || check_free_port )
pg_start "$var/pg" "$port"
dropdb --if-exists edu
trap 'echo "quickstart failed; logs are in $county/log" >&2; stop_everything' ERR

# The sample county is as of 8 November 2025, a week after the 2025-2026 deadline (10-31):
# deadlines and the missing warnings are judged at that moment unless EDU_NOW says otherwise.
export EDU_NOW=${EDU_NOW:-2025-11-08T12:00:00+08:00}

echo "== county $(awk -F, 'NR == 2 { print $3 }' "$sample/schools.csv") (var/county)"
rm -rf "$county"
county_port=$(check_free_port 4) # the county's three and the dashboard's
county_init "$county" "$bin" "$sample" edu "$county_port"
http=$((county_port + 3))
sed -i "s/^\[aggregator\]$/[aggregator]\nhttp = 127.0.0.1:$http/" "$county/aggregator.ini"
county_aggregator_start "$county"
county_feed "$county" "$sample"
echo "all $COUNTY_FED records stored"
echo
echo "== stored: accepted and refused records per school"
# Per sending school: a refused record may name another school (or none in the registry).
county_sql "$county" "
  with a as (select sender, count(*) as n from edu.observation_log group by 1),
       r as (select sender, reason, count(*) as n from edu.rejected_log group by 1, 2)
  select s.sender, coalesce(a.n, 0),
         coalesce((select sum(n) from r where r.sender = s.sender), 0),
         coalesce((select string_agg(reason || ' ' || n, ', ' order by reason) from r
                   where r.sender = s.sender), '-')
  from (select sender from a union select sender from r) s left join a using (sender)
  order by 1" |
  awk -F'|' -v OFS='|' -v reg="$sample/schools.csv" '
    BEGIN {
      while ((getline line < reg) > 0) { sub(/\r$/, "", line); split(line, f, ","); name[f[1]] = f[2] }
      print "school", "name", "accepted", "refused", "refused by reason"
    }
    { print $1, name[$1], $2, $3, $4; a += $2; r += $3 }
    END { print "total", "", a, r, "" }' | LC_ALL=C.UTF-8 column -t -s '|'
echo
echo "current values: $(county_sql "$county" "select count(*) from edu.current_observation")" \
  "(school x indicator x period; corrections replace earlier values, history is kept)"
echo "each school's refusals are in $county/schools/<code>/inbox/rejected/*.errors.csv"

echo
echo "== warnings (红黄绿三色预警) as of $EDU_NOW: red first"
county_sql "$county" "select level, count(*) from edu.current_warning group by 1 order by 1 desc" |
  sed 's/|/: /; s/^/  /'
county_sql "$county" "select kind, subject, coalesce(stage, ''), indicator, period, level,
    coalesce(value::text, '') from edu.current_warning
  order by level = 'red' desc, kind in ('dispersion', 'progress'), subject, indicator, period, kind" |
  awk -F'|' -f "$root/deploy/warnings.awk" "$sample/schools.csv" "$root/deploy/rules.ini" - |
  LC_ALL=C.UTF-8 column -t -s '|'

trap - ERR
if [ $keep = 1 ]; then
  echo
  echo "still running (--keep): database \"edu\" at PGHOST=$PGHOST PGPORT=$PGPORT PGUSER=$PGUSER"
  echo "  psql -h $PGHOST -p $PGPORT -U $PGUSER edu"
  echo "  dashboard: http://127.0.0.1:$http/   metrics: http://127.0.0.1:$http/metrics"
  echo "  drop more CSV files into $county/schools/<code>/inbox/"
  echo "  stop everything: deploy/quickstart.sh --stop"
else
  stop_everything
  echo "stopped everything it started (--keep leaves it running)"
fi
