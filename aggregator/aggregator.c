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
#include "keys.h"
#include "log.h"
#include "metrics.h"
#include "migrate.h"
#include "query.h"
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

#define S_MAX_RECORDS 100000 // most records one batch may carry
#define S_IN_FLIGHT 2        // batches handed to the writer at once: one stored, one waiting
#define S_DRAIN_MS 30000     // at stop, longest wait for the writer's last answers

#define S_KEY(sec, k, t, def, lo, hi, field, desc)                                                 \
    {sec, k, t, def, lo, hi, offsetof(aggregator_config_t, field), desc, NULL}

static int s_check_county(const char *value, char *err, size_t errlen)
{
    return config_check_digits(value, 6, err, errlen);
}

const config_key_t aggregator_config_keys[] = {
    {"aggregator", "county", CONFIG_STRING, NULL, 0, 0, offsetof(aggregator_config_t, county),
     "6-digit administrative division code (行政区划代码) of the county", s_check_county},
    S_KEY("aggregator", "listen", CONFIG_STRING, "tcp://*:5555", 0, 0, listen,
          "endpoint the collectors connect to"),
    S_KEY("aggregator", "alerts", CONFIG_STRING, "tcp://*:5556", 0, 0, alerts,
          "PUB endpoint for supervisors (edu-alerts)"),
    S_KEY("aggregator", "query", CONFIG_STRING, "tcp://*:5557", 0, 0, query,
          "endpoint the province pulls from"),
    S_KEY("aggregator", "database", CONFIG_STRING, "dbname=edu host=/var/run/postgresql", 0, 0,
          database, "libpq connection string of the county database (the working role)"),
    S_KEY("aggregator", "owner_database", CONFIG_STRING, "", 0, 0, owner_database,
          "libpq connection string of the role that owns the schema, used only to migrate it "
          "and grant the roles below what they need (empty = the database role owns it)"),
    S_KEY("aggregator", "query_database", CONFIG_STRING, "", 0, 0, query_database,
          "libpq connection string of a role that only reads aggregates and warnings, used to "
          "answer `query` (the province, edu-alerts current) (empty = the database role)"),
    S_KEY("aggregator", "rules", CONFIG_STRING, "/etc/edu/rules.ini", 0, 0, rules,
          "indicator catalog and warning rules"),
    S_KEY("aggregator", "schools", CONFIG_STRING, "/etc/edu/schools.csv", 0, 0, schools,
          "registry of the county's schools"),
    S_KEY("aggregator", "evaluate", CONFIG_BOOL, "true", 0, 0, evaluate,
          "judge the red/yellow/green warnings after every batch (false: store only)"),
    S_KEY("aggregator", "http", CONFIG_STRING, "", 0, 0, http,
          "ADDRESS:PORT for Prometheus metrics (/metrics) and the dashboard (/), e.g. "
          "127.0.0.1:9101 (empty = none)"),
    S_KEY("aggregator", "alert_group_wait_ms", CONFIG_INT, "5000", 0, 3600000, alert_group_wait_ms,
          "webhooks for people and e-mail wait this long so a burst, or an item that flaps, "
          "goes out as one message"),
    S_KEY("aggregator", "max_batch_bytes", CONFIG_INT, "4194304", 65536, 268435456,
          max_batch_bytes, "largest message a collector may send (bytes)"),
    S_KEY("curve", "enabled", CONFIG_BOOL, "true", 0, 0, curve_enabled,
          "CURVE encryption and authentication (false only for loopback endpoints)"),
    S_KEY("curve", "secret", CONFIG_STRING, "/etc/edu/keys/aggregator_secret", 0, 0, curve_secret,
          "the aggregator's secret certificate"),
    S_KEY("curve", "clients", CONFIG_STRING, "/etc/edu/keys/schools", 0, 0, curve_clients,
          "public certificates of the schools allowed to submit, each named by its school code"),
    S_KEY("curve", "readers", CONFIG_STRING, "/etc/edu/keys/readers", 0, 0, curve_readers,
          "public certificates allowed on `alerts` and `query`"),
    {"webhook.*", "url", CONFIG_STRING, NULL, 0, 0, 0, "URL POSTed with each alert", NULL},
    {"webhook.*", "format", CONFIG_STRING, "json", 0, 0, 0, "json | dingtalk | wecom", NULL},
    {"webhook.*", "min_level", CONFIG_STRING, "yellow", 0, 0, 0, "yellow | red", NULL},
    S_KEY("smtp", "url", CONFIG_STRING, "smtp://127.0.0.1:25", 0, 0, smtp_url,
          "mail server for [email.*]"),
    S_KEY("smtp", "from", CONFIG_STRING, "eduwatch@localhost", 0, 0, smtp_from, "sender address"),
    {"email.*", "to", CONFIG_STRING, NULL, 0, 0, 0, "recipient address", NULL},
    {"email.*", "min_level", CONFIG_STRING, "yellow", 0, 0, 0, "yellow | red", NULL},
    {NULL, NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

/*  Every school of the registry must belong to this county. Returns 0, or -1 with err. */
static int s_check_registry(const schools_t *schools, const char *path, const char *county,
                            char *err, size_t errlen)
{
    for (size_t i = 0; i < schools_count(schools); i++)
        if (strcmp(schools_at(schools, i)->county, county) != 0)
            return errorf(err, errlen, "%s: school %s belongs to county %s, not %s", path,
                          schools_at(schools, i)->code, schools_at(schools, i)->county, county);
    return 0;
}

/*  [webhook.NAME] and [email.NAME]: one destination each, checked here so that --check
 *  catches mistakes. */
static int s_on_named(void *arg, const char *prefix, const char *name, const char *key,
                      const char *value, char *err, size_t errlen)
{
    aggregator_config_t *config = arg;
    if (strcmp(key, "min_level") == 0 && strcmp(value, "yellow") && strcmp(value, "red"))
        return errorf(err, errlen, "min_level = \"%s\" must be yellow or red", value);
    if (strcmp(key, "format") == 0 && strcmp(value, "json") && strcmp(value, "dingtalk") &&
        strcmp(value, "wecom"))
        return errorf(err, errlen, "format = \"%s\" must be json, dingtalk or wecom", value);
    if (strcmp(key, "url") == 0 && strncmp(value, "http://", 7) && strncmp(value, "https://", 8))
        return errorf(err, errlen, "url = \"%s\" is not an http:// or https:// URL", value);
    if (strcmp(key, "to") == 0 && !strchr(value, '@'))
        return errorf(err, errlen, "to = \"%s\" is not an e-mail address", value);
    char *full = xasprintf("%s.%s", prefix, name);
    destination_t *dest = NULL;
    for (size_t i = 0; i < config->destination_count && !dest; i++)
        if (strcmp(config->destinations[i].name, full) == 0)
            dest = &config->destinations[i];
    if (!dest) {
        config->destinations = xrealloc(config->destinations, (config->destination_count + 1) *
                                                                  sizeof *config->destinations);
        dest = &config->destinations[config->destination_count++];
        *dest = (destination_t){
            .kind = strcmp(prefix, "email") == 0 ? DELIVER_EMAIL : DELIVER_WEBHOOK,
            .name = full};
    } else {
        free(full);
    }
    char **slot = strcmp(key, "url") == 0      ? &dest->url
                  : strcmp(key, "format") == 0 ? &dest->format
                  : strcmp(key, "to") == 0     ? &dest->to
                                               : NULL;
    if (slot) {
        free(*slot);
        *slot = xstrdup(value);
    }
    if (strcmp(key, "min_level") == 0)
        dest->red_only = strcmp(value, "red") == 0;
    return 0;
}

int aggregator_config_load(const char *path, aggregator_config_t *config, char *err,
                           size_t errlen)
{
    *config = (aggregator_config_t){0};
    if (config_load(path, aggregator_config_keys, config, s_on_named, config, err, errlen) != 0)
        return -1;
    for (size_t i = 0; i < config->destination_count; i++) {
        destination_t *d = &config->destinations[i];
        if (d->kind == DELIVER_WEBHOOK && !d->url)
            return errorf(err, errlen, "%s: [%s] has no url", path, d->name);
        if (d->kind == DELIVER_EMAIL && !d->to)
            return errorf(err, errlen, "%s: [%s] has no to", path, d->name);
        if (d->kind == DELIVER_EMAIL) {
            d->url = xstrdup(config->smtp_url);
            d->from = xstrdup(config->smtp_from);
        }
    }
    const char *endpoints[][2] = {
        {"listen", config->listen}, {"alerts", config->alerts}, {"query", config->query}};
    for (size_t i = 0; !config->curve_enabled && i < 3; i++)
        if (!receiver_is_loopback(endpoints[i][1]))
            return errorf(err, errlen,
                          "%s: cannot use %s = \"%s\" without CURVE: only loopback addresses may "
                          "go without encryption ([curve] enabled = false)",
                          path, endpoints[i][0], endpoints[i][1]);
    if (config->curve_enabled) {
        zcert_t *cert = keys_load_secret(config->curve_secret, err, errlen);
        if (!cert)
            return -1;
        zcert_destroy(&cert);
        char inner[512];
        keys_dir_t *clients = keys_dir_load(config->curve_clients, inner, sizeof inner);
        if (!clients)
            return errorf(err, errlen, "%s: [curve] clients: %s", path, inner);
        keys_dir_destroy(&clients);
        keys_dir_t *readers = keys_dir_load(config->curve_readers, inner, sizeof inner);
        if (!readers)
            return errorf(err, errlen, "%s: [curve] readers: %s", path, inner);
        keys_dir_destroy(&readers);
    }
    rules_t *rules = rules_load(config->rules, err, errlen);
    if (!rules)
        return -1;
    rules_destroy(&rules);
    schools_t *schools = schools_load(config->schools, err, errlen);
    if (!schools)
        return -1;
    int rc = s_check_registry(schools, config->schools, config->county, err, errlen);
    schools_destroy(&schools);
    return rc;
}

void aggregator_config_free(aggregator_config_t *config)
{
    config_free(aggregator_config_keys, config);
    for (size_t i = 0; i < config->destination_count; i++)
        destination_free(&config->destinations[i]);
    free(config->destinations);
    config->destinations = NULL;
    config->destination_count = 0;
}

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
    uint64_t batches;                  // batches committed since start
    uint64_t records;                  // records committed (accepted + refused)
    log_complain_t garbage;            // undecodable messages, reported with back-off
    evaluate_t *evaluate;              // the warnings (NULL when [aggregator] evaluate = false)
    zactor_t *gate;                    // ZAP handler for every CURVE socket (NULL without CURVE)
    zsock_t *query;                    // readers ask here (ROUTER; NULL if it cannot bind)
    PGconn *reader;                    // query_database's connection (NULL: not yet, or none)
    metrics_t *metrics;                // what /metrics shows
    dashboard_t *dashboard;            // the HTTP port (NULL when not configured)
    zhashx_t *seen;                    // school -> monotonic ms of its last batch
    zactor_t **deliver;                // one per destination: the PUB socket first
    size_t deliver_count;              // how many
};

static volatile sig_atomic_t s_reload_requested = 0;

static void s_on_sighup(int sig)
{
    (void) sig;
    s_reload_requested = 1;
}

/*  The user name conninfo logs in as, into name. Returns 0, or -1 with err. */
static int s_role_of(const char *conninfo, char *name, size_t size, char *err, size_t errlen)
{
    PGconn *conn = pg_connect(conninfo, "edu-aggregator", err, errlen);
    if (!conn)
        return -1;
    snprintf(name, size, "%s", PQuser(conn));
    PQfinish(conn);
    return 0;
}

int aggregator_migrate(const aggregator_config_t *config, char *err, size_t errlen)
{
    bool split = *config->owner_database != '\0';
    char writer[256] = "", reader[256] = "", inner[512];
    if (split && s_role_of(config->database, writer, sizeof writer, err, errlen) != 0)
        return -1;
    if (*config->query_database &&
        s_role_of(config->query_database, reader, sizeof reader, err, errlen) != 0)
        return -1;
    PGconn *conn = pg_connect(split ? config->owner_database : config->database,
                              "edu-aggregator", err, errlen);
    if (!conn)
        return -1;
    int rc = migrate_run(conn, err, errlen) < 0 ? -1 : 0;
    const char *roles[] = {*writer ? writer : NULL, *reader ? reader : NULL};
    if (rc == 0 && (roles[0] || roles[1]) &&
        pg_exec_params(conn, "SELECT edu.grant_roles($1, $2)", 2, roles, inner, sizeof inner) != 0)
        rc = errorf(err, errlen, "could not grant the database roles what they need: %s", inner);
    PQfinish(conn);
    return rc;
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
    // every series known in advance exists from the start, at 0 (rate() then sees its first event)
    metrics_zero(m, "edu_records_received_total", NULL);
    metrics_zero(m, "edu_records_stored_total", "result=\"accepted\"");
    metrics_zero(m, "edu_records_stored_total", "result=\"refused\"");
    for (refusal_t r = REFUSE_UNKNOWN_SCHOOL; r <= REFUSE_OUT_OF_RANGE; r++) {
        char labels[64];
        snprintf(labels, sizeof labels, "reason=\"%s\"", refusal_name(r));
        metrics_zero(m, "edu_records_refused_total", labels);
    }
    metrics_zero(m, "edu_batches_total", "status=\"ok\"");
    metrics_zero(m, "edu_batches_total", "status=\"gap\"");
    metrics_zero(m, "edu_batches_total", "status=\"retry\"");
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
        if (!ok)
            return errorf(err, errlen, "could not start delivering alerts to %s%s%s", dc.dest->name,
                          i == 0 ? " (could not bind alerts on " : "",
                          i == 0 ? config->alerts : "");
        zsock_set_rcvtimeo(actor, -1);
    }
    return 0;
}

