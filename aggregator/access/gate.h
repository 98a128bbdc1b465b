/*  gate - who may connect: a ZAP handler (ZeroMQ RFC 27) with one keys directory per domain
 *
 *  CZMQ's zauth keeps one certificate store for every socket of the process; the aggregator
 *  needs several, one class of keys each: schools may submit on `listen` (domain "schools",
 *  the `clients` directory); readers (`readers`) and supervisors (`supervisors`) may subscribe
 *  to `alerts` (domain "alerts"); readers, supervisors and the province (`province`) may ask
 *  `query` (domain "readers"), where each request checks the class (query_server.c). The gate
 *  answers each CURVE handshake from the directories of the socket's ZAP domain; the User-Id
 *  of every message on the connection is
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

#define GATE_SCHOOLS "schools" // ZAP domain of the collectors' socket: schools
#define GATE_READERS "readers" // ZAP domain of `query`: readers, supervisors, the province
#define GATE_ALERTS "alerts"   // ZAP domain of the `alerts` PUB: readers and supervisors

// each message's metadata
#define GATE_KEY_PROPERTY "X-Key"       // the Z85 public key that sent it
#define GATE_CLASS_PROPERTY "X-Class"   // what the key may do: one of the classes below
#define GATE_PERSON_PROPERTY "X-Person" // who holds it (the certificate's `name` metadata)

// the classes of keys
#define GATE_CLASS_SCHOOL "school"         // may submit its own records
#define GATE_CLASS_READER "reader"         // may read (alerts, current, cases, pull)
#define GATE_CLASS_SUPERVISOR "supervisor" // may read and act (cases, silences, approval)
#define GATE_CLASS_PROVINCE "province"     // may pull, and accept or return a county's year

typedef struct {
    const char *schools;     // directory of the schools' public certificates
    const char *readers;     // readers' ("" = none)
    const char *supervisors; // supervisors' ("" = none)
    const char *province;    // the province's ("" = none)
} gate_config_t;

/*  The actor (zactor_fn); args is a gate_config_t *, read before the actor signals. */
void gate_actor(zsock_t *pipe, void *args);

#endif
