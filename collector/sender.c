/*  sender - streams the spool to the county over a CURVE DEALER socket
 *
 *  Socket options and why:
 *  - ZMQ_IMMEDIATE: queue nothing for a peer that is not connected. Otherwise batches pile up
 *    in a pipe that dies with the connection, and the window fills with records nobody got.
 *  - Heartbeats (IVL 10 s, TIMEOUT 30 s, TTL 60 s): a silent half-open link (a NAT that forgot
 *    us) is noticed and the connection re-established, instead of waiting forever for acks.
 *  - ZMQ_LINGER 0: unsent batches are dropped at exit; they are still in the spool.
 *  - ZMQ_MAXMSGSIZE: an answer bigger than any real Ack disconnects the peer.
 *  - A socket monitor: batches in flight when the connection drops (the aggregator restarted,
 *    or closed the connection) are sent again as soon as it is back, instead of after
 *    ack_timeout_ms; and the link's state (no route, key refused) is what 状态.txt tells staff.
 *    Resending is always safe: the county skips what it has committed.
 *  - ZMQ_RECONNECT_IVL 250 ms doubling up to max_backoff_ms (ZMQ_RECONNECT_IVL_MAX): a county
 *    that restarts is found again within a second, one that is down for long is not hammered.
 *
 *  Answers carry no batch number, so the sender counts the batches it has sent and not had an
 *  answer for. While it isolates a refused record it sends only when that count is zero: the
 *  next answer is then the one for the batch it just sent. (A disconnection or a timeout sets
 *  the count to zero; an answer that still comes late can only make the search take a step
 *  more, and a record is skipped only after a probe, sent alone, was accepted.)
 */
#include "sender.h"

#include "keys.h"
#include "log.h"
#include "util.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

// What CURVE adds to a message on the wire ("\x07MESSAGE", nonce, MAC, flags: 33 bytes), which
// the county's ZMQ_MAXMSGSIZE counts: a batch is built to max_batch_bytes less this.
#define S_WIRE_OVERHEAD 64

struct sender_t {
    sender_config_t config;    // copied (strings borrowed from the caller)
    spool_t *spool;            // borrowed
    sender_events_t events;    // copied
    zsock_t *dealer;           // to the aggregator
    zsock_t *monitor;          // the DEALER's connection events (PAIR)
    uint64_t next_seq;         // next seq to send
    int64_t waiting_since_ms;  // when the oldest unanswered batch went out (0: none)
    int64_t paused_until_ms;   // no sending before this (back-off)
    int backoff_ms;            // current back-off (0 when all is well)
    bool blocked;              // records wait but the socket took none (no connection yet)
    log_complain_t trouble;    // the link or the county in trouble, reported once
    log_complain_t malformed;  // batches refused as malformed, reported once
    log_complain_t refuses_all; // even an empty batch refused, reported once
    Edu__V1__Record **records; // batch under construction
    size_t count;              // records in it
    size_t bytes;              // its packed size so far
    uint64_t unfit_seq;        // a record no batch can carry, met while building one (0: none)
    size_t unanswered;         // batches sent and not answered
    unsigned drops;            // connections lost with batches in flight since the last OK
    bool careful;              // isolating a record the county refuses: one batch at a time
    uint64_t careful_until;    // careful until the mark reaches this seq
    size_t careful_max;        // records per batch while careful
    size_t careful_batch;      // records of the careful batch in flight (0: none)
    size_t careful_ceiling;    // a batch of this many records was refused (0: none since)
    int strikes;               // INVALID answers to the oldest record sent alone
    bool probe_due;            // an empty batch is to be sent before skipping it
    bool probing;              // the empty batch is out
    char invalid[256];         // the county's words with the last INVALID, escaped
    sender_status_t status;    // what sender_status() shows
};

static int64_t s_wall_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

