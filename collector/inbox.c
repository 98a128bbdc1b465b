/*  inbox - where a school's staff drop CSV files, and how a file is taken
 *
 *  The inbox keeps a small table of the candidates it knows (name, what inotify said of it last,
 *  its inode, size and modification time as last seen, when that last changed). inotify events
 *  only update the table; a scan of the directory (after a close or rename event, when a file
 *  is due to have settled, and periodically, by the caller) stats every candidate, judges which
 *  are ready and takes them in order. A missed event, a file that waited for room in the spool
 *  or a file on a network share is therefore never forgotten, and a burst of IN_MODIFY events
 *  while a big file is written costs no scan.
 */
#include "inbox.h"

#include "feedback.h"
#include "log.h"
#include "rows.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef enum {
    S_SEEN = 0, // found by a scan, no event known: settles by time alone
    S_WRITING,  // created or written and not closed since: not ready
    S_CLOSED,   // closed after writing: settles from the close
    S_MOVED,    // renamed into the inbox: complete
} s_state_t;

typedef struct {
    char *name;            // file name in the inbox
    s_state_t state;       // what inotify said of it last
    uint64_t arrival;      // order of its last close or rename event (0: none)
    bool observed;         // ino, size and mtime hold what a scan saw
    ino_t ino;             // as last seen
    off_t size;            // as last seen
    struct timespec mtime; // as last seen
    int64_t changed_ms;    // when the last change known of it happened (monotonic)
    bool present;          // found by the current scan
    bool returned;         // put back by the inbox itself: its IN_MOVED_TO is not a writer's
} s_file_t;

struct inbox_t {
    inbox_config_t config; // copied; strings borrowed from the caller
    char *dir;             // the inbox
    char *taking;          // dir/.taking
    char *done;            // dir/done
    char *rejected;        // dir/rejected
    char *delivered;       // dir/delivered
    spool_t *spool;        // borrowed
    receipts_t *receipts;  // borrowed
    int inotify;           // inotify descriptor (-1 if unavailable: scans still work)
    log_complain_t full;   // "spool full", reported once with back-off
    log_complain_t failing; // a take that fails (disk full, unreadable), reported once
    log_complain_t unwatched; // no inotify to be had, reported once
    inbox_stats_t stats;   // since start
    s_file_t *files;       // the candidates known
    size_t count;          // entries used in files
    size_t cap;            // entries allocated in files
    uint64_t arrivals;     // close and rename events counted
    int64_t scanned_ms;    // when the last scan ran (monotonic)
};

static const char *s_workbooks[] = {".xlsx", ".xlsm", ".xls", ".et", ".ods"};

static int s_mkdir(const char *path, char *err, size_t errlen)
{
    if (mkdir(path, 0750) != 0 && errno != EEXIST)
        return errorf(err, errlen, "could not create \"%s\": %s", path, strerror(errno));
    return 0;
}

static bool s_ends_with_ci(const char *name, const char *suffix)
{
    size_t n = strlen(name), k = strlen(suffix);
    return n > k && strcasecmp(name + n - k, suffix) == 0;
}

static bool s_is_workbook(const char *name)
{
    for (size_t i = 0; i < sizeof s_workbooks / sizeof s_workbooks[0]; i++) {
        if (s_ends_with_ci(name, s_workbooks[i]))
            return true;
    }
    return false;
}

