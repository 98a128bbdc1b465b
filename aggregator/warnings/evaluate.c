/*  evaluate - the county's red/yellow/green warnings, kept current batch by batch
 *
 *  One pass (a batch, or a sweep) gathers the items in scope into a set keyed like the
 *  warnings ("kind|subject|stage|indicator|year"; a county has a dispersion line per stage),
 *  judges each from the values in memory (a series of years per school and indicator, reached
 *  through a matrix indexed like the registry and the rules), and
 *  compares the verdict with the committed state: every difference (level, value or detail)
 *  becomes a pending change. The changes go to PostgreSQL in one statement (arrays unnested
 *  into edu.warning_state, and edu.warning_transition where the level changed) and into memory
 *  after COMMIT. The stage statistics the outlier test needs (median and MAD of a stage's
 *  schools for one indicator and period) are computed once per pass.
 */
#define _DEFAULT_SOURCE // timegm()
#include "evaluate.h"

#include "alert.h"
#include "judge.h"
#include "log.h"
#include "period.h"
#include "pg.h"
#include "util.h"

#include <czmq.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_BALANCED "balanced" // the indicator column of a balanced and a county_balanced item
#define S_COUNTY_BALANCED "county_balanced" // the indicator of the verdict's aggregate row
// How many later periods a value can reach through the windows of trend, persistent and
// capacity: their keys allow windows of at most 10 years, growth over 10 pairs (11 years).
#define S_SPAN 10

typedef struct {
    char *kind;      // kind name ("threshold")
    char *subject;   // school code, or the county code for county kinds
    char *stage;     // stage name, or "" (progress)
    char *indicator; // indicator code, or "balanced"
    int year;        // first year of the period
    level_t from;    // level before (pending changes only)
    level_t level;   // level now
    bool has_value;  // value is set
    double value;    // what was judged
    char *detail;    // one line on why
    double aux[2];   // more numbers for the alert (pending changes only; see s_verdict_t)
    int aux_year;    //   and a year (trend: the projected period)
} s_warning_t;

typedef struct {
    kind_t kind;            // one kind bit
    const school_t *school; // school kinds (borrowed from the registry)
    const indicator_t *ind; // NULL for balanced, consistency, county_balanced (borrowed)
    const rules_check_t *check; // consistency's check (borrowed from the rules)
    stage_t stage;              // the stage of a county item
    int year;               // first year of the period
} s_item_t;

typedef struct {
    int first;     // first year held
    int count;     // years held from first on
    double *value; // per year
    bool *has;     // a value is present
} s_series_t;

typedef struct {
    int schools;        // schools of the stage that reported
    double mean;        // student-weighted mean (0 when none reported)
    double min, max;    // smallest and largest value
    bool has_mean;      // mean is set (a school reported; the verdict: it was judged)
    bool has_range;     // min and max are set (not on the county_balanced verdict's row)
    bool has_cv;        // cv is set (at least two schools, a mean above 0)
    double cv;          // student-weighted coefficient of variation
    int red, yellow;    // registered schools of the stage at their worst level for the item
    int green;          //   (threshold, fluctuation, missing, data_quality); on the
                        //   county_balanced row, the county's verdict (1 in its level)
} s_aggregate_t;

typedef struct {
    size_t n;           // schools of the stage with a value
    double median, mad; // of their values
} s_stats_t;

struct evaluate_t {
    char *county;             // county code
    const rules_t *rules;     // borrowed
    const schools_t *schools; // borrowed
    zhashx_t *series;         // "school|indicator" -> s_series_t *: current values by year
    s_series_t **matrix;      // [school index × indicators + indicator index] -> series
    zhashx_t *state;          // warning key -> s_warning_t *: yellow or red, as committed
    zhashx_t *pending;        // warning key -> s_warning_t *: changes of the open transaction
    zhashx_t *stats;          // "stage|indicator|year" -> s_stats_t *, for one pass
    zhashx_t *aggregates;     // "stage|indicator|year" -> s_aggregate_t *, as committed
    zhashx_t *pending_aggregates; // the same, changed in the open transaction
    int min_year, max_year;   // periods present among the values (0 when none)
    bool loaded;              // memory matches the database
    bool full_due;            // everything must be re-judged at the next sweep
    time_t last_sweep;        // when every missing item was last judged (0: never)
    time_t pending_sweep;     // the open transaction judged every missing item at this time
    bool pending_full;        // the open transaction re-judged everything
    bool pending_pass;        // the open transaction is a sweep (logged once committed)
    size_t pass_items;        // items it judged
    size_t pass_changes;      // changes it found
    bool want_detail;         // the judging in progress writes its detail line
};

static void s_series_free(void **item);
static void s_reindex(evaluate_t *self);
static void s_warning_free(void **item)
{
    s_warning_t *w = *item;
    if (!w)
        return;
    free(w->kind);
    free(w->subject);
    free(w->stage);
    free(w->indicator);
    free(w->detail);
    free(w);
    *item = NULL;
}

static zhashx_t *s_map(zhashx_destructor_fn *destructor)
{
    zhashx_t *map = zhashx_new();
    zhashx_set_destructor(map, destructor);
    return map;
}

evaluate_t *evaluate_new(const char *county, const rules_t *rules, const schools_t *schools)
{
    evaluate_t *self = xcalloc(1, sizeof *self);
    self->county = xstrdup(county);
    self->rules = rules;
    self->schools = schools;
    self->series = s_map(s_series_free);
    self->state = s_map(s_warning_free);
    self->pending = s_map(s_warning_free);
    self->stats = s_map(xfree_item);
    self->aggregates = s_map(xfree_item);
    self->pending_aggregates = s_map(xfree_item);
    self->full_due = true;
    return self;
}

void evaluate_destroy(evaluate_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    evaluate_t *self = *self_p;
    zhashx_destroy(&self->series);
    free(self->matrix);
    zhashx_destroy(&self->state);
    zhashx_destroy(&self->pending);
    zhashx_destroy(&self->stats);
    zhashx_destroy(&self->aggregates);
    zhashx_destroy(&self->pending_aggregates);
    free(self->county);
    free(self);
    *self_p = NULL;
}

void evaluate_set_rules(evaluate_t *self, const rules_t *rules, const schools_t *schools)
{
    self->rules = rules;
    self->schools = schools;
    self->full_due = true;
    if (self->matrix)
        s_reindex(self);
}

//  --------------------------------------------------------------------------
//  Values in memory

static void s_series_free(void **item)
{
    s_series_t *series = *item;
    if (series) {
        free(series->value);
        free(series->has);
        free(series);
        *item = NULL;
    }
}

static void s_series_set(s_series_t *series, int year, double v)
{
    if (series->count == 0)
        series->first = year;
    int lo = year < series->first ? year : series->first;
    int hi = series->count && year < series->first + series->count - 1
                 ? series->first + series->count - 1
                 : year;
    if (lo != series->first || hi - lo + 1 != series->count) {
        int count = hi - lo + 1, shift = series->first - lo;
        double *value = xcalloc((size_t) count, sizeof *value);
        bool *has = xcalloc((size_t) count, sizeof *has);
        for (int i = 0; i < series->count; i++) {
            value[i + shift] = series->value[i];
            has[i + shift] = series->has[i];
        }
        free(series->value);
        free(series->has);
        series->value = value;
        series->has = has;
        series->first = lo;
        series->count = count;
    }
    series->value[year - lo] = v;
    series->has[year - lo] = true;
}

/*  Points the matrix at the series of the registry's schools and the rules' indicators. */
static void s_reindex(evaluate_t *self)
{
    size_t ns = schools_count(self->schools), ni = rules_count(self->rules);
    free(self->matrix);
    self->matrix = xcalloc(ns * ni + 1, sizeof *self->matrix);
    for (size_t i = 0; i < ns; i++)
        for (size_t j = 0; j < ni; j++) {
            char key[160];
            snprintf(key, sizeof key, "%s|%s", schools_at(self->schools, i)->code,
                     rules_at(self->rules, j)->code);
            self->matrix[i * ni + j] = zhashx_lookup(self->series, key);
        }
}

static s_series_t **s_slot(evaluate_t *self, const school_t *school, const indicator_t *ind)
{
    size_t i = (size_t) (school - schools_at(self->schools, 0));
    size_t j = (size_t) (ind - rules_at(self->rules, 0));
    return &self->matrix[i * rules_count(self->rules) + j];
}

static bool s_value(evaluate_t *self, const school_t *school, const indicator_t *ind, int year,
                    double *out)
{
    const s_series_t *series = *s_slot(self, school, ind);
    if (!series || year < series->first || year >= series->first + series->count ||
        !series->has[year - series->first])
        return false;
    *out = series->value[year - series->first];
    return true;
}

