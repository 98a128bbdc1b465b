/*  sender - streams the spool to the county over a CURVE DEALER socket
 *
 *  Socket options and why:
 *  - ZMQ_IMMEDIATE: queue nothing for a peer that is not connected. Otherwise batches pile up
 *    in a pipe that dies with the connection, and the window fills with records nobody got.
 *  - Heartbeats (IVL 10 s, TIMEOUT 30 s, TTL 60 s): a silent half-open link (a NAT that forgot
 *    us) is noticed and the connection re-established, instead of waiting forever for acks.
 *  - ZMQ_LINGER 0: unsent batches are dropped at exit; they are still in the spool.
 *  - ZMQ_MAXMSGSIZE: an answer bigger than any real Ack disconnects the peer.
 *  - A socket monitor for ZMQ_EVENT_DISCONNECTED: batches in flight when the connection drops
 *    (the aggregator restarted, say) are sent again as soon as it is back, instead of after
 *    ack_timeout_ms. Resending is always safe: the county skips what it has committed.
 *  - ZMQ_RECONNECT_IVL 250 ms doubling up to max_backoff_ms (ZMQ_RECONNECT_IVL_MAX): a county
 *    that restarts is found again within a second, one that is down for long is not hammered.
 */
#include "sender.h"

#include "keys.h"
#include "log.h"
#include "util.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

struct sender_t {
    sender_config_t config;    // copied (strings borrowed from the caller)
    spool_t *spool;            // borrowed
    zsock_t *dealer;           // to the aggregator
    zsock_t *monitor;          // the DEALER's disconnection events (PAIR)
    sender_refusal_fn *on_refusal; // callback for refusals
    void *arg;                 // its argument
    uint64_t next_seq;         // next seq to send
    int64_t waiting_since_ms;  // when the oldest unanswered batch went out (0: none)
    int64_t paused_until_ms;   // no sending before this (back-off)
    int backoff_ms;            // current back-off (0 when all is well)
    bool blocked;              // records wait but the socket took none (no connection yet)
    log_complain_t trouble;    // the link or the county in trouble, reported once
    Edu__V1__Record **records; // batch under construction
    size_t count;              // records in it
};

