/*  receipts - which file a school dropped holds which records, and when the county has them
 *
 *  The list is small (the files of a season, RECEIPTS_KEEP delivered ones at most besides those
 *  waiting), so it is an array in memory, oldest first, and the whole file is rewritten when
 *  something is delivered.
 */
#include "receipts.h"

#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct receipts_t {
    char *dir;           // the inbox
    char *path;          // inbox/.receipts
    char *delivered;     // inbox/delivered
    receipt_t *items;    // oldest first
    size_t count;        // entries used
    size_t cap;          // entries allocated
    log_complain_t link; // linking into delivered/ fails, reported once
};

static void s_push(receipts_t *self, const receipt_t *r)
{
    if (self->count == self->cap) {
        self->cap = self->cap ? self->cap * 2 : 32;
        self->items = xrealloc(self->items, self->cap * sizeof *self->items);
    }
    self->items[self->count] = *r;
    self->items[self->count].name = xstrdup(r->name);
    self->count++;
}

static void s_rewrite(receipts_t *self);

static receipt_t *s_find(const receipts_t *self, const char *name)
{
    for (size_t i = self->count; i > 0; i--) {
        if (strcmp(self->items[i - 1].name, name) == 0)
            return &self->items[i - 1];
    }
    return NULL;
}

/*  Parses one line (without its line break) into r (name borrowed from line). Returns 0 or -1. */
static int s_parse(char *line, receipt_t *r)
{
    long long taken = 0, delivered = 0;
    unsigned long long first = 0, last = 0, records = 0, rows = 0, county = 0;
    int used = 0;
    if (sscanf(line, "%lld %llu %llu %llu %llu %llu %lld %n", &taken, &first, &last, &records,
               &rows, &county, &delivered, &used) != 7 ||
        used == 0 || line[used] == '\0')
        return -1;
    *r = (receipt_t){.name = line + used,
                     .taken_ms = taken,
                     .first_seq = first,
                     .last_seq = last,
                     .records = records,
                     .rows_refused = rows,
                     .county_refused = county,
                     .delivered_ms = delivered};
    return 0;
}

static void s_load(receipts_t *self)
{
    size_t size = 0;
    char err[256];
    struct stat st;
    if (stat(self->path, &st) != 0)
        return;
    char *data = file_read_all(self->path, &size, err, sizeof err);
    if (!data) {
        log_warn("receipts", "%s", err);
        return;
    }
    size_t torn = 0;
    for (char *line = data; line < data + size;) {
        char *nl = memchr(line, '\n', (size_t) (data + size - line));
        if (!nl) {
            torn++; // a line cut by a crash
            break;
        }
        *nl = '\0';
        receipt_t r;
        if (s_parse(line, &r) != 0) {
            torn++;
        } else {
            receipt_t *known = s_find(self, r.name);
            if (known) // taken again after a restart: the later line knows as much
                known->delivered_ms = r.delivered_ms ? r.delivered_ms : known->delivered_ms;
            else
                s_push(self, &r);
        }
        line = nl + 1;
    }
    if (torn)
        log_warn("receipts", "skipped %zu damaged line(s) of \"%s\"", torn, self->path);
    free(data);
}

receipts_t *receipts_open(const char *inbox_dir, char *err, size_t errlen)
{
    receipts_t *self = xcalloc(1, sizeof *self);
    self->dir = xstrdup(inbox_dir);
    self->path = xasprintf("%s/.receipts", inbox_dir);
    self->delivered = xasprintf("%s/delivered", inbox_dir);
    const char *dirs[] = {self->dir, self->delivered};
    for (size_t i = 0; i < 2; i++) {
        if (mkdir(dirs[i], 0750) != 0 && errno != EEXIST) {
            errorf(err, errlen, "could not create \"%s\": %s", dirs[i], strerror(errno));
            receipts_destroy(&self);
            return NULL;
        }
    }
    s_load(self);
    return self;
}

void receipts_destroy(receipts_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    receipts_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++)
        free(self->items[i].name);
    free(self->items);
    free(self->dir);
    free(self->path);
    free(self->delivered);
    free(self);
    *self_p = NULL;
}

