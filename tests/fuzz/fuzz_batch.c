/*  fuzz_batch - what a collector's socket may carry: any bytes taken in as an edu.v1.Batch
 *  (intake: size, record count, a memory budget, shape) and, when they are, every record
 *  judged against the sample county's registry and catalog. Small limits (64 KiB, a budget of
 *  16 times that plus 1 MiB) so that the fuzzer reaches each bound.
 *
 *  With EDU_FUZZ_SEED=DIR set, writes a valid batch there first, as a seed.
 */
#include "intake.h"
#include "rules.h"
#include "schools.h"
#include "validate.h"

#include <edu/v1/eduwatch.pb-c.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static schools_t *s_schools;
static rules_t *s_rules;
static validate_window_t s_window;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc, (void) argv;
    char err[512];
    s_schools = schools_load(EDU_FIXTURES_DIR "/county-430405/schools.csv", err, sizeof err);
    s_rules = s_schools ? rules_load(EDU_SOURCE_DIR "/deploy/rules.ini", err, sizeof err) : NULL;
    if (!s_schools || !s_rules) {
        fprintf(stderr, "fuzz_batch: %s\n", err);
        abort();
    }
    s_window = validate_window(s_rules, time(NULL));
    const char *seed = getenv("EDU_FUZZ_SEED");
    if (seed) {
        Edu__V1__Record r1 = EDU__V1__RECORD__INIT, r2 = EDU__V1__RECORD__INIT;
        r1.seq = 1, r1.school_code = "2143004052", r1.indicator = "training_hours";
        r1.period = "2025-2026", r1.value = 81, r1.source_file = "a.csv", r1.source_row = 2;
        r2.seq = 2, r2.school_code = "2143999999", r2.indicator = "teacher_happiness";
        r2.period = "2025-2027", r2.value = 1e308, r2.source_file = "a.csv", r2.source_row = 3;
        Edu__V1__Record *records[] = {&r1, &r2};
        Edu__V1__Batch batch = EDU__V1__BATCH__INIT;
        batch.spool_id = "0123456789abcdef0123456789abcdef";
        batch.floor = 1, batch.n_records = 2, batch.records = records;
        size_t n = edu__v1__batch__get_packed_size(&batch);
        uint8_t *buf = malloc(n);
        edu__v1__batch__pack(&batch, buf);
        char path[1024];
        snprintf(path, sizeof path, "%s/seed-batch", seed);
        FILE *f = fopen(path, "wb");
        if (f) {
            fwrite(buf, 1, n, f);
            fclose(f);
        }
        free(buf);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    intake_limits_t limits = intake_limits(65536);
    char err[1024];
    intake_batch_t *intake = intake_decode(data, size, &limits, err, sizeof err);
    if (!intake) {
        if (!*err)
            abort(); // every refusal says why
        return 0;
    }
    if (intake_batch_bytes(intake) > limits.budget)
        abort(); // the budget holds
    const Edu__V1__Batch *batch = intake_batch(intake);
    if (batch->n_records > limits.max_records)
        abort();
    for (size_t i = 0; i < batch->n_records; i++) {
        const Edu__V1__Record *r = batch->records[i];
        if (r->seq == 0 || r->seq > INTAKE_MAX_SEQ || (i && r->seq <= batch->records[i - 1]->seq))
            abort(); // the shape holds
        verdict_t v;
        validate_record(s_schools, s_rules, &s_window, "2143004052", r->school_code,
                        r->indicator, r->period, r->value, &v);
        if (v.reason != REFUSE_NONE && !refusal_name(v.reason))
            abort(); // every refusal has a contract name
    }
    intake_batch_destroy(&intake);
    return 0;
}
