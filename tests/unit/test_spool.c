/*  test_spool - unit tests of the collector's durable spool
 *
 *  Each test works in its own mkdtemp() directory, removed afterwards. Damage is done to the
 *  files directly (truncation, garbage, flipped bytes, a killed writer, a file size limit) and
 *  the spool is reopened to see what recovery made of it. Tests that need several segments
 *  write until the directory holds enough of them, so they pass with any segment size; build
 *  with -DSPOOL_SEGMENT_BYTES=4096 to keep them fast.
 */
#define _GNU_SOURCE // nftw()

#include "log.h"
#include "spool.h"

#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RECORD_SIZE 80
#define MAX_SEGS 512

static char s_root[64];    // this test's temporary directory
static char s_dir[128];    // the spool directory inside it (not made in advance)
static char s_err[512];    // error buffer handed to the spool

//  --------------------------------------------------------------------------------------------
//  Fixture and file helpers

static int s_remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;
    return remove(path);
}

static void s_setup(void)
{
    snprintf(s_root, sizeof s_root, "/tmp/test-spool-XXXXXX");
    cr_assert_not_null(mkdtemp(s_root), "mkdtemp: %s", strerror(errno));
    snprintf(s_dir, sizeof s_dir, "%s/spool", s_root);
    s_err[0] = '\0';
}

static void s_teardown(void)
{
    if (s_root[0]) {
        nftw(s_root, s_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
}

TestSuite(spool, .init = s_setup, .fini = s_teardown, .timeout = 120);

static char *s_path(const char *name)
{
    static char path[3][256];
    static int next;
    char *p = path[next++ % 3];
    snprintf(p, sizeof path[0], "%s/%s", s_dir, name);
    return p;
}

static char *s_seg_path(uint64_t seq)
{
    char name[64];
    snprintf(name, sizeof name, "seg-%020" PRIu64 ".log", seq);
    return s_path(name);
}

static bool s_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static uint64_t s_file_size(const char *path)
{
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "stat %s: %s", path, strerror(errno));
    return (uint64_t) st.st_size;
}

static void s_truncate_file(const char *path, uint64_t size)
{
    cr_assert_eq(truncate(path, (off_t) size), 0, "truncate %s: %s", path, strerror(errno));
}

static void s_append_file(const char *path, const void *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_APPEND);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, data, size), (ssize_t) size);
    close(fd);
}

static void s_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static void s_flip_byte(const char *path, uint64_t off)
{
    int fd = open(path, O_RDWR);
    cr_assert_geq(fd, 0);
    uint8_t byte;
    cr_assert_eq(pread(fd, &byte, 1, (off_t) off), 1);
    byte ^= 0x5a;
    cr_assert_eq(pwrite(fd, &byte, 1, (off_t) off), 1);
    close(fd);
}

static void s_copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    FILE *out = fopen(to, "wb");
    cr_assert(in && out);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) {
        cr_assert_eq(fwrite(buf, 1, n, out), n);
    }
    fclose(in);
    fclose(out);
}

static int s_compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

//  Seqs in the names of the segment files in dir, sorted; returns how many.
static size_t s_list_segs(const char *dir, uint64_t *names)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "opendir %s: %s", dir, strerror(errno));
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        uint64_t seq;
        if (strlen(e->d_name) == 28 && sscanf(e->d_name, "seg-%20" SCNu64 ".log", &seq) == 1) {
            cr_assert_lt(n, MAX_SEGS);
            names[n++] = seq;
        }
    }
    closedir(d);
    qsort(names, n, sizeof *names, s_compare_u64);
    return n;
}

//  Files in dir other than . and .. (0 when dir does not exist).
static size_t s_count_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        return 0;
    }
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    }
    closedir(d);
    return n;
}

//  What this process wrote to stderr since the last call (stderr must be redirected).
static char *s_stderr_text(void)
{
    fflush(stderr);
    FILE *f = cr_get_redirected_stderr();
    clearerr(f);
    static char text[65536];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    return text;
}

//  --------------------------------------------------------------------------------------------
//  Spool helpers

static spool_t *s_open(uint64_t cap)
{
    spool_t *sp = spool_open(s_dir, cap, s_err, sizeof s_err);
    cr_assert_not_null(sp, "spool_open: %s", s_err);
    return sp;
}

//  The record content for seq: 80 bytes that name it.
static const char *s_record(uint64_t seq)
{
    static char buf[RECORD_SIZE + 1];
    int n = snprintf(buf, sizeof buf, "record %" PRIu64 " ", seq);
    memset(buf + n, 'x', RECORD_SIZE - (size_t) n);
    buf[RECORD_SIZE] = '\0';
    return buf;
}

static uint64_t s_append(spool_t *sp, uint64_t expected)
{
    uint64_t seq = 0;
    cr_assert_eq(spool_append(sp, s_record(expected), RECORD_SIZE, &seq, s_err, sizeof s_err), 0,
                 "spool_append: %s", s_err);
    cr_assert_eq(seq, expected, "append got seq %" PRIu64 ", expected %" PRIu64, seq, expected);
    return seq;
}

static void s_commit(spool_t *sp, const char *tag)
{
    cr_assert_eq(spool_commit(sp, tag, s_err, sizeof s_err), 0, "spool_commit: %s", s_err);
}

//  Appends count records from seq *next on, committing every per_commit of them.
static void s_fill(spool_t *sp, uint64_t *next, size_t count, size_t per_commit)
{
    for (size_t i = 0; i < count; i++) {
        s_append(sp, (*next)++);
        if ((i + 1) % per_commit == 0 || i + 1 == count) {
            s_commit(sp, "fill.csv");
        }
    }
}

//  Commits batches of 5 records until the spool directory holds at least nsegs segments.
static void s_fill_segments(spool_t *sp, uint64_t *next, size_t nsegs)
{
    uint64_t names[MAX_SEGS];
    while (s_list_segs(s_dir, names) < nsegs) {
        s_fill(sp, next, 5, 5);
    }
}

