/*  csv - an RFC 4180 reader for the files that school and county staff export from Excel
 *
 *  A reader has a source (a copy of a buffer, or a file read with pread()) that it reads in
 *  chunks. csv_reader_new() and csv_reader_open() settle the encoding with a first pass over
 *  the whole source, so that a file is refused as a whole before any of its rows is read, as it
 *  always was; the rows then come from a second pass that decodes one chunk at a time into a
 *  window of UTF-8 text. The text may hold NUL bytes, so the tokenizer works on (buffer,
 *  length), never on C strings.
 *
 *  Encoding: a UTF-8 byte-order mark makes the file UTF-8, and then it must be valid UTF-8;
 *  without one, text that passes the strict validator below is UTF-8 and anything else goes
 *  through iconv as GB18030. When neither decoder accepts the text, the error names the line of
 *  the bad bytes that the decoder which got further stopped at: that is where a person will find
 *  the damage, whichever encoding the file was meant to be in. In both encodings a 0x0A byte is
 *  always a line feed (GB18030 trail bytes are never below 0x30), so lines are counted on the
 *  raw bytes, and every line starts on a character boundary of the raw bytes.
 *
 *  Chunks: a character may straddle two chunks. The validator and the decoder stop before a
 *  sequence the chunk cuts off (iconv's EINVAL) and carry its bytes over to the next chunk; only
 *  at the end of the file is a cut-off sequence an error. The window keeps the bytes the
 *  tokenizer has not consumed; it needs to look at most two bytes ahead ("" and CRLF), so it
 *  never grows with the file: a field that spans chunks, line breaks included, is copied into
 *  the row's scratch buffer as it goes.
 *
 *  Tokenizing: csv_reader_next() copies the fields of one row, unquoted, into a scratch buffer
 *  (each NUL-terminated) and points row->fields into it. A malformed row is read to its end all
 *  the same, so the next call starts on the next row; an unterminated quote, which would swallow
 *  the rest of the file, instead resumes on the line after the opening quote: the reader finds
 *  that line's start in the raw bytes (counting line feeds forward from the last place it
 *  resumed at) and starts decoding again there. With a row bound the scratch buffer stops
 *  growing at the bound: the rest of an overlong row is only skipped.
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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_HEAD 1024 // bytes csv_sniff() looks at

struct csv_reader_t {
    int fd;                  // the file read (borrowed), or -1 when reading data
    char *data;              // a copy of the input when reading from memory
    size_t data_size;        // bytes in data
    size_t chunk;            // bytes read from the source at a time
    csv_encoding_t encoding; // what the first pass found
    iconv_t cd;              // GB18030 to UTF-8 (GB18030 only; else (iconv_t) -1)
    uint64_t raw_at;         // source offset of the next byte to read
    bool raw_end;            // the source has given all its bytes
    char *raw;               // bytes read and not yet decoded (GB18030), or scratch for a scan
    size_t raw_len;          // bytes held in raw
    char *win;               // decoded text; win[pos..len) is not tokenized yet
    size_t win_cap;          // bytes allocated for win
    size_t pos;              // offset in win of the next byte to tokenize
    size_t len;              // bytes of text in win
    uint64_t win_at;         // offset in the text of win[0] (for the length of a row)
    unsigned line;           // physical line of win[pos] (1-based)
    unsigned mark_line;      // a line whose start in the source is known
    uint64_t mark_at;        // its source offset (resuming after a quote scans on from here)
    bool failed;             // the source could not be read on: every next() says so
    char failure[256];       // why
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

/*  Reads up to n bytes of the source at offset at into buf. Returns the bytes read (0 at the
 *  end), or -1 with errno set. */
static ssize_t s_source_read(const csv_reader_t *self, uint64_t at, void *buf, size_t n)
{
    if (self->fd < 0) {
        if (at >= self->data_size)
            return 0;
        size_t left = self->data_size - (size_t) at;
        if (n > left)
            n = left;
        memcpy(buf, self->data + at, n);
        return (ssize_t) n;
    }
    ssize_t got;
    do
        got = pread(self->fd, buf, n, (off_t) at);
    while (got < 0 && errno == EINTR);
    return got;
}

