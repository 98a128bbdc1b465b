/*  rules - the indicator catalog and the warning rules (rules.ini)
 *
 *  Parsed line by line through config_parse_lines(), so that every problem names its line; the
 *  checks that need a whole section (a threshold without a target) run after the file is read
 *  and name the section's header line.
 */
#include "rules.h"

#include "config.h"
#include "period.h"
#include "lookup.h"
#include "util.h"

#include <ctype.h>
#include <czmq.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*  One `key@YYYY-YYYY = value` line, kept as written and applied in order by s_periods(). */
typedef struct {
    int year;      // applies from this academic year on
    unsigned line; // where it is written
    long ind;      // index of its indicator, or -1 for the county-wide parameters
    char *section; // the section it is written in ("rules", "dispersion", "indicator.x")
    char *key;     // the key without "@PERIOD"
    char *value;   // the value as written
} s_override_t;

/*  The county-wide parameters from one year on. */
typedef struct {
    int year;             // first year they apply to
    unsigned line;        // line of the first override of that year
    rule_params_t params; // the numbers in force
} s_params_at_t;

/*  An indicator's numbers from one year on (code, name and unit shared with the catalog). */
typedef struct {
    int year;        // first year they apply to
    unsigned line;   // line of the first override of that year
    indicator_t ind; // the indicator as in force
} s_indicator_at_t;

struct rules_t {
    rule_params_t params;   // [rules]
    indicator_t *items;     // [indicator.*] in file order
    size_t count, capacity; // used, allocated
    lookup_t *by_code;      // code -> indicator_t (built once the array stops moving)
    const char *path;       // while loading: the file
    s_override_t *overrides; // every key@PERIOD line, in file order
    size_t override_count, override_capacity; // used, allocated
    s_params_at_t *params_at; // the parameters from each overridden year on, ascending
    size_t params_at_count;   // how many
    s_indicator_at_t **ind_at; // per indicator: its numbers from each such year on
    size_t *ind_at_count;      // per indicator: how many
    rules_check_t *checks;     // [check.*] in file order
    size_t check_count, check_capacity; // used, allocated
    char *enrolment_code;         // [capacity] enrolment, as written
    char *places_code;            // [capacity] places, as written
    unsigned capacity_line;       // line of [capacity] (0: not in the file)
    const indicator_t *enrolment; // resolved once loaded (NULL: capacity is off)
    const indicator_t *places;    // resolved once loaded
    unsigned county_kinds; // kinds switched on by their sections
    zhashx_t *given;       // while loading: keys that may be written in two places
};

static const char *s_kind_names[] = {
    "threshold",    "balanced",        "dispersion", "fluctuation",     "missing",
    "data_quality", "trend",           "persistent", "urban_rural_gap", "capacity",
    "consistency",  "county_balanced", "progress"};

//  The sections of the second round's kinds and key@PERIOD lines, at the end of this file.
static bool s_kind_section(const char *section);
static int s_given(rules_t *self, const char *key, const char *section, unsigned line, char *err,
                   size_t errlen);
static int s_on_period_line(rules_t *self, unsigned line, const char *section, const char *key,
                            const char *value, char *err, size_t errlen);
static int s_on_kind_line(rules_t *self, unsigned line, unsigned section_line, const char *section,
                          const char *key, const char *value, char *err, size_t errlen);
static int s_finish(rules_t *self, char *err, size_t errlen);
static void s_periods_free(rules_t *self);

const char *kind_name(kind_t kind)
{
    for (size_t i = 0; i < sizeof s_kind_names / sizeof *s_kind_names; i++)
        if (kind == (kind_t) (1u << i))
            return s_kind_names[i];
    return NULL;
}

static int s_number(const char *key, const char *value, double *out, char *err, size_t errlen)
{
    char *end = NULL;
    errno = 0;
    double d = strtod(value, &end);
    if (end == value || *end || errno == ERANGE || !isfinite(d))
        return errorf(err, errlen, "%s = \"%s\" is not a number", key, value);
    *out = d;
    return 0;
}

static int s_positive(const char *key, const char *value, double *out, char *err, size_t errlen)
{
    if (s_number(key, value, out, err, errlen) != 0)
        return -1;
    if (*out <= 0)
        return errorf(err, errlen, "%s = %s must be greater than 0", key, value);
    return 0;
}

static int s_int(const char *key, const char *value, int lo, int hi, int *out, char *err,
                 size_t errlen)
{
    double d = 0;
    if (s_number(key, value, &d, err, errlen) != 0)
        return -1;
    if (d != floor(d) || d < lo || d > hi)
        return errorf(err, errlen, "%s = %s must be a whole number from %d to %d", key, value, lo,
                      hi);
    *out = (int) d;
    return 0;
}

static int s_period(const char *key, const char *value, int *year, char *err, size_t errlen)
{
    if (period_parse(value, year) != 0)
        return errorf(err, errlen, "%s = \"%s\" is not an academic year like 2023-2024", key,
                      value);
    return 0;
}

