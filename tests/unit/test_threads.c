/*
 * Multithreaded use of one verifier and its verified-token cache: eight
 * threads verify a pool of tokens (valid, tampered, expired, unknown kid)
 * and check every outcome, with the cache at its default size, small (so
 * eviction races happen) and off; one thread reloads the key set while
 * the others verify; a kid's secret flips at each reload while threads
 * verify a token of each secret. Also built as test_threads_tsan under
 * ThreadSanitizer. Nothing depends on timing: outcomes checked do not
 * depend on interleaving (the flip test's threads accept either
 * signature outcome; the exact check is made by the reloading thread).
 *
 * Worker threads never call ck_assert (Check's failure path is not
 * thread-safe with CK_FORK=no): they count mismatches, and the test
 * asserts the counts after joining.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "revokd.h"

#define NTHREADS	8	/* verifying threads */
#define NCALLS		3000	/* revokd_verify calls per thread */
#define NRELOADS	200	/* reloads done while others verify */
#define NVALID		100	/* valid tokens per algorithm (> cache) */
#define NTAMPERED	20	/* tampered tokens per algorithm */
#define NEXPIRED	20	/* expired tokens per algorithm */
#define NUNKNOWN	10	/* tokens with an unknown kid */
#define SMALL_CACHE	64	/* entries in the small cache */
#define NFLIPPERS	4	/* threads verifying during secret flips */
#define NFLIPS		200	/* secret flips, each with a reload */
#define POOL_MAX	(2 * (NVALID + NTAMPERED + NEXPIRED) + NUNKNOWN)

/* An HMAC secret long enough for HS256. */
#define SECRET	"thr3adTestSecret0123456789abcdefghijklmnop"
/* Another one, for rotation. */
#define SECRET2	"an0therThreadSecret0123456789abcdefghijklm"
#define ISS	"https://iss.example"

/* The P-256 key pair, generated at start. */
static char	*ec_pub;	/* PEM public key */
static char	*ec_priv;	/* PEM private key */

/* One token of the pool and what verifying it must give. */
struct pool_token {
	char				*tok;	/* the token */
	size_t				 len;	/* its length */
	const revokd_verifier_t		*v;	/* verifier to use */
	revokd_outcome_t		 want;	/* expected outcome */
};

/* The tokens every thread draws from. */
struct pool {
	struct pool_token	t[POOL_MAX];	/* tokens */
	size_t			n;		/* tokens in t */
};

/* What a worker is given and what it reports. */
struct worker {
	pthread_t		 th;		/* the thread */
	const struct pool	*pool;		/* shared tokens */
	uint64_t		 seed;		/* its PRNG state */
	long			 bad;		/* calls with wrong outcomes */
	size_t			 bad_idx;	/* pool index of the first */
	revokd_outcome_t	 bad_got;	/* its outcome */
};

