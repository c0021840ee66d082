/* Unit tests of the in-flight set of replication. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blocklist.h"
#include "iset.h"
#include "siphash.h"

#define MODEL_KEYS	3000	/* keys of the random model */
#define MODEL_OPS	200000	/* operations of the random model */
#define CLUSTER_BITS	10	/* clustered keys: hash mod 2^CLUSTER_BITS ... */
#define CLUSTER_LOW	1020	/* ... is at least this: the last 4 slots of
				 * any table of up to 1024 slots */
#define CLUSTER_KEYS	400	/* clustered keys found for the tests */
#define MIN_CAP		64	/* the set's smallest table */

/* Fail the test unless cond. For hot loops: unlike ck_assert, it does not
 * report every passing check to the parent process. */
#define EXPECT(cond) do {						\
	if (!(cond))							\
		ck_abort_msg("line %d: %s", __LINE__, #cond);		\
} while (0)

static const uint8_t test_key[SIPHASH_KEY_LEN] = {
	0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe,
	0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
};

/* One key of a test and the seq the reference model holds for it. */
struct tkey {
	char		 iss[24];	/* NUL-terminated */
	char		 jti[24];	/* NUL-terminated */
	uint64_t	 seq;		/* model: 0 = absent */
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

/* Create a set with the test key, failing the test on OOM. */
static struct iset *
mk(void)
{
	struct iset	*s = iset_new(test_key);

	ck_assert_ptr_nonnull(s);
	return s;
}

/* Add with C-string arguments. */
static int
add(struct iset *s, const char *iss, const char *jti, uint64_t seq)
{
	return iset_add(s, iss, strlen(iss), jti, strlen(jti), seq);
}

/* Get with C-string arguments. */
static uint64_t
get(const struct iset *s, const char *iss, const char *jti)
{
	return iset_get(s, iss, strlen(iss), jti, strlen(jti));
}

/* Delete with C-string arguments. */
static int
del(struct iset *s, const char *iss, const char *jti)
{
	return iset_del(s, iss, strlen(iss), jti, strlen(jti));
}

/* Return the probe hash of a test key. */
static uint64_t
hash(const struct iset *s, const struct tkey *k)
{
	return iset_hash(s, k->iss, strlen(k->iss), k->jti, strlen(k->jti));
}

/* Fill keys[0..n) with distinct keys over a few issuers, "" among them. */
static void
mkkeys(struct tkey *keys, size_t n)
{
	static const char *const isss[] = { "", "https://a.example", "x",
	    "https://b.example" };
	size_t	i;

	for (i = 0; i < n; i++) {
		snprintf(keys[i].iss, sizeof keys[i].iss, "%s", isss[i % 4]);
		snprintf(keys[i].jti, sizeof keys[i].jti, "j-%zu", i);
		keys[i].seq = 0;
	}
}

/* Fill keys[0..n) with keys whose home is in the last 4 slots of every
 * table of up to 2^CLUSTER_BITS slots: their runs pile up at the end of
 * the table and wrap around to its front. */
static void
mkcluster(const struct iset *s, struct tkey *keys, size_t n)
{
	uint64_t	mask = (UINT64_C(1) << CLUSTER_BITS) - 1;
	size_t		i = 0, tries = 0;

	while (i < n) {
		snprintf(keys[i].iss, sizeof keys[i].iss, "c");
		snprintf(keys[i].jti, sizeof keys[i].jti, "k%zu", tries++);
		keys[i].seq = 0;
		if ((hash(s, &keys[i]) & mask) >= CLUSTER_LOW)
			i++;
		EXPECT(tries < 100 * 1000 * 1000);
	}
}

/* Check the set against the model for every key, its count, structure
 * and size; return the entries stored across the wrap. */
static size_t
check_all(const struct iset *s, const struct tkey *keys, size_t n)
{
	size_t	i, live = 0, wrapped, cap = iset_capacity(s);

	for (i = 0; i < n; i++) {
		EXPECT(get(s, keys[i].iss, keys[i].jti) == keys[i].seq);
		live += keys[i].seq != 0;
	}
	EXPECT(iset_count(s) == live);
	EXPECT(iset_check(s, &wrapped) == 0);
	/* Deletions leave no huge, mostly empty table behind. */
	EXPECT(cap <= MIN_CAP || iset_count(s) * 8 >= cap);
	return wrapped;
}

/* Apply the model's drop_upto to keys[0..n). */
static void
model_drop(struct tkey *keys, size_t n, uint64_t upto)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (keys[i].seq <= upto)
			keys[i].seq = 0;
}

