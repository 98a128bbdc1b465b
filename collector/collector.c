/*  collector - the school's daemon: inbox -> spool -> sender */
#include "collector.h"

#include "http.h"
#include "inbox.h"
#include "keys.h"
#include "log.h"
#include "metrics.h"
#include "receipts.h"
#include "sender.h"
#include "service.h"
#include "spool.h"
#include "status.h"
#include "util.h"

#include <czmq.h>
#include <inttypes.h>
#include <malloc.h>
#include <string.h>
#include <time.h>

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
          "folder where staff drop CSV files (done/, delivered/, rejected/ and 状态.txt are "
          "made inside)"),
    S_KEY("collector", "spool", CONFIG_STRING, "/var/lib/edu-collector/spool", 0, 0, spool,
          "folder of the durable queue of records not yet acknowledged"),
    S_KEY("collector", "spool_max_mb", CONFIG_INT, "1024", 1, 1048576, spool_max_mb,
          "cap of the spool in MiB; beyond it new files wait in the inbox, nothing is dropped"),
    S_KEY("collector", "max_file_mb", CONFIG_INT, "64", 1, 1024, max_file_mb,
          "largest CSV file taken, in MiB (at most a quarter of spool_max_mb counts); a larger "
          "one goes to rejected/ with a sentence saying why. A file is read as a stream: its "
          "size costs room in the spool and time, not memory"),
    S_KEY("collector", "settle_ms", CONFIG_INT, "2000", 0, 600000, settle_ms,
          "a file written in place is taken once unchanged this long after its writer closed "
          "it (a file renamed into the inbox is taken at once); a writer that closes and "
          "reopens a file must not pause longer"),
    S_KEY("collector", "stall_s", CONFIG_INT, "120", 10, 86400, stall_s,
          "when records wait and the county has acknowledged nothing this long, 状态.txt and "
          "the log say so, and whom to call"),
    S_KEY("collector", "contact", CONFIG_STRING, "", 0, 0, contact,
          "whom staff call when the county does not answer, as 状态.txt names it (e.g. "
          "县电教馆 王老师 0731-12345678; empty: the county's person in charge)"),
    S_KEY("collector", "batch_records", CONFIG_INT, "5000", 1, 50000, batch_records,
          "records per message to the county"),
    S_KEY("collector", "max_batch_bytes", CONFIG_INT, "1048576", 4096, 4194304, max_batch_bytes,
          "bytes per message to the county; never above the county's [aggregator] "
          "max_batch_bytes (4194304 by default), which drops larger messages"),
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
    receipts_t *receipts;             // which file holds which records, delivered or not
    inbox_t *inbox;                   // CSV files in
    sender_t *sender;                 // records out
    int64_t next_scan_ms;             // next periodic inbox scan
    bool was_idle;                    // everything acknowledged at the last look
    metrics_t *metrics;               // what /metrics shows
    http_t *http;                     // the metrics endpoint (NULL when not configured)
    int64_t waiting_since_ms;         // records have waited unacknowledged since (0: none)
    uint64_t acked_seen;              // the ack mark at the last look
    int64_t started_ms;               // wall clock at start
    int64_t pending_since_ms;         // wall clock since records wait (0: none wait)
    bool stalled;                     // the county is silent while records wait
    int64_t status_written_ms;        // when 状态.txt was last written (monotonic; 0: never)
    bool status_dirty;                // something 状态.txt shows has changed since
    int taken;                        // the last inbox_take_ready() result
    const char *taking;               // the file a take is reading now (borrowed; NULL: none)
    uint64_t taking_rows;             // its rows read so far
    int64_t acks_logged_ms;           // when a file's acknowledgement was last logged (monotonic)
    uint64_t acks_logged;             // the mark then
};

static int64_t s_wall_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/*  The county's last acknowledgement: since start, or as the spool remembers it. */
static int64_t s_last_ack_ms(const collector_t *self)
{
    int64_t sent = sender_status(self->sender)->last_ack_ms;
    int64_t kept = spool_acked_at_ms(self->spool);
    return sent > kept ? sent : kept;
}

