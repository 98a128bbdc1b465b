/*  feedback - what a school's staff read about a file: inbox/rejected/<file>.errors.csv
 *
 *  feedback_add() reads the file it adds to (it is bounded: FEEDBACK_MAX_LINES lines of a
 *  few hundred bytes), so it knows the last row and the count; in the common case (refusals
 *  arrive in the order of the records, which is the order of the rows) it only appends.
 *
 *  The explanations are the one place where the contract's reason codes turn into Chinese for
 *  staff. The collector has no rules file, so the indicator names it recognises come from a
 *  built-in table: the catalog of CONTRACT.md (17 indicators, plus enrolment and capacity).
 */
#include "feedback.h"

#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char s_bom[] = "\xEF\xBB\xBF";

//  The catalog's Chinese names, and a few short forms staff write, with their codes.
static const struct {
    const char *name;
    const char *code;
} s_names[] = {
    {"每百名学生拥有高于规定学历教师数", "degree_teachers_per100"},
    {"每百名学生拥有县级以上骨干教师数", "backbone_teachers_per100"},
    {"每百名学生拥有体育、艺术专任教师数", "pe_art_teachers_per100"},
    {"每百名学生拥有体育艺术专任教师数", "pe_art_teachers_per100"},
    {"生均教学及辅助用房面积", "teaching_area_per_student"},
    {"生均体育运动场馆面积", "sports_area_per_student"},
    {"生均教学仪器设备值", "equipment_value_per_student"},
    {"每百名学生拥有网络多媒体教室数", "multimedia_rooms_per100"},
    {"生师比", "student_teacher_ratio"},
    {"本科及以上学历教师占比", "bachelor_teacher_pct"},
    {"教师年均培训时长", "training_hours"},
    {"骨干教师交流轮岗比例", "backbone_rotation_pct"},
    {"学生体质健康合格率", "fitness_pass_pct"},
    {"体质健康合格率", "fitness_pass_pct"},
    {"学业水平考试优秀率", "exam_excellent_pct"},
    {"学生近视率", "myopia_pct"},
    {"近视率", "myopia_pct"},
    {"专职心理教师配备率", "psych_teacher_pct"},
    {"探究式、项目式学习课堂占比", "inquiry_learning_pct"},
    {"社会认可度（家长满意度）", "parent_satisfaction_pct"},
    {"社会认可度(家长满意度)", "parent_satisfaction_pct"},
    {"社会认可度", "parent_satisfaction_pct"},
    {"家长满意度", "parent_satisfaction_pct"},
    {"在校生数", "enrolment"},
    {"核定学位数", "capacity"},
};

const char *feedback_indicator_code(const char *name)
{
    while (*name == ' ' || *name == '\t')
        name++;
    size_t len = strlen(name);
    while (len > 0 && (name[len - 1] == ' ' || name[len - 1] == '\t'))
        len--;
    for (size_t i = 0; i < sizeof s_names / sizeof s_names[0]; i++) {
        if (strlen(s_names[i].name) == len && memcmp(s_names[i].name, name, len) == 0)
            return s_names[i].code;
    }
    return NULL;
}

bool feedback_is_scientific(const char *text)
{
    const char *p = text;
    if (!isdigit((unsigned char) *p))
        return false;
    p++;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char) *p))
            return false;
        while (isdigit((unsigned char) *p))
            p++;
    }
    if (*p != 'E' && *p != 'e')
        return false;
    p++;
    if (*p == '+' || *p == '-')
        p++;
    if (!isdigit((unsigned char) *p))
        return false;
    while (isdigit((unsigned char) *p))
        p++;
    return *p == '\0';
}

