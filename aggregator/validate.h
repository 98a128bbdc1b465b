/*  validate - judge one record against the registry and the catalog
 *
 *  The contract's refusal reasons, checked in this order: unknown_school (not in the
 *  registry), school_mismatch (the sender's key belongs to another school), unknown_indicator,
 *  bad_period, not_finite, out_of_range (outside the indicator's bounds).
 */
#ifndef EDU_VALIDATE_H
#define EDU_VALIDATE_H

#include "rules.h"
#include "schools.h"

#include <stddef.h>

typedef enum {
    REFUSE_NONE = 0,
    REFUSE_UNKNOWN_SCHOOL,
    REFUSE_SCHOOL_MISMATCH,
    REFUSE_UNKNOWN_INDICATOR,
    REFUSE_BAD_PERIOD,
    REFUSE_NOT_FINITE,
    REFUSE_OUT_OF_RANGE,
} refusal_t;

typedef struct {
    refusal_t reason;   // REFUSE_NONE when accepted
    const char *column; // the CSV column concerned (static string)
    char detail[200];   // a sentence for the school's staff
} verdict_t;

/*  Judges a record sent with the key of school `sender`. Never fails: the verdict says it. */
void validate_record(const schools_t *schools, const rules_t *rules, const char *sender,
                     const char *school_code, const char *indicator, const char *period,
                     double value, verdict_t *verdict);

/*  The contract's name of a reason ("unknown_school"), or NULL for REFUSE_NONE. */
const char *refusal_name(refusal_t reason);

#endif
