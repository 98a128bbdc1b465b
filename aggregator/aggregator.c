/*  aggregator - the county's daemon: receive, validate, store, (evaluate), acknowledge
 *
 *  Per batch: decode (a refusal of the whole message if it is not an edu.v1.Batch), check its
 *  shape (spool id, ascending sequence numbers, size), judge every record (validate), store it
 *  exactly once (store, which runs the next stage inside the transaction), and answer with an
 *  Ack carrying the spool's new mark and the refusals. Nothing is acknowledged before COMMIT.
 */
#include "aggregator.h"

#include "dashboard.h"
#include "evaluate.h"
#include "gate.h"
#include "http.h"
#include "intake.h"
#include "keys.h"
#include "log.h"
#include "metrics.h"
#include "migrate.h"
#include "query_server.h"
#include "period.h"
#include "pg.h"
#include "receiver.h"
#include "rules.h"
#include "schools.h"
#include "service.h"
#include "store.h"
#include "util.h"
#include "validate.h"
#include "writer.h"

#include <curl/curl.h>
#include <czmq.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define S_IN_FLIGHT 64         // most batches handed to the writer at once (a group, and the next)
#define S_IN_FLIGHT_RECORDS 10000 // ... unless they already hold this many records
#define S_DRAIN_MS 30000     // at stop, longest wait for the writer's last answers
#define S_KEYS_CHECK_MS 1000 // the schools' certificates are looked at again at most this often
#define S_KEYS_RECHECK_MS 100 // ... or this often for a key not among them
#define S_HOUR_MS 3600000    // the window of max_refusals_per_hour

struct aggregator_t {
    const aggregator_config_t *config; // borrowed from main
    receiver_t *receiver;              // the collectors' socket
    store_t *store;                    // the database (the writer's once it runs)
    schools_t *schools;                // registry in force
    rules_t *rules;                    // rules in force
    schools_t *retired_schools;        // replaced by a reload the writer has not confirmed
    rules_t *retired_rules;            // likewise
    writer_reload_t reload;            // the reload handed to the writer
    zactor_t *writer;                  // stores, evaluates and sweeps (writer.h)
    size_t in_flight;                  // batches handed to the writer and not yet answered
    size_t in_flight_records;          // their records
    uint64_t batches;                  // batches committed since start
    uint64_t records;                  // records committed (accepted + refused)
    log_complain_t garbage;            // undecodable messages, reported with back-off
    evaluate_t *evaluate;              // the warnings (NULL when [aggregator] evaluate = false)
    zactor_t *gate;                    // ZAP handler for every CURVE socket (NULL without CURVE)
    zactor_t *query;                   // the readers' endpoint (query_server.h)
    metrics_t *metrics;                // what /metrics shows
    dashboard_t *dashboard;            // the HTTP port (NULL when not configured)
    zhashx_t *seen;                    // school -> monotonic ms of its last batch
    keys_dir_t *clients;               // the schools' keys in force, for each batch's check
    struct timespec clients_mtime;     // the clients directory's when read
    int64_t clients_checked_ms;        // when the directory was last looked at
    log_complain_t revoked;            // batches refused for a revoked key, with back-off
    zhashx_t *refusals;                // sender -> s_refusals_t: stored this hour
    log_complain_t capped;             // refusals counted rather than stored, with back-off
    intake_limits_t limits;            // what one message may cost
    cases_config_t cases;              // the response loop's numbers (the writer borrows them)
    char dashboard_url[128];           // for links in digests ("" without the HTTP port)
    zactor_t **deliver;                // one per destination: the PUB socket first
    size_t deliver_count;              // how many
};

static volatile sig_atomic_t s_reload_requested = 0;

static void s_on_sighup(int sig)
{
    (void) sig;
    s_reload_requested = 1;
}

/*  The schema must be current before the aggregator listens, so at start it waits for its
 *  database (a county server boots PostgreSQL and eduwatch in any order), trying again every
 *  two seconds, until the database answers or the process is asked to stop. */
static int s_connect_patiently(store_t *store, char *err, size_t errlen)
{
    zsys_init(); // installs CZMQ's SIGINT/SIGTERM handler, which sets zsys_interrupted
    log_complain_t down = {0};
    while (store_connect(store, err, errlen) != 0) {
        log_complain(&down, LOG_LEVEL_WARN, "aggregator", "%s; trying again", err);
        for (int i = 0; i < 20 && !zsys_interrupted; i++)
            zclock_sleep(100);
        if (zsys_interrupted)
            return errorf(err, errlen, "stopped while waiting for the database");
    }
    log_release(&down, "aggregator", "database reached");
    return 0;
}

