/*  test_rules - what --check refuses in a rules file, each with its line: a deadline that is no
 *  date, a target outside its indicator's bounds, limits in the wrong order, a key or section
 *  given twice */
#include "rules.h"
#include "util.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *s_write(const char *text)
{
    char *path = xstrdup("/tmp/test_rules_XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t) strlen(text));
    close(fd);
    return path;
}

/*  rules_load of text; NULL when it loads, else its error (caller frees). */
static char *s_refusal(const char *text)
{
    char *path = s_write(text);
    char err[1024] = "";
    rules_t *rules = rules_load(path, err, sizeof err);
    char *refusal = NULL;
    if (!rules) {
        cr_expect(strncmp(err, path, strlen(path)) == 0, "no file name in \"%s\"", err);
        refusal = xstrdup(err + strlen(path));
    }
    rules_destroy(&rules);
    unlink(path);
    free(path);
    return refusal;
}

// one indicator that passes, to follow a [rules] section under test
#define S_OK_INDICATOR                                                                             \
    "[indicator.x]\nname = 某\nunit = %\nbetter = higher\ntarget = 50\nmin = 0\nmax = 100\n"      \
    "kinds = threshold\n"

typedef struct {
    const char *text;     // the file
    const char *expected; // NULL: loads; else the refusal from the ":LINE:" on
} s_case_t;

static void s_run(const s_case_t *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *refusal = s_refusal(cases[i].text);
        if (!cases[i].expected)
            cr_expect_null(refusal, "case %zu refused: %s", i, refusal);
        else
            cr_expect(refusal && strstr(refusal, cases[i].expected) == refusal,
                      "case %zu: \"%s\" does not start with \"%s\"", i, refusal, cases[i].expected);
        free(refusal);
    }
}

Test(rules, deadlines_are_dates_of_every_year)
{
    static const s_case_t cases[] = {
        {"[rules]\ndeadline = 10-31\n" S_OK_INDICATOR, NULL},
        {"[rules]\ndeadline = 02-28\n" S_OK_INDICATOR, NULL},
        {"[rules]\ndeadline = 12-31\n" S_OK_INDICATOR, NULL},
        {"[rules]\ndeadline = 01-01\n" S_OK_INDICATOR, NULL},
        {"[rules]\ndeadline = 02-30\n" S_OK_INDICATOR, ":2: deadline = \"02-30\" is not a date"},
        {"[rules]\ndeadline = 02-29\n" S_OK_INDICATOR,
         ":2: deadline = \"02-29\" is not a date: write the month and day of every year, MM-DD "
         "like 10-31 (02-29 is missing three years in four)"},
        {"[rules]\ndeadline = 13-01\n" S_OK_INDICATOR, ":2: deadline = \"13-01\" is not a date"},
        {"[rules]\ndeadline = 00-10\n" S_OK_INDICATOR, ":2: deadline = \"00-10\" is not a date"},
        {"[rules]\ndeadline = 04-31\n" S_OK_INDICATOR, ":2: deadline = \"04-31\" is not a date"},
        {"[rules]\ndeadline = 11-31\n" S_OK_INDICATOR, ":2: deadline = \"11-31\" is not a date"},
        {"[rules]\ndeadline = 10-00\n" S_OK_INDICATOR, ":2: deadline = \"10-00\" is not a date"},
        {"[rules]\ndeadline = 1-31\n" S_OK_INDICATOR, ":2: deadline = \"1-31\" is not a date"},
        {"[rules]\ndeadline = 10-31x\n" S_OK_INDICATOR, ":2: deadline = \"10-31x\" is not a date"},
        {"[rules]\ndeadline = 2025-10-31\n" S_OK_INDICATOR, ":2: deadline = \"2025-10-31\" is not"},
    };
    s_run(cases, sizeof cases / sizeof *cases);
}

Test(rules, targets_within_bounds)
{
    static const s_case_t cases[] = {
        {"[indicator.x]\nname = a\nunit = b\ntarget = 0\nmin = 0\nmax = 1\nkinds = threshold\n",
         NULL},
        {"[indicator.x]\nname = a\nunit = b\ntarget = 1\nmin = 0\nmax = 1\nkinds = threshold\n",
         NULL},
        {"[indicator.x]\nname = a\nunit = b\ntarget = 1.5\nmin = 0\nmax = 1\nkinds = threshold\n",
         ":4: [indicator.x] target = 1.5 is outside the bounds min = 0, max = 1: a target must be "
         "a value the indicator can take"},
        {"[indicator.x]\nname = a\nunit = b\nmin = 1\nmax = 200\ntarget = 0.5\n",
         ":6: [indicator.x] target = 0.5 is outside the bounds min = 1, max = 200"},
        {"[indicator.x]\nname = a\nunit = b\nmin = 0\nmax = 100\ntarget_primary = 4.2\n"
         "target_junior = 530\nkinds = threshold\n",
         ":7: [indicator.x] target_junior = 530 is outside the bounds min = 0, max = 100"},
        {"[indicator.x]\nname = a\nunit = b\nmin = 0\nmax = 100\ntarget = 50\n"
         "target_primary = -1\nkinds = threshold\n",
         ":7: [indicator.x] target_primary = -1 is outside the bounds"},
        // an indicator without a target (fluctuation only) has nothing to check
        {"[indicator.x]\nname = a\nunit = b\nmin = 0\nmax = 100\nkinds = fluctuation\n", NULL},
    };
    s_run(cases, sizeof cases / sizeof *cases);
}

