/*  cases - after the warning: the response loop (see cases.h)
 *
 *  The engine reads the warnings and cases of the items in scope in one statement, decides in
 *  C what each needs (s_decide), and writes all of it in a few set-based statements: new cases,
 *  events, the yellow watch, alerts. Names in alerts come from edu.school and edu.indicator,
 *  which the aggregator publishes from the registry and the catalog.
 */
#include "cases.h"

#include "log.h"
#include "pg.h"
#include "util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  One item in scope and what the engine decided for it.
typedef struct {
    char *kind, *subject, *stage, *indicator, *period; // the item
    char level[8];          // its warning now: green, yellow, red
    long long case_id;      // its latest case (0: none)
    char state[16];         // that case's state
    char case_level[8];     // that case's level
    double closed_at;       // epoch seconds it was closed (0: not closed)
    double yellow_since;    // epoch seconds the engine saw it yellow without a case (0: not)
} s_item_t;

//  Columns for one set-based statement, as array literals.
typedef struct {
    pg_array_t col[8];
    size_t rows;
} s_rows_t;

static void s_rows_free(s_rows_t *r)
{
    for (size_t i = 0; i < sizeof r->col / sizeof *r->col; i++)
        pg_array_free(&r->col[i]);
    r->rows = 0;
}

/*  ISO 8601 UTC text of t, for a timestamptz parameter. */
static void s_time_text(time_t t, char *out, size_t size)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void cases_today(time_t now, char *out, size_t size)
{
    time_t china = now + 8 * 3600;
    struct tm tm;
    gmtime_r(&china, &tm);
    strftime(out, size, "%Y-%m-%d", &tm);
}

/*  Runs statement (prepared once per connection: pg_exec_statement); a result with rows is
 *  returned (the caller clears it), or NULL with err. */
static PGresult *s_query(PGconn *conn, const char *what, const pg_statement_t *statement,
                         const char *const *params, char *err, size_t errlen)
{
    PGresult *res = pg_exec_statement(conn, statement, params);
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return res;
    errorf(err, errlen, "could not %s: %s", what, PQresultErrorMessage(res));
    PQclear(res);
    return NULL;
}

static int s_exec(PGconn *conn, const char *what, const pg_statement_t *statement,
                  const char *const *params, char *err, size_t errlen)
{
    PGresult *res = s_query(conn, what, statement, params, err, errlen);
    PQclear(res);
    return res ? 0 : -1;
}

//  --------------------------------------------------------------------------
//  Alerts of the response loop: a case overdue, a case reopened

/*  Inserts one alert per case of ids (an array literal) of kind, at now, for everyone. The
 *  message is built here from the case and the published names. */
