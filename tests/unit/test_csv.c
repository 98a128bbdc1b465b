/*  test_csv - the CSV reader: encodings, quoting, line numbers, malformed rows, chunks
 *
 *  Most cases are tables of (input, expected dump): s_dump() reads every row and writes one
 *  line per row, `LINE:field|field` for a good row and `LINE!message` for a bad one, with CR and
 *  LF inside fields shown as \r and \n. Comparing dumps checks fields, line numbers, recovery
 *  after errors and the messages at once.
 *
 *  Every table is read twice more: from a file streamed in chunks of 1 to 9 and 16 bytes, so
 *  that each chunk boundary falls at every place of every case (inside a multi-byte character,
 *  a quoted field, a CRLF, a byte-order mark), and the dump must be the same.
 */
#include "csv.h"
#include "util.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

//  The chunk sizes every table is also read with.
static const size_t s_chunks[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 16};

//  A file holding data[0..size), open for reading and writing (already unlinked).
static int s_file(const char *data, size_t size)
{
    char path[] = "/tmp/test_csv.XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    unlink(path);
    cr_assert_eq(write(fd, data, size), (ssize_t) size);
    return fd;
}

//  Reads every row of reader (NULL: err says why it was not created) and destroys it; returns
//  the dump (newly allocated).
static char *s_dump_reader(csv_reader_t *reader, const char *err)
{
    if (!reader)
        return xasprintf("NEW!%s", err);

    char *out = NULL;
    size_t out_size = 0;
    FILE *f = open_memstream(&out, &out_size);
    cr_assert_not_null(f);
    csv_row_t row;
    int rc;
    char why[256];
    while ((rc = csv_reader_next(reader, &row, why, sizeof why)) != 0) {
        cr_assert_neq(rc, -2, "%s", why);
        if (rc < 0) {
            fprintf(f, "%u!%s\n", row.line, why);
            continue;
        }
        cr_assert_eq(rc, 1);
        fprintf(f, "%u:", row.line);
        for (size_t i = 0; i < row.count; i++) {
            if (i > 0)
                fputc('|', f);
            for (const char *p = row.fields[i]; *p; p++) {
                if (*p == '\n')
                    fputs("\\n", f);
                else if (*p == '\r')
                    fputs("\\r", f);
                else
                    fputc(*p, f);
            }
        }
        fputc('\n', f);
    }
    // The end of data is sticky.
    cr_assert_eq(csv_reader_next(reader, &row, NULL, 0), 0);
    fclose(f);
    csv_reader_destroy(&reader);
    cr_assert_null(reader);
    return out;
}

//  Reads all of data; returns the dump (newly allocated), or "NEW!message" when the reader
//  cannot be created. *encoding gets what the reader found, when given.
static char *s_dump(const char *data, size_t size, csv_encoding_t *encoding)
{
    char err[256] = "";
    csv_reader_t *reader = csv_reader_new(data, size, err, sizeof err);
    if (reader && encoding)
        *encoding = csv_reader_encoding(reader);
    return s_dump_reader(reader, err);
}

//  The same, from a file read chunk bytes at a time.
static char *s_dump_chunked(const char *data, size_t size, size_t chunk, csv_encoding_t *encoding)
{
    int fd = s_file(data, size);
    char err[256] = "";
    csv_reader_t *reader = csv_reader_open(fd, chunk, err, sizeof err);
    if (reader && encoding)
        *encoding = csv_reader_encoding(reader);
    char *out = s_dump_reader(reader, err);
    close(fd);
    return out;
}

//  Converts UTF-8 text to GB18030 with iconv; returns a newly allocated buffer.
static char *s_to_gb18030(const char *utf8, size_t *size)
{
    iconv_t cd = iconv_open("GB18030", "UTF-8");
    cr_assert_neq(cd, (iconv_t) -1, "iconv_open: %s", strerror(errno));
    size_t in_left = strlen(utf8), out_cap = in_left * 2 + 8, out_left = out_cap;
    char *in = (char *) utf8;
    char *out = xmalloc(out_cap);
    char *outp = out;
    cr_assert_neq(iconv(cd, &in, &in_left, &outp, &out_left), (size_t) -1, "iconv: %s",
                  strerror(errno));
    iconv_close(cd);
    *size = out_cap - out_left;
    return out;
}

typedef struct {
    const char *name;   // what the case shows
    const char *input;  // the file's bytes
    size_t size;        // its length when it holds NUL bytes, else 0 (strlen)
    const char *expect; // the dump
} dump_case_t;

