# warnings_reference.awk - the second round's warning kinds read from the rules file's words,
# independently of the aggregator: what it_warnings compares edu.current_warning against
#
#   awk -F'|' -f warnings_reference.awk SCHOOLS_CSV RULES_INI CURRENT
#
# CURRENT is school|indicator|period|value, one current value a line (edu.current_observation).
# Prints kind,subject,stage,indicator,period,level,value for every yellow or red item of the
# kinds dispersion (with the target of its period), trend, capacity, persistent, consistency,
# county_balanced and urban_rural_gap, value with 6 significant digits. Written from
# docs/warnings.md, not from the C code: loops over years and schools instead of windows kept
# in memory, numbers per period looked up where they are used.

function ge(a, b) { return a >= b - 1e-9 * (b < 0 ? (-b > 1 ? -b : 1) : (b > 1 ? b : 1)) }
function abs(x) { return x < 0 ? -x : x }
function setting(key, value, year) {           # key as [rules] spells it; year 0: no period
  if (year) { over[key, year] = value; overyears[key] = overyears[key] " " year }
  else base[key] = value
}
function num(key, year,    n, y, best, i, list) {  # the number in force for year
  best = -1
  n = split(overyears[key], list, " ")
  for (i = 1; i <= n; i++) { y = list[i] + 0; if (y <= year && y > best) best = y }
  return best >= 0 ? over[key, best] + 0 : (key in base ? base[key] + 0 : dflt[key] + 0)
}
function has(key, year,    n, i, list) {
  if (key in base) return 1
  n = split(overyears[key], list, " ")
  for (i = 1; i <= n; i++) if (list[i] + 0 <= year) return 1
  return 0
}
function val(s, ind, y) { return (s SUBSEP ind SUBSEP y) in v }
function target_of(ind, stage, y) { return num(ind "|target_" stage, y) }
function has_target(ind, stage, y) { return has(ind "|target_" stage, y) }
# threshold level of school s for ind in y: 0 green, 1 yellow, 2 red, -1 not judged
function threshold(s, ind, y,    st, t, x, tol, hb) {
  st = stage[s]
  if (!val(s, ind, y) || !has_target(ind, st, y)) return -1
  t = target_of(ind, st, y); x = v[s, ind, y]; tol = num("tolerance", y); hb = higher[ind]
  if (hb ? ge(x, t) : ge(t, x)) return 0
  return (hb ? ge(x, tol * t) : ge(t / tol, x)) ? 1 : 2
}
function balanced(s, y,    i, l, n, green, yellow) {   # -1 when not all reported
  n = green = yellow = 0
  for (i = 1; i <= nres; i++) {
    l = threshold(s, res[i], y)
    if (l < 0) return -1
    n++; green += (l == 0); yellow += (l == 1)
  }
  if (n == 0) return -1
  if (green == n) return 0
  return (green + 1 == n && yellow == 1) ? 1 : 2
}
# CV over the stage's schools into CV; the dispersion level, -1 when undefined
function dispersion(st, ind, y,    i, s, n, w, sum, mean, var, t, lim) {
  n = w = sum = 0
  for (i = 1; i <= nschools; i++) {
    s = codes[i]
    if (stage[s] != st || !val(s, ind, y)) continue
    n++; w += students[s]; sum += students[s] * v[s, ind, y]
  }
  if (n < num("dispersion_min_schools", y) || n < 1 || w <= 0) return -1
  mean = sum / w
  if (abs(mean) < 1e-9) return -1
  var = 0
  for (i = 1; i <= nschools; i++) {
    s = codes[i]
    if (stage[s] == st && val(s, ind, y)) var += students[s] * (v[s, ind, y] - mean) ^ 2
  }
  CV = sqrt(var / w) / abs(mean)
  lim = num("dispersion_limit_" st, y); t = num("dispersion_target", y)
  if (t > lim) t = lim
  if (ge(t, CV)) return 0
  return ge(lim, CV) ? 1 : 2
}
function out(kind, subject, st, ind, y, level, x) {
  if (level > 0)
    printf "%s,%s,%s,%s,%d-%d,%s,%.6g\n", kind, subject, st, ind, y, y + 1,
      level == 2 ? "red" : "yellow", x
}
# capacity: enrolment and places of school s (or, s = "", of stage st's schools reporting both)
function places(s, st, y,    i, c, n) {
  E = C = n = 0
  if (s != "") {
    if (!val(s, enrol, y) || !val(s, seats, y)) return 0
    E = v[s, enrol, y]; C = v[s, seats, y]; return 1
  }
  for (i = 1; i <= nschools; i++) {
    c = codes[i]
    if (stage[c] == st && val(c, enrol, y) && val(c, seats, y)) {
      E += v[c, enrol, y]; C += v[c, seats, y]; n++
    }
  }
  return n > 0
}
function capacity(s, st, y,    e, c, k, pairs, sum, prev, cur, g, u0, u1, level) {
  if (!places(s, st, y) || C <= 0) return
  e = E; c = C; pairs = num("capacity.growth_pairs", y); sum = 0; cur = e
  for (k = 1; k <= pairs; k++) {
    if (!places(s, st, y - k) || E <= 0) break
    sum += (cur - E) / E; cur = E
  }
  g = k > 1 ? sum / (k - 1) : 0
  u0 = e / c; u1 = e * (1 + g) / c
  if (!ge(num("capacity.red_now", y), u0) || !ge(num("capacity.red_next", y), u1)) level = 2
  else level = ge(u1, num("capacity.yellow_next", y)) ? 1 : 0
  out("capacity", s != "" ? s : county, st, seats, y, level, u1)
}
function trend(s, ind, y,    now, p, n, k, sx, sy, sxx, sxy, b, a, T, x, st, t, tol, hb, level) {
  now = threshold(s, ind, y)
  if (now != 0) return
  p = num("trend.periods", y); n = sx = sy = 0
  for (k = y - p + 1; k <= y; k++)
    if (val(s, ind, k)) { n++; X[n] = k; Y[n] = v[s, ind, k]; sx += k; sy += Y[n] }
  if (n < num("trend.min_periods", y)) return
  sx /= n; sy /= n; sxx = sxy = 0
  for (k = 1; k <= n; k++) { sxx += (X[k] - sx) ^ 2; sxy += (X[k] - sx) * (Y[k] - sy) }
  if (sxx <= 0) return
  b = sxy / sxx; a = sy - b * sx
  T = y + num("trend.ahead_years", y); st = stage[s]
  if (!has_target(ind, st, T)) return
  x = a + b * T
  if (x < num(ind "|min", T)) x = num(ind "|min", T)
  if (x > num(ind "|max", T)) x = num(ind "|max", T)
  t = target_of(ind, st, T); tol = num("tolerance", T); hb = higher[ind]
  level = (hb ? ge(x, t) : ge(t, x)) ? 0 : (hb ? ge(x, tol * t) : ge(t / tol, x)) ? 1 : 2
  out("trend", s, st, ind, y, level == 2 ? 1 : 0, x)
}
function persistent(s, st, ind, y,    want, run, k, l) {
  want = num(s != "" ? "persistent.years" : "persistent.county_years", y); run = 0
  for (k = y; run < want; k--) {
    l = s != "" ? threshold(s, ind, k) : dispersion(st, ind, k)
    if (l != 2) break
    run++
  }
  if (run >= want) l = 2
  else if (s != "" && run >= want - 1) l = 1
  else l = 0
  out("persistent", s != "" ? s : county, st, ind, y, l, run)
}

