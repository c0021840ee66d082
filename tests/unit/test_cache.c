/*
 * Unit tests of the verified-token cache (cache.c) alone: round trip of
 * every field, misses, the expiry boundary, bounded LRU eviction,
 * preferential eviction of expired entries, clear and overwrite. Digests
 * are made up: the cache never hashes anything itself.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "cache.h"
#include "token.h"

#define NOW	1700000000LL	/* the tests' "now" */

/* Fill digest with bytes derived from n (distinct n, distinct digest). */
static void
mkdigest(unsigned char digest[CACHE_DIGEST_LEN], uint64_t n)
{
	uint64_t	z;
	size_t		i;

	for (i = 0; i < CACHE_DIGEST_LEN; i += 8) {
		/* splitmix64 of (n, i): spreads n over shards and buckets. */
		z = n * 4 + i / 8 + UINT64_C(0x9e3779b97f4a7c15);
		z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
		z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
		z ^= z >> 31;
		memcpy(digest + i, &z, 8);
	}
}

/* Fill claims with every field set, strings derived from n. */
static void
mkclaims(struct token_claims *c, uint64_t n)
{
	char	buf[64];

	memset(c, 0, sizeof *c);
	snprintf(buf, sizeof buf, "jti-%llu", (unsigned long long)n);
	c->jti = strdup(buf);
	snprintf(buf, sizeof buf, "https://iss.example/%llu",
	    (unsigned long long)n);
	c->iss = strdup(buf);
	snprintf(buf, sizeof buf, "user-%llu", (unsigned long long)n);
	c->sub = strdup(buf);
	snprintf(buf, sizeof buf, "session-%llu", (unsigned long long)n);
	c->sid = strdup(buf);
	ck_assert(c->jti && c->iss && c->sub && c->sid);
	c->exp = NOW + 3600 + (long long)n;
	c->nbf = NOW - 60;
	c->iat = NOW - 120;
	c->has_exp = c->has_nbf = c->has_iat = 1;
}

/* Assert that two claims agree on every field the cache keeps. */
static void
assert_claims_eq(const struct token_claims *a, const struct token_claims *b)
{
	ck_assert_pstr_eq(a->jti, b->jti);
	ck_assert_pstr_eq(a->iss, b->iss);
	ck_assert_pstr_eq(a->sub, b->sub);
	ck_assert_pstr_eq(a->sid, b->sid);
	ck_assert_int_eq(a->has_exp, b->has_exp);
	ck_assert_int_eq(a->has_nbf, b->has_nbf);
	ck_assert_int_eq(a->has_iat, b->has_iat);
	if (a->has_exp)
		ck_assert_int_eq(a->exp, b->exp);
	if (a->has_nbf)
		ck_assert_int_eq(a->nbf, b->nbf);
	if (a->has_iat)
		ck_assert_int_eq(a->iat, b->iat);
}

/* Put claims for digest n, until NOW + 3600; the cache copies them. */
static void
put_n(struct vcache *c, uint64_t n)
{
	unsigned char		d[CACHE_DIGEST_LEN];
	struct token_claims	cl;

	mkdigest(d, n);
	mkclaims(&cl, n);
	vcache_put(c, d, NOW + 3600, &cl);
	token_claims_free(&cl);
}

/* Return whether digest n is a hit at NOW (and its claims are n's). */
static int
has_n(struct vcache *c, uint64_t n)
{
	unsigned char		d[CACHE_DIGEST_LEN];
	struct token_claims	cl, want;
	int			hit;

	mkdigest(d, n);
	if ((hit = vcache_get(c, d, NOW, &cl)) == 1) {
		mkclaims(&want, n);
		assert_claims_eq(&cl, &want);
		token_claims_free(&want);
		token_claims_free(&cl);
	}
	return hit;
}