/*  Fills buf with up to n bytes from offset at, as many as the source has. Returns the bytes
 *  read, or -1 with errno set. */
static ssize_t s_source_read_full(const csv_reader_t *self, uint64_t at, char *buf, size_t n)
{
    size_t used = 0;
    while (used < n) {
        ssize_t got = s_source_read(self, at + used, buf + used, n - used);
        if (got < 0)
            return -1;
        if (got == 0)
            break;
        used += (size_t) got;
    }
    return (ssize_t) used;
}

/*  Marks the reader as failed: from now on csv_reader_next() returns -2 with this message. */
static void s_fail(csv_reader_t *self, const char *why)
{
    if (self->failed)
        return;
    self->failed = true;
    snprintf(self->failure, sizeof self->failure, "%s", why);
}

/*  The same for an I/O error (errno). */
static void s_fail_io(csv_reader_t *self)
{
    char why[200];
    snprintf(why, sizeof why, "could not read the file: %s", strerror(errno));
    s_fail(self, why);
}

/*  Validates data[0..size) as UTF-8 (Unicode 15, table 3-7: no overlong forms, no surrogates,
 *  nothing above U+10FFFF). Returns the length of the longest prefix of whole, valid sequences.
 *  *bad is true when the byte there is invalid; false when the prefix is all of data, or when
 *  the sequence there is cut off by the end of data and !final (more bytes may complete it). */
static size_t s_utf8_prefix(const unsigned char *data, size_t size, bool final, bool *bad)
{
    size_t i = 0;
    *bad = false;
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
            *bad = true; // a continuation byte, C0, C1 or F5..FF
            return i;
        }
        if (size - i - 1 < need) {
            *bad = final;
            return i;
        }
        if (data[i + 1] < lo || data[i + 1] > hi) {
            *bad = true;
            return i;
        }
        for (size_t k = 2; k <= need; k++) {
            if (data[i + k] < 0x80 || data[i + k] > 0xBF) {
                *bad = true;
                return i;
            }
        }
        i += need + 1;
    }
    return size;
}

/*  First pass, UTF-8: validates the source from offset from to its end, a chunk at a time.
 *  Returns 0 when it is all valid, 1 with *bad_at the offset of the first bad byte, or -1 when
 *  the source could not be read (errno). */
static int s_scan_utf8(csv_reader_t *self, uint64_t from, uint64_t *bad_at)
{
    char *buf = self->raw; // chunk + 8 bytes: a chunk and a carried, cut-off sequence
    size_t carry = 0;
    uint64_t at = from; // source offset of buf[0]
    while (true) {
        ssize_t got = s_source_read(self, at + carry, buf + carry, self->chunk);
        if (got < 0)
            return -1;
        size_t size = carry + (size_t) got;
        bool bad = false;
        size_t ok = s_utf8_prefix((const unsigned char *) buf, size, got == 0, &bad);
        if (bad) {
            *bad_at = at + ok;
            return 1;
        }
        if (got == 0)
            return 0;
        carry = size - ok;
        memmove(buf, buf + ok, carry);
        at += ok;
    }
}

/*  First pass, GB18030: decodes the whole source into a scratch buffer, a chunk at a time.
 *  Returns 0 when it all decodes, 1 with *bad_at the offset of the first byte iconv refused,
 *  or -1 when the source could not be read (errno). */
static int s_scan_gb18030(csv_reader_t *self, uint64_t *bad_at)
{
    char *buf = self->raw;
    size_t carry = 0;
    uint64_t at = 0; // source offset of buf[0]
    iconv(self->cd, NULL, NULL, NULL, NULL);
    while (true) {
        ssize_t got = s_source_read(self, at + carry, buf + carry, self->chunk);
        if (got < 0)
            return -1;
        size_t size = carry + (size_t) got;
        char *in = buf;
        size_t in_left = size;
        while (in_left > 0) {
            char *out = self->win;
            size_t out_left = self->win_cap;
            if (iconv(self->cd, &in, &in_left, &out, &out_left) != (size_t) -1)
                break;
            if (errno == E2BIG)
                continue;
            if (errno == EINVAL && got > 0)
                break; // a character cut off by the chunk: carried over
            // EILSEQ (an invalid sequence) or EINVAL (a sequence cut off by the end of data)
            *bad_at = at + (uint64_t) (in - buf);
            return 1;
        }
        if (got == 0)
            return 0;
        carry = in_left;
        memmove(buf, in, carry);
        at += size - carry;
    }
}

