/*
 * Fuzz the client's token handling: token_b64url_decode(), token_peek()
 * (strict JWS splitting, JSON header and claims) and the whole verification
 * path, verify_token_at() and revokd_verify(), with pinned keys.
 *
 * Input: byte 0 picks the verifier (bits 0-1, fuzz_verifiers[]), how the
 * token is made from the rest (bits 2-3), the clock (bits 4-6, fuzz_times[])
 * and the secret the harness signs with (bit 7: FUZZ_SECRET2):
 *  0  the rest is the token;
 *  1  the rest is "header.payload": the harness appends an HS256
 *     signature, so mutated claims get past the signature check;
 *  2  header JSON, '\n', payload JSON: base64url-encoded by the harness,
 *     then signed as in 1;
 *  3  header JSON, '\n', payload JSON, '\n', signature bytes: all three
 *     base64url-encoded, nothing signed (empty or odd-sized signatures).
 *
 * Checked:
 *  - token_b64url_decode() on each segment and on the whole token against
 *    a reference (alphabet and length rules, OpenSSL's decoder, and a
 *    re-encoding that must give the input back);
 *  - token_peek() against a reference parse of the rules in token.h: the
 *    same answer and the same claims; at maxlen len - 1 it is refused
 *    before anything is decoded;
 *  - verify_token_at() against a model of the checks listed in verify.h
 *    (the HMAC recomputed here; for RS256/ES256 the library's signature
 *    answer is taken, and its length checked): the same outcome, claims
 *    only on VALID and then those token_peek() gives, so nothing over the
 *    length limit, nothing with alg "none", no unsigned, expired or
 *    jti-less token is ever VALID;
 *  - the cache: the same bytes again give the same outcome, from the cache
 *    when they were VALID, with the same claims; at another time, what
 *    verify.h says a hit gives;
 *  - revokd_verify() at the real time agrees with the model.
 *
 * The RS256 and ES256 seeds were signed with throwaway keys whose public
 * halves are below; the private halves were not kept. To add such seeds,
 * generate a new pair and replace the PEM here (the old seeds then stay
 * as bad signatures). HS256 seeds can be made with FUZZ_SECRET and
 * FUZZ_SECRET2, or in forms 1-3 with no signing at all.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "revokd.h"
#include "token.h"
#include "verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with a message when an invariant does not hold. */
#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: invariant failed: %s\n",	\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

#define FUZZ_NOW	1700000000LL	/* the clock of the seeds */
#define FUZZ_EXP_MAX	4294967295LL	/* latest exp accepted (32 bits) */
#define FUZZ_JTI_MAX	256		/* bytes in a jti */
#define FUZZ_CACHE_STR	1024		/* most jti+iss+sub+sid cached */
#define FUZZ_HS_SIGLEN	32		/* bytes of an HS256 signature */
#define FUZZ_RS_SIGLEN	256		/* RS256 with a 2048-bit key */
#define FUZZ_ES_SIGLEN	64		/* ES256: r || s */
#define FUZZ_KEYS_MAX	4		/* keys of one verifier */
#define FUZZ_TYPS_MAX	2		/* accepted typ of one verifier */

/* The HMAC secrets: every HS256 key is one of these. */
#define FUZZ_SECRET	"fuzz-token-secret-one-0123456789abcdef"
#define FUZZ_SECRET2	"fuzz-token-secret-two-0123456789abcdef"

