/* Unit tests of the rule tables: every kind, not-before boundaries,
 * precedence, journal records applied, expiry. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "rules.h"

#define NOW		1700000000	/* the injected horizon */
#define LIFETIME	3600		/* --max-token-lifetime */

/* Fail the test unless cond, without a report per passing check. */
#define EXPECT(cond) do {						\
	if (!(cond))							\
		ck_abort_msg("line %d: %s", __LINE__, #cond);		\
} while (0)

static const uint8_t test_key[BLOCKLIST_KEY_LEN] = {
	0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe,
	0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
};

/* Create tables with the test key and lifetime, failing on OOM. */
static struct rules *
mk(void)
{
	struct rules	*r = rules_new(test_key, LIFETIME);

	ck_assert_ptr_nonnull(r);
	return r;
}

/* Add with C-string arguments. */
static int
add(struct rules *r, enum rules_kind kind, const char *iss, const char *id,
    int64_t t, const char *reason, int64_t horizon)
{
	return rules_add(r, kind, iss, strlen(iss), id, strlen(id), t, reason,
	    reason == NULL ? 0 : strlen(reason), horizon);
}

/* Look up with C-string arguments. */
static int
look(const struct rules *r, enum rules_kind kind, const char *iss,
    const char *id, int64_t horizon, struct rules_match *m)
{
	return rules_lookup(r, kind, iss, strlen(iss), id, strlen(id),
	    horizon, m);
}

/* Remove with C-string arguments. */
static int
rm(struct rules *r, enum rules_kind kind, const char *iss, const char *id,
    int64_t horizon)
{
	return rules_remove(r, kind, iss, strlen(iss), id, strlen(id),
	    horizon);
}

/* Fill q for iss "i", jti "j" and the given sub, sid (NULL: not given)
 * and iat (has_iat 0: not given). */
static void
query(struct rules_query *q, const char *sub, const char *sid, int has_iat,
    int64_t iat)
{
	memset(q, 0, sizeof *q);
	q->iss = "i";
	q->isslen = 1;
	q->jti = "j";
	q->jtilen = 1;
	q->sub = sub;
	q->sublen = sub == NULL ? 0 : strlen(sub);
	q->sid = sid;
	q->sidlen = sid == NULL ? 0 : strlen(sid);
	q->has_iat = has_iat;
	q->iat = iat;
}

/* Return the kind rules_check matches for q at horizon, or -1. */
static int
check_kind(const struct rules *r, const struct rules_query *q,
    int64_t horizon)
{
	struct rules_match	m;

	if (!rules_check(r, q, horizon, &m))
		return -1;
	return (int)m.kind;
}

/* Fill rec as a journal record of type for (iss "i", id) with exp. */
static void
jrec(struct journal_rec *rec, int type, const char *id, int64_t exp,
    const char *reason)
{
	memset(rec, 0, sizeof *rec);
	rec->type = type;
	rec->exp = exp;
	rec->ts = NOW;
	rec->iss = "i";
	rec->isslen = 1;
	rec->jti = id;
	rec->jtilen = strlen(id);
	rec->reason = reason;
	rec->reasonlen = reason == NULL ? 0 : strlen(reason);
	rec->uid = rec->gid = JOURNAL_NOBODY;
}

START_TEST(test_names)
{
	static const char *names[] = { "jti", "sub", "ban", "sid", "iss" };
	int	k;

	for (k = 0; k < RULES_NKINDS; k++) {
		ck_assert_str_eq(rules_kind_name((enum rules_kind)k),
		    names[k]);
		ck_assert_int_eq(rules_kind_lookup(names[k],
		    strlen(names[k])), k);
	}
	ck_assert_int_eq(rules_kind_lookup("BaN", 3), RULES_BAN);
	ck_assert_int_eq(rules_kind_lookup("banx", 3), RULES_BAN);
	ck_assert_int_eq(rules_kind_lookup("ba", 2), -1);
	ck_assert_int_eq(rules_kind_lookup("bans", 4), -1);
	ck_assert_int_eq(rules_kind_lookup("", 0), -1);

	ck_assert_int_eq(rules_kind_of(JOURNAL_REVOKE), RULES_JTI);
	ck_assert_int_eq(rules_kind_of(JOURNAL_UNREVOKE), RULES_JTI);
	ck_assert_int_eq(rules_kind_of(3), -1);		/* MARK */
	ck_assert_int_eq(rules_kind_of(JOURNAL_REVOKESUB), RULES_SUB);
	ck_assert_int_eq(rules_kind_of(JOURNAL_BAN), RULES_BAN);
	ck_assert_int_eq(rules_kind_of(JOURNAL_UNBAN), RULES_BAN);
	ck_assert_int_eq(rules_kind_of(JOURNAL_REVOKESID), RULES_SID);
	ck_assert_int_eq(rules_kind_of(JOURNAL_REVOKEALL), RULES_ISS);
	ck_assert_int_eq(rules_kind_of(0), -1);
	ck_assert_int_eq(rules_kind_of(9), -1);
}
END_TEST

