/*  province - the province's puller: every county's aggregates, incrementally and resumably */
#include "province.h"

#include "keys.h"
#include "log.h"
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
    S_KEY("curve", "enabled", CONFIG_BOOL, "true", 0, 0, curve_enabled, "CURVE encryption"),
    S_KEY("curve", "secret", CONFIG_STRING, "/etc/edu/keys/province_secret", 0, 0, curve_secret,
          "the province's secret certificate (its public half is among each county's readers)"),
    {"county.*", "endpoint", CONFIG_STRING, NULL, 0, 0, 0,
     "one section per county, NAME its 6-digit code: the county aggregator's query endpoint",
     NULL},
    {"county.*", "server", CONFIG_STRING, NULL, 0, 0, 0,
     "the county aggregator's public certificate", NULL},
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
    char **slot = strcmp(key, "endpoint") == 0 ? &county->endpoint : &county->server;
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

void province_config_free(province_config_t *config)
{
    config_free(province_config_keys, config);
    for (size_t i = 0; i < config->county_count; i++) {
        free(config->counties[i].code);
        free(config->counties[i].endpoint);
        free(config->counties[i].server);
    }
    free(config->counties);
    config->counties = NULL;
    config->county_count = 0;
}

//  --------------------------------------------------------------------------
//  The province database

/*  The province's schema, in versioned migrations like the county's (common/pg.h). The first
 *  one creates only what is missing, so a database made before versioning adopts it as it is. */
static const pg_migration_t s_migrations[] = {
    {1, "every county's aggregates and county-level warnings, and each county's cursor",
    "SET LOCAL client_min_messages = warning;"
    // every county's aggregates per stage × indicator × period, as the county last said
    "CREATE TABLE IF NOT EXISTS province.indicator_row ("
    "  county_code text NOT NULL, stage text NOT NULL, indicator text NOT NULL,"
    "  period text NOT NULL, schools integer NOT NULL, mean double precision,"
    "  min double precision, max double precision, cv double precision,"
    "  red integer NOT NULL, yellow integer NOT NULL, green integer NOT NULL,"
    "  version bigint NOT NULL, pulled_at timestamptz NOT NULL DEFAULT now(),"
    "  PRIMARY KEY (county_code, stage, indicator, period));"
    // the contract's view
    "CREATE OR REPLACE VIEW province.county_indicator AS"
    "  SELECT county_code, stage, indicator, period, schools, mean, cv, red, yellow, green"
    "  FROM province.indicator_row;"
    // what is yellow or red now at county level (dispersion, progress), per county
    "CREATE TABLE IF NOT EXISTS province.county_warning ("
    "  county_code text NOT NULL, kind text NOT NULL, stage text NOT NULL,"
    "  indicator text NOT NULL, period text NOT NULL, level text NOT NULL,"
    "  value double precision, detail text NOT NULL, version bigint NOT NULL,"
    "  PRIMARY KEY (county_code, kind, stage, indicator, period));"
    // where each county's next pull starts
    "CREATE TABLE IF NOT EXISTS province.county_cursor ("
    "  county_code text PRIMARY KEY, cursor bigint NOT NULL,"
    "  pulled_at timestamptz NOT NULL DEFAULT now());"},
};

static PGconn *s_connect(const char *conninfo, char *err, size_t errlen)
{
    return pg_connect(conninfo, "edu-province", err, errlen);
}

int province_migrate(const province_config_t *config, char *err, size_t errlen)
{
    PGconn *conn = s_connect(config->database, err, errlen);
    if (!conn)
        return -1;
    char inner[1024];
    // a fixed key for "province schema migration" (the county's key + 1)
    int rc = pg_migrate(conn, "province", 7306075157148184681LL, s_migrations,
                        sizeof s_migrations / sizeof *s_migrations, "edu-province", inner,
                        sizeof inner) < 0
                 ? errorf(err, errlen, "could not bring the province schema up to date: %s",
                          inner)
                 : 0;
    PQfinish(conn);
    return rc;
}

static const char *s_stage_sql =
    "CREATE TEMP TABLE IF NOT EXISTS pull_aggregate (version bigint, stage text,"
    "  indicator text, period text, schools int, mean float8, min float8, max float8,"
    "  cv float8, red int, yellow int, green int) ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS pull_warning (id bigint, kind text, stage text,"
    "  indicator text, period text, level text, value float8, detail text)"
    "  ON COMMIT DELETE ROWS";