static void s_run_cases(const dump_case_t *cases, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const dump_case_t *c = &cases[i];
        size_t size = c->size ? c->size : strlen(c->input);
        char *got = s_dump(c->input, size, NULL);
        cr_expect_str_eq(got, c->expect, "case \"%s\":\n got:\n%s\n want:\n%s", c->name, got,
                         c->expect);
        free(got);
        for (size_t k = 0; k < sizeof s_chunks / sizeof s_chunks[0]; k++) {
            got = s_dump_chunked(c->input, size, s_chunks[k], NULL);
            cr_expect_str_eq(got, c->expect, "case \"%s\", chunks of %zu:\n got:\n%s\n want:\n%s",
                             c->name, s_chunks[k], got, c->expect);
            free(got);
        }
    }
}

Test(csv, tokenizing)
{
    static const dump_case_t cases[] = {
        {"empty input", "", 0, ""},
        {"LF", "a,b\nc,d\n", 0, "1:a|b\n2:c|d\n"},
        {"CRLF", "a,b\r\nc,d\r\n", 0, "1:a|b\n2:c|d\n"},
        {"no final line break", "a,b\nc,d", 0, "1:a|b\n2:c|d\n"},
        {"final CR without LF", "a,b\r\nc,d\r", 0, "1:a|b\n2:c|d\n"},
        {"single field", "a\n", 0, "1:a\n"},
        {"only blank lines", "\n\r\n\n", 0, ""},
        {"blank lines skipped, lines still counted", "\na,b\n\n\r\nc,d\n\n", 0,
         "2:a|b\n5:c|d\n"},
        {"empty fields", ",,\n", 0, "1:||\n"},
        {"trailing comma", "a,\n", 0, "1:a|\n"},
        {"trailing comma at end of data", "a,", 0, "1:a|\n"},
        {"leading comma", ",a", 0, "1:|a\n"},
        {"unquoted fields kept as they are", " a , b\t\n", 0, "1: a | b\t\n"},
        {"white space line is a row", "  \n", 0, "1:  \n"},
        {"quoted comma", "\"a,b\",c\n", 0, "1:a,b|c\n"},
        {"doubled quotes", "\"a \"\"b\"\", c\",d\n", 0, "1:a \"b\", c|d\n"},
        {"quoted empty and quoted quote", "\"\",\"\"\"\"\n", 0, "1:|\"\n"},
        {"quoted field at end of data", "a,\"b\"", 0, "1:a|b\n"},
        {"quoted field then CRLF", "\"a\"\r\n\"b\"\r\n", 0, "1:a\n2:b\n"},
        {"embedded LF", "h\n\"x\ny\",z\nnext\n", 0, "1:h\n2:x\\ny|z\n4:next\n"},
        {"embedded CRLF and a blank line inside quotes", "h\r\n\"a\r\nb\r\n\r\nc\",d\r\nnext\r\n",
         0, "1:h\n2:a\\r\\nb\\r\\n\\r\\nc|d\n6:next\n"},
        {"two multi-line fields in one row", "\"a\nb\",\"c\nd\ne\"\nz\n", 0,
         "1:a\\nb|c\\nd\\ne\n5:z\n"},
        {"quote inside an unquoted field kept", "ab\"c,d\n", 0, "1:ab\"c|d\n"},
        {"lone CR inside a field kept", "a\rb,c\n", 0, "1:a\\rb|c\n"},
        {"UTF-8 Chinese", "学校,第1学校\n", 0, "1:学校|第1学校\n"},
    };
    s_run_cases(cases, sizeof cases / sizeof cases[0]);
}

Test(csv, malformed_rows)
{
    static const dump_case_t cases[] = {
        {"unterminated quote: continues on the next line", "h\na,\"bc\nd,e\nf,g\n", 0,
         "1:h\n2!unterminated quoted field in column 2\n3:d|e\n4:f|g\n"},
        {"unterminated quote opened on a later line of the row", "h\n\"x\ny\",\"z\nw\n", 0,
         "1:h\n2!unterminated quoted field in column 2 (opened on line 3)\n4:w\n"},
        {"unterminated quote on the last line", "a\n\"b", 0,
         "1:a\n2!unterminated quoted field in column 1\n"},
        {"unterminated quote alone", "\"", 0, "1!unterminated quoted field in column 1\n"},
        {"text after closing quote", "\"a\"b,c\nd\n", 0,
         "1!text after closing quote in column 1\n2:d\n"},
        {"space after closing quote", "x,\"a\" ,b\r\ny\r\n", 0,
         "1!text after closing quote in column 2\n2:y\n"},
        {"text after a multi-line quoted field", "\"a\nb\"x,\"c\nd\"\ne\n", 0,
         "1!text after closing quote in column 1\n4:e\n"},
        {"NUL in an unquoted field", "a\0b,c\nd\n", 8, "1!NUL byte in column 1\n2:d\n"},
        {"NUL in a quoted field", "x,\"a\0\"\ny\n", 9, "1!NUL byte in column 2\n2:y\n"},
        {"NUL alone, no final line break after", "\0\nz", 3, "1!NUL byte in column 1\n2:z\n"},
        {"first problem of a row wins", "\"a\"b,\0\nc\n", 9,
         "1!text after closing quote in column 1\n2:c\n"},
        {"good rows around bad ones keep their lines", "a\n\"b\"c\n\nd\n\"e\nf\"g\nh", 0,
         "1:a\n2!text after closing quote in column 1\n4:d\n5!text after closing quote in "
         "column 1\n7:h\n"},
    };
    s_run_cases(cases, sizeof cases / sizeof cases[0]);
}

