/*  deliver - alerts leave the county: the PUB socket, webhooks and e-mail, at least once each
 *
 *  One actor per destination, each with its own database connection and its own cursor in
 *  edu.alert_destination (the id of the last alert it is done with), so a destination that is
 *  down or slow holds up nobody else. An actor reads the alerts after its cursor, sends them,
 *  and only then moves the cursor: an alert may be sent twice after a crash, never zero times.
 *  A failed send is tried again with a capped, jittered back-off, for ever; the attempts and
 *  the last error are kept with the cursor.
 *
 *  - pub: the `alerts` PUB socket (CURVE; the gate lets in only the `readers` keys). Every
 *    alert, one message each: [topic "<county>.<level>.<kind>"][the alert object as JSON]
 *    [its Chinese message, for a terminal].
 *  - webhook (json): each alert's object POSTed on its own, in order, until a 2xx.
 *  - webhook (dingtalk, wecom) and e-mail: for people, so noise is kept down, as Alertmanager
 *    does: the alerts ready (older than group_wait, so a burst lands together) go out as one
 *    message, worst level first, with a count; an item's several changes collapse into its
 *    last one (green → yellow → green within the wait is reported once, as resolved); a
 *    yellow alert is silenced while the same school (or county), stage, indicator and period
 *    is red.
 *    min_level = red keeps only red alerts and the resolutions of red ones.
 */
#ifndef EDU_DELIVER_H
#define EDU_DELIVER_H

#include <czmq.h>
#include <stdbool.h>

/*  Where the county's writer publishes a kick after each commit that may have written alerts,
 *  so the actors do not wait for their next round (inproc, this process). */
#define DELIVER_KICK_ENDPOINT "inproc://edu-deliver-kick"

typedef enum { DELIVER_PUB, DELIVER_WEBHOOK, DELIVER_EMAIL } deliver_kind_t;

typedef struct {
    deliver_kind_t kind;   // where to
    char *name;            // "pub", "webhook.NAME", "email.NAME": the cursor's name
    char *url;             // webhook: the URL; e-mail: the SMTP server ([smtp] url)
    char *format;          // webhook: json | dingtalk | wecom
    char *from;            // e-mail: [smtp] from
    char *to;              // e-mail: the recipient
    bool red_only;         // min_level = red
} destination_t;

typedef struct {
    const char *conninfo;      // the county database
    const char *county;        // county code
    const destination_t *dest; // copied by the actor
    const char *endpoint;      // pub: where to bind
    bool curve;                // pub: CURVE server
    const char *secret;        // pub: the aggregator's secret certificate
    int group_wait_ms;         // people's destinations: let a burst gather this long
    int max_backoff_ms;        // longest pause between tries
} deliver_config_t;

/*  The actor (zactor_fn); args is a deliver_config_t *, copied before the actor signals. It
 *  then sends "READY", or "FAILED" when the PUB endpoint could not be bound (and waits to be
 *  destroyed). It also listens to DELIVER_KICK_ENDPOINT. */
void deliver_actor(zsock_t *pipe, void *args);

void destination_free(destination_t *dest);

#endif
