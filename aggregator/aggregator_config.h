/*  aggregator_config - the county aggregator's configuration file
 *
 *  The keys as a table (common/config.h): the table is what `--help` and `--example` print and
 *  what cmake turns into the example file /etc/edu/aggregator.ini. Loading also checks what
 *  would otherwise fail only after the start: the endpoints (tcp://HOST:PORT, each bind on a
 *  port of its own, loopback ones only without CURVE), the connection strings, the
 *  certificates and key directories, and the rules and the registry it names.
 */
#ifndef EDU_AGGREGATOR_CONFIG_H
#define EDU_AGGREGATOR_CONFIG_H

#include "config.h"
#include "deliver.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char *county;          // 6-digit 行政区划代码
    char *listen;          // collectors connect here
    char *alerts;          // PUB for supervisors
    char *query;           // the province pulls here
    char *database;        // libpq conninfo of the working role
    char *owner_database;  // conninfo of the schema's owner, for migrations ("" = database)
    char *query_database;  // conninfo of the readers' role, for `query` ("" = database)
    char *rules;           // rules.ini
    char *schools;         // schools.csv
    bool evaluate;         // judge the warnings after every batch
    char *http;            // ADDRESS:PORT of metrics and the dashboard ("" = none)
    char *http_hosts;      // further Host header values it answers (comma-separated)
    long max_batch_bytes;  // largest message accepted from a collector
    long max_refusals_per_batch; // refusals of a batch stored one by one
    long max_refusals_per_hour;  // refusals of a sender stored one by one per hour
    long case_yellow_days;  // yellow this long opens a case
    long case_ack_days;     // not acknowledged this long: escalated
    long case_reopen_days;  // closed cases reopen within this
    char *repeat_interval;  // reminders of open red cases ("7d")
    long digest_items;      // a full judgement with more alerts: one digest for people
    bool curve_enabled;    // [curve] enabled
    char *curve_secret;    // the aggregator's secret certificate
    char *curve_clients;   // schools' public certificates
    char *curve_readers;   // readers' public certificates (read only)
    char *curve_supervisors; // supervisors' (read, and act on cases, silences, approval)
    char *curve_province;  // the province's (pull, accept or return a year)
    char *smtp_url;        // [smtp] url, for the alert stage
    char *smtp_from;       // [smtp] from
    long alert_group_wait_ms; // people's destinations let a burst gather this long
    destination_t *destinations; // [webhook.NAME] and [email.NAME], in file order
    size_t destination_count;    // how many
} aggregator_config_t;

/*  The configuration's keys (for config_load, --help and the example file). */
extern const config_key_t aggregator_config_keys[];

/*  Loads and checks a configuration file and the rules and schools files it names.
 *  Returns 0, or -1 with err naming the file, line and problem. */
int aggregator_config_load(const char *path, aggregator_config_t *config, char *err,
                           size_t errlen);
void aggregator_config_free(aggregator_config_t *config);

/*  For --check: every file of the key directories is a peer's public certificate. (At run time
 *  a file that is not is skipped and logged, and the others stay in force: one stray file
 *  locks nobody out.) Returns 0, or -1 with err naming the directory's key and the file. */
int aggregator_config_check_keys(const char *path, const aggregator_config_t *config, char *err,
                                 size_t errlen);

#endif
