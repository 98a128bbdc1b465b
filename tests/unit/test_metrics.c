/*  test_metrics - the registry's text exposition: one family per TYPE with all its samples
 *  after its own header, series kept at zero, edu_build_info, escaped labels, values as the
 *  format spells them */
#include "metrics.h"

#include <criterion/criterion.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TestSuite(metrics);

/*  What follows the build info every registry starts with. */
static const char *s_after_build_info(const char *text)
{
    const char *p = strstr(text, "\nedu_build_info{");
    cr_assert_not_null(p, "no edu_build_info sample in:\n%s", text);
    p = strchr(p + 1, '\n');
    cr_assert_not_null(p);
    return p + 1;
}

static bool s_matches(const char *text, const char *pattern)
{
    regex_t re;
    cr_assert_eq(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB | REG_NEWLINE), 0, "%s", pattern);
    bool found = regexec(&re, text, 0, NULL, 0) == 0;
    regfree(&re);
    return found;
}

/*  The family a sample belongs to, given the type of the family whose header came last. */
static bool s_sample_of(const char *sample, size_t len, const char *family, const char *type)
{
    size_t flen = strlen(family);
    if (len == flen && strncmp(sample, family, flen) == 0)
        return strcmp(type, "histogram") != 0;
    if (strcmp(type, "histogram") != 0 || len <= flen || strncmp(sample, family, flen) != 0)
        return false;
    const char *suffix = sample + flen;
    size_t slen = len - flen;
    return (slen == 7 && strncmp(suffix, "_bucket", 7) == 0) ||
           (slen == 4 && strncmp(suffix, "_sum", 4) == 0) ||
           (slen == 6 && strncmp(suffix, "_count", 6) == 0);
}

/*  Checks the exposition's shape: every line ends in a newline; HELP then TYPE open a family,
 *  once per name; every sample belongs to the family whose header came last. */
static void s_check_shape(const char *text)
{
    char family[128] = "", type[32] = "";
    char seen[64][128];
    size_t families = 0;
    cr_assert(*text == '\0' || text[strlen(text) - 1] == '\n', "ends in a newline");
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = (size_t) (end - line);
        char name[128];
        if (sscanf(line, "# TYPE %127s %31s", name, type) == 2) {
            for (size_t i = 0; i < families; i++)
                cr_assert_str_neq(seen[i], name, "a second TYPE line for %s:\n%s", name, text);
            cr_assert_lt(families, 64);
            snprintf(seen[families++], sizeof seen[0], "%s", name);
            snprintf(family, sizeof family, "%s", name);
        } else if (sscanf(line, "# HELP %127s", name) == 1) {
            cr_assert(strncmp(end + 1, "# TYPE ", 7) == 0, "HELP %s is followed by its TYPE", name);
        } else {
            cr_assert_neq(line[0], '#', "an unknown comment: %.*s", (int) len, line);
            size_t nlen = strcspn(line, "{ ");
            cr_assert(*family, "a sample before any TYPE: %.*s", (int) len, line);
            cr_assert(s_sample_of(line, nlen, family, type), "%.*s follows the header of %s:\n%s",
                      (int) len, line, family, text);
        }
        line = end + 1;
    }
}

Test(metrics, every_registry_says_which_build_it_is)
{
    metrics_t *m = metrics_new();
    char *text = metrics_render(m);
    cr_expect(s_matches(text, "^# TYPE edu_build_info gauge$"), "%s", text);
    cr_expect(s_matches(text, "^edu_build_info\\{version=\"" EDU_VERSION
                              "\",compiler=\"(gcc|clang) [^\"]+\"\\} 1$"),
              "%s", text);
    s_check_shape(text);
    free(text);
    metrics_destroy(&m);
    cr_expect_null(m);
    metrics_destroy(&m); // safe twice
}

