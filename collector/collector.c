/*  collector - the school's daemon: inbox -> spool -> sender */
#include "collector.h"

#include "http.h"
#include "inbox.h"
#include "keys.h"
#include "log.h"
#include "metrics.h"
#include "sender.h"
#include "service.h"
#include "spool.h"
#include "util.h"

#include <czmq.h>
#include <inttypes.h>
#include <malloc.h>
#include <string.h>

#define S_KEY(sec, k, t, def, lo, hi, field, desc)                                                 \
    {sec, k, t, def, lo, hi, offsetof(collector_config_t, field), desc, NULL}

static int s_check_school(const char *value, char *err, size_t errlen)
{
    return config_check_digits(value, 10, err, errlen);
}

const config_key_t collector_config_keys[] = {
    {"collector", "school", CONFIG_STRING, NULL, 0, 0, offsetof(collector_config_t, school),
     "10-digit school identification code (学校标识码) of this school", s_check_school},
    {"collector", "endpoint", CONFIG_STRING, "tcp://127.0.0.1:5555", 0, 0,
     offsetof(collector_config_t, endpoint), "the county aggregator (tcp://HOST:PORT)",
     config_check_connect},
    S_KEY("collector", "inbox", CONFIG_STRING, "/var/lib/edu-collector/inbox", 0, 0, inbox,
          "folder where staff drop CSV files (done/ and rejected/ are made inside)"),
    S_KEY("collector", "spool", CONFIG_STRING, "/var/lib/edu-collector/spool", 0, 0, spool,
          "folder of the durable queue of records not yet acknowledged"),
    S_KEY("collector", "spool_max_mb", CONFIG_INT, "1024", 1, 1048576, spool_max_mb,
          "cap of the spool in MiB; beyond it new files wait in the inbox, nothing is dropped"),
    S_KEY("collector", "batch_records", CONFIG_INT, "5000", 1, 50000, batch_records,
          "records per message to the county"),
    S_KEY("collector", "window_records", CONFIG_INT, "50000", 1, 1000000, window_records,
          "most records sent and not yet acknowledged"),
    S_KEY("collector", "ack_timeout_ms", CONFIG_INT, "15000", 100, 3600000, ack_timeout_ms,
          "wait for an acknowledgement before sending again"),
    S_KEY("collector", "max_backoff_ms", CONFIG_INT, "60000", 100, 3600000, max_backoff_ms,
          "longest pause between tries while the county is unreachable"),
    S_KEY("collector", "scan_interval_ms", CONFIG_INT, "5000", 100, 3600000, scan_interval_ms,
          "how often the inbox is scanned besides file-system events"),
    {"collector", "metrics", CONFIG_STRING, "", 0, 0, offsetof(collector_config_t, metrics),
     "ADDRESS:PORT for Prometheus metrics at /metrics, e.g. 127.0.0.1:9102 (empty = none)",
     config_check_http},
    S_KEY("curve", "enabled", CONFIG_BOOL, "true", 0, 0, curve_enabled,
          "CURVE encryption and authentication"),
    S_KEY("curve", "secret", CONFIG_STRING, "/etc/edu/keys/school_secret", 0, 0, curve_secret,
          "this school's secret certificate"),
    S_KEY("curve", "server", CONFIG_STRING, "/etc/edu/keys/aggregator", 0, 0, curve_server,
          "the aggregator's public certificate"),
    {NULL, NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

int collector_config_load(const char *path, collector_config_t *config, char *err, size_t errlen)
{
    *config = (collector_config_t){0};
    if (config_load(path, collector_config_keys, config, NULL, NULL, err, errlen) != 0)
        return -1;
    if (!config->curve_enabled)
        return 0;
    char inner[512], where[512];
    bool server_bad = false;
    if (keys_check_client(config->curve_secret, config->curve_server, &server_bad, inner,
                          sizeof inner) != 0)
        return errorf(
            err, errlen, "%s: %s",
            config_where(path, "curve", server_bad ? "server" : "secret", where, sizeof where),
            inner);
    return 0;
}

void collector_config_free(collector_config_t *config)
{
    config_free(collector_config_keys, config);
}

struct collector_t {
    const collector_config_t *config; // borrowed from main
    spool_t *spool;                   // durable queue
    inbox_t *inbox;                   // CSV files in
    sender_t *sender;                 // records out
    int64_t next_scan_ms;             // next periodic inbox scan
    bool was_idle;                    // everything acknowledged at the last look
    metrics_t *metrics;               // what /metrics shows
    http_t *http;                     // the metrics endpoint (NULL when not configured)
    int64_t waiting_since_ms;         // records have waited unacknowledged since (0: none)
    uint64_t acked_seen;              // the ack mark at the last look
};

/*  Copies what the collector knows into the metrics (once per loop turn; all cheap). */
static void s_self_update_metrics(collector_t *self)
{
    const inbox_stats_t *in = inbox_stats(self->inbox);
    metrics_t *m = self->metrics;
    metrics_set(m, "edu_collector_files_taken_total", NULL, (double) in->files_taken);
    metrics_set(m, "edu_collector_files_rejected_total", NULL, (double) in->files_rejected);
    metrics_set(m, "edu_collector_records_spooled_total", NULL, (double) in->records_spooled);
    metrics_set(m, "edu_collector_rows_refused_total", NULL, (double) in->rows_refused);
    metrics_set(m, "edu_collector_spool_bytes", NULL, (double) spool_bytes(self->spool));
    metrics_set(m, "edu_collector_spool_pending_records", NULL,
                (double) spool_pending(self->spool));
    metrics_set(m, "edu_collector_acked_seq", NULL, (double) spool_acked(self->spool));
    int64_t now = clock_mono_ms();
    uint64_t acked = spool_acked(self->spool);
    if (spool_pending(self->spool) == 0)
        self->waiting_since_ms = 0;
    else if (!self->waiting_since_ms || acked != self->acked_seen)
        self->waiting_since_ms = now; // the oldest pending record is at most this old
    self->acked_seen = acked;
    metrics_set(m, "edu_collector_oldest_unacked_seconds", NULL,
                self->waiting_since_ms ? (double) (now - self->waiting_since_ms) / 1000 : 0);
}

static void s_http(void *arg, const char *path, http_answer_t *answer)
{
    collector_t *self = arg;
    if (strcmp(path, "/metrics") != 0)
        return;
    answer->status = 200;
    answer->content_type = "text/plain; version=0.0.4; charset=utf-8";
    answer->body = metrics_render(self->metrics);
    answer->size = strlen(answer->body);
}

static void s_declare(metrics_t *m)
{
    metrics_declare(m, "edu_collector_files_taken_total", "counter",
                    "CSV files taken (records spooled, file moved to done/) since start");
    metrics_declare(m, "edu_collector_files_rejected_total", "counter",
                    "CSV files unreadable as a whole, moved to rejected/, since start");
    metrics_declare(m, "edu_collector_records_spooled_total", "counter",
                    "records taken into the spool since start");
    metrics_declare(m, "edu_collector_rows_refused_total", "counter",
                    "CSV rows that could not be parsed since start");
    metrics_declare(m, "edu_collector_refusals_total", "counter",
                    "records the county refused, by reason, since start");
    metrics_declare(m, "edu_collector_spool_bytes", "gauge", "bytes of segment data in the spool");
    metrics_declare(m, "edu_collector_spool_pending_records", "gauge",
                    "records in the spool not yet acknowledged by the county");
    metrics_declare(m, "edu_collector_acked_seq", "gauge",
                    "the spool's acknowledged mark (highest seq the county committed)");
    metrics_declare(m, "edu_collector_oldest_unacked_seconds", "gauge",
                    "how long unacknowledged records have waited without the mark moving");
}

static void s_on_refusal(void *arg, const Edu__V1__Refusal *refusal)
{
    collector_t *self = arg;
    inbox_report_refusal(self->inbox, refusal);
    char labels[96];
    snprintf(labels, sizeof labels, "reason=\"%.64s\"", refusal->reason ? refusal->reason : "");
    metrics_add(self->metrics, "edu_collector_refusals_total", labels, 1);
}

collector_t *collector_new(const collector_config_t *config, char *err, size_t errlen)
{
    collector_t *self = xcalloc(1, sizeof *self);
    self->config = config;
    self->spool = spool_open(config->spool, (uint64_t) config->spool_max_mb << 20, err, errlen);
    if (!self->spool)
        goto failed;
    self->inbox = inbox_new(config->inbox, self->spool, err, errlen);
    if (!self->inbox)
        goto failed;
    sender_config_t sc = {.endpoint = config->endpoint,
                          .curve = config->curve_enabled,
                          .secret = config->curve_secret,
                          .server = config->curve_server,
                          .batch_records = (size_t) config->batch_records,
                          .window_records = (size_t) config->window_records,
                          .ack_timeout_ms = (int) config->ack_timeout_ms,
                          .max_backoff_ms = (int) config->max_backoff_ms};
    self->sender = sender_new(&sc, self->spool, s_on_refusal, self, err, errlen);
    if (!self->sender)
        goto failed;
    self->metrics = metrics_new();
    s_declare(self->metrics);
    if (*config->metrics) {
        self->http = http_new(config->metrics, s_http, self, err, errlen);
        if (!self->http)
            goto failed;
    }
    return self;
failed:
    collector_destroy(&self);
    return NULL;
}

void collector_destroy(collector_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    collector_t *self = *self_p;
    http_destroy(&self->http);
    metrics_destroy(&self->metrics);
    sender_destroy(&self->sender);
    inbox_destroy(&self->inbox);
    spool_destroy(&self->spool);
    free(self);
    *self_p = NULL;
}

static void s_self_handle_inbox(collector_t *self)
{
    inbox_drain_events(self->inbox);
    inbox_take_ready(self->inbox);
    self->next_scan_ms = clock_mono_ms() + self->config->scan_interval_ms;
}

int collector_run(collector_t *self)
{
    log_info("collector", "school %s sending to %s; spool %s holds %" PRIu64 " records to send",
             self->config->school, self->config->endpoint, spool_id(self->spool),
             spool_pending(self->spool));
    s_self_handle_inbox(self);
    service_ready("spool recovered, inbox scanned, sending");
    zsock_t *monitor = sender_monitor(self->sender);
    zmq_pollitem_t items[] = {
        {zsock_resolve(sender_socket(self->sender)), 0, ZMQ_POLLIN, 0},
        {NULL, inbox_fd(self->inbox), ZMQ_POLLIN, 0},
        {monitor ? zsock_resolve(monitor) : NULL, -1, monitor ? ZMQ_POLLIN : 0, 0},
    };
    while (!zsys_interrupted) {
        service_watchdog();
        s_self_update_metrics(self);
        sender_pump(self->sender);
        bool idle = sender_idle(self->sender);
        if (idle && !self->was_idle) {
            log_info("collector", "every spooled record is acknowledged (mark %" PRIu64 ")",
                     spool_acked(self->spool));
            // what the last files needed (a file is read whole) goes back to the system: a
            // school's PC keeps the collector running all year for a few files
            malloc_trim(0);
        }
        self->was_idle = idle;
        int64_t wait = self->next_scan_ms - clock_mono_ms();
        int sender_wait = sender_wait_ms(self->sender);
        if (sender_wait >= 0 && sender_wait < wait)
            wait = sender_wait;
        if (wait < 0)
            wait = 0;
        items[0].events = ZMQ_POLLIN | (sender_blocked(self->sender) ? ZMQ_POLLOUT : 0);
        int n = zmq_poll(items, monitor ? 3 : 2, (long) wait);
        if (n < 0 && zmq_errno() != EINTR)
            break;
        if (n > 0 && (items[0].revents & ZMQ_POLLIN))
            sender_handle_socket(self->sender);
        if (n > 0 && monitor && (items[2].revents & ZMQ_POLLIN))
            sender_handle_monitor(self->sender);
        if ((n > 0 && (items[1].revents & ZMQ_POLLIN)) || clock_mono_ms() >= self->next_scan_ms)
            s_self_handle_inbox(self);
    }
    service_stopping("stopping");
    log_info("collector", "stopping; %" PRIu64 " records wait in the spool",
             spool_pending(self->spool));
    return 0;
}
