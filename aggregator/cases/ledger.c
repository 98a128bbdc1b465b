/*  ledger - the cases as supervisors see them and act on them (see ledger.h) */
#include "ledger.h"

#include "cases.h"
#include "period.h"
#include "pg.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_CASE_LOCK 727001 // advisory lock class of a case (pg_advisory_xact_lock(class, id))

/*  The cases with the names people read, shared by the list and the acts' answers. */
#define S_NAMED                                                                                  \
    "SELECT c.*, w.value,"                                                                       \
    "  coalesce(s.name, '全县' || CASE c.stage WHEN 'primary' THEN '小学'"                     \
    "    WHEN 'junior' THEN '初中' ELSE '' END) AS who,"                                        \
    "  coalesce(i.name, CASE c.indicator WHEN 'balanced' THEN '优质均衡资源配置'"               \
    "    ELSE c.indicator END) AS what,"                                                        \
    "  (c.escalated OR (c.state <> 'closed' AND c.due < $1::date)) AS overdue"                  \
    " FROM edu.case c"                                                                           \
    " LEFT JOIN edu.school s ON s.code = c.subject"                                              \
    " LEFT JOIN edu.indicator i ON i.code = c.indicator"                                         \
    " LEFT JOIN edu.warning_state w ON w.kind = c.kind AND w.subject = c.subject"                \
    "   AND w.stage = coalesce(c.stage, '') AND w.indicator = c.indicator"                       \
    "   AND w.period = c.period"

/*  A number as the warnings show it: at most two decimals, no trailing zeros. */
#define S_ROUNDED(x)                                                                             \
    "rtrim(rtrim(round((" x ")::numeric, 2)::text, '0'), '.')"

static const char *s_list_sql =
    "WITH n AS (" S_NAMED ")"
    " SELECT CASE WHEN $5 THEN"
    "   format('#%s %s %s %s %s（%s）%s学年 %s（%s）%s%s%s%s%s%s',"
    "     id, CASE level WHEN 'red' THEN '红色' ELSE '黄色' END,"
    "     CASE case_type WHEN 'verify' THEN '核查' ELSE '整改' END,"
    "     CASE state WHEN 'open' THEN '待确认' WHEN 'acknowledged' THEN '已确认'"
    "       WHEN 'assigned' THEN '整改中' WHEN 'resolved' THEN '已恢复，待销号'"
    "       ELSE '已销号' END,"
    "     who, subject, period, what, indicator,"
    "     coalesce(' · 当前值 ' || " S_ROUNDED("value") ", ''),"
    "     coalesce(' · 责任人 ' || assignee, ''), coalesce(' · 期限 ' || due, ''),"
    "     CASE WHEN overdue THEN ' · 已逾期' ELSE '' END,"
    "     CASE WHEN escalated THEN ' · 挂牌督办' ELSE '' END,"
    "     CASE WHEN reopened > 0 THEN ' · 回头看重开 ' || reopened || ' 次' ELSE '' END)"
    "  ELSE json_build_object('id', id, 'kind', kind, 'subject', subject, 'subject_name', who,"
    "   'stage', stage, 'indicator', indicator, 'indicator_name', what, 'period', period,"
    "   'level', level, 'state', state, 'case_type', case_type, 'value', value,"
    "   'opened_at', opened_at, 'acknowledged_at', acknowledged_at, 'assignee', assignee,"
    "   'due', due, 'plan', plan, 'escalated', escalated, 'overdue', overdue,"
    "   'resolved_at', resolved_at, 'closed_at', closed_at, 'reopened', reopened)::text END"
    " FROM n WHERE ($2 = '' OR state = $2) AND ($3 = '' OR subject = $3) AND (NOT $4 OR overdue)"
    " ORDER BY state = 'closed', level = 'red' DESC, overdue DESC, id";

char *ledger_list(PGconn *conn, const ledger_filter_t *filter, time_t now, char *err,
                  size_t errlen)
{
    static const char *states[] = {"", "open", "acknowledged", "assigned", "resolved", "closed"};
    bool known = false;
    for (size_t i = 0; i < sizeof states / sizeof *states; i++)
        known |= strcmp(filter->state, states[i]) == 0;
    if (!known) {
        errorf(err, errlen, "没有“%.32s”这种状态，可选 open、acknowledged、assigned、resolved、"
               "closed（unknown state）", filter->state);
        return NULL;
    }
    if (*filter->school && !ledger_text_ok(filter->school, 16)) {
        errorf(err, errlen, "学校代码不正确（malformed school code）");
        return NULL;
    }
    char today[16];
    cases_today(now, today, sizeof today);
    const char *p[] = {today, filter->state, filter->school, filter->overdue ? "true" : "false",
                       filter->text ? "true" : "false"};
    PGresult *res = PQexecParams(conn, s_list_sql, 5, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        errorf(err, errlen, "无法读取整改事项（could not read the cases: %s）",
               PQresultErrorMessage(res));
        PQclear(res);
        return NULL;
    }
    char *text = pg_lines(res, filter->text ? "（没有符合条件的整改事项）" : NULL);
    PQclear(res);
    return text;
}