/*  True for the names the inbox takes (or refuses with a hint). */
static bool s_is_candidate(const char *name)
{
    if (name[0] == '.' || strncmp(name, "~$", 2) == 0)
        return false; // hidden, or an editor's lock file (Excel's ~$x.xlsx)
    return s_ends_with_ci(name, ".csv") || s_is_workbook(name);
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

/*  The name a take of name gets: name itself (suffix 0) or name.N. Caller frees. */
static char *s_take_name(const char *name, unsigned suffix)
{
    return suffix ? xasprintf("%s.%u", name, suffix) : xstrdup(name);
}

/*  True when path exists. */
static bool s_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/*  The lowest suffix whose take name no earlier take has used: not in done/ nor delivered/,
 *  no errors file of that name in rejected/. */
static unsigned s_free_suffix(const inbox_t *self, const char *name)
{
    for (unsigned n = 0;; n++) {
        char *take = s_take_name(name, n);
        char *paths[] = {xasprintf("%s/%s", self->done, take),
                         xasprintf("%s/%s", self->delivered, take),
                         xasprintf("%s/%s", self->rejected, take),
                         xasprintf("%s/%s.errors.csv", self->rejected, take)};
        bool used = receipts_find(self->receipts, take) != NULL;
        for (size_t i = 0; i < 4; i++) {
            used = used || s_exists(paths[i]);
            free(paths[i]);
        }
        free(take);
        if (!used || n >= 100000)
            return n;
    }
}

/*  Splits a tag "<nanoseconds>+<suffix>-<name>" (or the older "<nanoseconds>-<name>") into its
 *  original name (borrowed from tag) and suffix. Returns 0, or -1 when tag is neither. */
static int s_tag_parse(const char *tag, const char **name, unsigned *suffix)
{
    const char *p = tag;
    while (*p >= '0' && *p <= '9')
        p++;
    if (p == tag)
        return -1;
    *suffix = 0;
    if (*p == '+') {
        char *end = NULL;
        unsigned long n = strtoul(p + 1, &end, 10);
        if (end == p + 1 || n > 100000)
            return -1;
        *suffix = (unsigned) n;
        p = end;
    }
    if (*p != '-' || p[1] == '\0')
        return -1;
    *name = p + 1;
    return 0;
}

/*  The errors file of a take name. Caller frees. */
static char *s_errors_path(const inbox_t *self, const char *take)
{
    return xasprintf("%s/%s.errors.csv", self->rejected, take);
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
        const char *name = e->d_name;
        unsigned suffix = 0;
        if (s_tag_parse(e->d_name, &name, &suffix) != 0) {
            name = e->d_name;
            suffix = 0;
        }
        char *take = s_take_name(name, suffix);
        if (last && strcmp(last, e->d_name) == 0) {
            log_info("inbox", "file \"%s\" was taken before a restart; moving it to done/", take);
            s_move_unique(path, self->done, take);
        } else {
            log_info("inbox", "file \"%s\" was being taken at a restart; taking it again", name);
            receipts_forget(self->receipts, take);
            char *errors = s_errors_path(self, take);
            unlink(errors);
            free(errors);
            s_move_unique(path, self->dir, name);
        }
        free(take);
        free(path);
    }
    closedir(d);
}

/*  Watches the inbox with inotify. When the user's instances or watches are used up, logs it
 *  (once) and leaves inotify at -1: scans alone still take every file, each once it has
 *  settled by time; the next scans try again. */
static void s_watch(inbox_t *self)
{
    // files that leave are forgotten by the next scan, which does not find them
    uint32_t mask = IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO | IN_ATTRIB;
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd >= 0 && inotify_add_watch(fd, self->dir, mask) >= 0) {
        self->inotify = fd;
        log_release(&self->unwatched, "inbox", "watching \"%s\" again", self->dir);
        return;
    }
    log_complain(&self->unwatched, LOG_LEVEL_WARN, "inbox",
                 "could not watch \"%s\": %s; files are found by the periodic scan alone, and "
                 "settle by time", self->dir, strerror(errno));
    if (fd >= 0)
        close(fd);
}

