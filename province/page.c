/*  page - the province's HTTP page (省级监测窗口) and the JSON it reads */
#include "page.h"

#include "http.h"
#include "log.h"
#include "period.h"
#include "pg.h"
#include "util.h"

#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

extern const unsigned char province_html[]; // deploy/province/index.html, embedded by the build

struct page_t {
    http_t *http;   // the server
    char *conninfo; // the province database
    PGconn *conn;   // used only from the HTTP thread
};

static const char *s_periods_sql =
    "SELECT json_build_object("
    "  'periods', coalesce((SELECT json_agg(period ORDER BY period DESC)"
    "    FROM (SELECT DISTINCT period FROM province.period_row) p), '[]'),"
    "  'latest', (SELECT max(period) FROM province.period_row"
    "    WHERE state IN ('approved', 'accepted')))::text";

/*  Cases still open that are escalated (督办): not resolved, not closed. */
#define S_OPEN_CASE "state NOT IN ('resolved', 'closed')"

static const char *s_overview_sql =
    "WITH p AS (SELECT * FROM province.period_row WHERE period = $1),"
    " agg AS (SELECT county_code, stage, avg(cv) AS cv, count(cv) AS indicators,"
    "   sum(green)::float8 / nullif(sum(red + yellow + green), 0) AS green_share,"
    "   sum(red) AS red, sum(yellow) AS yellow"
    "   FROM province.county_indicator WHERE period = $1 GROUP BY county_code, stage),"
    " bal AS (SELECT county_code, stage, level, value FROM province.warning_row"
    "   WHERE kind = 'county_balanced' AND period = $1 AND NOT withdrawn),"
    " k AS (SELECT county_code, count(*) FILTER (WHERE " S_OPEN_CASE ") AS open,"
    "   count(*) FILTER (WHERE escalated AND " S_OPEN_CASE ") AS escalated"
    "   FROM province.county_case GROUP BY county_code)"
    " SELECT json_build_object('period', $1::text,"
    "  'counties', (SELECT count(*) FROM province.county),"
    "  'approved', (SELECT count(*) FROM p WHERE state IN ('approved', 'accepted')),"
    "  'accepted', (SELECT count(*) FROM p WHERE state = 'accepted'),"
    "  'standard', (SELECT json_agg(json_build_object('stage', s.stage,"
    "     'green', (SELECT count(*) FROM bal WHERE bal.stage = s.stage AND level = 'green'),"
    "     'known', (SELECT count(*) FROM bal WHERE bal.stage = s.stage),"
    "     'counties', (SELECT count(*) FROM province.county)) ORDER BY s.n)"
    "     FROM (VALUES (1, 'primary'), (2, 'junior')) s(n, stage)),"
    "  'rows', coalesce((SELECT json_agg(json_build_object('code', c.code, 'name', c.name,"
    "     'state', coalesce(p.state, 'none'), 'approved_at', p.approved_at,"
    "     'accepted_at', p.accepted_at, 'note', p.note,"
    "     'open_cases', coalesce(k.open, 0), 'escalated', coalesce(k.escalated, 0),"
    "     'stages', (SELECT json_object_agg(s.stage, json_build_object('cv', a.cv,"
    "        'indicators', a.indicators, 'green_share', a.green_share, 'red', a.red,"
    "        'yellow', a.yellow, 'balanced', b.level, 'balanced_value', b.value))"
    "        FROM (VALUES ('primary'), ('junior')) s(stage)"
    "        LEFT JOIN agg a ON a.county_code = c.code AND a.stage = s.stage"
    "        LEFT JOIN bal b ON b.county_code = c.code AND b.stage = s.stage"
    "        WHERE a.county_code IS NOT NULL OR b.county_code IS NOT NULL))"
    "     ORDER BY c.code)"
    "   FROM province.county c LEFT JOIN p ON p.county_code = c.code"
    "   LEFT JOIN k ON k.county_code = c.code), '[]'))::text";

