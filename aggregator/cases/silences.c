/*  silences - hold matching alerts back from people for a while (see silences.h) */
#include "silences.h"

#include "ledger.h"
#include "period.h"
#include "pg.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *s_keys[5] = {"kind", "school", "indicator", "period", "level"};

int silences_parse(const char *matchers, char *values[5], char *err, size_t errlen)
{
    for (int i = 0; i < 5; i++)
        values[i] = NULL;
    if (!matchers || !*matchers || strlen(matchers) > 512)
        return errorf(err, errlen, "--match 须为 k=v[,k=v…]，最多 512 字节（--match is empty or "
                      "too long）");
    int count = 0;
    for (const char *s = matchers; *s;) {
        size_t n = strcspn(s, ",");
        const char *eq = memchr(s, '=', n);
        int key = -1;
        for (int i = 0; eq && i < 5; i++)
            if (strlen(s_keys[i]) == (size_t) (eq - s) && strncmp(s, s_keys[i], (size_t) (eq - s)) == 0)
                key = i;
        size_t len = eq ? n - (size_t) (eq - s) - 1 : 0;
        if (key < 0 || len == 0 || len > 64 || values[key]) {
            for (int i = 0; i < 5; i++) {
                free(values[i]);
                values[i] = NULL;
            }
            return errorf(err, errlen,
                          "--match 的“%.*s”不对：键只能是 kind、school、indicator、period、level，"
                          "每个至多一次，值 1 到 64 字节（bad matcher）",
                          (int) (n > 64 ? 64 : n), s);
        }
        values[key] = xstrndup(eq + 1, len);
        if (!ledger_text_ok(values[key], 64)) {
            for (int i = 0; i < 5; i++) {
                free(values[i]);
                values[i] = NULL;
            }
            return errorf(err, errlen, "--match 的值须为一行文字（bad matcher value）");
        }
        count++;
        s += n + (s[n] == ',');
    }
    if (count == 0)
        return errorf(err, errlen, "--match 至少要有一个条件（no matcher）");
    return 0;
}

int silences_until(const char *until, time_t now, time_t *out, char *err, size_t errlen)
{
    time_t t;
    long seconds;
    char inner[256];
    if (until && *until && strchr("0123456789", *until) && strlen(until) < 10 &&
        period_parse_duration(until, &seconds, inner, sizeof inner) == 0 && seconds > 0)
        t = now + seconds;
    else if (!until || period_parse_time(until, &t) != 0)
        return errorf(err, errlen, "--until“%.40s”不是时间（如 2026-01-15T18:00:00+08:00）或时长"
                      "（如 2d、12h）（--until is not a time）", until ? until : "");
    if (t <= now)
        return errorf(err, errlen, "--until 须晚于现在（--until is not in the future）");
    if (t > now + SILENCES_MAX_DAYS * 86400L)
        return errorf(err, errlen, "静默至多 %d 天（a silence lasts at most %d days）",
                      SILENCES_MAX_DAYS, SILENCES_MAX_DAYS);
    *out = t;
    return 0;
}

static void s_time_text(time_t t, char *out, size_t size)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

