/*  intake - a collector's message made into a batch: its size, its decoding within a memory
 *  budget, and its shape
 *
 *  Everything here runs before a record is judged, on bytes a school's key sent: it must bound
 *  what one message can cost. A message over max_bytes is refused without decoding; the number
 *  of records is counted on the wire before anything is allocated; protobuf-c then decodes
 *  through an allocator that refuses to go over a budget (decoding can amplify: 4 MiB of empty
 *  records once took 273 MB), and the batch's shape is checked (a spool id of 8 to 64 lowercase
 *  hex digits, sequence numbers ascending, from 1, below 2^63 as PostgreSQL's bigint needs).
 *  A refusal says why in err, which the aggregator sends back to the collector (Ack INVALID)
 *  and logs: what the peer sent is escaped in it (str_escape), so it cannot forge a log line.
 */
#ifndef EDU_INTAKE_H
#define EDU_INTAKE_H

#include <edu/v1/eduwatch.pb-c.h>
#include <stddef.h>
#include <stdint.h>

#define INTAKE_MAX_RECORDS 50000 // most records one batch may carry (a collector's batch_records)
#define INTAKE_MAX_SEQ INT64_MAX // highest sequence number (edu.spool_state.hwm is a bigint)

typedef struct {
    size_t max_bytes;   // largest message accepted ([aggregator] max_batch_bytes)
    size_t max_records; // most records in one batch
    size_t budget;      // most bytes the decoded batch may take in memory
} intake_limits_t;

/*  A decoded batch and the allocator that holds it. */
typedef struct intake_batch_t intake_batch_t;

/*  The limits for max_bytes: at most INTAKE_MAX_RECORDS records, a budget of 16 times the
 *  message size plus 1 MiB (a batch of real rows takes about 3 times its size). */
intake_limits_t intake_limits(size_t max_bytes);

/*  Decodes size bytes of data (borrowed) as an edu.v1.Batch within limits and checks its shape.
 *  Returns the batch, or NULL with err saying why it is refused. */
intake_batch_t *intake_decode(const void *data, size_t size, const intake_limits_t *limits,
                              char *err, size_t errlen);
void intake_batch_destroy(intake_batch_t **self_p);

/*  The decoded batch (borrowed, valid until intake_batch_destroy). */
Edu__V1__Batch *intake_batch(intake_batch_t *self);

/*  Bytes the decoding allocated (for tests and the benchmark). */
size_t intake_batch_bytes(const intake_batch_t *self);

#endif