static void s_declare(metrics_t *m)
{
    metrics_declare(m, "edu_records_received_total", "counter",
                    "records received in batches from the schools since start");
    metrics_declare(m, "edu_records_stored_total", "counter",
                    "records stored once, accepted or refused, since start");
    metrics_declare(m, "edu_records_refused_total", "counter",
                    "records refused by reason since start");
    metrics_declare(m, "edu_batches_total", "counter", "batches answered, by status, since start");
    metrics_declare(m, "edu_commit_seconds", "histogram",
                    "time to store a batch (COPY, warnings, COMMIT)");
    metrics_declare(m, "edu_schools_connected", "gauge",
                    "schools that sent a batch in the last 5 minutes");
    metrics_declare(m, "edu_province_pulls_total", "counter", "pages served to the province");
    metrics_declare(m, "edu_refusals_summarized_total", "counter",
                    "refusals beyond max_refusals_per_batch or _per_hour, counted by reason in "
                    "edu.refusal_overflow instead of stored one by one, since start");
    // every series known in advance exists from the start, at 0 (rate() then sees its first event)
    metrics_zero(m, "edu_records_received_total", NULL);
    metrics_zero(m, "edu_records_stored_total", "result=\"accepted\"");
    metrics_zero(m, "edu_records_stored_total", "result=\"refused\"");
    for (refusal_t r = REFUSE_UNKNOWN_SCHOOL; r <= REFUSE_PERIOD_LOCKED; r++) {
        char labels[64];
        snprintf(labels, sizeof labels, "reason=\"%s\"", refusal_name(r));
        metrics_zero(m, "edu_records_refused_total", labels);
        metrics_zero(m, "edu_refusals_summarized_total", labels);
    }
    static const char *statuses[] = {"ok", "gap", "retry", "invalid", "unauthorized"};
    for (size_t i = 0; i < sizeof statuses / sizeof *statuses; i++) {
        char labels[64];
        snprintf(labels, sizeof labels, "status=\"%s\"", statuses[i]);
        metrics_zero(m, "edu_batches_total", labels);
    }
    metrics_zero(m, "edu_commit_seconds", NULL);
    metrics_zero(m, "edu_schools_connected", NULL);
    metrics_zero(m, "edu_province_pulls_total", NULL);
}


/*  The alert stage: an actor for the PUB socket and one per configured destination. */
static int s_start_delivery(aggregator_t *self, char *err, size_t errlen)
{
    const aggregator_config_t *config = self->config;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    destination_t pub = {.kind = DELIVER_PUB, .name = "pub"};
    // A destination configured now starts after the newest alert: it hears what happens from
    // now on, not the county's history. One already known keeps its cursor.
    PGconn *conn = store_conn(self->store);
    for (size_t i = 0; i <= config->destination_count; i++) {
        const char *p[] = {i == 0 ? pub.name : config->destinations[i - 1].name};
        char inner[512];
        if (pg_exec_params(conn,
                           "INSERT INTO edu.alert_destination (name, last_id)"
                           " SELECT $1, coalesce(max(id), 0) FROM edu.alert"
                           " ON CONFLICT (name) DO NOTHING",
                           1, p, inner, sizeof inner) != 0)
            return errorf(err, errlen, "could not register the alert destination %s: %s", p[0],
                          inner);
    }
    self->deliver = xcalloc(config->destination_count + 1, sizeof *self->deliver);
    for (size_t i = 0; i <= config->destination_count; i++) {
        deliver_config_t dc = {.conninfo = config->database,
                               .county = config->county,
                               .dest = i == 0 ? &pub : &config->destinations[i - 1],
                               .endpoint = config->alerts,
                               .curve = config->curve_enabled,
                               .secret = config->curve_secret,
                               .group_wait_ms = (int) config->alert_group_wait_ms,
                               .max_backoff_ms = 60000};
        zactor_t *actor = zactor_new(deliver_actor, &dc);
        self->deliver[self->deliver_count++] = actor;
        // the actor says whether it started (zactor_new does not)
        zsock_set_rcvtimeo(actor, 10000);
        char *started = zstr_recv(actor);
        bool ok = started && strcmp(started, "READY") == 0;
        free(started);
        if (!ok && i == 0) // the actor has logged why
            return errorf(err, errlen, "could not bind alerts on \"%s\" (the error above says why)",
                          config->alerts);
        if (!ok)
            return errorf(err, errlen, "could not start delivering alerts to %s", dc.dest->name);
        zsock_set_rcvtimeo(actor, -1);
    }
    return 0;
}

