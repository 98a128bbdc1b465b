/*  test_inbox - when a file is taken (renamed in, written in place and settled, still being
 *  written), in which order, under which name, and what is refused with which sentence
 *
 *  Each test makes an inbox, a spool and receipts in a temporary directory and drives the inbox
 *  with a clock of its own (the `now` handed to inbox_drain_events() and inbox_take_ready()),
 *  with real files and real inotify events. What was taken is read back from the spool.
 */
#include "feedback.h"
#include "inbox.h"
#include "rows.h"
#include "util.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SETTLE 1000 // ms

typedef struct {
    char *dir;            // the test's directory
    char *inbox;          // dir/inbox
    spool_t *spool;       // dir/spool
    receipts_t *receipts; // of the inbox
    inbox_t *in;          // the inbox
    inbox_progress_fn *progress; // the inbox's progress callback (NULL: none), at every
                                 // 1024th record
    void *progress_arg;          // its argument
} s_box_t;

static void s_box_open(s_box_t *b, uint64_t max_file)
{
    char err[256];
    char *spool = xasprintf("%s/spool", b->dir);
    b->spool = spool_open(spool, 64u << 20, err, sizeof err);
    cr_assert_not_null(b->spool, "%s", err);
    b->receipts = receipts_open(b->inbox, err, sizeof err);
    cr_assert_not_null(b->receipts, "%s", err);
    inbox_config_t config = {.dir = b->inbox,
                             .school = "2143004052",
                             .settle_ms = SETTLE,
                             .max_file_bytes = max_file ? max_file : 1u << 20,
                             .progress = b->progress,
                             .progress_arg = b->progress_arg,
                             .progress_ms = 0};
    b->in = inbox_new(&config, b->spool, b->receipts, err, sizeof err);
    cr_assert_not_null(b->in, "%s", err);
    free(spool);
    // a host whose inotify instances are used up by others (max_user_instances) cannot show
    // the events these tests are about; test without_inotify covers that case
    if (inbox_fd(b->in) < 0)
        cr_skip_test("inotify instances are used up on this host");
}

static void s_box_close(s_box_t *b)
{
    inbox_destroy(&b->in);
    cr_assert_null(b->in);
    receipts_destroy(&b->receipts);
    spool_destroy(&b->spool);
}

static s_box_t s_box_new(void)
{
    s_box_t b = {.dir = xstrdup("/tmp/test_inbox.XXXXXX")};
    cr_assert_not_null(mkdtemp(b.dir));
    b.inbox = xasprintf("%s/inbox", b.dir);
    cr_assert_eq(mkdir(b.inbox, 0750), 0);
    return b;
}

static void s_box_destroy(s_box_t *b)
{
    if (b->in)
        s_box_close(b);
    char *cmd = xasprintf("rm -rf '%s'", b->dir);
    cr_expect_eq(system(cmd), 0);
    free(cmd);
    free(b->inbox);
    free(b->dir);
}

static char *s_path(const s_box_t *b, const char *name)
{
    return xasprintf("%s/%s", b->inbox, name);
}