START_TEST(test_end)
{
	struct rules	*r = mk();

	ck_assert_int_eq(rules_end(r, RULES_JTI, NOW), NOW);
	ck_assert_int_eq(rules_end(r, RULES_BAN, NOW), NOW);
	ck_assert_int_eq(rules_end(r, RULES_SID, NOW), NOW);
	ck_assert_int_eq(rules_end(r, RULES_SUB, NOW), NOW + LIFETIME);
	ck_assert_int_eq(rules_end(r, RULES_ISS, NOW), NOW + LIFETIME);
	rules_free(r);
	rules_free(NULL);
}
END_TEST

/* The kinds with a plain end: add, look up, update, remove, boundary. */
START_TEST(test_plain_kinds)
{
	static const enum rules_kind kinds[] = { RULES_JTI, RULES_BAN,
	    RULES_SID };
	struct rules		*r = mk();
	struct rules_match	 m;
	size_t			 i;

	for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		enum rules_kind	k = kinds[i];

		ck_assert_int_eq(look(r, k, "i", "x", NOW, NULL), 0);
		ck_assert_int_eq(add(r, k, "i", "x", NOW + 100, "why", NOW),
		    1);
		ck_assert_int_eq(look(r, k, "i", "x", NOW, &m), 1);
		ck_assert_int_eq(m.kind, k);
		ck_assert_int_eq(m.time, NOW + 100);
		ck_assert_str_eq(m.reason, "why");
		ck_assert_uint_eq(m.reason_len, 3);
		/* Another issuer or id is another rule. */
		ck_assert_int_eq(look(r, k, "i2", "x", NOW, NULL), 0);
		ck_assert_int_eq(look(r, k, "i", "y", NOW, NULL), 0);
		/* Live until its time, relative to the horizon. */
		ck_assert_int_eq(look(r, k, "i", "x", NOW + 99, NULL), 1);
		ck_assert_int_eq(look(r, k, "i", "x", NOW + 100, NULL), 0);
		/* An update keeps the later time, takes a new reason. */
		ck_assert_int_eq(add(r, k, "i", "x", NOW + 50, "", NOW), 0);
		ck_assert_int_eq(look(r, k, "i", "x", NOW, &m), 1);
		ck_assert_int_eq(m.time, NOW + 100);
		ck_assert_str_eq(m.reason, "why");
		ck_assert_int_eq(add(r, k, "i", "x", NOW + 200, "later", NOW),
		    0);
		ck_assert_int_eq(look(r, k, "i", "x", NOW, &m), 1);
		ck_assert_int_eq(m.time, NOW + 200);
		ck_assert_str_eq(m.reason, "later");
		ck_assert_uint_eq(rules_count(r, (int)k), 1);
		ck_assert_int_eq(rm(r, k, "i", "x", NOW), 1);
		ck_assert_int_eq(rm(r, k, "i", "x", NOW), 0);
		ck_assert_int_eq(look(r, k, "i", "x", NOW, NULL), 0);
		ck_assert_uint_eq(rules_count(r, (int)k), 0);
		/* One that cannot be live is refused. */
		ck_assert_int_eq(add(r, k, "i", "x", NOW, NULL, NOW), -1);
		ck_assert_int_eq(add(r, k, "i", "x", (int64_t)UINT32_MAX + 1,
		    NULL, NOW), -1);
		ck_assert_uint_eq(rules_count(r, -1), 0);
	}
	/* Kinds are tables of their own. */
	ck_assert_int_eq(add(r, RULES_JTI, "i", "x", NOW + 100, NULL, NOW), 1);
	ck_assert_int_eq(look(r, RULES_BAN, "i", "x", NOW, NULL), 0);
	ck_assert_int_eq(look(r, RULES_SID, "i", "x", NOW, NULL), 0);
	ck_assert_int_eq(look(r, RULES_SUB, "i", "x", NOW, NULL), 0);
	ck_assert_uint_eq(rules_count(r, RULES_JTI), 1);
	ck_assert_uint_eq(rules_count(r, -1), 1);
	ck_assert_uint_eq(rules_count(r, RULES_NKINDS), 0);
	/* Not a kind. */
	ck_assert_int_eq(add(r, RULES_NKINDS, "i", "x", NOW + 100, NULL, NOW),
	    -1);
	ck_assert_int_eq(look(r, RULES_NKINDS, "i", "x", NOW, NULL), 0);
	ck_assert_int_eq(rm(r, RULES_NKINDS, "i", "x", NOW), 0);
	rules_free(r);
}
END_TEST