/*  Returns the 1-based line of the source's byte at offset at (the source's first `at` bytes
 *  read again, counting line feeds). */
static unsigned s_line_at(csv_reader_t *self, uint64_t at)
{
    unsigned line = 1;
    uint64_t off = 0;
    while (off < at) {
        size_t want = at - off < self->chunk ? (size_t) (at - off) : self->chunk;
        ssize_t got = s_source_read(self, off, self->raw, want);
        if (got <= 0)
            break;
        for (const char *p = self->raw, *end = p + got; (p = memchr(p, '\n', (size_t) (end - p)));
             p++)
            line++;
        off += (uint64_t) got;
    }
    return line;
}

/*  Writes up to four bytes of the source from offset at, as "0xe9 0x2c", into buf. */
static void s_show_bytes(const csv_reader_t *self, uint64_t at, char *buf, size_t buflen)
{
    unsigned char bytes[4];
    ssize_t n = s_source_read_full(self, at, (char *) bytes, sizeof bytes);
    size_t used = 0;
    buf[0] = '\0';
    for (ssize_t i = 0; i < n && used < buflen; i++) {
        int w = snprintf(buf + used, buflen - used, "%s0x%02x", i > 0 ? " " : "", bytes[i]);
        if (w < 0)
            break;
        used += (size_t) w;
    }
}

/*  Settles the encoding (the first pass) and where the text starts. Returns 0, or -1 with err
 *  when the source is refused; a source that cannot be read leaves the reader failed. */
static int s_settle(csv_reader_t *self, char *err, size_t errlen)
{
    static const char bom[] = "\xEF\xBB\xBF";        // U+FEFF in UTF-8
    static const char gb_bom[] = "\x84\x31\x95\x33"; // U+FEFF in GB18030
    char head[S_HEAD];
    char shown[32];
    ssize_t got = s_source_read_full(self, 0, head, sizeof head);
    if (got < 0)
        goto unreadable;
    size_t n = (size_t) got;
    switch (csv_sniff(head, n)) {
    case CSV_KIND_XLSX:
        return errorf(err, errlen,
                      "file is a ZIP archive (an Excel .xlsx workbook?), not CSV text");
    case CSV_KIND_XLS:
        return errorf(err, errlen,
                      "file is an OLE2 document (an Excel .xls workbook?), not CSV text");
    case CSV_KIND_UTF16:
        return errorf(err, errlen, "file is UTF-16 text; CSV must be UTF-8 or GB18030");
    case CSV_KIND_TEXT: break;
    }

    uint64_t bad = 0;
    int rc;
    if (n >= 3 && memcmp(head, bom, 3) == 0) {
        if ((rc = s_scan_utf8(self, 3, &bad)) < 0)
            goto unreadable;
        if (rc > 0) {
            s_show_bytes(self, bad, shown, sizeof shown);
            return errorf(err, errlen,
                          "cannot decode line %u: byte sequence %s is not valid UTF-8, though the "
                          "file starts with a UTF-8 byte-order mark",
                          s_line_at(self, bad), shown);
        }
        self->encoding = CSV_UTF8_BOM;
        self->raw_at = 3;
        return 0;
    }
    uint64_t bad_utf8 = 0;
    if ((rc = s_scan_utf8(self, 0, &bad_utf8)) < 0)
        goto unreadable;
    if (rc == 0) {
        self->encoding = CSV_UTF8;
        return 0;
    }
    errno = 0;
    self->cd = iconv_open("UTF-8", "GB18030");
    if (self->cd == (iconv_t) -1)
        return errorf(err, errlen, "could not open a GB18030 to UTF-8 converter: %s",
                      strerror(errno));
    uint64_t bad_gb = 0;
    if ((rc = s_scan_gb18030(self, &bad_gb)) < 0)
        goto unreadable;
    if (rc > 0) {
        bad = bad_gb > bad_utf8 ? bad_gb : bad_utf8;
        s_show_bytes(self, bad, shown, sizeof shown);
        return errorf(err, errlen,
                      "cannot decode line %u: byte sequence %s is neither UTF-8 nor GB18030",
                      s_line_at(self, bad), shown);
    }
    self->encoding = CSV_GB18030;
    iconv(self->cd, NULL, NULL, NULL, NULL);
    // GB18030's own byte-order mark decodes to U+FEFF: dropped like UTF-8's
    if (n >= 4 && memcmp(head, gb_bom, 4) == 0)
        self->raw_at = 4;
    return 0;
unreadable:
    s_fail_io(self);
    return 0;
}