static void s_set_value(evaluate_t *self, const char *school, const char *ind, int year, double v)
{
    char key[160];
    snprintf(key, sizeof key, "%s|%s", school, ind);
    s_series_t *series = zhashx_lookup(self->series, key);
    if (!series) {
        series = xcalloc(1, sizeof *series);
        zhashx_insert(self->series, key, series);
        const school_t *s = schools_find(self->schools, school);
        const indicator_t *i = rules_find(self->rules, ind);
        if (s && i)
            *s_slot(self, s, i) = series;
    }
    s_series_set(series, year, v);
    if (!self->min_year || year < self->min_year)
        self->min_year = year;
    if (year > self->max_year)
        self->max_year = year;
}

/*  The school's latest earlier period with a value of ind. */
static bool s_previous(evaluate_t *self, const school_t *school, const indicator_t *ind, int year,
                       int *prev_year, double *prev)
{
    const s_series_t *series = *s_slot(self, school, ind);
    for (int y = year - 1; series && y >= series->first; y--)
        if (y < series->first + series->count && series->has[y - series->first]) {
            *prev_year = y;
            *prev = series->value[y - series->first];
            return true;
        }
    return false;
}

static int s_load(evaluate_t *self, PGconn *conn, char *err, size_t errlen)
{
    zhashx_purge(self->series);
    zhashx_purge(self->state);
    s_reindex(self);
    self->min_year = self->max_year = 0;
    PGresult *res =
        PQexec(conn, "SELECT school_code, indicator, period, value FROM edu.current_value");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        errorf(err, errlen, "could not read current values: %s", PQresultErrorMessage(res));
        PQclear(res);
        return -1;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        int year;
        if (period_parse(PQgetvalue(res, i, 2), &year) == 0)
            s_set_value(self, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), year,
                        strtod(PQgetvalue(res, i, 3), NULL));
    }
    PQclear(res);
    res = PQexec(conn, "SELECT kind, subject, stage, indicator, period, level, value, detail"
                       " FROM edu.warning_state");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        errorf(err, errlen, "could not read warnings: %s", PQresultErrorMessage(res));
        PQclear(res);
        return -1;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        s_warning_t *w = xcalloc(1, sizeof *w);
        w->kind = xstrdup(PQgetvalue(res, i, 0));
        w->subject = xstrdup(PQgetvalue(res, i, 1));
        w->stage = xstrdup(PQgetvalue(res, i, 2));
        w->indicator = xstrdup(PQgetvalue(res, i, 3));
        period_parse(PQgetvalue(res, i, 4), &w->year);
        level_parse(PQgetvalue(res, i, 5), &w->level);
        w->has_value = !PQgetisnull(res, i, 6);
        w->value = w->has_value ? strtod(PQgetvalue(res, i, 6), NULL) : 0;
        w->detail = xstrdup(PQgetvalue(res, i, 7));
        char *key =
            xasprintf("%s|%s|%s|%s|%d", w->kind, w->subject, w->stage, w->indicator, w->year);
        zhashx_update(self->state, key, w);
        free(key);
    }
    PQclear(res);
    zhashx_purge(self->aggregates);
    res = PQexec(conn, "SELECT stage, indicator, period, schools, mean, min, max, cv, red, yellow,"
                       " green FROM edu.county_aggregate");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        errorf(err, errlen, "could not read county aggregates: %s", PQresultErrorMessage(res));
        PQclear(res);
        return -1;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        s_aggregate_t *a = xcalloc(1, sizeof *a);
        a->schools = atoi(PQgetvalue(res, i, 3));
        a->has_mean = !PQgetisnull(res, i, 4);
        a->has_range = !PQgetisnull(res, i, 5);
        a->mean = strtod(PQgetvalue(res, i, 4), NULL);
        a->min = strtod(PQgetvalue(res, i, 5), NULL);
        a->max = strtod(PQgetvalue(res, i, 6), NULL);
        a->has_cv = !PQgetisnull(res, i, 7);
        a->cv = a->has_cv ? strtod(PQgetvalue(res, i, 7), NULL) : 0;
        a->red = atoi(PQgetvalue(res, i, 8));
        a->yellow = atoi(PQgetvalue(res, i, 9));
        a->green = atoi(PQgetvalue(res, i, 10));
        int year = 0;
        period_parse(PQgetvalue(res, i, 2), &year);
        char *key = xasprintf("%s|%s|%d", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), year);
        zhashx_update(self->aggregates, key, a);
        free(key);
    }
    PQclear(res);
    self->loaded = true;
    return 0;
}

//  --------------------------------------------------------------------------
//  Items in scope

/*  The stage an item is judged for: the school's, the dispersion's, or none (""). */
static const char *s_item_stage(const s_item_t *item)
{
    if (item->kind == KIND_PROGRESS)
        return "";
    return stage_name(item->school ? item->school->stage : item->stage);
}

/*  The indicator column of an item: the indicator, the check's name, or "balanced". */
static const char *s_item_indicator(const s_item_t *item)
{
    return item->check ? item->check->name : item->ind ? item->ind->code : S_BALANCED;
}

static void s_item_key(evaluate_t *self, const s_item_t *item, char *key, size_t size)
{
    snprintf(key, size, "%s|%s|%s|%s|%d", kind_name(item->kind),
             item->school ? item->school->code : self->county, s_item_stage(item),
             s_item_indicator(item), item->year);
}

static void s_add_item(evaluate_t *self, zhashx_t *items, const s_item_t *item)
{
    char key[256];
    s_item_key(self, item, key, sizeof key);
    if (!zhashx_lookup(items, key)) {
        s_item_t *copy = xmalloc(sizeof *copy);
        *copy = *item;
        zhashx_insert(items, key, copy);
    }
}

static void s_add(evaluate_t *self, zhashx_t *items, kind_t kind, const school_t *school,
                  const indicator_t *ind, stage_t stage, int year)
{
    s_item_t item = {.kind = kind, .school = school, .ind = ind, .stage = stage, .year = year};
    s_add_item(self, items, &item);
}

static void s_add_check(evaluate_t *self, zhashx_t *items, const school_t *school,
                        const rules_check_t *check, int year)
{
    s_item_t item = {.kind = KIND_CONSISTENCY, .school = school, .check = check, .year = year};
    s_add_item(self, items, &item);
}

/*  The items of the second round's kinds that one value of school (NULL: the county's, for
 *  stage) for ind in year can change: those of year and of the later periods whose windows
 *  reach back to it. */
static void s_add_windows(evaluate_t *self, zhashx_t *items, const school_t *school, stage_t stage,
                          const indicator_t *ind, int year, bool full)
{
    unsigned k = ind->kinds, county = rules_county_kinds(self->rules);
    bool capacity = (county & KIND_CAPACITY) &&
                    (ind == rules_enrolment(self->rules) || ind == rules_places(self->rules));
    int last = full ? year : year + S_SPAN < self->max_year ? year + S_SPAN : self->max_year;
    for (int y = year; y <= last; y++) {
        if (school && (k & KIND_TREND))
            s_add(self, items, KIND_TREND, school, ind, 0, y);
        if ((k & KIND_PERSISTENT) && (k & (school ? KIND_THRESHOLD : KIND_DISPERSION)))
            s_add(self, items, KIND_PERSISTENT, school, ind, stage, y);
        if (capacity)
            s_add(self, items, KIND_CAPACITY, school, rules_places(self->rules), stage, y);
    }
    if (school) {
        for (size_t i = 0; i < rules_check_count(self->rules); i++) {
            const rules_check_t *check = rules_check_at(self->rules, i);
            if (check->left == ind || check->right == ind)
                s_add_check(self, items, school, check, year);
        }
    } else {
        if ((k & KIND_BALANCED) && (county & KIND_COUNTY_BALANCED))
            s_add(self, items, KIND_COUNTY_BALANCED, NULL, NULL, stage, year);
        if (k & KIND_URBAN_RURAL_GAP)
            s_add(self, items, KIND_URBAN_RURAL_GAP, NULL, ind, stage, year);
    }
}

/*  The latest year whose deadline has passed at now. */
static int s_latest_due(const rule_params_t *p, time_t now)
{
    struct tm tm;
    time_t china = now + 8 * 3600;
    gmtime_r(&china, &tm);
    int year = tm.tm_year + 1900;
    return judge_deadline(year, p->deadline_month, p->deadline_day) <= now ? year : year - 1;
}

static void s_add_missing(evaluate_t *self, zhashx_t *items, time_t now)
{
    const rule_params_t *p = rules_params(self->rules);
    int last = s_latest_due(p, now);
    for (size_t s = 0; s < schools_count(self->schools); s++)
        for (size_t i = 0; i < rules_count(self->rules); i++) {
            const indicator_t *ind = rules_at(self->rules, i);
            if (ind->kinds & KIND_MISSING)
                for (int y = p->first_period; y <= last; y++)
                    s_add(self, items, KIND_MISSING, schools_at(self->schools, s), ind, 0, y);
        }
}

