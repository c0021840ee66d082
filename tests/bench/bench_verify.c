/*
 * Benchmark of verify-then-check against what a service would write by
 * hand, for HS256, RS256 (2048) and ES256, all in one run:
 *  (a)  libjwt jwt_decode(token, key) + exp check + hiredis
 *       "EXISTS revoked:<jti>" on a redis-server over a Unix socket;
 *  (b1) revokd_verify_check, first call for each token (cache miss);
 *  (b2) revokd_verify_check, the same token again and again (cache hit);
 *  (c1) revokd_verify (local only), first call for each token;
 *  (c2) revokd_verify, repeated.
 * Each call is timed with clock_gettime; the table gives calls/s (over
 * the whole loop), p50 and p99 latency, and the throughput ratio to (a)
 * with the goals. Every outcome is checked: a benchmark of calls
 * that fail would measure nothing.
 *
 * usage: bench_verify redis.sock revokd.sock [calls]
 * (calls: default 20000; rows that verify a signature without the cache
 * for RS256/ES256 use calls / 10, at least 100.)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "bench.h"
#include "revokd.h"

#define CALLS_DEFAULT	20000	/* calls per row */
#define SLOW_DIV	10	/* slow rows use calls / SLOW_DIV */
#define SLOW_MIN	100	/* ... and at least this many */
#define NREVOKED	10000	/* jtis revoked in each store beforehand */
#define ISS		"https://iss.example"
#define TIMEOUT_MS	2000	/* revokd handle timeout */

/* An algorithm under test and its keys. */
struct bench_alg {
	const char	*name;		/* JWS alg */
	double		 goal;		/* (b2)/(a) the issue asks for */
	unsigned char	*sign;		/* HMAC secret or PEM private key */
	size_t		 signlen;	/* bytes in sign */
	unsigned char	*verify;	/* HMAC secret or PEM public key */
	size_t		 verifylen;	/* bytes in verify */
};

/* One measured row. */
struct row {
	size_t		 calls;		/* calls made */
	double		 per_s;		/* calls per second */
	double		 p50;		/* median latency, microseconds */
	double		 p99;		/* 99th percentile, microseconds */
};

/* The two stores and the sample buffer shared by the rows. */
struct bench {
	redisContext	*redis;		/* the baseline's store */
	revokd_t	*rv;		/* the daemon */
	double		*lat;		/* per-call latencies, ns */
	size_t		 calls;		/* calls in a fast row */
	size_t		 slow;		/* calls in a slow row */
};

/* Print a message and exit 1. */
static void
die(const char *msg, const char *detail)
{
	fprintf(stderr, "bench_verify: %s%s%s\n", msg,
	    detail != NULL ? ": " : "", detail != NULL ? detail : "");
	exit(1);
}

/* Return malloc(n) or exit. */
static void *
xmalloc(size_t n)
{
	void	*p;

	if ((p = malloc(n)) == NULL)
		die("out of memory", NULL);
	return p;
}

/* Return a heap copy of a memory BIO's contents; set *len. */
static unsigned char *
bio_copy(BIO *bio, size_t *len)
{
	unsigned char	*s;
	char		*data;
	long		 n;

	if ((n = BIO_get_mem_data(bio, &data)) <= 0)
		die("PEM encoding failed", NULL);
	s = xmalloc((size_t)n + 1);
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	*len = (size_t)n;
	return s;
}

