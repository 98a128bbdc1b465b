/*  rules - the indicator catalog and the warning rules (rules.ini)
 *
 *  The rules file is data, not code: a [rules] section with the county-wide parameters
 *  (tolerance, dispersion target and limits, fluctuation and data-quality thresholds, the first
 *  period and the deadline of each academic year) and one [indicator.CODE] section per
 *  indicator with its Chinese name, unit, better direction, target per stage, bounds, the kinds
 *  of warning that apply to it and, for `progress`, the plan. docs/warnings.md describes every
 *  key; deploy/rules.ini is the contract's catalog.
 *
 *  The validator reads the catalog (unknown_indicator, out_of_range); the evaluator reads the
 *  rules. A rules file that fails to load leaves the caller's current rules untouched.
 */
#ifndef EDU_RULES_H
#define EDU_RULES_H

#include "schools.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    KIND_THRESHOLD = 1 << 0,
    KIND_BALANCED = 1 << 1,
    KIND_DISPERSION = 1 << 2,
    KIND_FLUCTUATION = 1 << 3,
    KIND_MISSING = 1 << 4,
    KIND_DATA_QUALITY = 1 << 5,
    KIND_PROGRESS = 1 << 6,
} kind_t;

typedef struct {
    char *code;                   // indicator code, e.g. degree_teachers_per100
    char *name;                   // Chinese name, e.g. 每百名学生拥有高于规定学历教师数
    char *unit;                   // unit as a supervisor reads it, e.g. 元
    bool higher_better;           // better = higher (true) or lower (false)
    bool has_target[STAGE_COUNT]; // a target is set for the stage
    double target[STAGE_COUNT];   // the target T per stage
    double min, max;              // bounds: values outside are refused as out_of_range
    unsigned kinds;               // kind_t bits that apply
    int plan_baseline;            // progress: first year of the baseline period
    int plan_period;              // progress: first year of the target period
    double plan_change;           // progress: planned change from the baseline to the target
    unsigned line;                // line of the [indicator.CODE] header
} indicator_t;

typedef struct {
    int first_period;             // first year of the first period `missing` covers
    int accept_from;              // records for periods before this first year are refused
    int accept_ahead_years;       // ... and for periods beyond the present one plus this
    int deadline_month;           // deadline of year Y-(Y+1) is Y-deadline_month-deadline_day
    int deadline_day;
    double missing_red_days;      // red this many days after the deadline
    double tolerance;             // yellow while v >= tolerance·T (higher-better)
    double dispersion_target;     // county target for the CV (green at or below)
    double dispersion_limit[STAGE_COUNT]; // national limit (red above)
    int dispersion_min_schools;   // CV needs at least this many schools
    double fluctuation_yellow;    // worsening that turns yellow
    double fluctuation_red;       // worsening that turns red
    double jump_high, jump_low;   // data_quality: ratio to the previous period
    double outlier_z;             // data_quality: robust z-score limit
    int outlier_min_schools;      // data_quality: schools needed for the outlier test
} rule_params_t;

typedef struct rules_t rules_t;

/*  Loads and checks path. Returns the rules, or NULL with err naming file, line and problem. */
rules_t *rules_load(const char *path, char *err, size_t errlen);
void rules_destroy(rules_t **self_p);

const rule_params_t *rules_params(const rules_t *self);
/*  The indicator with this code, or NULL. Borrowed. */
const indicator_t *rules_find(const rules_t *self, const char *code);
size_t rules_count(const rules_t *self);
const indicator_t *rules_at(const rules_t *self, size_t i);

/*  Name of one kind bit ("threshold"), or NULL. */
const char *kind_name(kind_t kind);

#endif
