/* Logging to stderr, one line per event, with levels. */
#ifndef REVOKD_LOG_H
#define REVOKD_LOG_H

#include <stdarg.h>

#define LOG_FMT(a, b) __attribute__((format(printf, a, b)))

/* Set the verbosity (0: info and above, 1+: debug) and whether lines carry
 * <N> syslog priority prefixes (stderr is the journal). */
void log_init(int verbose, int prefixes);
/* Log a warning with strerror(errno) appended. */
void log_warn(const char *, ...) LOG_FMT(1, 2);
/* Log a warning. */
void log_warnx(const char *, ...) LOG_FMT(1, 2);
/* Log an informational message. */
void log_info(const char *, ...) LOG_FMT(1, 2);
/* Log a debug message when verbose. */
void log_debug(const char *, ...) LOG_FMT(1, 2);
/* Log an error with strerror(errno) and exit 1. */
void fatal(const char *, ...) LOG_FMT(1, 2) __attribute__((noreturn));
/* Log an error and exit 1. */
void fatalx(const char *, ...) LOG_FMT(1, 2) __attribute__((noreturn));
/* Return 1 when debug messages are logged. */
int log_debugging(void);

#endif