static int s_param(rules_t *self, const char *key, const char *value, char *err, size_t errlen)
{
    rule_params_t *p = &self->params;
    if (strcmp(key, "first_period") == 0)
        return s_period(key, value, &p->first_period, err, errlen);
    if (strcmp(key, "accept_from") == 0)
        return s_period(key, value, &p->accept_from, err, errlen);
    if (strcmp(key, "accept_ahead_years") == 0)
        return s_int(key, value, 0, 10, &p->accept_ahead_years, err, errlen);
    if (strcmp(key, "deadline") == 0) {
        // a day of every year: 02-29 would be no day in three years out of four
        static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        int m = 0, d = 0, n = 0;
        if (sscanf(value, "%2d-%2d%n", &m, &d, &n) != 2 || value[n] || n != 5 || m < 1 || m > 12 ||
            d < 1 || d > days[m - 1])
            return errorf(err, errlen,
                          "deadline = \"%s\" is not a date: write the month and day of every "
                          "year, MM-DD like 10-31%s",
                          value,
                          m == 2 && d == 29 ? " (02-29 is missing three years in four)" : "");
        p->deadline_month = m;
        p->deadline_day = d;
        return 0;
    }
    if (strcmp(key, "missing_red_days") == 0)
        return s_positive(key, value, &p->missing_red_days, err, errlen);
    if (strcmp(key, "tolerance") == 0) {
        if (s_positive(key, value, &p->tolerance, err, errlen) != 0)
            return -1;
        return p->tolerance <= 1 ? 0 : errorf(err, errlen, "tolerance = %s must be at most 1", value);
    }
    if (strcmp(key, "dispersion_target") == 0)
        return s_positive(key, value, &p->dispersion_target, err, errlen);
    if (strcmp(key, "dispersion_limit_primary") == 0)
        return s_positive(key, value, &p->dispersion_limit[STAGE_PRIMARY], err, errlen);
    if (strcmp(key, "dispersion_limit_junior") == 0)
        return s_positive(key, value, &p->dispersion_limit[STAGE_JUNIOR], err, errlen);
    if (strcmp(key, "dispersion_min_schools") == 0)
        return s_int(key, value, 2, 100000, &p->dispersion_min_schools, err, errlen);
    if (strcmp(key, "fluctuation_yellow") == 0)
        return s_positive(key, value, &p->fluctuation_yellow, err, errlen);
    if (strcmp(key, "fluctuation_red") == 0)
        return s_positive(key, value, &p->fluctuation_red, err, errlen);
    if (strcmp(key, "jump_high") == 0)
        return s_positive(key, value, &p->jump_high, err, errlen);
    if (strcmp(key, "jump_low") == 0)
        return s_positive(key, value, &p->jump_low, err, errlen);
    if (strcmp(key, "outlier_z") == 0)
        return s_positive(key, value, &p->outlier_z, err, errlen);
    if (strcmp(key, "outlier_min_schools") == 0)
        return s_int(key, value, 3, 100000, &p->outlier_min_schools, err, errlen);
    return errorf(err, errlen, "unknown key \"%s\" in section [rules]", key);
}

static indicator_t *s_indicator(rules_t *self, const char *code, unsigned line)
{
    for (size_t i = self->count; i > 0; i--)
        if (strcmp(self->items[i - 1].code, code) == 0)
            return &self->items[i - 1];
    if (self->count == self->capacity) {
        self->capacity = self->capacity ? self->capacity * 2 : 32;
        self->items = xrealloc(self->items, self->capacity * sizeof(indicator_t));
    }
    indicator_t *ind = &self->items[self->count++];
    *ind = (indicator_t){.code = xstrdup(code), .line = line, .higher_better = true};
    return ind;
}

static int s_kinds(indicator_t *ind, const char *value, char *err, size_t errlen)
{
    ind->kinds = 0;
    char *copy = xstrdup(value), *save = NULL;
    int rc = 0;
    for (char *tok = strtok_r(copy, ", \t", &save); tok && rc == 0;
         tok = strtok_r(NULL, ", \t", &save)) {
        size_t i = 0, n = sizeof s_kind_names / sizeof *s_kind_names;
        while (i < n && strcmp(tok, s_kind_names[i]) != 0)
            i++;
        if (i == n)
            rc = errorf(err, errlen,
                        "unknown kind \"%s\" (known: threshold, balanced, "
                        "dispersion, fluctuation, missing, data_quality, trend, persistent, "
                        "urban_rural_gap, progress)",
                        tok);
        else if ((1u << i) & (KIND_CAPACITY | KIND_CONSISTENCY | KIND_COUNTY_BALANCED))
            rc = errorf(err, errlen,
                        "kind \"%s\" is switched on by its own section "
                        "([capacity], [check.NAME], [county_balanced]), not per indicator",
                        tok);
        else
            ind->kinds |= 1u << i;
    }
    free(copy);
    return rc;
}

static int s_indicator_key(indicator_t *ind, const char *key, const char *value, char *err,
                           size_t errlen)
{
    if (strcmp(key, "name") == 0 || strcmp(key, "unit") == 0) {
        char **slot = key[0] == 'n' ? &ind->name : &ind->unit;
        free(*slot);
        *slot = xstrdup(value);
        return 0;
    }
    if (strcmp(key, "better") == 0) {
        if (strcmp(value, "higher") && strcmp(value, "lower"))
            return errorf(err, errlen, "better = \"%s\" must be higher or lower", value);
        ind->higher_better = value[0] == 'h';
        return 0;
    }
    if (strcmp(key, "target") == 0 || strcmp(key, "target_primary") == 0 ||
        strcmp(key, "target_junior") == 0) {
        double t = 0;
        if (s_number(key, value, &t, err, errlen) != 0)
            return -1;
        for (int s = 0; s < STAGE_COUNT; s++) {
            if (strcmp(key, "target") == 0 || strcmp(key + 7, stage_name((stage_t) s)) == 0) {
                ind->has_target[s] = true;
                ind->target[s] = t;
            }
        }
        return 0;
    }
    if (strcmp(key, "min") == 0)
        return s_number(key, value, &ind->min, err, errlen);
    if (strcmp(key, "max") == 0)
        return s_number(key, value, &ind->max, err, errlen);
    if (strcmp(key, "kinds") == 0)
        return s_kinds(ind, value, err, errlen);
    if (strcmp(key, "plan_baseline") == 0)
        return s_period(key, value, &ind->plan_baseline, err, errlen);
    if (strcmp(key, "plan_period") == 0)
        return s_period(key, value, &ind->plan_period, err, errlen);
    if (strcmp(key, "plan_change") == 0)
        return s_number(key, value, &ind->plan_change, err, errlen);
    return errorf(err, errlen, "unknown key \"%s\" in section [indicator.%s]", key, ind->code);
}