inbox_t *inbox_new(const inbox_config_t *config, spool_t *spool, receipts_t *receipts, char *err,
                   size_t errlen)
{
    inbox_t *self = xcalloc(1, sizeof *self);
    self->config = *config;
    self->dir = xstrdup(config->dir);
    self->taking = xasprintf("%s/.taking", config->dir);
    self->done = xasprintf("%s/done", config->dir);
    self->rejected = xasprintf("%s/rejected", config->dir);
    self->delivered = xasprintf("%s/delivered", config->dir);
    self->spool = spool;
    self->receipts = receipts;
    self->inotify = -1;
    if (s_mkdir(self->dir, err, errlen) || s_mkdir(self->taking, err, errlen) ||
        s_mkdir(self->done, err, errlen) || s_mkdir(self->rejected, err, errlen) ||
        s_mkdir(self->delivered, err, errlen)) {
        inbox_destroy(&self);
        return NULL;
    }
    s_watch(self);
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
    for (size_t i = 0; i < self->count; i++)
        free(self->files[i].name);
    free(self->files);
    free(self->dir), free(self->taking), free(self->done), free(self->rejected);
    free(self->delivered);
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

static s_file_t *s_file_find(inbox_t *self, const char *name)
{
    for (size_t i = 0; i < self->count; i++) {
        if (strcmp(self->files[i].name, name) == 0)
            return &self->files[i];
    }
    return NULL;
}

static s_file_t *s_file_get(inbox_t *self, const char *name, int64_t now_ms)
{
    s_file_t *f = s_file_find(self, name);
    if (f)
        return f;
    if (self->count == self->cap) {
        self->cap = self->cap ? self->cap * 2 : 16;
        self->files = xrealloc(self->files, self->cap * sizeof *self->files);
    }
    f = &self->files[self->count++];
    *f = (s_file_t){.name = xstrdup(name), .state = S_SEEN, .changed_ms = now_ms};
    return f;
}

static void s_file_forget(inbox_t *self, const char *name)
{
    s_file_t *f = s_file_find(self, name);
    if (!f)
        return;
    free(f->name);
    *f = self->files[--self->count];
}

bool inbox_drain_events(inbox_t *self, int64_t now_ms)
{
    if (self->inotify < 0)
        return false;
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    bool worth = false;
    ssize_t n;
    while ((n = read(self->inotify, buf, sizeof buf)) > 0) {
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *) p;
            p += sizeof *ev + ev->len;
            if (ev->mask & IN_Q_OVERFLOW) {
                // events were lost: judge every file by time alone from now on
                for (size_t i = 0; i < self->count; i++) {
                    self->files[i].state = S_SEEN;
                    self->files[i].changed_ms = now_ms;
                }
                log_warn("inbox", "file-system events were lost; files settle by time alone");
                worth = true;
                continue;
            }
            if (!ev->len || (ev->mask & IN_ISDIR) || !s_is_candidate(ev->name))
                continue;
            s_file_t *f = s_file_get(self, ev->name, now_ms);
            if ((ev->mask & IN_MOVED_TO) && f->returned) {
                f->returned = false; // the inbox's own rename: the file still settles
                continue;
            }
            if (ev->mask & IN_MOVED_TO) {
                f->state = S_MOVED;
                f->arrival = ++self->arrivals;
                f->observed = false;
                worth = true;
            } else if (ev->mask & IN_CLOSE_WRITE) {
                f->state = S_CLOSED;
                f->arrival = ++self->arrivals;
                f->observed = false;
                worth = true;
            } else if (ev->mask & (IN_CREATE | IN_MODIFY)) {
                f->state = S_WRITING;
            }
            if (!(ev->mask & IN_MOVED_TO))
                f->changed_ms = now_ms; // IN_ATTRIB too: touch -d, a copy setting the time
        }
    }
    return worth;
}

/*  Whether a file may be taken now, with what the scan saw of it. */
static bool s_file_ready(const inbox_t *self, const s_file_t *f, int64_t now_ms)
{
    switch (f->state) {
    case S_MOVED: return true;
    case S_WRITING: return false;
    case S_CLOSED: return now_ms - f->changed_ms >= self->config.settle_ms;
    case S_SEEN: break;
    }
    if (now_ms - f->changed_ms >= self->config.settle_ms)
        return true;
    // already settled before anyone looked: its last write is settle_ms in the past
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t age_ms = (int64_t) (now.tv_sec - f->mtime.tv_sec) * 1000 +
                     (now.tv_nsec - f->mtime.tv_nsec) / 1000000;
    return age_ms >= self->config.settle_ms;
}

static int s_by_arrival(const void *a, const void *b)
{
    const s_file_t *x = *(const s_file_t *const *) a, *y = *(const s_file_t *const *) b;
    if (x->mtime.tv_sec != y->mtime.tv_sec)
        return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
    if (x->mtime.tv_nsec != y->mtime.tv_nsec)
        return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
    if (x->arrival && y->arrival && x->arrival != y->arrival)
        return x->arrival < y->arrival ? -1 : 1;
    if (x->ino != y->ino)
        return x->ino < y->ino ? -1 : 1;
    return strcmp(x->name, y->name);
}

int64_t inbox_next_ready_ms(const inbox_t *self)
{
    int64_t next = -1;
    for (size_t i = 0; i < self->count; i++) {
        const s_file_t *f = &self->files[i];
        if (f->state != S_CLOSED && f->state != S_SEEN)
            continue;
        int64_t at = f->changed_ms + self->config.settle_ms;
        if (at > self->scanned_ms && (next < 0 || at < next))
            next = at; // not yet judged settled by a scan
    }
    return next;
}

