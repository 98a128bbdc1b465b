/*  store - writes each batch to PostgreSQL exactly once, in one transaction
 *
 *  Exactly-once without a per-record unique index: the aggregator keeps, per (sending school,
 *  collector spool), the highest sequence number committed (edu.spool_state.hwm, "high-water
 *  mark"), and updates it in the same transaction as the batch's rows, as Kafka's idempotent
 *  producer does. A batch, or the part of it, at or below the mark is a resend and is not
 *  stored again; a batch that starts beyond mark + 1 while the collector still holds earlier
 *  records is a gap (an earlier batch was lost in flight) and is refused so that the collector
 *  resends from mark + 1. The rows go in through COPY into a temporary stage table, then into
 *  the history, the current values and the refusals with one statement.
 *
 *  The transaction is the writer's: store_begin opens it, store_batch writes one batch in it,
 *  and the writer, having judged the warnings in the same transaction, ends it with
 *  store_commit or store_rollback — so that what a batch causes is committed with it or not
 *  at all.
 *
 *  Failures are told apart as the sender needs them: STORE_RETRY may succeed later (database
 *  down, restarting, a serialization failure), STORE_ERROR never will for this batch.
 */
#ifndef EDU_STORE_H
#define EDU_STORE_H

#include "validate.h"

#include <edu/v1/eduwatch.pb-c.h>
#include <czmq.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

typedef enum { STORE_OK = 0, STORE_RETRY, STORE_ERROR } store_status_t;

typedef struct store_t store_t;

/*  A batch's COPY rows, made without the database (store_prepare). */
typedef struct store_prepared_t store_prepared_t;

/*  What a batch came to. */
typedef struct {
    uint64_t acked_through;       // the spool's committed high-water mark (the writer sets it
                                  // to `through` once the transaction commits)
    uint64_t through;             // the mark the open transaction holds
    bool gap;                     // refused: resend from acked_through + 1
    size_t refusal_count;         // refusals among the batch's records (resent ones included)
    uint64_t stored_from;         // records with seq above this were stored by this batch
    Edu__V1__Refusal **refusals;  // owned: store_outcome_clear() frees them
} store_outcome_t;

/*  Creates a store for conninfo (any libpq connection string); connects lazily. */
store_t *store_new(const char *conninfo);
void store_destroy(store_t **self_p);

/*  Connects now if not connected. Returns 0, or -1 with err. */
int store_connect(store_t *self, char *err, size_t errlen);
/*  The connection (NULL when not connected). Borrowed. */
PGconn *store_conn(store_t *self);

/*  The COPY rows of every record of batch, judged in verdicts (one per record, same order),
 *  with the latest accepted record of each school x indicator x period marked. Needs no
 *  connection and touches no store, so it may run in another thread than store_batch. Borrows
 *  batch and verdicts; the result is the caller's (store_prepared_destroy). */
store_prepared_t *store_prepare(const Edu__V1__Batch *batch, const verdict_t *verdicts);
void store_prepared_destroy(store_prepared_t **self_p);
/*  The COPY data of the stage (COPY's text format: fields separated by tabs, NULL as \N),
 *  *size bytes: one row per latest accepted or refused record, the columns of edu_stage (seq,
 *  school_code, indicator, period, value, source_file, source_row, reason, column_name,
 *  detail; reason NULL for an accepted record). Borrowed. */
const char *store_prepared_stage(const store_prepared_t *self, size_t *size);
/*  The COPY data of the history (text format): one row per accepted record above hwm, the columns
 *  received_at (`received`, microseconds since 2000-01-01 UTC), sender, spool_id, school_code,
 *  indicator, period, value, seq, source_file, source_row of edu.observation_log. NULL when no
 *  accepted record lies above hwm; the caller destroys it. */
zchunk_t *store_prepared_history(const store_prepared_t *self, uint64_t hwm, int64_t received,
                                 const char *sender, const char *spool);

/*  Opens the writer's transaction, connecting first if needed (at most every two seconds).
 *  Returns STORE_OK, or RETRY/ERROR with err. */
store_status_t store_begin(store_t *self, char *err, size_t errlen);

/*  The time that decides late changes: EDU_NOW's clock and the deadline of a year Y-(Y+1),
 *  Y-month-day, the end of that day in China. */
typedef struct {
    time_t now;         // period_now()
    int deadline_month; // [rules] deadline
    int deadline_day;
} store_clock_t;

/*  In the open transaction: stores batch, sent with the key of school `sender`, whose records
 *  were judged in verdicts (one per record, same order) and prepared by store_prepare. The
 *  records must be in strictly ascending seq. Fills out: the refusals to report, `stored_from`
 *  and `through` (records with seq in (stored_from, through] are new), or `gap`. On failure the
 *  caller rolls back. A value that changes after its year's deadline (clock) is recorded in
 *  edu.late_change_log, in the same statement. */
store_status_t store_batch(store_t *self, const char *sender, const Edu__V1__Batch *batch,
                           const verdict_t *verdicts, const store_prepared_t *prepared,
                           const store_clock_t *clock, store_outcome_t *out, char *err,
                           size_t errlen);

/*  Commits the open transaction. Returns STORE_OK, or RETRY/ERROR with err. */
store_status_t store_commit(store_t *self, char *err, size_t errlen);

/*  Rolls the open transaction back (if any); a lost connection is reported with why and
 *  dropped, so the next store_begin connects again. */
void store_rollback(store_t *self, const char *why);

void store_outcome_clear(store_outcome_t *out);

#endif
