/*  province - the province's puller: every county's aggregates, incrementally and resumably
 *
 *  Each page is stored by a list of statements (s_apply) in the page's transaction: the
 *  sections are copied into temporary tables, then each statement moves one section into the
 *  province's tables (province/schema.c). Pull version 2 brings the counties' approval: a year
 *  unlocked at the county or returned by the province has its rows marked withdrawn.
 */
#include "province.h"

#include "keys.h"
#include "log.h"
#include "page.h"
#include "pg.h"
#include "query.h"
#include "service.h"
#include "util.h"

#include <czmq.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#define S_KEY(sec, k, t, def, lo, hi, field, desc)                                                 \
    {sec, k, t, def, lo, hi, offsetof(province_config_t, field), desc, NULL}

const config_key_t province_config_keys[] = {
    {"province", "database", CONFIG_STRING, "dbname=province host=/var/run/postgresql", 0, 0,
     offsetof(province_config_t, database), "libpq connection string of the province database",
     pg_check_conninfo},
    S_KEY("province", "interval_s", CONFIG_INT, "60", 1, 86400, interval_s,
          "seconds between two rounds (without --once)"),
    S_KEY("province", "timeout_ms", CONFIG_INT, "10000", 100, 600000, timeout_ms,
          "a county that does not answer a page within this fails the round"),
    S_KEY("province", "page_rows", CONFIG_INT, "5000", 1, 100000, page_rows,
          "rows asked for per page"),
    S_KEY("province", "concurrency", CONFIG_INT, "64", 1, 4096, concurrency,
          "counties pulled at once"),
    S_KEY("province", "http", CONFIG_STRING, "", 0, 0, http,
          "ADDRESS:PORT of the province's page (/) while pulling, e.g. 127.0.0.1:9201 "
          "(empty = none)"),
    S_KEY("province", "http_hosts", CONFIG_STRING, "", 0, 0, http_hosts,
          "further Host header values the page answers, comma-separated (the name a proxy in "
          "front of it uses); the bound ADDRESS:PORT is always allowed"),
    S_KEY("curve", "enabled", CONFIG_BOOL, "true", 0, 0, curve_enabled, "CURVE encryption"),
    S_KEY("curve", "secret", CONFIG_STRING, "/etc/edu/keys/province_secret", 0, 0, curve_secret,
          "the province's secret certificate (its public half is among each county's readers)"),
    {"county.*", "endpoint", CONFIG_STRING, NULL, 0, 0, 0,
     "one section per county, NAME its 6-digit code: the county aggregator's query endpoint",
     NULL},
    {"county.*", "server", CONFIG_STRING, NULL, 0, 0, 0,
     "the county aggregator's public certificate", NULL},
    {"county.*", "name", CONFIG_STRING, "", 0, 0, 0,
     "the county's name for people (县区名称; the code when not given)", NULL},
    {NULL, NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

static int s_on_county(void *arg, const char *prefix, const char *name, const char *key,
                       const char *value, char *err, size_t errlen)
{
    (void) prefix;
    province_config_t *config = arg;
    if (config_check_digits(name, 6, err, errlen) != 0)
        return errorf(err, errlen, "[county.%s]: the county code must be 6 digits", name);
    char inner[512];
    if (strcmp(key, "endpoint") == 0 && config_check_connect(value, inner, sizeof inner) != 0)
        return errorf(err, errlen, "endpoint: %s", inner);
    county_t *county = NULL;
    for (size_t i = 0; i < config->county_count && !county; i++)
        if (strcmp(config->counties[i].code, name) == 0)
            county = &config->counties[i];
    if (!county) {
        config->counties =
            xrealloc(config->counties, (config->county_count + 1) * sizeof *config->counties);
        county = &config->counties[config->county_count++];
        *county = (county_t){.code = xstrdup(name)};
    }
    if (strcmp(key, "name") == 0 && !utf8_valid(value, strlen(value)))
        return errorf(err, errlen, "[county.%s]: name is not UTF-8", name);
    if (strcmp(key, "name") == 0 && strlen(value) > 200)
        return errorf(err, errlen, "[county.%s]: name is longer than 200 bytes", name);
    char **slot = strcmp(key, "endpoint") == 0 ? &county->endpoint
                  : strcmp(key, "name") == 0   ? &county->name
                                               : &county->server;
    free(*slot);
    *slot = xstrdup(value);
    return 0;
}

int province_config_load(const char *path, province_config_t *config, char *err, size_t errlen)
{
    *config = (province_config_t){0};
    if (config_load(path, province_config_keys, config, s_on_county, config, err, errlen) != 0)
        return -1;
    if (config->county_count == 0)
        return errorf(err, errlen, "%s: no [county.CODE] section", path);
    char where[512], inner[512], section[64];
    for (size_t i = 0; i < config->county_count; i++) {
        county_t *c = &config->counties[i];
        snprintf(section, sizeof section, "county.%s", c->code);
        if (!c->endpoint || (config->curve_enabled && !c->server))
            return errorf(err, errlen, "%s:%u: [county.%s] has no %s: add it", path,
                          config_key_line(path, section, NULL), c->code,
                          c->endpoint ? "server" : "endpoint");
        if (!c->name || !*c->name) {
            free(c->name);
            c->name = xstrdup(c->code);
        }
        if (config->curve_enabled) {
            bool server_bad = false;
            if (keys_check_client(config->curve_secret, c->server, &server_bad, inner,
                                  sizeof inner) != 0)
                return errorf(err, errlen, "%s: %s",
                              server_bad
                                  ? config_where(path, section, "server", where, sizeof where)
                                  : config_where(path, "curve", "secret", where, sizeof where),
                              inner);
        }
    }
    return 0;
}

const county_t *province_county(const province_config_t *config, const char *code)
{
    for (size_t i = 0; code && i < config->county_count; i++)
        if (strcmp(config->counties[i].code, code) == 0)
            return &config->counties[i];
    return NULL;
}

void province_config_free(province_config_t *config)
{
    config_free(province_config_keys, config);
    for (size_t i = 0; i < config->county_count; i++) {
        free(config->counties[i].code);
        free(config->counties[i].name);
        free(config->counties[i].endpoint);
        free(config->counties[i].server);
    }
    free(config->counties);
    config->counties = NULL;
    config->county_count = 0;
}

//  --------------------------------------------------------------------------
//  Storing a page

/*  The sections of an answer, in the order of its frames after [more]. An old county's answer
 *  has the first two only. */
enum { S_AGGREGATES, S_WARNINGS, S_PERIODS, S_LATE, S_CASES, S_SECTIONS };

static const char *s_stage_tables[S_SECTIONS] = {"pull_aggregate", "pull_warning", "pull_period",
                                                 "pull_late", "pull_case"};

/*  Temporary tables the sections are copied into, one page at a time. */
static const char *s_stage_sql =
    "CREATE TEMP TABLE IF NOT EXISTS pull_aggregate (version bigint, stage text,"
    "  indicator text, period text, schools int, mean float8, min float8, max float8,"
    "  cv float8, red int, yellow int, green int) ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS pull_warning (id bigint, kind text, stage text,"
    "  indicator text, period text, level text, value float8, detail text)"
    "  ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS pull_period (version bigint, period text, state text,"
    "  changed_at timestamptz, approved_at timestamptz, accepted_at timestamptz, note text)"
    "  ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS pull_late (version bigint, school_code text,"
    "  indicator text, period text, old_value float8, new_value float8,"
    "  received_at timestamptz, kind text, note text) ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS pull_case (version bigint, case_id bigint, kind text,"
    "  subject text, stage text, indicator text, period text, level text, state text,"
    "  escalated boolean, due date) ON COMMIT DELETE ROWS";

/*  The statements that apply a page ($1 the county), in order; each runs only when the
 *  section it reads is not empty. */
static const struct {
    int section;     // the section read
    bool old_only;   // only for an old county's page
    const char *sql; // one statement, $1 the county code
} s_apply[] = {
    // aggregates: the row with the higher version wins; a year approved again is back
    {S_AGGREGATES, false,
     "INSERT INTO province.indicator_row AS r (county_code, stage, indicator, period, schools,"
     "  mean, min, max, cv, red, yellow, green, version)"
     " SELECT DISTINCT ON (stage, indicator, period) $1, stage, indicator, period, schools,"
     "  mean, min, max, cv, red, yellow, green, version"
     " FROM pull_aggregate ORDER BY stage, indicator, period, version DESC"
     " ON CONFLICT (county_code, stage, indicator, period) DO UPDATE SET"
     "  schools = EXCLUDED.schools, mean = EXCLUDED.mean, min = EXCLUDED.min,"
     "  max = EXCLUDED.max, cv = EXCLUDED.cv, red = EXCLUDED.red, yellow = EXCLUDED.yellow,"
     "  green = EXCLUDED.green, version = EXCLUDED.version, pulled_at = now(),"
     "  withdrawn = false"
     " WHERE EXCLUDED.version > r.version"},
    // county-level warnings at every level, the last change of each in the page
    {S_WARNINGS, false,
     "INSERT INTO province.warning_row AS w (county_code, kind, stage, indicator, period,"
     "  level, value, detail, version)"
     " SELECT DISTINCT ON (kind, coalesce(stage, ''), coalesce(indicator, ''), period)"
     "  $1, kind, coalesce(stage, ''), coalesce(indicator, ''), period, level, value,"
     "  coalesce(detail, ''), id"
     " FROM pull_warning ORDER BY kind, coalesce(stage, ''), coalesce(indicator, ''), period,"
     "  id DESC"
     " ON CONFLICT (county_code, kind, stage, indicator, period) DO UPDATE SET"
     "  level = EXCLUDED.level, value = EXCLUDED.value, detail = EXCLUDED.detail,"
     "  version = EXCLUDED.version, withdrawn = false WHERE EXCLUDED.version > w.version"},
    // an old county says nothing of approval: every year it sends counts as approved
    {S_AGGREGATES, true,
     "INSERT INTO province.period_row (county_code, period, state, changed_at, note, version)"
     " SELECT DISTINCT $1, period, 'approved', now(),"
     "  '县端为旧版本，未报审核状态，视为已审核', 0 FROM pull_aggregate"
     " ON CONFLICT (county_code, period) DO NOTHING"},
    // each change of a year's state, and the year's state now
    {S_PERIODS, false,
     "INSERT INTO province.period_event (county_code, version, period, state, changed_at,"
     "  note) SELECT $1, version, period, state, changed_at, note FROM pull_period"
     " ON CONFLICT DO NOTHING"},
    {S_PERIODS, false,
     "INSERT INTO province.period_row AS p (county_code, period, state, changed_at,"
     "  approved_at, accepted_at, note, version)"
     " SELECT DISTINCT ON (period) $1, period, state, changed_at, approved_at, accepted_at,"
     "  note, version FROM pull_period ORDER BY period, version DESC"
     " ON CONFLICT (county_code, period) DO UPDATE SET state = EXCLUDED.state,"
     "  changed_at = EXCLUDED.changed_at, approved_at = EXCLUDED.approved_at,"
     "  accepted_at = EXCLUDED.accepted_at, note = EXCLUDED.note, version = EXCLUDED.version,"
     "  pulled_at = now() WHERE EXCLUDED.version > p.version"},
    // withdrawn: a year unlocked or returned loses its rows from before; a year approved
    // (again) loses those its snapshot did not repeat
    {S_PERIODS, false,
     "WITH last AS (SELECT DISTINCT ON (period) period, state, version FROM pull_period"
     "   ORDER BY period, version DESC),"
     " approval AS (SELECT period, max(version) AS version FROM pull_period"
     "   WHERE state = 'approved' GROUP BY period),"
     " cut AS (SELECT l.period, l.state IN ('open', 'returned') AS unlocked,"
     "   CASE WHEN l.state IN ('open', 'returned') THEN l.version ELSE a.version END AS below"
     "   FROM last l LEFT JOIN approval a USING (period))"
     " UPDATE province.indicator_row r SET withdrawn = true FROM cut c"
     " WHERE r.county_code = $1 AND r.period = c.period AND r.version < c.below"
     "  AND NOT r.withdrawn AND (c.unlocked OR NOT EXISTS (SELECT 1 FROM pull_aggregate g"
     "   WHERE g.stage = r.stage AND g.indicator = r.indicator AND g.period = r.period))"},
    {S_PERIODS, false,
     "WITH last AS (SELECT DISTINCT ON (period) period, state, version FROM pull_period"
     "   ORDER BY period, version DESC),"
     " approval AS (SELECT period, max(version) AS version FROM pull_period"
     "   WHERE state = 'approved' GROUP BY period),"
     " cut AS (SELECT l.period, l.state IN ('open', 'returned') AS unlocked,"
     "   CASE WHEN l.state IN ('open', 'returned') THEN l.version ELSE a.version END AS below"
     "   FROM last l LEFT JOIN approval a USING (period))"
     " UPDATE province.warning_row w SET withdrawn = true FROM cut c"
     " WHERE w.county_code = $1 AND w.period = c.period AND w.version < c.below"
     "  AND NOT w.withdrawn AND (c.unlocked OR NOT EXISTS (SELECT 1 FROM pull_warning g"
     "   WHERE g.kind = w.kind AND coalesce(g.stage, '') = w.stage"
     "   AND coalesce(g.indicator, '') = w.indicator AND g.period = w.period))"},
    // the audit of late changes and unlocks, in the county's order
    {S_LATE, false,
     "INSERT INTO province.late_change (county_code, version, seq, school_code, indicator,"
     "  period, old_value, new_value, received_at, kind, note)"
     " SELECT $1, version, row_number() OVER (PARTITION BY version ORDER BY ctid), school_code,"
     "  indicator, period, old_value, new_value, received_at, kind, note FROM pull_late"
     " ON CONFLICT DO NOTHING"},
    // each case as it is now
    {S_CASES, false,
     "INSERT INTO province.county_case AS c (county_code, case_id, kind, subject, stage,"
     "  indicator, period, level, state, escalated, due, version)"
     " SELECT DISTINCT ON (case_id) $1, case_id, kind, subject, stage, indicator, period,"
     "  level, state, escalated, due, version FROM pull_case ORDER BY case_id, version DESC"
     " ON CONFLICT (county_code, case_id) DO UPDATE SET kind = EXCLUDED.kind,"
     "  subject = EXCLUDED.subject, stage = EXCLUDED.stage, indicator = EXCLUDED.indicator,"
     "  period = EXCLUDED.period, level = EXCLUDED.level, state = EXCLUDED.state,"
     "  escalated = EXCLUDED.escalated, due = EXCLUDED.due, version = EXCLUDED.version"
     " WHERE EXCLUDED.version > c.version"},
};

static const char *s_cursor_sql =
    "WITH c AS (UPDATE province.county SET protocol = $3::integer WHERE code = $1)"
    " INSERT INTO province.county_cursor (county_code, cursor) VALUES ($1, $2::bigint)"
    " ON CONFLICT (county_code) DO UPDATE SET cursor = EXCLUDED.cursor, pulled_at = now()";

static int s_copy(PGconn *conn, const char *table, zframe_t *rows, char *err, size_t errlen)
{
    char sql[64];
    snprintf(sql, sizeof sql, "COPY %s FROM STDIN", table); // a fixed name, not input
    PGresult *res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        errorf(err, errlen, "could not start COPY: %s", PQresultErrorMessage(res));
        PQclear(res);
        return -1;
    }
    PQclear(res);
    if ((zframe_size(rows) &&
         PQputCopyData(conn, (const char *) zframe_data(rows), (int) zframe_size(rows)) != 1) ||
        PQputCopyEnd(conn, NULL) != 1)
        return errorf(err, errlen, "could not send rows: %s", PQerrorMessage(conn));
    int rc = 0;
    while ((res = PQgetResult(conn))) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK && rc == 0)
            rc = errorf(err, errlen, "the county's %s rows do not load: %s", table + 5,
                        PQresultErrorMessage(res));
        PQclear(res);
    }
    return rc;
}

