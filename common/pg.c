/*  pg - running a statement with libpq and saying why it failed */
#include "pg.h"

#include "log.h"
#include "redact.h"
#include "util.h"

#include <libpq-events.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*  PostgreSQL's notices ("schema edu already exists, skipping") go to the debug log, not stderr. */
static void s_notice(void *arg, const char *message)
{
    (void) arg;
    log_debug("pg", "%.*s", (int) strcspn(message, "\n"), message);
}

/*  No JIT unless the connection's options (its string, a service file or PGOPTIONS) speak of
 *  it: our statements are short, but the planner's cost of a view with lateral joins
 *  (edu.case) passes jit_above_cost, and compiling then took 0.35-0.7 s of a statement that
 *  runs in 6 ms. A server that cannot (no JIT at all) is left as it is. */
static void s_no_jit(PGconn *conn)
{
    bool own = false;
    PQconninfoOption *options = PQconninfo(conn);
    for (PQconninfoOption *o = options; o && o->keyword && !own; o++)
        own = strcmp(o->keyword, "options") == 0 && o->val && strstr(o->val, "jit");
    PQconninfoFree(options);
    char why[512];
    if (!own && pg_exec(conn, "SET jit = off", why, sizeof why) != 0)
        log_debug("pg", "JIT stays: %s", why);
}

PGconn *pg_connect(const char *conninfo, const char *app, char *err, size_t errlen)
{
    // later keywords win: the configured string may override the defaults before it
    const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *values[] = {"5", app, conninfo, NULL};
    PGconn *conn = PQconnectdbParams(keys, values, 1);
    if (PQstatus(conn) != CONNECTION_OK) {
        char shown[512];
        errorf(err, errlen, "could not connect to database \"%s\": %s",
               redact_conninfo(conninfo, shown, sizeof shown), PQerrorMessage(conn));
        PQfinish(conn);
        return NULL;
    }
    PQsetNoticeProcessor(conn, s_notice, NULL);
    s_no_jit(conn);
    return conn;
}

/*  Takes res: 0 when it succeeded, or -1 with its message. */
static int s_result(PGresult *res, char *err, size_t errlen)
{
    ExecStatusType st = PQresultStatus(res);
    int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK
                 ? 0
                 : errorf(err, errlen, "%s", PQresultErrorMessage(res));
    PQclear(res);
    return rc;
}

int pg_exec(PGconn *conn, const char *sql, char *err, size_t errlen)
{
    return s_result(PQexec(conn, sql), err, errlen);
}

int pg_exec_params(PGconn *conn, const char *sql, int n, const char *const *params, char *err,
                   size_t errlen)
{
    return s_result(PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0), err, errlen);
}

//  --------------------------------------------------------------------------
//  Prepared statements: which connection has prepared which, kept with the connection itself
//  (libpq's events: the list is made when first needed and freed with the connection)

typedef struct {
    const pg_statement_t **statements; // prepared on the connection
    size_t count, cap;
} s_prepared_t;

static int s_prepared_events(PGEventId event, void *info, void *pass)
{
    (void) pass;
    if (event == PGEVT_REGISTER) {
        PGconn *conn = ((PGEventRegister *) info)->conn;
        return PQsetInstanceData(conn, s_prepared_events, xcalloc(1, sizeof(s_prepared_t)));
    }
    if (event == PGEVT_CONNRESET) { // a new session: nothing is prepared in it
        s_prepared_t *p = PQinstanceData(((PGEventConnReset *) info)->conn, s_prepared_events);
        if (p)
            p->count = 0;
    } else if (event == PGEVT_CONNDESTROY) {
        s_prepared_t *p = PQinstanceData(((PGEventConnDestroy *) info)->conn, s_prepared_events);
        if (p)
            free(p->statements);
        free(p);
    }
    return 1;
}

