/*  robot - the group robots of DingTalk (钉钉), WeCom (企业微信) and Feishu/Lark (飞书): how a
 *  request is signed, how their answer is read, and the limits each one documents
 *
 *  These robots answer HTTP 200 even when they refuse a message: the verdict is in the body,
 *  `{"errcode": 0, ...}` (DingTalk, WeCom) or `{"code": 0, ...}` (Feishu; older Feishu robots
 *  `{"StatusCode": 0, ...}`). robot_answer() reads it and sorts it into what to do next, in
 *  the style of Fluent Bit's OK / RETRY / ERROR: a message is delivered only on a zero code.
 *
 *  Signing (the robots' "加签" / "签名校验" security setting), both HMAC-SHA256 through
 *  libsodium (which CURVE already rests on), base64 in the standard alphabet:
 *  - DingTalk: timestamp in milliseconds, sign = HMAC(key = secret, message = timestamp "\n"
 *    secret), both sent as query parameters (`&timestamp=…&sign=…`, the sign URL-encoded).
 *  - Feishu: timestamp in seconds, sign = HMAC(key = timestamp "\n" secret, empty message),
 *    both sent in the JSON body (`"timestamp"`, `"sign"`).
 *  A signature is valid for an hour, so every request is signed afresh.
 *
 *  Limits, from each platform's documentation of custom robots:
 *  - DingTalk: 20 messages a minute per robot, beyond which it refuses (errcode 130101) for 10
 *    minutes; a request body of at most 20 000 bytes (460101).
 *  - WeCom: 20 messages a minute (45009); markdown content of at most 4 096 bytes (40058).
 *  - Feishu: 100 messages a minute and 5 a second (9499, 11232); a body of at most 20 KB.
 */
#ifndef EDU_ROBOT_H
#define EDU_ROBOT_H

#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    ROBOT_JSON,     // a generic webhook: the alert object, any 2xx is delivered
    ROBOT_DINGTALK, // 钉钉 custom robot
    ROBOT_WECOM,    // 企业微信 group robot
    ROBOT_FEISHU,   // 飞书 / Lark custom bot
} robot_format_t;

typedef enum {
    ROBOT_OK,        // delivered: the robot said 0 (a json webhook: any 2xx)
    ROBOT_RETRY,     // may succeed soon: no answer, HTTP 5xx, "system busy", an unreadable answer
    ROBOT_THROTTLED, // "too fast": try again after the robot's window
    ROBOT_REFUSED,   // refused until someone changes something: signature, keyword, token, size
} robot_verdict_t;

/*  Room for a signature: base64 of 32 bytes, URL-encoded at worst, and a terminator. */
#define ROBOT_SIGN_SIZE 128

/*  The format named text ("json", "dingtalk", "wecom", "feishu"). Returns 0, or -1 when text
 *  names none. */
int robot_format_parse(const char *text, robot_format_t *format);

/*  The format's name, as in the configuration. */
const char *robot_format_name(robot_format_t format);

/*  The platform's name for people ("DingTalk", ...). */
const char *robot_platform(robot_format_t format);

/*  Messages a minute the robot takes at most by its documentation (0: no limit, json). */
int robot_rate_per_minute(robot_format_t format);

/*  Seconds to wait after the robot said "too fast", by its documentation (0 for json). */
int robot_throttle_wait_s(robot_format_t format);

/*  Bytes of alert lines one message may carry so that the request stays within the robot's
 *  size limit (SIZE_MAX for json, which sends one alert per request). */
size_t robot_text_budget(robot_format_t format);

/*  Bytes a line costs beyond its text in the robot's message (bullet, JSON around it). */
size_t robot_line_overhead(robot_format_t format);

/*  DingTalk's signature for timestamp_ms, base64 (not URL-encoded), into out (size >=
 *  ROBOT_SIGN_SIZE). Returns 0, or -1 when out is too small. */
int robot_sign_dingtalk(const char *secret, int64_t timestamp_ms, char *out, size_t size);

/*  Feishu's signature for timestamp_s, base64, into out (size >= ROBOT_SIGN_SIZE). Returns 0,
 *  or -1 when out is too small. */
int robot_sign_feishu(const char *secret, int64_t timestamp_s, char *out, size_t size);

/*  url with DingTalk's `timestamp` and `sign` parameters for timestamp_ms added (after `&` when
 *  url has a query, else `?`); curl borrowed for URL-encoding. Returns a string the caller
 *  frees, or NULL when curl could not encode. */
char *robot_signed_url(CURL *curl, const char *url, const char *secret, int64_t timestamp_ms);

/*  Reads an answer: the HTTP status (0: no answer) and the body (len bytes, need not be
 *  terminated). Returns the verdict; for anything but ROBOT_OK, err says what the robot said
 *  (its code and message, escaped for a log line), without the URL. */
robot_verdict_t robot_answer(robot_format_t format, long status, const char *body, size_t len,
                             char *err, size_t errlen);

#endif
