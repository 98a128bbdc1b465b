/*  query - the requests and replies of the county's `query` endpoint (docs/protocol.md)
 *
 *  Spelled once for the aggregator, which answers (aggregator/query_server.c), and for
 *  edu-province and edu-alerts, which ask. Every request is a multipart message whose first
 *  frame names it; every reply starts with QUERY_OK or QUERY_ERROR (then one frame: why).
 *
 *    [QUERY_CURRENT]                        → [ok][one JSON object per line]
 *    [QUERY_CURRENT_TEXT]                   → [ok][one line per warning, for a terminal]
 *    [QUERY_PULL][county][cursor][limit]    → [ok][county][next cursor][more: 1 or 0]
 *                                             [aggregates as COPY text][warning changes]
 *
 *  Parsing is here too, so that it can be tested and fuzzed alone.
 */
#ifndef EDU_QUERY_H
#define EDU_QUERY_H

#include <stddef.h>
#include <stdint.h>

#define QUERY_MAX_LIMIT 100000 // most rows in one page
#define QUERY_MAX_REQUEST 65536 // most bytes of one request

// requests
#define QUERY_CURRENT "current"           // what is yellow or red now, as JSON lines
#define QUERY_CURRENT_TEXT "current text" // the same for a person
#define QUERY_PULL "pull"                 // the province's page of aggregates

// replies
#define QUERY_OK "ok"       // then the answer's frames
#define QUERY_ERROR "error" // then one frame: why, in PostgreSQL's message style

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
