/*  alert - what a supervisor reads: the Chinese sentence of an alert
 *
 *  Every change of a warning's level becomes one alert (edu.alert, written with the change).
 *  Its `message` is a sentence a supervisor can forward as it is, e.g.
 *  「【红色预警】第3学校 2025-2026学年 生均教学及辅助用房面积 3.1平方米，低于标准4.5平方米的85%。」
 */
#ifndef EDU_ALERT_H
#define EDU_ALERT_H

#include "judge.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    const char *kind;           // "threshold", …
    const char *who;            // the school's name, or "全县" / "全县小学" for county kinds
    const char *indicator_name; // Chinese name, or the balanced composite's
    const char *unit;           // the indicator's unit ("" when none)
    const char *period;         // "2025-2026"
    level_t level;              // now
    level_t previous;           // before
    bool has_value;             // value is set
    double value;               // what was judged
    bool has_target;            // target is set
    double target;              // the target for the stage (threshold) or the CV limit
    bool higher_better;         // the indicator's direction
    double tolerance;           // the rules' tolerance (0.85)
} alert_facts_t;

/*  Writes the message into out (always terminated, always whole UTF-8 characters). */
void alert_message(const alert_facts_t *facts, char *out, size_t size);

/*  Drops a partly written last UTF-8 character from text (after a truncating snprintf). */
void alert_whole_characters(char *text);

/*  "小学" / "初中" for "primary" / "junior", else the text given. */
const char *alert_stage_name(const char *stage);

#endif
