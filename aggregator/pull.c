/*  pull - one page of what the province pulls from a county (see pull.h) */
#include "pull.h"

#include "pg.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*  The years the province may see (SQL). */
#define S_APPROVED                                                                               \
    "(SELECT period FROM edu.period_approval WHERE state IN ('approved', 'accepted'))"

/*  A year's approvals after $1 and up to $2, whose snapshots the page carries (SQL). */
#define S_SNAPSHOTS                                                                              \
    "(SELECT period, max(version) AS version FROM edu.period_log"                               \
    "  WHERE action = 'approved' AND version > $1::bigint AND version <= $2::bigint"           \
    "    AND period IN " S_APPROVED " GROUP BY period)"

/*  The page's last version and how many versions it holds ($3: the v2 parts count too). */
static const char *s_page_sql =
    "SELECT max(v), count(*) FROM ("
    "  SELECT version AS v FROM edu.county_aggregate WHERE version > $1::bigint"
    "    AND period IN " S_APPROVED
    "  UNION ALL SELECT id FROM edu.county_warning_change WHERE id > $1::bigint"
    "    AND period IN " S_APPROVED
    "  UNION ALL SELECT version FROM edu.period_log WHERE version > $1::bigint"
    "  UNION ALL SELECT version FROM edu.late_change_log WHERE $3 AND version > $1::bigint"
    "  UNION ALL SELECT version FROM edu.case_log WHERE $3 AND version > $1::bigint"
    "  ORDER BY 1 LIMIT $2::int) p";

static const char *s_aggregates_sql = // each row once: a snapshot may hold it too
    "SELECT * FROM (SELECT DISTINCT ON (stage, indicator, period) * FROM ("
    "  SELECT version, stage, indicator, period, schools, mean, min, max, cv, red, yellow, green"
    "  FROM edu.county_aggregate WHERE version > $1::bigint AND version <= $2::bigint"
    "    AND period IN " S_APPROVED
    "  UNION ALL SELECT s.version, a.stage, a.indicator, a.period, a.schools, a.mean, a.min,"
    "    a.max, a.cv, a.red, a.yellow, a.green"
    "  FROM edu.county_aggregate a JOIN " S_SNAPSHOTS " s USING (period)) x"
    " ORDER BY stage, indicator, period, version DESC) y ORDER BY version";

static const char *s_warnings_sql =
    "SELECT id, kind, nullif(stage, ''), indicator, period, to_level, value, detail"
    " FROM edu.county_warning_change WHERE id > $1::bigint AND id <= $2::bigint"
    "   AND period IN " S_APPROVED
    " UNION ALL SELECT s.version, w.kind, w.stage, w.indicator, w.period, w.level,"
    "   w.value, w.detail"
    " FROM edu.current_warning w JOIN " S_SNAPSHOTS " s USING (period)"
    " WHERE w.subject = $3"
    " ORDER BY 1";

static const char *s_periods_sql =
    "SELECT l.version, l.period, CASE l.action WHEN 'unlocked' THEN 'open' ELSE l.action END,"
    "  l.at,"
    "  (SELECT max(a.at) FROM edu.period_log a WHERE a.period = l.period"
    "    AND a.action = 'approved' AND a.id <= l.id),"
    "  (SELECT max(a.at) FROM edu.period_log a WHERE a.period = l.period"
    "    AND a.action = 'accepted' AND a.id <= l.id AND NOT EXISTS (SELECT 1"
    "      FROM edu.period_log u WHERE u.period = l.period AND u.id > a.id AND u.id <= l.id"
    "        AND u.action IN ('unlocked', 'returned'))),"
    "  l.note"
    " FROM edu.period_log l WHERE l.version > $1::bigint AND l.version <= $2::bigint"
    " ORDER BY l.version";

static const char *s_late_sql =
    "SELECT version, school_code, indicator, period, old_value, new_value, received_at, kind,"
    "  note"
    " FROM edu.late_change_log WHERE version > $1::bigint AND version <= $2::bigint"
    " ORDER BY version";

static const char *s_cases_sql =
    "SELECT l.version, c.id, c.kind, c.subject, coalesce(c.stage, ''), c.indicator, c.period,"
    "  c.level, c.state, c.escalated, c.due"
    " FROM (SELECT case_id, max(version) AS version FROM edu.case_log"
    "   WHERE version > $1::bigint AND version <= $2::bigint GROUP BY case_id) l"
    " JOIN edu.case c ON c.id = l.case_id ORDER BY l.version";

/*  A result as lines of PostgreSQL's COPY text format, one frame. */
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

int pull_page(PGconn *conn, const query_pull_t *pull, bool v2, zmsg_t *reply, char *err,
              size_t errlen)
{
    char from[24], rows[16], inner[512];
    snprintf(from, sizeof from, "%llu", (unsigned long long) pull->cursor);
    snprintf(rows, sizeof rows, "%ld", pull->limit);
    if (pg_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", inner, sizeof inner))
        return errorf(err, errlen, "could not read the aggregates: %s", inner);
    const char *p1[] = {from, rows, v2 ? "true" : "false"};
    PGresult *parts[6] = {NULL};
    int rc = 0;
    PGresult *page = PQexecParams(conn, s_page_sql, 3, NULL, p1, NULL, NULL, 0);
    if (PQresultStatus(page) != PGRES_TUPLES_OK) {
        rc = errorf(err, errlen, "could not read the aggregates: %s", PQresultErrorMessage(page));
        goto cleanup;
    }
    const char *to = PQgetisnull(page, 0, 0) ? from : PQgetvalue(page, 0, 0);
    const char *p2[] = {from, to, pull->county};
    const char *sqls[] = {s_aggregates_sql, s_warnings_sql, s_periods_sql, s_late_sql,
                          s_cases_sql};
    int nparams[] = {2, 3, 2, 2, 2};
    size_t n = v2 ? 5 : 2;
    for (size_t i = 0; i < n; i++) {
        parts[i] = PQexecParams(conn, sqls[i], nparams[i], NULL, p2, NULL, NULL, 0);
        if (PQresultStatus(parts[i]) != PGRES_TUPLES_OK) {
            rc = errorf(err, errlen, "could not read the aggregates: %s",
                        PQresultErrorMessage(parts[i]));
            goto cleanup;
        }
    }
    zmsg_addstr(reply, to);
    zmsg_addstr(reply, atol(PQgetvalue(page, 0, 1)) == pull->limit ? "1" : "0");
    for (size_t i = 0; i < n; i++)
        s_copy_text(reply, parts[i]);
cleanup:
    PQclear(PQexec(conn, "COMMIT"));
    PQclear(page);
    for (size_t i = 0; i < 6; i++)
        PQclear(parts[i]);
    return rc;
}
