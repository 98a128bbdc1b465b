/*  test_intake - what one message may cost the county: size, records, decoding budget, shape */
#include "intake.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

/*  A packed batch of n records (seq from first) with spool id spool; *size its length. */
static uint8_t *s_pack(const char *spool, size_t n, uint64_t first, size_t *size)
{
    Edu__V1__Record *rs = calloc(n ? n : 1, sizeof *rs);
    Edu__V1__Record **ptrs = calloc(n ? n : 1, sizeof *ptrs);
    for (size_t i = 0; i < n; i++) {
        edu__v1__record__init(&rs[i]);
        rs[i].seq = first + i;
        rs[i].school_code = "2143004052";
        rs[i].indicator = "training_hours";
        rs[i].period = "2025-2026";
        rs[i].value = 80;
        ptrs[i] = &rs[i];
    }
    Edu__V1__Batch b = EDU__V1__BATCH__INIT;
    b.spool_id = (char *) spool;
    b.n_records = n;
    b.records = ptrs;
    *size = edu__v1__batch__get_packed_size(&b);
    uint8_t *buf = malloc(*size);
    edu__v1__batch__pack(&b, buf);
    free(rs), free(ptrs);
    return buf;
}

static const char *s_spool = "0123456789abcdef0123456789abcdef";

Test(intake, a_good_batch)
{
    size_t size;
    uint8_t *buf = s_pack(s_spool, 3, 1, &size);
    intake_limits_t limits = intake_limits(65536);
    char err[512] = "";
    intake_batch_t *b = intake_decode(buf, size, &limits, err, sizeof err);
    cr_assert_not_null(b, "%s", err);
    cr_expect_eq(intake_batch(b)->n_records, 3);
    cr_expect_gt(intake_batch_bytes(b), 0);
    cr_expect_leq(intake_batch_bytes(b), limits.budget);
    intake_batch_destroy(&b);
    cr_expect_null(b);
    intake_batch_destroy(&b); // safe twice
    free(buf);
}

Test(intake, size_at_the_bound)
{
    size_t size;
    uint8_t *buf = s_pack(s_spool, 10, 1, &size);
    intake_limits_t limits = intake_limits(size);
    char err[512] = "";
    intake_batch_t *b = intake_decode(buf, size, &limits, err, sizeof err);
    cr_expect_not_null(b, "exactly max_bytes is accepted: %s", err);
    intake_batch_destroy(&b);
    limits.max_bytes = size - 1;
    cr_expect_null(intake_decode(buf, size, &limits, err, sizeof err));
    cr_expect_not_null(strstr(err, "exceeds max_batch_bytes"), "%s", err);
    free(buf);
}

Test(intake, records_counted_before_decoding)
{
    size_t size;
    uint8_t *buf = s_pack(s_spool, 11, 1, &size);
    intake_limits_t limits = intake_limits(1 << 20);
    limits.max_records = 10;
    char err[512] = "";
    cr_expect_null(intake_decode(buf, size, &limits, err, sizeof err));
    cr_expect_not_null(strstr(err, "batch of 11 records exceeds 10"), "%s", err);
    limits.max_records = 11;
    intake_batch_t *b = intake_decode(buf, size, &limits, err, sizeof err);
    cr_expect_not_null(b, "11 of 11 is accepted: %s", err);
    intake_batch_destroy(&b);
    free(buf);
}

Test(intake, decoding_within_the_budget)
{
    // 20 000 empty records: 40 kB on the wire, far more once decoded
    size_t n = 20000, used = 0;
    uint8_t *buf = malloc(2 * n + 64);
    buf[used++] = 0x0a;
    buf[used++] = 32;
    memcpy(buf + used, s_spool, 32);
    used += 32;
    for (size_t i = 0; i < n; i++)
        buf[used++] = 0x1a, buf[used++] = 0;
    intake_limits_t limits = intake_limits(65536);
    limits.budget = 1 << 20;
    char err[512] = "";
    cr_expect_null(intake_decode(buf, used, &limits, err, sizeof err));
    cr_expect_not_null(strstr(err, "within 1048576 bytes of memory"), "%s", err);
    limits.budget = 64 << 20; // with room, they decode (and are then refused for seq 0)
    cr_expect_null(intake_decode(buf, used, &limits, err, sizeof err));
    cr_expect_not_null(strstr(err, "has seq 0"), "%s", err);
    free(buf);
}

Test(intake, sequence_numbers)
{
    size_t size;
    char err[512] = "";
    intake_limits_t limits = intake_limits(65536);
    uint8_t *buf = s_pack(s_spool, 2, INTAKE_MAX_SEQ - 1, &size);
    intake_batch_t *b = intake_decode(buf, size, &limits, err, sizeof err);
    cr_expect_not_null(b, "up to 2^63 - 1: %s", err);
    intake_batch_destroy(&b);
    free(buf);
    buf = s_pack(s_spool, 2, INTAKE_MAX_SEQ, &size);
    cr_expect_null(intake_decode(buf, size, &limits, err, sizeof err));
    cr_expect_not_null(strstr(err, "above the largest"), "%s", err);
    free(buf);
}

Test(intake, spool_id_escaped_in_the_refusal)
{
    size_t size;
    char err[512] = "";
    intake_limits_t limits = intake_limits(65536);
    uint8_t *buf = s_pack("abcdef01\nforged line\x1b[31m", 1, 1, &size);
    cr_expect_null(intake_decode(buf, size, &limits, err, sizeof err));
    cr_expect_null(strchr(err, '\n'), "%s", err);
    cr_expect_null(strchr(err, '\x1b'), "%s", err);
    cr_expect_not_null(strstr(err, "abcdef01\\nforged line\\x1b[31m"), "%s", err);
    free(buf);
}

Test(intake, garbage)
{
    const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x1a, 0x80};
    intake_limits_t limits = intake_limits(65536);
    char err[512] = "";
    cr_expect_null(intake_decode(junk, sizeof junk, &limits, err, sizeof err));
    cr_expect_not_null(strstr(err, "cannot decode"), "%s", err);
}
