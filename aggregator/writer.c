/*  writer - the county's one database writer, an actor (see writer.h)
 *
 *  A CZMQ actor in zbeacon's manner: a private self, one handler for its pipe, a sweep between
 *  messages when one is due, a terminated flag. Interrupts (SIGTERM) do not end it: the
 *  aggregator stops handing it work, collects the answers of what it handed, then ends it with
 *  $TERM, so a batch is never left half done.
 */
#include "writer.h"

#include "approval.h"
#include "deliver.h"
#include "log.h"
#include "period.h"
#include "pg.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_SWEEP_RETRY_MS 2000 // after a failed sweep, the next try waits this long
#define S_CASES_EVERY_MS 10000 // the response loop's clock is read this often

typedef struct {
    zsock_t *pipe;               // to the aggregator's main thread
    store_t *store;              // the database (borrowed)
    evaluate_t *evaluate;        // the warnings (borrowed; NULL when evaluation is off)
    const cases_config_t *cases; // the response loop's numbers (borrowed)
    int64_t next_cases_ms;       // no cases sweep before this
    char *county;                // 6-digit code
    const rules_t *rules;        // rules in force (borrowed)
    const schools_t *schools;    // registry in force (borrowed)
    int64_t next_sweep_ms;       // no sweep before this (after a failed one)
    log_complain_t sweep_trouble; // failing sweeps, reported with back-off
    zsock_t *kick;               // PUB: tells the delivery actors that alerts may wait
    bool terminated;             // $TERM received
} s_self_t;

static s_self_t *s_self_new(zsock_t *pipe, const writer_config_t *config)
{
    s_self_t *self = xcalloc(1, sizeof *self);
    self->pipe = pipe;
    self->store = config->store;
    self->evaluate = config->evaluate;
    self->cases = config->cases;
    self->county = xstrdup(config->county);
    self->rules = config->rules;
    self->schools = config->schools;
    self->kick = zsock_new_pub("@" DELIVER_KICK_ENDPOINT);
    return self;
}

static void s_self_destroy(s_self_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zsock_destroy(&(*self_p)->kick);
    free((*self_p)->county);
    free(*self_p);
    *self_p = NULL;
}

int writer_recv(zsock_t *sock, char **command, void **pointer)
{
    zmsg_t *msg = zmsg_recv(sock);
    if (!msg)
        return -1;
    *command = zmsg_popstr(msg);
    zframe_t *frame = zmsg_pop(msg);
    *pointer = frame && zframe_size(frame) == sizeof(void *) ? *(void **) zframe_data(frame)
                                                            : NULL;
    zframe_destroy(&frame);
    zmsg_destroy(&msg);
    if (!*command)
        return -1;
    return 0;
}

int writer_publish_catalog(store_t *store, const char *county, const schools_t *schools,
                           const rules_t *rules, char *err, size_t errlen)
{
    if (store_connect(store, err, errlen) != 0)
        return -1;
    PGconn *conn = store_conn(store);
    char inner[512];
    int rc = pg_exec(conn, "BEGIN", inner, sizeof inner);
    if (rc == 0)
        rc = pg_exec(conn, "DELETE FROM edu.school", inner, sizeof inner);
    if (rc == 0)
        rc = pg_exec(conn, "DELETE FROM edu.indicator", inner, sizeof inner);
    if (rc == 0)
        rc = pg_exec(conn, "DELETE FROM edu.setting", inner, sizeof inner);
    for (size_t i = 0; rc == 0 && i < schools_count(schools); i++) {
        const school_t *s = schools_at(schools, i);
        char students[24];
        snprintf(students, sizeof students, "%ld", s->students);
        const char *p[] = {s->code, s->name, stage_name(s->stage), students, s->location};
        rc = pg_exec_params(conn,
                           "INSERT INTO edu.school (code, name, stage, students, location)"
                           " VALUES ($1, $2, $3, $4::int, $5)",
                           5, p, inner, sizeof inner);
    }
    for (size_t i = 0; rc == 0 && i < rules_count(rules); i++) {
        const indicator_t *ind = rules_at(rules, i);
        char position[24], tp[40], tj[40], kinds[256] = "";
        size_t used = 0;
        snprintf(position, sizeof position, "%zu", i);
        snprintf(tp, sizeof tp, "%.17g", ind->target[STAGE_PRIMARY]);
        snprintf(tj, sizeof tj, "%.17g", ind->target[STAGE_JUNIOR]);
        for (unsigned k = 1; k <= KIND_PROGRESS; k <<= 1)
            if ((ind->kinds & k) && kind_name((kind_t) k))
                used += (size_t) snprintf(kinds + used, sizeof kinds - used, "%s%s",
                                          used ? "," : "", kind_name((kind_t) k));
        const char *p[] = {ind->code, position, ind->name, ind->unit,
                           ind->higher_better ? "true" : "false",
                           ind->has_target[STAGE_PRIMARY] ? tp : NULL,
                           ind->has_target[STAGE_JUNIOR] ? tj : NULL, kinds};
        rc = pg_exec_params(conn,
                           "INSERT INTO edu.indicator (code, position, name, unit, higher_better,"
                           " target_primary, target_junior, kinds)"
                           " VALUES ($1, $2::int, $3, $4, $5::boolean, $6::float8, $7::float8, $8)",
                           8, p, inner, sizeof inner);
    }
    const rule_params_t *rp = rules_params(rules);
    char target[40], lp[40], lj[40];
    snprintf(target, sizeof target, "%g", rp->dispersion_target);
    snprintf(lp, sizeof lp, "%g", rp->dispersion_limit[STAGE_PRIMARY]);
    snprintf(lj, sizeof lj, "%g", rp->dispersion_limit[STAGE_JUNIOR]);
    const char *settings[][2] = {{"county", county},
                                 {"dispersion_target", target},
                                 {"dispersion_limit_primary", lp},
                                 {"dispersion_limit_junior", lj}};
    for (size_t i = 0; rc == 0 && i < sizeof settings / sizeof *settings; i++)
        rc = pg_exec_params(conn, "INSERT INTO edu.setting (key, value) VALUES ($1, $2)", 2,
                            settings[i], inner, sizeof inner);
    if (rc == 0)
        rc = pg_exec_params(conn, "COMMIT", 0, NULL, err, errlen);
    else
        PQclear(PQexec(conn, "ROLLBACK"));
    return rc;
}