/*  Everything: every kind for every school, indicator and period present (and every period
 *  `missing` covers). */
static void s_add_all(evaluate_t *self, zhashx_t *items, time_t now)
{
    s_add_missing(self, items, now);
    if (!self->min_year)
        return;
    bool any_balanced = false;
    for (size_t i = 0; i < rules_count(self->rules); i++)
        any_balanced |= (rules_at(self->rules, i)->kinds & KIND_BALANCED) != 0;
    for (int y = self->min_year; y <= self->max_year; y++) {
        for (size_t i = 0; i < rules_count(self->rules); i++) {
            const indicator_t *ind = rules_at(self->rules, i);
            for (size_t s = 0; s < schools_count(self->schools); s++) {
                const school_t *school = schools_at(self->schools, s);
                if (ind->kinds & KIND_THRESHOLD)
                    s_add(self, items, KIND_THRESHOLD, school, ind, 0, y);
                if (ind->kinds & KIND_FLUCTUATION)
                    s_add(self, items, KIND_FLUCTUATION, school, ind, 0, y);
                if (ind->kinds & KIND_DATA_QUALITY)
                    s_add(self, items, KIND_DATA_QUALITY, school, ind, 0, y);
            }
            if (ind->kinds & KIND_DISPERSION)
                for (int st = 0; st < STAGE_COUNT; st++)
                    s_add(self, items, KIND_DISPERSION, NULL, ind, (stage_t) st, y);
            if (ind->kinds & KIND_PROGRESS)
                s_add(self, items, KIND_PROGRESS, NULL, ind, 0, y);
            for (size_t s = 0; s < schools_count(self->schools); s++)
                s_add_windows(self, items, schools_at(self->schools, s),
                              schools_at(self->schools, s)->stage, ind, y, true);
            for (int st = 0; st < STAGE_COUNT; st++)
                s_add_windows(self, items, NULL, (stage_t) st, ind, y, true);
        }
        if (any_balanced)
            for (size_t s = 0; s < schools_count(self->schools); s++)
                s_add(self, items, KIND_BALANCED, schools_at(self->schools, s), NULL, 0, y);
    }
}

/*  What one accepted record of school for ind in year can change at the school. */
static void s_add_affected(evaluate_t *self, zhashx_t *items, const school_t *school,
                           const indicator_t *ind, int year)
{
    unsigned k = ind->kinds;
    if (k & KIND_THRESHOLD)
        s_add(self, items, KIND_THRESHOLD, school, ind, 0, year);
    if (k & KIND_MISSING)
        s_add(self, items, KIND_MISSING, school, ind, 0, year);
    if (k & KIND_BALANCED)
        s_add(self, items, KIND_BALANCED, school, NULL, 0, year);
    // the record's period, and later ones (whose previous period may now be this one)
    for (int y = year; y <= self->max_year; y++) {
        if (k & KIND_FLUCTUATION)
            s_add(self, items, KIND_FLUCTUATION, school, ind, 0, y);
        if (k & KIND_DATA_QUALITY)
            s_add(self, items, KIND_DATA_QUALITY, school, ind, 0, y);
    }
    s_add_windows(self, items, school, school->stage, ind, year, false);
}

/*  What the records of a stage's schools for ind in year can change in the county: once per
 *  stage, indicator and period of a batch. */
static void s_add_group_affected(evaluate_t *self, zhashx_t *items, stage_t stage,
                                 const indicator_t *ind, int year)
{
    unsigned k = ind->kinds;
    if (k & KIND_DISPERSION)
        s_add(self, items, KIND_DISPERSION, NULL, ind, stage, year);
    s_add_windows(self, items, NULL, stage, ind, year, false);
    if (k & KIND_PROGRESS) {
        int from = year == ind->plan_baseline ? self->min_year : year;
        for (int y = from; y <= self->max_year; y++)
            s_add(self, items, KIND_PROGRESS, NULL, ind, 0, y);
    }
    // the outlier test compares the stage's schools with one another
    if (k & KIND_DATA_QUALITY)
        for (size_t s = 0; s < schools_count(self->schools); s++) {
            const school_t *other = schools_at(self->schools, s);
            if (other->stage == stage)
                s_add(self, items, KIND_DATA_QUALITY, other, ind, 0, year);
        }
}

//  --------------------------------------------------------------------------
//  Judging one item

typedef struct {
    level_t level;    // green: not a warning
    bool has_value;   // value is set
    double value;     // what was judged
    char detail[256]; // why
    double aux[2];    // for the alert: trend the target then; capacity u0 and g;
                      //   county_balanced the CVs above the limit and the schools;
                      //   urban_rural_gap U and R; consistency A and k·B
    int aux_year;     // trend: the projected period's first year
} s_verdict_t;

static const s_stats_t *s_stage_stats(evaluate_t *self, stage_t stage, const indicator_t *ind,
                                      int year)
{
    char key[160];
    snprintf(key, sizeof key, "%d|%s|%d", stage, ind->code, year);
    s_stats_t *stats = zhashx_lookup(self->stats, key);
    if (stats)
        return stats;
    stats = xcalloc(1, sizeof *stats);
    double *x = xmalloc((schools_count(self->schools) + 1) * sizeof *x);
    for (size_t s = 0; s < schools_count(self->schools); s++) {
        const school_t *school = schools_at(self->schools, s);
        if (school->stage == stage && s_value(self, school, ind, year, &x[stats->n]))
            stats->n++;
    }
    if (stats->n)
        judge_mad(x, stats->n, &stats->median, &stats->mad);
    free(x);
    zhashx_insert(self->stats, key, stats);
    return stats;
}

/*  Student-weighted mean of ind in year over the schools of a stage (all stages when stage <
 *  0); returns the number of schools. */
static size_t s_gather(evaluate_t *self, int stage, const indicator_t *ind, int year, double *x,
                       double *p)
{
    size_t n = 0;
    for (size_t s = 0; s < schools_count(self->schools); s++) {
        const school_t *school = schools_at(self->schools, s);
        if ((stage < 0 || (int) school->stage == stage) && s_value(self, school, ind, year, &x[n]))
            p[n++] = (double) school->students;
    }
    return n;
}

/*  The school's threshold level of ind in year under that year's rules and its value, or -1
 *  without a value or a target. */
static int s_threshold_level(evaluate_t *self, const school_t *school, const indicator_t *ind,
                             int year, double *v)
{
    const indicator_t *at = rules_indicator_at(self->rules, ind, year);
    if (!at->has_target[school->stage] || !s_value(self, school, ind, year, v))
        return -1;
    return (int) judge_threshold(at->higher_better, at->target[school->stage],
                                 rules_params_at(self->rules, year)->tolerance, *v);
}

/*  The CV of ind over a stage's schools in year (*n schools) and its dispersion level under
 *  that year's rules, or -1 when the CV is undefined. */
static int s_dispersion_level(evaluate_t *self, stage_t stage, const indicator_t *ind, int year,
                              double *cv, size_t *n)
{
    const rule_params_t *p = rules_params_at(self->rules, year);
    size_t cap = schools_count(self->schools) + 1;
    double *x = xmalloc(cap * sizeof *x), *w = xmalloc(cap * sizeof *w);
    *n = s_gather(self, (int) stage, ind, year, x, w);
    int level = -1;
    if (judge_cv(x, w, *n, (size_t) p->dispersion_min_schools, cv) == 0)
        level =
            (int) judge_dispersion_capped(*cv, p->dispersion_target, p->dispersion_limit[stage]);
    free(x);
    free(w);
    return level;
}

