/*  query - the requests readers send to the aggregator's `query` endpoint */
#include "query.h"

#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool s_digits(const char *s, size_t min, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    return n >= min && n <= max && strspn(s, "0123456789") == n;
}

int query_parse_pull(const char *county, const char *cursor, const char *limit, query_pull_t *out,
                     char *err, size_t errlen)
{
    if (!s_digits(county, 6, 6))
        return errorf(err, errlen, "malformed pull: county \"%.16s\" is not 6 digits",
                      county ? county : "");
    if (!s_digits(cursor, 1, 20))
        return errorf(err, errlen, "malformed pull: cursor \"%.24s\" is not a number",
                      cursor ? cursor : "");
    if (!s_digits(limit, 1, 6))
        return errorf(err, errlen, "malformed pull: limit \"%.24s\" is not a number",
                      limit ? limit : "");
    errno = 0;
    unsigned long long c = strtoull(cursor, NULL, 10);
    if (errno == ERANGE || c > INT64_MAX)
        return errorf(err, errlen, "malformed pull: cursor %.24s is too large", cursor);
    long l = strtol(limit, NULL, 10);
    if (l < 1 || l > QUERY_MAX_LIMIT)
        return errorf(err, errlen, "malformed pull: limit %ld is not within 1..%d", l,
                      QUERY_MAX_LIMIT);
    memcpy(out->county, county, 7);
    out->cursor = (uint64_t) c;
    out->limit = l;
    return 0;
}
