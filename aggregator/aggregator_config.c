/*  aggregator_config - the county aggregator's configuration file: its keys, and the checks
 *  that run before anything starts (see aggregator_config.h)
 */
#include "aggregator_config.h"

#include "keys.h"
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
    S_KEY("aggregator", "alert_group_wait_ms", CONFIG_INT, "5000", 0, 3600000, alert_group_wait_ms,
          "webhooks for people and e-mail wait this long so a burst, or an item that flaps, "
          "goes out as one message"),
    S_KEY("aggregator", "max_batch_bytes", CONFIG_INT, "4194304", 65536, 268435456,
          max_batch_bytes, "largest message a collector may send (bytes)"),
    S_KEY("curve", "enabled", CONFIG_BOOL, "true", 0, 0, curve_enabled,
          "CURVE encryption and authentication (false only for loopback endpoints)"),
    S_KEY("curve", "secret", CONFIG_STRING, "/etc/edu/keys/aggregator_secret", 0, 0, curve_secret,
          "the aggregator's secret certificate"),
    S_KEY("curve", "clients", CONFIG_STRING, "/etc/edu/keys/schools", 0, 0, curve_clients,
          "public certificates of the schools allowed to submit, each named by its school code"),
    S_KEY("curve", "readers", CONFIG_STRING, "/etc/edu/keys/readers", 0, 0, curve_readers,
          "public certificates allowed on `alerts` and `query`"),
    DELIVER_CONFIG_WEBHOOK_KEYS,
    S_KEY("smtp", "url", CONFIG_STRING, "smtp://127.0.0.1:25", 0, 0, smtp_url,
          "mail server for [email.*]"),
    S_KEY("smtp", "from", CONFIG_STRING, "eduwatch@localhost", 0, 0, smtp_from, "sender address"),
    DELIVER_CONFIG_EMAIL_KEYS,
    {NULL, NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

/*  [webhook.NAME] and [email.NAME]: the delivery room checks and keeps them. */
static int s_on_named(void *arg, const char *prefix, const char *name, const char *key,
                      const char *value, char *err, size_t errlen)
{
    aggregator_config_t *config = arg;
    return deliver_config_named(&config->destinations, &config->destination_count, prefix, name,
                                key, value, err, errlen);
}

int aggregator_config_load(const char *path, aggregator_config_t *config, char *err,
                           size_t errlen)
{
    *config = (aggregator_config_t){0};
    if (config_load(path, aggregator_config_keys, config, s_on_named, config, err, errlen) != 0)
        return -1;
    if (deliver_config_check(config->destinations, config->destination_count, config->smtp_url,
                             config->smtp_from, path, err, errlen) != 0)
        return -1;
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
        char inner[512];
        keys_dir_t *clients = keys_dir_load(config->curve_clients, inner, sizeof inner);
        if (!clients)
            return errorf(err, errlen, "%s: [curve] clients: %s", path, inner);
        keys_dir_destroy(&clients);
        keys_dir_t *readers = keys_dir_load(config->curve_readers, inner, sizeof inner);
        if (!readers)
            return errorf(err, errlen, "%s: [curve] readers: %s", path, inner);
        keys_dir_destroy(&readers);
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
    deliver_config_free(&config->destinations, &config->destination_count);
}