static void s_judge_school_item(evaluate_t *self, const s_item_t *item, time_t now,
                                s_verdict_t *out)
{
    const rule_params_t *p = rules_params_at(self->rules, item->year);
    const school_t *school = item->school;
    const indicator_t *ind = rules_indicator_at(self->rules, item->ind, item->year);
    double v = 0, prev = 0;
    int prev_year = 0;
    bool has = s_value(self, school, item->ind, item->year, &v);
    switch (item->kind) {
    case KIND_THRESHOLD: {
        if (!has || !ind->has_target[school->stage])
            return;
        double t = ind->target[school->stage];
        *out = (s_verdict_t){.level = judge_threshold(ind->higher_better, t, p->tolerance, v),
                             .has_value = true,
                             .value = v};
        if (self->want_detail)
            snprintf(out->detail, sizeof out->detail,
                     "%g %s against a target of %s%g (yellow %s %g)", v, ind->unit,
                     ind->higher_better ? ">= " : "<= ", t, ind->higher_better ? "from" : "up to",
                     ind->higher_better ? p->tolerance * t : t / p->tolerance);
        return;
    }
    case KIND_FLUCTUATION: {
        if (!has || !s_previous(self, school, item->ind, item->year, &prev_year, &prev))
            return;
        double worse = judge_worsening(ind->higher_better, prev, v);
        *out = (s_verdict_t){
            .level = judge_fluctuation(worse, p->fluctuation_yellow, p->fluctuation_red),
            .has_value = true,
            .value = worse};
        if (self->want_detail)
            snprintf(out->detail, sizeof out->detail, "%g in %d-%d, %g in %d-%d: worse by %g", prev,
                     prev_year, prev_year + 1, v, item->year, item->year + 1, worse);
        return;
    }
    case KIND_MISSING: {
        if (has || item->year < p->first_period)
            return;
        time_t deadline = judge_deadline(item->year, p->deadline_month, p->deadline_day);
        *out = (s_verdict_t){.level = judge_missing(now, deadline, p->missing_red_days)};
        if (self->want_detail)
            snprintf(out->detail, sizeof out->detail, "not reported; the deadline was %d-%02d-%02d",
                     item->year, p->deadline_month, p->deadline_day);
        return;
    }
    case KIND_DATA_QUALITY: {
        if (!has)
            return;
        bool jump = s_previous(self, school, item->ind, item->year, &prev_year, &prev) &&
                    judge_jump(prev, v, p->jump_high, p->jump_low);
        const s_stats_t *st = s_stage_stats(self, school->stage, item->ind, item->year);
        bool outlier = judge_outlier(v, st->median, st->mad, st->n, (size_t) p->outlier_min_schools,
                                     p->outlier_z);
        if (!jump && !outlier)
            return;
        *out = (s_verdict_t){.level = LEVEL_YELLOW, .has_value = true, .value = v};
        if (!self->want_detail)
            return;
        if (jump)
            snprintf(out->detail, sizeof out->detail, "%g is %.2f times the %g of %d-%d%s", v,
                     v / prev, prev, prev_year, prev_year + 1,
                     outlier ? ", and an outlier among the stage's schools" : "");
        else
            snprintf(out->detail, sizeof out->detail,
                     "%g is an outlier among %zu schools (median %g, MAD %g)", v, st->n, st->median,
                     st->mad);
        return;
    }
    default: return;
    }
}

/*  The school's balanced level in year (how many of the n resource indicators meet), or -1
 *  when it has not reported all of them. */
static int s_balanced_level(evaluate_t *self, const school_t *school, int year, size_t *meet,
                            size_t *n)
{
    level_t levels[64];
    *n = *meet = 0;
    for (size_t i = 0; i < rules_count(self->rules) && *n < 64; i++) {
        const indicator_t *ind = rules_at(self->rules, i);
        if (!(ind->kinds & KIND_BALANCED))
            continue;
        double v;
        int level = s_threshold_level(self, school, ind, year, &v);
        if (level < 0)
            return -1; // only when every resource indicator is reported
        levels[*n] = (level_t) level;
        *meet += levels[(*n)++] == LEVEL_GREEN;
    }
    return *n ? (int) judge_balanced(levels, *n) : -1;
}

static void s_judge_balanced(evaluate_t *self, const s_item_t *item, s_verdict_t *out)
{
    size_t meet, n;
    int level = s_balanced_level(self, item->school, item->year, &meet, &n);
    if (level < 0)
        return;
    *out = (s_verdict_t){.level = (level_t) level, .has_value = true, .value = (double) meet};
    if (self->want_detail)
        snprintf(out->detail, sizeof out->detail, "%zu of %zu resource indicators meet the target",
                 meet, n);
}

static void s_judge_county_item(evaluate_t *self, const s_item_t *item, s_verdict_t *out)
{
    const rule_params_t *p = rules_params_at(self->rules, item->year);
    const indicator_t *ind = rules_indicator_at(self->rules, item->ind, item->year);
    size_t cap = schools_count(self->schools) + 1;
    double *x = xmalloc(cap * sizeof *x), *w = xmalloc(cap * sizeof *w);
    if (item->kind == KIND_DISPERSION) {
        size_t n;
        double cv;
        int level = s_dispersion_level(self, item->stage, item->ind, item->year, &cv, &n);
        if (level >= 0) {
            double limit = p->dispersion_limit[item->stage];
            *out = (s_verdict_t){.level = (level_t) level, .has_value = true, .value = cv};
            if (self->want_detail)
                snprintf(out->detail, sizeof out->detail,
                         "CV %.3f over %zu %s schools (target %.2f, limit %.2f)", cv, n,
                         stage_name(item->stage), fmin(p->dispersion_target, limit), limit);
        }
    } else if (item->kind == KIND_PROGRESS) {
        double *bx = xmalloc(cap * sizeof *bx), *bw = xmalloc(cap * sizeof *bw);
        size_t nb = s_gather(self, -1, item->ind, ind->plan_baseline, bx, bw);
        size_t n = s_gather(self, -1, item->ind, item->year, x, w);
        double achieved, planned, base, mean;
        if (judge_progress_of(ind, item->year, bx, bw, nb, x, w, n, &achieved, &planned, &base,
                              &mean) == 0) {
            *out = (s_verdict_t){
                .level = judge_progress(achieved, planned), .has_value = true, .value = achieved};
            if (self->want_detail)
                snprintf(out->detail, sizeof out->detail,
                         "county mean %.2f against %.2f in %d-%d: improved %.2f of %.2f planned by "
                         "now",
                         mean, base, ind->plan_baseline, ind->plan_baseline + 1, achieved, planned);
        }
        free(bx);
        free(bw);
    }
    free(x);
    free(w);
}

//  --------------------------------------------------------------------------
//  Judging the second round's kinds

/*  trend (预测预警): the line through the school's values of the latest trend_periods academic
 *  years up to P (at least trend_min_periods of them), projected trend_ahead_years ahead and
 *  judged by the threshold rule of the projected period. */
static void s_judge_trend(evaluate_t *self, const s_item_t *item, s_verdict_t *out)
{
    const rule_params_t *p = rules_params_at(self->rules, item->year);
    const school_t *school = item->school;
    double v;
    int now = s_threshold_level(self, school, item->ind, item->year, &v);
    if (now < 0)
        return;
    double years[16], values[16];
    size_t n = 0;
    for (int y = item->year - p->trend_periods + 1; y <= item->year && n < 16; y++)
        if (s_value(self, school, item->ind, y, &values[n]))
            years[n++] = y;
    double a, b;
    if (n < (size_t) p->trend_min_periods || judge_line(years, values, n, &a, &b) != 0)
        return;
    int then = item->year + p->trend_ahead_years;
    const indicator_t *at = rules_indicator_at(self->rules, item->ind, then);
    if (!at->has_target[school->stage])
        return;
    double projected = fmin(fmax(a + b * then, at->min), at->max); // within the bounds
    double t = at->target[school->stage];
    level_t later = judge_threshold(at->higher_better, t,
                                    rules_params_at(self->rules, then)->tolerance, projected);
    *out = (s_verdict_t){.level = judge_trend((level_t) now, later),
                         .has_value = true,
                         .value = projected,
                         .aux = {t, b},
                         .aux_year = then};
    if (self->want_detail)
        snprintf(out->detail, sizeof out->detail,
                 "projected %.4g %s in %d-%d from %zu years (%+.3g a year), target %s%g then",
                 projected, at->unit, then, then + 1, n, b, at->higher_better ? ">= " : "<= ", t);
}

/*  persistent (连续未达标): how many academic years running, up to P, the school's threshold
 *  (or the county's dispersion) of the indicator was red, each under its own year's rules. */
static void s_judge_persistent(evaluate_t *self, const s_item_t *item, s_verdict_t *out)
{
    const rule_params_t *p = rules_params_at(self->rules, item->year);
    int want = item->school ? p->persistent_years : p->persistent_county_years;
    int run = 0;
    for (int y = item->year; run < want; y--, run++) {
        double v;
        size_t n;
        int level = item->school ? s_threshold_level(self, item->school, item->ind, y, &v)
                                 : s_dispersion_level(self, item->stage, item->ind, y, &v, &n);
        if (level != LEVEL_RED)
            break;
    }
    level_t level =
        item->school ? judge_persistent(run, want, want - 1) : judge_persistent(run, want, 0);
    if (level == LEVEL_GREEN)
        return;
    *out = (s_verdict_t){.level = level, .has_value = true, .value = run};
    if (self->want_detail)
        snprintf(out->detail, sizeof out->detail,
                 "%s red %d academic years running, %d-%d to "
                 "%d-%d (red at %d)",
                 item->school ? "threshold" : "dispersion", run, item->year - run + 1,
                 item->year - run + 2, item->year, item->year + 1, want);
}