/*  One page (n sections: 2 from an old county, S_SECTIONS otherwise), with the county's new
 *  cursor, in one transaction. */
static int s_store_page(PGconn *conn, const char *county, const char *cursor, zframe_t **frames,
                        size_t n, char *err, size_t errlen)
{
    if (pg_exec(conn, "BEGIN", err, errlen) != 0)
        return -1;
    int rc = 0;
    for (size_t s = 0; s < n && rc == 0; s++)
        if (zframe_size(frames[s]))
            rc = s_copy(conn, s_stage_tables[s], frames[s], err, errlen);
    const char *params[] = {county, cursor, n == S_SECTIONS ? "2" : "1"};
    char inner[512];
    for (size_t i = 0; rc == 0 && i < sizeof s_apply / sizeof *s_apply; i++) {
        size_t s = (size_t) s_apply[i].section;
        if (s >= n || zframe_size(frames[s]) == 0 || (s_apply[i].old_only && n == S_SECTIONS))
            continue;
        if (pg_exec_params(conn, s_apply[i].sql, 1, params, inner, sizeof inner) != 0)
            rc = errorf(err, errlen, "could not store the county's %s: %s",
                        s_stage_tables[s] + 5, inner);
    }
    if (rc == 0 && pg_exec_params(conn, s_cursor_sql, 3, params, inner, sizeof inner) != 0)
        rc = errorf(err, errlen, "could not store the cursor: %s", inner);
    if (rc == 0)
        rc = pg_exec(conn, "COMMIT", err, errlen);
    else
        PQclear(PQexec(conn, "ROLLBACK"));
    return rc;
}

