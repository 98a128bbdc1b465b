/*  report - the province's bulletin (通报) of one academic year, as an Excel workbook or CSV */
#include "report.h"

#include "period.h"
#include "pg.h"
#include "util.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xlsxwriter.h>

/*  Times as people in China read them. */
#define S_TIME(col) "to_char(" col " AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI')"
#define S_STATE(col)                                                                               \
    "CASE " col " WHEN 'approved' THEN '县级已审核' WHEN 'accepted' THEN '省级已确认'"             \
    " WHEN 'returned' THEN '已退回' WHEN 'open' THEN '未审核' ELSE '未报送' END"
#define S_STAGE(col) "CASE " col " WHEN 'primary' THEN '小学' WHEN 'junior' THEN '初中' ELSE " col " END"
#define S_OPEN_CASE "state NOT IN ('resolved', 'closed')"

/*  The tables, in the order of the sheets; $1 is the period. Column names are the headers. */
static const struct {
    const char *title; // the sheet's name
    const char *sql;   // one statement
} s_tables[] = {
    {"概况",
     "WITH p AS (SELECT * FROM province.period_row WHERE period = $1),"
     " bal AS (SELECT county_code, stage, level FROM province.warning_row"
     "   WHERE kind = 'county_balanced' AND period = $1 AND NOT withdrawn),"
     " n AS (SELECT count(*)::float8 AS counties FROM province.county)"
     " SELECT item AS \"项目\", value AS \"数值\", note AS \"说明\" FROM ("
     "  SELECT 1, '学年', NULL::float8, $1::text"
     "  UNION ALL SELECT 2, '县（区）总数', counties, NULL FROM n"
     "  UNION ALL SELECT 3, '县级已审核（含省级已确认）',"
     "   (SELECT count(*) FROM p WHERE state IN ('approved', 'accepted'))::float8, NULL"
     "  UNION ALL SELECT 4, '省级已确认', (SELECT count(*) FROM p WHERE state = 'accepted'),"
     "   NULL"
     "  UNION ALL SELECT 5, '未审核或已退回', counties"
     "   - (SELECT count(*) FROM p WHERE state IN ('approved', 'accepted')), '见“未审核县”'"
     "   FROM n"
     "  UNION ALL SELECT 6 + s.n, s.name || '优质均衡达标县数',"
     "   (SELECT count(*) FROM bal WHERE bal.stage = s.stage AND level = 'green'),"
     "   '已报告达标情况的县 ' || (SELECT count(*) FROM bal WHERE bal.stage = s.stage) || ' 个'"
     "   FROM (VALUES (1, 'primary', '小学'), (3, 'junior', '初中')) s(n, stage, name)"
     "  UNION ALL SELECT 7 + s.n, s.name || '优质均衡达标率（%）',"
     "   round((100 * (SELECT count(*) FROM bal WHERE bal.stage = s.stage AND level = 'green')"
     "     / nullif(counties, 0))::numeric, 1)::float8, '达标县数 ÷ 县（区）总数'"
     "   FROM n, (VALUES (1, 'primary', '小学'), (3, 'junior', '初中')) s(n, stage, name)"
     "  UNION ALL SELECT 11, '县级红色预警（条）', (SELECT count(*) FROM province.county_warning"
     "   WHERE period = $1 AND level = 'red' AND kind <> 'county_balanced'), NULL"
     "  UNION ALL SELECT 12, '逾期修改与解锁（条）', (SELECT count(*) FROM province.late_change"
     "   WHERE period = $1), NULL"
     "  UNION ALL SELECT 13, '督办事项（件）', (SELECT count(*) FROM province.county_case"
     "   WHERE period = $1 AND escalated AND " S_OPEN_CASE "), '本学年的事项，未办结'"
     " ) t(n, item, value, note) ORDER BY n"},
    {"排名",
     "WITH a AS (SELECT county_code, stage, avg(cv) AS cv, count(cv) AS indicators,"
     "   100 * sum(green)::float8 / nullif(sum(red + yellow + green), 0) AS green_share,"
     "   count(*) FILTER (WHERE red > 0) AS red_indicators"
     "   FROM province.county_indicator WHERE period = $1 GROUP BY county_code, stage)"
     " SELECT " S_STAGE("a.stage") " AS \"学段\","
     "  rank() OVER (PARTITION BY a.stage ORDER BY a.cv NULLS LAST) AS \"差异系数名次\","
     "  rank() OVER (PARTITION BY a.stage ORDER BY a.green_share DESC NULLS LAST)"
     "   AS \"绿色占比名次\","
     "  a.county_code AS \"县（区）代码\", c.name AS \"县（区）名称\","
     "  round(a.cv::numeric, 4)::float8 AS \"平均差异系数\", a.indicators AS \"指标数\","
     "  round(a.green_share::numeric, 1)::float8 AS \"绿色学校占比（%）\","
     "  a.red_indicators AS \"有红色学校的指标数\","
     "  CASE b.level WHEN 'green' THEN '达标' WHEN 'yellow' THEN '接近达标'"
     "   WHEN 'red' THEN '未达标' ELSE '未知' END AS \"优质均衡\""
     " FROM a LEFT JOIN province.county c ON c.code = a.county_code"
     " LEFT JOIN province.warning_row b ON b.county_code = a.county_code"
     "  AND b.kind = 'county_balanced' AND b.stage = a.stage AND b.period = $1"
     "  AND NOT b.withdrawn"
     " ORDER BY a.stage DESC, 2, a.county_code"},
    {"县级红色预警",
     "SELECT w.county_code AS \"县（区）代码\", c.name AS \"县（区）名称\","
     "  CASE w.kind WHEN 'dispersion' THEN '校际差异系数' WHEN 'progress' THEN '进度'"
     "   WHEN 'county_balanced' THEN '优质均衡达标' ELSE w.kind END AS \"预警类型\","
     "  " S_STAGE("w.stage") " AS \"学段\", coalesce(i.name, w.indicator) AS \"指标\","
     "  w.value AS \"数值\", w.detail AS \"说明\", w.indicator AS \"指标代码\""
     " FROM province.county_warning w LEFT JOIN province.county c ON c.code = w.county_code"
     " LEFT JOIN province.indicator i ON i.code = w.indicator"
     " WHERE w.period = $1 AND w.level = 'red'"
     " ORDER BY w.county_code, w.kind, w.stage DESC, i.position"},
    {"红色学校分布",
     "SELECT r.county_code AS \"县（区）代码\", c.name AS \"县（区）名称\","
     "  " S_STAGE("r.stage") " AS \"学段\", coalesce(i.name, r.indicator) AS \"指标\","
     "  r.red AS \"红色学校数\", r.yellow AS \"黄色学校数\", r.schools AS \"报送学校数\","
     "  r.indicator AS \"指标代码\""
     " FROM province.county_indicator r LEFT JOIN province.county c ON c.code = r.county_code"
     " LEFT JOIN province.indicator i ON i.code = r.indicator"
     " WHERE r.period = $1 AND r.red > 0"
     " ORDER BY r.county_code, r.stage DESC, i.position, r.indicator"},
    {"逾期修改",
     "SELECT l.county_code AS \"县（区）代码\", c.name AS \"县（区）名称\","
     "  CASE l.kind WHEN 'unlock' THEN '解锁' WHEN 'change' THEN '逾期修改' ELSE l.kind END"
     "   AS \"类型\","
     "  l.school_code AS \"学校代码\", coalesce(i.name, l.indicator) AS \"指标\","
     "  l.old_value AS \"原值\", l.new_value AS \"新值\", " S_TIME("l.received_at") " AS \"时间\","
     "  l.note AS \"说明\""
     " FROM province.late_change l LEFT JOIN province.county c ON c.code = l.county_code"
     " LEFT JOIN province.indicator i ON i.code = l.indicator"
     " WHERE l.period = $1 ORDER BY l.county_code, l.version, l.seq"},
    {"未审核县",
     "SELECT c.code AS \"县（区）代码\", c.name AS \"县（区）名称\","
     "  " S_STATE("p.state") " AS \"状态\", " S_TIME("p.changed_at") " AS \"变更时间\","
     "  p.note AS \"说明\""
     " FROM province.county c LEFT JOIN province.period_row p"
     "  ON p.county_code = c.code AND p.period = $1"
     " WHERE p.state IS NULL OR p.state NOT IN ('approved', 'accepted')"
     " ORDER BY c.code"},
    {"督办事项",
     "SELECT k.county_code AS \"县（区）代码\", c.name AS \"县（区）名称\","
     "  k.case_id AS \"事项编号\", k.subject AS \"对象\", coalesce(i.name, k.indicator) AS \"指标\","
     "  k.period AS \"学年\", CASE k.state WHEN 'open' THEN '待处理' WHEN 'acknowledged' THEN '已确认'"
     "   WHEN 'assigned' THEN '已分派' ELSE k.state END AS \"状态\", k.due::text AS \"期限\""
     " FROM province.county_case k LEFT JOIN province.county c ON c.code = k.county_code"
     " LEFT JOIN province.indicator i ON i.code = k.indicator"
     " WHERE k.period = $1 AND k.escalated AND k." S_OPEN_CASE
     " ORDER BY k.due, k.county_code, k.case_id"},
};

