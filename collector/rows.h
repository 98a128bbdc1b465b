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
 *
 *  Every field has a bound, so that no record can grow past what one message to the county
 *  may carry (a value pasted from a 10 MB cell is refused here, row by row, not dropped later
 *  by the county's socket). The bounds judge only the form: a school code is 10 digits, but
 *  any code up to 32 bytes goes on to the county, which says whether it knows it.
 *
 *  Each error carries a code for machines (the errors.csv "reason" column), an English
 *  reason (logs, the "detail" column) and a Chinese sentence saying what to do about it.
 *
 *  A file is read as a stream (rows_open(), then rows_next() record by record), so that its
 *  size costs no memory: what is kept is the current record, the errors (at most
 *  ROWS_MAX_ERRORS) and the CSV reader's few chunks. rows_parse() reads a buffer whole and keeps
 *  every record, for small inputs and tests.
 */
#ifndef EDU_ROWS_H
#define EDU_ROWS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct rows_t rows_t;

#define ROWS_MAX_SCHOOL_CODE 32 // bytes of a school code (the contract's is 10 digits)
#define ROWS_MAX_INDICATOR 64   // bytes of an indicator code (the catalog's longest is 27)
#define ROWS_MAX_PERIOD 16      // bytes of a period (YYYY-YYYY is 9)
#define ROWS_MAX_VALUE 64       // bytes of a value cell (a double needs at most 24)
#define ROWS_MAX_ROW 131072     // bytes of a row, ignored columns included: one Excel cell at
                                // its maximum (32 767 characters of 4 bytes) fits
#define ROWS_MAX_ERRORS 1000    // errors kept per file; the rest are only counted

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
    const char *code;   // for machines: no_header, bad_encoding, not_csv, malformed_row,
                        // extra_data, missing_field, empty_field, not_a_number, too_long
    const char *reason; // lowercase, no final period, e.g. `value "12,5" is not a number`
    const char *hint;   // a Chinese sentence for the school's staff: what is wrong, what to do
} rows_error_t;

/*  Parses data[0..size) whole, keeping every record (rows_record()). Never returns NULL (out of
 *  memory aborts). */
rows_t *rows_parse(const char *data, size_t size);

/*  Opens the file on fd for reading record by record with rows_next(): borrows fd (read with
 *  pread() from its start, chunk bytes at a time, 0 for CSV_CHUNK; keep it open until
 *  rows_destroy()). Settles the encoding (a first pass over the file) and reads the header at
 *  once: when the file as a whole cannot be read, rows_fatal() is true and rows_next() yields
 *  nothing. Never returns NULL. */
rows_t *rows_open(int fd, size_t chunk);

/*  The next good record of an opened file, in file order: *record is filled, its strings
 *  borrowed until the next call. The bad rows met on the way become errors. Returns 1, 0 at the
 *  end of the file, or -1 with err when the file could not be read on (an I/O error, or it
 *  changed after its first pass): the records yielded so far must then be dropped. */
int rows_next(rows_t *self, rows_record_t *record, char *err, size_t errlen);

void rows_destroy(rows_t **self_p);

/*  True when the file as a whole could not be read (encoding or header). */
bool rows_fatal(const rows_t *self);
/*  Records yielded so far (by rows_parse(): all of them). */
size_t rows_record_count(const rows_t *self);
/*  Data rows read so far, good and bad (rows of empty cells are blank lines, not counted). */
size_t rows_read_count(const rows_t *self);
/*  Borrowed; i < rows_record_count(); NULL for an opened file, which keeps no records. */
const rows_record_t *rows_record(const rows_t *self, size_t i);
/*  Errors kept (at most ROWS_MAX_ERRORS), in file order. */
size_t rows_error_count(const rows_t *self);
const rows_error_t *rows_error(const rows_t *self, size_t i);
/*  Errors found beyond the ROWS_MAX_ERRORS kept (counted, not kept). */
size_t rows_errors_dropped(const rows_t *self);

#endif
