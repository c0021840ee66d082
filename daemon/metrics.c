/*
 * Metrics and health over HTTP (libevent's evhttp, on the daemon's loop):
 * /metrics in the Prometheus text exposition format 0.0.4, /healthz saying
 * whether the daemon answers authoritatively. Read-only: nothing here
 * changes the daemon's state, and a scrape reads the counters the loop
 * keeps anyway, so serving it costs the loop one render per request.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "audit.h"
#include "journal.h"
#include "log.h"
#include "metrics.h"
#include "repl.h"
#include "revokd.h"
#include "rules.h"
#include "server.h"

#define METRICS_MAX_HEADERS	8192	/* bytes of a request's start line and
					 * headers; a scraper sends ~200 */
#define METRICS_MAX_BODY	1024	/* bytes of a request body: GET has
					 * none; a small POST gets its 405 */
#define METRICS_TIMEOUT		10	/* seconds an HTTP connection may sit
					 * idle or unfinished */
#define METRICS_BACKLOG		64	/* listen(2) backlog */
#define METRICS_ADDR_MAX	128	/* bytes of an IP:PORT setting */

/* Methods evhttp passes to our callback: all it knows, so that the ones
 * we do not serve get 405 from us rather than 501 from evhttp. */
#define METRICS_METHODS	(EVHTTP_REQ_GET | EVHTTP_REQ_POST | \
	EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | \
	EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | \
	EVHTTP_REQ_PATCH)

/* Upper bounds of the CHECK duration buckets: a CHECK is a hash lookup
 * (~0.2 to 2 us); the tail shows page faults and a starved loop. */
static const struct {
	uint64_t	 nsec;		/* bound in nanoseconds */
	const char	*le;		/* the same in seconds, as a label */
} metrics_buckets[] = {
	{ 500, "5e-07" },
	{ 1000, "1e-06" },
	{ 2500, "2.5e-06" },
	{ 5000, "5e-06" },
	{ 10000, "1e-05" },
	{ 25000, "2.5e-05" },
	{ 50000, "5e-05" },
	{ 100000, "0.0001" },
	{ 250000, "0.00025" },
	{ 1000000, "0.001" },
	{ 10000000, "0.01" },
};
#define METRICS_NBUCKETS (sizeof metrics_buckets / sizeof metrics_buckets[0])

/* Result label values. */
static const char *const metrics_result_names[METRICS_RESULT_COUNT] = {
	[METRICS_OK] = "ok",
	[METRICS_REVOKED] = "revoked",
	[METRICS_NOT_REVOKED] = "not_revoked",
	[METRICS_PENDING] = "pending",
	[METRICS_EXPIRED] = "expired",
	[METRICS_NOT_FOUND] = "not_found",
	[METRICS_ERROR] = "error",
	[METRICS_REFUSED] = "refused",
};

#define MR(r)	(1u << (r))
/* The results each command can end with: their series are shown from the
 * start, at 0, so that rate() and alerts see them before the first one. */
static const unsigned metrics_results_of[CMD_COUNT] = {
	[CMD_PING] = MR(METRICS_OK),
	[CMD_ECHO] = MR(METRICS_OK),
	[CMD_CHECK] = MR(METRICS_REVOKED) | MR(METRICS_NOT_REVOKED) |
	    MR(METRICS_ERROR),
	[CMD_REVOKE] = MR(METRICS_OK) | MR(METRICS_PENDING) |
	    MR(METRICS_EXPIRED) | MR(METRICS_ERROR) | MR(METRICS_REFUSED),
	[CMD_UNREVOKE] = MR(METRICS_OK) | MR(METRICS_NOT_FOUND) |
	    MR(METRICS_PENDING) | MR(METRICS_ERROR) | MR(METRICS_REFUSED),
	[CMD_STATS] = MR(METRICS_OK),
	[CMD_QUIT] = MR(METRICS_OK),
};