static const char *s_apply_sql =
    "WITH rows AS ("
    "  INSERT INTO province.indicator_row AS r (county_code, stage, indicator, period, schools,"
    "    mean, min, max, cv, red, yellow, green, version)"
    "  SELECT $1, stage, indicator, period, schools, mean, min, max, cv, red, yellow, green,"
    "    version FROM pull_aggregate"
    "  ON CONFLICT (county_code, stage, indicator, period) DO UPDATE SET"
    "    schools = EXCLUDED.schools, mean = EXCLUDED.mean, min = EXCLUDED.min,"
    "    max = EXCLUDED.max, cv = EXCLUDED.cv, red = EXCLUDED.red, yellow = EXCLUDED.yellow,"
    "    green = EXCLUDED.green, version = EXCLUDED.version, pulled_at = now()"
    "  WHERE EXCLUDED.version > r.version),"
    " latest AS ("
    "  SELECT DISTINCT ON (kind, coalesce(stage, ''), indicator, period)"
    "    id, kind, coalesce(stage, '') AS stage, indicator, period, level, value, detail"
    "  FROM pull_warning ORDER BY kind, coalesce(stage, ''), indicator, period, id DESC),"
    " gone AS ("
    "  DELETE FROM province.county_warning w USING latest l"
    "  WHERE l.level = 'green' AND w.county_code = $1 AND w.kind = l.kind"
    "    AND w.stage = l.stage AND w.indicator = l.indicator AND w.period = l.period),"
    " kept AS ("
    "  INSERT INTO province.county_warning AS w (county_code, kind, stage, indicator, period,"
    "    level, value, detail, version)"
    "  SELECT $1, kind, stage, indicator, period, level, value, detail, id FROM latest"
    "  WHERE level <> 'green'"
    "  ON CONFLICT (county_code, kind, stage, indicator, period) DO UPDATE SET"
    "    level = EXCLUDED.level, value = EXCLUDED.value, detail = EXCLUDED.detail,"
    "    version = EXCLUDED.version WHERE EXCLUDED.version > w.version)"
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
            rc = errorf(err, errlen, "the county's rows do not load: %s",
                        PQresultErrorMessage(res));
        PQclear(res);
    }
    return rc;
}

/*  One page, with the county's new cursor, in one transaction. */
static int s_store_page(PGconn *conn, const char *county, const char *cursor, zframe_t *aggregates,
                        zframe_t *warnings, char *err, size_t errlen)
{
    if (pg_exec(conn, "BEGIN", err, errlen) != 0)
        return -1;
    const char *params[] = {county, cursor};
    int rc = -1;
    if (s_copy(conn, "pull_aggregate", aggregates, err, errlen) == 0 &&
        s_copy(conn, "pull_warning", warnings, err, errlen) == 0) {
        PGresult *res = PQexecParams(conn, s_apply_sql, 2, NULL, params, NULL, NULL, 0);
        rc = PQresultStatus(res) == PGRES_COMMAND_OK
                 ? 0
                 : errorf(err, errlen, "could not store the rows: %s", PQresultErrorMessage(res));
        PQclear(res);
    }
    if (rc == 0)
        rc = pg_exec(conn, "COMMIT", err, errlen);
    else
        PQclear(PQexec(conn, "ROLLBACK"));
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
    zstr_sendf(p->dealer, "%ld", config->page_rows);
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

static void s_answer(const province_config_t *config, PGconn *conn, s_pull_t *p)
{
    zmsg_t *msg = zmsg_recv(p->dealer);
    if (!msg)
        return;
    char *status = zmsg_popstr(msg);
    char err[512];
    if (!status || strcmp(status, QUERY_OK) != 0 || zmsg_size(msg) != 5) {
        char *why = status && strcmp(status, QUERY_ERROR) == 0 ? zmsg_popstr(msg) : NULL;
        snprintf(p->error, sizeof p->error, "county refused the pull: %s",
                 why ? why : "malformed answer");
        free(why);
        s_finish(p, S_FAILED);
    } else {
        char *county = zmsg_popstr(msg), *cursor = zmsg_popstr(msg), *more = zmsg_popstr(msg);
        zframe_t *aggregates = zmsg_pop(msg), *warnings = zmsg_pop(msg);
        if (strcmp(county, p->county->code) != 0) {
            snprintf(p->error, sizeof p->error, "the endpoint answers for county %s", county);
            s_finish(p, S_FAILED);
        } else if (s_store_page(conn, p->county->code, cursor, aggregates, warnings, err,
                                sizeof err) != 0) {
            snprintf(p->error, sizeof p->error, "%s", err);
            s_finish(p, S_FAILED);
        } else {
            p->pages++;
            p->rows += s_lines(aggregates) + s_lines(warnings);
            snprintf(p->cursor, sizeof p->cursor, "%s", cursor);
            if (strcmp(more, "1") == 0)
                s_request(config, p);
            else
                s_finish(p, S_DONE);
        }
        zframe_destroy(&aggregates);
        zframe_destroy(&warnings);
        free(county), free(cursor), free(more);
    }
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
    if (s_cursors(conn, pulls, n, err, sizeof err) != 0) {
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
    PGconn *conn = s_connect(config->database, err, sizeof err);
    if (!conn || pg_exec(conn, s_stage_sql, err, sizeof err) != 0) {
        fprintf(stderr, "edu-province: %s\n", err);
        PQfinish(conn);
        return 1;
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
    PQfinish(conn);
    return rc;
}
