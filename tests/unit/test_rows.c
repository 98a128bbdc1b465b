/*  test_rows - header mapping and the form of a row in a school's indicator file
 *
 *  Cases are tables of (input, expected dump): s_dump() writes `FATAL` first when the file
 *  could not be read, then one line per record, `R<line>:school|indicator|period|value` (value
 *  as %g), then one line per error, `E<line>:<column>:<reason>`.
 *
 *  s_check_streamed() reads the same input from a file, record by record (rows_open(),
 *  rows_next()) in chunks of a few bytes up to the default, and wants the same dump: every
 *  table and file here is read both ways.
 */
#include "rows.h"
#include "util.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef EDU_FIXTURES_DIR
#define EDU_FIXTURES_DIR "/work/shared/fixtures"
#endif

#define HEADER "school_code,indicator,period,value\n"

static char *s_dump(const rows_t *rows)
{
    char *out = NULL;
    size_t out_size = 0;
    FILE *f = open_memstream(&out, &out_size);
    cr_assert_not_null(f);
    if (rows_fatal(rows))
        fputs("FATAL\n", f);
    for (size_t i = 0; i < rows_record_count(rows); i++) {
        const rows_record_t *r = rows_record(rows, i);
        fprintf(f, "R%u:%s|%s|%s|%g\n", r->line, r->school_code, r->indicator, r->period,
                r->value);
    }
    for (size_t i = 0; i < rows_error_count(rows); i++) {
        const rows_error_t *e = rows_error(rows, i);
        fprintf(f, "E%u:%s:%s\n", e->line, e->column, e->reason);
    }
    fclose(f);
    return out;
}

//  A file holding data[0..size), open for reading (already unlinked).
static int s_file(const char *data, size_t size)
{
    char path[] = "/tmp/test_rows.XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    unlink(path);
    cr_assert_eq(write(fd, data, size), (ssize_t) size);
    return fd;
}

//  Reads data[0..size) from a file, chunk bytes at a time, record by record, and wants what
//  rows_parse() gives: the same dump, the same rows read and errors dropped.
static void s_check_streamed(const char *data, size_t size)
{
    rows_t *parsed = rows_parse(data, size);
    char *want = s_dump(parsed);
    static const size_t chunks[] = {1, 3, 7, 64, 0};
    for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
        if (chunks[k] && chunks[k] < 7 && size > 200000)
            continue; // the big inputs only in bigger chunks: the byte-sized ones are slow
        int fd = s_file(data, size);
        rows_t *rows = rows_open(fd, chunks[k]);
        char *out = NULL;
        size_t out_size = 0;
        FILE *f = open_memstream(&out, &out_size);
        if (rows_fatal(rows))
            fputs("FATAL\n", f);
        rows_record_t r;
        char err[256];
        int rc;
        size_t n = 0;
        while ((rc = rows_next(rows, &r, err, sizeof err)) == 1) {
            fprintf(f, "R%u:%s|%s|%s|%g\n", r.line, r.school_code, r.indicator, r.period, r.value);
            n++;
            cr_assert_eq(rows_record_count(rows), n);
            cr_assert_null(rows_record(rows, n - 1), "an opened file keeps no records");
        }
        cr_assert_eq(rc, 0, "%s", err);
        cr_assert_eq(rows_next(rows, &r, err, sizeof err), 0, "the end is sticky");
        for (size_t i = 0; i < rows_error_count(rows); i++) {
            const rows_error_t *e = rows_error(rows, i);
            fprintf(f, "E%u:%s:%s\n", e->line, e->column, e->reason);
        }
        fclose(f);
        cr_expect_str_eq(out, want, "chunks of %zu:\n got:\n%s\n want:\n%s", chunks[k], out, want);
        cr_expect_eq(rows_read_count(rows), rows_read_count(parsed));
        cr_expect_eq(rows_errors_dropped(rows), rows_errors_dropped(parsed));
        free(out);
        rows_destroy(&rows);
        close(fd);
    }
    free(want);
    rows_destroy(&parsed);
}

