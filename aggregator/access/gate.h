/*  gate - who may connect: a ZAP handler (ZeroMQ RFC 27) with one keys directory per domain
 *
 *  CZMQ's zauth keeps one certificate store for every socket of the process; the aggregator
 *  needs two: schools may submit on `listen` (domain "schools", the `clients` directory), and
 *  only supervisors and the province may subscribe to `alerts` or ask `query` (domain
 *  "readers", the `readers` directory). The gate answers each CURVE handshake from the
 *  directory of the socket's ZAP domain; the User-Id of every message on the connection is
 *  then the name of the certificate file that allowed the key (a school's code), and its
 *  GATE_KEY_PROPERTY the key itself, so that a key revoked while its connection stays open can
 *  be refused batch by batch (the aggregator checks it against the directory). A key
 *  not found is looked up again after reloading the directory (at most once a second), so a
 *  certificate copied in is honoured without a restart, and a removed one is refused.
 *
 *  Start it before binding any CURVE socket: zactor_new(gate_actor, &config).
 */
#ifndef EDU_GATE_H
#define EDU_GATE_H

#include <czmq.h>

#define GATE_SCHOOLS "schools" // ZAP domain of the collectors' socket
#define GATE_READERS "readers" // ZAP domain of the alerts and query sockets
#define GATE_KEY_PROPERTY "X-Key" // each message's metadata: the Z85 public key that sent it

typedef struct {
    const char *schools; // directory of the schools' public certificates
    const char *readers; // directory of the readers' public certificates
} gate_config_t;

/*  The actor (zactor_fn); args is a gate_config_t *, read before the actor signals. */
void gate_actor(zsock_t *pipe, void *args);

#endif
