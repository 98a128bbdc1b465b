/*  log - one line per event on stderr, with a level and the module as prefix */
#include "log.h"

#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static log_level_t s_level = LOG_LEVEL_INFO;
static const char *s_names[] = {"error", "warn", "info", "debug"};

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
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char line[2048];
    vsnprintf(line, sizeof line, fmt, ap);
    fprintf(stderr, "%s %-5s %s: %s\n", stamp, s_names[level], module, line);
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
        log_write(level, module, "%s (repeated %llu times)", line, (unsigned long long) c->suppressed);
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