typedef struct {
    const char *name;   // what the case shows
    const char *input;  // the file's bytes
    const char *expect; // the dump
} rows_case_t;

static void s_run_cases(const rows_case_t *cases, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const rows_case_t *c = &cases[i];
        rows_t *rows = rows_parse(c->input, strlen(c->input));
        cr_assert_not_null(rows);
        char *got = s_dump(rows);
        cr_expect_str_eq(got, c->expect, "case \"%s\":\n got:\n%s\n want:\n%s", c->name, got,
                         c->expect);
        // A fatal file gives no records and exactly one error, on line 1.
        if (rows_fatal(rows)) {
            cr_expect_eq(rows_record_count(rows), 0, "case \"%s\"", c->name);
            cr_expect_eq(rows_error_count(rows), 1, "case \"%s\"", c->name);
            cr_expect_eq(rows_error(rows, 0)->line, 1, "case \"%s\"", c->name);
        }
        free(got);
        rows_destroy(&rows);
        cr_assert_null(rows);
        s_check_streamed(c->input, strlen(c->input));
    }
}

Test(rows, header)
{
    static const rows_case_t cases[] = {
        {"canonical", HEADER "2143004052,degree_teachers_per100,2023-2024,4.5\n",
         "R2:2143004052|degree_teachers_per100|2023-2024|4.5\n"},
        {"any order", "value,period,indicator,school_code\n1.5,2023-2024,ind,s1\n",
         "R2:s1|ind|2023-2024|1.5\n"},
        {"any case, white space around names", " Value ,PERIOD,\tIndicator,SCHOOL_CODE\r\n"
                                               "2,2024-2025,ind,s1\r\n",
         "R2:s1|ind|2024-2025|2\n"},
        {"quoted names", "\"school_code\",\"indicator\",\"period\",\"value\"\ns1,ind,p,3\n",
         "R2:s1|ind|p|3\n"},
        {"extra columns ignored, Chinese among them",
         "学校名称,school_code,note,indicator,period,value,备注\n"
         "第1学校,s1,\"a, b\",ind,2023-2024,4,说明\n",
         "R2:s1|ind|2023-2024|4\n"},
        {"UTF-8 byte-order mark before the header", "\xEF\xBB\xBF" HEADER "s1,ind,p,5\n",
         "R2:s1|ind|p|5\n"},
        {"header only", HEADER, ""},
        {"header without final line break", "school_code,indicator,period,value", ""},
    };
    s_run_cases(cases, sizeof cases / sizeof cases[0]);
}

Test(rows, fatal)
{
    static const rows_case_t cases[] = {
        {"empty file", "",
         "FATAL\nE1::file is empty (it needs a header naming the columns school_code, "
         "indicator, period and value)\n"},
        {"blank lines only", "\r\n\n",
         "FATAL\nE1::file is empty (it needs a header naming the columns school_code, "
         "indicator, period and value)\n"},
        {"no school_code", "indicator,period,value\nind,p,1\n",
         "FATAL\nE1:school_code:header has no column \"school_code\" (it needs school_code, "
         "indicator, period and value)\n"},
        {"no indicator", "school_code,period,value\ns1,p,1\n",
         "FATAL\nE1:indicator:header has no column \"indicator\" (it needs school_code, "
         "indicator, period and value)\n"},
        {"no period", "school_code,indicator,value\ns1,ind,1\n",
         "FATAL\nE1:period:header has no column \"period\" (it needs school_code, indicator, "
         "period and value)\n"},
        {"no value", "school_code,indicator,period,amount\ns1,ind,p,1\n",
         "FATAL\nE1:value:header has no column \"value\" (it needs school_code, indicator, "
         "period and value)\n"},
        {"two missing", "school_code,indicator\ns1,ind\n",
         "FATAL\nE1:period:header has no columns \"period\", \"value\" (it needs school_code, "
         "indicator, period and value)\n"},
        {"data where the header should be", "2143004052,ind,2023-2024,1\n",
         "FATAL\nE1:school_code:header has no columns \"school_code\", \"indicator\", "
         "\"period\", \"value\" (it needs school_code, indicator, period and value)\n"},
        {"misspelt column", "school code,indicator,period,value\ns1,ind,p,1\n",
         "FATAL\nE1:school_code:header has no column \"school_code\" (it needs school_code, "
         "indicator, period and value)\n"},
        {"duplicate column", "school_code,value,indicator,period,Value\ns1,1,ind,p,2\n",
         "FATAL\nE1:value:column \"value\" appears twice in the header (columns 2 and 5)\n"},
        {"malformed header", "\"school_code,indicator,period,value\ns1,ind,p,1\n",
         "FATAL\nE1::cannot read the header: unterminated quoted field in column 1\n"},
        {"neither UTF-8 nor GB18030", HEADER "s1,ind,p,1\n\xff\n",
         "FATAL\nE1::cannot decode line 3: byte sequence 0xff 0x0a is neither UTF-8 nor "
         "GB18030\n"},
    };
    s_run_cases(cases, sizeof cases / sizeof cases[0]);
}