/*  conn's list, registered at its first use (NULL when libpq could not). */
static s_prepared_t *s_prepared(PGconn *conn)
{
    s_prepared_t *p = PQinstanceData(conn, s_prepared_events);
    if (!p && PQregisterEventProc(conn, s_prepared_events, "edu prepared statements", NULL))
        p = PQinstanceData(conn, s_prepared_events);
    return p;
}

static bool s_is_prepared(const s_prepared_t *p, const pg_statement_t *statement)
{
    for (size_t i = 0; p && i < p->count; i++)
        if (p->statements[i] == statement)
            return true;
    return false;
}

static void s_set_prepared(s_prepared_t *p, const pg_statement_t *statement, bool prepared)
{
    if (!p)
        return;
    size_t i = 0;
    while (i < p->count && p->statements[i] != statement)
        i++;
    if (prepared && i == p->count) {
        if (p->count == p->cap) {
            p->cap = p->cap ? 2 * p->cap : 8;
            p->statements = xrealloc(p->statements, p->cap * sizeof *p->statements);
        }
        p->statements[p->count++] = statement;
    } else if (!prepared && i < p->count) {
        p->statements[i] = p->statements[--p->count];
    }
}

/*  Whether res failed with SQLSTATE state. */
static bool s_failed_with(const PGresult *res, const char *state)
{
    const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    return code && strcmp(code, state) == 0;
}

PGresult *pg_exec_statement(PGconn *conn, const pg_statement_t *statement,
                            const char *const *params)
{
    s_prepared_t *p = s_prepared(conn);
    if (!s_is_prepared(p, statement)) {
        PGresult *res = PQprepare(conn, statement->name, statement->sql, statement->n_params, NULL);
        // 42P05: the session has one of that name already (prepared outside this list): this
        // run fails, the next runs it
        if (PQresultStatus(res) == PGRES_COMMAND_OK || s_failed_with(res, "42P05"))
            s_set_prepared(p, statement, true);
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            return res;
        PQclear(res);
    }
    PGresult *res = PQexecPrepared(conn, statement->name, statement->n_params, params, NULL,
                                   NULL, statement->binary);
    if (s_failed_with(res, "26000")) // gone after all (DEALLOCATE): prepared at the next run
        s_set_prepared(p, statement, false);
    return res;
}

/*  Records migration m in table (a quoted SCHEMA.schema_version) and commits. Returns 0, or -1
 *  with err. */
static int s_record(PGconn *conn, const char *table, const pg_migration_t *m, char *err,
                    size_t errlen)
{
    char version[16];
    snprintf(version, sizeof version, "%d", m->version);
    const char *params[] = {version, m->description};
    char *sql = xasprintf("INSERT INTO %s (version, description) VALUES ($1::integer, $2)", table);
    int rc = pg_exec_params(conn, sql, 2, params, err, errlen);
    free(sql);
    return rc == 0 ? pg_exec(conn, "COMMIT", err, errlen) : -1;
}