/* SUB and ISS: the token boundary (iat == before matches, before + 1
 * does not) and the rule's life (until before + lifetime, relative to the
 * horizon). */
START_TEST(test_notbefore_boundaries)
{
	struct rules		*r = mk();
	struct rules_query	 q;
	struct rules_match	 m;
	const int64_t		 b = NOW - 1000;	/* the point */
	int			 pass;

	for (pass = 0; pass < 2; pass++) {
		enum rules_kind	k = pass == 0 ? RULES_SUB : RULES_ISS;
		const char	*id = pass == 0 ? "alice" : "";

		ck_assert_int_eq(add(r, k, "i", id, b, "leak", NOW), 1);
		ck_assert_int_eq(look(r, k, "i", id, NOW, &m), 1);
		ck_assert_int_eq(m.kind, k);
		ck_assert_int_eq(m.time, b);
		ck_assert_str_eq(m.reason, "leak");

		query(&q, "alice", NULL, 1, b);
		ck_assert_int_eq(check_kind(r, &q, NOW), k);
		q.iat = b + 1;
		ck_assert_int_eq(check_kind(r, &q, NOW), -1);
		q.iat = b - 100000;
		ck_assert_int_eq(check_kind(r, &q, NOW), k);

		/* Alive at before + lifetime - 1, gone at before + lifetime:
		 * a token issued at before has expired by then. */
		q.iat = b;
		ck_assert_int_eq(check_kind(r, &q, b + LIFETIME - 1), k);
		ck_assert_int_eq(look(r, k, "i", id, b + LIFETIME - 1, NULL),
		    1);
		ck_assert_int_eq(check_kind(r, &q, b + LIFETIME), -1);
		ck_assert_int_eq(look(r, k, "i", id, b + LIFETIME, NULL), 0);
		ck_assert_int_eq(rm(r, k, "i", id, NOW), 1);
		ck_assert_int_eq(check_kind(r, &q, NOW), -1);

		/* A point already more than a lifetime behind is refused. */
		ck_assert_int_eq(add(r, k, "i", id, NOW - LIFETIME, NULL,
		    NOW), -1);
		ck_assert_int_eq(add(r, k, "i", id, NOW - LIFETIME + 1, NULL,
		    NOW), 1);
		ck_assert_int_eq(rm(r, k, "i", id, NOW), 1);
		/* A point in the future is fine too (clock skew). */
		ck_assert_int_eq(add(r, k, "i", id, NOW + 10, NULL, NOW), 1);
		q.iat = NOW + 10;
		ck_assert_int_eq(check_kind(r, &q, NOW), k);
		ck_assert_int_eq(rm(r, k, "i", id, NOW), 1);
	}
	/* ISS ignores the id it is given: every rule is (iss, ""). */
	ck_assert_int_eq(add(r, RULES_ISS, "i", "whatever", b, NULL, NOW), 1);
	ck_assert_int_eq(look(r, RULES_ISS, "i", "", NOW, NULL), 1);
	ck_assert_int_eq(look(r, RULES_ISS, "i", "other", NOW, NULL), 1);
	ck_assert_int_eq(look(r, RULES_ISS, "i2", "", NOW, NULL), 0);
	ck_assert_uint_eq(rules_count(r, RULES_ISS), 1);
	rules_free(r);
}
END_TEST

