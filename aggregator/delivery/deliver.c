/*  deliver - alerts leave the county: the PUB socket, webhooks and e-mail, at least once each
 *
 *  The cursor is safe to move past every alert read because alerts are written by one
 *  connection (the aggregator's store, one transaction at a time), so ids become visible in
 *  order. Payloads that need JSON escaping (DingTalk, WeCom) and the e-mail subject's encoded
 *  word are made by PostgreSQL, which does both correctly; the alert object itself is the view
 *  edu.alert_json.
 */
#include "deliver.h"

#include "keys.h"
#include "gate.h"
#include "log.h"
#include "pg.h"
#include "util.h"

#include <curl/curl.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define S_IDLE_MS 500     // a round at least this often when nothing kicks
#define S_PUB_PAGE 500    // alerts published per round
#define S_JSON_PAGE 100   // alerts POSTed one by one per round
#define S_PEOPLE_PAGE 500 // alerts grouped into one message at most
#define S_STR_(x) #x
#define S_STR(x) S_STR_(x) // a page size as SQL text, at compile time

typedef struct {
    deliver_config_t config;  // copied; strings below owned
    destination_t dest;       // owned copy
    char *conninfo;           // owned
    char *county;             // owned
    zsock_t *pipe;            // to the aggregator
    zsock_t *pub;             // pub only
    PGconn *conn;             // NULL while disconnected
    CURL *curl;               // webhook and e-mail
    int attempts;             // failed tries in a row
    int64_t next_round_ms;    // no round before this
    log_complain_t trouble;   // failing deliveries, reported with back-off
    bool terminated;          // $TERM received
} s_self_t;

