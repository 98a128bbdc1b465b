/*  migrate - brings the county's schema (edu) up to date
 *
 *  Migrations are numbered and applied in order, each in its own transaction together with the
 *  row that records it in edu.schema_version, under an advisory lock so that two aggregators
 *  starting at once do not race. Running it again does nothing (idempotent). A migration is
 *  never edited once released: a change is a new migration.
 */
#ifndef EDU_MIGRATE_H
#define EDU_MIGRATE_H

#include <libpq-fe.h>
#include <stddef.h>

/*  Applies every migration newer than the database's version. Returns the number applied, or
 *  -1 with err. */
int migrate_run(PGconn *conn, char *err, size_t errlen);

/*  The newest version this program knows. */
int migrate_latest(void);

#endif