Test(csv, encoding_utf8)
{
    csv_encoding_t enc = CSV_GB18030;
    static const char data[] = "school_code,名称\n2143004052,第1学校\n";
    char *got = s_dump(data, sizeof data - 1, &enc);
    cr_assert_eq(enc, CSV_UTF8);
    cr_assert_str_eq(got, "1:school_code|名称\n2:2143004052|第1学校\n");
    free(got);

    got = s_dump("plain ascii\n", 12, &enc);
    cr_assert_eq(enc, CSV_UTF8);
    free(got);
}

Test(csv, encoding_utf8_bom)
{
    static const char data[] = "\xEF\xBB\xBFschool_code,名称\r\n2143004052,第1学校\r\n";
    csv_encoding_t enc = CSV_UTF8;
    char *got = s_dump(data, sizeof data - 1, &enc);
    cr_assert_eq(enc, CSV_UTF8_BOM);
    cr_assert_str_eq(got, "1:school_code|名称\n2:2143004052|第1学校\n");
    free(got);

    // A mark and nothing else is an empty UTF-8 file.
    got = s_dump("\xEF\xBB\xBF", 3, &enc);
    cr_assert_eq(enc, CSV_UTF8_BOM);
    cr_assert_str_eq(got, "");
    free(got);

    // Only a leading mark is dropped; a BOM later on is data.
    got = s_dump("\xEF\xBB\xBF\xEF\xBB\xBF" "a\n", 8, &enc);
    cr_assert_str_eq(got, "1:\xEF\xBB\xBF" "a\n");
    free(got);
}

Test(csv, encoding_gb18030_from_iconv)
{
    static const char utf8[] = "school_code,name,note\r\n"
                               "2143004052,第1学校,\"多行\r\n备注，含逗号\"\r\n"
                               "\r\n"
                               "3143004051,第2学校,€é𠀀\r\n";
    size_t size = 0;
    char *gb = s_to_gb18030(utf8, &size);
    cr_assert_neq(memcmp(gb, utf8, size < strlen(utf8) ? size : strlen(utf8)), 0);

    csv_encoding_t enc = CSV_UTF8;
    char *got = s_dump(gb, size, &enc);
    cr_assert_eq(enc, CSV_GB18030);
    cr_assert_str_eq(got, "1:school_code|name|note\n"
                          "2:2143004052|第1学校|多行\\r\\n备注，含逗号\n"
                          "5:3143004051|第2学校|€é𠀀\n");
    free(got);
    free(gb);
}

Test(csv, encoding_gb18030_bytes)
{
    // 第 = B5 DA, 学 = D1 A7, 校 = D0 A3 (two bytes each); U+20000 = 95 32 82 36 (four bytes)
    static const char data[] = "\xB5\xDA\x31\xD1\xA7\xD0\xA3,\x95\x32\x82\x36\n";
    csv_encoding_t enc = CSV_UTF8;
    char *got = s_dump(data, sizeof data - 1, &enc);
    cr_assert_eq(enc, CSV_GB18030);
    cr_assert_str_eq(got, "1:第1学校|𠀀\n");
    free(got);

    // GB18030's own byte-order mark (84 31 95 33) is dropped too.
    static const char marked[] = "\x84\x31\x95\x33\xB5\xDA,x\n";
    got = s_dump(marked, sizeof marked - 1, &enc);
    cr_assert_eq(enc, CSV_GB18030);
    cr_assert_str_eq(got, "1:第|x\n");
    free(got);
}

