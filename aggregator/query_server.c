/*  query_server - the county's `query` endpoint, an actor (see query_server.h)
 *
 *  A CZMQ actor in zbeacon's manner: a private self, one handler for its pipe and one for the
 *  ROUTER, a terminated flag. The requests and replies are spelled in common/query.h.
 */
#include "query_server.h"

#include "gate.h"
#include "keys.h"
#include "log.h"
#include "pg.h"
#include "query.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    zsock_t *pipe;       // to the aggregator's main thread
    zsock_t *router;     // the readers' requests
    char *county;        // 6-digit code
    char *conninfo;      // the readers' role
    PGconn *conn;        // its connection (NULL: not yet, or lost)
    metrics_t *metrics;  // counts pulls (borrowed; NULL for none)
    bool terminated;     // $TERM received
} s_self_t;

static s_self_t *s_self_new(zsock_t *pipe, const query_server_config_t *config)
{
    s_self_t *self = xcalloc(1, sizeof *self);
    self->pipe = pipe;
    self->county = xstrdup(config->county);
    self->conninfo = xstrdup(config->conninfo);
    self->metrics = config->metrics;
    return self;
}

static void s_self_destroy(s_self_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    s_self_t *self = *self_p;
    zsock_destroy(&self->router);
    if (self->conn)
        PQfinish(self->conn);
    free(self->county);
    free(self->conninfo);
    free(self);
    *self_p = NULL;
}

/*  Binds the ROUTER: a CURVE server whose ZAP domain admits the readers' keys. Returns 0, or
 *  -1 with err. */
static int s_self_bind(s_self_t *self, const query_server_config_t *config, char *err,
                       size_t errlen)
{
    self->router = zsock_new(ZMQ_ROUTER);
    zsock_set_linger(self->router, 0);
    zsock_set_maxmsgsize(self->router, QUERY_MAX_REQUEST); // requests are short
    if (config->curve) {
        zcert_t *cert = keys_load_secret(config->secret, err, errlen);
        if (!cert)
            return -1;
        zsock_set_zap_domain(self->router, GATE_READERS);
        zcert_apply(cert, self->router);
        zsock_set_curve_server(self->router, 1);
        zcert_destroy(&cert);
    } // without CURVE, aggregator_config_load has made sure the endpoint is loopback
    if (zsock_bind(self->router, "%s", config->endpoint) < 0)
        return errorf(err, errlen, "could not bind query on \"%s\": %s", config->endpoint,
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

/*  The readers' connection, made again after it was lost. Borrowed; NULL with err. */
static PGconn *s_self_conn(s_self_t *self, char *err, size_t errlen)
{
    if (self->conn && PQstatus(self->conn) != CONNECTION_OK) {
        PQfinish(self->conn);
        self->conn = NULL;
    }
    if (!self->conn)
        self->conn = pg_connect(self->conninfo, "edu-aggregator", err, errlen);
    return self->conn;
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
                pg_copy_field(buf, PQgetvalue(res, i, j), 4096);
        }
        zchunk_extend(buf, "\n", 1);
    }
    zmsg_addmem(reply, zchunk_data(buf), zchunk_size(buf));
    zchunk_destroy(&buf);
}

/*  ["pull"][county][cursor][limit] → ["ok"][county][next cursor][more: 1 or 0]
 *  [aggregates as COPY text][county warning changes as COPY text]. */