char *silences_add(PGconn *conn, const char *matchers, const char *until, const char *comment,
                   const char *person, time_t now, char *err, size_t errlen)
{
    char *values[5];
    time_t end;
    if (!comment || !*comment || !ledger_text_ok(comment, 2000))
        return errorf(err, errlen, "缺少 --comment，或不是一行文字（--comment is required: one "
                      "line of at most 2000 bytes）"), NULL;
    if (silences_until(until, now, &end, err, errlen) != 0 ||
        silences_parse(matchers, values, err, errlen) != 0)
        return NULL;
    char at[32], to[32];
    s_time_text(now, at, sizeof at);
    s_time_text(end, to, sizeof to);
    const char *p[] = {values[0], values[1], values[2], values[3], values[4],
                       to,        comment,   person,    at};
    PGresult *res = PQexecParams(conn,
                                 "INSERT INTO edu.silence (kind, school, indicator, period, level,"
                                 " until, comment, author, created_at) VALUES ($1, $2, $3, $4,"
                                 " $5, $6::timestamptz, $7, $8, $9::timestamptz) RETURNING id,"
                                 " to_char($6::timestamptz AT TIME ZONE 'Asia/Shanghai',"
                                 " 'YYYY-MM-DD HH24:MI')",
                                 9, NULL, p, NULL, NULL, 0);
    char *answer = NULL;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        answer = xasprintf("已静默 #%s：%s，至 %s（北京时间），期间匹配的预警不推送给人员，"
                           "结束后仍在报警的补发（%s）\n",
                           PQgetvalue(res, 0, 0), matchers, PQgetvalue(res, 0, 1), person);
    else
        errorf(err, errlen, "无法记录静默（could not add the silence: %s）",
               PQresultErrorMessage(res));
    PQclear(res);
    for (int i = 0; i < 5; i++)
        free(values[i]);
    return answer;
}

char *silences_lift(PGconn *conn, const char *id, const char *person, time_t now, char *err,
                    size_t errlen)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > 18 || strspn(id, "0123456789") != n)
        return errorf(err, errlen, "静默编号不是数字（silence id is not a number）"), NULL;
    char at[32];
    s_time_text(now, at, sizeof at);
    const char *p[] = {id, at, person};
    PGresult *res = PQexecParams(conn,
                                 "UPDATE edu.silence SET lifted_at = $2::timestamptz,"
                                 " lifted_by = $3 WHERE id = $1::bigint AND lifted_at IS NULL"
                                 " AND until > $2::timestamptz RETURNING id",
                                 3, NULL, p, NULL, NULL, 0);
    char *answer = NULL;
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        errorf(err, errlen, "无法解除静默（could not lift silence %s: %s）", id,
               PQresultErrorMessage(res));
    else if (PQntuples(res) == 0)
        errorf(err, errlen, "没有仍在生效的静默 #%s（no active silence %s）", id, id);
    else
        answer = xasprintf("已解除静默 #%s，仍在报警的将补发（%s）\n", id, person);
    PQclear(res);
    return answer;
}

static const char *s_list_sql =
    "SELECT CASE WHEN $1 THEN format('#%s %s %s 至 %s · %s · %s%s', id,"
    "   CASE WHEN lifted_at IS NOT NULL THEN '已解除' WHEN until <= $2::timestamptz"
    "     THEN '已到期' ELSE '生效中' END,"
    "   concat_ws(',', 'kind=' || kind, 'school=' || school, 'indicator=' || indicator,"
    "     'period=' || period, 'level=' || level),"
    "   to_char(until AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI'), author, comment,"
    "   coalesce(' · ' || lifted_by || ' 解除', ''))"
    "  ELSE json_build_object('id', id, 'kind', kind, 'school', school, 'indicator', indicator,"
    "   'period', period, 'level', level, 'until', until, 'comment', comment, 'author', author,"
    "   'created_at', created_at, 'lifted_at', lifted_at, 'lifted_by', lifted_by,"
    "   'active', lifted_at IS NULL AND until > $2::timestamptz)::text END"
    " FROM edu.silence ORDER BY lifted_at IS NULL AND until > $2::timestamptz DESC, id DESC"
    " LIMIT 1000";

char *silences_list(PGconn *conn, bool text, time_t now, char *err, size_t errlen)
{
    char at[32];
    s_time_text(now, at, sizeof at);
    const char *p[] = {text ? "true" : "false", at};
    PGresult *res = PQexecParams(conn, s_list_sql, 2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        errorf(err, errlen, "无法读取静默（could not read the silences: %s）",
               PQresultErrorMessage(res));
        PQclear(res);
        return NULL;
    }
    char *answer = pg_lines(res, text ? "（没有静默）" : NULL);
    PQclear(res);
    return answer;
}