Test(rows, values)
{
    static const rows_case_t cases[] = {
        {"numbers", HEADER "s,i,p,0\ns,i,p,-3.25\ns,i,p,+7\ns,i,p,.5\ns,i,p,1e3\ns,i,p,1E-2\n",
         "R2:s|i|p|0\nR3:s|i|p|-3.25\nR4:s|i|p|7\nR5:s|i|p|0.5\nR6:s|i|p|1000\nR7:s|i|p|0.01\n"},
        {"nan and inf are numbers here", HEADER "s,i,p,nan\ns,i,p,inf\ns,i,p,-inf\ns,i,p,NaN\n"
                                                "s,i,p,Infinity\n",
         "R2:s|i|p|nan\nR3:s|i|p|inf\nR4:s|i|p|-inf\nR5:s|i|p|nan\nR6:s|i|p|inf\n"},
        {"largest double", HEADER "s,i,p,1.7976931348623157e308\n", "R2:s|i|p|1.79769e+308\n"},
        {"underflow kept as a tiny value", HEADER "s,i,p,1e-400\n", "R2:s|i|p|0\n"},
        {"white space trimmed", HEADER " s1 ,\tind\t,\"  2023-2024 \",  12.5  \r\n",
         "R2:s1|ind|2023-2024|12.5\n"},
        {"decimal comma, quoted", HEADER "s,i,p,\"12,5\"\n",
         "E2:value:value \"12,5\" is not a number\n"},
        {"letters", HEADER "s,i,p,abc\n", "E2:value:value \"abc\" is not a number\n"},
        {"trailing garbage", HEADER "s,i,p,12.5.1\ns,i,p,12%\ns,i,p,1e\ns,i,p,4 5\n",
         "E2:value:value \"12.5.1\" is not a number\nE3:value:value \"12%\" is not a number\n"
         "E4:value:value \"1e\" is not a number\nE5:value:value \"4 5\" is not a number\n"},
        {"full-width digits", HEADER "s,i,p,１２\n",
         "E2:value:value \"１２\" is not a number\n"},
        // a number too large is still a number: the county refuses it as not_finite
        {"overflow", HEADER "s,i,p,1e400\ns,i,p,-1e400\n", "R2:s|i|p|inf\nR3:s|i|p|-inf\n"},
    };
    s_run_cases(cases, sizeof cases / sizeof cases[0]);
}

