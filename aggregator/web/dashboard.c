/*  dashboard - the aggregator's HTTP port: Prometheus metrics and a page for supervisors */
#include "dashboard.h"

#include "http.h"
#include "log.h"
#include "pg.h"
#include "util.h"

#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

extern const unsigned char dashboard_html[]; // deploy/dashboard/index.html, embedded by the build

struct dashboard_t {
    http_t *http;         // the server
    char *conninfo;       // the county database
    char *county;         // county code
    metrics_t *metrics;   // borrowed
    PGconn *conn;         // used only from the HTTP thread
};

/*  The latest period with values: what the page shows. */
#define S_LATEST "(SELECT max(period) FROM edu.current_value)"

static const char *s_summary_sql =
    "SELECT json_build_object('county', $1::text, 'period', " S_LATEST ","
    "  'schools', (SELECT count(*) FROM edu.school),"
    "  'red', (SELECT count(*) FROM edu.warning_state WHERE level = 'red'),"
    "  'yellow', (SELECT count(*) FROM edu.warning_state WHERE level = 'yellow'),"
    "  'refusals_counted', (SELECT coalesce(sum(records), 0) FROM edu.refusal_overflow"
    "    WHERE received_at > now() - interval '1 day'))::text";

/*  A cell is the school's state now (a forecast, kind trend, does not colour it: the page marks
 *  the cells with one apart, in `forecasts`, with the projected value). */
static const char *s_matrix_sql =
    "WITH p AS (SELECT " S_LATEST " AS period),"
    " cell AS ("
    "  SELECT s.code AS school, i.code AS indicator,"
    "    CASE WHEN bool_or(w.level = 'red') THEN 'red' WHEN bool_or(w.level = 'yellow')"
    "      THEN 'yellow' WHEN bool_or(v.value IS NOT NULL) THEN 'green' ELSE 'none' END AS level"
    "  FROM edu.school s CROSS JOIN edu.indicator i CROSS JOIN p"
    "  LEFT JOIN edu.warning_state w ON w.subject = s.code AND w.indicator = i.code"
    "    AND w.period = p.period AND w.kind <> 'trend'"
    "  LEFT JOIN edu.current_value v ON v.school_code = s.code AND v.indicator = i.code"
    "    AND v.period = p.period"
    "  GROUP BY s.code, i.code)"
    " SELECT json_build_object('period', (SELECT period FROM p),"
    "  'indicators', (SELECT coalesce(json_agg(json_build_object('code', code, 'name', name)"
    "    ORDER BY position), '[]') FROM edu.indicator),"
    "  'schools', (SELECT coalesce(json_agg(json_build_object('code', s.code, 'name', s.name,"
    "    'stage', s.stage, 'cells', (SELECT json_object_agg(c.indicator, c.level)"
    "      FROM cell c WHERE c.school = s.code),"
    "    'forecasts', (SELECT json_object_agg(w.indicator, json_build_object('value', w.value,"
    "      'detail', w.detail)) FROM edu.warning_state w, p"
    "      WHERE w.kind = 'trend' AND w.subject = s.code AND w.period = p.period))"
    "    ORDER BY s.stage DESC, s.code), '[]')"
    "    FROM edu.school s))::text";

/*  The county's verdict per stage (优质均衡达标, the county_balanced aggregate row: red, yellow
 *  or green is 1 in its level) and its other county-level warnings of the latest period. */
static const char *s_county_sql =
    "WITH p AS (SELECT " S_LATEST " AS period)"
    " SELECT json_build_object('period', (SELECT period FROM p),"
    "  'verdicts', (SELECT coalesce(json_agg(json_build_object('stage', a.stage,"
    "    'share', a.mean, 'schools', a.schools, 'level', CASE WHEN a.red > 0 THEN 'red'"
    "      WHEN a.yellow > 0 THEN 'yellow' WHEN a.green > 0 THEN 'green' ELSE 'none' END,"
    "    'detail', (SELECT w.detail FROM edu.warning_state w WHERE w.kind = 'county_balanced'"
    "      AND w.stage = a.stage AND w.period = a.period)) ORDER BY a.stage DESC), '[]')"
    "    FROM edu.county_aggregate a, p"
    "    WHERE a.indicator = 'county_balanced' AND a.period = p.period),"
    "  'warnings', (SELECT coalesce(json_agg(json_build_object('kind', w.kind, 'stage', w.stage,"
    "    'indicator', w.indicator, 'name', coalesce(i.name, w.indicator), 'level', w.level,"
    "    'value', w.value, 'detail', w.detail)"
    "    ORDER BY w.level = 'red' DESC, w.kind, w.stage DESC, i.position), '[]')"
    "    FROM edu.warning_state w CROSS JOIN p LEFT JOIN edu.indicator i ON i.code = w.indicator"
    "    WHERE w.subject = $1 AND w.period = p.period"
    "      AND w.kind IN ('capacity', 'urban_rural_gap', 'persistent')))::text";