/*  The configured counties and their names, for the page and the bulletin. */
static int s_counties(const province_config_t *config, PGconn *conn, char *err, size_t errlen)
{
    pg_array_t codes = {0}, names = {0};
    for (size_t i = 0; i < config->county_count; i++) {
        pg_array_put(&codes, config->counties[i].code, true);
        pg_array_put(&names, config->counties[i].name, true);
    }
    const char *params[] = {pg_array_end(&codes), pg_array_end(&names)};
    int rc = pg_exec_params(conn,
                            "INSERT INTO province.county (code, name)"
                            " SELECT * FROM unnest($1::text[], $2::text[])"
                            " ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name"
                            " WHERE province.county.name IS DISTINCT FROM EXCLUDED.name",
                            2, params, err, errlen);
    pg_array_free(&codes);
    pg_array_free(&names);
    return rc;
}

//  --------------------------------------------------------------------------
//  A round

typedef enum { S_WAITING, S_ACTIVE, S_DONE, S_FAILED } s_state_t;

typedef struct {
    const county_t *county; // borrowed from the config
    s_state_t state;        // where it is in the round
    zsock_t *dealer;        // while active
    char cursor[24];        // the next pull starts after this
    int64_t deadline_ms;    // the answer must come before this
    bool old;               // the county refused a pull of version 2: asked the old way
    size_t pages, rows;     // pulled in this round
    char error[512];        // why it failed
} s_pull_t;