static const pg_statement_t s_case_alert = {
    "edu_cases_case_alert",
    "WITH c AS (SELECT c.*, w.value,"
    "    coalesce(s.name, '全县' || CASE c.stage WHEN 'primary' THEN '小学'"
    "      WHEN 'junior' THEN '初中' ELSE '' END) AS who,"
    "    coalesce(i.name, CASE c.indicator WHEN 'balanced' THEN '优质均衡资源配置'"
    "      ELSE c.indicator END) AS what"
    "  FROM edu.case c"
    "  LEFT JOIN edu.school s ON s.code = c.subject"
    "  LEFT JOIN edu.indicator i ON i.code = c.indicator"
    "  LEFT JOIN edu.warning_state w ON w.kind = c.kind AND w.subject = c.subject"
    "    AND w.stage = coalesce(c.stage, '') AND w.indicator = c.indicator"
    "    AND w.period = c.period"
    "  WHERE c.id = ANY($1::bigint[]))"
    " INSERT INTO edu.alert (id, county, kind, subject, subject_name, stage, indicator,"
    "   indicator_name, period, level, previous_level, value, target, message, raised_at,"
    "   batch, audience)"
    " SELECT nextval('edu.warning_transition_id_seq'),"
    "   (SELECT value FROM edu.setting WHERE key = 'county'), $2, c.subject, c.who,"
    "   coalesce(c.stage, ''), c.indicator, c.what, c.period,"
    "   CASE WHEN $2 = 'case_overdue' THEN 'red' ELSE coalesce(c.level, 'yellow') END,"
    "   CASE WHEN $2 = 'case_overdue' THEN coalesce(c.level, 'yellow') ELSE 'green' END,"
    "   c.value, NULL,"
    "   CASE WHEN $2 = 'case_overdue' THEN"
    "     format('【督办】%s %s学年 %s 整改事项 #%s 逾期：%s%s。', c.who, c.period, c.what, c.id,"
    "       CASE WHEN c.due IS NOT NULL AND c.due < $3::date"
    "         THEN format('整改期限 %s 已过，尚未销号', c.due)"
    "         ELSE format('开单 %s 日仍未确认', $4::int) END,"
    "       coalesce('，责任人 ' || c.assignee, ''))"
    "   ELSE"
    "     format('【回头看】%s %s学年 %s 已销号的整改事项 #%s 再次出现%s预警，已重新打开（第 %s 次）。',"
    "       c.who, c.period, c.what, c.id,"
    "       CASE c.level WHEN 'red' THEN '红色' ELSE '黄色' END, c.reopened) END,"
    "   now(), txid_current(), 'all'"  // raised now, as every alert (EDU_NOW decides, not dates)
    " FROM c ORDER BY c.id",
    4, false};

static int s_case_alerts(PGconn *conn, pg_array_t *ids, const char *kind, const char *today,
                         long ack_days, char *err, size_t errlen)
{
    if (!ids->data)
        return 0;
    char days[24];
    snprintf(days, sizeof days, "%ld", ack_days);
    const char *p[] = {pg_array_end(ids), kind, today, days};
    return s_exec(conn, "raise the cases' alerts", &s_case_alert, p, err, errlen);
}

//  --------------------------------------------------------------------------
//  Following the warnings

/*  The items of a scope (the CTE `scope`), each with its level and its latest case, in order. */
#define S_SCOPE_ITEMS                                                                            \
    " SELECT s.kind, s.subject, s.stage, s.indicator, s.period, coalesce(w.level, 'green'),"     \
    "   coalesce(c.id, 0), coalesce(c.state, ''), coalesce(c.level, ''),"                        \
    "   coalesce(extract(epoch FROM c.closed_at), 0),"                                           \
    "   coalesce(extract(epoch FROM cw.yellow_since), 0)"                                        \
    " FROM scope s"                                                                              \
    " LEFT JOIN edu.warning_state w ON w.kind = s.kind AND w.subject = s.subject"                \
    "   AND w.stage = s.stage AND w.indicator = s.indicator AND w.period = s.period"             \
    " LEFT JOIN edu.case_watch cw ON cw.kind = s.kind AND cw.subject = s.subject"                \
    "   AND cw.stage = s.stage AND cw.indicator = s.indicator AND cw.period = s.period"          \
    " LEFT JOIN LATERAL (SELECT c.id, c.state, c.level, c.closed_at FROM edu.case c"             \
    "   WHERE c.kind = s.kind AND c.subject = s.subject AND coalesce(c.stage, '') = s.stage"     \
    "   AND c.indicator = s.indicator AND c.period = s.period ORDER BY c.id DESC LIMIT 1) c"     \
    "   ON true"                                                                                 \
    " ORDER BY s.kind, s.subject, s.stage, s.indicator, s.period"

/*  Each scope is a statement of its own, not one statement with a switch for each part:
 *  PostgreSQL planned that one again at every run (its generic plan, with every part, looked
 *  dearer than one without the parts switched off), 1.4 ms of every batch. */