/* Do one random operation on the set and the model, comparing results.
 * next is the next fresh seq. */
static void
random_op(struct iset *s, struct tkey *keys, size_t n, uint64_t *state,
    uint64_t *next)
{
	struct tkey	*k = &keys[rnd(state) % n];
	uint64_t	 x = rnd(state) % 1000, seq, upto;
	int		 had;

	if (x < 450) {
		/* A fresh write, or now and then a stale one. */
		seq = x < 350 ? (*next)++ : 1 + rnd(state) % *next;
		EXPECT(add(s, k->iss, k->jti, seq) == 0);
		if (seq > k->seq)
			k->seq = seq;
	} else if (x < 700) {
		had = k->seq != 0;
		EXPECT(del(s, k->iss, k->jti) == had);
		k->seq = 0;
	} else if (x < 995) {
		EXPECT(get(s, k->iss, k->jti) == k->seq);
	} else {
		/* Mostly part of the set; now and then all of it. */
		upto = x < 999 ? rnd(state) % *next : *next;
		iset_drop_upto(s, upto);
		model_drop(keys, n, upto);
	}
}

START_TEST(test_basics)
{
	struct iset	*s = mk();

	ck_assert_uint_eq(iset_count(s), 0);
	ck_assert_uint_eq(iset_capacity(s), 0);
	ck_assert_int_eq(iset_check(s, NULL), 0);
	ck_assert_uint_eq(get(s, "iss", "a"), 0);
	ck_assert_int_eq(del(s, "iss", "a"), 0);
	iset_drop_upto(s, UINT64_MAX);

	ck_assert_int_eq(add(s, "iss", "a", 5), 0);
	ck_assert_uint_eq(iset_count(s), 1);
	ck_assert_uint_eq(iset_capacity(s), MIN_CAP);
	ck_assert_uint_eq(get(s, "iss", "a"), 5);
	ck_assert_uint_eq(get(s, "iss", "b"), 0);
	ck_assert_uint_eq(get(s, "other", "a"), 0);

	/* The larger seq is kept on a re-add. */
	ck_assert_int_eq(add(s, "iss", "a", 3), 0);
	ck_assert_uint_eq(get(s, "iss", "a"), 5);
	ck_assert_int_eq(add(s, "iss", "a", 9), 0);
	ck_assert_uint_eq(get(s, "iss", "a"), 9);
	ck_assert_uint_eq(iset_count(s), 1);

	ck_assert_int_eq(add(s, "iss", "b", 7), 0);
	ck_assert_uint_eq(iset_count(s), 2);
	ck_assert_int_eq(del(s, "iss", "a"), 1);
	ck_assert_int_eq(del(s, "iss", "a"), 0);
	ck_assert_uint_eq(get(s, "iss", "a"), 0);
	ck_assert_uint_eq(get(s, "iss", "b"), 7);
	ck_assert_uint_eq(iset_count(s), 1);

	/* seq 0 means "absent": refused. */
	ck_assert_int_eq(add(s, "iss", "c", 0), -1);
	ck_assert_uint_eq(iset_count(s), 1);
	ck_assert_int_eq(iset_check(s, NULL), 0);
	iset_free(s);
	iset_free(NULL);
}
END_TEST