static const char *s_heat_sql =
    "WITH r AS (SELECT r.*, coalesce(w.level, 'green') AS level"
    "   FROM province.county_indicator r LEFT JOIN province.county_warning w"
    "   ON w.county_code = r.county_code AND w.kind = 'dispersion' AND w.stage = r.stage"
    "   AND w.indicator = r.indicator AND w.period = r.period"
    "   WHERE r.period = $1 AND r.stage = $2)"
    " SELECT json_build_object('period', $1::text, 'stage', $2::text,"
    "  'indicators', coalesce((SELECT json_agg(json_build_object('code', d.indicator,"
    "     'name', coalesce(i.name, d.indicator)) ORDER BY coalesce(i.position, 1000), d.indicator)"
    "     FROM (SELECT DISTINCT indicator FROM r) d"
    "     LEFT JOIN province.indicator i ON i.code = d.indicator), '[]'),"
    "  'counties', coalesce((SELECT json_agg(json_build_object('code', c.code, 'name', c.name,"
    "     'cells', (SELECT json_object_agg(r.indicator, json_build_object('cv', r.cv,"
    "        'level', CASE WHEN r.cv IS NULL THEN 'none' ELSE r.level END, 'red', r.red,"
    "        'yellow', r.yellow, 'green', r.green)) FROM r WHERE r.county_code = c.code))"
    "     ORDER BY c.code) FROM province.county c), '[]'))::text";

static const char *s_county_sql =
    "SELECT json_build_object('code', c.code, 'name', c.name,"
    "  'periods', coalesce((SELECT json_agg(json_build_object('period', period, 'state', state,"
    "     'approved_at', approved_at, 'accepted_at', accepted_at, 'note', note)"
    "     ORDER BY period DESC) FROM province.period_row WHERE county_code = c.code), '[]'),"
    "  'series', coalesce((SELECT json_agg(json_build_object('indicator', s.indicator,"
    "     'name', s.name, 'stage', s.stage, 'points', s.points)"
    "     ORDER BY s.position, s.stage DESC) FROM ("
    "       SELECT r.indicator, coalesce(i.name, r.indicator) AS name,"
    "         coalesce(i.position, 1000) AS position, r.stage,"
    "         json_agg(json_build_object('period', r.period, 'mean', r.mean, 'cv', r.cv,"
    "           'red', r.red, 'yellow', r.yellow, 'green', r.green) ORDER BY r.period) AS points"
    "       FROM province.county_indicator r LEFT JOIN province.indicator i"
    "         ON i.code = r.indicator"
    "       WHERE r.county_code = c.code GROUP BY r.indicator, i.name, i.position, r.stage) s),"
    "     '[]'),"
    "  'cases', coalesce((SELECT json_agg(json_build_object('id', case_id, 'kind', kind,"
    "     'subject', subject, 'indicator', coalesce(i.name, k.indicator), 'period', period,"
    "     'level', level, 'state', state, 'due', due) ORDER BY due, case_id)"
    "     FROM province.county_case k LEFT JOIN province.indicator i ON i.code = k.indicator"
    "     WHERE county_code = c.code AND escalated AND " S_OPEN_CASE "), '[]'),"
    "  'late', coalesce((SELECT json_agg(json_build_object('school', school_code,"
    "     'indicator', coalesce(i.name, l.indicator), 'period', period, 'old', old_value,"
    "     'new', new_value, 'at', received_at, 'kind', kind, 'note', note)"
    "     ORDER BY version DESC, seq) FROM (SELECT * FROM province.late_change"
    "       WHERE county_code = c.code ORDER BY version DESC LIMIT 50) l"
    "     LEFT JOIN province.indicator i ON i.code = l.indicator), '[]'))::text"
    " FROM province.county c WHERE c.code = $1";

/*  The connection, remade when it broke; false when the database cannot be reached. */
static bool s_connected(page_t *self)
{
    if (!self->conn || PQstatus(self->conn) != CONNECTION_OK) {
        PQfinish(self->conn);
        char err[512];
        self->conn = pg_connect(self->conninfo, "edu-province page", err, sizeof err);
        if (!self->conn) {
            log_warn("page", "%s", err);
            return false;
        }
    }
    return true;
}