//  Writes a whole file in place (open, write, close).
static void s_write(const s_box_t *b, const char *name, const char *text)
{
    char *path = s_path(b, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    free(path);
}

//  Writes a file under a temporary name and renames it in, as careful writers do.
static void s_drop(const s_box_t *b, const char *name, const char *text)
{
    char *tmp = xasprintf(".%s.tmp", name);
    s_write(b, tmp, text);
    char *from = s_path(b, tmp), *to = s_path(b, name);
    cr_assert_eq(rename(from, to), 0);
    free(from), free(to), free(tmp);
}

//  Sets a file's modification time to `ago` seconds before now.
static void s_age(const s_box_t *b, const char *name, int ago)
{
    char *path = s_path(b, name);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct timespec times[2] = {{now.tv_sec - ago, 0}, {now.tv_sec - ago, 0}};
    cr_assert_eq(utimensat(AT_FDCWD, path, times, 0), 0);
    free(path);
}

static int s_take(s_box_t *b, int64_t now)
{
    inbox_drain_events(b->in, now);
    return inbox_take_ready(b->in, now);
}

static int s_collect(void *arg, uint64_t seq, const void *data, size_t size)
{
    FILE *f = arg;
    Edu__V1__Record *rec = edu__v1__record__unpack(NULL, size, data);
    cr_assert_not_null(rec);
    fprintf(f, "%llu:%s:%u:%s=%g\n", (unsigned long long) seq, rec->source_file, rec->source_row,
            rec->indicator, rec->value);
    edu__v1__record__free_unpacked(rec, NULL);
    return 0;
}

//  What the spool holds: "seq:file:row:indicator=value" lines.
static char *s_spooled(s_box_t *b)
{
    char *out = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&out, &size);
    char err[256];
    cr_assert_geq(spool_read(b->spool, 1, 100000, s_collect, f, err, sizeof err), 0, "%s", err);
    fclose(f);
    return out;
}

static bool s_exists(const s_box_t *b, const char *rel)
{
    char *path = s_path(b, rel);
    struct stat st;
    bool there = stat(path, &st) == 0;
    free(path);
    return there;
}

static char *s_read(const s_box_t *b, const char *rel)
{
    char *path = s_path(b, rel);
    size_t size = 0;
    char err[256];
    char *data = file_read_all(path, &size, err, sizeof err);
    cr_assert_not_null(data, "%s", err);
    free(path);
    return data;
}

#define HEADER "school_code,indicator,period,value\n"

Test(inbox, renamed_in_is_taken_at_once)
{
    s_box_t b = s_box_new();
    s_box_open(&b, 0);
    s_drop(&b, "data.csv", HEADER "2143004052,training_hours,2025-2026,97\n");
    cr_expect_eq(s_take(&b, 1000), 1);
    cr_expect(s_exists(&b, "done/data.csv"));
    cr_expect_not(s_exists(&b, "data.csv"));
    char *got = s_spooled(&b);
    cr_expect_str_eq(got, "1:data.csv:2:training_hours=97\n");
    free(got);
    const receipt_t *r = receipts_find(b.receipts, "data.csv");
    cr_assert_not_null(r);
    cr_expect_eq(r->first_seq, 1);
    cr_expect_eq(r->last_seq, 1);
    cr_expect_eq(r->records, 1);
    s_box_destroy(&b);
}

//  Written in place: not while it is open, then settle_ms after the close; a write after the
//  close (a writer that reopens to append) starts the wait again. The value written in two
//  pieces arrives whole.
Test(inbox, written_in_place_waits_until_closed_and_settled)
{
    s_box_t b = s_box_new();
    s_box_open(&b, 0);
    char *path = s_path(&b, "data.csv");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
    cr_assert_geq(fd, 0);
    const char *piece1 = HEADER "2143004052,training_hours,2025-2026,9";
    cr_assert_eq(write(fd, piece1, strlen(piece1)), (ssize_t) strlen(piece1));
    cr_expect_eq(s_take(&b, 1000), 0, "open for writing");
    cr_expect_eq(s_take(&b, 1000 + 100 * SETTLE), 0, "still open, however long");
    cr_expect_lt(inbox_next_ready_ms(b.in), 0, "nothing settling");
    close(fd);
    cr_expect_eq(s_take(&b, 200000), 0, "closed just now");
    cr_expect_eq(inbox_next_ready_ms(b.in), 200000 + SETTLE);
    // reopened and appended before it settled
    fd = open(path, O_WRONLY | O_APPEND);
    const char *piece2 = "7\n2143004052,myopia_pct,2025-2026,31\n";
    cr_assert_eq(write(fd, piece2, strlen(piece2)), (ssize_t) strlen(piece2));
    cr_expect_eq(s_take(&b, 200000 + SETTLE - 1), 0, "written again: open");
    close(fd);
    cr_expect_eq(s_take(&b, 200000 + SETTLE), 0, "closed again just now");
    cr_expect_eq(s_take(&b, 200000 + 2 * SETTLE - 1), 0, "not settled yet");
    cr_expect_eq(s_take(&b, 200000 + 2 * SETTLE), 1, "settled");
    char *got = s_spooled(&b);
    cr_expect_str_eq(got, "1:data.csv:2:training_hours=97\n2:data.csv:3:myopia_pct=31\n");
    free(got);
    free(path);
    s_box_destroy(&b);
}

