/*  fuzz_csv - a school's CSV file, any bytes: UTF-8 with or without BOM, GB18030, broken */
#include "rows.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rows_t *rows = rows_parse((const char *) data, size);
    size_t total = 0;
    for (size_t i = 0; i < rows_record_count(rows); i++) {
        const rows_record_t *r = rows_record(rows, i);
        total += strlen(r->school_code) + strlen(r->indicator) + strlen(r->period);
    }
    for (size_t i = 0; i < rows_error_count(rows); i++)
        total += strlen(rows_error(rows, i)->reason) + strlen(rows_error(rows, i)->column) +
                 strlen(rows_error(rows, i)->code) + strlen(rows_error(rows, i)->hint);
    rows_destroy(&rows);
    return total == (size_t) -1; // keeps the reads
}