/* A throwaway RSA-2048 public key (RS256 seeds). */
static const char fuzz_rs_pub[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAyJWb2otZI2Gi5GCeTwrc\n"
    "HsQ+DFdeUWSXXDoXmmVtOVQaToSj58NJwONmmttjfmYPP5DQkruqed/tEmlGNnMw\n"
    "tixYrkgz0RpkFjYmgmhLqVWbphOOYawGo0FeX2YZ2VoU0M7HQm8NQaztdGuxfw2v\n"
    "3AD6gZFjw5mSfIcVQgnkR0Rph8lXxA1KB5nRGkR9iOnNVggc+jjmlzLZ3H7YhCTQ\n"
    "WWDRD6W3zguFEr1eP1/tPxCPv0mn2sDdbjl6GVG9wVJlYUvPSowDwO3igSII8CTv\n"
    "Xl1KRkXWEVy9dMLEIdIJ+837m5V1pDFlgLKDVS7dsmFx+8NWfHdTBpkmJWgWHLhF\n"
    "AQIDAQAB\n"
    "-----END PUBLIC KEY-----\n";

/* A throwaway P-256 public key (ES256 seeds). */
static const char fuzz_es_pub[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAENpdRPc1unE2fFrlHx+4VImCr84Vf\n"
    "Ha8R+VZj4M4oylwvTQ9a/1/lv6nbXQT/E26fFjmfRkEeFCflcpm3LNdHhQ==\n"
    "-----END PUBLIC KEY-----\n";

/* A key of a verifier, as the model sees it. */
struct fuzz_key {
	const char	*kid;		/* NULL: the no-kid key */
	const char	*alg;		/* the pinned algorithm */
	const char	*secret;	/* HS256 secret, or NULL */
	const char	*pem;		/* RS256/ES256 public key, or NULL */
};

/* A verifier and the policy it was given (what the model checks). */
struct fuzz_verifier {
	revokd_verifier_t	*v;		/* made by fuzz_setup() */
	struct fuzz_key		 keys[FUZZ_KEYS_MAX];	/* its keys */
	size_t			 nkeys;		/* entries in keys */
	size_t			 maxlen;	/* most bytes in a token */
	unsigned		 leeway;	/* seconds of skew */
	long long		 max_lifetime;	/* most exp - iat, 0: any */
	long long		 max_ttl;	/* most exp - now */
	const char		*iss;		/* required iss or NULL */
	const char		*aud;		/* required aud or NULL */
	const char		*typs;		/* set_typs() list or NULL */
	const char		*accept[FUZZ_TYPS_MAX];	/* typ it accepts */
	size_t			 cache;		/* cache entries, 0: off */
};

/* The verifiers byte 0 picks from. The first keeps the documented
 * defaults of everything but the cache. */
static struct fuzz_verifier fuzz_verifiers[4] = {
	/* One no-kid HS256 key (used whatever the kid), no cache. */
	{ .keys = { { NULL, "HS256", FUZZ_SECRET, NULL } }, .nkeys = 1,
	  .maxlen = 8192, .leeway = 30, .max_ttl = 2592000,
	  .accept = { "JWT", "at+jwt" }, .cache = 0 },
	/* Keys by kid and a no-kid ES256 key, issuer, audience, lifetime,
	 * no leeway, a small cache. */
	{ .keys = { { "hs", "HS256", FUZZ_SECRET2, NULL },
	    { "rs", "RS256", NULL, fuzz_rs_pub },
	    { "es", "ES256", NULL, fuzz_es_pub },
	    { NULL, "ES256", NULL, fuzz_es_pub } }, .nkeys = 4,
	  .maxlen = 8192, .leeway = 0, .max_lifetime = 86400,
	  .max_ttl = 2592000, .iss = "https://issuer.example", .aud = "api",
	  .accept = { "JWT", "at+jwt" }, .cache = 8 },
	/* Short tokens, the most leeway, a short max ttl (under the max
	 * lifetime, so both limits can be hit), another typ. */
	{ .keys = { { NULL, "HS256", FUZZ_SECRET, NULL } }, .nkeys = 1,
	  .maxlen = 512, .leeway = 300, .max_lifetime = 10000,
	  .max_ttl = 7200, .typs = " JWT ,application/secevent+jwt",
	  .accept = { "JWT", "secevent+jwt" }, .cache = 1 },
	/* No key at all. */
	{ .nkeys = 0, .maxlen = 8192, .leeway = 30, .max_ttl = 2592000,
	  .accept = { "JWT", "at+jwt" }, .cache = 16 },
};

/* The clocks byte 0 picks from: around the seeds' iat and exp. */
static const long long fuzz_times[8] = {
	FUZZ_NOW, FUZZ_NOW + 3599, FUZZ_NOW + 3600, FUZZ_NOW - 301,
	FUZZ_NOW + 30, FUZZ_NOW + 86400 * 40, 0, FUZZ_EXP_MAX
};

/* Configure the verifiers once. */
static void
fuzz_setup(void)
{
	static int		 done;
	struct fuzz_verifier	*fv;
	const struct fuzz_key	*k;
	const char		*key;
	size_t			 i, j;

	if (done)
		return;
	done = 1;
	for (i = 0; i < sizeof fuzz_verifiers / sizeof fuzz_verifiers[0];
	    i++) {
		fv = &fuzz_verifiers[i];
		FUZZ_CHECK((fv->v = revokd_verifier_new()) != NULL);
		for (j = 0; j < fv->nkeys; j++) {
			k = &fv->keys[j];
			key = k->secret != NULL ? k->secret : k->pem;
			FUZZ_CHECK(revokd_verifier_add_key(fv->v, k->kid,
			    k->alg, (const unsigned char *)key,
			    strlen(key)) == 0);
		}
		if (i == 0)	/* the defaults, untouched */
			continue;
		FUZZ_CHECK(revokd_verifier_set_max_length(fv->v,
		    fv->maxlen) == 0);
		FUZZ_CHECK(revokd_verifier_set_leeway(fv->v,
		    fv->leeway) == 0);
		FUZZ_CHECK(revokd_verifier_set_max_lifetime(fv->v,
		    fv->max_lifetime) == 0);
		FUZZ_CHECK(revokd_verifier_set_max_ttl(fv->v,
		    fv->max_ttl) == 0);
		FUZZ_CHECK(revokd_verifier_set_issuer(fv->v, fv->iss) == 0);
		FUZZ_CHECK(revokd_verifier_set_audience(fv->v,
		    fv->aud) == 0);
		FUZZ_CHECK(revokd_verifier_set_typs(fv->v, fv->typs) == 0);
		FUZZ_CHECK(revokd_verifier_set_cache(fv->v, fv->cache) == 0);
	}
	FUZZ_CHECK(revokd_verifier_set_cache(fuzz_verifiers[0].v, 0) == 0);
}

/* Return whether c is in the base64url alphabet. */
static int
fuzz_b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Append n bytes as unpadded base64url at *o (4 * n / 3 + 3 bytes). */
static void
fuzz_b64_encode(char **o, const void *data, size_t n)
{
	static const char	 abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char	*p = data;
	uint32_t		 v;
	size_t			 i;

	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*(*o)++ = abc[v >> 18 & 63];
		*(*o)++ = abc[v >> 12 & 63];
		*(*o)++ = abc[v >> 6 & 63];
		*(*o)++ = abc[v & 63];
	}
	if (n - i == 1) {
		v = (uint32_t)p[i] << 16;
		*(*o)++ = abc[v >> 18 & 63];
		*(*o)++ = abc[v >> 12 & 63];
	} else if (n - i == 2) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		*(*o)++ = abc[v >> 18 & 63];
		*(*o)++ = abc[v >> 12 & 63];
		*(*o)++ = abc[v >> 6 & 63];
	}
}

