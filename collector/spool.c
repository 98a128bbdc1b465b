/*  spool - the collector's durable, append-only queue of records waiting for the county
 *
 *  The format on disk is described in spool.h. This file keeps, in memory, only an index of
 *  the segments (the seq in each file name, the first and last committed seq, the committed
 *  bytes) and the position of the last read; records are read back from the files when the
 *  sender asks for them.
 *
 *  Writing: appends go through a small buffer into the last ("live") segment, opened with
 *  O_APPEND; spool_commit() adds the marker, writes the buffer and fdatasync()s, and only then
 *  counts the records as present. A failed write or fsync truncates the live segment back to
 *  its last marker, so what is on disk after a failure is what was committed. The next seq
 *  never goes backwards past a committed record: recovery keeps a high-water mark, and when it
 *  had to cut committed records off the live segment it starts a new, empty segment named
 *  after the next seq, so the file name itself remembers the mark.
 *
 *  Reading: a buffered reader over one segment file, never reading past the committed end of
 *  the segment (bytes before it never change, so its buffer never goes stale). The cursor
 *  remembers where the last read stopped, so the sender's spool_read(from = last + 1) goes on
 *  from there instead of scanning the segment again.
 *
 *  Recovery: every segment is scanned frame by frame at open. Past the first invalid frame the
 *  scanner looks for valid frames at every byte, which tells a torn or garbage tail (nothing
 *  valid follows: cut it off) from damage in the middle (something does: keep a copy in
 *  quarantine/ before cutting). The directory is flock()ed while the spool is open, so two
 *  collectors can never write the same spool.
 */
#include "spool.h"

#include "log.h"
#include "util.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#ifndef SPOOL_SEGMENT_BYTES
#define SPOOL_SEGMENT_BYTES (4u * 1024 * 1024) // a segment is rotated after a commit reaching this
#endif

#define S_FRAME_HEAD 9                     // u32 payload length, u32 CRC, u8 type
#define S_TYPE_RECORD 1                    // payload: u64 seq, then the caller's bytes
#define S_TYPE_COMMIT 2                    // payload: the commit tag
#define S_RECORD_MAX (16u * 1024 * 1024)   // largest record a caller may append
#define S_TAG_MAX 4096                     // longest commit tag
#define S_CHUNK 65536                      // read and write buffer size
#define S_NAME_SIZE 32                     // "seg-" + 20 digits + ".log" + NUL, rounded up
#define S_QUARANTINE "quarantine"          // where damaged segments go

typedef struct {
    uint64_t name_seq;  // the seq in its file name: the first seq it was made for
    uint64_t first_seq; // first committed seq in it (0 when it has none)
    uint64_t last_seq;  // last committed seq in it (0 when it has none)
    uint64_t count;     // committed records in it
    uint64_t bytes;     // bytes up to the end of its last commit marker
} s_segment_t;

typedef struct {
    int fd;            // file being read, -1 when none
    char *path;        // its path, for messages
    uint64_t name_seq; // its segment's name_seq
    uint64_t limit;    // bytes of the file that may be read
    uint8_t *buf;      // window on the file
    size_t cap;        // bytes allocated in buf
    uint64_t base;     // file offset of buf[0]
    size_t len;        // bytes valid in buf
} s_reader_t;

typedef enum { S_FRAME_OK, S_FRAME_END, S_FRAME_TORN, S_FRAME_BAD } s_frame_status_t;

typedef struct {
    uint8_t type;           // S_TYPE_RECORD or S_TYPE_COMMIT
    uint32_t len;           // payload bytes
    const uint8_t *payload; // borrowed from the reader until its next use
    uint64_t next;          // offset of the frame after this one
} s_frame_t;

typedef struct {
    uint64_t size;        // bytes in the file
    uint64_t end;         // offset just past the last commit marker of the valid prefix
    uint64_t stop;        // offset of the first invalid frame (size when there is none)
    uint64_t first_seq;   // first committed record of the valid prefix (0 when none)
    uint64_t last_seq;    // last committed record of the valid prefix (0 when none)
    uint64_t count;       // committed records of the valid prefix
    uint64_t uncommitted; // valid records after the last marker of the valid prefix
    char *tag;            // tag of the last marker of the valid prefix, or NULL (owned)
    uint64_t readable;    // valid records anywhere in the file
    uint64_t max_seq;     // highest seq of a valid record anywhere in the file (0 when none)
    uint64_t later;       // valid frames found after the first invalid one
    uint64_t lost;        // records (estimated) that a marker after the first invalid one commits
    uint64_t lost_seq;    // highest seq (estimated) that such a marker commits (0 when none)
} s_scan_t;

struct spool_t {
    char *dir;               // spool directory, as given
    int dir_fd;              // the directory, open and flock()ed while the spool is open
    char id[33];             // identity: 32 lowercase hex digits
    uint64_t cap_bytes;      // cap on segment bytes (0: no cap)
    uint64_t acked;          // highest acknowledged seq, as persisted in "acked"
    int64_t acked_at_ms;     // when it last moved (wall clock, ms; 0: never)
    char *last_tag;          // tag of the last commit marker, or NULL
    uint64_t quarantined;    // records skipped because of quarantine since open
    s_segment_t *segs;       // index of the segments in seq order; the last one is live
    size_t nsegs;            // entries used in segs
    size_t segs_cap;         // entries allocated in segs
    uint64_t bytes;          // committed bytes over all segments
    int live_fd;             // the last segment open for appending, -1 when not open
    bool rotate;             // the next append or commit starts a new segment
    bool dir_dirty;          // a segment was created and the directory not fsynced since
    bool failed;             // a write failed: appends refused until spool_abort()
    bool reading;            // inside spool_read()'s callback (the spool must not change)
    uint64_t next_seq;       // seq of the next append
    uint64_t committed_next; // next_seq as of the last commit: the first pending seq
    uint64_t pending_bytes;  // bytes appended since the last commit, written or buffered
    uint8_t *wbuf;           // appended bytes not yet written
    size_t wlen;             // bytes used in wbuf
    s_reader_t reader;       // spool_read()'s open segment
    uint64_t cursor_seg;     // name_seq of the segment the cursor is in (0: none)
    uint64_t cursor_off;     // offset in it where the next spool_read() may start
    uint64_t cursor_seq;     // every record before cursor_off has a seq below this
};

//  --------------------------------------------------------------------------------------------
//  Small helpers