//  At start there are no events: a file settles by time, and one whose last write is already
//  settle_ms old does not wait at all.
Test(inbox, found_at_start)
{
    s_box_t b = s_box_new();
    s_write(&b, "old.csv", HEADER "s,old,p,1\n");
    s_age(&b, "old.csv", 60);
    s_write(&b, "new.csv", HEADER "s,new,p,2\n");
    s_box_open(&b, 0);
    cr_expect_eq(s_take(&b, 5000), 1, "the old file at once");
    cr_expect(s_exists(&b, "done/old.csv"));
    cr_expect_eq(s_take(&b, 5000 + SETTLE - 1), 0, "the new one once settled");
    cr_expect_eq(s_take(&b, 5000 + SETTLE), 1);
    s_box_destroy(&b);
}

//  A file whose time changes after its close (a copy setting the original time) waits again.
Test(inbox, changed_file_waits_again)
{
    s_box_t b = s_box_new();
    s_box_open(&b, 0);
    s_write(&b, "x.csv", HEADER "s,i,p,1\n");
    cr_expect_eq(s_take(&b, 1000), 0);
    s_age(&b, "x.csv", 3600);
    inbox_drain_events(b.in, 1500);
    cr_expect_eq(s_take(&b, 1000 + SETTLE), 0, "changed at 1500 (the scan sees it at 2000)");
    cr_expect_eq(s_take(&b, 2000 + SETTLE - 1), 0);
    cr_expect_eq(s_take(&b, 2000 + SETTLE), 1);
    s_box_destroy(&b);
}

static int s_order_case(const char *first, const char *second, bool same_time, bool events,
                        bool made_backwards)
{
    s_box_t b = s_box_new();
    if (events)
        s_box_open(&b, 0);
    // made_backwards: the second file's inode is made first, then both are renamed in in order
    const char *make[2] = {made_backwards ? second : first, made_backwards ? first : second};
    for (int i = 0; i < 2; i++) {
        char *tmp = xasprintf(".%s.tmp", make[i]);
        s_write(&b, tmp, make[i] == first ? HEADER "s,i,p,1\n" : HEADER "s,i,p,2\n");
        free(tmp);
    }
    const char *in[2] = {first, second};
    for (int i = 0; i < 2; i++) {
        char *tmp = xasprintf(".%s.tmp", in[i]);
        char *from = s_path(&b, tmp), *to = s_path(&b, in[i]);
        cr_assert_eq(rename(from, to), 0);
        free(from), free(to), free(tmp);
    }
    if (same_time) {
        s_age(&b, first, 30);
        s_age(&b, second, 30);
    } else {
        s_age(&b, first, 31);
        s_age(&b, second, 30);
    }
    if (!events)
        s_box_open(&b, 0);
    int taken = s_take(&b, 100000);
    char *got = s_spooled(&b);
    char *want = xasprintf("1:%s:2:i=1\n2:%s:2:i=2\n", first, second);
    int rc = strcmp(got, want) == 0 && taken == 2 ? 0 : -1;
    if (rc)
        cr_log_error("%s then %s: got\n%s", first, second, got);
    free(got);
    free(want);
    s_box_destroy(&b);
    return rc;
}