/*
 * Decode base64url the reference way: the alphabet and length rules
 * checked here, the bits decoded by OpenSSL's standard base64 decoder, and
 * the value encoded again by OpenSSL, which must give the input back (one
 * encoding per value: no stray trailing bits). 0 with a new buffer, or -1.
 */
static int
ref_b64(const char *s, size_t n, unsigned char **out, size_t *outlen)
{
	unsigned char	*std, *buf, *enc;
	size_t		 i, pad, m, e;
	int		 got;

	*out = NULL;
	*outlen = 0;
	if (n % 4 == 1)
		return -1;
	for (i = 0; i < n; i++) {
		if (!fuzz_b64_char(s[i]))
			return -1;
	}
	/* Standard alphabet, the last group filled with zero bits. */
	pad = (4 - n % 4) % 4;
	FUZZ_CHECK((std = malloc(n + pad + 1)) != NULL);
	for (i = 0; i < n; i++)
		std[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' :
		    (unsigned char)s[i];
	memset(std + n, 'A', pad);
	FUZZ_CHECK((buf = malloc((n + pad) / 4 * 3 + 1)) != NULL);
	got = EVP_DecodeBlock(buf, std, (int)(n + pad));
	free(std);
	FUZZ_CHECK(got >= 0 && (size_t)got == (n + pad) / 4 * 3);
	m = (size_t)got - pad;
	FUZZ_CHECK((enc = malloc((m + 2) / 3 * 4 + 1)) != NULL);
	e = (size_t)EVP_EncodeBlock(enc, buf, (int)m);
	while (e > 0 && enc[e - 1] == '=')
		e--;
	for (i = 0; i < e; i++)
		enc[i] = enc[i] == '+' ? '-' : enc[i] == '/' ? '_' : enc[i];
	if (e != n || memcmp(enc, s, n) != 0) {
		free(enc);
		free(buf);
		return -1;
	}
	free(enc);
	*out = buf;
	*outlen = m;
	return 0;
}

/* Check token_b64url_decode() on s against the reference. */
static void
fuzz_check_b64(const char *s, size_t n)
{
	unsigned char	*a, *b;
	size_t		 alen, blen;
	int		 ra, rb;

	ra = token_b64url_decode(s, n, &a, &alen);
	rb = ref_b64(s, n, &b, &blen);
	FUZZ_CHECK(ra == rb);
	if (ra == 0) {
		FUZZ_CHECK(a != NULL && alen == blen && alen <= n / 4 * 3 + 2);
		FUZZ_CHECK(memcmp(a, b, alen) == 0);
	} else
		FUZZ_CHECK(a == NULL && alen == 0);
	free(a);
	free(b);
}

/* Decode a base64url segment holding a JSON object; NULL if it is not. */
static json_t *
ref_json(const char *s, size_t n)
{
	unsigned char	*buf;
	size_t		 len;
	json_t		*js;

	if (ref_b64(s, n, &buf, &len) != 0)
		return NULL;
	js = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, NULL);
	free(buf);
	if (js != NULL && !json_is_object(js)) {
		json_decref(js);
		js = NULL;
	}
	return js;
}

