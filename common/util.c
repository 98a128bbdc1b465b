/*  util - allocation that cannot fail, and small string helpers */
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void s_out_of_memory(size_t size)
{
    fprintf(stderr, "fatal: out of memory allocating %zu bytes\n", size);
    abort();
}

void *xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        s_out_of_memory(size);
    return p;
}

void *xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        s_out_of_memory(count * size);
    return p;
}

void *xrealloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);
    if (!p)
        s_out_of_memory(size);
    return p;
}

void xfree_item(void **item)
{
    free(*item);
    *item = NULL;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (len < 0)
        s_out_of_memory(0);
    char *p = xmalloc((size_t) len + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t) len + 1, fmt, ap);
    va_end(ap);
    return p;
}

int errorf(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

bool str_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

char *file_read_all(const char *path, size_t *size, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        errorf(err, errlen, "could not open \"%s\": %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = xmalloc(cap);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len - 1 == 0) {
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
    }
    if (ferror(f)) {
        errorf(err, errlen, "could not read \"%s\": %s", path, strerror(errno));
        fclose(f);
        free(buf);
        return NULL;
    }
    fclose(f);
    buf[len] = '\0';
    *size = len;
    return buf;
}

int64_t clock_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

size_t utf8_sequence_length(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *) s;
    if (n == 0)
        return 0;
    if (p[0] < 0x80)
        return 1;
    size_t len;
    uint32_t cp, min;
    if ((p[0] & 0xe0) == 0xc0)
        len = 2, cp = p[0] & 0x1f, min = 0x80;
    else if ((p[0] & 0xf0) == 0xe0)
        len = 3, cp = p[0] & 0x0f, min = 0x800;
    else if ((p[0] & 0xf8) == 0xf0)
        len = 4, cp = p[0] & 0x07, min = 0x10000;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

bool utf8_valid(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t len = utf8_sequence_length(s + i, n - i);
        if (len == 0)
            return false;
        i += len;
    }
    return true;
}

const char *str_escape(const char *s, char *buf, size_t size)
{
    if (size < 4) { // no room for anything but the terminator
        if (size)
            *buf = '\0';
        return buf;
    }
    size_t used = 0, n = s ? strlen(s) : 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char) s[i];
        size_t seq = utf8_sequence_length(s + i, n - i);
        char piece[8];
        const char *from = piece;
        size_t take;
        if (c == '\\' || c == '\n' || c == '\r' || c == '\t') {
            take = (size_t) snprintf(piece, sizeof piece, "\\%c",
                                     c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : '\\');
            seq = 1;
        } else if (c < 0x20 || c == 0x7f || seq == 0) {
            take = (size_t) snprintf(piece, sizeof piece, "\\x%02x", c);
            seq = 1;
        } else {
            from = s + i; // a printable character or a whole UTF-8 sequence, as it is
            take = seq;
        }
        if (used + take > size - 4) { // keep room for "..." and the terminator
            memcpy(buf + used, "...", 3);
            used += 3;
            break;
        }
        memcpy(buf + used, from, take);
        used += take;
        i += seq;
    }
    buf[used] = '\0';
    return buf;
}
