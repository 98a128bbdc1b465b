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
 *  rows_next() pulls rows from the CSV reader until one makes a record, which it hands out
 *  (its strings owned by rows_t until the next call); rows_parse() is rows_next() over a buffer,
 *  keeping each record it is handed. The errors own their strings and are only appended to.
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
#include <unistd.h>

//  The columns a file must have, in the order the error messages list them.
typedef enum { COL_SCHOOL_CODE = 0, COL_INDICATOR, COL_PERIOD, COL_VALUE, COL_COUNT } s_column_t;

static const char *s_column_names[COL_COUNT] = {"school_code", "indicator", "period", "value"};

//  What staff call them (the template's second header line says the same).
static const char *s_column_zh[COL_COUNT] = {"学校标识码", "指标代码", "学年", "数值"};

//  The bound of each column, in bytes.
static const size_t s_column_max[COL_COUNT] = {ROWS_MAX_SCHOOL_CODE, ROWS_MAX_INDICATOR,
                                               ROWS_MAX_PERIOD, ROWS_MAX_VALUE};

#define S_HEADER_ZH "第一行须是表头 school_code,indicator,period,value（学校标识码、指标代码、学年、数值），可照县里下发的模板填写"

#define S_SAVE_AS_ZH "请在 Excel 中点“文件”→“另存为”，保存类型选“CSV UTF-8（逗号分隔）(*.csv)”或“CSV（逗号分隔）(*.csv)”，再把保存好的 .csv 文件放进收件夹"

struct rows_t {
    bool fatal;              // the file as a whole could not be read
    csv_reader_t *reader;    // the rows still to read (NULL once at the end, or fatal)
    size_t index[COL_COUNT]; // position of each column in a row
    size_t width;            // columns of the header
    rows_record_t current;   // the record rows_next() handed out last (strings owned)
    size_t rows_read;        // data rows read so far, good and bad
    size_t yielded;          // records handed out so far
    bool keep;               // rows_parse(): every record is kept in records
    rows_record_t *records;  // the good rows, in file order (rows_parse() only)
    size_t record_cap;       // entries allocated in records
    rows_error_t *errors;    // the problems, in file order
    size_t error_count;      // entries used in errors
    size_t error_cap;        // entries allocated in errors
    size_t dropped;          // errors found beyond ROWS_MAX_ERRORS
};

/*  Adds an error; takes ownership of reason and hint. column and code are static strings. */
static void s_add_error(rows_t *self, unsigned line, const char *column, const char *code,
                        char *reason, char *hint)
{
    if (self->error_count == ROWS_MAX_ERRORS) {
        self->dropped++;
        free(reason);
        free(hint);
        return;
    }
    if (self->error_count == self->error_cap) {
        self->error_cap = self->error_cap ? self->error_cap * 2 : 8;
        self->errors = xrealloc(self->errors, self->error_cap * sizeof *self->errors);
    }
    self->errors[self->error_count++] = (rows_error_t){
        .line = line,
        .column = column,
        .code = code,
        .reason = reason,
        .hint = hint,
    };
}

static void s_add_fatal(rows_t *self, const char *column, const char *code, char *reason,
                        char *hint)
{
    self->fatal = true;
    s_add_error(self, 1, column, code, reason, hint);
}

/*  Maps the header's columns: index[c] gets the position of column c. Returns 0, or -1 after
 *  recording the fatal error. */
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
                s_add_fatal(self, s_column_names[c], "no_header",
                            xasprintf("column \"%s\" appears twice in the header (columns %zu "
                                      "and %zu)",
                                      s_column_names[c], index[c] + 1, i + 1),
                            xasprintf("表头中“%s”（%s）一列出现了两次（第 %zu 列和第 %zu 列）："
                                      "请删去多余的一列",
                                      s_column_names[c], s_column_zh[c], index[c] + 1, i + 1));
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
        s_add_fatal(self, first_missing, "no_header",
                    xasprintf("header has no column%s %s (it needs school_code, indicator, "
                              "period and value)",
                              missing_count > 1 ? "s" : "", missing),
                    xasprintf("表头缺少 %s 列：" S_HEADER_ZH, missing));
        return -1;
    }
    return 0;
}