Test(metrics, each_family_has_all_its_samples_after_its_own_header)
{
    metrics_t *m = metrics_new();
    metrics_declare(m, "edu_a_total", "counter", "a");
    metrics_declare(m, "edu_b", "gauge", "b");
    metrics_declare(m, "edu_c_seconds", "histogram", "c");
    // updated in an order that interleaves the families
    metrics_add(m, "edu_a_total", "reason=\"x\"", 1);
    metrics_set(m, "edu_b", NULL, 2);
    metrics_observe(m, "edu_c_seconds", 0.003);
    metrics_add(m, "edu_a_total", "reason=\"y\"", 3);
    metrics_add(m, "edu_undeclared", NULL, 1);
    metrics_add(m, "edu_a_total", "reason=\"x\"", 1);
    char *text = metrics_render(m);
    cr_expect_str_eq(s_after_build_info(text), "# HELP edu_a_total a\n"
                                               "# TYPE edu_a_total counter\n"
                                               "edu_a_total{reason=\"x\"} 2\n"
                                               "edu_a_total{reason=\"y\"} 3\n"
                                               "# HELP edu_b b\n"
                                               "# TYPE edu_b gauge\n"
                                               "edu_b 2\n"
                                               "# HELP edu_c_seconds c\n"
                                               "# TYPE edu_c_seconds histogram\n"
                                               "edu_c_seconds_bucket{le=\"0.001\"} 0\n"
                                               "edu_c_seconds_bucket{le=\"0.0025\"} 0\n"
                                               "edu_c_seconds_bucket{le=\"0.005\"} 1\n"
                                               "edu_c_seconds_bucket{le=\"0.01\"} 1\n"
                                               "edu_c_seconds_bucket{le=\"0.025\"} 1\n"
                                               "edu_c_seconds_bucket{le=\"0.05\"} 1\n"
                                               "edu_c_seconds_bucket{le=\"0.1\"} 1\n"
                                               "edu_c_seconds_bucket{le=\"0.25\"} 1\n"
                                               "edu_c_seconds_bucket{le=\"0.5\"} 1\n"
                                               "edu_c_seconds_bucket{le=\"1\"} 1\n"
                                               "edu_c_seconds_bucket{le=\"2.5\"} 1\n"
                                               "edu_c_seconds_bucket{le=\"5\"} 1\n"
                                               "edu_c_seconds_bucket{le=\"10\"} 1\n"
                                               "edu_c_seconds_bucket{le=\"+Inf\"} 1\n"
                                               "edu_c_seconds_sum 0.0030000000000000001\n"
                                               "edu_c_seconds_count 1\n"
                                               "# HELP edu_undeclared \n"
                                               "# TYPE edu_undeclared untyped\n"
                                               "edu_undeclared 1\n");
    s_check_shape(text);
    free(text);
    metrics_destroy(&m);
}

Test(metrics, zero_series_exist_before_their_first_event)
{
    metrics_t *m = metrics_new();
    metrics_declare(m, "edu_refused_total", "counter", "r");
    metrics_declare(m, "edu_commit_seconds", "histogram", "h");
    metrics_zero(m, "edu_refused_total", "reason=\"out_of_range\"");
    metrics_zero(m, "edu_refused_total", "reason=\"bad_period\"");
    metrics_zero(m, "edu_commit_seconds", NULL);
    metrics_add(m, "edu_refused_total", "reason=\"bad_period\"", 2);
    metrics_zero(m, "edu_refused_total", "reason=\"bad_period\""); // does not reset it
    char *text = metrics_render(m);
    cr_expect(s_matches(text, "^edu_refused_total\\{reason=\"out_of_range\"\\} 0$"), "%s", text);
    cr_expect(s_matches(text, "^edu_refused_total\\{reason=\"bad_period\"\\} 2$"), "%s", text);
    cr_expect(s_matches(text, "^edu_commit_seconds_bucket\\{le=\"\\+Inf\"\\} 0$"), "%s", text);
    cr_expect(s_matches(text, "^edu_commit_seconds_sum 0$"), "%s", text);
    cr_expect(s_matches(text, "^edu_commit_seconds_count 0$"), "%s", text);
    s_check_shape(text);
    free(text);
    metrics_destroy(&m);
}

