/*  collector - the school's daemon: inbox -> spool -> sender
 *
 *  An actor in CZMQ's manner: one private self, a handler per source (the inbox's inotify
 *  descriptor, the aggregator's socket, the timers), and a loop that ends on SIGINT/SIGTERM.
 *  A file being taken is always finished first, so stopping never leaves one half taken.
 */
#ifndef EDU_COLLECTOR_H
#define EDU_COLLECTOR_H

#include "config.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char *school;          // 10-digit 学校标识码 of this school
    char *endpoint;        // the county aggregator
    char *inbox;           // where staff drop CSV files
    char *spool;           // durable queue of records not yet acknowledged
    long spool_max_mb;     // cap of the spool; files wait in the inbox beyond it
    long max_file_mb;      // largest CSV file taken
    long settle_ms;        // how long a file written in place must stay unchanged
    long stall_s;          // silence of the county, records waiting, before staff are told
    char *contact;         // whom staff call then (shown in 状态.txt)
    long batch_records;    // records per batch
    long max_batch_bytes;  // bytes per batch
    long window_records;   // most records unacknowledged at once
    long ack_timeout_ms;   // first wait for an acknowledgement before resending
    long max_backoff_ms;   // longest wait between tries
    long scan_interval_ms; // how often the inbox is scanned besides inotify events
    bool curve_enabled;    // [curve] enabled
    char *curve_secret;    // this school's secret certificate
    char *curve_server;    // the aggregator's public certificate
    char *metrics;         // ADDRESS:PORT of the Prometheus endpoint ("" = none)
} collector_config_t;

extern const config_key_t collector_config_keys[];

/*  Loads and checks a configuration file. Returns 0, or -1 with err naming file, line, problem. */
int collector_config_load(const char *path, collector_config_t *config, char *err, size_t errlen);
void collector_config_free(collector_config_t *config);

typedef struct collector_t collector_t;

/*  Opens the spool (recovering it), the inbox (finishing an interrupted take) and the socket.
 *  Returns NULL with err. */
collector_t *collector_new(const collector_config_t *config, char *err, size_t errlen);
void collector_destroy(collector_t **self_p);

/*  Serves until SIGINT or SIGTERM. Returns 0. */
int collector_run(collector_t *self);

#endif