static char *s_dup(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

void destination_free(destination_t *dest)
{
    free(dest->name);
    free(dest->url);
    free(dest->format);
    free(dest->from);
    free(dest->to);
    *dest = (destination_t){0};
}

//  --------------------------------------------------------------------------
//  Database helpers

static PGresult *s_query(s_self_t *self, const char *sql, int n, const char *const *params,
                         char *err, size_t errlen)
{
    if (!self->conn || PQstatus(self->conn) != CONNECTION_OK) {
        if (self->conn)
            PQfinish(self->conn);
        self->conn = pg_connect(self->conninfo, "edu-aggregator", err, errlen);
        if (!self->conn)
            return NULL;
    }
    PGresult *res = PQexecParams(self->conn, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        errorf(err, errlen, "%s", PQresultErrorMessage(res));
        PQclear(res);
        return NULL;
    }
    return res;
}

static int s_cursor(s_self_t *self, char *last, size_t size, char *err, size_t errlen)
{
    // the aggregator registers every destination's cursor before it starts the actors
    const char *params[] = {self->dest.name};
    PGresult *res = s_query(self, "SELECT last_id FROM edu.alert_destination WHERE name = $1", 1,
                            params, err, errlen);
    if (!res)
        return -1;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return errorf(err, errlen, "the destination has no cursor in edu.alert_destination");
    }
    snprintf(last, size, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

static int s_move_cursor(s_self_t *self, const char *id, char *err, size_t errlen)
{
    const char *params[] = {self->dest.name, id};
    PGresult *res = s_query(self,
                            "UPDATE edu.alert_destination SET last_id = $2::bigint, attempts = 0,"
                            " last_error = NULL, updated_at = now() WHERE name = $1",
                            2, params, err, errlen);
    if (!res)
        return -1;
    PQclear(res);
    return 0;
}

static void s_note_failure(s_self_t *self, const char *error)
{
    char attempts[16], err[256];
    snprintf(attempts, sizeof attempts, "%d", self->attempts);
    const char *params[] = {self->dest.name, attempts, error};
    PGresult *res = s_query(self,
                            "UPDATE edu.alert_destination SET attempts = $2::int,"
                            " last_error = $3, updated_at = now() WHERE name = $1",
                            3, params, err, sizeof err);
    PQclear(res);
}

//  --------------------------------------------------------------------------
//  Sending

static int s_post(s_self_t *self, const char *body, char *err, size_t errlen)
{
    struct curl_slist *headers =
        curl_slist_append(NULL, "Content-Type: application/json; charset=utf-8");
    curl_easy_reset(self->curl);
    curl_easy_setopt(self->curl, CURLOPT_URL, self->dest.url);
    curl_easy_setopt(self->curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(self->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(self->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(self->curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(self->curl, CURLOPT_TIMEOUT_MS, 15000L);
    curl_easy_setopt(self->curl, CURLOPT_USERAGENT, "eduwatch/" EDU_VERSION);
    CURLcode rc = curl_easy_perform(self->curl);
    long status = 0;
    curl_easy_getinfo(self->curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    if (rc != CURLE_OK)
        return errorf(err, errlen, "could not POST to \"%s\": %s", self->dest.url,
                      curl_easy_strerror(rc));
    if (status < 200 || status > 299)
        return errorf(err, errlen, "\"%s\" answered HTTP %ld", self->dest.url, status);
    return 0;
}

typedef struct {
    const char *data; // what is left to send
    size_t left;      // its length
} s_upload_t;

static size_t s_read(char *buffer, size_t size, size_t count, void *arg)
{
    s_upload_t *up = arg;
    size_t n = size * count < up->left ? size * count : up->left;
    memcpy(buffer, up->data, n);
    up->data += n;
    up->left -= n;
    return n;
}

static int s_mail(s_self_t *self, const char *message, char *err, size_t errlen)
{
    char from[512], to[512];
    snprintf(from, sizeof from, "<%s>", self->dest.from);
    snprintf(to, sizeof to, "<%s>", self->dest.to);
    struct curl_slist *rcpt = curl_slist_append(NULL, to);
    s_upload_t up = {message, strlen(message)};
    curl_easy_reset(self->curl);
    curl_easy_setopt(self->curl, CURLOPT_URL, self->dest.url);
    curl_easy_setopt(self->curl, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(self->curl, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(self->curl, CURLOPT_READFUNCTION, s_read);
    curl_easy_setopt(self->curl, CURLOPT_READDATA, &up);
    curl_easy_setopt(self->curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(self->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(self->curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(self->curl, CURLOPT_TIMEOUT_MS, 30000L);
    CURLcode rc = curl_easy_perform(self->curl);
    curl_slist_free_all(rcpt);
    if (rc != CURLE_OK)
        return errorf(err, errlen, "could not mail %s through \"%s\": %s", self->dest.to,
                      self->dest.url, curl_easy_strerror(rc));
    return 0;
}

//  --------------------------------------------------------------------------
//  Rounds: each returns 1 when more alerts wait, 0 when done, -1 on failure

static int s_round_pub(s_self_t *self, char *err, size_t errlen)
{
    char last[32];
    if (s_cursor(self, last, sizeof last, err, errlen) != 0)
        return -1;
    const char *params[] = {last};
    PGresult *res = s_query(self,
                            "SELECT j.id, j.level, j.kind, j.body, a.message, a.audience"
                            " FROM edu.alert_json j JOIN edu.alert a USING (id)"
                            " WHERE j.id > $1::bigint ORDER BY j.id LIMIT " S_STR(S_PUB_PAGE),
                            1, params, err, errlen);
    if (!res)
        return -1;
    int n = PQntuples(res);
    for (int i = 0; i < n; i++) {
        if (strcmp(PQgetvalue(res, i, 5), "people") == 0)
            continue; // a digest or reminder for people: the PUB socket has every item
        zstr_sendfm(self->pub, "%s.%s.%s", self->county, PQgetvalue(res, i, 1),
                    PQgetvalue(res, i, 2));
        zstr_sendm(self->pub, PQgetvalue(res, i, 3));
        zstr_send(self->pub, PQgetvalue(res, i, 4));
    }
    int rc = n ? s_move_cursor(self, PQgetvalue(res, n - 1, 0), err, errlen) : 0;
    PQclear(res);
    return rc < 0 ? -1 : n == S_PUB_PAGE;
}

static int s_round_json(s_self_t *self, char *err, size_t errlen)
{
    char last[32];
    if (s_cursor(self, last, sizeof last, err, errlen) != 0)
        return -1;
    const char *params[] = {last, self->dest.red_only ? "red" : "yellow"};
    // min_level: red keeps red alerts and the resolutions of red ones
    PGresult *res = s_query(self,
                            "SELECT j.id, j.body, a.audience <> 'people' AND ($2 = 'yellow'"
                            "        OR a.level = 'red'"
                            "        OR (a.level = 'green' AND a.previous_level = 'red'))"
                            " FROM edu.alert_json j JOIN edu.alert a USING (id)"
                            " WHERE j.id > $1::bigint ORDER BY j.id LIMIT " S_STR(S_JSON_PAGE),
                            2, params, err, errlen);
    if (!res)
        return -1;
    int n = PQntuples(res), rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        if (strcmp(PQgetvalue(res, i, 2), "t") == 0)
            rc = s_post(self, PQgetvalue(res, i, 1), err, errlen);
        if (rc == 0)
            rc = s_move_cursor(self, PQgetvalue(res, i, 0), err, errlen);
    }
    PQclear(res);
    return rc < 0 ? -1 : n == S_JSON_PAGE;
}

/*  The alerts ready for a person: older than group_wait, each item collapsed into its last
 *  change, min_level applied, yellow silenced where the same school, indicator and period is
 *  red; worst first. Column 0 of every row: the id the cursor moves to. */
static const char *s_people_sql =
    "WITH ready AS ("
    "  SELECT * FROM edu.alert WHERE id > $1::bigint"
    "    AND raised_at <= now() - make_interval(secs => $3::float8 / 1000)"
    "  ORDER BY id LIMIT " S_STR(S_PEOPLE_PAGE) "),"
    " last AS ("
    "  SELECT DISTINCT ON (kind, subject, stage, indicator, period) *"
    "  FROM ready WHERE audience <> 'machines'"  // items a digest stands for
    "  ORDER BY kind, subject, stage, indicator, period, id DESC)"
    " SELECT through, level, message FROM ("
    "  SELECT (SELECT max(id) FROM ready) AS through, l.level, l.message"
    "  FROM last l"
    "  WHERE ($2 = 'yellow' OR l.level = 'red'"
    "         OR (l.level = 'green' AND l.previous_level = 'red'))"
    "    AND NOT (l.level = 'yellow' AND EXISTS ("
    "      SELECT 1 FROM edu.warning_state s WHERE s.subject = l.subject AND s.stage = l.stage"
    "        AND s.indicator = l.indicator AND s.period = l.period AND s.level = 'red'))"
    "  UNION ALL SELECT (SELECT max(id) FROM ready), NULL, NULL) x"
    " ORDER BY level = 'red' DESC, level = 'yellow' DESC, message";

/*  Title and payload of one message from rows (level, message), made by PostgreSQL. */
static const char *s_payload_sql =
    "SELECT t.title, CASE $2"
    "  WHEN 'dingtalk' THEN json_build_object('msgtype', 'markdown', 'markdown',"
    "    json_build_object('title', t.title, 'text', '### ' || t.title || E'\\n\\n' || $1))::text"
    "  WHEN 'wecom' THEN json_build_object('msgtype', 'markdown', 'markdown',"
    "    json_build_object('content', '### ' || t.title || E'\\n\\n' || $1))::text"
    "  ELSE 'Subject: =?UTF-8?B?' || replace(encode(convert_to(t.title, 'UTF8'), 'base64'),"
    "    E'\\n', '') || E'?=\\r\\nFrom: <' || $6 || E'>\\r\\nTo: <' || $7 || E'>\\r\\n'"
    "    || E'MIME-Version: 1.0\\r\\nContent-Type: text/plain; charset=UTF-8\\r\\n'"
    "    || E'Content-Transfer-Encoding: 8bit\\r\\n\\r\\n' || replace($1, E'\\n', E'\\r\\n')"
    "  END"
    " FROM (SELECT '县 ' || $3 || ' 预警变化 ' || $4 || ' 条（红色 ' || $5 || '）' AS title) t";

static int s_round_people(s_self_t *self, char *err, size_t errlen)
{
    char last[32], wait[16];
    if (s_cursor(self, last, sizeof last, err, errlen) != 0)
        return -1;
    snprintf(wait, sizeof wait, "%d", self->config.group_wait_ms);
    const char *params[] = {last, self->dest.red_only ? "red" : "yellow", wait};
    PGresult *res = s_query(self, s_people_sql, 3, params, err, errlen);
    if (!res)
        return -1;
    int n = PQntuples(res), rc = 0;
    const char *through = PQgetvalue(res, 0, 0);
    if (!*through) { // nothing ready
        PQclear(res);
        return 0;
    }
    size_t size = 1, used = 0, count = 0, red = 0;
    for (int i = 0; i < n; i++)
        size += strlen(PQgetvalue(res, i, 2)) + 8;
    char *text = xcalloc(1, size);
    const char *bullet = self->dest.kind == DELIVER_EMAIL ? "" : "- ";
    for (int i = 0; i < n; i++) {
        if (PQgetisnull(res, i, 1))
            continue;
        count++;
        red += strcmp(PQgetvalue(res, i, 1), "red") == 0;
        used += (size_t) snprintf(text + used, size - used, "%s%s\n", bullet,
                                  PQgetvalue(res, i, 2));
    }
    if (count) {
        char count_text[24], red_text[24];
        snprintf(count_text, sizeof count_text, "%zu", count);
        snprintf(red_text, sizeof red_text, "%zu", red);
        const char *p[] = {text,
                           self->dest.kind == DELIVER_EMAIL ? "email" : self->dest.format,
                           self->county,
                           count_text,
                           red_text,
                           self->dest.from ? self->dest.from : "",
                           self->dest.to ? self->dest.to : ""};
        PGresult *payload = s_query(self, s_payload_sql, 7, p, err, errlen);
        if (!payload)
            rc = -1;
        else {
            const char *body = PQgetvalue(payload, 0, 1);
            rc = self->dest.kind == DELIVER_EMAIL ? s_mail(self, body, err, errlen)
                                                  : s_post(self, body, err, errlen);
            PQclear(payload);
        }
    }
    free(text);
    if (rc == 0)
        rc = s_move_cursor(self, through, err, errlen);
    if (rc == 0 && count)
        log_info("deliver", "%s: sent %zu alerts (%zu red) in one message", self->dest.name,
                 count, red);
    PQclear(res);
    return rc < 0 ? -1 : 0;
}

//  --------------------------------------------------------------------------
//  The actor

static void s_round(s_self_t *self)
{
    char err[1024] = "";
    int rc;
    do {
        if (self->dest.kind == DELIVER_PUB)
            rc = s_round_pub(self, err, sizeof err);
        else if (self->dest.kind == DELIVER_WEBHOOK && strcmp(self->dest.format, "json") == 0)
            rc = s_round_json(self, err, sizeof err);
        else
            rc = s_round_people(self, err, sizeof err);
    } while (rc == 1);
    if (rc == 0) {
        if (self->attempts)
            log_release(&self->trouble, "deliver", "%s: delivering again", self->dest.name);
        self->attempts = 0;
        self->next_round_ms = clock_mono_ms() + S_IDLE_MS;
        return;
    }
    self->attempts++;
    int backoff = 500;
    for (int i = 1; i < self->attempts && backoff < self->config.max_backoff_ms; i++)
        backoff *= 2;
    if (backoff > self->config.max_backoff_ms)
        backoff = self->config.max_backoff_ms;
    uint32_t r = 0;
    if (getrandom(&r, sizeof r, 0) != sizeof r)
        r = (uint32_t) clock_mono_ms();
    backoff = backoff / 2 + (int) (r % (uint32_t) (backoff / 2 + 1));
    self->next_round_ms = clock_mono_ms() + backoff;
    log_complain(&self->trouble, LOG_LEVEL_WARN, "deliver", "%s: %s; trying again (attempt %d)",
                 self->dest.name, err, self->attempts);
    s_note_failure(self, err);
}

static int s_start(s_self_t *self)
{
    if (self->dest.kind != DELIVER_PUB) {
        self->curl = curl_easy_init();
        return self->curl ? 0 : -1;
    }
    self->pub = zsock_new(ZMQ_PUB);
    zsock_set_linger(self->pub, 0);
    zsock_set_sndhwm(self->pub, 100000);
    if (self->config.curve) {
        char err[256];
        zcert_t *cert = keys_load_secret(self->config.secret, err, sizeof err);
        if (!cert) {
            log_error("deliver", "%s", err);
            return -1;
        }
        zsock_set_zap_domain(self->pub, GATE_ALERTS); // readers' and supervisors' keys
        zcert_apply(cert, self->pub);
        zsock_set_curve_server(self->pub, 1);
        zcert_destroy(&cert);
    }
    if (zsock_bind(self->pub, "%s", self->config.endpoint) < 0) {
        log_error("deliver", "could not bind alerts on \"%s\": %s", self->config.endpoint,
                  zmq_strerror(zmq_errno()));
        return -1;
    }
    return 0;
}

void deliver_actor(zsock_t *pipe, void *args)
{
    const deliver_config_t *config = args;
    s_self_t self = {.config = *config, .pipe = pipe};
    self.conninfo = xstrdup(config->conninfo);
    self.county = xstrdup(config->county);
    self.dest = (destination_t){.kind = config->dest->kind,
                                .name = s_dup(config->dest->name),
                                .url = s_dup(config->dest->url),
                                .format = s_dup(config->dest->format ? config->dest->format
                                                                     : "json"),
                                .from = s_dup(config->dest->from),
                                .to = s_dup(config->dest->to),
                                .red_only = config->dest->red_only};
    int started = s_start(&self);
    zsock_signal(pipe, started == 0 ? 0 : 1);
    zstr_send(pipe, started == 0 ? "READY" : "FAILED"); // zactor_new drops the signal's status
    while (started != 0 && !self.terminated) { // broken: only wait to be told to end
        char *command = zstr_recv(pipe);
        self.terminated = !command || strcmp(command, "$TERM") == 0;
        free(command);
    }
    // the writer publishes a kick after each commit that may have written alerts
    zsock_t *kick = zsock_new_sub(">" DELIVER_KICK_ENDPOINT, "");
    zpoller_t *poller = zpoller_new(pipe, kick, NULL);
    zpoller_set_nonstop(poller, true); // SIGTERM: the aggregator ends the actor with $TERM
    while (!self.terminated) {
        int64_t wait = self.next_round_ms - clock_mono_ms();
        void *which = zpoller_wait(poller, wait > 0 ? (int) wait : 0);
        if (which == pipe) {
            char *command = zstr_recv(pipe);
            self.terminated = !command || strcmp(command, "$TERM") == 0;
            free(command);
        } else if (which == kick) {
            zmsg_t *msg = zmsg_recv(kick);
            zmsg_destroy(&msg);
            if (self.attempts == 0)
                self.next_round_ms = 0; // a kick does not shorten a back-off
        }
        if (!self.terminated && clock_mono_ms() >= self.next_round_ms)
            s_round(&self);
    }
    zpoller_destroy(&poller);
    zsock_destroy(&kick);
    zsock_destroy(&self.pub);
    if (self.curl)
        curl_easy_cleanup(self.curl);
    if (self.conn)
        PQfinish(self.conn);
    destination_free(&self.dest);
    free(self.conninfo);
    free(self.county);
}