typedef struct {
    size_t count;      // records seen
    size_t cap;        // entries allocated in seqs
    size_t stop_at;    // return non-zero on this call (1-based), 0: never
    uint64_t *seqs;    // their seqs
    bool content_ok;   // every record so far had s_record(seq) as content
} s_got_t;

static s_got_t *s_got_new(void)
{
    s_got_t *got = calloc(1, sizeof *got);
    got->content_ok = true;
    return got;
}

static void s_got_free(s_got_t *got)
{
    free(got->seqs);
    free(got);
}

static int s_collect(void *arg, uint64_t seq, const void *data, size_t size)
{
    s_got_t *got = arg;
    if (got->count == got->cap) {
        got->cap = got->cap ? 2 * got->cap : 64;
        got->seqs = realloc(got->seqs, got->cap * sizeof *got->seqs);
        cr_assert_not_null(got->seqs);
    }
    got->seqs[got->count++] = seq;
    if (size != RECORD_SIZE || memcmp(data, s_record(seq), RECORD_SIZE) != 0) {
        got->content_ok = false;
    }
    return got->stop_at && got->count == got->stop_at;
}

static s_got_t *s_read(spool_t *sp, uint64_t from, size_t max, int expected)
{
    s_got_t *got = s_got_new();
    int n = spool_read(sp, from, max, s_collect, got, s_err, sizeof s_err);
    cr_assert_eq(n, expected, "spool_read(%" PRIu64 ", %zu) visited %d, expected %d (%s)", from,
                 max, n, expected, n < 0 ? s_err : "");
    cr_assert(got->content_ok);
    return got;
}

//  --------------------------------------------------------------------------------------------
//  Success paths

typedef struct {
    const char **data; // expected content of seq i + 1
    const size_t *sizes;
    size_t count;      // records seen
    bool ok;           // each matched so far
} s_table_t;

static int s_compare_table(void *arg, uint64_t seq, const void *data, size_t size)
{
    s_table_t *table = arg;
    size_t i = table->count++;
    if (seq != i + 1 || size != table->sizes[i] || (size && memcmp(data, table->data[i], size))) {
        table->ok = false;
    }
    return 0;
}

Test(spool, append_commit_read)
{
    spool_t *sp = s_open(0);
    const char *id = spool_id(sp);
    cr_assert_eq(strlen(id), 32);
    cr_assert_eq(strspn(id, "0123456789abcdef"), 32);
    cr_assert_null(spool_last_tag(sp));
    cr_assert_eq(spool_last_seq(sp), 0);
    cr_assert_eq(spool_floor(sp), 1);
    cr_assert_eq(spool_pending(sp), 0);
    cr_assert_eq(spool_bytes(sp), 0);

    const char *data[] = {"alpha", "beta", "", "delta with a \0 in it"};
    const size_t sizes[] = {5, 4, 0, 20};
    for (uint64_t i = 0; i < 4; i++) {
        uint64_t seq = 0;
        cr_assert_eq(spool_append(sp, data[i], sizes[i], &seq, s_err, sizeof s_err), 0, "%s",
                     s_err);
        cr_assert_eq(seq, i + 1);
    }
    s_commit(sp, "a.csv");
    cr_assert_str_eq(spool_last_tag(sp), "a.csv");
    cr_assert_eq(spool_last_seq(sp), 4);
    cr_assert_eq(spool_floor(sp), 1);
    cr_assert_eq(spool_pending(sp), 4);
    cr_assert_gt(spool_bytes(sp), 0);

    s_table_t table = {data, sizes, 0, true};
    cr_assert_eq(spool_read(sp, 1, 100, s_compare_table, &table, s_err, sizeof s_err), 4);
    cr_assert(table.ok);
    cr_assert_eq(table.count, 4);
    spool_destroy(&sp);
    cr_assert_null(sp);
    spool_destroy(&sp); // safe twice

    //  The identity is on disk, and the records after a reopen.
    char text[64] = {0};
    FILE *f = fopen(s_path("id"), "r");
    cr_assert_not_null(f);
    cr_assert_not_null(fgets(text, sizeof text, f));
    fclose(f);
    sp = s_open(0);
    cr_assert_eq(strncmp(text, spool_id(sp), 32), 0);
    cr_assert_str_eq(text + 32, "\n");
    table = (s_table_t){data, sizes, 0, true};
    cr_assert_eq(spool_read(sp, 1, 100, s_compare_table, &table, s_err, sizeof s_err), 4);
    cr_assert(table.ok);
    spool_destroy(&sp);
}

Test(spool, uncommitted_appends_invisible_and_gone_after_reopen)
{
    spool_t *sp = s_open(0);
    uint64_t next = 1;
    s_fill(sp, &next, 2, 2);
    uint64_t committed = spool_bytes(sp);
    s_append(sp, 3);
    s_append(sp, 4);
    s_append(sp, 5);
    cr_assert_gt(spool_bytes(sp), committed);
    cr_assert_eq(spool_last_seq(sp), 2);
    cr_assert_eq(spool_pending(sp), 2);
    s_got_free(s_read(sp, 1, 100, 2));
    s_got_free(s_read(sp, 3, 100, 0));
    spool_destroy(&sp);

    sp = s_open(0);
    cr_assert_eq(spool_last_seq(sp), 2);
    cr_assert_eq(spool_bytes(sp), committed);
    s_got_free(s_read(sp, 1, 100, 2));
    s_append(sp, 3);
    spool_destroy(&sp);
}