/*  True when a file name cannot be a take name: too long, not UTF-8, control characters. */
static bool s_bad_name(const char *name)
{
    for (const char *p = name; *p; p++) {
        if ((unsigned char) *p < 0x20 || *p == 0x7f)
            return true;
    }
    return strlen(name) > INBOX_MAX_NAME || !utf8_valid(name, strlen(name));
}

/*  name itself when it is a good name; otherwise cut to at most 120 bytes at a character
 *  boundary, with control characters replaced, for the errors file of a file whose own name
 *  cannot carry one. Caller frees. */
static char *s_safe_name(const char *name)
{
    if (!s_bad_name(name))
        return xstrdup(name);
    size_t len = strlen(name);
    size_t cut = len;
    if (cut > 120) {
        cut = 120;
        while (cut > 0 && ((unsigned char) name[cut] & 0xC0) == 0x80)
            cut--;
    }
    char *out = xasprintf("%.*s%s", (int) cut, name, cut < len ? "…" : "");
    bool utf8 = utf8_valid(out, strlen(out));
    for (char *p = out; *p; p++) {
        unsigned char c = (unsigned char) *p;
        if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8))
            *p = '_';
    }
    return out;
}

/*  Moves a file the inbox will not take into rejected/, with one line in its errors file. */
static void s_refuse(inbox_t *self, const s_file_t *file, const char *code, const char *reason,
                     const char *explain)
{
    char *safe = s_safe_name(file->name);
    char *errors = xasprintf("%s/%s.errors.csv", self->rejected, safe);
    char err[512];
    feedback_line_t line = {1, "", code, explain, reason};
    if (feedback_add(errors, &line, 1, err, sizeof err) != 0)
        log_error("inbox", "%s", err);
    char *from = xasprintf("%s/%s", self->dir, file->name);
    log_warn("inbox", "cannot take \"%s\": %s; moved to rejected/", safe, reason);
    s_move_unique(from, self->rejected, safe);
    receipt_t receipt = {.name = safe, .taken_ms = 0, .rows_refused = 1};
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    receipt.taken_ms = (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000;
    if (!receipts_find(self->receipts, safe) &&
        receipts_add(self->receipts, &receipt, err, sizeof err) != 0)
        log_warn("inbox", "%s", err);
    self->stats.files_rejected++;
    free(from);
    free(errors);
    free(safe);
}

/*  Refuses a file before reading it when its name, kind or size says it cannot be taken.
 *  Returns true when it did. */
static bool s_refuse_unfit(inbox_t *self, const s_file_t *file)
{
    if (s_bad_name(file->name)) {
        char *reason = xasprintf("file name is longer than %d bytes, not UTF-8, or has control "
                                 "characters", INBOX_MAX_NAME);
        s_refuse(self, file, "bad_file_name", reason,
                 "文件名太长（超过 200 字节，约 66 个汉字）或含有特殊字符：请改个短一些的文件名，"
                 "再放进收件夹");
        free(reason);
        return true;
    }
    if (s_is_workbook(file->name)) {
        s_refuse(self, file, "not_csv", "file is a workbook, not CSV text",
                 "这是 Excel 或 WPS 工作簿，不是 CSV 文件：请在 Excel 中点“文件”→“另存为”，保存类型选"
                 "“CSV UTF-8（逗号分隔）(*.csv)”或“CSV（逗号分隔）(*.csv)”，再把保存好的 .csv "
                 "文件放进收件夹");
        return true;
    }
    if ((uint64_t) file->size > self->config.max_file_bytes) {
        char *reason = xasprintf("file has %lld bytes, more than the %llu a file may have "
                                 "(max_file_mb, and a quarter of spool_max_mb)",
                                 (long long) file->size,
                                 (unsigned long long) self->config.max_file_bytes);
        char *explain = xasprintf("文件太大（%lld 字节，最多 %llu 字节）：请把数据分成几个文件，"
                                  "或请管理员调大 max_file_mb",
                                  (long long) file->size,
                                  (unsigned long long) self->config.max_file_bytes);
        s_refuse(self, file, "file_too_large", reason, explain);
        free(reason);
        free(explain);
        return true;
    }
    return false;
}

/*  Reads the records of an opened file and appends each to the spool as it comes; *first and
 *  *last get the seqs used (untouched when there is none), *count how many. Reports progress
 *  while it takes long. Returns 0, or -1 with err when the file could not be read on or a
 *  record not appended; the caller then aborts the spool's appends. */
static int s_spool_records(inbox_t *self, rows_t *rows, const char *name, const char *take,
                           uint64_t *first, uint64_t *last, uint64_t *count, char *err,
                           size_t errlen)
{
    uint8_t stack[512];
    int64_t start = clock_mono_ms();
    int64_t next_progress = start + self->config.progress_ms;
    int64_t next_log = start + INBOX_PROGRESS_LOG_MS;
    uint64_t n = 0;
    rows_record_t row;
    int rc;
    while ((rc = rows_next(rows, &row, err, errlen)) == 1) {
        Edu__V1__Record rec = EDU__V1__RECORD__INIT;
        rec.school_code = (char *) row.school_code;
        rec.indicator = (char *) row.indicator;
        rec.period = (char *) row.period;
        rec.value = row.value;
        rec.source_file = (char *) take;
        rec.source_row = row.line;
        size_t size = edu__v1__record__get_packed_size(&rec);
        uint8_t *buf = size <= sizeof stack ? stack : xmalloc(size);
        edu__v1__record__pack(&rec, buf);
        uint64_t seq;
        int appended = spool_append(self->spool, buf, size, &seq, err, errlen);
        if (buf != stack)
            free(buf);
        if (appended != 0)
            return -1;
        if (n++ == 0)
            *first = seq;
        *last = seq;
        if (n % 1024 != 0)
            continue;
        int64_t now = clock_mono_ms();
        if (now >= next_progress) {
            next_progress = now + self->config.progress_ms;
            if (self->config.progress)
                self->config.progress(self->config.progress_arg, name, rows_read_count(rows), n);
        }
        if (now >= next_log) {
            next_log = now + INBOX_PROGRESS_LOG_MS;
            log_info("inbox",
                     "taking \"%s\": %zu rows read, %" PRIu64 " records spooled so far "
                     "(committed when the file is read to its end), %" PRId64 " s",
                     name, rows_read_count(rows), n, (now - start) / 1000);
        }
    }
    *count = n;
    return rc < 0 ? -1 : 0;
}

/*  Writes a file's row errors (and a line for those beyond the bound) to its errors file. */
static void s_report_rows(inbox_t *self, const rows_t *rows, const char *take)
{
    size_t n = rows_error_count(rows);
    if (!n)
        return;
    feedback_line_t *lines = xcalloc(n + 1, sizeof *lines);
    for (size_t i = 0; i < n; i++) {
        const rows_error_t *e = rows_error(rows, i);
        lines[i] = (feedback_line_t){e->line, e->column, e->code, e->hint, e->reason};
    }
    char *more = NULL, *more_zh = NULL;
    if (rows_errors_dropped(rows)) {
        more = xasprintf("%zu more problems not listed", rows_errors_dropped(rows));
        more_zh = xasprintf("另有 %zu 处问题未列出：请先改正上面列出的问题，再重新放入文件",
                            rows_errors_dropped(rows));
        unsigned last = rows_error(rows, n - 1)->line;
        lines[n] = (feedback_line_t){last, "", "too_many_errors", more_zh, more};
        n++;
    }
    char *path = s_errors_path(self, take);
    char err[512];
    if (feedback_add(path, lines, n, err, sizeof err) != 0)
        log_error("inbox", "%s", err);
    free(path);
    free(more);
    free(more_zh);
    free(lines);
}

static bool s_same_file(const struct stat *st, const s_file_t *f)
{
    return st->st_ino == f->ino && st->st_size == f->size &&
           st->st_mtim.tv_sec == f->mtime.tv_sec && st->st_mtim.tv_nsec == f->mtime.tv_nsec;
}

typedef enum { S_TAKEN, S_CHANGED, S_LEFT } s_take_t;

/*  Puts a file being taken back into the inbox after a failure, undoing what its take wrote
 *  (errors file, receipt). It is tried again at the next periodic scan, not at once: its own
 *  IN_MOVED_TO is not a writer's. */
static void s_put_back(inbox_t *self, s_file_t *file, const char *held, const char *from,
                       const char *take, int64_t now_ms)
{
    receipts_forget(self->receipts, take);
    char *errors = s_errors_path(self, take);
    unlink(errors);
    free(errors);
    file->returned = rename(held, from) == 0;
    if (!file->returned)
        s_move_unique(held, self->dir, file->name);
    file->state = S_SEEN;
    file->observed = false;
    file->changed_ms = now_ms - self->config.settle_ms; // settled: only the scan is awaited
}

/*  Takes one file (steps 1-5 of inbox.h). Returns S_TAKEN (taken or refused), S_CHANGED (it
 *  changed since it was judged: back in the inbox, waiting again) or S_LEFT (an error: left
 *  for later). */
static s_take_t s_take(inbox_t *self, s_file_t *file, int64_t now_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned suffix = s_free_suffix(self, file->name);
    char *take = s_take_name(file->name, suffix);
    char *tag = xasprintf("%lld%09ld+%u-%s", (long long) ts.tv_sec, ts.tv_nsec, suffix, file->name);
    char *from = xasprintf("%s/%s", self->dir, file->name);
    char *held = xasprintf("%s/%s", self->taking, tag);
    char *done = xasprintf("%s/%s", self->done, take);
    char err[512];
    s_take_t rc = S_LEFT;
    rows_t *rows = NULL;
    int fd = -1;
    int64_t started = clock_mono_ms();
    if (rename(from, held) != 0) {
        log_warn("inbox", "could not take \"%s\": %s", from, strerror(errno));
        goto cleanup;
    }
    // what is read must be what was judged settled, and must not change while it is read
    struct stat before, after;
    fd = open(held, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &before) != 0) {
        log_complain(&self->failing, LOG_LEVEL_ERROR, "inbox", "could not read \"%s\": %s", held,
                     strerror(errno));
        s_put_back(self, file, held, from, take, now_ms);
        goto cleanup;
    }
    receipt_t receipt = {.name = take};
    bool same = s_same_file(&before, file);
    bool unread = false; // the file could not be read on
    if (same) {
        rows = rows_open(fd, 0);
        if (!rows_fatal(rows) &&
            s_spool_records(self, rows, file->name, take, &receipt.first_seq, &receipt.last_seq,
                            &receipt.records, err, sizeof err) != 0) {
            spool_abort(self->spool);
            unread = true;
        }
        same = fstat(fd, &after) == 0 && s_same_file(&after, file);
    }
    if (!same) {
        spool_abort(self->spool);
        s_put_back(self, file, held, from, take, now_ms);
        file->changed_ms = now_ms; // it settles again from now
        log_info("inbox", "\"%s\" changed while it was being taken; it waits to settle again",
                 file->name);
        rc = S_CHANGED;
        goto cleanup;
    }
    if (unread) {
        log_complain(&self->failing, LOG_LEVEL_ERROR, "inbox",
                     "could not spool \"%s\", it stays in the inbox: %s", file->name, err);
        s_put_back(self, file, held, from, take, now_ms);
        goto cleanup;
    }
    s_report_rows(self, rows, take);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    receipt.taken_ms = (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000;
    receipt.rows_refused = rows_error_count(rows) + rows_errors_dropped(rows);
    if (rows_fatal(rows)) {
        const rows_error_t *e = rows_error(rows, 0);
        log_warn("inbox", "cannot read \"%s\": %s; moved to rejected/", file->name, e->reason);
        s_move_unique(held, self->rejected, take);
        if (receipts_add(self->receipts, &receipt, err, sizeof err) != 0)
            log_warn("inbox", "%s", err);
        self->stats.files_rejected++;
        rc = S_TAKEN;
        goto cleanup;
    }
    // the receipt goes first: a commit without it would leave the file in done/ for ever
    if (receipts_add(self->receipts, &receipt, err, sizeof err) != 0)
        log_warn("inbox", "%s", err);
    if (spool_commit(self->spool, tag, err, sizeof err) != 0) {
        spool_abort(self->spool);
        log_complain(&self->failing, LOG_LEVEL_ERROR, "inbox",
                     "could not spool \"%s\", it stays in the inbox: %s", file->name, err);
        s_put_back(self, file, held, from, take, now_ms);
        goto cleanup;
    }
    log_info("inbox",
             "took \"%s\"%s%s: %" PRIu64 " records spooled (seq %" PRIu64 "..%" PRIu64 "), %" PRIu64
             " rows refused, in %.1f s",
             file->name, suffix ? " as " : "", suffix ? take : "", receipt.records,
             receipt.first_seq, receipt.last_seq, receipt.rows_refused,
             (double) (clock_mono_ms() - started) / 1000);
    if (rename(held, done) != 0)
        s_move_unique(held, self->done, take);
    self->stats.files_taken++;
    self->stats.records_spooled += receipt.records;
    self->stats.rows_refused += receipt.rows_refused;
    rc = S_TAKEN;
cleanup:
    rows_destroy(&rows);
    if (fd >= 0)
        close(fd);
    free(take), free(tag), free(from), free(held), free(done);
    return rc;
}

/*  Stats every candidate in the directory into the table; forgets what is gone. */
static int s_scan(inbox_t *self, int64_t now_ms)
{
    DIR *d = opendir(self->dir);
    if (!d) {
        log_error("inbox", "could not read \"%s\": %s", self->dir, strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < self->count; i++)
        self->files[i].present = false;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!s_is_candidate(e->d_name))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;
        s_file_t *f = s_file_get(self, e->d_name, now_ms);
        f->present = true;
        bool changed = f->observed && !s_same_file(&st, f);
        if (changed) {
            f->changed_ms = now_ms;
            if (f->state == S_MOVED)
                f->state = S_SEEN; // written after it was renamed in: it settles like others
        }
        f->observed = true;
        f->ino = st.st_ino;
        f->size = st.st_size;
        f->mtime = st.st_mtim;
    }
    closedir(d);
    for (size_t i = 0; i < self->count;) {
        if (self->files[i].present) {
            i++;
            continue;
        }
        free(self->files[i].name);
        self->files[i] = self->files[--self->count];
    }
    self->stats.files_waiting = self->count;
    return 0;
}