/* A not-before point moves forward, never back. */
START_TEST(test_notbefore_forward_only)
{
	struct rules		*r = mk();
	struct rules_match	 m;
	struct rules_query	 q;

	ck_assert_int_eq(add(r, RULES_SUB, "i", "alice", NOW - 100, "one",
	    NOW), 1);
	ck_assert_int_eq(add(r, RULES_SUB, "i", "alice", NOW - 500, "", NOW),
	    0);
	ck_assert_int_eq(look(r, RULES_SUB, "i", "alice", NOW, &m), 1);
	ck_assert_int_eq(m.time, NOW - 100);
	ck_assert_str_eq(m.reason, "one");
	ck_assert_int_eq(add(r, RULES_SUB, "i", "alice", NOW, "two", NOW), 0);
	ck_assert_int_eq(look(r, RULES_SUB, "i", "alice", NOW, &m), 1);
	ck_assert_int_eq(m.time, NOW);
	ck_assert_str_eq(m.reason, "two");
	/* Tokens issued between the two points are caught now. */
	query(&q, "alice", NULL, 1, NOW - 50);
	ck_assert_int_eq(check_kind(r, &q, NOW), RULES_SUB);
	/* And the rule lives on from the later point. */
	ck_assert_int_eq(check_kind(r, &q, NOW + LIFETIME - 1), RULES_SUB);
	ck_assert_int_eq(check_kind(r, &q, NOW + LIFETIME), -1);

	ck_assert_int_eq(add(r, RULES_ISS, "i", "", NOW - 100, NULL, NOW), 1);
	ck_assert_int_eq(add(r, RULES_ISS, "i", "", NOW - 200, NULL, NOW), 0);
	ck_assert_int_eq(look(r, RULES_ISS, "i", "", NOW, &m), 1);
	ck_assert_int_eq(m.time, NOW - 100);
	rules_free(r);
}
END_TEST

START_TEST(test_ban_forever_until)
{
	struct rules		*r = mk();
	struct rules_match	 m;
	struct rules_query	 q;

	/* Until: over at its time. */
	ck_assert_int_eq(add(r, RULES_BAN, "i", "bob", NOW + 100, "abuse",
	    NOW), 1);
	query(&q, "bob", NULL, 1, NOW + 1000);	/* any iat */
	ck_assert_int_eq(check_kind(r, &q, NOW + 99), RULES_BAN);
	ck_assert_int_eq(check_kind(r, &q, NOW + 100), -1);
	/* Forever: an until that outlives everything, and wins an update
	 * whichever order they come in. */
	ck_assert_int_eq(add(r, RULES_BAN, "i", "bob", RULES_FOREVER, NULL,
	    NOW), 0);
	ck_assert_int_eq(look(r, RULES_BAN, "i", "bob", NOW, &m), 1);
	ck_assert_int_eq(m.time, RULES_FOREVER);
	ck_assert_str_eq(m.reason, "abuse");
	ck_assert_int_eq(add(r, RULES_BAN, "i", "bob", NOW + 100, NULL, NOW),
	    0);
	ck_assert_int_eq(look(r, RULES_BAN, "i", "bob", NOW, &m), 1);
	ck_assert_int_eq(m.time, RULES_FOREVER);
	ck_assert_int_eq(check_kind(r, &q, RULES_FOREVER - 1), RULES_BAN);
	ck_assert_int_eq(rules_expire(r, RULES_FOREVER - 1, 1000), 0);
	ck_assert_int_eq(look(r, RULES_BAN, "i", "bob", NOW, NULL), 1);
	/* Until UNBAN. */
	ck_assert_int_eq(rm(r, RULES_BAN, "i", "bob", NOW), 1);
	ck_assert_int_eq(check_kind(r, &q, NOW), -1);
	/* No iat needed, and a token without sub is not banned. */
	ck_assert_int_eq(add(r, RULES_BAN, "i", "bob", RULES_FOREVER, NULL,
	    NOW), 1);
	query(&q, "bob", NULL, 0, 0);
	ck_assert_int_eq(check_kind(r, &q, NOW), RULES_BAN);
	query(&q, NULL, "bob", 1, NOW);
	ck_assert_int_eq(check_kind(r, &q, NOW), -1);
	rules_free(r);
}
END_TEST