sender_t *sender_new(const sender_config_t *config, spool_t *spool, sender_refusal_fn *on_refusal,
                     void *arg, char *err, size_t errlen)
{
    sender_t *self = xcalloc(1, sizeof *self);
    self->config = *config;
    self->spool = spool;
    self->on_refusal = on_refusal;
    self->arg = arg;
    self->next_seq = spool_floor(spool);
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
    if (zmq_socket_monitor(zsock_resolve(self->dealer), monitor, ZMQ_EVENT_DISCONNECTED) == 0)
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

void sender_handle_monitor(sender_t *self)
{
    zmsg_t *event = zmsg_recv(self->monitor); // [event id, value][endpoint]
    zmsg_destroy(&event);
    if (!self->waiting_since_ms)
        return; // nothing in flight
    self->next_seq = spool_floor(self->spool);
    self->waiting_since_ms = 0;
    log_info("sender", "connection to the county lost; sending again from seq %" PRIu64
             " once it is back", self->next_seq);
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

/*  Waits a capped, jittered back-off before sending again from the oldest unacknowledged. */
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
    log_complain(&self->trouble, LOG_LEVEL_WARN, "sender",
                 "%s; %" PRIu64 " records wait, resending from seq %" PRIu64, why,
                 spool_pending(self->spool), self->next_seq);
}

static int s_collect(void *arg, uint64_t seq, const void *data, size_t size)
{
    sender_t *self = arg;
    Edu__V1__Record *rec = edu__v1__record__unpack(NULL, size, data);
    if (!rec) {
        log_error("sender", "spooled record %" PRIu64 " cannot be decoded; skipping it", seq);
        return 0;
    }
    rec->seq = seq;
    self->records[self->count++] = rec;
    return 0;
}

/*  Sends one batch from next_seq. Returns the number of records sent (0: nothing to send or
 *  the socket cannot take it now). */
static size_t s_send_batch(sender_t *self, size_t max)
{
    char err[256];
    if (spool_read(self->spool, self->next_seq, max, s_collect, self, err, sizeof err) < 0) {
        log_error("sender", "could not read the spool: %s", err);
        s_clear_batch(self);
        return 0;
    }
    if (self->count == 0)
        return 0;
    Edu__V1__Batch batch = EDU__V1__BATCH__INIT;
    batch.spool_id = (char *) spool_id(self->spool);
    batch.floor = spool_floor(self->spool);
    batch.n_records = self->count;
    batch.records = self->records;
    size_t size = edu__v1__batch__get_packed_size(&batch);
    uint8_t *buf = xmalloc(size);
    edu__v1__batch__pack(&batch, buf);
    size_t sent = 0;
    uint64_t last = self->records[self->count - 1]->seq;
    self->blocked = zmq_send(zsock_resolve(self->dealer), buf, size, ZMQ_DONTWAIT) != (int) size;
    if (!self->blocked) {
        sent = self->count;
        self->next_seq = last + 1;
        if (!self->waiting_since_ms)
            self->waiting_since_ms = clock_mono_ms();
    }
    free(buf);
    s_clear_batch(self);
    return sent;
}

void sender_pump(sender_t *self)
{
    int64_t now = clock_mono_ms();
    if (now < self->paused_until_ms)
        return;
    if (self->waiting_since_ms && now - self->waiting_since_ms > self->config.ack_timeout_ms) {
        s_rewind(self, "no answer from the county in time");
        return;
    }
    self->blocked = false;
    uint64_t floor = spool_floor(self->spool);
    if (self->next_seq < floor)
        self->next_seq = floor;
    while (self->next_seq <= spool_last_seq(self->spool)) {
        uint64_t in_flight = self->next_seq - floor;
        if (in_flight >= self->config.window_records)
            break;
        size_t room = self->config.window_records - (size_t) in_flight;
        size_t max = room < self->config.batch_records ? room : self->config.batch_records;
        if (s_send_batch(self, max) == 0)
            break;
    }
}

static void s_handle_ack(sender_t *self, const Edu__V1__Ack *ack)
{
    if (strcmp(ack->spool_id, spool_id(self->spool)) != 0 &&
        ack->status != EDU__V1__ACK__STATUS__INVALID && ack->status != EDU__V1__ACK__STATUS__RETRY)
        return;
    uint64_t before = spool_acked(self->spool);
    char err[256];
    switch (ack->status) {
    case EDU__V1__ACK__STATUS__OK:
    case EDU__V1__ACK__STATUS__GAP: {
        uint64_t mark = ack->acked_through;
        if (mark > spool_last_seq(self->spool)) {
            log_error("sender", "the county acknowledges seq %" PRIu64 " beyond this spool's last %"
                      PRIu64 " (was the spool restored from a backup?)", mark,
                      spool_last_seq(self->spool));
            mark = spool_last_seq(self->spool);
        }
        for (size_t i = 0; i < ack->n_refusals; i++)
            if (ack->refusals[i]->seq > before && self->on_refusal)
                self->on_refusal(self->arg, ack->refusals[i]);
        if (mark > before && spool_ack(self->spool, mark, err, sizeof err) != 0)
            log_error("sender", "could not record the acknowledgement: %s", err);
        if (ack->status == EDU__V1__ACK__STATUS__GAP) {
            self->next_seq = spool_floor(self->spool);
            self->waiting_since_ms = 0;
            log_info("sender", "county asks to resend from seq %" PRIu64, self->next_seq);
        } else {
            self->backoff_ms = 0;
            self->waiting_since_ms = self->next_seq > spool_floor(self->spool) ? clock_mono_ms() : 0;
            log_release(&self->trouble, "sender", "county acknowledges again (mark %" PRIu64 ")",
                        mark);
        }
        break;
    }
    case EDU__V1__ACK__STATUS__RETRY:
        s_rewind(self, ack->detail && *ack->detail ? ack->detail : "county asks to retry");
        break;
    case EDU__V1__ACK__STATUS__INVALID:
    default:
        log_error("sender", "county refused a batch as malformed: %s",
                  ack->detail ? ack->detail : "(no detail)");
        s_rewind(self, "batch refused as malformed");
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