/*  The `query` endpoint: a ROUTER for supervisors and the province (the readers' keys). */
static int s_bind_query(aggregator_t *self, char *err, size_t errlen)
{
    const aggregator_config_t *config = self->config;
    self->query = zsock_new(ZMQ_ROUTER);
    zsock_set_linger(self->query, 0);
    zsock_set_maxmsgsize(self->query, 65536); // requests are short
    if (config->curve_enabled) {
        zcert_t *cert = keys_load_secret(config->curve_secret, err, errlen);
        if (!cert)
            return -1;
        zsock_set_zap_domain(self->query, GATE_READERS);
        zcert_apply(cert, self->query);
        zsock_set_curve_server(self->query, 1);
        zcert_destroy(&cert);
    } // without CURVE, aggregator_config_load has made sure the endpoint is loopback
    if (zsock_bind(self->query, "%s", config->query) < 0)
        return errorf(err, errlen, "could not bind query on \"%s\": %s", config->query,
                      zmq_strerror(zmq_errno()));
    return 0;
}

/*  What is yellow or red now, one line per warning: JSON objects, or text for a person. */
static const char *s_current_sql =
    "SELECT coalesce(string_agg(CASE WHEN $1 = 'text' THEN"
    "    level || ' ' || kind || ' ' || subject || ' ' || coalesce(stage || ' ', '')"
    "    || indicator || ' ' || period || coalesce(' ' || value, '') || ' ' || detail"
    "  ELSE json_build_object('kind', kind, 'subject', subject, 'stage', stage,"
    "    'indicator', indicator, 'period', period, 'level', level, 'value', value,"
    "    'detail', detail)::text END, E'\n'"
    "  ORDER BY level = 'red' DESC, kind, subject, indicator, period), '')"
    " FROM edu.current_warning";

