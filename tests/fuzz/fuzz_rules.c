/*  fuzz_rules - a county's rules file, any bytes: loaded, or refused with a file:line message */
#include "rules.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!*path)
        snprintf(path, sizeof path, "/tmp/fuzz_rules.%d.ini", (int) getpid());
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    char err[512] = "";
    rules_t *rules = rules_load(path, err, sizeof err);
    if (!rules && strncmp(err, path, strlen(path)) != 0)
        abort(); // a refusal always names the file
    for (size_t i = 0; rules && i < rules_count(rules); i++)
        if (!rules_find(rules, rules_at(rules, i)->code))
            abort();
    rules_destroy(&rules);
    return 0;
}
