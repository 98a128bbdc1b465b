/*  csv - an RFC 4180 reader for the files that school and county staff export from Excel
 *
 *  The reader takes a whole file in memory and yields one row at a time. It first decides the
 *  encoding: a UTF-8 byte-order mark is dropped, and the rest must then be valid UTF-8; without
 *  one, text that is valid UTF-8 is taken as it is; anything else is decoded as GB18030 (what
 *  Excel writes on Chinese Windows) with iconv, dropping GB18030's own byte-order mark. After
 *  that every field it returns is UTF-8.
 *
 *  Fields may be quoted ("a ""b"", c" → a "b", c) and quoted fields may hold commas and line
 *  breaks. Line endings may be LF or CRLF. Blank lines are skipped. Unquoted fields are returned
 *  as they are; callers trim them if they want to.
 *
 *  Each row knows the physical line it starts on (1-based, the header is line 1), so errors
 *  can name it as a person sees it in an editor.
 */
#ifndef EDU_CSV_H
#define EDU_CSV_H

#include <stddef.h>

typedef struct csv_reader_t csv_reader_t;

/*  One row. The strings are borrowed: valid until the next csv_reader_next() or destroy. */
typedef struct {
    unsigned line;       // physical line the row starts on (1-based)
    size_t count;        // number of fields
    const char **fields; // count NUL-terminated UTF-8 strings
} csv_row_t;

/*  Which encoding the reader found. */
typedef enum { CSV_UTF8 = 0, CSV_UTF8_BOM, CSV_GB18030 } csv_encoding_t;

/*  Creates a reader over a copy of data[0..size). Returns NULL and fills err when the data is
 *  neither UTF-8 nor decodable GB18030, or starts with a UTF-8 byte-order mark and is not UTF-8
 *  (err names the line of the first bad byte; when both encodings fail, of the one that got
 *  further). */
csv_reader_t *csv_reader_new(const char *data, size_t size, char *err, size_t errlen);

/*  Destroys the reader; accepts NULL, nulls the caller's pointer. */
void csv_reader_destroy(csv_reader_t **self_p);

csv_encoding_t csv_reader_encoding(csv_reader_t *self);

/*  Reads the next non-blank row into *row. Returns 1 when a row was read, 0 at end of data,
 *  -1 when the row is malformed (an unterminated quote, text after a closing quote, a NUL
 *  byte): err names the problem, row->line names the line, and the reader has moved past the
 *  bad row, so the caller may continue with the next one. */
int csv_reader_next(csv_reader_t *self, csv_row_t *row, char *err, size_t errlen);

/*  Returns a newly allocated copy of s without leading and trailing ASCII white space. */
char *csv_trim(const char *s);

#endif