Test(csv, encoding_neither)
{
    static const dump_case_t cases[] = {
        {"0xff", "a\n\xff\n", 0,
         "NEW!cannot decode line 2: byte sequence 0xff 0x0a is neither UTF-8 nor GB18030"},
        {"lone 0x80 at start", "\x80", 0,
         "NEW!cannot decode line 1: byte sequence 0x80 is neither UTF-8 nor GB18030"},
        {"GB18030 cut off at the end", "ok\nok\n\xB5\xDA,\x81", 0,
         "NEW!cannot decode line 3: byte sequence 0x81 is neither UTF-8 nor GB18030"},
        {"GB18030 with a bad trail byte", "h\n\xB5\xDA\n\xB5\x7F\n", 0,
         "NEW!cannot decode line 3: byte sequence 0xb5 0x7f 0x0a is neither UTF-8 nor GB18030"},
        // UTF-8 gets as far as line 3, GB18030 fails on line 1: the farther one is named.
        {"UTF-8 damaged further on", "学\n\n\xff", 0,
         "NEW!cannot decode line 3: byte sequence 0xff is neither UTF-8 nor GB18030"},
        {"BOM, then not UTF-8", "\xEF\xBB\xBFh\n\xB5\xDA\n", 0,
         "NEW!cannot decode line 2: byte sequence 0xb5 0xda 0x0a is not valid UTF-8, though "
         "the file starts with a UTF-8 byte-order mark"},
    };
    s_run_cases(cases, sizeof cases / sizeof cases[0]);

    // The error buffer may be absent.
    cr_assert_null(csv_reader_new("\xff", 1, NULL, 0));
}

//  Sequences the strict validator must refuse. After a BOM the file must be UTF-8, so each
//  one is an error; without a BOM each is anything but UTF-8.
Test(csv, utf8_strict_refusals)
{
    static const struct {
        const char *name;
        const char *bytes;
    } cases[] = {
        {"overlong 2-byte C0 80", "\xC0\x80"},
        {"overlong 2-byte C1 BF", "\xC1\xBF"},
        {"overlong 3-byte E0 80 80", "\xE0\x80\x80"},
        {"overlong 3-byte E0 9F BF", "\xE0\x9F\xBF"},
        {"overlong 4-byte F0 80 80 80", "\xF0\x80\x80\x80"},
        {"overlong 4-byte F0 8F BF BF", "\xF0\x8F\xBF\xBF"},
        {"surrogate U+D800", "\xED\xA0\x80"},
        {"surrogate U+DFFF", "\xED\xBF\xBF"},
        {"U+110000", "\xF4\x90\x80\x80"},
        {"F5 lead", "\xF5\x80\x80\x80"},
        {"FF", "\xFF"},
        {"lone continuation", "\x80"},
        {"truncated at end", "\xE4\xB8"},
        {"truncated before ASCII", "\xE4\xB8\x41"},
        {"bad third byte", "\xE4\xB8\xC0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *data = xasprintf("\xEF\xBB\xBFx\n%s\n", cases[i].bytes);
        char err[256] = "";
        csv_reader_t *reader = csv_reader_new(data, strlen(data), err, sizeof err);
        cr_expect_null(reader, "%s: accepted after a BOM", cases[i].name);
        csv_reader_destroy(&reader);
        char *want = xasprintf("cannot decode line 2: byte sequence 0x%02x",
                               (unsigned char) cases[i].bytes[0]);
        cr_expect(strncmp(err, want, strlen(want)) == 0, "%s: got \"%s\"", cases[i].name, err);
        cr_expect(strstr(err, "is not valid UTF-8") != NULL, "%s: got \"%s\"", cases[i].name,
                  err);
        free(want);

        reader = csv_reader_new(data + 3, strlen(data) - 3, err, sizeof err);
        if (reader)
            cr_expect_eq(csv_reader_encoding(reader), CSV_GB18030, "%s: taken as UTF-8",
                         cases[i].name);
        csv_reader_destroy(&reader);
        free(data);
    }
}

Test(csv, utf8_strict_edges_accepted)
{
    static const char *edges[] = {
        "\x7F",             // U+007F
        "\xC2\x80",         // U+0080
        "\xDF\xBF",         // U+07FF
        "\xE0\xA0\x80",     // U+0800
        "\xED\x9F\xBF",     // U+D7FF
        "\xEE\x80\x80",     // U+E000
        "\xEF\xBF\xBF",     // U+FFFF
        "\xF0\x90\x80\x80", // U+10000
        "\xF4\x8F\xBF\xBF", // U+10FFFF
    };
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        char err[256] = "";
        csv_reader_t *reader = csv_reader_new(edges[i], strlen(edges[i]), err, sizeof err);
        cr_assert_not_null(reader, "edge %zu refused: %s", i, err);
        cr_expect_eq(csv_reader_encoding(reader), CSV_UTF8, "edge %zu", i);
        csv_row_t row;
        cr_assert_eq(csv_reader_next(reader, &row, err, sizeof err), 1);
        cr_expect_eq(row.count, 1);
        cr_expect_str_eq(row.fields[0], edges[i], "edge %zu", i);
        csv_reader_destroy(&reader);
    }
}

