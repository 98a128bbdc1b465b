/*  approval - the county signs off a year before the province sees it (see approval.h) */
#include "approval.h"

#include "ledger.h"
#include "period.h"
#include "pg.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*  The latest approval event of each year (SQL). */
#define S_LATEST                                                                                 \
    "(SELECT DISTINCT ON (period) period, action FROM edu.period_log"                            \
    " ORDER BY period, id DESC)"

char *approval_locked(PGconn *conn, char *err, size_t errlen)
{
    // two statements in one round trip: the second reads with a snapshot taken after the
    // first has the lock (each statement of a simple query takes its own, in READ COMMITTED);
    // PQexec answers with the last result, or with the first one that failed
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT pg_advisory_xact_lock_shared(%lld); SELECT coalesce(string_agg(period, ','),"
             " '') FROM " S_LATEST " l WHERE action IN ('approved', 'accepted')",
             APPROVAL_LOCK);
    PGresult *res = PQexec(conn, sql);
    char *locked = NULL;
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        locked = xstrdup(PQgetvalue(res, 0, 0));
    else
        errorf(err, errlen, "could not take the approval lock and read the approved years: %s",
               PQresultErrorMessage(res));
    PQclear(res);
    return locked;
}

bool approval_is_locked(const char *locked, const char *period)
{
    size_t n = strlen(period);
    for (const char *p = locked; *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && strncmp(p, period, n) == 0)
            return true;
        p += len + (p[len] == ',');
    }
    return false;
}

static void s_time_text(time_t t, char *out, size_t size)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/*  Opens the act's transaction under the approval lock and reads the year's state into state.
 *  Returns 0, or -1 with err (nothing open). */
static int s_begin(PGconn *conn, const char *period, char *state, size_t size, char *err,
                   size_t errlen)
{
    int year;
    if (!period || period_parse(period, &year) != 0)
        return errorf(err, errlen, "“%.16s”不是学年，请写作 2025-2026（not an academic year）",
                      period ? period : "");
    char lock[64], inner[512];
    snprintf(lock, sizeof lock, "SELECT pg_advisory_xact_lock(%lld)", APPROVAL_LOCK);
    if (pg_exec(conn, "BEGIN", inner, sizeof inner) != 0 ||
        pg_exec(conn, lock, inner, sizeof inner) != 0) {
        PQclear(PQexec(conn, "ROLLBACK"));
        return errorf(err, errlen, "数据库暂时不可用（could not begin: %s）", inner);
    }
    const char *p[] = {period};
    PGresult *res = PQexecParams(conn,
                                 "SELECT coalesce((SELECT action FROM " S_LATEST " l"
                                 " WHERE period = $1), 'open')",
                                 1, NULL, p, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        snprintf(state, size, "%s", PQgetvalue(res, 0, 0));
    else
        rc = errorf(err, errlen, "无法读取学年状态（could not read the year's state: %s）",
                    PQresultErrorMessage(res));
    PQclear(res);
    if (rc != 0)
        PQclear(PQexec(conn, "ROLLBACK"));
    return rc;
}

/*  Writes the year's event and commits; on failure rolls back. Returns 0, or -1 with err. */
static int s_record(PGconn *conn, const char *period, const char *person, const char *action,
                    const char *note, const char *checked, time_t now, char *err, size_t errlen)
{
    char at[32], inner[512];
    s_time_text(now, at, sizeof at);
    const char *p[] = {period, at, person, action, note && *note ? note : NULL, checked};
    if (pg_exec_params(conn,
                       "INSERT INTO edu.period_log (period, at, actor, action, note, checked)"
                       " VALUES ($1, $2::timestamptz, $3, $4, $5, $6::bigint[])",
                       6, p, inner, sizeof inner) != 0 ||
        pg_exec(conn, "COMMIT", inner, sizeof inner) != 0) {
        PQclear(PQexec(conn, "ROLLBACK"));
        return errorf(err, errlen, "无法记录（could not record the year's %s: %s）", action,
                      inner);
    }
    return 0;
}

/*  The data_quality warnings of period whose verification case is neither closed nor named in
 *  checked with a note: what stands in the way of approval (one line each). */
static const char *s_unchecked_sql =
    "SELECT format('%s（%s）%s：核查事项 %s', coalesce(s.name, w.subject), w.subject,"
    "  coalesce(i.name, w.indicator),"
    "  coalesce('#' || c.id || CASE WHEN c.id = ANY($2::bigint[]) THEN '（已列入 --checked，但没有核查"
    "说明：先 edu-alerts note ' || c.id || ' 写明核查结果）' ELSE '（未核查）' END, '（尚未开单）'))"
    " FROM edu.warning_state w"
    " LEFT JOIN edu.school s ON s.code = w.subject"
    " LEFT JOIN edu.indicator i ON i.code = w.indicator"
    " LEFT JOIN LATERAL (SELECT c.id, c.state FROM edu.case c WHERE c.kind = w.kind"
    "   AND c.subject = w.subject AND c.indicator = w.indicator AND c.period = w.period"
    "   ORDER BY c.id DESC LIMIT 1) c ON true"
    " WHERE w.kind = 'data_quality' AND w.period = $1"
    "   AND NOT (c.state = 'closed' OR (c.id = ANY($2::bigint[]) AND EXISTS ("
    "     SELECT 1 FROM edu.case_log e WHERE e.case_id = c.id AND e.action = 'noted')))"
    " ORDER BY w.subject, w.indicator";

/*  The ids of checked that are not verification cases of period (one line each). */
static const char *s_not_verify_sql =
    "SELECT '#' || x.id FROM unnest($2::bigint[]) AS x(id)"
    " WHERE NOT EXISTS (SELECT 1 FROM edu.case c WHERE c.id = x.id AND c.period = $1"
    "   AND c.case_type = 'verify')";

/*  checked "12,15" (or "12 15") as an array literal "{12,15}"; NULL when malformed. */
static char *s_ids(const char *checked)
{
    pg_array_t ids = {0};
    for (const char *s = checked ? checked : ""; *s;) {
        s += strspn(s, ", ");
        size_t n = strspn(s, "0123456789");
        if (!*s)
            break;
        if (n == 0 || n > 18 || (s[n] && !strchr(", ", s[n]))) {
            pg_array_free(&ids);
            return NULL;
        }
        char *one = xstrndup(s, n);
        pg_array_put(&ids, one, false);
        free(one);
        s += n;
    }
    char *text = xstrdup(pg_array_end(&ids));
    pg_array_free(&ids);
    return text;
}

/*  The rows of a query as lines (pg_lines), or NULL when it has none (or fails). */
static char *s_lines(PGconn *conn, const char *sql, const char *const *p, int n)
{
    PGresult *res = PQexecParams(conn, sql, n, NULL, p, NULL, NULL, 0);
    char *text = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) ? pg_lines(res, NULL)
                                                                          : NULL;
    PQclear(res);
    return text;
}

