/*
 * JWT verification with a pinned algorithm and key.
 *
 * Signatures are checked with OpenSSL directly rather than with libjwt
 * (which the tests still use to mint tokens):
 *  - libjwt 1.10.2 jwt_verify_head() refuses any typ other than "JWT"
 *    (strcasecmp), so RFC 9068 access tokens ("at+jwt") could not pass;
 *  - with a NULL or empty key libjwt accepts unverified tokens, and it
 *    takes the algorithm from the token header: pinning must happen
 *    outside it anyway;
 *  - it decodes segments with alloca and needs a NUL-terminated copy;
 *  - it re-parses the PEM key on every call, where we parse it once in
 *    revokd_verifier_set_key() and keep the EVP_PKEY;
 *  - ES* needs the JOSE r||s signature length checked exactly, which is
 *    simpler to get right here than to audit in libjwt.
 * The parsing is token_peek() (token.c); this file checks the signature
 * over the exact "header.payload" bytes, then the claims.
 *
 * Keys live in an immutable, refcounted key set (keyset.c) selected by
 * the token's kid; a verified token's claims may be cached (cache.c),
 * keyed by the SHA-256 of its exact bytes.
 *
 * A configured verifier is never written by verification: every function
 * taking a const revokd_verifier_t only reads it, except struct
 * verify_live (a locked pointer to the current key set, and counters) and
 * the cache, which locks itself. OpenSSL allows a shared EVP_PKEY and
 * EVP_MD to be used concurrently.
 */
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "cache.h"
#include "keyset.h"
#include "revokd.h"
#include "token.h"
#include "verify.h"

#define VERIFY_LEEWAY_DEFAULT	30	/* seconds of clock skew by default */
#define VERIFY_LEEWAY_MAX	300	/* most clock skew one may allow */
#define VERIFY_MAX_TTL_DEFAULT	2592000	/* exp at most 30 days ahead: revokd's
					 * own --max-ttl default */
#define VERIFY_EXP_MAX		4294967295LL	/* revokd keeps 32-bit exps */
#define VERIFY_JTI_MAX		256	/* bytes in a jti */
#define VERIFY_CLAIM_MAX	1024	/* bytes in a required iss or aud */
#define VERIFY_LEN_MAX		65536	/* most one may set as max length */
#define VERIFY_CACHE_DEFAULT	4096	/* verified tokens cached by default */
#define VERIFY_CACHE_MAX	(1 << 20)	/* most cache entries allowed */
#define VERIFY_TYPS_MAX		16	/* entries in the accepted typ set */
#define VERIFY_TYP_MAX		64	/* bytes in one accepted typ */
#define VERIFY_TYPS_DEFAULT	"JWT,at+jwt"	/* accepted typ by default */

/*
 * The part of a verifier that verification changes or that reload swaps:
 * reached through a pointer so that a const verifier can still lock it.
 *
 * Readers take the lock only to take a reference to the current key set
 * (and note the generation), never while verifying. A writer builds the
 * new set first, then swaps it in under the lock, bumps gen and empties
 * the cache. A verification that started before the swap only caches its
 * result if gen has not moved (checked under the lock), so no token
 * verified with a removed key can be cached after the reload returns.
 */
struct verify_live {
	pthread_mutex_t	 lock;		/* guards keys and gen */
	pthread_mutex_t	 wlock;		/* serializes key set writers */
	struct keyset	*keys;		/* the key set in use (never NULL) */
	unsigned long	 gen;		/* bumped at each key/policy change */
	atomic_ulong	 hits;		/* verifications answered by cache */
	atomic_ulong	 misses;	/* full verifications */
};