Test(csv, reader_copies_its_input)
{
    char data[] = "a,b\n";
    csv_reader_t *reader = csv_reader_new(data, 4, NULL, 0);
    cr_assert_not_null(reader);
    data[0] = 'X';
    csv_row_t row;
    cr_assert_eq(csv_reader_next(reader, &row, NULL, 0), 1);
    cr_assert_str_eq(row.fields[0], "a");
    csv_reader_destroy(&reader);
}

Test(csv, error_row_output)
{
    csv_reader_t *reader = csv_reader_new("a\n\"b\"c\n", 7, NULL, 0);
    cr_assert_not_null(reader);
    csv_row_t row = {0};
    char err[8]; // too short: truncated, still terminated
    cr_assert_eq(csv_reader_next(reader, &row, err, sizeof err), 1);
    cr_assert_eq(csv_reader_next(reader, &row, err, sizeof err), -1);
    cr_assert_eq(row.line, 2);
    cr_assert_eq(row.count, 0);
    cr_assert_str_eq(err, "text af");
    cr_assert_eq(csv_reader_next(reader, &row, NULL, 0), 0);
    csv_reader_destroy(&reader);
}

Test(csv, large_input)
{
    // 20000 rows and a 1 MB quoted field with doubled quotes: buffers grow, lines stay right.
    size_t big = 1 << 20;
    char *field = xmalloc(big + 1);
    memset(field, 'x', big);
    field[big] = '\0';
    field[10] = '"';
    char *out = NULL;
    size_t out_size = 0;
    FILE *f = open_memstream(&out, &out_size);
    cr_assert_not_null(f);
    for (int i = 0; i < 20000; i++)
        fprintf(f, "%d,row %d\r\n", i, i);
    fputs("last,\"", f);
    for (size_t i = 0; i < big; i++) {
        if (field[i] == '"')
            fputc('"', f);
        fputc(field[i], f);
    }
    fputs("\"\r\n", f);
    fclose(f);

    csv_reader_t *reader = csv_reader_new(out, out_size, NULL, 0);
    cr_assert_not_null(reader);
    csv_row_t row;
    for (int i = 0; i < 20000; i++) {
        cr_assert_eq(csv_reader_next(reader, &row, NULL, 0), 1);
        cr_assert_eq(row.line, (unsigned) i + 1);
        cr_assert_eq(row.count, 2);
        cr_assert_eq(atoi(row.fields[0]), i);
    }
    cr_assert_eq(csv_reader_next(reader, &row, NULL, 0), 1);
    cr_assert_eq(row.line, 20001);
    cr_assert_str_eq(row.fields[0], "last");
    cr_assert_eq(strlen(row.fields[1]), big);
    cr_assert_str_eq(row.fields[1], field);
    cr_assert_eq(csv_reader_next(reader, &row, NULL, 0), 0);
    csv_reader_destroy(&reader);
    free(out);
    free(field);
}

Test(csv, destroy_accepts_null)
{
    csv_reader_destroy(NULL);
    csv_reader_t *reader = NULL;
    csv_reader_destroy(&reader);
    reader = csv_reader_new("", 0, NULL, 0);
    cr_assert_not_null(reader);
    csv_reader_destroy(&reader);
    cr_assert_null(reader);
    csv_reader_destroy(&reader);
}

