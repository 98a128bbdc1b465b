/*  test_alert - the sentence a supervisor forwards, for each kind and level */
#include "alert.h"
#include "util.h"

#include <criterion/criterion.h>
#include <string.h>

static alert_facts_t s_facts(const char *kind, level_t level, level_t previous, double value)
{
    return (alert_facts_t){.kind = kind,
                           .who = "衡阳县第三小学",
                           .indicator_name = "生均教学仪器设备值",
                           .unit = "元",
                           .period = "2025-2026",
                           .level = level,
                           .previous = previous,
                           .has_value = true,
                           .value = value,
                           .has_target = true,
                           .target = 2000,
                           .higher_better = true,
                           .tolerance = 0.85};
}

Test(alert, messages)
{
    static const struct {
        const char *kind;
        level_t level, previous;
        double value;
        const char *want;
    } cases[] = {
        {"threshold", LEVEL_RED, LEVEL_GREEN, 1520,
         "【红色预警】衡阳县第三小学 2025-2026学年 生均教学仪器设备值 1520元，低于标准2000元的85%。"},
        {"threshold", LEVEL_YELLOW, LEVEL_GREEN, 1800,
         "【黄色预警】衡阳县第三小学 2025-2026学年 生均教学仪器设备值 1800元，未达到标准2000元。"},
        {"threshold", LEVEL_GREEN, LEVEL_RED, 2100,
         "【预警解除】衡阳县第三小学 2025-2026学年 生均教学仪器设备值 2100元，已恢复正常（原红色预警）。"},
        {"missing", LEVEL_YELLOW, LEVEL_GREEN, 0,
         "【黄色预警】衡阳县第三小学 2025-2026学年 生均教学仪器设备值，已过报送截止日期仍未报送。"},
        {"missing", LEVEL_RED, LEVEL_YELLOW, 0,
         "【红色预警】衡阳县第三小学 2025-2026学年 生均教学仪器设备值，逾期两周以上仍未报送。"},
        {"fluctuation", LEVEL_RED, LEVEL_GREEN, 13.5,
         "【红色预警】衡阳县第三小学 2025-2026学年 生均教学仪器设备值，较上一学年变差13.5元。"},
        {"data_quality", LEVEL_YELLOW, LEVEL_GREEN, 9000,
         "【黄色预警】衡阳县第三小学 2025-2026学年 生均教学仪器设备值 9000元，数据异常，请实地核查。"},
        {"balanced", LEVEL_RED, LEVEL_YELLOW, 5,
         "【红色预警】衡阳县第三小学 2025-2026学年 生均教学仪器设备值，7项资源配置指标仅5项达标。"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        alert_facts_t f = s_facts(cases[i].kind, cases[i].level, cases[i].previous, cases[i].value);
        if (strcmp(cases[i].kind, "missing") == 0)
            f.has_value = false;
        char out[512];
        alert_message(&f, out, sizeof out);
        cr_expect_str_eq(out, cases[i].want, "case %zu", i);
    }
}

Test(alert, lower_is_better_and_county)
{
    alert_facts_t f = s_facts("threshold", LEVEL_RED, LEVEL_GREEN, 23.6);
    f.indicator_name = "生师比", f.unit = "", f.target = 15, f.higher_better = false;
    char out[512];
    alert_message(&f, out, sizeof out);
    cr_expect_str_eq(out, "【红色预警】衡阳县第三小学 2025-2026学年 生师比 23.6，超出标准15的允许范围。");
    f = s_facts("dispersion", LEVEL_RED, LEVEL_YELLOW, 0.541);
    f.who = "全县小学", f.target = 0.5;
    alert_message(&f, out, sizeof out);
    cr_expect_str_eq(out, "【红色预警】全县小学 2025-2026学年 生均教学仪器设备值，校际差异系数0.541，超过国家标准0.5。");
    cr_expect_str_eq(alert_stage_name("junior"), "初中");
    cr_expect_str_eq(alert_stage_name("primary"), "小学");
}

Test(alert, truncated_to_whole_characters)
{
    alert_facts_t f = s_facts("threshold", LEVEL_RED, LEVEL_GREEN, 1520);
    for (size_t size = 1; size < 120; size++) {
        char out[128];
        alert_message(&f, out, size);
        cr_expect_lt(strlen(out), size, "size %zu", size);
        cr_expect(utf8_valid(out, strlen(out)), "size %zu: \"%s\" is not valid UTF-8", size, out);
    }
}

Test(alert, messages_of_the_forecast_and_county_kinds)
{
    alert_facts_t trend = s_facts("trend", LEVEL_YELLOW, LEVEL_GREEN, 1657.84);
    trend.aux[0] = 2000;
    trend.forecast_period = "2027-2028";
    alert_facts_t places = s_facts("capacity", LEVEL_RED, LEVEL_YELLOW, 1.0546);
    places.indicator_name = "学位供需";
    places.aux[0] = 0.9947;
    places.aux[1] = 0.0602;
    alert_facts_t full = places;
    full.aux[0] = 1.028;
    full.value = 1.085;
    alert_facts_t persistent = s_facts("persistent", LEVEL_RED, LEVEL_YELLOW, 3);
    alert_facts_t county = s_facts("persistent", LEVEL_RED, LEVEL_GREEN, 2);
    county.who = "全县小学";
    county.county = true;
    alert_facts_t check = s_facts("consistency", LEVEL_YELLOW, LEVEL_GREEN, 243);
    check.indicator_name = "在校生数不超过核定学位数的两倍";
    check.rule = "在校生数 ≤ 2 × 核定学位数（本校为 319 与 76）";
    alert_facts_t verdict = s_facts("county_balanced", LEVEL_RED, LEVEL_YELLOW, 0.25);
    verdict.who = "全县小学";
    verdict.indicator_name = "县域义务教育优质均衡";
    verdict.target = 0.85;
    verdict.aux[0] = 1;
    alert_facts_t gap = s_facts("urban_rural_gap", LEVEL_YELLOW, LEVEL_GREEN, 0.1832);
    gap.who = "全县小学";
    gap.unit = "人";
    gap.aux[0] = 6.251;
    gap.aux[1] = 5.105;
    static const char *want[] = {
        "【黄色预警】衡阳县第三小学 2025-2026学年 "
        "生均教学仪器设备值，按近年趋势预计2027-2028学年降至"
        "1658元，将低于标准2000元的85%（预测预警）。",
        "【红色预警】衡阳县第三小学 2025-2026学年 "
        "学位供需，学位不足：预计下一学年在校生数达核定学位数的"
        "105%（近年在校生年均增长6.0%）。",
        "【红色预警】衡阳县第三小学 2025-2026学年 "
        "学位供需，在校生数已达核定学位数的103%，学位不足，"
        "预计下一学年达108%。",
        "【红色预警】衡阳县第三小学 2025-2026学年 "
        "生均教学仪器设备值，连续3个学年未达标，请启动帮扶整改。",
        "【红色预警】全县小学 2025-2026学年 "
        "生均教学仪器设备值，校际差异系数连续2个学年超过国家标准，"
        "请启动帮扶整改。",
        "【黄色预警】衡阳县第三小学 2025-2026学年 "
        "在校生数不超过核定学位数的两倍，逻辑校验未通过：应为 "
        "在校生数 ≤ 2 × 核定学位数（本校为 319 与 76），请核实填报数据。",
        "【红色预警】全县小学 2025-2026学年 "
        "县域义务教育优质均衡，1项校际差异系数超过国家标准，资源配置全部"
        "达标的学校占25.0%（要求不低于85%）。",
        "【黄色预警】全县小学 2025-2026学年 "
        "生均教学仪器设备值，城乡差距18.3%（城镇学校6.251人，乡村学校"
        "5.105人）。",
    };
    const alert_facts_t *facts[] = {&trend,  &places, &full,    &persistent,
                                    &county, &check,  &verdict, &gap};
    for (size_t i = 0; i < sizeof facts / sizeof *facts; i++) {
        char out[1024];
        alert_message(facts[i], out, sizeof out);
        cr_expect_str_eq(out, want[i], "case %zu", i);
    }
}