FILENAME == ARGV[1] {                          # the registry
  sub(/\r$/, ""); split($0, f, ",")
  if (FNR == 1) { for (i = 1; i <= 6; i++) col[f[i]] = i; next }
  s = f[col["school_code"]]; codes[++nschools] = s; stage[s] = f[col["stage"]]
  students[s] = f[col["students"]] + 0; rural[s] = f[col["location"]] == "rural"
  county = f[col["county_code"]]
  next
}
FILENAME == ARGV[2] {                          # the rules
  line = $0; sub(/\r$/, "", line); sub(/[ \t]*[;#].*$/, "", line)
  if (line ~ /^\[/) { section = substr(line, 2, length(line) - 2); if (section ~ /^indicator\./)
      { ind = substr(section, 11); inds[++ninds] = ind; higher[ind] = 1 }; next }
  if (line !~ /=/) next
  key = line; sub(/[ \t]*=.*$/, "", key); value = line; sub(/^[^=]*=[ \t]*/, "", value)
  year = 0
  if (key ~ /@/) { year = substr(key, index(key, "@") + 1, 4) + 0; key = substr(key, 1, index(key, "@") - 1) }
  if (section == "rules") setting(key, value, year)
  else if (section == "dispersion") setting("dispersion_" key, value, year)
  else if (section ~ /^check\./) { if (key == "rule") rule[substr(section, 7)] = value }
  else if (section == "capacity" && key == "enrolment") enrol = value
  else if (section == "capacity" && key == "places") seats = value
  else if (section ~ /^indicator\./) {
    if (key == "better") higher[ind] = value == "higher"
    else if (key == "kinds") kinds[ind] = "," value ","
    else if (key == "target") { setting(ind "|target_primary", value, year); setting(ind "|target_junior", value, year) }
    else setting(ind "|" key, value, year)
  } else {
    if (section == "county_balanced") county_balanced = 1
    setting(section "." key, value, year)
  }
  next
}
{ sub(/\r$/, ""); v[$1, $2, substr($3, 1, 4) + 0] = $4 + 0; years[substr($3, 1, 4) + 0] = 1 }
END {
  split("tolerance 0.85 dispersion_target 0.30 dispersion_limit_primary 0.50 " \
        "dispersion_limit_junior 0.45 dispersion_min_schools 2 trend.periods 5 " \
        "trend.min_periods 3 trend.ahead_years 2 capacity.red_now 1 capacity.red_next 1.05 " \
        "capacity.yellow_next 0.95 capacity.growth_pairs 3 persistent.years 3 " \
        "persistent.county_years 2 county_balanced.share 0.85 urban_rural_gap.yellow 0.10 " \
        "urban_rural_gap.red 0.20", d, " ")
  for (i = 1; i in d; i += 2) dflt[d[i]] = d[i + 1]
  for (i = 1; i <= ninds; i++) if (kinds[inds[i]] ~ /[ ,]balanced,/) res[++nres] = inds[i]
  nst = split("primary junior", stages, " ")
  for (y in years) {
    y += 0
    for (i = 1; i <= ninds; i++) {
      ind = inds[i]; k = kinds[ind]
      for (j = 1; j <= nst; j++) {
        st = stages[j]
        if (k ~ /[ ,]dispersion,/) out("dispersion", county, st, ind, y, dispersion(st, ind, y), CV)
        if (k ~ /[ ,]dispersion,/ && k ~ /[ ,]persistent,/) persistent("", st, ind, y)
        if (k ~ /[ ,]urban_rural_gap,/) {           # student-weighted U (urban, town) and R
          su = wu = sr = wr = 0
          for (n = 1; n <= nschools; n++) {
            s = codes[n]
            if (stage[s] != st || !val(s, ind, y)) continue
            if (rural[s]) { sr += students[s] * v[s, ind, y]; wr += students[s] }
            else { su += students[s] * v[s, ind, y]; wu += students[s] }
          }
          if (wu > 0 && wr > 0 && abs(su / wu) >= 1e-9) {
            gap = higher[ind] ? (su / wu - sr / wr) / (su / wu) : (sr / wr - su / wu) / (su / wu)
            l = ge(num("urban_rural_gap.yellow", y), gap) ? 0 : ge(num("urban_rural_gap.red", y), gap) ? 1 : 2
            out("urban_rural_gap", county, st, ind, y, l, gap)
          }
        }
      }
      for (n = 1; n <= nschools; n++) {
        s = codes[n]
        if (k ~ /[ ,]trend,/) trend(s, ind, y)
        if (k ~ /[ ,]threshold,/ && k ~ /[ ,]persistent,/) persistent(s, stage[s], ind, y)
      }
    }
    if (enrol != "" && seats != "") {
      for (n = 1; n <= nschools; n++) capacity(codes[n], stage[codes[n]], y)
      for (j = 1; j <= nst; j++) capacity("", stages[j], y)
    }
    for (name in rule) {                         # consistency: A OP [k *] B
      r = rule[name]; gsub(/[ \t]/, "", r)
      match(r, /(<=|>=|<|>)/); op = substr(r, RSTART, RLENGTH)
      a = substr(r, 1, RSTART - 1); rest = substr(r, RSTART + RLENGTH); factor = 1
      if (index(rest, "*")) { factor = substr(rest, 1, index(rest, "*") - 1) + 0; rest = substr(rest, index(rest, "*") + 1) }
      for (n = 1; n <= nschools; n++) {
        s = codes[n]
        if (!val(s, a, y) || !val(s, rest, y)) continue
        x = v[s, a, y]; kb = factor * v[s, rest, y]
        ok = op == "<=" ? ge(kb, x) : op == ">=" ? ge(x, kb) : op == "<" ? !ge(x, kb) : !ge(kb, x)
        out("consistency", s, stage[s], name, y, ok ? 0 : 1, x - kb)
      }
    }
    if (county_balanced)
      for (j = 1; j <= nst; j++) {
        st = stages[j]; above = 0; judged = nres > 0
        for (i = 1; i <= nres; i++) {
          l = dispersion(st, res[i], y)
          if (l < 0) judged = 0
          above += (l == 2)
        }
        reported = green = 0
        for (n = 1; n <= nschools; n++) {
          s = codes[n]
          if (stage[s] != st) continue
          l = balanced(s, y)
          if (l >= 0) reported++
          if (l == 0) green++
        }
        if (!judged || reported == 0) continue
        share = green / reported; met = ge(share, num("county_balanced.share", y))
        l = above == 0 ? (met ? 0 : 1) : (above == 1 && met) ? 1 : 2
        out("county_balanced", county, st, "balanced", y, l, share)
      }
  }
}