static size_t s_lines(zframe_t *frame)
{
    size_t n = 0;
    for (size_t i = 0; i < zframe_size(frame); i++)
        n += zframe_data(frame)[i] == '\n';
    return n;
}

static void s_request(const province_config_t *config, s_pull_t *p)
{
    zstr_sendm(p->dealer, QUERY_PULL);
    zstr_sendm(p->dealer, p->county->code);
    zstr_sendm(p->dealer, p->cursor);
    if (p->old) {
        zstr_sendf(p->dealer, "%ld", config->page_rows);
    } else {
        zstr_sendfm(p->dealer, "%ld", config->page_rows);
        zstr_send(p->dealer, QUERY_PULL_VERSION);
    }
    p->deadline_ms = clock_mono_ms() + config->timeout_ms;
}

static void s_finish(s_pull_t *p, s_state_t state)
{
    p->state = state;
    zsock_destroy(&p->dealer);
}

static void s_start(const province_config_t *config, s_pull_t *p)
{
    char err[512];
    p->dealer = zsock_new(ZMQ_DEALER);
    zsock_set_linger(p->dealer, 0);
    zsock_set_maxmsgsize(p->dealer, 256 * 1024 * 1024);
    if (config->curve_enabled &&
        keys_curve_client(p->dealer, config->curve_secret, p->county->server, err, sizeof err) !=
            0) {
        snprintf(p->error, sizeof p->error, "%s", err);
        s_finish(p, S_FAILED);
        return;
    }
    if (zsock_connect(p->dealer, "%s", p->county->endpoint) != 0) {
        snprintf(p->error, sizeof p->error, "cannot connect to \"%s\"", p->county->endpoint);
        s_finish(p, S_FAILED);
        return;
    }
    p->state = S_ACTIVE;
    s_request(config, p);
}

