/*  lookup - a read-only index from string keys to items, safe to share between threads
 *
 *  Built once (lookup_add for each item, then lookup_seal sorts it), then only read:
 *  lookup_find is a binary search that writes nothing, so several threads may look up in one
 *  index at once. CZMQ's zhashx_lookup is no such read: it moves the table's cursor and may
 *  rehash the table when a chain grows long, so a zhashx shared between threads is unsafe even
 *  when nobody inserts.
 */
#ifndef EDU_LOOKUP_H
#define EDU_LOOKUP_H

#include <stddef.h>

typedef struct lookup_t lookup_t;

lookup_t *lookup_new(void);
void lookup_destroy(lookup_t **self_p);

/*  Adds item under key; both are borrowed and must outlive the index. Before lookup_seal only. */
void lookup_add(lookup_t *self, const char *key, const void *item);

/*  Sorts the index for lookup_find. Returns a key that was added twice (the index keeps one
 *  of its items), or NULL. */
const char *lookup_seal(lookup_t *self);

/*  The item under key, or NULL. After lookup_seal; any number of threads at once. */
const void *lookup_find(const lookup_t *self, const char *key);

#endif