/*  A reader over fd (>= 0) or over data (taken: freed with the reader). */
static csv_reader_t *s_reader_new(int fd, char *data, size_t size, size_t chunk, char *err,
                                  size_t errlen)
{
    csv_reader_t *self = xcalloc(1, sizeof *self);
    self->fd = fd;
    self->data = data;
    self->data_size = size;
    self->chunk = chunk ? chunk : CSV_CHUNK;
    self->cd = (iconv_t) -1;
    self->raw = xmalloc(self->chunk + 8);
    // A GB18030 chunk decodes to at most 1.5 times its bytes (2 bytes become 3); 16 more hold
    // the characters the tokenizer left and one character of 4 bytes for a chunk of 1.
    self->win_cap = self->chunk * 2 + 16;
    self->win = xmalloc(self->win_cap);
    self->line = 1;
    self->mark_line = 1;
    if (s_settle(self, err, errlen) != 0) {
        csv_reader_destroy(&self);
        return NULL;
    }
    return self;
}

csv_reader_t *csv_reader_new(const char *data, size_t size, char *err, size_t errlen)
{
    char *copy = xmalloc(size ? size : 1);
    if (size)
        memcpy(copy, data, size);
    return s_reader_new(-1, copy, size, CSV_CHUNK, err, errlen);
}

csv_reader_t *csv_reader_open(int fd, size_t chunk, char *err, size_t errlen)
{
    return s_reader_new(fd, NULL, 0, chunk, err, errlen);
}