START_TEST(test_iss_boundaries)
{
	struct iset	*s = mk();

	/* The same bytes split differently are different keys. */
	ck_assert_int_eq(add(s, "", "abc", 1), 0);
	ck_assert_int_eq(add(s, "a", "bc", 2), 0);
	ck_assert_int_eq(add(s, "ab", "c", 3), 0);
	ck_assert_int_eq(add(s, "abc", "", 4), 0);
	ck_assert_int_eq(add(s, "", "", 5), 0);
	ck_assert_uint_eq(iset_count(s), 5);
	ck_assert_uint_eq(get(s, "", "abc"), 1);
	ck_assert_uint_eq(get(s, "a", "bc"), 2);
	ck_assert_uint_eq(get(s, "ab", "c"), 3);
	ck_assert_uint_eq(get(s, "abc", ""), 4);
	ck_assert_uint_eq(get(s, "", ""), 5);

	/* An empty iss is not a missing one: ("", j) and ("x", j) differ. */
	ck_assert_int_eq(add(s, "x", "j", 6), 0);
	ck_assert_int_eq(add(s, "", "j", 7), 0);
	ck_assert_uint_eq(get(s, "x", "j"), 6);
	ck_assert_uint_eq(get(s, "", "j"), 7);
	ck_assert_int_eq(del(s, "", "j"), 1);
	ck_assert_uint_eq(get(s, "x", "j"), 6);
	ck_assert_uint_eq(get(s, "", "j"), 0);

	/* NULL with length 0 is the empty string. */
	ck_assert_uint_eq(iset_get(s, NULL, 0, "abc", 3), 1);
	ck_assert_uint_eq(iset_get(s, NULL, 0, NULL, 0), 5);
	ck_assert_int_eq(iset_check(s, NULL), 0);
	iset_free(s);
}
END_TEST

START_TEST(test_max_length)
{
	struct iset	*s = mk();
	char		 a[BLOCKLIST_ID_MAX + 2], b[BLOCKLIST_ID_MAX + 2];

	memset(a, 'a', sizeof a);
	memset(b, 'b', sizeof b);
	ck_assert_int_eq(iset_add(s, a, BLOCKLIST_ID_MAX, b,
	    BLOCKLIST_ID_MAX, 10), 0);
	ck_assert_int_eq(iset_add(s, a, BLOCKLIST_ID_MAX - 1, a,
	    BLOCKLIST_ID_MAX, 11), 0);
	ck_assert_int_eq(iset_add(s, a, BLOCKLIST_ID_MAX, a,
	    BLOCKLIST_ID_MAX - 1, 12), 0);
	ck_assert_uint_eq(iset_count(s), 3);
	ck_assert_uint_eq(iset_get(s, a, BLOCKLIST_ID_MAX, b,
	    BLOCKLIST_ID_MAX), 10);
	ck_assert_uint_eq(iset_get(s, a, BLOCKLIST_ID_MAX - 1, a,
	    BLOCKLIST_ID_MAX), 11);
	ck_assert_uint_eq(iset_get(s, a, BLOCKLIST_ID_MAX, a,
	    BLOCKLIST_ID_MAX - 1), 12);

	/* One byte too many: refused, nothing changed, never found. */
	ck_assert_int_eq(iset_add(s, a, BLOCKLIST_ID_MAX + 1, b, 1, 13), -1);
	ck_assert_int_eq(iset_add(s, a, 1, b, ISET_JTI_MAX + 1, 14), -1);
	ck_assert_uint_eq(iset_count(s), 3);
	ck_assert_uint_eq(iset_get(s, a, BLOCKLIST_ID_MAX + 1, b, 1), 0);
	ck_assert_uint_eq(iset_get(s, a, 1, b, ISET_JTI_MAX + 1), 0);
	/* jti may carry a kind byte in front of a longest id. */
	ck_assert_int_eq(iset_add(s, a, 1, b, ISET_JTI_MAX, 15), 0);
	ck_assert_uint_eq(iset_get(s, a, 1, b, ISET_JTI_MAX), 15);
	ck_assert_int_eq(iset_del(s, a, 1, b, ISET_JTI_MAX), 1);
	ck_assert_int_eq(iset_del(s, a, BLOCKLIST_ID_MAX + 1, b, 1), 0);
	ck_assert_uint_eq(iset_count(s), 3);

	ck_assert_int_eq(iset_del(s, a, BLOCKLIST_ID_MAX, b,
	    BLOCKLIST_ID_MAX), 1);
	ck_assert_uint_eq(iset_count(s), 2);
	ck_assert_int_eq(iset_check(s, NULL), 0);
	iset_free(s);
}
END_TEST

