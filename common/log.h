/*  log - one line per event on stderr, with a level and the module as prefix
 *
 *  Lines look like `2026-11-22T08:00:00Z info  spool: recovered 3 segments`. Under systemd,
 *  when stderr is the journal's stream (JOURNAL_STREAM names stderr's device and inode, as
 *  systemd documents), a line is `<6>spool: recovered 3 segments` instead: the journal stamps
 *  the time itself and takes the priority from the prefix (`<3>` error, `<4>` warn, `<6>` info,
 *  `<7>` debug), so `journalctl -p warning` shows warnings and errors. A message's trailing
 *  newlines are dropped (libpq's messages end in one). Macros check the level before formatting,
 *  so a debug line costs nothing at the default level.
 *
 *  A failure that repeats (the aggregator unreachable, the database down) is reported once,
 *  then once more when it recovers, through a log_complain_t (after collectd's
 *  utils_complain): log_complain() prints only when the state changes or the back-off interval
 *  has passed; log_release() prints the recovery once.
 */
#ifndef EDU_LOG_H
#define EDU_LOG_H

#include <stdbool.h>
#include <stdint.h>

typedef enum { LOG_LEVEL_ERROR = 0, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG } log_level_t;

/*  Chooses the line format from the environment (see above). The first line written calls it;
 *  call it again after stderr was redirected. */
void log_init(void);

/*  Sets the level below which lines are dropped (default info). */
void log_set_level(log_level_t level);
bool log_enabled(log_level_t level);
void log_write(log_level_t level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_error(mod, ...) log_write(LOG_LEVEL_ERROR, mod, __VA_ARGS__)
#define log_warn(mod, ...)                                                                         \
    do {                                                                                           \
        if (log_enabled(LOG_LEVEL_WARN))                                                           \
            log_write(LOG_LEVEL_WARN, mod, __VA_ARGS__);                                           \
    } while (0)
#define log_info(mod, ...)                                                                         \
    do {                                                                                           \
        if (log_enabled(LOG_LEVEL_INFO))                                                           \
            log_write(LOG_LEVEL_INFO, mod, __VA_ARGS__);                                           \
    } while (0)
#define log_debug(mod, ...)                                                                        \
    do {                                                                                           \
        if (log_enabled(LOG_LEVEL_DEBUG))                                                          \
            log_write(LOG_LEVEL_DEBUG, mod, __VA_ARGS__);                                          \
    } while (0)

/*  State of one repeating failure. Zero-initialize it. */
typedef struct {
    bool failing;        // a failure has been reported and not yet released
    int64_t next_ms;     // monotonic time before which a repeat is not printed
    int64_t interval_ms; // current back-off between repeats (doubles up to an hour)
    uint64_t suppressed; // repeats not printed since the last line
} log_complain_t;

void log_complain(log_complain_t *c, log_level_t level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void log_release(log_complain_t *c, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
