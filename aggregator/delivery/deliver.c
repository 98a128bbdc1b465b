/*  deliver - alerts leave the county: the PUB socket, webhooks and e-mail, at least once each
 *
 *  The cursor is safe to move past every alert read because alerts are written by one
 *  connection (the aggregator's store, one transaction at a time), so ids become visible in
 *  order. Payloads that need JSON escaping (DingTalk, WeCom, Feishu) and the e-mail subject's
 *  encoded word are made by PostgreSQL, which does both correctly; the alert object itself is
 *  the view edu.alert_json.
 *
 *  What a failed try does next depends on why it failed (robot.h): a passing fault is tried
 *  again with a capped, jittered back-off; a robot that says "too fast" is left alone for its
 *  window; a robot that refuses the message (signature, keyword, token) is reported at error
 *  level once (and hourly while it lasts) and tried again slowly, since only a change of its
 *  settings can help. The rate limit of a robot is kept here, in memory, as the times of the
 *  last messages sent: a restart forgets it, and the robot's own "too fast" covers that case.
 *  A URL shown in a log line or stored as a destination's last error goes through
 *  redact_url first.
 */
#include "deliver.h"
#include "deliver_config.h"

#include "keys.h"
#include "gate.h"
#include "log.h"
#include "period.h"
#include "pg.h"
#include "redact.h"
#include "util.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>

#define S_IDLE_MS 500          // a round at least this often when nothing kicks
#define S_PUB_PAGE 500         // alerts published per round
#define S_JSON_PAGE 100        // alerts POSTed one by one per round
#define S_PEOPLE_PAGE 500      // alerts grouped into one message at most
#define S_LINE_CHARS 600       // characters of an alert's sentence in a message for people, at most
#define S_ANSWER_MAX 4096      // bytes of a webhook's answer kept (the rest is read and dropped)
#define S_RATE_WINDOW_MS 60000 // a robot's rate is counted over a minute
#define S_REFUSED_RETRY_MS 300000   // a refused message is tried again after 5 minutes
#define S_REFUSED_REMIND_MS 3600000 // and the refusal reported again hourly while it lasts
#define S_STR_(x) #x
#define S_STR(x) S_STR_(x) // a page size as SQL text, at compile time

typedef struct {
    deliver_config_t config;   // copied; strings below owned
    destination_t dest;        // owned copy
    char *conninfo;            // owned
    char *county;              // owned
    char shown_url[512];       // dest.url with its credentials as ***, for messages
    zsock_t *pipe;             // to the aggregator
    zsock_t *pub;              // pub only
    PGconn *conn;              // NULL while disconnected
    CURL *curl;                // webhook and e-mail
    char answer[S_ANSWER_MAX]; // the webhook's last answer (terminated)
    size_t answer_len;         // its length
    int rate;                  // messages a minute at most (0: no limit)
    int64_t *sent_ms;          // monotonic times of the last `rate` messages, a ring
    int sent_count;            // how many of them are set
    int sent_head;             // the next slot; when all are set, the oldest
    robot_verdict_t verdict;   // why the last round failed
    int attempts;              // failed tries in a row
    int64_t next_round_ms;     // no round before this
    log_complain_t trouble;    // failing deliveries, reported with back-off
    log_complain_t refused;    // messages a robot refuses, reported at error level
    bool rate_waiting;         // next_round_ms is the robot's rate: a kick does not shorten it
    bool terminated;           // $TERM received
} s_self_t;

