/*  inbox - where a school's staff drop CSV files, and how a file is taken
 *
 *  inotify tells us when a file was closed after writing or moved in; a scan of the directory
 *  on every event (and periodically, by the caller) finds what is ready, so a missed event or a
 *  file that waited for room in the spool is never forgotten.
 */
#include "inbox.h"

#include "log.h"
#include "rows.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct inbox_t {
    char *dir;            // the inbox
    char *taking;         // dir/.taking
    char *done;           // dir/done
    char *rejected;       // dir/rejected
    spool_t *spool;       // borrowed
    int inotify;          // inotify descriptor (-1 if unavailable: scans still work)
    log_complain_t full;  // "spool full", reported once with back-off
    inbox_stats_t stats;  // since start
};

typedef struct {
    char *name;    // file name in the inbox
    time_t mtime;  // for oldest-first order
    off_t size;    // for the room check
} s_ready_t;

static int s_mkdir(const char *path, char *err, size_t errlen)
{
    if (mkdir(path, 0750) != 0 && errno != EEXIST)
        return errorf(err, errlen, "could not create \"%s\": %s", path, strerror(errno));
    return 0;
}

/*  Renames from to dir/name, or dir/name.N when that exists. */
static int s_move_unique(const char *from, const char *dir, const char *name)
{
    char *to = xasprintf("%s/%s", dir, name);
    struct stat st;
    for (int n = 1; stat(to, &st) == 0 && n < 100000; n++) {
        free(to);
        to = xasprintf("%s/%s.%d", dir, name, n);
    }
    int rc = rename(from, to);
    if (rc != 0)
        log_error("inbox", "could not move \"%s\" to \"%s\": %s", from, to, strerror(errno));
    free(to);
    return rc;
}

/*  The original file name inside a tag "<nanoseconds>-<name>". */
static const char *s_tag_name(const char *tag)
{
    const char *dash = strchr(tag, '-');
    return dash ? dash + 1 : tag;
}

static void s_recover(inbox_t *self)
{
    DIR *d = opendir(self->taking);
    if (!d)
        return;
    struct dirent *e;
    const char *last = spool_last_tag(self->spool);
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *path = xasprintf("%s/%s", self->taking, e->d_name);
        if (last && strcmp(last, e->d_name) == 0) {
            log_info("inbox", "file \"%s\" was taken before a restart; moving it to done/",
                     s_tag_name(e->d_name));
            s_move_unique(path, self->done, s_tag_name(e->d_name));
        } else {
            log_info("inbox", "file \"%s\" was being taken at a restart; taking it again",
                     s_tag_name(e->d_name));
            s_move_unique(path, self->dir, s_tag_name(e->d_name));
        }
        free(path);
    }
    closedir(d);
}

inbox_t *inbox_new(const char *dir, spool_t *spool, char *err, size_t errlen)
{
    inbox_t *self = xcalloc(1, sizeof *self);
    self->dir = xstrdup(dir);
    self->taking = xasprintf("%s/.taking", dir);
    self->done = xasprintf("%s/done", dir);
    self->rejected = xasprintf("%s/rejected", dir);
    self->spool = spool;
    self->inotify = -1;
    if (s_mkdir(dir, err, errlen) || s_mkdir(self->taking, err, errlen) ||
        s_mkdir(self->done, err, errlen) || s_mkdir(self->rejected, err, errlen)) {
        inbox_destroy(&self);
        return NULL;
    }
    self->inotify = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (self->inotify < 0 ||
        inotify_add_watch(self->inotify, dir, IN_CLOSE_WRITE | IN_MOVED_TO) < 0) {
        errorf(err, errlen, "could not watch \"%s\": %s", dir, strerror(errno));
        inbox_destroy(&self);
        return NULL;
    }
    s_recover(self);
    return self;
}

void inbox_destroy(inbox_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    inbox_t *self = *self_p;
    if (self->inotify >= 0)
        close(self->inotify);
    free(self->dir), free(self->taking), free(self->done), free(self->rejected);
    free(self);
    *self_p = NULL;
}

const inbox_stats_t *inbox_stats(const inbox_t *self)
{
    return &self->stats;
}

int inbox_fd(inbox_t *self)
{
    return self->inotify;
}

void inbox_drain_events(inbox_t *self)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    while (read(self->inotify, buf, sizeof buf) > 0)
        ;
}

static bool s_is_ready(const char *name)
{
    return name[0] != '.' && strlen(name) > 4 && strcasecmp(name + strlen(name) - 4, ".csv") == 0;
}

static int s_by_age(const void *a, const void *b)
{
    const s_ready_t *x = a, *y = b;
    if (x->mtime != y->mtime)
        return x->mtime < y->mtime ? -1 : 1;
    return strcmp(x->name, y->name);
}

/*  Appends lines to rejected/<name>.errors.csv, writing the header when the file is new. */
static FILE *s_open_errors(inbox_t *self, const char *name)
{
    char *path = xasprintf("%s/%s.errors.csv", self->rejected, name);
    struct stat st;
    bool fresh = stat(path, &st) != 0 || st.st_size == 0;
    FILE *f = fopen(path, "a");
    if (!f)
        log_error("inbox", "could not write \"%s\": %s", path, strerror(errno));
    else if (fresh)
        fputs("row,column,reason,detail\n", f);
    free(path);
    return f;
}

/*  Writes s as a CSV field. */
static void s_csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void s_error_line(FILE *f, unsigned row, const char *column, const char *reason,
                         const char *detail)
{
    fprintf(f, "%u,", row);
    s_csv_field(f, column);
    fputc(',', f);
    s_csv_field(f, reason);
    fputc(',', f);
    s_csv_field(f, detail);
    fputc('\n', f);
}