static const char *s_summary_sql =
    "WITH e AS (SELECT case_id, bool_or(action = 'escalated') AS ever_escalated"
    "    FROM edu.case_log GROUP BY case_id),"
    " c AS (SELECT c.*, e.ever_escalated,"
    "    coalesce(s.name, '全县（县级事项）') AS who"
    "  FROM edu.case c JOIN e ON e.case_id = c.id LEFT JOIN edu.school s ON s.code = c.subject),"
    " g AS (SELECT grouping(subject) = 1 AS county, subject, min(who) AS who, count(*) AS opened,"
    "    count(*) FILTER (WHERE state = 'closed' AND (due IS NULL"
    "      OR (closed_at AT TIME ZONE 'Asia/Shanghai')::date <= due)) AS on_time,"
    "    count(*) FILTER (WHERE ever_escalated) AS escalated,"
    "    count(*) FILTER (WHERE state <> 'closed') AS open_now,"
    "    percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM closed_at - opened_at)"
    "      / 86400) FILTER (WHERE closed_at IS NOT NULL) AS median_days"
    "  FROM c GROUP BY ROLLUP (subject))"
    " SELECT CASE WHEN $1 THEN"
    "   format('%s%s：开单 %s 项，按期销号 %s 项，逾期督办 %s 项，未销号 %s 项，销号中位用时 %s',"
    "     CASE WHEN county THEN '全县' ELSE who END,"
    "     CASE WHEN county THEN '' ELSE '（' || subject || '）' END,"
    "     opened, on_time, escalated, open_now,"
    "     coalesce(" S_ROUNDED("median_days") " || ' 天', '—'))"
    "  ELSE json_build_object('subject', CASE WHEN county THEN NULL ELSE subject END,"
    "   'subject_name', CASE WHEN county THEN '全县' ELSE who END, 'opened', opened,"
    "   'closed_on_time', on_time, 'escalated', escalated, 'open', open_now,"
    "   'median_days_to_close', median_days)::text END"
    " FROM g ORDER BY county DESC, escalated DESC, open_now DESC, subject";

char *ledger_summary(PGconn *conn, bool text, char *err, size_t errlen)
{
    const char *p[] = {text ? "true" : "false"};
    PGresult *res = PQexecParams(conn, s_summary_sql, 1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        errorf(err, errlen, "无法汇总整改事项（could not sum up the cases: %s）",
               PQresultErrorMessage(res));
        PQclear(res);
        return NULL;
    }
    char *answer = pg_lines(res, text ? "全县：尚无整改事项" : NULL);
    PQclear(res);
    return answer;
}

bool ledger_text_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max || !utf8_valid(s, n))
        return false;
    for (const char *c = s; *c; c++)
        if ((unsigned char) *c < 0x20 || *c == 0x7f)
            return false;
    return true;
}

//  --------------------------------------------------------------------------
//  Acts: one event each, under the case's lock

typedef struct {
    const char *action;  // the event
    const char *done;    // what to tell the supervisor, e.g. "已确认"
    const char *verb;    // the act, for a refusal: "确认"
    bool needs_green;    // refused while the warning is yellow or red (销号)
    const char *assignee, *due, *plan, *note; // the event's fields (NULL: none)
} s_act_t;

static const char *s_check_sql =
    "SELECT c.state, coalesce(w.level, 'green'), c.subject, c.period, c.indicator"
    " FROM edu.case c LEFT JOIN edu.warning_state w ON w.kind = c.kind"
    "   AND w.subject = c.subject AND w.stage = coalesce(c.stage, '')"
    "   AND w.indicator = c.indicator AND w.period = c.period"
    " WHERE c.id = $1::bigint";