int pg_migrate(PGconn *conn, const char *schema, long long lock_key, const pg_migration_t *list,
               size_t count, const char *program, char *err, size_t errlen)
{
    char inner[1024], lock[80], *sql = NULL;
    snprintf(lock, sizeof lock, "SELECT pg_advisory_lock(%lld)", lock_key);
    if (pg_exec(conn, lock, inner, sizeof inner) != 0)
        return errorf(err, errlen, "could not lock for migration: %s", inner);
    int applied = 0, rc = 0;
    // the schema's name is the program's constant, quoted all the same
    char *name = PQescapeIdentifier(conn, schema, strlen(schema));
    char *table = name ? xasprintf("%s.schema_version", name) : NULL;
    if (!table) {
        rc = errorf(err, errlen, "could not quote the schema name %s", schema);
        goto cleanup;
    }
    sql = xasprintf("SET client_min_messages = warning;"
                    "CREATE SCHEMA IF NOT EXISTS %s;"
                    "CREATE TABLE IF NOT EXISTS %s ("
                    "  version integer PRIMARY KEY,"
                    "  description text NOT NULL,"
                    "  applied_at timestamptz NOT NULL DEFAULT now());"
                    "RESET client_min_messages",
                    name, table);
    if (pg_exec(conn, sql, inner, sizeof inner) != 0) {
        rc = errorf(err, errlen, "could not create %s.schema_version: %s", schema, inner);
        goto cleanup;
    }
    free(sql);
    sql = xasprintf("SELECT coalesce(max(version), 0) FROM %s", table);
    PGresult *res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = errorf(err, errlen, "could not read schema version: %s", PQresultErrorMessage(res));
        PQclear(res);
        goto cleanup;
    }
    int current = atoi(PQgetvalue(res, 0, 0)), latest = count ? list[count - 1].version : 0;
    PQclear(res);
    if (current > latest) {
        rc = errorf(err, errlen,
                    "cannot use schema version %d: this program knows versions up to %d "
                    "(upgrade %s)", current, latest, program);
        goto cleanup;
    }
    for (size_t i = 0; i < count; i++) {
        const pg_migration_t *m = &list[i];
        if (m->version <= current)
            continue;
        if (pg_exec(conn, "BEGIN", inner, sizeof inner) != 0 ||
            pg_exec(conn, m->sql, inner, sizeof inner) != 0) {
            rc = errorf(err, errlen, "could not apply migration %d (%s): %s", m->version,
                        m->description, inner);
            pg_exec(conn, "ROLLBACK", inner, sizeof inner);
            goto cleanup;
        }
        if (s_record(conn, table, m, inner, sizeof inner) != 0) {
            rc = errorf(err, errlen, "could not record migration %d: %s", m->version, inner);
            pg_exec(conn, "ROLLBACK", inner, sizeof inner);
            goto cleanup;
        }
        log_info("migrate", "applied migration %d of %s: %s", m->version, schema,
                 m->description);
        applied++;
    }
cleanup:
    snprintf(lock, sizeof lock, "SELECT pg_advisory_unlock(%lld)", lock_key);
    pg_exec(conn, lock, inner, sizeof inner);
    PQfreemem(name);
    free(table);
    free(sql);
    return rc == 0 ? applied : -1;
}

/*  Appends s to buf as a COPY text field: backslash escapes for the four special bytes,
 *  invalid UTF-8 replaced by '?', at most `limit` bytes of input. */
void pg_copy_field(zchunk_t *buf, const char *s, size_t limit)
{
    size_t n = strnlen(s, limit);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char) s[i];
        const char *esc = c == '\\' ? "\\\\" : c == '\t' ? "\\t" : c == '\n' ? "\\n"
                        : c == '\r' ? "\\r" : NULL;
        if (esc) {
            zchunk_extend(buf, esc, 2);
            continue;
        }
        size_t len = utf8_sequence_length(s + i, n - i);
        if (len == 0) {
            zchunk_extend(buf, "?", 1);
            continue;
        }
        zchunk_extend(buf, s + i, len);
        i += len - 1;
    }
}

void pg_array_put(pg_array_t *self, const char *text, bool quote)
{
    size_t need = self->len + 2 * (text ? strlen(text) : 4) + 8;
    if (need > self->cap) {
        self->cap = need * 2;
        self->data = xrealloc(self->data, self->cap);
    }
    char separator = self->len ? ',' : '{';
    self->data[self->len++] = separator;
    if (!text) {
        memcpy(self->data + self->len, "NULL", 4);
        self->len += 4;
        return;
    }
    if (quote)
        self->data[self->len++] = '"';
    for (const char *c = text; *c; c++) {
        if (quote && (*c == '"' || *c == '\\'))
            self->data[self->len++] = '\\';
        self->data[self->len++] = *c;
    }
    if (quote)
        self->data[self->len++] = '"';
}