/* The endpoint and the counters STATS does not keep. */
static struct {
	struct evhttp	*http;		/* the server, or NULL */
	struct evconnlistener *listener; /* its listening socket */
	struct event	*pause;		/* re-enables it after EMFILE */
	char		*unix_path;	/* our Unix socket (unlinked at stop),
					 * or NULL */
	uint64_t	 commands[CMD_COUNT][METRICS_RESULT_COUNT]; /* by
					 * command and result */
	uint64_t	 check_buckets[METRICS_NBUCKETS + 1]; /* CHECKs per
					 * bucket, not cumulative; the last
					 * one is above every bound */
	uint64_t	 check_count;	/* CHECKs timed */
	uint64_t	 check_nsec;	/* their total duration */
	uint64_t	 reloads[2];	/* configuration reloads: refused,
					 * applied */
} M;

/* Count one decoded command and how it ended. */
void
metrics_count_command(enum command_id id, enum metrics_result r)
{
	if ((unsigned)id < CMD_COUNT && (unsigned)r < METRICS_RESULT_COUNT)
		M.commands[id][r]++;
}

/* Record how long one CHECK took to execute. */
void
metrics_observe_check(uint64_t nsec)
{
	size_t	 i;

	for (i = 0; i < METRICS_NBUCKETS && nsec > metrics_buckets[i].nsec;
	    i++)
		;
	M.check_buckets[i]++;
	M.check_count++;
	M.check_nsec += nsec;
}

/* Count one configuration reload. */
void
metrics_count_reload(int applied)
{
	M.reloads[applied != 0]++;
}

/* Write the HELP and TYPE lines of a metric family. */
static void
metrics_family(struct evbuffer *b, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

/* Write a metric family with one unlabelled integer sample. */
static void
metrics_int(struct evbuffer *b, const char *name, const char *type,
    const char *help, long long value)
{
	metrics_family(b, name, type, help);
	evbuffer_add_printf(b, "%s %lld\n", name, value);
}

/* Write the commands counter, every meaningful (command, result) pair. */
static void
metrics_commands(struct evbuffer *b)
{
	const char	*name;
	unsigned	 c, r;

	metrics_family(b, "revokd_commands_total", "counter",
	    "Commands executed, by command and result (refused: not an "
	    "admin; pending: stored, not yet confirmed by Redis).");
	for (c = 0; c < CMD_COUNT; c++) {
		if ((name = command_name((enum command_id)c)) == NULL)
			continue;
		for (r = 0; r < METRICS_RESULT_COUNT; r++) {
			if (!(metrics_results_of[c] & MR(r)) &&
			    M.commands[c][r] == 0)
				continue;
			evbuffer_add_printf(b, "revokd_commands_total{command="
			    "\"%s\",result=\"%s\"} %llu\n",
			    name, metrics_result_names[r],
			    (unsigned long long)M.commands[c][r]);
		}
	}
}

/* Write the CHECK duration histogram. */
static void
metrics_histogram(struct evbuffer *b)
{
	static const char name[] = "revokd_check_duration_seconds";
	uint64_t	 cum = 0;
	size_t		 i;

	metrics_family(b, name, "histogram",
	    "Time spent executing CHECK commands (the lookup, not the I/O).");
	for (i = 0; i < METRICS_NBUCKETS; i++) {
		cum += M.check_buckets[i];
		evbuffer_add_printf(b, "%s_bucket{le=\"%s\"} %llu\n", name,
		    metrics_buckets[i].le, (unsigned long long)cum);
	}
	evbuffer_add_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name,
	    (unsigned long long)M.check_count);
	evbuffer_add_printf(b, "%s_sum %llu.%09llu\n", name,
	    (unsigned long long)(M.check_nsec / 1000000000u),
	    (unsigned long long)(M.check_nsec % 1000000000u));
	evbuffer_add_printf(b, "%s_count %llu\n", name,
	    (unsigned long long)M.check_count);
}

