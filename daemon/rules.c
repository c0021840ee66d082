/*
 * The rules a token is checked against, one digest table (blocklist.c) per
 * kind.
 *
 * JTI, BAN and SID rules are plain entries: (iss, id) live until a time,
 * the table's "now" is the horizon (now - grace).
 *
 * SUB and ISS rules are not-before points: tokens issued at or before
 * "before" are revoked, and the rule matters only as long as such a token
 * can still be unexpired, that is while horizon < before + lifetime. They
 * are stored with before as the entry's exp, and the table is asked with
 * horizon - lifetime as its "now": the entry then lives exactly while
 * horizon - lifetime < before, and blocklist_add's "an existing entry keeps
 * the later exp" is exactly "a not-before point moves forward, never
 * back". ISS rules are keyed (iss, ""): the digest is length-prefixed, so
 * no (iss', id) of another table's shape could collide with it anyway.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "blocklist.h"
#include "journal.h"
#include "rules.h"

/* The tables, one per kind. */
struct rules {
	struct blocklist *tab[RULES_NKINDS]; /* by enum rules_kind */
	int64_t		 lifetime;	/* how long a not-before rule lives
					 * past its point */
	int		 sweep;		/* kind the next sweep starts at */
};

/* The names of the kinds, by enum rules_kind. */
static const char *const rules_names[RULES_NKINDS] = {
	"jti", "sub", "ban", "sid", "iss",
};

/* Return 1 if rules of kind are not-before points. */
static int
rules_notbefore(enum rules_kind kind)
{
	return kind == RULES_SUB || kind == RULES_ISS;
}

/* Return the "now" to ask kind's table with at horizon. */
static int64_t
rules_now(const struct rules *r, enum rules_kind kind, int64_t horizon)
{
	return rules_notbefore(kind) ? horizon - r->lifetime : horizon;
}

/* Return 1 if kind is a kind. */
static int
rules_valid_kind(int kind)
{
	return kind >= 0 && kind < RULES_NKINDS;
}

/* Create empty tables keyed with key. */
struct rules *
rules_new(const uint8_t key[BLOCKLIST_KEY_LEN], int64_t lifetime)
{
	struct rules	*r;
	int		 k;

	if ((r = calloc(1, sizeof *r)) == NULL)
		return NULL;
	/* Clamped so that before + lifetime and horizon - lifetime cannot
	 * overflow for any before the tables hold. */
	if (lifetime < 0)
		lifetime = 0;
	if (lifetime > (int64_t)UINT32_MAX)
		lifetime = (int64_t)UINT32_MAX;
	r->lifetime = lifetime;
	for (k = 0; k < RULES_NKINDS; k++) {
		if ((r->tab[k] = blocklist_new(key)) == NULL) {
			rules_free(r);
			return NULL;
		}
	}
	return r;
}

/* Free the tables. */
void
rules_free(struct rules *r)
{
	int	k;

	if (r == NULL)
		return;
	for (k = 0; k < RULES_NKINDS; k++)
		blocklist_free(r->tab[k]);
	free(r);
}

/* Return the lowercase name of a kind. */
const char *
rules_kind_name(enum rules_kind kind)
{
	return rules_valid_kind((int)kind) ? rules_names[kind] : "?";
}

/* Return the kind named name, or -1. */
int
rules_kind_lookup(const char *name, size_t len)
{
	int	k;

	for (k = 0; k < RULES_NKINDS; k++)
		if (strlen(rules_names[k]) == len &&
		    strncasecmp(rules_names[k], name, len) == 0)
			return k;
	return -1;
}

/* Return the kind a journal record type adds or removes, or -1. */
int
rules_kind_of(int journal_type)
{
	switch (journal_type) {
	case JOURNAL_REVOKE:
	case JOURNAL_UNREVOKE:
		return RULES_JTI;
	case JOURNAL_REVOKESUB:
		return RULES_SUB;
	case JOURNAL_BAN:
	case JOURNAL_UNBAN:
		return RULES_BAN;
	case JOURNAL_REVOKESID:
		return RULES_SID;
	case JOURNAL_REVOKEALL:
		return RULES_ISS;
	default:
		return -1;
	}
}

/* Return when a rule of kind with time t stops mattering. */
int64_t
rules_end(const struct rules *r, enum rules_kind kind, int64_t t)
{
	return rules_notbefore(kind) ? t + r->lifetime : t;
}

/* Apply a journal record as of horizon; 0, or -1 on OOM. */
int
rules_apply(struct rules *r, const struct journal_rec *rec, int64_t horizon)
{
	int	kind = rules_kind_of(rec->type);

	if (kind == -1 || (rec->flags & JOURNAL_F_AUDIT))
		return 0;	/* a MARK, or for the audit trail only */
	if (rec->type == JOURNAL_UNREVOKE || rec->type == JOURNAL_UNBAN) {
		(void)rules_remove(r, kind, rec->iss, rec->isslen, rec->jti,
		    rec->jtilen, horizon);
		return 0;
	}
	if (rec->exp <= 0 || rec->exp > (int64_t)UINT32_MAX ||
	    rules_end(r, kind, rec->exp) <= horizon)
		return 0;	/* cannot be live */
	return rules_add(r, kind, rec->iss, rec->isslen, rec->jti,
	    rec->jtilen, rec->exp, rec->reason, rec->reasonlen, horizon) ==
	    -1 ? -1 : 0;
}