static int s_on_line(void *arg, unsigned line, unsigned section_line, const char *section,
                     const char *key, const char *value, char *err, size_t errlen)
{
    rules_t *self = arg;
    if (strchr(key, '@'))
        return s_on_period_line(self, line, section, key, value, err, errlen);
    if (s_kind_section(section))
        return s_on_kind_line(self, line, section_line, section, key, value, err, errlen);
    if (strcmp(section, "rules") == 0 && strncmp(key, "dispersion_", 11) == 0 &&
        s_given(self, key, "rules", line, err, errlen) != 0)
        return -1;
    if (strcmp(section, "rules") == 0)
        return s_param(self, key, value, err, errlen);
    if (strncmp(section, "indicator.", 10) == 0 && section[10]) {
        const char *code = section + 10;
        for (const char *c = code; *c; c++)
            if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
                return errorf(err, errlen, "indicator code \"%s\" may hold only a-z, 0-9 and _",
                              code);
        return s_indicator_key(s_indicator(self, code, section_line), key, value, err, errlen);
    }
    return errorf(err, errlen,
                  "unknown section [%s] (expected [rules], [indicator.CODE], "
                  "[dispersion], [trend], [capacity], [persistent], [county_balanced], "
                  "[urban_rural_gap] or [check.NAME])",
                  section);
}

/*  The line of [section] key, or of [section] other when key is at its default (one of two
 *  keys in the wrong order was given). 0 when neither is in the file. */
static unsigned s_line(const rules_t *self, const char *section, const char *key, const char *other)
{
    unsigned line = config_key_line(self->path, section, key);
    return line || !other ? line : config_key_line(self->path, section, other);
}

/*  " (line N)" where [section] key is given, " (the default)" where it is not. Into buf. */
static const char *s_at(const rules_t *self, const char *section, const char *key, char *buf,
                        size_t size)
{
    unsigned line = config_key_line(self->path, section, key);
    if (line)
        snprintf(buf, size, " (line %u)", line);
    else
        snprintf(buf, size, " (the default)");
    return buf;
}

/*  An indicator's target per stage within its bounds: one outside would judge every value
 *  that may be stored (a target above max can never be met). */
static int s_check_target(const rules_t *self, const indicator_t *ind, char *err, size_t errlen)
{
    for (int s = 0; s < STAGE_COUNT; s++) {
        if (!ind->has_target[s] || (ind->target[s] >= ind->min && ind->target[s] <= ind->max))
            continue;
        // target_primary / target_junior, or target for both stages
        char section[128], key[32];
        snprintf(section, sizeof section, "indicator.%s", ind->code);
        snprintf(key, sizeof key, "target_%s", stage_name((stage_t) s));
        if (!config_key_line(self->path, section, key))
            snprintf(key, sizeof key, "target");
        return errorf(err, errlen,
                      "%s:%u: [indicator.%s] %s = %g is outside the bounds min = %g, max = %g: "
                      "a target must be a value the indicator can take",
                      self->path, config_key_line(self->path, section, key), ind->code, key,
                      ind->target[s], ind->min, ind->max);
    }
    return 0;
}

static int s_check(rules_t *self, char *err, size_t errlen)
{
    const rule_params_t *p = &self->params;
    char at[32];
    if (p->fluctuation_red < p->fluctuation_yellow)
        return errorf(err, errlen,
                      "%s:%u: [rules] fluctuation_red = %g is below fluctuation_yellow = %g%s: "
                      "the worsening that turns red must be at least the one that turns yellow",
                      self->path, s_line(self, "rules", "fluctuation_red", "fluctuation_yellow"),
                      p->fluctuation_red, p->fluctuation_yellow,
                      s_at(self, "rules", "fluctuation_yellow", at, sizeof at));
    if (p->jump_low >= 1 || p->jump_high <= 1)
        return errorf(err, errlen,
                      "%s:%u: [rules] jump_low = %g, jump_high = %g: jump_low must be below 1 "
                      "and jump_high above 1 (ratios to the previous period)",
                      self->path,
                      p->jump_low >= 1 ? s_line(self, "rules", "jump_low", NULL)
                                       : s_line(self, "rules", "jump_high", NULL),
                      p->jump_low, p->jump_high);
    // the dispersion target against the national limits: s_check_params, for every period
    if (self->count == 0)
        return errorf(err, errlen, "%s: no [indicator.CODE] section", self->path);
    for (size_t i = 0; i < self->count; i++) {
        const indicator_t *ind = &self->items[i];
        const char *problem = NULL;
        if (!ind->name || !*ind->name)
            problem = "has no name";
        else if (!ind->unit)
            problem = "has no unit";
        else if (!(ind->min < ind->max)) {
            char section[128];
            snprintf(section, sizeof section, "indicator.%s", ind->code);
            unsigned line = s_line(self, section, "max", "min");
            return errorf(err, errlen, "%s:%u: [indicator.%s] min = %g is not below max = %g: %s",
                          self->path, line ? line : ind->line, ind->code, ind->min, ind->max,
                          line ? "give the lower bound as min and the upper as max"
                               : "add the bounds min and max");
        } else if (s_check_target(self, ind, err, errlen) != 0)
            return -1;
        else if ((ind->kinds & (KIND_THRESHOLD | KIND_BALANCED)) &&
                 !(ind->has_target[STAGE_PRIMARY] && ind->has_target[STAGE_JUNIOR]))
            problem = "has kind threshold or balanced but no target for each stage";
        else if ((ind->kinds & KIND_PROGRESS) &&
                 !(ind->plan_baseline && ind->plan_period && ind->plan_period > ind->plan_baseline))
            problem = "has kind progress but no plan_baseline before plan_period";
        else if (!(ind->kinds & KIND_PROGRESS) && (ind->plan_baseline || ind->plan_period))
            problem = "has a plan but not the kind progress";
        if (problem)
            return errorf(err, errlen, "%s:%u: [indicator.%s] %s", self->path, ind->line, ind->code,
                          problem);
    }
    return 0;
}