/*  A batch's scope: the items of the transitions after the cursor ($1, through $2). */
static const pg_statement_t s_scope_changes = {
    "edu_cases_scope_changes",
    "WITH scope AS (SELECT DISTINCT kind, subject, stage, indicator, period"
    "  FROM edu.warning_transition WHERE id > $1::bigint AND id <= $2::bigint)" S_SCOPE_ITEMS,
    2, false};

/*  The sweep's scope: the watched items yellow since $1 or before. */
static const pg_statement_t s_scope_watched = {
    "edu_cases_scope_watched",
    "WITH scope AS (SELECT DISTINCT kind, subject, stage, indicator, period"
    "  FROM edu.case_watch WHERE yellow_since <= $1::timestamptz)" S_SCOPE_ITEMS,
    1, false};

/*  A full judgement's scope: every item with a warning, a watch or a case, and those of the
 *  transitions after the cursor ($1, through $2). */
static const pg_statement_t s_scope_all = {
    "edu_cases_scope_all",
    "WITH scope AS ("
    "  SELECT kind, subject, stage, indicator, period FROM edu.warning_transition"
    "  WHERE id > $1::bigint AND id <= $2::bigint"
    "  UNION SELECT kind, subject, stage, indicator, period FROM edu.warning_state"
    "  UNION SELECT kind, subject, stage, indicator, period FROM edu.case_watch"
    "  UNION SELECT kind, subject, stage, indicator, period FROM edu.case_item)" S_SCOPE_ITEMS,
    2, false};

static const pg_statement_t s_open = {
    "edu_cases_open",
    "WITH n AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],"
    "    $5::text[], $6::text[], $7::text[])"
    "  AS n(kind, subject, stage, indicator, period, case_type, level)),"
    " i AS (INSERT INTO edu.case_item (kind, subject, stage, indicator, period, case_type,"
    "    opened_at)"
    "  SELECT kind, subject, stage, indicator, period, case_type, $8::timestamptz FROM n"
    "  RETURNING id, kind, subject, stage, indicator, period)"
    " INSERT INTO edu.case_log (case_id, at, actor, action, level)"
    " SELECT i.id, $8::timestamptz, '" CASES_SYSTEM "', 'opened', n.level"
    " FROM i JOIN n USING (kind, subject, stage, indicator, period) ORDER BY i.id",
    8, false};

static const pg_statement_t s_event = {
    "edu_cases_event",
    "INSERT INTO edu.case_log (case_id, at, actor, action, level)"
    " SELECT id, $4::timestamptz, '" CASES_SYSTEM "', action, nullif(level, '')"
    " FROM unnest($1::bigint[], $2::text[], $3::text[]) AS e(id, action, level)",
    4, false};

static const pg_statement_t s_watch = {
    "edu_cases_watch",
    "WITH k AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],"
    "    $5::text[], $6::text[]) AS k(kind, subject, stage, indicator, period, op)),"
    " gone AS (DELETE FROM edu.case_watch w USING k WHERE k.op = 'forget'"
    "  AND w.kind = k.kind AND w.subject = k.subject AND w.stage = k.stage"
    "  AND w.indicator = k.indicator AND w.period = k.period)"
    " INSERT INTO edu.case_watch (kind, subject, stage, indicator, period, yellow_since)"
    " SELECT kind, subject, stage, indicator, period, $7::timestamptz FROM k WHERE op = 'watch'"
    " ON CONFLICT DO NOTHING",
    7, false};

static void s_key(s_rows_t *rows, const s_item_t *it)
{
    pg_array_put(&rows->col[0], it->kind, true);
    pg_array_put(&rows->col[1], it->subject, true);
    pg_array_put(&rows->col[2], it->stage, true);
    pg_array_put(&rows->col[3], it->indicator, true);
    pg_array_put(&rows->col[4], it->period, true);
}

