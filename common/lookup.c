/*  lookup - a read-only index from string keys to items (see lookup.h)
 *
 *  An array of (key, item) pairs sorted by key with qsort; lookups are bsearch.
 */
#include "lookup.h"

#include "util.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *key;  // borrowed
    const void *item; // borrowed
} s_entry_t;

struct lookup_t {
    s_entry_t *entries;     // sorted by key once sealed
    size_t count, capacity; // used, allocated
    bool sealed;            // lookup_seal has run
};

lookup_t *lookup_new(void)
{
    return xcalloc(1, sizeof(lookup_t));
}

void lookup_destroy(lookup_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->entries);
    free(*self_p);
    *self_p = NULL;
}

void lookup_add(lookup_t *self, const char *key, const void *item)
{
    assert(!self->sealed);
    if (self->count == self->capacity) {
        self->capacity = self->capacity ? self->capacity * 2 : 32;
        self->entries = xrealloc(self->entries, self->capacity * sizeof *self->entries);
    }
    self->entries[self->count++] = (s_entry_t){.key = key, .item = item};
}

static int s_compare(const void *a, const void *b)
{
    return strcmp(((const s_entry_t *) a)->key, ((const s_entry_t *) b)->key);
}

const char *lookup_seal(lookup_t *self)
{
    if (self->count)
        qsort(self->entries, self->count, sizeof *self->entries, s_compare);
    self->sealed = true;
    for (size_t i = 1; i < self->count; i++)
        if (strcmp(self->entries[i - 1].key, self->entries[i].key) == 0)
            return self->entries[i].key;
    return NULL;
}

const void *lookup_find(const lookup_t *self, const char *key)
{
    assert(self->sealed);
    if (!self->count)
        return NULL;
    s_entry_t probe = {.key = key};
    const s_entry_t *found =
        bsearch(&probe, self->entries, self->count, sizeof *self->entries, s_compare);
    return found ? found->item : NULL;
}