/*  Refusals of one sender stored one by one in the hour that started at since_ms. */
typedef struct {
    int64_t since_ms; // monotonic start of the hour
    long count;       // refusals stored in it
} s_refusals_t;

/*  The schools' certificates in force: read again when the directory changed (a certificate
 *  removed, i.e. a key revoked) at most once a second, and at SIGHUP (force). */
static void s_self_check_clients(aggregator_t *self, bool force)
{
    if (!self->config->curve_enabled)
        return;
    int64_t now = clock_mono_ms();
    if (!force && self->clients && now - self->clients_checked_ms < S_KEYS_CHECK_MS)
        return;
    self->clients_checked_ms = now;
    struct stat st;
    bool changed = stat(self->config->curve_clients, &st) != 0 ||
                   st.st_mtim.tv_sec != self->clients_mtime.tv_sec ||
                   st.st_mtim.tv_nsec != self->clients_mtime.tv_nsec;
    if (!force && self->clients && !changed)
        return;
    char err[512];
    keys_dir_t *fresh = keys_dir_load(self->config->curve_clients, err, sizeof err);
    if (!fresh) {
        log_warn("aggregator", "could not read the schools' certificates, the ones read before "
                 "stay in force: %s", err);
        return;
    }
    keys_dir_destroy(&self->clients);
    self->clients = fresh;
    self->clients_mtime = st.st_mtim;
}

/*  Whether key may still send for school: its certificate is still among the clients under
 *  the school's name. Without CURVE, always. */
static bool s_self_key_allowed(aggregator_t *self, const char *school, const char *key)
{
    if (!self->config->curve_enabled)
        return true;
    s_self_check_clients(self, false);
    const char *name = self->clients ? keys_dir_name(self->clients, key) : NULL;
    if (!name && clock_mono_ms() - self->clients_checked_ms >= S_KEYS_RECHECK_MS) {
        // the gate let the key in, so its certificate may be newer than what was read here
        s_self_check_clients(self, true);
        name = self->clients ? keys_dir_name(self->clients, key) : NULL;
    }
    return name && strcmp(name, school) == 0;
}

/*  Marks the refusals of a batch beyond max_refusals_per_batch, or beyond the sender's
 *  max_refusals_per_hour, as summarized: counted by reason, not stored one by one. */
static void s_self_cap_refusals(aggregator_t *self, const char *sender, verdict_t *verdicts,
                                size_t n)
{
    int64_t now = clock_mono_ms();
    s_refusals_t *hour = zhashx_lookup(self->refusals, sender);
    if (!hour) {
        hour = xcalloc(1, sizeof *hour);
        hour->since_ms = now;
        zhashx_insert(self->refusals, sender, hour);
    }
    if (now - hour->since_ms >= S_HOUR_MS)
        *hour = (s_refusals_t){.since_ms = now};
    long kept = 0, summarized = 0;
    for (size_t i = 0; i < n; i++) {
        if (verdicts[i].reason == REFUSE_NONE)
            continue;
        if (kept < self->config->max_refusals_per_batch &&
            hour->count < self->config->max_refusals_per_hour) {
            kept++;
            hour->count++;
            continue;
        }
        verdicts[i].summarized = true;
        summarized++;
        char labels[64];
        snprintf(labels, sizeof labels, "reason=\"%s\"", refusal_name(verdicts[i].reason));
        metrics_add(self->metrics, "edu_refusals_summarized_total", labels, 1);
    }
    if (summarized)
        log_complain(&self->capped, LOG_LEVEL_INFO, "aggregator",
                     "school %s: %ld refusals of a batch counted in edu.refusal_overflow, not "
                     "stored one by one (max_refusals_per_batch %ld, per hour %ld)", sender,
                     summarized, self->config->max_refusals_per_batch,
                     self->config->max_refusals_per_hour);
}

