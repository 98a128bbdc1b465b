/*  test_store - what a batch becomes before the database: its COPY rows and which record of
 *  each school x indicator x period is the latest (store_prepare; store_batch itself runs
 *  against a real PostgreSQL in the integration tests) */
#include "store.h"
#include "util.h"

#include <criterion/criterion.h>
#include <math.h>
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

/*  Reads COPY's text format; reading past the end fails the test. */
typedef struct {
    const char *data;
    size_t size, at;
} s_reader_t;

#define S_FIELDS_MAX 12
typedef struct {
    char text[S_FIELDS_MAX][600]; // each field unescaped
    bool null[S_FIELDS_MAX];      // \N
    size_t count;
} s_fields_t;

/*  The next row's fields: split at tabs up to its newline, each unescaped. */
static void s_next_row(s_reader_t *in, s_fields_t *row, size_t i)
{
    *row = (s_fields_t){.count = 0};
    for (;;) {
        cr_assert_lt(row->count, S_FIELDS_MAX, "row %zu: too many fields", i);
        char *out = row->text[row->count];
        size_t n = 0;
        const char *start = in->data + in->at;
        for (;;) {
            cr_assert_lt(in->at, in->size, "row %zu: read past the end", i);
            char c = in->data[in->at++];
            if (c == '\t' || c == '\n') {
                row->null[row->count] = in->data + in->at - 1 - start == 2 && start[0] == '\\' &&
                                        start[1] == 'N';
                out[n] = '\0';
                row->count++;
                if (c == '\n')
                    return;
                break;
            }
            cr_assert(c != '\r', "row %zu: a bare carriage return", i);
            if (c == '\\') {
                cr_assert_lt(in->at, in->size);
                char e = in->data[in->at++];
                c = e == 't' ? '\t' : e == 'n' ? '\n' : e == 'r' ? '\r' : e == '\\' ? '\\' : e;
            }
            cr_assert_lt(n + 1, sizeof row->text[0]);
            out[n++] = c;
        }
    }
}

static void s_expect_text(const s_fields_t *row, size_t f, const char *want, size_t i)
{
    cr_expect_not(row->null[f], "row %zu, field %zu: NULL, not \"%s\"", i, f, want);
    cr_expect_str_eq(row->text[f], want, "row %zu, field %zu", i, f);
}

static void s_expect_number(const s_fields_t *row, size_t f, long long want, size_t i)
{
    char text[32];
    snprintf(text, sizeof text, "%lld", want);
    s_expect_text(row, f, text, i);
}

/*  school_code, indicator, period, value from field f on */
static void s_expect_key(const s_fields_t *fields, size_t f, const s_row_t *row, size_t i)
{
    s_expect_text(fields, f, row->stored_school ? row->stored_school : row->school, i);
    s_expect_text(fields, f + 1, row->indicator, i);
    s_expect_text(fields, f + 2, row->period, i);
    double value = strtod(fields->text[f + 3], NULL); // float8's input reads it the same way
    cr_expect_eq(value, row->value, "row %zu: value %s", i, fields->text[f + 3]);
}

/*  Prepares rows[0..n) as one batch (seq 1..n) and checks every row of the stage's and of the
 *  history's COPY data. */
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
            snprintf(verdicts[i].detail, sizeof verdicts[i].detail, "bad\ttab\\ and\r\nmore");
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
    s_fields_t fields;
    for (size_t i = 0; i < n; i++) {
        if (!rows[i].reason && !rows[i].latest)
            continue; // in the history only
        s_next_row(&in, &fields, i);
        cr_assert_eq(fields.count, 10, "row %zu: its field count", i);
        s_expect_number(&fields, 0, (long long) i + 1, i);
        s_expect_key(&fields, 1, &rows[i], i);
        s_expect_text(&fields, 5, "a.csv", i);
        s_expect_number(&fields, 6, (long long) i + 2, i);
        if (rows[i].reason) {
            s_expect_text(&fields, 7, refusal_name(rows[i].reason), i);
            s_expect_text(&fields, 8, "value", i);
            s_expect_text(&fields, 9, "bad\ttab\\ and\r\nmore", i);
        } else {
            for (size_t k = 7; k < 10; k++)
                cr_expect(fields.null[k], "row %zu: NULL reason, column, detail", i);
        }
    }
    cr_expect_eq(in.at, size, "nothing after the stage's rows");

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
        for (size_t i = hwm; i < n; i++) {
            if (rows[i].reason)
                continue;
            s_next_row(&in, &fields, i);
            cr_assert_eq(fields.count, 10, "row %zu: its field count", i);
            s_expect_text(&fields, 0, "2000-01-01 00:00:00.000042+00", i); // 42 us
            s_expect_text(&fields, 1, "2143004052", i);
            s_expect_text(&fields, 2, "0123", i);
            s_expect_key(&fields, 3, &rows[i], i);
            s_expect_number(&fields, 7, (long long) i + 1, i);
            s_expect_text(&fields, 8, "a.csv", i);
            s_expect_number(&fields, 9, (long long) i + 2, i);
        }
        cr_expect_eq(in.at, zchunk_size(history), "nothing after the history's rows");
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
    // PostgreSQL refuses text that is not UTF-8, in COPY too: one bad record must not
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
    size_t size = 1;
    store_prepared_stage(prepared, &size);
    cr_expect_eq(size, 0, "no stage rows");
    cr_expect_null(store_prepared_history(prepared, 0, 0, "s", "p"), "no history");
    store_prepared_destroy(&prepared);
}