static void s_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t) (v >> (8 * i));
    }
}

static void s_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t) (v >> (8 * i));
    }
}

static uint32_t s_get32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

static uint64_t s_get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

static uint64_t s_max(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

static void s_segment_name(char *buf, size_t size, uint64_t seq)
{
    snprintf(buf, size, "seg-%020" PRIu64 ".log", seq);
}

/*  True when name is a segment's; *seq gets the seq in it. */
static bool s_segment_parse(const char *name, uint64_t *seq)
{
    if (strlen(name) != 28 || strncmp(name, "seg-", 4) != 0 || strcmp(name + 24, ".log") != 0) {
        return false;
    }
    uint64_t value = 0;
    for (int i = 4; i < 24; i++) {
        if (name[i] < '0' || name[i] > '9') {
            return false;
        }
        uint64_t digit = (uint64_t) (name[i] - '0');
        if (value > (UINT64_MAX - digit) / 10) {
            return false;
        }
        value = value * 10 + digit;
    }
    if (value == 0) {
        return false;
    }
    *seq = value;
    return true;
}

/*  Parses decimal digits with an optional final newline. */
static bool s_parse_u64(const char *text, uint64_t *value)
{
    uint64_t v = 0;
    const char *p = text;
    for (; *p >= '0' && *p <= '9'; p++) {
        uint64_t digit = (uint64_t) (*p - '0');
        if (v > (UINT64_MAX - digit) / 10) {
            return false;
        }
        v = v * 10 + digit;
    }
    if (p == text || (*p == '\n' && p[1] != '\0') || (*p != '\n' && *p != '\0')) {
        return false;
    }
    *value = v;
    return true;
}

/*  Writes all of buf; returns 0, or -1 with errno set. */
static int s_write_all(int fd, const void *buf, size_t size)
{
    const uint8_t *p = buf;
    while (size > 0) {
        ssize_t n = write(fd, p, size);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -1;
        }
        if (n == 0) {
            errno = ENOSPC;
            return -1;
        }
        p += n;
        size -= (size_t) n;
    }
    return 0;
}

static int s_fsync_dir(spool_t *self, char *err, size_t errlen)
{
    if (fsync(self->dir_fd) != 0) {
        return errorf(err, errlen, "could not fsync directory \"%s\": %s", self->dir,
                      strerror(errno));
    }
    return 0;
}

/*  Makes dir and its missing parents. */
static int s_mkdir_p(const char *dir, char *err, size_t errlen)
{
    char *path = xstrdup(dir);
    int rc = -1;
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0') {
            continue;
        }
        char saved = *p;
        *p = '\0';
        if (mkdir(path, saved ? 0755 : 0700) != 0 && errno != EEXIST) {
            errorf(err, errlen, "could not create directory \"%s\": %s", path, strerror(errno));
            goto cleanup;
        }
        *p = saved;
        if (!saved) {
            break;
        }
    }
    rc = 0;
cleanup:
    free(path);
    return rc;
}

/*  Reads the small file name (at most size - 1 bytes) into buf and fsyncs it, since what it
 *  says is acted on. Returns 1 when read, 0 when it does not exist, or -1 with err. */
static int s_read_small(spool_t *self, const char *name, char *buf, size_t size, char *err,
                        size_t errlen)
{
    int fd = openat(self->dir_fd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        return 0;
    }
    if (fd < 0) {
        return errorf(err, errlen, "could not open \"%s/%s\": %s", self->dir, name,
                      strerror(errno));
    }
    int rc = -1;
    size_t len = 0;
    while (len < size - 1) {
        ssize_t n = read(fd, buf + len, size - 1 - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            errorf(err, errlen, "could not read \"%s/%s\": %s", self->dir, name, strerror(errno));
            goto cleanup;
        }
        if (n == 0) {
            break;
        }
        len += (size_t) n;
    }
    buf[len] = '\0';
    if (fsync(fd) != 0) {
        errorf(err, errlen, "could not fsync \"%s/%s\": %s", self->dir, name, strerror(errno));
        goto cleanup;
    }
    rc = 1;
cleanup:
    close(fd);
    return rc;
}

/*  Replaces the file name with text durably: a temporary file, fsync, rename, fsync the dir. */
static int s_write_small(spool_t *self, const char *name, const char *text, char *err,
                         size_t errlen)
{
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%s.tmp", name);
    int rc = -1;
    int fd = openat(self->dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        errorf(err, errlen, "could not create \"%s/%s\": %s", self->dir, tmp, strerror(errno));
        goto cleanup;
    }
    if (s_write_all(fd, text, strlen(text)) != 0) {
        errorf(err, errlen, "could not write \"%s/%s\": %s", self->dir, tmp, strerror(errno));
        goto cleanup;
    }
    if (fsync(fd) != 0) {
        errorf(err, errlen, "could not fsync \"%s/%s\": %s", self->dir, tmp, strerror(errno));
        goto cleanup;
    }
    int closed = close(fd);
    fd = -1;
    if (closed != 0) {
        errorf(err, errlen, "could not close \"%s/%s\": %s", self->dir, tmp, strerror(errno));
        goto cleanup;
    }
    if (renameat(self->dir_fd, tmp, self->dir_fd, name) != 0) {
        errorf(err, errlen, "could not rename \"%s/%s\" to \"%s\": %s", self->dir, tmp, name,
               strerror(errno));
        goto cleanup;
    }
    if (s_fsync_dir(self, err, errlen) != 0) {
        goto cleanup;
    }
    rc = 0;
cleanup:
    if (fd >= 0) {
        close(fd);
    }
    if (rc != 0) {
        unlinkat(self->dir_fd, tmp, 0);
    }
    return rc;
}

//  --------------------------------------------------------------------------------------------
//  Reading frames

static void s_reader_close(s_reader_t *r)
{
    if (r->fd >= 0) {
        close(r->fd);
    }
    r->fd = -1;
    r->name_seq = 0;
    r->len = 0;
}

static void s_reader_free(s_reader_t *r)
{
    s_reader_close(r);
    free(r->path);
    free(r->buf);
    *r = (s_reader_t){.fd = -1};
}

