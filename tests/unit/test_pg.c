/*  test_pg - what --check says of a connection string, that it never shows a password, the
 *  settings a connection starts with, and statements prepared once per connection */
#include "pg.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *conninfo; // as written in the file
    const char *expected; // NULL: accepted; else a part of the refusal
} s_case_t;

Test(pg, connection_strings)
{
    static const s_case_t cases[] = {
        {"dbname=edu host=/var/run/postgresql", NULL},
        {"dbname=edu host=127.0.0.1 user=edu password='a b\\'c'", NULL},
        {"postgresql://edu:s3cret@db.example:5432/edu?sslmode=require", NULL},
        {"postgres:///edu", NULL},
        {"edu", NULL}, // a database name alone, as libpq takes it
        {"", NULL},    // libpq's defaults (owner_database = "": the working role's)
        {"dbname=edu hots=x", "invalid connection option \"hots\""},
        {"dbname edu", "missing \"=\" after \"dbname\""},
        {"dbname=edu password='s3cret", "unterminated quoted string"},
        {"x y", "missing \"=\" after \"***\""},
        {"dbname=edu password=s3cret extra", "missing \"=\" after \"***\""},
        {"postgresql://u:s3cr%zzet@h/db", "invalid percent-encoded token: \"***\""},
        {"postgresql://u:s3cret@[::1/db", "matching \"]\" in IPv6 host address in URI: \"***\""},
        {"postgresql://u:s3cret@h/db?sslmode=a=b", "extra key/value separator \"=\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char err[1024] = "";
        int rc = pg_check_conninfo(cases[i].conninfo, err, sizeof err);
        if (!cases[i].expected) {
            cr_expect_eq(rc, 0, "case %zu \"%s\": %s", i, cases[i].conninfo, err);
            continue;
        }
        cr_expect_eq(rc, -1, "case %zu \"%s\" accepted", i, cases[i].conninfo);
        cr_expect(strstr(err, cases[i].expected), "case %zu: \"%s\" lacks \"%s\"", i, err,
                  cases[i].expected);
        cr_expect(!strstr(err, "s3cr"), "case %zu shows the password: %s", i, err);
        cr_expect(strstr(err, "libpq cannot parse"), "case %zu: %s", i, err);
    }
}

/*  Against the suite's PostgreSQL (tests/run.sh's PG* variables): a connection runs without
 *  JIT, which made short statements on the case views take 0.35-0.7 s to compile, unless its
 *  options (its string, a service file or PGOPTIONS) speak of jit. */
static char *s_show_jit(const char *conninfo)
{
    char err[1024] = "";
    PGconn *conn = pg_connect(conninfo, "test_pg", err, sizeof err);
    cr_assert(conn, "the suite's PostgreSQL (PGHOST=%s): %s", getenv("PGHOST"), err);
    PGresult *res = PQexec(conn, "SHOW jit");
    cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s", PQerrorMessage(conn));
    char *jit = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    PQfinish(conn);
    return jit;
}

Test(pg, no_jit_unless_asked)
{
    static const struct {
        const char *conninfo, *pgoptions, *expected;
    } cases[] = {
        {"dbname=postgres", NULL, "off"},
        {"dbname=postgres options='-c search_path=public'", NULL, "off"}, // options, not jit
        {"dbname=postgres options='-c jit=on'", NULL, "on"},
        {"postgres", "-c jit=on", "on"}, // the environment's options count as the string's
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        if (cases[i].pgoptions)
            setenv("PGOPTIONS", cases[i].pgoptions, 1);
        else
            unsetenv("PGOPTIONS");
        char *jit = s_show_jit(cases[i].conninfo);
        cr_expect_str_eq(jit, cases[i].expected, "case %zu \"%s\" PGOPTIONS=%s", i,
                         cases[i].conninfo, cases[i].pgoptions ? cases[i].pgoptions : "");
        free(jit);
    }
    unsetenv("PGOPTIONS");
}

/*  How many statements named name the connection has prepared (pg_prepared_statements). */
static int s_prepared(PGconn *conn, const char *name)
{
    const char *params[] = {name};
    PGresult *res = PQexecParams(conn, "SELECT count(*) FROM pg_prepared_statements"
                                       " WHERE name = $1", 1, NULL, params, NULL, NULL, 0);
    cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s", PQerrorMessage(conn));
    int n = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return n;
}

/*  Runs statement with the parameter x; returns its one value, or -1 when it failed (sqlstate:
 *  the failure's code). */
static long s_run(PGconn *conn, const pg_statement_t *statement, const char *x, char *sqlstate)
{
    const char *params[] = {x};
    PGresult *res = pg_exec_statement(conn, statement, params);
    long value = -1;
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        value = atol(PQgetvalue(res, 0, 0));
    else if (sqlstate)
        snprintf(sqlstate, 6, "%s", PQresultErrorField(res, PG_DIAG_SQLSTATE)
                                        ? PQresultErrorField(res, PG_DIAG_SQLSTATE)
                                        : "?");
    PQclear(res);
    return value;
}

/*  A statement is prepared on a connection once, at its first run (in a transaction too, and
 *  kept after its ROLLBACK); a new connection, or one reset, prepares it again; one that lost
 *  it (DEALLOCATE) fails once and prepares it at the next run; one that has it under the same
 *  name from elsewhere fails once and then runs it. */
Test(pg, statements_prepared_once_per_connection)
{
    static const pg_statement_t twice = {"test_pg_twice", "SELECT 2 * $1::int", 1, false};
    char err[1024] = "";
    PGconn *conn = pg_connect("dbname=postgres", "test_pg", err, sizeof err);
    cr_assert(conn, "the suite's PostgreSQL (PGHOST=%s): %s", getenv("PGHOST"), err);
    cr_expect_eq(s_prepared(conn, "test_pg_twice"), 0);
    cr_assert_eq(pg_exec(conn, "BEGIN", err, sizeof err), 0, "%s", err);
    cr_expect_eq(s_run(conn, &twice, "21", NULL), 42);
    cr_assert_eq(pg_exec(conn, "ROLLBACK", err, sizeof err), 0, "%s", err);
    cr_expect_eq(s_prepared(conn, "test_pg_twice"), 1, "prepared, and kept after ROLLBACK");
    cr_expect_eq(s_run(conn, &twice, "5", NULL), 10, "run again by name");
    cr_expect_eq(s_prepared(conn, "test_pg_twice"), 1, "not prepared twice");

    cr_assert_eq(pg_exec(conn, "DEALLOCATE ALL", err, sizeof err), 0, "%s", err);
    char state[6] = "";
    cr_expect_eq(s_run(conn, &twice, "1", state), -1, "the lost statement fails once");
    cr_expect_str_eq(state, "26000");
    cr_expect_eq(s_run(conn, &twice, "3", NULL), 6, "and is prepared again at the next run");

    // a statement of the same name prepared by another (its list lost): fails once, then runs
    static const pg_statement_t again = {"test_pg_twice", "SELECT 2 * $1::int", 1, false};
    cr_expect_eq(s_run(conn, &again, "7", state), -1);
    cr_expect_str_eq(state, "42P05");
    cr_expect_eq(s_run(conn, &again, "7", NULL), 14, "then runs what the server has");

    PQreset(conn); // a new session: nothing prepared in it
    cr_assert_eq(PQstatus(conn), CONNECTION_OK, "%s", PQerrorMessage(conn));
    cr_expect_eq(s_run(conn, &twice, "9", NULL), 18, "prepared again after a reset");
    cr_expect_eq(s_prepared(conn, "test_pg_twice"), 1);
    PQfinish(conn);

    conn = pg_connect("dbname=postgres", "test_pg", err, sizeof err);
    cr_assert(conn, "%s", err);
    cr_expect_eq(s_run(conn, &twice, "4", NULL), 8, "a new connection prepares it");
    cr_expect_eq(s_prepared(conn, "test_pg_twice"), 1);
    PQfinish(conn);
}