void csv_reader_destroy(csv_reader_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    csv_reader_t *self = *self_p;
    if (self->cd != (iconv_t) -1)
        iconv_close(self->cd);
    free(self->data);
    free(self->raw);
    free(self->win);
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

/*  Decodes more of the source onto the end of the window (moving what is left of it to the
 *  start first). Returns true when text was added; false at the end of the text, or when the
 *  source failed (self->failed). */
static bool s_fill(csv_reader_t *self)
{
    if (self->failed)
        return false;
    if (self->pos > 0) {
        memmove(self->win, self->win + self->pos, self->len - self->pos);
        self->win_at += self->pos;
        self->len -= self->pos;
        self->pos = 0;
    }
    size_t room = self->win_cap - self->len;
    if (self->encoding != CSV_GB18030) {
        if (self->raw_end)
            return false;
        ssize_t got = s_source_read(self, self->raw_at, self->win + self->len,
                                    room < self->chunk ? room : self->chunk);
        if (got < 0) {
            s_fail_io(self);
            return false;
        }
        if (got == 0) {
            self->raw_end = true;
            return false;
        }
        self->raw_at += (uint64_t) got;
        self->len += (size_t) got;
        return true;
    }
    while (true) {
        if (self->raw_len > 0) {
            char *in = self->raw, *out = self->win + self->len;
            size_t in_left = self->raw_len, out_left = room;
            size_t rc = iconv(self->cd, &in, &in_left, &out, &out_left);
            int why = rc == (size_t) -1 ? errno : 0;
            size_t made = room - out_left;
            memmove(self->raw, in, in_left);
            self->raw_len = in_left;
            self->len += made;
            if (why == EILSEQ || (why == EINVAL && self->raw_end)) {
                s_fail(self, "cannot decode the file any more: it changed after it was first "
                             "read");
                return made > 0;
            }
            if (made > 0)
                return true;
            // nothing made: a character cut off by the chunk (EINVAL) needs more bytes
        }
        if (self->raw_end)
            return false;
        ssize_t got = s_source_read(self, self->raw_at, self->raw + self->raw_len, self->chunk);
        if (got < 0) {
            s_fail_io(self);
            return false;
        }
        if (got == 0) {
            self->raw_end = true;
            if (self->raw_len == 0)
                return false;
            continue; // what is left is cut off: iconv says so
        }
        self->raw_at += (uint64_t) got;
        self->raw_len += (size_t) got;
    }
}

/*  The byte k places after the next one to tokenize (k <= 1), or -1 at the end of the text. */
static inline int s_peek(csv_reader_t *self, size_t k)
{
    while (self->pos + k >= self->len) {
        if (!s_fill(self))
            return -1;
    }
    return (unsigned char) self->win[self->pos + k];
}

/*  Offset in the text of the next byte to tokenize. */
static inline uint64_t s_offset(const csv_reader_t *self)
{
    return self->win_at + self->pos;
}

/*  Appends data[0..n) to the row's scratch buffer. A row within the bound never needs more
 *  than its bytes and a NUL per field: past that it is overlong, and the rest of it is only
 *  skipped. */
static void s_scratch_put(csv_reader_t *self, const char *data, size_t n)
{
    if (n == 0)
        return;
    if (self->max_row) {
        size_t limit = 2 * self->max_row + 2;
        if (self->scratch_len >= limit)
            return;
        if (n > limit - self->scratch_len)
            n = limit - self->scratch_len;
    }
    if (self->scratch_len + n > self->scratch_cap) {
        size_t cap = self->scratch_cap ? self->scratch_cap : 256;
        while (cap < self->scratch_len + n)
            cap *= 2;
        self->scratch = xrealloc(self->scratch, cap);
        self->scratch_cap = cap;
    }
    memcpy(self->scratch + self->scratch_len, data, n);
    self->scratch_len += n;
}

static void s_scratch_byte(csv_reader_t *self, char c)
{
    s_scratch_put(self, &c, 1);
}

/*  Copies the run of ordinary bytes at the current position into the scratch buffer: up to a
 *  comma, CR, LF or NUL (unquoted), or up to a quote, LF or NUL (quoted), or the end of text. */
static void s_copy_run(csv_reader_t *self, bool quoted)
{
    do {
        const char *p = self->win + self->pos, *end = self->win + self->len, *q = p;
        if (quoted) {
            while (q < end && *q != '"' && *q != '\n' && *q != '\0')
                q++;
        } else {
            while (q < end && *q != ',' && *q != '\n' && *q != '\r' && *q != '\0')
                q++;
        }
        s_scratch_put(self, p, (size_t) (q - p));
        self->pos += (size_t) (q - p);
        if (q < end)
            return;
    } while (s_fill(self));
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

/*  Length of the line break at the current position: 1 for LF, 2 for CRLF, 1 for a CR that
 *  ends the text; 0 when there is none. */
static size_t s_newline(csv_reader_t *self)
{
    int c = s_peek(self, 0);
    if (c == '\n')
        return 1;
    if (c == '\r') {
        int next = s_peek(self, 1);
        if (next < 0)
            return 1;
        if (next == '\n')
            return 2;
    }
    return 0;
}

/*  Skips blank lines; returns false at the end of the text. */
static bool s_skip_blank_lines(csv_reader_t *self)
{
    size_t n;
    while ((n = s_newline(self)) > 0) {
        self->pos += n;
        self->line++;
    }
    return s_peek(self, 0) >= 0;
}

/*  Moves past the line break at the current position, if there is one. */
static void s_consume_newline(csv_reader_t *self)
{
    size_t n = s_newline(self);
    if (n > 0) {
        self->pos += n;
        self->line++;
    }
}

/*  Goes on reading at the start of line `target` (the line after an unterminated quote's):
 *  finds it in the raw source by counting line feeds from the last line start known, and
 *  starts decoding again there. Without such a line, stays at the end, on line target - 1. */
static void s_resume_at_line(csv_reader_t *self, unsigned target)
{
    uint64_t at = self->mark_at;
    unsigned line = self->mark_line;
    while (line < target) {
        ssize_t got = s_source_read(self, at, self->raw, self->chunk);
        if (got < 0) {
            s_fail_io(self);
            return;
        }
        if (got == 0)
            break;
        const char *p = self->raw, *end = p + got, *nl;
        while (line < target && (nl = memchr(p, '\n', (size_t) (end - p)))) {
            line++;
            p = nl + 1;
        }
        at += line == target ? (uint64_t) (p - self->raw) : (uint64_t) got;
    }
    self->pos = self->len = 0;
    self->raw_len = 0;
    self->raw_at = at;
    if (self->cd != (iconv_t) -1)
        iconv(self->cd, NULL, NULL, NULL, NULL);
    if (line < target) {
        self->raw_end = true;
        self->line = target - 1;
        return;
    }
    self->raw_end = false;
    self->line = target;
    self->mark_line = target;
    self->mark_at = at;
}

/*  The answer to a call after the source failed. */
static int s_failed(csv_reader_t *self, csv_row_t *row, char *err, size_t errlen)
{
    row->line = self->line;
    row->count = 0;
    row->fields = NULL;
    self->problem = CSV_PROBLEM_READ;
    errorf(err, errlen, "%s", self->failure);
    return -2;
}

int csv_reader_next(csv_reader_t *self, csv_row_t *row, char *err, size_t errlen)
{
    if (self->failed)
        return s_failed(self, row, err, errlen);
    if (!s_skip_blank_lines(self))
        return self->failed ? s_failed(self, row, err, errlen) : 0;

    unsigned row_line = self->line;
    uint64_t row_start = s_offset(self);
    self->scratch_len = 0;
    self->field_count = 0;
    self->problem = CSV_PROBLEM_NONE;
    // The first problem of the row, reported once the row has been read to its end.
    const char *problem = NULL;
    size_t problem_column = 0;

    while (true) {
        s_field_begin(self);
        size_t column = self->field_count;
        int c = s_peek(self, 0);
        if (c == '"') {
            unsigned quote_line = self->line;
            self->pos++;
            bool closed = false;
            while (true) {
                s_copy_run(self, true);
                c = s_peek(self, 0);
                if (c < 0)
                    break;
                if (c == '"') {
                    if (s_peek(self, 1) == '"') {
                        s_scratch_byte(self, '"');
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
                s_scratch_byte(self, (char) c);
                self->pos++;
            }
            if (self->failed)
                return s_failed(self, row, err, errlen);
            if (!closed) {
                s_resume_at_line(self, quote_line + 1);
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
            c = s_peek(self, 0);
            if (c >= 0 && c != ',' && s_newline(self) == 0 && !problem) {
                problem = "text after closing quote";
                problem_column = column;
                self->problem = CSV_PROBLEM_AFTER_QUOTE;
            }
        }
        while (true) {
            s_copy_run(self, false);
            c = s_peek(self, 0);
            if (c < 0 || c == ',' || s_newline(self) > 0)
                break;
            if (c == '\0' && !problem) {
                problem = "NUL byte";
                problem_column = column;
                self->problem = CSV_PROBLEM_NUL;
            }
            s_scratch_byte(self, (char) c); // a NUL, or a CR that ends no line
            self->pos++;
        }
        s_scratch_byte(self, '\0');
        if (s_peek(self, 0) == ',') {
            self->pos++;
            continue;
        }
        if (self->failed)
            return s_failed(self, row, err, errlen);
        uint64_t row_bytes = s_offset(self) - row_start;
        s_consume_newline(self);
        if (self->max_row && row_bytes > self->max_row) {
            row->line = row_line;
            row->count = 0;
            row->fields = NULL;
            self->problem = CSV_PROBLEM_TOO_LONG;
            return errorf(err, errlen, "row has %llu bytes, more than the %zu allowed",
                          (unsigned long long) row_bytes, self->max_row);
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
