/*  util - allocation that cannot fail, and small string helpers
 *
 *  Out-of-memory is decided once, here: every allocation in eduwatch goes through these
 *  wrappers, which print a message and abort when the system has no memory left. Callers
 *  never test for NULL after them.
 */
#ifndef EDU_UTIL_H
#define EDU_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void *xmalloc(size_t size);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
/*  Frees *item and nulls it: the destructor of a CZMQ container (zhashx, zlistx) whose items
 *  are single malloc'd blocks. */
void xfree_item(void **item);
char *xstrndup(const char *s, size_t n);
/*  Returns a newly allocated formatted string; the caller frees it. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*  Formats into a caller's error buffer (which may be NULL or of size 0); always returns -1 so
 *  that failure paths can `return errorf(err, errlen, ...)`. */
int errorf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*  True when s ends with suffix. */
bool str_ends_with(const char *s, const char *suffix);

/*  Reads a whole file into a newly allocated, NUL-terminated buffer; *size gets its length.
 *  Returns NULL and fills err on failure. */
char *file_read_all(const char *path, size_t *size, char *err, size_t errlen);

/*  Milliseconds of a monotonic clock. */
int64_t clock_mono_ms(void);



/*  Length in bytes of the well-formed UTF-8 sequence at s (at most n bytes available), or 0
 *  when the bytes there are not well-formed UTF-8 (overlong, surrogate, beyond U+10FFFF,
 *  truncated). */
size_t utf8_sequence_length(const char *s, size_t n);
/*  True when s[0..n) is well-formed UTF-8. */
bool utf8_valid(const char *s, size_t n);

/*  s made safe for one log line, into buf (size bytes, always terminated): control characters
 *  and backslashes as C escapes (\n, \x1b, \\), invalid UTF-8 bytes as \xNN, cut with "..."
 *  when it does not fit. For every string a peer sends before it reaches a log. Returns buf. */
const char *str_escape(const char *s, char *buf, size_t size);

#endif