/*  学位预警 and 逻辑校验 of the schools in the latest period, with the values judged. */
static const char *s_places_sql =
    "WITH p AS (SELECT " S_LATEST " AS period)"
    " SELECT coalesce(json_agg(json_build_object('kind', w.kind, 'school', w.subject,"
    "  'name', s.name, 'stage', w.stage, 'indicator', w.indicator, 'level', w.level,"
    "  'value', w.value, 'detail', w.detail)"
    "  ORDER BY w.kind, w.level = 'red' DESC, w.value DESC, s.code), '[]')::text"
    " FROM edu.warning_state w JOIN edu.school s ON s.code = w.subject CROSS JOIN p"
    " WHERE w.kind IN ('capacity', 'consistency') AND w.period = p.period";

/*  The county target of the period: `dispersion_target@PERIOD` settings (the latest up to the
 *  period) where the catalog publishes them, else `dispersion_target`; never above the stage's
 *  national limit, which is what the evaluator judges with. */
#define S_LIMIT "(SELECT value::float8 FROM edu.setting WHERE key = 'dispersion_limit_' || a.stage)"
static const char *s_dispersion_sql =
    "SELECT coalesce(json_agg(json_build_object('indicator', a.indicator, 'name', i.name,"
    "  'stage', a.stage, 'period', a.period, 'schools', a.schools, 'cv', a.cv,"
    "  'target', least(coalesce((SELECT value::float8 FROM edu.setting"
    "    WHERE key LIKE 'dispersion\\_target@%' AND substr(key, 19) <= a.period"
    "    ORDER BY substr(key, 19) DESC LIMIT 1),"
    "    (SELECT value::float8 FROM edu.setting WHERE key = 'dispersion_target')), " S_LIMIT "),"
    "  'limit', " S_LIMIT ","
    "  'level', coalesce((SELECT w.level FROM edu.warning_state w WHERE w.kind = 'dispersion'"
    "    AND w.stage = a.stage AND w.indicator = a.indicator AND w.period = a.period), 'green'))"
    "  ORDER BY i.position, a.stage DESC), '[]')::text"
    " FROM edu.county_aggregate a JOIN edu.indicator i ON i.code = a.indicator"
    " WHERE i.kinds LIKE '%dispersion%' AND a.period = " S_LATEST;

static const char *s_missing_sql =
    "SELECT coalesce(json_agg(json_build_object('school', w.subject, 'name', s.name,"
    "  'indicator', w.indicator, 'indicator_name', i.name, 'period', w.period,"
    "  'level', w.level) ORDER BY w.level = 'red' DESC, w.period DESC, s.code), '[]')::text"
    " FROM edu.warning_state w JOIN edu.school s ON s.code = w.subject"
    " JOIN edu.indicator i ON i.code = w.indicator WHERE w.kind = 'missing'";

static const char *s_alerts_sql =
    "SELECT coalesce(json_agg(json_build_object('id', id, 'level', level, 'kind', kind,"
    "  'message', message, 'raised_at', raised_at) ORDER BY id DESC), '[]')::text"
    " FROM (SELECT * FROM edu.alert ORDER BY id DESC LIMIT 20) a";

/*  Rows of label values, then the gauge's value. Every kind the catalog uses (and any other
 *  present) at both levels, so that a count falling to none reads 0 instead of vanishing. */
static const char *s_warnings_sql =
    "SELECT l.level, k.kind, count(w.kind) FROM (VALUES ('red'), ('yellow')) l(level)"
    " CROSS JOIN (SELECT unnest(string_to_array(kinds, ',')) FROM edu.indicator"
    "   UNION SELECT kind FROM edu.warning_state) k(kind)"
    " LEFT JOIN edu.warning_state w ON w.level = l.level AND w.kind = k.kind"
    " GROUP BY l.level, k.kind ORDER BY l.level, k.kind";
static const char *s_pending_sql =
    "SELECT d.name, (SELECT count(*) FROM edu.alert a WHERE a.id > d.last_id)"
    " FROM edu.alert_destination d ORDER BY d.name";

/*  The connection, remade when it broke; false when the database cannot be reached. */
static bool s_connected(dashboard_t *self)
{
    if (!self->conn || PQstatus(self->conn) != CONNECTION_OK) {
        if (self->conn)
            PQfinish(self->conn);
        char err[512];
        self->conn = pg_connect(self->conninfo, "edu-aggregator", err, sizeof err);
        if (!self->conn) {
            log_warn("dashboard", "%s", err);
            return false;
        }
    }
    return true;
}

/*  Sets a gauge from a query whose rows are one value per label name, then the value. When the
 *  database cannot answer, the family is left without samples rather than with stale ones. */
