/*  csv - an RFC 4180 reader for the files that school and county staff export from Excel
 *
 *  csv_reader_new() settles the encoding once and keeps the whole text as UTF-8 in one buffer
 *  (a copy, without the byte-order mark). The text may hold NUL bytes, so the tokenizer works
 *  on (buffer, length), never on C strings.
 *
 *  Encoding: a UTF-8 byte-order mark makes the file UTF-8, and then it must be valid UTF-8;
 *  without one, text that passes the strict validator below is UTF-8 and anything else goes
 *  through iconv as GB18030. When neither decoder accepts the text, the error names the line of
 *  the bad bytes that the decoder which got further stopped at: that is where a person will find
 *  the damage, whichever encoding the file was meant to be in. In both encodings a 0x0A byte is
 *  always a line feed (GB18030 trail bytes are never below 0x30), so lines are counted on the
 *  raw bytes.
 *
 *  Tokenizing: csv_reader_next() copies the fields of one row, unquoted, into a scratch buffer
 *  (each NUL-terminated) and points row->fields into it. A malformed row is read to its end all
 *  the same, so the next call starts on the next row; an unterminated quote, which would swallow
 *  the rest of the file, instead resumes on the line after the opening quote. With a row bound
 *  the scratch buffer stops growing at the bound: the rest of an overlong row is only skipped.
 *
 *  Sniffing: a workbook is known by its magic number (ZIP "PK\3\4", OLE2 D0 CF 11 E0), UTF-16
 *  by its byte-order mark or, without one, by NUL bytes in every other position of the first
 *  kilobyte (ASCII in UTF-16; neither UTF-8 nor GB18030 text has NULs).
 */
#include "csv.h"

#include "util.h"

#include <errno.h>
#include <iconv.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct csv_reader_t {
    char *text;              // the whole input as UTF-8, without byte-order mark
    size_t size;             // bytes in text (it may hold NUL bytes)
    size_t pos;              // offset of the next byte to tokenize
    unsigned line;           // physical line of text[pos] (1-based)
    csv_encoding_t encoding; // what csv_reader_new() found
    char *scratch;           // the current row's fields, each NUL-terminated
    size_t scratch_len;      // bytes used in scratch
    size_t scratch_cap;      // bytes allocated for scratch
    size_t *offsets;         // start of each field of the current row in scratch
    const char **fields;     // the current row's fields, pointing into scratch
    size_t field_count;      // fields of the current row
    size_t field_cap;        // entries allocated in offsets and fields
    size_t max_row;          // longest row accepted, in bytes (0: no bound)
    csv_problem_t problem;   // why the last row was refused
};

csv_kind_t csv_sniff(const char *data, size_t size)
{
    static const char zip[] = "PK\x03\x04";
    static const char ole[] = "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";
    if (size >= 4 && memcmp(data, zip, 4) == 0)
        return CSV_KIND_XLSX;
    if (size >= 8 && memcmp(data, ole, 8) == 0)
        return CSV_KIND_XLS;
    if (size >= 2 && (memcmp(data, "\xFF\xFE", 2) == 0 || memcmp(data, "\xFE\xFF", 2) == 0))
        return CSV_KIND_UTF16;
    size_t n = size < 1024 ? size : 1024;
    size_t nul[2] = {0, 0};
    for (size_t i = 0; i < n; i++) {
        if (data[i] == '\0')
            nul[i % 2]++;
    }
    // ASCII in UTF-16 has a NUL in every other byte; ask for half of them, and a few
    size_t half = n / 2;
    if (half >= 2 && (nul[0] * 2 >= half || nul[1] * 2 >= half))
        return CSV_KIND_UTF16;
    return CSV_KIND_TEXT;
}