/* What the reloading thread is given and what it reports. */
struct reloader {
	pthread_t		 th;		/* the thread */
	revokd_verifier_t	*v;		/* verifier to reload */
	long			 failed;	/* reloads that returned -1 */
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

/* Return a heap copy of the contents of a memory BIO, or exit. */
static char *
bio_str(BIO *bio)
{
	char	*data, *s;
	long	 n;

	n = BIO_get_mem_data(bio, &data);
	if (n < 0 || (s = malloc((size_t)n + 1)) == NULL) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	return s;
}

/* Generate the P-256 key pair with OpenSSL 3; keep its PEM forms. */
static void
key_gen(void)
{
	EVP_PKEY	*pkey;
	BIO		*bio;

	if ((pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL) {
		fprintf(stderr, "key generation failed\n");
		exit(1);
	}
	bio = BIO_new(BIO_s_mem());
	PEM_write_bio_PUBKEY(bio, pkey);
	ec_pub = bio_str(bio);
	BIO_free(bio);
	bio = BIO_new(BIO_s_mem());
	PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL);
	ec_priv = bio_str(bio);
	BIO_free(bio);
	EVP_PKEY_free(pkey);
}

/* Mint a token with libjwt: alg HS256 (SECRET) or ES256, optional kid. */
static char *
mint(const char *alg, const char *secret, const char *kid, int n,
    long long exp)
{
	jwt_t		*jwt;
	const char	*key;
	char		 jti[32], *tok;

	key = alg[0] == 'H' ? secret : ec_priv;
	snprintf(jti, sizeof jti, "%s-%d", alg, n);
	ck_assert_int_eq(jwt_new(&jwt), 0);
	ck_assert_int_eq(jwt_add_grant(jwt, "jti", jti), 0);
	ck_assert_int_eq(jwt_add_grant(jwt, "iss", ISS), 0);
	ck_assert_int_eq(jwt_add_grant(jwt, "sub", "user"), 0);
	ck_assert_int_eq(jwt_add_grant_int(jwt, "iat", exp - 7200), 0);
	ck_assert_int_eq(jwt_add_grant_int(jwt, "exp", exp), 0);
	if (kid != NULL)
		ck_assert_int_eq(jwt_add_header(jwt, "kid", kid), 0);
	ck_assert_int_eq(jwt_set_alg(jwt, jwt_str_alg(alg),
	    (const unsigned char *)key, (int)strlen(key)), 0);
	tok = jwt_encode_str(jwt);
	ck_assert_ptr_nonnull(tok);
	jwt_free(jwt);
	return tok;
}

/* Change one character in the middle of the signature segment. */
static void
tamper(char *tok)
{
	char	*sig = strrchr(tok, '.');
	size_t	 mid;

	ck_assert_ptr_nonnull(sig);
	sig++;
	mid = strlen(sig) / 2;
	sig[mid] = sig[mid] == 'A' ? 'B' : 'A';
}

/* Add a token to the pool. */
static void
pool_add(struct pool *p, char *tok, const revokd_verifier_t *v,
    revokd_outcome_t want)
{
	ck_assert_uint_lt(p->n, POOL_MAX);
	p->t[p->n].tok = tok;
	p->t[p->n].len = strlen(tok);
	p->t[p->n].v = v;
	p->t[p->n].want = want;
	p->n++;
}

/* Fill the pool with valid, tampered and expired tokens of alg. */
static void
pool_fill(struct pool *p, const char *alg, const char *kid,
    const revokd_verifier_t *v)
{
	long long	now = (long long)time(NULL);
	char		*tok;
	int		 i;

	for (i = 0; i < NVALID; i++)
		pool_add(p, mint(alg, SECRET, kid, i, now + 3600), v,
		    REVOKD_VALID);
	for (i = 0; i < NTAMPERED; i++) {
		tok = mint(alg, SECRET, kid, NVALID + i, now + 3600);
		tamper(tok);
		pool_add(p, tok, v, REVOKD_BAD_SIGNATURE);
	}
	for (i = 0; i < NEXPIRED; i++)
		pool_add(p, mint(alg, SECRET, kid, 2 * NVALID + i,
		    now - 3600), v, REVOKD_EXPIRED);
}

/* Free the pool's tokens. */
static void
pool_free(struct pool *p)
{
	size_t	i;

	for (i = 0; i < p->n; i++)
		free(p->t[i].tok);
	p->n = 0;
}

/* Verify NCALLS random tokens of the pool; count wrong outcomes. */
static void *
worker_run(void *arg)
{
	struct worker		*w = arg;
	const struct pool_token	*t;
	revokd_outcome_t	 got;
	size_t			 idx;
	int			 i;

	for (i = 0; i < NCALLS; i++) {
		idx = (size_t)(rnd(&w->seed) % w->pool->n);
		t = &w->pool->t[idx];
		got = revokd_verify(t->v, t->tok, t->len);
		if (got != t->want && w->bad++ == 0) {
			w->bad_idx = idx;
			w->bad_got = got;
		}
	}
	return NULL;
}

/* Reload the key set NRELOADS times; count failures. */
static void *
reloader_run(void *arg)
{
	struct reloader	*r = arg;
	int		 i;

	for (i = 0; i < NRELOADS; i++)
		if (revokd_verifier_reload(r->v) != 0)
			r->failed++;
	return NULL;
}

/* Start the workers on pool (and r if not NULL), join, assert. */
static void
run_workers(const struct pool *p, struct reloader *r)
{
	struct worker	w[NTHREADS];
	int		i;

	memset(w, 0, sizeof w);
	for (i = 0; i < NTHREADS; i++) {
		w[i].pool = p;
		w[i].seed = (uint64_t)i * 1000003u + 1;
		ck_assert_int_eq(pthread_create(&w[i].th, NULL, worker_run,
		    &w[i]), 0);
	}
	if (r != NULL)
		ck_assert_int_eq(pthread_create(&r->th, NULL, reloader_run, r),
		    0);
	for (i = 0; i < NTHREADS; i++)
		ck_assert_int_eq(pthread_join(w[i].th, NULL), 0);
	if (r != NULL) {
		ck_assert_int_eq(pthread_join(r->th, NULL), 0);
		ck_assert_msg(r->failed == 0, "%ld reloads failed: %s",
		    r->failed, revokd_verifier_errstr(r->v));
	}
	for (i = 0; i < NTHREADS; i++)
		ck_assert_msg(w[i].bad == 0,
		    "thread %d: %ld wrong outcomes, first: token %zu gave "
		    "%s, want %s", i, w[i].bad, w[i].bad_idx,
		    revokd_outcome_str(w[i].bad_got),
		    revokd_outcome_str(p->t[w[i].bad_idx].want));
}

/* Apply loop index i's cache setting: 0 default, 1 small, 2 off. */
static void
set_cache(revokd_verifier_t *v, int i)
{
	if (i == 1)
		ck_assert_int_eq(revokd_verifier_set_cache(v, SMALL_CACHE), 0);
	else if (i == 2)
		ck_assert_int_eq(revokd_verifier_set_cache(v, 0), 0);
}

/* Eight threads share an HS256 and an ES256 verifier. */
START_TEST(test_shared_verifier)
{
	static struct pool	 p;
	revokd_verifier_t	*hs, *es;

	ck_assert_ptr_nonnull(hs = revokd_verifier_new());
	ck_assert_ptr_nonnull(es = revokd_verifier_new());
	ck_assert_int_eq(revokd_verifier_set_key(hs, "HS256",
	    (const unsigned char *)SECRET, strlen(SECRET)), 0);
	ck_assert_int_eq(revokd_verifier_set_key(es, "ES256",
	    (const unsigned char *)ec_pub, strlen(ec_pub)), 0);
	set_cache(hs, _i);
	set_cache(es, _i);
	pool_fill(&p, "HS256", NULL, hs);
	pool_fill(&p, "ES256", NULL, es);
	run_workers(&p, NULL);
	/* Again, now that the caches are warm. */
	run_workers(&p, NULL);
	pool_free(&p);
	revokd_verifier_free(hs);
	revokd_verifier_free(es);
}
END_TEST

/* Write the string data to dir/name. */
static void
write_file(const char *dir, const char *name, const char *data)
{
	char	 path[512];
	FILE	*f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	ck_assert_uint_eq(fwrite(data, 1, strlen(data), f), strlen(data));
	ck_assert_int_eq(fclose(f), 0);
}

/* Remove dir/name. */
static void
remove_file(const char *dir, const char *name)
{
	char	path[512];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	ck_assert_int_eq(unlink(path), 0);
}

/* Create a temp key dir with k1.HS256 (SECRET) and k2.ES256.pem. */
static void
key_dir(char *dir, size_t size)
{
	snprintf(dir, size, "/tmp/revokd-threads-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	write_file(dir, "k1.HS256", SECRET);
	write_file(dir, "k2.ES256.pem", ec_pub);
}

/* Remove the key dir and whatever key files it still holds. */
static void
key_dir_remove(const char *dir)
{
	static const char *const names[] = {
		"k1.HS256", "k2.ES256.pem", "k3.HS256"
	};
	char	path[512];
	size_t	i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		if (unlink(path) == -1)
			ck_assert_int_eq(errno, ENOENT);
	}
	ck_assert_int_eq(rmdir(dir), 0);
}

/* Seven threads verify while another reloads the key set. */
START_TEST(test_reload_while_verifying)
{
	static struct pool	 p;
	struct reloader		 r;
	revokd_verifier_t	*v;
	char			 dir[64];
	long long		 now = (long long)time(NULL);
	int			 i;

	key_dir(dir, sizeof dir);
	ck_assert_ptr_nonnull(v = revokd_verifier_new());
	set_cache(v, _i);
	ck_assert_msg(revokd_verifier_load_key_dir(v, dir) == 0, "%s",
	    revokd_verifier_errstr(v));
	pool_fill(&p, "HS256", "k1", v);
	pool_fill(&p, "ES256", "k2", v);
	for (i = 0; i < NUNKNOWN; i++)
		pool_add(&p, mint("HS256", SECRET, "k9", 300 + i, now + 3600),
		    v, REVOKD_UNKNOWN_KEY);
	memset(&r, 0, sizeof r);
	r.v = v;
	run_workers(&p, &r);
	pool_free(&p);
	revokd_verifier_free(v);
	key_dir_remove(dir);
}
END_TEST

/* What a thread verifying across secret flips is given and reports. */
struct flipper {
	pthread_t		 th;		/* the thread */
	revokd_verifier_t	*v;		/* verifier being reloaded */
	char *const		*tok;		/* tA and tB */
	const atomic_int	*stop;		/* set when the flips are done */
	long			 bad;		/* neither VALID nor BAD_SIG */
	revokd_outcome_t	 bad_got;	/* the first such outcome */
};

/* Verify tA and tB until stopped; count outcomes other than VALID and
 * BAD_SIGNATURE (which of the two depends on the interleaving). */
static void *
flipper_run(void *arg)
{
	struct flipper		*f = arg;
	revokd_outcome_t	 got;
	int			 i;

	/* do-while: at least one round, however the threads are scheduled */
	do {
		for (i = 0; i < 2; i++) {
			got = revokd_verify(f->v, f->tok[i],
			    strlen(f->tok[i]));
			if (got != REVOKD_VALID &&
			    got != REVOKD_BAD_SIGNATURE && f->bad++ == 0)
				f->bad_got = got;
		}
	} while (!atomic_load(f->stop));
	return NULL;
}

/* Kid k1 flips between two secrets while threads verify a token of
 * each: after every reload returns, exactly the token of the current
 * secret is valid, so no stale key or cache entry outlives a reload. */
START_TEST(test_reload_flip_secret)
{
	struct flipper		 f[NFLIPPERS];
	revokd_verifier_t	*v;
	revokd_outcome_t	 got[2], first_got[2];
	atomic_int		 stop;
	char			 dir[64], *tok[2];
	long long		 now = (long long)time(NULL);
	long			 failed = 0, wrong = 0;
	int			 i, cur, first_flip = -1;

	key_dir(dir, sizeof dir);
	ck_assert_ptr_nonnull(v = revokd_verifier_new());
	set_cache(v, _i);
	ck_assert_msg(revokd_verifier_load_key_dir(v, dir) == 0, "%s",
	    revokd_verifier_errstr(v));
	tok[0] = mint("HS256", SECRET, "k1", 1, now + 3600);	/* tA */
	tok[1] = mint("HS256", SECRET2, "k1", 2, now + 3600);	/* tB */

	atomic_init(&stop, 0);
	memset(f, 0, sizeof f);
	for (i = 0; i < NFLIPPERS; i++) {
		f[i].v = v;
		f[i].tok = tok;
		f[i].stop = &stop;
		ck_assert_int_eq(pthread_create(&f[i].th, NULL, flipper_run,
		    &f[i]), 0);
	}
	/* No ck_assert until the threads are joined: a failure here would
	 * leave them running on this frame. */
	for (i = 0; i < NFLIPS; i++) {
		cur = (i + 1) % 2;	/* 0: SECRET (tA), 1: SECRET2 (tB) */
		write_file(dir, "k1.HS256", cur == 0 ? SECRET : SECRET2);
		if (revokd_verifier_reload(v) != 0) {
			failed++;
			continue;
		}
		got[0] = revokd_verify(v, tok[0], strlen(tok[0]));
		got[1] = revokd_verify(v, tok[1], strlen(tok[1]));
		if (got[cur] != REVOKD_VALID ||
		    got[1 - cur] != REVOKD_BAD_SIGNATURE) {
			if (wrong++ == 0) {
				first_flip = i;
				first_got[0] = got[0];
				first_got[1] = got[1];
			}
		}
	}
	atomic_store(&stop, 1);
	for (i = 0; i < NFLIPPERS; i++)
		ck_assert_int_eq(pthread_join(f[i].th, NULL), 0);

	ck_assert_msg(failed == 0, "%ld reloads failed: %s", failed,
	    revokd_verifier_errstr(v));
	ck_assert_msg(wrong == 0, "%ld flips with wrong outcomes, first: "
	    "flip %d gave tA %s, tB %s", wrong, first_flip,
	    revokd_outcome_str(first_got[0]),
	    revokd_outcome_str(first_got[1]));
	for (i = 0; i < NFLIPPERS; i++) {
		ck_assert_msg(f[i].bad == 0, "thread %d: %ld outcomes not "
		    "VALID/BAD_SIGNATURE, first %s", i, f[i].bad,
		    revokd_outcome_str(f[i].bad_got));
	}
	free(tok[0]);
	free(tok[1]);
	revokd_verifier_free(v);
	key_dir_remove(dir);
}
END_TEST

/* A reload empties the cache: a cached token sees the new key set. */
START_TEST(test_reload_clears_cache)
{
	revokd_verifier_t	*v;
	char			 dir[64], *tok;
	size_t			 len;
	long long		 now = (long long)time(NULL);

	key_dir(dir, sizeof dir);
	ck_assert_ptr_nonnull(v = revokd_verifier_new());
	ck_assert_msg(revokd_verifier_load_key_dir(v, dir) == 0, "%s",
	    revokd_verifier_errstr(v));
	tok = mint("HS256", SECRET, "k1", 1, now + 3600);
	len = strlen(tok);
	ck_assert_int_eq(revokd_verify(v, tok, len), REVOKD_VALID);
	ck_assert_int_eq(revokd_verify(v, tok, len), REVOKD_VALID);

	/* Same kid, another secret: the cached answer must not survive. */
	write_file(dir, "k1.HS256", SECRET2);
	ck_assert_int_eq(revokd_verifier_reload(v), 0);
	ck_assert_int_eq(revokd_verify(v, tok, len), REVOKD_BAD_SIGNATURE);

	/* Back to the first secret, verified (and cached) again. */
	write_file(dir, "k1.HS256", SECRET);
	ck_assert_int_eq(revokd_verifier_reload(v), 0);
	ck_assert_int_eq(revokd_verify(v, tok, len), REVOKD_VALID);
	ck_assert_int_eq(revokd_verify(v, tok, len), REVOKD_VALID);

	/* The kid removed (rotation): its tokens are refused. */
	remove_file(dir, "k1.HS256");
	write_file(dir, "k3.HS256", SECRET2);
	ck_assert_int_eq(revokd_verifier_reload(v), 0);
	ck_assert_int_eq(revokd_verify(v, tok, len), REVOKD_UNKNOWN_KEY);

	free(tok);
	revokd_verifier_free(v);
	key_dir_remove(dir);
}
END_TEST

/* Build the suite. */
static Suite *
threads_suite(void)
{
	Suite	*s = suite_create("threads");
	TCase	*tc;

	tc = tcase_create("threads");
	/* Loop index: 0 default cache, 1 small cache, 2 no cache. */
	tcase_add_loop_test(tc, test_shared_verifier, 0, 3);
	tcase_add_loop_test(tc, test_reload_while_verifying, 0, 3);
	tcase_add_loop_test(tc, test_reload_flip_secret, 0, 3);
	tcase_add_test(tc, test_reload_clears_cache);
	tcase_set_timeout(tc, 300);
	suite_add_tcase(s, tc);
	return s;
}

/* Generate the key, run the suite, exit non-zero on any failure. */
int
main(void)
{
	SRunner	*sr;
	int	 failed;

	key_gen();
	sr = srunner_create(threads_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	free(ec_pub);
	free(ec_priv);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