/*  The `query` endpoint, an actor of its own so that a big pull never holds up the batches. */
static int s_start_query(aggregator_t *self, char *err, size_t errlen)
{
    const aggregator_config_t *config = self->config;
    query_server_config_t qc = {.endpoint = config->query,
                                .curve = config->curve_enabled,
                                .secret = config->curve_secret,
                                .conninfo = *config->query_database ? config->query_database
                                                                    : config->database,
                                .work_conninfo = config->database,
                                .county = config->county,
                                .metrics = self->metrics};
    self->query = zactor_new(query_server_actor, &qc);
    char *started = zstr_recv(self->query);
    int rc = started && strcmp(started, "READY") == 0
                 ? 0
                 : errorf(err, errlen, "%s", started ? started : "could not start the query endpoint");
    free(started);
    return rc;
}

aggregator_t *aggregator_new(const aggregator_config_t *config, char *err, size_t errlen)
{
    aggregator_t *self = xcalloc(1, sizeof *self);
    self->config = config;
    time_t now;
    if (period_now(&now) != 0) {
        errorf(err, errlen, "EDU_NOW = \"%s\" is not an ISO 8601 time like 2025-11-08T12:00:00+08:00",
               getenv("EDU_NOW"));
        goto failed;
    }
    self->rules = rules_load(config->rules, err, errlen);
    if (!self->rules)
        goto failed;
    self->schools = schools_load(config->schools, err, errlen);
    if (!self->schools)
        goto failed;
    self->store = store_new(config->database);
    if (s_connect_patiently(self->store, err, errlen) != 0)
        goto failed;
    if (migrate_county(config->owner_database, config->database, config->query_database, err,
                       errlen) != 0)
        goto failed;
    if (writer_publish_catalog(self->store, config->county, self->schools, self->rules, err,
                               errlen) != 0)
        goto failed;
    self->metrics = metrics_new();
    s_declare(self->metrics);
    self->seen = zhashx_new();
    zhashx_set_destructor(self->seen, xfree_item);
    self->refusals = zhashx_new();
    zhashx_set_destructor(self->refusals, xfree_item);
    self->limits = intake_limits((size_t) config->max_batch_bytes);
    s_self_check_clients(self, true);
    if (*config->http) {
        self->dashboard =
            dashboard_new(config->http, config->http_hosts, config->database, config->county,
                          self->metrics, err, errlen);
        if (!self->dashboard)
            goto failed;
        const char *host = *config->http_hosts ? config->http_hosts : config->http;
        snprintf(self->dashboard_url, sizeof self->dashboard_url, "http://%.*s/",
                 (int) strcspn(host, ", "), host);
        if (!http_is_loopback(config->http))
            log_warn("aggregator", "http = %s serves the dashboard beyond this machine without a "
                     "password: put it behind a proxy with authentication "
                     "(docs/operations.md)", config->http);
    }
    if (config->evaluate) {
        self->evaluate = evaluate_new(config->county, self->rules, self->schools);
    }
    if (config->curve_enabled) {
        gate_config_t gc = {.schools = config->curve_clients,
                            .readers = config->curve_readers,
                            .supervisors = config->curve_supervisors,
                            .province = config->curve_province};
        self->gate = zactor_new(gate_actor, &gc);
        if (!self->gate) {
            errorf(err, errlen, "could not start the ZAP handler (is another one running?)");
            goto failed;
        }
    }
    if (self->evaluate && s_start_delivery(self, err, errlen) != 0)
        goto failed;
    if (s_start_query(self, err, errlen) != 0)
        goto failed;
    receiver_config_t rc = {.endpoint = config->listen,
                            .curve = config->curve_enabled,
                            .secret = config->curve_secret,
                            .max_message_bytes = (int) config->max_batch_bytes};
    self->receiver = receiver_new(&rc, err, errlen);
    if (!self->receiver)
        goto failed;
    self->cases = (cases_config_t){.yellow_days = config->case_yellow_days,
                                   .ack_days = config->case_ack_days,
                                   .reopen_days = config->case_reopen_days,
                                   .digest_items = config->digest_items,
                                   .dashboard = self->dashboard_url};
    period_parse_duration(config->repeat_interval, &self->cases.repeat_s, err, errlen);
    writer_config_t wc = {.store = self->store,
                          .evaluate = self->evaluate,
                          .cases = &self->cases,
                          .county = config->county,
                          .rules = self->rules,
                          .schools = self->schools};
    self->writer = zactor_new(writer_actor, &wc);
    return self;
failed:
    aggregator_destroy(&self);
    return NULL;
}