Test(rows, row_form)
{
    static const rows_case_t cases[] = {
        {"empty field", HEADER ",ind,p,1\n", "E2:school_code:field is empty\n"},
        {"white space only is empty", HEADER "s1,  ,p,1\n", "E2:indicator:field is empty\n"},
        {"empty value", HEADER "s1,ind,p,\n", "E2:value:field is empty\n"},
        {"every problem of a row", HEADER ",,2023-2024,abc\n",
         "E2:school_code:field is empty\nE2:indicator:field is empty\n"
         "E2:value:value \"abc\" is not a number\n"},
        {"missing fields", HEADER "s1,ind\n",
         "E2:period:missing field: the row has only 2 of the header's 4 columns\n"
         "E2:value:missing field: the row has only 2 of the header's 4 columns\n"},
        {"missing field in the middle of the header's order",
         "value,school_code,note,indicator,period\n1,s1,n,ind\n",
         "E2:period:missing field: the row has only 4 of the header's 5 columns\n"},
        {"missing extra column is fine", "school_code,indicator,period,value,note\ns1,i,p,1\n",
         "R2:s1|i|p|1\n"},
        {"an unquoted decimal comma makes a field too many", HEADER "s1,ind,p,12,5\n",
         "E2::row has data in field 5, but the header has only 4 columns\n"},
        {"a note in a column without a name", HEADER "s1,ind,p,12,,note\n",
         "E2::row has data in field 6, but the header has only 4 columns\n"},
        {"empty fields past the header are tolerated", HEADER "s1,ind,p,12,,  ,\n",
         "R2:s1|ind|p|12\n"},
        {"rows of empty cells are skipped", HEADER ",,,\n  , ,\t,\n,,,,,,\n   \ns1,i,p,1\n",
         "R6:s1|i|p|1\n"},
        {"malformed CSV row", HEADER "s1,\"ind\"x,p,1\ns2,i,p,2\n",
         "R3:s2|i|p|2\nE2::text after closing quote in column 2\n"},
        {"unterminated quote, the reader goes on", HEADER "s1,\"ind,p,1\ns2,i,p,2\n",
         "R3:s2|i|p|2\nE2::unterminated quoted field in column 2\n"},
    };
    s_run_cases(cases, sizeof cases / sizeof cases[0]);
}

Test(rows, good_rows_survive_bad_ones_with_right_lines)
{
    static const rows_case_t cases[] = {
        {"mixed file, CRLF, blank lines, a multi-line note",
         "\"school_code\",note,indicator,period,value\r\n"
         "\r\n"
         "s1,\"多行\r\n备注\",ind,2023-2024,1\r\n"
         "\r\n"
         "s2,x,ind,2023-2024,oops\r\n"
         "s3,y,ind,2023-2024,3\r\n"
         ",z,ind,2023-2024,4\r\n"
         "s5,\"a\r\nb\r\nc\",ind,2023-2024,5",
         "R3:s1|ind|2023-2024|1\nR7:s3|ind|2023-2024|3\nR9:s5|ind|2023-2024|5\n"
         "E6:value:value \"oops\" is not a number\nE8:school_code:field is empty\n"},
    };
    s_run_cases(cases, sizeof cases / sizeof cases[0]);

    // NUL bytes need an explicit size.
    static const char nul[] = HEADER "s1,i,p,1\ns2,i\0,p,2\ns3,i,p,3\n";
    rows_t *rows = rows_parse(nul, sizeof nul - 1);
    char *got = s_dump(rows);
    cr_expect_str_eq(got, "R2:s1|i|p|1\nR4:s3|i|p|3\nE3::NUL byte in column 2\n");
    free(got);
    rows_destroy(&rows);
    s_check_streamed(nul, sizeof nul - 1);
}

