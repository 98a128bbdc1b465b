/*  fuzz_batch - what a collector's socket may carry: any bytes decoded as an edu.v1.Batch and,
 *  when they decode, every record judged against the sample county's registry and catalog
 *
 *  With EDU_FUZZ_SEED=DIR set, writes a valid batch there first, as a seed.
 */
#include "rules.h"
#include "schools.h"
#include "validate.h"

#include <edu/v1/eduwatch.pb-c.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static schools_t *s_schools;
static rules_t *s_rules;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc, (void) argv;
    char err[512];
    s_schools = schools_load(EDU_FIXTURES_DIR "/county-430405/schools.csv", err, sizeof err);
    s_rules = rules_load(EDU_SOURCE_DIR "/deploy/rules.ini", err, sizeof err);
    if (!s_schools || !s_rules) {
        fprintf(stderr, "fuzz_batch: %s\n", err);
        abort();
    }
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
    Edu__V1__Batch *batch = edu__v1__batch__unpack(NULL, size, data);
    if (!batch)
        return 0;
    for (size_t i = 0; i < batch->n_records; i++) {
        const Edu__V1__Record *r = batch->records[i];
        verdict_t v;
        validate_record(s_schools, s_rules, "2143004052", r->school_code, r->indicator, r->period,
                        r->value, &v);
        if (v.reason != REFUSE_NONE && !refusal_name(v.reason))
            abort(); // every refusal has a contract name
    }
    edu__v1__batch__free_unpacked(batch, NULL);
    return 0;
}