/* Return whether js is a string without NUL. */
static int
ref_is_cstr(const json_t *js)
{
	return json_is_string(js) &&
	    strlen(json_string_value(js)) == json_string_length(js);
}

/* Copy member name of obj, a string without NUL, into *out if present.
 * 0, or -1 when it is there and not such a string. */
static int
ref_str(const json_t *obj, const char *name, char **out)
{
	const json_t	*js;

	*out = NULL;
	if ((js = json_object_get(obj, name)) == NULL)
		return 0;
	if (!ref_is_cstr(js))
		return -1;
	FUZZ_CHECK((*out = strdup(json_string_value(js))) != NULL);
	return 0;
}

/* Read member name of obj, a JSON integer, if present. 0 or -1. */
static int
ref_int(const json_t *obj, const char *name, long long *out, int *has)
{
	const json_t	*js;

	if ((js = json_object_get(obj, name)) == NULL)
		return 0;
	if (!json_is_integer(js))
		return -1;
	*out = (long long)json_integer_value(js);
	*has = 1;
	return 0;
}

/* Read "aud": a string, or a non-empty array of strings. 0 or -1. */
static int
ref_aud(const json_t *pl, struct token_claims *c)
{
	const json_t	*js;
	size_t		 i, n;

	if ((js = json_object_get(pl, "aud")) == NULL)
		return 0;
	if (json_is_array(js)) {
		if ((n = json_array_size(js)) == 0)
			return -1;
	} else if (ref_is_cstr(js))
		n = 1;
	else
		return -1;
	FUZZ_CHECK((c->aud = calloc(n, sizeof *c->aud)) != NULL);
	for (i = 0; i < n; i++) {
		if (json_is_array(js) &&
		    !ref_is_cstr(json_array_get(js, i)))
			return -1;
		c->aud[i] = strdup(json_string_value(json_is_array(js) ?
		    json_array_get(js, i) : js));
		FUZZ_CHECK(c->aud[i] != NULL);
		c->naud = i + 1;
	}
	return 0;
}

/* Parse a token by the rules token.h states, into c (free it with
 * token_claims_free() in every case). 0 or -1. */
static int
ref_peek(const char *tok, size_t len, size_t maxlen, struct token_claims *c)
{
	const char	*d1, *d2;
	json_t		*hdr = NULL, *pl = NULL;
	int		 rc = -1;

	memset(c, 0, sizeof *c);
	if (len == 0 || len > maxlen)
		return -1;
	if ((d1 = memchr(tok, '.', len)) == NULL ||
	    (d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok))) ==
	    NULL ||
	    memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - tok)) != NULL)
		return -1;
	if ((hdr = ref_json(tok, (size_t)(d1 - tok))) == NULL ||
	    (pl = ref_json(d1 + 1, (size_t)(d2 - d1 - 1))) == NULL)
		goto out;
	/* The header. */
	if (json_object_get(hdr, "alg") == NULL ||
	    ref_str(hdr, "alg", &c->alg) != 0 ||
	    ref_str(hdr, "typ", &c->typ) != 0 ||
	    ref_str(hdr, "kid", &c->kid) != 0 ||
	    json_object_get(hdr, "crit") != NULL)
		goto out;
	/* The claims. */
	if (ref_str(pl, "jti", &c->jti) != 0 ||
	    ref_str(pl, "iss", &c->iss) != 0 ||
	    ref_str(pl, "sub", &c->sub) != 0 ||
	    ref_str(pl, "sid", &c->sid) != 0 ||
	    ref_int(pl, "exp", &c->exp, &c->has_exp) != 0 ||
	    ref_int(pl, "nbf", &c->nbf, &c->has_nbf) != 0 ||
	    ref_int(pl, "iat", &c->iat, &c->has_iat) != 0 ||
	    ref_aud(pl, c) != 0)
		goto out;
	/* The signature: empty only for some casing of "none". */
	if (ref_b64(d2 + 1, len - (size_t)(d2 + 1 - tok), &c->sig,
	    &c->siglen) != 0)
		goto out;
	if (c->siglen == 0) {
		free(c->sig);
		c->sig = NULL;
		if (strcasecmp(c->alg, "none") != 0)
			goto out;
	}
	c->signed_len = (size_t)(d2 - tok);
	rc = 0;