sender_t *sender_new(const sender_config_t *config, spool_t *spool, const sender_events_t *events,
                     char *err, size_t errlen)
{
    sender_t *self = xcalloc(1, sizeof *self);
    self->config = *config;
    self->spool = spool;
    self->events = *events;
    self->next_seq = spool_floor(spool);
    self->status.last_status = -1;
    self->records = xcalloc(config->batch_records, sizeof *self->records);
    self->dealer = zsock_new(ZMQ_DEALER);
    zsock_set_immediate(self->dealer, 1);
    zsock_set_linger(self->dealer, 0);
    zsock_set_heartbeat_ivl(self->dealer, 10000);
    zsock_set_heartbeat_timeout(self->dealer, 30000);
    zsock_set_heartbeat_ttl(self->dealer, 60000);
    zsock_set_maxmsgsize(self->dealer, 16 * 1024 * 1024);
    zsock_set_reconnect_ivl(self->dealer, 250);
    zsock_set_reconnect_ivl_max(self->dealer, config->max_backoff_ms);
    if (config->curve &&
        keys_curve_client(self->dealer, config->secret, config->server, err, errlen) != 0) {
        sender_destroy(&self);
        return NULL;
    }
    char monitor[64];
    snprintf(monitor, sizeof monitor, "inproc://sender-monitor-%p", (void *) self);
    int events_wanted = ZMQ_EVENT_CONNECTED | ZMQ_EVENT_CONNECT_RETRIED | ZMQ_EVENT_DISCONNECTED |
                        ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                        ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                        ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL;
    if (zmq_socket_monitor(zsock_resolve(self->dealer), monitor, events_wanted) == 0)
        self->monitor = zsock_new_pair(monitor);
    if (zsock_connect(self->dealer, "%s", config->endpoint) != 0) {
        errorf(err, errlen, "cannot connect to \"%s\": %s", config->endpoint,
               zmq_strerror(zmq_errno()));
        sender_destroy(&self);
        return NULL;
    }
    return self;
}

static void s_clear_batch(sender_t *self)
{
    for (size_t i = 0; i < self->count; i++)
        edu__v1__record__free_unpacked(self->records[i], NULL);
    self->count = 0;
}

void sender_destroy(sender_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sender_t *self = *self_p;
    if (self->monitor)
        zmq_socket_monitor(zsock_resolve(self->dealer), NULL, 0);
    zsock_destroy(&self->monitor);
    zsock_destroy(&self->dealer);
    s_clear_batch(self);
    free(self->records);
    free(self);
    *self_p = NULL;
}

zsock_t *sender_monitor(sender_t *self)
{
    return self->monitor;
}

/*  Forgets what was in flight: its answers will not come (or are not waited for). */
static void s_forget_in_flight(sender_t *self)
{
    self->next_seq = spool_floor(self->spool);
    self->waiting_since_ms = 0;
    self->unanswered = 0;
    self->careful_batch = 0;
    self->probing = false;
}

void sender_handle_monitor(sender_t *self)
{
    zmsg_t *msg = zmsg_recv(self->monitor); // [event id u16, value u32][endpoint]
    zframe_t *frame = msg ? zmsg_first(msg) : NULL;
    uint16_t event = 0;
    if (frame && zframe_size(frame) >= 2)
        memcpy(&event, zframe_data(frame), 2);
    zmsg_destroy(&msg);
    switch (event) {
    case ZMQ_EVENT_CONNECTED: break; // the handshake says more
    case ZMQ_EVENT_HANDSHAKE_SUCCEEDED: self->status.link = SENDER_LINK_UP; break;
    case ZMQ_EVENT_CONNECT_RETRIED:
        if (self->status.link != SENDER_LINK_KEY_REFUSED &&
            self->status.link != SENDER_LINK_HANDSHAKE)
            self->status.link = SENDER_LINK_NO_ROUTE;
        break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
        if (self->status.link != SENDER_LINK_KEY_REFUSED)
            log_warn("sender", "the county at \"%s\" refused this school's key (is its public "
                     "certificate in the county's clients directory?)", self->config.endpoint);
        self->status.link = SENDER_LINK_KEY_REFUSED;
        break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
    case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
        if (self->status.link != SENDER_LINK_HANDSHAKE)
            log_warn("sender", "could not complete the handshake with \"%s\" (is [curve] server "
                     "the county's certificate, and is it an eduwatch aggregator?)",
                     self->config.endpoint);
        self->status.link = SENDER_LINK_HANDSHAKE;
        break;
    case ZMQ_EVENT_DISCONNECTED:
        if (self->status.link == SENDER_LINK_UP)
            self->status.link = SENDER_LINK_UNKNOWN;
        if (!self->waiting_since_ms && !self->unanswered)
            break; // nothing in flight
        s_forget_in_flight(self);
        self->drops++;
        log_complain(&self->trouble, LOG_LEVEL_WARN, "sender",
                     "connection to the county lost with batches unanswered%s; sending again "
                     "from seq %" PRIu64 " once it is back",
                     self->drops >= 3 ? " again and again (if the county drops messages this "
                                        "large, max_batch_bytes is above the county's)"
                                      : "",
                     self->next_seq);
        break;
    default: break;
    }
}