void inbox_report_refusal(inbox_t *self, const Edu__V1__Refusal *r)
{
    const char *name = *r->source_file ? r->source_file : "unknown-file";
    if (strchr(name, '/'))
        name = strrchr(name, '/') + 1;
    FILE *f = s_open_errors(self, name);
    if (!f)
        return;
    s_error_line(f, r->source_row, r->column, r->reason, r->detail);
    fclose(f);
}

/*  Appends the parsed records to the spool. Returns 0, or -1 (err) after spool_abort(). */
static int s_spool_records(inbox_t *self, const rows_t *rows, const char *name, char *err,
                           size_t errlen)
{
    uint8_t stack[512];
    for (size_t i = 0; i < rows_record_count(rows); i++) {
        const rows_record_t *row = rows_record(rows, i);
        Edu__V1__Record rec = EDU__V1__RECORD__INIT;
        rec.school_code = (char *) row->school_code;
        rec.indicator = (char *) row->indicator;
        rec.period = (char *) row->period;
        rec.value = row->value;
        rec.source_file = (char *) name;
        rec.source_row = row->line;
        size_t size = edu__v1__record__get_packed_size(&rec);
        uint8_t *buf = size <= sizeof stack ? stack : xmalloc(size);
        edu__v1__record__pack(&rec, buf);
        uint64_t seq;
        int rc = spool_append(self->spool, buf, size, &seq, err, errlen);
        if (buf != stack)
            free(buf);
        if (rc != 0) {
            spool_abort(self->spool);
            return -1;
        }
    }
    return 0;
}

/*  Takes one file (steps 1-4 above). Returns 0 when taken, -1 when left for later. */
static int s_take(inbox_t *self, const s_ready_t *file)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char *tag = xasprintf("%lld%09ld-%s", (long long) ts.tv_sec, ts.tv_nsec, file->name);
    char *from = xasprintf("%s/%s", self->dir, file->name);
    char *held = xasprintf("%s/%s", self->taking, tag);
    char err[512];
    int rc = -1;
    rows_t *rows = NULL;
    char *data = NULL;
    if (rename(from, held) != 0) {
        log_warn("inbox", "could not take \"%s\": %s", from, strerror(errno));
        goto cleanup;
    }
    size_t size = 0;
    data = file_read_all(held, &size, err, sizeof err);
    if (!data) {
        log_error("inbox", "%s", err);
        s_move_unique(held, self->dir, file->name);
        goto cleanup;
    }
    rows = rows_parse(data, size);
    if (rows_error_count(rows)) {
        FILE *f = s_open_errors(self, file->name);
        for (size_t i = 0; f && i < rows_error_count(rows); i++) {
            const rows_error_t *e = rows_error(rows, i);
            s_error_line(f, e->line, e->column, "parse_error", e->reason);
        }
        if (f)
            fclose(f);
    }
    if (rows_fatal(rows)) {
        log_warn("inbox", "cannot read \"%s\": %s; moved to rejected/", file->name,
                 rows_error(rows, 0)->reason);
        s_move_unique(held, self->rejected, file->name);
        self->stats.files_rejected++;
        rc = 0;
        goto cleanup;
    }
    if (s_spool_records(self, rows, file->name, err, sizeof err) != 0 ||
        spool_commit(self->spool, tag, err, sizeof err) != 0) {
        spool_abort(self->spool);
        log_error("inbox", "could not spool \"%s\", it stays in the inbox: %s", file->name, err);
        s_move_unique(held, self->dir, file->name);
        goto cleanup;
    }
    log_info("inbox", "took \"%s\": %zu records spooled, %zu rows refused", file->name,
             rows_record_count(rows), rows_error_count(rows));
    s_move_unique(held, self->done, file->name);
    self->stats.files_taken++;
    self->stats.records_spooled += rows_record_count(rows);
    self->stats.rows_refused += rows_error_count(rows);
    rc = 0;
cleanup:
    rows_destroy(&rows);
    free(data);
    free(tag), free(from), free(held);
    return rc;
}

int inbox_take_ready(inbox_t *self)
{
    DIR *d = opendir(self->dir);
    if (!d) {
        log_error("inbox", "could not read \"%s\": %s", self->dir, strerror(errno));
        return -1;
    }
    s_ready_t *files = NULL;
    size_t count = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!s_is_ready(e->d_name))
            continue;
        char *path = xasprintf("%s/%s", self->dir, e->d_name);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            files = xrealloc(files, (count + 1) * sizeof *files);
            files[count++] = (s_ready_t){xstrdup(e->d_name), st.st_mtime, st.st_size};
        }
        free(path);
    }
    closedir(d);
    if (count > 1)
        qsort(files, count, sizeof *files, s_by_age);
    int taken = 0;
    for (size_t i = 0; i < count && taken >= 0; i++) {
        // a record takes a few times the bytes of its CSV row in the spool
        uint64_t need = (uint64_t) files[i].size * 4 + 4096;
        if (!spool_has_room(self->spool, need)) {
            log_complain(&self->full, LOG_LEVEL_WARN, "inbox",
                         "spool is full (%llu bytes): \"%s\" waits in the inbox until the "
                         "county acknowledges what is spooled",
                         (unsigned long long) spool_bytes(self->spool), files[i].name);
            taken = -1;
        } else if (s_take(self, &files[i]) == 0) {
            log_release(&self->full, "inbox", "spool has room again");
            taken++;
        } else {
            taken = -1;
        }
    }
    for (size_t i = 0; i < count; i++)
        free(files[i].name);
    free(files);
    return taken;
}