/*  What one item needs, into the statements' rows. */
static void s_decide(const s_item_t *it, const cases_config_t *config, time_t now,
                     s_rows_t *opened, s_rows_t *events, s_rows_t *watch, pg_array_t *reopened)
{
    bool green = strcmp(it->level, "green") == 0;
    bool verify = strcmp(it->kind, "data_quality") == 0;
    bool closed = strcmp(it->state, "closed") == 0;
    bool recent = closed && it->closed_at > (double) now - (double) config->reopen_days * 86400;
    char id[24];
    snprintf(id, sizeof id, "%lld", it->case_id);
    if (!it->case_id || (closed && !recent)) {
        bool yellow_long = !green && it->yellow_since > 0 &&
                           it->yellow_since <= (double) now - (double) config->yellow_days * 86400;
        if (strcmp(it->level, "red") == 0 || (verify && !green) || yellow_long) {
            s_key(opened, it);
            pg_array_put(&opened->col[5], verify ? "verify" : "rectify", true);
            pg_array_put(&opened->col[6], it->level, true);
            opened->rows++;
            if (it->yellow_since > 0) {
                s_key(watch, it);
                pg_array_put(&watch->col[5], "forget", true);
                watch->rows++;
            }
        } else if (!green && it->yellow_since == 0) {
            s_key(watch, it);
            pg_array_put(&watch->col[5], "watch", true);
            watch->rows++;
        } else if (green && it->yellow_since > 0) {
            s_key(watch, it);
            pg_array_put(&watch->col[5], "forget", true);
            watch->rows++;
        }
        return;
    }
    const char *action = NULL, *level = "";
    if (closed) {
        if (!green) {
            action = "reopened", level = it->level;
            pg_array_put(reopened, id, false);
        }
    } else if (strcmp(it->state, "resolved") == 0) {
        if (!green)
            action = "level", level = it->level;
    } else if (green) {
        action = "resolved";
    } else if (strcmp(it->level, it->case_level) != 0) {
        action = "level", level = it->level;
    }
    if (action) {
        pg_array_put(&events->col[0], id, false);
        pg_array_put(&events->col[1], action, true);
        pg_array_put(&events->col[2], level, true);
        events->rows++;
    }
}

/*  Reconciles the items of scope (one of the s_scope_ statements) with its params. Returns the
 *  events written, or -1. */
static int s_reconcile(PGconn *conn, const cases_config_t *config, time_t now,
                       const pg_statement_t *scope, const char *const *params, char *err,
                       size_t errlen)
{
    PGresult *res =
        s_query(conn, "read the warnings and their cases", scope, params, err, errlen);
    if (!res)
        return -1;
    s_rows_t opened = {0}, events = {0}, watch = {0};
    pg_array_t reopened = {0};
    for (int r = 0; r < PQntuples(res); r++) {
        s_item_t it = {.kind = PQgetvalue(res, r, 0),
                       .subject = PQgetvalue(res, r, 1),
                       .stage = PQgetvalue(res, r, 2),
                       .indicator = PQgetvalue(res, r, 3),
                       .period = PQgetvalue(res, r, 4),
                       .case_id = atoll(PQgetvalue(res, r, 6)),
                       .closed_at = atof(PQgetvalue(res, r, 9)),
                       .yellow_since = atof(PQgetvalue(res, r, 10))};
        snprintf(it.level, sizeof it.level, "%s", PQgetvalue(res, r, 5));
        snprintf(it.state, sizeof it.state, "%s", PQgetvalue(res, r, 7));
        snprintf(it.case_level, sizeof it.case_level, "%s", PQgetvalue(res, r, 8));
        s_decide(&it, config, now, &opened, &events, &watch, &reopened);
    }
    PQclear(res);
    char at[32], today[16];
    s_time_text(now, at, sizeof at);
    cases_today(now, today, sizeof today);
    int rc = 0;
    if (opened.rows) {
        const char *p[8];
        for (int i = 0; i < 7; i++)
            p[i] = pg_array_end(&opened.col[i]);
        p[7] = at;
        rc = s_exec(conn, "open cases", &s_open, p, err, errlen);
    }
    if (rc == 0 && events.rows) {
        const char *p[] = {pg_array_end(&events.col[0]), pg_array_end(&events.col[1]),
                           pg_array_end(&events.col[2]), at};
        rc = s_exec(conn, "write the cases' events", &s_event, p, err, errlen);
    }
    if (rc == 0 && watch.rows) {
        const char *p[7];
        for (int i = 0; i < 6; i++)
            p[i] = pg_array_end(&watch.col[i]);
        p[6] = at;
        rc = s_exec(conn, "watch yellow items", &s_watch, p, err, errlen);
    }
    if (rc == 0)
        rc = s_case_alerts(conn, &reopened, "case_reopened", today, config->ack_days, err,
                           errlen);
    size_t written = opened.rows + events.rows;
    s_rows_free(&opened);
    s_rows_free(&events);
    s_rows_free(&watch);
    pg_array_free(&reopened);
    return rc == 0 ? (int) written : -1;
}