/* Write the journal's metrics. */
static void
metrics_journal(struct evbuffer *b)
{
	struct journal_stats	 js;

	journal_get_stats(journal, &js);
	metrics_family(b, "revokd_journal_bytes", "gauge",
	    "Size of the journal's files on disk.");
	evbuffer_add_printf(b, "revokd_journal_bytes{file=\"log\"} %llu\n"
	    "revokd_journal_bytes{file=\"snapshot\"} %llu\n",
	    (unsigned long long)js.log_bytes,
	    (unsigned long long)js.snapshot_bytes);
	metrics_family(b, "revokd_journal_last_fsync_duration_seconds",
	    "gauge", "Duration of the journal's last write and fsync.");
	evbuffer_add_printf(b, "revokd_journal_last_fsync_duration_seconds "
	    "%llu.%06llu\n", (unsigned long long)(js.last_sync_usec / 1000000),
	    (unsigned long long)(js.last_sync_usec % 1000000));
	metrics_int(b, "revokd_journal_fsyncs_total", "counter",
	    "Journal write and fsync batches completed.",
	    (long long)js.syncs);
	metrics_int(b, "revokd_journal_compactions_total", "counter",
	    "Journal compactions completed.", (long long)js.compactions);
	metrics_int(b, "revokd_journal_pending_records", "gauge",
	    "Records appended to the journal, not yet durable.",
	    (long long)js.pending);
}

/* Write the replication metrics. */
static void
metrics_redis(struct evbuffer *b)
{
	static const enum repl_state states[] = { REPL_OFF, REPL_LOADING,
	    REPL_SYNCED, REPL_DEGRADED };
	struct repl_stats	 rs;
	enum repl_state		 now = repl_state();
	size_t			 i;

	repl_get_stats(&rs);
	if (rs.staleness_ms < 0)
		rs.staleness_ms = 0;	/* printed as seconds.millis */
	metrics_family(b, "revokd_redis_state", "gauge",
	    "Where the daemon stands with Redis: 1 for the current state "
	    "(off: no Redis configured).");
	for (i = 0; i < sizeof states / sizeof states[0]; i++)
		evbuffer_add_printf(b, "revokd_redis_state{state=\"%s\"} %d\n",
		    repl_state_name(states[i]), states[i] == now);
	metrics_int(b, "revokd_redis_pending_writes", "gauge",
	    "Own writes not yet confirmed by Redis.", (long long)rs.pending);
	metrics_family(b, "revokd_redis_staleness_seconds", "gauge",
	    "Time since the Redis stream was last confirmed live (0 without "
	    "Redis).");
	evbuffer_add_printf(b, "revokd_redis_staleness_seconds %lld.%03lld\n",
	    (long long)(rs.staleness_ms / 1000),
	    (long long)(rs.staleness_ms % 1000));
	metrics_int(b, "revokd_redis_max_staleness_seconds", "gauge",
	    "Staleness beyond which CHECK answers -STALE (0: never).",
	    (long long)settings.max_staleness);
	metrics_int(b, "revokd_redis_reloads_total", "counter",
	    "Full reloads of the set from Redis completed.",
	    (long long)rs.reloads);
	metrics_int(b, "revokd_redis_reconnects_total", "counter",
	    "Connections to Redis made after the first.",
	    (long long)rs.reconnects);
	metrics_int(b, "revokd_redis_events_applied_total", "counter",
	    "Other daemons' events applied from the stream.",
	    (long long)rs.applied);
}

