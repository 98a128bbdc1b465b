/*  test_deliver_config - [webhook.*], [email.*] and [smtp] as the delivery room checks them */
#include "deliver_config.h"

#include <criterion/criterion.h>
#include <string.h>

typedef struct {
    destination_t *items; // gathered so far
    size_t count;         // how many
} s_list_t;

static int s_set(s_list_t *list, const char *section, const char *key, const char *value, char *err,
                 size_t errlen)
{
    char prefix[32];
    const char *dot = strchr(section, '.');
    snprintf(prefix, sizeof prefix, "%.*s", (int) (dot - section), section);
    return deliver_config_named(&list->items, &list->count, prefix, dot + 1, key, value, err,
                                errlen);
}

typedef struct {
    const char *section, *key, *value; // one line of a file
    const char *refusal;               // NULL: taken; else err holds this
    const char *hidden;                // err must not hold this (a credential)
} s_value_case_t;

static const s_value_case_t s_values[] = {
    {"webhook.a", "format", "feishu", NULL, NULL},
    {"webhook.a", "format", "dingtalk", NULL, NULL},
    {"webhook.a", "format", "lark", "must be json, dingtalk, wecom or feishu", NULL},
    {"webhook.a", "min_level", "green", "must be yellow or red", NULL},
    {"webhook.a", "url", "https://oapi.dingtalk.com/robot/send?access_token=t0ken", NULL, NULL},
    {"webhook.a", "url", "ftp://user:pa55word@host/robot/send?access_token=t0ken",
     "is not an http:// or https:// URL", "pa55word"},
    {"webhook.a", "url", "ftp://host/robot/send?access_token=t0ken", "access_token=***", "t0ken"},
    {"webhook.a", "url", "https://h/x?access_token=t0ken with space", "space", "t0ken"},
    {"webhook.a", "url", "http://", "is not an http", NULL},
    {"webhook.a", "secret", "SEC0123456789abcdef", NULL, NULL},
    {"webhook.a", "secret", "SEC01 23", "printable ASCII", "SEC01"},
    {"webhook.a", "secret", "SEC密钥", "printable ASCII", "SEC"},
    {"webhook.a", "keyword", "教育督导", NULL, NULL},
    {"webhook.a", "keyword", "1234567890123456789012345678901234567890123456789012345678901234",
     NULL, NULL},
    {"webhook.a", "keyword", "12345678901234567890123456789012345678901234567890123456789012345",
     "at most 64", NULL},
    {"webhook.a", "keyword", "\xff\xfe", "UTF-8", NULL},
    {"webhook.a", "max_per_minute", "0", NULL, NULL},
    {"webhook.a", "max_per_minute", "600", NULL, NULL},
    {"webhook.a", "max_per_minute", "601", "out of range [0, 600]", NULL},
    {"webhook.a", "max_per_minute", "-1", "out of range", NULL},
    {"webhook.a", "max_per_minute", "ten", "expected a whole number", NULL},
    {"webhook.a", "throttled_wait_s", "3600", NULL, NULL},
    {"webhook.a", "throttled_wait_s", "3601", "out of range [0, 3600]", NULL},
    {"email.b", "to", "chief@county.example", NULL, NULL},
    {"email.b", "to", "chief.county.example", "is not an e-mail address", NULL},
    {"email.b", "to", "<chief@county.example>", "is not an e-mail address", NULL},
    {"email.b", "secret", "x", "unknown key", NULL},
};

Test(deliver_config, values)
{
    for (size_t i = 0; i < sizeof s_values / sizeof *s_values; i++) {
        const s_value_case_t *c = &s_values[i];
        s_list_t list = {0};
        char err[1024] = "";
        int rc = s_set(&list, c->section, c->key, c->value, err, sizeof err);
        if (!c->refusal)
            cr_expect_eq(rc, 0, "case %zu: %s = %s refused: %s", i, c->key, c->value, err);
        else {
            cr_expect_eq(rc, -1, "case %zu: %s = %s taken", i, c->key, c->value);
            cr_expect_not_null(strstr(err, c->refusal), "case %zu: \"%s\" lacks \"%s\"", i, err,
                               c->refusal);
        }
        if (c->hidden)
            cr_expect_null(strstr(err, c->hidden), "case %zu: \"%s\" shows a secret", i, err);
        deliver_config_free(&list.items, &list.count);
    }
}

