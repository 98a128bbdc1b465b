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
 *  Before COMMIT the store calls the next stage (warning evaluation) inside the same
 *  transaction, so that what a batch causes is committed with it or not at all.
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

typedef enum { STORE_OK = 0, STORE_RETRY, STORE_ERROR } store_status_t;

typedef struct store_t store_t;

/*  A batch's COPY rows, made without the database (store_prepare). */
typedef struct store_prepared_t store_prepared_t;

/*  The next stage, run inside the batch's transaction before COMMIT with the records stored by
 *  this batch (resent ones excluded: their verdict pointer is NULL). Return 0, or -1 with err
 *  to roll the batch back (it will be retried). */
typedef int(store_stage_fn)(void *arg, PGconn *conn, const char *sender,
                            const Edu__V1__Batch *batch, const verdict_t *const *verdicts,
                            char *err, size_t errlen);

/*  What a batch came to. */
typedef struct {
    uint64_t acked_through;       // the spool's high-water mark after the batch
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

void store_set_stage(store_t *self, store_stage_fn *fn, void *arg);

/*  Appends s (at most limit bytes) to buf as a field of PostgreSQL's COPY text format:
 *  backslash, tab, newline and carriage return escaped, invalid UTF-8 replaced by '?'. */
void store_copy_field(zchunk_t *buf, const char *s, size_t limit);

/*  The COPY rows of every record of batch, judged in verdicts (one per record, same order),
 *  with the latest accepted record of each school x indicator x period marked. Needs no
 *  connection and touches no store, so it may run in another thread than store_batch. Borrows
 *  batch and verdicts; the result is the caller's (store_prepared_destroy). */
store_prepared_t *store_prepare(const Edu__V1__Batch *batch, const verdict_t *verdicts);
void store_prepared_destroy(store_prepared_t **self_p);
/*  Its COPY text, *size bytes: one line per record, the columns of edu_stage (seq,
 *  school_code, indicator, period, value, source_file, source_row, reason, column_name, detail,
 *  latest). Borrowed, not terminated. */
const char *store_prepared_text(const store_prepared_t *self, size_t *size);

/*  Stores batch, sent with the key of school `sender`, whose records were judged in verdicts
 *  (one per record, same order) and prepared by store_prepare. The records must be in strictly
 *  ascending seq. */
store_status_t store_batch(store_t *self, const char *sender, const Edu__V1__Batch *batch,
                           const verdict_t *verdicts, const store_prepared_t *prepared,
                           store_outcome_t *out, char *err, size_t errlen);

void store_outcome_clear(store_outcome_t *out);

#endif
