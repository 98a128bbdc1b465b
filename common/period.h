/*  period - academic years (学年) and the clock that decides deadlines
 *
 *  A period is written `YYYY-YYYY` where the second year is the first plus one: 2025-2026.
 *  EDU_NOW (ISO 8601) replaces the wall clock wherever time decides a warning.
 */
#ifndef EDU_PERIOD_H
#define EDU_PERIOD_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/*  Returns 0 and the first year in *year when text is a well-formed academic year; -1 when not. */
int period_parse(const char *text, int *year);

/*  Parses an ISO 8601 timestamp (`2025-11-08T12:00:00+08:00`, `...Z`, or a date alone, taken
 *  as midnight UTC) into seconds since the epoch. Returns 0, or -1 when it is malformed. */
int period_parse_time(const char *text, time_t *out);

/*  The time that decides warnings: EDU_NOW if set (and well-formed), else the wall clock.
 *  Returns -1 when EDU_NOW is set but malformed. */
int period_now(time_t *out);

/*  A duration "7d", "12h", "30m", "45s", or a number of days, into *seconds (0 to 10 years).
 *  Returns 0, or -1 with err. */
int period_parse_duration(const char *text, long *seconds, char *err, size_t errlen);

/*  The first year of the academic year under way at `now`, China time (UTC+8): a year begins on
 *  1 September, so 2025-11-08 is in 2025-2026 (2025) and 2026-03-01 still is. */
int period_current_year(time_t now);

#endif
