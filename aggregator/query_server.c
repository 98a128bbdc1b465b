/*  query_server - the county's `query` endpoint, an actor (see query_server.h)
 *
 *  A CZMQ actor in zbeacon's manner: a private self, one handler for its pipe and one for the
 *  ROUTER, a terminated flag. The requests and replies are spelled in common/query.h; s_requests
 *  says which class of key may ask each (the gate puts the class in every message), and every
 *  refusal is a clear error at the client.
 */
#include "query_server.h"

#include "approval.h"
#include "gate.h"
#include "keys.h"
#include "ledger.h"
#include "log.h"
#include "period.h"
#include "pg.h"
#include "pull.h"
#include "query.h"
#include "silences.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    zsock_t *pipe;       // to the aggregator's main thread
    zsock_t *router;     // the readers' requests
    char *county;        // 6-digit code
    char *conninfo;      // the readers' role
    PGconn *conn;        // its connection (NULL: not yet, or lost)
    char *work_conninfo; // the working role, for cases and acts
    PGconn *work;        // its connection (NULL: not yet, or lost)
    bool curve;          // keys have classes (without CURVE every loopback peer may do all)
    metrics_t *metrics;  // counts pulls (borrowed; NULL for none)
    bool terminated;     // $TERM received
} s_self_t;