static char *s_act(PGconn *conn, const char *id, const char *person, const s_act_t *act,
                   time_t now, char *err, size_t errlen)
{
    size_t n = strlen(id);
    if (n == 0 || n > 18 || strspn(id, "0123456789") != n) {
        errorf(err, errlen, "事项编号“%.24s”不是数字（case id is not a number）", id);
        return NULL;
    }
    char at[32], lock[24];
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(lock, sizeof lock, "%d", S_CASE_LOCK);
    char *answer = NULL;
    PGresult *res = PQexec(conn, "BEGIN");
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (!ok) {
        errorf(err, errlen, "数据库暂时不可用（could not begin: %s）", PQerrorMessage(conn));
        return NULL;
    }
    const char *p0[] = {lock, id};
    res = PQexecParams(conn,
                       "SELECT pg_advisory_xact_lock(($1::bigint << 32) | ($2::bigint & 4294967295))",
                       2, NULL, p0, NULL, NULL, 0);
    PQclear(res);
    const char *p1[] = {id};
    res = PQexecParams(conn, s_check_sql, 1, NULL, p1, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        errorf(err, errlen, "无法读取事项 #%s（could not read case %s: %s）", id, id,
               PQresultErrorMessage(res));
        goto cleanup;
    }
    if (PQntuples(res) == 0) {
        errorf(err, errlen, "没有编号为 #%s 的整改事项（no case %s）", id, id);
        goto cleanup;
    }
    const char *state = PQgetvalue(res, 0, 0), *level = PQgetvalue(res, 0, 1);
    if (strcmp(state, "closed") == 0 && strcmp(act->action, "noted") != 0) {
        errorf(err, errlen, "事项 #%s 已销号，不能再%s（case %s is closed）", id, act->verb,
               id);
        goto cleanup;
    }
    if (act->needs_green && strcmp(level, "green") != 0) {
        errorf(err, errlen,
               "事项 #%s 不能销号：%s %s学年 %s 的预警仍为%s，数据恢复正常（绿色）后才能销号"
               "（cannot close case %s: its warning is still %s）",
               id, PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 4),
               strcmp(level, "red") == 0 ? "红色" : "黄色", id, level);
        goto cleanup;
    }
    PQclear(res);
    const char *p2[] = {id, at, person, act->action, act->assignee, act->due, act->plan,
                        act->note};
    res = PQexecParams(conn,
                       "INSERT INTO edu.case_log (case_id, at, actor, action, assignee, due,"
                       " plan, note) VALUES ($1::bigint, $2::timestamptz, $3, $4, $5, $6::date,"
                       " $7, $8)",
                       8, NULL, p2, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        errorf(err, errlen, "无法记录（could not record the act on case %s: %s）", id,
               PQresultErrorMessage(res));
        goto cleanup;
    }
    PQclear(res);
    res = PQexec(conn, "COMMIT");
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        errorf(err, errlen, "无法记录（could not commit the act on case %s: %s）", id,
               PQresultErrorMessage(res));
        goto cleanup;
    }
    answer = xasprintf("%s #%s（%s）\n", act->done, id, person);
cleanup:
    PQclear(res);
    if (!answer)
        PQclear(PQexec(conn, "ROLLBACK"));
    return answer;
}

/*  A note, plan or name from a request: one line of valid UTF-8 within max, or err. */
static bool s_field(const char *what, const char *value, size_t max, bool required, char *err,
                    size_t errlen)
{
    if (required && (!value || !*value)) {
        errorf(err, errlen, "缺少%s（%s is required）", what, what);
        return false;
    }
    if (value && !ledger_text_ok(value, max)) {
        errorf(err, errlen, "%s 须为一行文字，最多 %zu 字节（%s must be one line of at most %zu "
               "bytes of UTF-8）", what, max, what, max);
        return false;
    }
    return true;
}

char *ledger_ack(PGconn *conn, const char *id, const char *person, const char *note, time_t now,
                 char *err, size_t errlen)
{
    if (!s_field("说明 note", note, 2000, false, err, errlen))
        return NULL;
    s_act_t act = {.action = "acknowledged", .done = "已确认", .verb = "确认",
                   .note = note && *note ? note : NULL};
    return s_act(conn, id, person, &act, now, err, errlen);
}

char *ledger_assign(PGconn *conn, const char *id, const char *person, const char *to,
                    const char *due, const char *plan, time_t now, char *err, size_t errlen)
{
    time_t t;
    if (!s_field("责任人 --to", to, 64, true, err, errlen) ||
        !s_field("整改措施 --plan", plan, 2000, false, err, errlen))
        return NULL;
    if (!due || strlen(due) != 10 || period_parse_time(due, &t) != 0) {
        errorf(err, errlen, "期限“%.16s”不是日期，请写作 YYYY-MM-DD（--due is not a date）",
               due ? due : "");
        return NULL;
    }
    s_act_t act = {.action = "assigned", .done = "已分派", .verb = "分派", .assignee = to,
                   .due = due,
                   .plan = plan && *plan ? plan : NULL};
    char *answer = s_act(conn, id, person, &act, now, err, errlen);
    if (answer) {
        char *more = xasprintf("已分派 #%s 给 %s，期限 %s（%s）\n", id, to, due, person);
        free(answer);
        answer = more;
    }
    return answer;
}

char *ledger_note(PGconn *conn, const char *id, const char *person, const char *note,
                  time_t now, char *err, size_t errlen)
{
    if (!s_field("说明 note", note, 2000, true, err, errlen))
        return NULL;
    s_act_t act = {.action = "noted", .done = "已记录说明", .verb = "记录", .note = note};
    return s_act(conn, id, person, &act, now, err, errlen);
}

char *ledger_close(PGconn *conn, const char *id, const char *person, const char *note,
                   time_t now, char *err, size_t errlen)
{
    if (!s_field("销号说明 --note", note, 2000, true, err, errlen))
        return NULL;
    s_act_t act = {.action = "closed", .done = "已销号", .verb = "销号", .needs_green = true,
                   .note = note};
    return s_act(conn, id, person, &act, now, err, errlen);
}
