/*  alert - what a supervisor reads: the Chinese sentence of an alert */
#include "alert.h"

#include "util.h"

#include <stdio.h>
#include <string.h>

const char *alert_stage_name(const char *stage)
{
    if (stage && strcmp(stage, "primary") == 0)
        return "小学";
    if (stage && strcmp(stage, "junior") == 0)
        return "初中";
    return stage ? stage : "";
}

/*  Why the item is yellow or red, after the comma. */
static void s_reason(const alert_facts_t *f, char *out, size_t size)
{
    bool red = f->level == LEVEL_RED;
    const char *u = f->unit ? f->unit : "";
    if (strcmp(f->kind, "threshold") == 0) {
        if (!f->has_target)
            snprintf(out, size, "未达标");
        else if (f->higher_better)
            snprintf(out, size, red ? "低于标准%g%s的%g%%" : "未达到标准%g%s", f->target, u,
                     f->tolerance * 100);
        else
            snprintf(out, size, red ? "超出标准%g%s的允许范围" : "高于标准%g%s", f->target, u);
    } else if (strcmp(f->kind, "balanced") == 0) {
        snprintf(out, size, "7项资源配置指标仅%g项达标", f->value);
    } else if (strcmp(f->kind, "dispersion") == 0) {
        snprintf(out, size, red ? "校际差异系数%.3f，超过国家标准%g" : "校际差异系数%.3f，高于县定目标",
                 f->value, f->target);
    } else if (strcmp(f->kind, "fluctuation") == 0) {
        snprintf(out, size, "较上一学年变差%g%s", f->value, u);
    } else if (strcmp(f->kind, "missing") == 0) {
        snprintf(out, size, red ? "逾期两周以上仍未报送" : "已过报送截止日期仍未报送");
    } else if (strcmp(f->kind, "data_quality") == 0) {
        snprintf(out, size, "数据异常，请实地核查");
    } else if (strcmp(f->kind, "progress") == 0) {
        snprintf(out, size, "规划进度滞后，已改善%.2f%s", f->value, u);
    } else {
        snprintf(out, size, "需要关注");
    }
}

/*  A message cut short by the buffer must still be valid UTF-8 (it goes into the database and
 *  into JSON): drop a partly written last character. */
void alert_whole_characters(char *out)
{
    size_t n = strlen(out);
    while (n > 0 && !utf8_valid(out, n))
        out[--n] = '\0';
}

static void s_message(const alert_facts_t *f, char *out, size_t size);

void alert_message(const alert_facts_t *f, char *out, size_t size)
{
    s_message(f, out, size);
    alert_whole_characters(out);
}

static void s_message(const alert_facts_t *f, char *out, size_t size)
{
    char value[64] = "";
    bool plain_value = f->has_value && (strcmp(f->kind, "threshold") == 0 ||
                                        strcmp(f->kind, "data_quality") == 0);
    if (plain_value)
        snprintf(value, sizeof value, " %g%s", f->value, f->unit ? f->unit : "");
    if (f->level == LEVEL_GREEN) {
        snprintf(out, size, "【预警解除】%s %s学年 %s%s，已恢复正常（原%s预警）。", f->who,
                 f->period, f->indicator_name, value,
                 f->previous == LEVEL_RED ? "红色" : "黄色");
        return;
    }
    char reason[256];
    s_reason(f, reason, sizeof reason);
    snprintf(out, size, "【%s预警】%s %s学年 %s%s，%s。", f->level == LEVEL_RED ? "红色" : "黄色",
             f->who, f->period, f->indicator_name, value, reason);
}
