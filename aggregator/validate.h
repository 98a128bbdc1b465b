/*  validate - judge one record against the registry and the catalog
 *
 *  The contract's refusal reasons, checked in this order: unknown_school (not in the
 *  registry), school_mismatch (the sender's key belongs to another school), unknown_indicator,
 *  bad_period (not an academic year, or outside the years the county accepts), not_finite,
 *  out_of_range (outside the indicator's bounds). A seventh, period_locked, is decided by the
 *  writer inside the batch's transaction, for records that passed the six (approval.h).
 */
#ifndef EDU_VALIDATE_H
#define EDU_VALIDATE_H

#include "rules.h"
#include "schools.h"

#include <stddef.h>
#include <time.h>

typedef enum {
    REFUSE_NONE = 0,
    REFUSE_UNKNOWN_SCHOOL,
    REFUSE_SCHOOL_MISMATCH,
    REFUSE_UNKNOWN_INDICATOR,
    REFUSE_BAD_PERIOD,
    REFUSE_NOT_FINITE,
    REFUSE_OUT_OF_RANGE,
    REFUSE_PERIOD_LOCKED, // after the six: the year is approved at the county (approval.h)
} refusal_t;

typedef struct {
    refusal_t reason;   // REFUSE_NONE when accepted
    const char *column; // the CSV column concerned (static string)
    char detail[200];   // a sentence for the school's staff
    bool summarized;    // a refusal beyond the caps: counted, not stored one by one
} verdict_t;

/*  The academic years a county accepts records for, by their first year: from [rules]
 *  accept_from to the present one (at `now`, EDU_NOW in tests) plus accept_ahead_years. A
 *  period outside is refused as bad_period, so one record for 2998-2999 cannot make the whole
 *  county's dashboard, warnings and province reports about a year nobody means. */
typedef struct {
    int first; // first year of the earliest accepted period
    int last;  // first year of the latest accepted period
} validate_window_t;

validate_window_t validate_window(const rules_t *rules, time_t now);

/*  Judges a record sent with the key of school `sender`, its period within window. Never
 *  fails: the verdict says it. */
void validate_record(const schools_t *schools, const rules_t *rules,
                     const validate_window_t *window, const char *sender,
                     const char *school_code, const char *indicator, const char *period,
                     double value, verdict_t *verdict);

/*  The contract's name of a reason ("unknown_school"), or NULL for REFUSE_NONE. */
const char *refusal_name(refusal_t reason);

#endif