//  Files are taken in the order they arrived: by modification time, then (same time) in the
//  order of their events, then by inode, then by name — at start as well as later.
Test(inbox, order_of_arrival)
{
    cr_expect_eq(s_order_case("data.csv", "corrections.csv", false, false, true), 0,
                 "at start, by modification time");
    cr_expect_eq(s_order_case("data.csv", "corrections.csv", false, true, true), 0,
                 "running, by modification time");
    cr_expect_eq(s_order_case("data.csv", "corrections.csv", true, true, true), 0,
                 "same time: in the order of their events, not of their inodes");
    cr_expect_eq(s_order_case("data.csv", "corrections.csv", true, false, false), 0,
                 "same time, no events: by inode (made in that order), not by name");
    cr_expect_eq(s_order_case("a.csv", "b.csv", true, false, false), 0,
                 "same time, no events, made in order: by inode");
}

//  A file still settling holds back the younger ones, so a correction renamed in at once does
//  not overtake the file written in place just before it.
Test(inbox, settling_file_holds_back_younger_ones)
{
    s_box_t b = s_box_new();
    s_box_open(&b, 0);
    s_write(&b, "data.csv", HEADER "s,i,p,1\n");
    s_age(&b, "data.csv", 2);
    s_drop(&b, "corrections.csv", HEADER "s,i,p,2\n");
    cr_expect_eq(s_take(&b, 1000), 0, "the correction waits for the data");
    cr_expect_eq(s_take(&b, 1000 + SETTLE), 2);
    char *got = s_spooled(&b);
    cr_expect_str_eq(got, "1:data.csv:2:i=1\n2:corrections.csv:2:i=2\n");
    free(got);
    s_box_destroy(&b);
}

//  A name taken before gets a take name of its own: its records, done/ and errors file say it.
Test(inbox, same_name_again_is_a_new_file)
{
    s_box_t b = s_box_new();
    s_box_open(&b, 0);
    s_drop(&b, "data.csv", HEADER "s,i,p,9\ns,i,p,x\n");
    cr_expect_eq(s_take(&b, 1000), 1);
    s_drop(&b, "data.csv", HEADER "s,i,p,97\ns,i,p,y\n");
    cr_expect_eq(s_take(&b, 2000), 1);
    char *got = s_spooled(&b);
    cr_expect_str_eq(got, "1:data.csv:2:i=9\n2:data.csv.1:2:i=97\n");
    free(got);
    cr_expect(s_exists(&b, "done/data.csv"));
    cr_expect(s_exists(&b, "done/data.csv.1"));
    char *e1 = s_read(&b, "rejected/data.csv.errors.csv");
    char *e2 = s_read(&b, "rejected/data.csv.1.errors.csv");
    cr_expect_not_null(strstr(e1, "\"value \"\"x\"\" is not a number\""), "%s", e1);
    cr_expect_null(strstr(e1, "\"\"y\"\""));
    cr_expect_not_null(strstr(e2, "\"\"y\"\""), "%s", e2);
    free(e1);
    free(e2);
    s_box_destroy(&b);
}

