/*  test_robot - the robots' signatures and how their answers are read
 *
 *  The expected signatures were computed with Python's hmac, hashlib and base64 modules, the
 *  way the platforms' own documentation computes them.
 */
#include "robot.h"

#include <criterion/criterion.h>
#include <string.h>

Test(robot, dingtalk_signature)
{
    char sign[ROBOT_SIGN_SIZE];
    cr_assert_eq(robot_sign_dingtalk("SEC0123456789abcdef", 1700000000000, sign, sizeof sign), 0);
    cr_expect_str_eq(sign, "TSZbRFUuvaSQaRKUpF970OPCb2/LcQAP3wOvwZIzBZk=");
    cr_expect_eq(robot_sign_dingtalk("SEC0123456789abcdef", 1700000000000, sign, 20), -1,
                 "a buffer too small is refused");
}

Test(robot, feishu_signature)
{
    char sign[ROBOT_SIGN_SIZE];
    cr_assert_eq(robot_sign_feishu("feishu-secret", 1700000000, sign, sizeof sign), 0);
    cr_expect_str_eq(sign, "OrBzY1Y01Gq+HgJsl+7OfWcMVwc7YocohQm5iiZwjhU=");
}

Test(robot, dingtalk_signed_url)
{
    CURL *curl = curl_easy_init();
    cr_assert_not_null(curl);
    char *url = robot_signed_url(curl, "https://oapi.dingtalk.com/robot/send?access_token=t0k",
                                 "SEC0123456789abcdef", 1700000000000);
    cr_expect_str_eq(url, "https://oapi.dingtalk.com/robot/send?access_token=t0k"
                          "&timestamp=1700000000000"
                          "&sign=TSZbRFUuvaSQaRKUpF970OPCb2%2FLcQAP3wOvwZIzBZk%3D");
    free(url);
    url = robot_signed_url(curl, "http://127.0.0.1:9/robot", "SEC0123456789abcdef", 1);
    cr_expect_eq(strncmp(url, "http://127.0.0.1:9/robot?timestamp=1&sign=", 42), 0, "%s", url);
    free(url);
    curl_easy_cleanup(curl);
}

typedef struct {
    robot_format_t format; // whose answer
    long status;           // HTTP status
    const char *body;      // what it said
    robot_verdict_t want;  // what to do next
    const char *says;      // err holds this (NULL: not checked)
} s_answer_case_t;

static const s_answer_case_t s_answers[] = {
    {ROBOT_DINGTALK, 200, "{\"errcode\":0,\"errmsg\":\"ok\"}", ROBOT_OK, NULL},
    {ROBOT_DINGTALK, 200, " { \"errmsg\" : \"ok\" , \"errcode\" : 0 } ", ROBOT_OK, NULL},
    {ROBOT_DINGTALK, 200, "{\"errcode\":310000,\"errmsg\":\"sign not match\"}", ROBOT_REFUSED,
     "errcode 310000 (\"sign not match\"): the robot's security setting"},
    {ROBOT_DINGTALK, 200, "{\"errcode\":310000,\"errmsg\":\"keywords not in content\"}",
     ROBOT_REFUSED, "keywords not in content"},
    {ROBOT_DINGTALK, 200, "{\"errcode\":130101,\"errmsg\":\"send too fast\"}", ROBOT_THROTTLED,
     "errcode 130101"},
    {ROBOT_DINGTALK, 200, "{\"errcode\":-1,\"errmsg\":\"系统繁忙\"}", ROBOT_RETRY, "errcode -1"},
    {ROBOT_DINGTALK, 200, "{\"errcode\":460101,\"errmsg\":\"message too long\"}", ROBOT_REFUSED,
     "too long"},
    {ROBOT_DINGTALK, 200, "{\"errcode\":12345}", ROBOT_REFUSED, "errcode 12345 (\"\")"},
    // a code inside a nested object or a string is not the answer's code
    {ROBOT_DINGTALK, 200, "{\"data\":{\"errcode\":0},\"note\":\"\\\"errcode\\\":0\",\"errcode\":7}",
     ROBOT_REFUSED, "errcode 7"},
    {ROBOT_DINGTALK, 200, "{\"data\":[{\"errcode\":0}]}", ROBOT_RETRY, "without a readable"},
    {ROBOT_DINGTALK, 200, "ok", ROBOT_RETRY, "without a readable \"errcode\": \"ok\""},
    {ROBOT_DINGTALK, 200, "", ROBOT_RETRY, "without a readable"},
    {ROBOT_DINGTALK, 200, "{\"errcode\":\"0\"}", ROBOT_RETRY, "without a readable"},
    {ROBOT_DINGTALK, 200, "{\"errcode\":99999999999}", ROBOT_RETRY, "without a readable"},
    {ROBOT_DINGTALK, 200, "{\"errcode\":0.5}", ROBOT_RETRY, "without a readable"},
    {ROBOT_DINGTALK, 200, "{\"errcode\":", ROBOT_RETRY, "without a readable"},
    {ROBOT_DINGTALK, 200, "{\"errmsg\":\"unterminated", ROBOT_RETRY, "without a readable"},
    {ROBOT_DINGTALK, 500, "{\"errcode\":0}", ROBOT_RETRY, "answered HTTP 500"},
    {ROBOT_DINGTALK, 429, "", ROBOT_THROTTLED, "HTTP 429"},
    {ROBOT_WECOM, 200, "{\"errcode\":0,\"errmsg\":\"ok\"}", ROBOT_OK, NULL},
    {ROBOT_WECOM, 200, "{\"errcode\":45009,\"errmsg\":\"api freq out of limit\"}", ROBOT_THROTTLED,
     "45009"},
    {ROBOT_WECOM, 200, "{\"errcode\":93000,\"errmsg\":\"invalid webhook url\"}", ROBOT_REFUSED,
     "key is not valid"},
    {ROBOT_FEISHU, 200, "{\"code\":0,\"data\":{},\"msg\":\"success\"}", ROBOT_OK, NULL},
    {ROBOT_FEISHU, 200, "{\"Extra\":null,\"StatusCode\":0,\"StatusMessage\":\"success\"}", ROBOT_OK,
     NULL},
    {ROBOT_FEISHU, 200, "{\"code\":19021,\"msg\":\"sign match fail\"}", ROBOT_REFUSED,
     "code 19021 (\"sign match fail\"): signature"},
    {ROBOT_FEISHU, 200, "{\"code\":19024,\"msg\":\"Key Words Not Found\"}", ROBOT_REFUSED,
     "keyword"},
    {ROBOT_FEISHU, 200, "{\"code\":11232,\"msg\":\"frequency limited\"}", ROBOT_THROTTLED, NULL},
    {ROBOT_FEISHU, 200, "{\"code\":9499,\"msg\":\"too many request\"}", ROBOT_THROTTLED, NULL},
    {ROBOT_FEISHU, 200, "{\"errcode\":0}", ROBOT_RETRY, "without a readable \"code\""},
    // a generic webhook: any 2xx, whatever its body
    {ROBOT_JSON, 200, "{\"errcode\":310000}", ROBOT_OK, NULL},
    {ROBOT_JSON, 204, "", ROBOT_OK, NULL},
    {ROBOT_JSON, 503, "", ROBOT_RETRY, "HTTP 503"},
};