zsock_t *sender_socket(sender_t *self)
{
    return self->dealer;
}

bool sender_idle(sender_t *self)
{
    return spool_pending(self->spool) == 0;
}

bool sender_blocked(sender_t *self)
{
    return self->blocked;
}

const sender_status_t *sender_status(const sender_t *self)
{
    return &self->status;
}

/*  Pauses for a capped, jittered back-off, then sends again from the oldest unacknowledged. */
static void s_rewind(sender_t *self, const char *why)
{
    self->backoff_ms = self->backoff_ms ? self->backoff_ms * 2 : 500;
    if (self->backoff_ms > self->config.max_backoff_ms)
        self->backoff_ms = self->config.max_backoff_ms;
    uint32_t r = 0;
    if (getrandom(&r, sizeof r, 0) != sizeof r)
        r = (uint32_t) clock_mono_ms();
    int jitter = (int) (r % (uint32_t) (self->backoff_ms / 2 + 1));
    self->paused_until_ms = clock_mono_ms() + self->backoff_ms / 2 + jitter;
    self->next_seq = spool_floor(self->spool);
    self->waiting_since_ms = 0;
    self->careful_batch = 0;
    log_complain(&self->trouble, LOG_LEVEL_WARN, "sender",
                 "%s; %" PRIu64 " records wait, resending from seq %" PRIu64, why,
                 spool_pending(self->spool), self->next_seq);
}

/*  Bytes of a length-delimited field of size bytes (tag of one byte, varint length). */
static size_t s_field_bytes(size_t size)
{
    size_t n = 1;
    for (size_t v = size; v >= 0x80; v >>= 7)
        n++;
    return 1 + n + size;
}

static int s_collect(void *arg, uint64_t seq, const void *data, size_t size)
{
    sender_t *self = arg;
    Edu__V1__Record *rec = edu__v1__record__unpack(NULL, size, data);
    if (!rec) {
        if (self->count == 0) {
            self->unfit_seq = seq; // skipped once it is the oldest (see s_skip_unfit)
            return 1;
        }
        return 1; // the batch ends before it
    }
    rec->seq = seq;
    size_t bytes = s_field_bytes(edu__v1__record__get_packed_size(rec));
    if (self->bytes + bytes + S_WIRE_OVERHEAD > self->config.max_batch_bytes) {
        if (self->count == 0)
            self->unfit_seq = seq;
        edu__v1__record__free_unpacked(rec, NULL);
        return 1; // the batch is full
    }
    self->bytes += bytes;
    self->records[self->count++] = rec;
    return 0;
}

static int s_fetch_one(void *arg, uint64_t seq, const void *data, size_t size)
{
    Edu__V1__Record **out = arg;
    *out = edu__v1__record__unpack(NULL, size, data);
    if (*out)
        (*out)->seq = seq;
    return 1;
}