/* Render every metric into b. */
static void
metrics_render(struct evbuffer *b)
{
	time_t	 now = time(NULL);
	int	 k;

	metrics_family(b, "revokd_build_info", "gauge",
	    "The running version (always 1).");
	evbuffer_add_printf(b, "revokd_build_info{version=\"%s\"} 1\n",
	    REVOKD_VERSION_STRING);
	metrics_int(b, "revokd_start_time_seconds", "gauge",
	    "When the daemon started, in Unix seconds.",
	    (long long)start_time);
	metrics_int(b, "revokd_uptime_seconds", "gauge",
	    "Seconds since the daemon started.",
	    (long long)(now - start_time));
	metrics_family(b, "revokd_entries", "gauge",
	    "Revocations held, by rule type (expired ones not yet swept "
	    "included).");
	for (k = 0; k < RULES_NKINDS; k++)
		evbuffer_add_printf(b, "revokd_entries{rule=\"%s\"} %zu\n",
		    rules_kind_name((enum rules_kind)k),
		    rules_count(rules, k));
	metrics_int(b, "revokd_memory_bytes", "gauge",
	    "Memory held by the rules' tables.",
	    (long long)rules_memory(rules));
	metrics_int(b, "revokd_audit_records_total", "counter",
	    "Writes recorded in the audit trail (own and other daemons').",
	    (long long)audit_total());
	metrics_commands(b);
	metrics_histogram(b);
	metrics_int(b, "revokd_connections", "gauge",
	    "Client connections open now.", (long long)stats.connections);
	metrics_int(b, "revokd_connections_total", "counter",
	    "Client connections accepted.",
	    (long long)stats.connections_total);
	metrics_int(b, "revokd_clients_dropped_total", "counter",
	    "Clients disconnected for misbehaving (protocol errors, limits, "
	    "stuck) or turned away at max-clients.",
	    (long long)stats.clients_dropped);
	metrics_int(b, "revokd_writes_refused_total", "counter",
	    "Write and admin commands refused with -NOPERM (not an admin).",
	    (long long)stats.refused_total);
	metrics_family(b, "revokd_config_reloads_total", "counter",
	    "Configuration reloads (SIGHUP): applied, or refused for errors "
	    "(the running configuration stays).");
	evbuffer_add_printf(b, "revokd_config_reloads_total{result=\"ok\"} "
	    "%llu\nrevokd_config_reloads_total{result=\"refused\"} %llu\n",
	    (unsigned long long)M.reloads[1],
	    (unsigned long long)M.reloads[0]);
	metrics_journal(b);
	metrics_redis(b);
}

/* Decide whether the daemon answers authoritatively; if not, write the
 * reason into why and return 0. */
static int
metrics_healthy(char *why, size_t len)
{
	struct repl_stats	 rs;
	enum repl_state		 st = repl_state();

	if (st == REPL_OFF)
		return 1;
	if (st == REPL_LOADING) {
		snprintf(why, len, "loading");
		return 0;
	}
	repl_get_stats(&rs);
	/* The staleness that makes CHECK answer -STALE: then the daemon
	 * does not answer at all, worse than degraded. */
	if (settings.max_staleness > 0 &&
	    rs.staleness_ms > (int64_t)settings.max_staleness * 1000) {
		snprintf(why, len, "stale: no contact with Redis for %lld s",
		    (long long)(rs.staleness_ms / 1000));
		return 0;
	}
	if (st == REPL_DEGRADED) {
		snprintf(why, len, "degraded: Redis unreachable");
		return 0;
	}
	return 1;
}

/* Answer one HTTP request. */
static void
metrics_request_cb(struct evhttp_request *req, void *arg)
{
	const struct evhttp_uri	*uri = evhttp_request_get_evhttp_uri(req);
	const char		*path = uri ? evhttp_uri_get_path(uri) : NULL;
	struct evkeyvalq	*hdrs = evhttp_request_get_output_headers(req);
	enum evhttp_cmd_type	 method = evhttp_request_get_command(req);
	struct evbuffer		*body;
	const char		*reason = "OK";
	const char		*ctype = "text/plain; charset=utf-8";
	char			 why[128];
	int			 code = 200, is_metrics;

	(void)arg;
	if ((body = evbuffer_new()) == NULL) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	if (path == NULL)
		path = "";
	is_metrics = strcmp(path, "/metrics") == 0;
	if (!is_metrics && strcmp(path, "/healthz") != 0) {
		code = 404;
		reason = "Not Found";
		evbuffer_add_printf(body, "not found\n");
	} else if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) {
		code = 405;
		reason = "Method Not Allowed";
		evhttp_add_header(hdrs, "Allow", "GET, HEAD");
		evbuffer_add_printf(body, "method not allowed\n");
	} else if (is_metrics) {
		ctype = "text/plain; version=0.0.4; charset=utf-8";
		metrics_render(body);
	} else if (metrics_healthy(why, sizeof why))
		evbuffer_add_printf(body, "ok\n");
	else {
		code = 503;
		reason = "Service Unavailable";
		evbuffer_add_printf(body, "%s\n", why);
	}
	evhttp_add_header(hdrs, "Content-Type", ctype);
	evhttp_add_header(hdrs, "Cache-Control", "no-store");
	/* evhttp 2.1 would send a HEAD reply's body: announce its length,
	 * send none. */
	if (method == EVHTTP_REQ_HEAD) {
		snprintf(why, sizeof why, "%zu", evbuffer_get_length(body));
		evhttp_add_header(hdrs, "Content-Length", why);
		evbuffer_drain(body, evbuffer_get_length(body));
	}
	evhttp_send_reply(req, code, reason, body);
	evbuffer_free(body);
}

