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

#include <czmq.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct rules_t {
    rule_params_t params;   // [rules]
    indicator_t *items;     // [indicator.*] in file order
    size_t count, capacity; // used, allocated
    lookup_t *by_code;      // code -> indicator_t (built once the array stops moving)
    const char *path;       // while loading: the file
};

static const char *s_kind_names[] = {"threshold", "balanced",     "dispersion", "fluctuation",
                                     "missing",   "data_quality", "progress"};

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
            rc = errorf(err, errlen, "unknown kind \"%s\" (known: threshold, balanced, "
                        "dispersion, fluctuation, missing, data_quality, progress)", tok);
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
    (void) line;
    rules_t *self = arg;
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
    return errorf(err, errlen, "unknown section [%s] (expected [rules] or [indicator.CODE])",
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
    for (int s = 0; s < STAGE_COUNT; s++) {
        if (p->dispersion_limit[s] >= p->dispersion_target)
            continue;
        char key[64];
        snprintf(key, sizeof key, "dispersion_limit_%s", stage_name((stage_t) s));
        return errorf(err, errlen,
                      "%s:%u: [rules] %s = %g is below dispersion_target = %g%s: the national "
                      "limit (red above) must be at least the county's target (green at or "
                      "below)",
                      self->path, s_line(self, "rules", key, "dispersion_target"), key,
                      p->dispersion_limit[s], p->dispersion_target,
                      s_at(self, "rules", "dispersion_target", at, sizeof at));
    }
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
    };
    if (config_parse_lines(path, s_on_line, self, err, errlen) != 0 ||
        s_check(self, err, errlen) != 0) {
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