/* When several rules match, the first kind in order is reported. */
START_TEST(test_precedence)
{
	struct rules		*r = mk();
	struct rules_query	 q;
	struct rules_match	 m;

	ck_assert_int_eq(add(r, RULES_JTI, "i", "j", NOW + 100, "r-jti", NOW),
	    1);
	ck_assert_int_eq(add(r, RULES_SUB, "i", "u", NOW, "r-sub", NOW), 1);
	ck_assert_int_eq(add(r, RULES_BAN, "i", "u", NOW + 100, "r-ban", NOW),
	    1);
	ck_assert_int_eq(add(r, RULES_SID, "i", "s", NOW + 100, "r-sid", NOW),
	    1);
	ck_assert_int_eq(add(r, RULES_ISS, "i", "", NOW, "r-iss", NOW), 1);
	query(&q, "u", "s", 1, NOW - 10);

	ck_assert_int_eq(rules_check(r, &q, NOW, &m), 1);
	ck_assert_int_eq(m.kind, RULES_JTI);
	ck_assert_int_eq(m.time, NOW + 100);
	ck_assert_str_eq(m.reason, "r-jti");
	ck_assert_int_eq(rm(r, RULES_JTI, "i", "j", NOW), 1);
	ck_assert_int_eq(rules_check(r, &q, NOW, &m), 1);
	ck_assert_int_eq(m.kind, RULES_SUB);
	ck_assert_int_eq(m.time, NOW);
	ck_assert_str_eq(m.reason, "r-sub");
	ck_assert_int_eq(rm(r, RULES_SUB, "i", "u", NOW), 1);
	ck_assert_int_eq(rules_check(r, &q, NOW, &m), 1);
	ck_assert_int_eq(m.kind, RULES_BAN);
	ck_assert_str_eq(m.reason, "r-ban");
	ck_assert_int_eq(rm(r, RULES_BAN, "i", "u", NOW), 1);
	ck_assert_int_eq(rules_check(r, &q, NOW, &m), 1);
	ck_assert_int_eq(m.kind, RULES_SID);
	ck_assert_str_eq(m.reason, "r-sid");
	ck_assert_int_eq(rm(r, RULES_SID, "i", "s", NOW), 1);
	ck_assert_int_eq(rules_check(r, &q, NOW, &m), 1);
	ck_assert_int_eq(m.kind, RULES_ISS);
	ck_assert_str_eq(m.reason, "r-iss");
	ck_assert_int_eq(rm(r, RULES_ISS, "i", "", NOW), 1);
	ck_assert_int_eq(rules_check(r, &q, NOW, &m), 0);
	ck_assert_int_eq(rules_check(r, &q, NOW, NULL), 0);
	rules_free(r);
}
END_TEST

/* CHECK skips the empty tables: a rule of each kind alone still matches,
 * and none once it is removed; a table holding only an expired rule is
 * asked and does not match. */
START_TEST(test_kind_alone)
{
	static const char *const ids[RULES_NKINDS] = {
		[RULES_JTI] = "j", [RULES_SUB] = "u", [RULES_BAN] = "u",
		[RULES_SID] = "s", [RULES_ISS] = "",
	};
	struct rules		*r;
	struct rules_query	 q;
	struct rules_match	 m;
	int			 k;

	query(&q, "u", "s", 1, NOW - 10);
	for (k = 0; k < RULES_NKINDS; k++) {
		r = mk();
		ck_assert_int_eq(rules_check(r, &q, NOW, &m), 0);
		ck_assert_int_eq(add(r, (enum rules_kind)k, "i", ids[k], NOW,
		    "alone", NOW - 1), 1);
		ck_assert_uint_eq(rules_count(r, -1), 1);
		ck_assert_int_eq(rules_check(r, &q, NOW - 1, &m), 1);
		ck_assert_int_eq(m.kind, k);
		ck_assert_str_eq(m.reason, "alone");
		/* Past the rule (a not-before one a lifetime later), not
		 * yet swept: held but no match. */
		ck_assert_int_eq(rules_check(r, &q,
		    rules_end(r, (enum rules_kind)k, NOW), NULL), 0);
		ck_assert_uint_eq(rules_count(r, k), 1);
		ck_assert_int_eq(rm(r, (enum rules_kind)k, "i", ids[k],
		    NOW - 1), 1);
		ck_assert_uint_eq(rules_count(r, -1), 0);
		ck_assert_int_eq(rules_check(r, &q, NOW - 1, NULL), 0);
		rules_free(r);
	}
}
END_TEST