/*  Opens segment name_seq for reading up to limit bytes (UINT64_MAX: up to its size). */
static int s_reader_open(spool_t *self, s_reader_t *r, uint64_t name_seq, uint64_t limit,
                         char *err, size_t errlen)
{
    char name[S_NAME_SIZE];
    s_segment_name(name, sizeof name, name_seq);
    s_reader_close(r);
    free(r->path);
    r->path = xasprintf("%s/%s", self->dir, name);
    int fd = openat(self->dir_fd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errorf(err, errlen, "could not open \"%s\": %s", r->path, strerror(errno));
    }
    struct stat st;
    if (limit == UINT64_MAX && fstat(fd, &st) != 0) {
        errorf(err, errlen, "could not stat \"%s\": %s", r->path, strerror(errno));
        close(fd);
        return -1;
    }
    r->fd = fd;
    r->name_seq = name_seq;
    r->limit = limit == UINT64_MAX ? (uint64_t) st.st_size : limit;
    r->base = 0;
    r->len = 0;
    return 0;
}

/*  Makes bytes [off, off + n) of the file available in *data. Returns 1, 0 when they lie
 *  beyond the limit, or -1 with err. */
static int s_reader_get(s_reader_t *r, uint64_t off, size_t n, const uint8_t **data, char *err,
                        size_t errlen)
{
    if (off > r->limit || n > r->limit - off) {
        return 0;
    }
    if (off >= r->base && off - r->base + n <= r->len) {
        *data = r->buf + (off - r->base);
        return 1;
    }
    size_t want = n > S_CHUNK ? n : S_CHUNK;
    if (want > r->limit - off) {
        want = (size_t) (r->limit - off);
    }
    if (want > r->cap) {
        r->buf = xrealloc(r->buf, want);
        r->cap = want;
    }
    r->base = off;
    r->len = 0;
    while (r->len < want) {
        ssize_t got = pread(r->fd, r->buf + r->len, want - r->len, (off_t) (off + r->len));
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0) {
            return errorf(err, errlen, "could not read \"%s\": %s", r->path, strerror(errno));
        }
        if (got == 0) {
            return errorf(err, errlen, "could not read \"%s\": file ends at %" PRIu64
                          ", before %" PRIu64, r->path, off + r->len, r->limit);
        }
        r->len += (size_t) got;
    }
    *data = r->buf;
    return 1;
}

/*  Reads the frame at off. Returns its status, or -1 with err when the file cannot be read. */
static int s_frame_at(s_reader_t *r, uint64_t off, s_frame_t *frame, char *err, size_t errlen)
{
    if (off == r->limit) {
        return S_FRAME_END;
    }
    const uint8_t *head;
    int rc = s_reader_get(r, off, S_FRAME_HEAD, &head, err, errlen);
    if (rc <= 0) {
        return rc < 0 ? -1 : S_FRAME_TORN;
    }
    uint32_t len = s_get32(head);
    uint32_t crc = s_get32(head + 4);
    uint8_t type = head[8];
    if (type == S_TYPE_RECORD ? len < 8 || len > 8 + S_RECORD_MAX
                              : type != S_TYPE_COMMIT || len > S_TAG_MAX) {
        return S_FRAME_BAD;
    }
    const uint8_t *bytes;
    rc = s_reader_get(r, off, S_FRAME_HEAD + (size_t) len, &bytes, err, errlen);
    if (rc <= 0) {
        return rc < 0 ? -1 : S_FRAME_TORN;
    }
    uint32_t actual = (uint32_t) crc32(crc32(0, &type, 1), bytes + S_FRAME_HEAD, len);
    if (actual != crc) {
        return S_FRAME_BAD;
    }
    *frame = (s_frame_t){.type = type,
                         .len = len,
                         .payload = bytes + S_FRAME_HEAD,
                         .next = off + S_FRAME_HEAD + len};
    return S_FRAME_OK;
}

/*  Scans a whole segment: the valid prefix (frames in order, records numbered from name_seq)
 *  and, past its first invalid frame, whatever valid frames can still be found. */
static int s_scan(s_reader_t *r, uint64_t name_seq, s_scan_t *scan, char *err, size_t errlen)
{
    *scan = (s_scan_t){.size = r->limit, .stop = r->limit};
    uint64_t off = 0;
    uint64_t expected = name_seq;
    s_frame_t frame;
    int status;
    for (;;) {
        status = s_frame_at(r, off, &frame, err, errlen);
        if (status < 0) {
            return -1;
        }
        if (status == S_FRAME_OK && frame.type == S_TYPE_RECORD
            && s_get64(frame.payload) != expected) {
            status = S_FRAME_BAD;
        }
        if (status != S_FRAME_OK) {
            break;
        }
        if (frame.type == S_TYPE_RECORD) {
            scan->readable++;
            scan->max_seq = expected++;
            scan->uncommitted++;
        } else {
            if (scan->uncommitted > 0) {
                if (scan->count == 0) {
                    scan->first_seq = expected - scan->uncommitted;
                }
                scan->count += scan->uncommitted;
                scan->last_seq = expected - 1;
                scan->uncommitted = 0;
            }
            free(scan->tag);
            scan->tag = xstrndup((const char *) frame.payload, frame.len);
            scan->end = frame.next;
        }
        off = frame.next;
    }
    if (status == S_FRAME_END) {
        return 0;
    }
    scan->stop = off;
    //  The invalid frame counts as one record (it may have been one): a marker further on
    //  would commit it with the records since the valid prefix's last marker.
    uint64_t since_end = scan->uncommitted + 1;
    uint64_t estimate = expected;
    uint64_t pos = off + 1;
    while (pos < r->limit) {
        status = s_frame_at(r, pos, &frame, err, errlen);
        if (status < 0) {
            return -1;
        }
        if (status != S_FRAME_OK) {
            pos++;
            continue;
        }
        //  Found a valid frame: walk on frame by frame until the next invalid one.
        while (status == S_FRAME_OK) {
            scan->later++;
            if (frame.type == S_TYPE_RECORD) {
                uint64_t seq = s_get64(frame.payload);
                scan->readable++;
                scan->max_seq = s_max(scan->max_seq, seq);
                estimate = s_max(seq, estimate + 1);
                since_end++;
            } else {
                scan->lost = since_end;
                scan->lost_seq = estimate;
            }
            pos = frame.next;
            status = s_frame_at(r, pos, &frame, err, errlen);
            if (status < 0) {
                return -1;
            }
        }
        if (status == S_FRAME_END) {
            break;
        }
        since_end++;
        estimate++;
        pos++;
    }
    return 0;
}