/* Generate the keys of a: a random secret, or a key pair (OpenSSL 3). */
static void
key_gen(struct bench_alg *a)
{
	EVP_PKEY	*pk;
	BIO		*bio;

	if (a->name[0] == 'H') {
		a->signlen = a->verifylen = 32;
		a->sign = xmalloc(a->signlen);
		if (RAND_bytes(a->sign, (int)a->signlen) != 1)
			die("RAND_bytes failed", NULL);
		a->verify = xmalloc(a->verifylen);
		memcpy(a->verify, a->sign, a->signlen);
		return;
	}
	if (a->name[0] == 'R')
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	else
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (pk == NULL)
		die("key generation failed", a->name);
	bio = BIO_new(BIO_s_mem());
	PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL);
	a->sign = bio_copy(bio, &a->signlen);
	BIO_free(bio);
	bio = BIO_new(BIO_s_mem());
	PEM_write_bio_PUBKEY(bio, pk);
	a->verify = bio_copy(bio, &a->verifylen);
	BIO_free(bio);
	EVP_PKEY_free(pk);
}

/* Mint a token of a with libjwt, jti "<alg>-<tag>-<n>", valid an hour. */
static char *
mint(const struct bench_alg *a, const char *tag, size_t n)
{
	jwt_t		*jwt;
	char		 jti[64], *tok;
	long long	 now = (long long)time(NULL);

	snprintf(jti, sizeof jti, "%s-%s-%zu", a->name, tag, n);
	if (jwt_new(&jwt) != 0 ||
	    jwt_add_grant(jwt, "jti", jti) != 0 ||
	    jwt_add_grant(jwt, "iss", ISS) != 0 ||
	    jwt_add_grant(jwt, "sub", "user-42") != 0 ||
	    jwt_add_grant_int(jwt, "iat", now) != 0 ||
	    jwt_add_grant_int(jwt, "exp", now + 3600) != 0 ||
	    jwt_set_alg(jwt, jwt_str_alg(a->name), a->sign,
	    (int)a->signlen) != 0 ||
	    (tok = jwt_encode_str(jwt)) == NULL)
		die("minting failed", a->name);
	jwt_free(jwt);
	return tok;
}

/* Mint n distinct tokens of a. */
static char **
mint_pool(const struct bench_alg *a, const char *tag, size_t n)
{
	char	**pool = xmalloc(n * sizeof *pool);
	size_t	  i;

	for (i = 0; i < n; i++)
		pool[i] = mint(a, tag, i);
	return pool;
}

/* Free a pool of n tokens. */
static void
pool_free(char **pool, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(pool[i]);
	free(pool);
}

/* Turn n latencies and the loop's wall time into a row. */
static struct row
row_of(double *lat, size_t n, double wall_ns)
{
	struct row	r;

	qsort(lat, n, sizeof *lat, cmp_double);
	r.calls = n;
	r.per_s = (double)n / (wall_ns / 1e9);
	r.p50 = lat[n / 2] / 1e3;
	r.p99 = lat[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] / 1e3;
	return r;
}

/* The baseline: libjwt decode, exp check, redis EXISTS; 1 if valid. */
static int
baseline_call(redisContext *redis, const struct bench_alg *a,
    const char *tok)
{
	jwt_t		*jwt;
	redisReply	*rep;
	const char	*jti, *argv[2];
	size_t		 argl[2];
	char		 key[128];
	long long	 exp;
	int		 ok = 0;

	if (jwt_decode(&jwt, tok, a->verify, (int)a->verifylen) != 0)
		return 0;
	exp = jwt_get_grant_int(jwt, "exp");
	if ((jti = jwt_get_grant(jwt, "jti")) == NULL ||
	    exp <= (long long)time(NULL)) {
		jwt_free(jwt);
		return 0;
	}
	argv[0] = "EXISTS";
	argl[0] = 6;
	argl[1] = (size_t)snprintf(key, sizeof key, "revoked:%s", jti);
	argv[1] = key;
	jwt_free(jwt);
	rep = redisCommandArgv(redis, 2, argv, argl);
	if (rep != NULL && rep->type == REDIS_REPLY_INTEGER &&
	    rep->integer == 0)
		ok = 1;
	if (rep != NULL)
		freeReplyObject(rep);
	else
		die("redis", redis->errstr);
	return ok;
}

