/*  aggregator - the county's daemon: receive, validate, store, (evaluate), acknowledge
 *
 *  An actor in CZMQ's manner: one private self, one handler per source (the collectors'
 *  socket, the readers' socket, the writer, SIGHUP), a loop that ends when the process is asked
 *  to stop. The main thread decodes, validates and prepares a batch, then hands it to the writer
 *  (writer.h), which stores it while the next one is prepared; at most two are in flight, and
 *  a stop waits for the writer's answers, so it never leaves a batch half done.
 */
#ifndef EDU_AGGREGATOR_H
#define EDU_AGGREGATOR_H

#include "aggregator_config.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct aggregator_t aggregator_t;

/*  Loads the registry and rules, connects to the database and brings its schema up to date,
 *  then binds. Returns NULL with err. */
aggregator_t *aggregator_new(const aggregator_config_t *config, char *err, size_t errlen);
void aggregator_destroy(aggregator_t **self_p);

/*  Serves until SIGINT or SIGTERM. Returns 0. */
int aggregator_run(aggregator_t *self);

#endif
