/*
 * The audit trail in memory: the newest accepted writes (own and, through
 * Redis, every other daemon's), for AUDIT and the log.
 */
#ifndef REVOKD_AUDIT_H
#define REVOKD_AUDIT_H

#include <stddef.h>
#include <stdint.h>

struct journal_rec;

/* One record, an owned copy of a journal record's audit view. */
struct audit_entry {
	int64_t		 ts;		/* Unix seconds the write was made */
	int		 type;		/* JOURNAL_REVOKE ... JOURNAL_REVOKEALL */
	int64_t		 exp;		/* the record's time (exp, before,
					 * until; 0 for a removal) */
	uint32_t	 uid;		/* writer's uid (JOURNAL_NOBODY) */
	uint32_t	 gid;		/* writer's gid (JOURNAL_NOBODY) */
	uint32_t	 pid;		/* writer's pid (0: unknown) */
	const char	*iss;		/* issuer; all strings point into the
					 * entry's own allocation */
	size_t		 isslen;
	const char	*id;		/* jti, sub or sid; "" for REVOKEALL */
	size_t		 idlen;
	const char	*reason;	/* "" when none */
	size_t		 reasonlen;
	const char	*comm;		/* writer's process name, may be "" */
	size_t		 commlen;
	const char	*host;		/* host of the daemon that took it */
	size_t		 hostlen;
};

/* Set up a trail keeping the newest keep records and learn this host's
 * name; 0, or -1 when out of memory. */
int audit_init(size_t keep);
/* Free every record. */
void audit_free(void);
/* Record a write (copied). Out of memory drops it, logged once. */
void audit_add(const struct journal_rec *);
/* Fill rec (pointing into e) as a trail-only journal record of e:
 * flags JOURNAL_F_AUDIT | JOURNAL_F_REMOTE, seq 0. */
void audit_rec(const struct audit_entry *e, struct journal_rec *rec);
/* Log an accepted write at info level (remote ones at debug). */
void audit_log(const struct journal_rec *);
/* Return the number of records held. */
size_t audit_count(void);
/* Return the i-th newest record (0: the newest), or NULL past the end. */
const struct audit_entry *audit_get(size_t i);
/* Return the number of records added since start. */
uint64_t audit_total(void);
/* Return the most records kept. */
size_t audit_keep(void);
/* Return this host's name (for the records of writes taken here). */
const char *audit_hostname(void);
/* Return the upper-case command name of a journal record type. */
const char *audit_command(int type);

#endif
