/*  test_redact - no secret of a conninfo or a URL reaches a log line */
#include "redact.h"

#include <criterion/criterion.h>
#include <string.h>

Test(redact, conninfo_keywords)
{
    char buf[512];
    redact_conninfo("host=/run/pg dbname=edu user=edu_writer password=s3cret", buf, sizeof buf);
    cr_expect_null(strstr(buf, "s3cret"), "%s", buf);
    cr_expect_not_null(strstr(buf, "password=***"), "%s", buf);
    cr_expect_not_null(strstr(buf, "dbname=edu"), "%s", buf);
    cr_expect_not_null(strstr(buf, "host=/run/pg"), "%s", buf);
    redact_conninfo("dbname=edu password='two words' sslpassword=k3y", buf, sizeof buf);
    cr_expect_null(strstr(buf, "two words"), "%s", buf);
    cr_expect_null(strstr(buf, "k3y"), "%s", buf);
}

Test(redact, conninfo_uri)
{
    char buf[512];
    redact_conninfo("postgresql://edu:s3cret@db.example:5432/edu?password=other", buf,
                    sizeof buf);
    cr_expect_null(strstr(buf, "s3cret"), "%s", buf);
    cr_expect_null(strstr(buf, "other"), "%s", buf);
    cr_expect_not_null(strstr(buf, "host=db.example"), "%s", buf);
}

Test(redact, conninfo_unparsable_shows_no_text)
{
    char buf[512];
    redact_conninfo("host=x password='unterminated s3cret", buf, sizeof buf);
    cr_expect_null(strstr(buf, "s3cret"), "%s", buf);
    cr_expect_not_null(strstr(buf, "cannot parse"), "%s", buf);
}

Test(redact, conninfo_cut_to_buffer)
{
    char buf[16];
    redact_conninfo("dbname=a_rather_long_database_name password=s3cret", buf, sizeof buf);
    cr_expect_eq(strlen(buf), sizeof buf - 1);
    cr_expect_null(strstr(buf, "s3cret"));
}

Test(redact, url_credentials)
{
    char buf[512];
    redact_url("smtp://mailer:pa55@mail.example:587", buf, sizeof buf);
    cr_expect_str_eq(buf, "smtp://mailer:***@mail.example:587");
    redact_url("https://oapi.dingtalk.com/robot/send?access_token=abc123&timestamp=1&sign=xyz",
               buf, sizeof buf);
    cr_expect_str_eq(buf,
                     "https://oapi.dingtalk.com/robot/send?access_token=***&timestamp=1&sign=***");
    redact_url("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6", buf, sizeof buf);
    cr_expect_str_eq(buf, "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=***");
    redact_url("https://open.feishu.cn/open-apis/bot/v2/hook/0f1e2d3c-token", buf, sizeof buf);
    cr_expect_str_eq(buf, "https://open.feishu.cn/open-apis/bot/v2/hook/***");
    redact_url("http://127.0.0.1:8088/hook", buf, sizeof buf);
    cr_expect_str_eq(buf, "http://127.0.0.1:8088/hook");
}

Test(redact, url_cut_to_buffer)
{
    char buf[24];
    redact_url("https://oapi.dingtalk.com/robot/send?access_token=abc123", buf, sizeof buf);
    cr_expect_eq(strlen(buf), sizeof buf - 1);
    cr_expect_null(strstr(buf, "abc123"));
}
