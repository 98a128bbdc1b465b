# check.sh - assertions for the integration scripts
#
# Each check prints "ok - what" or "not ok - what" with the difference, and counts failures;
# check_done exits non-zero if any failed. check_fail stops the script at once.

CHECK_FAILED=0
CHECK_COUNT=0

check_fail() {
  echo "not ok - $*" >&2
  CHECK_FAILED=$((CHECK_FAILED + 1))
  exit 1
}

s_check_result() {
  CHECK_COUNT=$((CHECK_COUNT + 1))
  if [ "$1" = 0 ]; then
    echo "ok - $2"
  else
    echo "not ok - $2" >&2
    CHECK_FAILED=$((CHECK_FAILED + 1))
  fi
}

# check_eq GOT WANT WHAT
check_eq() {
  [ "$1" = "$2" ]
  local rc=$?
  s_check_result $rc "$3"
  [ $rc = 0 ] || echo "    got \"$1\", want \"$2\"" >&2
}

# check_ne GOT UNWANTED WHAT
check_ne() {
  [ "$1" != "$2" ]
  local rc=$?
  s_check_result $rc "$3"
  [ $rc = 0 ] || echo "    got \"$1\"" >&2
}

# check_grep PATTERN FILE WHAT - FILE has a line matching the extended regular expression
check_grep() {
  grep -Eq -- "$1" "$2" 2>/dev/null
  local rc=$?
  s_check_result $rc "$3"
  [ $rc = 0 ] || { echo "    no line of $2 matches /$1/:" >&2; head -20 "$2" >&2 2>/dev/null; }
}

# check_no_grep PATTERN FILE WHAT
check_no_grep() {
  ! grep -Eq -- "$1" "$2" 2>/dev/null
  local rc=$?
  s_check_result $rc "$3"
  [ $rc = 0 ] || { echo "    lines of $2 match /$1/:" >&2; grep -E -- "$1" "$2" | head >&2; }
}

# check_same_file WANT GOT WHAT
check_same_file() {
  diff "$1" "$2" >/dev/null
  local rc=$?
  s_check_result $rc "$3 ($(wc -l <"$1") lines)"
  [ $rc = 0 ] || diff "$1" "$2" | head -20 >&2
}

# check_same_values WANT GOT WHAT - sorted "a|b|c|number" lines, numbers equal within 1e-9
check_same_values() {
  local bad
  bad=$(join -t'|' -a1 -a2 -e MISSING -o 0,1.2,2.2 \
          <(awk -F'|' -v OFS='|' '{ print $1 ":" $2 ":" $3, $4 }' "$1" | sort) \
          <(awk -F'|' -v OFS='|' '{ print $1 ":" $2 ":" $3, $4 }' "$2" | sort) |
        awk -F'|' '$2 == "MISSING" || $3 == "MISSING" || ($2 - $3 > 1e-9 || $3 - $2 > 1e-9)')
  [ -z "$bad" ]
  local rc=$?
  s_check_result $rc "$3 ($(wc -l <"$1") rows)"
  [ $rc = 0 ] || { echo "    key|want|got:" >&2; echo "$bad" | head -20 >&2; }
}

# check_wait_for PATTERN FILE [SECONDS] - waits until a line of FILE matches the extended
# regular expression (default 10 s); returns 1 if none does by then
check_wait_for() {
  local i
  for i in $(seq 1 $(( ${3:-10} * 10 ))); do
    grep -Eq -- "$1" "$2" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# check_free_port [N] - a TCP port on loopback nobody listens on, with the N - 1 after it free
# too (N = 3 by default: a county's listen, alerts and query). Each process draws from its own
# stretch of ports below the ephemeral range (where outgoing connections take theirs), so tests
# run in parallel rarely meet. Two draws of one script may overlap until something listens on
# the first: a script that needs more ports before it starts anything takes them in one draw.
check_free_port() {
  local n=${1:-3} p i busy
  while :; do
    p=$((20000 + ($$ % 120) * 100 + RANDOM % (100 - n))) # below the ephemeral ports (32768-)
    busy=0
    for i in $(seq 0 $((n - 1))); do
      (exec 3<>"/dev/tcp/127.0.0.1/$((p + i))") 2>/dev/null && { busy=1; break; }
    done
    [ $busy = 0 ] && { echo "$p"; return; }
  done
}

# check_keep_on_failure DIR - removes DIR after a pass (unless EDU_KEEP=1); after a failure
# keeps it and prints the end of every log in it
check_keep_on_failure() {
  local dir=$1 f
  if [ "$CHECK_FAILED" = 0 ]; then
    [ "${EDU_KEEP:-0}" = 1 ] && { echo "kept $dir"; return; }
    rm -rf "$dir"
  else
    for f in "$dir"/log/*.log; do
      [ -f "$f" ] || continue
      echo "--- $f" >&2
      tail -15 "$f" >&2
    done
    echo "kept $dir for inspection" >&2
  fi
}

# check_logs_clean DIR - no program under DIR/log reported a sanitizer error or a leak
check_logs_clean() {
  local bad
  bad=$(grep -lE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$1"/log/* 2>/dev/null)
  [ -z "$bad" ]
  local rc=$?
  s_check_result $rc "no sanitizer report in the programs' logs"
  [ $rc = 0 ] || for f in $bad; do grep -A30 -E 'ERROR: |runtime error:' "$f" | head -40 >&2; done
}

check_done() {
  echo "$CHECK_COUNT checks, $CHECK_FAILED failed"
  [ "$CHECK_FAILED" = 0 ] && [ "$CHECK_COUNT" -gt 0 ]
  exit $?
}
