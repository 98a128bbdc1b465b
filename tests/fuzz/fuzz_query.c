/*  fuzz_query - a reader's pull request, any bytes: three frames split at NUL bytes */
#include "query.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1);
    memcpy(copy, data, size);
    copy[size] = '\0';
    const char *frames[3] = {NULL, NULL, NULL};
    size_t n = 0;
    for (char *p = copy; n < 3 && p <= copy + size; p += strlen(p) + 1)
        frames[n++] = p;
    query_pull_t pull;
    char err[256];
    if (query_parse_pull(frames[0], frames[1], frames[2], &pull, err, sizeof err) == 0 &&
        (pull.limit < 1 || pull.limit > QUERY_MAX_LIMIT || strlen(pull.county) != 6))
        abort(); // what parses is within bounds
    free(copy);
    return 0;
}
