/* Daemon-wide settings, counters and state shared by its modules. */
#ifndef REVOKD_DAEMON_H
#define REVOKD_DAEMON_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "command.h"

#define REVOKD_ADMIN_IDS_MAX	32	/* uids (and gids) in --admin-uid */

/* Settings: every default is set in settings_init() in main.c. */
struct settings {
	const char	*socket_path;	/* Unix socket to listen on */
	int64_t		 max_ttl;	/* furthest exp accepted, seconds ahead */
	int64_t		 exp_grace;	/* seconds an entry outlives its exp */
	int		 verbose;	/* -v count */
	size_t		 max_request;	/* bytes in one request frame */
	size_t		 max_args;	/* arguments in one request */
	struct command_limits limits;	/* jti, iss, reason sizes */
	size_t		 max_clients;	/* concurrent connections */
	size_t		 out_limit;	/* unsent reply bytes that pause reading */
	int		 client_timeout; /* seconds a paused client may stay stuck */
	int		 shutdown_grace; /* seconds to flush replies on exit */
	int		 sweep_ms;	/* expiry sweep period */
	const char	*state_dir;	/* journal and snapshot live here */
	int		 compact_interval; /* seconds between compactions */
	size_t		 compact_min;	/* log bytes that never trigger one */
	const char	*redis_url;	/* --redis, or NULL: journal only */
	const char	*redis_password_file; /* AUTH password, or NULL */
	const char	*key_prefix;	/* prefix of every Redis key */
	int		 redis_wait;	/* seconds to wait for Redis at start */
	int		 redis_timeout;	/* seconds a Redis reply may take */
	int		 max_staleness;	/* seconds without the stream before
					 * CHECK answers -STALE; 0: never */
	size_t		 stream_maxlen;	/* events kept in the Redis stream */
	const char	*admin_socket_path; /* the admins' socket, or NULL */
	unsigned	 admin_uids[REVOKD_ADMIN_IDS_MAX]; /* may write */
	size_t		 nadmin_uids;	/* entries in admin_uids */
	unsigned	 admin_gids[REVOKD_ADMIN_IDS_MAX]; /* may write */
	size_t		 nadmin_gids;	/* entries in admin_gids */
	const char	*metrics_addr;	/* /metrics and /healthz, or NULL */
	int64_t		 max_token_lifetime; /* longest iat-to-exp of a token:
					 * how long a not-before rule lives */
	size_t		 audit_keep;	/* audit records kept in memory */
	size_t		 audit_maxlen;	/* records kept in the Redis audit
					 * stream */
	const char	*sentinel_password_file; /* the sentinels' AUTH, or
					 * NULL */
	int		 redis_replicas; /* replicas a write must reach (WAIT)
					 * before it is confirmed; 0: none */
	const char	*redis_read_replica; /* full reloads read this replica
					 * instead of the primary, or NULL */
};

#define REVOKD_KEY_PREFIX_MAX	128	/* bytes of --key-prefix */

/* Counters reported by STATS. */
struct stats {
	uint64_t	 connections;		/* open now */
	uint64_t	 connections_total;	/* accepted since start */
	uint64_t	 commands_total;	/* commands executed */
	uint64_t	 clients_dropped;	/* closed for misbehaving */
	uint64_t	 revoked_total;		/* REVOKE that stored */
	uint64_t	 checks_total;		/* CHECK executed */
	uint64_t	 checks_revoked;	/* CHECK that said revoked */
	uint64_t	 refused_total;		/* writes refused: not admin */
};

extern struct settings	 settings;
extern struct stats	 stats;
extern struct rules	*rules;		/* revoked jtis, bans, not-before
					 * points, sessions */
extern struct journal	*journal;	/* their durable record */
extern time_t		 start_time;	/* when the daemon started */

#endif