START_TEST(test_grow_shrink)
{
	struct iset	*s = mk();
	struct tkey	*keys;
	size_t		 i, n = 20000;

	keys = calloc(n, sizeof *keys);
	ck_assert_ptr_nonnull(keys);
	mkkeys(keys, n);
	for (i = 0; i < n; i++) {
		EXPECT(add(s, keys[i].iss, keys[i].jti, i + 1) == 0);
		keys[i].seq = i + 1;
	}
	ck_assert_uint_eq(iset_count(s), n);
	/* Below a load of 1/2. */
	ck_assert_uint_eq(iset_capacity(s), 65536);
	(void)check_all(s, keys, n);

	/* Deleting most of it halves the table as it goes. */
	for (i = 0; i < n - 100; i++) {
		EXPECT(del(s, keys[i].iss, keys[i].jti) == 1);
		keys[i].seq = 0;
		if (i % 997 == 0)
			(void)check_all(s, keys, n);
	}
	(void)check_all(s, keys, n);
	ck_assert_uint_le(iset_capacity(s), 1024);

	/* drop_upto shrinks too, down to the smallest table. */
	for (i = 0; i < n; i++) {
		EXPECT(add(s, keys[i].iss, keys[i].jti, n + i + 1) == 0);
		keys[i].seq = n + i + 1;
	}
	ck_assert_uint_eq(iset_capacity(s), 65536);
	iset_drop_upto(s, 2 * n - 10);
	model_drop(keys, n, 2 * n - 10);
	ck_assert_uint_eq(iset_count(s), 10);
	ck_assert_uint_eq(iset_capacity(s), MIN_CAP);
	(void)check_all(s, keys, n);
	iset_drop_upto(s, UINT64_MAX);
	ck_assert_uint_eq(iset_count(s), 0);
	ck_assert_int_eq(iset_check(s, NULL), 0);
	free(keys);
	iset_free(s);
}
END_TEST

START_TEST(test_random_model)
{
	struct iset	*s = mk();
	struct tkey	*keys;
	uint64_t	 state = 42, next = 1;
	size_t		 cap, maxcap = 0, shrinks = 0, wrapped = 0;
	int		 op;

	keys = calloc(MODEL_KEYS, sizeof *keys);
	ck_assert_ptr_nonnull(keys);
	mkkeys(keys, MODEL_KEYS);
	for (op = 0; op < MODEL_OPS; op++) {
		cap = iset_capacity(s);
		random_op(s, keys, MODEL_KEYS, &state, &next);
		if (iset_capacity(s) < cap)
			shrinks++;
		if (iset_capacity(s) > maxcap)
			maxcap = iset_capacity(s);
		if (op % 1000 == 999)
			wrapped += check_all(s, keys, MODEL_KEYS);
	}
	wrapped += check_all(s, keys, MODEL_KEYS);
	/* The workload did grow and shrink the table, and wrap runs. */
	ck_assert_uint_ge(maxcap, 2048);
	ck_assert_uint_ge(shrinks, 5);
	ck_assert_uint_gt(wrapped, 0);
	free(keys);
	iset_free(s);
}
END_TEST