/*  Parses a value as strtod does, all of it. Returns 0, or -1 with a newly allocated reason
 *  and hint. */
static int s_parse_value(const char *text, double *value, char **reason, char **hint)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end != '\0') {
        *reason = xasprintf("value \"%s\" is not a number", text);
        const char *why = strchr(text, ',')   ? "小数点请用“.”（12,5 写作 12.5），也不要用千分位逗号"
                          : strchr(text, '%') ? "不要带百分号（95% 填作 95）"
                                              : "只填数字（如 95.5），不带单位、文字或空格";
        *hint = xasprintf("数值“%s”不是数字：%s", text, why);
        return -1;
    }
    // Overflow gives ±HUGE_VAL (infinity) with ERANGE, underflow a tiny value: both are kept as
    // numbers; whether they are acceptable (not_finite, out_of_range) is the county's to judge.
    *value = v;
    return 0;
}

/*  Judges one row: fills *record (strings newly allocated) and returns 1, or adds the row's
 *  errors and returns 0; returns -1 for a row of empty cells (a blank line). */
static int s_judge_row(rows_t *self, const csv_row_t *row, rows_record_t *record)
{
    const size_t *index = self->index;
    size_t width = self->width;
    char *trimmed[COL_COUNT] = {NULL};
    bool all_empty = true, bad = false;

    for (size_t i = 0; i < row->count && all_empty; i++) {
        char *field = csv_trim(row->fields[i]);
        all_empty = field[0] == '\0';
        free(field);
    }
    if (all_empty)
        return -1; // a row of empty cells is a blank line

    for (size_t i = width; i < row->count; i++) {
        char *field = csv_trim(row->fields[i]);
        bool filled = field[0] != '\0';
        free(field);
        if (filled) {
            s_add_error(self, row->line, "", "extra_data",
                        xasprintf("row has data in field %zu, but the header has only %zu "
                                  "columns",
                                  i + 1, width),
                        xasprintf("这一行第 %zu 格有内容，但表头只有 %zu 列：数值里如果带逗号"
                                  "（如 12,5），请改成 12.5；备注请写在有表头名的列里",
                                  i + 1, width));
            bad = true;
            break;
        }
    }

    for (int c = 0; c < COL_COUNT; c++) {
        if (index[c] >= row->count) {
            s_add_error(self, row->line, s_column_names[c], "missing_field",
                        xasprintf("missing field: the row has only %zu of the header's %zu "
                                  "columns",
                                  row->count, width),
                        xasprintf("这一行缺少“%s”（%s）：这一行只有 %zu 格，表头有 %zu 列",
                                  s_column_zh[c], s_column_names[c], row->count, width));
            bad = true;
            continue;
        }
        trimmed[c] = csv_trim(row->fields[index[c]]);
        size_t len = strlen(trimmed[c]);
        if (len == 0) {
            s_add_error(self, row->line, s_column_names[c], "empty_field",
                        xasprintf("field is empty"),
                        xasprintf("“%s”（%s）没有填写", s_column_zh[c], s_column_names[c]));
            bad = true;
        } else if (len > s_column_max[c]) {
            s_add_error(self, row->line, s_column_names[c], "too_long",
                        xasprintf("field has %zu bytes, more than the %zu allowed", len,
                                  s_column_max[c]),
                        xasprintf("“%s”（%s）太长（%zu 字节，最多 %zu 字节）：请检查是否填错了列"
                                  "或粘贴进了多余的内容",
                                  s_column_zh[c], s_column_names[c], len, s_column_max[c]));
            bad = true;
            trimmed[c][0] = '\0'; // judged: not parsed as a number too
        }
    }

    double value = 0;
    char *reason = NULL, *hint = NULL;
    if (trimmed[COL_VALUE] && trimmed[COL_VALUE][0] != '\0'
        && s_parse_value(trimmed[COL_VALUE], &value, &reason, &hint) != 0) {
        s_add_error(self, row->line, s_column_names[COL_VALUE], "not_a_number", reason, hint);
        bad = true;
    }

    if (bad) {
        for (int c = 0; c < COL_COUNT; c++)
            free(trimmed[c]);
        return 0;
    }
    *record = (rows_record_t){
        .line = row->line,
        .school_code = trimmed[COL_SCHOOL_CODE],
        .indicator = trimmed[COL_INDICATOR],
        .period = trimmed[COL_PERIOD],
        .value = value,
    };
    free(trimmed[COL_VALUE]);
    return 1;
}