/*  A page of what changed after a cursor: the versions of county aggregates and of county-level
 *  warning changes come from one sequence, so one cursor orders both. */
static const char *s_page_sql =
    "SELECT max(v), count(*) FROM ("
    "  SELECT version AS v FROM edu.county_aggregate WHERE version > $1::bigint"
    "  UNION ALL SELECT id FROM edu.county_warning_change WHERE id > $1::bigint"
    "  ORDER BY 1 LIMIT $2::int) p";
static const char *s_aggregates_sql =
    "SELECT version, stage, indicator, period, schools, mean, min, max, cv, red, yellow, green"
    " FROM edu.county_aggregate WHERE version > $1::bigint AND version <= $2::bigint"
    " ORDER BY version";
static const char *s_county_warnings_sql =
    "SELECT id, kind, nullif(stage, ''), indicator, period, to_level, value, detail"
    " FROM edu.county_warning_change WHERE id > $1::bigint AND id <= $2::bigint ORDER BY id";

/*  The connection that answers readers, the main thread's own (the store's is the writer's):
 *  query_database's (a role that reads aggregates and warnings only), or database's.
 *  Borrowed; NULL with err. */
static PGconn *s_query_conn(aggregator_t *self, char *err, size_t errlen)
{
    const char *conninfo = *self->config->query_database ? self->config->query_database
                                                          : self->config->database;
    if (self->reader && PQstatus(self->reader) != CONNECTION_OK) {
        PQfinish(self->reader);
        self->reader = NULL;
    }
    if (!self->reader)
        self->reader = pg_connect(conninfo, "edu-aggregator", err, errlen);
    return self->reader;
}