/*  Reports and acknowledges the oldest unacknowledged record without the county. */
static void s_skip(sender_t *self, const char *code, const char *detail)
{
    uint64_t seq = spool_floor(self->spool);
    Edu__V1__Record *rec = NULL;
    char err[256];
    if (spool_read(self->spool, seq, 1, s_fetch_one, &rec, err, sizeof err) < 0)
        log_error("sender", "could not read record %" PRIu64 " back: %s", seq, err);
    if (rec && self->events.skipped)
        self->events.skipped(self->events.arg, rec, code, detail);
    log_warn("sender", "skipped record %" PRIu64 " (%s, row %u of \"%s\"): %s; the records after "
             "it go on", seq, code, rec ? rec->source_row : 0,
             rec ? rec->source_file : "(undecodable)", detail);
    if (rec)
        edu__v1__record__free_unpacked(rec, NULL);
    if (spool_ack(self->spool, seq, err, sizeof err) != 0)
        log_error("sender", "could not record the skip: %s", err);
    self->status.skipped++;
    self->strikes = 0;
    self->careful_ceiling = 0;
    self->next_seq = spool_floor(self->spool);
}

/*  Sends one batch of at most max records from next_seq (0 records: a probe). Returns the
 *  number of records sent; 0 when there was nothing to send or the socket could not take it. */
static size_t s_send_batch(sender_t *self, size_t max, bool probe)
{
    char err[256];
    Edu__V1__Batch batch = EDU__V1__BATCH__INIT;
    batch.spool_id = (char *) spool_id(self->spool);
    batch.floor = spool_floor(self->spool);
    self->bytes = edu__v1__batch__get_packed_size(&batch);
    self->unfit_seq = 0;
    if (!probe &&
        spool_read(self->spool, self->next_seq, max, s_collect, self, err, sizeof err) < 0) {
        log_error("sender", "could not read the spool: %s", err);
        s_clear_batch(self);
        return 0;
    }
    if (self->count == 0 && self->unfit_seq && self->unfit_seq == spool_floor(self->spool)) {
        char detail[160];
        snprintf(detail, sizeof detail, "record %" PRIu64 " does not fit in a batch of "
                 "max_batch_bytes %zu, or cannot be decoded", self->unfit_seq,
                 self->config.max_batch_bytes);
        s_skip(self, "record_too_large", detail);
        return 0;
    }
    if (self->count == 0 && !probe)
        return 0;
    batch.n_records = self->count;
    batch.records = self->records;
    size_t size = edu__v1__batch__get_packed_size(&batch);
    uint8_t *buf = xmalloc(size ? size : 1);
    edu__v1__batch__pack(&batch, buf);
    size_t sent = 0;
    self->blocked = zmq_send(zsock_resolve(self->dealer), buf, size, ZMQ_DONTWAIT) != (int) size;
    if (!self->blocked) {
        sent = self->count;
        if (self->count)
            self->next_seq = self->records[self->count - 1]->seq + 1;
        self->unanswered++;
        if (!self->waiting_since_ms)
            self->waiting_since_ms = clock_mono_ms();
    }
    free(buf);
    s_clear_batch(self);
    return probe && !self->blocked ? 1 : sent;
}

/*  One batch at a time from the oldest unacknowledged record, while a refused record is
 *  isolated. */
static void s_pump_careful(sender_t *self)
{
    if (self->unanswered || self->careful_batch || self->probing)
        return; // the answer to what is out decides what goes next
    self->next_seq = spool_floor(self->spool);
    if (self->next_seq > spool_last_seq(self->spool))
        return;
    if (self->probe_due) {
        if (s_send_batch(self, 0, true)) {
            self->probe_due = false;
            self->probing = true;
        }
        return;
    }
    uint64_t skipped = self->status.skipped;
    size_t n = s_send_batch(self, self->careful_max, false);
    if (n == 0 && self->status.skipped != skipped) // skipped an unfit record: the next one
        n = s_send_batch(self, self->careful_max, false);
    self->careful_batch = n;
}

void sender_pump(sender_t *self)
{
    int64_t now = clock_mono_ms();
    if (now < self->paused_until_ms)
        return;
    if (self->waiting_since_ms && now - self->waiting_since_ms > self->config.ack_timeout_ms) {
        self->unanswered = 0;
        self->probing = false;
        s_rewind(self, "no answer from the county in time");
        return;
    }
    self->blocked = false;
    if (self->careful) {
        s_pump_careful(self);
        return;
    }
    uint64_t floor = spool_floor(self->spool);
    if (self->next_seq < floor)
        self->next_seq = floor;
    while (self->next_seq <= spool_last_seq(self->spool)) {
        floor = spool_floor(self->spool);
        uint64_t in_flight = self->next_seq - floor;
        if (in_flight >= self->config.window_records)
            break;
        size_t room = self->config.window_records - (size_t) in_flight;
        size_t max = room < self->config.batch_records ? room : self->config.batch_records;
        uint64_t skipped = self->status.skipped;
        if (s_send_batch(self, max, false) == 0 && self->status.skipped == skipped)
            break;
    }
}