rules_t *rules_load(const char *path, char *err, size_t errlen)
{
    rules_t *self = xcalloc(1, sizeof *self);
    self->path = path;
    self->params = (rule_params_t){
        .first_period = 2023,
        .accept_from = 2000,
        .accept_ahead_years = 1,
        .deadline_month = 10,
        .deadline_day = 31,
        .missing_red_days = 14,
        .tolerance = 0.85,
        .dispersion_target = 0.30,
        .dispersion_limit = {0.50, 0.45},
        .dispersion_min_schools = 2,
        .fluctuation_yellow = 5,
        .fluctuation_red = 12,
        .jump_high = 2,
        .jump_low = 0.5,
        .outlier_z = 3.5,
        .outlier_min_schools = 5,
        .trend_periods = 5,
        .trend_min_periods = 3,
        .trend_ahead_years = 2,
        .capacity_red_now = 1.00,
        .capacity_red_next = 1.05,
        .capacity_yellow_next = 0.95,
        .capacity_growth_pairs = 3,
        .persistent_years = 3,
        .persistent_county_years = 2,
        .county_balanced_share = 0.85,
        .gap_yellow = 0.10,
        .gap_red = 0.20,
    };
    self->given = zhashx_new();
    if (config_parse_lines(path, s_on_line, self, err, errlen) != 0 ||
        s_check(self, err, errlen) != 0 || s_finish(self, err, errlen) != 0) {
        rules_destroy(&self);
        return NULL;
    }
    self->path = NULL;
    self->by_code = lookup_new();
    for (size_t i = 0; i < self->count; i++)
        lookup_add(self->by_code, self->items[i].code, &self->items[i]);
    lookup_seal(self->by_code); // codes are unique: s_indicator reuses a code seen before
    return self;
}

void rules_destroy(rules_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rules_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++) {
        free(self->items[i].code);
        free(self->items[i].name);
        free(self->items[i].unit);
    }
    free(self->items);
    lookup_destroy(&self->by_code);
    s_periods_free(self);
    free(self);
    *self_p = NULL;
}

const rule_params_t *rules_params(const rules_t *self)
{
    return &self->params;
}

const indicator_t *rules_find(const rules_t *self, const char *code)
{
    return lookup_find(self->by_code, code);
}

size_t rules_count(const rules_t *self)
{
    return self->count;
}

const indicator_t *rules_at(const rules_t *self, size_t i)
{
    return &self->items[i];
}

//  --------------------------------------------------------------------------
//  The second round's kinds: their sections, consistency checks, and numbers per period

/*  A key that may be written in two places ([rules] dispersion_target and [dispersion] target,
 *  and every key@PERIOD) is refused the second time. key is the [rules] spelling. */
static int s_given(rules_t *self, const char *key, const char *section, unsigned line, char *err,
                   size_t errlen)
{
    uintptr_t before = (uintptr_t) zhashx_lookup(self->given, key);
    if (before)
        return errorf(err, errlen, "[%s] %s is given a second time (first at line %u)", section,
                      key, (unsigned) before);
    zhashx_insert(self->given, key, (void *) (uintptr_t) line);
    return 0;
}

/*  The line of a key recorded by s_given, or 0. */
static unsigned s_line_of(const rules_t *self, const char *key)
{
    return self->given ? (unsigned) (uintptr_t) zhashx_lookup(self->given, key) : 0;
}

static bool s_kind_section(const char *section)
{
    static const char *names[] = {"dispersion", "trend",           "capacity",
                                  "persistent", "county_balanced", "urban_rural_gap"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcmp(section, names[i]) == 0)
            return true;
    return strncmp(section, "check.", 6) == 0;
}

static int s_fraction(const char *key, const char *value, double *out, char *err, size_t errlen)
{
    if (s_positive(key, value, out, err, errlen) != 0)
        return -1;
    return *out <= 1 ? 0 : errorf(err, errlen, "%s = %s must be at most 1", key, value);
}