char *approval_approve(PGconn *conn, const char *period, const char *person, const char *note,
                       const char *checked, time_t now, char *err, size_t errlen)
{
    if (note && *note && !ledger_text_ok(note, 2000))
        return errorf(err, errlen, "说明须为一行文字，最多 2000 字节（--note is too long）"), NULL;
    char *ids = s_ids(checked);
    if (!ids)
        return errorf(err, errlen, "--checked 须为整改事项编号，如 12,15（--checked holds case "
                      "ids）"), NULL;
    char state[16];
    char *answer = NULL, *blocking = NULL;
    if (s_begin(conn, period, state, sizeof state, err, errlen) != 0)
        goto cleanup;
    if (strcmp(state, "approved") == 0 || strcmp(state, "accepted") == 0) {
        errorf(err, errlen, "%s 学年已审核锁定（already %s）", period, state);
        goto rollback;
    }
    const char *p[] = {period, ids};
    if ((blocking = s_lines(conn, s_not_verify_sql, p, 2))) {
        errorf(err, errlen, "--checked 中这些不是 %s 学年的核查事项（not verification cases of "
               "this year）：%s", period, blocking);
        goto rollback;
    }
    if ((blocking = s_lines(conn, s_unchecked_sql, p, 2))) {
        errorf(err, errlen,
               "%s 学年还有未处理的数据核查（核查）预警，审核前请逐项核查：写明核查结果（edu-alerts "
               "note ID ...）后在 --checked 中列出，或销号（approval refused: unresolved "
               "data_quality warnings）：\n%s", period, blocking);
        goto rollback;
    }
    if (s_record(conn, period, person, "approved", note, ids, now, err, errlen) == 0)
        answer = xasprintf("已审核 %s 学年：该学年数据锁定，学校的修改将被退回（period_locked），"
                           "省里下次拉取时可见（%s）\n", period, person);
    goto cleanup;
rollback:
    PQclear(PQexec(conn, "ROLLBACK"));
cleanup:
    free(blocking);
    free(ids);
    return answer;
}

char *approval_unlock(PGconn *conn, const char *period, const char *person, const char *reason,
                      time_t now, char *err, size_t errlen)
{
    if (!reason || !*reason || !ledger_text_ok(reason, 2000))
        return errorf(err, errlen, "解锁须写明原因 --reason（一行，最多 2000 字节）（--reason is "
                      "required）"), NULL;
    char state[16], at[32], inner[512];
    if (s_begin(conn, period, state, sizeof state, err, errlen) != 0)
        return NULL;
    if (strcmp(state, "approved") != 0 && strcmp(state, "accepted") != 0) {
        PQclear(PQexec(conn, "ROLLBACK"));
        return errorf(err, errlen, "%s 学年没有锁定，无需解锁（not approved）", period), NULL;
    }
    s_time_text(now, at, sizeof at);
    const char *p[] = {period, at, reason};
    if (pg_exec_params(conn,
                       "INSERT INTO edu.late_change_log (school_code, period, received_at, kind,"
                       " note) SELECT value, $1, $2::timestamptz, 'unlock', $3"
                       " FROM edu.setting WHERE key = 'county'",
                       3, p, inner, sizeof inner) != 0) {
        PQclear(PQexec(conn, "ROLLBACK"));
        return errorf(err, errlen, "无法记录解锁（could not record the unlock: %s）", inner), NULL;
    }
    if (s_record(conn, period, person, "unlocked", reason, "{}", now, err, errlen) != 0)
        return NULL;
    return xasprintf("已解锁 %s 学年：学校可再修改，省里下次拉取时撤下该学年数据（%s）\n", period,
                     person);
}

