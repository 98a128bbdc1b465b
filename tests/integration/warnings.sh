#!/bin/bash
# warnings.sh - the red/yellow/green warnings of the sample county, end to end
#
# With EDU_NOW=2025-11-08T12:00:00+08:00 the sample county (data, corrections, bad rows) must
# leave edu.current_warning equal to expected.csv row for row, and its rows of the kinds
# dispersion, trend, capacity, persistent, consistency, county_balanced and urban_rural_gap
# (with their values) equal to an independent reading of the rules (tests/lib/
# warnings_reference.awk) over the current values; this comparison is made again after every
# step below. Then:
#   - a correction that brings one red threshold item up to its target removes that item (and
#     records its transition to green), leaving every row outside what the correction can touch
#     (its file repeats the key, the target last: the last of a run of one key counts);
#   - a SIGHUP with a changed target (training_hours 80 → 60) moves exactly the rows the new
#     target moves, and the rules in force stay when the next rules file is broken;
#   - a SIGHUP with a tighter county target for 2025-2026 only ([dispersion] target@2025-2026)
#     moves dispersion rows of that period and no other;
#   - a restart of the aggregator judges everything again without a single change.
#
#   warnings.sh BIN_DIR FIXTURE_DIR
set -u
bin=$1 fixture=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/county.sh"
. "$here/../lib/check.sh"

export EDU_NOW=2025-11-08T12:00:00+08:00
work=$(mktemp -d /tmp/edu-warnings.XXXXXX)
trap 'county_stop_all "$work"; check_keep_on_failure "$work"' EXIT
county_init "$work" "$bin" "$fixture" "warnings_$$" "$(check_free_port)" || check_fail "county setup"
# the county's own copy of the rules, edited below
cp "$EDU_SOURCE_DIR/deploy/rules.ini" "$work/rules.ini"
sed -i "s|^rules = .*|rules = $work/rules.ini|" "$work/aggregator.ini"
county_aggregator_start "$work" || check_fail "aggregator start"
county_feed "$work" "$fixture" >/dev/null || check_fail "the sample county not stored"

warnings() {
  county_sql "$work" "select kind, subject, coalesce(stage, ''), indicator, period, level
                      from edu.current_warning" | tr '|' , | sort
}
# county_wait_warnings WANT_FILE WHAT - evaluation runs in the batch's transaction, so once
# stored the warnings are there; a sweep (SIGHUP) may take a moment
wait_warnings() {
  local i
  for i in $(seq 1 100); do
    warnings >"$work/got"
    cmp -s "$1" "$work/got" && break
    sleep 0.1
  done
  check_same_file "$1" "$work/got" "$2"
}

# reference WHAT - the new kinds' rows equal the independent reading of the rules in force
reference() {
  county_sql "$work" "select school_code, indicator, period, value from edu.current_observation" |
    awk -F'|' -f "$here/../lib/warnings_reference.awk" "$fixture/schools.csv" "$work/rules.ini" - |
    sort >"$work/reference"
  county_sql "$work" "select kind, subject, coalesce(stage, ''), indicator, period, level, value
    from edu.current_warning where kind in ('dispersion', 'trend', 'capacity', 'persistent',
      'consistency', 'county_balanced', 'urban_rural_gap')" |
    awk -F'|' -v OFS=, '{ $7 = sprintf("%.6g", $7); print }' | sort >"$work/engine"
  check_same_file "$work/reference" "$work/engine" "$1"
}

tr -d '\r' <"$fixture/expected.csv" | tail -n +2 | sort >"$work/expected"
wait_warnings "$work/expected" "edu.current_warning equals expected.csv"
reference "the new kinds and dispersion agree with the reference reading of the rules"
for kind in trend capacity persistent consistency county_balanced urban_rural_gap; do
  check_grep "^$kind,.*,(yellow|red)$" "$work/expected" "the sample county has $kind warnings"
done
check_grep "^capacity,430405,junior,capacity," "$work/expected" "学位预警 of the county (sums)"
check_grep "^persistent,430405,primary," "$work/expected" "persistent of the county (dispersion)"
check_eq "$(county_sql "$work" "select count(*) from edu.current_warning where level = 'red'
  and value is null and kind <> 'missing'")" 0 "every warning but missing has the value judged"
