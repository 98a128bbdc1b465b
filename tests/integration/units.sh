#!/bin/bash
# units.sh - the systemd units of deploy/systemd: systemd-analyze finds nothing wrong in them and
# rates each 2.x or better (the score is printed); a unit whose start keeps failing stops being
# restarted; no program or library asks for an executable stack; and the programs work inside
# their unit's sandbox. systemd itself need not run here: tests/lib/sandbox.py applies the
# unit's seccomp part as systemd does (system call filter, address families,
# MemoryDenyWriteExecute, RestrictRealtime) and the programs run in it under strace: the
# aggregator (PostgreSQL over a unix socket, a webhook by name and e-mail through libcurl,
# /metrics, SIGHUP, sd_notify with the watchdog), two collectors (inotify, inbox and spool, a
# GB18030 file) and the province's pull (PostgreSQL over TCP); then tests/lib/unitcheck.py checks
# every system call, socket, mapping and file of /proc they used against the unit.
#
#   units.sh BIN_DIR FIXTURE_DIR
set -u
bin=$1 fixture=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/county.sh"
. "$here/../lib/check.sh"
src=${EDU_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
units=$src/deploy/systemd

export EDU_NOW=2025-11-08T12:00:00+08:00
work=$(mktemp -d /tmp/edu-units.XXXXXX)
pids=()
trap 'county_stop_all "$work"; kill "${pids[@]}" 2>/dev/null; check_keep_on_failure "$work"' EXIT
mkdir -p "$work/log" "$work/strace"
for tool in systemd-analyze strace; do
  command -v $tool >/dev/null || check_fail "$tool is not installed (tests/run.sh installs it)"
done

# --- the units, offline ---------------------------------------------------------------------
for role in aggregator collector province; do
  unit=$units/edu-$role.service
  SYSTEMD_LOG_LEVEL=warning systemd-analyze verify "$unit" >"$work/log/verify-$role.log" 2>&1
  check_no_grep "edu-$role\.service:[0-9]+:" "$work/log/verify-$role.log" \
    "systemd-analyze verify: no unknown key or bad value in edu-$role.service"
  systemd-analyze security --offline=yes --no-pager "$unit" >"$work/security-$role.txt" 2>&1
  score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\) .*/\1/p' "$work/security-$role.txt")
  echo "# systemd-analyze security --offline=yes edu-$role.service: ${score:-?}"
  check_eq "$(awk -v s="${score:-99}" 'BEGIN { print (s < 3.0) ? "yes" : "no (" s ")" }')" yes \
    "edu-$role.service is rated 2.x or better ($score)"
  # a start that fails at once is retried every RestartSec; the unit must reach its burst
  # within its interval, or it is restarted for ever
  value() { sed -n "s/^$1=//p" "$unit" | tail -1; }
  interval=$(value StartLimitIntervalSec) burst=$(value StartLimitBurst) every=$(value RestartSec)
  check_eq "$(awk -v i="${interval:-10}" -v b="${burst:-5}" -v r="${every:-0.1}" \
    'BEGIN { print (b * r < i && b <= 10) ? "yes" : "no" }')" yes \
    "edu-$role.service: $burst failed starts ${every}s apart fall within StartLimitIntervalSec=$interval"
  check_grep "^ExecStartPre=/usr/bin/edu-$role -c /etc/edu/$role.ini --check$" "$unit" \
    "edu-$role.service checks its config before it starts"
done

# --- the libraries: none asks for an executable stack (which MemoryDenyWriteExecute refuses) --
for p in edu-aggregator edu-collector edu-province; do
  execstack=$( (echo "$bin/$p"; ldd "$bin/$p" | awk '$3 ~ /^\// { print $3 }') | while read -r f; do
    readelf -lW "$f" | awk -v f="$f" '$1 == "GNU_STACK" && $7 ~ /E/ { print f }'
  done)
  check_eq "$execstack" "" "$p and the $(ldd "$bin/$p" | grep -c '=> /') libraries it loads have no executable stack"
done

# A sanitizer build cannot run in a unit's sandbox: LeakSanitizer ptraces the process at exit
# (and strace already does), which the filter refuses; the build without sanitizers runs it.
if ldd "$bin/edu-aggregator" | grep -qE 'lib(a|ub)san'; then
  echo "# a sanitizer build: the sandboxed run is left to the plain build"
  check_done
fi

