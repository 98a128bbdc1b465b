/*  sender - streams the spool to the county over a CURVE DEALER socket
 *
 *  The sender keeps a bounded window of unacknowledged records in flight, in batches. The
 *  aggregator answers each batch after its COMMIT with the spool's mark (every seq at or below
 *  it is stored); only then are records released from the spool. Whatever goes wrong — no
 *  answer in time, the database down (RETRY), a lost batch (GAP), a refused message
 *  (INVALID) — the sender rewinds to the oldest unacknowledged record and sends again after a
 *  capped, jittered back-off. Resending is always safe: the aggregator stores nothing at or
 *  below the mark twice. It retries forever; nothing is ever dropped.
 */
#ifndef EDU_SENDER_H
#define EDU_SENDER_H

#include "spool.h"

#include <czmq.h>
#include <edu/v1/eduwatch.pb-c.h>
#include <stdbool.h>

typedef struct sender_t sender_t;

/*  Called for each record the aggregator refused, once. */
typedef void(sender_refusal_fn)(void *arg, const Edu__V1__Refusal *refusal);

typedef struct {
    const char *endpoint;   // the aggregator
    bool curve;             // CURVE on
    const char *secret;     // this school's secret certificate
    const char *server;     // the aggregator's public certificate
    size_t batch_records;   // records per batch
    size_t window_records;  // most records unacknowledged at once
    int ack_timeout_ms;     // first wait for an answer before resending
    int max_backoff_ms;     // longest wait between tries
} sender_config_t;

/*  Connects (lazily, ZeroMQ reconnects by itself). Borrows spool. Returns NULL with err. */
sender_t *sender_new(const sender_config_t *config, spool_t *spool, sender_refusal_fn *on_refusal,
                     void *arg, char *err, size_t errlen);
void sender_destroy(sender_t **self_p);

zsock_t *sender_socket(sender_t *self);

/*  The socket telling of lost connections (NULL if the monitor could not start); when it is
 *  readable, call sender_handle_monitor(), which sends what was in flight again. */
zsock_t *sender_monitor(sender_t *self);
void sender_handle_monitor(sender_t *self);

/*  Reads every answer waiting on the socket. */
void sender_handle_socket(sender_t *self);

/*  Sends what the window allows and resends what timed out. Call after anything happened. */
void sender_pump(sender_t *self);

/*  Milliseconds until the sender needs sender_pump() again (-1: only when something happens). */
int sender_wait_ms(sender_t *self);

/*  True when every present record is acknowledged. */
bool sender_idle(sender_t *self);

/*  True when records wait to be sent but the socket took none: no connection to the county
 *  yet. The caller polls the socket for output then, to send as soon as one is made. */
bool sender_blocked(sender_t *self);

#endif