/*  capacity: enrolment and places of one school in year, or the sums over a stage's schools
 *  that reported both. Returns false when there is nothing to sum. */
static bool s_places(evaluate_t *self, const s_item_t *item, int year, double *e, double *c)
{
    const indicator_t *ei = rules_enrolment(self->rules), *ci = rules_places(self->rules);
    if (item->school)
        return s_value(self, item->school, ei, year, e) && s_value(self, item->school, ci, year, c);
    size_t n = 0;
    *e = *c = 0;
    for (size_t s = 0; s < schools_count(self->schools); s++) {
        const school_t *school = schools_at(self->schools, s);
        double se, sc;
        if (school->stage == item->stage && s_value(self, school, ei, year, &se) &&
            s_value(self, school, ci, year, &sc)) {
            *e += se;
            *c += sc;
            n++;
        }
    }
    return n > 0;
}

/*  capacity (学位预警): u0 = E/C now, u1 = E·(1+g)/C next year, g the mean growth of
 *  enrolment over the latest consecutive years (up to capacity_growth_pairs pairs). */
static void s_judge_capacity(evaluate_t *self, const s_item_t *item, s_verdict_t *out)
{
    const rule_params_t *p = rules_params_at(self->rules, item->year);
    double e, c;
    if (!s_places(self, item, item->year, &e, &c) || !(c > 0))
        return;
    double chain[16];
    size_t n = 1;
    int first = item->year;
    chain[0] = e;
    for (int y = item->year - 1; (int) n <= p->capacity_growth_pairs && n < 16; y--) {
        double ey, cy;
        if (!s_places(self, item, y, &ey, &cy) || !(ey > 0))
            break;
        chain[n++] = ey;
        first = y;
    }
    for (size_t i = 0; i < n / 2; i++) { // oldest first
        double t = chain[i];
        chain[i] = chain[n - 1 - i];
        chain[n - 1 - i] = t;
    }
    double g = judge_growth(chain, n), u0 = e / c, u1 = e * (1 + g) / c;
    *out = (s_verdict_t){.level = judge_capacity(u0, u1, p->capacity_red_now, p->capacity_red_next,
                                                 p->capacity_yellow_next),
                         .has_value = true,
                         .value = u1,
                         .aux = {u0, g}};
    if (self->want_detail && first == item->year)
        snprintf(out->detail, sizeof out->detail,
                 "%.0f students for %.0f places (%.3f); no earlier year, growth taken as 0: "
                 "%.3f next year",
                 e, c, u0, u1);
    else if (self->want_detail)
        snprintf(out->detail, sizeof out->detail,
                 "%.0f students for %.0f places (%.3f); growth %+.2f%% a year over %d-%d to "
                 "%d-%d: %.3f next year",
                 e, c, u0, 100 * g, first, first + 1, item->year, item->year + 1, u1);
}

/*  consistency (逻辑校验): A OP k·B where the school reports both. value = A − k·B. */
static void s_judge_consistency(evaluate_t *self, const s_item_t *item, s_verdict_t *out)
{
    const rules_check_t *check = item->check;
    double a, b;
    if (!s_value(self, item->school, check->left, item->year, &a) ||
        !s_value(self, item->school, check->right, item->year, &b) ||
        judge_consistent(a, check->op, check->k, b))
        return;
    *out = (s_verdict_t){.level = LEVEL_YELLOW,
                         .has_value = true,
                         .value = a - check->k * b,
                         .aux = {a, check->k * b}};
    if (self->want_detail)
        snprintf(out->detail, sizeof out->detail, "%s = %g, %g × %s = %g: %s fails",
                 check->left->code, a, check->k, check->right->code, check->k * b, check->rule);
}

/*  county_balanced (优质均衡达标): the resource indicators' CVs against the national limit and
 *  the share of the stage's schools, of those that reported all of them, that are balanced.
 *  Nothing is judged while a CV is undefined or no school reported them all. aux: the CVs
 *  above the limit, the schools. */
static void s_judge_county_balanced(evaluate_t *self, const s_item_t *item, s_verdict_t *out)
{
    const rule_params_t *p = rules_params_at(self->rules, item->year);
    size_t above = 0, resources = 0;
    for (size_t i = 0; i < rules_count(self->rules); i++) {
        const indicator_t *ind = rules_at(self->rules, i);
        if (!(ind->kinds & KIND_BALANCED))
            continue;
        double cv;
        size_t n;
        int level = s_dispersion_level(self, item->stage, ind, item->year, &cv, &n);
        if (level < 0)
            return;
        resources++;
        above += level == LEVEL_RED;
    }
    size_t reported = 0, balanced = 0;
    for (size_t s = 0; s < schools_count(self->schools); s++) {
        const school_t *school = schools_at(self->schools, s);
        size_t meet, n;
        int level = school->stage == item->stage
                        ? s_balanced_level(self, school, item->year, &meet, &n)
                        : -1;
        reported += level >= 0;
        balanced += level == LEVEL_GREEN;
    }
    if (resources == 0 || reported == 0)
        return;
    double share = (double) balanced / (double) reported;
    *out = (s_verdict_t){.level = judge_county_balanced(above, share, p->county_balanced_share),
                         .has_value = true,
                         .value = share,
                         .aux = {(double) above, (double) reported}};
    if (self->want_detail)
        snprintf(out->detail, sizeof out->detail,
                 "%zu of %zu CVs above the national limit; %zu of %zu schools balanced (%.1f%%, "
                 "%.0f%% wanted)",
                 above, resources, balanced, reported, 100 * share, 100 * p->county_balanced_share);
}

/*  urban_rural_gap (城乡差距): the student-weighted means of the stage's urban and town
 *  schools (U) and rural schools (R); at least one school each. aux: U, R. */
static void s_judge_gap(evaluate_t *self, const s_item_t *item, s_verdict_t *out)
{
    const rule_params_t *p = rules_params_at(self->rules, item->year);
    double sum[2] = {0, 0}, weight[2] = {0, 0};
    size_t n[2] = {0, 0};
    for (size_t s = 0; s < schools_count(self->schools); s++) {
        const school_t *school = schools_at(self->schools, s);
        double v;
        if (school->stage != item->stage || !s_value(self, school, item->ind, item->year, &v))
            continue;
        int rural = strcmp(school->location, "rural") == 0;
        sum[rural] += (double) school->students * v;
        weight[rural] += (double) school->students;
        n[rural]++;
    }
    double gap;
    if (!n[0] || !n[1] || !(weight[0] > 0) || !(weight[1] > 0))
        return;
    double u = sum[0] / weight[0], r = sum[1] / weight[1];
    if (judge_gap(item->ind->higher_better, u, r, &gap) != 0)
        return;
    *out = (s_verdict_t){.level = judge_gap_level(gap, p->gap_yellow, p->gap_red),
                         .has_value = true,
                         .value = gap,
                         .aux = {u, r}};
    if (self->want_detail)
        snprintf(out->detail, sizeof out->detail,
                 "urban and town %.4g over %zu schools, rural %.4g over %zu: gap %.1f%% (yellow "
                 "above %.0f%%, red above %.0f%%)",
                 u, n[0], r, n[1], 100 * gap, 100 * p->gap_yellow, 100 * p->gap_red);
}

/*  Judges one item; the detail line (costly to format) only when want_detail. */
static void s_judge(evaluate_t *self, const s_item_t *item, time_t now, bool want_detail,
                    s_verdict_t *out)
{
    *out = (s_verdict_t){.level = LEVEL_GREEN};
    self->want_detail = want_detail;
    switch (item->kind) {
    case KIND_BALANCED: s_judge_balanced(self, item, out); return;
    case KIND_TREND: s_judge_trend(self, item, out); return;
    case KIND_PERSISTENT: s_judge_persistent(self, item, out); return;
    case KIND_CAPACITY: s_judge_capacity(self, item, out); return;
    case KIND_CONSISTENCY: s_judge_consistency(self, item, out); return;
    case KIND_COUNTY_BALANCED: s_judge_county_balanced(self, item, out); return;
    case KIND_URBAN_RURAL_GAP: s_judge_gap(self, item, out); return;
    default:
        if (item->school)
            s_judge_school_item(self, item, now, out);
        else
            s_judge_county_item(self, item, out);
    }
}

//  --------------------------------------------------------------------------
//  The county's aggregates per stage × indicator × period (what the province pulls)

