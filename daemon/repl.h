/*
 * Replication through Redis: every write made here is sent to Redis (one
 * key per entry plus an event in a stream, atomically), and every other
 * daemon's events are read from the stream and applied here. The only
 * module that talks to Redis.
 */
#ifndef REVOKD_REPL_H
#define REVOKD_REPL_H

#include <stddef.h>
#include <stdint.h>

#include "journal.h"

struct event_base;

/* Where the daemon stands with Redis. */
enum repl_state {
	REPL_OFF,		/* no Redis configured */
	REPL_LOADING,		/* start-up: not answering CHECK yet */
	REPL_SYNCED,		/* connected and following the stream */
	REPL_DEGRADED,		/* serving from memory and the journal */
};

/* Where Redis is, as parsed from --redis. */
struct repl_target {
	char		 path[108];	/* Unix socket path, or "" */
	char		 host[256];	/* TCP host, when path is "" */
	int		 port;		/* TCP port */
	int		 db;		/* database number (SELECT) */
};

/* Counters for STATS. */
struct repl_stats {
	uint64_t	 pending;	/* own writes not yet confirmed */
	uint64_t	 reloads;	/* full reloads completed */
	uint64_t	 applied;	/* other daemons' events applied */
	uint64_t	 reconnects;	/* connections made after the first */
	uint64_t	 failovers;	/* moves to another primary */
	uint64_t	 republished;	/* confirmed writes sent again to a
					 * primary that had lost them */
	int64_t		 staleness_ms;	/* since the stream was last live */
};

/* Parse a --redis URL (unix:/path, redis://host[:port][/db]); 0, or -1
 * with err. (sentinel:// URLs are sentinel.c's.) */
int repl_parse_url(const char *url, struct repl_target *t, char *err,
    size_t errlen);
/* Check the Redis settings and read the origin id and the password from
 * the state directory and the password file (creating the origin id
 * unless checkonly); 0, or -1 with err. A no-op without --redis. */
int repl_init(int checkonly, char *err, size_t errlen);
/* Note an own write replayed from the journal at start-up: it is sent to
 * Redis unless Redis already has it. */
void repl_replayed(const struct journal_rec *);
/* Start connecting to Redis on the loop; changed() is called whenever
 * writes were confirmed or the state changed. */
int repl_start(struct event_base *, void (*changed)(void));
/* Queue an own write (rec->seq set by journal_append) for Redis. */
void repl_write(const struct journal_rec *);
/* Return the state. */
enum repl_state repl_state(void);
/* Return the state's name ("off", "loading", "synced", "degraded"). */
const char *repl_state_name(enum repl_state);
/* Return the highest seq up to which every own write is confirmed by
 * Redis (UINT64_MAX when nothing waits, or without Redis). */
uint64_t repl_confirmed(void);
/* Return the highest seq whose write may be answered now although Redis
 * has not confirmed it (as pending, once on disk): UINT64_MAX while Redis
 * cannot be reached or has fewer replicas than --redis-replicas, else 0. */
uint64_t repl_settled(void);
/* Fill in the counters. */
void repl_get_stats(struct repl_stats *);
/* Return "host:port" of the primary reached, "" when none or not through
 * the sentinels (the address is --redis then). */
const char *repl_primary(void);
/* Return this daemon's origin id ("" without Redis). */
const char *repl_origin(void);
/* Disconnect and free everything (at exit). */
void repl_stop(void);

#endif