//  Returns the offset of the first byte that does not belong to a well-formed UTF-8 sequence
//  (Unicode 15, table 3-7: no overlong forms, no surrogates, nothing above U+10FFFF), or size
//  when all of data is valid.
static size_t s_utf8_invalid_at(const unsigned char *data, size_t size)
{
    size_t i = 0;
    while (i < size) {
        unsigned char c = data[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        unsigned char lo = 0x80, hi = 0xBF; // range of the second byte
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        }
        else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0; // overlong
            if (c == 0xED)
                hi = 0x9F; // surrogates
        }
        else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90; // overlong
            if (c == 0xF4)
                hi = 0x8F; // above U+10FFFF
        }
        else {
            return i; // a continuation byte, C0, C1 or F5..FF
        }
        if (size - i - 1 < need)
            return i;
        if (data[i + 1] < lo || data[i + 1] > hi)
            return i;
        for (size_t k = 2; k <= need; k++) {
            if (data[i + k] < 0x80 || data[i + k] > 0xBF)
                return i;
        }
        i += need + 1;
    }
    return size;
}

//  Decodes GB18030 into a newly allocated UTF-8 buffer. Returns it and sets *out_size, or
//  returns NULL with *bad_at set to the offset of the first byte iconv refused (size when
//  iconv itself could not be opened; errno tells why).
static char *s_gb18030_decode(const char *data, size_t size, size_t *out_size, size_t *bad_at)
{
    iconv_t cd = iconv_open("UTF-8", "GB18030");
    if (cd == (iconv_t) -1) {
        *bad_at = size;
        return NULL;
    }
    // A GB18030 character of 2 bytes becomes at most 3 of UTF-8, one of 4 at most 4.
    size_t cap = size + size / 2 + 16;
    char *out = xmalloc(cap);
    char *in = (char *) data;
    size_t in_left = size;
    char *outp = out;
    size_t out_left = cap;
    while (in_left > 0) {
        if (iconv(cd, &in, &in_left, &outp, &out_left) != (size_t) -1)
            break;
        if (errno == E2BIG) {
            size_t used = (size_t) (outp - out);
            cap *= 2;
            out = xrealloc(out, cap);
            outp = out + used;
            out_left = cap - used;
            continue;
        }
        // EILSEQ (an invalid sequence) or EINVAL (a sequence cut off by the end of data)
        *bad_at = (size_t) (in - data);
        free(out);
        iconv_close(cd);
        return NULL;
    }
    iconv_close(cd);
    *out_size = (size_t) (outp - out);
    return out;
}

//  Returns the 1-based line of data[at].
static unsigned s_line_of(const char *data, size_t at)
{
    unsigned line = 1;
    for (size_t i = 0; i < at; i++) {
        if (data[i] == '\n')
            line++;
    }
    return line;
}

//  Writes up to four bytes from data[at], as "0xe9 0x2c", into buf.
static void s_show_bytes(const char *data, size_t size, size_t at, char *buf, size_t buflen)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = at; i < size && i < at + 4 && used < buflen; i++) {
        int n = snprintf(buf + used, buflen - used, "%s0x%02x", i > at ? " " : "",
                         (unsigned char) data[i]);
        if (n < 0)
            break;
        used += (size_t) n;
    }
}

csv_reader_t *csv_reader_new(const char *data, size_t size, char *err, size_t errlen)
{
    static const char bom[] = "\xEF\xBB\xBF"; // U+FEFF in UTF-8
    csv_encoding_t encoding = CSV_UTF8;
    char *text = NULL;
    size_t text_size = 0;
    char shown[32];

    switch (csv_sniff(data, size)) {
    case CSV_KIND_XLSX:
        errorf(err, errlen, "file is a ZIP archive (an Excel .xlsx workbook?), not CSV text");
        return NULL;
    case CSV_KIND_XLS:
        errorf(err, errlen, "file is an OLE2 document (an Excel .xls workbook?), not CSV text");
        return NULL;
    case CSV_KIND_UTF16:
        errorf(err, errlen, "file is UTF-16 text; CSV must be UTF-8 or GB18030");
        return NULL;
    case CSV_KIND_TEXT: break;
    }

    if (size >= 3 && memcmp(data, bom, 3) == 0) {
        size_t bad = s_utf8_invalid_at((const unsigned char *) data + 3, size - 3) + 3;
        if (bad < size) {
            s_show_bytes(data, size, bad, shown, sizeof shown);
            errorf(err, errlen,
                   "cannot decode line %u: byte sequence %s is not valid UTF-8, though the file "
                   "starts with a UTF-8 byte-order mark",
                   s_line_of(data, bad), shown);
            return NULL;
        }
        encoding = CSV_UTF8_BOM;
        text = xstrndup(data + 3, size - 3);
        text_size = size - 3;
    }
    else {
        size_t bad_utf8 = s_utf8_invalid_at((const unsigned char *) data, size);
        if (bad_utf8 == size) {
            text = xstrndup(data, size);
            text_size = size;
        }
        else {
            size_t bad_gb = 0;
            errno = 0;
            text = s_gb18030_decode(data, size, &text_size, &bad_gb);
            if (!text && bad_gb == size) {
                errorf(err, errlen, "could not open a GB18030 to UTF-8 converter: %s",
                       strerror(errno));
                return NULL;
            }
            if (!text) {
                size_t bad = bad_gb > bad_utf8 ? bad_gb : bad_utf8;
                s_show_bytes(data, size, bad, shown, sizeof shown);
                errorf(err, errlen,
                       "cannot decode line %u: byte sequence %s is neither UTF-8 nor GB18030",
                       s_line_of(data, bad), shown);
                return NULL;
            }
            encoding = CSV_GB18030;
            // GB18030's own byte-order mark (0x84 0x31 0x95 0x33) decodes to U+FEFF
            if (text_size >= 3 && memcmp(text, bom, 3) == 0) {
                memmove(text, text + 3, text_size - 3);
                text_size -= 3;
            }
        }
    }

    csv_reader_t *self = xcalloc(1, sizeof *self);
    self->text = text;
    self->size = text_size;
    self->line = 1;
    self->encoding = encoding;
    return self;
}