static char *s_dup(const char *s)
{
    return s ? xstrdup(s) : NULL;
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

/*  0 when a message may go now; else the monotonic time when the rate allows one. */
static int64_t s_rate_wait(const s_self_t *self)
{
    if (!self->rate || self->sent_count < self->rate)
        return 0;
    int64_t free_at = self->sent_ms[self->sent_head] + S_RATE_WINDOW_MS;
    return clock_mono_ms() < free_at ? free_at : 0;
}

static void s_rate_note(s_self_t *self)
{
    if (!self->rate)
        return;
    self->sent_ms[self->sent_head] = clock_mono_ms();
    self->sent_head = (self->sent_head + 1) % self->rate;
    if (self->sent_count < self->rate)
        self->sent_count++;
}

static size_t s_write(char *data, size_t size, size_t count, void *arg)
{
    s_self_t *self = arg;
    size_t n = size * count, room = sizeof self->answer - 1 - self->answer_len;
    size_t take = n < room ? n : room;
    memcpy(self->answer + self->answer_len, data, take);
    self->answer_len += take;
    self->answer[self->answer_len] = '\0';
    return n; // the rest is read and dropped
}

/*  POSTs body to the webhook (a DingTalk robot with a secret: to its URL signed now). Returns
 *  ROBOT_OK only when the webhook took it (a robot: said so in its answer); else err says why,
 *  the URL redacted. */
static robot_verdict_t s_post(s_self_t *self, const char *body, char *err, size_t errlen)
{
    char *signed_url = NULL;
    if (self->dest.secret && self->dest.format == ROBOT_DINGTALK) {
        signed_url = robot_signed_url(self->curl, self->dest.url, self->dest.secret,
                                      (int64_t) zclock_time());
        if (!signed_url) {
            errorf(err, errlen, "could not sign the request to \"%s\"", self->shown_url);
            return ROBOT_RETRY;
        }
    }
    struct curl_slist *headers =
        curl_slist_append(NULL, "Content-Type: application/json; charset=utf-8");
    curl_easy_reset(self->curl);
    curl_easy_setopt(self->curl, CURLOPT_URL, signed_url ? signed_url : self->dest.url);
    curl_easy_setopt(self->curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(self->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(self->curl, CURLOPT_WRITEFUNCTION, s_write);
    curl_easy_setopt(self->curl, CURLOPT_WRITEDATA, self);
    curl_easy_setopt(self->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(self->curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(self->curl, CURLOPT_TIMEOUT_MS, 15000L);
    curl_easy_setopt(self->curl, CURLOPT_USERAGENT, "eduwatch/" EDU_VERSION);
    self->answer_len = 0;
    self->answer[0] = '\0';
    CURLcode rc = curl_easy_perform(self->curl);
    // the robot counts its minute from when the message reached it, which is before its answer
    // came back and after the request left: noting the send when the answer is in keeps the
    // next message a minute behind on the robot's clock too, however slow this one was
    s_rate_note(self);
    long status = 0;
    curl_easy_getinfo(self->curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    free(signed_url);
    if (rc != CURLE_OK) {
        errorf(err, errlen, "could not POST to \"%s\": %s", self->shown_url,
               curl_easy_strerror(rc));
        return ROBOT_RETRY;
    }
    char said[1024];
    robot_verdict_t verdict =
        robot_answer(self->dest.format, status, self->answer, self->answer_len, said, sizeof said);
    const char *platform = robot_platform(self->dest.format);
    if (verdict == ROBOT_REFUSED)
        errorf(err, errlen, "the %s robot at \"%s\" refused the message: %s", platform,
               self->shown_url, said);
    else if (verdict == ROBOT_THROTTLED)
        errorf(err, errlen, "the %s robot at \"%s\" refused the message as sent too fast: %s",
               platform, self->shown_url, said);
    else if (verdict == ROBOT_RETRY && status >= 200 && status <= 299)
        errorf(err, errlen, "the %s robot at \"%s\" could not take the message: %s", platform,
               self->shown_url, said);
    else if (verdict == ROBOT_RETRY)
        errorf(err, errlen, "\"%s\" %s", self->shown_url, said);
    return verdict;
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
    char from[512], to[512], detail[CURL_ERROR_SIZE] = "";
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
    curl_easy_setopt(self->curl, CURLOPT_ERRORBUFFER, detail);
    curl_easy_setopt(self->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(self->curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(self->curl, CURLOPT_TIMEOUT_MS, 30000L);
    CURLcode rc = curl_easy_perform(self->curl);
    curl_easy_setopt(self->curl, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(rcpt);
    if (rc != CURLE_OK) {
        // the detail holds the server's words: escaped, as every string from a peer
        char shown[2 * CURL_ERROR_SIZE];
        return errorf(err, errlen, "could not mail %s through \"%s\": %s%s%s%s", self->dest.to,
                      self->shown_url, curl_easy_strerror(rc), *detail ? " (" : "",
                      *detail ? str_escape(detail, shown, sizeof shown) : "", *detail ? ")" : "");
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Rounds: each returns 1 when more alerts wait, 0 when done, -1 on failure

// The alerts after the cursor ($1), each with its JSON (j) and its row (a), a page of them
// (LIMIT follows). The cursor on both sides: else the merge join reads every alert before it,
// each round (quadratic in the outbox).
#define S_AFTER_CURSOR                                                                          \
    " FROM edu.alert_json j JOIN edu.alert a USING (id)"                                       \
    " WHERE j.id > $1::bigint AND a.id > $1::bigint ORDER BY j.id LIMIT "

static int s_round_pub(s_self_t *self, char *err, size_t errlen)
{
    char last[32];
    if (s_cursor(self, last, sizeof last, err, errlen) != 0)
        return -1;
    const char *params[] = {last};
    PGresult *res = s_query(self,
                            "SELECT j.id, j.level, j.kind, j.body, a.message, a.audience"
                            S_AFTER_CURSOR S_STR(S_PUB_PAGE),
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
                            S_AFTER_CURSOR S_STR(S_JSON_PAGE),
                            2, params, err, errlen);
    if (!res)
        return -1;
    int n = PQntuples(res), rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        if (strcmp(PQgetvalue(res, i, 2), "t") == 0) {
            int64_t wait = s_rate_wait(self);
            if (wait) { // max_per_minute: the rest waits its turn
                self->next_round_ms = wait;
                rc = 2;
                break;
            }
            robot_verdict_t verdict = s_post(self, PQgetvalue(res, i, 1), err, errlen);
            if (verdict != ROBOT_OK) {
                self->verdict = verdict;
                rc = -1;
            }
        }
        if (rc == 0)
            rc = s_move_cursor(self, PQgetvalue(res, i, 0), err, errlen);
    }
    PQclear(res);
    return rc != 0 ? rc : n == S_JSON_PAGE;
}

/*  The alerts ready for a person: once the oldest one waiting is group_wait old, all that wait
 *  (as Alertmanager's group_wait: an item that changes twice within the wait is seen once),
 *  each item collapsed into its last change, min_level applied, yellow silenced where the same
 *  school, indicator and period is red; worst first. A message takes a run of alerts in id
 *  order only as long as their sentences fit the destination's budget ($4 bytes, each line
 *  costing $5 bytes more than its text; the first alert always), so the cursor can move to the
 *  run's last id once it is delivered. Columns: the id the cursor moves to, level, message,
 *  whether more alerts are ready beyond the run; a last row (level NULL) so that the run is
 *  known even when every alert in it was filtered out. */
static const char *s_people_sql =
    "WITH page AS ("
    "  SELECT * FROM edu.alert WHERE id > $1::bigint"
    "    AND (SELECT raised_at FROM edu.alert WHERE id > $1::bigint ORDER BY id LIMIT 1)"
    "        <= now() - make_interval(secs => $3::float8 / 1000)"
    "  ORDER BY id LIMIT " S_STR(S_PEOPLE_PAGE) "),"
    " sized AS ("
    "  SELECT p.*, sum(CASE WHEN $2 = 'yellow' OR p.level = 'red'"
    "                         OR (p.level = 'green' AND p.previous_level = 'red')"
    "    THEN octet_length(left(p.message, " S_STR(S_LINE_CHARS) ")) + $5::bigint ELSE 0 END)"
    "    OVER (ORDER BY p.id) AS bytes"
    "  FROM page p),"
    " ready AS ("
    "  SELECT * FROM sized WHERE bytes <= $4::bigint OR id = (SELECT min(id) FROM sized)),"
    " more AS ("
    "  SELECT (SELECT count(*) FROM ready) < (SELECT count(*) FROM page)"
    "    OR (SELECT count(*) FROM page) = " S_STR(S_PEOPLE_PAGE) " AS more),"
    " last AS ("
    "  SELECT DISTINCT ON (kind, subject, stage, indicator, period) *"
    "  FROM ready WHERE audience <> 'machines'"  // items a digest stands for
    "    AND NOT EXISTS (SELECT 1 FROM edu.alert_held h"  // held back by a silence
    "      WHERE h.destination = $6 AND h.alert_id = ready.id)"
    "  ORDER BY kind, subject, stage, indicator, period, id DESC)"
    " SELECT through, level, message, (SELECT more FROM more) FROM ("
    "  SELECT (SELECT max(id) FROM ready) AS through, l.level,"
    "    left(l.message, " S_STR(S_LINE_CHARS) ") AS message"
    "  FROM last l"
    "  WHERE ($2 = 'yellow' OR l.level = 'red'"
    "         OR (l.level = 'green' AND l.previous_level = 'red'))"
    "    AND NOT (l.level = 'yellow' AND EXISTS ("
    "      SELECT 1 FROM edu.warning_state s WHERE s.subject = l.subject AND s.stage = l.stage"
    "        AND s.indicator = l.indicator AND s.period = l.period AND s.level = 'red'))"
    "  UNION ALL SELECT (SELECT max(id) FROM ready), NULL, NULL) x"
    " ORDER BY level = 'red' DESC, level = 'yellow' DESC, message";

/*  Title and payload of one message from rows (level, message), made by PostgreSQL: $1 the
 *  lines, $2 the format, $3 county, $4 count, $5 red, $6 from, $7 to, $8 and $9 Feishu's
 *  timestamp and sign (NULL: unsigned), $10 the robot's keyword (NULL: none), put in the title
 *  unless the title has it already. */
static const char *s_payload_sql =
    "SELECT t.title, CASE $2"
    "  WHEN 'dingtalk' THEN json_build_object('msgtype', 'markdown', 'markdown',"
    "    json_build_object('title', t.title, 'text', '### ' || t.title || E'\\n\\n' || $1))::text"
    "  WHEN 'wecom' THEN json_build_object('msgtype', 'markdown', 'markdown',"
    "    json_build_object('content', '### ' || t.title || E'\\n\\n' || $1))::text"
    "  WHEN 'feishu' THEN json_strip_nulls(json_build_object('timestamp', $8::text,"
    "    'sign', $9::text, 'msg_type', 'post', 'content', json_build_object('post',"
    "    json_build_object('zh_cn', json_build_object('title', t.title, 'content',"
    "    (SELECT json_agg(json_build_array(json_build_object('tag', 'text', 'text', l))"
    "       ORDER BY n) FROM unnest(string_to_array(rtrim($1, E'\\n'), E'\\n'))"
    "       WITH ORDINALITY AS u(l, n)))))))::text"
    "  ELSE 'Subject: =?UTF-8?B?' || replace(encode(convert_to(t.title, 'UTF8'), 'base64'),"
    "    E'\\n', '') || E'?=\\r\\nFrom: <' || $6 || E'>\\r\\nTo: <' || $7 || E'>\\r\\n'"
    "    || E'MIME-Version: 1.0\\r\\nContent-Type: text/plain; charset=UTF-8\\r\\n'"
    "    || E'Content-Transfer-Encoding: 8bit\\r\\n\\r\\n' || replace($1, E'\\n', E'\\r\\n')"
    "  END"
    " FROM (SELECT CASE WHEN $10::text IS NULL OR strpos(b.title, $10::text) > 0 THEN b.title"
    "   ELSE $10::text || ' ' || b.title END AS title"
    "  FROM (SELECT '县 ' || $3 || ' 预警变化 ' || $4 || ' 条（红色 ' || $5 || '）' AS title) b) t";

/*  Sends one message (a mail, or a robot's message). Returns 0, or -1 with err and
 *  self->verdict. */
static int s_send(s_self_t *self, const char *body, char *err, size_t errlen)
{
    if (self->dest.kind == DELIVER_EMAIL) {
        if (s_mail(self, body, err, errlen) == 0)
            return 0;
        self->verdict = ROBOT_RETRY;
        return -1;
    }
    self->verdict = s_post(self, body, err, errlen);
    return self->verdict == ROBOT_OK ? 0 : -1;
}

/*  Sends people one message of the rows (column 1 level, column 2 message; a NULL level is no
 *  alert) of res, titled by count, unless the robot's rate says wait (returns 2). Returns 0 when
 *  there was nothing to send or it went, -1 on failure (err). *count: the alerts in it. */
static int s_send_people(s_self_t *self, const PGresult *res, size_t *count, char *err,
                         size_t errlen)
{
    bool mail = self->dest.kind == DELIVER_EMAIL;
    int n = PQntuples(res), rc = 0;
    size_t size = 1, used = 0, red = 0;
    *count = 0;
    for (int i = 0; i < n; i++)
        size += strlen(PQgetvalue(res, i, 2)) + 8;
    char *text = xcalloc(1, size);
    const char *bullet = mail ? "" : "- ";
    for (int i = 0; i < n; i++) {
        if (PQgetisnull(res, i, 1))
            continue;
        (*count)++;
        red += strcmp(PQgetvalue(res, i, 1), "red") == 0;
        used += (size_t) snprintf(text + used, size - used, "%s%s\n", bullet,
                                  PQgetvalue(res, i, 2));
    }
    int64_t rate_wait = *count ? s_rate_wait(self) : 0;
    if (rate_wait) { // the robot's rate: these alerts wait, and more join them
        self->next_round_ms = rate_wait;
        rc = 2;
    } else if (*count) {
        char count_text[24], red_text[24], stamp[24] = "", sign[ROBOT_SIGN_SIZE] = "";
        snprintf(count_text, sizeof count_text, "%zu", *count);
        snprintf(red_text, sizeof red_text, "%zu", red);
        bool feishu_signed = self->dest.secret && self->dest.format == ROBOT_FEISHU;
        if (feishu_signed) {
            int64_t now_s = (int64_t) zclock_time() / 1000;
            snprintf(stamp, sizeof stamp, "%" PRId64, now_s);
            robot_sign_feishu(self->dest.secret, now_s, sign, sizeof sign);
        }
        const char *p[] = {text,
                           mail ? "email" : robot_format_name(self->dest.format),
                           self->county,
                           count_text,
                           red_text,
                           self->dest.from ? self->dest.from : "",
                           self->dest.to ? self->dest.to : "",
                           feishu_signed ? stamp : NULL,
                           feishu_signed ? sign : NULL,
                           self->dest.keyword};
        PGresult *payload = s_query(self, s_payload_sql, 10, p, err, errlen);
        if (!payload)
            rc = -1;
        else {
            rc = s_send(self, PQgetvalue(payload, 0, 1), err, errlen);
            PQclear(payload);
        }
        if (rc == 0)
            log_info("deliver", "%s: sent %zu alerts (%zu red) in one message", self->dest.name,
                     *count, red);
    }
    free(text);
    return rc;
}

/*  The silences (docs/cases.md): the warnings' alerts after the cursor that an active silence
 *  matches are held back from this destination; the alerts of the response loop and digests
 *  never are. */
static const char *s_hold_sql =
    "INSERT INTO edu.alert_held (destination, alert_id, silence_id)"
    " SELECT $1, a.id, s.id FROM edu.alert a"
    " JOIN LATERAL (SELECT s.id FROM edu.silence s WHERE s.lifted_at IS NULL"
    "   AND s.until > $3::timestamptz AND (s.kind IS NULL OR s.kind = a.kind)"
    "   AND (s.school IS NULL OR s.school = a.subject)"
    "   AND (s.indicator IS NULL OR s.indicator = a.indicator)"
    "   AND (s.period IS NULL OR s.period = a.period) AND (s.level IS NULL OR s.level = a.level)"
    "   ORDER BY s.until DESC LIMIT 1) s ON true"
    " WHERE a.id > $2::bigint AND a.audience <> 'machines'"
    "   AND a.kind NOT IN ('case_overdue', 'case_reopened', 'case_reminder',"
    "                      'judgement_digest', 'period_returned')"
    " ON CONFLICT DO NOTHING";

/*  When a silence has ended (its time, or lifted): what it held that still fires (the item is
 *  yellow or red now), each item's latest alert, for this destination's min_level. */
static const char *s_release_sql =
    "WITH ended AS (SELECT h.alert_id FROM edu.alert_held h JOIN edu.silence s"
    "   ON s.id = h.silence_id WHERE h.destination = $1"
    "   AND (s.lifted_at IS NOT NULL OR s.until <= $2::timestamptz)),"
    " last AS (SELECT DISTINCT ON (a.kind, a.subject, a.stage, a.indicator, a.period) a.*"
    "   FROM edu.alert a JOIN ended e ON e.alert_id = a.id"
    "   ORDER BY a.kind, a.subject, a.stage, a.indicator, a.period, a.id DESC)"
    " SELECT (SELECT count(*) FROM ended), l.level,"
    "   '（静默结束，仍在报警）' || l.message"
    " FROM last l JOIN edu.warning_state w ON w.kind = l.kind AND w.subject = l.subject"
    "   AND w.stage = l.stage AND w.indicator = l.indicator AND w.period = l.period"
    " WHERE $3 = 'yellow' OR w.level = 'red'"
    " ORDER BY w.level = 'red' DESC, l.message";

static int s_release_silenced(s_self_t *self, const char *now, char *err, size_t errlen)
{
    const char *p[] = {self->dest.name, now, self->dest.red_only ? "red" : "yellow"};
    PGresult *res = s_query(self, s_release_sql, 3, p, err, errlen);
    if (!res)
        return -1;
    size_t count = 0;
    int rc = PQntuples(res) ? s_send_people(self, res, &count, err, errlen) : 0;
    PQclear(res);
    if (rc == 0)
        res = s_query(self,
                      "DELETE FROM edu.alert_held h USING edu.silence s WHERE s.id = h.silence_id"
                      " AND h.destination = $1"
                      " AND (s.lifted_at IS NOT NULL OR s.until <= $2::timestamptz)",
                      2, p, err, errlen);
    if (rc == 0 && !res)
        rc = -1;
    PQclear(res);
    return rc;
}

static int s_round_people(s_self_t *self, char *err, size_t errlen)
{
    char last[32], wait[16], budget[24], overhead[24], now_text[32];
    if (s_cursor(self, last, sizeof last, err, errlen) != 0)
        return -1;
    time_t now;
    if (period_now(&now) != 0)
        now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(now_text, sizeof now_text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    const char *hold[] = {self->dest.name, last, now_text};
    PGresult *held = s_query(self, s_hold_sql, 3, hold, err, errlen);
    if (!held)
        return -1;
    PQclear(held);
    bool mail = self->dest.kind == DELIVER_EMAIL;
    snprintf(wait, sizeof wait, "%d", self->config.group_wait_ms);
    // a mail takes a whole page; a robot's message what its size limit allows
    snprintf(budget, sizeof budget, "%zu",
             mail ? (size_t) INT64_MAX / 2 : robot_text_budget(self->dest.format));
    snprintf(overhead, sizeof overhead, "%zu", mail ? 2 : robot_line_overhead(self->dest.format));
    const char *params[] = {last, self->dest.red_only ? "red" : "yellow", wait, budget, overhead,
                            self->dest.name};
    PGresult *res = s_query(self, s_people_sql, 6, params, err, errlen);
    if (!res)
        return -1;
    const char *through = PQgetvalue(res, 0, 0);
    bool more = strcmp(PQgetvalue(res, 0, 3), "t") == 0;
    if (!*through) { // nothing ready: what silences held may be due
        PQclear(res);
        return s_release_silenced(self, now_text, err, errlen);
    }
    size_t count;
    int rc = s_send_people(self, res, &count, err, errlen);
    if (rc == 0)
        rc = s_move_cursor(self, through, err, errlen);
    PQclear(res);
    return rc != 0 ? rc : more;
}

//  --------------------------------------------------------------------------
//  The actor

/*  How long to leave a failing destination alone, by why it failed. */
static int64_t s_pause_ms(s_self_t *self)
{
    if (self->verdict == ROBOT_THROTTLED) {
        int wait_s = self->dest.throttled_wait_s ? self->dest.throttled_wait_s
                                                 : robot_throttle_wait_s(self->dest.format);
        return wait_s ? (int64_t) wait_s * 1000 : S_RATE_WINDOW_MS; // json: HTTP 429
    }
    if (self->verdict == ROBOT_REFUSED)
        return S_REFUSED_RETRY_MS;
    int backoff = 500;
    for (int i = 1; i < self->attempts && backoff < self->config.max_backoff_ms; i++)
        backoff *= 2;
    if (backoff > self->config.max_backoff_ms)
        backoff = self->config.max_backoff_ms;
    uint32_t r = 0;
    if (getrandom(&r, sizeof r, 0) != sizeof r)
        r = (uint32_t) clock_mono_ms();
    return backoff / 2 + (int) (r % (uint32_t) (backoff / 2 + 1));
}

static void s_round(s_self_t *self)
{
    char err[1024] = "";
    int rc;
    self->verdict = ROBOT_RETRY;
    self->rate_waiting = false;
    do {
        if (self->dest.kind == DELIVER_PUB)
            rc = s_round_pub(self, err, sizeof err);
        else if (self->dest.kind == DELIVER_WEBHOOK && self->dest.format == ROBOT_JSON)
            rc = s_round_json(self, err, sizeof err);
        else
            rc = s_round_people(self, err, sizeof err);
    } while (rc == 1);
    if (rc == 2) { // waits for the robot's rate, next_round_ms set: no failure
        self->rate_waiting = true;
        return;
    }
    if (rc == 0) {
        if (self->attempts) {
            log_release(&self->refused, "deliver", "%s: delivering again", self->dest.name);
            log_release(&self->trouble, "deliver", "%s: delivering again", self->dest.name);
        }
        self->attempts = 0;
        self->next_round_ms = clock_mono_ms() + S_IDLE_MS;
        return;
    }
    if (self->verdict == ROBOT_OK) // sent, but the cursor could not move
        self->verdict = ROBOT_RETRY;
    self->attempts++;
    int64_t pause = s_pause_ms(self);
    self->next_round_ms = clock_mono_ms() + pause;
    if (self->verdict == ROBOT_REFUSED) {
        // once at error level, then hourly while it lasts: only a person can mend it
        log_complain(&self->refused, LOG_LEVEL_ERROR, "deliver",
                     "%s: %s; nothing is marked delivered, trying again in %lld s (attempt %d)",
                     self->dest.name, err, (long long) (pause / 1000), self->attempts);
        if (self->refused.suppressed == 0)
            self->refused.next_ms = clock_mono_ms() + S_REFUSED_REMIND_MS;
    } else if (self->verdict == ROBOT_THROTTLED) {
        log_complain(&self->trouble, LOG_LEVEL_WARN, "deliver",
                     "%s: %s; waiting %lld s, the alerts wait and go out together", self->dest.name,
                     err, (long long) (pause / 1000));
    } else {
        log_complain(&self->trouble, LOG_LEVEL_WARN, "deliver", "%s: %s; trying again (attempt %d)",
                     self->dest.name, err, self->attempts);
    }
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
                                .format = config->dest->format,
                                .secret = s_dup(config->dest->secret),
                                .keyword = s_dup(config->dest->keyword),
                                .max_per_minute = config->dest->max_per_minute,
                                .throttled_wait_s = config->dest->throttled_wait_s,
                                .from = s_dup(config->dest->from),
                                .to = s_dup(config->dest->to),
                                .red_only = config->dest->red_only};
    redact_url(self.dest.url, self.shown_url, sizeof self.shown_url);
    if (self.dest.kind == DELIVER_WEBHOOK) {
        self.rate = self.dest.max_per_minute ? self.dest.max_per_minute
                                             : robot_rate_per_minute(self.dest.format);
        self.sent_ms = self.rate ? xcalloc((size_t) self.rate, sizeof *self.sent_ms) : NULL;
    }
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
            if (self.attempts == 0 && !self.rate_waiting)
                self.next_round_ms = 0; // a kick does not shorten a back-off or a rate's wait
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
    if (self.dest.secret)
        sodium_memzero(self.dest.secret, strlen(self.dest.secret));
    deliver_destination_free(&self.dest);
    free(self.sent_ms);
    free(self.conninfo);
    free(self.county);
}
