/*  evaluate - the county's red/yellow/green warnings, kept current batch by batch
 *
 *  The evaluator holds in memory every current value (school × indicator × period, as in
 *  edu.current_value) and every warning that is yellow or red now (as in edu.warning_state),
 *  rebuilt from the database at start. After each batch it re-judges only the items the batch
 *  can change (see evaluate_batch) and writes the differences — the new state of each changed
 *  item, and a row in edu.warning_transition for each change of level — in the batch's own
 *  transaction. The memory is updated only once that transaction commits (evaluate_commit);
 *  after a failed one (evaluate_abort) it is reloaded from the database before it is used
 *  again, so memory and database never drift apart.
 *
 *  Items of each kind (the contract's "Warnings" table):
 *    threshold, fluctuation, data_quality, missing   school × indicator × period
 *    balanced                                        school × period (indicator "balanced")
 *    dispersion                                      county × stage × indicator × period
 *    progress                                        county × indicator × period
 */
#ifndef EDU_EVALUATE_H
#define EDU_EVALUATE_H

#include "rules.h"
#include "schools.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <time.h>

typedef struct evaluate_t evaluate_t;

/*  Creates an evaluator for county (copied), judging with rules and schools (borrowed: call
 *  evaluate_set_rules before destroying them). Nothing is loaded until the first sweep. */
evaluate_t *evaluate_new(const char *county, const rules_t *rules, const schools_t *schools);
void evaluate_destroy(evaluate_t **self_p);

/*  Replaces the rules and registry (borrowed); the next sweep re-judges everything. */
void evaluate_set_rules(evaluate_t *self, const rules_t *rules, const schools_t *schools);

/*  One accepted record that a batch stored (resent and refused ones are not passed). */
typedef struct {
    const char *school;    // registry code
    const char *indicator; // catalog code
    const char *period;    // YYYY-YYYY
    double value;          // the value
} evaluate_record_t;

/*  Inside the caller's transaction on conn: applies a batch's accepted records and re-judges
 *  what they can change — for each record the school's threshold, fluctuation, data_quality
 *  and missing items of that indicator and period (and the school's later periods of it, whose
 *  "previous period" may have changed), the school's balanced item for the period, the county's
 *  dispersion of the stage and progress of the indicator for the period (every period when it
 *  is the plan's baseline), and the data_quality of the stage's other schools for that
 *  indicator and period (the outlier test compares them). If a deadline has passed since the
 *  last sweep, every missing item too. Writes the differences; the caller then commits and
 *  calls evaluate_commit, or rolls back and calls evaluate_abort. Returns 0, or -1 with err. */
int evaluate_batch(evaluate_t *self, PGconn *conn, const evaluate_record_t *records,
                   size_t count, char *err, size_t errlen);

/*  After the batch's COMMIT: the judged changes become the state in memory. */
void evaluate_commit(evaluate_t *self);

/*  After a failed batch: forgets the judged changes; memory is reloaded before its next use. */
void evaluate_abort(evaluate_t *self);

/*  True when the next sweep re-judges everything (at start, after new rules, after a failure). */
bool evaluate_full_due(const evaluate_t *self);

/*  True when a sweep is due: at start, after evaluate_set_rules, after a failure, or when a
 *  deadline (or a deadline plus the red delay) has passed since the last sweep at `now`. */
bool evaluate_sweep_due(evaluate_t *self, time_t now);

/*  Inside the caller's transaction on conn: reloads memory if needed and re-judges everything
 *  (after start or new rules) or every missing item (when only time has passed), writing the
 *  differences; then evaluate_commit after COMMIT, or evaluate_abort after a failure (the
 *  sweep stays due). Returns 0, or -1 with err. */
int evaluate_sweep(evaluate_t *self, PGconn *conn, time_t now, char *err, size_t errlen);

#endif
