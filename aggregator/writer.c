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
#define S_GROUP_MAX 64         // most batches stored in one transaction
#define S_GROUP_WAIT_MS 2      // how long a group waits for company, in a rush

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
    zpoller_t *group_poller;     // the pipe alone, to wait a moment for a group's company
    bool company;                // the last group held more than one batch: the next waits
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
    self->group_poller = zpoller_new(pipe, NULL);
    zpoller_set_nonstop(self->group_poller, true);
    return self;
}

static void s_self_destroy(s_self_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zsock_destroy(&(*self_p)->kick);
    zpoller_destroy(&(*self_p)->group_poller);
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
    // the targets by year (target@YYYY-YYYY), for the dashboard's period
    for (size_t i = 0; rc == 0 && i < rules_param_years(rules); i++) {
        int y = rules_param_year(rules, i);
        char key[64], value[40];
        snprintf(key, sizeof key, "dispersion_target@%d-%d", y, y + 1);
        snprintf(value, sizeof value, "%g", rules_params_at(rules, y)->dispersion_target);
        const char *kv[] = {key, value};
        rc = pg_exec_params(conn, "INSERT INTO edu.setting (key, value) VALUES ($1, $2)", 2, kv,
                            inner, sizeof inner);
    }
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

/*  The accepted records a batch stored (resent and refused ones left out), for the evaluator,
 *  into records (room for every record the batch stored). Returns how many. */
static size_t s_stored_records(const writer_job_t *job, evaluate_record_t *records)
{
    const Edu__V1__Batch *batch = job->batch;
    size_t count = 0;
    for (size_t i = 0; i < batch->n_records; i++) {
        const Edu__V1__Record *r = batch->records[i];
        if (r->seq > job->outcome.stored_from && r->seq <= job->outcome.through &&
            job->verdicts[i].reason == REFUSE_NONE)
            records[count++] = (evaluate_record_t){.school = r->school_code,
                                                   .indicator = r->indicator,
                                                   .period = r->period,
                                                   .value = r->value};
    }
    return count;
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

/*  A group of batches in one transaction: BEGIN, store each, judge the warnings of all,
 *  follow the cases, COMMIT (or ROLLBACK). Batches of different spools share a transaction
 *  without harm to exactly-once (each spool's mark moves with its own rows); one fsync then
 *  commits them all, which is what a deadline-day rush of small files needs. A failure is each
 *  batch's status (RETRY, or ERROR where a batch cannot be stored), and its err. */
static void s_self_store_group(s_self_t *self, writer_job_t **jobs, size_t n)
{
    int64_t started = clock_mono_ms();
    char *err = jobs[0]->err;
    size_t errlen = sizeof jobs[0]->err;
    store_status_t st = store_begin(self->store, err, errlen);
    char *locked = st == STORE_OK ? approval_locked(store_conn(self->store), err, errlen) : NULL;
    if (st == STORE_OK && !locked)
        st = STORE_RETRY;
    const rule_params_t *rp = rules_params(self->rules);
    store_clock_t clock = {.deadline_month = rp->deadline_month, .deadline_day = rp->deadline_day};
    if (st == STORE_OK && period_now(&clock.now) != 0)
        clock.now = time(NULL); // EDU_NOW was checked at start
    size_t failed = n; // the batch that failed, if one did
    for (size_t i = 0; st == STORE_OK && i < n; i++) {
        if (*locked)
            s_self_lock_records(jobs[i], locked);
        st = store_batch(self->store, jobs[i]->school, jobs[i]->batch, jobs[i]->verdicts,
                         jobs[i]->prepared, &clock, &jobs[i]->outcome, jobs[i]->err,
                         sizeof jobs[i]->err);
        if (st != STORE_OK) {
            failed = i;
            err = jobs[i]->err;
            errlen = sizeof jobs[i]->err;
        }
    }
    free(locked);
    size_t count = 0;
    for (size_t i = 0; st == STORE_OK && self->evaluate && i < n; i++)
        count += jobs[i]->outcome.through - jobs[i]->outcome.stored_from;
    if (st == STORE_OK && count > 0) {
        evaluate_record_t *records = xcalloc(count, sizeof *records);
        size_t used = 0;
        for (size_t i = 0; i < n; i++)
            used += s_stored_records(jobs[i], records + used);
        if (evaluate_batch(self->evaluate, store_conn(self->store), records, used, err,
                           errlen) != 0 ||
            cases_apply(store_conn(self->store), self->cases, clock.now, false, err, errlen) != 0)
            st = STORE_RETRY; // the batches are sent again; the evaluator reloads before them
        free(records);
    }
    st = s_self_end(self, st, err, errlen);
    double seconds = (double) (clock_mono_ms() - started) / 1000;
    for (size_t i = 0; i < n; i++) {
        writer_job_t *job = jobs[i];
        if (st == STORE_OK) {
            job->outcome.acked_through = job->outcome.through;
        } else {
            store_outcome_clear(&job->outcome);
            if (i != failed && job->err != err)
                snprintf(job->err, sizeof job->err, "%s", err);
        }
        // a batch that can never be stored fails alone; the others of its group are retried
        job->status = st == STORE_ERROR && i != failed ? STORE_RETRY : st;
        job->commit_seconds = seconds;
    }
}

/*  Stores a group; when the group as a whole fails for one batch that can never be stored,
 *  the others are stored again each in a transaction of its own, so one bad batch never holds
 *  up another school. */
static void s_self_handle_group(s_self_t *self, writer_job_t **jobs, size_t n)
{
    s_self_store_group(self, jobs, n);
    bool poisoned = false;
    for (size_t i = 0; n > 1 && i < n; i++)
        poisoned |= jobs[i]->status == STORE_ERROR;
    for (size_t i = 0; poisoned && i < n; i++)
        if (jobs[i]->status != STORE_ERROR)
            s_self_store_group(self, &jobs[i], 1);
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

/*  One message of the pipe; a BATCH gathers the batches waiting behind it (at most
 *  S_GROUP_MAX) into one transaction. Only when the last group had company (a rush) does it
 *  also wait up to S_GROUP_WAIT_MS for batches still on their way: a lone batch under steady
 *  load is stored at once instead of waiting for nobody. A RELOAD or $TERM that comes among
 *  them waits until the group is done, so the order stays the one handed. */
static void s_self_handle_pipe(s_self_t *self)
{
    char *command = NULL;
    void *pointer = NULL;
    if (writer_recv(self->pipe, &command, &pointer) != 0)
        return; // interrupted
    writer_job_t *group[S_GROUP_MAX];
    size_t n = 0;
    int64_t until = clock_mono_ms() + (self->company ? S_GROUP_WAIT_MS : 0);
    while (command && strcmp(command, "BATCH") == 0 && pointer && n < S_GROUP_MAX) {
        group[n++] = pointer;
        free(command);
        command = NULL;
        int64_t left = until - clock_mono_ms();
        bool more = n < S_GROUP_MAX &&
                    ((zsock_events(self->pipe) & ZMQ_POLLIN) ||
                     (left > 0 && zpoller_wait(self->group_poller, (int) left) == self->pipe));
        if (!more)
            break; // nothing more waits: store what is here
        if (writer_recv(self->pipe, &command, &pointer) != 0)
            break;
    }
    if (n) {
        self->company = n > 1;
        s_self_handle_group(self, group, n);
        for (size_t i = 0; i < n; i++)
            zsock_send(self->pipe, "sp", "DONE", group[i]);
    }
    if (!command) {
        // the group is done
    } else if (strcmp(command, "$TERM") == 0) {
        self->terminated = true;
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
