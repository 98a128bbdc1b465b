/*  aggregator_config - the county aggregator's configuration file: its keys, and the checks
 *  that run before anything starts (see aggregator_config.h)
 */
#include "aggregator_config.h"

#include "keys.h"
#include "period.h"
#include "receiver.h"
#include "rules.h"
#include "schools.h"
#include "util.h"

#include <czmq.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define S_KEY(sec, k, t, def, lo, hi, field, desc)                                                 \
    {sec, k, t, def, lo, hi, offsetof(aggregator_config_t, field), desc, NULL}

static int s_check_county(const char *value, char *err, size_t errlen)
{
    return config_check_digits(value, 6, err, errlen);
}

static int s_check_duration(const char *value, char *err, size_t errlen)
{
    long seconds;
    return period_parse_duration(value, &seconds, err, errlen);
}

const config_key_t aggregator_config_keys[] = {
    {"aggregator", "county", CONFIG_STRING, NULL, 0, 0, offsetof(aggregator_config_t, county),
     "6-digit administrative division code (行政区划代码) of the county", s_check_county},
    S_KEY("aggregator", "listen", CONFIG_STRING, "tcp://*:5555", 0, 0, listen,
          "endpoint the collectors connect to"),
    S_KEY("aggregator", "alerts", CONFIG_STRING, "tcp://*:5556", 0, 0, alerts,
          "PUB endpoint for supervisors (edu-alerts)"),
    S_KEY("aggregator", "query", CONFIG_STRING, "tcp://*:5557", 0, 0, query,
          "endpoint the province pulls from"),
    S_KEY("aggregator", "database", CONFIG_STRING, "dbname=edu host=/var/run/postgresql", 0, 0,
          database, "libpq connection string of the county database (the working role)"),
    S_KEY("aggregator", "owner_database", CONFIG_STRING, "", 0, 0, owner_database,
          "libpq connection string of the role that owns the schema, used only to migrate it "
          "and grant the roles below what they need (empty = the database role owns it)"),
    S_KEY("aggregator", "query_database", CONFIG_STRING, "", 0, 0, query_database,
          "libpq connection string of a role that only reads aggregates and warnings, used to "
          "answer `query` (the province, edu-alerts current) (empty = the database role)"),
    S_KEY("aggregator", "rules", CONFIG_STRING, "/etc/edu/rules.ini", 0, 0, rules,
          "indicator catalog and warning rules"),
    S_KEY("aggregator", "schools", CONFIG_STRING, "/etc/edu/schools.csv", 0, 0, schools,
          "registry of the county's schools"),
    S_KEY("aggregator", "evaluate", CONFIG_BOOL, "true", 0, 0, evaluate,
          "judge the red/yellow/green warnings after every batch (false: store only)"),
    S_KEY("aggregator", "http", CONFIG_STRING, "", 0, 0, http,
          "ADDRESS:PORT for Prometheus metrics (/metrics) and the dashboard (/), e.g. "
          "127.0.0.1:9101 (empty = none)"),
    S_KEY("aggregator", "case_yellow_days", CONFIG_INT, "30", 1, 3650, case_yellow_days,
          "a warning yellow this many days opens a case (a red one opens it at once)"),
    S_KEY("aggregator", "case_ack_days", CONFIG_INT, "7", 1, 3650, case_ack_days,
          "a case not acknowledged within this many days is escalated (督办)"),
    S_KEY("aggregator", "case_reopen_days", CONFIG_INT, "365", 0, 3650, case_reopen_days,
          "a closed case whose warning turns yellow or red again within this many days "
          "reopens (回头看)"),
    {"aggregator", "repeat_interval", CONFIG_STRING, "7d", 0, 0,
     offsetof(aggregator_config_t, repeat_interval),
     "people's destinations are reminded of the red cases still open this often: 7d, 12h, "
     "30m (0 = never)", s_check_duration},
    S_KEY("aggregator", "digest_items", CONFIG_INT, "10", 0, 1000000, digest_items,
          "a full judgement (the first, or after new rules) raising more alerts than this "
          "reaches people as one digest (the JSON webhook and the PUB socket get each)"),
    S_KEY("aggregator", "http_hosts", CONFIG_STRING, "", 0, 0, http_hosts,
          "further Host header values the HTTP port answers, comma-separated (the name a "
          "proxy in front of it uses); the bound ADDRESS:PORT is always allowed"),
    S_KEY("aggregator", "alert_group_wait_ms", CONFIG_INT, "5000", 0, 3600000, alert_group_wait_ms,
          "webhooks for people and e-mail wait this long so a burst, or an item that flaps, "
          "goes out as one message"),
    S_KEY("aggregator", "max_batch_bytes", CONFIG_INT, "4194304", 65536, 268435456,
          max_batch_bytes, "largest message a collector may send (bytes); a larger one is "
          "refused with a reason the collector logs"),
    S_KEY("aggregator", "max_refusals_per_batch", CONFIG_INT, "1000", 0, 100000,
          max_refusals_per_batch, "refusals of one batch stored one by one in "
          "edu.rejected_record; the rest are counted by reason in edu.refusal_overflow (the "
          "school's errors.csv still gets each)"),
    S_KEY("aggregator", "max_refusals_per_hour", CONFIG_INT, "10000", 0, 100000000,
          max_refusals_per_hour, "refusals of one sending school stored one by one per hour; "
          "the rest are counted likewise"),
    S_KEY("curve", "enabled", CONFIG_BOOL, "true", 0, 0, curve_enabled,
          "CURVE encryption and authentication (false only for loopback endpoints)"),
    S_KEY("curve", "secret", CONFIG_STRING, "/etc/edu/keys/aggregator_secret", 0, 0, curve_secret,
          "the aggregator's secret certificate"),
    S_KEY("curve", "clients", CONFIG_STRING, "/etc/edu/keys/schools", 0, 0, curve_clients,
          "public certificates of the schools allowed to submit, each named by its school code"),
    S_KEY("curve", "readers", CONFIG_STRING, "/etc/edu/keys/readers", 0, 0, curve_readers,
          "public certificates allowed to read: `alerts`, and `query` for warnings, cases and "
          "the province's pull"),
    S_KEY("curve", "supervisors", CONFIG_STRING, "", 0, 0, curve_supervisors,
          "public certificates of supervisors (督学), who read like readers and act: cases, "
          "silences, a year's approval; a certificate's `name` is the person shown in events "
          "(edu-keygen --name) (empty = none)"),
    S_KEY("curve", "province", CONFIG_STRING, "", 0, 0, curve_province,
          "public certificates of the province, which may pull and accept or return a year, "
          "nothing else (empty = none)"),
    {"webhook.*", "url", CONFIG_STRING, NULL, 0, 0, 0, "URL POSTed with each alert", NULL},
    {"webhook.*", "format", CONFIG_STRING, "json", 0, 0, 0, "json | dingtalk | wecom", NULL},
    {"webhook.*", "min_level", CONFIG_STRING, "yellow", 0, 0, 0, "yellow | red", NULL},
    S_KEY("smtp", "url", CONFIG_STRING, "smtp://127.0.0.1:25", 0, 0, smtp_url,
          "mail server for [email.*]"),
    S_KEY("smtp", "from", CONFIG_STRING, "eduwatch@localhost", 0, 0, smtp_from, "sender address"),
    {"email.*", "to", CONFIG_STRING, NULL, 0, 0, 0, "recipient address", NULL},
    {"email.*", "min_level", CONFIG_STRING, "yellow", 0, 0, 0, "yellow | red", NULL},
    {NULL, NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

/*  [webhook.NAME] and [email.NAME]: one destination each, checked here so that --check
 *  catches mistakes. */
static int s_on_named(void *arg, const char *prefix, const char *name, const char *key,
                      const char *value, char *err, size_t errlen)
{
    aggregator_config_t *config = arg;
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
    destination_t *dest = NULL;
    for (size_t i = 0; i < config->destination_count && !dest; i++)
        if (strcmp(config->destinations[i].name, full) == 0)
            dest = &config->destinations[i];
    if (!dest) {
        config->destinations = xrealloc(config->destinations, (config->destination_count + 1) *
                                                                  sizeof *config->destinations);
        dest = &config->destinations[config->destination_count++];
        *dest = (destination_t){
            .kind = strcmp(prefix, "email") == 0 ? DELIVER_EMAIL : DELIVER_WEBHOOK,
            .name = full};
    } else {
        free(full);
    }
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

int aggregator_config_load(const char *path, aggregator_config_t *config, char *err,
                           size_t errlen)
{
    *config = (aggregator_config_t){0};
    if (config_load(path, aggregator_config_keys, config, s_on_named, config, err, errlen) != 0)
        return -1;
    for (size_t i = 0; i < config->destination_count; i++) {
        destination_t *d = &config->destinations[i];
        if (d->kind == DELIVER_WEBHOOK && !d->url)
            return errorf(err, errlen, "%s: [%s] has no url", path, d->name);
        if (d->kind == DELIVER_EMAIL && !d->to)
            return errorf(err, errlen, "%s: [%s] has no to", path, d->name);
        if (d->kind == DELIVER_EMAIL) {
            d->url = xstrdup(config->smtp_url);
            d->from = xstrdup(config->smtp_from);
        }
    }
    const char *endpoints[][2] = {
        {"listen", config->listen}, {"alerts", config->alerts}, {"query", config->query}};
    for (size_t i = 0; !config->curve_enabled && i < 3; i++)
        if (!receiver_is_loopback(endpoints[i][1]))
            return errorf(err, errlen,
                          "%s: cannot use %s = \"%s\" without CURVE: only loopback addresses may "
                          "go without encryption ([curve] enabled = false)",
                          path, endpoints[i][0], endpoints[i][1]);
    if (config->curve_enabled) {
        zcert_t *cert = keys_load_secret(config->curve_secret, err, errlen);
        if (!cert)
            return -1;
        zcert_destroy(&cert);
        const char *dirs[][2] = {{"clients", config->curve_clients},
                                 {"readers", config->curve_readers},
                                 {"supervisors", config->curve_supervisors},
                                 {"province", config->curve_province}};
        for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
            if (!*dirs[i][1] && i >= 2)
                continue; // supervisors and province are optional
            char inner[512];
            keys_dir_t *keys = keys_dir_load(dirs[i][1], inner, sizeof inner);
            if (!keys)
                return errorf(err, errlen, "%s: [curve] %s: %s", path, dirs[i][0], inner);
            keys_dir_destroy(&keys);
        }
    }
    rules_t *rules = rules_load(config->rules, err, errlen);
    if (!rules)
        return -1;
    rules_destroy(&rules);
    schools_t *schools = schools_load(config->schools, err, errlen);
    if (!schools)
        return -1;
    int rc = schools_check_county(schools, config->schools, config->county, err, errlen);
    schools_destroy(&schools);
    return rc;
}

void aggregator_config_free(aggregator_config_t *config)
{
    config_free(aggregator_config_keys, config);
    for (size_t i = 0; i < config->destination_count; i++)
        destination_free(&config->destinations[i]);
    free(config->destinations);
    config->destinations = NULL;
    config->destination_count = 0;
}
