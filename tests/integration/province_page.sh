#!/bin/bash
# province_page.sh - the province's page: its JSON agrees with the province's tables, bad
# paths are 404, and the page rendered by headless Chromium shows the heat map's red cells,
# the 达标率 and a county's small charts
#
#   province_page.sh BIN_DIR FIXTURE_DIR
set -u
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/check.sh"

work=$(mktemp -d /tmp/edu-province-page.XXXXXX)
db=province_page_$$
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; dropdb --if-exists "$db" 2>/dev/null; check_keep_on_failure "$work"' EXIT
mkdir -p "$work/keys" "$work/log"
"$bin/edu-keygen" --out "$work/keys" province >/dev/null
"$bin/edu-keygen" --out "$work/keys" sim >/dev/null
port=$(check_free_port 2) # the simulated counties' and the page's
http=$((port + 1))
"$bin/county_sim" "tcp://127.0.0.1:$port" "$work/keys" 170 >"$work/log/sim.log" 2>&1 &
pids+=($!)
check_wait_for ready "$work/log/sim.log" 10 || check_fail "county_sim did not start"
ini=$work/province.ini
cat >"$ini" <<INI
[province]
database = dbname=$db host=$PGHOST port=$PGPORT user=$PGUSER
interval_s = 3600
http = 127.0.0.1:$http
[curve]
secret = $work/keys/province_secret
INI
names=(零 芙蓉区 天心区 岳麓区 开福区 雨花区 望城区 长沙县 浏阳市 宁乡市)
for i in 1 2 3 4 5 6 7 8; do
  printf '[county.%s]\nendpoint = tcp://127.0.0.1:%s\nserver = %s/keys/sim\nname = %s\n' \
    "43010$i" "$port" "$work" "${names[$i]}" >>"$ini"
done
createdb "$db" || check_fail "province database"
sql() { psql -X -qAt -d "$db" -c "$1"; }
"$bin/county_sim" --send "tcp://127.0.0.1:$port" "$work/keys/sim" accept 430102 2024-2025 >/dev/null
"$bin/county_sim" --send "tcp://127.0.0.1:$port" "$work/keys/sim" sim-unlock 430103 2024-2025 \
  "更正数据" >/dev/null