static void s_self_pull(s_self_t *self, zmsg_t *request, zmsg_t *reply)
{
    char *county = zmsg_popstr(request), *cursor = zmsg_popstr(request);
    char *limit = zmsg_popstr(request), err[512] = "";
    query_pull_t pull;
    PGresult *page = NULL, *aggregates = NULL, *warnings = NULL;
    PGconn *conn = NULL;
    if (query_parse_pull(county, cursor, limit, &pull, err, sizeof err) != 0) {
        // err says what is wrong
    } else if (strcmp(pull.county, self->county) != 0) {
        errorf(err, sizeof err, "this is county %s, not %s", self->county, pull.county);
    } else if ((conn = s_self_conn(self, err, sizeof err))) {
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
                zmsg_addstr(reply, QUERY_OK);
                zmsg_addstr(reply, pull.county);
                zmsg_addstr(reply, to);
                zmsg_addstr(reply, atol(PQgetvalue(page, 0, 1)) == pull.limit ? "1" : "0");
                s_copy_text(reply, aggregates);
                s_copy_text(reply, warnings);
                if (self->metrics)
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
        zmsg_addstr(reply, QUERY_ERROR);
        zmsg_addstr(reply, err);
    }
    PQclear(page);
    PQclear(aggregates);
    PQclear(warnings);
    free(county), free(cursor), free(limit);
}

/*  [QUERY_CURRENT] or [QUERY_CURRENT_TEXT] → [ok][lines]. */
static void s_self_current(s_self_t *self, bool text, zmsg_t *reply)
{
    char err[512];
    const char *params[] = {text ? "text" : "json"};
    PGconn *conn = s_self_conn(self, err, sizeof err);
    PGresult *res = conn ? PQexecParams(conn, s_current_sql, 1, NULL, params, NULL, NULL, 0)
                         : NULL;
    if (res && PQresultStatus(res) == PGRES_TUPLES_OK) {
        zmsg_addstr(reply, QUERY_OK);
        zmsg_addstr(reply, PQgetvalue(res, 0, 0));
    } else {
        zmsg_addstr(reply, QUERY_ERROR);
        zmsg_addstrf(reply, "could not read the warnings: %s",
                     res ? PQresultErrorMessage(res) : err);
    }
    PQclear(res);
}

/*  One request: [routing id][name][arguments...] → [routing id][ok or error]... */
static void s_self_handle_router(s_self_t *self)
{
    zmsg_t *request = zmsg_recv(self->router);
    if (!request)
        return;
    zframe_t *id = zmsg_pop(request);
    char *what = zmsg_popstr(request);
    zmsg_t *reply = zmsg_new();
    zmsg_append(reply, &id);
    if (what && strcmp(what, QUERY_PULL) == 0) {
        s_self_pull(self, request, reply);
    } else if (what && strcmp(what, QUERY_CURRENT) == 0) {
        s_self_current(self, false, reply);
    } else if (what && strcmp(what, QUERY_CURRENT_TEXT) == 0) {
        s_self_current(self, true, reply);
    } else {
        char shown[80];
        zmsg_addstr(reply, QUERY_ERROR);
        zmsg_addstrf(reply, "unknown request \"%s\" (expected \"%s\" or \"%s\")",
                     str_escape(what, shown, sizeof shown), QUERY_CURRENT,
                     QUERY_PULL);
    }
    zmsg_send(&reply, self->router);
    free(what);
    zmsg_destroy(&request);
}

static void s_self_handle_pipe(s_self_t *self)
{
    char *command = zstr_recv(self->pipe);
    self->terminated = !command || strcmp(command, "$TERM") == 0;
    free(command);
}

void query_server_actor(zsock_t *pipe, void *args)
{
    const query_server_config_t *config = args;
    s_self_t *self = s_self_new(pipe, config);
    char err[512];
    int started = s_self_bind(self, config, err, sizeof err);
    zsock_signal(pipe, 0);
    zstr_sendf(pipe, "%s", started == 0 ? "READY" : err); // zactor_new drops the signal's status
    zpoller_t *poller = zpoller_new(pipe, started == 0 ? self->router : NULL, NULL);
    zpoller_set_nonstop(poller, true); // SIGTERM: the aggregator ends the actor with $TERM
    while (!self->terminated) {
        void *which = zpoller_wait(poller, -1);
        if (which == pipe)
            s_self_handle_pipe(self);
        else if (which && which == self->router)
            s_self_handle_router(self);
    }
    zpoller_destroy(&poller);
    s_self_destroy(&self);
}
