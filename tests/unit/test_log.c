/*  test_log - the line format: journald priority prefixes when stderr is the journal's stream
 *  (JOURNAL_STREAM names it), the timestamped format otherwise, trailing newlines dropped
 *
 *  Each test points stderr at a temporary file, sets JOURNAL_STREAM to that file's device and
 *  inode (or to something else), calls log_init() and reads back what was written. Criterion
 *  runs each test in a process of its own, so the level and the format do not leak between them.
 */
#include "log.h"

#include <criterion/criterion.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

TestSuite(log);

typedef struct {
    char path[64]; // the file stderr now goes to
    int saved;     // the original stderr
} s_capture_t;

/*  Sends stderr to a new temporary file; with journal, JOURNAL_STREAM names it. */
static void s_capture(s_capture_t *c, const char *journal_stream, bool journal)
{
    snprintf(c->path, sizeof c->path, "/tmp/edu-test-log.XXXXXX");
    int fd = mkstemp(c->path);
    cr_assert_geq(fd, 0);
    fflush(stderr);
    c->saved = dup(STDERR_FILENO);
    cr_assert_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    close(fd);
    if (journal) {
        struct stat st;
        cr_assert_eq(fstat(STDERR_FILENO, &st), 0);
        char value[64];
        snprintf(value, sizeof value, "%llu:%llu", (unsigned long long) st.st_dev,
                 (unsigned long long) st.st_ino);
        setenv("JOURNAL_STREAM", value, 1);
    } else if (journal_stream) {
        setenv("JOURNAL_STREAM", journal_stream, 1);
    } else {
        unsetenv("JOURNAL_STREAM");
    }
    log_init();
}

/*  Restores stderr and returns what was written to the file (caller frees). */
static char *s_release(s_capture_t *c)
{
    fflush(stderr);
    dup2(c->saved, STDERR_FILENO);
    close(c->saved);
    FILE *f = fopen(c->path, "r");
    cr_assert_not_null(f);
    char *text = calloc(1, 65536);
    size_t n = fread(text, 1, 65535, f);
    text[n] = '\0';
    fclose(f);
    unlink(c->path);
    return text;
}

static bool s_matches(const char *text, const char *pattern)
{
    regex_t re;
    cr_assert_eq(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB | REG_NEWLINE), 0, "%s", pattern);
    bool found = regexec(&re, text, 0, NULL, 0) == 0;
    regfree(&re);
    return found;
}

Test(log, under_the_journal_each_level_has_its_priority_and_no_timestamp)
{
    s_capture_t c;
    s_capture(&c, NULL, true);
    log_error("spool", "cannot open \"%s\"", "x");
    log_warn("sender", "could not reach %s", "tcp://127.0.0.1:5555");
    log_info("inbox", "took %d records", 3);
    log_debug("inbox", "not shown at the default level");
    log_set_level(LOG_LEVEL_DEBUG);
    log_debug("inbox", "shown now");
    char *text = s_release(&c);
    cr_expect_str_eq(text, "<3>spool: cannot open \"x\"\n"
                           "<4>sender: could not reach tcp://127.0.0.1:5555\n"
                           "<6>inbox: took 3 records\n"
                           "<7>inbox: shown now\n");
    free(text);
}

Test(log, a_trailing_newline_is_dropped_and_each_further_line_keeps_the_priority)
{
    s_capture_t c;
    s_capture(&c, NULL, true);
    // what libpq's PQerrorMessage looks like: a detail line, and a newline at the end
    log_error("store", "could not store: %s", "connection lost\nDETAIL:  server closed\n");
    char *text = s_release(&c);
    cr_expect_str_eq(text, "<3>store: could not store: connection lost\n"
                           "<3>store:   DETAIL:  server closed\n");
    free(text);
}

Test(log, elsewhere_each_line_of_a_message_has_its_timestamp_level_and_module)
{
    s_capture_t c;
    s_capture(&c, NULL, false);
    // libpq's "could not connect" message: a second line indented with a tab
    log_warn("aggregator", "could not connect: %s",
             "Connection refused\n\tIs the server running on that host?\n");
    char *text = s_release(&c);
    cr_expect(
        s_matches(text, "^[0-9T:-]+Z warn  aggregator: could not connect: Connection refused$"),
        "%s", text);
    cr_expect(
        s_matches(text, "^[0-9T:-]+Z warn  aggregator:   Is the server running on that host\\?$"),
        "%s", text);
    cr_expect(!strchr(text, '\t'), "no tab: %s", text);
    cr_expect(!strstr(text, "\n\n"), "no empty line: %s", text);
    free(text);
}

Test(log, complaints_and_their_release_carry_their_priorities)
{
    s_capture_t c;
    s_capture(&c, NULL, true);
    log_complain_t down = {0};
    log_complain(&down, LOG_LEVEL_WARN, "aggregator", "could not connect to the database");
    log_complain(&down, LOG_LEVEL_WARN, "aggregator", "could not connect to the database");
    log_release(&down, "aggregator", "database reached");
    char *text = s_release(&c);
    cr_expect_str_eq(text, "<4>aggregator: could not connect to the database\n"
                           "<6>aggregator: database reached\n");
    free(text);
}

/*  Not the journal: JOURNAL_STREAM absent, naming another file (stderr redirected inside the
 *  unit), or not DEVICE:INODE at all. */
static const char *s_not_journal[] = {NULL, "1:1", "garbage", "", "12"};

Test(log, elsewhere_lines_keep_their_timestamp_and_level_name)
{
    for (size_t i = 0; i < sizeof s_not_journal / sizeof *s_not_journal; i++) {
        s_capture_t c;
        s_capture(&c, s_not_journal[i], false);
        log_warn("sender", "could not reach %s", "tcp://127.0.0.1:5555");
        log_error("store", "could not store: %s", "connection lost\n");
        char *text = s_release(&c);
        const char *stream = s_not_journal[i] ? s_not_journal[i] : "(unset)";
        cr_expect(s_matches(text, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z warn  "
                                  "sender: could not reach tcp://127.0.0.1:5555$"),
                  "JOURNAL_STREAM=%s: %s", stream, text);
        cr_expect(s_matches(text, "Z error store: could not store: connection lost$"),
                  "JOURNAL_STREAM=%s: %s", stream, text);
        cr_expect(!strchr(text, '<'), "no priority prefix with JOURNAL_STREAM=%s: %s", stream,
                  text);
        cr_expect(!strstr(text, "\n\n"), "no empty line: %s", text);
        free(text);
    }
}

Test(log, the_journal_stream_of_another_file_on_the_same_device_is_not_the_journal)
{
    // the unit's stderr was the journal, but a script inside it sent stderr to a file
    char other[] = "/tmp/edu-test-log-other.XXXXXX";
    int fd = mkstemp(other);
    cr_assert_geq(fd, 0);
    struct stat st;
    cr_assert_eq(fstat(fd, &st), 0);
    close(fd);
    char stream[64];
    snprintf(stream, sizeof stream, "%llu:%llu", (unsigned long long) st.st_dev,
             (unsigned long long) st.st_ino);
    s_capture_t c;
    s_capture(&c, stream, false);
    log_warn("sender", "could not reach the county");
    char *text = s_release(&c);
    unlink(other);
    cr_expect(s_matches(text, "Z warn  sender: could not reach the county$"), "%s", text);
    free(text);
}
