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

// clang-format off
/*  Rows of the configuration table for [webhook.*] (named sections: their values go to
 *  deliver_config_named, which applies the bounds given here, not to a field). */
#define DELIVER_CONFIG_WEBHOOK_KEYS                                                                \
    {"webhook.*", "url", CONFIG_STRING, NULL, 0, 0, 0,                                             \
     "URL POSTed to (a robot's access_token or key in it is a credential: logs show ***)",        \
     NULL},                                                                                        \
        {"webhook.*", "format", CONFIG_STRING, "json", 0, 0, 0,                                    \
         "json (each alert object) | dingtalk | wecom | feishu (their robots' messages, grouped "  \
         "for people)",                                                                            \
         NULL},                                                                                    \
        {"webhook.*", "min_level", CONFIG_STRING, "yellow", 0, 0, 0, "yellow | red", NULL},       \
        {"webhook.*", "secret", CONFIG_STRING, "", 0, 0, 0,                                        \
         "the robot's signing secret, dingtalk (加签, SEC...) or feishu (签名校验); empty = "      \
         "requests are not signed",                                                                \
         NULL},                                                                                    \
        {"webhook.*", "keyword", CONFIG_STRING, "", 0, 0, 0,                                       \
         "a word the robot requires in every message (its 自定义关键词 setting), put in every "   \
         "message's title (at most 64 bytes)",                                                     \
         NULL},                                                                                    \
        {"webhook.*", "max_per_minute", CONFIG_INT, "0", 0, 600, 0,                                \
         "messages a minute at most; more alerts wait and go out together (0 = the robot's "      \
         "documented limit: dingtalk 20, wecom 20, feishu 100; json none)",                       \
         NULL},                                                                                    \
        {"webhook.*", "throttled_wait_s", CONFIG_INT, "0", 0, 3600, 0,                             \
         "after the robot answers \"too fast\", wait this long before the next try (0 = its "     \
         "documented window: dingtalk 600, wecom 60, feishu 60)",                                  \
         NULL}

/*  Rows of the configuration table for [email.*]. */
#define DELIVER_CONFIG_EMAIL_KEYS                                                                  \
    {"email.*", "to", CONFIG_STRING, NULL, 0, 0, 0, "recipient address", NULL},                   \
        {"email.*", "min_level", CONFIG_STRING, "yellow", 0, 0, 0, "yellow | red", NULL}
// clang-format on

/*  One key of a [webhook.NAME] or [email.NAME] section (prefix "webhook" or "email"): checks
 *  the value and stores it in the destination of that name in *dests (*count of them, in file
 *  order), added at its first key. The body of a config_named_fn. Returns 0, or -1 with err
 *  (without file and line, which the loader adds). */
int deliver_config_named(destination_t **dests, size_t *count, const char *prefix, const char *name,
                         const char *key, const char *value, char *err, size_t errlen);

/*  After the file is read: checks that every destination has what it needs (a webhook its url,
 *  an e-mail its recipient), that what it has fits together (a secret only for a robot that
 *  signs, a keyword only for a robot) and, when there is an e-mail destination, the [smtp]
 *  server and sender, which it gives the e-mail ones (copied). Returns 0, or -1 with err
 *  naming path and the section; a URL in err has its credentials shown as ***. */
int deliver_config_check(destination_t *dests, size_t count, const char *smtp_url,
                         const char *smtp_from, const char *path, char *err, size_t errlen);

/*  Frees every destination and the list, nulls *dests and zeroes *count; safe twice. */
void deliver_config_free(destination_t **dests, size_t *count);

/*  Frees the strings of one destination and zeroes it; safe twice. */
void deliver_destination_free(destination_t *dest);

#endif
