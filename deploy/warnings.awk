# warnings.awk - the warnings table of deploy/quickstart.sh
#
#   psql ... | awk -F'|' -f deploy/warnings.awk SCHOOLS_CSV RULES_INI -
#
# Input rows (from edu.current_warning, red first): kind|subject|stage|indicator|period|level|value
# Output: the schools' warnings and then the county's lines (dispersion, progress,
# county_balanced, urban_rural_gap, and the county's capacity and persistent), as '|'-separated
# columns for column(1): who, indicator (Chinese name), period, value, target, level, kind.
FILENAME == ARGV[1] {                        # the registry: names of the schools
  sub(/\r$/, "")
  split($0, f, ",")
  if (FNR > 1) school[f[1]] = f[2]
  next
}
FILENAME == ARGV[2] {                        # the rules: names and targets of the indicators
  line = $0
  sub(/[ \t]*[;#].*$/, "", line)
  if (line ~ /^\[indicator\./) { code = substr(line, 12, length(line) - 12); next }
  if (line ~ /^\[/) { code = ""; section = substr(line, 2, length(line) - 2); next }
  if (line !~ /=/) next
  key = line; sub(/[ \t]*=.*$/, "", key)
  value = line; sub(/^[^=]*=[ \t]*/, "", value)
  if (code == "") {                          # the county target of dispersion, per period
    if ((section == "dispersion" && key ~ /^target(@|$)/) ||
        (section == "rules" && key ~ /^dispersion_target(@|$)/))
      cvtarget[key ~ /@/ ? substr(key, index(key, "@") + 1, 4) + 0 : 0] = value
    if (section ~ /^check\./ && key == "name") name[substr(section, 7)] = value
    if (section ~ /^check\./ && key == "rule") rule[substr(section, 7)] = value
    if (section != "" && key ~ /^(share|yellow|years|county_years|yellow_next)$/) param[section, key] = value
    next
  }
  if (key == "name") name[code] = value
  if (key == "unit") unit[code] = value
  if (key == "target") { target[code, "primary"] = value; target[code, "junior"] = value }
  if (key == "target_primary") target[code, "primary"] = value
  if (key == "target_junior") target[code, "junior"] = value
  next
}
{
  kind = $1; subject = $2; stage = $3; ind = $4; period = $5; level = $6; v = $7
  label = (ind == "balanced") ? "优质均衡 7 项资源配置指标" : (ind in name ? name[ind] : ind)
  t = ((ind, stage) in target) ? target[ind, stage] : ""
  if (kind == "balanced") { t = "7 of 7"; v = (v == "" ? "" : v " of 7") }
  else if (kind == "missing") { v = "未报送"; t = "" }
  else if (kind == "dispersion") {
    best = -1
    for (y in cvtarget) if (y + 0 <= substr(period, 1, 4) + 0 && y + 0 > best) best = y + 0
    t = "CV <= " (best >= 0 ? cvtarget[best] : "0.30"); v = sprintf("CV %.3f", v)
  }
  else if (kind == "trend") { v = sprintf("预测 %.4g", v) }
  else if (kind == "capacity") { label = "学位供需"; t = "< " 100 * param["capacity", "yellow_next"] "%"
                                 v = sprintf("下一学年 %.0f%%", 100 * v) }
  else if (kind == "persistent") { t = param["persistent", subject in school ? "years" : "county_years"] " 年"
                                   v = sprintf("连续 %d 年", v) }
  else if (kind == "consistency") { label = (ind in name) ? name[ind] : ind; t = rule[ind]; v = sprintf("%g", v) }
  else if (kind == "county_balanced") { label = "县域义务教育优质均衡"; t = ">= " 100 * param["county_balanced", "share"] "%"
                                        v = sprintf("达标学校 %.1f%%", 100 * v) }
  else if (kind == "urban_rural_gap") { t = "<= " 100 * param["urban_rural_gap", "yellow"] "%"
                                        v = sprintf("城乡差距 %.1f%%", 100 * v) }
  else if (kind == "progress") { t = "plan"; v = sprintf("%+.2f", v) }
  else if (kind == "fluctuation") { v = sprintf("worse by %g", v) }
  else if (v != "") v = sprintf("%g", v)
  mark = level == "red" ? "红 red" : "黄 yellow"
  if (subject in school)
    schools[++ns] = school[subject] "|" label "|" period "|" v "|" t "|" mark "|" kind
  else
    county[++nc] = (stage == "" ? "全县" : "全县 " stage) "|" label "|" period "|" v "|" t "|" mark "|" kind
}
END {
  print "school|indicator|period|value|target|level|kind"
  for (i = 1; i <= ns; i++) print schools[i]
  print "||||||"
  print "county|indicator|period|value|target|level|kind"
  for (i = 1; i <= nc; i++) print county[i]
}