static const pg_statement_t s_cursor = {
    "edu_cases_cursor",
    "SELECT last_transition, (SELECT coalesce(max(id), 0) FROM edu.warning_transition)"
    " FROM edu.case_cursor",
    0, false};

static const pg_statement_t s_cursor_move = {
    "edu_cases_cursor_move",
    "UPDATE edu.case_cursor SET last_transition = $1::bigint",
    1, false};

int cases_apply(PGconn *conn, const cases_config_t *config, time_t now, bool full, char *err,
                size_t errlen)
{
    PGresult *res = s_query(conn, "read the cases' cursor", &s_cursor, NULL, err, errlen);
    if (!res)
        return -1;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return errorf(err, errlen, "could not read the cases' cursor: edu.case_cursor is empty");
    }
    char from[24], to[24];
    snprintf(from, sizeof from, "%s", PQgetvalue(res, 0, 0));
    snprintf(to, sizeof to, "%s", PQgetvalue(res, 0, 1));
    PQclear(res);
    if (!full && strcmp(from, to) == 0)
        return 0; // no warning changed
    const char *scope[] = {from, to};
    if (s_reconcile(conn, config, now, full ? &s_scope_all : &s_scope_changes, scope, err,
                    errlen) < 0)
        return -1;
    const char *p[] = {to};
    return s_exec(conn, "move the cases' cursor", &s_cursor_move, p, err, errlen);
}

//  --------------------------------------------------------------------------
//  What time makes due

/*  The cases the clock makes overdue: not escalated since they (re)opened, and past their due
 *  date, or not acknowledged case_ack_days ($3) after they (re)opened. The conditions of
 *  edu.case's state, read from each case's own events (two index scans) for the cases not
 *  closed (edu.case_open) only, instead of the view over every case ever opened: the events of
 *  its cycle (from its latest opening on; that event itself is never one of those counted). */
static const pg_statement_t s_overdue = {
    "edu_cases_overdue",
    "SELECT coalesce(string_agg(o.case_id::text, ',' ORDER BY o.case_id), '')"
    " FROM edu.case_open o"
    " CROSS JOIN LATERAL (SELECT max(id) AS start, max(at) AS started_at FROM edu.case_log"
    "   WHERE case_id = o.case_id AND action IN ('opened', 'reopened')) cy"
    " CROSS JOIN LATERAL (SELECT"
    "     bool_or(action IN ('closed', 'escalated')) AS settled,"
    "     bool_or(action = 'acknowledged') AS acknowledged,"
    "     (array_agg(action ORDER BY id DESC) FILTER (WHERE action IN ('resolved', 'level',"
    "       'reopened', 'opened')))[1] = 'resolved' AS resolved,"
    "     (array_agg(due ORDER BY id DESC) FILTER (WHERE action = 'assigned'))[1] AS due"
    "   FROM edu.case_log WHERE case_id = o.case_id AND id >= cy.start) st"
    " WHERE NOT st.settled"
    "   AND (st.due < $1::date"
    "     OR (NOT st.resolved AND NOT st.acknowledged"
    "       AND cy.started_at <= $2::timestamptz - make_interval(days => $3::int)))",
    3, false};

