/*  sender - streams the spool to the county over a CURVE DEALER socket
 *
 *  The sender keeps a bounded window of unacknowledged records in flight, in batches of at most
 *  batch_records records and max_batch_bytes bytes on the wire (measured as the batch is built,
 *  with room for what CURVE adds, so no message ever exceeds it: the county's ZMQ_MAXMSGSIZE
 *  counts the encrypted frame). The aggregator answers each batch after its COMMIT with the
 *  spool's mark (every seq at or below it is stored); only then are records released from the
 *  spool. Whatever goes wrong — no answer in time, the database down (RETRY), a lost batch
 *  (GAP), the connection closed — the sender rewinds to the oldest unacknowledged record and
 *  sends again after a capped, jittered back-off. Resending is always safe: the aggregator
 *  stores nothing at or below the mark twice. It retries forever.
 *
 *  A batch the county refuses as INVALID (malformed) is not sent again as it is: the sender
 *  sends one batch at a time from the oldest unacknowledged record, halving it at each INVALID
 *  and doubling it again at each OK, until the record the county refuses is alone. A record
 *  refused alone SENDER_STRIKES times is skipped, once an empty batch (a probe) shows that the
 *  county accepts this collector's batches at all: reported in its file's errors.csv
 *  (batch_refused, with the county's words) and acknowledged in the spool without the county,
 *  so the records after it flow. A county that refuses even the probe refuses everything (a
 *  version mismatch, say): nothing is skipped, and the sender keeps trying with back-off.
 *
 *  A batch the county finds too big (its max_batch_bytes below this collector's) is answered
 *  INVALID too: the halving makes it fit, and the batches stay below the size refused until the
 *  isolation ends. A record larger than any batch may be (from a spool written before records
 *  were bounded) is skipped like a refused one when it is the oldest unacknowledged one
 *  (record_too_large).
 *
 *  UNAUTHORIZED (the county no longer allows this school's key) stores nothing: the records
 *  stay, the link shows the key refused, and the sender tries again with back-off; so does an
 *  answer of a status it does not know.
 *
 *  What the county sees of a skip: the next batch starts after the skipped record, and its
 *  `floor` (the oldest record the spool still holds) says the record is gone; the aggregator
 *  logs the records as "lost (quarantined at the school)" and raises its mark past them, as it
 *  does for a spool segment quarantined after disk damage.
 */
#ifndef EDU_SENDER_H
#define EDU_SENDER_H

#include "spool.h"

#include <czmq.h>
#include <edu/v1/eduwatch.pb-c.h>
#include <stdbool.h>

#define SENDER_STRIKES 3 // INVALID answers to a record sent alone before it is skipped

typedef struct sender_t sender_t;

/*  What the sender tells its owner. Both are called before the spool's mark moves past the
 *  records concerned, so what they write is there before the records are gone. */
typedef struct {
    /*  The county's refusals of one answer that were not reported before (borrowed). */
    void (*refusals)(void *arg, Edu__V1__Refusal *const *refusals, size_t count);
    /*  A record skipped (code batch_refused or record_too_large; detail: why). */
    void (*skipped)(void *arg, const Edu__V1__Record *record, const char *code,
                    const char *detail);
    void *arg; // passed to both
} sender_events_t;

typedef struct {
    const char *endpoint;   // the aggregator
    bool curve;             // CURVE on
    const char *secret;     // this school's secret certificate
    const char *server;     // the aggregator's public certificate
    size_t batch_records;   // records per batch
    size_t max_batch_bytes; // bytes per message on the wire, CURVE's framing included
    size_t window_records;  // most records unacknowledged at once
    int ack_timeout_ms;     // first wait for an answer before resending
    int max_backoff_ms;     // longest wait between tries
} sender_config_t;

/*  What the link to the county looks like, from the socket monitor. */
typedef enum {
    SENDER_LINK_UNKNOWN = 0, // nothing heard yet
    SENDER_LINK_UP,          // connected, handshake done
    SENDER_LINK_NO_ROUTE,    // the connection is refused or cannot be made (address, network)
    SENDER_LINK_KEY_REFUSED, // connected, but the county refused this school's key
    SENDER_LINK_HANDSHAKE,   // connected, but the handshake failed (the county's key is wrong)
} sender_link_t;

typedef struct {
    sender_link_t link;     // what the monitor said last
    int64_t last_ack_ms;    // wall clock of the last OK or GAP answer (0: none since start)
    int64_t last_answer_ms; // wall clock of the last answer of any kind (0: none)
    int last_status;        // the status of the last answer (-1: none)
    char detail[256];       // the county's words with the last RETRY or INVALID, escaped
    uint64_t skipped;       // records skipped since start
    bool isolating;         // sending one batch at a time to find a refused record
} sender_status_t;

/*  Connects (lazily, ZeroMQ reconnects by itself). Borrows spool; copies events. Returns NULL
 *  with err. */
sender_t *sender_new(const sender_config_t *config, spool_t *spool, const sender_events_t *events,
                     char *err, size_t errlen);
void sender_destroy(sender_t **self_p);

zsock_t *sender_socket(sender_t *self);

/*  The socket telling of the connection's events (NULL if the monitor could not start); when
 *  it is readable, call sender_handle_monitor(), which notes the link's state and sends what
 *  was in flight again after a disconnection. */
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

/*  What the sender knows of the county (borrowed). */
const sender_status_t *sender_status(const sender_t *self);

#endif