/*  The school's worst level for ind in year over its school kinds, as this pass leaves it. */
static level_t s_school_level(evaluate_t *self, const school_t *school, const indicator_t *ind,
                              int year)
{
    static const kind_t kinds[] = {KIND_THRESHOLD, KIND_FLUCTUATION, KIND_MISSING,
                                   KIND_DATA_QUALITY};
    level_t worst = LEVEL_GREEN;
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        if (!(ind->kinds & kinds[k]))
            continue;
        char key[256];
        snprintf(key, sizeof key, "%s|%s|%s|%s|%d", kind_name(kinds[k]), school->code,
                 stage_name(school->stage), ind->code, year);
        const s_warning_t *w = zhashx_lookup(self->pending, key);
        if (!w)
            w = zhashx_lookup(self->state, key);
        if (w && w->level > worst)
            worst = w->level;
    }
    return worst;
}

static bool s_aggregate_same(const s_aggregate_t *a, const s_aggregate_t *b)
{
    return a->schools == b->schools && a->red == b->red && a->yellow == b->yellow &&
           a->has_mean == b->has_mean && a->has_range == b->has_range && a->green == b->green &&
           a->has_cv == b->has_cv && fabs(a->mean - b->mean) < 1e-9 &&
           fabs(a->min - b->min) < 1e-9 && fabs(a->max - b->max) < 1e-9 &&
           (!a->has_cv || fabs(a->cv - b->cv) < 1e-12);
}

static void s_aggregate_group(evaluate_t *self, stage_t stage, const indicator_t *ind, int year)
{
    char key[160];
    snprintf(key, sizeof key, "%s|%s|%d", stage_name(stage), ind->code, year);
    if (zhashx_lookup(self->pending_aggregates, key))
        return;
    size_t cap = schools_count(self->schools) + 1;
    double *x = xmalloc(cap * sizeof *x), *w = xmalloc(cap * sizeof *w);
    size_t n = s_gather(self, (int) stage, ind, year, x, w);
    s_aggregate_t a = {.schools = (int) n, .has_mean = n > 0, .has_range = n > 0};
    if (n) {
        a.min = a.max = x[0];
        for (size_t i = 1; i < n; i++) {
            a.min = fmin(a.min, x[i]);
            a.max = fmax(a.max, x[i]);
        }
        a.mean = judge_mean(x, w, n);
        a.has_cv = judge_cv(x, w, n, 2, &a.cv) == 0;
    }
    free(x);
    free(w);
    for (size_t s = 0; s < schools_count(self->schools); s++) {
        const school_t *school = schools_at(self->schools, s);
        if (school->stage != stage)
            continue;
        level_t level = s_school_level(self, school, ind, year);
        a.red += level == LEVEL_RED;
        a.yellow += level == LEVEL_YELLOW;
        a.green += level == LEVEL_GREEN;
    }
    const s_aggregate_t *old = zhashx_lookup(self->aggregates, key);
    if ((old && s_aggregate_same(old, &a)) || (!old && n == 0 && a.red + a.yellow == 0))
        return;
    s_aggregate_t *copy = xmalloc(sizeof *copy);
    *copy = a;
    zhashx_insert(self->pending_aggregates, key, copy);
}

static void s_judge(evaluate_t *self, const s_item_t *item, time_t now, bool want_detail,
                    s_verdict_t *out);

/*  The county's verdict (county_balanced) as an aggregate row of its own, indicator
 *  "county_balanced", so that the province counts the counties that reach it (达标率):
 *  schools = those that reported all the resource indicators, mean = the share balanced,
 *  red/yellow/green = 1 in the verdict's level; min, max and cv empty. A verdict that cannot be
 *  judged any more leaves a row of zeros. */
static void s_aggregate_verdict(evaluate_t *self, const s_item_t *item)
{
    char key[160];
    snprintf(key, sizeof key, "%s|%s|%d", stage_name(item->stage), S_COUNTY_BALANCED, item->year);
    if (zhashx_lookup(self->pending_aggregates, key))
        return;
    s_verdict_t v;
    s_judge(self, item, 0, false, &v);
    s_aggregate_t a = {0};
    if (v.has_value) {
        a = (s_aggregate_t){.schools = (int) v.aux[1],
                            .has_mean = true,
                            .mean = v.value,
                            .red = v.level == LEVEL_RED,
                            .yellow = v.level == LEVEL_YELLOW,
                            .green = v.level == LEVEL_GREEN};
    }
    const s_aggregate_t *old = zhashx_lookup(self->aggregates, key);
    if ((old && s_aggregate_same(old, &a)) || (!old && !v.has_value))
        return;
    s_aggregate_t *copy = xmalloc(sizeof *copy);
    *copy = a;
    zhashx_insert(self->pending_aggregates, key, copy);
}

/*  The aggregates of every stage, indicator and period an item of the pass belongs to. */
static void s_aggregate_items(evaluate_t *self, zhashx_t *items)
{
    zhashx_purge(self->pending_aggregates);
    for (s_item_t *item = zhashx_first(items); item; item = zhashx_next(items)) {
        if (item->kind == KIND_COUNTY_BALANCED)
            s_aggregate_verdict(self, item);
        if (item->kind == KIND_CAPACITY) // enrolment's row beside the places'
            s_aggregate_group(self, item->school ? item->school->stage : item->stage,
                              rules_enrolment(self->rules), item->year);
        if (item->ind && item->kind != KIND_PROGRESS)
            s_aggregate_group(self, item->school ? item->school->stage : item->stage, item->ind,
                              item->year);
    }
}

/*  The batch's statements are parsed once per connection (pg_exec_statement). */
static const pg_statement_t s_aggregate = {
    "edu_evaluate_aggregate",
    "INSERT INTO edu.county_aggregate AS a (stage, indicator, period, schools, mean, min, max,"
    "                                      cv, red, yellow, green)"
    " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::float8[],"
    "                      $6::float8[], $7::float8[], $8::float8[], $9::int[], $10::int[],"
    "                      $11::int[])"
    " ON CONFLICT (stage, indicator, period) DO UPDATE SET schools = EXCLUDED.schools,"
    "   mean = EXCLUDED.mean, min = EXCLUDED.min, max = EXCLUDED.max, cv = EXCLUDED.cv,"
    "   red = EXCLUDED.red, yellow = EXCLUDED.yellow, green = EXCLUDED.green,"
    "   version = nextval('edu.warning_transition_id_seq')",
    11, false};

static int s_write_aggregates(evaluate_t *self, PGconn *conn, char *err, size_t errlen)
{
    if (zhashx_size(self->pending_aggregates) == 0)
        return 0;
    pg_array_t cols[11] = {{0}};
    for (s_aggregate_t *a = zhashx_first(self->pending_aggregates); a;
         a = zhashx_next(self->pending_aggregates)) {
        char key[160], period[16], num[7][40];
        snprintf(key, sizeof key, "%s", (const char *) zhashx_cursor(self->pending_aggregates));
        char *ind = strchr(key, '|');
        char *year = ind ? strchr(ind + 1, '|') : NULL;
        if (!ind || !year)
            continue;
        *ind++ = '\0';
        *year++ = '\0';
        snprintf(period, sizeof period, "%d-%d", atoi(year), atoi(year) + 1);
        snprintf(num[0], sizeof num[0], "%d", a->schools);
        snprintf(num[1], sizeof num[1], "%.17g", a->mean);
        snprintf(num[2], sizeof num[2], "%.17g", a->min);
        snprintf(num[3], sizeof num[3], "%.17g", a->max);
        snprintf(num[4], sizeof num[4], "%.17g", a->cv);
        snprintf(num[5], sizeof num[5], "%d", a->red);
        snprintf(num[6], sizeof num[6], "%d", a->yellow);
        char green[16];
        snprintf(green, sizeof green, "%d", a->green);
        pg_array_put(&cols[0], key, true);
        pg_array_put(&cols[1], ind, true);
        pg_array_put(&cols[2], period, true);
        pg_array_put(&cols[3], num[0], false);
        pg_array_put(&cols[4], a->has_mean ? num[1] : NULL, false);
        pg_array_put(&cols[5], a->has_range ? num[2] : NULL, false);
        pg_array_put(&cols[6], a->has_range ? num[3] : NULL, false);
        pg_array_put(&cols[7], a->has_cv ? num[4] : NULL, false);
        pg_array_put(&cols[8], num[5], false);
        pg_array_put(&cols[9], num[6], false);
        pg_array_put(&cols[10], green, false);
    }
    const char *params[11];
    for (int i = 0; i < 11; i++)
        params[i] = pg_array_end(&cols[i]);
    PGresult *res = pg_exec_statement(conn, &s_aggregate, params);
    int rc = 0;
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = errorf(err, errlen, "could not write county aggregates: %s",
                    PQresultErrorMessage(res));
    PQclear(res);
    for (int i = 0; i < 11; i++)
        pg_array_free(&cols[i]);
    return rc;
}

//  --------------------------------------------------------------------------
//  Comparing with the state, writing the changes

