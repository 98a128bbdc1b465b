/*  receiver - the county's door for collectors: a CURVE ROUTER socket behind the gate
 *
 *  Socket options and why:
 *  - ZMQ_MAXMSGSIZE: a peer that sends more than the limit is disconnected by libzmq before
 *    the message is ever allocated here, so an oversize or garbage length cannot exhaust memory.
 *  - Heartbeats (ZMQ_HEARTBEAT_IVL/TIMEOUT): a school PC that vanishes without closing TCP (a
 *    power cut, a NAT that forgets) is dropped after the timeout instead of holding a pipe.
 *  - ZMQ_LINGER 0: at shutdown unsent acknowledgements are dropped; the collectors resend and
 *    the spool mark makes that harmless, so there is no reason to wait.
 *  - ZMQ_ROUTER_MANDATORY off (default): an ack for a peer that has gone is dropped silently,
 *    again harmless.
 *  - ZMQ_RCVHWM S_RCVHWM: each connection's queue holds at most this many messages; a school
 *    that sends faster than the county stores waits in TCP's flow control, not in this
 *    process's memory (with the default of 1000 per connection, 60 batches of 4 MiB sent back
 *    to back once grew the aggregator from 29 to 349 MB). With one message being decoded, a
 *    connection holds at most (S_RCVHWM + 1) × the largest message.
 *  - ZMQ_MAXMSGSIZE twice max_batch_bytes: a message a little over the limit is still read, so
 *    that the collector can be told (intake.h refuses it with a reason); a larger one is a
 *    peer that ignores the protocol and is dropped before it is allocated.
 */
#include "receiver.h"

#include "gate.h"
#include "keys.h"
#include "util.h"

#include <string.h>

#define S_RCVHWM 2 // messages queued per connection
// connections waiting to be accepted: every school at once after a restart or on the deadline
// day (libzmq's 100 dropped the rest, whose TCP tried again after 1, 3, 7, 15 and 31 s); the
// kernel caps it at net.core.somaxconn
#define S_BACKLOG 4096

struct receiver_t {
    zsock_t *router;       // bound ROUTER socket
    bool curve;            // CURVE on: the gate lets in only the schools' keys
    char *endpoint;        // what was bound
};

bool receiver_is_loopback(const char *endpoint)
{
    static const char *ok[] = {"tcp://127.", "tcp://localhost:", "tcp://[::1]:", "ipc://",
                               "inproc://"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (strncmp(endpoint, ok[i], strlen(ok[i])) == 0)
            return true;
    return false;
}

receiver_t *receiver_new(const receiver_config_t *config, char *err, size_t errlen)
{
    if (!config->curve && !receiver_is_loopback(config->endpoint)) {
        errorf(err, errlen,
               "cannot listen on \"%s\" without CURVE: only loopback addresses may go without "
               "encryption ([curve] enabled = false)", config->endpoint);
        return NULL;
    }
    receiver_t *self = xcalloc(1, sizeof *self);
    self->router = zsock_new(ZMQ_ROUTER);
    zsock_set_linger(self->router, 0);
    zsock_set_maxmsgsize(self->router, 2 * config->max_message_bytes);
    zsock_set_heartbeat_ivl(self->router, 10000);
    zsock_set_heartbeat_timeout(self->router, 30000);
    zsock_set_rcvhwm(self->router, S_RCVHWM);
    zsock_set_backlog(self->router, S_BACKLOG);
    if (config->curve) {
        zcert_t *cert = keys_load_secret(config->secret, err, errlen);
        if (!cert)
            goto failed;
        self->curve = true;
        zsock_set_zap_domain(self->router, GATE_SCHOOLS); // the gate checks the key
        zcert_apply(cert, self->router);
        zsock_set_curve_server(self->router, 1);
        zcert_destroy(&cert);
    }
    if (zsock_bind(self->router, "%s", config->endpoint) < 0) {
        errorf(err, errlen, "could not bind listen on \"%s\": %s", config->endpoint,
               zmq_strerror(zmq_errno()));
        goto failed;
    }
    self->endpoint = xstrdup(zsock_endpoint(self->router));
    return self;
failed:
    receiver_destroy(&self);
    return NULL;
}

void receiver_destroy(receiver_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    receiver_t *self = *self_p;
    zsock_destroy(&self->router);
    free(self->endpoint);
    free(self);
    *self_p = NULL;
}

zsock_t *receiver_socket(receiver_t *self)
{
    return self->router;
}

const char *receiver_endpoint(receiver_t *self)
{
    return self->endpoint;
}

int receiver_recv(receiver_t *self, zframe_t **routing_id, zframe_t **payload,
                  const char **school, const char **key, char *err, size_t errlen)
{
    zmsg_t *msg = zmsg_recv(self->router);
    if (!msg)
        return errorf(err, errlen, "interrupted");
    int rc = -1;
    if (zmsg_size(msg) != 2) {
        errorf(err, errlen, "malformed message: %zu frames where 1 was expected",
               zmsg_size(msg) - 1);
        goto cleanup;
    }
    zframe_t *id = zmsg_pop(msg);
    zframe_t *body = zmsg_pop(msg);
    const char *who = "", *sent_by = "";
    if (self->curve) {
        // the gate named the school whose certificate let the key in, and the key
        who = zframe_meta(body, "User-Id");
        sent_by = zframe_meta(body, GATE_KEY_PROPERTY);
        if (!who || !*who || !sent_by) {
            errorf(err, errlen, "message without the school the gate names");
            zframe_destroy(&id);
            zframe_destroy(&body);
            goto cleanup;
        }
    }
    *routing_id = id;
    *payload = body;
    *school = who;
    *key = sent_by;
    rc = 0;
cleanup:
    zmsg_destroy(&msg);
    return rc;
}

int receiver_send(receiver_t *self, zframe_t **routing_id, const void *data, size_t size)
{
    zmsg_t *msg = zmsg_new();
    zmsg_append(msg, routing_id);
    zmsg_addmem(msg, data, size);
    return zmsg_send(&msg, self->router);
}
