/*  deliver_config - the alert destinations in the aggregator's configuration file (see
 *  deliver_config.h)
 */
#include "deliver_config.h"

#include "util.h"

#include <stdlib.h>
#include <string.h>

void deliver_destination_free(destination_t *dest)
{
    free(dest->name);
    free(dest->url);
    free(dest->format);
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
                            .name = xstrdup(full)};
    return dest;
}

int deliver_config_named(destination_t **dests, size_t *count, const char *prefix,
                         const char *name, const char *key, const char *value, char *err,
                         size_t errlen)
{
    if (strcmp(key, "min_level") == 0 && strcmp(value, "yellow") && strcmp(value, "red"))
        return errorf(err, errlen, "min_level = \"%s\" must be yellow or red", value);
    if (strcmp(key, "format") == 0 && strcmp(value, "json") && strcmp(value, "dingtalk") &&
        strcmp(value, "wecom"))
        return errorf(err, errlen, "format = \"%s\" must be json, dingtalk or wecom", value);
    if (strcmp(key, "url") == 0 && strncmp(value, "http://", 7) && strncmp(value, "https://", 8))
        return errorf(err, errlen, "url = \"%s\" is not an http:// or https:// URL", value);
    if (strcmp(key, "to") == 0 && !strchr(value, '@'))
        return errorf(err, errlen, "to = \"%s\" is not an e-mail address", value);
    char *full = xasprintf("%s.%s", prefix, name);
    destination_t *dest = s_find_or_add(dests, count, prefix, full);
    free(full);
    char **slot = strcmp(key, "url") == 0      ? &dest->url
                  : strcmp(key, "format") == 0 ? &dest->format
                  : strcmp(key, "to") == 0     ? &dest->to
                                               : NULL;
    if (slot) {
        free(*slot);
        *slot = xstrdup(value);
    }
    if (strcmp(key, "min_level") == 0)
        dest->red_only = strcmp(value, "red") == 0;
    return 0;
}

int deliver_config_check(destination_t *dests, size_t count, const char *smtp_url,
                         const char *smtp_from, const char *path, char *err, size_t errlen)
{
    for (size_t i = 0; i < count; i++) {
        destination_t *d = &dests[i];
        if (d->kind == DELIVER_WEBHOOK && !d->url)
            return errorf(err, errlen, "%s: [%s] has no url", path, d->name);
        if (d->kind == DELIVER_EMAIL && !d->to)
            return errorf(err, errlen, "%s: [%s] has no to", path, d->name);
        if (d->kind == DELIVER_EMAIL) {
            free(d->url);
            free(d->from);
            d->url = xstrdup(smtp_url);
            d->from = xstrdup(smtp_from);
        }
    }
    return 0;
}
