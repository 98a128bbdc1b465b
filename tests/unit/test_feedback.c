/*  test_feedback - errors.csv as staff open it: BOM, Chinese beside the codes, row order,
 *  the bound, and the hints for causes that can be guessed
 */
#include "feedback.h"
#include "util.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BOM "\xEF\xBB\xBF"

static char *s_tmpdir(void)
{
    char *dir = xstrdup("/tmp/test_feedback.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    return dir;
}

static char *s_read(const char *path)
{
    size_t size = 0;
    char err[256];
    char *data = file_read_all(path, &size, err, sizeof err);
    cr_assert_not_null(data, "%s", err);
    return data;
}

//  The rows of the file's lines after the header, as "2,3,3,5".
static char *s_rows(const char *data)
{
    char *out = xstrdup("");
    const char *p = strchr(data, '\n');
    while (p && p[1]) {
        char *next = xasprintf("%s%s%lu", out, *out ? "," : "", strtoul(p + 1, NULL, 10));
        free(out);
        out = next;
        p = strchr(p + 1, '\n');
    }
    return out;
}

Test(feedback, bom_header_and_fields)
{
    char *dir = s_tmpdir();
    char *path = xasprintf("%s/x.csv.errors.csv", dir);
    feedback_line_t lines[] = {
        {3, "value", "not_a_number", "数值“12,5”不是数字", "value \"12,5\" is not a number"},
        {1, "", "no_header", "表头", "line\nbreak\tand\rreturn"},
        {2, "indicator", "unknown_indicator", "=HYPERLINK(\"x\")", "-5 is below"},
    };
    char err[256];
    cr_assert_eq(feedback_add(path, lines, 3, err, sizeof err), 0, "%s", err);
    char *got = s_read(path);
    cr_expect_str_eq(got, BOM FEEDBACK_HEADER
                     "\n"
                     "1,,no_header,表头,line break and return\n"
                     "2,indicator,unknown_indicator,\"'=HYPERLINK(\"\"x\"\")\",'-5 is below\n"
                     "3,value,not_a_number,\"数值“12,5”不是数字\",\"value \"\"12,5\"\" is not a "
                     "number\"\n");
    free(got);
    unlink(path);
    rmdir(dir);
    free(path);
    free(dir);
}

//  Refusals come later than the parse errors and may belong before them: the file stays in
//  row order, and lines of one row keep the order they came in.
Test(feedback, row_order_across_additions)
{
    char *dir = s_tmpdir();
    char *path = xasprintf("%s/x.csv.errors.csv", dir);
    char err[256];
    feedback_line_t parse[] = {{5, "value", "not_a_number", "a", ""},
                               {3, "", "extra_data", "b", ""}};
    cr_assert_eq(feedback_add(path, parse, 2, err, sizeof err), 0);
    feedback_line_t county1[] = {{2, "period", "bad_period", "c", ""},
                                 {3, "school_code", "unknown_school", "d", ""}};
    cr_assert_eq(feedback_add(path, county1, 2, err, sizeof err), 0);
    feedback_line_t county2[] = {{9, "value", "out_of_range", "e", ""}}; // appended
    cr_assert_eq(feedback_add(path, county2, 1, err, sizeof err), 0);
    char *got = s_read(path);
    char *rows = s_rows(got);
    cr_expect_str_eq(rows, "2,3,3,5,9");
    cr_expect_not_null(strstr(got, "3,,extra_data,b,\n3,school_code,unknown_school,d,\n"));
    cr_expect_eq(strncmp(got, BOM, 3), 0);
    cr_expect_null(strstr(got + 3, BOM), "one BOM only");
    free(rows);
    free(got);
    struct stat st;
    char *tmp = xasprintf("%s.tmp", path);
    cr_expect_neq(stat(tmp, &st), 0, "no temporary file left");
    free(tmp);
    unlink(path);
    rmdir(dir);
    free(path);
    free(dir);
}

//  An errors file of the older format (English header, no BOM) keeps its lines under the new
//  header.
Test(feedback, older_file_converted)
{
    char *dir = s_tmpdir();
    char *path = xasprintf("%s/x.csv.errors.csv", dir);
    FILE *f = fopen(path, "w");
    fputs("row,column,reason,detail\n4,period,bad_period,old\n", f);
    fclose(f);
    char err[256];
    feedback_line_t line = {2, "value", "out_of_range", "新", ""};
    cr_assert_eq(feedback_add(path, &line, 1, err, sizeof err), 0);
    char *got = s_read(path);
    cr_expect_str_eq(got,
                     BOM FEEDBACK_HEADER "\n2,value,out_of_range,新,\n4,period,bad_period,old\n");
    free(got);
    unlink(path);
    rmdir(dir);
    free(path);
    free(dir);
}

//  At FEEDBACK_MAX_LINES the file says the rest are not listed, once.
Test(feedback, bounded)
{
    char *dir = s_tmpdir();
    char *path = xasprintf("%s/x.csv.errors.csv", dir);
    char err[256];
    size_t n = FEEDBACK_MAX_LINES - 2;
    feedback_line_t *lines = xcalloc(n, sizeof *lines);
    for (size_t i = 0; i < n; i++)
        lines[i] = (feedback_line_t){(unsigned) i + 2, "value", "not_a_number", "x", ""};
    cr_assert_eq(feedback_add(path, lines, n, err, sizeof err), 0);
    feedback_line_t more[5];
    for (size_t i = 0; i < 5; i++)
        more[i] = (feedback_line_t){(unsigned) (n + 2 + i), "", "out_of_range", "y", ""};
    cr_assert_eq(feedback_add(path, more, 5, err, sizeof err), 0);
    cr_assert_eq(feedback_add(path, more, 5, err, sizeof err), 0); // nothing more
    char *got = s_read(path);
    size_t count = 0;
    for (const char *p = got; (p = strchr(p, '\n')); p++)
        count++;
    cr_expect_eq(count, 1 + FEEDBACK_MAX_LINES + 1, "header, the bound, one line saying so");
    const char *last = strstr(got, "too_many_errors");
    cr_expect_not_null(last);
    cr_expect_null(strstr(last + 1, "too_many_errors"));
    free(got);
    free(lines);
    unlink(path);
    rmdir(dir);
    free(path);
    free(dir);
}

Test(feedback, explain_every_reason)
{
    static const struct {
        const char *code; // the county's reason
        const char *must; // words the sentence must hold
    } cases[] = {
        {"unknown_school", "学校名单"},
        {"school_mismatch", "本校"},
        {"unknown_indicator", "指标代码"},
        {"bad_period", "2025-2026"},
        {"not_finite", "有限"},
        {"out_of_range", "范围"},
        {"period_locked", "解锁"},
        {"batch_refused", "跳过"},
        {"record_too_large", "太大"},
        {"no_such_reason", "no_such_reason"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = feedback_explain(cases[i].code, NULL, NULL, "2143004052");
        cr_expect_not_null(strstr(got, cases[i].must), "%s: \"%s\"", cases[i].code, got);
        free(got);
    }
}

Test(feedback, hints)
{
    char *got = feedback_explain("unknown_indicator", "2143004052", "生师比", "2143004052");
    cr_expect_not_null(strstr(got, "student_teacher_ratio"), "%s", got);
    free(got);
    got = feedback_explain("unknown_indicator", "2143004052", " 家长满意度 ", NULL);
    cr_expect_not_null(strstr(got, "parent_satisfaction_pct"), "%s", got);
    free(got);
    got = feedback_explain("unknown_indicator", "2143004052", "学生人数", NULL);
    cr_expect_null(strstr(got, "请写成"), "no hint for a name it does not know: %s", got);
    free(got);
    got = feedback_explain("unknown_school", "2.143E+09", "x", NULL);
    cr_expect_not_null(strstr(got, "文本"), "%s", got);
    cr_expect_not_null(strstr(got, "2.143E+09"), "%s", got);
    free(got);
    got = feedback_explain("school_mismatch", "2.14305E+9", "x", "2143004052");
    cr_expect_not_null(strstr(got, "科学计数法"), "%s", got);
    free(got);
    got = feedback_explain("unknown_school", "2143009999", "x", NULL);
    cr_expect_null(strstr(got, "科学计数法"), "%s", got);
    free(got);
}

Test(feedback, indicator_names_and_scientific)
{
    static const char *codes[] = {"degree_teachers_per100",
                                  "backbone_teachers_per100",
                                  "pe_art_teachers_per100",
                                  "teaching_area_per_student",
                                  "sports_area_per_student",
                                  "equipment_value_per_student",
                                  "multimedia_rooms_per100",
                                  "student_teacher_ratio",
                                  "bachelor_teacher_pct",
                                  "training_hours",
                                  "backbone_rotation_pct",
                                  "fitness_pass_pct",
                                  "exam_excellent_pct",
                                  "myopia_pct",
                                  "psych_teacher_pct",
                                  "inquiry_learning_pct",
                                  "parent_satisfaction_pct",
                                  "enrolment",
                                  "capacity"};
    static const char *names[] = {"每百名学生拥有高于规定学历教师数",
                                  "每百名学生拥有县级以上骨干教师数",
                                  "每百名学生拥有体育、艺术专任教师数",
                                  "生均教学及辅助用房面积",
                                  "生均体育运动场馆面积",
                                  "生均教学仪器设备值",
                                  "每百名学生拥有网络多媒体教室数",
                                  "生师比",
                                  "本科及以上学历教师占比",
                                  "教师年均培训时长",
                                  "骨干教师交流轮岗比例",
                                  "学生体质健康合格率",
                                  "学业水平考试优秀率",
                                  "学生近视率",
                                  "专职心理教师配备率",
                                  "探究式、项目式学习课堂占比",
                                  "社会认可度（家长满意度）",
                                  "在校生数",
                                  "核定学位数"};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *got = feedback_indicator_code(names[i]);
        cr_expect_not_null(got, "%s", names[i]);
        if (got)
            cr_expect_str_eq(got, codes[i]);
    }
    cr_expect_null(feedback_indicator_code("student_teacher_ratio"));
    cr_expect_null(feedback_indicator_code("生师"));
    static const struct {
        const char *text;
        bool want;
    } sci[] = {{"2.143E+09", true},   {"2.14305E+9", true}, {"2E9", true},   {"2.1e-3", true},
               {"2143004052", false}, {"2.143", false},     {"E+09", false}, {"2.E+09", false},
               {"2.1E", false},       {"2.1E+", false},     {"", false},     {"2.1E+09x", false}};
    for (size_t i = 0; i < sizeof sci / sizeof sci[0]; i++)
        cr_expect_eq(feedback_is_scientific(sci[i].text), sci[i].want, "\"%s\"", sci[i].text);
}

//  Every name of the template's catalog (deploy/template/catalog.csv) is in the built-in table,
//  with its code.
Test(feedback, catalog_file_names_known)
{
    const char *path = EDU_SOURCE_DIR "/deploy/template/catalog.csv";
    size_t size = 0;
    char err[256];
    char *data = file_read_all(path, &size, err, sizeof err);
    cr_assert_not_null(data, "%s", err);
    size_t checked = 0;
    char *save = NULL;
    for (char *line = strtok_r(data, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
        char *comma = strchr(line, ',');
        if (!comma || strncmp(line, "\xEF\xBB\xBF", 3) == 0)
            continue; // the header
        *comma = '\0';
        char *name = comma + 1;
        char *end = strchr(name, ',');
        cr_assert_not_null(end);
        *end = '\0';
        const char *code = feedback_indicator_code(name);
        cr_expect_not_null(code, "%s", name);
        if (code)
            cr_expect_str_eq(code, line);
        checked++;
    }
    cr_expect_eq(checked, 19);
    free(data);
}