//  --------------------------------------------------------------------------------------------
//  The segment index

static void s_segs_push(spool_t *self, s_segment_t seg)
{
    if (self->nsegs == self->segs_cap) {
        self->segs_cap = self->segs_cap ? self->segs_cap * 2 : 16;
        self->segs = xrealloc(self->segs, self->segs_cap * sizeof *self->segs);
    }
    self->segs[self->nsegs++] = seg;
}

static int s_segs_compare(const void *a, const void *b)
{
    uint64_t x = ((const s_segment_t *) a)->name_seq;
    uint64_t y = ((const s_segment_t *) b)->name_seq;
    return x < y ? -1 : x > y;
}

static int s_segs_list(spool_t *self, char *err, size_t errlen)
{
    int fd = dup(self->dir_fd);
    DIR *dir = fd < 0 ? NULL : fdopendir(fd);
    if (!dir) {
        if (fd >= 0) {
            close(fd);
        }
        return errorf(err, errlen, "could not read directory \"%s\": %s", self->dir,
                      strerror(errno));
    }
    rewinddir(dir);
    struct dirent *entry;
    errno = 0;
    while ((entry = readdir(dir)) != NULL) {
        uint64_t seq;
        if (s_segment_parse(entry->d_name, &seq)) {
            s_segs_push(self, (s_segment_t){.name_seq = seq});
        }
        errno = 0;
    }
    int rc = 0;
    if (errno != 0) {
        rc = errorf(err, errlen, "could not read directory \"%s\": %s", self->dir,
                    strerror(errno));
    }
    closedir(dir);
    if (self->nsegs > 1) {
        qsort(self->segs, self->nsegs, sizeof *self->segs, s_segs_compare);
    }
    return rc;
}

/*  Highest committed seq in the segments (0 when there is none). */
static uint64_t s_last_present(const spool_t *self)
{
    for (size_t i = self->nsegs; i > 0; i--) {
        if (self->segs[i - 1].count > 0) {
            return self->segs[i - 1].last_seq;
        }
    }
    return 0;
}

/*  Deletes the segments whose records are all acknowledged, except the live one and the one
 *  holding the newest commit marker (so that spool_last_tag() survives a reopen). */
static void s_drop_acked(spool_t *self)
{
    size_t marked = self->nsegs;
    while (marked > 0 && self->segs[marked - 1].bytes == 0) {
        marked--;
    }
    size_t kept = 0;
    size_t dropped = 0;
    for (size_t i = 0; i < self->nsegs; i++) {
        s_segment_t *seg = &self->segs[i];
        char name[S_NAME_SIZE];
        s_segment_name(name, sizeof name, seg->name_seq);
        bool done = i + 1 < self->nsegs && i + 1 != marked
                    && (seg->count == 0 || seg->last_seq <= self->acked);
        if (done && unlinkat(self->dir_fd, name, 0) != 0) {
            log_warn("spool", "could not delete acknowledged segment \"%s/%s\": %s", self->dir,
                     name, strerror(errno));
            done = false;
        }
        if (!done) {
            self->segs[kept++] = *seg;
            continue;
        }
        dropped++;
        self->bytes -= seg->bytes;
        if (self->reader.name_seq == seg->name_seq) {
            s_reader_close(&self->reader);
        }
        if (self->cursor_seg == seg->name_seq) {
            self->cursor_seg = 0;
        }
    }
    self->nsegs = kept;
    char err[256];
    if (dropped > 0 && s_fsync_dir(self, err, sizeof err) != 0) {
        log_warn("spool", "%s", err);
    }
}

//  --------------------------------------------------------------------------------------------
//  Quarantine

/*  Opens quarantine/ (making it when needed) and finds a free name there for name. Returns
 *  the directory's fd, or -1 with err. */
