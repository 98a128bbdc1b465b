/*  approval - the county signs off a year before the province sees it (县级审核)
 *
 *  Each academic year of a county has an approval state, derived from its events
 *  (edu.period_log → edu.period_approval):
 *
 *    open ──approve──▶ approved (locked) ──accept (province)──▶ accepted
 *      ▲                   │  ▲                   │
 *      └────unlock─────────┘  └──approve──  returned (province, with a reason: open again)
 *
 *  - A supervisor approves (edu-alerts approve PERIOD) — refused while a data_quality warning
 *    (核查) of that year is unresolved, unless the supervisor names its verification case in
 *    --checked and that case is closed or carries a note: the review must look at the flags —
 *    and may unlock it again (edu-alerts unlock PERIOD --reason T), which is recorded as a late
 *    change the province pulls.
 *  - While a year is approved or accepted its records are refused as period_locked (after the
 *    six reasons of validate.h), decided by the writer inside each batch's transaction under a
 *    shared advisory lock that approving and unlocking take exclusively: a year's state never
 *    changes while a batch is being stored.
 *  - The province accepts or returns a year with its own key (edu-province accept|return);
 *    a return reaches people's destinations as an alert with its reason.
 *
 *  The acts return a malloc'd answer for a person, or NULL with err (Chinese, the English
 *  reason in brackets).
 */
#ifndef EDU_APPROVAL_H
#define EDU_APPROVAL_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/*  The advisory lock (pg_advisory_xact_lock(APPROVAL_LOCK)) that orders batches and approvals. */
#define APPROVAL_LOCK 7306075157148184700LL

/*  The years locked now (approved or accepted), comma-separated, into a malloc'd string ("" for
 *  none), inside the caller's transaction after taking APPROVAL_LOCK shared. NULL with err. */
char *approval_locked(PGconn *conn, char *err, size_t errlen);

/*  True when period is in the comma-separated list locked. */
bool approval_is_locked(const char *locked, const char *period);

/*  A supervisor's acts: approve (note may be empty; checked: case ids comma-separated, may be
 *  empty) and unlock (reason required). */
char *approval_approve(PGconn *conn, const char *period, const char *person, const char *note,
                       const char *checked, time_t now, char *err, size_t errlen);
char *approval_unlock(PGconn *conn, const char *period, const char *person, const char *reason,
                      time_t now, char *err, size_t errlen);

/*  The province's acts, for county (must be this county's code). */
char *approval_accept(PGconn *conn, const char *county, const char *period, const char *person,
                      time_t now, char *err, size_t errlen);
char *approval_return(PGconn *conn, const char *county, const char *period, const char *person,
                      const char *reason, time_t now, char *err, size_t errlen);

#endif
