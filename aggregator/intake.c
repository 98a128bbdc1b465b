/*  intake - a collector's message made into a batch (see intake.h) */
#include "intake.h"

#include "util.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct intake_batch_t {
    Edu__V1__Batch *batch;        // decoded (NULL until then)
    ProtobufCAllocator allocator; // counts what protobuf-c takes, refuses beyond the budget
    size_t used;                  // bytes allocated now
    size_t budget;                // most bytes allowed
    bool over;                    // an allocation was refused
};

//  Each allocation carries its size in front, so that free can give it back to the budget.
typedef union {
    size_t size;
    max_align_t align;
} s_header_t;

static void *s_alloc(void *data, size_t size)
{
    intake_batch_t *self = data;
    size_t need = size + sizeof(s_header_t); // used never exceeds budget
    if (need < size || need > self->budget - self->used) {
        self->over = true;
        return NULL;
    }
    s_header_t *h = malloc(need);
    if (!h)
        return NULL;
    h->size = need;
    self->used += h->size;
    return h + 1;
}

static void s_free(void *data, void *pointer)
{
    if (!pointer)
        return;
    intake_batch_t *self = data;
    s_header_t *h = (s_header_t *) pointer - 1;
    self->used -= h->size;
    free(h);
}

intake_limits_t intake_limits(size_t max_bytes)
{
    return (intake_limits_t){.max_bytes = max_bytes,
                             .max_records = INTAKE_MAX_RECORDS,
                             .budget = 16 * max_bytes + (1 << 20)};
}

/*  Reads a varint at *p (before end). Returns false when it is cut or longer than 10 bytes. */
static bool s_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 70 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        v |= (uint64_t) (b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

/*  How many records (field 3) the message holds, counted on the wire without decoding; a
 *  message that is not well-formed is left to protobuf-c to refuse (returns what was counted). */
static size_t s_count_records(const uint8_t *p, size_t size)
{
    const uint8_t *end = p + size;
    size_t count = 0;
    uint64_t key, len;
    while (p < end && s_varint(&p, end, &key)) {
        switch (key & 7) {
        case 0: // varint
            if (!s_varint(&p, end, &len))
                return count;
            break;
        case 1: // 64-bit
            if ((size_t) (end - p) < 8)
                return count;
            p += 8;
            break;
        case 2: // length-delimited
            if (!s_varint(&p, end, &len) || len > (uint64_t) (end - p))
                return count;
            count += (key >> 3) == 3;
            p += len;
            break;
        case 5: // 32-bit
            if ((size_t) (end - p) < 4)
                return count;
            p += 4;
            break;
        default:
            return count;
        }
    }
    return count;
}

/*  The shape a batch must have before any record is judged. */
static int s_check(const Edu__V1__Batch *batch, const intake_limits_t *limits, char *err,
                   size_t errlen)
{
    size_t id_len = strlen(batch->spool_id);
    if (id_len < 8 || id_len > 64 || strspn(batch->spool_id, "0123456789abcdef") != id_len) {
        char shown[80];
        return errorf(err, errlen, "spool_id \"%s\" is not 8 to 64 lowercase hex digits",
                      str_escape(batch->spool_id, shown, sizeof shown));
    }
    if (batch->n_records > limits->max_records)
        return errorf(err, errlen, "batch of %zu records exceeds %zu", batch->n_records,
                      limits->max_records);
    for (size_t i = 0; i < batch->n_records; i++) {
        uint64_t seq = batch->records[i]->seq;
        if (seq == 0 || (i && seq <= batch->records[i - 1]->seq))
            return errorf(err, errlen, "record %zu has seq %llu, not above the one before", i,
                          (unsigned long long) seq);
        if (seq > INTAKE_MAX_SEQ)
            return errorf(err, errlen, "record %zu has seq %llu, above the largest allowed %lld",
                          i, (unsigned long long) seq, (long long) INTAKE_MAX_SEQ);
    }
    return 0;
}

intake_batch_t *intake_decode(const void *data, size_t size, const intake_limits_t *limits,
                              char *err, size_t errlen)
{
    if (size > limits->max_bytes) {
        errorf(err, errlen, "batch of %zu bytes exceeds max_batch_bytes %zu: send smaller batches",
               size, limits->max_bytes);
        return NULL;
    }
    size_t records = s_count_records(data, size);
    if (records > limits->max_records) {
        errorf(err, errlen, "batch of %zu records exceeds %zu", records, limits->max_records);
        return NULL;
    }
    intake_batch_t *self = xcalloc(1, sizeof *self);
    self->budget = limits->budget;
    self->allocator = (ProtobufCAllocator){.alloc = s_alloc, .free = s_free, .allocator_data = self};
    self->batch = edu__v1__batch__unpack(&self->allocator, size, data);
    if (!self->batch) {
        if (self->over)
            errorf(err, errlen, "cannot decode a %zu-byte message within %zu bytes of memory",
                   size, limits->budget);
        else
            errorf(err, errlen, "cannot decode a %zu-byte message as edu.v1.Batch", size);
        intake_batch_destroy(&self);
        return NULL;
    }
    if (s_check(self->batch, limits, err, errlen) != 0)
        intake_batch_destroy(&self);
    return self;
}

void intake_batch_destroy(intake_batch_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    intake_batch_t *self = *self_p;
    if (self->batch)
        edu__v1__batch__free_unpacked(self->batch, &self->allocator);
    free(self);
    *self_p = NULL;
}

Edu__V1__Batch *intake_batch(intake_batch_t *self)
{
    return self->batch;
}

size_t intake_batch_bytes(const intake_batch_t *self)
{
    return self->used;
}
