/*  query - the requests readers send to the aggregator's `query` endpoint (docs/protocol.md)
 *
 *  Parsing only, so that it can be tested and fuzzed alone; aggregator.c answers.
 */
#ifndef EDU_QUERY_H
#define EDU_QUERY_H

#include <stddef.h>
#include <stdint.h>

#define QUERY_MAX_LIMIT 100000 // most rows in one page

typedef struct {
    char county[7];  // the county the puller expects, 6 digits
    uint64_t cursor; // rows after this version
    long limit;      // at most this many rows (1..QUERY_MAX_LIMIT)
} query_pull_t;

/*  Parses the frames of a pull after "pull": county, cursor, limit (any may be NULL when the
 *  frame is missing). Returns 0 and fills out, or -1 with err saying what is wrong. */
int query_parse_pull(const char *county, const char *cursor, const char *limit, query_pull_t *out,
                     char *err, size_t errlen);

#endif