Test(inbox, refused_files_say_why)
{
    s_box_t b = s_box_new();
    s_box_open(&b, 100);
    s_drop(&b, "book.xlsx", "PK\x03\x04 a workbook");
    s_drop(&b, "utf16.csv", "\xFF\xFEs\x00");
    char name[256];
    memset(name, 'n', 197);
    strcpy(name + 197, ".csv"); // 201 bytes
    s_drop(&b, name, HEADER);
    char fits[256];
    memset(fits, 'f', 196);
    strcpy(fits + 196, ".csv"); // 200 bytes: taken
    s_drop(&b, fits, HEADER);
    char big[128];
    memset(big, '1', sizeof big);
    memcpy(big, HEADER, strlen(HEADER));
    big[101] = '\n';
    big[102] = '\0'; // 102 bytes, over the bound of 100
    s_drop(&b, "big.csv", big);
    big[99] = '\n';
    big[100] = '\0'; // 100 bytes: at the bound
    s_drop(&b, "atbound.csv", big);
    s_drop(&b, "~$lock.xlsx", "lock");
    cr_expect_eq(s_take(&b, 1000), 6);
    static const struct {
        const char *errors; // errors file in the inbox
        const char *code;   // the code in it
        const char *words;  // Chinese words in it
    } want[] = {
        {"rejected/book.xlsx.errors.csv", ",not_csv,", "另存为"},
        {"rejected/utf16.csv.errors.csv", ",not_csv,", "UTF-16"},
        {"rejected/big.csv.errors.csv", ",file_too_large,", "文件太大"},
    };
    for (size_t i = 0; i < 3; i++) {
        char *got = s_read(&b, want[i].errors);
        cr_expect_eq(strncmp(got, "\xEF\xBB\xBF" FEEDBACK_HEADER, strlen(FEEDBACK_HEADER) + 3), 0);
        cr_expect_not_null(strstr(got, want[i].code), "%s", got);
        cr_expect_not_null(strstr(got, want[i].words), "%s", got);
        free(got);
    }
    cr_expect(s_exists(&b, "rejected/book.xlsx"));
    cr_expect(s_exists(&b, "rejected/utf16.csv"));
    cr_expect(s_exists(&b, "rejected/big.csv"));
    cr_expect(s_exists(&b, "done/atbound.csv"));
    char *done = xasprintf("done/%s", fits);
    cr_expect(s_exists(&b, done));
    free(done);
    char safe[256];
    snprintf(safe, sizeof safe, "rejected/%.120s….errors.csv", name);
    char *got = s_read(&b, safe);
    cr_expect_not_null(strstr(got, ",bad_file_name,"), "%s", got);
    free(got);
    cr_expect(s_exists(&b, "~$lock.xlsx"), "an editor's lock file is left alone");
    s_box_destroy(&b);
}

//  A take interrupted by a crash: committed, it goes to done/; not committed, it goes back to
//  be taken again, and what the interrupted take wrote (errors, receipt) is dropped.
Test(inbox, recovery)
{
    s_box_t b = s_box_new();
    s_box_open(&b, 0);
    s_box_close(&b);
    char err[256];
    char *spool_dir = xasprintf("%s/spool", b.dir);
    spool_t *spool = spool_open(spool_dir, 0, err, sizeof err);
    uint64_t seq;
    cr_assert_eq(spool_append(spool, "x", 1, &seq, err, sizeof err), 0);
    cr_assert_eq(spool_commit(spool, "100+1-done.csv", err, sizeof err), 0);
    spool_destroy(&spool);
    s_write(&b, ".taking/100+1-done.csv", HEADER "s,i,p,1\n");
    s_write(&b, ".taking/200+0-again.csv", HEADER "s,i,p,2\n");
    s_write(&b, "rejected/again.csv.errors.csv", "stale\n");
    s_box_open(&b, 0);
    cr_expect(s_exists(&b, "done/done.csv.1"), "committed: done/ under its take name");
    cr_expect(s_exists(&b, "again.csv"), "not committed: back in the inbox");
    cr_expect_not(s_exists(&b, "rejected/again.csv.errors.csv"), "its errors dropped");
    cr_expect_eq(s_take(&b, 1000), 1, "and taken again at once");
    free(spool_dir);
    s_box_destroy(&b);
}

