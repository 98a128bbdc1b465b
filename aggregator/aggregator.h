/*  aggregator - the county's daemon: receive, validate, store, (evaluate), acknowledge
 *
 *  An actor in CZMQ's manner: one private self, one handler per source (the collectors'
 *  socket, the readers' socket, the writer, SIGHUP), a loop that ends when the process is asked
 *  to stop. The main thread decodes, validates and prepares a batch, then hands it to the writer
 *  (writer.h), which stores it while the next one is prepared; at most two are in flight, and
 *  a stop waits for the writer's answers, so it never leaves a batch half done.
 */
#ifndef EDU_AGGREGATOR_H
#define EDU_AGGREGATOR_H

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
    long max_batch_bytes;  // largest message accepted from a collector
    bool curve_enabled;    // [curve] enabled
    char *curve_secret;    // the aggregator's secret certificate
    char *curve_clients;   // schools' public certificates
    char *curve_readers;   // supervisors' and the province's public certificates
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

typedef struct aggregator_t aggregator_t;

/*  Loads the registry and rules, connects to the database and brings its schema up to date,
 *  then binds. Returns NULL with err. */
aggregator_t *aggregator_new(const aggregator_config_t *config, char *err, size_t errlen);
void aggregator_destroy(aggregator_t **self_p);

/*  Serves until SIGINT or SIGTERM. Returns 0. */
int aggregator_run(aggregator_t *self);

/*  Applies the schema migrations as the schema's owner (owner_database, or database), then
 *  grants the working role and the readers' role what they need when they are other roles
 *  (edu.grant_roles). Returns 0, or -1 with err. */
int aggregator_migrate(const aggregator_config_t *config, char *err, size_t errlen);

#endif