const char *pg_array_end(pg_array_t *self)
{
    if (!self->data)
        return "{}";
    self->data[self->len] = '}';
    self->data[self->len + 1] = '\0';
    return self->data;
}

void pg_array_free(pg_array_t *self)
{
    free(self->data);
    *self = (pg_array_t){0};
}

char *pg_lines(const PGresult *res, const char *none)
{
    zchunk_t *out = zchunk_new(NULL, 1024);
    for (int i = 0; i < PQntuples(res); i++) {
        zchunk_extend(out, PQgetvalue(res, i, 0), strlen(PQgetvalue(res, i, 0)));
        zchunk_extend(out, "\n", 1);
    }
    if (PQntuples(res) == 0 && none) {
        zchunk_extend(out, none, strlen(none));
        zchunk_extend(out, "\n", 1);
    }
    char *text = xstrndup((const char *) zchunk_data(out), zchunk_size(out));
    zchunk_destroy(&out);
    return text;
}

/*  True when word stands in conninfo as a key (followed by "="): a name, never a secret. */
static bool s_is_key(const char *conninfo, const char *word, size_t n)
{
    for (const char *at = conninfo; n && (at = strstr(at, word)); at++) {
        const char *after = at + n + strspn(at + n, " \t");
        if ((at == conninfo || at[-1] == ' ' || at[-1] == '\t') && *after == '=')
            return true;
    }
    return false;
}

/*  libpq's message about a connection string it cannot parse, with what it quotes from the
 *  string hidden unless it is a keyword (libpq's, or a key of the string): the quoted text may
 *  be a password (a URI's userinfo, a stray word). Into buf. */
static void s_conninfo_message(const char *conninfo, const char *message, char *buf, size_t size)
{
    PQconninfoOption *known = PQconndefaults();
    size_t used = 0;
    buf[0] = '\0';
    for (const char *m = message; *m && *m != '\n' && used + 1 < size;) {
        const char *close = *m == '"' ? strchr(m + 1, '"') : NULL;
        if (!close) {
            buf[used++] = *m++;
            buf[used] = '\0';
            continue;
        }
        size_t n = (size_t) (close - m - 1);
        bool keyword = false;
        for (PQconninfoOption *o = known; o && o->keyword && !keyword; o++)
            keyword = strlen(o->keyword) == n && strncmp(o->keyword, m + 1, n) == 0;
        char *word = xstrndup(m + 1, n);
        bool shown = keyword || n == 0 || (n == 1 && strchr("=:/@[]?&", m[1])) ||
                     (!strpbrk(word, " \t=") && s_is_key(conninfo, word, n));
        free(word);
        used += (size_t) snprintf(buf + used, size - used, "\"%.*s\"", shown ? (int) n : 3,
                                  shown ? m + 1 : "***");
        if (used >= size)
            used = size - 1;
        m = close + 1;
    }
    PQconninfoFree(known);
}

int pg_check_conninfo(const char *conninfo, char *err, size_t errlen)
{
    // what pg_connect does with it: a string without "=" that is not a URI is a database name
    bool uri =
        strncmp(conninfo, "postgresql://", 13) == 0 || strncmp(conninfo, "postgres://", 11) == 0;
    if (!uri && !strchr(conninfo, '=') && !strpbrk(conninfo, " \t'\\"))
        return 0;
    char *error = NULL;
    PQconninfoOption *options = PQconninfoParse(conninfo, &error);
    if (options) {
        PQconninfoFree(options);
        return 0;
    }
    char shown[512], why[512];
    s_conninfo_message(conninfo, error ? error : "out of memory", why, sizeof why);
    PQfreemem(error);
    return errorf(err, errlen,
                  "%s: %s (write key=value pairs like dbname=edu host=/var/run/postgresql, or a "
                  "postgresql:// URI)",
                  redact_conninfo(conninfo, shown, sizeof shown), why);
}