static s_self_t *s_self_new(zsock_t *pipe, const query_server_config_t *config)
{
    s_self_t *self = xcalloc(1, sizeof *self);
    self->pipe = pipe;
    self->county = xstrdup(config->county);
    self->conninfo = xstrdup(config->conninfo);
    self->work_conninfo = xstrdup(config->work_conninfo);
    self->curve = config->curve;
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
    if (self->work)
        PQfinish(self->work);
    free(self->county);
    free(self->conninfo);
    free(self->work_conninfo);
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

/*  [QUERY_PULL][county][cursor][limit][version] → [ok][county][next cursor][more][parts...]
 *  (pull.h). */
static void s_self_pull(s_self_t *self, zmsg_t *request, zmsg_t *reply)
{
    char *county = zmsg_popstr(request), *cursor = zmsg_popstr(request);
    char *limit = zmsg_popstr(request), *version = zmsg_popstr(request), err[512] = "";
    query_pull_t pull;
    PGconn *conn = NULL;
    zmsg_t *answer = zmsg_new();
    if (query_parse_pull(county, cursor, limit, &pull, err, sizeof err) != 0) {
        // err says what is wrong
    } else if (version && strcmp(version, QUERY_PULL_VERSION) != 0) {
        errorf(err, sizeof err, "malformed pull: version \"%.8s\" is not %s", version,
               QUERY_PULL_VERSION);
    } else if (strcmp(pull.county, self->county) != 0) {
        errorf(err, sizeof err, "this is county %s, not %s", self->county, pull.county);
    } else if ((conn = s_self_conn(self, err, sizeof err)) &&
               pull_page(conn, &pull, version != NULL, answer, err, sizeof err) == 0) {
        zmsg_addstr(reply, QUERY_OK);
        zmsg_addstr(reply, pull.county);
        for (zframe_t *f = zmsg_pop(answer); f; f = zmsg_pop(answer))
            zmsg_append(reply, &f);
        if (self->metrics)
            metrics_add(self->metrics, "edu_province_pulls_total", NULL, 1);
    }
    if (*err) {
        zmsg_addstr(reply, QUERY_ERROR);
        zmsg_addstr(reply, err);
    }
    zmsg_destroy(&answer);
    free(county), free(cursor), free(limit), free(version);
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

/*  The working role's connection, made again after it was lost. Borrowed; NULL with err. */
static PGconn *s_self_work(s_self_t *self, char *err, size_t errlen)
{
    if (self->work && PQstatus(self->work) != CONNECTION_OK) {
        PQfinish(self->work);
        self->work = NULL;
    }
    if (!self->work)
        self->work = pg_connect(self->work_conninfo, "edu-aggregator", err, errlen);
    return self->work;
}

//  One request's asker and arguments.
typedef struct {
    const char *class;  // GATE_CLASS_* of the key
    const char *person; // who holds it
    char *arg[6];       // the frames after the request's name (NULL where missing)
} s_ask_t;

typedef void(s_answer_fn)(s_self_t *self, s_ask_t *ask, zmsg_t *request, zmsg_t *reply);

/*  An answer of text, or the error. Takes text. */
static void s_reply(zmsg_t *reply, char *text, const char *err)
{
    zmsg_addstr(reply, text ? QUERY_OK : QUERY_ERROR);
    zmsg_addstr(reply, text ? text : err);
    free(text);
}

static void s_answer_pull(s_self_t *self, s_ask_t *ask, zmsg_t *request, zmsg_t *reply)
{
    (void) ask;
    s_self_pull(self, request, reply);
}

static void s_answer_current(s_self_t *self, s_ask_t *ask, zmsg_t *request, zmsg_t *reply)
{
    (void) ask, (void) request;
    s_self_current(self, false, reply);
}

static void s_answer_current_text(s_self_t *self, s_ask_t *ask, zmsg_t *request, zmsg_t *reply)
{
    (void) ask, (void) request;
    s_self_current(self, true, reply);
}

static bool s_flag(const char *s)
{
    return s && strcmp(s, "1") == 0;
}

static const char *s_or_empty(const char *s)
{
    return s ? s : "";
}

static void s_answer_cases(s_self_t *self, s_ask_t *ask, zmsg_t *request, zmsg_t *reply)
{
    (void) request;
    char err[1024];
    time_t now;
    PGconn *conn = s_self_work(self, err, sizeof err);
    bool text = ask->arg[0] && strcmp(ask->arg[0], "text") == 0;
    char *answer = NULL;
    if (conn && period_now(&now) == 0) {
        ledger_filter_t filter = {.text = text,
                                  .state = s_or_empty(ask->arg[1]),
                                  .school = s_or_empty(ask->arg[2]),
                                  .overdue = s_flag(ask->arg[3])};
        answer = s_flag(ask->arg[4]) ? ledger_summary(conn, text, err, sizeof err)
                                     : ledger_list(conn, &filter, now, err, sizeof err);
    }
    s_reply(reply, answer, err);
}

static void s_answer_act(s_self_t *self, s_ask_t *ask, const char *what, zmsg_t *reply)
{
    char err[16384]; // an approval refused names every flag still unresolved
    time_t now;
    PGconn *conn = s_self_work(self, err, sizeof err);
    char *answer = NULL;
    if (conn && period_now(&now) == 0) {
        char **a = ask->arg;
        const char *id = s_or_empty(a[0]);
        if (strcmp(what, QUERY_ACK) == 0)
            answer = ledger_ack(conn, id, ask->person, a[1], now, err, sizeof err);
        else if (strcmp(what, QUERY_ASSIGN) == 0)
            answer = ledger_assign(conn, id, ask->person, a[1], a[2], a[3], now, err, sizeof err);
        else if (strcmp(what, QUERY_NOTE) == 0)
            answer = ledger_note(conn, id, ask->person, a[1], now, err, sizeof err);
        else if (strcmp(what, QUERY_CLOSE) == 0)
            answer = ledger_close(conn, id, ask->person, a[1], now, err, sizeof err);
        else if (strcmp(what, QUERY_SILENCE) == 0)
            answer = silences_add(conn, a[0], a[1], a[2], ask->person, now, err, sizeof err);
        else if (strcmp(what, QUERY_UNSILENCE) == 0)
            answer = silences_lift(conn, id, ask->person, now, err, sizeof err);
        else if (strcmp(what, QUERY_APPROVE) == 0)
            answer = approval_approve(conn, a[0], ask->person, a[1], a[2], now, err, sizeof err);
        else if (strcmp(what, QUERY_UNLOCK) == 0)
            answer = approval_unlock(conn, a[0], ask->person, a[1], now, err, sizeof err);
        else if (strcmp(what, QUERY_ACCEPT) == 0)
            answer = approval_accept(conn, a[0], a[1], ask->person, now, err, sizeof err);
        else if (strcmp(what, QUERY_RETURN) == 0)
            answer = approval_return(conn, a[0], a[1], ask->person, a[2], now, err, sizeof err);
    }
    if (answer)
        log_info("query", "%s: %s %s", what, ask->person, s_or_empty(ask->arg[0]));
    s_reply(reply, answer, err);
}

static void s_answer_silences(s_self_t *self, s_ask_t *ask, zmsg_t *request, zmsg_t *reply)
{
    (void) request;
    char err[1024];
    time_t now;
    PGconn *conn = s_self_work(self, err, sizeof err);
    char *answer = NULL;
    if (conn && period_now(&now) == 0)
        answer = silences_list(conn, ask->arg[0] && strcmp(ask->arg[0], "text") == 0, now, err,
                               sizeof err);
    s_reply(reply, answer, err);
}

#define S_READ GATE_CLASS_READER "," GATE_CLASS_SUPERVISOR
#define S_ACT GATE_CLASS_SUPERVISOR

/*  Each request, who may ask it, and how many argument frames it takes at most. */
static const struct {
    const char *name;
    const char *classes; // comma-separated GATE_CLASS_*
    int args;            // frames after the name, at most
    s_answer_fn *answer; // NULL: an act (s_answer_act)
} s_requests[] = {
    {QUERY_CURRENT, S_READ, 0, s_answer_current},
    {QUERY_CURRENT_TEXT, S_READ, 0, s_answer_current_text},
    {QUERY_PULL, S_READ "," GATE_CLASS_PROVINCE, 4, s_answer_pull},
    {QUERY_CASES, S_READ, 5, s_answer_cases},
    {QUERY_SILENCES, S_READ, 1, s_answer_silences},
    {QUERY_ACK, S_ACT, 2, NULL},
    {QUERY_ASSIGN, S_ACT, 4, NULL},
    {QUERY_NOTE, S_ACT, 2, NULL},
    {QUERY_CLOSE, S_ACT, 2, NULL},
    {QUERY_SILENCE, S_ACT, 3, NULL},
    {QUERY_UNSILENCE, S_ACT, 1, NULL},
    {QUERY_APPROVE, S_ACT, 3, NULL},
    {QUERY_UNLOCK, S_ACT, 2, NULL},
    {QUERY_ACCEPT, GATE_CLASS_PROVINCE, 2, NULL},
    {QUERY_RETURN, GATE_CLASS_PROVINCE, 3, NULL},
};

static bool s_allowed(const char *classes, const char *class)
{
    size_t n = strlen(class);
    for (const char *c = classes; *c;) {
        size_t len = strcspn(c, ",");
        if (len == n && strncmp(c, class, n) == 0)
            return true;
        c += len + (c[len] == ',');
    }
    return false;
}

static const char *s_class_name(const char *class)
{
    return strcmp(class, GATE_CLASS_SUPERVISOR) == 0 ? "督学（supervisor）"
           : strcmp(class, GATE_CLASS_PROVINCE) == 0 ? "省级（province）"
                                                     : "只读（reader）";
}

/*  One request: [routing id][name][arguments...] → [routing id][ok or error]... */
static void s_self_handle_router(s_self_t *self)
{
    zmsg_t *request = zmsg_recv(self->router);
    if (!request)
        return;
    zframe_t *id = zmsg_pop(request);
    zframe_t *name = zmsg_first(request);
    // the gate's word on the key, copied: its frame goes with the name
    char class[16] = GATE_CLASS_SUPERVISOR, person[QUERY_MAX_NAME + 1] = "local";
    if (self->curve && name) {
        const char *c = zframe_meta(name, GATE_CLASS_PROPERTY);
        const char *p = zframe_meta(name, GATE_PERSON_PROPERTY);
        snprintf(class, sizeof class, "%s", c ? c : GATE_CLASS_READER);
        if (!p || !ledger_text_ok(p, QUERY_MAX_NAME))
            p = "?";
        snprintf(person, sizeof person, "%s", p);
    }
    s_ask_t ask = {.class = class, .person = person};
    char *what = zmsg_popstr(request);
    zmsg_t *reply = zmsg_new();
    zmsg_append(reply, &id);
    size_t i = 0, n = sizeof s_requests / sizeof *s_requests;
    while (what && i < n && strcmp(what, s_requests[i].name) != 0)
        i++;
    char shown[80];
    if (i == n) {
        zmsg_addstr(reply, QUERY_ERROR);
        zmsg_addstrf(reply, "unknown request \"%s\"", str_escape(what, shown, sizeof shown));
    } else if (!s_allowed(s_requests[i].classes, ask.class)) {
        zmsg_addstr(reply, QUERY_ERROR);
        zmsg_addstrf(reply, "这把密钥是%s密钥，不能%s（a %s key may not ask \"%s\"）",
                     s_class_name(ask.class),
                     s_requests[i].answer                       ? "读取这些内容"
                     : strcmp(s_requests[i].classes, GATE_CLASS_PROVINCE) == 0 ? "接受或退回学年"
                                                                : "办理整改、静默或审核",
                     ask.class, what);
        log_info("query", "refused \"%s\" to %s (a %s key)", what, ask.person, ask.class);
    } else if (zmsg_size(request) > (size_t) s_requests[i].args) {
        zmsg_addstr(reply, QUERY_ERROR);
        zmsg_addstrf(reply, "malformed request \"%s\": at most %d frames after its name", what,
                     s_requests[i].args);
    } else if (s_requests[i].answer == s_answer_pull) {
        s_answer_pull(self, &ask, request, reply);
    } else {
        for (int a = 0; a < s_requests[i].args; a++)
            ask.arg[a] = zmsg_popstr(request);
        if (s_requests[i].answer)
            s_requests[i].answer(self, &ask, request, reply);
        else
            s_answer_act(self, &ask, what, reply);
        for (int a = 0; a < s_requests[i].args; a++)
            free(ask.arg[a]);
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
