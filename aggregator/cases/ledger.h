/*  ledger - the cases as supervisors see them and act on them (整改台账)
 *
 *  What `edu-alerts cases|ack|assign|note|close` ask through the query endpoint: a list of
 *  cases, their evaluation (评估), and the acts of a supervisor on one case. Every act is one
 *  event in edu.case_log, with the supervisor (the certificate's `name`) as actor, written in a
 *  transaction that holds the case's advisory lock; a case closed (销号) only while its warning
 *  is green. Text is for people (Chinese, names beside codes, red first, values rounded as the
 *  warnings show them); JSON lines are for machines.
 *
 *  Each function returns a malloc'd answer (the caller frees it), or NULL with err saying why
 *  in a sentence a supervisor can read (Chinese, the English reason in brackets).
 */
#ifndef EDU_LEDGER_H
#define EDU_LEDGER_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

typedef struct {
    bool text;          // for a person (else JSON lines)
    const char *state;  // only cases in this state ("" = any)
    const char *school; // only this subject ("" = any)
    bool overdue;       // only escalated cases and those past their due date
} ledger_filter_t;

/*  The cases that pass filter, red first. */
char *ledger_list(PGconn *conn, const ledger_filter_t *filter, time_t now, char *err,
                  size_t errlen);

/*  The evaluation (评估): per school and for the county, cases opened, closed on time,
 *  escalated, open now, median days to close. */
char *ledger_summary(PGconn *conn, bool text, char *err, size_t errlen);

/*  A supervisor's acts on case id (decimal text), by person at now. */
char *ledger_ack(PGconn *conn, const char *id, const char *person, const char *note, time_t now,
                 char *err, size_t errlen);
char *ledger_assign(PGconn *conn, const char *id, const char *person, const char *to,
                    const char *due, const char *plan, time_t now, char *err, size_t errlen);
char *ledger_note(PGconn *conn, const char *id, const char *person, const char *note,
                  time_t now, char *err, size_t errlen);
char *ledger_close(PGconn *conn, const char *id, const char *person, const char *note,
                   time_t now, char *err, size_t errlen);

/*  True when s is one line of at most max bytes of valid UTF-8 without control characters:
 *  what a note, a name or a plan may be. */
bool ledger_text_ok(const char *s, size_t max);

#endif