/* Parse an IPv4:PORT or [IPv6]:PORT address (numeric, the port given)
 * into ss; 0, or -1 with err. */
static int
metrics_parse_tcp(const char *addr, struct sockaddr_storage *ss, int *sslen,
    char *err, size_t errlen)
{
	const char	*colon = strrchr(addr, ':');
	const char	*p;
	long		 port = 0;

	if (colon == NULL || colon[1] == '\0' || strlen(colon + 1) > 5 ||
	    (addr[0] == '[' && colon[-1] != ']') ||
	    (addr[0] != '[' && strchr(addr, ':') != colon))
		goto bad;
	for (p = colon + 1; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			goto bad;
		port = port * 10 + (*p - '0');
	}
	if (port < 1 || port > 65535)
		goto bad;
	memset(ss, 0, sizeof *ss);
	*sslen = (int)sizeof *ss;
	if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)ss,
	    sslen) == -1)
		goto bad;
	return 0;
bad:
	snprintf(err, errlen, "%s: expected IPV4:PORT, [IPV6]:PORT or an "
	    "absolute Unix socket path", addr);
	return -1;
}

/* Parse addr without opening anything; 0, or -1 with err. */
int
metrics_check(const char *addr, char *err, size_t errlen)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_un	 sun;
	int			 sslen;

	if (addr[0] == '/') {
		if (strlen(addr) >= sizeof sun.sun_path) {
			snprintf(err, errlen, "socket path too long (max %zu "
			    "bytes): %s", sizeof sun.sun_path - 1, addr);
			return -1;
		}
		return 0;
	}
	if (strlen(addr) > METRICS_ADDR_MAX) {
		snprintf(err, errlen, "address too long: %.32s...", addr);
		return -1;
	}
	return metrics_parse_tcp(addr, &ss, &sslen, err, errlen);
}

/* Create, bind and listen on a TCP socket at addr; the fd, or -1 with
 * err. */
static int
metrics_listen_tcp(const char *addr, char *err, size_t errlen)
{
	struct sockaddr_storage	 ss;
	int			 sslen, fd, on = 1, saved;

	if (metrics_parse_tcp(addr, &ss, &sslen, err, errlen) == -1)
		return -1;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	/* A restart must not wait out the old connections' TIME_WAIT; and
	 * [::]:PORT means IPv6 only, as written. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) == -1 ||
	    (ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &on, sizeof on) == -1) ||
	    bind(fd, (struct sockaddr *)&ss, (socklen_t)sslen) == -1 ||
	    listen(fd, METRICS_BACKLOG) == -1) {
		saved = errno;
		close(fd);
		snprintf(err, errlen, "%s: %s", addr, strerror(saved));
		return -1;
	}
	return fd;
}

/* Write the address TCP socket fd is bound to into
 * buf as IP:PORT or [IP]:PORT; 0, or -1. */
static int
metrics_bound(int fd, char *buf, size_t len)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t		 sslen = sizeof ss;
	char			 ip[INET6_ADDRSTRLEN];

	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == -1)
		return -1;
	if (ss.ss_family == AF_INET6 && evutil_inet_ntop(AF_INET6,
	    &sin6->sin6_addr, ip, sizeof ip) != NULL)
		snprintf(buf, len, "[%s]:%u", ip, ntohs(sin6->sin6_port));
	else if (ss.ss_family == AF_INET && evutil_inet_ntop(AF_INET,
	    &sin->sin_addr, ip, sizeof ip) != NULL)
		snprintf(buf, len, "%s:%u", ip, ntohs(sin->sin_port));
	else
		return -1;
	return 0;
}