Test(spool, killed_writer_leaves_committed_records)
{
    //  A child appends past the write buffer (so uncommitted frames reach the file) and is
    //  killed; reopening cuts them off and logs it.
    cr_redirect_stderr();
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        spool_t *sp = spool_open(s_dir, 0, s_err, sizeof s_err);
        if (!sp) {
            _exit(2);
        }
        uint64_t seq;
        for (int i = 0; i < 10; i++) {
            spool_append(sp, s_record((uint64_t) i + 1), RECORD_SIZE, &seq, NULL, 0);
        }
        spool_commit(sp, "ten.csv", NULL, 0);
        for (int i = 0; i < 2000; i++) {
            spool_append(sp, s_record((uint64_t) i + 11), RECORD_SIZE, &seq, NULL, 0);
        }
        raise(SIGKILL);
        _exit(3);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    uint64_t names[MAX_SEGS];
    cr_assert_eq(s_list_segs(s_dir, names), 1);
    uint64_t size = s_file_size(s_seg_path(names[0]));
    cr_assert_gt(size, 2000);

    spool_t *sp = s_open(0);
    cr_assert_eq(spool_last_seq(sp), 10);
    cr_assert_str_eq(spool_last_tag(sp), "ten.csv");
    cr_assert_lt(s_file_size(s_seg_path(names[0])), size);
    s_got_free(s_read(sp, 1, 100, 10));
    s_append(sp, 11);
    cr_assert_not_null(strstr(s_stderr_text(), "uncommitted records"));
    cr_assert_eq(s_count_files(s_path("quarantine")), 0);
    spool_destroy(&sp);
}

Test(spool, abort_discards_and_reuses_seqs)
{
    spool_t *sp = s_open(0);
    spool_abort(sp); // nothing pending: harmless
    uint64_t next = 1;
    s_fill(sp, &next, 2, 2);
    uint64_t committed = spool_bytes(sp);
    s_append(sp, 3);
    s_append(sp, 4);
    s_append(sp, 5);
    spool_abort(sp);
    cr_assert_eq(spool_bytes(sp), committed);
    cr_assert_eq(spool_last_seq(sp), 2);
    s_append(sp, 3);
    s_commit(sp, "b.csv");
    s_got_t *got = s_read(sp, 1, 100, 3);
    cr_assert_eq(got->seqs[2], 3);
    s_got_free(got);
    spool_destroy(&sp);

    sp = s_open(0);
    cr_assert_eq(spool_last_seq(sp), 3);
    s_got_free(s_read(sp, 1, 100, 3));
    spool_destroy(&sp);
}

Test(spool, reopen_keeps_id_seqs_acked_and_tag)
{
    spool_t *sp = s_open(0);
    char id[33];
    snprintf(id, sizeof id, "%s", spool_id(sp));
    uint64_t next = 1;
    s_fill(sp, &next, 5, 5);
    s_commit(sp, "empty.csv"); // a commit with no records still records its tag
    cr_assert_eq(spool_ack(sp, 2, s_err, sizeof s_err), 0, "%s", s_err);
    spool_destroy(&sp);

    sp = s_open(0);
    cr_assert_str_eq(spool_id(sp), id);
    cr_assert_eq(spool_acked(sp), 2);
    cr_assert_eq(spool_last_seq(sp), 5);
    cr_assert_eq(spool_floor(sp), 3);
    cr_assert_eq(spool_pending(sp), 3);
    cr_assert_str_eq(spool_last_tag(sp), "empty.csv");
    s_append(sp, 6);
    spool_destroy(&sp);
}

typedef struct {
    const char *big; // expected content
    size_t size;     // its size
    int matched;     // records that matched it
} s_match_t;

static int s_check_big(void *arg, uint64_t seq, const void *data, size_t size)
{
    s_match_t *match = arg;
    match->matched += seq == 2 && size == match->size && memcmp(data, match->big, size) == 0;
    return 0;
}

Test(spool, large_record_bypasses_the_write_buffer)
{
    spool_t *sp = s_open(0);
    size_t size = 200 * 1024;
    char *big = malloc(size);
    for (size_t i = 0; i < size; i++) {
        big[i] = (char) (i * 7);
    }
    uint64_t seq;
    cr_assert_eq(spool_append(sp, s_record(1), RECORD_SIZE, &seq, s_err, sizeof s_err), 0);
    cr_assert_eq(spool_append(sp, big, size, &seq, s_err, sizeof s_err), 0, "%s", s_err);
    cr_assert_eq(seq, 2);
    s_commit(sp, "big.csv");
    spool_destroy(&sp);

    sp = s_open(0);
    cr_assert_eq(spool_last_seq(sp), 2);
    s_match_t match = {big, size, 0};
    cr_assert_eq(spool_read(sp, 2, 1, s_check_big, &match, s_err, sizeof s_err), 1);
    cr_assert_eq(match.matched, 1);
    free(big);
    spool_destroy(&sp);
}

//  --------------------------------------------------------------------------------------------
//  Recovery of the live segment

Test(spool, torn_tail_is_truncated_to_the_last_commit)
{
    //  Records 1-2 committed as "a", 3-4 as "b"; then cut bytes off the end: into b's marker,
    //  through it, into record 4. Each time b is gone and a intact.
    uint64_t cuts[] = {1, 4, 9, 10, 12, 60};
    for (size_t c = 0; c < sizeof cuts / sizeof *cuts; c++) {
        snprintf(s_dir, sizeof s_dir, "%s/spool-%zu", s_root, c);
        spool_t *sp = s_open(0);
        s_append(sp, 1);
        s_append(sp, 2);
        s_commit(sp, "a");
        uint64_t after_a = spool_bytes(sp);
        s_append(sp, 3);
        s_append(sp, 4);
        s_commit(sp, "b");
        spool_destroy(&sp);
        const char *seg = s_seg_path(1);
        s_truncate_file(seg, s_file_size(seg) - cuts[c]);

        sp = s_open(0);
        cr_assert_eq(spool_last_seq(sp), 2, "cut %" PRIu64, cuts[c]);
        cr_assert_str_eq(spool_last_tag(sp), "a");
        cr_assert_eq(s_file_size(seg), after_a, "cut %" PRIu64, cuts[c]);
        cr_assert_eq(spool_quarantined(sp), 0);
        cr_assert_eq(s_count_files(s_path("quarantine")), 0);
        s_got_free(s_read(sp, 1, 100, 2));
        s_append(sp, 3); // b was never committed: its seqs may be given again
        spool_destroy(&sp);
    }
}

