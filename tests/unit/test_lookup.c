/*  test_lookup - the read-only index: every key found, absent keys not, duplicates named, and
 *  lookups from several threads at once on one index */
#include "lookup.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

TestSuite(lookup);

Test(lookup, finds_every_key_and_nothing_else)
{
    static const char *keys[] = {"2143004052", "2143004053", "3143004051", "a", "", "ab", "b"};
    size_t n = sizeof keys / sizeof *keys;
    int items[sizeof keys / sizeof *keys];
    lookup_t *index = lookup_new();
    for (size_t i = 0; i < n; i++)
        lookup_add(index, keys[i], &items[i]);
    cr_assert_null(lookup_seal(index));
    for (size_t i = 0; i < n; i++)
        cr_expect_eq(lookup_find(index, keys[i]), &items[i], "key \"%s\"", keys[i]);
    static const char *absent[] = {"2143004054", "214300405", "21430040520", "A", "c", " a"};
    for (size_t i = 0; i < sizeof absent / sizeof *absent; i++)
        cr_expect_null(lookup_find(index, absent[i]), "key \"%s\"", absent[i]);
    lookup_destroy(&index);
    cr_assert_null(index);
    lookup_destroy(&index); // safe twice
}

Test(lookup, an_empty_index_finds_nothing)
{
    lookup_t *index = lookup_new();
    cr_expect_null(lookup_seal(index));
    cr_expect_null(lookup_find(index, "x"));
    lookup_destroy(&index);
}

Test(lookup, seal_names_a_key_added_twice)
{
    int a = 1, b = 2, c = 3;
    lookup_t *index = lookup_new();
    lookup_add(index, "x", &a);
    lookup_add(index, "y", &b);
    lookup_add(index, "x", &c);
    const char *twice = lookup_seal(index);
    cr_assert_not_null(twice);
    cr_expect_str_eq(twice, "x");
    const void *found = lookup_find(index, "x");
    cr_expect(found == &a || found == &c, "one of the two items");
    cr_expect_eq(lookup_find(index, "y"), &b);
    lookup_destroy(&index);
}

#define S_KEYS 2000

typedef struct {
    const lookup_t *index;
    char (*keys)[16];
    int *items;
    int misses; // wrong answers seen by this thread
} s_reader_t;

static void *s_read(void *arg)
{
    s_reader_t *r = arg;
    for (int round = 0; round < 50; round++)
        for (int i = 0; i < S_KEYS; i++) {
            char absent[24];
            snprintf(absent, sizeof absent, "absent-%d", i);
            r->misses += lookup_find(r->index, r->keys[i]) != &r->items[i];
            r->misses += lookup_find(r->index, absent) != NULL;
        }
    return NULL;
}

Test(lookup, threads_look_up_at_once)
{
    static char keys[S_KEYS][16];
    static int items[S_KEYS];
    lookup_t *index = lookup_new();
    for (int i = 0; i < S_KEYS; i++) {
        snprintf(keys[i], sizeof keys[i], "%010d", i * 7919);
        lookup_add(index, keys[i], &items[i]);
    }
    cr_assert_null(lookup_seal(index));
    s_reader_t readers[4];
    pthread_t threads[4];
    for (int t = 0; t < 4; t++) {
        readers[t] = (s_reader_t){.index = index, .keys = keys, .items = items};
        cr_assert_eq(pthread_create(&threads[t], NULL, s_read, &readers[t]), 0);
    }
    for (int t = 0; t < 4; t++) {
        pthread_join(threads[t], NULL);
        cr_expect_eq(readers[t].misses, 0, "thread %d", t);
    }
    lookup_destroy(&index);
}