/*  The county's own code must be what the province names. */
/*  A year's state as people say it. */
static const char *s_state_name(const char *state)
{
    static const char *names[][2] = {{"open", "未审核"},     {"approved", "县已审核"},
                                     {"unlocked", "已解锁"}, {"accepted", "省已接受"},
                                     {"returned", "省已退回"}};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcmp(state, names[i][0]) == 0)
            return names[i][1];
    return state;
}

static bool s_this_county(PGconn *conn, const char *county, char *err, size_t errlen)
{
    PGresult *res = PQexec(conn, "SELECT value FROM edu.setting WHERE key = 'county'");
    bool ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && county &&
              strcmp(PQgetvalue(res, 0, 0), county) == 0;
    const char *here = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1
                           ? PQgetvalue(res, 0, 0)
                           : "?";
    if (!ok)
        errorf(err, errlen, "这里是县 %s，不是 %.16s（this is county %s, not %.16s）", here,
               county ? county : "", here, county ? county : "");
    PQclear(res);
    return ok;
}

char *approval_accept(PGconn *conn, const char *county, const char *period, const char *person,
                      time_t now, char *err, size_t errlen)
{
    char state[16];
    if (!s_this_county(conn, county, err, errlen) ||
        s_begin(conn, period, state, sizeof state, err, errlen) != 0)
        return NULL;
    if (strcmp(state, "accepted") == 0) {
        PQclear(PQexec(conn, "ROLLBACK"));
        return xasprintf("%s 学年已接受（accepted before）\n", period);
    }
    if (strcmp(state, "approved") != 0) {
        PQclear(PQexec(conn, "ROLLBACK"));
        return errorf(err, errlen, "县 %s 的 %s 学年尚未经县里审核（%s），不能接受（cannot "
                      "accept: the county has not approved it, its state is %s）",
                      county, period, s_state_name(state), state), NULL;
    }
    if (s_record(conn, period, person, "accepted", NULL, "{}", now, err, errlen) != 0)
        return NULL;
    return xasprintf("已接受县 %s 的 %s 学年（accepted）\n", county, period);
}

static const char *s_returned_alert_sql =
    "INSERT INTO edu.alert (id, county, kind, subject, subject_name, stage, indicator,"
    "  indicator_name, period, level, previous_level, value, target, message, raised_at, batch)"
    " SELECT nextval('edu.warning_transition_id_seq'), value, 'period_returned', value, '全县',"
    "   '', 'approval', '学年审核', $1, 'red', 'green', NULL, NULL,"
    "   format('【省级退回】%s 学年数据被省里退回（%s）：%s。该学年已解锁，请核实修改后重新审核"
    "（edu-alerts approve %s）。', $1::text, $2::text, $3::text, $1::text),"
    "   now(), txid_current()"
    " FROM edu.setting WHERE key = 'county'";

char *approval_return(PGconn *conn, const char *county, const char *period, const char *person,
                      const char *reason, time_t now, char *err, size_t errlen)
{
    if (!reason || !*reason || !ledger_text_ok(reason, 2000))
        return errorf(err, errlen, "退回须写明原因（一行，最多 2000 字节）（a return needs a "
                      "reason: one line of at most 2000 bytes）"), NULL;
    char state[16], inner[512];
    if (!s_this_county(conn, county, err, errlen) ||
        s_begin(conn, period, state, sizeof state, err, errlen) != 0)
        return NULL;
    if (strcmp(state, "approved") != 0 && strcmp(state, "accepted") != 0) {
        PQclear(PQexec(conn, "ROLLBACK"));
        return errorf(err, errlen, "县 %s 的 %s 学年没有审核通过（%s），无需退回（cannot return: "
                      "it is not approved, its state is %s）",
                      county, period, s_state_name(state), state), NULL;
    }
    const char *p[] = {period, person, reason};
    if (pg_exec_params(conn, s_returned_alert_sql, 3, p, inner, sizeof inner) != 0) {
        PQclear(PQexec(conn, "ROLLBACK"));
        return errorf(err, errlen, "无法通知县里（could not raise the return's alert: %s）",
                      inner), NULL;
    }
    if (s_record(conn, period, person, "returned", reason, "{}", now, err, errlen) != 0)
        return NULL;
    return xasprintf("已退回县 %s 的 %s 学年（returned）：%s\n", county, period, reason);
}
