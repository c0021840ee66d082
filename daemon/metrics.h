/*
 * Metrics and health over HTTP: /metrics in the Prometheus text format,
 * /healthz for load balancers and service checks. Also keeps the counters
 * STATS does not have (commands by result, CHECK latency); the loop is
 * single-threaded, so they are plain integers.
 */
#ifndef REVOKD_METRICS_H
#define REVOKD_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "command.h"

struct event_base;

/* How a command ended, as the result label of revokd_commands_total. */
enum metrics_result {
	METRICS_OK,		/* done (PING, STATS, REVOKE stored, ...) */
	METRICS_REVOKED,	/* CHECK: revoked */
	METRICS_NOT_REVOKED,	/* CHECK: not revoked */
	METRICS_PENDING,	/* a write Redis could not confirm */
	METRICS_EXPIRED,	/* REVOKE of an already expired token */
	METRICS_NOT_FOUND,	/* UNREVOKE of nothing revoked */
	METRICS_ERROR,		/* an error reply (-LOADING, -STALE, -ERR) */
	METRICS_REFUSED,	/* a write by a non-admin (-NOPERM) */
	METRICS_RESULT_COUNT	/* number of results */
};

/* Parse addr (IPv4:PORT, [IPv6]:PORT or /unix/path) without opening
 * anything (for -n); 0, or -1 with err. */
int metrics_check(const char *addr, char *err, size_t errlen);
/* Serve /metrics and /healthz on addr from the loop; 0, or -1 with err. */
int metrics_start(struct event_base *, const char *addr, char *err,
    size_t errlen);
/* Close the endpoint, remove its Unix socket (after the loop ends). */
void metrics_stop(void);
/* Count one decoded command and how it ended. */
void metrics_count_command(enum command_id, enum metrics_result);
/* Record how long one CHECK took to execute, in nanoseconds. */
void metrics_observe_check(uint64_t nsec);
/* Count one configuration reload (SIGHUP): applied, or refused for
 * errors. */
void metrics_count_reload(int applied);

/* Return monotonic nanoseconds (for metrics_observe_check). */
static inline uint64_t
metrics_clock(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
