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

/*  Brings the county's schema up to date as its owner, then grants the working role and the
 *  readers' role what they need when they are other roles than the owner (edu.grant_roles).
 *  owner: conninfo of the schema's owner ("" = the working role owns it); working: the
 *  aggregator's working role; readers: the readers' role ("" = none of its own). Returns 0, or
 *  -1 with err. */
int migrate_county(const char *owner, const char *working, const char *readers, char *err,
                   size_t errlen);

/*  The newest version this program knows. */
int migrate_latest(void);

#endif
