/*  pg - running a statement with libpq and saying why it failed
 *
 *  For the programs that keep a PostgreSQL database (the aggregator, the province puller); the
 *  collector does not link it.
 */
#ifndef EDU_PG_H
#define EDU_PG_H

#include <czmq.h>
#include <libpq-fe.h>
#include <stdbool.h>
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

/*  A statement the program runs again and again: parsed and planned once per connection (a
 *  prepared statement named name) instead of at every run. Define each as a static const. */
typedef struct {
    const char *name; // unique in the program, e.g. "edu_store_mark"
    const char *sql;  // one statement, $1..$n_params
    int n_params;     // text parameters
    bool binary;      // results in binary (else text)
} pg_statement_t;

/*  Runs statement on conn with its text parameters (NULL for SQL NULL), preparing it first on
 *  a connection that has not prepared it (one more round trip, once; what a connection has
 *  prepared is kept with it and freed by PQfinish). Returns the result, as PQexecPrepared
 *  does (the caller clears it). A statement the server lost (DEALLOCATE: 26000) fails that
 *  once and is prepared again at its next run. */
PGresult *pg_exec_statement(PGconn *conn, const pg_statement_t *statement,
                            const char *const *params);

/*  One schema migration: numbered, applied in increasing order, never edited once released
 *  (a change is a new migration). */
typedef struct {
    int version;             // applied in increasing order, from 1
    const char *description; // recorded in SCHEMA.schema_version
    const char *sql;         // one or more statements
} pg_migration_t;

/*  Brings schema up to date: under the advisory lock lock_key (two programs starting at once
 *  do not race), creates SCHEMA.schema_version if missing, then applies every migration of
 *  list newer than the version recorded there, each in its own transaction with its row.
 *  Refuses a database newer than list ("upgrade <program>"). Running it again does nothing.
 *  Returns the number applied, or -1 with err. */
int pg_migrate(PGconn *conn, const char *schema, long long lock_key, const pg_migration_t *list,
               size_t count, const char *program, char *err, size_t errlen);

/*  The first column of every row of res, one per line (each ending in a newline), or none (a
 *  line for a person when there is no row; NULL for nothing). Malloc'd; the caller frees it. */
char *pg_lines(const PGresult *res, const char *none);

/*  Appends s (at most limit bytes) to buf as a field of PostgreSQL's COPY text format:
 *  backslash, tab, newline and carriage return escaped, invalid UTF-8 replaced by '?'. */
void pg_copy_field(zchunk_t *buf, const char *s, size_t limit);

/*  A PostgreSQL array literal built element by element ("{a,b,NULL}"), for passing a column of
 *  values as one text parameter (unnest($1::text[], ...)). Start from (pg_array_t){0}. */
typedef struct {
    char *data; // the literal so far (NULL while empty)
    size_t len; // its length
    size_t cap; // allocated
} pg_array_t;

/*  Appends text (NULL for SQL NULL), double-quoted and escaped when quote is set (strings), as
 *  it is otherwise (numbers). */
void pg_array_put(pg_array_t *self, const char *text, bool quote);
/*  The closed literal ("{}" when empty). Borrowed until pg_array_free. */
const char *pg_array_end(pg_array_t *self);
void pg_array_free(pg_array_t *self);

/*  A config_check_fn for libpq connection strings: what pg_connect would be given must be a
 *  database name alone (no "=", no space) or something PQconninfoParse reads (key=value pairs,
 *  a postgresql:// URI). The message shows the string through redact_conninfo and hides what
 *  libpq quotes from it, so no password reaches it. Returns 0, or -1 with err. */
int pg_check_conninfo(const char *conninfo, char *err, size_t errlen);

#endif