/*  How long the county has acknowledged nothing while records wait (0: not so). */
static int64_t s_silence_ms(const collector_t *self, int64_t now)
{
    if (!self->pending_since_ms)
        return 0;
    int64_t since = self->started_ms;
    if (self->pending_since_ms > since)
        since = self->pending_since_ms;
    int64_t ack = sender_status(self->sender)->last_ack_ms;
    if (ack > since)
        since = ack;
    return now - since;
}

/*  What the link looks like, in a few English words for the log. */
static const char *s_link_words(const sender_status_t *st)
{
    switch (st->link) {
    case SENDER_LINK_NO_ROUTE: return "no connection can be made (address, port or network?)";
    case SENDER_LINK_KEY_REFUSED: return "the county refuses this school's key (not registered?)";
    case SENDER_LINK_HANDSHAKE: return "the handshake fails (is [curve] server the county's?)";
    case SENDER_LINK_UP:
        return st->last_status == 1 ? "connected; the county asks to retry (its database?)"
                                    : "connected, no acknowledgement";
    case SENDER_LINK_UNKNOWN: break;
    }
    return "nothing heard from the county";
}

/*  Notes the county's silence: once at warning level when it begins, once when it ends. */
static void s_self_watch_stall(collector_t *self, int64_t now)
{
    uint64_t pending = spool_pending(self->spool);
    if (pending == 0)
        self->pending_since_ms = 0;
    else if (!self->pending_since_ms)
        self->pending_since_ms = now;
    int64_t silence = s_silence_ms(self, now);
    bool stalled = pending > 0 && silence >= self->config->stall_s * 1000;
    if (stalled && !self->stalled)
        log_warn("collector", "the county at \"%s\" has acknowledged nothing for %" PRId64
                 " s while %" PRIu64 " records wait: %s; %s/%s tells the school whom to call",
                 self->config->endpoint, silence / 1000, pending,
                 s_link_words(sender_status(self->sender)), self->config->inbox, STATUS_FILE);
    else if (!stalled && self->stalled)
        log_info("collector", "the county acknowledges again after a silence of %" PRId64 " s",
                 (now - self->pending_since_ms) / 1000);
    if (stalled != self->stalled)
        self->status_dirty = true;
    self->stalled = stalled;
}

/*  Rewrites 状态.txt when something it shows changed (at most once a second), and every
 *  ten seconds for its clock. */
static void s_self_write_status(collector_t *self, int64_t now)
{
    int64_t mono = clock_mono_ms();
    int64_t since = mono - self->status_written_ms;
    if (self->status_written_ms && !(self->status_dirty && since >= 1000) && since < 10000)
        return;
    uint64_t acked = spool_acked(self->spool);
    int64_t since_file = receipts_waiting_since(self->receipts, acked);
    status_t st = {
        .school = self->config->school,
        .endpoint = self->config->endpoint,
        .contact = self->config->contact,
        .now_ms = now,
        .last_ack_ms = s_last_ack_ms(self),
        .pending = spool_pending(self->spool),
        .waiting_since_ms = since_file ? since_file : self->pending_since_ms,
        .stalled_ms = self->stalled ? s_silence_ms(self, now) : 0,
        .link = sender_status(self->sender),
        .files_waiting = inbox_stats(self->inbox)->files_waiting,
        .spool_full = self->taken < 0,
        .receipts = self->receipts,
        .acked = acked,
        .taking = self->taking,
        .taking_rows = self->taking_rows,
    };
    char err[512];
    if (status_write(self->config->inbox, &st, err, sizeof err) != 0)
        log_warn("collector", "%s", err);
    self->status_written_ms = mono;
    self->status_dirty = false;
}

/*  Logs, every INBOX_PROGRESS_LOG_MS while the mark moves, how far the county has acknowledged
 *  the file it is in the middle of (a big file's delivery takes a while). */