//  The county's refusals land in each file's errors file, in row order, with hints taken from
//  the refused records themselves.
Test(inbox, refusals_reported_with_hints)
{
    s_box_t b = s_box_new();
    s_box_open(&b, 0);
    s_drop(&b, "a.csv",
           HEADER "2.143E+09,training_hours,2025-2026,1\n"
                  "2143004052,生师比,2025-2026,15\n"
                  "2143004052,training_hours,2025-2026,x\n"
                  "2143004052,training_hours,2025-2027,3\n");
    s_drop(&b, "b.csv", HEADER "2143004052,training_hours,2023-2024,4\n");
    cr_expect_eq(s_take(&b, 1000), 2);
    Edu__V1__Refusal r[4];
    for (int i = 0; i < 4; i++)
        r[i] = (Edu__V1__Refusal) EDU__V1__REFUSAL__INIT;
    r[0].seq = 3, r[0].reason = "bad_period", r[0].column = "period", r[0].detail = "d3";
    r[0].source_file = "a.csv", r[0].source_row = 5;
    r[1].seq = 1, r[1].reason = "unknown_school", r[1].column = "school_code", r[1].detail = "d1";
    r[1].source_file = "/etc/../a.csv", r[1].source_row = 2;
    r[2].seq = 2, r[2].reason = "unknown_indicator", r[2].column = "indicator", r[2].detail = "d2";
    r[2].source_file = "a.csv", r[2].source_row = 3;
    r[3].seq = 4, r[3].reason = "period_locked", r[3].column = "period", r[3].detail = "d4";
    r[3].source_file = "b.csv", r[3].source_row = 2;
    Edu__V1__Refusal *list[] = {&r[0], &r[1], &r[2], &r[3]};
    inbox_report_refusals(b.in, list, 4);
    // a file name the county echoes back is only a name: no path, no control characters
    Edu__V1__Refusal odd = EDU__V1__REFUSAL__INIT;
    odd.seq = 99, odd.reason = "out_of_range", odd.source_file = "../x\ny.csv", odd.source_row = 7;
    Edu__V1__Refusal *one[] = {&odd};
    inbox_report_refusals(b.in, one, 1);
    cr_expect(s_exists(&b, "rejected/x_y.csv.errors.csv"));
    char *a = s_read(&b, "rejected/a.csv.errors.csv");
    const char *l2 = strstr(a, "\n2,school_code,unknown_school,");
    const char *l3 = strstr(a, "\n3,indicator,unknown_indicator,");
    const char *l4 = strstr(a, "\n4,value,not_a_number,");
    const char *l5 = strstr(a, "\n5,period,bad_period,");
    cr_expect(l2 && l3 && l4 && l5 && l2 < l3 && l3 < l4 && l4 < l5, "row order:\n%s", a);
    cr_expect_not_null(strstr(a, "科学计数法"), "%s", a);
    cr_expect_not_null(strstr(a, "student_teacher_ratio"), "%s", a);
    free(a);
    char *bb = s_read(&b, "rejected/b.csv.errors.csv");
    cr_expect_not_null(strstr(bb, "2,period,period_locked,"), "%s", bb);
    cr_expect_not_null(strstr(bb, "解锁"), "%s", bb);
    free(bb);
    cr_expect_eq(receipts_find(b.receipts, "a.csv")->county_refused, 3);
    cr_expect_eq(receipts_find(b.receipts, "b.csv")->county_refused, 1);
    s_box_destroy(&b);
}

//  Without inotify (the user's instances used up: several schools on one machine, a shared
//  test host) the inbox still works: the scans find every file, which settles by time.
Test(inbox, without_inotify)
{
    s_box_t b = s_box_new();
    char err[256];
    char *spool = xasprintf("%s/spool", b.dir);
    b.spool = spool_open(spool, 64u << 20, err, sizeof err);
    b.receipts = receipts_open(b.inbox, err, sizeof err);
    cr_assert(b.spool && b.receipts);
    int lowest = dup(0); // the lowest free descriptor: a limit there refuses every new one
    close(lowest);
    struct rlimit old, low;
    getrlimit(RLIMIT_NOFILE, &old);
    low = (struct rlimit){(rlim_t) lowest, old.rlim_max};
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    inbox_config_t config = {.dir = b.inbox, .school = "2143004052", .settle_ms = SETTLE,
                             .max_file_bytes = 1u << 20};
    b.in = inbox_new(&config, b.spool, b.receipts, err, sizeof err);
    setrlimit(RLIMIT_NOFILE, &old);
    cr_assert_not_null(b.in, "%s", err);
    cr_expect_lt(inbox_fd(b.in), 0);
    s_drop(&b, "data.csv", HEADER "s,i,p,1\n");
    cr_expect_eq(s_take(&b, 1000), 0, "no event: it settles by time");
    cr_expect_eq(s_take(&b, 1000 + SETTLE), 1);
    cr_expect_geq(inbox_fd(b.in), 0, "watched once instances are free again");
    s_drop(&b, "more.csv", HEADER "s,i,p,2\n");
    cr_expect_eq(s_take(&b, 5000), 1, "renamed in, seen by its event: at once");
    free(spool);
    s_box_destroy(&b);
}

