/*  validate - judge one record against the registry and the catalog */
#include "validate.h"

#include "period.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *s_names[] = {NULL,          "unknown_school", "school_mismatch", "unknown_indicator",
                                "bad_period",  "not_finite",     "out_of_range",    "period_locked"};

const char *refusal_name(refusal_t reason)
{
    return s_names[reason];
}

static void s_refuse(verdict_t *v, refusal_t reason, const char *column, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void s_refuse(verdict_t *v, refusal_t reason, const char *column, const char *fmt, ...)
{
    v->reason = reason;
    v->column = column;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->detail, sizeof v->detail, fmt, ap);
    va_end(ap);
}

validate_window_t validate_window(const rules_t *rules, time_t now)
{
    const rule_params_t *p = rules_params(rules);
    return (validate_window_t){.first = p->accept_from,
                               .last = period_current_year(now) + p->accept_ahead_years};
}

void validate_record(const schools_t *schools, const rules_t *rules,
                     const validate_window_t *window, const char *sender,
                     const char *school_code, const char *indicator, const char *period,
                     double value, verdict_t *v)
{
    *v = (verdict_t){.reason = REFUSE_NONE, .column = ""};
    if (!schools_find(schools, school_code)) {
        s_refuse(v, REFUSE_UNKNOWN_SCHOOL, "school_code",
                 "school %.40s is not in the county's registry", school_code);
        return;
    }
    if (strcmp(school_code, sender) != 0) {
        s_refuse(v, REFUSE_SCHOOL_MISMATCH, "school_code",
                 "school %.40s cannot be reported with the key of school %.40s", school_code,
                 sender);
        return;
    }
    const indicator_t *ind = rules_find(rules, indicator);
    if (!ind) {
        s_refuse(v, REFUSE_UNKNOWN_INDICATOR, "indicator",
                 "indicator \"%.60s\" is not in the county's catalog", indicator);
        return;
    }
    int year;
    if (period_parse(period, &year) != 0) {
        s_refuse(v, REFUSE_BAD_PERIOD, "period",
                 "period \"%.40s\" is not an academic year like 2025-2026", period);
        return;
    }
    if (year < window->first || year > window->last) {
        s_refuse(v, REFUSE_BAD_PERIOD, "period",
                 "period %s is outside the years the county accepts, %d-%d to %d-%d", period,
                 window->first, window->first + 1, window->last, window->last + 1);
        return;
    }
    if (!isfinite(value)) {
        s_refuse(v, REFUSE_NOT_FINITE, "value", "value is not a finite number");
        return;
    }
    if (value < ind->min || value > ind->max)
        s_refuse(v, REFUSE_OUT_OF_RANGE, "value", "value %g of %s is outside its bounds [%g, %g]",
                 value, ind->code, ind->min, ind->max);
}