# --- the programs at work, sandboxed, under strace ------------------------------------------
# sandbox.py applies the seccomp part of the unit as systemd would (system call filter, address
# families, MemoryDenyWriteExecute, RestrictRealtime), then execs the program; strace records
# what the program did, refused calls included
sandboxed() { # sandboxed ROLE NAME PROGRAM ARGS... - runs it in the foreground
  local role=$1 name=$2
  shift 2
  strace -f -qq -s 256 -o "$work/strace/$name" \
    /usr/bin/python3 "$here/../lib/sandbox.py" "$units/edu-$role.service" -- "$@"
}
/usr/bin/python3 -c 'import seccomp' 2>/dev/null ||
  check_fail "python3-seccomp is not installed (tests/run.sh installs it)"
trace() { # trace ROLE NAME PROGRAM ARGS... - runs it sandboxed in the background; its pid in pids/NAME
  local role=$1 name=$2
  shift 2
  strace -f -qq -s 256 -o "$work/strace/$name" /usr/bin/python3 "$here/../lib/sandbox.py" \
    "$units/edu-$role.service" -- "$@" >>"$work/log/$name.log" 2>&1 &
  local tracer=$! i child=
  for i in $(seq 1 100); do
    child=$(pgrep -P "$tracer" | head -1)
    [ -n "$child" ] && break
    sleep 0.05
  done
  [ -n "$child" ] || return 1
  echo "$child" >"$work/pids/$name"
  tracers+=("$tracer")
}
tracers=()

# what systemd gives a Type=notify unit with WatchdogSec: a datagram socket for READY=1 and
# WATCHDOG=1 (one per program here, each written to notify-NAME.log) and WATCHDOG_USEC
notify_listen() { # notify_listen NAME
  python3 - "$work/notify-$1.sock" >"$work/notify-$1.log" 2>&1 <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
while True:
    print(s.recv(4096).decode().replace("\n", " "), flush=True)
PY
  pids+=($!)
  for i in $(seq 1 50); do [ -S "$work/notify-$1.sock" ] && break; sleep 0.05; done
}
start_sink() { # start_sink NAME ARGS... - sets the variable NAME to its port
  python3 "$here/../lib/sinks.py" "${@:2}" >"$work/log/$1.ready" 2>"$work/log/$1.log" &
  pids+=($!)
  check_wait_for ready "$work/log/$1.ready" 5 || check_fail "sink $1 did not start"
  printf -v "$1" '%s' "$(awk '{ print $2 }' "$work/log/$1.ready")"
}
start_sink hook http 0 "$work/hook.jsonl"
start_sink smtp smtp 0 "$work/mail"

port=$(check_free_port 4)
EDU_COUNTY_SCHOOLS=none county_init "$work" "$bin" "$fixture" "units_$$" "$port" ||
  check_fail "county setup"
schools="2143004052 2143004053"
for code in $schools; do county_school_init "$work" "$code" || check_fail "school $code"; done
"$bin/edu-keygen" --out "$work/keys/secret" province >/dev/null
cp "$work/keys/secret/province" "$work/keys/readers/province"
http=$((port + 3))
county_set "$work/aggregator.ini" aggregator "http = 127.0.0.1:$http" "alert_group_wait_ms = 500"
cat >>"$work/aggregator.ini" <<INI
[webhook.json]
url = http://localhost:$hook/hook
format = json
[smtp]
url = smtp://localhost:$smtp
from = eduwatch@county.example
[email.chief]
to = chief@county.example
min_level = red
INI
cat >"$work/province.ini" <<INI
[province]
database = dbname=units_province_$$ host=127.0.0.1 port=$PGPORT user=$PGUSER
timeout_ms = 5000
[curve]
secret = $work/keys/secret/province_secret
[county.430405]
endpoint = tcp://127.0.0.1:$((port + 2))
server = $work/keys/aggregator
INI
createdb "units_province_$$" || check_fail "province database"

export WATCHDOG_USEC=2000000
sandboxed aggregator aggregator-check "$bin/edu-aggregator" -c "$work/aggregator.ini" --check \
  >"$work/log/aggregator-check.log" 2>&1
check_eq "$?" 0 "edu-aggregator --check (ExecStartPre) passes in its unit's sandbox"
notify_listen aggregator
NOTIFY_SOCKET=$work/notify-aggregator.sock trace aggregator aggregator "$bin/edu-aggregator" \
  -c "$work/aggregator.ini" || check_fail "aggregator start"