//  A file of more bad rows than a file keeps: the errors file lists ROWS_MAX_ERRORS and says
//  how many more there are, on one line after them.
Test(inbox, too_many_bad_rows)
{
    s_box_t b = s_box_new();
    s_box_open(&b, 0);
    char *out = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&out, &size);
    fputs(HEADER, f);
    for (int i = 0; i < ROWS_MAX_ERRORS + 7; i++)
        fputs("s,i,p,x\n", f);
    fclose(f);
    s_drop(&b, "bad.csv", out);
    cr_expect_eq(s_take(&b, 1000), 1);
    char *got = s_read(&b, "rejected/bad.csv.errors.csv");
    size_t lines = 0;
    for (const char *p = got; (p = strchr(p, '\n')); p++)
        lines++;
    cr_expect_eq(lines, 1 + ROWS_MAX_ERRORS + 1);
    char *want = xasprintf("\n%d,,too_many_errors,另有 7 处问题未列出", ROWS_MAX_ERRORS + 1);
    cr_expect_not_null(strstr(got, want), "%s", strrchr(got, '\n') - 200);
    free(want);
    free(got);
    free(out);
    const receipt_t *r = receipts_find(b.receipts, "bad.csv");
    cr_assert_not_null(r);
    cr_expect_eq(r->rows_refused, ROWS_MAX_ERRORS + 7);
    s_box_destroy(&b);
}

//  What the progress callback saw.
typedef struct {
    int calls;        // how many times it was called
    uint64_t rows;    // the last rows read
    uint64_t records; // the last records spooled
    bool increasing;  // every call saw more than the one before
    int kill_at;      // raise SIGKILL at this call (0: never)
} s_progress_t;

static void s_on_progress(void *arg, const char *name, uint64_t rows_read, uint64_t records)
{
    s_progress_t *p = arg;
    if (strcmp(name, "big.csv") != 0 || rows_read < records || records <= p->records)
        p->increasing = false;
    p->calls++;
    p->rows = rows_read;
    p->records = records;
    if (p->calls == p->kill_at)
        raise(SIGKILL); // a crash in the middle of the take, records appended and not committed
}

//  A file of n rows, every 1000th of them bad; the good ones carry their row as the value.
static char *s_big_file(int n)
{
    char *out = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&out, &size);
    fputs("\xEF\xBB\xBF" HEADER, f);
    for (int i = 1; i <= n; i++) {
        if (i % 1000 == 0)
            fprintf(f, "2143004052,myopia_pct,2025-2026,%d%%\r\n", i);
        else
            fprintf(f, "2143004052,myopia_pct,2025-2026,%d\r\n", i);
    }
    fclose(f);
    return out;
}

typedef struct {
    uint64_t count; // records read back
    bool in_order;  // each the next good row of the file, seq after seq
} s_check_t;

static int s_check_record(void *arg, uint64_t seq, const void *data, size_t size)
{
    s_check_t *c = arg;
    Edu__V1__Record *rec = edu__v1__record__unpack(NULL, size, data);
    cr_assert_not_null(rec);
    uint64_t row = c->count + 1 + c->count / 999; // the good rows skip every 1000th
    if (seq != c->count + 1 || rec->source_row != row + 1 || rec->value != (double) row ||
        strcmp(rec->source_file, "big.csv") != 0)
        c->in_order = false;
    c->count++;
    edu__v1__record__free_unpacked(rec, NULL);
    return 0;
}

