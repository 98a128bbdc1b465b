/*  test_judge - every kind's rule at its boundaries */
#include "judge.h"
#include "period.h"

#include <criterion/criterion.h>
#include <math.h>

static const double TOL = 0.85;

Test(judge, threshold_higher_better)
{
    static const struct {
        double t, v;
        level_t want;
    } cases[] = {
        {4.2, 4.2, LEVEL_GREEN},         // exactly on target
        {4.2, 4.3, LEVEL_GREEN},         // above
        {4.2, 4.19, LEVEL_YELLOW},       // just below the target
        {4.2, 0.85 * 4.2, LEVEL_YELLOW}, // exactly on the tolerance line (3.57)
        {4.2, 3.57, LEVEL_YELLOW},       // the same, as typed
        {4.2, 3.569, LEVEL_RED},         // just outside the tolerance
        {2000, 1700, LEVEL_YELLOW},      // 0.85 · 2000
        {2000, 1699.99, LEVEL_RED},      {80, 0, LEVEL_RED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        cr_expect_eq(judge_threshold(true, cases[i].t, TOL, cases[i].v), cases[i].want,
                     "case %zu: %g against %g", i, cases[i].v, cases[i].t);
}

Test(judge, threshold_lower_better)
{
    // student_teacher_ratio: target 15, yellow up to 15 / 0.85 = 17.647...
    static const struct {
        double v;
        level_t want;
    } cases[] = {
        {15, LEVEL_GREEN},         {14.99, LEVEL_GREEN},  {1, LEVEL_GREEN},   {15.01, LEVEL_YELLOW},
        {15 / 0.85, LEVEL_YELLOW}, {17.64, LEVEL_YELLOW}, {17.65, LEVEL_RED}, {40, LEVEL_RED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        cr_expect_eq(judge_threshold(false, 15, TOL, cases[i].v), cases[i].want, "case %zu: %g", i,
                     cases[i].v);
}

Test(judge, balanced_six_of_seven)
{
    level_t all[7] = {LEVEL_GREEN, LEVEL_GREEN, LEVEL_GREEN, LEVEL_GREEN,
                      LEVEL_GREEN, LEVEL_GREEN, LEVEL_GREEN};
    cr_expect_eq(judge_balanced(all, 7), LEVEL_GREEN, "all 7 meet");
    all[3] = LEVEL_YELLOW; // the seventh within the tolerance
    cr_expect_eq(judge_balanced(all, 7), LEVEL_YELLOW, "6 meet, the 7th within tolerance");
    all[3] = LEVEL_RED; // the seventh beyond it
    cr_expect_eq(judge_balanced(all, 7), LEVEL_RED, "6 meet, the 7th beyond tolerance");
    all[3] = LEVEL_YELLOW;
    all[5] = LEVEL_YELLOW; // only 5 meet
    cr_expect_eq(judge_balanced(all, 7), LEVEL_RED, "5 meet, 2 within tolerance");
}

Test(judge, dispersion_cv)
{
    double x[] = {4, 6}, p[] = {1, 1}, cv = -1;
    cr_assert_eq(judge_cv(x, p, 2, 2, &cv), 0);
    cr_expect_float_eq(cv, 0.2, 1e-12, "mean 5, sd 1");
    double w[] = {3, 1}; // weighted: mean 4.5, var (3·0.25 + 1·2.25)/4 = 0.75
    cr_assert_eq(judge_cv(x, w, 2, 2, &cv), 0);
    cr_expect_float_eq(cv, sqrt(0.75) / 4.5, 1e-12);
    cr_expect_eq(judge_cv(x, p, 1, 2, &cv), -1, "fewer than 2 schools");
    double zero[] = {0, 0};
    cr_expect_eq(judge_cv(zero, p, 2, 2, &cv), -1, "a mean of 0");
    // target 0.30, limit 0.50 (primary) / 0.45 (junior)
    cr_expect_eq(judge_dispersion(0.30, 0.30, 0.50), LEVEL_GREEN, "CV at the target");
    cr_expect_eq(judge_dispersion(0.3001, 0.30, 0.50), LEVEL_YELLOW, "just above the target");
    cr_expect_eq(judge_dispersion(0.50, 0.30, 0.50), LEVEL_YELLOW, "CV at the limit");
    cr_expect_eq(judge_dispersion(0.5001, 0.30, 0.50), LEVEL_RED, "just above the limit");
    cr_expect_eq(judge_dispersion(0.46, 0.30, 0.45), LEVEL_RED, "junior limit");
}

Test(judge, fluctuation_points)
{
    static const struct {
        double prev, v;
        level_t want;
    } cases[] = {
        {90, 85.01, LEVEL_GREEN},                            // worse by 4.99
        {90, 85, LEVEL_YELLOW},                              // worse by 5
        {80.14, 75.14, LEVEL_YELLOW},                        // 5 in decimal input, not 4.9999999
        {90, 78.01, LEVEL_YELLOW},                           // 11.99
        {90, 78, LEVEL_RED},                                 // 12
        {90, 60, LEVEL_RED},          {90, 95, LEVEL_GREEN}, // better
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        double w = judge_worsening(true, cases[i].prev, cases[i].v);
        cr_expect_eq(judge_fluctuation(w, 5, 12), cases[i].want, "case %zu: worse by %.17g", i, w);
    }
    // lower is better (myopia): rising is worsening
    cr_expect_eq(judge_worsening(false, 40, 45), 5);
    cr_expect_eq(judge_fluctuation(judge_worsening(false, 40, 45), 5, 12), LEVEL_YELLOW);
    cr_expect_eq(judge_fluctuation(judge_worsening(false, 40, 35), 5, 12), LEVEL_GREEN);
}

Test(judge, missing_deadlines)
{
    time_t deadline = judge_deadline(2025, 10, 31);
    time_t end_of_day = 0;
    cr_assert_eq(period_parse_time("2025-11-01T00:00:00+08:00", &end_of_day), 0);
    cr_expect_eq(deadline, end_of_day, "the deadline passes at the end of 10-31, China time");
    cr_expect_eq(judge_missing(deadline - 1, deadline, 14), LEVEL_GREEN, "before the deadline");
    cr_expect_eq(judge_missing(deadline, deadline, 14), LEVEL_YELLOW, "the deadline has passed");
    cr_expect_eq(judge_missing(deadline + 13 * 86400 + 86399, deadline, 14), LEVEL_YELLOW,
                 "13 days and a bit past");
    cr_expect_eq(judge_missing(deadline + 14 * 86400, deadline, 14), LEVEL_RED, "14 days past");
    cr_expect_eq(judge_missing(deadline + 15 * 86400, deadline, 14), LEVEL_RED, "15 days past");
    time_t now;
    cr_assert_eq(period_parse_time("2025-11-08T12:00:00+08:00", &now), 0);
    cr_expect_eq(judge_missing(now, deadline, 14), LEVEL_YELLOW, "the fixture's 2025-2026");
    cr_expect_eq(judge_missing(now, judge_deadline(2024, 10, 31), 14), LEVEL_RED,
                 "the fixture's 2024-2025");
}

Test(judge, data_quality_jump)
{
    cr_expect(judge_jump(10, 20.01, 2, 0.5), "above x2");
    cr_expect_not(judge_jump(10, 20, 2, 0.5), "exactly x2");
    cr_expect_not(judge_jump(10, 5, 2, 0.5), "exactly x0.5");
    cr_expect(judge_jump(10, 4.99, 2, 0.5), "below x0.5");
    cr_expect_not(judge_jump(0, 50, 2, 0.5), "prev = 0: no jump test");
    cr_expect_not(judge_jump(-1, 50, 2, 0.5), "prev < 0: no jump test");
}

Test(judge, data_quality_outlier)
{
    double x[] = {10, 11, 12, 13, 50}, median, mad;
    judge_mad(x, 5, &median, &mad);
    cr_expect_eq(median, 12);
    cr_expect_eq(mad, 1); // |deviations| 2 1 0 1 38 → median 1
    cr_expect(judge_outlier(50, median, mad, 5, 5, 3.5), "0.6745·38 = 25.6 > 3.5");
    cr_expect_not(judge_outlier(13, median, mad, 5, 5, 3.5));
    cr_expect_not(judge_outlier(50, median, mad, 4, 5, 3.5), "fewer than 5 schools");
    double even[] = {1, 2, 3, 4};
    cr_expect_eq(judge_median(even, 4), 2.5, "even count: mean of the middle two");
    double same[] = {7, 7, 7, 7, 7, 30};
    judge_mad(same, 6, &median, &mad);
    cr_expect_eq(mad, 0);
    cr_expect_not(judge_outlier(30, median, mad, 6, 5, 3.5), "MAD = 0: nobody is an outlier");
    // exactly on the limit: |0.6745·d/1| = 3.5 is not above it
    cr_expect_not(judge_outlier(12 + 3.5 / 0.6745, 12, 1, 5, 5, 3.5));
}

Test(judge, progress_plan)
{
    indicator_t myopia = {.plan_baseline = 2023, .plan_period = 2026, .plan_change = -5};
    cr_expect_eq(judge_planned(&myopia, 2023), 0, "at the baseline nothing is planned yet");
    cr_expect_float_eq(judge_planned(&myopia, 2024), 5.0 / 3, 1e-12);
    cr_expect_float_eq(judge_planned(&myopia, 2025), 10.0 / 3, 1e-12);
    cr_expect_float_eq(judge_planned(&myopia, 2026), 5, 1e-12);
    cr_expect_float_eq(judge_planned(&myopia, 2030), 5.0 * 7 / 3, 1e-12,
                       "past the target period the pace goes on (the contract's formula)");
    double planned = judge_planned(&myopia, 2025);
    cr_expect_eq(judge_progress(planned, planned), LEVEL_GREEN, "achieved as planned");
    cr_expect_eq(judge_progress(planned / 2, planned), LEVEL_YELLOW, "half of it");
    cr_expect_eq(judge_progress(planned / 2 - 0.01, planned), LEVEL_RED, "less than half");
    cr_expect_eq(judge_progress(-1, planned), LEVEL_RED, "worse than the baseline");
    indicator_t none = {0};
    cr_expect_eq(judge_planned(&none, 2025), 0, "no plan: nothing planned");
}

Test(judge, progress_of_the_county)
{
    indicator_t myopia = {
        .kinds = KIND_PROGRESS, .plan_baseline = 2023, .plan_period = 2026, .plan_change = -5};
    double bx[] = {50, 40}, bp[] = {100, 300}; // weighted baseline mean 42.5
    double x[] = {48, 37}, p[] = {100, 300};   // weighted mean 39.75: improved 2.75
    double achieved = 0, planned = 0, base = 0, mean = 0;
    cr_assert_eq(
        judge_progress_of(&myopia, 2025, bx, bp, 2, x, p, 2, &achieved, &planned, &base, &mean), 0);
    cr_expect_float_eq(base, 42.5, 1e-12);
    cr_expect_float_eq(achieved, 2.75, 1e-12);
    cr_expect_float_eq(planned, 10.0 / 3, 1e-12);
    cr_expect_eq(judge_progress(achieved, planned), LEVEL_YELLOW, "2.75 of 3.33 planned");
    cr_expect_eq(
        judge_progress_of(&myopia, 2025, bx, bp, 0, x, p, 2, &achieved, &planned, &base, &mean), -1,
        "no baseline data: nothing to judge");
    cr_expect_eq(
        judge_progress_of(&myopia, 2023, bx, bp, 2, x, p, 2, &achieved, &planned, &base, &mean), -1,
        "the baseline period itself");
    cr_expect_eq(
        judge_progress_of(&myopia, 2025, bx, bp, 2, x, p, 0, &achieved, &planned, &base, &mean), -1,
        "no data for the period");
    indicator_t unplanned = {.kinds = KIND_PROGRESS};
    cr_expect_eq(
        judge_progress_of(&unplanned, 2025, bx, bp, 2, x, p, 2, &achieved, &planned, &base, &mean),
        -1, "no plan");
}

Test(judge, level_names)
{
    level_t l;
    cr_expect_eq(level_parse("red", &l), 0);
    cr_expect_eq(l, LEVEL_RED);
    cr_expect_eq(level_parse("amber", &l), -1);
    cr_expect_str_eq(level_name(LEVEL_YELLOW), "yellow");
}

Test(judge, dispersion_target_above_the_limit)
{
    // the county's 0.50 for both stages, 初中's national limit 0.45: green only up to 0.45
    cr_expect_eq(judge_dispersion_capped(0.44, 0.50, 0.45), LEVEL_GREEN);
    cr_expect_eq(judge_dispersion_capped(0.45, 0.50, 0.45), LEVEL_GREEN, "at the limit");
    cr_expect_eq(judge_dispersion_capped(0.4501, 0.50, 0.45), LEVEL_RED, "never green above it");
    cr_expect_eq(judge_dispersion_capped(0.50, 0.50, 0.50), LEVEL_GREEN, "小学: 0.50 and 0.50");
    cr_expect_eq(judge_dispersion_capped(0.41, 0.40, 0.50), LEVEL_YELLOW, "2025-2026: 0.40");
    cr_expect_eq(judge_dispersion_capped(0.31, 0.30, 0.45), LEVEL_YELLOW, "2027-2028: 0.30");
}

Test(judge, trend_line_and_projection)
{
    // 第2学校's 生均体育运动场馆面积: 9.79, 9.73, 7.55 in 2023-2024 … 2025-2026.
    // mean year 2024, mean value 27.07 / 3 = 9.02333; b = ((-1)(0.76667) + (1)(-1.47333)) / 2
    // = -1.12; projected to 2027: 9.02333 - 3 × 1.12 = 5.66333
    double years[] = {2023, 2024, 2025}, values[] = {9.79, 9.73, 7.55}, a, b;
    cr_assert_eq(judge_line(years, values, 3, &a, &b), 0);
    cr_expect_float_eq(b, -1.12, 1e-9);
    cr_expect_float_eq(a + b * 2027, 27.07 / 3 - 3 * 1.12, 1e-9);
    // green now (7.55 >= 7.5), the projection red (5.66 < 0.85 × 7.5 = 6.375): yellow
    level_t now = judge_threshold(true, 7.5, TOL, 7.55);
    level_t later = judge_threshold(true, 7.5, TOL, a + b * 2027);
    cr_expect_eq(now, LEVEL_GREEN);
    cr_expect_eq(later, LEVEL_RED);
    cr_expect_eq(judge_trend(now, later), LEVEL_YELLOW);
    cr_expect_eq(judge_trend(LEVEL_GREEN, LEVEL_YELLOW), LEVEL_GREEN, "projected yellow: green");
    cr_expect_eq(judge_trend(LEVEL_YELLOW, LEVEL_RED), LEVEL_GREEN,
                 "not green now: threshold says it");
    cr_expect_eq(judge_trend(LEVEL_RED, LEVEL_RED), LEVEL_GREEN, "never red");
    // five years: 10, 12, 11, 13, 14 in 2021 … 2025: sxy = 4 + 0 + 0 + 1 + 4 = 9, sxx = 10,
    // b = 0.9, through (2023, 12): projected to 2027 12 + 4 × 0.9 = 15.6
    double y5[] = {2021, 2022, 2023, 2024, 2025}, v5[] = {10, 12, 11, 13, 14};
    cr_assert_eq(judge_line(y5, v5, 5, &a, &b), 0);
    cr_expect_float_eq(b, 0.9, 1e-12);
    cr_expect_float_eq(a + b * 2027, 15.6, 1e-9);
    // lower is better (生师比 15): rising to 18 is red (above 15 / 0.85 = 17.65)
    double ratio[] = {14, 15, 16};
    cr_assert_eq(judge_line(years, ratio, 3, &a, &b), 0);
    cr_expect_float_eq(a + b * 2027, 18, 1e-9);
    cr_expect_eq(
        judge_trend(judge_threshold(false, 15, TOL, 16), judge_threshold(false, 15, TOL, 18)),
        LEVEL_GREEN, "16 is not green now");
    cr_expect_eq(judge_line(years, values, 1, &a, &b), -1, "one point is no line");
    double same[] = {2025, 2025, 2025};
    cr_expect_eq(judge_line(same, values, 3, &a, &b), -1, "one year is no line");
}

Test(judge, capacity_places)
{
    // 第2学校: 1178, 1249, 1324 students, 1331 places. g = (71/1178 + 75/1249) / 2 = 0.060160;
    // u0 = 1324/1331 = 0.99474 (not above 1.00); u1 = 0.99474 × 1.060160 = 1.05458 > 1.05: red
    double e[] = {1178, 1249, 1324};
    double g = judge_growth(e, 3);
    cr_expect_float_eq(g, (71.0 / 1178 + 75.0 / 1249) / 2, 1e-15);
    double u0 = 1324.0 / 1331, u1 = 1324.0 * (1 + g) / 1331;
    cr_expect_float_eq(u1, 1.0545842, 1e-7);
    cr_expect_eq(judge_capacity(u0, u1, 1.00, 1.05, 0.95), LEVEL_RED);
    cr_expect_eq(judge_capacity(u0, u0, 1.00, 1.05, 0.95), LEVEL_YELLOW, "without growth");
    double shrinking[] = {100, 90, 81};
    cr_expect_float_eq(judge_growth(shrinking, 3), -0.1, 1e-15);
    cr_expect_eq(judge_growth(e, 1), 0, "one year: no growth");
    // the boundaries
    cr_expect_eq(judge_capacity(1.00, 1.00, 1.00, 1.05, 0.95), LEVEL_YELLOW, "u0 = 1.00 is full");
    cr_expect_eq(judge_capacity(1.0001, 0.9, 1.00, 1.05, 0.95), LEVEL_RED, "u0 above 1.00");
    cr_expect_eq(judge_capacity(0.99, 1.05, 1.00, 1.05, 0.95), LEVEL_YELLOW, "u1 = 1.05");
    cr_expect_eq(judge_capacity(0.99, 1.0501, 1.00, 1.05, 0.95), LEVEL_RED, "u1 above 1.05");
    cr_expect_eq(judge_capacity(0.9, 0.95, 1.00, 1.05, 0.95), LEVEL_YELLOW, "u1 = 0.95");
    cr_expect_eq(judge_capacity(0.9, 0.9499, 1.00, 1.05, 0.95), LEVEL_GREEN, "u1 below 0.95");
    cr_expect_eq(judge_capacity(319.0 / 38, 8.5, 1.00, 1.05, 0.95), LEVEL_RED, "38 places for 319");
}

Test(judge, persistent_years)
{
    cr_expect_eq(judge_persistent(3, 3, 2), LEVEL_RED, "red at P and the 2 years before");
    cr_expect_eq(judge_persistent(2, 3, 2), LEVEL_YELLOW, "at P and the year before");
    cr_expect_eq(judge_persistent(1, 3, 2), LEVEL_GREEN, "at P only: threshold says it");
    cr_expect_eq(judge_persistent(0, 3, 2), LEVEL_GREEN);
    cr_expect_eq(judge_persistent(2, 2, 0), LEVEL_RED, "the county: 2 years of red CV");
    cr_expect_eq(judge_persistent(1, 2, 0), LEVEL_GREEN, "the county has no yellow");
}

Test(judge, consistency_checks)
{
    cr_expect(judge_consistent(1.2, CHECK_LE, 1, 1.2), "equal satisfies <=");
    cr_expect_not(judge_consistent(1.21, CHECK_LE, 1, 1.2));
    cr_expect(judge_consistent(0.3, CHECK_LE, 1, 0.1 + 0.2), "decimal rounding");
    cr_expect_not(judge_consistent(319, CHECK_LE, 2, 38), "319 students, 2 × 38 places");
    cr_expect(judge_consistent(700, CHECK_LE, 2, 360));
    cr_expect_not(judge_consistent(1.2, CHECK_LT, 1, 1.2), "equal fails <");
    cr_expect(judge_consistent(1.1, CHECK_LT, 1, 1.2));
    cr_expect(judge_consistent(5, CHECK_GE, 0.5, 10));
    cr_expect_not(judge_consistent(4.9, CHECK_GE, 0.5, 10));
    cr_expect_not(judge_consistent(5, CHECK_GT, 0.5, 10));
    cr_expect(judge_consistent(5.1, CHECK_GT, 0.5, 10));
}

Test(judge, county_balanced_verdict)
{
    // 17 of 20 schools balanced = 0.85
    cr_expect_eq(judge_county_balanced(0, 17.0 / 20, 0.85), LEVEL_GREEN, "all CVs in, 85%%");
    cr_expect_eq(judge_county_balanced(0, 16.0 / 20, 0.85), LEVEL_YELLOW, "all CVs in, 80%%");
    cr_expect_eq(judge_county_balanced(1, 0.9, 0.85), LEVEL_YELLOW, "one CV above, 90%%");
    cr_expect_eq(judge_county_balanced(1, 0.8, 0.85), LEVEL_RED, "one CV above, 80%%");
    cr_expect_eq(judge_county_balanced(2, 1.0, 0.85), LEVEL_RED, "two CVs above");
}

Test(judge, urban_rural_gap)
{
    // U = (300·8 + 100·10) / 400 = 8.5, R = 6.8: (8.5 - 6.8) / 8.5 = 0.20, yellow at the line
    double ux[] = {8, 10}, up[] = {300, 100};
    double u = judge_mean(ux, up, 2), gap;
    cr_assert_eq(judge_gap(true, u, 6.8, &gap), 0);
    cr_expect_float_eq(gap, 0.2, 1e-12);
    cr_expect_eq(judge_gap_level(gap, 0.10, 0.20), LEVEL_YELLOW);
    cr_expect_eq(judge_gap_level(0.10, 0.10, 0.20), LEVEL_GREEN, "at 10%%");
    cr_expect_eq(judge_gap_level(0.1001, 0.10, 0.20), LEVEL_YELLOW);
    cr_expect_eq(judge_gap_level(0.2001, 0.10, 0.20), LEVEL_RED);
    cr_expect_eq(judge_gap_level(-0.3, 0.10, 0.20), LEVEL_GREEN, "rural ahead");
    cr_assert_eq(judge_gap(false, 15, 18, &gap), 0, "lower is better: rural higher is behind");
    cr_expect_float_eq(gap, 0.2, 1e-12);
    cr_expect_eq(judge_gap(true, 0, 5, &gap), -1, "U = 0");
}
