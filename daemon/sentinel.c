/*
 * Redis Sentinel: where the primary is, and when it moves.
 *
 * A resolve asks one sentinel at a time, starting from the one that
 * answered last, and moves on after an error, a null answer (the sentinel
 * does not know the master) or a reply overdue by the timeout. A second
 * connection stays subscribed to +switch-master on one sentinel and moves
 * to the next when it is lost; a missed announcement is covered anyway,
 * because the daemon resolves again whenever its Redis connection fails.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

#include "log.h"
#include "sentinel.h"

#define SENTINEL_WATCH_RETRY_MS	1000	/* re-subscribe after a loss */
#define SENTINEL_PASSWORD_MAX	512	/* bytes of a password */

/* Everything this module knows. */
static struct {
	struct event_base *base;	/* the daemon's loop */
	struct sentinel_cfg cfg;	/* the sentinels and the master */
	char		*password;	/* AUTH password, or NULL */
	int		 timeout_ms;	/* one question's deadline */
	sentinel_switch_cb on_switch;	/* +switch-master for our master */

	redisAsyncContext *rc;		/* the resolve's connection */
	sentinel_resolve_cb rcb;	/* its callback, NULL when idle */
	size_t		 cur;		/* sentinel asked (or to ask) next */
	size_t		 tried;		/* sentinels tried in this resolve */
	char		 why[512];	/* the last failure, for the log */
	struct event	*rtimer;	/* the question's deadline */

	redisAsyncContext *wc;		/* the subscription's connection */
	size_t		 wcur;		/* its sentinel */
	struct event	*wtimer;	/* re-subscribe after a loss */
} S;

static void	sentinel_next(void);
static void	sentinel_watch(void);
static void	sentinel_failed(void);
static void	sentinel_watch_later(void);

/* Parse HOST:PORT or [IPV6]:PORT (len bytes at p) into a; 0, or -1. */
static int
sentinel_parse_addr(const char *p, size_t len, struct sentinel_addr *a)
{
	char	 item[SENTINEL_HOST_MAX + 16], *host, *colon, *end;
	long	 v;

	if (len == 0 || len >= sizeof item)
		return -1;
	memcpy(item, p, len);
	item[len] = '\0';
	if ((colon = strrchr(item, ':')) == NULL)
		return -1;
	*colon = '\0';
	host = item;
	if (host[0] == '[') {
		if (colon == host || colon[-1] != ']')
			return -1;
		colon[-1] = '\0';
		host++;
	}
	if (host[0] == '\0' || strlen(host) >= sizeof a->host)
		return -1;
	errno = 0;
	v = strtol(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || errno != 0 ||
	    v < 1 || v > 65535)
		return -1;
	memcpy(a->host, host, strlen(host) + 1);
	a->port = (int)v;
	return 0;
}

/* Parse sentinel://HOST:PORT[,HOST:PORT...]/NAME; 0, or -1 with err. */
int
sentinel_parse_url(const char *url, struct sentinel_cfg *cfg, char *err,
    size_t errlen)
{
	const char	*p, *slash, *item, *comma;
	size_t		 n;

	memset(cfg, 0, sizeof *cfg);
	if (strncmp(url, "sentinel://", 11) != 0) {
		snprintf(err, errlen, "%s: expected sentinel://host:port"
		    "[,host:port...]/master", url);
		return -1;
	}
	p = url + 11;
	if (strchr(p, '@') != NULL) {
		snprintf(err, errlen, "%s: no credentials in the URL; use "
		    "--sentinel-password-file", url);
		return -1;
	}
	if ((slash = strrchr(p, '/')) == NULL || slash[1] == '\0') {
		snprintf(err, errlen, "%s: the master's name is missing "
		    "(sentinel://host:port/master)", url);
		return -1;
	}
	n = strlen(slash + 1);
	if (n >= sizeof cfg->name || strpbrk(slash + 1, " \t\r\n") != NULL) {
		snprintf(err, errlen, "%s: bad master name", url);
		return -1;
	}
	memcpy(cfg->name, slash + 1, n + 1);
	for (item = p; item < slash; item = comma + 1) {
		if ((comma = memchr(item, ',', (size_t)(slash - item))) == NULL)
			comma = slash;
		if (cfg->naddrs == SENTINEL_MAX) {
			snprintf(err, errlen, "%s: more than %d sentinels", url,
			    SENTINEL_MAX);
			return -1;
		}
		if (sentinel_parse_addr(item, (size_t)(comma - item),
		    &cfg->addrs[cfg->naddrs]) == -1) {
			snprintf(err, errlen, "%s: bad sentinel address '%.*s' "
			    "(host:port)", url, (int)(comma - item), item);
			return -1;
		}
		cfg->naddrs++;
		if (comma == slash)
			break;
	}
	if (cfg->naddrs == 0 || slash[-1] == ',') {
		snprintf(err, errlen, "%s: a sentinel address is missing", url);
		return -1;
	}
	return 0;
}

