/*  fuzz_csv - a school's CSV file, any bytes: UTF-8 with or without BOM, GB18030, broken
 *
 *  Each input is parsed from memory (rows_parse()) and streamed from a file in chunks of 1 to
 *  16 bytes (rows_open(), the size taken from the input's last byte), and both must say the
 *  same: the same records, the same errors, fatal or not. Chunk boundaries then fall inside
 *  characters, quoted fields, CRLFs and byte-order marks, wherever the fuzzer puts them.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE // memfd_create
#endif
#include "rows.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_same(const char *a, const char *b)
{
    if (strcmp(a, b) != 0)
        abort(); // the stream and the buffer disagree
}

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

    int fd = memfd_create("fuzz_csv", MFD_CLOEXEC);
    if (fd >= 0 && write(fd, data, size) == (ssize_t) size) {
        size_t chunk = size ? 1 + data[size - 1] % 16 : 1;
        rows_t *streamed = rows_open(fd, chunk);
        if (rows_fatal(streamed) != rows_fatal(rows))
            abort();
        rows_record_t r;
        size_t i = 0;
        int rc;
        while ((rc = rows_next(streamed, &r, NULL, 0)) == 1) {
            const rows_record_t *want = rows_record(rows, i++);
            if (!want || r.line != want->line || memcmp(&r.value, &want->value, sizeof r.value))
                abort();
            s_same(r.school_code, want->school_code);
            s_same(r.indicator, want->indicator);
            s_same(r.period, want->period);
        }
        if (rc != 0 || i != rows_record_count(rows) ||
            rows_error_count(streamed) != rows_error_count(rows) ||
            rows_errors_dropped(streamed) != rows_errors_dropped(rows))
            abort();
        for (size_t k = 0; k < rows_error_count(rows); k++) {
            const rows_error_t *x = rows_error(streamed, k), *y = rows_error(rows, k);
            if (x->line != y->line)
                abort();
            s_same(x->code, y->code);
            s_same(x->column, y->column);
            s_same(x->reason, y->reason);
        }
        rows_destroy(&streamed);
    }
    if (fd >= 0)
        close(fd);
    rows_destroy(&rows);
    return total == (size_t) -1; // keeps the reads
}
