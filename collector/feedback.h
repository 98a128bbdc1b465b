/*  feedback - what a school's staff read about a file: inbox/rejected/<file>.errors.csv
 *
 *  The file is UTF-8 with a byte-order mark, so that Excel on Chinese Windows opens it without
 *  garbling, and has one line per problem, in the row order of the school's file:
 *
 *    行号(row),列(column),原因代码(reason),说明(explanation),详情(detail)
 *
 *  `row` is the line in the school's file (1 for the file as a whole), `column` the CSV column
 *  concerned (school_code, indicator, period, value; empty for the row), `reason` the code
 *  machines read (the contract's refusal reasons, the collector's own codes of rows.h,
 *  batch_refused, record_too_large, too_many_errors), `说明` a Chinese sentence saying what is
 *  wrong and what to do, `detail` the English reason or the county's own words.
 *
 *  Lines arrive in two waves: the rows the collector cannot read, when the file is taken, and
 *  the county's refusals, as its acknowledgements come. feedback_add() keeps the file in row
 *  order: it appends when the new lines come after the last one, and otherwise rewrites the
 *  file (into a temporary file renamed over it, so a reader never sees half of it). A file
 *  holds at most FEEDBACK_MAX_LINES problems; one more line then says the rest are not listed.
 *
 *  Fields are written so that Excel shows them as text: line breaks become spaces, a field that
 *  starts with = + - or @ gets a leading apostrophe (Excel would take it as a formula).
 */
#ifndef EDU_FEEDBACK_H
#define EDU_FEEDBACK_H

#include <stdbool.h>
#include <stddef.h>

#define FEEDBACK_MAX_LINES 10000 // problems listed in one errors file

/*  The header line (after the byte-order mark), without its line break. */
#define FEEDBACK_HEADER "行号(row),列(column),原因代码(reason),说明(explanation),详情(detail)"

typedef struct {
    unsigned row;        // line in the school's file (1: the file as a whole)
    const char *column;  // CSV column name, "" for the whole row or file
    const char *code;    // for machines: a refusal reason or a collector code
    const char *explain; // Chinese: what is wrong and what to do
    const char *detail;  // the English reason, or the county's detail ("" when none)
} feedback_line_t;

/*  Adds count lines (borrowed, any order) to the errors file at path, creating it with the
 *  byte-order mark and the header, and keeping the file in row order (lines of one row keep
 *  the order they were added in). Returns 0, or -1 with err when the file cannot be read or
 *  written. */
int feedback_add(const char *path, const feedback_line_t *lines, size_t count, char *err,
                 size_t errlen);

/*  The Chinese sentence for a refusal by the county: code is its reason, detail its words.
 *  school_code and indicator are the refused record's fields as sent (NULL when unknown); with
 *  them the sentence adds a hint where the cause can be guessed (a school code in Excel's
 *  scientific notation, an indicator given by its Chinese name). own_school is this
 *  collector's school. An unknown code gets a general sentence naming it. Caller frees. */
char *feedback_explain(const char *code, const char *school_code, const char *indicator,
                       const char *own_school);

/*  The catalog code of an indicator given by its Chinese name (生师比 → student_teacher_ratio),
 *  from a small built-in table of the catalog's 19 names and a few common short forms; NULL
 *  when name is none of them. Surrounding white space is ignored. */
const char *feedback_indicator_code(const char *name);

/*  True when text is a number as Excel shows a long one in scientific notation: a digit, an
 *  optional fraction, E and an exponent (2.143E+09, 2.14305E+9). */
bool feedback_is_scientific(const char *text);

#endif
