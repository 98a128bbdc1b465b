/*  query_server - the county's `query` endpoint, an actor of its own
 *
 *  Readers (supervisors' edu-alerts, the province's edu-province) ask here; the requests and
 *  replies are spelled in common/query.h and docs/protocol.md. The actor owns the ROUTER (a
 *  CURVE server behind the gate's `readers` domain) and the readers' database connection, so a
 *  province's pull of 100 000 rows runs beside the batches, never in their way: the main thread
 *  goes on receiving and acknowledging while it is answered.
 *
 *  zactor_new(query_server_actor, &config): the config is read before zactor_new returns. The
 *  actor then sends one string: "READY", or why it could not bind (it then waits for $TERM).
 */
#ifndef EDU_QUERY_SERVER_H
#define EDU_QUERY_SERVER_H

#include "metrics.h"

#include <czmq.h>
#include <stdbool.h>

typedef struct {
    const char *endpoint;  // where to bind the ROUTER
    bool curve;            // CURVE server behind the gate (false: loopback only)
    const char *secret;    // the aggregator's secret certificate
    const char *conninfo;  // the readers' role (query_database, or database)
    const char *work_conninfo; // the working role (database), for cases and acts
    const char *county;    // 6-digit code: a pull for another county is refused
    metrics_t *metrics;    // counts the pages served (borrowed, thread-safe; NULL for none)
} query_server_config_t;

void query_server_actor(zsock_t *pipe, void *args);

#endif