Test(spool, garbage_tail_is_truncated)
{
    uint8_t fake_header[9] = {0x10, 0, 0, 0, 1, 2, 3, 4, 1}; // plausible length, bad CRC
    uint8_t zeros[64] = {0};
    struct {
        const void *data;
        size_t size;
    } cases[] = {
        {"garbage!", 8},
        {"a longer run of garbage that is not a frame at all, repeated, repeated", 71},
        {zeros, sizeof zeros},
        {fake_header, sizeof fake_header},
        {"\xff\xff\xff\x7f", 4},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        snprintf(s_dir, sizeof s_dir, "%s/spool-%zu", s_root, c);
        spool_t *sp = s_open(0);
        uint64_t next = 1;
        s_fill(sp, &next, 3, 3);
        uint64_t committed = spool_bytes(sp);
        spool_destroy(&sp);
        s_append_file(s_seg_path(1), cases[c].data, cases[c].size);

        sp = s_open(0);
        cr_assert_eq(spool_last_seq(sp), 3, "case %zu", c);
        cr_assert_eq(s_file_size(s_seg_path(1)), committed, "case %zu", c);
        cr_assert_eq(s_count_files(s_path("quarantine")), 0, "case %zu", c);
        s_got_free(s_read(sp, 1, 100, 3));
        spool_destroy(&sp);
    }
}

Test(spool, damage_in_live_segment_before_valid_commits_is_quarantined)
{
    //  1-2 committed as a, 3-4 as b, 5 as c; flip a byte inside record 3. Records 3-5 were
    //  committed (maybe sent): they go to quarantine as a copy, and their seqs are not reused,
    //  not even after another reopen.
    cr_redirect_stderr();
    spool_t *sp = s_open(0);
    s_append(sp, 1);
    s_append(sp, 2);
    s_commit(sp, "a");
    uint64_t after_a = spool_bytes(sp);
    s_append(sp, 3);
    s_append(sp, 4);
    s_commit(sp, "b");
    s_append(sp, 5);
    s_commit(sp, "c");
    spool_destroy(&sp);
    const char *seg = s_seg_path(1);
    uint64_t size = s_file_size(seg);
    s_flip_byte(seg, after_a + 9 + 8 + 20);

    sp = s_open(0);
    cr_assert_eq(spool_last_seq(sp), 2);
    cr_assert_str_eq(spool_last_tag(sp), "a");
    cr_assert_eq(s_file_size(seg), after_a);
    cr_assert_eq(spool_quarantined(sp), 3);
    cr_assert_eq(s_count_files(s_path("quarantine")), 1);
    cr_assert_eq(s_file_size(s_path("quarantine/seg-00000000000000000001.log")), size);
    cr_assert_not_null(strstr(s_stderr_text(), "copied to"));
    s_got_free(s_read(sp, 1, 100, 2));
    spool_destroy(&sp);

    sp = s_open(0);
    cr_assert_eq(spool_quarantined(sp), 0);
    cr_assert_eq(spool_last_seq(sp), 2);
    cr_assert_eq(spool_floor(sp), 1);
    s_append(sp, 6);
    s_commit(sp, "d");
    s_got_t *got = s_read(sp, 1, 100, 3);
    cr_assert_eq(got->seqs[2], 6);
    s_got_free(got);
    spool_destroy(&sp);

    sp = s_open(0);
    cr_assert_eq(spool_last_seq(sp), 6);
    s_append(sp, 7);
    spool_destroy(&sp);
}

Test(spool, damage_at_the_start_of_the_live_segment)
{
    //  Nothing valid before the damage: the live segment is emptied, and the spool goes on
    //  after the seqs the later commit had.
    spool_t *sp = s_open(0);
    uint64_t next = 1;
    s_fill(sp, &next, 3, 3);
    spool_destroy(&sp);
    s_flip_byte(s_seg_path(1), 30);

    sp = s_open(0);
    cr_assert_eq(spool_last_seq(sp), 0);
    cr_assert_eq(spool_quarantined(sp), 3);
    cr_assert_eq(spool_floor(sp), 1);
    s_got_free(s_read(sp, 1, 100, 0));
    s_append(sp, 4);
    spool_destroy(&sp);
    sp = s_open(0);
    s_append(sp, 4);
    spool_destroy(&sp);
}

//  --------------------------------------------------------------------------------------------
//  Recovery of older segments