Test(rows, gb18030_file)
{
    static const char utf8[] = "学校名称,school_code,indicator,period,value,备注\r\n"
                               "第1学校,2143004052,bachelor_teacher_pct,2023-2024,95.5,\"含逗号，"
                               "和\r\n换行\"\r\n"
                               "第1学校,2143004052,学生体质,2023-2024,九十\r\n";
    iconv_t cd = iconv_open("GB18030", "UTF-8");
    cr_assert_neq(cd, (iconv_t) -1, "iconv_open: %s", strerror(errno));
    char gb[512];
    char *in = (char *) utf8, *out = gb;
    size_t in_left = sizeof utf8 - 1, out_left = sizeof gb;
    cr_assert_neq(iconv(cd, &in, &in_left, &out, &out_left), (size_t) -1);
    iconv_close(cd);

    rows_t *rows = rows_parse(gb, sizeof gb - out_left);
    char *got = s_dump(rows);
    cr_expect_str_eq(got, "R2:2143004052|bachelor_teacher_pct|2023-2024|95.5\n"
                          "E4:value:value \"九十\" is not a number\n");
    free(got);
    rows_destroy(&rows);
    s_check_streamed(gb, sizeof gb - out_left);
}

Test(rows, fixture_file)
{
    const char *path = EDU_FIXTURES_DIR "/county-430405/data-2143004052.csv";
    char err[256] = "";
    size_t size = 0;
    char *data = file_read_all(path, &size, err, sizeof err);
    cr_assert_not_null(data, "%s", err);

    // Count the lines independently: one record per line after the header.
    size_t lines = 0;
    for (size_t i = 0; i < size; i++) {
        if (data[i] == '\n')
            lines++;
    }
    cr_assert_gt(lines, 40);

    rows_t *rows = rows_parse(data, size);
    cr_assert_not(rows_fatal(rows));
    cr_assert_eq(rows_error_count(rows), 0, "first error: %s",
                 rows_error_count(rows) ? rows_error(rows, 0)->reason : "");
    cr_assert_eq(rows_record_count(rows), lines - 1);
    for (size_t i = 0; i < rows_record_count(rows); i++) {
        const rows_record_t *r = rows_record(rows, i);
        cr_expect_eq(r->line, i + 2);
        cr_expect_str_eq(r->school_code, "2143004052");
        cr_expect_eq(strlen(r->period), 9);
        cr_expect(isfinite(r->value));
    }
    const rows_record_t *first = rows_record(rows, 0);
    cr_expect_str_eq(first->indicator, "degree_teachers_per100");
    cr_expect_str_eq(first->period, "2023-2024");
    cr_expect_eq(first->value, 5.22);
    const rows_record_t *last = rows_record(rows, rows_record_count(rows) - 1);
    cr_expect_str_eq(last->indicator, "parent_satisfaction_pct");
    cr_expect_str_eq(last->period, "2025-2026");
    cr_expect_eq(last->value, 88.77);
    rows_destroy(&rows);
    s_check_streamed(data, size);
    free(data);
}

Test(rows, accessors_and_destroy)
{
    static const char data[] = HEADER "s1,i,p,1\nbad\n";
    rows_t *rows = rows_parse(data, sizeof data - 1);
    cr_assert_eq(rows_record_count(rows), 1);
    cr_assert_eq(rows_error_count(rows), 3);
    cr_assert_null(rows_record(rows, 1));
    cr_assert_null(rows_error(rows, 3));
    rows_destroy(&rows);
    cr_assert_null(rows);
    rows_destroy(&rows);
    rows_destroy(NULL);
}

