/*  rows - turn a school's indicator CSV file into records and row errors
 *
 *  The csv module does the encoding and the tokenizing; this one maps the header to the four
 *  columns it needs and judges the form of each row. Every problem of a row is reported, one
 *  error per column, so a person can fix the row in one pass; a row with any problem gives no
 *  record.
 *
 *  A row whose fields are all empty after trimming (Excel writes ",,,," for rows that were once
 *  formatted) is skipped like a blank line. Fields past the header's last column are ignored
 *  when empty; a row with data in one is refused: it is what an unquoted "12,5" turns into, and
 *  taking the first half of it as the value would be wrong without anyone noticing. (A note
 *  typed into a column without a name is refused too; naming the column in the header makes it
 *  an extra column, which is ignored.)
 *
 *  The records and errors own their strings; the arrays are filled once by rows_parse() and
 *  only read afterwards.
 */
#include "rows.h"

#include "csv.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

//  The columns a file must have, in the order the error messages list them.
typedef enum { COL_SCHOOL_CODE = 0, COL_INDICATOR, COL_PERIOD, COL_VALUE, COL_COUNT } s_column_t;

static const char *s_column_names[COL_COUNT] = {"school_code", "indicator", "period", "value"};

struct rows_t {
    bool fatal;              // the file as a whole could not be read
    rows_record_t *records;  // the good rows, in file order
    size_t record_count;     // entries used in records
    size_t record_cap;       // entries allocated in records
    rows_error_t *errors;    // the problems, in file order
    size_t error_count;      // entries used in errors
    size_t error_cap;        // entries allocated in errors
};

//  Adds an error; takes ownership of reason. column is a static string.
static void s_add_error(rows_t *self, unsigned line, const char *column, char *reason)
{
    if (self->error_count == self->error_cap) {
        self->error_cap = self->error_cap ? self->error_cap * 2 : 8;
        self->errors = xrealloc(self->errors, self->error_cap * sizeof *self->errors);
    }
    self->errors[self->error_count++] = (rows_error_t){
        .line = line,
        .column = column,
        .reason = reason,
    };
}

static void s_add_fatal(rows_t *self, const char *column, char *reason)
{
    self->fatal = true;
    s_add_error(self, 1, column, reason);
}

//  Maps the header's columns: index[c] gets the position of column c. Returns 0, or -1 after
//  recording the fatal error.
static int s_map_header(rows_t *self, const csv_row_t *header, size_t index[COL_COUNT])
{
    bool found[COL_COUNT] = {false};
    for (size_t i = 0; i < header->count; i++) {
        char *name = csv_trim(header->fields[i]);
        for (int c = 0; c < COL_COUNT; c++) {
            if (strcasecmp(name, s_column_names[c]) != 0)
                continue;
            if (found[c]) {
                free(name);
                s_add_fatal(self, s_column_names[c],
                            xasprintf("column \"%s\" appears twice in the header (columns %zu "
                                      "and %zu)",
                                      s_column_names[c], index[c] + 1, i + 1));
                return -1;
            }
            found[c] = true;
            index[c] = i;
        }
        free(name);
    }

    const char *first_missing = NULL;
    char missing[128] = "";
    size_t used = 0, missing_count = 0;
    for (int c = 0; c < COL_COUNT; c++) {
        if (found[c])
            continue;
        if (!first_missing)
            first_missing = s_column_names[c];
        int n = snprintf(missing + used, sizeof missing - used, "%s\"%s\"",
                         missing_count ? ", " : "", s_column_names[c]);
        if (n > 0 && (size_t) n < sizeof missing - used)
            used += (size_t) n;
        missing_count++;
    }
    if (first_missing) {
        s_add_fatal(self, first_missing,
                    xasprintf("header has no column%s %s (it needs school_code, indicator, "
                              "period and value)",
                              missing_count > 1 ? "s" : "", missing));
        return -1;
    }
    return 0;
}

//  Parses a value as strtod does, all of it. Returns 0, or -1 with a newly allocated reason.
static int s_parse_value(const char *text, double *value, char **reason)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end != '\0') {
        *reason = xasprintf("value \"%s\" is not a number", text);
        return -1;
    }
    // Overflow gives ±HUGE_VAL (infinity) with ERANGE, underflow a tiny value: both are kept as
    // numbers; whether they are acceptable (not_finite, out_of_range) is the county's to judge.
    *value = v;
    return 0;
}