Test(robot, answers)
{
    for (size_t i = 0; i < sizeof s_answers / sizeof *s_answers; i++) {
        const s_answer_case_t *c = &s_answers[i];
        char err[1024] = "";
        robot_verdict_t got =
            robot_answer(c->format, c->status, c->body, strlen(c->body), err, sizeof err);
        cr_expect_eq(got, c->want, "case %zu (%s): verdict %d, want %d (%s)", i, c->body, got,
                     c->want, err);
        if (c->says)
            cr_expect_not_null(strstr(err, c->says), "case %zu: \"%s\" lacks \"%s\"", i, err,
                               c->says);
    }
}

Test(robot, answer_is_read_within_its_length)
{
    // the buffer goes on beyond the answer; only len bytes count
    const char body[] = "{\"errcode\":1}{\"errcode\":0}";
    char err[256];
    cr_expect_eq(robot_answer(ROBOT_DINGTALK, 200, body, 13, err, sizeof err), ROBOT_REFUSED);
    cr_expect_eq(robot_answer(ROBOT_DINGTALK, 200, body, 11, err, sizeof err), ROBOT_RETRY);
}

Test(robot, answer_message_escaped_and_cut)
{
    char body[2048], err[2048];
    char long_text[1500];
    memset(long_text, 'x', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    snprintf(body, sizeof body, "{\"errcode\":1,\"errmsg\":\"a\x1b[31mb %s\"}", long_text);
    robot_answer(ROBOT_DINGTALK, 200, body, strlen(body), err, sizeof err);
    cr_expect_null(strchr(err, '\x1b'), "a control character from the robot is escaped");
    cr_expect_not_null(strstr(err, "a\\x1b[31mb"), "%s", err);
    cr_expect_lt(strlen(err), 400, "the robot's message is cut (%zu bytes)", strlen(err));
}

Test(robot, deep_nesting_is_bounded)
{
    static char body[200000];
    size_t n = 0;
    body[n++] = '{';
    memcpy(body + n, "\"a\":", 4), n += 4;
    while (n < sizeof body - 2)
        body[n++] = '[';
    body[n] = '\0';
    char err[256];
    cr_expect_eq(robot_answer(ROBOT_WECOM, 200, body, n, err, sizeof err), ROBOT_RETRY);
}

Test(robot, formats)
{
    robot_format_t f;
    cr_expect_eq(robot_format_parse("feishu", &f), 0);
    cr_expect_eq(f, ROBOT_FEISHU);
    cr_expect_eq(robot_format_parse("lark", &f), -1);
    cr_expect_eq(robot_format_parse(NULL, &f), -1);
    cr_expect_eq(robot_rate_per_minute(ROBOT_DINGTALK), 20);
    cr_expect_eq(robot_rate_per_minute(ROBOT_WECOM), 20);
    cr_expect_eq(robot_rate_per_minute(ROBOT_FEISHU), 100);
    cr_expect_eq(robot_rate_per_minute(ROBOT_JSON), 0);
    cr_expect_eq(robot_throttle_wait_s(ROBOT_DINGTALK), 600);
    cr_expect_lt(robot_text_budget(ROBOT_WECOM), 4096, "WeCom's markdown holds 4 096 bytes");
    cr_expect_lt(robot_text_budget(ROBOT_DINGTALK), 20000, "DingTalk's body holds 20 000 bytes");
}