/*  A numeric key of a kind's section into p (the base numbers, or a copy for one period). */
static int s_kind_param(rule_params_t *p, const char *section, const char *key, const char *value,
                        char *err, size_t errlen)
{
    static const struct {
        const char *section, *key;
        char type;     // 'p' positive number, 'f' fraction (0, 1], 'i' whole number
        int lo, hi;    // bounds of a whole number
        size_t offset; // the field of rule_params_t
    } keys[] = {
        {"trend", "periods", 'i', 2, 10, offsetof(rule_params_t, trend_periods)},
        {"trend", "min_periods", 'i', 2, 10, offsetof(rule_params_t, trend_min_periods)},
        {"trend", "ahead_years", 'i', 1, 10, offsetof(rule_params_t, trend_ahead_years)},
        {"capacity", "red_now", 'p', 0, 0, offsetof(rule_params_t, capacity_red_now)},
        {"capacity", "red_next", 'p', 0, 0, offsetof(rule_params_t, capacity_red_next)},
        {"capacity", "yellow_next", 'p', 0, 0, offsetof(rule_params_t, capacity_yellow_next)},
        {"capacity", "growth_pairs", 'i', 0, 10, offsetof(rule_params_t, capacity_growth_pairs)},
        {"persistent", "years", 'i', 2, 10, offsetof(rule_params_t, persistent_years)},
        {"persistent", "county_years", 'i', 1, 10,
         offsetof(rule_params_t, persistent_county_years)},
        {"county_balanced", "share", 'f', 0, 0, offsetof(rule_params_t, county_balanced_share)},
        {"urban_rural_gap", "yellow", 'p', 0, 0, offsetof(rule_params_t, gap_yellow)},
        {"urban_rural_gap", "red", 'p', 0, 0, offsetof(rule_params_t, gap_red)},
    };
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        if (strcmp(section, keys[i].section) != 0 || strcmp(key, keys[i].key) != 0)
            continue;
        void *field = (char *) p + keys[i].offset;
        if (keys[i].type == 'i')
            return s_int(key, value, keys[i].lo, keys[i].hi, field, err, errlen);
        if (keys[i].type == 'f')
            return s_fraction(key, value, field, err, errlen);
        return s_positive(key, value, field, err, errlen);
    }
    return errorf(err, errlen, "unknown key \"%s\" in section [%s]", key, section);
}

/*  A county-wide key (of [rules], [dispersion] or a kind's section) into p. s_param writes the
 *  rules' own parameters, so p takes their place while it runs. */
static int s_apply_param(rules_t *self, rule_params_t *p, const char *section, const char *key,
                         const char *value, char *err, size_t errlen)
{
    if (strcmp(section, "rules") != 0 && strcmp(section, "dispersion") != 0)
        return s_kind_param(p, section, key, value, err, errlen);
    char name[64];
    snprintf(name, sizeof name, "%s%s", strcmp(section, "dispersion") == 0 ? "dispersion_" : "",
             key);
    if (p == &self->params)
        return s_param(self, name, value, err, errlen);
    rule_params_t saved = self->params;
    self->params = *p;
    int rc = s_param(self, name, value, err, errlen);
    *p = self->params;
    self->params = saved;
    return rc;
}

/*  "A <= k * B": A, the comparison, k (1 when not written), B. Returns 0, or -1 with err. */
static int s_check_rule(rules_check_t *check, const char *value, char **left, char **right,
                        char *err, size_t errlen)
{
    const char *p = value;
    size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_");
    if (n == 0)
        goto bad;
    *left = xstrndup(p, n);
    p += n + strspn(p + n, " \t");
    static const struct {
        const char *text;
        check_op_t op;
    } ops[] = {{"<=", CHECK_LE}, {">=", CHECK_GE}, {"<", CHECK_LT}, {">", CHECK_GT}};
    size_t i = 0;
    while (i < 4 && strncmp(p, ops[i].text, strlen(ops[i].text)) != 0)
        i++;
    if (i == 4)
        goto bad;
    check->op = ops[i].op;
    p += strlen(ops[i].text);
    p += strspn(p, " \t");
    check->k = 1;
    char *end = NULL;
    errno = 0;
    double k = isdigit((unsigned char) *p) || *p == '.' ? strtod(p, &end) : 0;
    if (end && end != p) { // a factor: "k * B"
        const char *star = end + strspn(end, " \t");
        if (*star != '*' || errno == ERANGE || !isfinite(k) || !(k > 0))
            goto bad;
        check->k = k;
        p = star + 1;
        p += strspn(p, " \t");
    }
    n = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_");
    if (n == 0 || p[n + strspn(p + n, " \t")] != '\0')
        goto bad;
    *right = xstrndup(p, n);
    return 0;
bad:
    return errorf(err, errlen,
                  "rule = \"%s\" is not \"A <= B\" or \"A <= k * B\" (A and B indicator codes, "
                  "k a number above 0, the comparison <, <=, >= or >)",
                  value);
}

static int s_on_check_line(rules_t *self, unsigned section_line, const char *name, const char *key,
                           const char *value, char *err, size_t errlen)
{
    if (!*name || strlen(name) > 39 ||
        strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(name))
        return errorf(err, errlen, "check name \"%s\" must be 1 to 39 of a-z, 0-9 and _", name);
    rules_check_t *check = NULL;
    for (size_t i = 0; i < self->check_count && !check; i++)
        if (strcmp(self->checks[i].name, name) == 0)
            check = &self->checks[i];
    if (!check) {
        if (self->check_count == self->check_capacity) {
            self->check_capacity = self->check_capacity ? self->check_capacity * 2 : 8;
            self->checks = xrealloc(self->checks, self->check_capacity * sizeof *self->checks);
        }
        check = &self->checks[self->check_count++];
        *check = (rules_check_t){.name = xstrdup(name), .line = section_line, .k = 1};
    }
    if (strcmp(key, "name") == 0) {
        free(check->label);
        check->label = xstrdup(value);
        return 0;
    }
    if (strcmp(key, "rule") != 0)
        return errorf(err, errlen, "unknown key \"%s\" in section [check.%s] (name, rule)", key,
                      name);
    char *left = NULL, *right = NULL;
    rules_check_t parsed = *check;
    int rc = s_check_rule(&parsed, value, &left, &right, err, errlen);
    if (rc == 0) {
        free(check->rule);
        check->rule = xstrdup(value);
        check->op = parsed.op;
        check->k = parsed.k;
        // the codes are resolved once the catalog is whole
        free(check->left_code);
        free(check->right_code);
        check->left_code = left;
        check->right_code = right;
        left = right = NULL;
    }
    free(left);
    free(right);
    return rc;
}