Test(spool, damaged_middle_segment_is_quarantined)
{
    cr_redirect_stderr();
    spool_t *sp = s_open(0);
    uint64_t next = 1;
    s_fill_segments(sp, &next, 6);
    uint64_t total = next - 1;
    spool_destroy(&sp);
    uint64_t names[MAX_SEGS];
    size_t n = s_list_segs(s_dir, names);
    cr_assert_geq(n, 6);
    uint64_t gap_first = names[2], gap_end = names[3];
    s_flip_byte(s_seg_path(gap_first), s_file_size(s_seg_path(gap_first)) / 2);

    sp = s_open(0);
    cr_assert_not_null(strstr(s_stderr_text(), "is damaged: moved to"));
    char qname[128];
    snprintf(qname, sizeof qname, "quarantine/seg-%020" PRIu64 ".log", gap_first);
    cr_assert(s_exists(s_path(qname)));
    cr_assert_eq(s_count_files(s_path("quarantine")), 1);
    cr_assert_not(s_exists(s_seg_path(gap_first)));
    cr_assert_eq(s_list_segs(s_dir, names), n - 1);
    cr_assert_gt(spool_quarantined(sp), 0);
    cr_assert_leq(spool_quarantined(sp), gap_end - gap_first);
    cr_assert_eq(spool_last_seq(sp), total);
    cr_assert_eq(spool_floor(sp), 1);
    cr_assert_eq(spool_pending(sp), total - (gap_end - gap_first));

    //  Every record but the quarantined ones, in order.
    s_got_t *got = s_read(sp, 1, SIZE_MAX, (int) (total - (gap_end - gap_first)));
    uint64_t expect = 1;
    for (size_t i = 0; i < got->count; i++, expect++) {
        if (expect == gap_first) {
            expect = gap_end;
        }
        cr_assert_eq(got->seqs[i], expect);
    }
    s_got_free(got);

    //  The floor skips the gap once what comes before it is acknowledged.
    cr_assert_eq(spool_ack(sp, gap_first - 1, s_err, sizeof s_err), 0, "%s", s_err);
    cr_assert_eq(spool_floor(sp), gap_end);
    cr_assert_eq(spool_ack(sp, gap_first + 1, s_err, sizeof s_err), 0, "%s", s_err);
    cr_assert_eq(spool_floor(sp), gap_end);
    cr_assert_eq(spool_pending(sp), total - gap_end + 1);
    spool_destroy(&sp);

    //  Reopening finds nothing more to do.
    sp = s_open(0);
    cr_assert_eq(spool_quarantined(sp), 0);
    cr_assert_eq(spool_floor(sp), gap_end);
    cr_assert_eq(s_count_files(s_path("quarantine")), 1);
    s_append(sp, total + 1);
    spool_destroy(&sp);
}

Test(spool, middle_segment_without_final_marker_is_quarantined)
{
    //  Cut 2 bytes (a torn marker) or exactly the marker (records left uncommitted) off the end
    //  of the second segment.
    size_t marker = 9 + strlen("fill.csv");
    size_t cuts[] = {2, marker};
    const char *why[] = {"is damaged", "is missing its final commit marker"};
    cr_redirect_stderr();
    for (size_t c = 0; c < 2; c++) {
        snprintf(s_dir, sizeof s_dir, "%s/spool-%zu", s_root, c);
        spool_t *sp = s_open(0);
        uint64_t next = 1;
        s_fill_segments(sp, &next, 4);
        uint64_t total = next - 1;
        spool_destroy(&sp);
        uint64_t names[MAX_SEGS];
        s_list_segs(s_dir, names);
        const char *seg = s_seg_path(names[1]);
        s_truncate_file(seg, s_file_size(seg) - cuts[c]);

        s_stderr_text();
        sp = s_open(0);
        cr_assert_not_null(strstr(s_stderr_text(), why[c]), "case %zu", c);
        cr_assert_not(s_exists(seg));
        cr_assert_eq(spool_quarantined(sp), names[2] - names[1], "case %zu", c);
        cr_assert_eq(spool_last_seq(sp), total);
        s_got_free(s_read(sp, 1, SIZE_MAX, (int) (total - (names[2] - names[1]))));
        spool_destroy(&sp);
    }
}

Test(spool, unknown_files_are_left_alone)
{
    spool_t *sp = s_open(0);
    uint64_t next = 1;
    s_fill(sp, &next, 3, 3);
    spool_destroy(&sp);
    const char *names[] = {"notes.txt", "seg-1.log", "seg-00000000000000000001.log.bak",
                           "seg-0000000000000000000x.log"};
    for (size_t i = 0; i < 4; i++) {
        s_write_file(s_path(names[i]), "not a segment");
    }
    cr_assert_eq(mkdir(s_path("subdir"), 0700), 0);

    sp = s_open(0);
    cr_assert_eq(spool_last_seq(sp), 3);
    cr_assert_eq(spool_ack(sp, 3, s_err, sizeof s_err), 0);
    spool_destroy(&sp);
    sp = s_open(0);
    spool_destroy(&sp);
    for (size_t i = 0; i < 4; i++) {
        cr_assert(s_exists(s_path(names[i])), "%s", names[i]);
    }
    cr_assert(s_exists(s_path("subdir")));
}

//  --------------------------------------------------------------------------------------------
//  Acknowledgement, cap and reads

Test(spool, ack_deletes_whole_segments_but_not_the_live_one)
{
    spool_t *sp = s_open(0);
    uint64_t next = 1;
    s_fill_segments(sp, &next, 5);
    uint64_t total = next - 1;
    uint64_t names[MAX_SEGS];
    size_t n = s_list_segs(s_dir, names);
    uint64_t bytes = spool_bytes(sp);

    cr_assert_eq(spool_ack(sp, names[2] - 1, s_err, sizeof s_err), 0, "%s", s_err);
    cr_assert_not(s_exists(s_seg_path(names[0])));
    cr_assert_not(s_exists(s_seg_path(names[1])));
    cr_assert(s_exists(s_seg_path(names[2])));
    cr_assert_lt(spool_bytes(sp), bytes);
    s_got_t *got = s_read(sp, 1, 1, 1);
    cr_assert_eq(got->seqs[0], names[2]); // acknowledged records still on disk are readable
    s_got_free(got);

    cr_assert_eq(spool_ack(sp, names[2], s_err, sizeof s_err), 0);
    cr_assert(s_exists(s_seg_path(names[2]))); // partly acknowledged: kept
    cr_assert_eq(spool_ack(sp, 1, s_err, sizeof s_err), 0); // below the mark: ignored
    cr_assert_eq(spool_acked(sp), names[2]);

    cr_assert_eq(spool_ack(sp, total, s_err, sizeof s_err), 0);
    cr_assert_eq(s_list_segs(s_dir, names), 1);
    cr_assert_eq(names[0], names[n - 1]);
    cr_assert_eq(spool_pending(sp), 0);
    cr_assert_eq(spool_floor(sp), total + 1);
    cr_assert_eq(spool_last_seq(sp), total);
    spool_destroy(&sp);

    sp = s_open(0);
    cr_assert_eq(spool_acked(sp), total);
    cr_assert_eq(spool_last_seq(sp), total);
    cr_assert_eq(spool_floor(sp), total + 1);
    spool_destroy(&sp);

    //  Even with every segment gone, seqs go on after the mark.
    s_list_segs(s_dir, names);
    cr_assert_eq(unlink(s_seg_path(names[0])), 0);
    sp = s_open(0);
    cr_assert_eq(spool_last_seq(sp), total);
    cr_assert_eq(spool_floor(sp), total + 1);
    cr_assert_eq(spool_pending(sp), 0);
    s_append(sp, total + 1);
    s_commit(sp, "after.csv");
    s_got_t *after = s_read(sp, 1, 100, 1);
    cr_assert_eq(after->seqs[0], total + 1);
    s_got_free(after);
    spool_destroy(&sp);
}