/* A put then a get returns a copy of every kept field. */
START_TEST(test_round_trip)
{
	struct vcache		*c = vcache_new(16);
	unsigned char		 d[CACHE_DIGEST_LEN];
	struct token_claims	 in, out;

	ck_assert_ptr_nonnull(c);
	mkdigest(d, 1);
	mkclaims(&in, 1);
	in.exp = -5;			/* any value round-trips */
	in.nbf = 0;
	in.iat = 9223372036854775807LL;
	vcache_put(c, d, NOW + 10, &in);
	ck_assert_uint_eq(vcache_count(c), 1);

	memset(&out, 0xa5, sizeof out);	/* garbage the get must replace */
	ck_assert_int_eq(vcache_get(c, d, NOW, &out), 1);
	assert_claims_eq(&in, &out);
	ck_assert_int_eq(out.exp, -5);
	ck_assert_int_eq(out.iat, 9223372036854775807LL);
	/* Copies, not the caller's pointers nor shared with the cache. */
	ck_assert_ptr_ne(out.jti, in.jti);
	ck_assert_ptr_null(out.alg);
	ck_assert_ptr_null(out.typ);
	ck_assert_ptr_null(out.kid);
	ck_assert_ptr_null(out.aud);
	ck_assert_ptr_null(out.sig);
	token_claims_free(&out);
	/* The caller's claims may be freed: the cache kept its own. */
	token_claims_free(&in);
	mkclaims(&in, 1);
	in.exp = -5;
	in.nbf = 0;
	in.iat = 9223372036854775807LL;
	ck_assert_int_eq(vcache_get(c, d, NOW, &out), 1);
	assert_claims_eq(&in, &out);
	token_claims_free(&out);
	token_claims_free(&in);
	vcache_free(c);
}
END_TEST

/* Absent strings and times stay absent. */
START_TEST(test_absent_fields)
{
	struct vcache		*c = vcache_new(16);
	unsigned char		 d[CACHE_DIGEST_LEN];
	struct token_claims	 in, out;

	ck_assert_ptr_nonnull(c);
	memset(&in, 0, sizeof in);
	in.jti = strdup("only-jti");
	in.sid = strdup("");		/* present but empty */
	in.exp = NOW + 5;
	in.has_exp = 1;
	mkdigest(d, 7);
	vcache_put(c, d, NOW + 5, &in);
	ck_assert_int_eq(vcache_get(c, d, NOW, &out), 1);
	ck_assert_str_eq(out.jti, "only-jti");
	ck_assert_ptr_null(out.iss);
	ck_assert_ptr_null(out.sub);
	ck_assert_ptr_nonnull(out.sid);
	ck_assert_str_eq(out.sid, "");
	ck_assert_int_eq(out.has_exp, 1);
	ck_assert_int_eq(out.has_nbf, 0);
	ck_assert_int_eq(out.has_iat, 0);
	token_claims_free(&out);
	token_claims_free(&in);
	vcache_free(c);
}
END_TEST

/* A digest never put is a miss, in an empty and a non-empty cache. */
START_TEST(test_miss)
{
	struct vcache		*c = vcache_new(16);
	unsigned char		 d[CACHE_DIGEST_LEN];
	struct token_claims	 out;

	ck_assert_ptr_nonnull(c);
	mkdigest(d, 2);
	ck_assert_int_eq(vcache_get(c, d, NOW, &out), 0);
	put_n(c, 3);
	ck_assert_int_eq(vcache_get(c, d, NOW, &out), 0);
	ck_assert_int_eq(has_n(c, 3), 1);
	vcache_free(c);
}
END_TEST

/* until = now + 1: a hit at now, a miss at now + 1 (and reclaimed). */
START_TEST(test_expiry_boundary)
{
	struct vcache		*c = vcache_new(16);
	unsigned char		 d[CACHE_DIGEST_LEN];
	struct token_claims	 in, out;

	ck_assert_ptr_nonnull(c);
	mkdigest(d, 4);
	mkclaims(&in, 4);
	vcache_put(c, d, NOW + 1, &in);
	ck_assert_int_eq(vcache_get(c, d, NOW, &out), 1);
	token_claims_free(&out);
	ck_assert_int_eq(vcache_get(c, d, NOW + 1, &out), 0);
	ck_assert_uint_eq(vcache_count(c), 0);
	/* Once gone it stays gone, even at an earlier now. */
	ck_assert_int_eq(vcache_get(c, d, NOW, &out), 0);
	/* Already expired at put: never returned. */
	vcache_put(c, d, NOW, &in);
	ck_assert_int_eq(vcache_get(c, d, NOW, &out), 0);
	token_claims_free(&in);
	vcache_free(c);
}
END_TEST

/* Ten times max_entries inserts: the count never exceeds the bound. */
START_TEST(test_bounded)
{
	static const size_t	 sizes[] = { 1, 3, 16, 17, 64, 1000 };
	struct vcache		*c;
	size_t			 k, max, i, hits;

	for (k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		max = sizes[k];
		ck_assert_ptr_nonnull(c = vcache_new(max));
		for (i = 0; i < 10 * max; i++) {
			put_n(c, i);
			ck_assert_uint_le(vcache_count(c), max);
			ck_assert_int_eq(has_n(c, i), 1);
		}
		/* Full: every shard is at its capacity. */
		ck_assert_uint_eq(vcache_count(c), max);
		for (i = 0, hits = 0; i < 10 * max; i++)
			hits += (size_t)has_n(c, i);
		ck_assert_uint_eq(hits, max);
		vcache_free(c);
	}
}
END_TEST

