/*  robot - the group robots of DingTalk, WeCom and Feishu (see robot.h)
 *
 *  An answer is read by a small scanner that finds one member of the top-level JSON object
 *  (strings, nested objects and arrays are skipped whole, so a key inside them or inside a
 *  string is never taken for the code); it does not validate the rest of the document, which
 *  is not ours to judge. Answers are capped by the caller, so the scan is bounded.
 */
#include "robot.h"

#include "util.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MSG_MAX 200 // bytes of a robot's message kept for a log line

static const struct {
    const char *name;     // in the configuration
    const char *platform; // for people reading a log
    int per_minute;       // documented messages a minute at most
    int throttle_s;       // documented wait after "too fast"
    size_t budget;        // bytes of alert lines per message
    size_t overhead;      // bytes per line beyond its text
} s_formats[] = {
    [ROBOT_JSON] = {"json", "webhook", 0, 0, SIZE_MAX, 0},
    // body <= 20 000 bytes: title twice, JSON around, "- " and "\n" (escaped: 2 bytes) per line
    [ROBOT_DINGTALK] = {"dingtalk", "DingTalk", 20, 600, 18000, 5},
    // markdown.content <= 4 096 bytes: "### " title "\n\n" and the lines
    [ROBOT_WECOM] = {"wecom", "WeCom", 20, 60, 3800, 5},
    // body <= 20 KB: each line is a paragraph [{"tag" : "text", "text" : "…"}] of the post
    [ROBOT_FEISHU] = {"feishu", "Feishu", 100, 60, 16000, 48},
};

int robot_format_parse(const char *text, robot_format_t *format)
{
    for (size_t i = 0; i < sizeof s_formats / sizeof *s_formats; i++)
        if (text && strcmp(text, s_formats[i].name) == 0) {
            *format = (robot_format_t) i;
            return 0;
        }
    return -1;
}

const char *robot_format_name(robot_format_t format)
{
    return s_formats[format].name;
}

const char *robot_platform(robot_format_t format)
{
    return s_formats[format].platform;
}

int robot_rate_per_minute(robot_format_t format)
{
    return s_formats[format].per_minute;
}

int robot_throttle_wait_s(robot_format_t format)
{
    return s_formats[format].throttle_s;
}

size_t robot_text_budget(robot_format_t format)
{
    return s_formats[format].budget;
}

size_t robot_line_overhead(robot_format_t format)
{
    return s_formats[format].overhead;
}

//  --------------------------------------------------------------------------
//  Signing

/*  base64 of HMAC-SHA256(key, message) into out. */
static int s_hmac_base64(const char *key, size_t key_len, const char *message, size_t message_len,
                         char *out, size_t size)
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state state;
    if (sodium_init() < 0 ||
        size < sodium_base64_ENCODED_LEN(sizeof mac, sodium_base64_VARIANT_ORIGINAL))
        return -1;
    crypto_auth_hmacsha256_init(&state, (const unsigned char *) key, key_len);
    crypto_auth_hmacsha256_update(&state, (const unsigned char *) message, message_len);
    crypto_auth_hmacsha256_final(&state, mac);
    sodium_memzero(&state, sizeof state);
    sodium_bin2base64(out, size, mac, sizeof mac, sodium_base64_VARIANT_ORIGINAL);
    return 0;
}

int robot_sign_dingtalk(const char *secret, int64_t timestamp_ms, char *out, size_t size)
{
    char *text = xasprintf("%" PRId64 "\n%s", timestamp_ms, secret);
    int rc = s_hmac_base64(secret, strlen(secret), text, strlen(text), out, size);
    sodium_memzero(text, strlen(text));
    free(text);
    return rc;
}

int robot_sign_feishu(const char *secret, int64_t timestamp_s, char *out, size_t size)
{
    char *key = xasprintf("%" PRId64 "\n%s", timestamp_s, secret);
    int rc = s_hmac_base64(key, strlen(key), "", 0, out, size);
    sodium_memzero(key, strlen(key));
    free(key);
    return rc;
}

char *robot_signed_url(CURL *curl, const char *url, const char *secret, int64_t timestamp_ms)
{
    char sign[ROBOT_SIGN_SIZE];
    if (robot_sign_dingtalk(secret, timestamp_ms, sign, sizeof sign) != 0)
        return NULL;
    char *escaped = curl_easy_escape(curl, sign, 0);
    if (!escaped)
        return NULL;
    char *signed_url = xasprintf("%s%ctimestamp=%" PRId64 "&sign=%s", url,
                                 strchr(url, '?') ? '&' : '?', timestamp_ms, escaped);
    curl_free(escaped);
    return signed_url;
}

//  --------------------------------------------------------------------------
//  Reading an answer

static const char *s_space(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    return p;
}

/*  p at a '"': returns just after the closing quote, or NULL. */
static const char *s_skip_string(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        if (*p == '\\')
            p++;
        else if (*p == '"')
            return p + 1;
    }
    return NULL;
}

/*  Returns just after the value at p, or NULL when the document ends first. */
static const char *s_skip_value(const char *p, const char *end)
{
    if (p >= end)
        return NULL;
    if (*p == '"')
        return s_skip_string(p, end);
    if (*p == '{' || *p == '[') {
        size_t depth = 0;
        while (p < end) {
            if (*p == '"') {
                p = s_skip_string(p, end);
                if (!p)
                    return NULL;
                continue;
            }
            if (*p == '{' || *p == '[')
                depth++;
            else if ((*p == '}' || *p == ']') && --depth == 0)
                return p + 1;
            p++;
        }
        return NULL;
    }
    while (p < end && !strchr(",}] \t\r\n", *p)) // number, true, false, null
        p++;
    return p;
}

