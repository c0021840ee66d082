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
 * A configured verifier is never written by verification: every function
 * taking a const revokd_verifier_t only reads it, and OpenSSL allows a
 * shared EVP_PKEY and EVP_MD to be used concurrently.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "revokd.h"
#include "token.h"
#include "verify.h"

#define VERIFY_LEEWAY_DEFAULT	30	/* seconds of clock skew by default */
#define VERIFY_LEEWAY_MAX	300	/* most clock skew one may allow */
#define VERIFY_KEY_MAX		65536	/* bytes in a key or key file */
#define VERIFY_JTI_MAX		256	/* bytes in a jti */
#define VERIFY_CLAIM_MAX	1024	/* bytes in a required iss or aud */
#define VERIFY_RSA_MIN_BITS	2048	/* RFC 7518 3.3: at least 2048 */

/* The family of a JWS algorithm. */
enum verify_kind {
	VERIFY_NONE = 0,	/* no key set */
	VERIFY_HMAC,		/* HS256, HS384, HS512 */
	VERIFY_RSA,		/* RS256, RS384, RS512 (PKCS#1 v1.5) */
	VERIFY_ECDSA		/* ES256, ES384, ES512 */
};

/* One supported algorithm. */
struct verify_alg {
	const char		*name;		/* JWS "alg" */
	enum verify_kind	 kind;		/* family */
	const char		*digest;	/* OpenSSL digest name */
	size_t			 hashlen;	/* digest bytes */
	const char		*curve;		/* EC group name (ES*) */
	size_t			 fieldlen;	/* bytes of r or s (ES*) */
};

/* The nine algorithms we accept; nothing else, "none" least of all. */
static const struct verify_alg verify_algs[] = {
	{ "HS256", VERIFY_HMAC, "SHA2-256", 32, NULL, 0 },
	{ "HS384", VERIFY_HMAC, "SHA2-384", 48, NULL, 0 },
	{ "HS512", VERIFY_HMAC, "SHA2-512", 64, NULL, 0 },
	{ "RS256", VERIFY_RSA, "SHA2-256", 32, NULL, 0 },
	{ "RS384", VERIFY_RSA, "SHA2-384", 48, NULL, 0 },
	{ "RS512", VERIFY_RSA, "SHA2-512", 64, NULL, 0 },
	{ "ES256", VERIFY_ECDSA, "SHA2-256", 32, "prime256v1", 32 },
	{ "ES384", VERIFY_ECDSA, "SHA2-384", 48, "secp384r1", 48 },
	{ "ES512", VERIFY_ECDSA, "SHA2-512", 64, "secp521r1", 66 },
};

/* A verifier: pinned algorithm and key, and the claim requirements. */
struct revokd_verifier {
	const struct verify_alg	*alg;		/* pinned algorithm or NULL */
	EVP_MD			*md;		/* fetched digest of alg */
	unsigned char		*secret;	/* HMAC secret (HS*) */
	size_t			 secretlen;	/* bytes in secret */
	EVP_PKEY		*pkey;		/* public key (RS*, ES*) */
	unsigned		 leeway;	/* seconds of skew on times */
	char			*iss;		/* required iss or NULL */
	char			*aud;		/* required audience or NULL */
	size_t			 maxlen;	/* most bytes in a token */
	char			 errstr[128];	/* last set_* failure */
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

/* Drop the key and algorithm: the verifier refuses every token. */
static void
verifier_clear_key(revokd_verifier_t *v)
{
	v->alg = NULL;
	EVP_MD_free(v->md);
	v->md = NULL;
	if (v->secret != NULL) {
		OPENSSL_cleanse(v->secret, v->secretlen);
		free(v->secret);
	}
	v->secret = NULL;
	v->secretlen = 0;
	EVP_PKEY_free(v->pkey);
	v->pkey = NULL;
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
	}
	return "unknown";
}

/* Create a verifier with no key and the default leeway. */
revokd_verifier_t *
revokd_verifier_new(void)
{
	revokd_verifier_t	*v;

	if ((v = calloc(1, sizeof *v)) == NULL)
		return NULL;
	v->leeway = VERIFY_LEEWAY_DEFAULT;
	v->maxlen = TOKEN_MAX_LEN_DEFAULT;
	return v;
}

/* Free a verifier and wipe its secret. */
void
revokd_verifier_free(revokd_verifier_t *v)
{
	if (v == NULL)
		return;
	verifier_clear_key(v);
	free(v->iss);
	free(v->aud);
	free(v);
}

/* Look up a supported algorithm by its exact name. */
static const struct verify_alg *
verify_alg_find(const char *name)
{
	size_t	i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < sizeof verify_algs / sizeof verify_algs[0]; i++) {
		if (strcmp(verify_algs[i].name, name) == 0)
			return &verify_algs[i];
	}
	return NULL;
}