/* Eviction is least recently used: a token used again survives. */
START_TEST(test_lru)
{
	struct vcache	*c;
	uint64_t	 i;

	/* Capacity 1: a single shard, so the order is fully observable. */
	ck_assert_ptr_nonnull(c = vcache_new(1));
	put_n(c, 1);
	put_n(c, 2);
	ck_assert_int_eq(has_n(c, 1), 0);
	ck_assert_int_eq(has_n(c, 2), 1);
	vcache_free(c);

	/* Many entries: keep touching entry 0 while inserting 10x more;
	 * it must never be the victim. */
	ck_assert_ptr_nonnull(c = vcache_new(64));
	put_n(c, 0);
	for (i = 1; i < 640; i++) {
		put_n(c, i);
		ck_assert_int_eq(has_n(c, 0), 1);
	}
	/* The oldest untouched entries are gone, the newest are there. */
	ck_assert_int_eq(has_n(c, 1), 0);
	ck_assert_int_eq(has_n(c, 639), 1);
	vcache_free(c);
}
END_TEST

/* A full shard evicts an expired entry before a live older one. */
START_TEST(test_expired_evicted_first)
{
	struct vcache		*c;
	unsigned char		 d[CACHE_DIGEST_LEN];
	struct token_claims	 cl, out;

	/* 32 entries are 16 shards of 2. Digests whose first 8 bytes are
	 * zero share a shard; byte 8 tells them apart. */
	ck_assert_ptr_nonnull(c = vcache_new(32));
	mkclaims(&cl, 9);
	memset(d, 0, sizeof d);
	d[8] = 1;
	vcache_put(c, d, NOW + 3600, &cl);	/* B: least recently used */
	d[8] = 2;
	vcache_put(c, d, NOW + 1, &cl);		/* A: newer, expires first */
	/* A lookup (a miss) tells the shard that it is now NOW + 1. */
	d[8] = 3;
	ck_assert_int_eq(vcache_get(c, d, NOW + 1, &out), 0);
	/* Full: inserting C evicts the expired A, not the LRU B. */
	d[8] = 4;
	vcache_put(c, d, NOW + 3600, &cl);
	ck_assert_uint_eq(vcache_count(c), 2);
	d[8] = 1;
	ck_assert_int_eq(vcache_get(c, d, NOW + 1, &out), 1);
	token_claims_free(&out);
	d[8] = 4;
	ck_assert_int_eq(vcache_get(c, d, NOW + 1, &out), 1);
	token_claims_free(&out);
	/* With nothing expired, plain LRU: D evicts B (C was used after). */
	d[8] = 5;
	vcache_put(c, d, NOW + 3600, &cl);
	ck_assert_uint_eq(vcache_count(c), 2);
	d[8] = 1;
	ck_assert_int_eq(vcache_get(c, d, NOW + 1, &out), 0);
	token_claims_free(&cl);
	vcache_free(c);
}
END_TEST

/* vcache_clear drops everything; the cache is usable afterwards. */
START_TEST(test_clear)
{
	struct vcache	*c;
	uint64_t	 i;

	/* Room to spare: shards fill unevenly (100 in 16 shards of 7). */
	ck_assert_ptr_nonnull(c = vcache_new(1000));
	for (i = 0; i < 100; i++)
		put_n(c, i);
	ck_assert_uint_eq(vcache_count(c), 100);
	vcache_clear(c);
	ck_assert_uint_eq(vcache_count(c), 0);
	for (i = 0; i < 100; i++)
		ck_assert_int_eq(has_n(c, i), 0);
	vcache_clear(c);			/* clearing empty is fine */
	put_n(c, 5);
	ck_assert_uint_eq(vcache_count(c), 1);
	ck_assert_int_eq(has_n(c, 5), 1);
	vcache_free(c);
}
END_TEST

/* A second put of the same digest replaces the first, same count. */
START_TEST(test_overwrite)
{
	struct vcache		*c;
	unsigned char		 d[CACHE_DIGEST_LEN];
	struct token_claims	 a, b, out;

	ck_assert_ptr_nonnull(c = vcache_new(16));
	mkdigest(d, 11);
	mkclaims(&a, 11);
	mkclaims(&b, 12);
	vcache_put(c, d, NOW + 1, &a);
	vcache_put(c, d, NOW + 100, &b);
	ck_assert_uint_eq(vcache_count(c), 1);
	/* The new claims and the new until. */
	ck_assert_int_eq(vcache_get(c, d, NOW + 50, &out), 1);
	assert_claims_eq(&out, &b);
	token_claims_free(&out);
	token_claims_free(&a);
	token_claims_free(&b);
	vcache_free(c);
}
END_TEST