Test(deliver_config, destinations_in_file_order)
{
    s_list_t list = {0};
    char err[512];
    cr_assert_eq(s_set(&list, "webhook.robot", "url", "http://127.0.0.1:1/r", err, sizeof err), 0);
    cr_assert_eq(s_set(&list, "email.chief", "to", "c@x.example", err, sizeof err), 0);
    cr_assert_eq(s_set(&list, "webhook.robot", "format", "feishu", err, sizeof err), 0);
    cr_assert_eq(s_set(&list, "webhook.robot", "secret", "s3cret", err, sizeof err), 0);
    cr_assert_eq(s_set(&list, "webhook.robot", "keyword", "预警", err, sizeof err), 0);
    cr_assert_eq(s_set(&list, "webhook.robot", "max_per_minute", "5", err, sizeof err), 0);
    cr_assert_eq(s_set(&list, "webhook.robot", "min_level", "red", err, sizeof err), 0);
    cr_assert_eq(list.count, 2);
    destination_t *r = &list.items[0];
    cr_expect_str_eq(r->name, "webhook.robot");
    cr_expect_eq(r->kind, DELIVER_WEBHOOK);
    cr_expect_eq(r->format, ROBOT_FEISHU);
    cr_expect_str_eq(r->secret, "s3cret");
    cr_expect_str_eq(r->keyword, "预警");
    cr_expect_eq(r->max_per_minute, 5);
    cr_expect(r->red_only);
    cr_expect_str_eq(list.items[1].name, "email.chief");
    cr_expect_eq(list.items[1].kind, DELIVER_EMAIL);
    cr_expect_eq(deliver_config_check(list.items, list.count, "smtp://127.0.0.1:25",
                                      "eduwatch@county.example", "a.ini", err, sizeof err),
                 0, "%s", err);
    cr_expect_str_eq(list.items[1].url, "smtp://127.0.0.1:25");
    cr_expect_str_eq(list.items[1].from, "eduwatch@county.example");
    deliver_config_free(&list.items, &list.count);
    cr_expect_null(list.items);
    deliver_config_free(&list.items, &list.count); // safe twice
}

Test(deliver_config, empty_secret_and_keyword_are_none)
{
    s_list_t list = {0};
    char err[256];
    cr_assert_eq(s_set(&list, "webhook.r", "secret", "", err, sizeof err), 0);
    cr_assert_eq(s_set(&list, "webhook.r", "keyword", "", err, sizeof err), 0);
    cr_expect_null(list.items[0].secret);
    cr_expect_null(list.items[0].keyword);
    deliver_config_free(&list.items, &list.count);
}

typedef struct {
    const char *lines[4][2]; // key, value of [webhook.w] or [email.e] (to)
    const char *smtp_url;    // [smtp] url
    const char *refusal;     // NULL: complete; else err holds this
    const char *hidden;      // err must not hold this
} s_check_case_t;

static const s_check_case_t s_checks[] = {
    {{{"format", "dingtalk"}}, "smtp://h", "[webhook.w] has no url", NULL},
    {{{"url", "http://h/r"}, {"format", "wecom"}, {"secret", "s3cret"}},
     "smtp://h",
     "cannot sign with format = wecom",
     "s3cret"},
    {{{"url", "http://h/r"}, {"secret", "s3cret"}},
     "smtp://h",
     "cannot sign with format = json",
     NULL},
    {{{"url", "http://h/r"}, {"keyword", "预警"}}, "smtp://h", "cannot put a keyword", NULL},
    {{{"url", "http://h/r"}, {"format", "feishu"}, {"secret", "s"}, {"keyword", "k"}},
     "smtp://h",
     NULL,
     NULL},
    {{{"to", "c@x.example"}}, "smtp://mailer:pa55word@h:25", NULL, NULL},
    {{{"to", "c@x.example"}}, "http://mailer:pa55word@h:25", "[smtp] url", "pa55word"},
};

Test(deliver_config, complete)
{
    for (size_t i = 0; i < sizeof s_checks / sizeof *s_checks; i++) {
        const s_check_case_t *c = &s_checks[i];
        s_list_t list = {0};
        char err[1024] = "";
        for (size_t j = 0; j < 4 && c->lines[j][0]; j++) {
            const char *section = strcmp(c->lines[j][0], "to") == 0 ? "email.e" : "webhook.w";
            cr_assert_eq(s_set(&list, section, c->lines[j][0], c->lines[j][1], err, sizeof err), 0,
                         "case %zu: %s", i, err);
        }
        int rc = deliver_config_check(list.items, list.count, c->smtp_url, "e@x.example", "a.ini",
                                      err, sizeof err);
        if (!c->refusal)
            cr_expect_eq(rc, 0, "case %zu: %s", i, err);
        else {
            cr_expect_eq(rc, -1, "case %zu: complete", i);
            cr_expect_not_null(strstr(err, c->refusal), "case %zu: \"%s\" lacks \"%s\"", i, err,
                               c->refusal);
            cr_expect_not_null(strstr(err, "a.ini"), "case %zu: names the file", i);
        }
        if (c->hidden)
            cr_expect_null(strstr(err, c->hidden), "case %zu: \"%s\" shows a secret", i, err);
        deliver_config_free(&list.items, &list.count);
    }
}