void aggregator_destroy(aggregator_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    aggregator_t *self = *self_p;
    // First, and to its end: the writer borrows the store, the evaluator and the rules. A
    // second SIGTERM must not cut zactor_destroy's wait short, so the signals go to another
    // thread (or wait) meanwhile.
    sigset_t stop, before;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, &before);
    zactor_destroy(&self->writer);
    pthread_sigmask(SIG_SETMASK, &before, NULL);
    receiver_destroy(&self->receiver);
    dashboard_destroy(&self->dashboard);
    metrics_destroy(&self->metrics);
    zhashx_destroy(&self->seen);
    zhashx_destroy(&self->refusals);
    keys_dir_destroy(&self->clients);
    zactor_destroy(&self->query);
    for (size_t i = 0; i < self->deliver_count; i++)
        zactor_destroy(&self->deliver[i]);
    free(self->deliver);
    zactor_destroy(&self->gate);
    evaluate_destroy(&self->evaluate);
    store_destroy(&self->store);
    schools_destroy(&self->schools);
    rules_destroy(&self->rules);
    schools_destroy(&self->retired_schools);
    rules_destroy(&self->retired_rules);
    free(self);
    *self_p = NULL;
}

static void s_self_reload(aggregator_t *self)
{
    char err[512];
    s_self_check_clients(self, true); // a key revoked takes effect at the next batch
    rules_t *rules = rules_load(self->config->rules, err, sizeof err);
    if (!rules) {
        log_error("aggregator", "cannot reload rules, the rules in force stay: %s", err);
        return;
    }
    schools_t *schools = schools_load(self->config->schools, err, sizeof err);
    if (schools && schools_check_county(schools, self->config->schools, self->config->county,
                                        err, sizeof err) != 0)
        schools_destroy(&schools);
    if (!schools) {
        log_error("aggregator", "cannot reload schools, the registry in force stays: %s", err);
        rules_destroy(&rules);
        return;
    }
    // Validation takes the new ones now; the writer from this message on, in order, so the
    // batches handed before are judged as they were validated. The old ones live until the
    // writer confirms (s_self_handle_writer).
    self->retired_rules = self->rules;
    self->retired_schools = self->schools;
    self->rules = rules;
    self->schools = schools;
    self->reload = (writer_reload_t){.rules = rules, .schools = schools};
    zsock_send(self->writer, "sp", "RELOAD", &self->reload);
}

static void s_self_reply(aggregator_t *self, zframe_t **routing_id, Edu__V1__Ack *ack)
{
    size_t size = edu__v1__ack__get_packed_size(ack);
    uint8_t *buf = xmalloc(size);
    edu__v1__ack__pack(ack, buf);
    receiver_send(self->receiver, routing_id, buf, size);
    free(buf);
}

/*  Metrics of one answered batch. */
static void s_self_count(aggregator_t *self, const char *school, const Edu__V1__Batch *batch,
                         const verdict_t *verdicts, store_status_t st,
                         const store_outcome_t *outcome)
{
    const char *status = st != STORE_OK ? "status=\"retry\""
                         : outcome->gap  ? "status=\"gap\""
                                         : "status=\"ok\"";
    metrics_add(self->metrics, "edu_batches_total", status, 1);
    if (st == STORE_OK && !outcome->gap) {
        uint64_t before = outcome->stored_from;
        for (size_t i = 0; i < batch->n_records; i++) {
            if (batch->records[i]->seq <= before)
                continue; // resent: stored before
            metrics_add(self->metrics, "edu_records_stored_total",
                        verdicts[i].reason == REFUSE_NONE ? "result=\"accepted\""
                                                          : "result=\"refused\"",
                        1);
            if (verdicts[i].reason != REFUSE_NONE) {
                char labels[64];
                snprintf(labels, sizeof labels, "reason=\"%s\"", refusal_name(verdicts[i].reason));
                metrics_add(self->metrics, "edu_records_refused_total", labels, 1);
            }
        }
    }
    int64_t now = clock_mono_ms();
    if (*school) {
        int64_t *last = zhashx_lookup(self->seen, school);
        if (!last) {
            last = xmalloc(sizeof *last);
            zhashx_insert(self->seen, school, last);
        }
        *last = now;
    }
    size_t connected = 0;
    for (int64_t *last = zhashx_first(self->seen); last; last = zhashx_next(self->seen))
        connected += now - *last < 300000;
    metrics_set(self->metrics, "edu_schools_connected", NULL, (double) connected);
}

