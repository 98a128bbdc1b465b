/*  writer - the county's one database writer, an actor: batches, sweeps and reloads, one
 *  transaction at a time, in the order they were handed to it
 *
 *  The aggregator's main thread receives, decodes, validates and prepares each batch (the work
 *  that needs no database: store_prepare), then hands it to the writer and goes on with the next
 *  one while this one's transaction runs, so the aggregator's work and PostgreSQL's overlap
 *  instead of taking turns. The writer does everything that needs the database, and owns the
 *  transaction, in one place (s_self_handle_batch, s_self_end):
 *
 *    store_begin → store_batch → evaluate_batch → cases_apply → store_commit
 *                  → evaluate_commit → kick     (on any failure: store_rollback → evaluate_abort)
 *
 *  Sweeps (what time or new rules make due) take the same path with evaluate_sweep in place of
 *  the batch (and, after a full judgement, cases_digest), and the response loop's clock
 *  (cases_sweep: yellow for long, overdue, reminders) runs every few seconds the same way; a
 *  reload takes new rules and publishes the catalog. After each commit that may
 *  have written alerts it publishes a kick on DELIVER_KICK_ENDPOINT, which the delivery actors
 *  hear. One writer, in order, keeps what a single thread guaranteed before: a spool's batches
 *  are stored in the order they came, and the evaluator's memory is touched by one thread.
 *
 *  The pipe's messages (pointers as CZMQ "p" frames, meaningful only in this process):
 *    to the writer          from the writer
 *    "BATCH" job            "DONE" job          the job's status, outcome and err filled in
 *    "RELOAD" reload        "RELOADED" reload   what follows is judged with the new rules
 *    "$TERM"                                    (zactor_destroy) ends after the current one
 *  The writer borrows the store and the evaluator: destroy the actor before them.
 */
#ifndef EDU_WRITER_H
#define EDU_WRITER_H

#include "cases.h"
#include "evaluate.h"
#include "intake.h"
#include "rules.h"
#include "schools.h"
#include "store.h"

#include <czmq.h>

typedef struct {
    store_t *store;         // the database (borrowed)
    evaluate_t *evaluate;   // the warnings (borrowed; NULL when evaluation is off)
    const cases_config_t *cases; // the response loop's numbers (borrowed; with evaluate)
    const char *county;     // 6-digit code, for the catalog (borrowed)
    const rules_t *rules;   // rules in force at start (borrowed)
    const schools_t *schools; // registry in force at start (borrowed)
} writer_config_t;

/*  One batch to store. The caller fills the first block and owns it all; the writer fills the
 *  second and hands the job back. */
typedef struct {
    char *school;                 // the key's school ("" without CURVE)
    zframe_t *routing_id;         // whom to answer
    intake_batch_t *intake;       // the decoded batch and what holds its memory
    Edu__V1__Batch *batch;        // the decoded batch (borrowed from intake)
    verdict_t *verdicts;          // one per record
    store_prepared_t *prepared;   // its COPY rows
    store_status_t status;        // what store_batch returned
    store_outcome_t outcome;      // its outcome (store_outcome_clear)
    double commit_seconds;        // how long store_batch took
    char err[1024];               // why, when status is not STORE_OK
} writer_job_t;

/*  New rules and registry (borrowed: keep them until "RELOADED" comes back, and the ones
 *  before them until then too); the writer fills rc and err (the catalog's publication). */
typedef struct {
    const rules_t *rules;     // in force from this message on
    const schools_t *schools; // in force from this message on
    int rc;                   // 0, or -1: the catalog could not be written (err says why)
    char err[512];            // why
} writer_reload_t;

/*  The actor (zactor_new(writer_actor, &config); config is read before zactor_new returns). */
void writer_actor(zsock_t *pipe, void *args);

/*  Copies the registry, the catalog and the rules' numbers into edu.school, edu.indicator and
 *  edu.setting, for readers (the dashboard), in one transaction on the store's connection.
 *  Returns 0, or -1 with err. */
int writer_publish_catalog(store_t *store, const char *county, const schools_t *schools,
                           const rules_t *rules, char *err, size_t errlen);

/*  Receives one message of the pipe protocol from sock: its command (the caller's to free) and
 *  the pointer after it (NULL if none). Returns -1 when nothing could be received. */
int writer_recv(zsock_t *sock, char **command, void **pointer);

#endif
