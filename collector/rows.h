/*  rows - turn a school's indicator CSV file into records and row errors
 *
 *  The file has a header naming at least the columns school_code, indicator, period and value
 *  (in any order, case-insensitive, surrounding white space ignored; other columns are ignored).
 *  The collector judges only the form of a row: each of the four fields present and non-empty
 *  after trimming, and value a number (strtod consumes all of it; "nan" and "inf" are numbers
 *  here, the aggregator refuses them as not_finite). What a record means is the aggregator's
 *  business.
 *
 *  A bad row never stops the file: it becomes an error naming the line, the column and the
 *  reason, and the good rows of the same file still go through. A file that has no usable
 *  header or cannot be decoded is "fatal": it yields no records and one error on line 1.
 */
#ifndef EDU_ROWS_H
#define EDU_ROWS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct rows_t rows_t;

typedef struct {
    unsigned line;           // line of the row in the file (header is line 1)
    const char *school_code; // trimmed
    const char *indicator;   // trimmed
    const char *period;      // trimmed
    double value;
} rows_record_t;

typedef struct {
    unsigned line;      // line of the row (1 for a file-level problem)
    const char *column; // the column concerned ("" when the whole row or file is at fault)
    const char *reason; // lowercase, no final period, e.g. `value "12,5" is not a number`
} rows_error_t;

/*  Parses data[0..size). Never returns NULL (out of memory aborts). */
rows_t *rows_parse(const char *data, size_t size);
void rows_destroy(rows_t **self_p);

/*  True when the file as a whole could not be read (encoding or header). */
bool rows_fatal(const rows_t *self);
size_t rows_record_count(const rows_t *self);
/*  Borrowed; i < rows_record_count(). */
const rows_record_t *rows_record(const rows_t *self, size_t i);
size_t rows_error_count(const rows_t *self);
const rows_error_t *rows_error(const rows_t *self, size_t i);

#endif