/* A digest that differs only in its last byte is a miss. */
START_TEST(test_last_byte)
{
	struct vcache		*c;
	unsigned char		 d[CACHE_DIGEST_LEN];
	struct token_claims	 out;
	int			 bit;

	ck_assert_ptr_nonnull(c = vcache_new(16));
	mkdigest(d, 13);
	put_n(c, 13);
	for (bit = 0; bit < 8; bit++) {
		d[CACHE_DIGEST_LEN - 1] ^= (unsigned char)(1u << bit);
		ck_assert_int_eq(vcache_get(c, d, NOW, &out), 0);
		d[CACHE_DIGEST_LEN - 1] ^= (unsigned char)(1u << bit);
	}
	/* And one differing in a byte the hash never looks at. */
	d[20] ^= 0x80;
	ck_assert_int_eq(vcache_get(c, d, NOW, &out), 0);
	d[20] ^= 0x80;
	ck_assert_int_eq(vcache_get(c, d, NOW, &out), 1);
	token_claims_free(&out);
	vcache_free(c);
}
END_TEST

/* Strings with odd content (UTF-8, quotes, control bytes) survive. */
START_TEST(test_string_content)
{
	struct vcache		*c;
	unsigned char		 d[CACHE_DIGEST_LEN];
	struct token_claims	 in, out;
	char			 big[513];

	ck_assert_ptr_nonnull(c = vcache_new(16));
	memset(&in, 0, sizeof in);
	in.jti = strdup("a\"b\\c\x01\x7f d\t\xc3\xa9\xe2\x82\xac");
	in.iss = strdup("https://iss.example/p?q=1&r=\"2\"");
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	big[100] = '\xff';
	in.sub = strdup(big);		/* 512 bytes: within the bound */
	in.sid = strdup("\n");
	ck_assert(in.jti && in.iss && in.sub && in.sid);
	mkdigest(d, 14);
	vcache_put(c, d, NOW + 60, &in);
	ck_assert_int_eq(vcache_get(c, d, NOW, &out), 1);
	assert_claims_eq(&in, &out);
	ck_assert_uint_eq(strlen(out.sub), 512);
	token_claims_free(&out);
	token_claims_free(&in);
	vcache_free(c);
}
END_TEST

/* Claims whose strings exceed the per-entry bound are not kept. */
START_TEST(test_too_large)
{
	struct vcache		*c;
	unsigned char		 d[CACHE_DIGEST_LEN];
	struct token_claims	 in, out;
	char			*big;

	ck_assert_ptr_nonnull(c = vcache_new(16));
	ck_assert_ptr_nonnull(big = malloc(4097));
	memset(big, 'y', 4096);
	big[4096] = '\0';
	memset(&in, 0, sizeof in);
	in.jti = big;
	mkdigest(d, 15);
	vcache_put(c, d, NOW + 60, &in);
	ck_assert_uint_eq(vcache_count(c), 0);
	ck_assert_int_eq(vcache_get(c, d, NOW, &out), 0);
	token_claims_free(&in);
	vcache_free(c);
}
END_TEST

/* NULL caches and a zero capacity are harmless. */
START_TEST(test_null)
{
	unsigned char		d[CACHE_DIGEST_LEN];
	struct token_claims	out;

	mkdigest(d, 16);
	memset(&out, 0, sizeof out);
	ck_assert_ptr_null(vcache_new(0));
	ck_assert_int_eq(vcache_get(NULL, d, NOW, &out), 0);
	vcache_put(NULL, d, NOW + 1, &out);
	vcache_clear(NULL);
	ck_assert_uint_eq(vcache_count(NULL), 0);
	vcache_free(NULL);
}
END_TEST

/* Build the suite. */
static Suite *
cache_suite(void)
{
	Suite	*s = suite_create("cache");
	TCase	*tc;

	tc = tcase_create("cache");
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_absent_fields);
	tcase_add_test(tc, test_miss);
	tcase_add_test(tc, test_expiry_boundary);
	tcase_add_test(tc, test_bounded);
	tcase_add_test(tc, test_lru);
	tcase_add_test(tc, test_expired_evicted_first);
	tcase_add_test(tc, test_clear);
	tcase_add_test(tc, test_overwrite);
	tcase_add_test(tc, test_last_byte);
	tcase_add_test(tc, test_string_content);
	tcase_add_test(tc, test_too_large);
	tcase_add_test(tc, test_null);
	suite_add_tcase(s, tc);
	return s;
}

/* Run the suite, exit non-zero on any failure. */
int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(cache_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
