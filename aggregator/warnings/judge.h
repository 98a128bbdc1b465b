/*  judge - the red/yellow/green rule of each kind, as pure functions of numbers
 *
 *  No state, no database: evaluate gathers the numbers (a value, the previous period's value,
 *  the values of a stage's schools) and asks judge for the level. Every comparison allows for
 *  the rounding of decimal input (JUDGE_EPSILON), so a value exactly on a boundary lands on the
 *  side the contract gives it: 4.2 meets a target of 4.2, a worsening of 80.14 - 75.14 is 5.
 */
#ifndef EDU_JUDGE_H
#define EDU_JUDGE_H

#include "rules.h"

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define JUDGE_EPSILON 1e-9

typedef enum { LEVEL_GREEN = 0, LEVEL_YELLOW = 1, LEVEL_RED = 2 } level_t;

/*  "green", "yellow", "red". */
const char *level_name(level_t level);

/*  Parses a level name; returns 0, or -1 for anything else. */
int level_parse(const char *text, level_t *out);

/*  True when v meets target t in the indicator's direction. */
bool judge_meets(bool higher_better, double t, double v);

/*  threshold: meets → green; within the tolerance (v >= tol·t, or v <= t/tol where lower is
 *  better) → yellow; beyond → red. */
level_t judge_threshold(bool higher_better, double t, double tolerance, double v);

/*  balanced over the resource indicators' threshold levels (all reported): all green →
 *  green; exactly one not green and that one yellow → yellow; otherwise red. */
level_t judge_balanced(const level_t *levels, size_t n);

/*  Student-weighted mean of x (weights p), 0 when there is no weight. */
double judge_mean(const double *x, const double *p, size_t n);

/*  Student-weighted coefficient of variation of x (weights p). Returns 0 and sets *cv, or -1
 *  when it is undefined (n < min_schools, no weight, or a mean of 0). */
int judge_cv(const double *x, const double *p, size_t n, size_t min_schools, double *cv);

/*  dispersion: cv <= target → green; <= limit → yellow; above → red. */
level_t judge_dispersion(double cv, double target, double limit);

/*  How much v is worse than prev, in the indicator's unit (negative: better). */
double judge_worsening(bool higher_better, double prev, double v);

/*  fluctuation: worsening < yellow → green; < red → yellow; >= red → red. */
level_t judge_fluctuation(double worsening, double yellow, double red);

/*  The moment the deadline of academic year `year` passes: the end of month-day of `year`,
 *  China Standard Time (UTC+8). */
time_t judge_deadline(int year, int month, int day);

/*  missing (not reported): before the deadline → green; after it → yellow; red_days or more
 *  after it → red. */
level_t judge_missing(time_t now, time_t deadline, double red_days);

/*  data_quality jump: prev > 0 and v/prev above high or below low. */
bool judge_jump(double prev, double v, double high, double low);

/*  Median of x (n > 0); x is sorted in place. The median of an even count is the mean of the
 *  middle two. */
double judge_median(double *x, size_t n);

/*  Median and median absolute deviation of x (n > 0); x is overwritten. */
void judge_mad(double *x, size_t n, double *median, double *mad);

/*  data_quality outlier against a stage's median and MAD over n schools: n >= min_schools,
 *  MAD > 0 and |0.6745·(v − median)/MAD| > z. */
bool judge_outlier(double v, double median, double mad, size_t n, size_t min_schools, double z);

/*  progress: achieved >= planned → green; >= planned/2 → yellow; less → red. */
level_t judge_progress(double achieved, double planned);

/*  The improvement planned by the time of `year`: change × (years since baseline) / (years
 *  from baseline to target), as a positive number (the contract's formula: past the target
 *  period the plan's pace goes on). */
double judge_planned(const indicator_t *ind, int year);

/*  progress of the county for `year`: from the student-weighted means of the baseline period
 *  (bx, bp: nb schools) and of `year` (x, p: n schools), the improvement achieved (in the
 *  plan's direction) and planned. Returns 0, or -1 when there is nothing to judge: no plan
 *  period after the baseline, no baseline data, or no data for `year`. */
int judge_progress_of(const indicator_t *ind, int year, const double *bx, const double *bp,
                      size_t nb, const double *x, const double *p, size_t n, double *achieved,
                      double *planned, double *base_mean, double *mean);

#endif