county_wait_listening "$work" || check_fail "aggregator start"
for code in $schools; do
  sandboxed collector "collector-check-$code" "$bin/edu-collector" \
    -c "$work/schools/$code/collector.ini" --check >/dev/null 2>&1
  check_eq "$?" 0 "edu-collector --check of $code passes in its unit's sandbox"
  notify_listen "collector-$code"
  NOTIFY_SOCKET=$work/notify-collector-$code.sock trace collector "collector-$code" "$bin/edu-collector" \
    -c "$work/schools/$code/collector.ini" || check_fail "collector $code start"
done
unset WATCHDOG_USEC

# the data: one school's as UTF-8, the other's as GB18030 with a Chinese column (iconv's gconv
# module is loaded at run time); the first file red enough for an e-mail
county_drop "$work" 2143004052 "$fixture/data-2143004052.csv"
tr -d '\r' <"$fixture/data-2143004053.csv" | awk -F, -v OFS=, 'NR == 1 { print $0, "备注" }
  NR > 1 { print $0, "已核对" }' | iconv -f UTF-8 -t GB18030 >"$work/gb18030.csv"
county_drop "$work" 2143004053 "$work/gb18030.csv"
rows=$(($(tr -d '\r' <"$fixture/data-2143004052.csv" | tail -n +2 | grep -c .) +
  $(tail -n +2 "$work/gb18030.csv" | grep -c .)))
county_wait_stored "$work" "$rows" 60 || check_fail "the schools' $rows records not stored"
check_wait_for . "$work/hook.jsonl" 30 || check_fail "no alert reached the webhook"
for i in $(seq 1 300); do ls "$work/mail"/*.eml >/dev/null 2>&1 && break; sleep 0.1; done
check_eq "$(ls "$work/mail" 2>/dev/null | grep -c '\.eml$' | awk '{ print ($1 > 0) ? "yes" : "no" }')" yes \
  "the aggregator mailed a red alert"
curl -sf "http://127.0.0.1:$http/metrics" >"$work/metrics.txt"
check_grep '^edu_warnings\{' "$work/metrics.txt" "/metrics answers (its own database connection)"
kill -HUP "$(cat "$work/pids/aggregator")"
check_wait_for 'reloaded [0-9]+ indicators' "$work/log/aggregator.log" 10
check_eq "$?" 0 "SIGHUP (ExecReload): the aggregator reloads its rules and registry"
# the province sees approved years only (docs/approval.md): every year, as the county's owner
county_sql "$work" "insert into edu.period_log (period, at, actor, action)
  select distinct period, now(), 'test', 'approved' from edu.county_aggregate" >/dev/null
sandboxed province province-check "$bin/edu-province" -c "$work/province.ini" --check >/dev/null 2>&1
check_eq "$?" 0 "edu-province --check passes in its unit's sandbox"
sandboxed province province "$bin/edu-province" -c "$work/province.ini" pull --once \
  >"$work/log/province.log" 2>&1
check_eq "$?" 0 "edu-province pull --once succeeds in its unit's sandbox"
check_ne "$(psql -X -qAt -d "units_province_$$" -c 'select count(*) from province.county_indicator')" 0 \
  "the province stored the county's aggregates"
sleep 2.5 # a watchdog interval (WATCHDOG_USEC) has passed: each has pinged
county_stop_all "$work"
wait "${tracers[@]}" 2>/dev/null # each tracer ends with its program
for name in aggregator collector-2143004052 collector-2143004053; do
  check_eq "$(grep -o 'READY=1\|WATCHDOG=1\|STOPPING=1' "$work/notify-$name.log" | sort -u | tr '\n' ' ')" \
    'READY=1 STOPPING=1 WATCHDOG=1 ' "sd_notify: $name said READY=1, pinged the watchdog and said STOPPING=1"
done

for role in aggregator collector province; do
  python3 "$here/../lib/unitcheck.py" "$units/edu-$role.service" "$bin/edu-$role" "$work/strace/$role"* \
    >"$work/unitcheck-$role.txt" 2>&1
  sed "s/^/# edu-$role: /" "$work/unitcheck-$role.txt"
  check_eq "$?" 0 "edu-$role made only system calls, sockets and mappings its unit allows: $(
    head -1 "$work/unitcheck-$role.txt")$(tail -n +2 "$work/unitcheck-$role.txt" | head -20 | sed 's/^/\n    /')"
done
check_logs_clean "$work"
check_done