/* A not-before rule that spares the token lets later kinds match; sub and
 * sid only count when given; iat only narrows not-before rules. */
START_TEST(test_query_fields)
{
	struct rules		*r = mk();
	struct rules_query	 q;

	ck_assert_int_eq(add(r, RULES_SUB, "i", "u", NOW - 100, NULL, NOW),
	    1);
	ck_assert_int_eq(add(r, RULES_SID, "i", "s", NOW + 100, NULL, NOW),
	    1);
	ck_assert_int_eq(add(r, RULES_ISS, "i", "", NOW - 200, NULL, NOW), 1);

	query(&q, "u", "s", 1, NOW - 150);
	ck_assert_int_eq(check_kind(r, &q, NOW), RULES_SUB);
	q.iat = NOW - 50;		/* after the SUB point: SID */
	ck_assert_int_eq(check_kind(r, &q, NOW), RULES_SID);
	query(&q, "u", NULL, 1, NOW - 50);	/* no sid: ISS spares it */
	ck_assert_int_eq(check_kind(r, &q, NOW), -1);
	query(&q, "u", NULL, 1, NOW - 250);
	ck_assert_int_eq(check_kind(r, &q, NOW), RULES_SUB);
	query(&q, NULL, NULL, 1, NOW - 250);	/* no sub: only ISS */
	ck_assert_int_eq(check_kind(r, &q, NOW), RULES_ISS);
	query(&q, NULL, NULL, 0, 0);		/* no iat: the beginning */
	ck_assert_int_eq(check_kind(r, &q, NOW), RULES_ISS);
	query(&q, "u", NULL, 0, 0);
	ck_assert_int_eq(check_kind(r, &q, NOW), RULES_SUB);
	query(&q, NULL, "s", 1, NOW);
	ck_assert_int_eq(check_kind(r, &q, NOW), RULES_SID);
	/* A sub or sid of another issuer, or the jti as sub, is no match. */
	query(&q, "s", "u", 1, NOW - 150);
	q.iss = "i2";
	q.isslen = 2;
	ck_assert_int_eq(check_kind(r, &q, NOW), -1);
	rules_free(r);
}
END_TEST