static int s_quarantine_open(spool_t *self, const char *name, char *qname, size_t qsize,
                             char *err, size_t errlen)
{
    if (mkdirat(self->dir_fd, S_QUARANTINE, 0700) != 0 && errno != EEXIST) {
        return errorf(err, errlen, "could not create directory \"%s/%s\": %s", self->dir,
                      S_QUARANTINE, strerror(errno));
    }
    int qfd = openat(self->dir_fd, S_QUARANTINE, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (qfd < 0) {
        return errorf(err, errlen, "could not open directory \"%s/%s\": %s", self->dir,
                      S_QUARANTINE, strerror(errno));
    }
    for (unsigned n = 0;; n++) {
        if (n == 0) {
            snprintf(qname, qsize, "%s", name);
        } else {
            snprintf(qname, qsize, "%s.%u", name, n);
        }
        struct stat st;
        if (fstatat(qfd, qname, &st, AT_SYMLINK_NOFOLLOW) == 0) {
            continue;
        }
        if (errno == ENOENT) {
            return qfd;
        }
        errorf(err, errlen, "could not stat \"%s/%s/%s\": %s", self->dir, S_QUARANTINE, qname,
               strerror(errno));
        close(qfd);
        return -1;
    }
}

/*  Moves segment name into quarantine/; qname gets its name there. */
static int s_quarantine_move(spool_t *self, const char *name, char *qname, size_t qsize,
                             char *err, size_t errlen)
{
    int qfd = s_quarantine_open(self, name, qname, qsize, err, errlen);
    if (qfd < 0) {
        return -1;
    }
    int rc = -1;
    if (renameat(self->dir_fd, name, qfd, qname) != 0) {
        errorf(err, errlen, "could not move \"%s/%s\" to \"%s/%s\": %s", self->dir, name,
               S_QUARANTINE, qname, strerror(errno));
        goto cleanup;
    }
    if (fsync(qfd) != 0) {
        errorf(err, errlen, "could not fsync directory \"%s/%s\": %s", self->dir, S_QUARANTINE,
               strerror(errno));
        goto cleanup;
    }
    rc = s_fsync_dir(self, err, errlen);
cleanup:
    close(qfd);
    return rc;
}

/*  Copies segment name into quarantine/ durably; qname gets the copy's name. */
static int s_quarantine_copy(spool_t *self, const char *name, char *qname, size_t qsize,
                             char *err, size_t errlen)
{
    int rc = -1;
    int src = -1;
    int dst = -1;
    uint8_t *buf = NULL;
    int qfd = s_quarantine_open(self, name, qname, qsize, err, errlen);
    if (qfd < 0) {
        goto cleanup;
    }
    src = openat(self->dir_fd, name, O_RDONLY | O_CLOEXEC);
    if (src < 0) {
        errorf(err, errlen, "could not open \"%s/%s\": %s", self->dir, name, strerror(errno));
        goto cleanup;
    }
    dst = openat(qfd, qname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (dst < 0) {
        errorf(err, errlen, "could not create \"%s/%s/%s\": %s", self->dir, S_QUARANTINE, qname,
               strerror(errno));
        goto cleanup;
    }
    buf = xmalloc(S_CHUNK);
    for (;;) {
        ssize_t n = read(src, buf, S_CHUNK);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            errorf(err, errlen, "could not read \"%s/%s\": %s", self->dir, name,
                   strerror(errno));
            goto cleanup;
        }
        if (n == 0) {
            break;
        }
        if (s_write_all(dst, buf, (size_t) n) != 0) {
            errorf(err, errlen, "could not write \"%s/%s/%s\": %s", self->dir, S_QUARANTINE,
                   qname, strerror(errno));
            goto cleanup;
        }
    }
    if (fsync(dst) != 0 || fsync(qfd) != 0) {
        errorf(err, errlen, "could not fsync \"%s/%s/%s\": %s", self->dir, S_QUARANTINE, qname,
               strerror(errno));
        goto cleanup;
    }
    rc = s_fsync_dir(self, err, errlen);
cleanup:
    free(buf);
    if (src >= 0) {
        close(src);
    }
    if (dst >= 0) {
        close(dst);
        if (rc != 0) {
            unlinkat(qfd, qname, 0);
        }
    }
    if (qfd >= 0) {
        close(qfd);
    }
    return rc;
}

//  --------------------------------------------------------------------------------------------
//  Opening and recovery

static int s_truncate(spool_t *self, const char *name, uint64_t size, char *err, size_t errlen)
{
    int fd = openat(self->dir_fd, name, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        return errorf(err, errlen, "could not open \"%s/%s\": %s", self->dir, name,
                      strerror(errno));
    }
    int rc = 0;
    if (ftruncate(fd, (off_t) size) != 0) {
        rc = errorf(err, errlen, "could not truncate \"%s/%s\" to %" PRIu64 " bytes: %s",
                    self->dir, name, size, strerror(errno));
    } else if (fsync(fd) != 0) {
        rc = errorf(err, errlen, "could not fsync \"%s/%s\": %s", self->dir, name,
                    strerror(errno));
    }
    close(fd);
    return rc;
}

static int s_load_acked(spool_t *self, bool *found, char *err, size_t errlen)
{
    char text[64];
    int rc = s_read_small(self, "acked", text, sizeof text, err, errlen);
    if (rc < 0) {
        return -1;
    }
    *found = rc > 0;
    if (rc > 0 && !s_parse_u64(text, &self->acked)) {
        return errorf(err, errlen, "cannot open spool \"%s\": acknowledgement mark \"%s/acked\" "
                      "is damaged", self->dir, self->dir);
    }
    struct stat st;
    if (rc > 0 && fstatat(self->dir_fd, "acked", &st, 0) == 0) {
        self->acked_at_ms = (int64_t) st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
    }
    return 0;
}

/*  Reads the identity, or makes one when the spool is new (populated: it is not). */
static int s_load_id(spool_t *self, bool populated, char *err, size_t errlen)
{
    char text[64];
    int rc = s_read_small(self, "id", text, sizeof text, err, errlen);
    if (rc < 0) {
        return -1;
    }
    if (rc > 0) {
        size_t len = strspn(text, "0123456789abcdef");
        if (len != 32 || (text[32] != '\0' && strcmp(text + 32, "\n") != 0)) {
            return errorf(err, errlen, "cannot open spool \"%s\": identity file \"%s/id\" is "
                          "damaged", self->dir, self->dir);
        }
        memcpy(self->id, text, 32);
        self->id[32] = '\0';
        return 0;
    }
    if (populated) {
        return errorf(err, errlen, "cannot open spool \"%s\": it holds segments or an "
                      "acknowledgement mark but no identity file \"id\"", self->dir);
    }
    uint8_t random[16];
    size_t got = 0;
    while (got < sizeof random) {
        ssize_t n = getrandom(random + got, sizeof random - got, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return errorf(err, errlen, "could not make an identity for spool \"%s\": %s",
                          self->dir, strerror(errno));
        }
        got += (size_t) n;
    }
    for (size_t i = 0; i < sizeof random; i++) {
        snprintf(self->id + 2 * i, 3, "%02x", random[i]);
    }
    snprintf(text, sizeof text, "%s\n", self->id);
    if (s_write_small(self, "id", text, err, errlen) != 0) {
        return -1;
    }
    log_info("spool", "created spool \"%s\" with id %s", self->dir, self->id);
    return 0;
}

/*  Deals with the last segment's tail past its last commit marker. */
static int s_recover_tail(spool_t *self, const char *name, const s_scan_t *scan, uint64_t *seen,
                          char *err, size_t errlen)
{
    if (scan->later > 0) {
        //  Valid frames follow the damage: they may be committed records. Keep a copy.
        char qname[S_NAME_SIZE + 16];
        if (s_quarantine_copy(self, name, qname, sizeof qname, err, errlen) != 0) {
            return -1;
        }
        self->quarantined += scan->lost;
        *seen = s_max(*seen, scan->lost_seq);
        log_warn("spool", "segment \"%s/%s\" is damaged at offset %" PRIu64 " with %" PRIu64
                 " valid frames after it: copied to \"%s/%s/%s\", truncated to %" PRIu64
                 " bytes, %" PRIu64 " committed records lost", self->dir, name, scan->stop,
                 scan->later, self->dir, S_QUARANTINE, qname, scan->end, scan->lost);
    } else if (scan->stop < scan->size) {
        log_info("spool", "truncated \"%s/%s\" from %" PRIu64 " to %" PRIu64 " bytes: %" PRIu64
                 " uncommitted records and a torn or damaged tail at offset %" PRIu64, self->dir,
                 name, scan->size, scan->end, scan->uncommitted, scan->stop);
    } else {
        log_info("spool", "truncated \"%s/%s\" from %" PRIu64 " to %" PRIu64 " bytes: %" PRIu64
                 " uncommitted records", self->dir, name, scan->size, scan->end,
                 scan->uncommitted);
    }
    return s_truncate(self, name, scan->end, err, errlen);
}

/*  Scans every segment, quarantines or truncates what must be, and settles the next seq. */
static int s_recover(spool_t *self, char *err, size_t errlen)
{
    int rc = -1;
    s_reader_t reader = {.fd = -1};
    s_scan_t scan = {0};
    uint64_t seen = 0;      // highest seq that may have been committed, lost ones included
    uint64_t prev_last = 0; // last committed seq of the segments kept so far
    size_t kept = 0;
    size_t total = self->nsegs;
    for (size_t i = 0; i < total; i++) {
        s_segment_t seg = self->segs[i];
        bool last = i + 1 == total;
        char name[S_NAME_SIZE];
        s_segment_name(name, sizeof name, seg.name_seq);
        free(scan.tag);
        scan.tag = NULL;
        if (s_reader_open(self, &reader, seg.name_seq, UINT64_MAX, err, errlen) != 0
            || s_scan(&reader, seg.name_seq, &scan, err, errlen) != 0) {
            goto cleanup;
        }
        s_reader_close(&reader);
        bool overlaps = seg.name_seq <= prev_last;
        if (overlaps || (!last && scan.end < scan.size)) {
            char qname[S_NAME_SIZE + 16];
            if (s_quarantine_move(self, name, qname, sizeof qname, err, errlen) != 0) {
                goto cleanup;
            }
            self->quarantined += scan.readable;
            seen = s_max(seen, scan.max_seq);
            log_warn("spool", "segment \"%s/%s\" is %s: moved to \"%s/%s/%s\", %" PRIu64
                     " readable records skipped", self->dir, name,
                     overlaps ? "out of sequence"
                     : scan.stop < scan.size ? "damaged"
                                             : "missing its final commit marker",
                     self->dir, S_QUARANTINE, qname, scan.readable);
            continue;
        }
        if (scan.end < scan.size && s_recover_tail(self, name, &scan, &seen, err, errlen) != 0) {
            goto cleanup;
        }
        seg.first_seq = scan.first_seq;
        seg.last_seq = scan.last_seq;
        seg.count = scan.count;
        seg.bytes = scan.end;
        self->segs[kept++] = seg;
        self->bytes += seg.bytes;
        if (seg.count > 0) {
            prev_last = seg.last_seq;
        }
        if (scan.tag) {
            free(self->last_tag);
            self->last_tag = scan.tag;
            scan.tag = NULL;
        }
    }
    self->nsegs = kept;
    s_drop_acked(self);

    //  The next seq comes after everything that may have been committed. When the files alone
    //  would not say so (committed records were cut off the live segment), a new empty live
    //  segment named after it does.
    s_segment_t *live = self->nsegs ? &self->segs[self->nsegs - 1] : NULL;
    uint64_t next = s_max(s_max(s_last_present(self), self->acked), seen);
    if (live) {
        next = s_max(next, live->name_seq - 1);
    }
    next++;
    if (live && live->bytes == 0 && live->name_seq != next) {
        //  An empty live segment left by a truncation: its name would set the next seq wrong.
        char name[S_NAME_SIZE];
        s_segment_name(name, sizeof name, live->name_seq);
        if (unlinkat(self->dir_fd, name, 0) != 0) {
            errorf(err, errlen, "could not delete \"%s/%s\": %s", self->dir, name,
                   strerror(errno));
            goto cleanup;
        }
        self->nsegs--;
        live = self->nsegs ? &self->segs[self->nsegs - 1] : NULL;
    }
    uint64_t implied = s_max(s_last_present(self), self->acked);
    if (live) {
        implied = s_max(implied, live->name_seq - 1);
    }
    implied++;
    if (next > implied) {
        char name[S_NAME_SIZE];
        s_segment_name(name, sizeof name, next);
        int fd = openat(self->dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) {
            errorf(err, errlen, "could not create \"%s/%s\": %s", self->dir, name,
                   strerror(errno));
            goto cleanup;
        }
        close(fd);
        if (s_fsync_dir(self, err, errlen) != 0) {
            goto cleanup;
        }
        s_segs_push(self, (s_segment_t){.name_seq = next});
        log_warn("spool", "seqs %" PRIu64 " to %" PRIu64 " may have been sent before they were "
                 "lost: the spool goes on at %" PRIu64, implied, next - 1, next);
    }
    self->next_seq = next;
    self->committed_next = next;
    self->rotate = self->nsegs > 0 && self->segs[self->nsegs - 1].bytes >= SPOOL_SEGMENT_BYTES;
    rc = 0;
cleanup:
    free(scan.tag);
    s_reader_free(&reader);
    return rc;
}

spool_t *spool_open(const char *dir, uint64_t cap_bytes, char *err, size_t errlen)
{
    assert(dir);
    if (*dir == '\0') {
        errorf(err, errlen, "cannot open spool: the directory name is empty");
        return NULL;
    }
    spool_t *self = xcalloc(1, sizeof *self);
    self->dir = xstrdup(dir);
    self->dir_fd = -1;
    self->live_fd = -1;
    self->cap_bytes = cap_bytes;
    self->reader.fd = -1;
    self->wbuf = xmalloc(S_CHUNK);
    bool acked_found = false;
    bool opened = false;
    if (s_mkdir_p(dir, err, errlen) != 0) {
        goto cleanup;
    }
    self->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (self->dir_fd < 0) {
        errorf(err, errlen, "could not open spool directory \"%s\": %s", dir, strerror(errno));
        goto cleanup;
    }
    if (flock(self->dir_fd, LOCK_EX | LOCK_NB) != 0) {
        errorf(err, errlen, "could not lock spool directory \"%s\": %s", dir,
               errno == EWOULDBLOCK ? "it is in use by another process" : strerror(errno));
        goto cleanup;
    }
    unlinkat(self->dir_fd, "acked.tmp", 0);
    unlinkat(self->dir_fd, "id.tmp", 0);
    if (s_segs_list(self, err, errlen) != 0 || s_load_acked(self, &acked_found, err, errlen) != 0
        || s_load_id(self, self->nsegs > 0 || acked_found, err, errlen) != 0
        || s_recover(self, err, errlen) != 0) {
        goto cleanup;
    }
    log_info("spool", "opened spool \"%s\" (id %s): %zu segments, %" PRIu64 " bytes, "
             "last seq %" PRIu64 ", acked %" PRIu64 ", %" PRIu64 " pending", dir, self->id,
             self->nsegs, self->bytes, spool_last_seq(self), self->acked, spool_pending(self));
    opened = true;
cleanup:
    if (!opened) {
        spool_destroy(&self);
    }
    return self;
}

//  --------------------------------------------------------------------------------------------
//  Writing

/*  Discards whatever was appended since the last commit. */
static void s_abort(spool_t *self)
{
    self->wlen = 0;
    self->pending_bytes = 0;
    self->next_seq = self->committed_next;
    if (self->live_fd < 0) {
        self->failed = false;
        return;
    }
    const s_segment_t *live = &self->segs[self->nsegs - 1];
    if (ftruncate(self->live_fd, (off_t) live->bytes) != 0) {
        char name[S_NAME_SIZE];
        s_segment_name(name, sizeof name, live->name_seq);
        log_warn("spool", "could not truncate \"%s/%s\" to %" PRIu64 " bytes: %s", self->dir,
                 name, live->bytes, strerror(errno));
        self->failed = true;
        return;
    }
    self->failed = false;
}

/*  Opens the live segment for appending, starting a new one when there is none or it is full. */
static int s_live_open(spool_t *self, char *err, size_t errlen)
{
    if (self->live_fd >= 0) {
        return 0;
    }
    bool create = self->nsegs == 0 || self->rotate;
    uint64_t seq = create ? self->next_seq : self->segs[self->nsegs - 1].name_seq;
    char name[S_NAME_SIZE];
    s_segment_name(name, sizeof name, seq);
    int flags = O_WRONLY | O_APPEND | O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0);
    int fd = openat(self->dir_fd, name, flags, 0600);
    if (fd < 0) {
        return errorf(err, errlen, "could not %s spool segment \"%s/%s\": %s",
                      create ? "create" : "open", self->dir, name, strerror(errno));
    }
    if (create) {
        s_segs_push(self, (s_segment_t){.name_seq = seq});
        self->rotate = false;
        self->dir_dirty = true;
    }
    self->live_fd = fd;
    return 0;
}