static int s_on_kind_line(rules_t *self, unsigned line, unsigned section_line, const char *section,
                          const char *key, const char *value, char *err, size_t errlen)
{
    if (strncmp(section, "check.", 6) == 0)
        return s_on_check_line(self, section_line, section + 6, key, value, err, errlen);
    if (strcmp(section, "capacity") == 0) {
        self->capacity_line = section_line;
        if (strcmp(key, "enrolment") == 0 || strcmp(key, "places") == 0) {
            char **slot = key[0] == 'e' ? &self->enrolment_code : &self->places_code;
            free(*slot);
            *slot = xstrdup(value);
            return 0;
        }
    }
    if (strcmp(section, "county_balanced") == 0)
        self->county_kinds |= KIND_COUNTY_BALANCED;
    char name[96];
    if (strcmp(section, "dispersion") == 0)
        snprintf(name, sizeof name, "dispersion_%s", key);
    else
        snprintf(name, sizeof name, "%s.%s", section, key);
    if (s_given(self, name, section, line, err, errlen) != 0)
        return -1;
    return s_apply_param(self, &self->params, section, key, value, err, errlen);
}

/*  The keys that are not numbers, or that decide which periods exist: never per period. */
static bool s_fixed_key(const char *key)
{
    static const char *fixed[] = {
        "first_period", "accept_from", "accept_ahead_years", "deadline",    "name",      "unit",
        "better",       "kinds",       "plan_baseline",      "plan_period", "enrolment", "places",
        "rule"};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        if (strcmp(key, fixed[i]) == 0)
            return true;
    return false;
}

static int s_on_period_line(rules_t *self, unsigned line, const char *section, const char *key,
                            const char *value, char *err, size_t errlen)
{
    const char *at = strchr(key, '@');
    char base[64];
    int year;
    if ((size_t) (at - key) >= sizeof base || period_parse(at + 1, &year) != 0)
        return errorf(err, errlen,
                      "\"%s\" is not KEY@YYYY-YYYY (a key for one academic year "
                      "on, like target@2025-2026)",
                      key);
    snprintf(base, sizeof base, "%.*s", (int) (at - key), key);
    if (s_fixed_key(base) || strncmp(section, "check.", 6) == 0)
        return errorf(err, errlen,
                      "%s cannot be given per period: only the numbers of the "
                      "rules can (targets, bounds, limits, thresholds)",
                      base);
    long ind = -1;
    int rc;
    if (strncmp(section, "indicator.", 10) == 0 && section[10]) {
        indicator_t *found = NULL;
        for (size_t i = 0; i < self->count && !found; i++)
            if (strcmp(self->items[i].code, section + 10) == 0)
                found = &self->items[i];
        if (!found)
            return errorf(err, errlen,
                          "%s comes before the indicator's own keys: write "
                          "[indicator.%s] name, unit, ... first",
                          key, section + 10);
        ind = (long) (found - self->items);
        indicator_t scratch = *found; // the value checked as the key's own would be
        rc = s_indicator_key(&scratch, base, value, err, errlen);
    } else if (strcmp(section, "rules") == 0 || s_kind_section(section)) {
        if (strcmp(section, "county_balanced") == 0)
            self->county_kinds |= KIND_COUNTY_BALANCED;
        rule_params_t scratch = self->params;
        rc = s_apply_param(self, &scratch, section, base, value, err, errlen);
    } else {
        return errorf(err, errlen, "unknown section [%s] for %s", section, key);
    }
    if (rc != 0)
        return -1;
    // the same key for the same period twice, in one section or (dispersion) in two
    char canonical[160];
    snprintf(canonical, sizeof canonical, "%s%s%s%s@%d", ind >= 0 ? section : "",
             ind >= 0 ? "." : "", strcmp(section, "dispersion") == 0 ? "dispersion_" : "", base,
             year);
    if (s_given(self, canonical, section, line, err, errlen) != 0)
        return -1;
    if (self->override_count == self->override_capacity) {
        self->override_capacity = self->override_capacity ? self->override_capacity * 2 : 16;
        self->overrides =
            xrealloc(self->overrides, self->override_capacity * sizeof *self->overrides);
    }
    self->overrides[self->override_count++] = (s_override_t){.year = year,
                                                             .line = line,
                                                             .ind = ind,
                                                             .section = xstrdup(section),
                                                             .key = xstrdup(base),
                                                             .value = xstrdup(value)};
    return 0;
}

static const indicator_t *s_code(const rules_t *self, const char *code)
{
    for (size_t i = 0; i < self->count; i++)
        if (strcmp(self->items[i].code, code) == 0)
            return &self->items[i];
    return NULL;
}

/*  The county-wide numbers that must agree with one another, in force from `year` (0: those
 *  written without a period) as set at `line`. */