/*  The fatal error of a file the CSV reader refused, whose first bytes are head[0..size). */
static void s_add_unreadable(rows_t *self, const char *head, size_t size, const char *err)
{
    switch (csv_sniff(head, size)) {
    case CSV_KIND_XLSX:
        s_add_fatal(self, "", "not_csv", xstrdup(err),
                    xstrdup("这是 Excel 工作簿（.xlsx），不是 CSV 文件：" S_SAVE_AS_ZH));
        return;
    case CSV_KIND_XLS:
        s_add_fatal(self, "", "not_csv", xstrdup(err),
                    xstrdup("这是 Excel 97-2003 工作簿（.xls），不是 CSV 文件：" S_SAVE_AS_ZH));
        return;
    case CSV_KIND_UTF16:
        s_add_fatal(self, "", "not_csv", xstrdup(err),
                    xstrdup("这个文件是 UTF-16 编码（Excel 的“Unicode 文本”），收件夹不认：" S_SAVE_AS_ZH));
        return;
    case CSV_KIND_TEXT: break;
    }
    s_add_fatal(self, "", "bad_encoding", xstrdup(err),
                xstrdup("文件里有既不是 UTF-8 也不是 GB18030（GBK）的字节，无法识别：文件可能已损坏，"
                        "或是用别的编码保存的。" S_SAVE_AS_ZH));
}

/*  The Chinese sentence for a row the CSV reader refused. */
static char *s_malformed_hint(csv_problem_t problem)
{
    switch (problem) {
    case CSV_PROBLEM_QUOTE:
        return xstrdup("这一行的英文双引号没有配对：请检查是否多打或少打了一个 \"");
    case CSV_PROBLEM_AFTER_QUOTE:
        return xstrdup("这一行有一格在右引号后面还有文字：格子里的引号请写成两个（\"\"），"
                       "或去掉引号");
    case CSV_PROBLEM_NUL:
        return xstrdup("这一行里有空字符（NUL）：文件可能已损坏，请从 Excel 重新导出");
    case CSV_PROBLEM_TOO_LONG:
        return xasprintf("这一行太长（最多 %d 字节）：请检查是否把大段文字粘贴进了表格",
                         ROWS_MAX_ROW);
    case CSV_PROBLEM_READ:
    case CSV_PROBLEM_NONE: break;
    }
    return xstrdup("这一行的格式不对");
}

/*  Starts reading from reader (taken; NULL when it refused the file, with err, and head the
 *  file's first bytes): reads the header and maps it. Never returns NULL. */
static rows_t *s_start(csv_reader_t *reader, const char *err, const char *head, size_t head_size)
{
    rows_t *self = xcalloc(1, sizeof *self);
    if (!reader) {
        s_add_unreadable(self, head, head_size, err);
        return self;
    }
    csv_reader_set_max_row(reader, ROWS_MAX_ROW);
    self->reader = reader;

    char inner[256];
    csv_row_t row;
    int rc = csv_reader_next(reader, &row, inner, sizeof inner);
    if (rc == -2)
        return self; // not read at all: rows_next() says so
    if (rc == 0)
        s_add_fatal(self, "", "no_header",
                    xasprintf("file is empty (it needs a header naming the columns school_code, "
                              "indicator, period and value)"),
                    xstrdup("文件是空的：" S_HEADER_ZH));
    else if (rc < 0) {
        char *hint = s_malformed_hint(csv_reader_problem(reader));
        s_add_fatal(self, "", "no_header", xasprintf("cannot read the header: %s", inner),
                    xasprintf("第一行（表头）读不出来：%s", hint));
        free(hint);
    }
    if (rc > 0 && s_map_header(self, &row, self->index) == 0) {
        self->width = row.count;
        return self;
    }
    csv_reader_destroy(&self->reader);
    return self;
}

