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

int LLVMFuzzerInitialize(int *argc, char ***argv);
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