static const pg_statement_t s_escalate = {
    "edu_cases_escalate",
    "INSERT INTO edu.case_log (case_id, at, actor, action, note)"
    " SELECT id, $2::timestamptz, '" CASES_SYSTEM "', 'escalated',"
    "   CASE WHEN due IS NOT NULL AND due < $3::date THEN '整改期限已过（' || due || '）'"
    "     ELSE '开单后 ' || $4 || ' 日内未确认' END"
    " FROM edu.case WHERE id = ANY($1::bigint[])",
    4, false};

/*  The reminder for people: every open red case, the ten first named. */
static const pg_statement_t s_reminder = {
    "edu_cases_reminder",
    "WITH r AS (SELECT c.*, coalesce(s.name, '全县' || CASE c.stage WHEN 'primary' THEN '小学'"
    "      WHEN 'junior' THEN '初中' ELSE '' END) AS who,"
    "    coalesce(i.name, c.indicator) AS what"
    "  FROM edu.case c LEFT JOIN edu.school s ON s.code = c.subject"
    "  LEFT JOIN edu.indicator i ON i.code = c.indicator"
    "  WHERE c.id IN (SELECT case_id FROM edu.case_open) AND c.level = 'red'"
    "    AND c.state IN ('open', 'acknowledged', 'assigned')),"
    " top AS (SELECT * FROM r ORDER BY escalated DESC, due NULLS LAST, id LIMIT 10)"
    " INSERT INTO edu.alert (id, county, kind, subject, subject_name, stage, indicator,"
    "   indicator_name, period, level, previous_level, value, target, message, raised_at,"
    "   batch, audience)"
    " SELECT nextval('edu.warning_transition_id_seq'), county, 'case_reminder', county, '全县',"
    "   '', 'cases', '整改事项', '', 'red', 'red', n, NULL,"
    "   format('【督办提醒】全县仍有 %s 项红色整改事项未销号（其中挂牌督办 %s 项）：%s%s', n, e,"
    "     (SELECT string_agg(format('#%s %s %s学年 %s%s', id, who, period, what,"
    "        coalesce('（期限 ' || due || '）', '')), '；' ORDER BY escalated DESC,"
    "        due NULLS LAST, id) FROM top),"
    "     CASE WHEN $1 <> '' THEN '。详见 ' || $1 ELSE '。' END),"
    "   now(), txid_current(), 'people'"
    " FROM (SELECT (SELECT value FROM edu.setting WHERE key = 'county') AS county,"
    "   (SELECT count(*) FROM r) AS n, (SELECT count(*) FROM r WHERE escalated) AS e) x"
    " WHERE n > 0",
    1, false};

static const pg_statement_t s_last_reminder = {
    "edu_cases_last_reminder",
    "SELECT reminded_at IS NULL OR reminded_at <= $1::timestamptz"
    " - make_interval(secs => $2::int), reminded_at FROM edu.case_cursor",
    2, false};

static const pg_statement_t s_reminded = {
    "edu_cases_reminded",
    "UPDATE edu.case_cursor SET reminded_at = $1::timestamptz",
    1, false};