check_eq "$(county_sql "$work" "select count(*) from edu.warning_transition t
  where to_level <> 'green' and not exists (select 1 from edu.warning_state s
    where (s.kind, s.subject, s.stage, s.indicator, s.period) =
          (t.kind, t.subject, t.stage, t.indicator, t.period))
  and not exists (select 1 from edu.warning_transition later where later.id > t.id
    and (later.kind, later.subject, later.stage, later.indicator, later.period) =
        (t.kind, t.subject, t.stage, t.indicator, t.period))")" 0 \
  "the last transition of every item agrees with edu.current_warning"

# restart_judged - restarts the aggregator and waits for its judgement of everything
restart_judged() {
  county_stop "$work" aggregator
  county_aggregator_restart "$work" || check_fail "aggregator restart"
  check_wait_for "judged everything" "$work/log/aggregator.log" 5
}

# Judging everything from scratch finds exactly what the batches judged one by one.
restart_judged
check_grep "judged everything: [0-9]+ items, 0 changes" "$work/log/aggregator.log" \
  "incremental evaluation agrees with a full one (a restart changes nothing)"

# A correction: the first red threshold item of the latest period, of an indicator that is
# neither a resource indicator (balanced, dispersion) nor planned, raised to its target.
item=$(county_sql "$work" "select w.subject, w.indicator, w.period, w.stage from edu.current_warning w
  where w.kind = 'threshold' and w.level = 'red' and w.period = '2025-2026'
    and w.indicator in ('bachelor_teacher_pct', 'training_hours', 'backbone_rotation_pct',
                        'psych_teacher_pct', 'inquiry_learning_pct', 'parent_satisfaction_pct')
  order by 1, 2 limit 1")
IFS='|' read -r school indicator period stage <<<"$item"
target=$(awk -v ind="[indicator.$indicator]" '$0 == ind { s = 1 } s && /^target/ { print $3; exit }' \
  "$work/rules.ini")
[ -n "$school" ] && [ -n "$target" ] || check_fail "no red threshold item to correct"
# The file says it three times, the last one right: a batch's run of one key is judged by its
# last record (the evaluator looks such a run up once).
half=$(awk -v t="$target" 'BEGIN { print t / 2 }')
printf 'school_code,indicator,period,value\n%s,%s,%s,%s\n%s,%s,%s,%s\n%s,%s,%s,%s\n' \
  "$school" "$indicator" "$period" "$half" "$school" "$indicator" "$period" "$half" \
  "$school" "$indicator" "$period" "$target" >"$work/fix.csv"
before=$(county_stored "$work")
refused=$(county_sql "$work" "select count(*) from edu.rejected_record")
county_drop "$work" "$school" "$work/fix.csv"
county_wait_stored "$work" $((before + 3)) 30 || check_fail "correction not stored"
check_eq "$(county_sql "$work" "select count(*) from edu.rejected_record")" "$refused" \
  "the three records of the correction are accepted (the run reaches the warnings)"
warnings >"$work/after-fix"
check_no_grep "^threshold,$school,$stage,$indicator,$period," "$work/after-fix" \
  "the corrected item ($school $indicator $period = $target) is no longer red"
check_eq "$(county_sql "$work" "select from_level || '>' || to_level from edu.warning_transition
  where kind = 'threshold' and subject = '$school' and indicator = '$indicator'
    and period = '$period' order by id desc limit 1")" "red>green" "its transition red → green is kept"
# Outside the correction's reach (its indicator's data_quality in that period) nothing moved.
reach="^((threshold|persistent|trend),$school,$stage,$indicator,$period,|data_quality,[0-9]+,$stage,$indicator,$period,)"
grep -Ev "$reach" "$work/expected" >"$work/expected-outside"
grep -Ev "$reach" "$work/after-fix" >"$work/got-outside"
check_same_file "$work/expected-outside" "$work/got-outside" "no other warning moved"
reference "after the correction, the new kinds agree with the reference"

# SIGHUP with training_hours' target lowered from 80 to 60.
cp "$work/after-fix" "$work/before-hup"
sed -i '/^\[indicator.training_hours\]/,/^\[/ s/^target = 80$/target = 60/' "$work/rules.ini"
grep -A6 '^\[indicator.training_hours\]' "$work/rules.ini" | grep -q '^target = 60$' ||
  check_fail "could not edit the rules"
"$bin/edu-aggregator" -c "$work/aggregator.ini" --check >/dev/null || check_fail "--check of the new rules"
kill -HUP "$(cat "$work/pids/aggregator")"
# what the new target makes of training_hours, from the values themselves (threshold here; its
# trend and persistent rows from the reference reading of the new rules)
{
  grep -Ev "^(threshold|trend|persistent),[0-9]*,[a-z]*,training_hours," "$work/before-hup"
  county_sql "$work" "select school_code, indicator, period, value from edu.current_observation" |
    awk -F'|' -f "$here/../lib/warnings_reference.awk" "$fixture/schools.csv" "$work/rules.ini" - |
    grep -E "^(trend|persistent),[0-9]*,[a-z]*,training_hours," | cut -d, -f1-6
  county_sql "$work" "select 'threshold', c.school_code, '', c.indicator, c.period,
      case when c.value >= 0.85 * 60 then 'yellow' else 'red' end
    from edu.current_observation c
    where c.indicator = 'training_hours' and c.value < 60" |
    while IFS='|' read -r kind code _ ind per level; do
      st=$(awk -F, -v c="$code" '$1 == c { print $4 }' "$fixture/schools.csv" | tr -d '\r')
      echo "$kind,$code,$st,$ind,$per,$level"
    done
} | sort >"$work/expected-hup"
check_ne "$(diff "$work/before-hup" "$work/expected-hup" | grep -c '^[<>]')" 0 \
  "the new target changes some training_hours rows"
wait_warnings "$work/expected-hup" "after SIGHUP: the new target moves exactly its rows"
check_grep "reloaded" "$work/log/aggregator.log" "the aggregator says it reloaded"
reference "after SIGHUP, the new kinds agree with the reference"

# SIGHUP with the county's dispersion target for 2025-2026 tightened from 0.40 to 0.25: the
# dispersion rows of 2025-2026 with a CV above 0.25 turn yellow (or stay red), the other
# periods keep 0.50, and county_balanced does not move (it counts CVs above the national limit)
cp "$work/expected-hup" "$work/before-target"
sed -i 's/^target@2025-2026 = 0.40$/target@2025-2026 = 0.25/' "$work/rules.ini"
grep -q '^target@2025-2026 = 0.25$' "$work/rules.ini" || check_fail "could not edit the target"
kill -HUP "$(cat "$work/pids/aggregator")"
{
  grep -v "^dispersion,430405,[a-z]*,[a-z_0-9]*,2025-2026," "$work/before-target"
  county_sql "$work" "select school_code, indicator, period, value from edu.current_observation" |
    awk -F'|' -f "$here/../lib/warnings_reference.awk" "$fixture/schools.csv" "$work/rules.ini" - |
    grep "^dispersion,430405,[a-z]*,[a-z_0-9]*,2025-2026," | cut -d, -f1-6
} | sort >"$work/expected-hup"
check_ne "$(diff "$work/before-target" "$work/expected-hup" | grep -c '^>')" 0 \
  "the tighter target for 2025-2026 adds dispersion rows"
check_eq "$(diff "$work/before-target" "$work/expected-hup" | grep -v '^[<>] dispersion,.*,2025-2026,' |
  grep -c '^[<>]')" 0 "only dispersion rows of 2025-2026 move"