/*  Ends the transaction: COMMIT when everything in it went well (st), ROLLBACK otherwise; the
 *  evaluator's memory follows the outcome, and a commit that may have written alerts is
 *  published to the delivery actors. Returns the transaction's status. */
static store_status_t s_self_end(s_self_t *self, store_status_t st, char *err, size_t errlen)
{
    if (st == STORE_OK)
        st = store_commit(self->store, err, errlen);
    else
        store_rollback(self->store, err);
    if (self->evaluate) {
        if (st == STORE_OK) {
            evaluate_commit(self->evaluate);
            zstr_send(self->kick, "KICK");
        } else {
            evaluate_abort(self->evaluate);
        }
    }
    return st;
}

/*  The accepted records a batch stored (resent and refused ones left out), for the evaluator.
 *  Returns the array (caller frees) and their number in *count. */
static evaluate_record_t *s_stored_records(const writer_job_t *job, size_t *count)
{
    const Edu__V1__Batch *batch = job->batch;
    evaluate_record_t *records = xcalloc(batch->n_records ? batch->n_records : 1,
                                         sizeof *records);
    *count = 0;
    for (size_t i = 0; i < batch->n_records; i++) {
        const Edu__V1__Record *r = batch->records[i];
        if (r->seq > job->outcome.stored_from && r->seq <= job->outcome.through &&
            job->verdicts[i].reason == REFUSE_NONE)
            records[(*count)++] = (evaluate_record_t){.school = r->school_code,
                                                      .indicator = r->indicator,
                                                      .period = r->period,
                                                      .value = r->value};
    }
    return records;
}

/*  Refuses as period_locked the accepted records of the years in locked (approved at the
 *  county), and makes the batch's COPY rows again when any was. */
static void s_self_lock_records(writer_job_t *job, const char *locked)
{
    bool changed = false;
    for (size_t i = 0; i < job->batch->n_records; i++) {
        const Edu__V1__Record *r = job->batch->records[i];
        verdict_t *v = &job->verdicts[i];
        if (v->reason != REFUSE_NONE || !approval_is_locked(locked, r->period))
            continue;
        *v = (verdict_t){.reason = REFUSE_PERIOD_LOCKED, .column = "period"};
        snprintf(v->detail, sizeof v->detail,
                 "academic year %s is approved and locked at the county: ask the county "
                 "education bureau to unlock it before correcting it", r->period);
        changed = true;
    }
    if (changed) {
        store_prepared_destroy(&job->prepared);
        job->prepared = store_prepare(job->batch, job->verdicts);
    }
}

/*  One batch in one transaction: BEGIN, store, judge the warnings, COMMIT (or ROLLBACK). */
static void s_self_handle_batch(s_self_t *self, writer_job_t *job)
{
    int64_t started = clock_mono_ms();
    char *err = job->err;
    size_t errlen = sizeof job->err;
    store_status_t st = store_begin(self->store, err, errlen);
    char *locked = st == STORE_OK ? approval_locked(store_conn(self->store), err, errlen) : NULL;
    if (st == STORE_OK && !locked)
        st = STORE_RETRY;
    if (locked && *locked)
        s_self_lock_records(job, locked);
    free(locked);
    const rule_params_t *rp = rules_params(self->rules);
    store_clock_t clock = {.deadline_month = rp->deadline_month, .deadline_day = rp->deadline_day};
    if (st == STORE_OK && period_now(&clock.now) != 0)
        clock.now = time(NULL); // EDU_NOW was checked at start
    if (st == STORE_OK)
        st = store_batch(self->store, job->school, job->batch, job->verdicts, job->prepared,
                         &clock, &job->outcome, err, errlen);
    if (st == STORE_OK && self->evaluate && job->outcome.through > job->outcome.stored_from) {
        size_t count;
        evaluate_record_t *records = s_stored_records(job, &count);
        time_t now;
        if (evaluate_batch(self->evaluate, store_conn(self->store), records, count, err,
                           errlen) != 0 ||
            period_now(&now) != 0 ||
            cases_apply(store_conn(self->store), self->cases, now, false, err, errlen) != 0)
            st = STORE_RETRY; // the batch is sent again; the evaluator reloads before it
        free(records);
    }
    st = s_self_end(self, st, err, errlen);
    if (st == STORE_OK)
        job->outcome.acked_through = job->outcome.through;
    else
        store_outcome_clear(&job->outcome);
    job->status = st;
    job->commit_seconds = (double) (clock_mono_ms() - started) / 1000;
}