static int s_flush(spool_t *self, char *err, size_t errlen)
{
    if (self->wlen == 0) {
        return 0;
    }
    if (s_write_all(self->live_fd, self->wbuf, self->wlen) != 0) {
        char name[S_NAME_SIZE];
        s_segment_name(name, sizeof name, self->segs[self->nsegs - 1].name_seq);
        self->failed = true;
        return errorf(err, errlen, "could not write to \"%s/%s\": %s", self->dir, name,
                      strerror(errno));
    }
    self->wlen = 0;
    return 0;
}

/*  Appends bytes to the live segment through the write buffer. */
static int s_put(spool_t *self, const void *data, size_t size, char *err, size_t errlen)
{
    if (self->wlen + size > S_CHUNK && s_flush(self, err, errlen) != 0) {
        return -1;
    }
    if (size < S_CHUNK) {
        memcpy(self->wbuf + self->wlen, data, size);
        self->wlen += size;
        return 0;
    }
    if (s_write_all(self->live_fd, data, size) != 0) {
        char name[S_NAME_SIZE];
        s_segment_name(name, sizeof name, self->segs[self->nsegs - 1].name_seq);
        self->failed = true;
        return errorf(err, errlen, "could not write to \"%s/%s\": %s", self->dir, name,
                      strerror(errno));
    }
    return 0;
}