/*  Decodes, checks, validates and prepares a batch (takes routing_id) and hands it to the
 *  writer; a message that is no batch, or comes with a key revoked since its connection
 *  opened, is answered at once. */
static void s_self_handle_batch(aggregator_t *self, const char *school, const char *key,
                                zframe_t **routing_id, zframe_t *payload)
{
    char err[1024] = "";
    Edu__V1__Ack ack = EDU__V1__ACK__INIT;
    if (!s_self_key_allowed(self, school, key)) {
        log_complain(&self->revoked, LOG_LEVEL_WARN, "aggregator",
                     "refused a batch of school %s: its key %s is no longer among the schools' "
                     "certificates (revoked)", school, key);
        metrics_add(self->metrics, "edu_batches_total", "status=\"unauthorized\"", 1);
        ack.status = EDU__V1__ACK__STATUS__UNAUTHORIZED;
        ack.detail = "this school's key is no longer allowed at the county (revoked): nothing "
                     "was stored; ask the county education bureau to register the school's key";
        s_self_reply(self, routing_id, &ack);
        return;
    }
    intake_batch_t *intake =
        intake_decode(zframe_data(payload), zframe_size(payload), &self->limits, err, sizeof err);
    if (!intake) {
        // err is safe to log: intake escapes what the peer sent
        log_complain(&self->garbage, LOG_LEVEL_WARN, "aggregator", "refused a message from %s: %s",
                     *school ? school : "a peer", err);
        metrics_add(self->metrics, "edu_batches_total", "status=\"invalid\"", 1);
        ack.status = EDU__V1__ACK__STATUS__INVALID;
        ack.detail = err;
        s_self_reply(self, routing_id, &ack);
        return;
    }
    Edu__V1__Batch *batch = intake_batch(intake);
    time_t now;
    if (period_now(&now) != 0)
        now = time(NULL); // EDU_NOW was checked at start
    validate_window_t window = validate_window(self->rules, now);
    writer_job_t *job = xcalloc(1, sizeof *job);
    job->school = xstrdup(school);
    job->routing_id = *routing_id;
    *routing_id = NULL;
    job->intake = intake;
    job->batch = batch;
    job->verdicts = xcalloc(batch->n_records ? batch->n_records : 1, sizeof *job->verdicts);
    for (size_t i = 0; i < batch->n_records; i++) {
        const Edu__V1__Record *r = batch->records[i];
        // without CURVE nobody is bound to a key: each record speaks for its own school
        validate_record(self->schools, self->rules, &window, *school ? school : r->school_code,
                        r->school_code, r->indicator, r->period, r->value, &job->verdicts[i]);
    }
    s_self_cap_refusals(self, school, job->verdicts, batch->n_records);
    job->prepared = store_prepare(batch, job->verdicts);
    metrics_add(self->metrics, "edu_records_received_total", NULL, (double) batch->n_records);
    zsock_send(self->writer, "sp", "BATCH", job);
    self->in_flight++;
    self->in_flight_records += batch->n_records;
}

/*  A batch the writer is done with: counted, answered, freed. */
static void s_self_finish_batch(aggregator_t *self, writer_job_t *job)
{
    const Edu__V1__Batch *batch = job->batch;
    const store_outcome_t *outcome = &job->outcome;
    store_status_t st = job->status;
    Edu__V1__Ack ack = EDU__V1__ACK__INIT;
    metrics_observe(self->metrics, "edu_commit_seconds", job->commit_seconds);
    s_self_count(self, job->school, batch, job->verdicts, st, outcome);
    ack.spool_id = batch->spool_id;
    if (st == STORE_OK) {
        ack.status = outcome->gap ? EDU__V1__ACK__STATUS__GAP : EDU__V1__ACK__STATUS__OK;
        ack.acked_through = outcome->acked_through;
        ack.n_refusals = outcome->refusal_count;
        ack.refusals = outcome->refusals;
        if (!outcome->gap) {
            self->batches++;
            self->records += batch->n_records;
        }
        log_debug("aggregator", "school %s spool %s: %zu records, mark %llu%s", job->school,
                  batch->spool_id, batch->n_records, (unsigned long long) outcome->acked_through,
                  outcome->gap ? " (gap)" : "");
    } else {
        // RETRY: the collector sends again later. ERROR: it also sends again later (it never
        // drops a record), and the log says why this batch cannot be stored.
        if (st == STORE_ERROR)
            log_error("aggregator", "cannot store a batch of school %s: %s", job->school,
                      job->err);
        ack.status = EDU__V1__ACK__STATUS__RETRY;
        ack.detail = job->err;
    }
    s_self_reply(self, &job->routing_id, &ack);
    store_outcome_clear(&job->outcome);
    store_prepared_destroy(&job->prepared);
    free(job->verdicts);
    intake_batch_destroy(&job->intake);
    zframe_destroy(&job->routing_id);
    free(job->school);
    free(job);
}