static void s_self_handle_reload(s_self_t *self, writer_reload_t *reload)
{
    if (self->evaluate)
        evaluate_set_rules(self->evaluate, reload->rules, reload->schools); // re-judges next
    self->rules = reload->rules;
    self->schools = reload->schools;
    reload->rc = writer_publish_catalog(self->store, self->county, self->schools, self->rules,
                                        reload->err, sizeof reload->err);
}

static void s_self_handle_pipe(s_self_t *self)
{
    char *command = NULL;
    void *pointer = NULL;
    if (writer_recv(self->pipe, &command, &pointer) != 0)
        return; // interrupted
    if (strcmp(command, "$TERM") == 0) {
        self->terminated = true;
    } else if (strcmp(command, "BATCH") == 0 && pointer) {
        s_self_handle_batch(self, pointer);
        zsock_send(self->pipe, "sp", "DONE", pointer);
    } else if (strcmp(command, "RELOAD") == 0 && pointer) {
        s_self_handle_reload(self, pointer);
        zsock_send(self->pipe, "sp", "RELOADED", pointer);
    } else {
        log_error("writer", "unexpected command \"%s\" on the pipe", command);
    }
    free(command);
}

/*  Re-judges what time or new rules changed (see evaluate_sweep_due), in a transaction of its
 *  own, through the same end as a batch's; the cases follow, and a full judgement's alerts
 *  reach people as one digest. */
static void s_self_sweep(s_self_t *self)
{
    time_t now;
    if (!self->evaluate || clock_mono_ms() < self->next_sweep_ms || period_now(&now) != 0 ||
        !evaluate_sweep_due(self->evaluate, now))
        return;
    char err[1024];
    bool full = evaluate_full_due(self->evaluate);
    store_status_t st = store_begin(self->store, err, sizeof err);
    PGconn *conn = store_conn(self->store);
    long long before = st == STORE_OK ? cases_last_alert(conn, err, sizeof err) : -1;
    if (st == STORE_OK &&
        (before < 0 || evaluate_sweep(self->evaluate, conn, now, err, sizeof err) != 0 ||
         cases_apply(conn, self->cases, now, full, err, sizeof err) != 0 ||
         (full && cases_digest(conn, self->cases, before, now, err, sizeof err) != 0)))
        st = STORE_RETRY;
    if (s_self_end(self, st, err, sizeof err) != STORE_OK) {
        log_complain(&self->sweep_trouble, LOG_LEVEL_WARN, "writer",
                     "could not judge the warnings: %s; trying again", err);
        self->next_sweep_ms = clock_mono_ms() + S_SWEEP_RETRY_MS;
        return;
    }
    log_release(&self->sweep_trouble, "writer", "warnings judged again");
}

/*  The response loop's clock: cases of items yellow for long, overdue cases, reminders. */
static void s_self_sweep_cases(s_self_t *self)
{
    time_t now;
    if (!self->evaluate || clock_mono_ms() < self->next_cases_ms || period_now(&now) != 0 ||
        evaluate_full_due(self->evaluate))
        return; // cases follow the warnings: not before they are judged
    self->next_cases_ms = clock_mono_ms() + S_CASES_EVERY_MS;
    char err[1024];
    store_status_t st = store_begin(self->store, err, sizeof err);
    int written = st == STORE_OK ? cases_sweep(store_conn(self->store), self->cases, now, err,
                                               sizeof err)
                                 : -1;
    if (st == STORE_OK && written < 0)
        st = STORE_RETRY;
    if (s_self_end(self, st, err, sizeof err) != STORE_OK)
        log_complain(&self->sweep_trouble, LOG_LEVEL_WARN, "writer",
                     "could not follow the cases: %s; trying again", err);
    else if (written > 0)
        log_info("writer", "cases: %d events by the clock", written);
}

void writer_actor(zsock_t *pipe, void *args)
{
    s_self_t *self = s_self_new(pipe, args);
    zpoller_t *poller = zpoller_new(pipe, NULL);
    zpoller_set_nonstop(poller, true); // SIGTERM: the aggregator ends the writer when it is done
    zsock_signal(pipe, 0);
    while (!self->terminated) {
        s_self_sweep(self); // before the first batch too: it loads the evaluator's memory
        s_self_sweep_cases(self);
        if (zpoller_wait(poller, 1000) == pipe)
            s_self_handle_pipe(self);
    }
    zpoller_destroy(&poller);
    s_self_destroy(&self);
}