//  The sentence for each reason the county may give (CONTRACT.md, in its order).
static const struct {
    const char *code;
    const char *text;
} s_reasons[] = {
    {"unknown_school", "学校标识码不在县里的学校名单中：请核对这一行的学校标识码（10 位数字）"},
    {"school_mismatch", "这一行的学校标识码不是本校的：本机的密钥只能报送本校的数据"},
    {"unknown_indicator", "指标代码不在县里的指标目录中：请使用指标代码（英文），"
                          "不要写中文名称，也不要有错别字"},
    {"bad_period", "学年写法不对或不在县里接受的范围内：应写成 2025-2026 这样的学年"
                   "（后一年等于前一年加 1）"},
    {"not_finite", "数值不是一个有限的数（如 inf、nan 或过大的数）：请填写实际数值"},
    {"out_of_range", "数值超出了这个指标允许的范围：请核对数值和单位（如百分比填 95 而不是 0.95）"},
    {"period_locked", "这个学年的数据已经由县里审核通过并锁定，不能再修改：如确需更正，"
                      "请联系县教育局先解锁这个学年，再重新报送"},
    {"batch_refused", "县级平台多次拒收这条记录（认为报文格式不对）：本机已跳过它，以免耽误后面的"
                      "数据；请联系县教育局，并告知这一行的详情"},
    {"record_too_large",
     "这条记录太大，无法发送给县级平台：本机已跳过它；请检查这一行是否有过长的内容，"
     "改正后重新报送"},
};

char *feedback_explain(const char *code, const char *school_code, const char *indicator,
                       const char *own_school)
{
    const char *text = NULL;
    for (size_t i = 0; i < sizeof s_reasons / sizeof s_reasons[0]; i++) {
        if (strcmp(code, s_reasons[i].code) == 0)
            text = s_reasons[i].text;
    }
    if (!text)
        return xasprintf(
            "县级平台拒收了这条记录（原因代码 %s）：请联系县教育局，并告知这一行的详情", code);
    bool about_school = strcmp(code, "unknown_school") == 0 || strcmp(code, "school_mismatch") == 0;
    if (about_school && school_code && feedback_is_scientific(school_code))
        return xasprintf("%s。学校标识码“%s”被 Excel 显示成了科学计数法，数字已经丢失：请把这一列"
                         "设置为“文本”格式，重新输入完整的 10 位标识码后再保存",
                         text, school_code);
    if (strcmp(code, "school_mismatch") == 0 && own_school)
        return xasprintf("%s（%s）", text, own_school);
    const char *hint = indicator && strcmp(code, "unknown_indicator") == 0
                           ? feedback_indicator_code(indicator)
                           : NULL;
    if (hint)
        return xasprintf("%s。“%s”请写成指标代码 %s", text, indicator, hint);
    return xstrdup(text);
}

/*  Appends s as one CSV field that Excel shows as the text it is. */
static void s_put_field(FILE *f, const char *s)
{
    bool quote = strpbrk(s, ",\"") != NULL;
    if (quote)
        fputc('"', f);
    if (*s == '=' || *s == '+' || *s == '-' || *s == '@')
        fputc('\'', f);
    for (; *s; s++) {
        char c = *s;
        if (c == '\r' || c == '\n' || c == '\t')
            c = ' ';
        if (c == '"')
            fputc('"', f);
        fputc(c, f);
    }
    if (quote)
        fputc('"', f);
}

/*  Formats one line, with its line break. Caller frees. */
static char *s_format(const feedback_line_t *line)
{
    char *out = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&out, &size);
    if (!f)
        abort(); // out of memory, decided as the allocation wrappers do
    fprintf(f, "%u,", line->row);
    s_put_field(f, line->column ? line->column : "");
    fputc(',', f);
    s_put_field(f, line->code ? line->code : "");
    fputc(',', f);
    s_put_field(f, line->explain ? line->explain : "");
    fputc(',', f);
    s_put_field(f, line->detail ? line->detail : "");
    fputc('\n', f);
    fclose(f);
    return out;
}

typedef struct {
    unsigned row; // its row
    size_t order; // its position among the lines added (stable order within a row)
    char *text;   // the formatted line, with its line break
} s_line_t;