Test(spool, cap_refuses_room_until_ack_frees_segments)
{
    //  Measure a segment, then cap the spool at four of them.
    spool_t *sp = s_open(0);
    cr_assert(spool_has_room(sp, UINT64_MAX)); // no cap
    uint64_t next = 1;
    s_fill_segments(sp, &next, 2);
    uint64_t names[MAX_SEGS];
    s_list_segs(s_dir, names);
    uint64_t segment = s_file_size(s_seg_path(names[0]));
    spool_destroy(&sp);

    uint64_t cap = 4 * segment;
    sp = s_open(cap);
    uint64_t want = segment / 4;
    int rounds = 0;
    while (spool_has_room(sp, want)) {
        s_fill(sp, &next, 5, 5);
        cr_assert_lt(++rounds, 100000);
    }
    cr_assert_gt(spool_bytes(sp) + want, cap);
    cr_assert_not(spool_has_room(sp, UINT64_MAX));
    cr_assert_not(spool_has_room(sp, cap));
    cr_assert_eq(spool_ack(sp, spool_last_seq(sp) - 1, s_err, sizeof s_err), 0, "%s", s_err);
    cr_assert(spool_has_room(sp, want));
    cr_assert_leq(spool_bytes(sp), 2 * segment);
    spool_destroy(&sp);

    sp = s_open(cap); // the cap is not persisted, the bytes are
    cr_assert(spool_has_room(sp, want));
    spool_destroy(&sp);
}

static int s_stop_at_first(void *arg, uint64_t seq, const void *data, size_t size)
{
    (void) data;
    (void) size;
    *(uint64_t *) arg = seq;
    return 1;
}

Test(spool, read_ranges_early_stop_and_beyond_last)
{
    spool_t *sp = s_open(0);
    uint64_t next = 1;
    s_fill(sp, &next, 10, 4);

    s_got_t *got = s_read(sp, 5, 3, 3);
    cr_assert_eq(got->seqs[0], 5);
    cr_assert_eq(got->seqs[2], 7);
    s_got_free(got);
    got = s_read(sp, 8, 100, 3); // goes on from the cursor
    cr_assert_eq(got->seqs[0], 8);
    cr_assert_eq(got->seqs[2], 10);
    s_got_free(got);
    s_got_free(s_read(sp, 11, 10, 0));
    s_got_free(s_read(sp, 1000, 10, 0));
    s_got_free(s_read(sp, 0, 100, 10));
    s_got_free(s_read(sp, 1, 0, 0));
    got = s_read(sp, 3, 5, 5); // back before the cursor
    cr_assert_eq(got->seqs[0], 3);
    s_got_free(got);

    //  Early stop: the stopping record counts as visited; the next read may start at it or
    //  after it.
    got = s_got_new();
    got->stop_at = 2;
    cr_assert_eq(spool_read(sp, 4, 100, s_collect, got, s_err, sizeof s_err), 2);
    cr_assert_eq(got->seqs[1], 5);
    s_got_free(got);
    uint64_t seen = 0;
    cr_assert_eq(spool_read(sp, 5, 100, s_stop_at_first, &seen, s_err, sizeof s_err), 1);
    cr_assert_eq(seen, 5);
    got = s_read(sp, 6, 100, 5);
    cr_assert_eq(got->seqs[0], 6);
    s_got_free(got);

    //  New commits show up behind the cursor at the end of the live segment.
    s_append(sp, 11);
    s_got_free(s_read(sp, 11, 100, 0));
    s_commit(sp, "more");
    got = s_read(sp, 11, 100, 1);
    cr_assert_eq(got->seqs[0], 11);
    s_got_free(got);
    spool_destroy(&sp);
}

Test(spool, sequential_reads_across_segments)
{
    //  What the sender does: read a window, then the next from last + 1, while the spool grows
    //  and rotates.
    spool_t *sp = s_open(0);
    uint64_t next = 1;
    s_fill_segments(sp, &next, 3);
    uint64_t last = 0;
    for (int round = 0; round < 4; round++) {
        for (;;) {
            s_got_t *got = s_got_new();
            int n = spool_read(sp, last + 1, 7, s_collect, got, s_err, sizeof s_err);
            cr_assert_geq(n, 0, "%s", s_err);
            cr_assert(got->content_ok);
            for (int i = 0; i < n; i++) {
                cr_assert_eq(got->seqs[i], last + 1, "round %d", round);
                last++;
            }
            s_got_free(got);
            if (n < 7) {
                break;
            }
        }
        cr_assert_eq(last, next - 1);
        s_fill(sp, &next, 23, 4);
    }
    spool_destroy(&sp);
}

//  --------------------------------------------------------------------------------------------
//  Failure paths