static int s_check_params(const rules_t *self, const rule_params_t *p, int year, unsigned line,
                          char *err, size_t errlen)
{
    char where[4][96]; // for the dispersion target, trend, capacity, urban_rural_gap
    static const char *keys[] = {"dispersion_target", "trend.min_periods", "capacity.yellow_next",
                                 "urban_rural_gap.red"};
    for (int i = 0; i < 4; i++) {
        unsigned at = year ? line : s_line_of(self, keys[i]);
        if (year)
            snprintf(where[i], sizeof where[i], "%s:%u: from %d-%d on,", self->path, at, year,
                     year + 1);
        else if (at)
            snprintf(where[i], sizeof where[i], "%s:%u:", self->path, at);
        else
            snprintf(where[i], sizeof where[i], "%s:", self->path);
    }
    // those of the base numbers are s_check's
    if (year && p->fluctuation_red < p->fluctuation_yellow)
        return errorf(err, errlen, "%s fluctuation_red = %g is below fluctuation_yellow = %g",
                      where[0], p->fluctuation_red, p->fluctuation_yellow);
    if (year && (p->jump_low >= 1 || p->jump_high <= 1))
        return errorf(err, errlen,
                      "%s jump_low = %g and jump_high = %g: jump_low must be below "
                      "1 and jump_high above 1",
                      where[0], p->jump_low, p->jump_high);
    // the county target may be looser than one stage's national limit (0.50 for 小学 and
    // 初中 alike, where 初中's limit is 0.45): that stage is then green up to its limit
    double limit = fmax(p->dispersion_limit[STAGE_PRIMARY], p->dispersion_limit[STAGE_JUNIOR]);
    if (p->dispersion_target > limit)
        return errorf(err, errlen,
                      "%s the dispersion target %g is above every national limit "
                      "(%g 小学, %g 初中)",
                      where[0], p->dispersion_target, p->dispersion_limit[STAGE_PRIMARY],
                      p->dispersion_limit[STAGE_JUNIOR]);
    if (p->trend_min_periods > p->trend_periods)
        return errorf(err, errlen, "%s [trend] min_periods = %d is more than periods = %d",
                      where[1], p->trend_min_periods, p->trend_periods);
    if (p->capacity_yellow_next > p->capacity_red_next)
        return errorf(err, errlen, "%s [capacity] yellow_next = %g is above red_next = %g",
                      where[2], p->capacity_yellow_next, p->capacity_red_next);
    if (p->gap_red < p->gap_yellow)
        return errorf(err, errlen, "%s [urban_rural_gap] red = %g is below yellow = %g", where[3],
                      p->gap_red, p->gap_yellow);
    return 0;
}

/*  An indicator's numbers in force from `year` on. */
static int s_check_indicator_at(const rules_t *self, const indicator_t *ind, int year,
                                unsigned line, char *err, size_t errlen)
{
    const char *problem = NULL;
    if (!(ind->min < ind->max))
        problem = "min is not below max";
    for (int s = 0; s < STAGE_COUNT && !problem; s++)
        if (ind->has_target[s] && (ind->target[s] < ind->min || ind->target[s] > ind->max))
            problem = "a target is outside the bounds min, max";
    if (problem)
        return errorf(err, errlen, "%s:%u: [indicator.%s] from %d-%d on, %s", self->path, line,
                      ind->code, year, year + 1, problem);
    return 0;
}

static int s_year_compare(const void *a, const void *b)
{
    int x = *(const int *) a, y = *(const int *) b;
    return (x > y) - (x < y);
}

/*  The distinct years of the overrides of one scope (ind -1: the county-wide parameters),
 *  ascending, into years (room for override_count). Returns how many. */
static size_t s_years(const rules_t *self, long ind, int *years)
{
    size_t n = 0;
    for (size_t i = 0; i < self->override_count; i++)
        if (self->overrides[i].ind == ind)
            years[n++] = self->overrides[i].year;
    qsort(years, n, sizeof *years, s_year_compare);
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++)
        if (distinct == 0 || years[distinct - 1] != years[i])
            years[distinct++] = years[i];
    return distinct;
}

/*  The numbers in force from each overridden year on: each year starts from the one before and
 *  applies its own overrides in file order. */
static int s_periods(rules_t *self, char *err, size_t errlen)
{
    int *years = xcalloc(self->override_count + 1, sizeof *years);
    size_t n = s_years(self, -1, years);
    int rc = 0;
    self->params_at = xcalloc(n + 1, sizeof *self->params_at);
    for (size_t y = 0; y < n && rc == 0; y++) {
        s_params_at_t *at = &self->params_at[self->params_at_count++];
        at->year = years[y];
        at->params = y ? self->params_at[y - 1].params : self->params;
        for (size_t i = 0; i < self->override_count && rc == 0; i++) {
            const s_override_t *o = &self->overrides[i];
            if (o->ind != -1 || o->year != at->year)
                continue;
            if (!at->line)
                at->line = o->line;
            if (s_apply_param(self, &at->params, o->section, o->key, o->value, err, errlen) != 0)
                rc = -1;
        }
        if (rc == 0)
            rc = s_check_params(self, &at->params, at->year, at->line, err, errlen);
    }
    self->ind_at = xcalloc(self->count + 1, sizeof *self->ind_at);
    self->ind_at_count = xcalloc(self->count + 1, sizeof *self->ind_at_count);
    for (size_t k = 0; k < self->count && rc == 0; k++) {
        n = s_years(self, (long) k, years);
        if (n == 0)
            continue;
        self->ind_at[k] = xcalloc(n, sizeof **self->ind_at);
        for (size_t y = 0; y < n && rc == 0; y++) {
            s_indicator_at_t *at = &self->ind_at[k][self->ind_at_count[k]++];
            at->year = years[y];
            at->ind = y ? self->ind_at[k][y - 1].ind : self->items[k];
            for (size_t i = 0; i < self->override_count && rc == 0; i++) {
                const s_override_t *o = &self->overrides[i];
                if (o->ind != (long) k || o->year != at->year)
                    continue;
                if (!at->line)
                    at->line = o->line;
                if (s_indicator_key(&at->ind, o->key, o->value, err, errlen) != 0)
                    rc = -1;
            }
            if (rc == 0)
                rc = s_check_indicator_at(self, &at->ind, at->year, at->line, err, errlen);
        }
    }
    free(years);
    return rc;
}

