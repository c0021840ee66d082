/*
 * Redis Sentinel: where the primary of a named master is, and when it
 * moves. Asks the sentinels in turn (SENTINEL get-master-addr-by-name)
 * and keeps a subscription to +switch-master on one of them.
 */
#ifndef REVOKD_SENTINEL_H
#define REVOKD_SENTINEL_H

#include <stddef.h>

#define SENTINEL_MAX		16	/* sentinels in one URL */
#define SENTINEL_HOST_MAX	256	/* bytes of a host, with the NUL */
#define SENTINEL_NAME_MAX	128	/* bytes of a master name, with NUL */

struct event_base;

/* One sentinel's address. */
struct sentinel_addr {
	char		 host[SENTINEL_HOST_MAX]; /* name or address */
	int		 port;		/* TCP port */
};

/* The sentinels and the master, as parsed from a sentinel:// URL. */
struct sentinel_cfg {
	struct sentinel_addr addrs[SENTINEL_MAX]; /* the sentinels */
	size_t		 naddrs;	/* entries in addrs */
	char		 name[SENTINEL_NAME_MAX]; /* the master's name */
};

/* Called with the primary's address, or host NULL when no sentinel
 * answered (why says what went wrong last). */
typedef void (*sentinel_resolve_cb)(const char *host, int port,
    const char *why);
/* Called when a sentinel announces that the master moved. */
typedef void (*sentinel_switch_cb)(const char *host, int port);

/* Parse sentinel://HOST:PORT[,HOST:PORT...]/NAME into cfg; 0, or -1
 * with err. */
int sentinel_parse_url(const char *url, struct sentinel_cfg *cfg,
    char *err, size_t errlen);
/* Set up: the loop, the sentinels, their password (NULL: none), the
 * timeout of one question (ms) and what to call on +switch-master; starts
 * the subscription. The strings are copied. 0, or -1 on OOM. */
int sentinel_init(struct event_base *, const struct sentinel_cfg *,
    const char *password, int timeout_ms, sentinel_switch_cb on_switch);
/* Ask the sentinels, in turn from the one that answered last, where the
 * primary is; cb is called once, from the loop's callbacks. A resolve in
 * progress is dropped (its callback is not called). */
void sentinel_resolve(sentinel_resolve_cb cb);
/* Start the next resolve at another sentinel: the last answer named a
 * node that is not a primary. */
void sentinel_distrust(void);
/* Free everything (at exit). */
void sentinel_stop(void);

#endif