int cases_sweep(PGconn *conn, const cases_config_t *config, time_t now, char *err,
                size_t errlen)
{
    char at[32], today[16], due_before[32], days[24];
    s_time_text(now, at, sizeof at);
    cases_today(now, today, sizeof today);
    s_time_text(now - (time_t) config->yellow_days * 86400, due_before, sizeof due_before);
    snprintf(days, sizeof days, "%ld", config->ack_days);
    // items yellow long enough
    const char *scope[] = {due_before};
    int written = s_reconcile(conn, config, now, &s_scope_watched, scope, err, errlen);
    if (written < 0)
        return -1;
    // escalations, each with its alert
    const char *p1[] = {today, at, days};
    PGresult *res = s_query(conn, "find overdue cases", &s_overdue, p1, err, errlen);
    if (!res)
        return -1;
    char *ids = xasprintf("{%s}", PQgetvalue(res, 0, 0));
    PQclear(res);
    int rc = 0;
    if (strcmp(ids, "{}") != 0) {
        const char *p2[] = {ids, at, today, days};
        rc = s_exec(conn, "escalate overdue cases", &s_escalate, p2, err, errlen);
        pg_array_t list = {.data = NULL};
        for (const char *s = ids + 1; rc == 0 && *s && *s != '}';) {
            size_t n = strcspn(s, ",}");
            char *one = xstrndup(s, n);
            pg_array_put(&list, one, false);
            free(one);
            written++;
            s += n + (s[n] == ',');
        }
        if (rc == 0)
            rc = s_case_alerts(conn, &list, "case_overdue", today, config->ack_days, err,
                               errlen);
        pg_array_free(&list);
    }
    free(ids);
    // the reminder, every repeat_days
    if (rc == 0 && config->repeat_s > 0) {
        char interval[24];
        snprintf(interval, sizeof interval, "%ld", config->repeat_s);
        const char *p3[] = {at, interval};
        res = s_query(conn, "read the last reminder", &s_last_reminder, p3, err, errlen);
        bool due = res && PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
        bool first = res && PQntuples(res) == 1 && PQgetisnull(res, 0, 1);
        rc = res ? 0 : -1;
        PQclear(res);
        if (rc == 0 && due) { // the first interval starts now: no reminder at once
            const char *p4[] = {config->dashboard ? config->dashboard : ""};
            const char *p5[] = {at};
            if (!first)
                rc = s_exec(conn, "remind people of open red cases", &s_reminder, p4, err, errlen);
            if (rc == 0)
                rc = s_exec(conn, "record the reminder", &s_reminded, p5, err, errlen);
        }
    }
    return rc == 0 ? written : -1;
}

//  --------------------------------------------------------------------------
//  The digest of a full judgement

static const pg_statement_t s_last_alert = {
    "edu_cases_last_alert",
    "SELECT coalesce(max(id), 0) FROM edu.alert",
    0, false};

long long cases_last_alert(PGconn *conn, char *err, size_t errlen)
{
    PGresult *res = s_query(conn, "read the last alert", &s_last_alert, NULL, err, errlen);
    if (!res)
        return -1;
    long long id = atoll(PQgetvalue(res, 0, 0));
    PQclear(res);
    return id;
}

/*  The Chinese name of a warning kind (SQL, on the column `kind`). */
#define S_KIND_NAME                                                                              \
    "CASE kind WHEN 'threshold' THEN '未达标' WHEN 'balanced' THEN '资源配置未均衡'"              \
    " WHEN 'dispersion' THEN '差异系数' WHEN 'fluctuation' THEN '波动'"                         \
    " WHEN 'missing' THEN '未报送' WHEN 'data_quality' THEN '数据待核查'"                       \
    " WHEN 'progress' THEN '规划进度' WHEN 'trend' THEN '趋势预测' WHEN 'capacity' THEN '学位'"   \
    " WHEN 'persistent' THEN '连续未达标' WHEN 'consistency' THEN '逻辑校验'"                   \
    " WHEN 'county_balanced' THEN '县域优质均衡' WHEN 'urban_rural_gap' THEN '城乡差距'"         \
    " ELSE kind END"

/*  How much a kind weighs among the worst (SQL): the county's verdict and its spread first,
 *  a school's missing report and data to check last. */