/*  An INVALID answer: the batch, or a record in it, is refused as malformed. */
static void s_handle_invalid(sender_t *self, const char *detail)
{
    log_complain(&self->malformed, LOG_LEVEL_WARN, "sender",
                 "county refused a batch as malformed: %s; sending one batch at a time from seq "
                 "%" PRIu64 " to find the record it refuses", detail, spool_floor(self->spool));
    if (!self->careful) {
        self->careful = true;
        self->status.isolating = true;
        self->careful_until = self->next_seq > 0 ? self->next_seq - 1 : 0;
        if (self->careful_until < spool_floor(self->spool))
            self->careful_until = spool_floor(self->spool);
        self->careful_max = self->config.batch_records;
        self->careful_ceiling = 0;
        self->careful_batch = 0;
        self->strikes = 0;
        self->next_seq = spool_floor(self->spool);
        self->waiting_since_ms = 0;
        return;
    }
    if (self->probing) {
        // even an empty batch is refused: the county refuses everything, not a record
        self->probing = false;
        self->strikes = 0;
        log_complain(&self->refuses_all, LOG_LEVEL_ERROR, "sender",
                     "county refuses even an empty batch as malformed: %s (is it a different "
                     "version?); nothing is skipped", detail);
        s_rewind(self, "county refuses every batch");
        return;
    }
    size_t n = self->careful_batch;
    self->careful_batch = 0;
    self->waiting_since_ms = 0;
    if (n == 0)
        return; // not the answer to the careful batch: a late one
    if (n > 1) {
        self->careful_max = n / 2;
        self->careful_ceiling = n; // a batch too big for the county stays under it
        return;                    // the first half next
    }
    self->careful_max = 1;
    if (++self->strikes >= SENDER_STRIKES)
        self->probe_due = true;
    else
        s_rewind(self, "county refused a record as malformed");
}

/*  An OK or GAP answer while isolating. */
static void s_careful_ok(sender_t *self, const char *detail)
{
    if (self->probing) {
        self->probing = false;
        log_release(&self->refuses_all, "sender", "county accepts an empty batch again");
        s_skip(self, "batch_refused", detail);
    } else if (self->careful_batch) {
        self->strikes = 0;
        size_t top = self->careful_ceiling > 1 ? self->careful_ceiling - 1
                                               : self->config.batch_records;
        self->careful_max *= 2;
        if (self->careful_max > top)
            self->careful_max = top;
    }
    self->careful_batch = 0;
    if (spool_acked(self->spool) >= self->careful_until || spool_pending(self->spool) == 0) {
        self->careful = false;
        self->status.isolating = false;
        self->next_seq = spool_floor(self->spool);
        log_release(&self->malformed, "sender", "county accepts batches again (mark %" PRIu64 ")",
                    spool_acked(self->spool));
    }
}