Test(spool, open_fails_on_a_regular_file)
{
    snprintf(s_dir, sizeof s_dir, "%s/file", s_root);
    s_write_file(s_dir, "not a directory");
    spool_t *sp = spool_open(s_dir, 0, s_err, sizeof s_err);
    cr_assert_null(sp);
    cr_assert_not_null(strstr(s_err, "could not open spool directory"), "%s", s_err);
    cr_assert_not_null(strstr(s_err, s_dir));

    snprintf(s_dir, sizeof s_dir, "%s/file/spool", s_root);
    cr_assert_null(spool_open(s_dir, 0, s_err, sizeof s_err));
    cr_assert_not_null(strstr(s_err, "could not create directory"), "%s", s_err);

    cr_assert_null(spool_open("", 0, s_err, sizeof s_err));
    cr_assert_null(spool_open(s_dir, 0, NULL, 0)); // no error buffer is fine too
}

Test(spool, open_fails_while_another_holds_the_spool)
{
    spool_t *sp = s_open(0);
    cr_assert_null(spool_open(s_dir, 0, s_err, sizeof s_err));
    cr_assert_not_null(strstr(s_err, "in use"), "%s", s_err);
    spool_destroy(&sp);
    sp = s_open(0);
    spool_destroy(&sp);
}

Test(spool, open_fails_on_damaged_id_or_mark)
{
    spool_t *sp = s_open(0);
    uint64_t next = 1;
    s_fill(sp, &next, 3, 3);
    spool_destroy(&sp);

    struct {
        const char *file;
        const char *text; // NULL: remove the file
        const char *message;
    } cases[] = {
        {"id", "not hex at all\n", "identity file"},
        {"id", "0123456789abcdef0123456789abcdef0\n", "identity file"},
        {"id", NULL, "no identity file"},
        {"acked", "12x\n", "acknowledgement mark"},
        {"acked", "", "acknowledgement mark"},
        {"acked", "99999999999999999999999\n", "acknowledgement mark"},
    };
    char saved[64];
    FILE *f = fopen(s_path("id"), "r");
    cr_assert_not_null(fgets(saved, sizeof saved, f));
    fclose(f);
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        if (cases[c].text) {
            s_write_file(s_path(cases[c].file), cases[c].text);
        } else {
            unlink(s_path(cases[c].file));
        }
        cr_assert_null(spool_open(s_dir, 0, s_err, sizeof s_err), "case %zu", c);
        cr_assert_not_null(strstr(s_err, cases[c].message), "case %zu: %s", c, s_err);
        s_write_file(s_path("id"), saved);
        unlink(s_path("acked"));
    }
    sp = s_open(0);
    cr_assert_eq(spool_last_seq(sp), 3);
    spool_destroy(&sp);
}

Test(spool, ack_above_last_seq_fails)
{
    spool_t *sp = s_open(0);
    cr_assert_eq(spool_ack(sp, 1, s_err, sizeof s_err), -1);
    cr_assert_not_null(strstr(s_err, "cannot acknowledge seq 1"), "%s", s_err);
    uint64_t next = 1;
    s_fill(sp, &next, 3, 3);
    s_append(sp, 4); // uncommitted: cannot be acknowledged
    cr_assert_eq(spool_ack(sp, 4, s_err, sizeof s_err), -1);
    cr_assert_eq(spool_acked(sp), 0);
    cr_assert_not(s_exists(s_path("acked")));
    cr_assert_eq(spool_ack(sp, 3, s_err, sizeof s_err), 0);
    cr_assert_eq(spool_acked(sp), 3);
    spool_destroy(&sp);
}

Test(spool, oversized_record_and_tag_are_refused)
{
    spool_t *sp = s_open(0);
    uint64_t next = 1;
    s_fill(sp, &next, 2, 2);
    size_t huge = 16u * 1024 * 1024 + 1;
    char *big = calloc(1, huge);
    uint64_t seq = 0;
    cr_assert_eq(spool_append(sp, big, huge, &seq, s_err, sizeof s_err), -1);
    cr_assert_not_null(strstr(s_err, "cannot append a record"), "%s", s_err);
    cr_assert_eq(seq, 0);
    free(big);

    //  A failed commit leaves nothing pending: the seqs are given again.
    s_append(sp, 3);
    char tag[5000];
    memset(tag, 't', sizeof tag - 1);
    tag[sizeof tag - 1] = '\0';
    cr_assert_eq(spool_commit(sp, tag, s_err, sizeof s_err), -1);
    cr_assert_not_null(strstr(s_err, "tag"), "%s", s_err);
    cr_assert_eq(spool_last_seq(sp), 2);
    s_append(sp, 3);
    s_commit(sp, "ok");
    s_got_free(s_read(sp, 1, 10, 3));
    spool_destroy(&sp);
}

Test(spool, write_failure_is_reported_and_aborted)
{
    //  A file size limit stands in for a full disk.
    spool_t *sp = s_open(0);
    uint64_t next = 1;
    s_fill(sp, &next, 5, 5);
    uint64_t committed = spool_bytes(sp);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit saved;
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &saved), 0);
    struct rlimit low = {.rlim_cur = committed + 500, .rlim_max = saved.rlim_max};
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &low), 0);

    //  Appends fill the write buffer until it has to be written.
    int failed_at = -1;
    for (int i = 0; i < 2000 && failed_at < 0; i++) {
        uint64_t seq;
        if (spool_append(sp, s_record(next), RECORD_SIZE, &seq, s_err, sizeof s_err) != 0) {
            failed_at = i;
        } else {
            next++;
        }
    }
    cr_assert_geq(failed_at, 0);
    cr_assert_not_null(strstr(s_err, "could not write"), "%s", s_err);
    uint64_t seq;
    cr_assert_eq(spool_append(sp, "x", 1, &seq, s_err, sizeof s_err), -1);
    cr_assert_not_null(strstr(s_err, "earlier write failed"), "%s", s_err);
    spool_abort(sp);
    cr_assert_eq(spool_bytes(sp), committed);
    cr_assert_eq(spool_last_seq(sp), 5);

    //  A commit that cannot be written aborts by itself.
    next = 6;
    for (int i = 0; i < 10; i++) {
        s_append(sp, next++);
    }
    struct rlimit lower = {.rlim_cur = committed + 10, .rlim_max = saved.rlim_max};
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lower), 0);
    cr_assert_eq(spool_commit(sp, "full.csv", s_err, sizeof s_err), -1);
    cr_assert_not_null(strstr(s_err, "could not write"), "%s", s_err);
    cr_assert_eq(spool_last_seq(sp), 5);
    cr_assert_str_eq(spool_last_tag(sp), "fill.csv");

    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &saved), 0);
    s_append(sp, 6);
    s_commit(sp, "ok.csv");
    spool_destroy(&sp);
    sp = s_open(0);
    cr_assert_eq(spool_last_seq(sp), 6);
    cr_assert_eq(spool_quarantined(sp), 0);
    s_got_free(s_read(sp, 1, 100, 6));
    spool_destroy(&sp);
}

