/*  judge - the red/yellow/green rule of each kind, as pure functions of numbers */
#define _DEFAULT_SOURCE // timegm()
#include "judge.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *s_levels[] = {"green", "yellow", "red"};

const char *level_name(level_t level)
{
    return level >= LEVEL_GREEN && level <= LEVEL_RED ? s_levels[level] : "green";
}

int level_parse(const char *text, level_t *out)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(text, s_levels[i]) == 0) {
            *out = (level_t) i;
            return 0;
        }
    return -1;
}

/*  a >= b, allowing for the rounding of decimal input */
static bool s_at_least(double a, double b)
{
    return a >= b - JUDGE_EPSILON * fmax(1.0, fabs(b));
}

bool judge_meets(bool higher_better, double t, double v)
{
    return higher_better ? s_at_least(v, t) : s_at_least(t, v);
}

level_t judge_threshold(bool higher_better, double t, double tolerance, double v)
{
    if (judge_meets(higher_better, t, v))
        return LEVEL_GREEN;
    bool within = higher_better ? s_at_least(v, tolerance * t) : s_at_least(t / tolerance, v);
    return within ? LEVEL_YELLOW : LEVEL_RED;
}

level_t judge_balanced(const level_t *levels, size_t n)
{
    size_t green = 0, yellow = 0;
    for (size_t i = 0; i < n; i++) {
        green += levels[i] == LEVEL_GREEN;
        yellow += levels[i] == LEVEL_YELLOW;
    }
    if (green == n)
        return LEVEL_GREEN;
    return green + 1 == n && yellow == 1 ? LEVEL_YELLOW : LEVEL_RED;
}

int judge_cv(const double *x, const double *p, size_t n, size_t min_schools, double *cv)
{
    if (n < min_schools || n == 0)
        return -1;
    double w = 0, sum = 0;
    for (size_t i = 0; i < n; i++) {
        w += p[i];
        sum += p[i] * x[i];
    }
    if (!(w > 0))
        return -1;
    double mean = sum / w;
    if (fabs(mean) < JUDGE_EPSILON)
        return -1;
    double var = 0;
    for (size_t i = 0; i < n; i++)
        var += p[i] * (x[i] - mean) * (x[i] - mean);
    *cv = sqrt(var / w) / fabs(mean);
    return 0;
}

level_t judge_dispersion(double cv, double target, double limit)
{
    if (s_at_least(target, cv))
        return LEVEL_GREEN;
    return s_at_least(limit, cv) ? LEVEL_YELLOW : LEVEL_RED;
}

double judge_worsening(bool higher_better, double prev, double v)
{
    return higher_better ? prev - v : v - prev;
}

level_t judge_fluctuation(double worsening, double yellow, double red)
{
    if (s_at_least(worsening, red))
        return LEVEL_RED;
    return s_at_least(worsening, yellow) ? LEVEL_YELLOW : LEVEL_GREEN;
}

time_t judge_deadline(int year, int month, int day)
{
    // the day after the deadline, 00:00 at UTC+8, is 16:00 UTC of the deadline day
    struct tm tm = {.tm_year = year - 1900, .tm_mon = month - 1, .tm_mday = day, .tm_hour = 16};
    return timegm(&tm);
}

level_t judge_missing(time_t now, time_t deadline, double red_days)
{
    if (now < deadline)
        return LEVEL_GREEN;
    return difftime(now, deadline) >= red_days * 86400.0 ? LEVEL_RED : LEVEL_YELLOW;
}

bool judge_jump(double prev, double v, double high, double low)
{
    if (!(prev > 0))
        return false;
    double ratio = v / prev;
    return ratio > high * (1 + JUDGE_EPSILON) || ratio < low * (1 - JUDGE_EPSILON);
}

static int s_compare(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

double judge_median(double *x, size_t n)
{
    qsort(x, n, sizeof *x, s_compare);
    return n % 2 ? x[n / 2] : (x[n / 2 - 1] + x[n / 2]) / 2;
}

void judge_mad(double *x, size_t n, double *median, double *mad)
{
    *median = judge_median(x, n);
    for (size_t i = 0; i < n; i++)
        x[i] = fabs(x[i] - *median);
    *mad = judge_median(x, n);
}

bool judge_outlier(double v, double median, double mad, size_t n, size_t min_schools, double z)
{
    if (n < min_schools || n == 0 || mad < JUDGE_EPSILON)
        return false;
    return fabs(0.6745 * (v - median) / mad) > z * (1 + JUDGE_EPSILON);
}

level_t judge_progress(double achieved, double planned)
{
    if (s_at_least(achieved, planned))
        return LEVEL_GREEN;
    return s_at_least(achieved, planned / 2) ? LEVEL_YELLOW : LEVEL_RED;
}

double judge_planned(const indicator_t *ind, int year)
{
    int span = ind->plan_period - ind->plan_baseline;
    int done = year - ind->plan_baseline;
    if (span <= 0 || done <= 0)
        return 0;
    // the contract's formula, also past the target period: the plan's pace goes on
    return fabs(ind->plan_change) * done / span;
}

double judge_mean(const double *x, const double *p, size_t n)
{
    double w = 0, sum = 0;
    for (size_t i = 0; i < n; i++) {
        w += p[i];
        sum += p[i] * x[i];
    }
    return w > 0 ? sum / w : 0;
}

int judge_progress_of(const indicator_t *ind, int year, const double *bx, const double *bp,
                      size_t nb, const double *x, const double *p, size_t n, double *achieved,
                      double *planned, double *base_mean, double *mean)
{
    if (!(ind->kinds & KIND_PROGRESS) || ind->plan_period <= ind->plan_baseline ||
        year <= ind->plan_baseline || nb == 0 || n == 0)
        return -1;
    *base_mean = judge_mean(bx, bp, nb);
    *mean = judge_mean(x, p, n);
    *achieved = ind->plan_change < 0 ? *base_mean - *mean : *mean - *base_mean;
    *planned = judge_planned(ind, year);
    return 0;
}
