/*  test_receipts - which taken file holds which records, and delivered/ when the county has
 *  them all
 */
#include "receipts.h"
#include "util.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *s_tmpdir(void)
{
    char *dir = xstrdup("/tmp/test_receipts.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    return dir;
}

static void s_touch(const char *dir, const char *sub, const char *name)
{
    char *path = xasprintf("%s/%s/%s", dir, sub, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs("school_code,indicator,period,value\n", f);
    fclose(f);
    free(path);
}

static bool s_exists(const char *dir, const char *sub, const char *name)
{
    char *path = xasprintf("%s/%s/%s", dir, sub, name);
    struct stat st;
    bool there = stat(path, &st) == 0;
    free(path);
    return there;
}

Test(receipts, delivered_when_acknowledged_and_kept_across_reopen)
{
    char *dir = s_tmpdir();
    char err[256];
    receipts_t *r = receipts_open(dir, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    char *done = xasprintf("%s/done", dir);
    mkdir(done, 0750);
    s_touch(dir, "done", "a.csv");
    s_touch(dir, "done", "b.csv");
    s_touch(dir, "done", "empty.csv");
    receipt_t a = {
        .name = "a.csv", .taken_ms = 1000, .first_seq = 1, .last_seq = 10, .records = 10};
    receipt_t b = {
        .name = "b.csv", .taken_ms = 2000, .first_seq = 11, .last_seq = 15, .records = 5};
    receipt_t e = {.name = "empty.csv", .taken_ms = 3000, .rows_refused = 3};
    cr_assert_eq(receipts_add(r, &a, err, sizeof err), 0);
    cr_assert_eq(receipts_add(r, &b, err, sizeof err), 0);
    cr_assert_eq(receipts_add(r, &e, err, sizeof err), 0);
    cr_expect_eq(receipts_waiting_since(r, 0), 1000);
    receipts_add_refused(r, "b.csv", 2);
    cr_expect_eq(receipts_deliver(r, 9, 5000), 0, "a.csv is not complete at 9");
    cr_expect_not(s_exists(dir, "delivered", "a.csv"));
    cr_expect_eq(receipts_deliver(r, 12, 6000), 1);
    cr_expect(s_exists(dir, "delivered", "a.csv"), "linked into delivered/");
    cr_expect(s_exists(dir, "done", "a.csv"), "and still in done/");
    cr_expect_eq(receipts_find(r, "a.csv")->delivered_ms, 6000);
    cr_expect_eq(receipts_waiting_since(r, 12), 2000);
    receipts_destroy(&r);
    cr_assert_null(r);

    r = receipts_open(dir, err, sizeof err);
    cr_assert_not_null(r);
    cr_assert_eq(receipts_count(r), 3);
    cr_expect_str_eq(receipts_get(r, 0)->name, "a.csv");
    cr_expect_eq(receipts_get(r, 0)->delivered_ms, 6000);
    cr_expect_eq(receipts_deliver(r, 15, 7000), 1, "b.csv; empty.csv has nothing to deliver");
    cr_expect(s_exists(dir, "delivered", "b.csv"));
    cr_expect_not(s_exists(dir, "delivered", "empty.csv"));
    cr_expect_eq(receipts_waiting_since(r, 15), 0);
    receipts_forget(r, "empty.csv");
    cr_expect_null(receipts_find(r, "empty.csv"));
    receipts_destroy(&r);
    r = receipts_open(dir, err, sizeof err);
    cr_expect_eq(receipts_count(r), 2);
    cr_expect_eq(receipts_find(r, "b.csv")->county_refused, 2, "counted and kept by the rewrite");
    receipts_destroy(&r);
    receipts_destroy(NULL);
    char *cmd = xasprintf("rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
    free(cmd);
    free(done);
    free(dir);
}

//  A line cut by a crash is skipped; the others are kept. Delivered files beyond RECEIPTS_KEEP
//  are forgotten, the earliest taken first; files not delivered never are.
Test(receipts, torn_line_and_bound)
{
    char *dir = s_tmpdir();
    char *path = xasprintf("%s/.receipts", dir);
    FILE *f = fopen(path, "w");
    fputs("1 1 1 1 0 0 0 first.csv\n", f);
    for (int i = 0; i < RECEIPTS_KEEP + 10; i++)
        fprintf(f, "%d %d %d 1 0 0 5 d%03d.csv\n", 10 + i, 2 + i, 2 + i, i);
    fputs("99 9", f); // torn
    fclose(f);
    char err[256];
    receipts_t *r = receipts_open(dir, err, sizeof err);
    cr_assert_not_null(r);
    cr_expect_eq(receipts_count(r), 1 + RECEIPTS_KEEP + 10);
    receipt_t late = {
        .name = "late.csv", .taken_ms = 500, .first_seq = 300, .last_seq = 300, .records = 1};
    cr_assert_eq(receipts_add(r, &late, err, sizeof err), 0);
    receipts_deliver(r, 1, 100); // first.csv: rewrites, keeping RECEIPTS_KEEP delivered
    cr_expect_eq(receipts_count(r), RECEIPTS_KEEP + 1);
    cr_expect_null(receipts_find(r, "first.csv"));
    cr_expect_null(receipts_find(r, "d009.csv"));
    cr_expect_not_null(receipts_find(r, "d010.csv"));
    cr_expect_not_null(receipts_find(r, "late.csv"), "not delivered: kept");
    receipts_destroy(&r);
    char *cmd = xasprintf("rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
    free(cmd);
    free(path);
    free(dir);
}