static void s_self_log_acks(collector_t *self, uint64_t acked, int64_t mono)
{
    if (acked == self->acks_logged || mono - self->acks_logged_ms < INBOX_PROGRESS_LOG_MS)
        return;
    for (size_t i = 0; i < receipts_count(self->receipts); i++) {
        const receipt_t *r = receipts_get(self->receipts, i);
        if (r->delivered_ms || !r->first_seq || acked < r->first_seq || acked >= r->last_seq)
            continue;
        log_info("collector",
                 "the county has acknowledged %" PRIu64 " of the %" PRIu64 " records of \"%s\"",
                 acked - r->first_seq + 1, r->records, r->name);
    }
    self->acks_logged = acked;
    self->acks_logged_ms = mono;
}

/*  Copies what the collector knows into the metrics (once per loop turn; all cheap). */
static void s_self_update_metrics(collector_t *self)
{
    const inbox_stats_t *in = inbox_stats(self->inbox);
    metrics_t *m = self->metrics;
    metrics_set(m, "edu_collector_files_taken_total", NULL, (double) in->files_taken);
    metrics_set(m, "edu_collector_files_rejected_total", NULL, (double) in->files_rejected);
    metrics_set(m, "edu_collector_files_waiting", NULL, (double) in->files_waiting);
    metrics_set(m, "edu_collector_records_spooled_total", NULL, (double) in->records_spooled);
    metrics_set(m, "edu_collector_rows_refused_total", NULL, (double) in->rows_refused);
    metrics_set(m, "edu_collector_spool_bytes", NULL, (double) spool_bytes(self->spool));
    metrics_set(m, "edu_collector_spool_pending_records", NULL,
                (double) spool_pending(self->spool));
    metrics_set(m, "edu_collector_acked_seq", NULL, (double) spool_acked(self->spool));
    metrics_set(m, "edu_collector_county_last_ack_timestamp_seconds", NULL,
                (double) s_last_ack_ms(self) / 1000);
    metrics_set(m, "edu_collector_county_stalled", NULL, self->stalled ? 1 : 0);
    metrics_set(m, "edu_collector_records_skipped_total", NULL,
                (double) sender_status(self->sender)->skipped);
    int64_t now = clock_mono_ms();
    uint64_t acked = spool_acked(self->spool);
    if (spool_pending(self->spool) == 0)
        self->waiting_since_ms = 0;
    else if (!self->waiting_since_ms || acked != self->acked_seen)
        self->waiting_since_ms = now; // the oldest pending record is at most this old
    if (acked != self->acked_seen) {
        receipts_deliver(self->receipts, acked, s_wall_ms());
        self->status_dirty = true;
    }
    s_self_log_acks(self, acked, now);
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
    metrics_declare(m, "edu_collector_files_waiting", "gauge",
                    "files in the inbox not taken yet (being written, settling, or no room)");
    metrics_declare(m, "edu_collector_records_spooled_total", "counter",
                    "records taken into the spool since start");
    metrics_declare(m, "edu_collector_rows_refused_total", "counter",
                    "CSV rows that could not be parsed since start");
    metrics_declare(m, "edu_collector_refusals_total", "counter",
                    "records the county refused, by reason, since start");
    metrics_declare(m, "edu_collector_records_skipped_total", "counter",
                    "records skipped since start: refused as malformed by the county again and "
                    "again (batch_refused) or too large for any batch (record_too_large)");
    metrics_declare(m, "edu_collector_spool_bytes", "gauge", "bytes of segment data in the spool");
    metrics_declare(m, "edu_collector_spool_pending_records", "gauge",
                    "records in the spool not yet acknowledged by the county");
    metrics_declare(m, "edu_collector_acked_seq", "gauge",
                    "the spool's acknowledged mark (highest seq the county committed)");
    metrics_declare(m, "edu_collector_oldest_unacked_seconds", "gauge",
                    "how long unacknowledged records have waited without the mark moving");
    metrics_declare(m, "edu_collector_county_last_ack_timestamp_seconds", "gauge",
                    "when the county last acknowledged (Unix time; 0: never)");
    metrics_declare(m, "edu_collector_county_stalled", "gauge",
                    "1 while records wait and the county has acknowledged nothing for stall_s");
}