/* Journal records, as replay and compaction apply them. */
START_TEST(test_apply)
{
	struct rules		*r = mk();
	struct journal_rec	 rec;
	struct rules_match	 m;

	jrec(&rec, JOURNAL_REVOKE, "j1", NOW + 100, "why");
	ck_assert_int_eq(rules_apply(r, &rec, NOW), 0);
	ck_assert_int_eq(look(r, RULES_JTI, "i", "j1", NOW, &m), 1);
	ck_assert_int_eq(m.time, NOW + 100);
	ck_assert_str_eq(m.reason, "why");
	jrec(&rec, JOURNAL_UNREVOKE, "j1", 0, NULL);
	ck_assert_int_eq(rules_apply(r, &rec, NOW), 0);
	ck_assert_int_eq(look(r, RULES_JTI, "i", "j1", NOW, NULL), 0);

	jrec(&rec, JOURNAL_REVOKESUB, "u", NOW - 100, NULL);
	ck_assert_int_eq(rules_apply(r, &rec, NOW), 0);
	ck_assert_int_eq(look(r, RULES_SUB, "i", "u", NOW, &m), 1);
	ck_assert_int_eq(m.time, NOW - 100);

	jrec(&rec, JOURNAL_BAN, "u", RULES_FOREVER, "spam");
	ck_assert_int_eq(rules_apply(r, &rec, NOW), 0);
	ck_assert_int_eq(look(r, RULES_BAN, "i", "u", NOW, &m), 1);
	ck_assert_int_eq(m.time, RULES_FOREVER);
	ck_assert_str_eq(m.reason, "spam");
	jrec(&rec, JOURNAL_UNBAN, "u", 0, NULL);
	ck_assert_int_eq(rules_apply(r, &rec, NOW), 0);
	ck_assert_int_eq(look(r, RULES_BAN, "i", "u", NOW, NULL), 0);
	/* The SUB rule of the same (iss, sub) is another table. */
	ck_assert_int_eq(look(r, RULES_SUB, "i", "u", NOW, NULL), 1);

	jrec(&rec, JOURNAL_REVOKESID, "s", NOW + 10, NULL);
	ck_assert_int_eq(rules_apply(r, &rec, NOW), 0);
	ck_assert_int_eq(look(r, RULES_SID, "i", "s", NOW, NULL), 1);

	jrec(&rec, JOURNAL_REVOKEALL, "", NOW - 5, NULL);
	ck_assert_int_eq(rules_apply(r, &rec, NOW), 0);
	ck_assert_int_eq(look(r, RULES_ISS, "i", "", NOW, &m), 1);
	ck_assert_int_eq(m.time, NOW - 5);
	ck_assert_uint_eq(rules_count(r, -1), 3);

	/* Skipped: dead at the horizon, beyond 2106, not after 1970, a
	 * MARK or an unknown type. */
	jrec(&rec, JOURNAL_REVOKE, "j2", NOW, NULL);
	ck_assert_int_eq(rules_apply(r, &rec, NOW), 0);
	jrec(&rec, JOURNAL_REVOKESID, "s2", NOW - 1, NULL);
	ck_assert_int_eq(rules_apply(r, &rec, NOW), 0);
	jrec(&rec, JOURNAL_REVOKESUB, "u2", NOW - LIFETIME, NULL);
	ck_assert_int_eq(rules_apply(r, &rec, NOW), 0);
	jrec(&rec, JOURNAL_BAN, "u2", (int64_t)UINT32_MAX + 1, NULL);
	ck_assert_int_eq(rules_apply(r, &rec, NOW), 0);
	jrec(&rec, JOURNAL_REVOKEALL, "", 0, NULL);
	ck_assert_int_eq(rules_apply(r, &rec, -LIFETIME), 0);
	jrec(&rec, JOURNAL_REVOKEALL, "", -5, NULL);
	ck_assert_int_eq(rules_apply(r, &rec, -LIFETIME), 0);
	jrec(&rec, 3, "j3", NOW + 100, NULL);
	ck_assert_int_eq(rules_apply(r, &rec, NOW), 0);
	jrec(&rec, 42, "j3", NOW + 100, NULL);
	ck_assert_int_eq(rules_apply(r, &rec, NOW), 0);
	ck_assert_uint_eq(rules_count(r, -1), 3);
	/* But a point just within the lifetime is kept. */
	jrec(&rec, JOURNAL_REVOKESUB, "u2", NOW - LIFETIME + 1, NULL);
	ck_assert_int_eq(rules_apply(r, &rec, NOW), 0);
	ck_assert_int_eq(look(r, RULES_SUB, "i", "u2", NOW, NULL), 1);
	/* A lift of nothing is fine. */
	jrec(&rec, JOURNAL_UNBAN, "nobody", 0, NULL);
	ck_assert_int_eq(rules_apply(r, &rec, NOW), 0);
	ck_assert_uint_eq(rules_count(r, -1), 4);
	rules_free(r);
}
END_TEST