/*  The same level and value (the detail line follows from them). */
static bool s_same(const s_warning_t *old, const s_verdict_t *v)
{
    if (old->level != v->level || old->has_value != v->has_value)
        return false;
    return !v->has_value || fabs(old->value - v->value) <= 1e-12 * fmax(1, fabs(v->value));
}

static void s_pend(evaluate_t *self, const char *key, const char *kind, const char *subject,
                   const char *stage, const char *indicator, int year, level_t from,
                   const s_verdict_t *v)
{
    s_warning_t *w = xcalloc(1, sizeof *w);
    w->kind = xstrdup(kind);
    w->subject = xstrdup(subject);
    w->stage = xstrdup(stage);
    w->indicator = xstrdup(indicator);
    w->year = year;
    w->from = from;
    w->level = v->level;
    w->has_value = v->has_value;
    w->value = v->value;
    w->detail = xstrdup(v->detail);
    w->aux[0] = v->aux[0];
    w->aux[1] = v->aux[1];
    w->aux_year = v->aux_year;
    zhashx_update(self->pending, key, w);
}

/*  Judges every item of the set and pends what differs from the state. */
static void s_compare_items(evaluate_t *self, zhashx_t *items, time_t now)
{
    for (s_item_t *item = zhashx_first(items); item; item = zhashx_next(items)) {
        const char *key = zhashx_cursor(items);
        s_verdict_t v;
        s_judge(self, item, now, false, &v);
        const s_warning_t *old = zhashx_lookup(self->state, key);
        if ((!old && v.level == LEVEL_GREEN) || (old && s_same(old, &v)))
            continue;
        s_judge(self, item, now, true, &v);
        s_pend(self, key, kind_name(item->kind), item->school ? item->school->code : self->county,
               s_item_stage(item), s_item_indicator(item), item->year,
               old ? old->level : LEVEL_GREEN, &v);
    }
}

/*  After a sweep over `items`: warnings of the state that no item of the sweep produced (their
 *  school, indicator or kind is gone from the rules or the registry) turn green. only_kind
 *  limits this to one kind (0: all). */
static void s_retire_absent(evaluate_t *self, zhashx_t *items, const char *only_kind)
{
    s_verdict_t green = {.level = LEVEL_GREEN};
    snprintf(green.detail, sizeof green.detail, "no longer judged under the rules in force");
    for (s_warning_t *w = zhashx_first(self->state); w; w = zhashx_next(self->state)) {
        const char *key = zhashx_cursor(self->state);
        if ((only_kind && strcmp(w->kind, only_kind) != 0) || zhashx_lookup(items, key))
            continue;
        s_pend(self, key, w->kind, w->subject, w->stage, w->indicator, w->year, w->level, &green);
    }
}

#define S_COLUMNS 13

static const pg_statement_t s_write_changes = {
    "edu_evaluate_write",
    "WITH c AS ("
    "  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],"
    "                       $6::text[], $7::text[], $8::float8[], $9::text[], $10::text[],"
    "                       $11::text[], $12::float8[], $13::text[])"
    "  AS c(kind, subject, stage, indicator, period, from_level, to_level, value, detail,"
    "       subject_name, indicator_name, target, message)),"
    " gone AS ("
    "  DELETE FROM edu.warning_state w USING c"
    "  WHERE c.to_level = 'green' AND w.kind = c.kind AND w.subject = c.subject"
    "    AND w.stage = c.stage AND w.indicator = c.indicator AND w.period = c.period),"
    " kept AS ("
    "  INSERT INTO edu.warning_state AS w (kind, subject, stage, indicator, period, level, value,"
    "                                     detail, since)"
    "  SELECT kind, subject, stage, indicator, period, to_level, value, detail, now()"
    "  FROM c WHERE to_level <> 'green'"
    "  ON CONFLICT (kind, subject, stage, indicator, period) DO UPDATE SET"
    "    level = EXCLUDED.level, value = EXCLUDED.value,"
    "    detail = EXCLUDED.detail,"
    "    since = CASE WHEN w.level = EXCLUDED.level THEN w.since ELSE EXCLUDED.since END),"
    " t AS ("
    "  INSERT INTO edu.warning_transition (kind, subject, stage, indicator, period, from_level,"
    "                                      to_level, value, detail)"
    "  SELECT kind, subject, stage, indicator, period, from_level, to_level, value, detail"
    "  FROM c WHERE from_level <> to_level"
    "  RETURNING id, kind, subject, stage, indicator, period, from_level, to_level, value, at)"
    // the outbox: one alert per change of level, in this same transaction
    " INSERT INTO edu.alert (id, county, kind, subject, subject_name, stage, indicator,"
    "                        indicator_name, period, level, previous_level, value, target,"
    "                        message, raised_at, batch)"
    " SELECT t.id, $14, t.kind, t.subject, c.subject_name, t.stage, t.indicator,"
    "        c.indicator_name, t.period, t.to_level, t.from_level, t.value, c.target,"
    "        c.message, t.at, txid_current()"
    " FROM t JOIN c USING (kind, subject, stage, indicator, period)",
    S_COLUMNS + 1, false};

/*  The facts of the alert of a change: names from the registry and the catalog. */
static void s_alert_text(evaluate_t *self, const s_warning_t *w, const char *period,
                         char *who, size_t who_size, const char **indicator_name,
                         bool *has_target, double *target, char *message, size_t size)
{
    const rule_params_t *p = rules_params_at(self->rules, w->year);
    const school_t *school = schools_find(self->schools, w->subject);
    const indicator_t *base = rules_find(self->rules, w->indicator);
    const indicator_t *ind = base ? rules_indicator_at(self->rules, base, w->year) : NULL;
    const rules_check_t *check = rules_find_check(self->rules, w->indicator);
    stage_t stage = strcmp(w->stage, "junior") == 0 ? STAGE_JUNIOR : STAGE_PRIMARY;
    if (school)
        snprintf(who, who_size, "%s", school->name);
    else
        snprintf(who, who_size, "全县%s", alert_stage_name(w->stage));
    alert_whole_characters(who);
    *indicator_name = strcmp(w->kind, "capacity") == 0          ? "学位供需"
                      : strcmp(w->kind, "county_balanced") == 0 ? "县域义务教育优质均衡"
                      : ind                                     ? ind->name
                      : check                                   ? check->label
                      : strcmp(w->indicator, S_BALANCED) == 0   ? "优质均衡资源配置"
                                                                : w->indicator;
    *has_target = false;
    if (strcmp(w->kind, "dispersion") == 0) {
        *has_target = true;
        *target = w->level == LEVEL_RED ? p->dispersion_limit[stage]
                                        : fmin(p->dispersion_target, p->dispersion_limit[stage]);
    } else if (strcmp(w->kind, "trend") == 0) {
        *has_target = w->level != LEVEL_GREEN; // the target of the projected period
        *target = w->aux[0];
    } else if (strcmp(w->kind, "county_balanced") == 0) {
        *has_target = true;
        *target = p->county_balanced_share;
    } else if (strcmp(w->kind, "urban_rural_gap") == 0) {
        *has_target = true;
        *target = w->level == LEVEL_RED ? p->gap_red : p->gap_yellow;
    } else if (strcmp(w->kind, "capacity") == 0) {
        *has_target = true;
        *target = w->level == LEVEL_RED ? p->capacity_red_next : p->capacity_yellow_next;
    } else if (strcmp(w->kind, "persistent") == 0) {
        *has_target = true; // the years that make it red
        *target = school ? p->persistent_years : p->persistent_county_years;
    } else if (ind && school && ind->has_target[school->stage]) {
        *has_target = true;
        *target = ind->target[school->stage];
    }
    char forecast[16] = "", rule[256] = "";
    if (check) { // "骨干教师数 ≤ 高学历教师数（本校为 1.2 与 0.9）"
        static const char *ops[] = {"<", "≤", "≥", ">"};
        char factor[40] = "";
        if (check->k != 1)
            snprintf(factor, sizeof factor, "%g × ", check->k);
        snprintf(rule, sizeof rule, "%s %s %s%s（本校为 %g 与 %g）", check->left->name,
                 ops[check->op], factor, check->right->name, w->aux[0], w->aux[1]);
    }
    alert_whole_characters(rule);
    if (w->aux_year)
        snprintf(forecast, sizeof forecast, "%d-%d", w->aux_year, w->aux_year + 1);
    alert_facts_t facts = {.kind = w->kind,
                           .who = who,
                           .county = !school,
                           .indicator_name = *indicator_name,
                           .unit = ind ? ind->unit : "",
                           .period = period,
                           .level = w->level,
                           .previous = w->from,
                           .has_value = w->has_value,
                           .value = w->value,
                           .has_target = *has_target,
                           .target = *target,
                           .higher_better = ind ? ind->higher_better : true,
                           .tolerance = p->tolerance,
                           .aux = {w->aux[0], w->aux[1]},
                           .forecast_period = forecast,
                           .rule = rule};
    alert_message(&facts, message, size);
}

