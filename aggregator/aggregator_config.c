/*  aggregator_config - the county aggregator's configuration file: its keys, and the checks
 *  that run before anything starts (see aggregator_config.h)
 */
#include "aggregator_config.h"

#include "keys.h"
#include "period.h"
#include "pg.h"
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
// a key whose text is checked too (an endpoint, a connection string)
#define S_CHECKED(sec, k, def, field, desc, check)                                                 \
    {sec, k, CONFIG_STRING, def, 0, 0, offsetof(aggregator_config_t, field), desc, check}

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
    S_CHECKED("aggregator", "listen", "tcp://*:5555", listen,
              "endpoint the collectors connect to (tcp://HOST:PORT; HOST * for every interface)",
              config_check_bind),
    S_CHECKED("aggregator", "alerts", "tcp://*:5556", alerts,
              "PUB endpoint for supervisors (edu-alerts)", config_check_bind),
    S_CHECKED("aggregator", "query", "tcp://*:5557", query, "endpoint the province pulls from",
              config_check_bind),
    S_CHECKED("aggregator", "database", "dbname=edu host=/var/run/postgresql", database,
              "libpq connection string of the county database (the working role)",
              pg_check_conninfo),
    S_CHECKED("aggregator", "owner_database", "", owner_database,
              "libpq connection string of the role that owns the schema, used only to migrate it "
              "and grant the roles below what they need (empty = the database role owns it)",
              pg_check_conninfo),
    S_CHECKED("aggregator", "query_database", "", query_database,
              "libpq connection string of a role that only reads aggregates and warnings, used to "
              "answer `query` (the province, edu-alerts current) (empty = the database role)",
              pg_check_conninfo),
    S_KEY("aggregator", "rules", CONFIG_STRING, "/etc/edu/rules.ini", 0, 0, rules,
          "indicator catalog and warning rules"),
    S_KEY("aggregator", "schools", CONFIG_STRING, "/etc/edu/schools.csv", 0, 0, schools,
          "registry of the county's schools"),
    S_KEY("aggregator", "evaluate", CONFIG_BOOL, "true", 0, 0, evaluate,
          "judge the red/yellow/green warnings after every batch (false: store only)"),
    S_CHECKED("aggregator", "http", "", http,
              "ADDRESS:PORT for Prometheus metrics (/metrics) and the dashboard (/), e.g. "
              "127.0.0.1:9101 (empty = none)",
              config_check_http),
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

/*  The binds: each its own port (two on one port would fail at the start), and without CURVE
 *  only loopback ones. Returns 0, or -1 with err naming the file, line and key. */
static int s_check_ports(const char *path, const aggregator_config_t *config, char *err,
                         size_t errlen)
{
    const char *keys[] = {"listen", "alerts", "query", "http"};
    const char *values[] = {config->listen, config->alerts, config->query, config->http};
    config_endpoint_t binds[4];
    char where[512], other[512];
    for (size_t i = 0; i < 4 && *values[i]; i++) {
        char inner[512];
        if (config_endpoint_parse(values[i], i == 3 ? CONFIG_HTTP : CONFIG_BIND, &binds[i], inner,
                                  sizeof inner) != 0) // checked as it was read: cannot fail
            return errorf(err, errlen, "%s: %s",
                          config_where(path, "aggregator", keys[i], where, sizeof where), inner);
        for (size_t j = 0; j < i; j++)
            if (config_endpoint_overlap(&binds[i], &binds[j]))
                return errorf(err, errlen,
                              "%s = \"%s\": port %u is taken by %s = \"%s\" already (%s): "
                              "give each endpoint a port of its own",
                              config_where(path, "aggregator", keys[i], where, sizeof where),
                              values[i], binds[i].port, keys[j], values[j],
                              config_where(path, "aggregator", keys[j], other, sizeof other));
        if (i < 3 && !config->curve_enabled && !receiver_is_loopback(values[i]))
            return errorf(err, errlen,
                          "%s: cannot use %s = \"%s\" without CURVE: only loopback addresses may "
                          "go without encryption ([curve] enabled = false)",
                          config_where(path, "aggregator", keys[i], where, sizeof where), keys[i],
                          values[i]);
    }
    return 0;
}

/*  The aggregator's secret certificate and the two directories of public ones. */
static int s_check_curve(const char *path, const aggregator_config_t *config, char *err,
                         size_t errlen)
{
    if (!config->curve_enabled)
        return 0;
    char where[512], inner[512];
    zcert_t *cert = keys_load_secret(config->curve_secret, inner, sizeof inner);
    if (!cert)
        return errorf(err, errlen, "%s: %s",
                      config_where(path, "curve", "secret", where, sizeof where), inner);
    zcert_destroy(&cert);
    const char *keys[] = {"clients", "readers", "supervisors", "province"};
    const char *dirs[] = {config->curve_clients, config->curve_readers,
                          config->curve_supervisors, config->curve_province};
    for (size_t i = 0; i < 4; i++) {
        if (i >= 2 && !*dirs[i])
            continue; // supervisors and province are optional
        keys_dir_t *dir = keys_dir_load(dirs[i], inner, sizeof inner);
        if (!dir)
            return errorf(err, errlen, "%s: %s",
                          config_where(path, "curve", keys[i], where, sizeof where), inner);
        keys_dir_destroy(&dir);
    }
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
    if (s_check_ports(path, config, err, errlen) != 0 ||
        s_check_curve(path, config, err, errlen) != 0)
        return -1;
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

int aggregator_config_check_keys(const char *path, const aggregator_config_t *config, char *err,
                                 size_t errlen)
{
    if (!config->curve_enabled)
        return 0;
    const char *keys[] = {"clients", "readers", "supervisors", "province"};
    const char *dirs[] = {config->curve_clients, config->curve_readers,
                          config->curve_supervisors, config->curve_province};
    for (size_t i = 0; i < 4; i++) {
        char where[512], inner[512];
        keys_dir_t *dir = *dirs[i] ? keys_dir_load(dirs[i], inner, sizeof inner) : NULL;
        const char *problem;
        size_t skipped = dir ? keys_dir_skipped(dir, &problem) : 0;
        if (skipped)
            errorf(err, errlen, "%s: %zu file(s) of the directory are no public certificate of a "
                   "peer (move them out; the service skips them and keeps the others): %s",
                   config_where(path, "curve", keys[i], where, sizeof where), skipped, problem);
        keys_dir_destroy(&dir);
        if (skipped)
            return -1;
    }
    return 0;
}