int inbox_take_ready(inbox_t *self, int64_t now_ms)
{
    if (self->inotify < 0)
        s_watch(self); // the files that arrive from now on get their events
    self->scanned_ms = now_ms;
    if (s_scan(self, now_ms) != 0)
        return -1;
    size_t count = self->count;
    if (count == 0)
        return 0;
    // the order is decided on pointers; the table itself changes as files are taken
    s_file_t **order = xcalloc(count, sizeof *order);
    char **names = xcalloc(count, sizeof *names);
    for (size_t i = 0; i < count; i++)
        order[i] = &self->files[i];
    qsort(order, count, sizeof *order, s_by_arrival);
    for (size_t i = 0; i < count; i++)
        names[i] = xstrdup(order[i]->name);
    int taken = 0;
    for (size_t i = 0; i < count && taken >= 0; i++) {
        s_file_t *f = s_file_find(self, names[i]);
        if (!f)
            continue;
        if (!s_file_ready(self, f, now_ms)) {
            if (f->state == S_WRITING)
                continue; // still open for writing: its mtime will be later than the others'
            break;        // settling: the younger files wait for it
        }
        if (s_refuse_unfit(self, f)) {
            s_file_forget(self, names[i]);
            taken++;
            continue;
        }
        // a record takes a few times the bytes of its CSV row in the spool
        uint64_t need = (uint64_t) f->size * 4 + 4096;
        if (!spool_has_room(self->spool, need)) {
            log_complain(&self->full, LOG_LEVEL_WARN, "inbox",
                         "spool is full (%llu bytes): \"%s\" waits in the inbox until the "
                         "county acknowledges what is spooled",
                         (unsigned long long) spool_bytes(self->spool), f->name);
            taken = -1;
            break;
        }
        s_take_t rc = s_take(self, f, now_ms);
        if (rc == S_TAKEN) {
            log_release(&self->full, "inbox", "spool has room again");
            log_release(&self->failing, "inbox", "files are taken again");
            s_file_forget(self, names[i]);
            taken++;
        } else if (rc == S_CHANGED) {
            break; // it is younger now: the order is decided again at the next scan
        } else {
            taken = -1;
        }
    }
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
    free(order);
    self->stats.files_waiting = self->count;
    return taken;
}