void csv_reader_destroy(csv_reader_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    csv_reader_t *self = *self_p;
    free(self->text);
    free(self->scratch);
    free(self->offsets);
    free(self->fields);
    free(self);
    *self_p = NULL;
}

csv_encoding_t csv_reader_encoding(csv_reader_t *self)
{
    return self->encoding;
}

void csv_reader_set_max_row(csv_reader_t *self, size_t bytes)
{
    self->max_row = bytes;
}

csv_problem_t csv_reader_problem(const csv_reader_t *self)
{
    return self->problem;
}

static void s_scratch_put(csv_reader_t *self, char c)
{
    // A row within the bound never needs more than its bytes and a NUL per field: past that
    // it is overlong, and the rest of it is only skipped.
    if (self->max_row && self->scratch_len > 2 * self->max_row + 1)
        return;
    if (self->scratch_len == self->scratch_cap) {
        self->scratch_cap = self->scratch_cap ? self->scratch_cap * 2 : 256;
        self->scratch = xrealloc(self->scratch, self->scratch_cap);
    }
    self->scratch[self->scratch_len++] = c;
}

static void s_field_begin(csv_reader_t *self)
{
    if (self->max_row && self->field_count > self->max_row) {
        self->offsets[self->field_count - 1] = self->scratch_len; // overlong: not kept
        return;
    }
    if (self->field_count == self->field_cap) {
        self->field_cap = self->field_cap ? self->field_cap * 2 : 16;
        self->offsets = xrealloc(self->offsets, self->field_cap * sizeof *self->offsets);
        self->fields = xrealloc(self->fields, self->field_cap * sizeof *self->fields);
    }
    self->offsets[self->field_count++] = self->scratch_len;
}

//  Length of the line break at text[pos]: 1 for LF, 2 for CRLF, 1 for a CR that ends the
//  data; 0 when there is none.
static size_t s_newline_at(const csv_reader_t *self, size_t pos)
{
    if (pos >= self->size)
        return 0;
    if (self->text[pos] == '\n')
        return 1;
    if (self->text[pos] == '\r') {
        if (pos + 1 == self->size)
            return 1;
        if (self->text[pos + 1] == '\n')
            return 2;
    }
    return 0;
}

//  Skips blank lines; returns false at the end of data.
static bool s_skip_blank_lines(csv_reader_t *self)
{
    size_t n;
    while ((n = s_newline_at(self, self->pos)) > 0) {
        self->pos += n;
        self->line++;
    }
    return self->pos < self->size;
}

//  Moves past the line ending at the current position, or stays at the end of data.
static void s_consume_newline(csv_reader_t *self)
{
    size_t n = s_newline_at(self, self->pos);
    if (n > 0) {
        self->pos += n;
        self->line++;
    }
}