/*  After the file is read: the new kinds' sections make sense with the catalog, and the
 *  numbers of every period are built and checked. */
static int s_finish(rules_t *self, char *err, size_t errlen)
{
    if (s_check_params(self, &self->params, 0, 0, err, errlen) != 0)
        return -1;
    for (size_t i = 0; i < self->count; i++) {
        const indicator_t *ind = &self->items[i];
        const char *problem = NULL;
        if ((ind->kinds & KIND_TREND) &&
            !(ind->has_target[STAGE_PRIMARY] && ind->has_target[STAGE_JUNIOR]))
            problem = "has kind trend but no target for each stage";
        else if ((ind->kinds & KIND_PERSISTENT) &&
                 !(ind->kinds & (KIND_THRESHOLD | KIND_DISPERSION)))
            problem = "has kind persistent but neither threshold nor dispersion";
        if (problem)
            return errorf(err, errlen, "%s:%u: [indicator.%s] %s", self->path, ind->line, ind->code,
                          problem);
    }
    if (self->capacity_line) {
        if (!self->enrolment_code || !self->places_code)
            return errorf(err, errlen,
                          "%s:%u: [capacity] needs enrolment and places (the "
                          "indicators of 在校生数 and 核定学位数)",
                          self->path, self->capacity_line);
        self->enrolment = s_code(self, self->enrolment_code);
        self->places = s_code(self, self->places_code);
        const char *missing = !self->enrolment ? self->enrolment_code
                              : !self->places  ? self->places_code
                                               : NULL;
        if (missing)
            return errorf(err, errlen,
                          "%s:%u: [capacity] names \"%s\", which is not in the "
                          "catalog",
                          self->path, self->capacity_line, missing);
        if (self->enrolment == self->places)
            return errorf(err, errlen,
                          "%s:%u: [capacity] enrolment and places are the same "
                          "indicator",
                          self->path, self->capacity_line);
        self->county_kinds |= KIND_CAPACITY;
    }
    for (size_t i = 0; i < self->check_count; i++) {
        rules_check_t *c = &self->checks[i];
        const char *problem = NULL, *code = "";
        if (!c->rule) {
            problem = "has no rule (rule = A <= B)";
        } else if (!(c->left = s_code(self, c->left_code))) {
            problem = "names an indicator that is not in the catalog:";
            code = c->left_code;
        } else if (!(c->right = s_code(self, c->right_code))) {
            problem = "names an indicator that is not in the catalog:";
            code = c->right_code;
        } else if (c->left == c->right) {
            problem = "compares an indicator with itself";
        } else if (s_code(self, c->name)) {
            problem = "has the name of an indicator (a warning's indicator column is the "
                      "check's name)";
        }
        if (problem)
            return errorf(err, errlen, "%s:%u: [check.%s] %s %s", self->path, c->line, c->name,
                          problem, code);
        if (!c->label)
            c->label = xstrdup(c->rule);
    }
    if (self->check_count)
        self->county_kinds |= KIND_CONSISTENCY;
    zhashx_destroy(&self->given);
    return s_periods(self, err, errlen);
}

static void s_periods_free(rules_t *self)
{
    for (size_t i = 0; i < self->override_count; i++) {
        free(self->overrides[i].section);
        free(self->overrides[i].key);
        free(self->overrides[i].value);
    }
    free(self->overrides);
    free(self->params_at);
    for (size_t i = 0; self->ind_at && i < self->count; i++)
        free(self->ind_at[i]);
    free(self->ind_at);
    free(self->ind_at_count);
    for (size_t i = 0; i < self->check_count; i++) {
        free(self->checks[i].name);
        free(self->checks[i].label);
        free(self->checks[i].rule);
        free(self->checks[i].left_code);
        free(self->checks[i].right_code);
    }
    free(self->checks);
    free(self->enrolment_code);
    free(self->places_code);
    zhashx_destroy(&self->given);
}

const rule_params_t *rules_params_at(const rules_t *self, int year)
{
    const rule_params_t *p = &self->params;
    for (size_t i = 0; i < self->params_at_count && self->params_at[i].year <= year; i++)
        p = &self->params_at[i].params;
    return p;
}

size_t rules_param_years(const rules_t *self)
{
    return self->params_at_count;
}

int rules_param_year(const rules_t *self, size_t i)
{
    return self->params_at[i].year;
}

const indicator_t *rules_indicator_at(const rules_t *self, const indicator_t *ind, int year)
{
    size_t k = (size_t) (ind - self->items);
    if (k >= self->count || !self->ind_at)
        return ind;
    const indicator_t *at = ind;
    for (size_t i = 0; i < self->ind_at_count[k] && self->ind_at[k][i].year <= year; i++)
        at = &self->ind_at[k][i].ind;
    return at;
}

unsigned rules_county_kinds(const rules_t *self)
{
    return self->county_kinds;
}

const indicator_t *rules_enrolment(const rules_t *self)
{
    return self->enrolment;
}

const indicator_t *rules_places(const rules_t *self)
{
    return self->places;
}

size_t rules_check_count(const rules_t *self)
{
    return self->check_count;
}

const rules_check_t *rules_check_at(const rules_t *self, size_t i)
{
    return &self->checks[i];
}

const rules_check_t *rules_find_check(const rules_t *self, const char *name)
{
    for (size_t i = 0; i < self->check_count; i++)
        if (strcmp(self->checks[i].name, name) == 0)
            return &self->checks[i];
    return NULL;
}

const char *check_op_name(check_op_t op)
{
    static const char *names[] = {"<", "<=", ">=", ">"};
    return op >= CHECK_LT && op <= CHECK_GT ? names[op] : "?";
}
