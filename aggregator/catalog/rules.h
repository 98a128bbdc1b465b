/*  rules - the indicator catalog and the warning rules (rules.ini)
 *
 *  The rules file is data, not code: a [rules] section with the county-wide parameters
 *  (tolerance, dispersion target and limits, fluctuation and data-quality thresholds, the first
 *  period and the deadline of each academic year) and one [indicator.CODE] section per
 *  indicator with its Chinese name, unit, better direction, target per stage, bounds, the kinds
 *  of warning that apply to it and, for `progress`, the plan. The kinds of the second round
 *  have sections of their own: [dispersion] (the county target, which may tighten year by
 *  year), [trend], [capacity], [persistent], [county_balanced], [urban_rural_gap] and one
 *  [check.NAME] per consistency check. docs/warnings.md describes every key; deploy/rules.ini
 *  is the contract's catalog.
 *
 *  Any numeric key may be given per period, `key@YYYY-YYYY = value`: it applies from that
 *  academic year on, until a later one. rules_params_at() and rules_indicator_at() give the
 *  numbers in force for a year; rules_params() and the indicator_t of rules_at() hold the
 *  numbers written without a period (those before the first `@`).
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
    KIND_TREND = 1 << 6,            // per indicator (kinds =)
    KIND_PERSISTENT = 1 << 7,       // per indicator (kinds =)
    KIND_URBAN_RURAL_GAP = 1 << 8,  // per indicator (kinds =)
    KIND_CAPACITY = 1 << 9,         // switched on by [capacity]
    KIND_CONSISTENCY = 1 << 10,     // switched on by [check.NAME]
    KIND_COUNTY_BALANCED = 1 << 11, // switched on by [county_balanced]
    KIND_PROGRESS = 1 << 12,        // the last bit: lists of kinds run up to it
    KIND_LAST = KIND_PROGRESS,
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
    int trend_periods;            // trend: the window, in academic years ending at P
    int trend_min_periods;        // trend: fewest of the school's values in the window
    int trend_ahead_years;        // trend: projected to year(P) + this
    double capacity_red_now;      // capacity: red when E/C is above this
    double capacity_red_next;     // capacity: red when E·(1+g)/C is above this
    double capacity_yellow_next;  // capacity: yellow when E·(1+g)/C is at least this
    int capacity_growth_pairs;    // capacity: g over up to this many year-over-year pairs
    int persistent_years;         // persistent: a school red this many years running is red
    int persistent_county_years;  // persistent: a county's dispersion red this many years
    double county_balanced_share; // county_balanced: share of balanced schools wanted
    double gap_yellow, gap_red;   // urban_rural_gap: green up to yellow, yellow up to red
} rule_params_t;

/*  The comparison of a consistency check. */
typedef enum { CHECK_LT, CHECK_LE, CHECK_GE, CHECK_GT } check_op_t;

/*  One [check.NAME]: `rule = A OP k * B`, yellow where a school reports both and it fails. */
typedef struct {
    char *name;               // NAME, the warning's indicator column
    char *label;              // what a supervisor reads (`name =`), or the rule as written
    char *rule;               // the rule as written
    char *left_code;          // A as written
    char *right_code;         // B as written
    const indicator_t *left;  // A (borrowed from the catalog)
    const indicator_t *right; // B
    check_op_t op;            // the comparison
    double k;                 // B's factor (1 when not written)
    unsigned line;            // line of the [check.NAME] header
} rules_check_t;

typedef struct rules_t rules_t;

/*  Loads and checks path. Returns the rules, or NULL with err naming file, line and problem. */
rules_t *rules_load(const char *path, char *err, size_t errlen);
void rules_destroy(rules_t **self_p);

const rule_params_t *rules_params(const rules_t *self);
/*  The indicator with this code, or NULL. Borrowed. */
const indicator_t *rules_find(const rules_t *self, const char *code);
size_t rules_count(const rules_t *self);
const indicator_t *rules_at(const rules_t *self, size_t i);

/*  The county-wide parameters in force for academic year `year` (its first year): the ones
 *  written without a period, with every `key@PERIOD` of a period up to `year` applied in
 *  order. Borrowed. */
const rule_params_t *rules_params_at(const rules_t *self, int year);

/*  The years from which the county-wide parameters change (each a `key@PERIOD`), ascending:
 *  rules_param_year(self, i) for i < rules_param_years(self). For publishing them (the
 *  dashboard shows the dispersion target of a period). */
size_t rules_param_years(const rules_t *self);
int rules_param_year(const rules_t *self, size_t i);

/*  The indicator with the numbers (targets, bounds, plan_change) in force for `year`: ind
 *  itself, or a copy of it that shares its strings. Borrowed; ind must be one of rules_at(). */
const indicator_t *rules_indicator_at(const rules_t *self, const indicator_t *ind, int year);

/*  The county kinds the rules file switches on (KIND_CAPACITY, KIND_CONSISTENCY,
 *  KIND_COUNTY_BALANCED bits). */
unsigned rules_county_kinds(const rules_t *self);

/*  capacity: the indicators of 在校生数 and 核定学位数 ([capacity] enrolment, places), or NULL
 *  when the kind is off. Borrowed. */
const indicator_t *rules_enrolment(const rules_t *self);
const indicator_t *rules_places(const rules_t *self);

/*  The consistency checks, in file order; rules_find_check by NAME, or NULL. Borrowed. */
size_t rules_check_count(const rules_t *self);
const rules_check_t *rules_check_at(const rules_t *self, size_t i);
const rules_check_t *rules_find_check(const rules_t *self, const char *name);

/*  "<", "<=", ">=", ">". */
const char *check_op_name(check_op_t op);

/*  Name of one kind bit ("threshold"), or NULL. */
const char *kind_name(kind_t kind);

#endif