static int s_write(evaluate_t *self, PGconn *conn, char *err, size_t errlen)
{
    if (zhashx_size(self->pending) == 0)
        return 0;
    pg_array_t cols[S_COLUMNS] = {{0}};
    for (s_warning_t *w = zhashx_first(self->pending); w; w = zhashx_next(self->pending)) {
        char period[16], value[40], target_text[40], who[256] = "", message[1024] = "";
        const char *indicator_name = "";
        bool has_target = false;
        double target = 0;
        snprintf(period, sizeof period, "%d-%d", w->year, w->year + 1);
        snprintf(value, sizeof value, "%.17g", w->value);
        if (w->from != w->level) // an alert only where the level changes
            s_alert_text(self, w, period, who, sizeof who, &indicator_name, &has_target,
                         &target, message, sizeof message);
        snprintf(target_text, sizeof target_text, "%.17g", target);
        pg_array_put(&cols[0], w->kind, true);
        pg_array_put(&cols[1], w->subject, true);
        pg_array_put(&cols[2], w->stage, true);
        pg_array_put(&cols[3], w->indicator, true);
        pg_array_put(&cols[4], period, true);
        pg_array_put(&cols[5], level_name(w->from), true);
        pg_array_put(&cols[6], level_name(w->level), true);
        pg_array_put(&cols[7], w->has_value ? value : NULL, false);
        pg_array_put(&cols[8], w->detail, true);
        pg_array_put(&cols[9], who, true);
        pg_array_put(&cols[10], indicator_name, true);
        pg_array_put(&cols[11], has_target ? target_text : NULL, false);
        pg_array_put(&cols[12], message, true);
    }
    const char *params[S_COLUMNS + 1];
    for (int i = 0; i < S_COLUMNS; i++)
        params[i] = pg_array_end(&cols[i]);
    params[S_COLUMNS] = self->county;
    PGresult *res = pg_exec_statement(conn, &s_write_changes, params);
    int rc = 0;
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = errorf(err, errlen, "could not write warnings: %s", PQresultErrorMessage(res));
    PQclear(res);
    for (int i = 0; i < S_COLUMNS; i++)
        pg_array_free(&cols[i]);
    return rc;
}

//  --------------------------------------------------------------------------
//  Passes

bool evaluate_full_due(const evaluate_t *self)
{
    return self->full_due || !self->loaded;
}

bool evaluate_sweep_due(evaluate_t *self, time_t now)
{
    if (self->full_due || !self->loaded || !self->last_sweep)
        return true;
    const rule_params_t *p = rules_params(self->rules);
    for (int y = p->first_period; y <= s_latest_due(p, now) + 1; y++) {
        time_t red = (time_t) (rules_params_at(self->rules, y)->missing_red_days * 86400);
        time_t d = judge_deadline(y, p->deadline_month, p->deadline_day);
        if ((d > self->last_sweep && d <= now) || (d + red > self->last_sweep && d + red <= now))
            return true;
    }
    return false;
}

static bool s_same_key(const evaluate_record_t *a, const evaluate_record_t *b)
{
    return strcmp(a->indicator, b->indicator) == 0 && strcmp(a->period, b->period) == 0 &&
           strcmp(a->school, b->school) == 0;
}

int evaluate_batch(evaluate_t *self, PGconn *conn, const evaluate_record_t *records,
                   size_t count, char *err, size_t errlen)
{
    time_t now;
    if (period_now(&now) != 0)
        return errorf(err, errlen, "EDU_NOW is not an ISO 8601 time");
    zhashx_purge(self->pending);
    zhashx_purge(self->stats);
    self->pending_sweep = 0;
    self->pending_full = false;
    self->pending_pass = false;
    // loaded inside this transaction, memory already holds the batch: applying it again is
    // harmless (the latest record of each key wins, as in the database)
    if (!self->loaded && s_load(self, conn, err, errlen) != 0)
        return -1;
    // a run of one key (a school correcting a value again and again) costs one lookup: its
    // last record is the one that counts, and the items it affects are the same
    for (size_t i = 0; i < count; i++) {
        int year;
        if ((i + 1 == count || !s_same_key(&records[i], &records[i + 1])) &&
            period_parse(records[i].period, &year) == 0)
            s_set_value(self, records[i].school, records[i].indicator, year, records[i].value);
    }
    zhashx_t *items = s_map(xfree_item);
    zhashx_t *seen = zhashx_new(); // keys and groups already in scope (corrections repeat them)
    for (size_t i = 0; i < count; i++) {
        if (i > 0 && s_same_key(&records[i], &records[i - 1]))
            continue; // in scope already
        const school_t *school = schools_find(self->schools, records[i].school);
        const indicator_t *ind = rules_find(self->rules, records[i].indicator);
        int year;
        if (!school || !ind || period_parse(records[i].period, &year) != 0)
            continue;
        char key[160];
        snprintf(key, sizeof key, "%s|%s|%d", school->code, ind->code, year);
        if (zhashx_insert(seen, key, (void *) 1) == 0)
            s_add_affected(self, items, school, ind, year);
        snprintf(key, sizeof key, "%d|%s|%d", school->stage, ind->code, year);
        if (zhashx_insert(seen, key, (void *) 1) == 0)
            s_add_group_affected(self, items, school->stage, ind, year);
    }
    zhashx_destroy(&seen);
    if (evaluate_sweep_due(self, now) && !self->full_due) {
        s_add_missing(self, items, now);
        self->pending_sweep = now;
    }
    s_compare_items(self, items, now);
    if (self->pending_sweep)
        s_retire_absent(self, items, "missing");
    s_aggregate_items(self, items);
    zhashx_destroy(&items);
    if (s_write(self, conn, err, errlen) != 0)
        return -1;
    return s_write_aggregates(self, conn, err, errlen);
}

void evaluate_commit(evaluate_t *self)
{
    for (s_warning_t *w = zhashx_first(self->pending); w; w = zhashx_next(self->pending)) {
        const char *key = zhashx_cursor(self->pending);
        if (w->level == LEVEL_GREEN) {
            zhashx_delete(self->state, key);
        } else {
            s_warning_t *copy = xcalloc(1, sizeof *copy);
            *copy = *w;
            copy->kind = xstrdup(w->kind);
            copy->subject = xstrdup(w->subject);
            copy->stage = xstrdup(w->stage);
            copy->indicator = xstrdup(w->indicator);
            copy->detail = xstrdup(w->detail);
            zhashx_update(self->state, key, copy);
        }
    }
    zhashx_purge(self->pending);
    for (s_aggregate_t *a = zhashx_first(self->pending_aggregates); a;
         a = zhashx_next(self->pending_aggregates)) {
        s_aggregate_t *copy = xmalloc(sizeof *copy);
        *copy = *a;
        zhashx_update(self->aggregates, zhashx_cursor(self->pending_aggregates), copy);
    }
    zhashx_purge(self->pending_aggregates);
    if (self->pending_sweep)
        self->last_sweep = self->pending_sweep;
    if (self->pending_pass)
        log_info("evaluate", "judged %s: %zu items, %zu changes, %zu warnings yellow or red",
                 self->pending_full ? "everything" : "every missing item", self->pass_items,
                 self->pass_changes, zhashx_size(self->state));
    if (self->pending_full)
        self->full_due = false;
    self->pending_sweep = 0;
    self->pending_full = false;
    self->pending_pass = false;
}

void evaluate_abort(evaluate_t *self)
{
    zhashx_purge(self->pending);
    zhashx_purge(self->pending_aggregates);
    self->pending_sweep = 0;
    self->pending_full = false;
    self->pending_pass = false;
    self->loaded = false;
}

int evaluate_sweep(evaluate_t *self, PGconn *conn, time_t now, char *err, size_t errlen)
{
    zhashx_purge(self->pending);
    zhashx_purge(self->stats);
    if (!self->loaded && s_load(self, conn, err, errlen) != 0)
        return -1;
    bool full = self->full_due;
    zhashx_t *items = s_map(xfree_item);
    if (full)
        s_add_all(self, items, now);
    else
        s_add_missing(self, items, now);
    s_compare_items(self, items, now);
    s_retire_absent(self, items, full ? NULL : "missing");
    s_aggregate_items(self, items);
    self->pass_items = zhashx_size(items);
    self->pass_changes = zhashx_size(self->pending);
    zhashx_destroy(&items);
    if (s_write(self, conn, err, errlen) != 0 || s_write_aggregates(self, conn, err, errlen) != 0)
        return -1;
    self->pending_sweep = now;
    self->pending_full = full;
    self->pending_pass = true;
    return 0;
}