int spool_append(spool_t *self, const void *data, size_t size, uint64_t *seq, char *err,
                 size_t errlen)
{
    assert(self);
    assert(data || size == 0);
    assert(seq);
    assert(!self->reading);
    if (self->failed) {
        return errorf(err, errlen, "cannot append to spool \"%s\": an earlier write failed and "
                      "was not aborted", self->dir);
    }
    if (size > S_RECORD_MAX) {
        return errorf(err, errlen, "cannot append a record of %zu bytes to spool \"%s\": the "
                      "limit is %u bytes", size, self->dir, S_RECORD_MAX);
    }
    if (s_live_open(self, err, errlen) != 0) {
        return -1;
    }
    uint8_t head[S_FRAME_HEAD + 8];
    uint8_t type = S_TYPE_RECORD;
    s_put64(head + S_FRAME_HEAD, self->next_seq);
    uLong crc = crc32(crc32(0, &type, 1), head + S_FRAME_HEAD, 8);
    if (size > 0) {
        crc = crc32(crc, data, (uInt) size);
    }
    s_put32(head, (uint32_t) (8 + size));
    s_put32(head + 4, (uint32_t) crc);
    head[8] = type;
    if (s_put(self, head, sizeof head, err, errlen) != 0
        || (size > 0 && s_put(self, data, size, err, errlen) != 0)) {
        return -1;
    }
    self->pending_bytes += sizeof head + size;
    *seq = self->next_seq++;
    return 0;
}

int spool_commit(spool_t *self, const char *tag, char *err, size_t errlen)
{
    assert(self);
    assert(tag);
    assert(!self->reading);
    int rc = -1;
    size_t len = strlen(tag);
    if (self->failed) {
        errorf(err, errlen, "cannot commit to spool \"%s\": an earlier write failed and was not "
               "aborted", self->dir);
        goto cleanup;
    }
    if (len > S_TAG_MAX) {
        errorf(err, errlen, "cannot commit to spool \"%s\": the tag has %zu bytes, more than %d",
               self->dir, len, S_TAG_MAX);
        goto cleanup;
    }
    if (s_live_open(self, err, errlen) != 0) {
        goto cleanup;
    }
    uint8_t head[S_FRAME_HEAD];
    uint8_t type = S_TYPE_COMMIT;
    s_put32(head, (uint32_t) len);
    s_put32(head + 4, (uint32_t) crc32(crc32(0, &type, 1), (const Bytef *) tag, (uInt) len));
    head[8] = type;
    if (s_put(self, head, sizeof head, err, errlen) != 0
        || s_put(self, tag, len, err, errlen) != 0 || s_flush(self, err, errlen) != 0) {
        goto cleanup;
    }
    s_segment_t *live = &self->segs[self->nsegs - 1];
    if (fdatasync(self->live_fd) != 0) {
        char name[S_NAME_SIZE];
        s_segment_name(name, sizeof name, live->name_seq);
        errorf(err, errlen, "could not fsync \"%s/%s\": %s", self->dir, name, strerror(errno));
        goto cleanup;
    }
    if (self->dir_dirty && s_fsync_dir(self, err, errlen) != 0) {
        goto cleanup;
    }
    self->dir_dirty = false;
    uint64_t records = self->next_seq - self->committed_next;
    if (records > 0) {
        if (live->count == 0) {
            live->first_seq = self->committed_next;
        }
        live->last_seq = self->next_seq - 1;
        live->count += records;
    }
    uint64_t added = self->pending_bytes + sizeof head + len;
    live->bytes += added;
    self->bytes += added;
    self->pending_bytes = 0;
    self->committed_next = self->next_seq;
    free(self->last_tag);
    self->last_tag = xstrdup(tag);
    if (live->bytes >= SPOOL_SEGMENT_BYTES) {
        close(self->live_fd);
        self->live_fd = -1;
        self->rotate = true;
    }
    rc = 0;
cleanup:
    if (rc != 0) {
        s_abort(self);
    }
    return rc;
}

