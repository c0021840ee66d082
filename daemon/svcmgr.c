/*
 * The service manager's protocols, spoken directly: they are a few lines
 * each (sd_listen_fds(3), sd_notify(3)), and libsystemd would be a
 * dependency for nothing else.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "svcmgr.h"

#define SVCMGR_FDS_START	3	/* the first passed fd (SD_LISTEN_FDS_START) */
#define SVCMGR_FDS_MAX		2	/* sockets revokd takes */
#define SVCMGR_MSG_MAX		1024	/* bytes of one notification */

static int			 notify_fd = -1;	/* datagram socket */
static struct sockaddr_un	 notify_addr;		/* NOTIFY_SOCKET */
static socklen_t		 notify_len;		/* its length */

/* Parse a decimal environment variable into *v; 0, or -1 if unset or bad. */
static int
svcmgr_env_ul(const char *name, unsigned long long *v)
{
	const char	*s = getenv(name);
	char		*end;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno != 0 || *end != '\0' ? -1 : 0;
}

/* Check that fd is a listening Unix stream socket and make it
 * non-blocking and close-on-exec; 0, or -1 with err. */
static int
svcmgr_check_fd(int fd, const char *name, char *err, size_t errlen)
{
	int		 v, flags;
	socklen_t	 len;

	len = sizeof v;
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len) == -1 ||
	    v != AF_UNIX) {
		snprintf(err, errlen, "passed fd %d (%s) is not a Unix socket",
		    fd, name);
		return -1;
	}
	len = sizeof v;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) == -1 ||
	    v != SOCK_STREAM) {
		snprintf(err, errlen, "passed fd %d (%s) is not a stream "
		    "socket", fd, name);
		return -1;
	}
	len = sizeof v;
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == -1 ||
	    v == 0) {
		snprintf(err, errlen, "passed fd %d (%s) is not listening",
		    fd, name);
		return -1;
	}
	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
		snprintf(err, errlen, "passed fd %d: %s", fd, strerror(errno));
		return -1;
	}
	return 0;
}

/* Copy the i-th colon-separated name of names (may be NULL) into buf;
 * return its length (0 when absent). */
static size_t
svcmgr_fdname(const char *names, unsigned long long i, char *buf,
    size_t size)
{
	const char		*p = names, *q;
	unsigned long long	 k;
	size_t			 len;

	for (k = 0; k < i && p != NULL; k++)
		p = (q = strchr(p, ':')) != NULL ? q + 1 : NULL;
	if (p == NULL)
		return 0;
	len = strcspn(p, ":");
	if (len >= size)
		len = size - 1;
	memcpy(buf, p, len);
	return len;
}

/* Take the sockets passed by the service manager. */
int
svcmgr_listen_fds(int *services, int *admin, char *err, size_t errlen)
{
	unsigned long long	 pid, n, i;
	const char		*names;
	char			 name[64];
	size_t			 len;
	int			 fd, taken = 0;

	*services = *admin = -1;
	if (svcmgr_env_ul("LISTEN_PID", &pid) == -1 ||
	    pid != (unsigned long long)getpid())
		return 0;	/* not for us (or not activated) */
	if (svcmgr_env_ul("LISTEN_FDS", &n) == -1 || n == 0) {
		snprintf(err, errlen, "LISTEN_PID is ours but LISTEN_FDS is "
		    "not a count of sockets");
		return -1;
	}
	if (n > SVCMGR_FDS_MAX) {
		snprintf(err, errlen, "%llu sockets passed; revokd takes at "
		    "most %d (%s and %s)", n, SVCMGR_FDS_MAX,
		    SVCMGR_FDNAME_SERVICES, SVCMGR_FDNAME_ADMIN);
		return -1;
	}
	names = getenv("LISTEN_FDNAMES");
	for (i = 0; i < n; i++) {
		fd = SVCMGR_FDS_START + (int)i;
		/* The i-th colon-separated name, or "unknown". */
		len = svcmgr_fdname(names, i, name, sizeof name);
		if (len == 0) {
			len = strlen("unknown");
			memcpy(name, "unknown", len);
		}
		name[len] = '\0';
		if (svcmgr_check_fd(fd, name, err, errlen) == -1)
			return -1;
		if (strcmp(name, SVCMGR_FDNAME_ADMIN) == 0 && *admin == -1)
			*admin = fd;
		else if ((strcmp(name, SVCMGR_FDNAME_SERVICES) == 0 ||
		    (n == 1 && strcmp(name, "unknown") == 0)) &&
		    *services == -1)
			*services = fd;
		else {
			snprintf(err, errlen, "passed socket %s (fd %d): "
			    "expected the names %s and %s "
			    "(FileDescriptorName=)", name, fd,
			    SVCMGR_FDNAME_SERVICES, SVCMGR_FDNAME_ADMIN);
			return -1;
		}
		taken++;
	}
	if (*services == -1) {
		snprintf(err, errlen, "no socket named %s was passed",
		    SVCMGR_FDNAME_SERVICES);
		return -1;
	}
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return taken;
}

/* Open the notification socket named by NOTIFY_SOCKET. */
int
svcmgr_notify_init(char *err, size_t errlen)
{
	const char	*path = getenv("NOTIFY_SOCKET");
	size_t		 len;

	if (path == NULL || *path == '\0')
		return 0;
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') ||
	    len >= sizeof notify_addr.sun_path) {
		snprintf(err, errlen, "NOTIFY_SOCKET is not a Unix socket "
		    "path: %s", path);
		return -1;
	}
	memset(&notify_addr, 0, sizeof notify_addr);
	notify_addr.sun_family = AF_UNIX;
	memcpy(notify_addr.sun_path, path, len);
	if (path[0] == '@')
		notify_addr.sun_path[0] = '\0';	/* abstract namespace */
	notify_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0);
	if (notify_fd == -1) {
		snprintf(err, errlen, "notify socket: %s", strerror(errno));
		return -1;
	}
	unsetenv("NOTIFY_SOCKET");
	return 0;
}

/* Send a notification to the service manager. */
void
svcmgr_notify(const char *fmt, ...)
{
	char	 msg[SVCMGR_MSG_MAX];
	va_list	 ap;
	int	 n;

	if (notify_fd == -1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof msg)
		return;
	if (sendto(notify_fd, msg, (size_t)n, MSG_NOSIGNAL,
	    (struct sockaddr *)&notify_addr, notify_len) == -1)
		log_debug("notify: %s", strerror(errno));
}

/* Return the watchdog interval asked for this process, or 0. */
uint64_t
svcmgr_watchdog_usec(void)
{
	unsigned long long	usec, pid;

	if (svcmgr_env_ul("WATCHDOG_USEC", &usec) == -1 || usec == 0)
		return 0;
	if (svcmgr_env_ul("WATCHDOG_PID", &pid) == 0 &&
	    pid != (unsigned long long)getpid())
		return 0;
	return usec;
}

/* Close the notification socket. */
void
svcmgr_close(void)
{
	if (notify_fd != -1)
		close(notify_fd);
	notify_fd = -1;
}
