/*  receiver - the county's door for collectors: a CURVE ROUTER socket behind the gate
 *
 *  Only schools whose public certificate is in the `clients` directory complete the CURVE
 *  handshake (the gate checks it: ZAP domain "schools"; the caller starts the gate). Every
 *  message then carries in its User-Id property the school the gate found the key under (the
 *  certificate file's name). So a school is bound to its key: whatever a message says, it is
 *  from that school.
 *
 *  With CURVE disabled (tests, a loopback-only aggregator) the sender is unknown and
 *  receiver_recv() gives an empty school.
 */
#ifndef EDU_RECEIVER_H
#define EDU_RECEIVER_H

#include <czmq.h>
#include <stdbool.h>

typedef struct receiver_t receiver_t;

typedef struct {
    const char *endpoint;    // where to bind, e.g. tcp://*:5555
    bool curve;              // CURVE on (the default)
    const char *secret;      // the aggregator's secret certificate
    int max_message_bytes;   // largest batch accepted; twice this makes ZeroMQ drop the peer
} receiver_config_t;

/*  Binds the socket. Returns NULL with err when the certificate cannot be read, the endpoint
 *  cannot be bound, or curve is off and the endpoint is not a loopback address. */
/*  True for endpoints only this machine can reach (127.x, localhost, ::1, ipc, inproc), the
 *  only ones allowed without CURVE. */
bool receiver_is_loopback(const char *endpoint);

receiver_t *receiver_new(const receiver_config_t *config, char *err, size_t errlen);
void receiver_destroy(receiver_t **self_p);

zsock_t *receiver_socket(receiver_t *self);
/*  The endpoint actually bound (with the port when it was ephemeral). Borrowed. */
const char *receiver_endpoint(receiver_t *self);

/*  Receives one message. On success returns 0 with the peer's routing id and the payload
 *  (both owned by the caller), the sending school and its key (borrowed from the payload's
 *  metadata; "" without curve). Returns -1 when there was nothing to read or the envelope was
 *  malformed (err says why, and nothing is owned). */
int receiver_recv(receiver_t *self, zframe_t **routing_id, zframe_t **payload,
                  const char **school, const char **key, char *err, size_t errlen);

/*  Sends data to the peer routing_id (which it takes ownership of). Returns 0 or -1. */
int receiver_send(receiver_t *self, zframe_t **routing_id, const void *data, size_t size);

#endif