/*  The errors file of a file name the county echoed back (any path cut off, bounded). */
static char *s_refusal_path(const inbox_t *self, const char *source)
{
    const char *name = source && *source ? source : "unknown-file";
    if (strrchr(name, '/'))
        name = strrchr(name, '/') + 1;
    if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        name = "unknown-file";
    char *safe = s_safe_name(name); // the county's words: no control characters, bounded
    char *path = s_errors_path(self, safe);
    free(safe);
    return path;
}

typedef struct {
    Edu__V1__Refusal *const *refusals; // the refusals (sorted by seq)
    size_t count;                      // how many
    size_t next;                       // the next one to match
    char **school;                     // the refused records' school codes, by index
    char **indicator;                  // and indicators
} s_lookup_t;

static int s_lookup(void *arg, uint64_t seq, const void *data, size_t size)
{
    s_lookup_t *l = arg;
    while (l->next < l->count && l->refusals[l->next]->seq < seq)
        l->next++;
    if (l->next == l->count)
        return 1;
    if (l->refusals[l->next]->seq != seq)
        return 0;
    Edu__V1__Record *rec = edu__v1__record__unpack(NULL, size, data);
    if (rec) {
        l->school[l->next] = xstrdup(rec->school_code);
        l->indicator[l->next] = xstrdup(rec->indicator);
        edu__v1__record__free_unpacked(rec, NULL);
    }
    return 0;
}