static bool s_is_cursor(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n >= 1 && n <= 19 && strspn(s, "0123456789") == n;
}

/*  One answer: [ok][county][next cursor][more][sections...] with 2 sections (an old county)
 *  or S_SECTIONS, or [error][why]. A county that refuses a pull of version 2 is asked again
 *  the old way (an aggregator from before approval refuses the version frame). */
static void s_answer(const province_config_t *config, PGconn *conn, s_pull_t *p)
{
    zmsg_t *msg = zmsg_recv(p->dealer);
    if (!msg)
        return;
    char *status = zmsg_popstr(msg), *county = NULL, *cursor = NULL, *more = NULL;
    char err[512], shown[256];
    size_t sections = zmsg_size(msg) >= 3 ? zmsg_size(msg) - 3 : 0;
    zframe_t *frames[S_SECTIONS] = {NULL};
    bool ok = status && strcmp(status, QUERY_OK) == 0;
    if (!ok && !p->old && status && strcmp(status, QUERY_ERROR) == 0) {
        char *why = zmsg_popstr(msg);
        log_debug("province", "county %s refused a pull of version 2 (%s): asking the old way",
                  p->county->code, str_escape(why, shown, sizeof shown));
        free(why);
        p->old = true;
        s_request(config, p);
    } else if (!ok || (sections != 2 && sections != S_SECTIONS)) {
        char *why = status && strcmp(status, QUERY_ERROR) == 0 ? zmsg_popstr(msg) : NULL;
        snprintf(p->error, sizeof p->error, "county refused the pull: %s",
                 why ? str_escape(why, shown, sizeof shown) : "malformed answer");
        free(why);
        s_finish(p, S_FAILED);
    } else {
        county = zmsg_popstr(msg), cursor = zmsg_popstr(msg), more = zmsg_popstr(msg);
        for (size_t s = 0; s < sections; s++)
            frames[s] = zmsg_pop(msg);
        if (!county || strcmp(county, p->county->code) != 0) {
            snprintf(p->error, sizeof p->error, "the endpoint answers for county %s",
                     str_escape(county, shown, sizeof shown));
            s_finish(p, S_FAILED);
        } else if (!s_is_cursor(cursor)) {
            snprintf(p->error, sizeof p->error, "malformed answer: cursor \"%s\"",
                     str_escape(cursor, shown, sizeof shown));
            s_finish(p, S_FAILED);
        } else if (s_store_page(conn, p->county->code, cursor, frames, sections, err,
                                sizeof err) != 0) {
            snprintf(p->error, sizeof p->error, "%s", err);
            s_finish(p, S_FAILED);
        } else {
            p->pages++;
            for (size_t s = 0; s < sections; s++)
                p->rows += s_lines(frames[s]);
            snprintf(p->cursor, sizeof p->cursor, "%s", cursor);
            if (more && strcmp(more, "1") == 0)
                s_request(config, p);
            else
                s_finish(p, S_DONE);
        }
    }
    for (size_t s = 0; s < S_SECTIONS; s++)
        zframe_destroy(&frames[s]);
    free(county), free(cursor), free(more);
    free(status);
    zmsg_destroy(&msg);
}

