/* Logging to stderr, one line per event, with levels. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"

static int log_verbose;		/* 0: info and up, 1+: debug too */
static int log_prefixes;	/* print <N> priority prefixes */

/* Write one line at priority pri, with an optional errno text. */
static void __attribute__((format(printf, 2, 0)))
log_vwrite(int pri, const char *fmt, va_list ap, int err)
{
	char		 msg[1024], stamp[32];
	struct timespec	 ts;
	struct tm	 tm;
	static const char *names[] = {
		[LOG_ERR] = "error", [LOG_WARNING] = "warning",
		[LOG_INFO] = "info", [LOG_DEBUG] = "debug"
	};

	vsnprintf(msg, sizeof msg, fmt, ap);
	if (log_prefixes) {
		if (err)
			fprintf(stderr, "<%d>%s: %s\n", pri, msg, strerror(err));
		else
			fprintf(stderr, "<%d>%s\n", pri, msg);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
	if (err)
		fprintf(stderr, "%s.%03ldZ %s: %s: %s\n", stamp,
		    ts.tv_nsec / 1000000, names[pri], msg, strerror(err));
	else
		fprintf(stderr, "%s.%03ldZ %s: %s\n", stamp,
		    ts.tv_nsec / 1000000, names[pri], msg);
}

/* Route libevent's own messages through our log. */
static void
log_event_cb(int severity, const char *msg)
{
	switch (severity) {
	case EVENT_LOG_DEBUG:
		log_debug("libevent: %s", msg);
		break;
	case EVENT_LOG_MSG:
		log_info("libevent: %s", msg);
		break;
	default:
		log_warnx("libevent: %s", msg);
		break;
	}
}

/* Set the verbosity and the prefix style. */
void
log_init(int verbose, int prefixes)
{
	log_verbose = verbose;
	log_prefixes = prefixes;
	setvbuf(stderr, NULL, _IOLBF, 0);
	event_set_log_callback(log_event_cb);
}

/* Return 1 when debug messages are logged. */
int
log_debugging(void)
{
	return log_verbose > 0;
}

/* Log a warning with strerror(errno) appended. */
void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_WARNING, fmt, ap, saved);
	va_end(ap);
	errno = saved;
}

/* Log a warning. */
void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_WARNING, fmt, ap, 0);
	va_end(ap);
}

/* Log an informational message. */
void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_INFO, fmt, ap, 0);
	va_end(ap);
}

/* Log a debug message when verbose. */
void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	if (log_verbose < 1)
		return;
	va_start(ap, fmt);
	log_vwrite(LOG_DEBUG, fmt, ap, 0);
	va_end(ap);
}

/* Log an error with strerror(errno) and exit 1. */
void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_ERR, fmt, ap, saved);
	va_end(ap);
	/* _exit: fatal may be called from the journal writer thread while
	 * the loop runs; atexit handlers must not race it. */
	_exit(1);
}

/* Log an error and exit 1. */
void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_ERR, fmt, ap, 0);
	va_end(ap);
	/* _exit: fatal may be called from the journal writer thread while
	 * the loop runs; atexit handlers must not race it. */
	_exit(1);
}
