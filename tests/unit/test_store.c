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
    bool latest;      // what the row's last column must say
} s_row_t;

/*  Prepares rows[0..n) as one batch (seq 1..n) and checks every line of the COPY text. */
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
    const char *text = store_prepared_text(prepared, &size);
    char *copy = xmalloc(size + 1);
    memcpy(copy, text, size);
    copy[size] = '\0';
    char *line = copy, *next;
    for (size_t i = 0; i < n; i++, line = next + 1) {
        next = strchr(line, '\n');
        cr_assert_not_null(next, "row %zu: no line in \"%s\"", i, copy);
        *next = '\0';
        char want[1024];
        if (rows[i].reason)
            snprintf(want, sizeof want, "%zu\t%s\t%s\t%s\t%.17g\ta.csv\t%zu\t%s\tvalue\tbad\\ttab\tf",
                     i + 1, rows[i].school, rows[i].indicator, rows[i].period, rows[i].value,
                     i + 2, refusal_name(rows[i].reason));
        else
            snprintf(want, sizeof want, "%zu\t%s\t%s\t%s\t%.17g\ta.csv\t%zu\t\\N\t\\N\t\\N\t%s",
                     i + 1, rows[i].school, rows[i].indicator, rows[i].period, rows[i].value,
                     i + 2, rows[i].latest ? "t" : "f");
        cr_expect_str_eq(line, want, "row %zu", i);
    }
    cr_expect_eq((size_t) (line - copy), size, "nothing after the last row");
    free(copy);
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
        {"2143004052", "training_hours", "2025-2026", 80, REFUSE_NONE, true},
        {"2143004052", "training_hours", "2024-2025", 70, REFUSE_NONE, true},
        {"2143004052", "myopia_pct", "2025-2026", 33.5, REFUSE_NONE, true},
        {"2143004053", "training_hours", "2025-2026", 90, REFUSE_NONE, true},
    };
    s_check(rows, sizeof rows / sizeof *rows);
}

Test(store, a_corrected_key_is_latest_only_at_its_last_record)
{
    s_row_t rows[] = {
        {"2143004052", "training_hours", "2025-2026", 80, REFUSE_NONE, false},
        {"2143004052", "myopia_pct", "2025-2026", 30, REFUSE_NONE, true},
        {"2143004052", "training_hours", "2025-2026", 81, REFUSE_NONE, false},
        {"2143004052", "training_hours", "2025-2026", 82, REFUSE_NONE, true},
    };
    s_check(rows, sizeof rows / sizeof *rows);
}

Test(store, a_refused_record_is_never_latest_and_does_not_hide_an_accepted_one)
{
    s_row_t rows[] = {
        {"2143004052", "training_hours", "2025-2026", 80, REFUSE_NONE, true},
        {"2143004052", "training_hours", "2025-2026", 1e9, REFUSE_OUT_OF_RANGE, false},
        {"9999999999", "training_hours", "2025-2026", 80, REFUSE_UNKNOWN_SCHOOL, false},
    };
    s_check(rows, sizeof rows / sizeof *rows);
}

Test(store, keys_that_share_a_prefix_are_different_keys)
{
    // the three parts are joined with a separator no code contains: "a"+"bc" is not "ab"+"c"
    s_row_t rows[] = {
        {"2143004052", "pe_art_teachers_per100", "2025-2026", 1, REFUSE_NONE, true},
        {"2143004052", "pe_art_teachers_per10", "02025-2026", 2, REFUSE_NONE, true},
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
        {school, indicator, early, 1, REFUSE_NONE, true},
        {school, indicator, late, 2, REFUSE_NONE, false},
        {school, indicator, late, 3, REFUSE_NONE, true},
    };
    s_check(rows, sizeof rows / sizeof *rows);
}

Test(store, an_empty_batch_has_no_rows)
{
    Edu__V1__Batch batch = EDU__V1__BATCH__INIT;
    store_prepared_t *prepared = store_prepare(&batch, NULL);
    size_t size = 1;
    store_prepared_text(prepared, &size);
    cr_expect_eq(size, 0);
    store_prepared_destroy(&prepared);
}
