/*  log - one line per event on stderr, with a level and the module as prefix */
#include "log.h"

#include "util.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static log_level_t s_level = LOG_LEVEL_INFO;
static const char *s_names[] = {"error", "warn", "info", "debug"};
static const int s_priorities[] = {3, 4, 6,
                                   7}; // syslog's LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG
static bool s_journal = false;         // stderr is the journal: priority prefixes
static pthread_once_t s_once = PTHREAD_ONCE_INIT;

void log_init(void)
{
    // JOURNAL_STREAM=DEVICE:INODE of the stream systemd connected; stderr may since have been
    // redirected elsewhere (a shell inside the unit), so it must still be that file
    const char *stream = getenv("JOURNAL_STREAM");
    unsigned long long dev = 0, ino = 0;
    struct stat st;
    s_journal = stream && sscanf(stream, "%llu:%llu", &dev, &ino) == 2 &&
                fstat(STDERR_FILENO, &st) == 0 && (unsigned long long) st.st_dev == dev &&
                (unsigned long long) st.st_ino == ino;
}

void log_set_level(log_level_t level)
{
    s_level = level;
}

bool log_enabled(log_level_t level)
{
    return level <= s_level;
}

__attribute__((format(printf, 3, 0))) static void s_vwrite(log_level_t level, const char *module,
                                                           const char *fmt, va_list ap)
{
    pthread_once(&s_once, log_init);
    char line[2048];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t len = strlen(line);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = '\0';
    // one line per entry: a line of a multi-line message (libpq's DETAIL, HINT) gets the
    // prefix too, so that every line of the log says when, how bad and where
    char prefix[64] = "";
    if (!s_journal) {
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        size_t n = strftime(prefix, sizeof prefix, "%Y-%m-%dT%H:%M:%SZ ", &tm);
        snprintf(prefix + n, sizeof prefix - n, "%-5s ", s_names[level]);
    } else {
        snprintf(prefix, sizeof prefix, "<%d>", s_priorities[level]);
    }
    char out[4096];
    size_t used = 0;
    const char *rest = line;
    for (bool first = true; rest; first = false) {
        const char *nl = strchr(rest, '\n');
        int n = snprintf(out + used, sizeof out - used, "%s%s%s%.*s\n", prefix, module,
                         first ? ": " : ":   ", nl ? (int) (nl - rest) : (int) strlen(rest),
                         rest + (first ? 0 : strspn(rest, "\t ")));
        if (n < 0 || (size_t) n >= sizeof out - used) {
            out[sizeof out - 2] = '\n';
            used = sizeof out - 1;
            break;
        }
        used += (size_t) n;
        rest = nl ? nl + 1 : NULL;
    }
    out[used] = '\0';
    fputs(out, stderr); // one call: stdio's lock keeps another thread's line out of it
}

void log_write(log_level_t level, const char *module, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    va_list ap;
    va_start(ap, fmt);
    s_vwrite(level, module, fmt, ap);
    va_end(ap);
}

void log_complain(log_complain_t *c, log_level_t level, const char *module, const char *fmt, ...)
{
    int64_t now = clock_mono_ms();
    if (c->failing && now < c->next_ms) {
        c->suppressed++;
        return;
    }
    c->interval_ms = c->failing ? c->interval_ms * 2 : 10000;
    if (c->interval_ms > 3600 * 1000)
        c->interval_ms = 3600 * 1000;
    c->next_ms = now + c->interval_ms;
    c->failing = true;
    if (!log_enabled(level))
        return;
    char line[1900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (c->suppressed)
        log_write(level, module, "%s (repeated %llu times)", line,
                  (unsigned long long) c->suppressed);
    else
        log_write(level, module, "%s", line);
    c->suppressed = 0;
}

void log_release(log_complain_t *c, const char *module, const char *fmt, ...)
{
    if (!c->failing)
        return;
    c->failing = false;
    c->suppressed = 0;
    c->interval_ms = 0;
    va_list ap;
    va_start(ap, fmt);
    s_vwrite(LOG_LEVEL_INFO, module, fmt, ap);
    va_end(ap);
}
