/* Unit tests of the blocklist and its SipHash-2-4-128 digest. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blocklist.h"
#include "siphash.h"

#define NOW		1700000000	/* a fixed "now" for the tests */
#define BIG_N		1000000		/* entries of the big runs */

/* Fail the test unless cond. For hot loops: unlike ck_assert, it does not
 * report every passing check to the parent process. */
#define EXPECT(cond) do {						\
	if (!(cond))							\
		ck_abort_msg("line %d: %s", __LINE__, #cond);		\
} while (0)

static const uint8_t test_key[BLOCKLIST_KEY_LEN] = {
	0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe,
	0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
};

/* SipHash-2-4-128 of 00..(n-1) under key 00..0f, from the reference
 * implementation's vectors.h (vectors_sip128). */
static const struct {
	size_t	n;		/* input length */
	uint8_t	out[16];	/* expected digest */
} sip128_vectors[] = {
	{ 0, { 0xa3, 0x81, 0x7f, 0x04, 0xba, 0x25, 0xa8, 0xe6,
	    0x6d, 0xf6, 0x72, 0x14, 0xc7, 0x55, 0x02, 0x93 } },
	{ 1, { 0xda, 0x87, 0xc1, 0xd8, 0x6b, 0x99, 0xaf, 0x44,
	    0x34, 0x76, 0x59, 0x11, 0x9b, 0x22, 0xfc, 0x45 } },
	{ 2, { 0x81, 0x77, 0x22, 0x8d, 0xa4, 0xa4, 0x5d, 0xc7,
	    0xfc, 0xa3, 0x8b, 0xde, 0xf6, 0x0a, 0xff, 0xe4 } },
	{ 3, { 0x9c, 0x70, 0xb6, 0x0c, 0x52, 0x67, 0xa9, 0x4e,
	    0x5f, 0x33, 0xb6, 0xb0, 0x29, 0x85, 0xed, 0x51 } },
	{ 4, { 0xf8, 0x81, 0x64, 0xc1, 0x2d, 0x9c, 0x8f, 0xaf,
	    0x7d, 0x0f, 0x6e, 0x7c, 0x7b, 0xcd, 0x55, 0x79 } },
	{ 5, { 0x13, 0x68, 0x87, 0x59, 0x80, 0x77, 0x6f, 0x88,
	    0x54, 0x52, 0x7a, 0x07, 0x69, 0x0e, 0x96, 0x27 } },
	{ 6, { 0x14, 0xee, 0xca, 0x33, 0x8b, 0x20, 0x86, 0x13,
	    0x48, 0x5e, 0xa0, 0x30, 0x8f, 0xd7, 0xa1, 0x5e } },
	{ 7, { 0xa1, 0xf1, 0xeb, 0xbe, 0xd8, 0xdb, 0xc1, 0x53,
	    0xc0, 0xb8, 0x4a, 0xa6, 0x1f, 0xf0, 0x82, 0x39 } },
	{ 8, { 0x3b, 0x62, 0xa9, 0xba, 0x62, 0x58, 0xf5, 0x61,
	    0x0f, 0x83, 0xe2, 0x64, 0xf3, 0x14, 0x97, 0xb4 } },
	{ 9, { 0x26, 0x44, 0x99, 0x06, 0x0a, 0xd9, 0xba, 0xab,
	    0xc4, 0x7f, 0x8b, 0x02, 0xbb, 0x6d, 0x71, 0xed } },
	{ 10, { 0x00, 0x11, 0x0d, 0xc3, 0x78, 0x14, 0x69, 0x56,
	    0xc9, 0x54, 0x47, 0xd3, 0xf3, 0xd0, 0xfb, 0xba } },
	{ 15, { 0x54, 0x93, 0xe9, 0x99, 0x33, 0xb0, 0xa8, 0x11,
	    0x7e, 0x08, 0xec, 0x0f, 0x97, 0xcf, 0xc3, 0xd9 } },
	{ 16, { 0x6e, 0xe2, 0xa4, 0xca, 0x67, 0xb0, 0x54, 0xbb,
	    0xfd, 0x33, 0x15, 0xbf, 0x85, 0x23, 0x05, 0x77 } },
	{ 17, { 0x47, 0x3d, 0x06, 0xe8, 0x73, 0x8d, 0xb8, 0x98,
	    0x54, 0xc0, 0x66, 0xc4, 0x7a, 0xe4, 0x77, 0x40 } },
	{ 63, { 0x51, 0x50, 0xd1, 0x77, 0x2f, 0x50, 0x83, 0x4a,
	    0x50, 0x3e, 0x06, 0x9a, 0x97, 0x3f, 0xbd, 0x7c } },
};

