/*  csv - an RFC 4180 reader for the files that school and county staff export from Excel
 *
 *  The reader yields one row at a time, from a buffer in memory (csv_reader_new()) or from a
 *  file it streams in chunks (csv_reader_open()), holding only a few chunks and the current row
 *  in memory whatever the file's size. It first decides the encoding: a UTF-8 byte-order mark
 *  is dropped, and the rest must then be valid UTF-8; without one, text that is valid UTF-8 is
 *  taken as it is; anything else is decoded as GB18030 (what Excel writes on Chinese Windows)
 *  with iconv, dropping GB18030's own byte-order mark. After that every field it returns is
 *  UTF-8.
 *
 *  Fields may be quoted ("a ""b"", c" → a "b", c) and quoted fields may hold commas and line
 *  breaks. Line endings may be LF or CRLF. Blank lines are skipped. Unquoted fields are returned
 *  as they are; callers trim them if they want to.
 *
 *  Each row knows the physical line it starts on (1-based, the header is line 1), so errors
 *  can name it as a person sees it in an editor.
 *
 *  Files that are not CSV text at all are told apart before any decoding (csv_sniff()): an
 *  Excel workbook (.xlsx is a ZIP archive, .xls an OLE2 compound file) and UTF-16 text (what
 *  Excel's "Unicode text" and some exports write), so that the person who dropped one can be
 *  told what to do instead of "cannot decode line 1".
 */
#ifndef EDU_CSV_H
#define EDU_CSV_H

#include <stddef.h>

#define CSV_CHUNK 65536 // bytes a reader reads from its file at a time, unless told otherwise

typedef struct csv_reader_t csv_reader_t;

/*  One row. The strings are borrowed: valid until the next csv_reader_next() or destroy. */
typedef struct {
    unsigned line;       // physical line the row starts on (1-based)
    size_t count;        // number of fields
    const char **fields; // count NUL-terminated UTF-8 strings
} csv_row_t;

/*  Which encoding the reader found. */
typedef enum { CSV_UTF8 = 0, CSV_UTF8_BOM, CSV_GB18030 } csv_encoding_t;

/*  What a file's first bytes say it is. */
typedef enum {
    CSV_KIND_TEXT = 0, // anything else: text in some 8-bit encoding, left to the reader
    CSV_KIND_UTF16,    // UTF-16, with a byte-order mark or with NUL bytes every other byte
    CSV_KIND_XLSX,     // a ZIP archive: .xlsx, .xlsm, .ods, WPS .et saved as XML
    CSV_KIND_XLS,      // an OLE2 compound file: .xls (Excel 97-2003), WPS .et
} csv_kind_t;

/*  Looks at the first bytes of data[0..size) (at most 1024). Never fails. */
csv_kind_t csv_sniff(const char *data, size_t size);

/*  Why the last csv_reader_next() refused a row. */
typedef enum {
    CSV_PROBLEM_NONE = 0,
    CSV_PROBLEM_QUOTE,       // an unterminated quoted field
    CSV_PROBLEM_AFTER_QUOTE, // text after a closing quote
    CSV_PROBLEM_NUL,         // a NUL byte
    CSV_PROBLEM_TOO_LONG,    // the row is longer than csv_reader_set_max_row() allows
    CSV_PROBLEM_READ,        // the file could not be read on (csv_reader_next() returned -2)
} csv_problem_t;

/*  Creates a reader over a copy of data[0..size). Returns NULL and fills err when the data is
 *  a workbook or UTF-16 (see csv_sniff()), neither UTF-8 nor decodable GB18030, or starts with a
 *  UTF-8 byte-order mark and is not UTF-8 (err names the line of the first bad byte; when both
 *  encodings fail, of the one that got further). */
csv_reader_t *csv_reader_new(const char *data, size_t size, char *err, size_t errlen);

/*  Creates a reader over the file open on fd (a regular file, read with pread() from offset 0,
 *  chunk bytes at a time; 0 means CSV_CHUNK). Borrows fd: it must stay open until the reader is
 *  destroyed. The encoding is settled as csv_reader_new() does, by a first pass over the whole
 *  file (UTF-8 validation, or GB18030 decoding into a scratch buffer); the rows are read in a
 *  second pass. Memory: a few chunks, and the current row up to csv_reader_set_max_row().
 *  Returns NULL and fills err for the same reasons as csv_reader_new(); a file that cannot be
 *  read at all (an I/O error) is not refused here: the first csv_reader_next() returns -2. */
csv_reader_t *csv_reader_open(int fd, size_t chunk, char *err, size_t errlen);

/*  Destroys the reader; accepts NULL, nulls the caller's pointer. */
void csv_reader_destroy(csv_reader_t **self_p);

csv_encoding_t csv_reader_encoding(csv_reader_t *self);

/*  Bounds a row: a row of more than bytes bytes (its line breaks excluded) is refused as
 *  CSV_PROBLEM_TOO_LONG, and no more than bytes of it are ever held in memory. 0 (the
 *  default) means no bound. */
void csv_reader_set_max_row(csv_reader_t *self, size_t bytes);

/*  Reads the next non-blank row into *row. Returns 1 when a row was read, 0 at end of data,
 *  -1 when the row is malformed (an unterminated quote, text after a closing quote, a NUL
 *  byte, too long): err names the problem, row->line names the line, csv_reader_problem()
 *  says which it was, and the reader has moved past the bad row, so the caller may continue
 *  with the next one. Returns -2 when the file could not be read on (an I/O error, or bytes
 *  that no longer decode because the file changed after the first pass): err says why, and
 *  every later call returns -2 too; the caller must stop. A reader over memory never does. */
int csv_reader_next(csv_reader_t *self, csv_row_t *row, char *err, size_t errlen);

/*  The problem of the row the last csv_reader_next() refused (CSV_PROBLEM_NONE after a row
 *  that was read). */
csv_problem_t csv_reader_problem(const csv_reader_t *self);

/*  Returns a newly allocated copy of s without leading and trailing ASCII white space. */
char *csv_trim(const char *s);

#endif