/*  A result as lines of PostgreSQL's COPY text format. */
static void s_copy_text(zmsg_t *reply, const PGresult *res)
{
    zchunk_t *buf = zchunk_new(NULL, 4096);
    for (int i = 0; i < PQntuples(res); i++) {
        for (int j = 0; j < PQnfields(res); j++) {
            if (j)
                zchunk_extend(buf, "\t", 1);
            if (PQgetisnull(res, i, j))
                zchunk_extend(buf, "\\N", 2);
            else
                store_copy_field(buf, PQgetvalue(res, i, j), 4096);
        }
        zchunk_extend(buf, "\n", 1);
    }
    zmsg_addmem(reply, zchunk_data(buf), zchunk_size(buf));
    zchunk_destroy(&buf);
}

/*  ["pull"][county][cursor][limit] → ["ok"][county][next cursor][more: 1 or 0]
 *  [aggregates as COPY text][county warning changes as COPY text]. */
static void s_pull(aggregator_t *self, zmsg_t *request, zmsg_t *reply)
{
    char *county = zmsg_popstr(request), *cursor = zmsg_popstr(request);
    char *limit = zmsg_popstr(request), err[512] = "";
    query_pull_t pull;
    PGresult *page = NULL, *aggregates = NULL, *warnings = NULL;
    PGconn *conn = NULL;
    if (query_parse_pull(county, cursor, limit, &pull, err, sizeof err) != 0) {
        // err says what is wrong
    } else if (strcmp(pull.county, self->config->county) != 0) {
        errorf(err, sizeof err, "this is county %s, not %s", self->config->county, pull.county);
    } else if ((conn = s_query_conn(self, err, sizeof err))) {
        char from_text[24], rows_text[16];
        snprintf(from_text, sizeof from_text, "%llu", (unsigned long long) pull.cursor);
        snprintf(rows_text, sizeof rows_text, "%ld", pull.limit);
        const char *p1[] = {from_text, rows_text};
        page = PQexecParams(conn, s_page_sql, 2, NULL, p1, NULL, NULL, 0);
        if (PQresultStatus(page) == PGRES_TUPLES_OK) {
            const char *to = PQgetisnull(page, 0, 0) ? from_text : PQgetvalue(page, 0, 0);
            const char *p2[] = {from_text, to};
            aggregates = PQexecParams(conn, s_aggregates_sql, 2, NULL, p2, NULL, NULL, 0);
            warnings = PQexecParams(conn, s_county_warnings_sql, 2, NULL, p2, NULL, NULL, 0);
            if (PQresultStatus(aggregates) == PGRES_TUPLES_OK &&
                PQresultStatus(warnings) == PGRES_TUPLES_OK) {
                zmsg_addstr(reply, "ok");
                zmsg_addstr(reply, pull.county);
                zmsg_addstr(reply, to);
                zmsg_addstr(reply, atol(PQgetvalue(page, 0, 1)) == pull.limit ? "1" : "0");
                s_copy_text(reply, aggregates);
                s_copy_text(reply, warnings);
                metrics_add(self->metrics, "edu_province_pulls_total", NULL, 1);
            } else {
                errorf(err, sizeof err, "could not read the aggregates: %s",
                       PQresultErrorMessage(PQresultStatus(aggregates) == PGRES_TUPLES_OK
                                                ? warnings
                                                : aggregates));
            }
        } else {
            errorf(err, sizeof err, "could not read the aggregates: %s",
                   PQresultErrorMessage(page));
        }
    }
    if (*err) {
        zmsg_addstr(reply, "error");
        zmsg_addstr(reply, err);
    }
    PQclear(page);
    PQclear(aggregates);
    PQclear(warnings);
    free(county), free(cursor), free(limit);
}