static void s_on_refusals(void *arg, Edu__V1__Refusal *const *refusals, size_t count)
{
    collector_t *self = arg;
    inbox_report_refusals(self->inbox, refusals, count);
    for (size_t i = 0; i < count; i++) {
        char labels[96];
        const char *reason = refusals[i]->reason ? refusals[i]->reason : "";
        // a label value is a code: anything else is not one of the county's reasons
        bool code = strlen(reason) <= 32 && strspn(reason, "abcdefghijklmnopqrstuvwxyz_") ==
                                                 strlen(reason);
        snprintf(labels, sizeof labels, "reason=\"%s\"", code ? reason : "other");
        metrics_add(self->metrics, "edu_collector_refusals_total", labels, 1);
    }
    self->status_dirty = true;
}

/*  A take is reading a big file: 状态.txt says how far it has got (at most once a second), and
 *  the service manager hears that the collector is alive. */
static void s_on_taking(void *arg, const char *name, uint64_t rows_read, uint64_t records)
{
    collector_t *self = arg;
    (void) records;
    service_watchdog();
    self->taking = name;
    self->taking_rows = rows_read;
    self->status_dirty = true;
    s_self_write_status(self, s_wall_ms());
}

static void s_on_skipped(void *arg, const Edu__V1__Record *record, const char *code,
                         const char *detail)
{
    collector_t *self = arg;
    inbox_report_skipped(self->inbox, record, code, detail);
    self->status_dirty = true;
}

collector_t *collector_new(const collector_config_t *config, char *err, size_t errlen)
{
    collector_t *self = xcalloc(1, sizeof *self);
    self->config = config;
    self->started_ms = s_wall_ms();
    uint64_t cap = (uint64_t) config->spool_max_mb << 20;
    self->spool = spool_open(config->spool, cap, err, errlen);
    if (!self->spool)
        goto failed;
    self->receipts = receipts_open(config->inbox, err, errlen);
    if (!self->receipts)
        goto failed;
    // a file must fit into an empty spool: the inbox asks for four times its size and 4 KiB
    // (a record takes about 1.7 times its row)
    uint64_t max_file = (uint64_t) config->max_file_mb << 20;
    if (max_file > (cap - 4096) / 4)
        max_file = (cap - 4096) / 4;
    inbox_config_t ic = {.dir = config->inbox,
                         .school = config->school,
                         .settle_ms = config->settle_ms,
                         .max_file_bytes = max_file,
                         .progress = s_on_taking,
                         .progress_arg = self,
                         .progress_ms = INBOX_PROGRESS_MS};
    self->inbox = inbox_new(&ic, self->spool, self->receipts, err, errlen);
    if (!self->inbox)
        goto failed;
    sender_config_t sc = {.endpoint = config->endpoint,
                          .curve = config->curve_enabled,
                          .secret = config->curve_secret,
                          .server = config->curve_server,
                          .batch_records = (size_t) config->batch_records,
                          .max_batch_bytes = (size_t) config->max_batch_bytes,
                          .window_records = (size_t) config->window_records,
                          .ack_timeout_ms = (int) config->ack_timeout_ms,
                          .max_backoff_ms = (int) config->max_backoff_ms};
    sender_events_t events = {.refusals = s_on_refusals, .skipped = s_on_skipped, .arg = self};
    self->sender = sender_new(&sc, self->spool, &events, err, errlen);
    if (!self->sender)
        goto failed;
    self->acked_seen = spool_acked(self->spool);
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
    receipts_destroy(&self->receipts);
    spool_destroy(&self->spool);
    free(self);
    *self_p = NULL;
}