/* The kinds of rows. */
enum row_kind {
	ROW_BASELINE,		/* (a) */
	ROW_CHECK,		/* (b) revokd_verify_check */
	ROW_LOCAL		/* (c) revokd_verify */
};

/* Time n calls of kind over pool (n tokens) or one token (pool NULL). */
static struct row
run_row(struct bench *b, const struct bench_alg *a, enum row_kind kind,
    char **pool, const char *one, size_t n)
{
	revokd_verifier_t	*v = NULL;
	const char		*tok;
	double			 t0, t1, start;
	size_t			 i, bad = 0;
	int			 ok;

	if (kind != ROW_BASELINE) {
		/* A fresh verifier: an empty cache of the default size. */
		if ((v = revokd_verifier_new()) == NULL)
			die("out of memory", NULL);
		if (revokd_verifier_set_key(v, a->name, a->verify,
		    a->verifylen) != 0)
			die("set_key", revokd_verifier_errstr(v));
	}
	start = now_ns();
	for (i = 0; i < n; i++) {
		tok = pool != NULL ? pool[i] : one;
		t0 = now_ns();
		switch (kind) {
		case ROW_BASELINE:
			ok = baseline_call(b->redis, a, tok);
			break;
		case ROW_CHECK:
			ok = revokd_verify_check(b->rv, v, tok,
			    strlen(tok)) == REVOKD_VALID;
			break;
		default:
			ok = revokd_verify(v, tok, strlen(tok)) ==
			    REVOKD_VALID;
			break;
		}
		t1 = now_ns();
		b->lat[i] = t1 - t0;
		bad += !ok;
	}
	t1 = now_ns();
	if (bad > 0) {
		fprintf(stderr, "bench_verify: %s: %zu of %zu calls did not "
		    "give valid%s%s\n", a->name, bad, n,
		    kind == ROW_CHECK ? ": " : "",
		    kind == ROW_CHECK ? revokd_errstr(b->rv) : "");
		exit(1);
	}
	revokd_verifier_free(v);
	return row_of(b->lat, n, t1 - start);
}

/* Revoke NREVOKED jtis in both stores so neither is empty. */
static void
populate(struct bench *b)
{
	redisReply	*rep;
	char		 jti[64];
	long long	 exp = (long long)time(NULL) + 3600;
	size_t		 i;

	for (i = 0; i < NREVOKED; i++) {
		snprintf(jti, sizeof jti, "revoked-%zu", i);
		if (redisAppendCommand(b->redis, "SET revoked:%s 1 EX 3600",
		    jti) != REDIS_OK)
			die("redis", b->redis->errstr);
		if (revokd_revoke(b->rv, ISS, jti, exp, "bench") != 0)
			die("revokd", revokd_errstr(b->rv));
	}
	for (i = 0; i < NREVOKED; i++) {
		if (redisGetReply(b->redis, (void **)&rep) != REDIS_OK)
			die("redis", b->redis->errstr);
		freeReplyObject(rep);
	}
	/* Sanity: both stores answer "revoked" for one of them. */
	if ((rep = redisCommand(b->redis, "EXISTS revoked:revoked-7")) ==
	    NULL || rep->type != REDIS_REPLY_INTEGER || rep->integer != 1)
		die("redis does not hold the revoked jtis", NULL);
	freeReplyObject(rep);
	if (revokd_check(b->rv, ISS, "revoked-7") != 1)
		die("revokd does not hold the revoked jtis", NULL);
}

/* Print one line of the table. */
static void
print_row(const char *alg, const char *label, const struct row *r,
    double base, const char *goal)
{
	printf("%-6s %-40s %6zu %9.0f %8.1f %8.1f %7.2fx  %s\n", alg, label,
	    r->calls, r->per_s, r->p50, r->p99, r->per_s / base, goal);
}