static int s_by_row(const void *a, const void *b)
{
    const s_line_t *x = a, *y = b;
    if (x->row != y->row)
        return x->row < y->row ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/*  Writes whole to path through path.tmp renamed over it. */
static int s_replace(const char *path, const char *head, const s_line_t *lines, size_t count,
                     char *err, size_t errlen)
{
    char *tmp = xasprintf("%s.tmp", path);
    int rc = -1;
    FILE *f = fopen(tmp, "w");
    if (!f) {
        errorf(err, errlen, "could not write \"%s\": %s", tmp, strerror(errno));
        goto cleanup;
    }
    fputs(head, f);
    for (size_t i = 0; i < count; i++)
        fputs(lines[i].text, f);
    if (fflush(f) != 0 || ferror(f)) {
        errorf(err, errlen, "could not write \"%s\": %s", tmp, strerror(errno));
        fclose(f);
        unlink(tmp);
        goto cleanup;
    }
    fclose(f);
    if (rename(tmp, path) != 0) {
        errorf(err, errlen, "could not rename \"%s\": %s", tmp, strerror(errno));
        unlink(tmp);
        goto cleanup;
    }
    rc = 0;
cleanup:
    free(tmp);
    return rc;
}

int feedback_add(const char *path, const feedback_line_t *adds, size_t count, char *err,
                 size_t errlen)
{
    if (count == 0)
        return 0;
    char *head = xasprintf("%s" FEEDBACK_HEADER "\n", s_bom);
    int rc = -1;
    char *old = NULL;
    size_t old_size = 0;
    s_line_t *lines = NULL;
    size_t n = 0, cap = 0;
    struct stat st;
    if (stat(path, &st) == 0 && !(old = file_read_all(path, &old_size, err, errlen)))
        goto cleanup;
    // the lines already there, each with its row; a file of an older version (another header)
    // keeps its lines under the new header
    bool ours = old && old_size >= strlen(head) && memcmp(old, head, strlen(head)) == 0;
    unsigned last_row = 0;
    bool full = false;
    if (old) {
        char *p = memchr(old, '\n', old_size);
        for (p = p ? p + 1 : old + old_size; p < old + old_size;) {
            char *nl = memchr(p, '\n', (size_t) (old + old_size - p));
            size_t len = nl ? (size_t) (nl - p) + 1 : (size_t) (old + old_size - p);
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                lines = xrealloc(lines, cap * sizeof *lines);
            }
            unsigned row = (unsigned) strtoul(p, NULL, 10);
            lines[n] =
                (s_line_t){row, n, nl ? xstrndup(p, len) : xasprintf("%.*s\n", (int) len, p)};
            full = full || strstr(lines[n].text, ",too_many_errors,") != NULL;
            last_row = row;
            n++;
            p += len;
        }
    }
    size_t kept = n;
    // the new lines, in row order, as many as the bound leaves room for
    s_line_t *adding = xcalloc(count, sizeof *adding);
    for (size_t i = 0; i < count; i++)
        adding[i] = (s_line_t){adds[i].row, kept + i, s_format(&adds[i])};
    qsort(adding, count, sizeof *adding, s_by_row);
    bool append = ours && (kept == 0 || adding[0].row >= last_row);
    size_t room = full || n >= FEEDBACK_MAX_LINES ? 0 : FEEDBACK_MAX_LINES - n;
    size_t taking = count < room ? count : room;
    if (n + taking + 1 > cap) {
        cap = n + taking + 1;
        lines = xrealloc(lines, cap * sizeof *lines);
    }
    for (size_t i = 0; i < count; i++) {
        if (i < taking)
            lines[n++] = adding[i];
        else
            free(adding[i].text);
    }
    if (taking < count && !full) {
        feedback_line_t more = {
            .row = adding[count - 1].row,
            .column = "",
            .code = "too_many_errors",
            .explain = "这个文件的问题太多，以下未再列出：请先改正上面列出的问题，再重新放入文件",
            .detail = "more problems than an errors file lists"};
        lines[n] = (s_line_t){more.row, n, s_format(&more)};
        n++;
    }
    free(adding);
    if (n == kept) {
        rc = 0;
    } else if (!old || append) {
        FILE *f = fopen(path, "a");
        if (!f) {
            errorf(err, errlen, "could not write \"%s\": %s", path, strerror(errno));
            goto cleanup;
        }
        if (!old)
            fputs(head, f);
        for (size_t i = kept; i < n; i++)
            fputs(lines[i].text, f);
        bool bad = fflush(f) != 0 || ferror(f);
        fclose(f);
        if (bad) {
            errorf(err, errlen, "could not write \"%s\": %s", path, strerror(errno));
            goto cleanup;
        }
        rc = 0;
    } else {
        qsort(lines, n, sizeof *lines, s_by_row);
        rc = s_replace(path, head, lines, n, err, errlen);
    }
cleanup:
    for (size_t i = 0; i < n; i++)
        free(lines[i].text);
    free(lines);
    free(old);
    free(head);
    return rc;
}