/* AUTH replied: a refusal is the reason to give (the command after it
 * would only say NOAUTH). */
static void
sentinel_auth_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	redisReply	*r = reply;

	(void)priv;
	if (r == NULL || r->type != REDIS_REPLY_ERROR)
		return;
	if (ac == S.rc && S.rcb != NULL) {
		snprintf(S.why, sizeof S.why, "%.255s:%d: AUTH: %.200s",
		    S.cfg.addrs[S.cur].host, S.cfg.addrs[S.cur].port, r->str);
		sentinel_failed();
	} else if (ac == S.wc) {
		log_warnx("sentinel: %s:%d: AUTH: %s",
		    S.cfg.addrs[S.wcur].host, S.cfg.addrs[S.wcur].port,
		    r->str);
		S.wc = NULL;
		redisAsyncFree(ac);
		sentinel_watch_later();
	}
}

/* Open a connection to sentinel i with AUTH queued; NULL on failure. */
static redisAsyncContext *
sentinel_open(size_t i, void (*on_connect)(const redisAsyncContext *, int),
    void (*on_disconnect)(const redisAsyncContext *, int))
{
	redisAsyncContext	*ac;
	const char		*argv[2];

	ac = redisAsyncConnect(S.cfg.addrs[i].host, S.cfg.addrs[i].port);
	if (ac == NULL)
		return NULL;
	if (ac->err || redisLibeventAttach(ac, S.base) != REDIS_OK) {
		snprintf(S.why, sizeof S.why, "%.255s:%d: %.200s",
		    S.cfg.addrs[i].host, S.cfg.addrs[i].port,
		    ac->err ? ac->errstr : "cannot attach");
		redisAsyncFree(ac);
		return NULL;
	}
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	if (S.password != NULL) {
		argv[0] = "AUTH";
		argv[1] = S.password;
		(void)redisAsyncCommandArgv(ac, sentinel_auth_cb, NULL, 2,
		    argv, NULL);
	}
	return ac;
}

/* Drop the resolve's connection (never from its own callbacks' view:
 * they check that the context is still S.rc). */
static void
sentinel_close_rc(void)
{
	redisAsyncContext	*ac = S.rc;

	evtimer_del(S.rtimer);
	if (ac != NULL) {
		S.rc = NULL;
		redisAsyncFree(ac);
	}
}

/* End the resolve: the primary at host:port, or NULL with S.why. */
static void
sentinel_done(const char *host, int port)
{
	sentinel_resolve_cb	cb = S.rcb;
	char			h[SENTINEL_HOST_MAX];

	S.rcb = NULL;
	if (host != NULL)
		snprintf(h, sizeof h, "%s", host);
	sentinel_close_rc();
	if (cb != NULL)
		cb(host != NULL ? h : NULL, port, S.why);
}

/* The sentinel asked failed (S.why says how): ask the next one. */
static void
sentinel_failed(void)
{
	sentinel_close_rc();
	log_debug("sentinel: %s", S.why);
	S.cur = (S.cur + 1) % S.cfg.naddrs;
	S.tried++;
	sentinel_next();
}