/* Sweeps free the dead rules of every kind, within their budget. */
START_TEST(test_expire)
{
	struct rules	*r = mk();
	char		 id[32];
	size_t		 before, mem, freed, total = 0;
	int		 i, k, n = 200, rounds;

	for (i = 0; i < n; i++) {
		snprintf(id, sizeof id, "id-%d", i);
		/* Half end at NOW + 10, half at NOW + 1000 (for SUB and
		 * ISS: their points are a lifetime earlier). */
		for (k = 0; k < RULES_NKINDS; k++) {
			int64_t	t = i % 2 == 0 ? NOW + 10 : NOW + 1000;

			if (k == RULES_SUB || k == RULES_ISS)
				t -= LIFETIME;
			if (k == RULES_ISS)
				snprintf(id, sizeof id, "iss-%d", i);
			EXPECT(rules_add(r, (enum rules_kind)k,
			    k == RULES_ISS ? id : "i",
			    k == RULES_ISS ? strlen(id) : 1,
			    k == RULES_ISS ? "" : id,
			    k == RULES_ISS ? 0 : strlen(id), t, "x", 1,
			    NOW) == 1);
		}
	}
	before = rules_count(r, -1);
	ck_assert_uint_eq(before, (size_t)n * RULES_NKINDS);
	mem = rules_memory(r);
	ck_assert_uint_gt(mem, 0);
	/* Nothing is dead yet. */
	ck_assert_uint_eq(rules_expire(r, NOW, 100000), 0);
	ck_assert_uint_eq(rules_count(r, -1), before);
	/* A small budget frees a little at a time, from every table. */
	for (rounds = 0; rules_count(r, -1) > before / 2; rounds++) {
		ck_assert_int_lt(rounds, 100000);
		freed = rules_expire(r, NOW + 10, 7);
		total += freed;
	}
	ck_assert_int_gt(rounds, 10);
	ck_assert_uint_eq(total, before / 2);
	for (k = 0; k < RULES_NKINDS; k++)
		ck_assert_uint_eq(rules_count(r, k), (size_t)n / 2);
	/* A budget smaller than the number of kinds still gets there. */
	for (rounds = 0; rules_count(r, -1) > 0; rounds++) {
		ck_assert_int_lt(rounds, 100000);
		(void)rules_expire(r, NOW + 1000, 2);
	}
	for (k = 0; k < RULES_NKINDS; k++)
		ck_assert_uint_eq(rules_count(r, k), 0);
	ck_assert_uint_le(rules_memory(r), mem);
	rules_free(r);
}
END_TEST

/* A budget of 0 frees nothing; a large one everything dead. */
START_TEST(test_expire_budget)
{
	struct rules	*r = mk();

	ck_assert_int_eq(add(r, RULES_JTI, "i", "a", NOW + 1, NULL, NOW), 1);
	ck_assert_int_eq(add(r, RULES_SUB, "i", "a", NOW + 1 - LIFETIME, NULL,
	    NOW), 1);
	ck_assert_int_eq(add(r, RULES_BAN, "i", "a", NOW + 1, NULL, NOW), 1);
	ck_assert_int_eq(add(r, RULES_BAN, "i", "b", RULES_FOREVER, NULL,
	    NOW), 1);
	ck_assert_uint_eq(rules_expire(r, NOW + 1, 0), 0);
	ck_assert_uint_eq(rules_count(r, -1), 4);
	ck_assert_uint_eq(rules_expire(r, NOW + 1, 1000), 3);
	ck_assert_uint_eq(rules_count(r, -1), 1);
	ck_assert_int_eq(look(r, RULES_BAN, "i", "b", NOW + 1, NULL), 1);
	rules_free(r);
}
END_TEST

/* Build the suite. */
static Suite *
rules_suite(void)
{
	Suite	*s = suite_create("rules");
	TCase	*tc;

	tc = tcase_create("kinds");
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_end);
	tcase_add_test(tc, test_plain_kinds);
	tcase_add_test(tc, test_notbefore_boundaries);
	tcase_add_test(tc, test_notbefore_forward_only);
	tcase_add_test(tc, test_ban_forever_until);
	suite_add_tcase(s, tc);

	tc = tcase_create("check");
	tcase_add_test(tc, test_precedence);
	tcase_add_test(tc, test_query_fields);
	tcase_add_test(tc, test_kind_alone);
	suite_add_tcase(s, tc);

	tc = tcase_create("apply");
	tcase_add_test(tc, test_apply);
	suite_add_tcase(s, tc);

	tc = tcase_create("expiry");
	tcase_add_test(tc, test_expire);
	tcase_add_test(tc, test_expire_budget);
	suite_add_tcase(s, tc);
	return s;
}

/* Run the suite; exit non-zero on any failure. */
int
main(void)
{
	SRunner	*sr = srunner_create(rules_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
