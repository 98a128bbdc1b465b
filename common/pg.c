/*  pg - running a statement with libpq and saying why it failed */
#include "pg.h"

#include "util.h"

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