#define S_KIND_RANK                                                                              \
    "array_position(ARRAY['county_balanced', 'dispersion', 'progress', 'persistent',"            \
    " 'balanced', 'capacity', 'threshold', 'urban_rural_gap', 'trend', 'fluctuation',"           \
    " 'consistency', 'data_quality', 'missing'], kind)"

static const pg_statement_t s_digest = {
    "edu_cases_digest",
    "WITH a AS (SELECT * FROM edu.alert WHERE id > $1::bigint AND audience = 'all'"
    "    AND kind NOT LIKE 'case\\_%'),"
    " machines AS (UPDATE edu.alert SET audience = 'machines' WHERE id IN (SELECT id FROM a)"
    "   RETURNING id),"
    " counts AS (SELECT level, kind, count(*) AS n FROM a WHERE level <> 'green'"
    "   GROUP BY level, kind),"
    " worst AS (SELECT * FROM a WHERE level <> 'green'"
    "   ORDER BY level = 'red' DESC, length(subject) = 6 DESC, " S_KIND_RANK " NULLS LAST,"
    "     subject, indicator, period LIMIT 10)"
    " INSERT INTO edu.alert (id, county, kind, subject, subject_name, stage, indicator,"
    "   indicator_name, period, level, previous_level, value, target, message, raised_at,"
    "   batch, audience)"
    " SELECT nextval('edu.warning_transition_id_seq'), county, 'judgement_digest', county,"
    "   '全县', '', 'warnings', '预警汇总', '',"
    "   CASE WHEN red > 0 THEN 'red' ELSE 'yellow' END, 'green', red + yellow, NULL,"
    "   format('【预警汇总】全县研判完成：红色 %s 项、黄色 %s 项（%s）。最需关注：%s%s',"
    "     red, yellow,"
    "     (SELECT string_agg(format('%s色·%s %s 项', CASE level WHEN 'red' THEN '红'"
    "        ELSE '黄' END, " S_KIND_NAME ", n), '，' ORDER BY level = 'red' DESC, n DESC, kind)"
    "      FROM counts),"
    "     (SELECT string_agg(message, ' ' ORDER BY level = 'red' DESC, length(subject) = 6 DESC,"
    "        " S_KIND_RANK " NULLS LAST, subject, indicator, period) FROM worst),"
    "     CASE WHEN $2 <> '' THEN ' 全部预警见 ' || $2 ELSE '' END),"
    "   now(), txid_current(), 'people'"
    " FROM (SELECT (SELECT value FROM edu.setting WHERE key = 'county') AS county,"
    "   (SELECT count(*) FROM a WHERE level = 'red') AS red,"
    "   (SELECT count(*) FROM a WHERE level = 'yellow') AS yellow,"
    "   (SELECT count(*) FROM machines) AS moved) x",
    2, false};

static const pg_statement_t s_digest_count = {
    "edu_cases_digest_count",
    "SELECT count(*) > $2::bigint FROM edu.alert WHERE id > $1::bigint"
    " AND audience = 'all' AND kind NOT LIKE 'case\\_%'",
    2, false};

int cases_digest(PGconn *conn, const cases_config_t *config, long long after, time_t now,
                 char *err, size_t errlen)
{
    (void) now;
    char from[24], limit[24];
    snprintf(from, sizeof from, "%lld", after);
    snprintf(limit, sizeof limit, "%ld", config->digest_items);
    const char *p0[] = {from, limit};
    PGresult *res =
        s_query(conn, "count the judgement's alerts", &s_digest_count, p0, err, errlen);
    if (!res)
        return -1;
    bool many = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    if (!many)
        return 0;
    const char *p[] = {from, config->dashboard ? config->dashboard : ""};
    if (s_exec(conn, "write the judgement's digest", &s_digest, p, err, errlen) != 0)
        return -1;
    log_info("cases", "a full judgement's alerts go to people as one digest (machines get each)");
    return 0;
}