/* Parse a PEM public key of the algorithm's type into v->pkey. */
static int
verifier_load_pem(revokd_verifier_t *v, const struct verify_alg *a,
    const unsigned char *key, size_t keylen)
{
	BIO		*bio;
	EVP_PKEY	*pkey;
	char		 group[64];
	size_t		 glen;

	if ((bio = BIO_new_mem_buf(key, (int)keylen)) == NULL)
		return verifier_fail(v, "out of memory");
	pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (pkey == NULL) {
		/* A private key is refused: verifiers should not hold one. */
		if (memmem(key, keylen, "PRIVATE KEY", 11) != NULL)
			return verifier_fail(v, "%s: a private key was given, "
			    "need the public key", a->name);
		return verifier_fail(v, "%s: not a PEM public key", a->name);
	}
	if (a->kind == VERIFY_RSA) {
		/* "RSA" only: an RSA-PSS key would not do PKCS#1 v1.5. */
		if (!EVP_PKEY_is_a(pkey, "RSA")) {
			EVP_PKEY_free(pkey);
			return verifier_fail(v, "%s: not an RSA key", a->name);
		}
		if (EVP_PKEY_get_bits(pkey) < VERIFY_RSA_MIN_BITS) {
			EVP_PKEY_free(pkey);
			return verifier_fail(v, "%s: RSA key under %d bits",
			    a->name, VERIFY_RSA_MIN_BITS);
		}
	} else {
		if (!EVP_PKEY_is_a(pkey, "EC") ||
		    EVP_PKEY_get_group_name(pkey, group, sizeof group,
		    &glen) != 1) {
			EVP_PKEY_free(pkey);
			return verifier_fail(v, "%s: not an EC key", a->name);
		}
		if (strcmp(group, a->curve) != 0) {
			EVP_PKEY_free(pkey);
			return verifier_fail(v, "%s: EC key not on %s",
			    a->name, a->curve);
		}
	}
	v->pkey = pkey;
	return 0;
}

/*
 * Pin the algorithm and its key. On failure the verifier is left with no
 * key at all (it refuses every token): a caller who ignores the error of a
 * key rotation fails closed instead of verifying with a stale key.
 */
int
revokd_verifier_set_key(revokd_verifier_t *v, const char *alg,
    const unsigned char *key, size_t keylen)
{
	const struct verify_alg	*a;

	if (v == NULL)
		return -1;
	verifier_clear_key(v);
	if ((a = verify_alg_find(alg)) == NULL)
		return verifier_fail(v, "unsupported algorithm");
	if (key == NULL || keylen == 0)
		return verifier_fail(v, "%s: empty key", a->name);
	if (keylen > VERIFY_KEY_MAX)
		return verifier_fail(v, "%s: key too long", a->name);
	if (a->kind == VERIFY_HMAC) {
		if (keylen < a->hashlen)
			return verifier_fail(v, "%s: secret under %zu bytes",
			    a->name, a->hashlen);
		/* An RSA/EC public key used as an HMAC secret is the
		 * classic key-confusion attack: refuse anything PEM. */
		if (memmem(key, keylen, "-----BEGIN", 10) != NULL)
			return verifier_fail(v, "%s: secret is a PEM key",
			    a->name);
		if ((v->secret = malloc(keylen)) == NULL)
			return verifier_fail(v, "out of memory");
		memcpy(v->secret, key, keylen);
		v->secretlen = keylen;
	} else if (verifier_load_pem(v, a, key, keylen) != 0) {
		verifier_clear_key(v);
		return -1;
	}
	if ((v->md = EVP_MD_fetch(NULL, a->digest, NULL)) == NULL) {
		verifier_clear_key(v);
		return verifier_fail(v, "%s: digest unavailable", a->name);
	}
	v->alg = a;
	return 0;
}

/* Read a whole key file of at most VERIFY_KEY_MAX bytes. */
static int
read_key_file(revokd_verifier_t *v, const char *path, unsigned char *buf,
    size_t *len)
{
	ssize_t	n;
	size_t	off = 0;
	int	fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return verifier_fail(v, "%s: %s", path, strerror(errno));
	for (;;) {
		n = read(fd, buf + off, VERIFY_KEY_MAX + 1 - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			saved = errno;
			close(fd);
			return verifier_fail(v, "%s: %s", path,
			    strerror(saved));
		}
		if (n == 0)
			break;
		off += (size_t)n;
		if (off > VERIFY_KEY_MAX) {
			close(fd);
			return verifier_fail(v, "%s: key file too large",
			    path);
		}
	}
	close(fd);
	if (off == 0)
		return verifier_fail(v, "%s: empty key file", path);
	*len = off;
	return 0;
}