wait_warnings "$work/expected-hup" "after SIGHUP: the target of 2025-2026 moves exactly its rows"
reference "after the new target, the new kinds agree with the reference"

# A broken rules file is refused and the rules in force stay.
cp "$work/rules.ini" "$work/rules.good"
sed -i 's/^tolerance = 0.85$/tolerance = 2/' "$work/rules.ini"
kill -HUP "$(cat "$work/pids/aggregator")"
check_wait_for "cannot reload rules" "$work/log/aggregator.log" 5
check_grep "cannot reload rules, the rules in force stay: $work/rules.ini:[0-9]+: tolerance" \
  "$work/log/aggregator.log" "a broken rules file is refused with its line"
wait_warnings "$work/expected-hup" "the warnings stay as they were"
cp "$work/rules.good" "$work/rules.ini"

# A restart judges everything again: nothing changes, no transition is written.
transitions=$(county_sql "$work" "select count(*) from edu.warning_transition")
restart_judged
check_grep "judged everything: [0-9]+ items, 0 changes" "$work/log/aggregator.log" \
  "after a restart everything is judged again, without a change"
check_eq "$(county_sql "$work" "select count(*) from edu.warning_transition")" "$transitions" \
  "no transition written by the restart"
wait_warnings "$work/expected-hup" "the warnings survive the restart"
reference "after the restart, the new kinds agree with the reference"

county_stop_all "$work"
check_logs_clean "$work"
check_done