/*  A batch of one accepted record of school 2143004052, from source_file. */
typedef struct {
    Edu__V1__Record record, *records[1];
    verdict_t verdict;
    Edu__V1__Batch batch;
} s_one_t;

static void s_one(s_one_t *one, const char *source_file)
{
    *one = (s_one_t){.record = EDU__V1__RECORD__INIT, .batch = EDU__V1__BATCH__INIT};
    one->record.seq = 1;
    one->record.school_code = (char *) "2143004052";
    one->record.indicator = (char *) "a";
    one->record.period = (char *) "2025-2026";
    one->record.source_file = (char *) source_file;
    one->record.source_row = 2;
    one->records[0] = &one->record;
    one->verdict.reason = REFUSE_NONE;
    one->batch.n_records = 1;
    one->batch.records = one->records;
}

/*  Prepares one's batch; its stage's one row into fields. The caller destroys the result. */
static store_prepared_t *s_one_stage(const s_one_t *one, s_fields_t *fields, size_t k)
{
    store_prepared_t *prepared = store_prepare(&one->batch, &one->verdict);
    size_t size;
    const char *data = store_prepared_stage(prepared, &size);
    s_reader_t in = {data, size, 0};
    s_next_row(&in, fields, k);
    cr_expect_eq(in.at, size, "%zu: one row in the stage", k);
    return prepared;
}

Test(store, numbers_reach_postgresql_exactly)
{
    // float8's input reads a value with strtod: every double comes back the same, bit for bit
    s_row_t rows[] = {
        {"2143004052", "a", "2025-2026", 0.1, REFUSE_NONE, true, NULL},
        {"2143004052", "b", "2025-2026", -0.0, REFUSE_NONE, true, NULL},
        {"2143004052", "c", "2025-2026", 1e300, REFUSE_NONE, true, NULL},
        {"2143004052", "d", "2025-2026", 5e-324, REFUSE_NONE, true, NULL},
        {"2143004052", "e", "2025-2026", 123456789012345678.0, REFUSE_NONE, true, NULL},
        {"2143004052", "f", "2025-2026", -999999999999999.0, REFUSE_NONE, true, NULL},
        {"2143004052", "g", "2025-2026", 2.0 / 3.0, REFUSE_NONE, true, NULL},
    };
    s_check(rows, sizeof rows / sizeof *rows);
    s_one_t one;
    s_one(&one, "a.csv");
    double special[] = {-0.0, NAN, INFINITY, -INFINITY};
    const char *want[] = {"-0", "NaN", "Infinity", "-Infinity"}; // float8's own spellings
    for (size_t k = 0; k < sizeof special / sizeof *special; k++) {
        one.record.value = special[k];
        s_fields_t fields;
        store_prepared_t *prepared = s_one_stage(&one, &fields, k);
        s_expect_text(&fields, 4, want[k], k);
        store_prepared_destroy(&prepared);
    }
}

Test(store, the_time_received_is_utc_to_the_microsecond)
{
    s_one_t one;
    s_one(&one, "tab\tand\\");
    store_prepared_t *prepared = store_prepare(&one.batch, &one.verdict);
    // 2026-12-04 20:43:00.123456 UTC, and 1999-12-31 23:59:59.999999 (before PostgreSQL's epoch)
    int64_t at[] = {(1796416980LL - 946684800LL) * 1000000 + 123456, -1};
    const char *want[] = {"2026-12-04 20:43:00.123456+00", "1999-12-31 23:59:59.999999+00"};
    for (size_t k = 0; k < 2; k++) {
        zchunk_t *history = store_prepared_history(prepared, 0, at[k], "2143004052", "0123");
        cr_assert_not_null(history);
        s_reader_t in = {(const char *) zchunk_data(history), zchunk_size(history), 0};
        s_fields_t fields;
        s_next_row(&in, &fields, k);
        s_expect_text(&fields, 0, want[k], k);
        s_expect_text(&fields, 8, "tab\tand\\", k);
        zchunk_destroy(&history);
    }
    store_prepared_destroy(&prepared);
}

Test(store, each_special_character_is_escaped_alone)
{
    // a file name may hold any byte but NUL: each of COPY's special characters, alone in it
    const char *names[] = {"a\tb.csv", "a\nb.csv", "a\rb.csv", "a\\b.csv", "a\\N"};
    s_one_t one;
    s_one(&one, "");
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        one.record.source_file = (char *) names[k];
        s_fields_t fields;
        store_prepared_t *prepared = s_one_stage(&one, &fields, k);
        cr_expect_eq(fields.count, 10, "%zu: still ten fields", k);
        s_expect_text(&fields, 5, names[k], k);
        zchunk_t *history = store_prepared_history(prepared, 0, 0, "2143004052", "0123");
        s_reader_t in = {(const char *) zchunk_data(history), zchunk_size(history), 0};
        s_next_row(&in, &fields, k);
        s_expect_text(&fields, 8, names[k], k);
        cr_expect_eq(in.at, zchunk_size(history), "%zu: one history row", k);
        zchunk_destroy(&history);
        store_prepared_destroy(&prepared);
    }
}