static void s_current_free(rows_t *self)
{
    free((char *) self->current.school_code);
    free((char *) self->current.indicator);
    free((char *) self->current.period);
    self->current = (rows_record_t){0};
}

int rows_next(rows_t *self, rows_record_t *record, char *err, size_t errlen)
{
    s_current_free(self);
    char inner[256];
    csv_row_t row;
    int rc;
    while (self->reader && (rc = csv_reader_next(self->reader, &row, inner, sizeof inner)) != 0) {
        if (rc == -2)
            return errorf(err, errlen, "%s", inner);
        if (rc < 0) {
            csv_problem_t problem = csv_reader_problem(self->reader);
            s_add_error(self, row.line, "",
                        problem == CSV_PROBLEM_TOO_LONG ? "too_long" : "malformed_row",
                        xstrdup(inner), s_malformed_hint(problem));
            self->rows_read++;
            continue;
        }
        int judged = s_judge_row(self, &row, &self->current);
        if (judged < 0)
            continue;
        self->rows_read++;
        if (judged == 0)
            continue;
        self->yielded++;
        *record = self->current;
        return 1;
    }
    csv_reader_destroy(&self->reader); // the end is sticky
    return 0;
}

rows_t *rows_parse(const char *data, size_t size)
{
    char err[256];
    csv_reader_t *reader = csv_reader_new(data, size, err, sizeof err);
    rows_t *self = s_start(reader, err, data, size);
    self->keep = true;
    rows_record_t record;
    while (rows_next(self, &record, NULL, 0) == 1) {
        if (self->yielded > self->record_cap) {
            self->record_cap = self->record_cap ? self->record_cap * 2 : 64;
            self->records = xrealloc(self->records, self->record_cap * sizeof *self->records);
        }
        self->records[self->yielded - 1] = record; // its strings move to the kept record
        self->current = (rows_record_t){0};
    }
    return self;
}

rows_t *rows_open(int fd, size_t chunk)
{
    char err[256];
    csv_reader_t *reader = csv_reader_open(fd, chunk, err, sizeof err);
    char head[1024];
    ssize_t n = 0;
    if (!reader) {
        do
            n = pread(fd, head, sizeof head, 0);
        while (n < 0 && errno == EINTR);
    }
    return s_start(reader, err, head, n > 0 ? (size_t) n : 0);
}

void rows_destroy(rows_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rows_t *self = *self_p;
    csv_reader_destroy(&self->reader);
    s_current_free(self);
    for (size_t i = 0; i < (self->keep ? self->yielded : 0); i++) {
        free((char *) self->records[i].school_code);
        free((char *) self->records[i].indicator);
        free((char *) self->records[i].period);
    }
    for (size_t i = 0; i < self->error_count; i++) {
        free((char *) self->errors[i].reason);
        free((char *) self->errors[i].hint);
    }
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
    return self->yielded;
}

size_t rows_read_count(const rows_t *self)
{
    return self->rows_read;
}

const rows_record_t *rows_record(const rows_t *self, size_t i)
{
    return self->keep && i < self->yielded ? &self->records[i] : NULL;
}

size_t rows_error_count(const rows_t *self)
{
    return self->error_count;
}

const rows_error_t *rows_error(const rows_t *self, size_t i)
{
    return i < self->error_count ? &self->errors[i] : NULL;
}

size_t rows_errors_dropped(const rows_t *self)
{
    return self->dropped;
}
