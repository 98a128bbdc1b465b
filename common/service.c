/*  service - telling systemd how the daemon is doing (sd_notify) */
#include "service.h"

#include "util.h"

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-daemon.h>

void service_ready(const char *status)
{
    sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void service_watchdog(void)
{
    static bool asked = false;
    static uint64_t interval_ms = 0; // 0: no watchdog
    static int64_t last_ms = 0;
    if (!asked) {
        uint64_t usec = 0;
        asked = true;
        if (sd_watchdog_enabled(0, &usec) > 0)
            interval_ms = usec / 1000;
    }
    int64_t now = clock_mono_ms();
    if (interval_ms && now - last_ms >= (int64_t) interval_ms / 2) {
        sd_notify(0, "WATCHDOG=1");
        last_ms = now;
    }
}

void service_stopping(const char *status)
{
    sd_notifyf(0, "STOPPING=1\nSTATUS=%s", status);
}
