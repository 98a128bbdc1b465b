/*  pull - one page of what the province pulls from a county (docs/protocol.md, `pull`)
 *
 *  Everything the province sees of a county carries a version from one sequence at the county
 *  (edu.warning_transition_id_seq), so one cursor orders it all: the aggregates and the
 *  county-level warning changes of the years the county has approved (県级审核), the changes of
 *  each year's approval state, the late changes, and the cases (escalated ones are 督办). A
 *  year approved after the cursor comes with a snapshot of its aggregates and county warnings
 *  at the approval's version, since their own versions may lie before the cursor. The page is
 *  read in one REPEATABLE READ transaction, so its parts agree.
 */
#ifndef EDU_PULL_H
#define EDU_PULL_H

#include "query.h"

#include <czmq.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/*  Appends to reply the answer's frames after [ok][county]: [next cursor][more][aggregates]
 *  [warnings], and with v2 [periods][late changes][cases]. Returns 0, or -1 with err (nothing
 *  appended). */
int pull_page(PGconn *conn, const query_pull_t *pull, bool v2, zmsg_t *reply, char *err,
              size_t errlen);

#endif
