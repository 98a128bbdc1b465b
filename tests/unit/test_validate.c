/*  test_validate - the registry, the catalog, and each refusal reason in the contract's order */
#define _GNU_SOURCE // asprintf
#include "period.h"
#include "rules.h"
#include "schools.h"
#include "util.h"
#include "validate.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static schools_t *s_schools;
static rules_t *s_rules;
static const validate_window_t s_window = {2000, 2026}; // as at 2025-11-08 with the defaults

static void s_setup(void)
{
    char err[512] = "";
    s_schools = schools_load(EDU_FIXTURES_DIR "/county-430405/schools.csv", err, sizeof err);
    cr_assert_not_null(s_schools, "%s", err);
    s_rules = rules_load(EDU_SOURCE_DIR "/deploy/rules.ini", err, sizeof err);
    cr_assert_not_null(s_rules, "%s", err);
}

static void s_teardown(void)
{
    schools_destroy(&s_schools);
    rules_destroy(&s_rules);
    cr_assert_null(s_schools);
}

TestSuite(validate, .init = s_setup, .fini = s_teardown);

typedef struct {
    const char *sender, *school, *indicator, *period;
    double value;
    const char *reason; // NULL: accepted
    const char *column;
} s_case_t;

Test(validate, each_reason_in_order)
{
    const s_case_t cases[] = {
        {"2143004052", "2143004052", "training_hours", "2025-2026", 90, NULL, ""},
        {"2143004052", "2143004052", "degree_teachers_per100", "2023-2024", 0, NULL, ""},
        {"2143004052", "2143004052", "degree_teachers_per100", "2023-2024", 100, NULL, ""},
        {"2143004052", "2143004052", "teacher_happiness", "2025-2026", 3.2, "unknown_indicator", "indicator"},
        {"2143004053", "2143004053", "bachelor_teacher_pct", "2025-2026", 130, "out_of_range", "value"},
        {"2143004055", "2143004055", "training_hours", "2025-2027", 90, "bad_period", "period"},
        {"2143004056", "2143004056", "student_teacher_ratio", "2025-2026", 0.5, "out_of_range", "value"},
        {"2143004058", "2143999999", "training_hours", "2025-2026", 90, "unknown_school", "school_code"},
        {"2143004058", "2143004059", "training_hours", "2025-2026", 90, "school_mismatch", "school_code"},
        {"2143004052", "2143004052", "training_hours", "2025-2026", NAN, "not_finite", "value"},
        {"2143004052", "2143004052", "training_hours", "2025-2026", INFINITY, "not_finite", "value"},
        {"2143004052", "2143004052", "training_hours", "2025-2026", -0.001, "out_of_range", "value"},
        // the order decides when several apply
        {"2143004058", "2143999999", "nope", "bad", NAN, "unknown_school", "school_code"},
        {"2143004058", "2143004059", "nope", "bad", NAN, "school_mismatch", "school_code"},
        {"2143004052", "2143004052", "nope", "bad", NAN, "unknown_indicator", "indicator"},
        {"2143004052", "2143004052", "training_hours", "bad", NAN, "bad_period", "period"},
        {"2143004052", "2143004052", "training_hours", "2025-2026", NAN, "not_finite", "value"},
        {"2143004052", "2143004052", "Training_Hours", "2025-2026", 1, "unknown_indicator", "indicator"},
        {"2143004052", "", "training_hours", "2025-2026", 1, "unknown_school", "school_code"},
        // the years a county accepts, at each end
        {"2143004052", "2143004052", "training_hours", "2000-2001", 90, NULL, ""},
        {"2143004052", "2143004052", "training_hours", "1999-2000", 90, "bad_period", "period"},
        {"2143004052", "2143004052", "training_hours", "2026-2027", 90, NULL, ""},
        {"2143004052", "2143004052", "training_hours", "2027-2028", 90, "bad_period", "period"},
        {"2143004052", "2143004052", "training_hours", "2998-2999", 90, "bad_period", "period"},
        {"2143004052", "2143004052", "training_hours", "2998-2999", NAN, "bad_period", "period"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const s_case_t *c = &cases[i];
        verdict_t v;
        validate_record(s_schools, s_rules, &s_window, c->sender, c->school, c->indicator, c->period,
                        c->value, &v);
        if (!c->reason) {
            cr_expect_eq(v.reason, REFUSE_NONE, "case %zu refused: %s", i, v.detail);
            cr_expect_null(refusal_name(v.reason));
            continue;
        }
        cr_expect_str_eq(refusal_name(v.reason) ? refusal_name(v.reason) : "(none)", c->reason,
                         "case %zu", i);
        cr_expect_str_eq(v.column, c->column, "case %zu", i);
        cr_expect(strlen(v.detail) > 10, "case %zu has no detail", i);
    }
}

Test(validate, fixture_bad_csv_reasons)
{
    size_t size;
    char err[256];
    char *data = file_read_all(EDU_FIXTURES_DIR "/county-430405/bad.csv", &size, err, sizeof err);
    cr_assert_not_null(data, "%s", err);
    char *save = NULL;
    int rows = 0;
    for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "sender,", 7) == 0)
            continue;
        char sender[16], school[16], indicator[64], period[16], reason[32];
        double value;
        cr_assert_eq(sscanf(line, "%15[^,],%15[^,],%63[^,],%15[^,],%lf,%31s", sender, school,
                            indicator, period, &value, reason), 6, "%s", line);
        verdict_t v;
        validate_record(s_schools, s_rules, &s_window, sender, school, indicator, period, value, &v);
        cr_expect_str_eq(refusal_name(v.reason) ? refusal_name(v.reason) : "(none)", reason, "%s",
                         line);
        rows++;
    }
    cr_expect_eq(rows, 6);
    free(data);
}

