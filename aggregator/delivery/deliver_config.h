/*  deliver_config - the alert destinations in the aggregator's configuration file:
 *  [webhook.NAME], [email.NAME] and the [smtp] server the e-mail ones use
 *
 *  The config machinery (common/config.h) hands every key of a named section to
 *  deliver_config_named(), which checks its value and gathers the destinations in file order;
 *  once the whole file is read, deliver_config_check() checks that each destination is complete
 *  and gives the e-mail ones their server. The rows these sections add to the configuration's
 *  table (for --help and the example file) are DELIVER_CONFIG_WEBHOOK_KEYS and
 *  DELIVER_CONFIG_EMAIL_KEYS, so that what a key means is written beside how it is checked.
 */
#ifndef EDU_DELIVER_CONFIG_H
#define EDU_DELIVER_CONFIG_H

#include "config.h"
#include "deliver.h"

#include <stddef.h>

/*  Rows of the configuration table for [webhook.*] (named sections: their values go to
 *  deliver_config_named, not to a field). */
#define DELIVER_CONFIG_WEBHOOK_KEYS                                                                \
    {"webhook.*", "url", CONFIG_STRING, NULL, 0, 0, 0, "URL POSTed with each alert", NULL},        \
        {"webhook.*", "format", CONFIG_STRING, "json", 0, 0, 0, "json | dingtalk | wecom", NULL},   \
        {"webhook.*", "min_level", CONFIG_STRING, "yellow", 0, 0, 0, "yellow | red", NULL}

/*  Rows of the configuration table for [email.*]. */
#define DELIVER_CONFIG_EMAIL_KEYS                                                                  \
    {"email.*", "to", CONFIG_STRING, NULL, 0, 0, 0, "recipient address", NULL},                   \
        {"email.*", "min_level", CONFIG_STRING, "yellow", 0, 0, 0, "yellow | red", NULL}

/*  One key of a [webhook.NAME] or [email.NAME] section (prefix "webhook" or "email"): checks
 *  the value and stores it in the destination of that name in *dests (*count of them, in file
 *  order), added at its first key. The body of a config_named_fn. Returns 0, or -1 with err
 *  (without file and line, which the loader adds). */
int deliver_config_named(destination_t **dests, size_t *count, const char *prefix,
                         const char *name, const char *key, const char *value, char *err,
                         size_t errlen);

/*  After the file is read: checks that every destination has what it needs (a webhook its url,
 *  an e-mail its recipient) and gives the e-mail ones the [smtp] server and sender (copied).
 *  Returns 0, or -1 with err naming path and the section. */
int deliver_config_check(destination_t *dests, size_t count, const char *smtp_url,
                         const char *smtp_from, const char *path, char *err, size_t errlen);

/*  Frees every destination and the list, nulls *dests and zeroes *count; safe twice. */
void deliver_config_free(destination_t **dests, size_t *count);

/*  Frees the strings of one destination and zeroes it; safe twice. */
void deliver_destination_free(destination_t *dest);

#endif
