/*
 * The service manager's protocols, spoken directly (no libsystemd): socket
 * activation (LISTEN_FDS) and readiness notification (NOTIFY_SOCKET).
 */
#ifndef REVOKD_SVCMGR_H
#define REVOKD_SVCMGR_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"

#define SVCMGR_FDNAME_SERVICES	"revokd"	/* the services' socket */
#define SVCMGR_FDNAME_ADMIN	"admin"		/* the admins' socket */

/* Take the sockets passed by the service manager, if any: *services and
 * *admin get their fds (-1 when not passed). Each must be a listening
 * Unix stream socket named by LISTEN_FDNAMES as above (a single unnamed
 * one is the services'). Returns the number taken (0: not activated), or
 * -1 with err. The LISTEN_* variables are removed from the environment. */
int svcmgr_listen_fds(int *services, int *admin, char *err, size_t errlen);
/* Open the notification socket named by NOTIFY_SOCKET, if any; 0, or -1
 * with err. */
int svcmgr_notify_init(char *err, size_t errlen);
/* Send a notification ("READY=1", "STATUS=...", ...); a no-op when not
 * run by a service manager. */
void svcmgr_notify(const char *fmt, ...) LOG_FMT(1, 2);
/* Return the watchdog interval in microseconds asked for this process
 * (WATCHDOG_USEC), or 0. */
uint64_t svcmgr_watchdog_usec(void);
/* Close the notification socket. */
void svcmgr_close(void);

#endif