static void s_gauge(dashboard_t *self, const char *name, const char *sql, const char *label1,
                    const char *label2)
{
    PGresult *res = s_connected(self) ? PQexecParams(self->conn, sql, 0, NULL, NULL, NULL, NULL, 0)
                                      : NULL;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        if (res)
            log_warn("dashboard", "could not read %s: %s", name, PQresultErrorMessage(res));
        PQclear(res);
        metrics_clear(self->metrics, name);
        return;
    }
    int n = PQntuples(res), value = label2 ? 2 : 1;
    char **labels = xcalloc((size_t) n + 1, sizeof *labels);
    double *values = xcalloc((size_t) n + 1, sizeof *values);
    for (int i = 0; i < n; i++) {
        labels[i] = metrics_labels(label1, PQgetvalue(res, i, 0), label2,
                                   label2 ? PQgetvalue(res, i, 1) : NULL, NULL);
        values[i] = strtod(PQgetvalue(res, i, value), NULL);
    }
    metrics_set_all(self->metrics, name, (size_t) n, (const char *const *) labels, values);
    for (int i = 0; i < n; i++)
        free(labels[i]);
    free(labels), free(values);
    PQclear(res);
}

/*  One query's single text value, or NULL (the connection is remade when it broke). */
static char *s_text(dashboard_t *self, const char *sql, int nparams, const char *const *params)
{
    if (!s_connected(self))
        return NULL;
    PGresult *res = PQexecParams(self->conn, sql, nparams, NULL, params, NULL, NULL, 0);
    char *text = NULL;
    if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        size_t size = 1;
        for (int i = 0; i < PQntuples(res); i++)
            size += strlen(PQgetvalue(res, i, 0)) + 1;
        text = xcalloc(1, size);
        size_t used = 0;
        for (int i = 0; i < PQntuples(res); i++)
            used += (size_t) snprintf(text + used, size - used, "%s%s", PQgetvalue(res, i, 0),
                                      PQntuples(res) > 1 ? "\n" : "");
    } else {
        log_warn("dashboard", "could not read the dashboard's data: %s",
                 PQresultErrorMessage(res));
    }
    PQclear(res);
    return text;
}

/*  整改台账: counts and the cases not closed, red and overdue first. */
static const char *s_cases_sql =
    "WITH c AS (SELECT c.*, coalesce(s.name, '全县' || CASE c.stage WHEN 'primary' THEN '小学'"
    "      WHEN 'junior' THEN '初中' ELSE '' END) AS who,"
    "    coalesce(i.name, CASE c.indicator WHEN 'balanced' THEN '优质均衡资源配置'"
    "      ELSE c.indicator END) AS what,"
    "    (c.escalated OR (c.state <> 'closed' AND c.due < (now() AT TIME ZONE"
    "      'Asia/Shanghai')::date)) AS overdue"
    "  FROM edu.case c LEFT JOIN edu.school s ON s.code = c.subject"
    "  LEFT JOIN edu.indicator i ON i.code = c.indicator)"
    " SELECT json_build_object("
    "  'open', (SELECT count(*) FROM c WHERE state IN ('open', 'acknowledged', 'assigned')),"
    "  'resolved', (SELECT count(*) FROM c WHERE state = 'resolved'),"
    "  'closed', (SELECT count(*) FROM c WHERE state = 'closed'),"
    "  'overdue', (SELECT count(*) FROM c WHERE overdue AND state <> 'closed'),"
    "  'items', (SELECT coalesce(json_agg(json_build_object('id', id, 'level', level,"
    "    'state', state, 'type', case_type, 'subject', subject, 'who', who, 'what', what,"
    "    'period', period, 'assignee', assignee, 'due', due, 'overdue', overdue,"
    "    'escalated', escalated, 'reopened', reopened) ORDER BY level = 'red' DESC, overdue DESC,"
    "    due NULLS LAST, id), '[]') FROM (SELECT * FROM c WHERE state <> 'closed'"
    "    ORDER BY level = 'red' DESC, overdue DESC, due NULLS LAST, id LIMIT 100) x))::text";

/*  Each year's approval (县级审核) with the command that moves it on. */
static const char *s_approval_sql =
    "SELECT coalesce(json_agg(json_build_object('period', period, 'state', state,"
    "  'changed_at', changed_at, 'actor', actor, 'note', note) ORDER BY period DESC), '[]')::text"
    " FROM edu.period_approval";