//  Each error's code (what machines read in errors.csv) and the words its Chinese hint must
//  hold (what a person needs to fix it).
Test(rows, codes_and_hints)
{
    static const struct {
        const char *name;   // what the case shows
        const char *input;  // the file
        size_t size;        // its size when it holds NUL bytes (else 0)
        const char *code;   // the first error's code
        const char *column; // and column
        const char *hint;   // words its hint must hold
    } cases[] = {
        {"empty file", "", 0, "no_header", "", "表头"},
        {"missing columns", "school_code,indicator\ns,i\n", 0, "no_header", "period", "表头缺少"},
        {"duplicate column", "school_code,value,indicator,period,value\n", 0, "no_header", "value",
         "出现了两次"},
        {"undecodable", HEADER "s,i,p,1\n\xff\n", 0, "bad_encoding", "", "CSV UTF-8"},
        {"xlsx", "PK\x03\x04\x14\x00", 6, "not_csv", "", "另存为"},
        {"xls", "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8, "not_csv", "", ".xls"},
        {"UTF-16", "\xFF\xFEs\x00" "c\x00", 6, "not_csv", "", "UTF-16"},
        {"empty field", HEADER "s,,p,1\n", 0, "empty_field", "indicator", "没有填写"},
        {"missing field", HEADER "s,i\n", 0, "missing_field", "period", "缺少"},
        {"decimal comma", HEADER "s,i,p,\"12,5\"\n", 0, "not_a_number", "value", "12.5"},
        {"percent sign", HEADER "s,i,p,95%\n", 0, "not_a_number", "value", "百分号"},
        {"words", HEADER "s,i,p,九十\n", 0, "not_a_number", "value", "只填数字"},
        {"unquoted decimal comma", HEADER "s,i,p,12,5\n", 0, "extra_data", "", "12.5"},
        {"unterminated quote", HEADER "s,\"i,p,1\n", 0, "malformed_row", "", "引号"},
        {"text after a quote", HEADER "s,\"i\"x,p,1\n", 0, "malformed_row", "", "引号"},
        {"NUL byte", HEADER "s,i\0,p,1\n", sizeof HEADER + 8, "malformed_row", "", "空字符"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t size = cases[i].size ? cases[i].size : strlen(cases[i].input);
        rows_t *rows = rows_parse(cases[i].input, size);
        cr_assert_gt(rows_error_count(rows), 0, "case \"%s\"", cases[i].name);
        const rows_error_t *e = rows_error(rows, 0);
        cr_expect_str_eq(e->code, cases[i].code, "case \"%s\"", cases[i].name);
        cr_expect_str_eq(e->column, cases[i].column, "case \"%s\"", cases[i].name);
        cr_expect_not_null(strstr(e->hint, cases[i].hint), "case \"%s\": hint \"%s\"",
                           cases[i].name, e->hint);
        rows_destroy(&rows);
    }
}

//  Each field at its bound goes through; one byte more is refused as too_long, in its column,
//  and the other rows of the file still go through.
Test(rows, field_bounds)
{
    static const struct {
        const char *column; // the field
        size_t bound;       // its bound
    } fields[] = {
        {"school_code", ROWS_MAX_SCHOOL_CODE},
        {"indicator", ROWS_MAX_INDICATOR},
        {"period", ROWS_MAX_PERIOD},
        {"value", ROWS_MAX_VALUE},
    };
    for (size_t f = 0; f < 4; f++) {
        for (size_t extra = 0; extra <= 1; extra++) {
            size_t len = fields[f].bound + extra;
            char *text = xmalloc(len + 1);
            memset(text, f == 3 ? '0' : 'x', len);
            text[0] = f == 3 ? '1' : 'x';
            text[len] = '\0';
            const char *v[4] = {"s", "i", "p", "1"};
            v[f] = text;
            // white space around a field is not counted
            char *data = xasprintf(HEADER "%s, %s ,%s,%s\nok,i,p,2\n", v[0], v[1], v[2], v[3]);
            rows_t *rows = rows_parse(data, strlen(data));
            if (extra == 0) {
                cr_expect_eq(rows_record_count(rows), 2, "%s of %zu bytes", fields[f].column, len);
                cr_expect_eq(rows_error_count(rows), 0, "%s of %zu bytes", fields[f].column, len);
            } else {
                cr_expect_eq(rows_record_count(rows), 1, "%s of %zu bytes", fields[f].column, len);
                cr_assert_eq(rows_error_count(rows), 1, "%s of %zu bytes", fields[f].column, len);
                const rows_error_t *e = rows_error(rows, 0);
                cr_expect_str_eq(e->code, "too_long");
                cr_expect_str_eq(e->column, fields[f].column);
                cr_expect_eq(e->line, 2);
                char *want = xasprintf("field has %zu bytes, more than the %zu allowed", len,
                                       fields[f].bound);
                cr_expect_str_eq(e->reason, want);
                free(want);
                cr_expect_not_null(strstr(e->hint, "太长"));
                cr_expect_str_eq(rows_record(rows, 0)->school_code, "ok");
            }
            rows_destroy(&rows);
            free(data);
            free(text);
        }
    }
}

//  A row (ignored columns included) of ROWS_MAX_ROW bytes goes through; one byte more is
//  refused as a whole, and so is a value pasted from a 10 MB cell.
Test(rows, row_bound)
{
    const char *head = "school_code,indicator,period,value,note\n";
    const char *start = "s,i,p,1,";
    size_t note = ROWS_MAX_ROW - strlen(start);
    for (size_t extra = 0; extra <= 1; extra++) {
        char *text = xmalloc(note + extra + 1);
        memset(text, 'n', note + extra);
        text[note + extra] = '\0';
        char *data = xasprintf("%s%s%s\r\nok,i,p,2\n", head, start, text);
        rows_t *rows = rows_parse(data, strlen(data));
        cr_expect_eq(rows_record_count(rows), 2 - extra, "a row of %zu bytes",
                     strlen(start) + note + extra);
        cr_expect_eq(rows_error_count(rows), extra);
        if (extra) {
            cr_expect_str_eq(rows_error(rows, 0)->code, "too_long");
            cr_expect_eq(rows_error(rows, 0)->line, 2);
        }
        rows_destroy(&rows);
        s_check_streamed(data, strlen(data)); // rows much longer than a chunk, to the bound
        free(data);
        free(text);
    }
    size_t big = 10u << 20;
    char *cell = xmalloc(big + 1);
    memset(cell, '9', big);
    cell[big] = '\0';
    char *data = xasprintf(HEADER "s,i,p,%s\nok,i,p,2\n", cell);
    rows_t *rows = rows_parse(data, strlen(data));
    cr_expect_eq(rows_record_count(rows), 1);
    cr_assert_eq(rows_error_count(rows), 1);
    cr_expect_str_eq(rows_error(rows, 0)->code, "too_long");
    rows_destroy(&rows);
    free(data);
    free(cell);
}

//  A file of bad rows keeps ROWS_MAX_ERRORS errors and counts the rest.
Test(rows, errors_bounded)
{
    char *out = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&out, &size);
    fputs(HEADER, f);
    for (int i = 0; i < ROWS_MAX_ERRORS + 5; i++)
        fputs("s,i,p,x\n", f);
    fputs("s,i,p,3\n", f);
    fclose(f);
    rows_t *rows = rows_parse(out, size);
    cr_expect_eq(rows_error_count(rows), ROWS_MAX_ERRORS);
    cr_expect_eq(rows_errors_dropped(rows), 5);
    cr_expect_eq(rows_record_count(rows), 1);
    cr_expect_eq(rows_error(rows, ROWS_MAX_ERRORS - 1)->line, ROWS_MAX_ERRORS + 1);
    rows_destroy(&rows);
    s_check_streamed(out, size);
    free(out);
}

//  The template staff fill in (deploy/template/template.csv) is read as it ships (every row
//  waits for its value) and, once filled in, gives one record per catalog indicator.
Test(rows, template_file)
{
    const char *path = EDU_SOURCE_DIR "/deploy/template/template.csv";
    char err[256] = "";
    size_t size = 0;
    char *data = file_read_all(path, &size, err, sizeof err);
    cr_assert_not_null(data, "%s", err);
    rows_t *rows = rows_parse(data, size);
    cr_assert_not(rows_fatal(rows));
    cr_expect_eq(rows_record_count(rows), 0);
    cr_expect_eq(rows_error_count(rows), 19);
    for (size_t i = 0; i < rows_error_count(rows); i++) {
        cr_expect_str_eq(rows_error(rows, i)->code, "empty_field");
        cr_expect_str_eq(rows_error(rows, i)->column, "value");
    }
    rows_destroy(&rows);
    // filled in: ",," (the empty value) becomes ",1,"
    char *filled = xmalloc(size * 2 + 1);
    size_t n = 0;
    for (size_t i = 0; i < size; i++) {
        filled[n++] = data[i];
        if (i + 1 < size && data[i] == ',' && data[i + 1] == ',')
            filled[n++] = '1';
    }
    rows = rows_parse(filled, n);
    cr_expect_eq(rows_error_count(rows), 0);
    cr_expect_eq(rows_record_count(rows), 19);
    if (rows_record_count(rows) == 19) {
        cr_expect_str_eq(rows_record(rows, 7)->indicator, "student_teacher_ratio");
        cr_expect_str_eq(rows_record(rows, 18)->indicator, "capacity");
    }
    rows_destroy(&rows);
    free(filled);
    free(data);
}

//  A file read record by record: a record's strings last until the next call, the rows read
//  count good and bad rows (not blank ones), and the errors wait for the end in file order.
Test(rows, opened_file_record_by_record)
{
    char *out = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&out, &size);
    fputs("\xEF\xBB\xBF" HEADER, f);
    for (int i = 1; i <= 10000; i++)
        fprintf(f, i % 1000 == 0 ? "s%d,i,p,bad\r\n" : "s%d,第%d,2023-2024,%d\r\n", i, i, i);
    fputs(",,,\n\n", f);
    fclose(f);
    int fd = s_file(out, size);
    rows_t *rows = rows_open(fd, 4096);
    cr_assert_not(rows_fatal(rows));
    rows_record_t r;
    int i = 0;
    while (rows_next(rows, &r, NULL, 0) == 1) {
        i++;
        if (i % 1000 == 0)
            i++; // the bad row
        char *want = xasprintf("s%d", i);
        cr_assert_str_eq(r.school_code, want);
        free(want);
        cr_assert_eq(r.line, (unsigned) i + 1);
        cr_assert_eq(r.value, i);
    }
    cr_expect_eq(rows_record_count(rows), 9990);
    cr_expect_eq(rows_read_count(rows), 10000);
    cr_assert_eq(rows_error_count(rows), 10);
    cr_expect_eq(rows_error(rows, 9)->line, 10001);
    rows_destroy(&rows);
    close(fd);
    free(out);
}

