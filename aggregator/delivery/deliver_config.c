/*  deliver_config - the alert destinations in the aggregator's configuration file (see
 *  deliver_config.h)
 *
 *  A value that may carry a credential (a URL, a secret) is never repeated as it is in an
 *  error: a URL goes through redact_url, a secret is not shown at all.
 */
#include "deliver_config.h"

#include "redact.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define S_URL_MAX 2048    // bytes of a webhook's or the SMTP server's URL
#define S_SECRET_MAX 256  // bytes of a signing secret
#define S_KEYWORD_MAX 64  // bytes of a robot's keyword
#define S_ADDRESS_MAX 254 // bytes of an e-mail address (RFC 5321's path less its brackets)

static const config_key_t s_keys[] = {
    DELIVER_CONFIG_WEBHOOK_KEYS,
    DELIVER_CONFIG_EMAIL_KEYS,
    {NULL, NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

void deliver_destination_free(destination_t *dest)
{
    free(dest->name);
    free(dest->url);
    free(dest->secret);
    free(dest->keyword);
    free(dest->from);
    free(dest->to);
    *dest = (destination_t){0};
}

void deliver_config_free(destination_t **dests, size_t *count)
{
    for (size_t i = 0; *dests && i < *count; i++)
        deliver_destination_free(&(*dests)[i]);
    free(*dests);
    *dests = NULL;
    *count = 0;
}

/*  The destination named full, added at the end when it is new. */
static destination_t *s_find_or_add(destination_t **dests, size_t *count, const char *prefix,
                                    const char *full)
{
    for (size_t i = 0; i < *count; i++)
        if (strcmp((*dests)[i].name, full) == 0)
            return &(*dests)[i];
    *dests = xrealloc(*dests, (*count + 1) * sizeof **dests);
    destination_t *dest = &(*dests)[(*count)++];
    *dest = (destination_t){.kind = strcmp(prefix, "email") == 0 ? DELIVER_EMAIL : DELIVER_WEBHOOK,
                            .name = xstrdup(full),
                            .format = ROBOT_JSON};
    return dest;
}

/*  True when s has a control character (or, with no_space, a space). */
static bool s_has_control(const char *s, bool no_space)
{
    for (const unsigned char *c = (const unsigned char *) s; *c; c++)
        if (*c < 0x20 || *c == 0x7f || (no_space && *c == ' '))
            return true;
    return false;
}

/*  True when s is printable ASCII without spaces (what the robots' secrets are made of). */
static bool s_printable(const char *s)
{
    for (const unsigned char *c = (const unsigned char *) s; *c; c++)
        if (*c <= 0x20 || *c >= 0x7f)
            return false;
    return true;
}

/*  A URL of one of the schemes (NULL-terminated list); its text is shown redacted. */
static int s_check_url(const char *key, const char *value, const char *const *schemes,
                       const char *expected, char *err, size_t errlen)
{
    char shown[512];
    redact_url(value, shown, sizeof shown);
    if (strlen(value) > S_URL_MAX)
        return errorf(err, errlen, "%s is longer than %d bytes", key, S_URL_MAX);
    if (s_has_control(value, true))
        return errorf(err, errlen, "%s = \"%s\" has a space or a control character", key, shown);
    for (const char *const *s = schemes; *s; s++)
        if (strncmp(value, *s, strlen(*s)) == 0 && value[strlen(*s)])
            return 0;
    return errorf(err, errlen, "%s = \"%s\" is not %s URL", key, shown, expected);
}

static int s_check_address(const char *key, const char *value, char *err, size_t errlen)
{
    if (strlen(value) > S_ADDRESS_MAX || !strchr(value, '@') || strpbrk(value, "<>,;\"") ||
        s_has_control(value, true))
        return errorf(err, errlen, "%s = \"%.300s\" is not an e-mail address", key, value);
    return 0;
}

/*  A whole number within the row's bounds. */
static int s_int(const config_key_t *row, const char *value, int *out, char *err, size_t errlen)
{
    char *end = NULL;
    errno = 0;
    long n = strtol(value, &end, 10);
    if (end == value || *end || errno == ERANGE)
        return errorf(err, errlen, "invalid value \"%.64s\" for \"%s\": expected a whole number",
                      value, row->key);
    if (n < (long) row->min || n > (long) row->max)
        return errorf(err, errlen, "value %ld for \"%s\" is out of range [%g, %g]", n, row->key,
                      row->min, row->max);
    *out = (int) n;
    return 0;
}

int deliver_config_named(destination_t **dests, size_t *count, const char *prefix, const char *name,
                         const char *key, const char *value, char *err, size_t errlen)
{
    const config_key_t *row = NULL;
    for (size_t i = 0; s_keys[i].key && !row; i++)
        if (strncmp(s_keys[i].section, prefix, strlen(prefix)) == 0 &&
            s_keys[i].section[strlen(prefix)] == '.' && strcmp(s_keys[i].key, key) == 0)
            row = &s_keys[i];
    if (!row) // the loader only hands over keys of the table
        return errorf(err, errlen, "unknown key \"%s\" in section [%s.%s]", key, prefix, name);
    static const char *const web[] = {"http://", "https://", NULL};
    robot_format_t format = ROBOT_JSON;
    int number = 0;
    if (strcmp(key, "min_level") == 0 && strcmp(value, "yellow") && strcmp(value, "red"))
        return errorf(err, errlen, "min_level = \"%.64s\" must be yellow or red", value);
    if (strcmp(key, "format") == 0 && robot_format_parse(value, &format) != 0)
        return errorf(err, errlen, "format = \"%.64s\" must be json, dingtalk, wecom or feishu",
                      value);
    if (strcmp(key, "url") == 0 &&
        s_check_url(key, value, web, "an http:// or https://", err, errlen) != 0)
        return -1;
    if (strcmp(key, "to") == 0 && s_check_address(key, value, err, errlen) != 0)
        return -1;
    if (strcmp(key, "secret") == 0 && (strlen(value) > S_SECRET_MAX || !s_printable(value)))
        return errorf(err, errlen,
                      "secret must be printable ASCII without spaces, at most %d bytes (the "
                      "value is not shown)",
                      S_SECRET_MAX);
    if (strcmp(key, "keyword") == 0 &&
        (strlen(value) > S_KEYWORD_MAX || !utf8_valid(value, strlen(value)) ||
         s_has_control(value, false)))
        return errorf(err, errlen,
                      "keyword must be UTF-8 text of at most %d bytes without control characters",
                      S_KEYWORD_MAX);
    if (row->type == CONFIG_INT && s_int(row, value, &number, err, errlen) != 0)
        return -1;
    char *full = xasprintf("%s.%s", prefix, name);
    destination_t *dest = s_find_or_add(dests, count, prefix, full);
    free(full);
    char **slot = strcmp(key, "url") == 0       ? &dest->url
                  : strcmp(key, "to") == 0      ? &dest->to
                  : strcmp(key, "secret") == 0  ? &dest->secret
                  : strcmp(key, "keyword") == 0 ? &dest->keyword
                                                : NULL;
    if (slot) {
        free(*slot);
        *slot = *value ? xstrdup(value) : NULL; // an empty secret or keyword: none
    }
    if (strcmp(key, "format") == 0)
        dest->format = format;
    if (strcmp(key, "min_level") == 0)
        dest->red_only = strcmp(value, "red") == 0;
    if (strcmp(key, "max_per_minute") == 0)
        dest->max_per_minute = number;
    if (strcmp(key, "throttled_wait_s") == 0)
        dest->throttled_wait_s = number;
    return 0;
}

int deliver_config_check(destination_t *dests, size_t count, const char *smtp_url,
                         const char *smtp_from, const char *path, char *err, size_t errlen)
{
    static const char *const mail[] = {"smtp://", "smtps://", NULL};
    bool mails = false;
    for (size_t i = 0; i < count; i++) {
        destination_t *d = &dests[i];
        const char *format = robot_format_name(d->format);
        if (d->kind == DELIVER_WEBHOOK && !d->url)
            return errorf(err, errlen, "%s: [%s] has no url", path, d->name);
        if (d->kind == DELIVER_EMAIL && !d->to)
            return errorf(err, errlen, "%s: [%s] has no to", path, d->name);
        if (d->secret && d->format != ROBOT_DINGTALK && d->format != ROBOT_FEISHU)
            return errorf(err, errlen,
                          "%s: [%s] cannot sign with format = %s: only dingtalk and feishu robots "
                          "take a secret",
                          path, d->name, format);
        if (d->keyword && d->format == ROBOT_JSON)
            return errorf(err, errlen,
                          "%s: [%s] cannot put a keyword in format = json: it sends the alert "
                          "objects as they are",
                          path, d->name);
        mails = mails || d->kind == DELIVER_EMAIL;
    }
    if (!mails)
        return 0;
    char inner[768];
    if (s_check_url("url", smtp_url, mail, "an smtp:// or smtps://", inner, sizeof inner) != 0 ||
        s_check_address("from", smtp_from, inner, sizeof inner) != 0)
        return errorf(err, errlen, "%s: [smtp] %s", path, inner);
    for (size_t i = 0; i < count; i++) {
        destination_t *d = &dests[i];
        if (d->kind == DELIVER_EMAIL) {
            free(d->url);
            free(d->from);
            d->url = xstrdup(smtp_url);
            d->from = xstrdup(smtp_from);
        }
    }
    return 0;
}
