/*  test_query - the province's pull request, parsed */
#include "query.h"

#include <criterion/criterion.h>
#include <string.h>

Test(query, pull_accepted)
{
    query_pull_t pull;
    char err[256];
    cr_assert_eq(query_parse_pull("430405", "0", "5000", &pull, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(pull.county, "430405");
    cr_expect_eq(pull.cursor, 0);
    cr_expect_eq(pull.limit, 5000);
    cr_assert_eq(query_parse_pull("430405", "9223372036854775807", "100000", &pull, err,
                                  sizeof err),
                 0, "%s", err);
    cr_expect_eq(pull.cursor, 9223372036854775807ULL);
}

Test(query, pull_refused)
{
    static const struct { const char *county, *cursor, *limit, *expected; } cases[] = {
        {NULL, "0", "1", "county \"\" is not 6 digits"},
        {"4304", "0", "1", "county \"4304\" is not 6 digits"},
        {"43040x", "0", "1", "is not 6 digits"},
        {"430405", NULL, "1", "cursor \"\" is not a number"},
        {"430405", "-1", "1", "cursor \"-1\" is not a number"},
        {"430405", "12ab", "1", "is not a number"},
        {"430405", "99999999999999999999", "1", "is too large"},
        {"430405", "9223372036854775808", "1", "is too large"},
        {"430405", "0", NULL, "limit \"\" is not a number"},
        {"430405", "0", "0", "limit 0 is not within 1..100000"},
        {"430405", "0", "100001", "is not within"},
        {"430405", "0", "1e3", "is not a number"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        query_pull_t pull;
        char err[256] = "";
        cr_expect_eq(query_parse_pull(cases[i].county, cases[i].cursor, cases[i].limit, &pull, err,
                                      sizeof err),
                     -1, "case %zu accepted", i);
        cr_expect(strstr(err, cases[i].expected) != NULL, "case %zu: \"%s\" lacks \"%s\"", i, err,
                  cases[i].expected);
    }
}