/*  Reads every county's cursor. */
static int s_cursors(PGconn *conn, s_pull_t *pulls, size_t n, char *err, size_t errlen)
{
    PGresult *res = PQexec(conn, "SELECT county_code, cursor FROM province.county_cursor");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        errorf(err, errlen, "could not read the cursors: %s", PQresultErrorMessage(res));
        PQclear(res);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        snprintf(pulls[i].cursor, sizeof pulls[i].cursor, "0");
        for (int r = 0; r < PQntuples(res); r++)
            if (strcmp(PQgetvalue(res, r, 0), pulls[i].county->code) == 0)
                snprintf(pulls[i].cursor, sizeof pulls[i].cursor, "%s", PQgetvalue(res, r, 1));
    }
    PQclear(res);
    return 0;
}

static int s_round(const province_config_t *config, PGconn *conn)
{
    size_t n = config->county_count;
    s_pull_t *pulls = xcalloc(n, sizeof *pulls);
    for (size_t i = 0; i < n; i++)
        pulls[i] = (s_pull_t){.county = &config->counties[i], .state = S_WAITING};
    char err[512];
    int64_t started = clock_mono_ms();
    if (s_counties(config, conn, err, sizeof err) != 0 ||
        s_cursors(conn, pulls, n, err, sizeof err) != 0) {
        fprintf(stderr, "edu-province: %s\n", err);
        free(pulls);
        return 1;
    }
    zmq_pollitem_t *items = xcalloc(n, sizeof *items);
    size_t *which = xcalloc(n, sizeof *which);
    size_t next = 0, active = 0;
    while (!zsys_interrupted) {
        while (active < (size_t) config->concurrency && next < n) {
            s_start(config, &pulls[next]);
            active += pulls[next++].state == S_ACTIVE;
        }
        if (active == 0 && next == n)
            break;
        size_t k = 0;
        int64_t now = clock_mono_ms(), wait = config->timeout_ms;
        for (size_t i = 0; i < next; i++)
            if (pulls[i].state == S_ACTIVE) {
                items[k] = (zmq_pollitem_t){zsock_resolve(pulls[i].dealer), 0, ZMQ_POLLIN, 0};
                which[k++] = i;
                if (pulls[i].deadline_ms - now < wait)
                    wait = pulls[i].deadline_ms - now;
            }
        service_watchdog();
        if (zmq_poll(items, (int) k, wait > 0 ? (long) wait : 0) < 0 && zmq_errno() != EINTR)
            break;
        now = clock_mono_ms();
        for (size_t j = 0; j < k; j++) {
            s_pull_t *p = &pulls[which[j]];
            if (items[j].revents & ZMQ_POLLIN)
                s_answer(config, conn, p);
            else if (now >= p->deadline_ms) {
                snprintf(p->error, sizeof p->error, "no answer from \"%s\" within %ld ms",
                         p->county->endpoint, config->timeout_ms);
                s_finish(p, S_FAILED);
            }
            if (p->state != S_ACTIVE)
                active--;
        }
    }
    size_t failed = 0, rows = 0, pages = 0;
    for (size_t i = 0; i < n; i++) {
        if (pulls[i].state == S_ACTIVE || pulls[i].state == S_WAITING) {
            snprintf(pulls[i].error, sizeof pulls[i].error, "interrupted");
            s_finish(&pulls[i], S_FAILED);
        }
        if (pulls[i].state == S_FAILED) {
            failed++;
            fprintf(stderr, "edu-province: county %s: %s\n", pulls[i].county->code,
                    pulls[i].error);
        }
        rows += pulls[i].rows;
        pages += pulls[i].pages;
    }
    log_info("province", "pulled %zu of %zu counties in %lld ms: %zu pages, %zu rows%s",
             n - failed, n, (long long) (clock_mono_ms() - started), pages, rows,
             failed ? " (some failed)" : "");
    free(items);
    free(which);
    free(pulls);
    return failed ? 1 : 0;
}