/*  Reads the inbox's events; scans when one may have made a file ready, when a settling file
 *  is due, or when the periodic scan is. */
static void s_self_handle_inbox(collector_t *self, bool force)
{
    int64_t now = clock_mono_ms();
    bool worth = inbox_drain_events(self->inbox, now);
    int64_t due = inbox_next_ready_ms(self->inbox);
    if (!force && !worth && now < self->next_scan_ms && (due < 0 || now < due))
        return;
    uint64_t taken = inbox_stats(self->inbox)->files_taken + inbox_stats(self->inbox)->files_rejected;
    self->taken = inbox_take_ready(self->inbox, now);
    self->taking = NULL; // the name was borrowed for the take
    if (inbox_stats(self->inbox)->files_taken + inbox_stats(self->inbox)->files_rejected != taken)
        self->status_dirty = true;
    self->next_scan_ms = clock_mono_ms() + self->config->scan_interval_ms;
}

int collector_run(collector_t *self)
{
    log_info("collector", "school %s sending to %s; spool %s holds %" PRIu64 " records to send",
             self->config->school, self->config->endpoint, spool_id(self->spool),
             spool_pending(self->spool));
    s_self_handle_inbox(self, true);
    service_ready("spool recovered, inbox scanned, sending");
    zsock_t *monitor = sender_monitor(self->sender);
    zmq_pollitem_t items[] = {
        {zsock_resolve(sender_socket(self->sender)), 0, ZMQ_POLLIN, 0},
        {NULL, inbox_fd(self->inbox), inbox_fd(self->inbox) >= 0 ? ZMQ_POLLIN : 0, 0},
        {monitor ? zsock_resolve(monitor) : NULL, -1, monitor ? ZMQ_POLLIN : 0, 0},
    };
    while (!zsys_interrupted) {
        service_watchdog();
        s_self_update_metrics(self);
        int64_t now = s_wall_ms();
        s_self_watch_stall(self, now);
        s_self_write_status(self, now);
        sender_pump(self->sender);
        bool idle = sender_idle(self->sender);
        if (idle && !self->was_idle) {
            log_info("collector", "every spooled record is acknowledged (mark %" PRIu64 ")",
                     spool_acked(self->spool));
            self->status_dirty = true;
            // what the last files and batches needed goes back to the system: a school's PC
            // keeps the collector running all year for a few files
            malloc_trim(0);
        }
        self->was_idle = idle;
        int64_t mono = clock_mono_ms();
        int64_t wait = self->next_scan_ms - mono;
        int64_t due = inbox_next_ready_ms(self->inbox);
        if (due >= 0 && due - mono < wait)
            wait = due - mono;
        if (self->status_dirty && wait > 1000)
            wait = 1000; // 状态.txt is written at most once a second
        int sender_wait = sender_wait_ms(self->sender);
        if (sender_wait >= 0 && sender_wait < wait)
            wait = sender_wait;
        if (wait < 0)
            wait = 0;
        items[0].events = ZMQ_POLLIN | (sender_blocked(self->sender) ? ZMQ_POLLOUT : 0);
        items[1].fd = inbox_fd(self->inbox); // inotify may come later (see inbox_new())
        items[1].events = items[1].fd >= 0 ? ZMQ_POLLIN : 0;
        int n = zmq_poll(items, monitor ? 3 : 2, (long) wait);
        if (n < 0 && zmq_errno() != EINTR)
            break;
        if (n > 0 && (items[0].revents & ZMQ_POLLIN))
            sender_handle_socket(self->sender);
        if (n > 0 && monitor && (items[2].revents & ZMQ_POLLIN))
            sender_handle_monitor(self->sender);
        s_self_handle_inbox(self, false);
    }
    service_stopping("stopping");
    s_self_update_metrics(self);
    self->status_dirty = true;
    self->status_written_ms = 0;
    s_self_write_status(self, s_wall_ms());
    log_info("collector", "stopping; %" PRIu64 " records wait in the spool",
             spool_pending(self->spool));
    return 0;
}