void spool_abort(spool_t *self)
{
    assert(self);
    assert(!self->reading);
    s_abort(self);
}

void spool_destroy(spool_t **self_p)
{
    assert(self_p);
    spool_t *self = *self_p;
    if (!self) {
        return;
    }
    assert(!self->reading);
    if (self->live_fd >= 0) {
        s_abort(self);
        close(self->live_fd);
    }
    if (self->dir_fd >= 0) {
        close(self->dir_fd);
    }
    s_reader_free(&self->reader);
    free(self->wbuf);
    free(self->segs);
    free(self->last_tag);
    free(self->dir);
    free(self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------------------------
//  Acknowledging and reading

int spool_ack(spool_t *self, uint64_t seq, char *err, size_t errlen)
{
    assert(self);
    assert(!self->reading);
    if (seq <= self->acked) {
        return 0;
    }
    uint64_t last = spool_last_seq(self);
    if (seq > last) {
        return errorf(err, errlen, "cannot acknowledge seq %" PRIu64 " in spool \"%s\": the last "
                      "committed seq is %" PRIu64, seq, self->dir, last);
    }
    char text[32];
    snprintf(text, sizeof text, "%" PRIu64 "\n", seq);
    if (s_write_small(self, "acked", text, err, errlen) != 0) {
        return -1;
    }
    self->acked = seq;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    self->acked_at_ms = (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000;
    s_drop_acked(self);
    return 0;
}

int spool_read(spool_t *self, uint64_t from, size_t max, spool_record_fn *fn, void *arg,
               char *err, size_t errlen)
{
    assert(self);
    assert(fn);
    assert(!self->reading);
    if (max > INT_MAX) {
        max = INT_MAX;
    }
    size_t i = 0;
    while (i < self->nsegs && (self->segs[i].count == 0 || self->segs[i].last_seq < from)) {
        i++;
    }
    uint64_t off = 0;
    if (i < self->nsegs && self->cursor_seg == self->segs[i].name_seq
        && self->cursor_seq <= from) {
        off = self->cursor_off;
    }
    size_t visited = 0;
    for (; i < self->nsegs && visited < max; i++, off = 0) {
        const s_segment_t *seg = &self->segs[i];
        if (seg->count == 0) {
            continue;
        }
        if (self->reader.name_seq != seg->name_seq
            && s_reader_open(self, &self->reader, seg->name_seq, seg->bytes, err, errlen) != 0) {
            return -1;
        }
        self->reader.limit = seg->bytes;
        while (off < seg->bytes && visited < max) {
            s_frame_t frame;
            int status = s_frame_at(&self->reader, off, &frame, err, errlen);
            if (status < 0) {
                return -1;
            }
            if (status != S_FRAME_OK) {
                return errorf(err, errlen, "cannot read \"%s\": damaged frame at offset %" PRIu64,
                              self->reader.path, off);
            }
            if (frame.type == S_TYPE_RECORD) {
                uint64_t seq = s_get64(frame.payload);
                if (seq >= from) {
                    visited++;
                    self->reading = true;
                    int stop = fn(arg, seq, frame.payload + 8, frame.len - 8);
                    self->reading = false;
                    if (stop != 0) {
                        self->cursor_seg = seg->name_seq;
                        self->cursor_off = off;
                        self->cursor_seq = seq;
                        return (int) visited;
                    }
                }
                self->cursor_seg = seg->name_seq;
                self->cursor_off = frame.next;
                self->cursor_seq = seq + 1;
            }
            off = frame.next;
        }
    }
    return (int) visited;
}

//  --------------------------------------------------------------------------------------------
//  State

const char *spool_id(const spool_t *self)
{
    assert(self);
    return self->id;
}

const char *spool_last_tag(const spool_t *self)
{
    assert(self);
    return self->last_tag;
}

uint64_t spool_acked(const spool_t *self)
{
    assert(self);
    return self->acked;
}

int64_t spool_acked_at_ms(const spool_t *self)
{
    assert(self);
    return self->acked_at_ms;
}

uint64_t spool_last_seq(const spool_t *self)
{
    assert(self);
    return s_max(s_last_present(self), self->acked);
}

uint64_t spool_floor(const spool_t *self)
{
    assert(self);
    for (size_t i = 0; i < self->nsegs; i++) {
        const s_segment_t *seg = &self->segs[i];
        if (seg->count > 0 && seg->last_seq > self->acked) {
            return s_max(seg->first_seq, self->acked + 1);
        }
    }
    return spool_last_seq(self) + 1;
}

uint64_t spool_pending(const spool_t *self)
{
    assert(self);
    uint64_t pending = 0;
    for (size_t i = 0; i < self->nsegs; i++) {
        const s_segment_t *seg = &self->segs[i];
        if (seg->count > 0 && seg->last_seq > self->acked) {
            pending += seg->last_seq - s_max(seg->first_seq, self->acked + 1) + 1;
        }
    }
    return pending;
}

uint64_t spool_bytes(const spool_t *self)
{
    assert(self);
    return self->bytes + self->pending_bytes;
}

bool spool_has_room(const spool_t *self, uint64_t bytes)
{
    assert(self);
    uint64_t used = spool_bytes(self);
    return self->cap_bytes == 0 || (used <= self->cap_bytes && bytes <= self->cap_bytes - used);
}

uint64_t spool_quarantined(const spool_t *self)
{
    assert(self);
    return self->quarantined;
}