int province_pull(const province_config_t *config, bool once)
{
    char err[512];
    if (province_migrate(config, err, sizeof err) != 0) {
        fprintf(stderr, "edu-province: %s\n", err);
        return 1;
    }
    PGconn *conn = pg_connect(config->database, "edu-province", err, sizeof err);
    if (!conn || pg_exec(conn, s_stage_sql, err, sizeof err) != 0) {
        fprintf(stderr, "edu-province: %s\n", err);
        PQfinish(conn);
        return 1;
    }
    page_t *page = NULL;
    if (!once && *config->http) {
        page = page_new(config->http, config->http_hosts, config->database, err, sizeof err);
        if (!page) {
            fprintf(stderr, "edu-province: %s\n", err);
            PQfinish(conn);
            return 1;
        }
        log_info("province", "serving the province's page on http://%s/", config->http);
    }
    int rc = 0;
    if (!once)
        service_ready("pulling");
    while (!zsys_interrupted) {
        service_watchdog();
        if (PQstatus(conn) != CONNECTION_OK) {
            PQreset(conn);
            pg_exec(conn, s_stage_sql, err, sizeof err);
        }
        rc = s_round(config, conn);
        if (once)
            break;
        for (long i = 0; i < config->interval_s * 10 && !zsys_interrupted; i++) {
            service_watchdog();
            zclock_sleep(100);
        }
    }
    page_destroy(&page);
    PQfinish(conn);
    return rc;
}
