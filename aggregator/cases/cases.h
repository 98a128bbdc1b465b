/*  cases - after the warning: the response loop (监测 → 预警 → 响应 → 评估)
 *
 *  A case (整改事项) follows one warning item (kind × subject × stage × indicator × period):
 *
 *    open ──ack──▶ acknowledged ──assign──▶ assigned ──(warning green)──▶ resolved ──close──▶ closed
 *      ▲                                                                         (销号, a note)
 *      └──────── reopened (回头看): the warning turns yellow or red again within reopen_days
 *
 *  - A case opens by itself when its warning turns red, or stays yellow yellow_days (a
 *    data_quality warning, which is never red, opens a verification case, 核查, at once). At
 *    most one case of an item is not closed; it keeps the warning's latest level.
 *  - resolved follows the warning: green makes the case resolved, yellow or red again makes it
 *    active again. Closing (销号) is a supervisor's act and is refused while the warning is not
 *    green (query_server.c).
 *  - Overdue — not closed by its due date, or not acknowledged within ack_days — escalates the
 *    case (挂牌督办) once per cycle, with a red alert of kind `case_overdue`.
 *  - A case closed less than reopen_days ago whose warning turns yellow or red again reopens
 *    (the same case, `reopened` + 1), with an alert of kind `case_reopened`.
 *  - People's destinations get a reminder of the red cases still open every repeat_days, and,
 *    at a county's first judgement (or a full re-judge after new rules), one digest instead of
 *    an alert per item (the machines' destinations still get every item).
 *
 *  Every act is a row of edu.case_log, which the working role may add to but never change;
 *  edu.case derives each case's state from them. Everything here runs inside the writer's
 *  transaction, after the evaluator has written the batch's (or the sweep's) changes, so cases
 *  follow warnings exactly once; `now` is EDU_NOW's clock (period_now).
 */
#ifndef EDU_CASES_H
#define EDU_CASES_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

typedef struct {
    long yellow_days;  // a yellow warning opens a case after this many days
    long ack_days;     // a case not acknowledged within this many days is escalated
    long reopen_days;  // a closed case reopens when its warning returns within this
    long repeat_s;     // people are reminded of open red cases this often, seconds (0 = never)
    long digest_items; // a full judgement with more alerts than this becomes one digest
    const char *dashboard; // the dashboard's address for links ("" = none)
} cases_config_t;

/*  The actor shown for what the system does by itself. */
#define CASES_SYSTEM "system"

/*  Follows the warnings: for the items whose warning changed since the engine's cursor (every
 *  item when full), opens, resolves, re-levels and reopens cases; moves the cursor. Inside the
 *  caller's transaction on conn. Returns 0, or -1 with err. */
int cases_apply(PGconn *conn, const cases_config_t *config, time_t now, bool full, char *err,
                size_t errlen);

/*  What time makes due: cases of items yellow for yellow_days, escalations of overdue cases
 *  (with their alerts), and the reminder of open red cases. Inside the caller's transaction.
 *  Returns the number of events written, or -1 with err. */
int cases_sweep(PGconn *conn, const cases_config_t *config, time_t now, char *err,
                size_t errlen);

/*  After a full judgement whose alerts are those with id above after: when there are more than
 *  digest_items of them, they go to machines only and people get one digest instead (counts
 *  by level and kind, the ten worst items, the dashboard's address). Inside the caller's
 *  transaction. Returns 0, or -1 with err. */
int cases_digest(PGconn *conn, const cases_config_t *config, long long after, time_t now,
                 char *err, size_t errlen);

/*  The highest alert id now (for cases_digest's `after`), or -1 with err. */
long long cases_last_alert(PGconn *conn, char *err, size_t errlen);

/*  The date `now` falls on in China (UTC+8), "YYYY-MM-DD", into out (at least 11 bytes). */
void cases_today(time_t now, char *out, size_t size);

#endif