static int s_by_seq(const void *a, const void *b)
{
    const Edu__V1__Refusal *x = *(Edu__V1__Refusal *const *) a;
    const Edu__V1__Refusal *y = *(Edu__V1__Refusal *const *) b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int s_by_path(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

void inbox_report_refusals(inbox_t *self, Edu__V1__Refusal *const *refusals, size_t count)
{
    if (count == 0)
        return;
    Edu__V1__Refusal **sorted = xcalloc(count, sizeof *sorted);
    memcpy(sorted, refusals, count * sizeof *sorted);
    qsort(sorted, count, sizeof *sorted, s_by_seq);
    // the refused records themselves, for the hints: one pass over the spool
    s_lookup_t lookup = {sorted, count, 0, xcalloc(count, sizeof(char *)),
                         xcalloc(count, sizeof(char *))};
    char err[512];
    uint64_t span = sorted[count - 1]->seq - sorted[0]->seq + 1;
    if (sorted[0]->seq > 0 &&
        spool_read(self->spool, sorted[0]->seq, span > 1000000 ? 1000000 : (size_t) span,
                   s_lookup, &lookup, err, sizeof err) < 0)
        log_warn("inbox", "could not read the refused records back for hints: %s", err);
    // one feedback_add() per errors file
    char **paths = xcalloc(count, sizeof *paths);
    for (size_t i = 0; i < count; i++)
        paths[i] = s_refusal_path(self, sorted[i]->source_file);
    char **unique = xcalloc(count, sizeof *unique);
    memcpy(unique, paths, count * sizeof *unique);
    qsort(unique, count, sizeof *unique, s_by_path);
    feedback_line_t *lines = xcalloc(count, sizeof *lines);
    char **explains = xcalloc(count, sizeof *explains);
    for (size_t u = 0; u < count; u++) {
        if (u > 0 && strcmp(unique[u], unique[u - 1]) == 0)
            continue;
        size_t n = 0;
        for (size_t i = 0; i < count; i++) {
            if (strcmp(paths[i], unique[u]) != 0)
                continue;
            const Edu__V1__Refusal *r = sorted[i];
            explains[n] = feedback_explain(r->reason, lookup.school[i], lookup.indicator[i],
                                           self->config.school);
            lines[n] = (feedback_line_t){r->source_row, r->column, r->reason, explains[n],
                                         r->detail};
            n++;
        }
        if (feedback_add(unique[u], lines, n, err, sizeof err) != 0)
            log_error("inbox", "%s", err);
        const char *base = strrchr(unique[u], '/') + 1;
        char *take = xstrndup(base, strlen(base) - strlen(".errors.csv"));
        receipts_add_refused(self->receipts, take, n);
        free(take);
        for (size_t i = 0; i < n; i++)
            free(explains[i]);
    }
    for (size_t i = 0; i < count; i++) {
        free(paths[i]);
        free(lookup.school[i]);
        free(lookup.indicator[i]);
    }
    free(explains);
    free(lines);
    free(unique);
    free(paths);
    free(lookup.school);
    free(lookup.indicator);
    free(sorted);
}

void inbox_report_skipped(inbox_t *self, const Edu__V1__Record *record, const char *code,
                          const char *detail)
{
    char *path = s_refusal_path(self, record->source_file);
    char *explain = feedback_explain(code, record->school_code, record->indicator,
                                     self->config.school);
    feedback_line_t line = {record->source_row, "", code, explain, detail};
    char err[512];
    if (feedback_add(path, &line, 1, err, sizeof err) != 0)
        log_error("inbox", "%s", err);
    const char *base = strrchr(path, '/') + 1;
    char *take = xstrndup(base, strlen(base) - strlen(".errors.csv"));
    receipts_add_refused(self->receipts, take, 1);
    free(take);
    free(explain);
    free(path);
}