out:
	json_decref(hdr);
	json_decref(pl);
	return rc;
}

/* Return whether two strings are both NULL or equal. */
static int
fuzz_streq(const char *a, const char *b)
{
	return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

/* Check the claims the revocation check needs are the same. */
static void
fuzz_same_core(const struct token_claims *a, const struct token_claims *b)
{
	FUZZ_CHECK(fuzz_streq(a->jti, b->jti));
	FUZZ_CHECK(fuzz_streq(a->iss, b->iss));
	FUZZ_CHECK(fuzz_streq(a->sub, b->sub));
	FUZZ_CHECK(fuzz_streq(a->sid, b->sid));
	FUZZ_CHECK(a->has_exp == b->has_exp && a->has_nbf == b->has_nbf &&
	    a->has_iat == b->has_iat);
	FUZZ_CHECK(!a->has_exp || a->exp == b->exp);
	FUZZ_CHECK(!a->has_nbf || a->nbf == b->nbf);
	FUZZ_CHECK(!a->has_iat || a->iat == b->iat);
}

/* Check two parses of a token are the same. */
static void
fuzz_same_claims(const struct token_claims *a, const struct token_claims *b)
{
	size_t	i;

	fuzz_same_core(a, b);
	FUZZ_CHECK(a->alg != NULL && fuzz_streq(a->alg, b->alg));
	FUZZ_CHECK(fuzz_streq(a->typ, b->typ));
	FUZZ_CHECK(fuzz_streq(a->kid, b->kid));
	FUZZ_CHECK(a->naud == b->naud && (a->naud == 0) == (a->aud == NULL));
	for (i = 0; i < a->naud; i++)
		FUZZ_CHECK(fuzz_streq(a->aud[i], b->aud[i]) &&
		    a->aud[i] != NULL);
	FUZZ_CHECK(a->siglen == b->siglen && (a->siglen == 0) ==
	    (a->sig == NULL));
	FUZZ_CHECK(a->siglen == 0 || memcmp(a->sig, b->sig, a->siglen) == 0);
	FUZZ_CHECK(a->signed_len == b->signed_len);
}

/* Return whether claims is all zero (what a refused token leaves). */
static int
fuzz_empty(const struct token_claims *c)
{
	static const struct token_claims	zero;

	return memcmp(c, &zero, sizeof zero) == 0;
}

/* Return whether a - b > limit, without overflow. */
static int
fuzz_diff_over(long long a, long long b, long long limit)
{
	long long	d;

	if (__builtin_sub_overflow(a, b, &d))
		return a > b;
	return d > limit;
}

/* The time checks of verify.h step 8 at now. */
static revokd_outcome_t
model_times(const struct fuzz_verifier *fv, const struct token_claims *c,
    long long now)
{
	long long	lw = fv->leeway;

	if (!c->has_exp)
		return REVOKD_MALFORMED;
	if (now - lw >= c->exp)
		return REVOKD_EXPIRED;
	if (c->has_nbf && now + lw < c->nbf)
		return REVOKD_NOT_YET_VALID;
	if (c->has_iat && c->iat > now + lw)
		return REVOKD_NOT_YET_VALID;
	return REVOKD_VALID;
}

/* The claim checks of verify.h steps 8-11 (and the max ttl) at now. */
static revokd_outcome_t
model_claims(const struct fuzz_verifier *fv, const struct token_claims *c,
    long long now)
{
	revokd_outcome_t	o;
	size_t			i;

	if ((o = model_times(fv, c, now)) != REVOKD_VALID)
		return o;
	if (fv->max_lifetime > 0 && (!c->has_iat ||
	    fuzz_diff_over(c->exp, c->iat, fv->max_lifetime)))
		return REVOKD_MALFORMED;
	if (c->exp > FUZZ_EXP_MAX || fuzz_diff_over(c->exp, now, fv->max_ttl))
		return REVOKD_MALFORMED;
	if (fv->iss != NULL && !fuzz_streq(c->iss, fv->iss))
		return REVOKD_WRONG_ISSUER;
	if (fv->aud != NULL) {
		for (i = 0; i < c->naud; i++) {
			if (strcmp(c->aud[i], fv->aud) == 0)
				break;
		}
		if (i == c->naud)
			return REVOKD_WRONG_AUDIENCE;
	}
	if (c->jti == NULL || c->jti[0] == '\0')
		return REVOKD_MISSING_JTI;
	if (strlen(c->jti) > FUZZ_JTI_MAX)
		return REVOKD_MALFORMED;
	return REVOKD_VALID;
}

/* Return the key the verifier must use for kid, or NULL (step 5). */
static const struct fuzz_key *
model_key(const struct fuzz_verifier *fv, const char *kid)
{
	const struct fuzz_key	*nokid = NULL;
	size_t			 i, nkid = 0;

	for (i = 0; i < fv->nkeys; i++) {
		if (fv->keys[i].kid == NULL) {
			nokid = &fv->keys[i];
			continue;
		}
		nkid++;
		if (kid != NULL && strcmp(kid, fv->keys[i].kid) == 0)
			return &fv->keys[i];
	}
	/* A set of nothing but the no-kid key uses it whatever the kid. */
	return kid == NULL || nkid == 0 ? nokid : NULL;
}

/* Return whether typ is absent or accepted (step 6). */
static int
model_typ_ok(const struct fuzz_verifier *fv, const char *typ)
{
	size_t	i;

	if (typ == NULL)
		return 1;
	if (strncasecmp(typ, "application/", 12) == 0)
		typ += 12;
	for (i = 0; i < FUZZ_TYPS_MAX; i++) {
		if (fv->accept[i] != NULL &&
		    strcasecmp(typ, fv->accept[i]) == 0)
			return 1;
	}
	return 0;
}

/*
 * The outcome verify.h says verify_token_at() gives, without the cache.
 * peeked is what token_peek() gave at the verifier's limit (NULL: it
 * refused the token; its own correctness is checked apart); pkey_ok is the
 * library's answer on an RS256/ES256 signature, not recomputed here.
 */
static revokd_outcome_t
model_verify(const struct fuzz_verifier *fv, const char *tok, size_t len,
    long long now, const struct token_claims *peeked, int pkey_ok)
{
	const struct fuzz_key	*k;
	unsigned char		 mac[EVP_MAX_MD_SIZE];
	unsigned int		 maclen = 0;

	if (len == 0 || len > fv->maxlen)
		return REVOKD_MALFORMED;
	if (fv->nkeys == 0)
		return REVOKD_BAD_SIGNATURE;
	if (peeked == NULL)
		return REVOKD_MALFORMED;
	if ((k = model_key(fv, peeked->kid)) == NULL)
		return REVOKD_UNKNOWN_KEY;
	if (strcmp(peeked->alg, k->alg) != 0)
		return REVOKD_WRONG_ALGORITHM;
	if (!model_typ_ok(fv, peeked->typ))
		return REVOKD_MALFORMED;
	if (k->secret != NULL) {
		FUZZ_CHECK(HMAC(EVP_sha256(), k->secret, (int)strlen(k->secret),
		    (const unsigned char *)tok, peeked->signed_len, mac,
		    &maclen) != NULL && maclen == FUZZ_HS_SIGLEN);
		if (peeked->siglen != maclen ||
		    memcmp(peeked->sig, mac, maclen) != 0)
			return REVOKD_BAD_SIGNATURE;
	} else if (!pkey_ok)
		return REVOKD_BAD_SIGNATURE;
	else
		FUZZ_CHECK(peeked->siglen == (k->alg[0] == 'R' ?
		    FUZZ_RS_SIGLEN : FUZZ_ES_SIGLEN));
	return model_claims(fv, peeked, now);
}

/* Return whether the cache keeps the claims of a verified token. */
static int
fuzz_cacheable(const struct token_claims *c)
{
	const char	*s[4] = { c->jti, c->iss, c->sub, c->sid };
	size_t		 i, n = 0;

	for (i = 0; i < 4; i++)
		n += s[i] != NULL ? strlen(s[i]) : 0;
	return n <= FUZZ_CACHE_STR;
}

/* Verify tok at now and check the outcome is *want, or what the model
 * says when want is NULL; return it. The first call sets *pkey_ok. */
static revokd_outcome_t
fuzz_verify_at(const struct fuzz_verifier *fv, const char *tok, size_t len,
    long long now, const struct token_claims *peeked, int *pkey_ok,
    const revokd_outcome_t *want, struct token_claims *c)
{
	revokd_outcome_t	o, w;

	o = verify_token_at(fv->v, tok, len, now, c);
	if (*pkey_ok < 0)
		*pkey_ok = o != REVOKD_BAD_SIGNATURE;
	w = want != NULL ? *want :
	    model_verify(fv, tok, len, now, peeked, *pkey_ok);
	if (o != w) {
		fprintf(stderr, "outcome %s, expected %s\n",
		    revokd_outcome_str(o), revokd_outcome_str(w));
		FUZZ_CHECK(o == w);
	}
	if (o != REVOKD_VALID)
		FUZZ_CHECK(fuzz_empty(c));
	return o;
}

/* Run tok through the parser, the verifier fv and its cache. */
static void
fuzz_token(struct fuzz_verifier *fv, const char *tok, size_t len,
    long long now, long long now2)
{
	static const revokd_outcome_t valid = REVOKD_VALID;
	struct token_claims	 peeked, ref, c, c2;
	revokd_outcome_t	 o;
	unsigned long		 hits, misses, hits2, misses2;
	char			 err[128];
	size_t			 at, end, n;
	int			 rp, rr, hit, pkey_ok = -1;
	long long		 t0, t1;

	/* Each segment, and the whole token, through the decoder. */
	fuzz_check_b64(tok, len);
	for (at = 0, n = 0; n < 3 && at <= len; n++, at = end + 1) {
		for (end = at; end < len && tok[end] != '.'; end++)
			;
		fuzz_check_b64(tok + at, end - at);
	}

	/* One byte under the limit: refused before anything is decoded. */
	if (len > 0) {
		FUZZ_CHECK(token_peek(tok, len, len - 1, &c, err,
		    sizeof err) == -1);
		FUZZ_CHECK(strcmp(err, "token too long") == 0 &&
		    fuzz_empty(&c));
	}
	/* The parser against the reference. */
	rp = token_peek(tok, len, fv->maxlen, &peeked, err, sizeof err);
	rr = ref_peek(tok, len, fv->maxlen, &ref);
	if (rp != rr) {
		fprintf(stderr, "token_peek %d (%s), reference %d\n", rp, err,
		    rr);
		FUZZ_CHECK(rp == rr);
	}
	if (rp == 0) {
		fuzz_same_claims(&peeked, &ref);
		FUZZ_CHECK(len <= fv->maxlen && tok[peeked.signed_len] == '.');
	} else
		FUZZ_CHECK(err[0] != '\0');
	token_claims_free(&ref);

	/* The verifier at now, from an empty cache. */
	if (fv->cache > 0)
		FUZZ_CHECK(revokd_verifier_set_cache(fv->v, fv->cache) == 0);
	o = fuzz_verify_at(fv, tok, len, now, rp == 0 ? &peeked : NULL,
	    &pkey_ok, NULL, &c);
	if (o == REVOKD_VALID) {
		fuzz_same_claims(&c, &peeked);
		FUZZ_CHECK(strcasecmp(c.alg, "none") != 0 && c.siglen > 0);
	}

	/* The same bytes again: the same outcome, from the cache if the
	 * claims were kept. */
	verify_cache_stats(fv->v, &hits, &misses);
	fuzz_verify_at(fv, tok, len, now, rp == 0 ? &peeked : NULL,
	    &pkey_ok, &o, &c2);
	verify_cache_stats(fv->v, &hits2, &misses2);
	if (o == REVOKD_VALID && fv->cache > 0 && fuzz_cacheable(&c)) {
		FUZZ_CHECK(hits2 == hits + 1 && misses2 == misses);
		fuzz_same_core(&c2, &c);
		FUZZ_CHECK(c2.alg == NULL && c2.typ == NULL &&
		    c2.kid == NULL && c2.naud == 0);
	} else if (len > 0 && len <= fv->maxlen)
		FUZZ_CHECK(hits2 == hits && misses2 == misses + 1);
	else
		FUZZ_CHECK(hits2 == hits && misses2 == misses);
	token_claims_free(&c2);

	/* Another time: a kept token whose times still hold is VALID from
	 * the cache (verify.h step 2), anything else is verified again. */
	hit = o == REVOKD_VALID && fv->cache > 0 && fuzz_cacheable(&c) &&
	    model_times(fv, &c, now2) == REVOKD_VALID;
	token_claims_free(&c);
	fuzz_verify_at(fv, tok, len, now2, rp == 0 ? &peeked : NULL,
	    &pkey_ok, hit ? &valid : NULL, &c);
	token_claims_free(&c);

	/* The public call at the real time, from an empty cache. */
	if (fv->cache > 0)
		FUZZ_CHECK(revokd_verifier_set_cache(fv->v, fv->cache) == 0);
	t0 = (long long)time(NULL);
	o = revokd_verify(fv->v, tok, len);
	t1 = (long long)time(NULL);
	if (t0 == t1)
		FUZZ_CHECK(o == model_verify(fv, tok, len, t0,
		    rp == 0 ? &peeked : NULL, pkey_ok));
	token_claims_free(&peeked);
}

/* Split s at the first '\n' into s[0, *n) and the rest at *next. */
static void
fuzz_split(const char *s, size_t len, size_t *n, const char **next,
    size_t *nextlen)
{
	const char	*nl = memchr(s, '\n', len);

	*n = nl != NULL ? (size_t)(nl - s) : len;
	*next = nl != NULL ? nl + 1 : s + len;
	*nextlen = len - (size_t)(*next - s);
}

/* Make the token of form 1, 2 or 3 from s into a new buffer of *len
 * bytes (exactly: the sanitizers see any overread). */
static char *
fuzz_make(int form, const char *secret, const char *s, size_t slen,
    size_t *len)
{
	const char	*hdr, *pl, *sig;
	size_t		 hlen, pllen, siglen, rest;
	unsigned char	 mac[EVP_MAX_MD_SIZE];
	unsigned int	 maclen = 0;
	char		*tok, *o;

	FUZZ_CHECK((tok = malloc(slen / 3 * 4 + 8 + 1 + 48)) != NULL);
	o = tok;
	if (form == 1) {
		memcpy(o, s, slen);
		o += slen;
	} else {
		hdr = s;
		fuzz_split(hdr, slen, &hlen, &pl, &rest);
		if (form == 2) {
			pllen = rest;
			sig = NULL;
			siglen = 0;
		} else
			fuzz_split(pl, rest, &pllen, &sig, &siglen);
		fuzz_b64_encode(&o, hdr, hlen);
		*o++ = '.';
		fuzz_b64_encode(&o, pl, pllen);
		if (form == 3) {
			*o++ = '.';
			fuzz_b64_encode(&o, sig, siglen);
		}
	}
	if (form != 3) {
		FUZZ_CHECK(HMAC(EVP_sha256(), secret, (int)strlen(secret),
		    (const unsigned char *)tok, (size_t)(o - tok), mac,
		    &maclen) != NULL);
		*o++ = '.';
		fuzz_b64_encode(&o, mac, maclen);
	}
	*len = (size_t)(o - tok);
	/* Move it into a buffer of its exact size. */
	FUZZ_CHECK((o = malloc(*len > 0 ? *len : 1)) != NULL);
	memcpy(o, tok, *len);
	free(tok);
	return o;
}

/* Run one input. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_verifier	*fv;
	const char		*s = (const char *)data + 1;
	char			*tok;
	size_t			 len;
	int			 form, t;

	if (size < 1)
		return 0;
	fuzz_setup();
	fv = &fuzz_verifiers[data[0] & 3];
	form = (data[0] >> 2) & 3;
	t = (data[0] >> 4) & 7;
	if (form == 0)
		fuzz_token(fv, s, size - 1, fuzz_times[t],
		    fuzz_times[(t + 3) & 7]);
	else {
		tok = fuzz_make(form, data[0] & 0x80 ? FUZZ_SECRET2 :
		    FUZZ_SECRET, s, size - 1, &len);
		fuzz_token(fv, tok, len, fuzz_times[t],
		    fuzz_times[(t + 3) & 7]);
		free(tok);
	}
	return 0;
}