"$bin/edu-province" -c "$ini" pull >"$work/log/province.log" 2>&1 &
pids+=($!)
check_wait_for "pulled 8 of 8 counties" "$work/log/province.log" 30 || check_fail "the first round"
get() { curl -sf "http://127.0.0.1:$http$1"; }
code() { curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$http$1"; }

get /api/periods >"$work/periods.json"
check_grep '"latest" : "2024-2025"' "$work/periods.json" "the latest approved year"
get /api/overview/2024-2025 >"$work/overview.json"
check_grep '"counties" : 8, "approved" : 7, "accepted" : 1' "$work/overview.json" \
  "overview: counties, approved and accepted"
check_grep '"code" : "430103", "name" : "岳麓区", "state" : "open"' "$work/overview.json" \
  "overview: the unlocked county reads open"
get /api/heat/2024-2025/primary >"$work/heat.json"
check_grep '"name" : "每百名学生拥有高于规定学历教师数"' "$work/heat.json" "the heat map names the indicators"
get /api/county/430101 >"$work/county.json"
check_grep '"name" : "芙蓉区"' "$work/county.json" "a county's page names it"
for path in /api/county/439999 /api/county/43010 /api/county/4301011 /api/heat/2024-2025/senior \
  /api/heat/2024-2025 /api/overview/2024-2026 /api/overview/2024-2025/x /api/periods/x /nothing; do
  check_eq "$(code "$path")" 404 "$path is 404"
done
check_eq "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: evil.example' "http://127.0.0.1:$http/")" \
  421 "another Host header is refused"

browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || check_fail "chromium is not installed (tests/run.sh installs it)"
render() { # render URL OUT
  "$browser" --headless --no-sandbox --disable-gpu --virtual-time-budget=10000 \
    --dump-dom "$1" >"$2" 2>>"$work/log/chromium.log"
}
render "http://127.0.0.1:$http/" "$work/dom.html"
red=$(tr -d '\n' <"$work/dom.html" | grep -o '<table id="heat">.*</table>' | sed 's|</table>.*||' |
  grep -o '<td class="red"' | wc -l)
want=$(sql "select count(*) from province.county_warning w join province.county_indicator r
  using (county_code, stage, indicator, period) where w.kind = 'dispersion' and w.level = 'red'
  and w.period = '2024-2025' and w.stage = 'primary'")
check_eq "$red" "$want" "the rendered heat map has a red cell per red dispersion ($want)"
check_ne "$want" 0 "(some are red)"
cells=$(tr -d '\n' <"$work/dom.html" | grep -o '<table id="heat">.*</table>' | sed 's|</table>.*||' |
  grep -o '<td class="\(red\|yellow\|green\)"' | wc -l)
check_eq "$cells" "$(sql "select count(*) from province.county_indicator where period = '2024-2025'
  and stage = 'primary' and cv is not null")" "a coloured cell per approved county and indicator"
rate=$(sql "select round(100.0 * count(*) filter (where level = 'green') / 8, 1) from province.warning_row
  where kind = 'county_balanced' and stage = 'primary' and period = '2024-2025' and not withdrawn")
check_grep "小学 达标率 </span><strong class=\"rate\">$rate%" "$work/dom.html" "the rendered 达标率 ($rate%)"
check_grep '岳麓区（430103）' "$work/dom.html" "the rendered page names the counties"
check_grep '省级已确认' "$work/dom.html" "the rendered page shows the approval states"
# the rankings: the most balanced county of the year (smallest mean CV, primary) ranks first,
# and the 督办 column adds up to the escalated open cases of the province's tables
best=$(python3 -c '
import json, sys
rows = [r for r in json.load(open(sys.argv[1]))["rows"]
        if (r.get("stages") or {}).get("primary", {}).get("cv") is not None]
r = min(rows, key=lambda r: r["stages"]["primary"]["cv"])
print("%s（%s）" % (r["name"], r["code"]))' "$work/overview.json")
first=$(tr -d '\n' <"$work/dom.html" | grep -o '<table id="rank-cv">.*' | sed 's|</table>.*||' |
  grep -o '<tr><td>1</td>.*' | head -c 600)
check_ne "$best" "" "(a county has a CV)"
check_grep "$best" <(echo "$first") "the CV ranking puts the most balanced county first ($best)"
escalated=$(tr -d '\n' <"$work/dom.html" | grep -o '<table id="counties">.*' | sed 's|</table>.*||' |
  grep -o '<td class="num[ a-z]*">[0-9]*</td></tr>' | grep -o '[0-9]\+' | awk '{ s += $1 } END { print s + 0 }')
check_eq "$escalated" "$(sql "select count(*) from province.county_case where escalated and $(
  sed -n 's/^#define S_OPEN_CASE *"\(.*\)"$/\1/p' "$EDU_SOURCE_DIR/province/page.c")")" \
  "the 督办 column adds up to the escalated open cases"
render "http://127.0.0.1:$http/#county=430101" "$work/county.html"
charts=$(grep -o '<svg [^>]*class="spark"' "$work/county.html" | wc -l)
check_eq "$charts" "$(sql "select count(distinct (stage, indicator)) from province.county_indicator
  where county_code = '430101'")" "the county's page has a small chart per indicator and stage"
check_grep '芙蓉区（430101）' "$work/county.html" "the county's page names it"
"$browser" --headless --no-sandbox --disable-gpu --virtual-time-budget=10000 --hide-scrollbars \
  --window-size=1500,1150 --screenshot="$work/province.png" "http://127.0.0.1:$http/" \
  >>"$work/log/chromium.log" 2>&1
check_eq "$(head -c 8 "$work/province.png" 2>/dev/null | od -An -c | tr -d ' ')" '211PNG\r\n032\n' \
  "a screenshot of the page is a PNG"
[ -n "${EDU_SCREENSHOT:-}" ] && cp "$work/province.png" "$EDU_SCREENSHOT"

kill "${pids[@]}" 2>/dev/null
wait 2>/dev/null
pids=()
check_no_grep 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$work/log/province.log" \
  "no sanitizer report"
check_done
