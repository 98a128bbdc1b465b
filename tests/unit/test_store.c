/*  test_store - what a batch becomes before the database: its COPY rows and which record of
 *  each school x indicator x period is the latest (store_prepare; store_batch itself runs
 *  against a real PostgreSQL in the integration tests) */
#include "store.h"
#include "util.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TestSuite(store);

typedef struct {
    const char *school, *indicator, *period;
    double value;
    refusal_t reason; // the verdict
    bool latest;      // whether it is its key's latest: in the stage
    const char *stored_school; // what COPY must carry of school, when not school itself
} s_row_t;

/*  Reads PostgreSQL's binary COPY data; reading past its end fails the test. */
typedef struct {
    const char *data;
    size_t size, at;
} s_reader_t;

/*  The next `bytes` bytes as a signed big-endian integer. */
static int64_t s_int(s_reader_t *in, size_t bytes)
{
    cr_assert_leq(in->at + bytes, in->size, "read past the end at %zu", in->at);
    uint64_t v = 0;
    for (size_t i = 0; i < bytes; i++)
        v = v << 8 | (unsigned char) in->data[in->at++];
    if (bytes < 8 && v >> (bytes * 8 - 1)) // sign-extend
        v |= ~(uint64_t) 0 << (bytes * 8);
    return (int64_t) v;
}

static void s_expect_text(s_reader_t *in, const char *want, size_t row)
{
    int64_t len = s_int(in, 4);
    cr_assert_eq(len, (int64_t) strlen(want), "row %zu: length of \"%s\"", row, want);
    cr_assert_leq(in->at + (size_t) len, in->size);
    cr_expect(memcmp(in->data + in->at, want, (size_t) len) == 0, "row %zu: \"%s\"", row, want);
    in->at += (size_t) len;
}

static void s_expect_header(s_reader_t *in)
{
    cr_assert_geq(in->size, 19);
    cr_assert(memcmp(in->data, "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0", 19) == 0, "the header");
    in->at = 19;
}

static void s_expect_bigint(s_reader_t *in, int64_t want, size_t row)
{
    cr_expect_eq(s_int(in, 4), 8, "row %zu: a bigint's length", row);
    cr_expect_eq(s_int(in, 8), want, "row %zu: bigint", row);
}

/*  school_code, indicator, period, value */
static void s_expect_key(s_reader_t *in, const s_row_t *row, size_t i)
{
    s_expect_text(in, row->stored_school ? row->stored_school : row->school, i);
    s_expect_text(in, row->indicator, i);
    s_expect_text(in, row->period, i);
    cr_expect_eq(s_int(in, 4), 8, "row %zu: value's length", i);
    uint64_t bits = (uint64_t) s_int(in, 8);
    double value;
    memcpy(&value, &bits, sizeof value);
    cr_expect_eq(value, row->value, "row %zu: value %g", i, value);
}

/*  Prepares rows[0..n) as one batch (seq 1..n) and checks every row of the stage's and of the
 *  history's binary COPY data. */