/*  What the writer says: a batch done, or a reload in force. */
static void s_self_handle_writer(aggregator_t *self)
{
    char *command = NULL;
    void *pointer = NULL;
    if (writer_recv(zactor_sock(self->writer), &command, &pointer) != 0)
        return; // interrupted
    if (strcmp(command, "DONE") == 0 && pointer) {
        self->in_flight--;
        self->in_flight_records -= ((writer_job_t *) pointer)->batch->n_records;
        s_self_finish_batch(self, pointer);
    } else if (strcmp(command, "RELOADED") == 0) {
        rules_destroy(&self->retired_rules);
        schools_destroy(&self->retired_schools);
        if (self->reload.rc != 0)
            log_warn("aggregator", "%s (the dashboard shows the old names until the next reload)",
                     self->reload.err);
        log_info("aggregator", "reloaded %zu indicators and %zu schools",
                 rules_count(self->rules), schools_count(self->schools));
    }
    free(command);
}

static void s_self_handle_receiver(aggregator_t *self)
{
    zframe_t *routing_id = NULL, *payload = NULL;
    const char *school = NULL, *key = NULL;
    char err[256];
    if (receiver_recv(self->receiver, &routing_id, &payload, &school, &key, err, sizeof err) !=
        0) {
        log_complain(&self->garbage, LOG_LEVEL_WARN, "aggregator", "dropped a message: %s", err);
        return;
    }
    s_self_handle_batch(self, school, key, &routing_id, payload);
    zframe_destroy(&routing_id);
    zframe_destroy(&payload);
}

int aggregator_run(aggregator_t *self)
{
    struct sigaction sa = {.sa_handler = s_on_sighup};
    sigaction(SIGHUP, &sa, NULL);
    log_info("aggregator", "county %s listening on %s (%zu schools, %zu indicators)",
             self->config->county, receiver_endpoint(self->receiver),
             schools_count(self->schools), rules_count(self->rules));
    zmq_pollitem_t items[] = {{zsock_resolve(receiver_socket(self->receiver)), 0, ZMQ_POLLIN, 0},
                              {zsock_resolve(zactor_sock(self->writer)), 0, ZMQ_POLLIN, 0}};
    service_ready("listening");
    while (!zsys_interrupted) {
        service_watchdog();
        // one reload at a time: the next waits until the writer has the last one
        if (s_reload_requested && !self->retired_rules) {
            s_reload_requested = 0;
            s_self_reload(self);
        }
        // read the collectors only while the writer has room: the rest waits in the socket
        items[0].events =
            self->in_flight < S_IN_FLIGHT && self->in_flight_records < S_IN_FLIGHT_RECORDS
                ? ZMQ_POLLIN
                : 0;
        int n = zmq_poll(items, 2, 1000);
        if (n < 0 && zmq_errno() != EINTR)
            break;
        if (n > 0 && (items[1].revents & ZMQ_POLLIN))
            s_self_handle_writer(self);
        if (n > 0 && (items[0].revents & ZMQ_POLLIN))
            s_self_handle_receiver(self);
    }
    service_stopping("stopping");
    // what was handed to the writer is finished and answered before it ends
    int64_t deadline = clock_mono_ms() + S_DRAIN_MS;
    while (self->in_flight > 0 && clock_mono_ms() < deadline)
        if (zmq_poll(&items[1], 1, 1000) > 0)
            s_self_handle_writer(self);
    if (self->in_flight > 0)
        log_warn("aggregator", "stopping before the database answered for %zu batches: they are "
                 "committed or not, and their collectors send them again either way",
                 self->in_flight);
    log_info("aggregator", "stopping after %llu batches, %llu records",
             (unsigned long long) self->batches, (unsigned long long) self->records);
    return 0;
}
