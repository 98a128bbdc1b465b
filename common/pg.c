/*  pg - running a statement with libpq and saying why it failed */
#include "pg.h"

#include "log.h"
#include "util.h"

#include <string.h>

/*  PostgreSQL's notices ("schema edu already exists, skipping") go to the debug log, not stderr. */
static void s_notice(void *arg, const char *message)
{
    (void) arg;
    log_debug("pg", "%.*s", (int) strcspn(message, "\n"), message);
}

PGconn *pg_connect(const char *conninfo, const char *app, char *err, size_t errlen)
{
    // later keywords win: the configured string may override the defaults before it
    const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *values[] = {"5", app, conninfo, NULL};
    PGconn *conn = PQconnectdbParams(keys, values, 1);
    if (PQstatus(conn) != CONNECTION_OK) {
        errorf(err, errlen, "could not connect to database \"%s\": %s", conninfo,
               PQerrorMessage(conn));
        PQfinish(conn);
        return NULL;
    }
    PQsetNoticeProcessor(conn, s_notice, NULL);
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