static void s_check(const s_row_t *rows, size_t n)
{
    Edu__V1__Record *records = xcalloc(n, sizeof *records);
    Edu__V1__Record **pointers = xcalloc(n, sizeof *pointers);
    verdict_t *verdicts = xcalloc(n, sizeof *verdicts);
    for (size_t i = 0; i < n; i++) {
        edu__v1__record__init(&records[i]);
        records[i].seq = i + 1;
        records[i].school_code = (char *) rows[i].school;
        records[i].indicator = (char *) rows[i].indicator;
        records[i].period = (char *) rows[i].period;
        records[i].value = rows[i].value;
        records[i].source_file = (char *) "a.csv";
        records[i].source_row = (unsigned) i + 2;
        pointers[i] = &records[i];
        verdicts[i] = (verdict_t){.reason = rows[i].reason,
                                  .column = rows[i].reason ? "value" : ""};
        if (rows[i].reason)
            snprintf(verdicts[i].detail, sizeof verdicts[i].detail, "bad\ttab");
    }
    Edu__V1__Batch batch = EDU__V1__BATCH__INIT;
    batch.spool_id = (char *) "0123456789abcdef";
    batch.n_records = n;
    batch.records = pointers;
    store_prepared_t *prepared = store_prepare(&batch, verdicts);
    cr_assert_not_null(prepared);
    size_t size = 0;
    const char *data = store_prepared_stage(prepared, &size);
    s_reader_t in = {data, size, 0};
    s_expect_header(&in);
    for (size_t i = 0; i < n; i++) {
        if (!rows[i].reason && !rows[i].latest)
            continue; // in the history only
        cr_assert_eq(s_int(&in, 2), 10, "row %zu: its field count", i);
        s_expect_bigint(&in, (int64_t) i + 1, i);
        s_expect_key(&in, &rows[i], i);
        s_expect_text(&in, "a.csv", i);
        cr_expect_eq(s_int(&in, 4), 4, "row %zu: source_row's length", i);
        cr_expect_eq(s_int(&in, 4), (int64_t) i + 2, "row %zu: source_row", i);
        if (rows[i].reason) {
            s_expect_text(&in, refusal_name(rows[i].reason), i);
            s_expect_text(&in, "value", i);
            s_expect_text(&in, "bad\ttab", i);
        } else {
            for (int k = 0; k < 3; k++)
                cr_expect_eq(s_int(&in, 4), -1, "row %zu: NULL reason, column, detail", i);
        }
    }
    cr_expect_eq(s_int(&in, 2), -1, "the stage's trailer");
    cr_expect_eq(in.at, size, "nothing after the stage's trailer");

    // the history, above a mark at each record in turn
    for (size_t hwm = 0; hwm <= n; hwm++) {
        zchunk_t *history = store_prepared_history(prepared, hwm, 42, "2143004052", "0123");
        size_t accepted = 0;
        for (size_t i = hwm; i < n; i++)
            accepted += !rows[i].reason;
        if (!accepted) {
            cr_expect_null(history, "above %zu: nothing to send", hwm);
            zchunk_destroy(&history);
            continue;
        }
        cr_assert_not_null(history, "above %zu", hwm);
        in = (s_reader_t){(const char *) zchunk_data(history), zchunk_size(history), 0};
        s_expect_header(&in);
        for (size_t i = hwm; i < n; i++) {
            if (rows[i].reason)
                continue;
            cr_assert_eq(s_int(&in, 2), 10, "row %zu: its field count", i);
            s_expect_bigint(&in, 42, i);
            s_expect_text(&in, "2143004052", i);
            s_expect_text(&in, "0123", i);
            s_expect_key(&in, &rows[i], i);
            s_expect_bigint(&in, (int64_t) i + 1, i);
            s_expect_text(&in, "a.csv", i);
            cr_expect_eq(s_int(&in, 4), 4, "row %zu: source_row's length", i);
            cr_expect_eq(s_int(&in, 4), (int64_t) i + 2, "row %zu: source_row", i);
        }
        cr_expect_eq(s_int(&in, 2), -1, "the history's trailer");
        cr_expect_eq(in.at, zchunk_size(history), "nothing after the history's trailer");
        zchunk_destroy(&history);
    }
    store_prepared_destroy(&prepared);
    cr_assert_null(prepared);
    store_prepared_destroy(&prepared); // safe twice
    free(verdicts);
    free(pointers);
    free(records);
}

Test(store, every_key_once_is_latest)
{
    s_row_t rows[] = {
        {"2143004052", "training_hours", "2025-2026", 80, REFUSE_NONE, true, NULL},
        {"2143004052", "training_hours", "2024-2025", 70, REFUSE_NONE, true, NULL},
        {"2143004052", "myopia_pct", "2025-2026", 33.5, REFUSE_NONE, true, NULL},
        {"2143004053", "training_hours", "2025-2026", 90, REFUSE_NONE, true, NULL},
    };
    s_check(rows, sizeof rows / sizeof *rows);
}