/*  One request from a reader: [routing id]["current" or "current text"], or a province's
 *  ["pull"]... (see s_pull). The answer is [routing id]["ok"]... or [routing id]["error"][why]. */
static void s_self_handle_query(aggregator_t *self)
{
    zmsg_t *request = zmsg_recv(self->query);
    if (!request)
        return;
    zframe_t *id = zmsg_pop(request);
    char *what = zmsg_popstr(request);
    zmsg_t *reply = zmsg_new();
    zmsg_append(reply, &id);
    char err[512];
    if (what && strcmp(what, "pull") == 0) {
        s_pull(self, request, reply);
    } else if (what && (strcmp(what, "current") == 0 || strcmp(what, "current text") == 0)) {
        const char *params[] = {strcmp(what, "current") == 0 ? "json" : "text"};
        PGconn *conn = s_query_conn(self, err, sizeof err);
        PGresult *res =
            conn ? PQexecParams(conn, s_current_sql, 1, NULL, params, NULL, NULL, 0) : NULL;
        if (res && PQresultStatus(res) == PGRES_TUPLES_OK) {
            zmsg_addstr(reply, "ok");
            zmsg_addstr(reply, PQgetvalue(res, 0, 0));
        } else {
            zmsg_addstr(reply, "error");
            zmsg_addstrf(reply, "could not read the warnings: %s",
                         res ? PQresultErrorMessage(res) : err);
        }
        PQclear(res);
    } else {
        zmsg_addstr(reply, "error");
        zmsg_addstrf(reply, "unknown request \"%.64s\" (expected \"current\" or \"pull\")",
                     what ? what : "");
    }
    zmsg_send(&reply, self->query);
    free(what);
    zmsg_destroy(&request);
}