static void s_handle_ack(sender_t *self, const Edu__V1__Ack *ack)
{
    // an answer that moves the mark must be for this spool; the others may not know it
    bool moves = ack->status == EDU__V1__ACK__STATUS__OK || ack->status == EDU__V1__ACK__STATUS__GAP;
    if (moves && strcmp(ack->spool_id, spool_id(self->spool)) != 0)
        return;
    if (self->unanswered)
        self->unanswered--;
    uint64_t before = spool_acked(self->spool);
    char err[256];
    self->status.last_answer_ms = s_wall_ms();
    self->status.last_status = (int) ack->status;
    switch (ack->status) {
    case EDU__V1__ACK__STATUS__OK:
    case EDU__V1__ACK__STATUS__GAP: {
        self->status.last_ack_ms = self->status.last_answer_ms;
        self->status.link = SENDER_LINK_UP;
        uint64_t mark = ack->acked_through;
        if (mark > spool_last_seq(self->spool)) {
            log_error("sender", "the county acknowledges seq %" PRIu64 " beyond this spool's last %"
                      PRIu64 " (was the spool restored from a backup?)", mark,
                      spool_last_seq(self->spool));
            mark = spool_last_seq(self->spool);
        }
        Edu__V1__Refusal **fresh = xcalloc(ack->n_refusals + 1, sizeof *fresh);
        size_t n = 0;
        for (size_t i = 0; i < ack->n_refusals; i++) {
            if (ack->refusals[i]->seq > before)
                fresh[n++] = ack->refusals[i];
        }
        if (n && self->events.refusals)
            self->events.refusals(self->events.arg, fresh, n);
        free(fresh);
        if (mark > before && spool_ack(self->spool, mark, err, sizeof err) != 0)
            log_error("sender", "could not record the acknowledgement: %s", err);
        if (ack->status == EDU__V1__ACK__STATUS__GAP) {
            self->next_seq = spool_floor(self->spool);
            self->waiting_since_ms = 0;
            log_info("sender", "county asks to resend from seq %" PRIu64, self->next_seq);
        } else {
            self->backoff_ms = 0;
            self->drops = 0;
            self->waiting_since_ms =
                self->next_seq > spool_floor(self->spool) ? clock_mono_ms() : 0;
            log_release(&self->trouble, "sender", "county acknowledges again (mark %" PRIu64 ")",
                        mark);
        }
        if (self->careful)
            s_careful_ok(self, self->invalid);
        break;
    }
    case EDU__V1__ACK__STATUS__RETRY:
        str_escape(ack->detail && *ack->detail ? ack->detail : "county asks to retry",
                   self->status.detail, sizeof self->status.detail);
        self->careful_batch = 0;
        self->probing = false;
        s_rewind(self, self->status.detail);
        break;
    case EDU__V1__ACK__STATUS__UNAUTHORIZED:
        // the county no longer allows this school's key: nothing stored; keep and wait
        str_escape(ack->detail && *ack->detail ? ack->detail : "key not allowed",
                   self->status.detail, sizeof self->status.detail);
        self->status.link = SENDER_LINK_KEY_REFUSED;
        self->careful_batch = 0;
        self->probing = false;
        s_rewind(self, "county refuses this school's key (revoked at the county)");
        break;
    case EDU__V1__ACK__STATUS__INVALID:
        str_escape(ack->detail && *ack->detail ? ack->detail : "(no detail)", self->invalid,
                   sizeof self->invalid);
        snprintf(self->status.detail, sizeof self->status.detail, "%s", self->invalid);
        s_handle_invalid(self, self->invalid);
        break;
    default:
        // a status of a newer county: nothing is known to be stored; keep and try later
        snprintf(self->status.detail, sizeof self->status.detail, "status %d", (int) ack->status);
        self->careful_batch = 0;
        self->probing = false;
        s_rewind(self, "county answered a status this collector does not know");
        break;
    }
}

void sender_handle_socket(sender_t *self)
{
    while (true) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, zsock_resolve(self->dealer), ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            return;
        }
        Edu__V1__Ack *ack = edu__v1__ack__unpack(NULL, zmq_msg_size(&msg), zmq_msg_data(&msg));
        if (!ack)
            log_warn("sender", "ignored an answer of %zu bytes that is not an edu.v1.Ack",
                     zmq_msg_size(&msg));
        else
            s_handle_ack(self, ack);
        edu__v1__ack__free_unpacked(ack, NULL);
        zmq_msg_close(&msg);
    }
}

int sender_wait_ms(sender_t *self)
{
    int64_t now = clock_mono_ms();
    if (now < self->paused_until_ms)
        return (int) (self->paused_until_ms - now);
    if (self->waiting_since_ms) {
        int64_t left = self->waiting_since_ms + self->config.ack_timeout_ms - now;
        return left > 0 ? (int) left + 1 : 0;
    }
    return -1;
}