/*  学校画像: the school, its cases not closed, each indicator's values over the years. */
static const char *s_school_sql =
    "SELECT json_build_object('code', s.code, 'name', s.name, 'stage', s.stage,"
    "  'students', s.students, 'location', s.location,"
    "  'cases', (SELECT coalesce(json_agg(json_build_object('id', c.id, 'level', c.level,"
    "    'state', c.state, 'kind', c.kind, 'what', coalesce(i.name, CASE c.indicator"
    "      WHEN 'balanced' THEN '优质均衡资源配置' ELSE c.indicator END),"
    "    'period', c.period, 'assignee', c.assignee, 'due', c.due, 'escalated', c.escalated)"
    "    ORDER BY c.level = 'red' DESC, c.id), '[]')"
    "    FROM edu.case c LEFT JOIN edu.indicator i ON i.code = c.indicator"
    "    WHERE c.subject = s.code AND c.state <> 'closed'),"
    "  'history', (SELECT coalesce(json_agg(json_build_object('code', i.code, 'name', i.name,"
    "    'unit', i.unit, 'higher_better', i.higher_better,"
    "    'target', CASE s.stage WHEN 'junior' THEN i.target_junior ELSE i.target_primary END,"
    "    'points', (SELECT coalesce(json_agg(json_build_object('period', v.period,"
    "      'value', v.value) ORDER BY v.period), '[]') FROM edu.current_value v"
    "      WHERE v.school_code = s.code AND v.indicator = i.code)) ORDER BY i.position), '[]')"
    "    FROM edu.indicator i))::text"
    " FROM edu.school s WHERE s.code = $1";

static void s_handle(void *arg, const char *path, http_answer_t *answer)
{
    dashboard_t *self = arg;
    const char *county[] = {self->county};
    char *body = NULL;
    const char *type = "application/json; charset=utf-8";
    if (strcmp(path, "/metrics") == 0) {
        s_gauge(self, "edu_warnings", s_warnings_sql, "level", "kind");
        s_gauge(self, "edu_alerts_pending", s_pending_sql, "destination", NULL);
        body = metrics_render(self->metrics);
        type = "text/plain; version=0.0.4; charset=utf-8";
    } else if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0) {
        body = xstrdup((const char *) dashboard_html);
        type = "text/html; charset=utf-8";
    } else if (strcmp(path, "/api/summary") == 0) {
        body = s_text(self, s_summary_sql, 1, county);
    } else if (strcmp(path, "/api/matrix") == 0) {
        body = s_text(self, s_matrix_sql, 0, NULL);
    } else if (strcmp(path, "/api/dispersion") == 0) {
        body = s_text(self, s_dispersion_sql, 0, NULL);
    } else if (strcmp(path, "/api/county") == 0) {
        body = s_text(self, s_county_sql, 1, county);
    } else if (strcmp(path, "/api/places") == 0) {
        body = s_text(self, s_places_sql, 0, NULL);
    } else if (strcmp(path, "/api/missing") == 0) {
        body = s_text(self, s_missing_sql, 0, NULL);
    } else if (strcmp(path, "/api/alerts") == 0) {
        body = s_text(self, s_alerts_sql, 0, NULL);
    } else if (strcmp(path, "/api/cases") == 0) {
        body = s_text(self, s_cases_sql, 0, NULL);
    } else if (strcmp(path, "/api/approval") == 0) {
        body = s_text(self, s_approval_sql, 0, NULL);
    } else if (strncmp(path, "/api/school/", 12) == 0 && strlen(path + 12) == 10 &&
               strspn(path + 12, "0123456789") == 10) {
        const char *code[] = {path + 12};
        body = s_text(self, s_school_sql, 1, code);
        if (body && !*body) { // no such school
            free(body);
            return; // 404
        }
    } else {
        return; // 404
    }
    answer->status = body ? 200 : 503;
    answer->content_type = body ? type : "text/plain; charset=utf-8";
    answer->body = body ? body : xstrdup("the database is not available\n");
    answer->size = strlen(answer->body);
}

dashboard_t *dashboard_new(const char *listen, const char *hosts, const char *conninfo,
                           const char *county, metrics_t *metrics, char *err, size_t errlen)
{
    dashboard_t *self = xcalloc(1, sizeof *self);
    self->conninfo = xstrdup(conninfo);
    self->county = xstrdup(county);
    self->metrics = metrics;
    metrics_declare(metrics, "edu_warnings", "gauge",
                    "warnings yellow or red now, by level and kind");
    metrics_declare(metrics, "edu_alerts_pending", "gauge",
                    "alerts not yet delivered, per destination");
    self->http = http_new(listen, s_handle, self, err, errlen);
    if (!self->http) {
        dashboard_destroy(&self);
        return NULL;
    }
    http_allow_hosts(self->http, hosts);
    return self;
}

void dashboard_destroy(dashboard_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    dashboard_t *self = *self_p;
    http_destroy(&self->http); // stops the thread before the connection goes
    PQfinish(self->conn);
    free(self->conninfo);
    free(self->county);
    free(self);
    *self_p = NULL;
}