Test(validate, catalog_matches_contract)
{
    cr_assert_eq(rules_count(s_rules), 19); // the contract's 17, and enrolment and capacity
    const indicator_t *eq = rules_find(s_rules, "equipment_value_per_student");
    cr_assert_not_null(eq);
    cr_expect_str_eq(eq->name, "生均教学仪器设备值");
    cr_expect_float_eq(eq->target[STAGE_PRIMARY], 2000, 1e-9);
    cr_expect_float_eq(eq->target[STAGE_JUNIOR], 2500, 1e-9);
    cr_expect_float_eq(eq->max, 10000000, 1e-9);
    cr_expect(eq->kinds & KIND_BALANCED);
    const indicator_t *ratio = rules_find(s_rules, "student_teacher_ratio");
    cr_expect(!ratio->higher_better);
    cr_expect_float_eq(ratio->min, 1, 1e-9);
    const indicator_t *myopia = rules_find(s_rules, "myopia_pct");
    cr_expect(myopia->kinds & KIND_PROGRESS);
    cr_expect(!(myopia->kinds & KIND_THRESHOLD));
    cr_expect_eq(myopia->plan_baseline, 2023);
    cr_expect_eq(myopia->plan_period, 2026);
    cr_expect_float_eq(myopia->plan_change, -5, 1e-9);
    size_t resource = 0;
    for (size_t i = 0; i < rules_count(s_rules); i++)
        resource += (rules_at(s_rules, i)->kinds & KIND_BALANCED) != 0;
    cr_expect_eq(resource, 7);
    cr_expect_float_eq(rules_params(s_rules)->dispersion_limit[STAGE_JUNIOR], 0.45, 1e-12);
    // 在校生数 and 核定学位数: no target, not required every year (no missing)
    const indicator_t *enrolment = rules_find(s_rules, "enrolment");
    const indicator_t *places = rules_find(s_rules, "capacity");
    cr_assert(enrolment && places);
    cr_expect_str_eq(enrolment->name, "在校生数");
    cr_expect_str_eq(places->name, "核定学位数");
    cr_expect_float_eq(enrolment->max, 20000, 1e-9);
    cr_expect(!(enrolment->kinds & KIND_MISSING) && !(places->kinds & KIND_MISSING));
    cr_expect(!enrolment->has_target[STAGE_PRIMARY] && !places->has_target[STAGE_JUNIOR]);
    cr_expect_eq(rules_enrolment(s_rules), enrolment);
    cr_expect_eq(rules_places(s_rules), places);
    unsigned county = rules_county_kinds(s_rules);
    cr_expect(county & KIND_CAPACITY && county & KIND_CONSISTENCY && county & KIND_COUNTY_BALANCED);
    cr_expect_eq(rules_check_count(s_rules), 3);
    const rules_check_t *check = rules_find_check(s_rules, "backbone_within_degree");
    cr_assert_not_null(check);
    cr_expect_eq(check->left, rules_find(s_rules, "backbone_teachers_per100"));
    cr_expect_eq(check->right, rules_find(s_rules, "degree_teachers_per100"));
    cr_expect_eq(check->op, CHECK_LE);
    check = rules_find_check(s_rules, "enrolment_within_places");
    cr_assert_not_null(check);
    cr_expect_float_eq(check->k, 2, 1e-12);
    // the county target tightens: 0.50, 0.40 from 2025-2026, 0.30 from 2027-2028
    static const struct {
        int year;
        double target;
    } targets[] = {{2000, 0.50}, {2024, 0.50}, {2025, 0.40},
                   {2026, 0.40}, {2027, 0.30}, {2040, 0.30}};
    for (size_t i = 0; i < sizeof targets / sizeof *targets; i++)
        cr_expect_float_eq(rules_params_at(s_rules, targets[i].year)->dispersion_target,
                           targets[i].target, 1e-12, "%d", targets[i].year);
    cr_expect_float_eq(rules_params(s_rules)->dispersion_target, 0.50, 1e-12);
    cr_assert_eq(rules_param_years(s_rules), 2);
    cr_expect_eq(rules_param_year(s_rules, 0), 2025);
    cr_expect_eq(rules_param_year(s_rules, 1), 2027);
    cr_expect_float_eq(rules_params_at(s_rules, 2027)->dispersion_limit[STAGE_JUNIOR], 0.45, 1e-12,
                       "what is not given per period stays");
    size_t trend = 0;
    for (size_t i = 0; i < rules_count(s_rules); i++)
        trend += (rules_at(s_rules, i)->kinds & KIND_TREND) != 0;
    cr_expect_eq(trend, 15, "trend on every indicator with a target");
}