/* SENTINEL get-master-addr-by-name replied. */
static void
sentinel_reply_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	redisReply	*r = reply;
	char		*end;
	long		 port;

	(void)priv;
	if (ac != S.rc || S.rcb == NULL)
		return;		/* freed or replaced */
	if (r == NULL) {
		snprintf(S.why, sizeof S.why, "%.255s:%d: %.200s",
		    S.cfg.addrs[S.cur].host, S.cfg.addrs[S.cur].port,
		    ac->err ? ac->errstr : "connection lost");
		sentinel_failed();
		return;
	}
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
	    r->element[0]->type == REDIS_REPLY_STRING &&
	    r->element[1]->type == REDIS_REPLY_STRING &&
	    r->element[0]->len > 0 &&
	    r->element[0]->len < SENTINEL_HOST_MAX) {
		errno = 0;
		port = strtol(r->element[1]->str, &end, 10);
		if (*end == '\0' && errno == 0 && port >= 1 &&
		    port <= 65535) {
			sentinel_done(r->element[0]->str, (int)port);
			return;
		}
	}
	snprintf(S.why, sizeof S.why, "%.255s:%d: %.200s", S.cfg.addrs[S.cur].host,
	    S.cfg.addrs[S.cur].port, r->type == REDIS_REPLY_ERROR ? r->str :
	    r->type == REDIS_REPLY_NIL ? "does not know the master" :
	    "unexpected reply");
	sentinel_failed();
}

/* hiredis: the resolve's connection attempt finished. */
static void
sentinel_connect_cb(const redisAsyncContext *ac, int status)
{
	if (status == REDIS_OK || ac != S.rc)
		return;
	/* hiredis frees the context after this returns. */
	S.rc = NULL;
	snprintf(S.why, sizeof S.why, "%.255s:%d: %.200s", S.cfg.addrs[S.cur].host,
	    S.cfg.addrs[S.cur].port, ac->errstr);
	sentinel_failed();
}

/* hiredis: the resolve's connection closed (it frees the context). */
static void
sentinel_disconnect_cb(const redisAsyncContext *ac, int status)
{
	(void)status;
	if (ac != S.rc)
		return;
	S.rc = NULL;
	if (S.rcb == NULL)
		return;
	snprintf(S.why, sizeof S.why, "%.255s:%d: %.200s", S.cfg.addrs[S.cur].host,
	    S.cfg.addrs[S.cur].port, ac->err ? ac->errstr : "closed");
	sentinel_failed();
}

/* The sentinel asked took too long. */
static void
sentinel_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	snprintf(S.why, sizeof S.why, "%.255s:%d: no answer within %d ms",
	    S.cfg.addrs[S.cur].host, S.cfg.addrs[S.cur].port, S.timeout_ms);
	sentinel_failed();
}

/* Ask the next sentinel, or end the resolve when all were tried. */
static void
sentinel_next(void)
{
	struct timeval	 tv;
	const char	*argv[3];

	while (S.tried < S.cfg.naddrs) {
		if ((S.rc = sentinel_open(S.cur, sentinel_connect_cb,
		    sentinel_disconnect_cb)) != NULL) {
			argv[0] = "SENTINEL";
			argv[1] = "get-master-addr-by-name";
			argv[2] = S.cfg.name;
			if (redisAsyncCommandArgv(S.rc, sentinel_reply_cb, NULL,
			    3, argv, NULL) == REDIS_OK) {
				tv.tv_sec = S.timeout_ms / 1000;
				tv.tv_usec = (S.timeout_ms % 1000) * 1000;
				evtimer_add(S.rtimer, &tv);
				return;
			}
			sentinel_close_rc();
		}
		S.cur = (S.cur + 1) % S.cfg.naddrs;
		S.tried++;
	}
	if (S.why[0] == '\0')
		snprintf(S.why, sizeof S.why, "no sentinel answered");
	sentinel_done(NULL, 0);
}

/* Ask the sentinels where the primary is; cb is called once. */
void
sentinel_resolve(sentinel_resolve_cb cb)
{
	sentinel_close_rc();
	S.rcb = cb;
	S.tried = 0;
	S.why[0] = '\0';
	sentinel_next();
}

/* A message on the subscription: "+switch-master" carries
 * "<name> <old ip> <old port> <new ip> <new port>". */