Test(store, a_corrected_key_is_latest_only_at_its_last_record)
{
    s_row_t rows[] = {
        {"2143004052", "training_hours", "2025-2026", 80, REFUSE_NONE, false, NULL},
        {"2143004052", "myopia_pct", "2025-2026", 30, REFUSE_NONE, true, NULL},
        {"2143004052", "training_hours", "2025-2026", 81, REFUSE_NONE, false, NULL},
        {"2143004052", "training_hours", "2025-2026", 82, REFUSE_NONE, true, NULL},
    };
    s_check(rows, sizeof rows / sizeof *rows);
}

Test(store, a_refused_record_is_never_latest_and_does_not_hide_an_accepted_one)
{
    s_row_t rows[] = {
        {"2143004052", "training_hours", "2025-2026", 80, REFUSE_NONE, true, NULL},
        {"2143004052", "training_hours", "2025-2026", 1e9, REFUSE_OUT_OF_RANGE, false, NULL},
        {"9999999999", "training_hours", "2025-2026", 80, REFUSE_UNKNOWN_SCHOOL, false, NULL},
    };
    s_check(rows, sizeof rows / sizeof *rows);
}

Test(store, keys_that_share_a_prefix_are_different_keys)
{
    // the three parts are joined with a separator no code contains: "a"+"bc" is not "ab"+"c"
    s_row_t rows[] = {
        {"2143004052", "pe_art_teachers_per100", "2025-2026", 1, REFUSE_NONE, true, NULL},
        {"2143004052", "pe_art_teachers_per10", "02025-2026", 2, REFUSE_NONE, true, NULL},
    };
    s_check(rows, sizeof rows / sizeof *rows);
}

Test(store, keys_longer_than_the_buffer_keep_their_periods_apart)
{
    // 64 + 128 + 64 characters, the most COPY keeps of each: a key of 258 bytes
    static char school[65], indicator[129], early[65], late[65];
    memset(school, '2', 64);
    memset(indicator, 'x', 128);
    snprintf(early, sizeof early, "2024-2025%055d", 0);
    snprintf(late, sizeof late, "2025-2026%055d", 0);
    s_row_t rows[] = {
        {school, indicator, early, 1, REFUSE_NONE, true, NULL},
        {school, indicator, late, 2, REFUSE_NONE, false, NULL},
        {school, indicator, late, 3, REFUSE_NONE, true, NULL},
    };
    s_check(rows, sizeof rows / sizeof *rows);
}

Test(store, text_is_cut_at_its_bound_and_invalid_utf8_replaced)
{
    // PostgreSQL refuses text that is not UTF-8, binary COPY included: one bad record must not
    // make the whole batch fail forever
    static char school[80], cut[65];
    memset(school, '3', 79);
    memset(cut, '3', 64);
    s_row_t rows[] = {
        {"21430040\xff" "2", "training_hours", "2025-2026", 1, REFUSE_UNKNOWN_SCHOOL, false,
         "21430040?2"},
        {"2143004\xe5\xad", "training_hours", "2025-2026", 1, REFUSE_UNKNOWN_SCHOOL, false,
         "2143004??"},
        {"\xe5\xad\xa6" "2143004052", "training_hours", "2025-2026", 1, REFUSE_NONE, true, NULL},
        {school, "training_hours", "2025-2026", 1, REFUSE_UNKNOWN_SCHOOL, false, cut},
    };
    s_check(rows, sizeof rows / sizeof *rows);
}

Test(store, an_empty_batch_has_no_rows)
{
    Edu__V1__Batch batch = EDU__V1__BATCH__INIT;
    store_prepared_t *prepared = store_prepare(&batch, NULL);
    size_t size = 0;
    const char *data = store_prepared_stage(prepared, &size);
    cr_expect_eq(size, 21, "the header and the trailer only");
    cr_expect_null(store_prepared_history(prepared, 0, 0, "s", "p"), "no history");
    cr_expect(size == 21 && memcmp(data + 19, "\377\377", 2) == 0, "the trailer");
    store_prepared_destroy(&prepared);
}