#define S_TABLES (sizeof s_tables / sizeof *s_tables)

/*  True for a column PostgreSQL gives as a number (int2, int4, int8, float4, float8, numeric). */
static bool s_numeric(Oid type)
{
    return type == 20 || type == 21 || type == 23 || type == 700 || type == 701 || type == 1700;
}

/*  Display width of UTF-8 text, CJK as two. */
static double s_width(const char *s)
{
    double w = 0;
    for (const unsigned char *c = (const unsigned char *) s; *c; c++)
        if ((*c & 0xC0) != 0x80)
            w += *c >= 0xE0 ? 2 : 1;
    return w;
}

static int s_xlsx(PGresult **results, const char *path, const char *period, char *err,
                  size_t errlen)
{
    lxw_workbook *book = workbook_new(path);
    if (!book)
        return errorf(err, errlen, "could not create \"%s\"", path);
    char *title = xasprintf("义务教育优质均衡发展监测通报（%s学年）", period);
    lxw_doc_properties properties = {.title = title, .subject = "省级通报",
                                     .author = "edu-province"};
    workbook_set_properties(book, &properties);
    lxw_format *bold = workbook_add_format(book);
    format_set_bold(bold);
    for (size_t t = 0; t < S_TABLES; t++) {
        PGresult *res = results[t];
        lxw_worksheet *sheet = workbook_add_worksheet(book, s_tables[t].title);
        int columns = PQnfields(res), rows = PQntuples(res);
        for (int j = 0; j < columns; j++) {
            double width = s_width(PQfname(res, j)) + 2;
            worksheet_write_string(sheet, 0, (lxw_col_t) j, PQfname(res, j), bold);
            bool number = s_numeric(PQftype(res, j));
            for (int i = 0; i < rows; i++) {
                if (PQgetisnull(res, i, j))
                    continue;
                const char *v = PQgetvalue(res, i, j);
                if (number)
                    worksheet_write_number(sheet, (lxw_row_t) (i + 1), (lxw_col_t) j,
                                           strtod(v, NULL), NULL);
                else
                    worksheet_write_string(sheet, (lxw_row_t) (i + 1), (lxw_col_t) j, v, NULL);
                if (s_width(v) + 2 > width)
                    width = s_width(v) + 2 > 60 ? 60 : s_width(v) + 2;
            }
            worksheet_set_column(sheet, (lxw_col_t) j, (lxw_col_t) j, width, NULL);
        }
        worksheet_freeze_panes(sheet, 1, 0);
    }
    lxw_error rc = workbook_close(book);
    free(title);
    return rc == LXW_NO_ERROR
               ? 0
               : errorf(err, errlen, "could not write \"%s\": %s", path, lxw_strerror(rc));
}