//  Judges one row and adds a record or its errors.
static void s_add_row(rows_t *self, const csv_row_t *row, const size_t index[COL_COUNT],
                      size_t width)
{
    char *trimmed[COL_COUNT] = {NULL};
    bool all_empty = true, bad = false;

    for (size_t i = 0; i < row->count && all_empty; i++) {
        char *field = csv_trim(row->fields[i]);
        all_empty = field[0] == '\0';
        free(field);
    }
    if (all_empty)
        return; // a row of empty cells is a blank line

    for (size_t i = width; i < row->count; i++) {
        char *field = csv_trim(row->fields[i]);
        bool filled = field[0] != '\0';
        free(field);
        if (filled) {
            s_add_error(self, row->line, "",
                        xasprintf("row has data in field %zu, but the header has only %zu "
                                  "columns",
                                  i + 1, width));
            bad = true;
            break;
        }
    }

    for (int c = 0; c < COL_COUNT; c++) {
        if (index[c] >= row->count) {
            s_add_error(self, row->line, s_column_names[c],
                        xasprintf("missing field: the row has only %zu of the header's %zu "
                                  "columns",
                                  row->count, width));
            bad = true;
            continue;
        }
        trimmed[c] = csv_trim(row->fields[index[c]]);
        if (trimmed[c][0] == '\0') {
            s_add_error(self, row->line, s_column_names[c], xasprintf("field is empty"));
            bad = true;
        }
    }

    double value = 0;
    char *reason = NULL;
    if (trimmed[COL_VALUE] && trimmed[COL_VALUE][0] != '\0'
        && s_parse_value(trimmed[COL_VALUE], &value, &reason) != 0) {
        s_add_error(self, row->line, s_column_names[COL_VALUE], reason);
        bad = true;
    }

    if (bad) {
        for (int c = 0; c < COL_COUNT; c++)
            free(trimmed[c]);
        return;
    }
    if (self->record_count == self->record_cap) {
        self->record_cap = self->record_cap ? self->record_cap * 2 : 64;
        self->records = xrealloc(self->records, self->record_cap * sizeof *self->records);
    }
    self->records[self->record_count++] = (rows_record_t){
        .line = row->line,
        .school_code = trimmed[COL_SCHOOL_CODE],
        .indicator = trimmed[COL_INDICATOR],
        .period = trimmed[COL_PERIOD],
        .value = value,
    };
    free(trimmed[COL_VALUE]);
}

rows_t *rows_parse(const char *data, size_t size)
{
    rows_t *self = xcalloc(1, sizeof *self);
    char err[256];
    csv_reader_t *reader = csv_reader_new(data, size, err, sizeof err);
    if (!reader) {
        s_add_fatal(self, "", xstrdup(err));
        return self;
    }

    csv_row_t row;
    int rc = csv_reader_next(reader, &row, err, sizeof err);
    if (rc == 0)
        s_add_fatal(self, "",
                    xasprintf("file is empty (it needs a header naming the columns school_code, "
                              "indicator, period and value)"));
    else if (rc < 0)
        s_add_fatal(self, "", xasprintf("cannot read the header: %s", err));
    if (rc <= 0) {
        csv_reader_destroy(&reader);
        return self;
    }

    size_t index[COL_COUNT] = {0};
    if (s_map_header(self, &row, index) != 0) {
        csv_reader_destroy(&reader);
        return self;
    }
    size_t width = row.count;

    while ((rc = csv_reader_next(reader, &row, err, sizeof err)) != 0) {
        if (rc < 0)
            s_add_error(self, row.line, "", xstrdup(err));
        else
            s_add_row(self, &row, index, width);
    }
    csv_reader_destroy(&reader);
    return self;
}

void rows_destroy(rows_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rows_t *self = *self_p;
    for (size_t i = 0; i < self->record_count; i++) {
        free((char *) self->records[i].school_code);
        free((char *) self->records[i].indicator);
        free((char *) self->records[i].period);
    }
    for (size_t i = 0; i < self->error_count; i++)
        free((char *) self->errors[i].reason);
    free(self->records);
    free(self->errors);
    free(self);
    *self_p = NULL;
}

bool rows_fatal(const rows_t *self)
{
    return self->fatal;
}

size_t rows_record_count(const rows_t *self)
{
    return self->record_count;
}

const rows_record_t *rows_record(const rows_t *self, size_t i)
{
    return i < self->record_count ? &self->records[i] : NULL;
}

size_t rows_error_count(const rows_t *self)
{
    return self->error_count;
}

const rows_error_t *rows_error(const rows_t *self, size_t i)
{
    return i < self->error_count ? &self->errors[i] : NULL;
}