//  Moves to the start of the line after the one that holds text[at] (or to the end of data).
static void s_resume_after_line(csv_reader_t *self, size_t at, unsigned line_of_at)
{
    const char *nl = memchr(self->text + at, '\n', self->size - at);
    if (nl) {
        self->pos = (size_t) (nl - self->text) + 1;
        self->line = line_of_at + 1;
    }
    else {
        self->pos = self->size;
        self->line = line_of_at;
    }
}

int csv_reader_next(csv_reader_t *self, csv_row_t *row, char *err, size_t errlen)
{
    if (!s_skip_blank_lines(self))
        return 0;

    unsigned row_line = self->line;
    size_t row_start = self->pos;
    self->scratch_len = 0;
    self->field_count = 0;
    self->problem = CSV_PROBLEM_NONE;
    // The first problem of the row, reported once the row has been read to its end.
    const char *problem = NULL;
    size_t problem_column = 0;

    while (true) {
        s_field_begin(self);
        size_t column = self->field_count;
        if (self->pos < self->size && self->text[self->pos] == '"') {
            size_t quote_at = self->pos;
            unsigned quote_line = self->line;
            self->pos++;
            bool closed = false;
            while (self->pos < self->size) {
                char c = self->text[self->pos];
                if (c == '"') {
                    if (self->pos + 1 < self->size && self->text[self->pos + 1] == '"') {
                        s_scratch_put(self, '"');
                        self->pos += 2;
                        continue;
                    }
                    self->pos++;
                    closed = true;
                    break;
                }
                if (c == '\n')
                    self->line++;
                else if (c == '\0' && !problem) {
                    problem = "NUL byte";
                    problem_column = column;
                    self->problem = CSV_PROBLEM_NUL;
                }
                s_scratch_put(self, c);
                self->pos++;
            }
            if (!closed) {
                s_resume_after_line(self, quote_at, quote_line);
                row->line = row_line;
                row->count = 0;
                row->fields = NULL;
                self->problem = CSV_PROBLEM_QUOTE;
                if (quote_line != row_line)
                    return errorf(err, errlen,
                                  "unterminated quoted field in column %zu (opened on line %u)",
                                  column, quote_line);
                return errorf(err, errlen, "unterminated quoted field in column %zu", column);
            }
            // After the closing quote only a delimiter or the end of the row may follow;
            // anything else is read on as part of the field so the row still ends where the
            // next delimiter or line break is.
            if (self->pos < self->size && self->text[self->pos] != ','
                && s_newline_at(self, self->pos) == 0 && !problem) {
                problem = "text after closing quote";
                problem_column = column;
                self->problem = CSV_PROBLEM_AFTER_QUOTE;
            }
        }
        while (self->pos < self->size && self->text[self->pos] != ','
               && s_newline_at(self, self->pos) == 0) {
            char c = self->text[self->pos];
            if (c == '\0' && !problem) {
                problem = "NUL byte";
                problem_column = column;
                self->problem = CSV_PROBLEM_NUL;
            }
            s_scratch_put(self, c);
            self->pos++;
        }
        s_scratch_put(self, '\0');
        if (self->pos < self->size && self->text[self->pos] == ',') {
            self->pos++;
            continue;
        }
        size_t row_bytes = self->pos - row_start;
        s_consume_newline(self);
        if (self->max_row && row_bytes > self->max_row) {
            row->line = row_line;
            row->count = 0;
            row->fields = NULL;
            self->problem = CSV_PROBLEM_TOO_LONG;
            return errorf(err, errlen, "row has %zu bytes, more than the %zu allowed", row_bytes,
                          self->max_row);
        }
        break;
    }

    row->line = row_line;
    if (problem) {
        row->count = 0;
        row->fields = NULL;
        return errorf(err, errlen, "%s in column %zu", problem, problem_column);
    }
    for (size_t i = 0; i < self->field_count; i++)
        self->fields[i] = self->scratch + self->offsets[i];
    row->count = self->field_count;
    row->fields = self->fields;
    return 1;
}

static bool s_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

char *csv_trim(const char *s)
{
    const char *end = s + strlen(s);
    while (s < end && s_is_space(*s))
        s++;
    while (end > s && s_is_space(end[-1]))
        end--;
    return xstrndup(s, (size_t) (end - s));
}