/* Return the next value of a splitmix64 generator. */
static uint64_t
rnd(uint64_t *state)
{
	uint64_t	z = (*state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* Write the UUID-v4-like string of number i into out (37 bytes). */
static void
mkuuid(uint64_t i, char out[37])
{
	uint64_t	s = i, a = rnd(&s), b = rnd(&s);

	snprintf(out, 37, "%08x-%04x-4%03x-%04x-%012llx",
	    (unsigned)(a >> 32), (unsigned)(a >> 16) & 0xffff,
	    (unsigned)a & 0xfff, (unsigned)(0x8000 | ((b >> 48) & 0x3fff)),
	    (unsigned long long)(b & UINT64_C(0xffffffffffff)));
}

/* Create a blocklist with the test key, failing the test on OOM. */
static struct blocklist *
mk(void)
{
	struct blocklist	*bl = blocklist_new(test_key);

	ck_assert_ptr_nonnull(bl);
	return bl;
}

/* Add with C-string arguments. */
static int
add(struct blocklist *bl, const char *iss, const char *jti, int64_t exp,
    const char *reason, int64_t now)
{
	return blocklist_add(bl, iss, strlen(iss), jti, strlen(jti), exp,
	    reason, reason == NULL ? 0 : strlen(reason), now);
}

/* Look up with C-string arguments. */
static int
look(const struct blocklist *bl, const char *iss, const char *jti,
    int64_t now, struct blocklist_hit *hit)
{
	return blocklist_lookup(bl, iss, strlen(iss), jti, strlen(jti), now,
	    hit);
}

/* Remove with C-string arguments. */
static int
rm(struct blocklist *bl, const char *iss, const char *jti, int64_t now)
{
	return blocklist_remove(bl, iss, strlen(iss), jti, strlen(jti), now);
}

/* Sweep the whole table at now; return the number freed. */
static size_t
sweep_all(struct blocklist *bl, int64_t now)
{
	size_t	freed = 0, n;

	do {
		n = blocklist_expire(bl, now, blocklist_capacity(bl));
		freed += n;
	} while (n > 0);
	return freed;
}

START_TEST(test_siphash_vectors)
{
	uint8_t	key[16], in[64], out[16];
	size_t	i;

	for (i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (i = 0; i < 64; i++)
		in[i] = (uint8_t)i;
	for (i = 0; i < sizeof(sip128_vectors) / sizeof(sip128_vectors[0]);
	    i++) {
		siphash128(key, in, sip128_vectors[i].n, out);
		ck_assert_msg(memcmp(out, sip128_vectors[i].out, 16) == 0,
		    "SipHash-2-4-128 vector n=%zu", sip128_vectors[i].n);
	}
}
END_TEST

START_TEST(test_add_lookup_remove)
{
	struct blocklist	*bl = mk();
	struct blocklist_hit	 hit;

	ck_assert_uint_eq(blocklist_count(bl), 0);
	ck_assert_int_eq(look(bl, "iss", "jti-1", NOW, &hit), 0);
	ck_assert_int_eq(add(bl, "iss", "jti-1", NOW + 60, "logout", NOW), 1);
	ck_assert_uint_eq(blocklist_count(bl), 1);
	ck_assert_int_eq(look(bl, "iss", "jti-1", NOW, &hit), 1);
	ck_assert_int_eq(hit.exp, NOW + 60);
	ck_assert_str_eq(hit.reason, "logout");
	ck_assert_uint_eq(hit.reason_len, 6);
	ck_assert_int_eq(look(bl, "iss", "jti-1", NOW, NULL), 1);
	ck_assert_int_eq(look(bl, "iss", "jti-2", NOW, NULL), 0);

	ck_assert_int_eq(add(bl, "iss", "jti-2", NOW + 60, NULL, NOW), 1);
	ck_assert_int_eq(look(bl, "iss", "jti-2", NOW, &hit), 1);
	ck_assert_str_eq(hit.reason, "");
	ck_assert_uint_eq(hit.reason_len, 0);

	ck_assert_int_eq(rm(bl, "iss", "jti-1", NOW), 1);
	ck_assert_int_eq(rm(bl, "iss", "jti-1", NOW), 0);
	ck_assert_int_eq(look(bl, "iss", "jti-1", NOW, NULL), 0);
	ck_assert_int_eq(look(bl, "iss", "jti-2", NOW, NULL), 1);
	ck_assert_uint_eq(blocklist_count(bl), 1);
	blocklist_free(bl);
	blocklist_free(NULL);
}
END_TEST

START_TEST(test_keying)
{
	struct blocklist	*bl = mk();
	struct blocklist_hit	 hit;
	char			 longid[BLOCKLIST_ID_MAX + 1];

	ck_assert_int_eq(add(bl, "A", "x", NOW + 10, "a", NOW), 1);
	ck_assert_int_eq(add(bl, "B", "x", NOW + 20, "b", NOW), 1);
	ck_assert_int_eq(look(bl, "A", "x", NOW, &hit), 1);
	ck_assert_int_eq(hit.exp, NOW + 10);
	ck_assert_int_eq(look(bl, "B", "x", NOW, &hit), 1);
	ck_assert_int_eq(hit.exp, NOW + 20);
	ck_assert_int_eq(look(bl, "C", "x", NOW, NULL), 0);

	/* The length prefix keeps these apart. */
	ck_assert_int_eq(add(bl, "ab", "c", NOW + 30, NULL, NOW), 1);
	ck_assert_int_eq(look(bl, "a", "bc", NOW, NULL), 0);
	ck_assert_int_eq(add(bl, "a", "bc", NOW + 40, NULL, NOW), 1);
	ck_assert_int_eq(look(bl, "ab", "c", NOW, &hit), 1);
	ck_assert_int_eq(hit.exp, NOW + 30);
	ck_assert_int_eq(look(bl, "a", "bc", NOW, &hit), 1);
	ck_assert_int_eq(hit.exp, NOW + 40);
	ck_assert_int_eq(look(bl, "", "abc", NOW, NULL), 0);
	ck_assert_int_eq(look(bl, "abc", "", NOW, NULL), 0);

	/* Empty iss (and empty jti) are keys like any other. */
	ck_assert_int_eq(add(bl, "", "x", NOW + 50, NULL, NOW), 1);
	ck_assert_int_eq(look(bl, "", "x", NOW, &hit), 1);
	ck_assert_int_eq(hit.exp, NOW + 50);
	ck_assert_int_eq(blocklist_add(bl, NULL, 0, NULL, 0, NOW + 5, NULL, 0,
	    NOW), 1);
	ck_assert_int_eq(blocklist_lookup(bl, NULL, 0, NULL, 0, NOW, NULL), 1);
	ck_assert_uint_eq(blocklist_count(bl), 6);

	/* Ids up to BLOCKLIST_ID_MAX bytes; longer ones are refused. */
	memset(longid, 'z', sizeof(longid));
	ck_assert_int_eq(blocklist_add(bl, longid, BLOCKLIST_ID_MAX, longid,
	    BLOCKLIST_ID_MAX, NOW + 5, NULL, 0, NOW), 1);
	ck_assert_int_eq(blocklist_lookup(bl, longid, BLOCKLIST_ID_MAX,
	    longid, BLOCKLIST_ID_MAX, NOW, NULL), 1);
	ck_assert_int_eq(blocklist_add(bl, longid, BLOCKLIST_ID_MAX + 1,
	    "j", 1, NOW + 5, NULL, 0, NOW), -1);
	ck_assert_int_eq(blocklist_add(bl, "i", 1, longid,
	    BLOCKLIST_ID_MAX + 1, NOW + 5, NULL, 0, NOW), -1);
	ck_assert_int_eq(blocklist_lookup(bl, "i", 1, longid,
	    BLOCKLIST_ID_MAX + 1, NOW, NULL), 0);
	ck_assert_int_eq(blocklist_remove(bl, "i", 1, longid,
	    BLOCKLIST_ID_MAX + 1, NOW), 0);
	ck_assert_uint_eq(blocklist_count(bl), 7);
	blocklist_free(bl);
}
END_TEST

START_TEST(test_add_twice)
{
	struct blocklist	*bl = mk();
	struct blocklist_hit	 hit;

	ck_assert_int_eq(add(bl, "i", "j", NOW + 100, "logout", NOW), 1);
	/* An earlier exp does not shorten; an empty reason keeps the old. */
	ck_assert_int_eq(add(bl, "i", "j", NOW + 50, NULL, NOW), 0);
	ck_assert_int_eq(look(bl, "i", "j", NOW, &hit), 1);
	ck_assert_int_eq(hit.exp, NOW + 100);
	ck_assert_str_eq(hit.reason, "logout");
	ck_assert_int_eq(add(bl, "i", "j", NOW + 50, "", NOW), 0);
	ck_assert_int_eq(look(bl, "i", "j", NOW, &hit), 1);
	ck_assert_str_eq(hit.reason, "logout");
	/* A later exp extends; a new reason replaces. */
	ck_assert_int_eq(add(bl, "i", "j", NOW + 200, "compromised", NOW), 0);
	ck_assert_int_eq(look(bl, "i", "j", NOW, &hit), 1);
	ck_assert_int_eq(hit.exp, NOW + 200);
	ck_assert_str_eq(hit.reason, "compromised");
	ck_assert_uint_eq(hit.reason_len, 11);
	/* A new reason with an earlier exp: reason changes, exp stays. */
	ck_assert_int_eq(add(bl, "i", "j", NOW + 10, "logout", NOW), 0);
	ck_assert_int_eq(look(bl, "i", "j", NOW, &hit), 1);
	ck_assert_int_eq(hit.exp, NOW + 200);
	ck_assert_str_eq(hit.reason, "logout");
	ck_assert_uint_eq(blocklist_count(bl), 1);

	/* An expired, unswept entry is started afresh. */
	ck_assert_int_eq(add(bl, "i", "k", NOW + 10, "logout", NOW), 1);
	ck_assert_int_eq(add(bl, "i", "k", NOW + 30, NULL, NOW + 10), 1);
	ck_assert_int_eq(look(bl, "i", "k", NOW + 10, &hit), 1);
	ck_assert_int_eq(hit.exp, NOW + 30);
	ck_assert_str_eq(hit.reason, "");
	ck_assert_uint_eq(blocklist_count(bl), 2);
	blocklist_free(bl);
}
END_TEST

START_TEST(test_invalid_exp)
{
	struct blocklist	*bl = mk();
	size_t			 mem = blocklist_memory(bl);

	ck_assert_int_eq(add(bl, "i", "j", NOW, "r", NOW), -1);
	ck_assert_int_eq(add(bl, "i", "j", NOW - 1, "r", NOW), -1);
	ck_assert_int_eq(add(bl, "i", "j", (int64_t)UINT32_MAX + 1, "r", NOW),
	    -1);
	ck_assert_int_eq(add(bl, "i", "j", 0, NULL, -5), -1);
	ck_assert_uint_eq(blocklist_count(bl), 0);
	ck_assert_uint_eq(blocklist_memory(bl), mem);
	ck_assert_int_eq(add(bl, "i", "j", UINT32_MAX, NULL, NOW), 1);
	ck_assert_int_eq(look(bl, "i", "j", (int64_t)UINT32_MAX - 1, NULL), 1);
	ck_assert_int_eq(look(bl, "i", "j", UINT32_MAX, NULL), 0);
	/* An update with a bad exp changes nothing either. */
	ck_assert_int_eq(add(bl, "i", "j", NOW, "r", NOW), -1);
	ck_assert_uint_eq(blocklist_memory(bl), mem);
	blocklist_free(bl);
}
END_TEST

START_TEST(test_expiry_boundary)
{
	struct blocklist	*bl = mk();

	ck_assert_int_eq(add(bl, "i", "j", NOW + 10, NULL, NOW), 1);
	ck_assert_int_eq(look(bl, "i", "j", NOW + 9, NULL), 1);
	ck_assert_int_eq(look(bl, "i", "j", NOW + 10, NULL), 0);
	ck_assert_int_eq(look(bl, "i", "j", NOW + 11, NULL), 0);
	/* Not swept at exp - 1, swept at exp. */
	ck_assert_uint_eq(sweep_all(bl, NOW + 9), 0);
	ck_assert_uint_eq(blocklist_count(bl), 1);
	ck_assert_uint_eq(sweep_all(bl, NOW + 10), 1);
	ck_assert_uint_eq(blocklist_count(bl), 0);
	blocklist_free(bl);
}
END_TEST

START_TEST(test_remove_expired)
{
	struct blocklist	*bl = mk();

	ck_assert_int_eq(add(bl, "i", "j", NOW + 10, "r", NOW), 1);
	ck_assert_uint_eq(blocklist_count(bl), 1);
	/* Removed although unswept, but it was not live. */
	ck_assert_int_eq(rm(bl, "i", "j", NOW + 10), 0);
	ck_assert_uint_eq(blocklist_count(bl), 0);
	ck_assert_int_eq(rm(bl, "i", "j", NOW), 0);
	blocklist_free(bl);
}
END_TEST

START_TEST(test_expire_shrinks)
{
	struct blocklist	*bl = mk();
	size_t			 base = blocklist_memory(bl), full, i, cap;
	char			 jti[37];

	ck_assert_uint_eq(blocklist_capacity(bl), 64);
	for (i = 0; i < 20000; i++) {
		mkuuid(i, jti);
		EXPECT(add(bl, "iss", jti,
		    NOW + 10 + (int64_t)(i % 2) * 100, NULL, NOW) == 1);
	}
	full = blocklist_memory(bl);
	ck_assert_uint_gt(full, base + 20000 * 24);
	ck_assert_uint_ge(blocklist_capacity(bl), 20000);

	/* Half expire: no shrink yet (load stays above 1/5). */
	ck_assert_uint_eq(sweep_all(bl, NOW + 10), 10000);
	ck_assert_uint_eq(blocklist_count(bl), 10000);
	for (i = 0; i < 20000; i++) {
		mkuuid(i, jti);
		ck_assert_int_eq(look(bl, "iss", jti, NOW + 10, NULL),
		    (int)(i % 2));
	}

	/* Everything expires: the table returns to its minimum. */
	ck_assert_uint_eq(sweep_all(bl, NOW + 110), 10000);
	ck_assert_uint_eq(blocklist_count(bl), 0);
	ck_assert_uint_eq(blocklist_capacity(bl), 64);
	ck_assert_uint_lt(blocklist_memory(bl), full);
	ck_assert_uint_eq(blocklist_memory(bl), base);

	/* Removing never rehashes in the request path; the next sweep
	 * shrinks the table. */
	for (i = 0; i < 5000; i++) {
		mkuuid(i, jti);
		ck_assert_int_eq(add(bl, "iss", jti, NOW + 500, NULL, NOW), 1);
	}
	ck_assert_uint_gt(blocklist_capacity(bl), 5000);
	for (i = 0; i < 5000; i++) {
		mkuuid(i, jti);
		ck_assert_int_eq(rm(bl, "iss", jti, NOW), 1);
	}
	cap = blocklist_capacity(bl);
	ck_assert_uint_gt(cap, 5000);
	ck_assert_uint_eq(blocklist_expire(bl, NOW, 1), 0);
	ck_assert_uint_eq(blocklist_capacity(bl), 64);
	ck_assert_uint_eq(blocklist_memory(bl), base);
	blocklist_free(bl);
}
END_TEST

START_TEST(test_expire_budget)
{
	struct blocklist	*bl = mk();
	size_t			 i, calls, n, freed = 0, cap;
	char			 jti[37];

	for (i = 0; i < 40; i++) {
		mkuuid(i, jti);
		ck_assert_int_eq(add(bl, "iss", jti, NOW + 1, NULL, NOW), 1);
	}
	cap = blocklist_capacity(bl);
	ck_assert_uint_eq(cap, 64);
	ck_assert_uint_eq(blocklist_expire(bl, NOW + 1, 0), 0);
	ck_assert_uint_eq(blocklist_count(bl), 40);
	/* Not yet expired: a full sweep frees nothing. */
	ck_assert_uint_eq(blocklist_expire(bl, NOW, SIZE_MAX), 0);

	/*
	 * Each call examines one slot: it either frees the entry there or
	 * moves on, so it frees at most one and all 40 go within at most
	 * cap + 40 calls (the cursor passes each slot once, plus one look
	 * at every slot a deletion refilled).
	 */
	for (calls = 0; blocklist_count(bl) > 0; calls++) {
		ck_assert_uint_le(calls, cap + 40);
		n = blocklist_expire(bl, NOW + 1, 1);
		ck_assert_uint_le(n, 1);
		freed += n;
	}
	ck_assert_uint_eq(freed, 40);
	ck_assert_uint_ge(calls, 40);

	/* A partial budget frees at most that many. */
	for (i = 0; i < 40; i++) {
		mkuuid(i, jti);
		ck_assert_int_eq(add(bl, "iss", jti, NOW + 1, NULL, NOW), 1);
	}
	n = blocklist_expire(bl, NOW + 1, 10);
	ck_assert_uint_le(n, 10);
	ck_assert_uint_eq(blocklist_count(bl), 40 - n);
	/* The ones swept are gone, the rest still found (at NOW). */
	for (freed = 0, i = 0; i < 40; i++) {
		mkuuid(i, jti);
		freed += (size_t)look(bl, "iss", jti, NOW, NULL);
	}
	ck_assert_uint_eq(freed, blocklist_count(bl));
	blocklist_free(bl);
}
END_TEST

#define MODEL_ISS	3	/* issuers of the model test */
#define MODEL_JTI	2000	/* jtis per issuer */
#define MODEL_KEYS	(MODEL_ISS * MODEL_JTI)
#define MODEL_REASONS	24	/* distinct reasons, 0 = none */

/* The reference model's view of one key. */
struct model_entry {
	int64_t	exp;		/* 0 = absent */
	int	reason;		/* index into the model's reasons */
};

/* Write the text of model reason r (0 = none) into buf. */
static const char *
model_reason(int r, char *buf, size_t len)
{
	if (r == 0)
		return NULL;
	if (r == 1)
		return "logout";
	if (r == 2)
		return "compromised";
	snprintf(buf, len, "reason-%d", r);
	return buf;
}

/* Write the iss and jti of model key k into the buffers. */
static void
model_key(int k, char *iss, char *jti)
{
	static const char *const isss[MODEL_ISS] = { "", "a", "issuer-b" };

	strcpy(iss, isss[k / MODEL_JTI]);
	sprintf(jti, "jti-%d", k % MODEL_JTI);
}

/* Check one key's lookup against the model. */
static void
model_check(const struct blocklist *bl, const struct model_entry *m, int k,
    int64_t now)
{
	struct blocklist_hit	 hit;
	char			 iss[16], jti[16], rbuf[32];
	const char		*r;
	int			 got;

	model_key(k, iss, jti);
	got = look(bl, iss, jti, now, &hit);
	EXPECT(got == (m[k].exp > now));
	if (!got)
		return;
	EXPECT(hit.exp == m[k].exp);
	r = model_reason(m[k].reason, rbuf, sizeof(rbuf));
	EXPECT(strcmp(hit.reason, r == NULL ? "" : r) == 0);
	EXPECT(hit.reason_len == strlen(hit.reason));
}

/* Apply one random operation x to key k of both table and model. */
static void
op_one(struct blocklist *bl, struct model_entry *m, int k, uint64_t x,
    int64_t *now)
{
	char		 iss[16], jti[16], rbuf[32];
	const char	*r;
	int64_t		 exp;
	int		 rid, want;

	model_key(k, iss, jti);
	switch (x % 100) {
	case 0: case 1:
		*now += 1;
		break;
	case 2: case 3: case 4: case 5: case 6:
		(void)blocklist_expire(bl, *now, (x >> 32) % 300);
		break;
	default:
		if (x % 100 < 55) {
			exp = *now + 1 + (int64_t)((x >> 32) % 60);
			rid = (int)((x >> 40) % MODEL_REASONS);
			r = model_reason(rid, rbuf, sizeof(rbuf));
			want = m[k].exp > *now ? 0 : 1;
			EXPECT(add(bl, iss, jti, exp, r, *now) == want);
			if (want == 1 || exp > m[k].exp)
				m[k].exp = exp;
			if (want == 1 || rid != 0)
				m[k].reason = rid;
		} else if (x % 100 < 70) {
			EXPECT(rm(bl, iss, jti, *now) == (m[k].exp > *now));
			m[k].exp = 0;
		} else
			model_check(bl, m, k, *now);
		break;
	}
}

START_TEST(test_random_model)
{
	struct blocklist	*bl = mk();
	struct model_entry	*m;
	uint64_t		 seed = 42, x;
	int64_t			 now = NOW;
	size_t			 base = blocklist_memory(bl), live, cap;
	size_t			 maxcap = 0, shrinks = 0;
	int			 op, k, i;

	m = calloc(MODEL_KEYS, sizeof(*m));
	ck_assert_ptr_nonnull(m);
	for (op = 0; op < 200000; op++) {
		x = rnd(&seed);
		k = (int)(rnd(&seed) % MODEL_KEYS);
		cap = blocklist_capacity(bl);
		if (x % 1000 == 0) {
			/* A jump: everything expires, the table shrinks. */
			now += 70;
		} else
			op_one(bl, m, k, x, &now);
		if (blocklist_capacity(bl) < cap)
			shrinks++;
		if (blocklist_capacity(bl) > maxcap)
			maxcap = blocklist_capacity(bl);
		if (op % 20000 == 19999) {
			for (i = 0; i < MODEL_KEYS; i++)
				model_check(bl, m, i, now);
			(void)blocklist_expire(bl, now, SIZE_MAX);
			for (live = 0, i = 0; i < MODEL_KEYS; i++)
				live += m[i].exp > now;
			ck_assert_uint_eq(blocklist_count(bl), live);
			for (i = 0; i < MODEL_KEYS; i++)
				model_check(bl, m, i, now);
		}
	}
	/* The workload did make the table grow and shrink. */
	ck_assert_uint_ge(maxcap, 500);
	ck_assert_uint_ge(shrinks, 50);
	sweep_all(bl, now + 1000);
	ck_assert_uint_eq(blocklist_count(bl), 0);
	ck_assert_uint_eq(blocklist_memory(bl), base);
	free(m);
	blocklist_free(bl);
}
END_TEST

START_TEST(test_reasons)
{
	struct blocklist	*bl = mk();
	struct blocklist_hit	 h1, h2;
	size_t			 base = blocklist_memory(bl), one, i;
	char			 jti[37], reason[32];

	ck_assert_int_eq(add(bl, "i", "a", NOW + 10, "logout", NOW), 1);
	one = blocklist_memory(bl);
	ck_assert_uint_gt(one, base);
	ck_assert_int_eq(add(bl, "i", "b", NOW + 20, "logout", NOW), 1);
	/* Shared: no more memory, the same string. */
	ck_assert_uint_eq(blocklist_memory(bl), one);
	ck_assert_int_eq(look(bl, "i", "a", NOW, &h1), 1);
	ck_assert_int_eq(look(bl, "i", "b", NOW, &h2), 1);
	ck_assert_ptr_eq(h1.reason, h2.reason);
	ck_assert_int_eq(add(bl, "i", "c", NOW + 30, "compromised", NOW), 1);
	ck_assert_uint_gt(blocklist_memory(bl), one);

	/* Each reason goes with the last entry using it. */
	ck_assert_uint_eq(sweep_all(bl, NOW + 10), 1);
	ck_assert_int_eq(look(bl, "i", "b", NOW + 10, &h2), 1);
	ck_assert_str_eq(h2.reason, "logout");
	ck_assert_uint_eq(sweep_all(bl, NOW + 30), 2);
	ck_assert_uint_eq(blocklist_count(bl), 0);
	ck_assert_uint_eq(blocklist_memory(bl), base);

	/* Replacing a reason releases the old one. */
	ck_assert_int_eq(add(bl, "i", "a", NOW + 100, "one", NOW), 1);
	ck_assert_int_eq(add(bl, "i", "a", NOW + 100, "two", NOW), 0);
	ck_assert_int_eq(rm(bl, "i", "a", NOW), 1);
	ck_assert_uint_eq(blocklist_memory(bl), base);

	/* Many distinct reasons, freed out of order. */
	for (i = 0; i < 3000; i++) {
		mkuuid(i, jti);
		snprintf(reason, sizeof(reason), "reason %zu", i % 1000);
		ck_assert_int_eq(add(bl, "i", jti, NOW + 1 + (int64_t)(i % 7),
		    reason, NOW), 1);
	}
	for (i = 0; i < 3000; i += 3) {
		mkuuid(i, jti);
		ck_assert_int_eq(rm(bl, "i", jti, NOW), 1);
	}
	for (i = 0; i < 3000; i++) {
		mkuuid(i, jti);
		snprintf(reason, sizeof(reason), "reason %zu", i % 1000);
		if (i % 3 == 0) {
			ck_assert_int_eq(look(bl, "i", jti, NOW, NULL), 0);
			continue;
		}
		ck_assert_int_eq(look(bl, "i", jti, NOW, &h1), 1);
		ck_assert_str_eq(h1.reason, reason);
	}
	/* Intern again after partial frees. */
	ck_assert_int_eq(add(bl, "i", "z", NOW + 3, "reason 3", NOW), 1);
	ck_assert_int_eq(add(bl, "i", "y", NOW + 3, "brand new", NOW), 1);
	ck_assert_int_eq(look(bl, "i", "z", NOW, &h1), 1);
	ck_assert_str_eq(h1.reason, "reason 3");
	ck_assert_int_eq(look(bl, "i", "y", NOW, &h1), 1);
	ck_assert_str_eq(h1.reason, "brand new");
	sweep_all(bl, NOW + 8);
	ck_assert_uint_eq(blocklist_count(bl), 0);
	ck_assert_uint_eq(blocklist_memory(bl), base);
	blocklist_free(bl);
}
END_TEST

START_TEST(test_million)
{
	struct blocklist	*bl = mk();
	struct blocklist_hit	 hit;
	size_t			 base = blocklist_memory(bl), i, calls;
	char			 jti[37];

	for (i = 0; i < BIG_N; i++) {
		mkuuid(i, jti);
		EXPECT(add(bl, "https://issuer.example", jti,
		    NOW + 1 + (int64_t)(i % 3600),
		    i % 4 == 0 ? "logout" : NULL, NOW) == 1);
	}
	ck_assert_uint_eq(blocklist_count(bl), BIG_N);
	for (i = 0; i < BIG_N; i++) {
		mkuuid(i, jti);
		EXPECT(look(bl, "https://issuer.example", jti, NOW,
		    &hit) == 1);
		EXPECT(hit.exp == NOW + 1 + (int64_t)(i % 3600));
		EXPECT(hit.reason_len == (i % 4 == 0 ? 6u : 0u));
		EXPECT(look(bl, "https://other.example", jti, NOW,
		    NULL) == 0);
	}
	/* Expire all, as the daemon would: a tenth of the table a call. */
	for (calls = 0; blocklist_count(bl) > 0; calls++) {
		ck_assert_uint_lt(calls, 1000);
		(void)blocklist_expire(bl, NOW + 3600,
		    blocklist_capacity(bl) / 10 + 1);
	}
	ck_assert_uint_eq(blocklist_count(bl), 0);
	ck_assert_uint_eq(blocklist_capacity(bl), 64);
	ck_assert_uint_eq(blocklist_memory(bl), base);
	blocklist_free(bl);
}
END_TEST

START_TEST(test_bytes_per_entry)
{
	struct blocklist	*bl = mk();
	size_t			 i, mem;
	char			 jti[37];

	for (i = 0; i < BIG_N; i++) {
		mkuuid(i + BIG_N, jti);
		EXPECT(add(bl, "https://issuer.example", jti,
		    NOW + 3600, i % 2 ? "logout" : "compromised", NOW) == 1);
		/* The worst case after a growth is 24 / 0.7 = 34.3. */
		if (i + 1 >= 1000)
			EXPECT(blocklist_memory(bl) <= 36 * (i + 1));
	}
	mem = blocklist_memory(bl);
	ck_assert_uint_le(mem, (size_t)40 * BIG_N);
	blocklist_free(bl);
}
END_TEST

/* Build the suite. */
static Suite *
blocklist_suite(void)
{
	Suite	*s = suite_create("blocklist");
	TCase	*tc;

	tc = tcase_create("siphash");
	tcase_add_test(tc, test_siphash_vectors);
	suite_add_tcase(s, tc);

	tc = tcase_create("basics");
	tcase_add_test(tc, test_add_lookup_remove);
	tcase_add_test(tc, test_keying);
	tcase_add_test(tc, test_add_twice);
	tcase_add_test(tc, test_invalid_exp);
	tcase_add_test(tc, test_expiry_boundary);
	tcase_add_test(tc, test_remove_expired);
	tcase_add_test(tc, test_reasons);
	suite_add_tcase(s, tc);

	tc = tcase_create("expiry");
	tcase_add_test(tc, test_expire_shrinks);
	tcase_add_test(tc, test_expire_budget);
	suite_add_tcase(s, tc);

	tc = tcase_create("model");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_random_model);
	suite_add_tcase(s, tc);

	tc = tcase_create("scale");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_million);
	tcase_add_test(tc, test_bytes_per_entry);
	suite_add_tcase(s, tc);
	return s;
}

/* Run the suite; exit non-zero on any failure. */
int
main(void)
{
	SRunner	*sr = srunner_create(blocklist_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