/* Add or update the rule of kind for (iss, id) with time t. */
int
rules_add(struct rules *r, enum rules_kind kind, const char *iss,
    size_t isslen, const char *id, size_t idlen, int64_t t,
    const char *reason, size_t reasonlen, int64_t horizon)
{
	if (!rules_valid_kind((int)kind))
		return -1;
	if (kind == RULES_ISS) {
		id = "";
		idlen = 0;
	}
	return blocklist_add(r->tab[kind], iss, isslen, id, idlen, t, reason,
	    reasonlen, rules_now(r, kind, horizon));
}

/* Remove the rule; 1 if a live one was removed. */
int
rules_remove(struct rules *r, enum rules_kind kind, const char *iss,
    size_t isslen, const char *id, size_t idlen, int64_t horizon)
{
	if (!rules_valid_kind((int)kind))
		return 0;
	if (kind == RULES_ISS) {
		id = "";
		idlen = 0;
	}
	return blocklist_remove(r->tab[kind], iss, isslen, id, idlen,
	    rules_now(r, kind, horizon));
}

/* Return 1 and fill hit if the rule of kind for (iss, id) is live. */
int
rules_lookup(const struct rules *r, enum rules_kind kind, const char *iss,
    size_t isslen, const char *id, size_t idlen, int64_t horizon,
    struct rules_match *hit)
{
	struct blocklist_hit	bh;

	if (!rules_valid_kind((int)kind))
		return 0;
	if (kind == RULES_ISS) {
		id = "";
		idlen = 0;
	}
	if (!blocklist_lookup(r->tab[kind], iss, isslen, id, idlen,
	    rules_now(r, kind, horizon), &bh))
		return 0;
	if (hit != NULL) {
		hit->kind = kind;
		hit->time = bh.exp;
		hit->reason = bh.reason;
		hit->reason_len = bh.reason_len;
	}
	return 1;
}

/*
 * Return 1 if q's token falls under a live rule of kind for (iss, id).
 * CHECK is the hot path: an empty table cannot match, so it is not asked
 * at all, which spares the digest of the query (a SipHash over iss and
 * the id, the bulk of a miss's cost). With only jti rules held, a CHECK
 * then costs one digest and one probe, whatever claims it carries.
 */
static int
rules_check_one(const struct rules *r, enum rules_kind kind,
    const struct rules_query *q, const char *id, size_t idlen,
    int64_t horizon, struct rules_match *m)
{
	struct rules_match	hit;

	if (blocklist_count(r->tab[kind]) == 0)
		return 0;
	if (!rules_lookup(r, kind, q->iss, q->isslen, id, idlen, horizon,
	    &hit))
		return 0;
	/* A not-before rule spares tokens issued after its point. */
	if (rules_notbefore(kind) && q->has_iat && q->iat > hit.time)
		return 0;
	if (m != NULL)
		*m = hit;
	return 1;
}

/* Evaluate every rule for q in kind order; 1 and m on the first match. */
int
rules_check(const struct rules *r, const struct rules_query *q,
    int64_t horizon, struct rules_match *m)
{
	if (rules_check_one(r, RULES_JTI, q, q->jti, q->jtilen, horizon, m))
		return 1;
	if (q->sub != NULL &&
	    (rules_check_one(r, RULES_SUB, q, q->sub, q->sublen, horizon,
	    m) ||
	    rules_check_one(r, RULES_BAN, q, q->sub, q->sublen, horizon, m)))
		return 1;
	if (q->sid != NULL &&
	    rules_check_one(r, RULES_SID, q, q->sid, q->sidlen, horizon, m))
		return 1;
	return rules_check_one(r, RULES_ISS, q, "", 0, horizon, m);
}

/*
 * Sweep expired rules, at most budget slots in all: every table gets an
 * equal share (the remainder, or the whole budget when it is smaller than
 * the number of kinds, goes to the tables in turn from where the last call
 * stopped), an empty one none. An empty table is still called with no
 * budget: blocklist_expire then shrinks it if it is oversized.
 */
size_t
rules_expire(struct rules *r, int64_t horizon, size_t budget)
{
	size_t	freed = 0, share, extra, b;
	int	k, i, busy = 0;

	for (k = 0; k < RULES_NKINDS; k++)
		if (blocklist_count(r->tab[k]) > 0)
			busy++;
	share = busy > 0 ? budget / (size_t)busy : 0;
	extra = busy > 0 ? budget % (size_t)busy : 0;
	for (i = 0; i < RULES_NKINDS; i++) {
		k = (r->sweep + i) % RULES_NKINDS;
		b = 0;
		if (blocklist_count(r->tab[k]) > 0) {
			b = share;
			if (extra > 0) {
				b++;
				extra--;
			}
		}
		freed += blocklist_expire(r->tab[k],
		    rules_now(r, (enum rules_kind)k, horizon), b);
	}
	r->sweep = (r->sweep + 1) % RULES_NKINDS;
	return freed;
}

/* Return the number of rules of kind held (-1: all kinds). */
size_t
rules_count(const struct rules *r, int kind)
{
	size_t	n = 0;
	int	k;

	if (kind >= 0)
		return rules_valid_kind(kind) ? blocklist_count(r->tab[kind]) :
		    0;
	for (k = 0; k < RULES_NKINDS; k++)
		n += blocklist_count(r->tab[k]);
	return n;
}

/* Return the heap bytes held by all tables. */
size_t
rules_memory(const struct rules *r)
{
	size_t	n = sizeof *r;
	int	k;

	for (k = 0; k < RULES_NKINDS; k++)
		n += blocklist_memory(r->tab[k]);
	return n;
}
