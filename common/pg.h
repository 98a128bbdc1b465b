/*  pg - running a statement with libpq and saying why it failed
 *
 *  For the programs that keep a PostgreSQL database (the aggregator, the province puller); the
 *  collector does not link it.
 */
#ifndef EDU_PG_H
#define EDU_PG_H

#include <libpq-fe.h>
#include <stddef.h>

/*  Connects to conninfo (any libpq connection string; its own keywords win over the defaults:
 *  connect_timeout 5, application_name app). PostgreSQL's notices go to the debug log. Returns
 *  the connection (the caller's to PQfinish), or NULL with err. */
PGconn *pg_connect(const char *conninfo, const char *app, char *err, size_t errlen);

/*  Runs sql (one or more statements, no parameters). Returns 0 when it succeeded, with or
 *  without rows, or -1 with the server's message in err. */
int pg_exec(PGconn *conn, const char *sql, char *err, size_t errlen);

/*  Runs one statement with n text parameters (NULL for SQL NULL). Returns 0 or -1 with err. */
int pg_exec_params(PGconn *conn, const char *sql, int n, const char *const *params, char *err,
                   size_t errlen);

#endif
