/* notify.h — telling the service manager how the daemon is doing: the
 * sd_notify protocol (one datagram of "KEY=VALUE" lines to the AF_UNIX
 * socket named by $NOTIFY_SOCKET) and the watchdog of $WATCHDOG_USEC.
 *
 * Self-contained rather than libsystemd's sd_notify: the protocol is a
 * stable, documented datagram, and linking libsystemd would pull its own
 * dependencies into a daemon that needs a dozen lines of it
 * (docs/operations.md). Without $NOTIFY_SOCKET every call does nothing,
 * so the daemon runs the same outside systemd. */
#ifndef TELLONCE_NOTIFY_H
#define TELLONCE_NOTIFY_H

#include <stddef.h>

/* Reads $NOTIFY_SOCKET ("/path" or "@abstract") and opens the socket the
 * messages leave from. Call once, before any thread starts. 0, also when
 * there is no service manager; -1 with err when the variable is malformed
 * or the socket cannot be opened (the caller logs it and goes on). */
int notify_init(char *err, size_t errlen);

/* Sends the lines of fmt (e.g. "READY=1\nSTATUS=serving"). Thread-safe;
 * a manager that cannot be reached is not the daemon's problem, so a
 * failed send is logged once and otherwise ignored. */
void notify_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "RELOADING=1" with the MONOTONIC_USEC= systemd wants alongside it, and
 * "STATUS=status" in the same message. */
void notify_reloading(const char *status);

/* Asks whether the daemon is healthy; nonzero means yes. */
typedef int (*notify_health_fn)(void *arg);

/* When $WATCHDOG_USEC is set (and $WATCHDOG_PID, if set, is this process),
 * starts a thread that sends WATCHDOG=1 every half of it, but only while
 * healthy(arg) says so: a wedged daemon stops feeding the watchdog and the
 * manager restarts it. 0 when started or not wanted, -1 with err. */
int notify_watchdog_start(notify_health_fn healthy, void *arg, char *err,
    size_t errlen);
/* Stops and joins the watchdog thread, if any. */
void notify_watchdog_stop(void);

#endif