/*  Tells every delivery actor that alerts may be waiting. */
static void s_kick_delivery(aggregator_t *self)
{
    for (size_t i = 0; i < self->deliver_count; i++)
        zstr_send(self->deliver[i], "KICK");
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
    if (aggregator_migrate(config, err, errlen) != 0)
        goto failed;
    if (writer_publish_catalog(self->store, config->county, self->schools, self->rules, err,
                               errlen) != 0)
        goto failed;
    self->metrics = metrics_new();
    s_declare(self->metrics);
    self->seen = zhashx_new();
    zhashx_set_destructor(self->seen, xfree_item);
    if (*config->http) {
        self->dashboard =
            dashboard_new(config->http, config->database, config->county, self->metrics, err, errlen);
        if (!self->dashboard)
            goto failed;
    }
    if (config->evaluate) {
        self->evaluate = evaluate_new(config->county, self->rules, self->schools);
        store_set_stage(self->store, evaluate_batch, self->evaluate);
    }
    if (config->curve_enabled) {
        gate_config_t gc = {.schools = config->curve_clients, .readers = config->curve_readers};
        self->gate = zactor_new(gate_actor, &gc);
        if (!self->gate) {
            errorf(err, errlen, "could not start the ZAP handler (is another one running?)");
            goto failed;
        }
    }
    if (self->evaluate && s_start_delivery(self, err, errlen) != 0)
        goto failed;
    if (s_bind_query(self, err, errlen) != 0)
        goto failed;
    receiver_config_t rc = {.endpoint = config->listen,
                            .curve = config->curve_enabled,
                            .secret = config->curve_secret,
                            .max_message_bytes = (int) config->max_batch_bytes};
    self->receiver = receiver_new(&rc, err, errlen);
    if (!self->receiver)
        goto failed;
    writer_config_t wc = {.store = self->store,
                          .evaluate = self->evaluate,
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
    zsock_destroy(&self->query);
    if (self->reader)
        PQfinish(self->reader);
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
    rules_t *rules = rules_load(self->config->rules, err, sizeof err);
    if (!rules) {
        log_error("aggregator", "cannot reload rules, the rules in force stay: %s", err);
        return;
    }
    schools_t *schools = schools_load(self->config->schools, err, sizeof err);
    if (schools && s_check_registry(schools, self->config->schools, self->config->county, err,
                                    sizeof err) != 0)
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

/*  The shape a batch must have before any record is judged. */
static int s_check_batch(const Edu__V1__Batch *batch, char *err, size_t errlen)
{
    size_t id_len = strlen(batch->spool_id);
    if (id_len < 8 || id_len > 64 || strspn(batch->spool_id, "0123456789abcdef") != id_len)
        return errorf(err, errlen, "spool_id \"%.64s\" is not 8 to 64 lowercase hex digits",
                      batch->spool_id);
    if (batch->n_records > S_MAX_RECORDS)
        return errorf(err, errlen, "batch of %zu records exceeds %d", batch->n_records,
                      S_MAX_RECORDS);
    for (size_t i = 0; i < batch->n_records; i++) {
        uint64_t seq = batch->records[i]->seq;
        if (seq == 0 || (i && seq <= batch->records[i - 1]->seq))
            return errorf(err, errlen, "record %zu has seq %llu, not above the one before", i,
                          (unsigned long long) seq);
    }
    return 0;
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
 *  writer; a message that is no batch is answered at once. */
static void s_self_handle_batch(aggregator_t *self, const char *school, zframe_t **routing_id,
                                zframe_t *payload)
{
    char err[1024] = "";
    Edu__V1__Ack ack = EDU__V1__ACK__INIT;
    Edu__V1__Batch *batch =
        edu__v1__batch__unpack(NULL, zframe_size(payload), zframe_data(payload));
    if (!batch || s_check_batch(batch, err, sizeof err) != 0) {
        if (!batch)
            snprintf(err, sizeof err, "cannot decode a %zu-byte message as edu.v1.Batch",
                     zframe_size(payload));
        log_complain(&self->garbage, LOG_LEVEL_WARN, "aggregator", "refused a message from %s: %s",
                     *school ? school : "a peer", err);
        ack.status = EDU__V1__ACK__STATUS__INVALID;
        ack.detail = err;
        s_self_reply(self, routing_id, &ack);
        if (batch)
            edu__v1__batch__free_unpacked(batch, NULL);
        return;
    }
    writer_job_t *job = xcalloc(1, sizeof *job);
    job->school = xstrdup(school);
    job->routing_id = *routing_id;
    *routing_id = NULL;
    job->batch = batch;
    job->verdicts = xcalloc(batch->n_records ? batch->n_records : 1, sizeof *job->verdicts);
    for (size_t i = 0; i < batch->n_records; i++) {
        const Edu__V1__Record *r = batch->records[i];
        // without CURVE nobody is bound to a key: each record speaks for its own school
        validate_record(self->schools, self->rules, *school ? school : r->school_code,
                        r->school_code, r->indicator, r->period, r->value, &job->verdicts[i]);
    }
    job->prepared = store_prepare(batch, job->verdicts);
    metrics_add(self->metrics, "edu_records_received_total", NULL, (double) batch->n_records);
    zsock_send(self->writer, "sp", "BATCH", job);
    self->in_flight++;
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
        if (self->evaluate)
            s_kick_delivery(self);
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
    edu__v1__batch__free_unpacked(job->batch, NULL);
    zframe_destroy(&job->routing_id);
    free(job->school);
    free(job);
}

/*  What the writer says: a batch done, a reload in force, or changes for the deliverers. */
static void s_self_handle_writer(aggregator_t *self)
{
    char *command = NULL;
    void *pointer = NULL;
    if (writer_recv(zactor_sock(self->writer), &command, &pointer) != 0)
        return; // interrupted
    if (strcmp(command, "DONE") == 0 && pointer) {
        self->in_flight--;
        s_self_finish_batch(self, pointer);
    } else if (strcmp(command, "KICK") == 0) {
        s_kick_delivery(self);
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
    const char *school = NULL;
    char err[256];
    if (receiver_recv(self->receiver, &routing_id, &payload, &school, err, sizeof err) != 0) {
        log_complain(&self->garbage, LOG_LEVEL_WARN, "aggregator", "dropped a message: %s", err);
        return;
    }
    s_self_handle_batch(self, school, &routing_id, payload);
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
                              {zsock_resolve(self->query), 0, ZMQ_POLLIN, 0},
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
        items[0].events = self->in_flight < S_IN_FLIGHT ? ZMQ_POLLIN : 0;
        int n = zmq_poll(items, 3, 1000);
        if (n < 0 && zmq_errno() != EINTR)
            break;
        if (n > 0 && (items[2].revents & ZMQ_POLLIN))
            s_self_handle_writer(self);
        if (n > 0 && (items[0].revents & ZMQ_POLLIN))
            s_self_handle_receiver(self);
        if (n > 0 && (items[1].revents & ZMQ_POLLIN))
            s_self_handle_query(self);
    }
    service_stopping("stopping");
    // what was handed to the writer is finished and answered before it ends
    int64_t deadline = clock_mono_ms() + S_DRAIN_MS;
    while (self->in_flight > 0 && clock_mono_ms() < deadline)
        if (zmq_poll(&items[2], 1, 1000) > 0)
            s_self_handle_writer(self);
    if (self->in_flight > 0)
        log_warn("aggregator", "stopping before the database answered for %zu batches: they are "
                 "committed or not, and their collectors send them again either way",
                 self->in_flight);
    log_info("aggregator", "stopping after %llu batches, %llu records",
             (unsigned long long) self->batches, (unsigned long long) self->records);
    return 0;
}