Test(rules, limits_in_order)
{
    static const s_case_t cases[] = {
        {"[rules]\nfluctuation_yellow = 5\nfluctuation_red = 5\n" S_OK_INDICATOR, NULL},
        {"[rules]\nfluctuation_yellow = 5\nfluctuation_red = 4\n" S_OK_INDICATOR,
         ":3: [rules] fluctuation_red = 4 is below fluctuation_yellow = 5 (line 2): the worsening "
         "that turns red must be at least the one that turns yellow"},
        {"[rules]\nfluctuation_yellow = 13\n" S_OK_INDICATOR,
         ":2: [rules] fluctuation_red = 12 is below fluctuation_yellow = 13 (line 2)"},
        {"[rules]\nfluctuation_red = 3\n" S_OK_INDICATOR,
         ":2: [rules] fluctuation_red = 3 is below fluctuation_yellow = 5 (the default)"},
        // a stage whose national limit is below the county target is green up to its limit
        {"[rules]\ndispersion_target = 0.30\ndispersion_limit_junior = 0.29\n" S_OK_INDICATOR,
         NULL},
        {"[rules]\ndispersion_target = 0.6\n" S_OK_INDICATOR,
         ":2: the dispersion target 0.6 is above every national limit (0.5 小学, 0.45 初中)"},
        {"[rules]\njump_low = 1.2\n" S_OK_INDICATOR,
         ":2: [rules] jump_low = 1.2, jump_high = 2: jump_low must be below 1 and jump_high above "
         "1"},
        {"[rules]\njump_high = 0.9\n" S_OK_INDICATOR,
         ":2: [rules] jump_low = 0.5, jump_high = 0.9"},
        {"[rules]\ntolerance = 1.2\n" S_OK_INDICATOR, ":2: tolerance = 1.2 must be at most 1"},
        {"[indicator.x]\nname = a\nunit = b\nmin = 5\nmax = 1\n",
         ":5: [indicator.x] min = 5 is not below max = 1: give the lower bound as min and the "
         "upper as max"},
        {"[indicator.x]\nname = a\nunit = b\nmax = -1\n",
         ":4: [indicator.x] min = 0 is not below max = -1"},
        {"[indicator.x]\nname = a\nunit = b\n",
         ":1: [indicator.x] min = 0 is not below max = 0: add the bounds min and max"},
    };
    s_run(cases, sizeof cases / sizeof *cases);
}

Test(rules, given_twice)
{
    static const s_case_t cases[] = {
        {"[rules]\ntolerance = 0.8\ntolerance = 0.9\n" S_OK_INDICATOR,
         ":3: key \"tolerance\" is given twice in section [rules] (lines 2 and 3): keep one"},
        {S_OK_INDICATOR "[indicator.x]\nmax = 90\n",
         ":9: section [indicator.x] is given twice (lines 1 and 9): merge them into one"},
        {"[rules]\ntolerance = 0.8\n" S_OK_INDICATOR "[rules]\ndeadline = 10-31\n",
         ":11: section [rules] is given twice (lines 1 and 11)"},
        // target and target_primary are two keys: the stage's own one wins
        {"[indicator.x]\nname = a\nunit = b\nmin = 0\nmax = 100\ntarget = 5\ntarget_primary = 6\n"
         "kinds = threshold\n",
         NULL},
    };
    s_run(cases, sizeof cases / sizeof *cases);
}

Test(rules, the_shipped_catalog_loads)
{
    char err[1024] = "";
    rules_t *rules = rules_load(EDU_SOURCE_DIR "/deploy/rules.ini", err, sizeof err);
    cr_assert_not_null(rules, "%s", err);
    cr_expect_eq(rules_count(rules), 19);
    cr_expect_eq(rules_params(rules)->deadline_month, 10);
    cr_expect_eq(rules_params(rules)->deadline_day, 31);
    rules_destroy(&rules);
}