/*  One query's single text value; *found false when it has no row. NULL when the database
 *  could not answer. */
static char *s_text(page_t *self, const char *sql, int nparams, const char *const *params,
                    bool *found)
{
    *found = true;
    if (!s_connected(self))
        return NULL;
    PGresult *res = PQexecParams(self->conn, sql, nparams, NULL, params, NULL, NULL, 0);
    char *text = NULL;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        text = xstrdup(PQgetvalue(res, 0, 0));
    else if (PQresultStatus(res) == PGRES_TUPLES_OK)
        *found = false;
    else
        log_warn("page", "could not read the page's data: %s", PQresultErrorMessage(res));
    PQclear(res);
    return text;
}

/*  When path starts with prefix and a segment (up to the next '/', shorter than size) follows,
 *  copies the segment into buf and returns what is after it; else NULL. */
static const char *s_segment(const char *path, const char *prefix, char *buf, size_t size)
{
    size_t n = strlen(prefix);
    if (strncmp(path, prefix, n) != 0)
        return NULL;
    path += n;
    size_t len = strcspn(path, "/");
    if (len == 0 || len >= size)
        return NULL;
    memcpy(buf, path, len);
    buf[len] = '\0';
    return path + len;
}

static bool s_digits(const char *s, size_t n)
{
    return strlen(s) == n && strspn(s, "0123456789") == n;
}

static void s_handle(void *arg, const char *path, http_answer_t *answer)
{
    page_t *self = arg;
    char period[16], stage[16], code[16];
    const char *rest;
    int year;
    char *body = NULL;
    bool found = true;
    const char *type = "application/json; charset=utf-8";
    if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0) {
        body = xstrdup((const char *) province_html);
        type = "text/html; charset=utf-8";
    } else if (strcmp(path, "/api/periods") == 0) {
        body = s_text(self, s_periods_sql, 0, NULL, &found);
    } else if ((rest = s_segment(path, "/api/overview/", period, sizeof period)) && !*rest &&
               period_parse(period, &year) == 0) {
        const char *params[] = {period};
        body = s_text(self, s_overview_sql, 1, params, &found);
    } else if ((rest = s_segment(path, "/api/heat/", period, sizeof period)) && *rest == '/' &&
               period_parse(period, &year) == 0 &&
               (rest = s_segment(rest, "/", stage, sizeof stage)) && !*rest &&
               (strcmp(stage, "primary") == 0 || strcmp(stage, "junior") == 0)) {
        const char *params[] = {period, stage};
        body = s_text(self, s_heat_sql, 2, params, &found);
    } else if ((rest = s_segment(path, "/api/county/", code, sizeof code)) && !*rest &&
               s_digits(code, 6)) {
        const char *params[] = {code};
        body = s_text(self, s_county_sql, 1, params, &found);
    } else {
        return; // 404
    }
    if (!found)
        return; // 404: no such county
    answer->status = body ? 200 : 503;
    answer->content_type = body ? type : "text/plain; charset=utf-8";
    answer->body = body ? body : xstrdup("the database is not available\n");
    answer->size = strlen(answer->body);
}

page_t *page_new(const char *listen, const char *hosts, const char *conninfo, char *err,
                 size_t errlen)
{
    page_t *self = xcalloc(1, sizeof *self);
    self->conninfo = xstrdup(conninfo);
    self->http = http_new(listen, s_handle, self, err, errlen);
    if (!self->http) {
        page_destroy(&self);
        return NULL;
    }
    http_allow_hosts(self->http, hosts);
    return self;
}

void page_destroy(page_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    page_t *self = *self_p;
    http_destroy(&self->http); // stops the thread before the connection goes
    PQfinish(self->conn);
    free(self->conninfo);
    free(self);
    *self_p = NULL;
}

int page_port(page_t *self)
{
    return http_port(self->http);
}