//  Checks that the spool holds the good rows of s_big_file(n) once each, in order, committed
//  together with the take's tag.
static void s_check_big(s_box_t *b, int n)
{
    uint64_t good = (uint64_t) (n - n / 1000);
    cr_expect_eq(spool_last_seq(b->spool), good);
    s_check_t check = {0, true};
    char err[256];
    cr_assert_geq(
        spool_read(b->spool, 1, (size_t) good + 10, s_check_record, &check, err, sizeof err), 0,
        "%s", err);
    cr_expect_eq(check.count, good);
    cr_expect(check.in_order);
    const char *tag = spool_last_tag(b->spool);
    cr_assert_not_null(tag);
    cr_expect(str_ends_with(tag, "-big.csv"), "one commit, with the take's tag: %s", tag);
    const receipt_t *r = receipts_find(b->receipts, "big.csv");
    cr_assert_not_null(r);
    cr_expect_eq(r->first_seq, 1);
    cr_expect_eq(r->last_seq, good);
    cr_expect_eq(r->records, good);
    cr_expect_eq(r->rows_refused, (uint64_t) n / 1000);
}

//  A big file goes through as a stream: every good row once, in order, in one commit; its bad
//  rows in its errors file in row order; the progress callback sees the take advance.
Test(inbox, big_file_streamed)
{
    s_box_t b = s_box_new();
    s_progress_t progress = {.increasing = true};
    b.progress = s_on_progress;
    b.progress_arg = &progress;
    s_box_open(&b, 16u << 20);
    int n = 100000;
    char *data = s_big_file(n);
    s_drop(&b, "big.csv", data);
    cr_expect_eq(s_take(&b, 1000), 1);
    cr_expect(s_exists(&b, "done/big.csv"));
    s_check_big(&b, n);
    cr_expect_eq(progress.calls, (n - n / 1000) / 1024, "once per 1024 records");
    cr_expect(progress.increasing);
    cr_expect_eq(progress.records, (uint64_t) progress.calls * 1024);
    cr_expect_geq(progress.rows, progress.records);
    char *errors = s_read(&b, "rejected/big.csv.errors.csv");
    cr_expect_not_null(strstr(errors, "\n1001,value,not_a_number,"), "row order, rows as seen");
    cr_expect_not_null(strstr(errors, "\n100001,value,not_a_number,"));
    cr_expect_lt(strstr(errors, "\n1001,"), strstr(errors, "\n2001,"));
    free(errors);
    free(data);
    s_box_destroy(&b);
}

//  kill -9 in the middle of a take (records appended and partly written to the segment, not
//  committed): at the restart nothing of the file is in the spool, the file is back in the
//  inbox, and taken again it gives every record once.
Test(inbox, killed_in_the_middle_of_a_take)
{
    s_box_t b = s_box_new();
    int n = 50000;
    char *data = s_big_file(n);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        s_progress_t progress = {.increasing = true, .kill_at = 20};
        b.progress = s_on_progress;
        b.progress_arg = &progress;
        s_box_open(&b, 16u << 20);
        s_drop(&b, "big.csv", data);
        s_take(&b, 1000);
        _exit(0); // not reached: killed at 20 * 1024 records
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "killed in the take");
    // killed holding the file in .taking/, records written to the segment past the last commit
    DIR *d = opendir(s_path(&b, ".taking"));
    cr_assert_not_null(d);
    int held = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        held += e->d_name[0] != '.';
    closedir(d);
    cr_expect_eq(held, 1, "the file was being taken");
    char *seg = xasprintf("%s/spool/seg-00000000000000000001.log", b.dir);
    struct stat st;
    cr_assert_eq(stat(seg, &st), 0);
    cr_expect_gt(st.st_size, 1024 * 1024, "uncommitted records were on disk: %lld bytes",
                 (long long) st.st_size);
    free(seg);

    s_box_open(&b, 16u << 20); // the restart: the spool truncates, the file goes back
    cr_expect_eq(spool_last_seq(b.spool), 0, "nothing of it was committed");
    cr_expect(s_exists(&b, "big.csv"), "back in the inbox");
    cr_expect_eq(s_take(&b, 1000), 1, "and taken again at once");
    cr_expect(s_exists(&b, "done/big.csv"));
    s_check_big(&b, n);
    free(data);
    s_box_destroy(&b);
}