START_TEST(test_cluster_model)
{
	struct iset	*s = mk();
	struct tkey	*keys;
	uint64_t	 state = 7, next = 1;
	size_t		 n, phase, maxwrap = 0, wrapped, maxcap = 0;
	int		 op;

	keys = calloc(CLUSTER_KEYS, sizeof *keys);
	ck_assert_ptr_nonnull(keys);
	mkcluster(s, keys, CLUSTER_KEYS);
	/* First few enough keys for the smallest table, whose runs all wrap;
	 * then all of them, up to 1024 slots with one run of hundreds. */
	for (phase = 0; phase < 2; phase++) {
		n = phase == 0 ? 32 : CLUSTER_KEYS;
		for (op = 0; op < 40000; op++) {
			random_op(s, keys, n, &state, &next);
			if (iset_capacity(s) > maxcap)
				maxcap = iset_capacity(s);
			if (op % (n <= 32 ? 1 : 20) == 0) {
				wrapped = check_all(s, keys, n);
				if (wrapped > maxwrap)
					maxwrap = wrapped;
			}
		}
		(void)check_all(s, keys, n);
	}
	ck_assert_uint_le(maxcap, (size_t)1 << CLUSTER_BITS);
	ck_assert_uint_ge(maxcap, 512);
	ck_assert_uint_ge(maxwrap, 20);
	free(keys);
	iset_free(s);
}
END_TEST

START_TEST(test_drop_upto_wrap)
{
	struct iset	*s = mk();
	struct tkey	 keys[32];
	uint64_t	 state = 99, perm[32], t, upto;
	size_t		 i, j, wrapped, round;

	mkcluster(s, keys, 32);
	for (round = 0; round < 500; round++) {
		/* The 32 keys with seqs 1..32 in a random order, all homed in
		 * the last 4 of 64 slots: a run of 32 across the wrap. */
		for (i = 0; i < 32; i++)
			perm[i] = i + 1;
		for (i = 31; i > 0; i--) {
			j = rnd(&state) % (i + 1);
			t = perm[i];
			perm[i] = perm[j];
			perm[j] = t;
		}
		for (i = 0; i < 32; i++) {
			EXPECT(add(s, keys[i].iss, keys[i].jti, perm[i]) == 0);
			keys[i].seq = perm[i];
		}
		EXPECT(iset_capacity(s) == MIN_CAP);
		wrapped = check_all(s, keys, 32);
		EXPECT(wrapped >= 20);

		/* Raise the bar a random step at a time. */
		for (upto = 0; upto < 32;) {
			upto += 1 + rnd(&state) % 5;
			iset_drop_upto(s, upto);
			model_drop(keys, 32, upto);
			(void)check_all(s, keys, 32);
			for (i = 0; i < 32; i++)
				EXPECT(get(s, keys[i].iss, keys[i].jti) ==
				    (perm[i] > upto ? perm[i] : 0));
			EXPECT(iset_count(s) == (upto >= 32 ? 0 : 32 - upto));
		}
	}
	iset_free(s);
}
END_TEST

/* Build the suite. */
static Suite *
iset_suite(void)
{
	Suite	*s = suite_create("iset");
	TCase	*tc;

	tc = tcase_create("basics");
	tcase_add_test(tc, test_basics);
	tcase_add_test(tc, test_iss_boundaries);
	tcase_add_test(tc, test_max_length);
	tcase_add_test(tc, test_grow_shrink);
	suite_add_tcase(s, tc);

	tc = tcase_create("model");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_random_model);
	tcase_add_test(tc, test_cluster_model);
	tcase_add_test(tc, test_drop_upto_wrap);
	suite_add_tcase(s, tc);
	return s;
}

/* Run the suite; exit non-zero on any failure. */
int
main(void)
{
	SRunner	*sr = srunner_create(iset_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
