/*  redact - secrets taken out of what may reach a log line */
#include "redact.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define S_HIDDEN "***"

/*  Appends n bytes of s to buf (size bytes, used so far in *used), cutting at the end. */
static void s_put(char *buf, size_t size, size_t *used, const char *s, size_t n)
{
    if (*used + 1 >= size)
        return;
    if (n > size - 1 - *used)
        n = size - 1 - *used;
    memcpy(buf + *used, s, n);
    *used += n;
    buf[*used] = '\0';
}

static bool s_secret_option(const char *key)
{
    return strcmp(key, "password") == 0 || strcmp(key, "sslpassword") == 0;
}

const char *redact_conninfo(const char *conninfo, char *buf, size_t size)
{
    if (size == 0)
        return buf;
    *buf = '\0';
    char *error = NULL;
    PQconninfoOption *options = PQconninfoParse(conninfo ? conninfo : "", &error);
    PQfreemem(error);
    if (!options) {
        snprintf(buf, size, "(a connection string of %zu bytes that libpq cannot parse)",
                 conninfo ? strlen(conninfo) : 0);
        return buf;
    }
    size_t used = 0;
    for (PQconninfoOption *o = options; o->keyword; o++) {
        if (!o->val)
            continue;
        if (used)
            s_put(buf, size, &used, " ", 1);
        s_put(buf, size, &used, o->keyword, strlen(o->keyword));
        s_put(buf, size, &used, "=", 1);
        const char *value = s_secret_option(o->keyword) ? S_HIDDEN : o->val;
        bool quote = !*value || strpbrk(value, " '\\\t");
        if (quote)
            s_put(buf, size, &used, "'", 1);
        for (const char *c = value; *c; c++) {
            if (*c == '\'' || *c == '\\')
                s_put(buf, size, &used, "\\", 1);
            s_put(buf, size, &used, c, 1);
        }
        if (quote)
            s_put(buf, size, &used, "'", 1);
    }
    PQconninfoFree(options);
    return buf;
}

static bool s_secret_parameter(const char *name, size_t n)
{
    static const char *secret[] = {"access_token", "token", "key", "secret", "sign",
                                   "password"};
    for (size_t i = 0; i < sizeof secret / sizeof *secret; i++)
        if (strlen(secret[i]) == n && strncasecmp(name, secret[i], n) == 0)
            return true;
    return false;
}

const char *redact_url(const char *url, char *buf, size_t size)
{
    if (size == 0)
        return buf;
    *buf = '\0';
    size_t used = 0;
    const char *s = url ? url : "";
    // scheme://[user[:password]@]host...: the password goes
    const char *authority = strstr(s, "://");
    if (authority) {
        authority += 3;
        size_t host_len = strcspn(authority, "/?#");
        const char *at = memchr(authority, '@', host_len);
        s_put(buf, size, &used, s, (size_t) (authority - s));
        if (at) {
            const char *colon = memchr(authority, ':', (size_t) (at - authority));
            s_put(buf, size, &used, authority,
                  (size_t) ((colon ? colon : at) - authority));
            if (colon)
                s_put(buf, size, &used, ":" S_HIDDEN, strlen(":" S_HIDDEN));
            authority = at;
        }
        s = authority;
    }
    // the path: a robot's token after /hook/
    size_t path_len = strcspn(s, "?#");
    const char *hook = NULL;
    for (const char *p = s; p && p < s + path_len; p++) {
        p = strstr(p, "/hook/");
        if (!p || p >= s + path_len)
            break;
        hook = p + 6;
    }
    if (hook) {
        s_put(buf, size, &used, s, (size_t) (hook - s));
        s_put(buf, size, &used, S_HIDDEN, strlen(S_HIDDEN));
        s = hook + strcspn(hook, "/?#");
        path_len = strcspn(s, "?#");
    }
    s_put(buf, size, &used, s, path_len);
    s += path_len;
    // the query: name=value pairs, the secret ones' values hidden
    while (*s == '?' || *s == '&') {
        s_put(buf, size, &used, s, 1);
        s++;
        size_t pair = strcspn(s, "&#");
        const char *eq = memchr(s, '=', pair);
        if (eq && s_secret_parameter(s, (size_t) (eq - s))) {
            s_put(buf, size, &used, s, (size_t) (eq - s) + 1);
            s_put(buf, size, &used, S_HIDDEN, strlen(S_HIDDEN));
        } else {
            s_put(buf, size, &used, s, pair);
        }
        s += pair;
    }
    s_put(buf, size, &used, s, strlen(s)); // a fragment, as it is
    return buf;
}