Test(spool, restored_quarantine_copy_out_of_sequence_is_quarantined_again)
{
    //  An operator copies a segment back under a name that clashes with seqs already present.
    spool_t *sp = s_open(0);
    uint64_t next = 1;
    s_fill_segments(sp, &next, 3);
    uint64_t total = next - 1;
    spool_destroy(&sp);
    uint64_t names[MAX_SEGS];
    s_list_segs(s_dir, names);
    s_copy_file(s_seg_path(names[0]), s_seg_path(names[0] + 1));

    sp = s_open(0);
    cr_assert_not(s_exists(s_seg_path(names[0] + 1)));
    cr_assert_eq(s_count_files(s_path("quarantine")), 1);
    cr_assert_eq(spool_last_seq(sp), total);
    s_got_free(s_read(sp, 1, SIZE_MAX, (int) total));
    spool_destroy(&sp);
}

Test(spool, read_fails_on_damage_found_after_open)
{
    //  Bit rot under an open spool, then a segment removed under it: reads fail with a message
    //  instead of handing out bad records.
    spool_t *sp = s_open(0);
    uint64_t next = 1;
    s_fill_segments(sp, &next, 3);
    uint64_t names[MAX_SEGS];
    s_list_segs(s_dir, names);
    s_flip_byte(s_seg_path(names[1]), 40);
    s_got_t *got = s_got_new();
    int n = spool_read(sp, names[1], 10, s_collect, got, s_err, sizeof s_err);
    cr_assert_eq(n, -1);
    cr_assert_not_null(strstr(s_err, "damaged frame at offset"), "%s", s_err);
    cr_assert_eq(got->count, 0);
    s_got_free(got);

    cr_assert_eq(unlink(s_seg_path(names[0])), 0);
    cr_assert_eq(spool_read(sp, 1, 10, s_stop_at_first, &next, s_err, sizeof s_err), -1);
    cr_assert_not_null(strstr(s_err, "could not open"), "%s", s_err);
    spool_destroy(&sp);
}

Test(spool, last_tag_survives_ack_and_reopen)
{
    //  The newest marker sits in a full segment; the next file's records start a new segment
    //  and are not committed when everything is acknowledged and the collector dies.
    spool_t *sp = s_open(0);
    uint64_t next = 1;
    uint64_t names[MAX_SEGS];
    while (s_list_segs(s_dir, names) < 2) {
        s_append(sp, next++);
        s_commit(sp, "older.csv");
    }
    //  The commit that created the second segment was the one before rotation: fill the second
    //  one until it rotates again, with "newest.csv" last.
    size_t before = s_list_segs(s_dir, names);
    for (;;) {
        s_append(sp, next++);
        s_commit(sp, "newest.csv");
        s_append(sp, next); // may create the next segment
        if (s_list_segs(s_dir, names) > before) {
            break;
        }
        spool_abort(sp);
    }
    uint64_t committed = next - 1;
    cr_assert_eq(spool_ack(sp, committed, s_err, sizeof s_err), 0, "%s", s_err);
    spool_destroy(&sp); // the pending append is lost

    sp = s_open(0);
    cr_assert_str_eq(spool_last_tag(sp), "newest.csv");
    cr_assert_eq(spool_last_seq(sp), committed);
    cr_assert_eq(spool_pending(sp), 0);
    s_append(sp, committed + 1);
    spool_destroy(&sp);
}

//  When the mark last moved: 0 for a spool never acknowledged, the time of spool_ack(), and
//  after a reopen the time the mark's file was written (what 状态.txt shows after a restart).
Test(spool, acked_at_survives_reopen)
{
    spool_t *sp = s_open(0);
    cr_assert_eq(spool_acked_at_ms(sp), 0);
    uint64_t next = 1;
    s_fill(sp, &next, 4, 4);
    cr_assert_eq(spool_acked_at_ms(sp), 0, "appending is no acknowledgement");
    struct timespec t0;
    clock_gettime(CLOCK_REALTIME, &t0);
    int64_t before = (int64_t) t0.tv_sec * 1000 + t0.tv_nsec / 1000000;
    cr_assert_eq(spool_ack(sp, 2, s_err, sizeof s_err), 0, "%s", s_err);
    int64_t at = spool_acked_at_ms(sp);
    cr_expect_geq(at, before);
    cr_assert_eq(spool_ack(sp, 1, s_err, sizeof s_err), 0);
    cr_expect_eq(spool_acked_at_ms(sp), at, "a mark below the current one moves nothing");
    spool_destroy(&sp);
    struct timespec old[2] = {{1700000000, 0}, {1700000000, 0}};
    cr_assert_eq(utimensat(AT_FDCWD, s_path("acked"), old, 0), 0);
    sp = s_open(0);
    cr_expect_eq(spool_acked_at_ms(sp), 1700000000000LL);
    spool_destroy(&sp);
}
