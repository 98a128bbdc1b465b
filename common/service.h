/*  service - telling systemd how the daemon is doing (sd_notify)
 *
 *  The units in deploy/systemd are Type=notify with WatchdogSec: a daemon says READY=1 once
 *  it serves (the collector after recovering its spool and scanning its inbox, the aggregator
 *  once it listens, the province puller at its first round), pings the watchdog from its main
 *  loop, and says STOPPING=1 when it drains. Outside systemd (no NOTIFY_SOCKET) every call does
 *  nothing.
 */
#ifndef EDU_SERVICE_H
#define EDU_SERVICE_H

/*  READY=1 with a status line. */
void service_ready(const char *status);

/*  WATCHDOG=1, at most twice per watchdog interval; call it from every main-loop turn. */
void service_watchdog(void);

/*  STOPPING=1 with a status line. */
void service_stopping(const char *status);

#endif