static char *s_line(const receipt_t *r)
{
    return xasprintf("%lld %llu %llu %llu %llu %llu %lld %s\n", (long long) r->taken_ms,
                     (unsigned long long) r->first_seq, (unsigned long long) r->last_seq,
                     (unsigned long long) r->records, (unsigned long long) r->rows_refused,
                     (unsigned long long) r->county_refused, (long long) r->delivered_ms, r->name);
}

int receipts_add(receipts_t *self, const receipt_t *receipt, char *err, size_t errlen)
{
    receipt_t *known = s_find(self, receipt->name);
    if (known) { // the same take recorded again (a restart between its steps)
        free(known->name);
        *known = *receipt;
        known->name = xstrdup(receipt->name);
    } else {
        s_push(self, receipt);
    }
    char *line = s_line(receipt);
    int rc = 0;
    int fd = open(self->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0 || write(fd, line, strlen(line)) != (ssize_t) strlen(line))
        rc = errorf(err, errlen, "could not write \"%s\": %s", self->path, strerror(errno));
    if (fd >= 0)
        close(fd);
    free(line);
    return rc;
}

void receipts_forget(receipts_t *self, const char *name)
{
    receipt_t *r = s_find(self, name);
    if (!r)
        return;
    free(r->name);
    size_t i = (size_t) (r - self->items);
    memmove(r, r + 1, (self->count - i - 1) * sizeof *r);
    self->count--;
    s_rewrite(self);
}

const receipt_t *receipts_find(const receipts_t *self, const char *name)
{
    return s_find(self, name);
}

void receipts_add_refused(receipts_t *self, const char *name, uint64_t n)
{
    receipt_t *r = s_find(self, name);
    if (r)
        r->county_refused += n;
}

/*  Rewrites .receipts from memory, dropping the oldest delivered files beyond RECEIPTS_KEEP. */
static void s_rewrite(receipts_t *self)
{
    size_t delivered = 0;
    for (size_t i = 0; i < self->count; i++)
        delivered += self->items[i].delivered_ms != 0;
    size_t kept = 0;
    for (size_t i = 0; i < self->count; i++) {
        receipt_t *r = &self->items[i];
        if (r->delivered_ms && delivered > RECEIPTS_KEEP) {
            delivered--;
            free(r->name);
            continue;
        }
        self->items[kept++] = *r;
    }
    self->count = kept;
    char *tmp = xasprintf("%s.tmp", self->path);
    FILE *f = fopen(tmp, "w");
    bool ok = f != NULL;
    for (size_t i = 0; ok && i < self->count; i++) {
        char *line = s_line(&self->items[i]);
        ok = fputs(line, f) >= 0;
        free(line);
    }
    if (f && (fclose(f) != 0))
        ok = false;
    if (!ok || rename(tmp, self->path) != 0) {
        log_warn("receipts", "could not write \"%s\": %s", self->path, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
}

size_t receipts_deliver(receipts_t *self, uint64_t acked, int64_t now_ms)
{
    size_t n = 0;
    for (size_t i = 0; i < self->count; i++) {
        receipt_t *r = &self->items[i];
        if (r->delivered_ms || r->records == 0 || r->last_seq > acked)
            continue;
        r->delivered_ms = now_ms;
        n++;
        char *from = xasprintf("%s/done/%s", self->dir, r->name);
        char *to = xasprintf("%s/%s", self->delivered, r->name);
        if (link(from, to) != 0 && errno != EEXIST && errno != ENOENT)
            log_complain(&self->link, LOG_LEVEL_WARN, "receipts",
                         "could not link \"%s\" into delivered/: %s (状态.txt still lists it)",
                         from, strerror(errno));
        free(from);
        free(to);
        log_info("receipts", "the county has every record of \"%s\" (%" PRIu64 " records)", r->name,
                 r->records);
    }
    if (n)
        s_rewrite(self);
    return n;
}

size_t receipts_count(const receipts_t *self)
{
    return self->count;
}

const receipt_t *receipts_get(const receipts_t *self, size_t i)
{
    return i < self->count ? &self->items[i] : NULL;
}

int64_t receipts_waiting_since(const receipts_t *self, uint64_t acked)
{
    for (size_t i = 0; i < self->count; i++) {
        const receipt_t *r = &self->items[i];
        if (r->records && !r->delivered_ms && r->last_seq > acked)
            return r->taken_ms;
    }
    return 0;
}