/*  Loads text as a rules file; NULL with err when refused. */
static rules_t *s_rules_of(const char *text, char *err, size_t errlen);

Test(validate, rules_by_period)
{
    char err[512] = "";
    rules_t *r =
        s_rules_of("[rules]\ntolerance = 0.85\ntolerance@2026-2027 = 0.9\n"
                   "dispersion_target = 0.45\ndispersion_target@2025-2026 = 0.35\n"
                   "fluctuation_red@2027-2028 = 15\n"
                   "[persistent]\nyears = 3\nyears@2030-2031 = 4\n"
                   "[indicator.x]\nname = 某\nunit = %\nmin = 0\nmax = 100\ntarget = 50\n"
                   "target@2025-2026 = 60\ntarget_junior@2027-2028 = 70\nmax@2028-2029 = 90\n"
                   "kinds = threshold, trend\n"
                   "[indicator.y]\nname = 另\nunit = %\nmin = 0\nmax = 100\n",
                   err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    static const struct {
        int year;
        double tolerance, target, fluctuation_red;
        int years;
        double primary, junior, max;
    } cases[] = {
        {2024, 0.85, 0.45, 12, 3, 50, 50, 100}, {2025, 0.85, 0.35, 12, 3, 60, 60, 100},
        {2026, 0.9, 0.35, 12, 3, 60, 60, 100},  {2027, 0.9, 0.35, 15, 3, 60, 70, 100},
        {2028, 0.9, 0.35, 15, 3, 60, 70, 90},   {2031, 0.9, 0.35, 15, 4, 60, 70, 90},
    };
    const indicator_t *x = rules_find(r, "x"), *y = rules_find(r, "y");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const rule_params_t *p = rules_params_at(r, cases[i].year);
        const indicator_t *at = rules_indicator_at(r, x, cases[i].year);
        cr_expect_float_eq(p->tolerance, cases[i].tolerance, 1e-12, "%d", cases[i].year);
        cr_expect_float_eq(p->dispersion_target, cases[i].target, 1e-12, "%d", cases[i].year);
        cr_expect_float_eq(p->fluctuation_red, cases[i].fluctuation_red, 1e-12, "%d",
                           cases[i].year);
        cr_expect_eq(p->persistent_years, cases[i].years, "%d", cases[i].year);
        cr_expect_float_eq(at->target[STAGE_PRIMARY], cases[i].primary, 1e-12, "%d", cases[i].year);
        cr_expect_float_eq(at->target[STAGE_JUNIOR], cases[i].junior, 1e-12, "%d", cases[i].year);
        cr_expect_float_eq(at->max, cases[i].max, 1e-12, "%d", cases[i].year);
        cr_expect_str_eq(at->code, "x");
        cr_expect_eq(rules_indicator_at(r, y, cases[i].year), y, "no override: the indicator");
    }
    cr_expect_float_eq(x->target[STAGE_PRIMARY], 50, 1e-12, "the catalog keeps the base");
    rules_destroy(&r);
    // the [dispersion] section, the same as [rules] dispersion_*
    r = s_rules_of("[dispersion]\ntarget = 0.50\ntarget@2025-2026 = 0.40\nlimit_junior = 0.45\n"
                   "[indicator.x]\nname = 某\nunit = %\nmin = 0\nmax = 100\n",
                   err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    cr_expect_float_eq(rules_params_at(r, 2024)->dispersion_target, 0.50, 1e-12);
    cr_expect_float_eq(rules_params_at(r, 2025)->dispersion_target, 0.40, 1e-12);
    cr_expect_eq(rules_county_kinds(r), 0, "no section, no county kind");
    rules_destroy(&r);
}

Test(validate, rules_new_kinds_refusals)
{
    static const char *ind = "[indicator.a]\nname = 甲\nunit = %\nmin = 0\nmax = 100\n"
                             "[indicator.b]\nname = 乙\nunit = %\nmin = 0\nmax = 100\n";
    static const struct {
        const char *text, *expected;
    } cases[] = {
        {"[rules]\ndispersion_target = 0.3\n[dispersion]\ntarget = 0.4\n",
         ":4: [dispersion] dispersion_target is given a second time (first at line 2)"},
        {"[rules]\ntolerance@2025-2026 = 2\n", ":2: tolerance = 2 must be at most 1"},
        {"[rules]\ntolerance@2025 = 0.9\n", ":2: \"tolerance@2025\" is not KEY@YYYY-YYYY"},
        {"[rules]\nfirst_period@2025-2026 = 2024-2025\n",
         ":2: first_period cannot be given per period"},
        {"[rules]\naccept_ahead_years@2025-2026 = 2\n",
         ":2: accept_ahead_years cannot be given per period"},
        {"[rules]\ncolour@2025-2026 = 1\n", ":2: unknown key \"colour\" in section [rules]"},
        {"[rules]\ntolerance@2025-2026 = 0.9\ntolerance@2025-2026 = 0.8\n",
         ":3: key \"tolerance@2025-2026\" is given twice in section [rules]"},
        {"[rules]\nfluctuation_red@2025-2026 = 4\n",
         ":2: from 2025-2026 on, fluctuation_red = 4 is below fluctuation_yellow = 5"},
        {"[dispersion]\ntarget@2027-2028 = 0.7\n",
         ":2: from 2027-2028 on, the dispersion target 0.7 is above every national limit"},
        {"[dispersion]\ntarget = 0.7\n", ":2: the dispersion target 0.7 is above every"},
        {"[indicator.z]\nname = 甲\nunit = %\nmin = 0\nmax = 100\ntarget = 50\n"
         "target@2025-2026 = 150\n",
         ":7: [indicator.z] from 2025-2026 on, a target is outside the bounds"},
        {"[indicator.z]\nname = 甲\nunit = %\nmin = 0\nmax = 100\nname@2025-2026 = 乙\n",
         ":6: name cannot be given per period"},
        {"[indicator.z]\nname = 甲\nunit = %\nmin = 0\nmax = 100\nkinds = trend\n",
         ":1: [indicator.z] has kind trend but no target for each stage"},
        {"[indicator.z]\nname = 甲\nunit = %\nmin = 0\nmax = 100\nkinds = persistent\n",
         ":1: [indicator.z] has kind persistent but neither threshold nor dispersion"},
        {"[indicator.z]\nname = 甲\nunit = %\nmin = 0\nmax = 100\nkinds = capacity\n",
         ":6: kind \"capacity\" is switched on by its own section"},
        {"[capacity]\nenrolment = a\n", ":1: [capacity] needs enrolment and places"},
        {"[capacity]\nenrolment = a\nplaces = zz\n", "names \"zz\", which is not in the catalog"},
        {"[capacity]\nred_next = 1.0\nyellow_next = 1.1\n",
         ":3: [capacity] yellow_next = 1.1 is above red_next = 1"},
        {"[capacity]\ngrowth_pairs = 11\n", ":2: growth_pairs = 11 must be a whole number"},
        {"[trend]\nperiods = 3\nmin_periods = 4\n",
         ":3: [trend] min_periods = 4 is more than periods = 3"},
        {"[persistent]\nyears = 1\n", ":2: years = 1 must be a whole number from 2 to 10"},
        {"[county_balanced]\nshare = 1.5\n", ":2: share = 1.5 must be at most 1"},
        {"[urban_rural_gap]\nyellow = 0.3\nred = 0.2\n",
         ":3: [urban_rural_gap] red = 0.2 is below yellow = 0.3"},
        {"[trend]\nwindow = 5\n", ":2: unknown key \"window\" in section [trend]"},
        {"[check.c]\nrule = a <= b\ncolour = red\n",
         ":3: unknown key \"colour\" in section [check.c]"},
        {"[check.c]\nrule = a << b\n", ":2: rule = \"a << b\" is not \"A <= B\""},
        {"[check.c]\nrule = a <= -2 * b\n", ":2: rule = \"a <= -2 * b\" is not"},
        {"[check.c]\nrule = a <= 2 b\n", ":2: rule = \"a <= 2 b\" is not"},
        {"[check.c]\nrule = a <= b c\n", ":2: rule = \"a <= b c\" is not"},
        {"[check.c]\nrule = a <= zz\n", ":1: [check.c] names an indicator that is not in the "
                                        "catalog: zz"},
        {"[check.c]\nrule = a <= a\n", ":1: [check.c] compares an indicator with itself"},
        {"[check.a]\nrule = a <= b\n", ":1: [check.a] has the name of an indicator"},
        {"[check.c]\nname = 说明\n", ":1: [check.c] has no rule"},
        {"[check.C]\nrule = a <= b\n", ":2: check name \"C\" must be 1 to 39 of a-z"},
        {"[check.c]\nrule@2025-2026 = a <= b\n", ":2: rule cannot be given per period"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *text = NULL, err[512] = "";
        cr_assert(asprintf(&text, "%s%s", cases[i].text, ind) > 0);
        rules_t *r = s_rules_of(text, err, sizeof err);
        cr_expect_null(r, "case %zu accepted", i);
        cr_expect_not_null(strstr(err, cases[i].expected), "case %zu: %s", i, err);
        rules_destroy(&r);
        free(text);
    }
    // and what is accepted: a factor, each comparison, a check before the indicators it names
    static const char *ok[] = {
        "[check.c]\nrule = a<=2*b\n",
        "[check.c]\nrule = a < 0.5 * b\n",
        "[check.c]\nrule = a >= b\n",
        "[check.c]\nrule = a > 1e-3 * b\n",
        "[capacity]\nenrolment = a\nplaces = b\n",
        "[county_balanced]\nshare@2027-2028 = 0.9\n",
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        char *text = NULL, err[512] = "";
        cr_assert(asprintf(&text, "%s%s", ok[i], ind) > 0);
        rules_t *r = s_rules_of(text, err, sizeof err);
        cr_expect_not_null(r, "ok %zu: %s", i, err);
        rules_destroy(&r);
        free(text);
    }
}

static char *s_write(const char *text);

static rules_t *s_rules_of(const char *text, char *err, size_t errlen)
{
    char *path = s_write(text);
    rules_t *r = rules_load(path, err, errlen);
    unlink(path);
    free(path);
    return r;
}

Test(validate, registry)
{
    cr_assert_eq(schools_count(s_schools), 30);
    const school_t *s = schools_find(s_schools, "3143004051");
    cr_assert_not_null(s);
    cr_expect_str_eq(s->name, "第1学校");
    cr_expect_eq(s->stage, STAGE_JUNIOR);
    cr_expect_eq(s->students, 2005);
    cr_expect_null(schools_find(s_schools, "2143999999"));
}

static char *s_write(const char *text)
{
    char *path = strdup("/tmp/test_validate_XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t) strlen(text));
    close(fd);
    return path;
}

Test(validate, registry_refusals)
{
    static const struct { const char *text, *expected; } cases[] = {
        {"", ": file is empty"},
        {"school_code,name,county_code,stage,students\n", ":1: header lacks column \"location\""},
        {"school_code,name,county_code,stage,students,location\n214300405,x,430405,primary,1,urban\n",
         ":2: school_code \"214300405\" is not a 10-digit"},
        {"school_code,name,county_code,stage,students,location\n2143004052,x,43040,primary,1,urban\n",
         ":2: county_code \"43040\""},
        {"school_code,name,county_code,stage,students,location\n2143004052,x,430405,senior,1,urban\n",
         ":2: stage \"senior\" is not primary or junior"},
        {"school_code,name,county_code,stage,students,location\n2143004052,x,430405,primary,0,urban\n",
         ":2: students \"0\" is not a positive"},
        {"school_code,name,county_code,stage,students,location\n2143004052,x,430405,primary,12,city\n",
         ":2: location \"city\""},
        {"school_code,name,county_code,stage,students,location\n2143004052,,430405,primary,12,urban\n",
         ":2: name is empty"},
        {"school_code,name,county_code,stage,students,location\n"
         "2143004052,a,430405,primary,12,urban\n\n2143004052,b,430405,primary,12,urban\n",
         ":4: school_code 2143004052 is registered twice"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *path = s_write(cases[i].text);
        char err[512] = "";
        schools_t *s = schools_load(path, err, sizeof err);
        cr_expect_null(s, "case %zu accepted", i);
        cr_expect(strstr(err, path) == err && strstr(err, cases[i].expected), "case %zu: %s", i,
                  err);
        schools_destroy(&s);
        unlink(path);
        free(path);
    }
}

Test(validate, rules_refusals)
{
    static const char *ok = "[indicator.x]\nname = 某\nunit = %\nmin = 0\nmax = 100\n";
    static const struct { const char *text, *expected; } cases[] = {
        {"[rules]\ntolerance = 2\n", ":2: tolerance = 2 must be at most 1"},
        {"[rules]\ncolour = red\n", ":2: unknown key \"colour\" in section [rules]"},
        {"[rules]\ndeadline = 31-10\n", ":2: deadline = \"31-10\" is not a date"},
        {"[rules]\nfirst_period = 2023\n", ":2: first_period = \"2023\" is not an academic year"},
        {"[indicator.x]\nname = a\nunit = b\nmin = 0\nmax = 1\nkinds = threshold, magic\n",
         ":6: unknown kind \"magic\""},
        {"[indicator.x]\nname = a\nunit = b\nmin = 0\nmax = 1\nkinds = threshold\n",
         ":1: [indicator.x] has kind threshold or balanced but no target"},
        {"[indicator.x]\nname = a\nunit = b\nmin = 5\nmax = 1\n",
         ":5: [indicator.x] min = 5 is not below max = 1"},
        {"[indicator.x]\nunit = b\nmin = 0\nmax = 1\n", ":1: [indicator.x] has no name"},
        {"[indicator.X]\nname = a\n", ":2: indicator code \"X\" may hold only"},
        {"[indicator.x]\nbetter = up\n", ":2: better = \"up\" must be higher or lower"},
        {"[indicator.x]\nname = a\nunit = b\nmin = 0\nmax = 1\ntarget = abc\n", ":6: target = \"abc\" is not a number"},
        {"[indicator.x]\nname = a\nunit = b\nmin = 0\nmax = 1\nkinds = progress\n",
         ":1: [indicator.x] has kind progress but no plan_baseline"},
        {"[rules]\n", ": no [indicator.CODE] section"},
        {"[limits]\nx = 1\n", ":2: unknown section [limits]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *path = s_write(cases[i].text);
        char err[512] = "";
        rules_t *r = rules_load(path, err, sizeof err);
        cr_expect_null(r, "case %zu accepted", i);
        cr_expect(strstr(err, path) == err && strstr(err, cases[i].expected), "case %zu: %s", i,
                  err);
        rules_destroy(&r);
        unlink(path);
        free(path);
    }
    char *path = s_write(ok);
    char err[512] = "";
    rules_t *r = rules_load(path, err, sizeof err);
    cr_expect_not_null(r, "%s", err);
    rules_destroy(&r);
    unlink(path);
    free(path);
}

Test(validate, window_follows_the_present_academic_year)
{
    time_t now;
    const struct {
        const char *now;
        int last;
    } cases[] = {
        {"2025-11-08T12:00:00+08:00", 2026}, // 2025-2026 under way, one ahead
        {"2026-03-01T00:00:00+08:00", 2026}, // still 2025-2026
        {"2026-08-31T23:59:59+08:00", 2026}, // its last second, China time
        {"2026-09-01T00:00:00+08:00", 2027}, // 2026-2027 begins
        {"2026-08-31T16:00:00Z", 2027},      // the same instant, UTC
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cr_assert_eq(period_parse_time(cases[i].now, &now), 0);
        validate_window_t w = validate_window(s_rules, now);
        cr_expect_eq(w.first, 2000, "%s", cases[i].now);
        cr_expect_eq(w.last, cases[i].last, "%s", cases[i].now);
    }
}

Test(validate, window_detail_names_the_years)
{
    verdict_t v;
    validate_record(s_schools, s_rules, &s_window, "2143004052", "2143004052", "training_hours",
                    "2100-2101", 1, &v);
    cr_assert_eq(v.reason, REFUSE_BAD_PERIOD);
    cr_expect_not_null(strstr(v.detail, "2000-2001"), "%s", v.detail);
    cr_expect_not_null(strstr(v.detail, "2026-2027"), "%s", v.detail);
}

Test(validate, bounds_of_the_period)
{
    char err[512] = "";
    rules_t *r = s_rules_of("[indicator.x]\nname = 某\nunit = %\nmin = 0\nmax = 100\n"
                            "max@2025-2026 = 90\n",
                            err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    verdict_t v;
    validate_record(s_schools, r, &s_window, "2143004052", "2143004052", "x", "2024-2025", 95, &v);
    cr_expect_eq(v.reason, REFUSE_NONE, "2024-2025: up to 100");
    validate_record(s_schools, r, &s_window, "2143004052", "2143004052", "x", "2025-2026", 95, &v);
    cr_expect_eq(v.reason, REFUSE_OUT_OF_RANGE, "2025-2026: up to 90");
    cr_expect_not_null(strstr(v.detail, "[0, 90]"), "%s", v.detail);
    rules_destroy(&r);
}

/*  Judges period under a window from r at now; returns the verdict. */
static verdict_t s_judge_period(const rules_t *r, time_t now, const char *period)
{
    validate_window_t w = validate_window(r, now);
    verdict_t v;
    validate_record(s_schools, r, &w, "2143004052", "2143004052", "x", period, 50, &v);
    return v;
}

Test(validate, window_of_keys_not_at_their_defaults)
{
    static const char *ind = "[indicator.x]\nname = 某\nunit = %\nmin = 0\nmax = 100\n";
    const struct {
        const char *rules, *now, *period;
        const char *reason; // NULL: accepted
    } cases[] = {
        // from 2010-2011 to the present academic year, none ahead
        {"accept_from = 2010-2011\naccept_ahead_years = 0\n", "2025-11-08T12:00:00+08:00",
         "2010-2011", NULL},
        {"accept_from = 2010-2011\naccept_ahead_years = 0\n", "2025-11-08T12:00:00+08:00",
         "2009-2010", "bad_period"},
        {"accept_from = 2010-2011\naccept_ahead_years = 0\n", "2025-11-08T12:00:00+08:00",
         "2025-2026", NULL},
        {"accept_from = 2010-2011\naccept_ahead_years = 0\n", "2025-11-08T12:00:00+08:00",
         "2026-2027", "bad_period"},
        // the last second of 2025-2026 (China time), then the first of 2026-2027
        {"accept_from = 2010-2011\naccept_ahead_years = 0\n", "2026-08-31T23:59:59+08:00",
         "2026-2027", "bad_period"},
        {"accept_from = 2010-2011\naccept_ahead_years = 0\n", "2026-09-01T00:00:00+08:00",
         "2026-2027", NULL},
        {"accept_from = 2010-2011\naccept_ahead_years = 0\n", "2026-09-01T00:00:00+08:00",
         "2027-2028", "bad_period"},
        // accept_ahead_years at its upper bound, 10
        {"accept_from = 2010-2011\naccept_ahead_years = 10\n", "2025-11-08T12:00:00+08:00",
         "2035-2036", NULL},
        {"accept_from = 2010-2011\naccept_ahead_years = 10\n", "2025-11-08T12:00:00+08:00",
         "2036-2037", "bad_period"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *text = NULL, err[512] = "";
        cr_assert(asprintf(&text, "[rules]\n%s%s", cases[i].rules, ind) > 0);
        rules_t *r = s_rules_of(text, err, sizeof err);
        cr_assert_not_null(r, "case %zu: %s", i, err);
        time_t now;
        cr_assert_eq(period_parse_time(cases[i].now, &now), 0);
        verdict_t v = s_judge_period(r, now, cases[i].period);
        const char *name = refusal_name(v.reason);
        if (cases[i].reason)
            cr_expect_str_eq(name ? name : "(none)", cases[i].reason, "case %zu: %s", i, v.detail);
        else
            cr_expect_eq(v.reason, REFUSE_NONE, "case %zu: %s", i, v.detail);
        rules_destroy(&r);
        free(text);
    }
}

Test(validate, window_detail_names_keys_not_at_their_defaults)
{
    char err[512] = "";
    rules_t *r = s_rules_of("[rules]\naccept_from = 2010-2011\naccept_ahead_years = 0\n"
                            "[indicator.x]\nname = 某\nunit = %\nmin = 0\nmax = 100\n",
                            err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    time_t now;
    cr_assert_eq(period_parse_time("2025-11-08T12:00:00+08:00", &now), 0);
    verdict_t v = s_judge_period(r, now, "2009-2010");
    cr_assert_eq(v.reason, REFUSE_BAD_PERIOD);
    cr_expect_str_eq(v.column, "period");
    cr_expect_not_null(strstr(v.detail, "2010-2011 to 2025-2026"), "%s", v.detail);
    rules_destroy(&r);
}

Test(validate, window_keys_refused_beyond_their_bounds)
{
    static const struct { const char *text, *expected; } cases[] = {
        {"[rules]\naccept_ahead_years = 11\n",
         ":2: accept_ahead_years = 11 must be a whole number from 0 to 10"},
        {"[rules]\naccept_ahead_years = -1\n",
         ":2: accept_ahead_years = -1 must be a whole number from 0 to 10"},
        {"[rules]\naccept_ahead_years = 0.5\n",
         ":2: accept_ahead_years = 0.5 must be a whole number from 0 to 10"},
        {"[rules]\naccept_from = 2010\n", ":2: accept_from = \"2010\" is not an academic year"},
        {"[rules]\naccept_from = 2010-2012\n",
         ":2: accept_from = \"2010-2012\" is not an academic year"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *text = NULL, err[512] = "";
        cr_assert(asprintf(&text, "%s[indicator.x]\nname = 某\nunit = %%\nmin = 0\nmax = 100\n",
                           cases[i].text) > 0);
        rules_t *r = s_rules_of(text, err, sizeof err);
        cr_expect_null(r, "case %zu accepted", i);
        cr_expect_not_null(strstr(err, cases[i].expected), "case %zu: %s", i, err);
        rules_destroy(&r);
        free(text);
    }
}