/* The pause after an accept error is over: listen again. */
static void
metrics_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (M.listener != NULL)
		evconnlistener_enable(M.listener);
}

/* accept() failed (EMFILE and the like): pause for a second. */
static void
metrics_accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct timeval	tv = { 1, 0 };

	(void)arg;
	log_warn("metrics: accept (pausing for 1 s)");
	evconnlistener_disable(l);
	evtimer_add(M.pause, &tv);
}

/* Serve /metrics and /healthz on addr from the loop. */
int
metrics_start(struct event_base *base, const char *addr, char *err,
    size_t errlen)
{
	struct evhttp_bound_socket *bound = NULL;
	char			 host[INET6_ADDRSTRLEN + 16];
	int			 fd;

	if (M.http != NULL) {
		snprintf(err, errlen, "already started");
		return -1;
	}
	if (metrics_check(addr, err, errlen) == -1)
		return -1;
	if (addr[0] == '/') {
		/* Stale-socket handling, umask around bind, mode 0660: the
		 * same rules as the services' socket. */
		if ((fd = server_listen(addr, 0660)) == -1) {
			snprintf(err, errlen, "cannot listen on %s: %s", addr,
			    strerror(errno));
			return -1;
		}
		if ((M.unix_path = strdup(addr)) == NULL) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
	} else if ((fd = metrics_listen_tcp(addr, err, errlen)) == -1)
		return -1;

	if ((M.http = evhttp_new(base)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	/* A scraper sends one small GET; anything bigger or slower is
	 * cut off rather than allowed to hold the daemon's memory. */
	evhttp_set_max_headers_size(M.http, METRICS_MAX_HEADERS);
	evhttp_set_max_body_size(M.http, METRICS_MAX_BODY);
	evhttp_set_timeout(M.http, METRICS_TIMEOUT);
	evhttp_set_allowed_methods(M.http, METRICS_METHODS);
	evhttp_set_gencb(M.http, metrics_request_cb, NULL);
	if ((bound = evhttp_accept_socket_with_handle(M.http, fd)) == NULL) {
		snprintf(err, errlen, "cannot accept on %s", addr);
		goto fail;
	}
	/* Without an error callback libevent 2.1 keeps a listener armed
	 * after EMFILE and spins; pause it instead, as the server does. */
	M.listener = evhttp_bound_socket_get_listener(bound);
	if ((M.pause = evtimer_new(base, metrics_resume_cb, NULL)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	evconnlistener_set_error_cb(M.listener, metrics_accept_error_cb);
	if (M.unix_path != NULL)
		log_info("metrics on unix:%s (/metrics, /healthz)", addr);
	else
		log_info("metrics on http://%s/ (/metrics, /healthz)",
		    metrics_bound(fd, host, sizeof host) == 0 ? host : addr);
	return 0;
fail:
	if (bound == NULL)
		close(fd);	/* else evhttp_free closes it */
	if (M.http != NULL)
		evhttp_free(M.http);
	M.http = NULL;
	M.listener = NULL;
	if (M.unix_path != NULL) {
		(void)unlink(M.unix_path);
		free(M.unix_path);
		M.unix_path = NULL;
	} else if (addr[0] == '/')
		(void)unlink(addr);
	return -1;
}

/* Close the endpoint and remove its Unix socket. */
void
metrics_stop(void)
{
	if (M.http != NULL)
		evhttp_free(M.http);	/* closes the listener too */
	M.http = NULL;
	M.listener = NULL;
	if (M.pause != NULL)
		event_free(M.pause);
	M.pause = NULL;
	if (M.unix_path != NULL && unlink(M.unix_path) == -1 &&
	    errno != ENOENT)
		log_warn("unlink %s", M.unix_path);
	free(M.unix_path);
	M.unix_path = NULL;
}
