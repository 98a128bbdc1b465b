/*  silences - hold matching alerts back from people for a while (what Alertmanager's users ask
 *  for, with the piece they miss)
 *
 *  A silence matches alerts by any of kind, school (the subject), indicator, period and level
 *  ("kind=missing,school=2143004052"), until a time, with a comment and its author. While it
 *  holds, a matching alert is recorded (edu.alert) and delivered to machines, but held back
 *  from people's destinations (edu.alert_held); when it ends, by its time or lifted, whatever
 *  still fires is delivered then (Alertmanager drops it). A silence never hides a case: cases
 *  open and escalate regardless.
 *
 *  Functions return a malloc'd answer for a person (or JSON lines), or NULL with err (Chinese,
 *  the English reason in brackets).
 */
#ifndef EDU_SILENCES_H
#define EDU_SILENCES_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define SILENCES_MAX_DAYS 366 // the longest a silence may last

/*  Parses matchers "k=v[,k=v…]" (keys kind, school, indicator, period, level; each at most
 *  once; values of at most 64 bytes without commas) into values[5] (in that key order, NULL
 *  where absent; the caller frees each). Returns 0, or -1 with err. */
int silences_parse(const char *matchers, char *values[5], char *err, size_t errlen);

/*  until: ISO 8601, or a duration from now ("2d", "12h", "30m"). Into *out. Returns 0, or -1
 *  with err when it is malformed, not after now, or more than SILENCES_MAX_DAYS ahead. */
int silences_until(const char *until, time_t now, time_t *out, char *err, size_t errlen);

char *silences_add(PGconn *conn, const char *matchers, const char *until, const char *comment,
                   const char *person, time_t now, char *err, size_t errlen);
char *silences_lift(PGconn *conn, const char *id, const char *person, time_t now, char *err,
                    size_t errlen);
char *silences_list(PGconn *conn, bool text, time_t now, char *err, size_t errlen);

#endif
