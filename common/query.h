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
 *    [QUERY_PULL][...]["2"]                 → the same, then [periods][late changes][cases]
 *
 *  The county's sign-off of a year (docs/approval.md):
 *    [QUERY_APPROVE][period][note][checked case ids]   a supervisor
 *    [QUERY_UNLOCK][period][reason]                    a supervisor
 *    [QUERY_ACCEPT][county][period]                    the province
 *    [QUERY_RETURN][county][period][reason]            the province
 *
 *  The response loop (readers may list; supervisors may also act; docs/cases.md):
 *    [QUERY_CASES][json|text][state][school][overdue 1|0][summary 1|0]  → [ok][lines]
 *    [QUERY_ACK][id][note]                  → [ok][what was done, for a person]
 *    [QUERY_ASSIGN][id][to][due YYYY-MM-DD][plan]
 *    [QUERY_NOTE][id][note]
 *    [QUERY_CLOSE][id][note]                销号: refused while the warning is not green
 *    [QUERY_SILENCE][k=v,k=v][until][comment]   (until: ISO 8601, or a duration 2d, 12h)
 *    [QUERY_UNSILENCE][id]
 *    [QUERY_SILENCES][json|text]            → [ok][lines]
 *
 *  Who may ask what is decided by the class of the asking key (the gate's GATE_CLASS_*): readers
 *  read, supervisors read and act, the province pulls (and accepts or returns a year).
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
#define QUERY_CASES "cases"               // the cases, filtered, or their summary (评估)
#define QUERY_ACK "ack"                   // a supervisor has seen a case
#define QUERY_ASSIGN "assign"             // a responsible person, a plan and a due date
#define QUERY_NOTE "note"                 // a note on a case
#define QUERY_CLOSE "close"               // 销号
#define QUERY_SILENCE "silence"           // hold matching alerts back from people
#define QUERY_UNSILENCE "unsilence"       // lift a silence
#define QUERY_SILENCES "silences"         // the silences
#define QUERY_APPROVE "approve"           // a supervisor approves (locks) a year
#define QUERY_UNLOCK "unlock"             // ... or unlocks it again
#define QUERY_ACCEPT "accept"             // the province accepts a county's approved year
#define QUERY_RETURN "return"             // ... or returns it, with a reason
#define QUERY_PULL_VERSION "2"            // a pull's 5th frame: the answer with the v2 parts

// bounds of what a request may carry
#define QUERY_MAX_NOTE 2000  // bytes of a note, plan or comment
#define QUERY_MAX_NAME 64    // bytes of a person's name

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