/*  The value of the top-level member key: [*value, *value_end). Returns 0, or -1 when the
 *  body is not an object or has no such member. */
static int s_member(const char *body, size_t len, const char *key, const char **value,
                    const char **value_end)
{
    const char *end = body + len, *p = s_space(body, end);
    if (p >= end || *p != '{')
        return -1;
    p = s_space(p + 1, end);
    size_t key_len = strlen(key);
    while (p < end && *p == '"') {
        const char *name = p + 1, *after = s_skip_string(p, end);
        if (!after)
            return -1;
        bool match = (size_t) (after - 1 - name) == key_len && memcmp(name, key, key_len) == 0;
        p = s_space(after, end);
        if (p >= end || *p != ':')
            return -1;
        p = s_space(p + 1, end);
        const char *v = p;
        p = s_skip_value(p, end);
        if (!p)
            return -1;
        if (match) {
            *value = v;
            *value_end = p;
            return 0;
        }
        p = s_space(p, end);
        if (p < end && *p == ',')
            p = s_space(p + 1, end);
    }
    return -1;
}

/*  The top-level member key as an integer. Returns 0, or -1 when absent or not an integer. */
static int s_member_int(const char *body, size_t len, const char *key, long *out)
{
    const char *v, *v_end;
    if (s_member(body, len, key, &v, &v_end) != 0)
        return -1;
    const char *d = v + (v < v_end && *v == '-');
    if (v_end - d < 1 || v_end - d > 10)
        return -1;
    long n = 0;
    for (const char *c = d; c < v_end; c++) {
        if (*c < '0' || *c > '9')
            return -1;
        n = n * 10 + (*c - '0');
    }
    *out = *v == '-' ? -n : n;
    return 0;
}

/*  The top-level member key (a string, its escapes left as they are) escaped for a log line
 *  into buf; "" when absent. */
static const char *s_member_text(const char *body, size_t len, const char *key, char *buf,
                                 size_t size)
{
    const char *v, *v_end;
    char raw[S_MSG_MAX + 1] = "";
    if (s_member(body, len, key, &v, &v_end) == 0 && v_end - v >= 2 && *v == '"') {
        size_t n = (size_t) (v_end - v - 2);
        if (n > S_MSG_MAX)
            n = S_MSG_MAX;
        memcpy(raw, v + 1, n);
        raw[n] = '\0';
    }
    return str_escape(raw, buf, size);
}

/*  What a non-zero code means, for the ones worth a hint. */
static const char *s_hint(robot_format_t format, long code)
{
    if (format == ROBOT_DINGTALK && code == 310000)
        return "the robot's security setting refused it: check secret (加签), keyword "
               "(自定义关键词) and the robot's IP range";
    if (format == ROBOT_DINGTALK && (code == 300001 || code == 300005 || code == 400102))
        return "the robot's access_token is not valid or the robot was stopped: check url";
    if ((format == ROBOT_DINGTALK && code == 460101) || (format == ROBOT_WECOM && code == 40058))
        return "the message is too long";
    if (format == ROBOT_WECOM && code == 93000)
        return "the robot's key is not valid: check url";
    if (format == ROBOT_FEISHU && code == 19021)
        return "signature or timestamp refused: check secret (签名校验) and the clock";
    if (format == ROBOT_FEISHU && code == 19024)
        return "the keyword is missing: check keyword (自定义关键词)";
    if (format == ROBOT_FEISHU && code == 19022)
        return "this address is not among the robot's allowed IP ranges";
    return NULL;
}

robot_verdict_t robot_answer(robot_format_t format, long status, const char *body, size_t len,
                             char *err, size_t errlen)
{
    if (status == 429) {
        errorf(err, errlen, "answered HTTP 429 (too many requests)");
        return ROBOT_THROTTLED;
    }
    if (status < 200 || status > 299) {
        errorf(err, errlen, "answered HTTP %ld", status);
        return ROBOT_RETRY;
    }
    if (format == ROBOT_JSON)
        return ROBOT_OK;
    body = body ? body : "";
    const char *code_key = format == ROBOT_FEISHU ? "code" : "errcode";
    const char *msg_key = format == ROBOT_FEISHU ? "msg" : "errmsg";
    long code = 0;
    int found = s_member_int(body, len, code_key, &code);
    if (found != 0 && format == ROBOT_FEISHU) { // the older Feishu robots' answer
        found = s_member_int(body, len, "StatusCode", &code);
        msg_key = "StatusMessage";
    }
    if (found != 0) {
        char raw[64], text[256];
        snprintf(raw, sizeof raw, "%.*s", (int) (len < 60 ? len : 60), body);
        errorf(err, errlen, "answered HTTP %ld without a readable \"%s\": \"%s\"", status, code_key,
               str_escape(raw, text, sizeof text));
        return ROBOT_RETRY;
    }
    if (code == 0)
        return ROBOT_OK;
    char message[4 * S_MSG_MAX + 8];
    s_member_text(body, len, msg_key, message, sizeof message);
    const char *hint = s_hint(format, code);
    errorf(err, errlen, "%s %ld (\"%s\")%s%s", code_key, code, message, hint ? ": " : "",
           hint ? hint : "");
    bool throttled = (format == ROBOT_DINGTALK && code == 130101) ||
                     (format == ROBOT_WECOM && code == 45009) ||
                     (format == ROBOT_FEISHU && (code == 9499 || code == 11232));
    if (throttled)
        return ROBOT_THROTTLED;
    // "system busy" (-1) is DingTalk's and WeCom's word for a passing fault
    return code == -1 && format != ROBOT_FEISHU ? ROBOT_RETRY : ROBOT_REFUSED;
}
