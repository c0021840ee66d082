/*
 * The rules a token is checked against: revoked jtis, subject and issuer
 * not-before points ("log out everywhere", "signing key leaked"), bans and
 * revoked sessions, each kind in a digest table of its own.
 */
#ifndef REVOKD_RULES_H
#define REVOKD_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "blocklist.h"

/* The kinds of rule, in the order CHECK evaluates them (the first that
 * matches is reported). */
enum rules_kind {
	RULES_JTI,	/* (iss, jti) revoked until the token's exp */
	RULES_SUB,	/* (iss, sub): tokens with iat <= before, until
			 * before + lifetime */
	RULES_BAN,	/* (iss, sub): every token, until "until" */
	RULES_SID,	/* (iss, sid): every token, until the session's exp */
	RULES_ISS,	/* (iss): tokens with iat <= before, until
			 * before + lifetime */
	RULES_NKINDS	/* number of kinds */
};

#define RULES_FOREVER	((int64_t)UINT32_MAX) /* a ban's until when it
					 * has none: lasts until UNBAN */

/* What CHECK asks: the token's claims. */
struct rules_query {
	const char	*iss;		/* issuer, may be empty */
	size_t		 isslen;
	const char	*jti;		/* token id, 1..256 bytes */
	size_t		 jtilen;
	const char	*sub;		/* subject, NULL when not given */
	size_t		 sublen;
	const char	*sid;		/* session id, NULL when not given */
	size_t		 sidlen;
	int		 has_iat;	/* iat given; otherwise it is taken as
					 * the beginning of time, which every
					 * not-before rule matches */
	int64_t		 iat;		/* issued-at, Unix seconds */
};

/* The rule a check matched. reason points into the table, valid until
 * the next change. */
struct rules_match {
	enum rules_kind	 kind;		/* which rule */
	int64_t		 time;		/* JTI, SID: exp; SUB, ISS: before;
					 * BAN: until (RULES_FOREVER: none) */
	const char	*reason;	/* NUL-terminated, "" when none */
	size_t		 reason_len;
};

struct rules;
struct journal_rec;

/* Create empty tables keyed with key; lifetime is --max-token-lifetime
 * (how long a not-before rule lives past its point). NULL on OOM. */
struct rules *rules_new(const uint8_t key[BLOCKLIST_KEY_LEN],
    int64_t lifetime);
/* Free the tables. */
void rules_free(struct rules *);
/* Return the lowercase name of a kind ("jti", "sub", "ban", "sid",
 * "iss"), as CHECK, LIST and AUDIT show it. */
const char *rules_kind_name(enum rules_kind);
/* Return the kind named name (len bytes, case-insensitive), or -1. */
int rules_kind_lookup(const char *name, size_t len);
/* Return the kind a journal record type adds or removes, or -1 (MARK). */
int rules_kind_of(int journal_type);
/* Return the horizon-independent time at which a rule of kind with time t
 * stops mattering: t, or t + lifetime for SUB and ISS (grace not added). */
int64_t rules_end(const struct rules *, enum rules_kind, int64_t t);

/* Apply a journal record as of horizon (now - grace), except one flagged
 * JOURNAL_F_AUDIT (the trail only): REVOKE, REVOKESUB,
 * BAN, REVOKESID, REVOKEALL add (keeping the later time), UNREVOKE and
 * UNBAN remove; a record that cannot be live at horizon, or whose time
 * the tables cannot hold (past 2106), is skipped. 0, or -1 on OOM. */
int rules_apply(struct rules *, const struct journal_rec *, int64_t horizon);
/* Add or update the rule of kind for (iss, id) with time t as of horizon,
 * like blocklist_add: 1 added, 0 updated, -1 on OOM or when it cannot
 * be live (check first). id is "" for ISS. */
int rules_add(struct rules *, enum rules_kind, const char *iss,
    size_t isslen, const char *id, size_t idlen, int64_t t,
    const char *reason, size_t reasonlen, int64_t horizon);
/* Remove the rule; 1 if a live one was removed, else 0. */
int rules_remove(struct rules *, enum rules_kind, const char *iss,
    size_t isslen, const char *id, size_t idlen, int64_t horizon);
/* Return 1 and fill hit (may be NULL) if the rule of kind for (iss, id)
 * is live at horizon; hit->time as in struct rules_match. */
int rules_lookup(const struct rules *, enum rules_kind, const char *iss,
    size_t isslen, const char *id, size_t idlen, int64_t horizon,
    struct rules_match *hit);
/* Evaluate every rule for q at horizon in kind order; return 1 and fill
 * m with the first that matches, else 0. A not-before rule matches when
 * iat <= before (a query without iat always matches it). */
int rules_check(const struct rules *, const struct rules_query *q,
    int64_t horizon, struct rules_match *m);
/* Sweep expired rules of every kind, at most budget slots in all; returns
 * the number freed. */
size_t rules_expire(struct rules *, int64_t horizon, size_t budget);
/* Return the number of rules of kind held (-1: all kinds). */
size_t rules_count(const struct rules *, int kind);
/* Return the heap bytes held by all tables. */
size_t rules_memory(const struct rules *);

#endif