Test(metrics, set_all_keeps_a_series_that_fell_to_none_at_zero)
{
    metrics_t *m = metrics_new();
    metrics_declare(m, "edu_warnings", "gauge", "w");
    const char *labels[] = {"level=\"red\",kind=\"threshold\"",
                            "level=\"yellow\",kind=\"missing\""};
    double values[] = {4, 2};
    metrics_set_all(m, "edu_warnings", 2, labels, values);
    double now[] = {1};
    metrics_set_all(m, "edu_warnings", 1, labels + 1, now); // the red ones were resolved
    char *text = metrics_render(m);
    cr_expect_str_eq(s_after_build_info(text),
                     "# HELP edu_warnings w\n"
                     "# TYPE edu_warnings gauge\n"
                     "edu_warnings{level=\"red\",kind=\"threshold\"} 0\n"
                     "edu_warnings{level=\"yellow\",kind=\"missing\"} 1\n");
    free(text);
    metrics_set_all(m, "edu_warnings", 0, NULL, NULL);
    text = metrics_render(m);
    cr_expect(s_matches(text, "^edu_warnings\\{level=\"yellow\",kind=\"missing\"\\} 0$"), "%s",
              text);
    free(text);
    metrics_clear(m, "edu_warnings"); // unknown now: the family has no sample
    text = metrics_render(m);
    cr_expect_str_eq(s_after_build_info(text), "# HELP edu_warnings w\n"
                                               "# TYPE edu_warnings gauge\n");
    s_check_shape(text);
    free(text);
    metrics_destroy(&m);
}

Test(metrics, label_values_are_escaped)
{
    char *labels = metrics_labels("destination", "webhook.\"a\\b\"\nc", "kind", "", NULL);
    cr_expect_str_eq(labels, "destination=\"webhook.\\\"a\\\\b\\\"\\nc\",kind=\"\"");
    free(labels);
    labels = metrics_labels("only", "x", NULL);
    cr_expect_str_eq(labels, "only=\"x\"");
    free(labels);
}

Test(metrics, values_are_spelled_as_the_format_wants)
{
    static const struct {
        double value;
        const char *text;
    } cases[] = {
        {NAN, "NaN"},   {INFINITY, "+Inf"}, {-INFINITY, "-Inf"}, {0, "0"},
        {-0.5, "-0.5"}, {1e21, "1e+21"},    {65536, "65536"},    {0.1, "0.10000000000000001"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        metrics_t *m = metrics_new();
        metrics_declare(m, "edu_v", "gauge", "v");
        metrics_set(m, "edu_v", NULL, cases[i].value);
        char *text = metrics_render(m);
        char want[64];
        snprintf(want, sizeof want, "edu_v %s\n", cases[i].text);
        cr_expect(strstr(text, want), "want \"%s\" in:\n%s", cases[i].text, text);
        free(text);
        metrics_destroy(&m);
    }
}

Test(metrics, a_series_too_long_for_a_line_is_left_out_whole)
{
    metrics_t *m = metrics_new();
    metrics_declare(m, "edu_long", "gauge", "l");
    char *value = calloc(1, 2001);
    memset(value, 'x', 2000);
    char *labels = metrics_labels("v", value, NULL);
    metrics_set(m, "edu_long", labels, 1);
    metrics_set(m, "edu_long", "v=\"short\"", 2);
    char *text = metrics_render(m);
    cr_expect_null(strstr(text, "xxxx"), "no part of the long series");
    cr_expect(s_matches(text, "^edu_long\\{v=\"short\"\\} 2$"), "%s", text);
    s_check_shape(text);
    free(text);
    free(labels);
    free(value);
    metrics_destroy(&m);
}