/* A verifier: key set, claim requirements, policy and cache. */
struct revokd_verifier {
	struct verify_live	*live;		/* shared mutable state */
	struct keyset		*manual;	/* keys from set_key/add_key */
	struct keyset		*dirkeys;	/* keys of keydir or NULL */
	struct keyset		*jwkskeys;	/* keys of jwks or NULL */
	char			*keydir;	/* key directory for reload */
	char			*jwks;		/* JWK Set file for reload */
	struct vcache		*cache;		/* verified tokens or NULL */
	EVP_MD			*sha256;	/* digest keying the cache */
	unsigned		 leeway;	/* seconds of skew on times */
	char			*iss;		/* required iss or NULL */
	char			*aud;		/* required audience or NULL */
	size_t			 maxlen;	/* most bytes in a token */
	long long		 max_lifetime;	/* most exp - iat, 0: any */
	long long		 max_ttl;	/* most exp - now */
	char			*typs[VERIFY_TYPS_MAX];	/* accepted typ */
	size_t			 ntyps;		/* entries in typs */
	int			 fail_open;	/* VALID_UNCHECKED if no answer */
	char			 errstr[256];	/* last set_* failure */
};

/* Record a failure message on the verifier. */
static int verifier_fail(revokd_verifier_t *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

/* Record a failure message on the verifier and return -1. */
static int
verifier_fail(revokd_verifier_t *v, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(v->errstr, sizeof v->errstr, fmt, ap);
	va_end(ap);
	return -1;
}

/* Forget cached verifications: the keys or the policy changed. */
static void
verifier_forget(revokd_verifier_t *v)
{
	pthread_mutex_lock(&v->live->lock);
	v->live->gen++;
	pthread_mutex_unlock(&v->live->lock);
	if (v->cache != NULL)
		vcache_clear(v->cache);
}

/* Replace *slot with ks, taking a reference (ks may be NULL). */
static void
set_ref(struct keyset **slot, struct keyset *ks)
{
	if (ks != NULL)
		keyset_ref(ks);
	keyset_unref(*slot);
	*slot = ks;
}

/*
 * Merge the manual, directory and JWKS keys into a new set and swap it in.
 * On success v's sources become man, dk and jk; on failure (a kid both in
 * the directory and the JWKS, or OOM) nothing changes. Manual keys win
 * over file keys of the same kid. Caller holds live->wlock.
 */
static int
verifier_publish(revokd_verifier_t *v, struct keyset *man,
    struct keyset *dk, struct keyset *jk)
{
	struct keyset	*files, *all, *old;
	const char	*dup;

	if ((files = keyset_merge(dk, jk, &dup)) == NULL) {
		if (dup != NULL)
			return verifier_fail(v, "kid %.64s is both in the key "
			    "directory and the JWK Set", dup);
		return verifier_fail(v, "out of memory");
	}
	all = keyset_merge(man, files, NULL);
	keyset_unref(files);
	if (all == NULL)
		return verifier_fail(v, "out of memory");
	set_ref(&v->manual, man);
	set_ref(&v->dirkeys, dk);
	set_ref(&v->jwkskeys, jk);
	pthread_mutex_lock(&v->live->lock);
	old = v->live->keys;
	v->live->keys = all;
	v->live->gen++;
	pthread_mutex_unlock(&v->live->lock);
	if (v->cache != NULL)
		vcache_clear(v->cache);
	/* Readers still verifying with old hold their own reference. */
	keyset_unref(old);
	return 0;
}

/* Return the stable string of an outcome. */
const char *
revokd_outcome_str(revokd_outcome_t o)
{
	switch (o) {
	case REVOKD_VALID:
		return "valid";
	case REVOKD_REVOKED:
		return "revoked";
	case REVOKD_BAD_SIGNATURE:
		return "bad_signature";
	case REVOKD_WRONG_ALGORITHM:
		return "wrong_algorithm";
	case REVOKD_EXPIRED:
		return "expired";
	case REVOKD_NOT_YET_VALID:
		return "not_yet_valid";
	case REVOKD_MALFORMED:
		return "malformed";
	case REVOKD_MISSING_JTI:
		return "missing_jti";
	case REVOKD_WRONG_ISSUER:
		return "wrong_issuer";
	case REVOKD_WRONG_AUDIENCE:
		return "wrong_audience";
	case REVOKD_UNAVAILABLE:
		return "daemon_unavailable";
	case REVOKD_PROTOCOL_ERROR:
		return "protocol_error";
	case REVOKD_UNKNOWN_KEY:
		return "unknown_key";
	case REVOKD_VALID_UNCHECKED:
		return "valid_unchecked";
	}
	return "unknown";
}

/* Free the accepted typ set. */
static void
typs_free(revokd_verifier_t *v)
{
	size_t	i;

	for (i = 0; i < v->ntyps; i++)
		free(v->typs[i]);
	v->ntyps = 0;
}

/* Create a verifier with no key, the default policy and cache. */
revokd_verifier_t *
revokd_verifier_new(void)
{
	revokd_verifier_t	*v;

	if ((v = calloc(1, sizeof *v)) == NULL)
		return NULL;
	if ((v->live = calloc(1, sizeof *v->live)) == NULL) {
		free(v);
		return NULL;
	}
	pthread_mutex_init(&v->live->lock, NULL);
	pthread_mutex_init(&v->live->wlock, NULL);
	atomic_init(&v->live->hits, 0);
	atomic_init(&v->live->misses, 0);
	v->leeway = VERIFY_LEEWAY_DEFAULT;
	v->max_ttl = VERIFY_MAX_TTL_DEFAULT;
	v->maxlen = TOKEN_MAX_LEN_DEFAULT;
	if ((v->live->keys = keyset_new()) == NULL ||
	    (v->sha256 = EVP_MD_fetch(NULL, "SHA2-256", NULL)) == NULL ||
	    (v->cache = vcache_new(VERIFY_CACHE_DEFAULT)) == NULL ||
	    revokd_verifier_set_typs(v, NULL) != 0) {
		revokd_verifier_free(v);
		return NULL;
	}
	return v;
}

/* Free a verifier and wipe its secrets. */
void
revokd_verifier_free(revokd_verifier_t *v)
{
	if (v == NULL)
		return;
	keyset_unref(v->live->keys);
	pthread_mutex_destroy(&v->live->lock);
	pthread_mutex_destroy(&v->live->wlock);
	free(v->live);
	keyset_unref(v->manual);
	keyset_unref(v->dirkeys);
	keyset_unref(v->jwkskeys);
	free(v->keydir);
	free(v->jwks);
	if (v->cache != NULL)
		vcache_free(v->cache);
	EVP_MD_free(v->sha256);
	free(v->iss);
	free(v->aud);
	typs_free(v);
	free(v);
}

/* Return a copy of the manual keys that v may change (empty if none). */
static struct keyset *
manual_copy(revokd_verifier_t *v)
{
	struct keyset	*man;

	if ((man = keyset_merge(v->manual, NULL, NULL)) == NULL)
		verifier_fail(v, "out of memory");
	return man;
}

/* Add a key under kid pinned to alg; on failure nothing changes. */
int
revokd_verifier_add_key(revokd_verifier_t *v, const char *kid,
    const char *alg, const unsigned char *key, size_t keylen)
{
	struct keyset_key	 k;
	struct keyset		*man;
	int			 rc = -1;

	if (v == NULL)
		return -1;
	if (keyset_key_parse(&k, kid, alg, key, keylen, v->errstr,
	    sizeof v->errstr) != 0)
		return -1;
	pthread_mutex_lock(&v->live->wlock);
	if ((man = manual_copy(v)) != NULL) {
		if (keyset_put(man, &k) != 0)
			verifier_fail(v, "out of memory");
		else
			rc = verifier_publish(v, man, v->dirkeys,
			    v->jwkskeys);
		keyset_unref(man);
	}
	pthread_mutex_unlock(&v->live->wlock);
	keyset_key_clear(&k);
	return rc;
}

/* Drop the no-kid key, keeping the message of the failure that led here. */
static void
drop_nokid(revokd_verifier_t *v)
{
	struct keyset	*man;
	char		 saved[sizeof v->errstr];

	memcpy(saved, v->errstr, sizeof saved);
	pthread_mutex_lock(&v->live->wlock);
	if (v->manual != NULL && v->manual->nokid != NULL &&
	    (man = manual_copy(v)) != NULL) {
		keyset_key_clear(man->nokid);
		free(man->nokid);
		man->nokid = NULL;
		(void)verifier_publish(v, man, v->dirkeys, v->jwkskeys);
		keyset_unref(man);
	}
	pthread_mutex_unlock(&v->live->wlock);
	memcpy(v->errstr, saved, sizeof saved);
}

/*
 * Pin the algorithm and key for tokens without kid. On failure the no-kid
 * key is dropped (tokens that would use it are refused): a caller who
 * ignores the error of a key rotation fails closed instead of verifying
 * with a stale key. Keys with a kid are untouched.
 */
int
revokd_verifier_set_key(revokd_verifier_t *v, const char *alg,
    const unsigned char *key, size_t keylen)
{
	if (v == NULL)
		return -1;
	if (revokd_verifier_add_key(v, NULL, alg, key, keylen) == 0)
		return 0;
	drop_nokid(v);
	return -1;
}

/* Pin the algorithm with the key read from a file. */
int
revokd_verifier_set_key_file(revokd_verifier_t *v, const char *alg,
    const char *path)
{
	unsigned char	*buf;
	size_t		 len;
	int		 rc;

	if (v == NULL)
		return -1;
	if (keyset_read_file(path, KEYSET_KEY_MAX, &buf, &len, v->errstr,
	    sizeof v->errstr) != 0) {
		drop_nokid(v);
		return -1;
	}
	rc = revokd_verifier_set_key(v, alg, buf, len);
	OPENSSL_cleanse(buf, len);
	free(buf);
	return rc;
}

/* Publish ks, just loaded from path, as the key directory's keys (isdir)
 * or the JWK Set's, and remember path for reload. Consumes ks. */
static int
verifier_adopt(revokd_verifier_t *v, struct keyset *ks, const char *path,
    int isdir)
{
	char	*copy, **slot = isdir ? &v->keydir : &v->jwks;
	int	 rc;

	if ((copy = strdup(path)) == NULL) {
		keyset_unref(ks);
		return verifier_fail(v, "out of memory");
	}
	pthread_mutex_lock(&v->live->wlock);
	rc = verifier_publish(v, v->manual, isdir ? ks : v->dirkeys,
	    isdir ? v->jwkskeys : ks);
	if (rc == 0) {
		free(*slot);
		*slot = copy;
		copy = NULL;
	}
	pthread_mutex_unlock(&v->live->wlock);
	free(copy);
	keyset_unref(ks);
	return rc;
}

/* Load every key of a directory; remembered for reload. */
int
revokd_verifier_load_key_dir(revokd_verifier_t *v, const char *dir)
{
	struct keyset	*ks;

	if (v == NULL)
		return -1;
	if ((ks = keyset_load_dir(dir, v->errstr, sizeof v->errstr)) == NULL)
		return -1;
	return verifier_adopt(v, ks, dir, 1);
}

/* Load a JWK Set file; remembered for reload. */
int
revokd_verifier_load_jwks(revokd_verifier_t *v, const char *path)
{
	struct keyset	*ks;

	if (v == NULL)
		return -1;
	if ((ks = keyset_load_jwks(path, v->errstr, sizeof v->errstr)) ==
	    NULL)
		return -1;
	return verifier_adopt(v, ks, path, 0);
}

/* Re-read the key directory and JWK Set and swap the new set in. */
int
revokd_verifier_reload(revokd_verifier_t *v)
{
	struct keyset	*dk = NULL, *jk = NULL;
	char		 err[sizeof v->errstr];
	int		 rc = -1;

	if (v == NULL)
		return -1;
	/* Loading happens outside live->lock: verifiers keep running. */
	pthread_mutex_lock(&v->live->wlock);
	if (v->keydir != NULL &&
	    (dk = keyset_load_dir(v->keydir, err, sizeof err)) == NULL)
		goto out;
	if (v->jwks != NULL &&
	    (jk = keyset_load_jwks(v->jwks, err, sizeof err)) == NULL)
		goto out;
	rc = verifier_publish(v, v->manual, dk, jk);
	err[0] = '\0';
out:
	if (rc != 0 && err[0] != '\0')
		verifier_fail(v, "%s", err);
	pthread_mutex_unlock(&v->live->wlock);
	keyset_unref(dk);
	keyset_unref(jk);
	return rc;
}

/* Set the most exp - iat accepted (0: no limit). */
int
revokd_verifier_set_max_lifetime(revokd_verifier_t *v, long long seconds)
{
	if (v == NULL)
		return -1;
	if (seconds < 0)
		return verifier_fail(v, "negative max lifetime");
	v->max_lifetime = seconds;
	verifier_forget(v);
	return 0;
}

/* Set how far ahead exp may be (the daemon's --max-ttl). */
int
revokd_verifier_set_max_ttl(revokd_verifier_t *v, long long seconds)
{
	if (v == NULL)
		return -1;
	if (seconds < 1 || seconds > VERIFY_EXP_MAX)
		return verifier_fail(v, "max ttl out of range");
	v->max_ttl = seconds;
	verifier_forget(v);
	return 0;
}

/* Set the most bytes accepted in a token. */
int
revokd_verifier_set_max_length(revokd_verifier_t *v, size_t bytes)
{
	if (v == NULL)
		return -1;
	if (bytes == 0 || bytes > VERIFY_LEN_MAX)
		return verifier_fail(v, "max length not in 1..%d",
		    VERIFY_LEN_MAX);
	v->maxlen = bytes;
	return 0;
}

/* Strip an "application/" media type prefix (RFC 7515 4.1.9). */
static const char *
typ_base(const char *typ)
{
	if (strncasecmp(typ, "application/", 12) == 0)
		return typ + 12;
	return typ;
}

/* Set the accepted typ values from a comma-separated list. */
int
revokd_verifier_set_typs(revokd_verifier_t *v, const char *csv)
{
	char		*typs[VERIFY_TYPS_MAX];
	const char	*p, *end, *base;
	size_t		 n = 0, len, i;

	if (v == NULL)
		return -1;
	if (csv == NULL)
		csv = VERIFY_TYPS_DEFAULT;
	for (p = csv;; p = end + 1) {
		if ((end = strchr(p, ',')) == NULL)
			end = p + strlen(p);
		/* trim blanks around each entry */
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		len = (size_t)(end - p);
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		for (i = 0; i < len; i++) {
			if ((unsigned char)p[i] <= ' ' ||
			    (unsigned char)p[i] >= 0x7f)
				break;
		}
		if (len == 0 || len > VERIFY_TYP_MAX || i < len ||
		    n == VERIFY_TYPS_MAX) {
			while (n > 0)
				free(typs[--n]);
			return verifier_fail(v, "typ list: entries must be "
			    "1 to %d printable characters, at most %d",
			    VERIFY_TYP_MAX, VERIFY_TYPS_MAX);
		}
		if ((typs[n] = strndup(p, len)) == NULL) {
			while (n > 0)
				free(typs[--n]);
			return verifier_fail(v, "out of memory");
		}
		/* keep "at+jwt" for "application/at+jwt" */
		base = typ_base(typs[n]);
		memmove(typs[n], base, strlen(base) + 1);
		n++;
		if (*end == '\0')
			break;
	}
	typs_free(v);
	memcpy(v->typs, typs, n * sizeof typs[0]);
	v->ntyps = n;
	verifier_forget(v);
	return 0;
}

/* Choose fail-open (VALID_UNCHECKED) or fail-closed when the daemon
 * cannot answer (down, loading, stale, protocol error). */
int
revokd_verifier_set_fail_open(revokd_verifier_t *v, int on)
{
	if (v == NULL)
		return -1;
	v->fail_open = on != 0;
	return 0;
}

/* Return whether v fails open when the daemon cannot be asked. */
int
verify_fail_open(const revokd_verifier_t *v)
{
	return v != NULL && v->fail_open;
}

/* Resize (by replacing) or disable the verified-token cache. */
int
revokd_verifier_set_cache(revokd_verifier_t *v, size_t max_entries)
{
	struct vcache	*c = NULL;

	if (v == NULL)
		return -1;
	if (max_entries > VERIFY_CACHE_MAX)
		return verifier_fail(v, "cache over %d entries",
		    VERIFY_CACHE_MAX);
	if (max_entries > 0 && (c = vcache_new(max_entries)) == NULL)
		return verifier_fail(v, "out of memory");
	if (v->cache != NULL)
		vcache_free(v->cache);
	v->cache = c;
	verifier_forget(v);
	return 0;
}

/* Report the cache hits and full verifications so far. */
void
verify_cache_stats(const revokd_verifier_t *v, unsigned long *hits,
    unsigned long *misses)
{
	*hits = atomic_load(&v->live->hits);
	*misses = atomic_load(&v->live->misses);
}

/* Set the clock skew allowed on exp, nbf and iat. */
int
revokd_verifier_set_leeway(revokd_verifier_t *v, unsigned seconds)
{
	if (v == NULL)
		return -1;
	if (seconds > VERIFY_LEEWAY_MAX)
		return verifier_fail(v, "leeway over %d seconds",
		    VERIFY_LEEWAY_MAX);
	v->leeway = seconds;
	verifier_forget(v);
	return 0;
}

/* Replace *dst with a copy of s (NULL clears); refuses "" and long. */
static int
set_required(revokd_verifier_t *v, char **dst, const char *s,
    const char *what)
{
	char	*copy = NULL;

	if (s != NULL) {
		if (*s == '\0')
			return verifier_fail(v, "empty %s", what);
		if (strlen(s) > VERIFY_CLAIM_MAX)
			return verifier_fail(v, "%s too long", what);
		if ((copy = strdup(s)) == NULL)
			return verifier_fail(v, "out of memory");
	}
	free(*dst);
	*dst = copy;
	verifier_forget(v);
	return 0;
}

/* Require this issuer (NULL: any). */
int
revokd_verifier_set_issuer(revokd_verifier_t *v, const char *iss)
{
	if (v == NULL)
		return -1;
	return set_required(v, &v->iss, iss, "issuer");
}

/* Require this audience (NULL: any). */
int
revokd_verifier_set_audience(revokd_verifier_t *v, const char *aud)
{
	if (v == NULL)
		return -1;
	return set_required(v, &v->aud, aud, "audience");
}

/* Return the message of the last failed set_* call. */
const char *
revokd_verifier_errstr(const revokd_verifier_t *v)
{
	if (v == NULL)
		return "no verifier";
	return v->errstr;
}

/* Check an HMAC over data in constant time. */
static int
verify_hmac(const struct keyset_key *k, const unsigned char *data,
    size_t len, const unsigned char *sig, size_t siglen)
{
	unsigned char	mac[EVP_MAX_MD_SIZE];
	unsigned int	maclen = 0;

	if (siglen != k->alg->hashlen)
		return -1;
	if (HMAC(k->md, k->secret, (int)k->secretlen, data, len, mac,
	    &maclen) == NULL || maclen != siglen)
		return -1;
	return CRYPTO_memcmp(mac, sig, siglen) == 0 ? 0 : -1;
}

/* Turn a JOSE r||s ECDSA signature into DER; -1 if it is not one. */
static int
ecdsa_jose_to_der(const struct keyset_alg *a, const unsigned char *sig,
    size_t siglen, unsigned char **der, size_t *derlen)
{
	ECDSA_SIG	*es;
	BIGNUM		*r, *s;
	unsigned char	*p = NULL;
	int		 n;

	*der = NULL;
	if (siglen != 2 * a->fieldlen)
		return -1;
	if ((es = ECDSA_SIG_new()) == NULL)
		return -1;
	r = BN_bin2bn(sig, (int)a->fieldlen, NULL);
	s = BN_bin2bn(sig + a->fieldlen, (int)a->fieldlen, NULL);
	if (r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(es);
		return -1;
	}
	n = i2d_ECDSA_SIG(es, &p);
	ECDSA_SIG_free(es);
	if (n <= 0)
		return -1;
	*der = p;
	*derlen = (size_t)n;
	return 0;
}

/* Check an RSA PKCS#1 v1.5 or ECDSA signature over data. */
static int
verify_pkey(const struct keyset_key *k, const unsigned char *data,
    size_t len, const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX	*ctx;
	unsigned char	*der = NULL;
	int		 ok = 0;

	if (k->alg->kind == KEYSET_RSA) {
		if (siglen != (size_t)EVP_PKEY_get_size(k->pkey))
			return -1;
	} else {
		if (ecdsa_jose_to_der(k->alg, sig, siglen, &der, &siglen) != 0)
			return -1;
		sig = der;
	}
	if ((ctx = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestVerifyInit(ctx, NULL, k->md, NULL, k->pkey) == 1 &&
	    EVP_DigestVerify(ctx, sig, siglen, data, len) == 1)
		ok = 1;
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	return ok ? 0 : -1;
}

/* Return whether typ is absent or in the accepted set (any case). */
static int
typ_ok(const revokd_verifier_t *v, const char *typ)
{
	size_t	i;

	if (typ == NULL)
		return 1;
	typ = typ_base(typ);
	for (i = 0; i < v->ntyps; i++) {
		if (strcasecmp(typ, v->typs[i]) == 0)
			return 1;
	}
	return 0;
}

/* Check exp, nbf and iat at time now. */
static revokd_outcome_t
verify_times(const revokd_verifier_t *v, const struct token_claims *c,
    long long now)
{
	long long	lw = (long long)v->leeway;

	/* A token that never expires cannot be revoked for good: refuse. */
	if (!c->has_exp)
		return REVOKD_MALFORMED;
	/* now is far from LLONG_MIN/MAX, so these cannot overflow. */
	if (now - lw >= c->exp)
		return REVOKD_EXPIRED;
	if (c->has_nbf && now + lw < c->nbf)
		return REVOKD_NOT_YET_VALID;
	if (c->has_iat && c->iat > now + lw)
		return REVOKD_NOT_YET_VALID;
	return REVOKD_VALID;
}

/* Check the time, lifetime, issuer, audience and jti claims at now. */
static revokd_outcome_t
verify_claims(const revokd_verifier_t *v, const struct token_claims *c,
    long long now)
{
	revokd_outcome_t	o;
	long long		life;
	size_t			i, jtilen;

	if ((o = verify_times(v, c, now)) != REVOKD_VALID)
		return o;
	/* Over the lifetime limit is a token this verifier must not accept
	 * at all, whatever the time: MALFORMED, like a missing exp. */
	if (v->max_lifetime > 0 && (!c->has_iat ||
	    __builtin_sub_overflow(c->exp, c->iat, &life) ||
	    life > v->max_lifetime))
		return REVOKD_MALFORMED;
	/* A token the daemon would refuse to revoke (exp beyond its max-ttl,
	 * or past 32-bit time) must not be accepted either: it could never
	 * be taken back. */
	if (c->exp > VERIFY_EXP_MAX ||
	    __builtin_sub_overflow(c->exp, now, &life) || life > v->max_ttl)
		return REVOKD_MALFORMED;
	if (v->iss != NULL && (c->iss == NULL || strcmp(c->iss, v->iss) != 0))
		return REVOKD_WRONG_ISSUER;
	if (v->aud != NULL) {
		for (i = 0; i < c->naud; i++) {
			if (strcmp(c->aud[i], v->aud) == 0)
				break;
		}
		if (i == c->naud)
			return REVOKD_WRONG_AUDIENCE;
	}
	if (c->jti == NULL || (jtilen = strlen(c->jti)) == 0)
		return REVOKD_MISSING_JTI;
	if (jtilen > VERIFY_JTI_MAX)
		return REVOKD_MALFORMED;
	return REVOKD_VALID;
}

/* Verify token with the key set ks, without the cache. */
static revokd_outcome_t
verify_full(const revokd_verifier_t *v, const struct keyset *ks,
    const char *token, size_t len, long long now,
    struct token_claims *claims)
{
	const struct keyset_key	*k;
	char			 err[64];
	int			 rc;

	/* No key at all: nothing can be verified, so no signature is good. */
	if (keyset_count(ks) == 0)
		return REVOKD_BAD_SIGNATURE;
	if (token_peek(token, len, v->maxlen, claims, err, sizeof err) != 0)
		return REVOKD_MALFORMED;
	/* The kid is only a lookup key. A set holding nothing but the
	 * no-kid key (one set_key(), as before key sets) uses it for every
	 * token, so an issuer that always writes a kid keeps working. */
	if ((k = keyset_find(ks, claims->kid)) == NULL &&
	    (ks->nkeys > 0 || (k = ks->nokid) == NULL))
		return REVOKD_UNKNOWN_KEY;
	/* Byte-exact: "none", "None", "hs256" and every other alg differ. */
	if (strcmp(claims->alg, k->alg->name) != 0)
		return REVOKD_WRONG_ALGORITHM;
	if (!typ_ok(v, claims->typ))
		return REVOKD_MALFORMED;
	if (k->alg->kind == KEYSET_HMAC)
		rc = verify_hmac(k, (const unsigned char *)token,
		    claims->signed_len, claims->sig, claims->siglen);
	else
		rc = verify_pkey(k, (const unsigned char *)token,
		    claims->signed_len, claims->sig, claims->siglen);
	if (rc != 0)
		return REVOKD_BAD_SIGNATURE;
	return verify_claims(v, claims, now);
}

/* Verify token against v as if the time were now. */
revokd_outcome_t
verify_token_at(const revokd_verifier_t *v, const char *token, size_t len,
    long long now, struct token_claims *claims)
{
	struct verify_live	*live;
	struct keyset		*ks;
	revokd_outcome_t	 o;
	unsigned char		 digest[CACHE_DIGEST_LEN];
	unsigned long		 gen;
	long long		 until, lw;
	int			 cached = 0;

	memset(claims, 0, sizeof *claims);
	if (v == NULL)
		return REVOKD_BAD_SIGNATURE;
	/* Length first: nothing, not even the hash, sees a huge token. */
	if (token == NULL || len == 0 || len > v->maxlen)
		return REVOKD_MALFORMED;
	live = v->live;
	if (v->cache != NULL && EVP_Digest(token, len, digest, NULL,
	    v->sha256, NULL) == 1) {
		cached = 1;
		/* The entry lasts until exp + leeway at most; the times are
		 * checked again for a caller passing an earlier now. */
		if (vcache_get(v->cache, digest, now, claims)) {
			if (verify_times(v, claims, now) == REVOKD_VALID) {
				atomic_fetch_add_explicit(&live->hits, 1,
				    memory_order_relaxed);
				return REVOKD_VALID;
			}
			token_claims_free(claims);
		}
	}
	atomic_fetch_add_explicit(&live->misses, 1, memory_order_relaxed);
	pthread_mutex_lock(&live->lock);
	ks = live->keys;
	keyset_ref(ks);
	gen = live->gen;
	pthread_mutex_unlock(&live->lock);
	o = verify_full(v, ks, token, len, now, claims);
	keyset_unref(ks);
	if (o != REVOKD_VALID) {
		/* Claims of a refused token must not be used by mistake. */
		token_claims_free(claims);
		return o;
	}
	if (cached) {
		lw = (long long)v->leeway;
		until = claims->exp > LLONG_MAX - lw ? LLONG_MAX :
		    claims->exp + lw;
		/* Only if no key or policy change happened meanwhile. */
		pthread_mutex_lock(&live->lock);
		if (gen == live->gen)
			vcache_put(v->cache, digest, until, claims);
		pthread_mutex_unlock(&live->lock);
	}
	return REVOKD_VALID;
}

/* Verify token against v at the current time. */
revokd_outcome_t
verify_token(const revokd_verifier_t *v, const char *token, size_t len,
    struct token_claims *claims)
{
	return verify_token_at(v, token, len, (long long)time(NULL), claims);
}

/* Verify a token locally without asking the daemon. */
revokd_outcome_t
revokd_verify(const revokd_verifier_t *v, const char *token, size_t len)
{
	struct token_claims	c;
	revokd_outcome_t	o;

	o = verify_token(v, token, len, &c);
	token_claims_free(&c);
	return o;
}