/* Pin the algorithm with the key read from a file. */
int
revokd_verifier_set_key_file(revokd_verifier_t *v, const char *alg,
    const char *path)
{
	unsigned char	*buf;
	size_t		 len = 0;
	int		 rc;

	if (v == NULL)
		return -1;
	verifier_clear_key(v);
	if (path == NULL || *path == '\0')
		return verifier_fail(v, "no key file");
	if ((buf = malloc(VERIFY_KEY_MAX + 1)) == NULL)
		return verifier_fail(v, "out of memory");
	if ((rc = read_key_file(v, path, buf, &len)) == 0)
		rc = revokd_verifier_set_key(v, alg, buf, len);
	OPENSSL_cleanse(buf, VERIFY_KEY_MAX + 1);
	free(buf);
	return rc;
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
verify_hmac(const revokd_verifier_t *v, const unsigned char *data,
    size_t len, const unsigned char *sig, size_t siglen)
{
	unsigned char	mac[EVP_MAX_MD_SIZE];
	unsigned int	maclen = 0;

	if (siglen != v->alg->hashlen)
		return -1;
	if (HMAC(v->md, v->secret, (int)v->secretlen, data, len, mac,
	    &maclen) == NULL || maclen != siglen)
		return -1;
	return CRYPTO_memcmp(mac, sig, siglen) == 0 ? 0 : -1;
}

/* Turn a JOSE r||s ECDSA signature into DER; -1 if it is not one. */
static int
ecdsa_jose_to_der(const struct verify_alg *a, const unsigned char *sig,
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
verify_pkey(const revokd_verifier_t *v, const unsigned char *data,
    size_t len, const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX	*ctx;
	unsigned char	*der = NULL;
	int		 ok = 0;

	if (v->alg->kind == VERIFY_RSA) {
		if (siglen != (size_t)EVP_PKEY_get_size(v->pkey))
			return -1;
	} else {
		if (ecdsa_jose_to_der(v->alg, sig, siglen, &der, &siglen) != 0)
			return -1;
		sig = der;
	}
	if ((ctx = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestVerifyInit(ctx, NULL, v->md, NULL, v->pkey) == 1 &&
	    EVP_DigestVerify(ctx, sig, siglen, data, len) == 1)
		ok = 1;
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	return ok ? 0 : -1;
}

/* Return whether typ is absent, "JWT" or "at+jwt" (any case). */
static int
typ_ok(const char *typ)
{
	/* RFC 7515 4.1.9: media types compare case-insensitively, and an
	 * "application/" prefix may be present. */
	if (typ == NULL)
		return 1;
	if (strncasecmp(typ, "application/", 12) == 0)
		typ += 12;
	return strcasecmp(typ, "JWT") == 0 || strcasecmp(typ, "at+jwt") == 0;
}

/* Check the time, issuer, audience and jti claims at time now. */
static revokd_outcome_t
verify_claims(const revokd_verifier_t *v, const struct token_claims *c,
    long long now)
{
	long long	lw = (long long)v->leeway;
	size_t		i;
	size_t		jtilen;

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

/* Verify token against v as if the time were now. */
revokd_outcome_t
verify_token_at(const revokd_verifier_t *v, const char *token, size_t len,
    long long now, struct token_claims *claims)
{
	revokd_outcome_t	o;
	char			err[64];
	int			rc;

	memset(claims, 0, sizeof *claims);
	/* No key: nothing can be verified, so no signature is good. */
	if (v == NULL || v->alg == NULL)
		return REVOKD_BAD_SIGNATURE;
	if (token == NULL || len > v->maxlen)
		return REVOKD_MALFORMED;
	if (token_peek(token, len, v->maxlen, claims, err, sizeof err) != 0) {
		o = REVOKD_MALFORMED;
		goto fail;
	}
	/* Byte-exact: "none", "None", "hs256" and every other alg differ. */
	if (strcmp(claims->alg, v->alg->name) != 0) {
		o = REVOKD_WRONG_ALGORITHM;
		goto fail;
	}
	if (!typ_ok(claims->typ)) {
		o = REVOKD_MALFORMED;
		goto fail;
	}
	if (v->alg->kind == VERIFY_HMAC)
		rc = verify_hmac(v, (const unsigned char *)token,
		    claims->signed_len, claims->sig, claims->siglen);
	else
		rc = verify_pkey(v, (const unsigned char *)token,
		    claims->signed_len, claims->sig, claims->siglen);
	if (rc != 0) {
		o = REVOKD_BAD_SIGNATURE;
		goto fail;
	}
	if ((o = verify_claims(v, claims, now)) != REVOKD_VALID)
		goto fail;
	return REVOKD_VALID;
fail:
	/* Claims of a refused token must not be used by mistake. */
	token_claims_free(claims);
	return o;
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