Test(csv, trim)
{
    static const struct {
        const char *in;
        const char *want;
    } cases[] = {
        {"", ""},
        {"   ", ""},
        {"a", "a"},
        {" a b ", "a b"},
        {"\t\r\n x \v\f", "x"},
        {"\xE3\x80\x80x", "\xE3\x80\x80x"}, // U+3000 is not ASCII white space
        {" 第1学校 ", "第1学校"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = csv_trim(cases[i].in);
        cr_expect_str_eq(got, cases[i].want, "trim(\"%s\")", cases[i].in);
        free(got);
    }
}

//  Workbooks and UTF-16 are told apart before decoding, so the message can say what they are.
Test(csv, sniff)
{
    static const struct {
        const char *name;  // what the case shows
        const char *bytes; // the file's first bytes
        size_t size;       // how many
        csv_kind_t want;   // what csv_sniff() says
    } cases[] = {
        {"CSV text", "school_code,indicator\n", 22, CSV_KIND_TEXT},
        {"empty", "", 0, CSV_KIND_TEXT},
        {"one byte", "P", 1, CSV_KIND_TEXT},
        {"xlsx (ZIP)", "PK\x03\x04\x14\x00\x06\x00", 8, CSV_KIND_XLSX},
        {"PK as text", "PK,school\n", 10, CSV_KIND_TEXT},
        {"xls (OLE2)", "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\x00\x00", 10, CSV_KIND_XLS},
        {"OLE2 cut short", "\xD0\xCF\x11\xE0\xA1\xB1\x1A", 7, CSV_KIND_TEXT},
        {"UTF-16LE with BOM", "\xFF\xFEs\x00c\x00", 6, CSV_KIND_UTF16},
        {"UTF-16BE with BOM", "\xFE\xFF\x00s\x00c", 6, CSV_KIND_UTF16},
        {"UTF-16LE without BOM", "s\x00" "c\x00h\x00,\x00", 8, CSV_KIND_UTF16},
        {"UTF-16BE without BOM", "\x00s\x00" "c\x00h\x00,", 8, CSV_KIND_UTF16},
        {"a NUL byte in text is no UTF-16", "a,b\x00" "c,d,e\n", 10, CSV_KIND_TEXT},
        {"UTF-8 BOM", "\xEF\xBB\xBFschool\n", 10, CSV_KIND_TEXT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_eq(csv_sniff(cases[i].bytes, cases[i].size), cases[i].want, "case \"%s\"",
                     cases[i].name);
}

Test(csv, workbooks_and_utf16_refused_with_what_they_are)
{
    static const dump_case_t cases[] = {
        {"xlsx", "PK\x03\x04rest", 8,
         "NEW!file is a ZIP archive (an Excel .xlsx workbook?), not CSV text"},
        {"xls", "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1rest", 12,
         "NEW!file is an OLE2 document (an Excel .xls workbook?), not CSV text"},
        {"UTF-16", "\xFF\xFEs\x00,\x00", 6, "NEW!file is UTF-16 text; CSV must be UTF-8 or GB18030"},
    };
    s_run_cases(cases, sizeof cases / sizeof cases[0]);
}

//  A row bound counts the bytes of a row without its line break; the row at the bound is read,
//  the one past it refused (and only skipped: the reader goes on with the next row). Rows
//  longer than a chunk are read whole up to the bound.
Test(csv, max_row_at_the_bound)
{
    size_t bound = 64;
    char *at = xmalloc(bound + 1), *over = xmalloc(bound + 2);
    memset(at, 'a', bound);
    at[bound] = '\0';
    at[10] = ',';
    memset(over, 'b', bound + 1);
    over[bound + 1] = '\0';
    over[20] = ',';
    char *data = xasprintf("h,i\r\n%s\r\n%s\r\n\"q\nq\",%.*s\nlast,row\n", at, over,
                           (int) (bound - 5), at); // a quoted row of bound + 1
    // from memory, and from a file in chunks shorter than the rows (down to one byte)
    static const size_t chunks[] = {0, 1, 7, 8, 63, 64, 65};
    for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
        int fd = chunks[k] ? s_file(data, strlen(data)) : -1;
        csv_reader_t *reader = chunks[k] ? csv_reader_open(fd, chunks[k], NULL, 0)
                                         : csv_reader_new(data, strlen(data), NULL, 0);
        cr_assert_not_null(reader);
        csv_reader_set_max_row(reader, bound);
        csv_row_t row;
        char err[128];
        cr_assert_eq(csv_reader_next(reader, &row, err, sizeof err), 1);
        cr_assert_eq(csv_reader_next(reader, &row, err, sizeof err), 1, "the row at the bound");
        cr_expect_eq(row.line, 2);
        cr_expect_eq(strlen(row.fields[0]) + strlen(row.fields[1]) + 1, bound);
        cr_expect_eq(csv_reader_problem(reader), CSV_PROBLEM_NONE);
        cr_assert_eq(csv_reader_next(reader, &row, err, sizeof err), -1, "the row past it");
        cr_expect_eq(row.line, 3);
        cr_expect_eq(csv_reader_problem(reader), CSV_PROBLEM_TOO_LONG);
        cr_expect_str_eq(err, "row has 65 bytes, more than the 64 allowed");
        cr_assert_eq(csv_reader_next(reader, &row, err, sizeof err), -1, "a quoted row past it");
        cr_expect_eq(row.line, 4);
        cr_expect_eq(csv_reader_problem(reader), CSV_PROBLEM_TOO_LONG);
        cr_assert_eq(csv_reader_next(reader, &row, err, sizeof err), 1, "the reader goes on");
        cr_expect_eq(row.line, 6);
        cr_expect_str_eq(row.fields[0], "last");
        cr_expect_eq(csv_reader_problem(reader), CSV_PROBLEM_NONE);
        cr_assert_eq(csv_reader_next(reader, &row, err, sizeof err), 0);
        csv_reader_destroy(&reader);
        if (fd >= 0)
            close(fd);
    }
    free(data);
    free(at);
    free(over);
}

//  A 10 MB cell, and a row of ten million commas, with a bound: refused, and held in memory
//  only up to the bound.
Test(csv, max_row_bounds_memory)
{
    size_t big = 10u << 20;
    char *data = xmalloc(big * 2);
    int n = snprintf(data, 64, "a,b\n1,");
    memset(data + n, 'x', big);
    memcpy(data + n + big, "\n2,", 3);
    memset(data + n + big + 3, ',', big / 2);
    size_t size = (size_t) n + big + 3 + big / 2;
    csv_reader_t *reader = csv_reader_new(data, size, NULL, 0);
    cr_assert_not_null(reader);
    csv_reader_set_max_row(reader, 1024);
    csv_row_t row;
    char err[128];
    cr_assert_eq(csv_reader_next(reader, &row, err, sizeof err), 1);
    cr_assert_eq(csv_reader_next(reader, &row, err, sizeof err), -1);
    cr_expect_eq(csv_reader_problem(reader), CSV_PROBLEM_TOO_LONG);
    cr_assert_eq(csv_reader_next(reader, &row, err, sizeof err), -1);
    cr_expect_eq(row.line, 3);
    cr_expect_eq(csv_reader_problem(reader), CSV_PROBLEM_TOO_LONG);
    cr_assert_eq(csv_reader_next(reader, &row, err, sizeof err), 0);
    csv_reader_destroy(&reader);
    free(data);
}

//  The boundaries a stream must get right, each at every place: a UTF-8 character (3 bytes)
//  and GB18030 characters (2 and 4 bytes) cut by a chunk, a quoted field whose line break
//  spans chunks, a byte-order mark cut by a chunk (only the first one is dropped), and the
//  resumption after an unterminated quote, which finds its line in the raw GB18030 bytes.
Test(csv, chunk_boundaries)
{
    static const struct {
        const char *name;   // what the case shows
        const char *input;  // the file's bytes
        csv_encoding_t enc; // what the reader finds
        const char *expect; // the dump
    } cases[] = {
        {"UTF-8 characters", "学校,第1学校\n甲,乙\n", CSV_UTF8, "1:学校|第1学校\n2:甲|乙\n"},
        {"GB18030 characters of 2 and 4 bytes",
         "\xB5\xDA\x31\xD1\xA7\xD0\xA3,\x95\x32\x82\x36\n\xB5\xDA,x\n", CSV_GB18030,
         "1:第1学校|𠀀\n2:第|x\n"},
        {"a quoted line break, UTF-8", "h\n\"学\n校\",\"a\r\nb\"\nnext\n", CSV_UTF8,
         "1:h\n2:学\\n校|a\\r\\nb\n5:next\n"},
        {"a quoted line break, GB18030", "h\n\"\xB5\xDA\n\xD1\xA7\",z\nnext\n", CSV_GB18030,
         "1:h\n2:第\\n学|z\n4:next\n"},
        {"a doubled quote and CRLF", "\"a\"\"b\"\r\n\"\"\"\"\r\n", CSV_UTF8, "1:a\"b\n2:\"\n"},
        {"UTF-8 byte-order mark, then one as data",
         "\xEF\xBB\xBF\xEF\xBB\xBF"
         "a,学\n",
         CSV_UTF8_BOM,
         "1:\xEF\xBB\xBF"
         "a|学\n"},
        {"GB18030 byte-order mark, then one as data", "\x84\x31\x95\x33\xB5\xDA,\x84\x31\x95\x33\n",
         CSV_GB18030, "1:第|\xEF\xBB\xBF\n"},
        {"unterminated quote in GB18030: resumes on the next line",
         "h\n\xB5\xDA,\"bc\nd,\xB5\xDA\nf,g\n", CSV_GB18030,
         "1:h\n2!unterminated quoted field in column 2\n3:d|第\n4:f|g\n"},
        {"unterminated quote on the last line, GB18030", "\xB5\xDA\n\xB5\xDA,\"x\xB5\xDA",
         CSV_GB18030, "1:第\n2!unterminated quoted field in column 2\n"},
        {"unterminated quote opened on a later line, UTF-8 BOM",
         "\xEF\xBB\xBFh\n\"x\ny\",\"z\nw,学\n", CSV_UTF8_BOM,
         "1:h\n2!unterminated quoted field in column 2 (opened on line 3)\n4:w|学\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t size = strlen(cases[i].input);
        for (size_t chunk = 1; chunk <= size + 1; chunk++) {
            csv_encoding_t enc = (csv_encoding_t) -1;
            char *got = s_dump_chunked(cases[i].input, size, chunk, &enc);
            cr_expect_str_eq(got, cases[i].expect, "case \"%s\", chunks of %zu:\n got:\n%s",
                             cases[i].name, chunk, got);
            cr_expect_eq(enc, cases[i].enc, "case \"%s\", chunks of %zu", cases[i].name, chunk);
            free(got);
        }
    }
}

//  The first pass names the line of the first bad byte when a character is cut by the end of
//  the file, whatever the chunks; a character cut only by a chunk is no error.
Test(csv, chunked_first_pass)
{
    static const char gb_cut[] = "ok\nok\n\xB5\xDA,\x81"; // 2-byte GB18030 cut by the end
    static const char utf8_cut[] = "\xEF\xBB\xBF"
                                   "a\n\xE5\xAD"; // 3-byte UTF-8 cut by the end
    for (size_t chunk = 1; chunk <= 12; chunk++) {
        char *got = s_dump_chunked(gb_cut, sizeof gb_cut - 1, chunk, NULL);
        cr_expect_str_eq(got,
                         "NEW!cannot decode line 3: byte sequence 0x81 is neither UTF-8 "
                         "nor GB18030",
                         "chunks of %zu", chunk);
        free(got);
        got = s_dump_chunked(utf8_cut, sizeof utf8_cut - 1, chunk, NULL);
        cr_expect_str_eq(got,
                         "NEW!cannot decode line 2: byte sequence 0xe5 0xad is not valid "
                         "UTF-8, though the file starts with a UTF-8 byte-order mark",
                         "chunks of %zu", chunk);
        free(got);
    }
}

//  A file that cannot be read (here: a descriptor open for writing only) is no CSV error: the
//  first row says the file could not be read, and so does every call after it.
Test(csv, read_failure)
{
    char path[] = "/tmp/test_csv.XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "a,b\n", 4), 4);
    close(fd);
    fd = open(path, O_WRONLY);
    unlink(path);
    cr_assert_geq(fd, 0);
    char err[256] = "";
    csv_reader_t *reader = csv_reader_open(fd, 0, err, sizeof err);
    cr_assert_not_null(reader, "%s", err);
    csv_row_t row;
    for (int i = 0; i < 2; i++) {
        cr_expect_eq(csv_reader_next(reader, &row, err, sizeof err), -2);
        cr_expect_eq(csv_reader_problem(reader), CSV_PROBLEM_READ);
        cr_expect_str_eq(err, "could not read the file: Bad file descriptor");
        cr_expect_eq(row.count, 0);
    }
    csv_reader_destroy(&reader);
    close(fd);
}

//  A GB18030 file damaged after the first pass (the reader's second pass meets bytes that no
//  longer decode) stops the reader with -2 instead of yielding rows from bytes it never judged.
Test(csv, changed_after_first_pass)
{
    static const char data[] = "h\n\xB5\xDA,1\n\xB5\xDA,2\n";
    for (size_t chunk = 1; chunk <= 4; chunk++) {
        int fd = s_file(data, sizeof data - 1);
        char err[256] = "";
        csv_reader_t *reader = csv_reader_open(fd, chunk, err, sizeof err);
        cr_assert_not_null(reader, "%s", err);
        cr_assert_eq(csv_reader_encoding(reader), CSV_GB18030);
        cr_assert_eq(pwrite(fd, "\xFF", 1, 10), 1); // the lead byte of the third row's 第
        csv_row_t row;
        int rc;
        int rows = 0;
        while ((rc = csv_reader_next(reader, &row, err, sizeof err)) == 1)
            rows++;
        cr_expect_eq(rc, -2, "chunks of %zu", chunk);
        cr_expect_lt(rows, 3);
        cr_expect_str_eq(err, "cannot decode the file any more: it changed after it was first "
                              "read");
        cr_expect_eq(csv_reader_next(reader, &row, NULL, 0), -2, "sticky");
        csv_reader_destroy(&reader);
        close(fd);
    }
}