//  A file that is no CSV is fatal when opened (its first bytes say what it is); one that
//  cannot be read at all is not fatal: rows_next() says it could not be read.
Test(rows, opened_file_fatal_or_unreadable)
{
    static const char xlsx[] = "PK\x03\x04 workbook";
    int fd = s_file(xlsx, sizeof xlsx - 1);
    rows_t *rows = rows_open(fd, 0);
    cr_expect(rows_fatal(rows));
    cr_assert_eq(rows_error_count(rows), 1);
    cr_expect_str_eq(rows_error(rows, 0)->code, "not_csv");
    cr_expect_not_null(strstr(rows_error(rows, 0)->hint, ".xlsx"));
    rows_record_t r;
    cr_expect_eq(rows_next(rows, &r, NULL, 0), 0);
    rows_destroy(&rows);
    close(fd);

    char path[] = "/tmp/test_rows.XXXXXX";
    fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, HEADER "s,i,p,1\n", strlen(HEADER) + 8), (ssize_t) strlen(HEADER) + 8);
    close(fd);
    fd = open(path, O_WRONLY);
    unlink(path);
    rows = rows_open(fd, 0);
    cr_expect_not(rows_fatal(rows));
    char err[256] = "";
    cr_expect_eq(rows_next(rows, &r, err, sizeof err), -1);
    cr_expect_str_eq(err, "could not read the file: Bad file descriptor");
    cr_expect_eq(rows_error_count(rows), 0);
    rows_destroy(&rows);
    close(fd);
}