static void s_csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static int s_csv(PGresult **results, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return errorf(err, errlen, "could not create \"%s\": %m", path);
    fputs("\xEF\xBB\xBF", f); // BOM: Excel reads UTF-8
    for (size_t t = 0; t < S_TABLES; t++) {
        PGresult *res = results[t];
        fprintf(f, "【%s】\r\n", s_tables[t].title);
        for (int j = 0; j < PQnfields(res); j++) {
            if (j)
                fputc(',', f);
            s_csv_field(f, PQfname(res, j));
        }
        fputs("\r\n", f);
        for (int i = 0; i < PQntuples(res); i++) {
            for (int j = 0; j < PQnfields(res); j++) {
                if (j)
                    fputc(',', f);
                s_csv_field(f, PQgetvalue(res, i, j)); // NULL reads as empty
            }
            fputs("\r\n", f);
        }
        fputs("\r\n", f);
    }
    bool failed = ferror(f) != 0;
    if (fclose(f) != 0 || failed)
        return errorf(err, errlen, "could not write \"%s\": %m", path);
    return 0;
}

int report_write(const char *conninfo, const char *period, const char *out, char *err,
                 size_t errlen)
{
    int year;
    if (period_parse(period, &year) != 0)
        return errorf(err, errlen, "\"%.24s\" is not an academic year (YYYY-YYYY)", period);
    bool xlsx = str_ends_with(out, ".xlsx"), csv = str_ends_with(out, ".csv");
    if (!xlsx && !csv)
        return errorf(err, errlen, "cannot write \"%s\": the name must end in .xlsx or .csv",
                      out);
    PGresult *results[S_TABLES] = {NULL};
    char *part = xasprintf("%s.part%s", out, xlsx ? ".xlsx" : ".csv");
    int rc = -1;
    PGconn *conn = pg_connect(conninfo, "edu-province report", err, errlen);
    if (!conn)
        goto cleanup;
    // one snapshot for every table, so the sheets agree with each other
    if (pg_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err, errlen) != 0)
        goto cleanup;
    const char *params[] = {period};
    for (size_t t = 0; t < S_TABLES; t++) {
        results[t] = PQexecParams(conn, s_tables[t].sql, 1, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(results[t]) != PGRES_TUPLES_OK) {
            errorf(err, errlen, "could not read the table %s: %s", s_tables[t].title,
                   PQresultErrorMessage(results[t]));
            goto cleanup;
        }
    }
    if ((xlsx ? s_xlsx(results, part, period, err, errlen) : s_csv(results, part, err, errlen)) !=
        0)
        goto cleanup;
    if (rename(part, out) != 0) {
        errorf(err, errlen, "could not rename \"%s\" to \"%s\": %m", part, out);
        goto cleanup;
    }
    rc = 0;
cleanup:
    if (rc != 0)
        unlink(part);
    for (size_t t = 0; t < S_TABLES; t++)
        PQclear(results[t]);
    PQfinish(conn);
    free(part);
    return rc;
}