static void
sentinel_watch_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	redisReply	*r = reply, *m;
	char		 name[SENTINEL_NAME_MAX], oip[SENTINEL_HOST_MAX];
	char		 nip[SENTINEL_HOST_MAX];
	int		 oport, nport;

	(void)priv;
	if (ac != S.wc || r == NULL || r->type != REDIS_REPLY_ARRAY ||
	    r->elements != 3 || r->element[0]->type != REDIS_REPLY_STRING ||
	    strcmp(r->element[0]->str, "message") != 0 ||
	    (m = r->element[2])->type != REDIS_REPLY_STRING)
		return;
	if (sscanf(m->str, "%127s %255s %d %255s %d", name, oip, &oport, nip,
	    &nport) != 5 || strcmp(name, S.cfg.name) != 0 || nport < 1 ||
	    nport > 65535)
		return;
	log_info("sentinel: %s moved from %s:%d to %s:%d", name, oip, oport,
	    nip, nport);
	if (S.on_switch != NULL)
		S.on_switch(nip, nport);
}

/* Subscribe again later, on the next sentinel. */
static void
sentinel_watch_later(void)
{
	struct timeval	tv = { SENTINEL_WATCH_RETRY_MS / 1000,
	    (SENTINEL_WATCH_RETRY_MS % 1000) * 1000 };

	S.wcur = (S.wcur + 1) % S.cfg.naddrs;
	evtimer_add(S.wtimer, &tv);
}

/* hiredis: the subscription's connection attempt finished. */
static void
sentinel_wconnect_cb(const redisAsyncContext *ac, int status)
{
	if (status == REDIS_OK || ac != S.wc)
		return;
	S.wc = NULL;
	sentinel_watch_later();
}

/* hiredis: the subscription's connection closed. */
static void
sentinel_wdisconnect_cb(const redisAsyncContext *ac, int status)
{
	(void)status;
	if (ac != S.wc)
		return;
	S.wc = NULL;
	sentinel_watch_later();
}

/* Time to subscribe again. */
static void
sentinel_wtimer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	sentinel_watch();
}

/* Subscribe to +switch-master on sentinel wcur. */
static void
sentinel_watch(void)
{
	const char	*argv[2];

	if (S.wc != NULL)
		return;
	if ((S.wc = sentinel_open(S.wcur, sentinel_wconnect_cb,
	    sentinel_wdisconnect_cb)) == NULL) {
		sentinel_watch_later();
		return;
	}
	argv[0] = "SUBSCRIBE";
	argv[1] = "+switch-master";
	if (redisAsyncCommandArgv(S.wc, sentinel_watch_cb, NULL, 2, argv,
	    NULL) != REDIS_OK) {
		redisAsyncFree(S.wc);
		S.wc = NULL;
		sentinel_watch_later();
	}
}

/* Set up the module and start the subscription; 0, or -1 on OOM. */
int
sentinel_init(struct event_base *base, const struct sentinel_cfg *cfg,
    const char *password, int timeout_ms, sentinel_switch_cb on_switch)
{
	S.base = base;
	S.cfg = *cfg;
	S.timeout_ms = timeout_ms;
	S.on_switch = on_switch;
	if (password != NULL && (S.password = strdup(password)) == NULL)
		return -1;
	if ((S.rtimer = evtimer_new(base, sentinel_timeout_cb, NULL)) ==
	    NULL ||
	    (S.wtimer = evtimer_new(base, sentinel_wtimer_cb, NULL)) == NULL)
		return -1;
	sentinel_watch();
	return 0;
}

/* Start the next resolve at another sentinel. */
void
sentinel_distrust(void)
{
	if (S.cfg.naddrs > 0)
		S.cur = (S.cur + 1) % S.cfg.naddrs;
}

/* Free everything (at exit). */
void
sentinel_stop(void)
{
	redisAsyncContext	*ac;

	S.rcb = NULL;
	sentinel_close_rc();
	if ((ac = S.wc) != NULL) {
		S.wc = NULL;
		redisAsyncFree(ac);
	}
	if (S.rtimer != NULL)
		event_free(S.rtimer);
	if (S.wtimer != NULL)
		event_free(S.wtimer);
	S.rtimer = S.wtimer = NULL;
	if (S.password != NULL) {
		explicit_bzero(S.password, strlen(S.password));
		free(S.password);
		S.password = NULL;
	}
}