/* Measure every row for one algorithm and print its block. */
static void
bench_alg(struct bench *b, const struct bench_alg *a)
{
	struct row	 ra, rb1, rb2, rc1, rc2;
	char		**pool, goal[64];
	size_t		 slow, npool;
	int		 hmac = a->name[0] == 'H';

	slow = hmac ? b->calls : b->slow;
	npool = slow;
	pool = mint_pool(a, "first", npool);

	ra = run_row(b, a, ROW_BASELINE, pool, NULL, slow);
	rb1 = run_row(b, a, ROW_CHECK, pool, NULL, npool);
	rb2 = run_row(b, a, ROW_CHECK, NULL, pool[0], b->calls);
	rc1 = run_row(b, a, ROW_LOCAL, pool, NULL, npool);
	rc2 = run_row(b, a, ROW_LOCAL, NULL, pool[0], b->calls);

	print_row(a->name, "(a)  jwt_decode + redis EXISTS", &ra, ra.per_s,
	    "");
	print_row("", "(b1) revokd_verify_check, first call", &rb1,
	    ra.per_s, "");
	snprintf(goal, sizeof goal, "goal >= %.1fx: %s", a->goal,
	    rb2.per_s / ra.per_s >= a->goal ? "met" : "MISSED");
	print_row("", "(b2) revokd_verify_check, repeated", &rb2, ra.per_s,
	    goal);
	print_row("", "(c1) revokd_verify (local), first call", &rc1,
	    ra.per_s, "");
	print_row("", "(c2) revokd_verify (local), repeated", &rc2,
	    ra.per_s, "");
	pool_free(pool, npool);
}

/* Generate keys, fill the stores, run every row, print the table. */
int
main(int argc, char *argv[])
{
	struct bench_alg	algs[] = {
		{ "HS256", 1.2, NULL, 0, NULL, 0 },
		{ "RS256", 10.0, NULL, 0, NULL, 0 },
		{ "ES256", 10.0, NULL, 0, NULL, 0 },
	};
	struct bench		b;
	size_t			i, n = sizeof algs / sizeof algs[0];
	char			*end;
	unsigned long		calls;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: bench_verify redis.sock revokd.sock "
		    "[calls]\n");
		return 2;
	}
	memset(&b, 0, sizeof b);
	b.calls = CALLS_DEFAULT;
	if (argc == 4) {
		calls = strtoul(argv[3], &end, 10);
		if (*end != '\0' || calls < 1 || calls > 10000000)
			die("calls must be 1 to 10000000", argv[3]);
		b.calls = (size_t)calls;
	}
	b.slow = b.calls / SLOW_DIV < SLOW_MIN ? SLOW_MIN :
	    b.calls / SLOW_DIV;
	if (b.slow > b.calls)
		b.slow = b.calls;
	b.lat = xmalloc(b.calls * sizeof *b.lat);

	if ((b.redis = redisConnectUnix(argv[1])) == NULL)
		die("out of memory", NULL);
	if (b.redis->err)
		die("redis", b.redis->errstr);
	if ((b.rv = revokd_new(argv[2], TIMEOUT_MS)) == NULL)
		die("out of memory", NULL);
	if (revokd_connect(b.rv) != 0)
		die("revokd", revokd_errstr(b.rv));
	for (i = 0; i < n; i++)
		key_gen(&algs[i]);
	populate(&b);

	printf("bench_verify: %zu calls a row (%zu for rows verifying "
	    "RS256/ES256 without cache), %d jtis revoked in each store\n",
	    b.calls, b.slow, NREVOKED);
	printf("%-6s %-40s %6s %9s %8s %8s %8s  %s\n", "alg", "case",
	    "calls", "calls/s", "p50 us", "p99 us", "vs (a)", "");
	for (i = 0; i < n; i++) {
		bench_alg(&b, &algs[i]);
		fflush(stdout);
	}

	for (i = 0; i < n; i++) {
		free(algs[i].sign);
		free(algs[i].verify);
	}
	free(b.lat);
	revokd_free(b.rv);
	redisFree(b.redis);
	return 0;
}
