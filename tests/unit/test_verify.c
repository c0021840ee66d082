/*
 * Unit tests of token_peek() and the verifier: valid tokens of each
 * algorithm (minted with libjwt and by hand with OpenSSL), and the hostile
 * ones (alg none, key confusion, tampering, bad base64url, odd JSON, bad
 * claim types, huge tokens), PyJWT interop for all nine algorithms, key
 * sets (key directory, JWK Set built from the generated keys, rotation by
 * reload), the verified-token cache and the policy knobs. Keys are
 * generated at start; none is stored.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "revokd.h"
#include "token.h"
#include "verify.h"

/* An HMAC secret long enough for HS512 (64 bytes), alphanumeric. */
#define SECRET	"k3yForHmacTests0123456789abcdefgh" \
		"ijklmnopqrstuvwxyzABCDEFGHIJKLM"
/* Another secret of the same length. */
#define SECRET2	"0therHmacSecret0123456789abcdefgh" \
		"ijklmnopqrstuvwxyzABCDEFGHIJKLM"

/* A generated key pair and its PEM forms. */
struct test_key {
	EVP_PKEY	*pkey;		/* the key pair */
	char		*pub;		/* PEM public key */
	char		*priv;		/* PEM private key (PKCS#8) */
};

static struct test_key	rsa;		/* RSA-2048 */
static struct test_key	rsa_other;	/* a second RSA-2048 */
static struct test_key	rsa_small;	/* RSA-1024, too small */
static struct test_key	ec256;		/* P-256 */
static struct test_key	ec256_other;	/* a second P-256 */
static struct test_key	ec384;		/* P-384 */
static struct test_key	ec521;		/* P-521 */

/* The nine algorithms in the order of the loop tests. */
static const char *const algs[] = {
	"HS256", "HS384", "HS512", "RS256", "RS384", "RS512",
	"ES256", "ES384", "ES512"
};

/* Return a heap copy of the contents of a memory BIO. */
static char *
bio_str(BIO *bio)
{
	char	*data, *s;
	long	 n;

	n = BIO_get_mem_data(bio, &data);
	/* Called from main(), outside any test: no ck_assert here. */
	if (n < 0 || (s = malloc((size_t)n + 1)) == NULL) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	return s;
}

/* Generate a key with OpenSSL 3 and keep its PEM forms. */
static void
key_gen(struct test_key *k, const char *type, const char *curve,
    size_t bits)
{
	BIO	*bio;

	if (curve != NULL)
		k->pkey = EVP_PKEY_Q_keygen(NULL, NULL, type, curve);
	else
		k->pkey = EVP_PKEY_Q_keygen(NULL, NULL, type, bits);
	if (k->pkey == NULL) {
		fprintf(stderr, "key generation failed\n");
		exit(1);
	}
	bio = BIO_new(BIO_s_mem());
	PEM_write_bio_PUBKEY(bio, k->pkey);
	k->pub = bio_str(bio);
	BIO_free(bio);
	bio = BIO_new(BIO_s_mem());
	PEM_write_bio_PrivateKey(bio, k->pkey, NULL, NULL, 0, NULL, NULL);
	k->priv = bio_str(bio);
	BIO_free(bio);
}

/* Free a generated key. */
static void
key_free(struct test_key *k)
{
	EVP_PKEY_free(k->pkey);
	free(k->pub);
	free(k->priv);
}

/* Return the key pair used for an RS or ES algorithm. */
static struct test_key *
key_of(const char *alg)
{
	if (alg[0] == 'R')
		return &rsa;
	if (strcmp(alg, "ES256") == 0)
		return &ec256;
	if (strcmp(alg, "ES384") == 0)
		return &ec384;
	return &ec521;
}

/* Return the OpenSSL digest of an algorithm name. */
static const EVP_MD *
md_of(const char *alg)
{
	if (strcmp(alg + 2, "256") == 0)
		return EVP_sha256();
	if (strcmp(alg + 2, "384") == 0)
		return EVP_sha384();
	return EVP_sha512();
}

/* Encode bytes as unpadded base64url into a new string. */
static char *
b64url(const void *data, size_t len)
{
	static const char	 abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char	*p = data;
	char			*out, *o;
	size_t			 i;
	uint32_t		 v;

	out = o = malloc(len / 3 * 4 + 5);
	ck_assert_ptr_nonnull(out);
	for (i = 0; i + 2 < len; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = abc[v >> 18 & 63];
		*o++ = abc[v >> 12 & 63];
		*o++ = abc[v >> 6 & 63];
		*o++ = abc[v & 63];
	}
	if (len - i == 1) {
		v = (uint32_t)p[i] << 16;
		*o++ = abc[v >> 18 & 63];
		*o++ = abc[v >> 12 & 63];
	} else if (len - i == 2) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		*o++ = abc[v >> 18 & 63];
		*o++ = abc[v >> 12 & 63];
		*o++ = abc[v >> 6 & 63];
	}
	*o = '\0';
	return out;
}

/* Sign input as alg with key (secret for HS, key pair otherwise). */
static unsigned char *
sign_raw(const char *alg, const void *secret, size_t secretlen,
    EVP_PKEY *pkey, const char *input, size_t *siglen)
{
	EVP_MD_CTX		*ctx;
	unsigned char		*sig, *der;
	const unsigned char	*p;
	ECDSA_SIG		*es;
	size_t			 derlen, field;
	unsigned int		 maclen;

	if (alg[0] == 'H') {
		sig = malloc(EVP_MAX_MD_SIZE);
		ck_assert_ptr_nonnull(HMAC(md_of(alg), secret, (int)secretlen,
		    (const unsigned char *)input, strlen(input), sig,
		    &maclen));
		*siglen = maclen;
		return sig;
	}
	ctx = EVP_MD_CTX_new();
	ck_assert_int_eq(EVP_DigestSignInit(ctx, NULL, md_of(alg), NULL,
	    pkey), 1);
	ck_assert_int_eq(EVP_DigestSign(ctx, NULL, &derlen,
	    (const unsigned char *)input, strlen(input)), 1);
	der = malloc(derlen);
	ck_assert_int_eq(EVP_DigestSign(ctx, der, &derlen,
	    (const unsigned char *)input, strlen(input)), 1);
	EVP_MD_CTX_free(ctx);
	if (alg[0] == 'R') {
		*siglen = derlen;
		return der;
	}
	/* ECDSA: DER SEQUENCE { r, s } to the JOSE r||s form. */
	field = strcmp(alg, "ES256") == 0 ? 32 :
	    strcmp(alg, "ES384") == 0 ? 48 : 66;
	p = der;
	es = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
	ck_assert_ptr_nonnull(es);
	sig = malloc(2 * field);
	ck_assert_int_eq(BN_bn2binpad(ECDSA_SIG_get0_r(es), sig,
	    (int)field), (int)field);
	ck_assert_int_eq(BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + field,
	    (int)field), (int)field);
	ECDSA_SIG_free(es);
	free(der);
	*siglen = 2 * field;
	return sig;
}

/* Build header.payload.signature by hand; sigalg NULL: empty signature. */
static char *
hand_token_key(const char *header, const char *payload, const char *sigalg,
    const void *secret, size_t secretlen, EVP_PKEY *pkey)
{
	char		*h, *p, *s, *input, *tok;
	unsigned char	*sig;
	size_t		 siglen, n;

	h = b64url(header, strlen(header));
	p = b64url(payload, strlen(payload));
	n = strlen(h) + strlen(p) + 2;
	input = malloc(n);
	snprintf(input, n, "%s.%s", h, p);
	if (sigalg != NULL) {
		sig = sign_raw(sigalg, secret, secretlen, pkey, input,
		    &siglen);
		s = b64url(sig, siglen);
		free(sig);
	} else
		s = strdup("");
	n = strlen(input) + strlen(s) + 2;
	tok = malloc(n);
	snprintf(tok, n, "%s.%s", input, s);
	free(h);
	free(p);
	free(s);
	free(input);
	return tok;
}

/* Build a token signed as sigalg with the test key of that algorithm. */
static char *
hand_token(const char *header, const char *payload, const char *sigalg)
{
	if (sigalg == NULL || sigalg[0] == 'H')
		return hand_token_key(header, payload, sigalg, SECRET,
		    strlen(SECRET), NULL);
	return hand_token_key(header, payload, sigalg, NULL, 0,
	    key_of(sigalg)->pkey);
}

/* Return a JSON header {"alg":alg,"typ":"JWT"} in a static buffer. */
static const char *
hdr(const char *alg)
{
	static char	buf[128];

	snprintf(buf, sizeof buf, "{\"alg\":\"%s\",\"typ\":\"JWT\"}", alg);
	return buf;
}

/* Return a payload with jti and exp = now + exp_off in a static buffer. */
static const char *
payload_exp(long long exp_off)
{
	static char	buf[128];

	snprintf(buf, sizeof buf, "{\"jti\":\"t-1\",\"exp\":%lld}",
	    (long long)time(NULL) + exp_off);
	return buf;
}

/* Mint a token with libjwt from a JSON object of grants. */
static char *
mint(const char *alg, const char *grants)
{
	jwt_t		*jwt;
	const char	*key;
	char		*tok;

	ck_assert_int_eq(jwt_new(&jwt), 0);
	ck_assert_int_eq(jwt_add_grants_json(jwt, grants), 0);
	key = alg[0] == 'H' ? SECRET : key_of(alg)->priv;
	ck_assert_int_eq(jwt_set_alg(jwt, jwt_str_alg(alg),
	    (const unsigned char *)key, (int)strlen(key)), 0);
	tok = jwt_encode_str(jwt);
	ck_assert_ptr_nonnull(tok);
	jwt_free(jwt);
	return tok;
}

/* Create a verifier pinned to alg with its test key. */
static revokd_verifier_t *
verifier_for(const char *alg)
{
	revokd_verifier_t	*v;
	const char		*key;

	v = revokd_verifier_new();
	ck_assert_ptr_nonnull(v);
	key = alg[0] == 'H' ? SECRET : key_of(alg)->pub;
	ck_assert_msg(revokd_verifier_set_key(v, alg,
	    (const unsigned char *)key, strlen(key)) == 0, "%s: %s", alg,
	    revokd_verifier_errstr(v));
	return v;
}

/* Verify token with a fresh verifier pinned to alg. */
static revokd_outcome_t
check_tok(const char *alg, const char *token)
{
	revokd_verifier_t	*v = verifier_for(alg);
	revokd_outcome_t	 o;

	o = revokd_verify(v, token, strlen(token));
	revokd_verifier_free(v);
	return o;
}

/* Assert that token verifies as want under alg, then free it. */
#define ck_outcome(alg, token, want) do {				\
	char *tok_ = (token);						\
	revokd_outcome_t got_ = check_tok((alg), tok_);			\
	ck_assert_msg(got_ == (want), "%s:%d: got %s, want %s",		\
	    __FILE__, __LINE__, revokd_outcome_str(got_),		\
	    revokd_outcome_str(want));					\
	free(tok_);							\
} while (0)

/* --- Algorithms ------------------------------------------------------ */

/* Each algorithm verifies a libjwt-minted token and fills claims. */
START_TEST(test_alg_valid_libjwt)
{
	const char		*alg = algs[_i];
	char			 grants[256], *tok;
	revokd_verifier_t	*v;
	struct token_claims	 c;

	snprintf(grants, sizeof grants, "{\"jti\":\"j-%d\",\"exp\":%lld,"
	    "\"iss\":\"https://issuer\",\"sub\":\"alice\",\"sid\":\"s1\","
	    "\"aud\":[\"a\",\"b\"],\"iat\":%lld}", _i,
	    (long long)time(NULL) + 600, (long long)time(NULL));
	tok = mint(alg, grants);
	v = verifier_for(alg);
	ck_assert_int_eq(verify_token(v, tok, strlen(tok), &c),
	    REVOKD_VALID);
	ck_assert_str_eq(c.alg, alg);
	ck_assert_str_eq(c.iss, "https://issuer");
	ck_assert_str_eq(c.sub, "alice");
	ck_assert_str_eq(c.sid, "s1");
	ck_assert_uint_eq(c.naud, 2);
	ck_assert_str_eq(c.aud[1], "b");
	ck_assert_int_eq(c.has_iat, 1);
	ck_assert_int_eq(c.has_nbf, 0);
	token_claims_free(&c);
	ck_assert_int_eq(revokd_verify(v, tok, strlen(tok)), REVOKD_VALID);
	revokd_verifier_free(v);
	free(tok);
}
END_TEST

/* Each algorithm verifies a token signed by hand with OpenSSL. */
START_TEST(test_alg_valid_hand)
{
	const char	*alg = algs[_i];

	ck_outcome(alg, hand_token(hdr(alg), payload_exp(600), alg),
	    REVOKD_VALID);
}
END_TEST

/* A changed payload under the original signature is refused. */
START_TEST(test_alg_tampered_payload)
{
	const char	*alg = algs[_i];
	char		*tok, *other, *d1, *d2, *o1, *o2, *mixed;
	size_t		 n;

	tok = hand_token(hdr(alg), payload_exp(600), alg);
	other = hand_token(hdr(alg), payload_exp(7200), alg);
	d1 = strchr(tok, '.');
	d2 = strchr(d1 + 1, '.');
	o1 = strchr(other, '.');
	o2 = strchr(o1 + 1, '.');
	/* header of tok, payload of other, signature of tok */
	n = strlen(tok) + strlen(other);
	mixed = malloc(n);
	snprintf(mixed, n, "%.*s%.*s%s", (int)(d1 - tok), tok,
	    (int)(o2 - o1), o1, d2);
	free(tok);
	free(other);
	ck_outcome(alg, mixed, REVOKD_BAD_SIGNATURE);
}
END_TEST

/* A changed signature byte is refused. */
START_TEST(test_alg_tampered_signature)
{
	const char	*alg = algs[_i];
	char		*tok, *s;

	tok = hand_token(hdr(alg), payload_exp(600), alg);
	s = strrchr(tok, '.') + 5;
	*s = *s == 'A' ? 'B' : 'A';
	ck_outcome(alg, tok, REVOKD_BAD_SIGNATURE);
}
END_TEST

/* A signature made with another key of the same type is refused. */
START_TEST(test_alg_other_key)
{
	const char	*alg = algs[_i];
	char		*tok;

	if (alg[0] == 'H')
		tok = hand_token_key(hdr(alg), payload_exp(600), alg,
		    SECRET2, strlen(SECRET2), NULL);
	else if (alg[0] == 'R')
		tok = hand_token_key(hdr(alg), payload_exp(600), alg, NULL, 0,
		    rsa_other.pkey);
	else if (strcmp(alg, "ES256") == 0)
		tok = hand_token_key(hdr(alg), payload_exp(600), alg, NULL, 0,
		    ec256_other.pkey);
	else
		return;		/* one other EC key is enough */
	ck_outcome(alg, tok, REVOKD_BAD_SIGNATURE);
}
END_TEST

/* An empty signature is malformed for a real algorithm. */
START_TEST(test_alg_empty_signature)
{
	const char	*alg = algs[_i];

	ck_outcome(alg, hand_token(hdr(alg), payload_exp(600), NULL),
	    REVOKD_MALFORMED);
}
END_TEST

/* ES signatures of the wrong length are refused, not padded. */
START_TEST(test_es_signature_length)
{
	char		*h, *p, input[512], tok[1024], *s;
	unsigned char	*sig, longer[65];
	size_t		 siglen;

	h = b64url(hdr("ES256"), strlen(hdr("ES256")));
	p = b64url(payload_exp(600), strlen(payload_exp(600)));
	snprintf(input, sizeof input, "%s.%s", h, p);
	sig = sign_raw("ES256", NULL, 0, ec256.pkey, input, &siglen);
	ck_assert_uint_eq(siglen, 64);
	/* r||s with one byte dropped */
	s = b64url(sig, 63);
	snprintf(tok, sizeof tok, "%s.%s", input, s);
	free(s);
	ck_assert_int_eq(check_tok("ES256", tok), REVOKD_BAD_SIGNATURE);
	/* r||s with a zero byte in front */
	longer[0] = 0;
	memcpy(longer + 1, sig, 64);
	s = b64url(longer, 65);
	snprintf(tok, sizeof tok, "%s.%s", input, s);
	free(s);
	ck_assert_int_eq(check_tok("ES256", tok), REVOKD_BAD_SIGNATURE);
	/* r||s with a byte appended */
	memcpy(longer, sig, 64);
	longer[64] = 0;
	s = b64url(longer, 65);
	snprintf(tok, sizeof tok, "%s.%s", input, s);
	free(s);
	ck_assert_int_eq(check_tok("ES256", tok), REVOKD_BAD_SIGNATURE);
	/* the right length verifies */
	s = b64url(sig, 64);
	snprintf(tok, sizeof tok, "%s.%s", input, s);
	free(s);
	ck_assert_int_eq(check_tok("ES256", tok), REVOKD_VALID);
	free(sig);
	free(h);
	free(p);
}
END_TEST

/* --- Algorithm confusion -------------------------------------------- */

/* alg none in any casing, with or without a signature, is refused. */
START_TEST(test_alg_none)
{
	static const char *const nones[] = { "none", "None", "NONE",
	    "nOnE" };
	const char	*pinned[] = { "HS256", "RS256", "ES256" };
	char		 header[64], *tok;
	size_t		 i, j;

	for (i = 0; i < 4; i++) {
		snprintf(header, sizeof header, "{\"alg\":\"%s\"}", nones[i]);
		for (j = 0; j < 3; j++) {
			/* without a signature */
			ck_outcome(pinned[j], hand_token(header,
			    payload_exp(600), NULL), REVOKD_WRONG_ALGORITHM);
			/* with an HS256 signature over the same input */
			tok = hand_token(header, payload_exp(600), "HS256");
			ck_outcome(pinned[j], tok, REVOKD_WRONG_ALGORITHM);
		}
	}
}
END_TEST

/* An HS256 token keyed with the RSA public key PEM is refused. */
START_TEST(test_key_confusion)
{
	revokd_verifier_t	*v;
	char			*tok;

	tok = hand_token_key(hdr("HS256"), payload_exp(600), "HS256",
	    rsa.pub, strlen(rsa.pub), NULL);
	ck_outcome("RS256", tok, REVOKD_WRONG_ALGORITHM);
	v = revokd_verifier_new();
	ck_assert_int_eq(revokd_verifier_set_key(v, "HS256",
	    (const unsigned char *)rsa.pub, strlen(rsa.pub)), -1);
	ck_assert_ptr_nonnull(strstr(revokd_verifier_errstr(v), "PEM"));
	ck_assert_int_eq(revokd_verifier_set_key(v, "HS512",
	    (const unsigned char *)ec521.pub, strlen(ec521.pub)), -1);
	/* a failed set_key leaves the verifier refusing everything */
	tok = hand_token_key(hdr("HS256"), payload_exp(600), "HS256",
	    rsa.pub, strlen(rsa.pub), NULL);
	ck_assert_int_eq(revokd_verify(v, tok, strlen(tok)),
	    REVOKD_BAD_SIGNATURE);
	free(tok);
	revokd_verifier_free(v);
}
END_TEST

/* A token of another algorithm, or another casing, is refused. */
START_TEST(test_wrong_alg)
{
	ck_outcome("HS256", hand_token(hdr("HS384"), payload_exp(600),
	    "HS384"), REVOKD_WRONG_ALGORITHM);
	ck_outcome("HS256", hand_token(hdr("hs256"), payload_exp(600),
	    "HS256"), REVOKD_WRONG_ALGORITHM);
	ck_outcome("RS256", hand_token(hdr("RS512"), payload_exp(600),
	    "RS512"), REVOKD_WRONG_ALGORITHM);
	ck_outcome("ES256", hand_token(hdr("ES384"), payload_exp(600),
	    "ES384"), REVOKD_WRONG_ALGORITHM);
	ck_outcome("RS256", hand_token(hdr("PS256"), payload_exp(600),
	    "RS256"), REVOKD_WRONG_ALGORITHM);
	/* wrong algorithm wins over a later failure (expired) */
	ck_outcome("HS256", hand_token(hdr("HS384"), payload_exp(-3600),
	    "HS384"), REVOKD_WRONG_ALGORITHM);
}
END_TEST

/* --- Time claims ----------------------------------------------------- */

/* Return an HS256 token over payload. */
static char *
hs(const char *payload)
{
	return hand_token(hdr("HS256"), payload, "HS256");
}

/* exp in the past beyond the leeway is expired; within it, valid. */
/* exp further ahead than the daemon's max-ttl (so unrevocable) is refused;
 * the limit follows revokd_verifier_set_max_ttl(). */
START_TEST(test_max_ttl)
{
	revokd_verifier_t	*v = verifier_for("HS256");
	struct token_claims	 c;
	char			*tok;

	tok = hs("{\"jti\":\"a\",\"exp\":2592000}");
	ck_assert_int_eq(verify_token_at(v, tok, strlen(tok), 0, &c),
	    REVOKD_VALID);
	token_claims_free(&c);
	free(tok);
	tok = hs("{\"jti\":\"a\",\"exp\":2592001}");
	ck_assert_int_eq(verify_token_at(v, tok, strlen(tok), 0, &c),
	    REVOKD_MALFORMED);
	token_claims_free(&c);
	ck_assert_int_eq(revokd_verifier_set_max_ttl(v, 2592001), 0);
	ck_assert_int_eq(verify_token_at(v, tok, strlen(tok), 0, &c),
	    REVOKD_VALID);
	token_claims_free(&c);
	free(tok);
	/* Past 32-bit time the daemon cannot hold it, whatever the limit. */
	ck_assert_int_eq(revokd_verifier_set_max_ttl(v, 4294967295LL), 0);
	tok = hs("{\"jti\":\"a\",\"exp\":4294967296}");
	ck_assert_int_eq(verify_token_at(v, tok, strlen(tok), 1, &c),
	    REVOKD_MALFORMED);
	token_claims_free(&c);
	free(tok);
	ck_assert_int_eq(revokd_verifier_set_max_ttl(v, 0), -1);
	revokd_verifier_free(v);
}
END_TEST

/* An RSA public key with e = 1 would make "verification" a comparison
 * anyone can satisfy: refused at load, as a PEM and in a key dir. */
START_TEST(test_rsa_e1_refused)
{
	OSSL_PARAM_BLD		*bld;
	OSSL_PARAM		*params;
	EVP_PKEY_CTX		*ctx;
	EVP_PKEY		*pkey = NULL;
	BIGNUM			*n, *e;
	BIO			*bio;
	char			*pem, dir[] = "/tmp/revokd-e1.XXXXXX", path[64];
	long			 len;
	revokd_verifier_t	*v = revokd_verifier_new();
	FILE			*f;

	n = BN_new();
	e = BN_new();
	ck_assert(BN_rand(n, 2048, BN_RAND_TOP_TWO, BN_RAND_BOTTOM_ODD));
	ck_assert(BN_set_word(e, 1));
	bld = OSSL_PARAM_BLD_new();
	ck_assert(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n));
	ck_assert(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e));
	params = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	ck_assert_int_eq(EVP_PKEY_fromdata_init(ctx), 1);
	ck_assert_int_eq(EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY,
	    params), 1);
	bio = BIO_new(BIO_s_mem());
	ck_assert_int_eq(PEM_write_bio_PUBKEY(bio, pkey), 1);
	len = BIO_get_mem_data(bio, &pem);

	ck_assert_int_eq(revokd_verifier_set_key(v, "RS256",
	    (const unsigned char *)pem, (size_t)len), -1);
	ck_assert_ptr_nonnull(strstr(revokd_verifier_errstr(v),
	    "validation"));
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/k1.RS256.pem", dir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	ck_assert_int_eq(fwrite(pem, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	ck_assert_int_eq(revokd_verifier_load_key_dir(v, dir), -1);
	unlink(path);
	rmdir(dir);

	BIO_free(bio);
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	revokd_verifier_free(v);
}
END_TEST

START_TEST(test_exp)
{
	revokd_verifier_t	*v;
	struct token_claims	 c;
	char			*tok;

	ck_outcome("HS256", hs(payload_exp(-3600)), REVOKD_EXPIRED);
	ck_outcome("HS256", hs(payload_exp(-10)), REVOKD_VALID);
	/* exact boundaries with a fixed clock: expired at exp + leeway */
	v = verifier_for("HS256");
	tok = hs("{\"jti\":\"a\",\"exp\":1000}");
	ck_assert_int_eq(verify_token_at(v, tok, strlen(tok), 1029, &c),
	    REVOKD_VALID);
	token_claims_free(&c);
	ck_assert_int_eq(verify_token_at(v, tok, strlen(tok), 1030, &c),
	    REVOKD_EXPIRED);
	ck_assert_ptr_null(c.jti);	/* refused: claims emptied */
	token_claims_free(&c);
	ck_assert_int_eq(revokd_verifier_set_leeway(v, 0), 0);
	ck_assert_int_eq(verify_token_at(v, tok, strlen(tok), 999, &c),
	    REVOKD_VALID);
	token_claims_free(&c);
	ck_assert_int_eq(verify_token_at(v, tok, strlen(tok), 1000, &c),
	    REVOKD_EXPIRED);
	token_claims_free(&c);
	ck_assert_int_eq(revokd_verifier_set_leeway(v, 300), 0);
	ck_assert_int_eq(revokd_verifier_set_leeway(v, 301), -1);
	free(tok);
	/* an absurd exp overflows nothing, and a token that far out could
	 * never be revoked: refused */
	tok = hs("{\"jti\":\"a\",\"exp\":9223372036854775807}");
	ck_assert_int_eq(revokd_verify(v, tok, strlen(tok)), REVOKD_MALFORMED);
	free(tok);
	tok = hs("{\"jti\":\"a\",\"exp\":-9223372036854775807}");
	ck_assert_int_eq(revokd_verify(v, tok, strlen(tok)), REVOKD_EXPIRED);
	free(tok);
	revokd_verifier_free(v);
}
END_TEST

/* nbf in the future is refused; within the leeway it is accepted. */
START_TEST(test_nbf)
{
	char		buf[128];
	long long	now = (long long)time(NULL);

	snprintf(buf, sizeof buf, "{\"jti\":\"a\",\"exp\":%lld,\"nbf\":%lld}",
	    now + 7200, now + 3600);
	ck_outcome("HS256", hs(buf), REVOKD_NOT_YET_VALID);
	snprintf(buf, sizeof buf, "{\"jti\":\"a\",\"exp\":%lld,\"nbf\":%lld}",
	    now + 7200, now + 10);
	ck_outcome("HS256", hs(buf), REVOKD_VALID);
	snprintf(buf, sizeof buf, "{\"jti\":\"a\",\"exp\":%lld,\"nbf\":%lld}",
	    now + 7200, now - 10);
	ck_outcome("HS256", hs(buf), REVOKD_VALID);
}
END_TEST

/* iat in the future beyond the leeway is refused. */
START_TEST(test_iat)
{
	char		buf[128];
	long long	now = (long long)time(NULL);

	snprintf(buf, sizeof buf, "{\"jti\":\"a\",\"exp\":%lld,\"iat\":%lld}",
	    now + 7200, now + 3600);
	ck_outcome("HS256", hs(buf), REVOKD_NOT_YET_VALID);
	snprintf(buf, sizeof buf, "{\"jti\":\"a\",\"exp\":%lld,\"iat\":%lld}",
	    now + 7200, now + 10);
	ck_outcome("HS256", hs(buf), REVOKD_VALID);
}
END_TEST

/* Time claims must be present (exp) and JSON integers. */
START_TEST(test_time_types)
{
	char		buf[128];
	long long	now = (long long)time(NULL);

	ck_outcome("HS256", hs("{\"jti\":\"a\"}"), REVOKD_MALFORMED);
	snprintf(buf, sizeof buf, "{\"jti\":\"a\",\"exp\":%lld.5}", now + 60);
	ck_outcome("HS256", hs(buf), REVOKD_MALFORMED);
	snprintf(buf, sizeof buf, "{\"jti\":\"a\",\"exp\":%lld.0}", now + 60);
	ck_outcome("HS256", hs(buf), REVOKD_MALFORMED);
	ck_outcome("HS256", hs("{\"jti\":\"a\",\"exp\":4e9}"),
	    REVOKD_MALFORMED);
	snprintf(buf, sizeof buf, "{\"jti\":\"a\",\"exp\":\"%lld\"}",
	    now + 60);
	ck_outcome("HS256", hs(buf), REVOKD_MALFORMED);
	ck_outcome("HS256", hs("{\"jti\":\"a\",\"exp\":null}"),
	    REVOKD_MALFORMED);
	snprintf(buf, sizeof buf, "{\"jti\":\"a\",\"exp\":%lld,"
	    "\"nbf\":\"2099-01-01\"}", now + 60);
	ck_outcome("HS256", hs(buf), REVOKD_MALFORMED);
	snprintf(buf, sizeof buf, "{\"jti\":\"a\",\"exp\":%lld,"
	    "\"iat\":true}", now + 60);
	ck_outcome("HS256", hs(buf), REVOKD_MALFORMED);
	/* larger than any long long */
	ck_outcome("HS256", hs("{\"jti\":\"a\",\"exp\":99999999999999999999}"),
	    REVOKD_MALFORMED);
}
END_TEST

/* --- Other claims ---------------------------------------------------- */

/* jti must be a non-empty string of at most 256 bytes. */
START_TEST(test_jti)
{
	char		buf[600], jti[300];
	long long	exp = (long long)time(NULL) + 600;

	snprintf(buf, sizeof buf, "{\"exp\":%lld}", exp);
	ck_outcome("HS256", hs(buf), REVOKD_MISSING_JTI);
	snprintf(buf, sizeof buf, "{\"jti\":\"\",\"exp\":%lld}", exp);
	ck_outcome("HS256", hs(buf), REVOKD_MISSING_JTI);
	snprintf(buf, sizeof buf, "{\"jti\":17,\"exp\":%lld}", exp);
	ck_outcome("HS256", hs(buf), REVOKD_MALFORMED);
	snprintf(buf, sizeof buf, "{\"jti\":\"a\\u0000b\",\"exp\":%lld}", exp);
	ck_outcome("HS256", hs(buf), REVOKD_MALFORMED);
	memset(jti, 'j', 256);
	jti[256] = '\0';
	snprintf(buf, sizeof buf, "{\"jti\":\"%s\",\"exp\":%lld}", jti, exp);
	ck_outcome("HS256", hs(buf), REVOKD_VALID);
	memset(jti, 'j', 257);
	jti[257] = '\0';
	snprintf(buf, sizeof buf, "{\"jti\":\"%s\",\"exp\":%lld}", jti, exp);
	ck_outcome("HS256", hs(buf), REVOKD_MALFORMED);
}
END_TEST

/* Verify payload with an HS256 verifier requiring iss and/or aud. */
static revokd_outcome_t
check_req(const char *payload, const char *iss, const char *aud)
{
	revokd_verifier_t	*v = verifier_for("HS256");
	revokd_outcome_t	 o;
	char			*tok = hs(payload);

	ck_assert_int_eq(revokd_verifier_set_issuer(v, iss), 0);
	ck_assert_int_eq(revokd_verifier_set_audience(v, aud), 0);
	o = revokd_verify(v, tok, strlen(tok));
	free(tok);
	revokd_verifier_free(v);
	return o;
}

/* A required issuer must match exactly. */
START_TEST(test_iss)
{
	char		buf[256];
	long long	exp = (long long)time(NULL) + 600;

	snprintf(buf, sizeof buf, "{\"jti\":\"a\",\"exp\":%lld,"
	    "\"iss\":\"https://idp\"}", exp);
	ck_assert_int_eq(check_req(buf, "https://idp", NULL), REVOKD_VALID);
	ck_assert_int_eq(check_req(buf, NULL, NULL), REVOKD_VALID);
	ck_assert_int_eq(check_req(buf, "https://idp/", NULL),
	    REVOKD_WRONG_ISSUER);
	ck_assert_int_eq(check_req(buf, "https://IDP", NULL),
	    REVOKD_WRONG_ISSUER);
	snprintf(buf, sizeof buf, "{\"jti\":\"a\",\"exp\":%lld}", exp);
	ck_assert_int_eq(check_req(buf, "https://idp", NULL),
	    REVOKD_WRONG_ISSUER);
	snprintf(buf, sizeof buf, "{\"jti\":\"a\",\"exp\":%lld,"
	    "\"iss\":[\"https://idp\"]}", exp);
	ck_assert_int_eq(check_req(buf, NULL, NULL), REVOKD_MALFORMED);
}
END_TEST

/* A required audience must be the aud string or in the aud array. */
START_TEST(test_aud)
{
	char		buf[256];
	long long	exp = (long long)time(NULL) + 600;

	snprintf(buf, sizeof buf, "{\"jti\":\"a\",\"exp\":%lld,"
	    "\"aud\":\"api\"}", exp);
	ck_assert_int_eq(check_req(buf, NULL, "api"), REVOKD_VALID);
	ck_assert_int_eq(check_req(buf, NULL, "web"), REVOKD_WRONG_AUDIENCE);
	snprintf(buf, sizeof buf, "{\"jti\":\"a\",\"exp\":%lld,"
	    "\"aud\":[\"web\",\"api\"]}", exp);
	ck_assert_int_eq(check_req(buf, NULL, "api"), REVOKD_VALID);
	ck_assert_int_eq(check_req(buf, NULL, "ap"), REVOKD_WRONG_AUDIENCE);
	snprintf(buf, sizeof buf, "{\"jti\":\"a\",\"exp\":%lld}", exp);
	ck_assert_int_eq(check_req(buf, NULL, "api"), REVOKD_WRONG_AUDIENCE);
	snprintf(buf, sizeof buf, "{\"jti\":\"a\",\"exp\":%lld,"
	    "\"aud\":[]}", exp);
	ck_assert_int_eq(check_req(buf, NULL, NULL), REVOKD_MALFORMED);
	snprintf(buf, sizeof buf, "{\"jti\":\"a\",\"exp\":%lld,"
	    "\"aud\":[\"api\",7]}", exp);
	ck_assert_int_eq(check_req(buf, NULL, "api"), REVOKD_MALFORMED);
	/* issuer is checked before audience */
	snprintf(buf, sizeof buf, "{\"jti\":\"a\",\"exp\":%lld,"
	    "\"iss\":\"x\",\"aud\":\"y\"}", exp);
	ck_assert_int_eq(check_req(buf, "i", "a"), REVOKD_WRONG_ISSUER);
}
END_TEST

/* --- Parsing --------------------------------------------------------- */

/* The header and payload must be JSON objects without duplicates. */
START_TEST(test_json_shape)
{
	char		buf[256];
	long long	exp = (long long)time(NULL) + 600;

	ck_outcome("HS256", hs("[\"jti\",\"exp\"]"), REVOKD_MALFORMED);
	ck_outcome("HS256", hs("\"just a string\""), REVOKD_MALFORMED);
	ck_outcome("HS256", hs(""), REVOKD_MALFORMED);
	snprintf(buf, sizeof buf, "{\"jti\":\"a\",\"exp\":%lld} x", exp);
	ck_outcome("HS256", hs(buf), REVOKD_MALFORMED);
	snprintf(buf, sizeof buf, "{\"jti\":\"a\",\"exp\":%lld,\"exp\":%lld}",
	    exp - 1200, exp);
	ck_outcome("HS256", hs(buf), REVOKD_MALFORMED);
	snprintf(buf, sizeof buf, "{\"jti\":\"a\",\"jti\":\"b\","
	    "\"exp\":%lld}", exp);
	ck_outcome("HS256", hs(buf), REVOKD_MALFORMED);
	ck_outcome("HS256", hand_token("{\"alg\":\"HS256\",\"alg\":\"none\"}",
	    payload_exp(600), "HS256"), REVOKD_MALFORMED);
	ck_outcome("HS256", hand_token("[\"HS256\"]", payload_exp(600),
	    "HS256"), REVOKD_MALFORMED);
	ck_outcome("HS256", hand_token("{\"typ\":\"JWT\"}", payload_exp(600),
	    "HS256"), REVOKD_MALFORMED);
	ck_outcome("HS256", hand_token("{\"alg\":256}", payload_exp(600),
	    "HS256"), REVOKD_MALFORMED);
	ck_outcome("HS256", hand_token("{\"alg\":\"HS256\",\"kid\":1}",
	    payload_exp(600), "HS256"), REVOKD_MALFORMED);
	ck_outcome("HS256", hand_token("{\"alg\":\"HS256\",\"crit\":[\"x\"],"
	    "\"x\":1}", payload_exp(600), "HS256"), REVOKD_MALFORMED);
	ck_outcome("HS256", hand_token("{\"alg\":\"HS256\",\"kid\":\"k1\"}",
	    payload_exp(600), "HS256"), REVOKD_VALID);
}
END_TEST

/* typ may be absent, JWT or at+jwt in any case; nothing else. */
START_TEST(test_typ)
{
	ck_outcome("HS256", hand_token("{\"alg\":\"HS256\",\"typ\":\"at+jwt\"}",
	    payload_exp(600), "HS256"), REVOKD_VALID);
	ck_outcome("ES256", hand_token("{\"alg\":\"ES256\",\"typ\":\"AT+JWT\"}",
	    payload_exp(600), "ES256"), REVOKD_VALID);
	ck_outcome("HS256", hand_token("{\"alg\":\"HS256\",\"typ\":\"jwt\"}",
	    payload_exp(600), "HS256"), REVOKD_VALID);
	ck_outcome("HS256", hand_token("{\"alg\":\"HS256\","
	    "\"typ\":\"application/at+jwt\"}", payload_exp(600), "HS256"),
	    REVOKD_VALID);
	ck_outcome("HS256", hand_token("{\"alg\":\"HS256\"}",
	    payload_exp(600), "HS256"), REVOKD_VALID);
	ck_outcome("HS256", hand_token("{\"alg\":\"HS256\",\"typ\":\"foo\"}",
	    payload_exp(600), "HS256"), REVOKD_MALFORMED);
	ck_outcome("HS256", hand_token("{\"alg\":\"HS256\",\"typ\":\"JWS\"}",
	    payload_exp(600), "HS256"), REVOKD_MALFORMED);
	ck_outcome("HS256", hand_token("{\"alg\":\"HS256\",\"typ\":1}",
	    payload_exp(600), "HS256"), REVOKD_MALFORMED);
}
END_TEST

/* Return a valid HS256 token with character 3 of segment seg set to c. */
static char *
valid_with(char c, int seg)
{
	char	*tok, *p;
	int	 i;

	tok = hs(payload_exp(600));
	for (p = tok, i = 0; i < seg; i++)
		p = strchr(p, '.') + 1;
	p[3] = c;
	return tok;
}

/* Base64url is strict: no padding, '+', '/', whitespace, bad lengths. */
START_TEST(test_base64url)
{
	revokd_verifier_t	*v;
	char			*tok, *bad, *nul;
	size_t			 n;
	int			 seg;

	for (seg = 0; seg < 3; seg++) {
		ck_outcome("HS256", valid_with('+', seg), REVOKD_MALFORMED);
		ck_outcome("HS256", valid_with('/', seg), REVOKD_MALFORMED);
		ck_outcome("HS256", valid_with('=', seg), REVOKD_MALFORMED);
		ck_outcome("HS256", valid_with(' ', seg), REVOKD_MALFORMED);
		ck_outcome("HS256", valid_with('\t', seg), REVOKD_MALFORMED);
	}
	/* padding: a 32-byte HMAC is 43 characters, padded to 44 */
	tok = hs(payload_exp(600));
	n = strlen(tok);
	bad = malloc(n + 2);
	snprintf(bad, n + 2, "%s=", tok);
	ck_outcome("HS256", bad, REVOKD_MALFORMED);
	/* padding at the end of the payload segment */
	bad = malloc(n + 2);
	snprintf(bad, n + 2, "%.*s=%s", (int)(strrchr(tok, '.') - tok), tok,
	    strrchr(tok, '.'));
	ck_outcome("HS256", bad, REVOKD_MALFORMED);
	/* a trailing newline */
	bad = malloc(n + 2);
	snprintf(bad, n + 2, "%s\n", tok);
	ck_outcome("HS256", bad, REVOKD_MALFORMED);
	/* a segment of length 1 mod 4 */
	bad = malloc(n + 3);
	snprintf(bad, n + 3, "%sAA", tok);	/* 43 + 2 = 45 = 1 mod 4 */
	ck_outcome("HS256", bad, REVOKD_MALFORMED);
	/* an embedded NUL counted in len */
	v = verifier_for("HS256");
	nul = strdup(tok);
	nul[5] = '\0';
	ck_assert_int_eq(revokd_verify(v, nul, n), REVOKD_MALFORMED);
	free(nul);
	revokd_verifier_free(v);
	free(tok);
}
END_TEST

/* Stray trailing bits in a signature are refused. */
START_TEST(test_base64url_stray_bits)
{
	char	*tok;
	size_t	 n;
	int	 c;

	/* HS256: 32 bytes, 43 chars; the last encodes 4 data bits + 2 zero
	 * bits, so setting its lowest bit changes no data byte. */
	tok = hs(payload_exp(600));
	n = strlen(tok);
	c = tok[n - 1];
	ck_assert_msg(strchr("AEIMQUYcgkosw048", c) != NULL,
	    "unexpected last char %c", c);
	tok[n - 1] = (char)(c + 1);
	ck_outcome("HS256", tok, REVOKD_MALFORMED);
}
END_TEST

/* Tokens must have exactly three segments; garbage is malformed. */
START_TEST(test_segments)
{
	static const char *const junk[] = {
		"", ".", "..", "...", "a.b.c", "garbage", "eyJ", "eyJ.eyJ.",
		"\xff\xfe.\x01.\x02", "....................",
	};
	char	*tok, *bad, *p;
	size_t	 i, n;

	for (i = 0; i < sizeof junk / sizeof junk[0]; i++)
		ck_outcome("HS256", strdup(junk[i]), REVOKD_MALFORMED);
	tok = hs(payload_exp(600));
	n = strlen(tok);
	/* two segments: drop the signature */
	bad = strdup(tok);
	*strrchr(bad, '.') = '\0';
	ck_outcome("HS256", bad, REVOKD_MALFORMED);
	/* four segments */
	bad = malloc(n + 8);
	snprintf(bad, n + 8, "%s.abcd", tok);
	ck_outcome("HS256", bad, REVOKD_MALFORMED);
	/* JWE-like five segments */
	bad = malloc(n + 16);
	snprintf(bad, n + 16, "%s.abcd.abcd", tok);
	ck_outcome("HS256", bad, REVOKD_MALFORMED);
	/* an empty header segment */
	p = strchr(tok, '.');
	ck_outcome("HS256", strdup(p), REVOKD_MALFORMED);
	ck_assert_int_eq(revokd_verify(NULL, tok, n), REVOKD_BAD_SIGNATURE);
	{
		revokd_verifier_t	*v = verifier_for("HS256");

		ck_assert_int_eq(revokd_verify(v, NULL, 0), REVOKD_MALFORMED);
		ck_assert_int_eq(revokd_verify(v, tok, 0), REVOKD_MALFORMED);
		ck_assert_int_ne(revokd_verify(v, tok, n - 1),
		    REVOKD_VALID);
		revokd_verifier_free(v);
	}
	free(tok);
}
END_TEST

/* Build a token whose header is huge; len bytes in all. */
static char *
huge_token(size_t len)
{
	char	*tok;

	tok = malloc(len + 1);
	ck_assert_ptr_nonnull(tok);
	/* "eyJ" starts a JSON object; then a long run of base64url */
	memset(tok, 'A', len);
	memcpy(tok, "eyJhbGciOiJIUzI1NiIsIngiOiJ", 27);
	tok[len - 44] = '.';
	tok[len - 22] = '.';
	tok[len] = '\0';
	return tok;
}

/* Over-long tokens are refused before decoding, without a crash. */
START_TEST(test_huge)
{
	revokd_verifier_t	*v = verifier_for("HS256");
	struct token_claims	 c;
	char			*tok, err[128];
	size_t			 n;

	tok = huge_token(100 * 1024);
	ck_assert_int_eq(revokd_verify(v, tok, strlen(tok)),
	    REVOKD_MALFORMED);
	free(tok);
	tok = huge_token(9 * 1024 * 1024);
	ck_assert_int_eq(revokd_verify(v, tok, strlen(tok)),
	    REVOKD_MALFORMED);
	/* token_peek itself refuses on length before anything else */
	ck_assert_int_eq(token_peek(tok, strlen(tok), TOKEN_MAX_LEN_DEFAULT,
	    &c, err, sizeof err), -1);
	ck_assert_str_eq(err, "token too long");
	token_claims_free(&c);
	free(tok);
	/* just over and just at the limit */
	tok = huge_token(TOKEN_MAX_LEN_DEFAULT + 1);
	ck_assert_int_eq(revokd_verify(v, tok, strlen(tok)),
	    REVOKD_MALFORMED);
	free(tok);
	tok = hs(payload_exp(600));
	n = strlen(tok);
	ck_assert_int_eq(token_peek(tok, n, n - 1, &c, err, sizeof err), -1);
	token_claims_free(&c);
	ck_assert_int_eq(token_peek(tok, n, n, &c, err, sizeof err), 0);
	token_claims_free(&c);
	free(tok);
	revokd_verifier_free(v);
}
END_TEST

/* token_peek fills claims and keeps the token out of its messages. */
START_TEST(test_peek)
{
	struct token_claims	 c;
	char			*tok, err[128];

	tok = hand_token("{\"alg\":\"RS256\",\"typ\":\"at+jwt\","
	    "\"kid\":\"key-1\"}", "{\"jti\":\"j\",\"sub\":\"u\",\"sid\":\"s\","
	    "\"iss\":\"i\",\"aud\":\"a\",\"exp\":5,\"nbf\":4,\"iat\":3,"
	    "\"extra\":{\"nested\":[1,2.5,null]}}", "HS256");
	ck_assert_int_eq(token_peek(tok, strlen(tok), TOKEN_MAX_LEN_DEFAULT,
	    &c, err, sizeof err), 0);
	ck_assert_str_eq(c.alg, "RS256");
	ck_assert_str_eq(c.typ, "at+jwt");
	ck_assert_str_eq(c.kid, "key-1");
	ck_assert_str_eq(c.jti, "j");
	ck_assert_str_eq(c.sub, "u");
	ck_assert_str_eq(c.sid, "s");
	ck_assert_str_eq(c.iss, "i");
	ck_assert_uint_eq(c.naud, 1);
	ck_assert_str_eq(c.aud[0], "a");
	ck_assert(c.has_exp && c.exp == 5);
	ck_assert(c.has_nbf && c.nbf == 4);
	ck_assert(c.has_iat && c.iat == 3);
	ck_assert_uint_eq(c.siglen, 32);
	ck_assert_uint_eq(c.signed_len,
	    (size_t)(strrchr(tok, '.') - tok));
	token_claims_free(&c);
	ck_assert_ptr_null(c.alg);
	free(tok);
	/* a message names the problem, not the token */
	tok = hs("{\"jti\":\"secret-jti\",\"exp\":\"soon\"}");
	ck_assert_int_eq(token_peek(tok, strlen(tok), TOKEN_MAX_LEN_DEFAULT,
	    &c, err, sizeof err), -1);
	ck_assert_str_eq(err, "claims: exp not an integer");
	token_claims_free(&c);
	free(tok);
}
END_TEST

/* --- Keys ------------------------------------------------------------ */

/* Try set_key and return its result. */
static int
try_key(const char *alg, const char *key, size_t len)
{
	revokd_verifier_t	*v = revokd_verifier_new();
	int			 rc;

	rc = revokd_verifier_set_key(v, alg, (const unsigned char *)key, len);
	if (rc != 0)
		ck_assert_str_ne(revokd_verifier_errstr(v), "");
	revokd_verifier_free(v);
	return rc;
}

/* Keys of the wrong kind, size or form are refused. */
START_TEST(test_set_key)
{
	ck_assert_int_eq(try_key("HS256", SECRET, 32), 0);
	ck_assert_int_eq(try_key("HS256", SECRET, 31), -1);
	ck_assert_int_eq(try_key("HS384", SECRET, 47), -1);
	ck_assert_int_eq(try_key("HS384", SECRET, 48), 0);
	ck_assert_int_eq(try_key("HS512", SECRET, 63), -1);
	ck_assert_int_eq(try_key("HS256", "", 0), -1);
	ck_assert_int_eq(try_key("HS256", NULL, 32), -1);
	ck_assert_int_eq(try_key("none", SECRET, 64), -1);
	ck_assert_int_eq(try_key("hs256", SECRET, 64), -1);
	ck_assert_int_eq(try_key("PS256", rsa.pub, strlen(rsa.pub)), -1);
	ck_assert_int_eq(try_key(NULL, SECRET, 64), -1);
	ck_assert_int_eq(try_key("HS256", "-----BEGIN PUBLIC KEY-----"
	    "0123456789012345678901234567890123", 60), -1);
	ck_assert_int_eq(try_key("RS256", rsa.pub, strlen(rsa.pub)), 0);
	ck_assert_int_eq(try_key("RS512", rsa.pub, strlen(rsa.pub)), 0);
	ck_assert_int_eq(try_key("RS256", ec256.pub, strlen(ec256.pub)), -1);
	ck_assert_int_eq(try_key("RS256", rsa_small.pub,
	    strlen(rsa_small.pub)), -1);
	ck_assert_int_eq(try_key("RS256", rsa.priv, strlen(rsa.priv)), -1);
	ck_assert_int_eq(try_key("RS256", SECRET, 64), -1);
	ck_assert_int_eq(try_key("ES256", rsa.pub, strlen(rsa.pub)), -1);
	ck_assert_int_eq(try_key("ES256", ec384.pub, strlen(ec384.pub)), -1);
	ck_assert_int_eq(try_key("ES384", ec256.pub, strlen(ec256.pub)), -1);
	ck_assert_int_eq(try_key("ES512", ec384.pub, strlen(ec384.pub)), -1);
	ck_assert_int_eq(try_key("ES512", ec521.pub, strlen(ec521.pub)), 0);
	ck_assert_int_eq(try_key("ES256", ec256.priv, strlen(ec256.priv)), -1);
	/* a truncated PEM */
	ck_assert_int_eq(try_key("ES256", ec256.pub, strlen(ec256.pub) / 2),
	    -1);
}
END_TEST

/* A verifier without a key refuses every token. */
START_TEST(test_no_key)
{
	revokd_verifier_t	*v = revokd_verifier_new();
	char			*tok = hs(payload_exp(600));

	ck_assert_int_eq(revokd_verify(v, tok, strlen(tok)),
	    REVOKD_BAD_SIGNATURE);
	/* the key of a failed set_key is dropped, not kept */
	ck_assert_int_eq(revokd_verifier_set_key(v, "HS256",
	    (const unsigned char *)SECRET, strlen(SECRET)), 0);
	ck_assert_int_eq(revokd_verify(v, tok, strlen(tok)), REVOKD_VALID);
	ck_assert_int_eq(revokd_verifier_set_key(v, "HS256",
	    (const unsigned char *)SECRET, 3), -1);
	ck_assert_int_eq(revokd_verify(v, tok, strlen(tok)),
	    REVOKD_BAD_SIGNATURE);
	free(tok);
	ck_assert_int_eq(revokd_verifier_set_issuer(v, ""), -1);
	ck_assert_int_eq(revokd_verifier_set_audience(v, ""), -1);
	revokd_verifier_free(v);
	revokd_verifier_free(NULL);
}
END_TEST

/* Write data to a new temp file and return its path. */
static char *
temp_file(const char *data, size_t len)
{
	char	*path = strdup("/tmp/test_verify.XXXXXX");
	int	 fd;

	fd = mkstemp(path);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
	return path;
}

/* Key files: missing and empty ones are refused, good ones work. */
START_TEST(test_key_file)
{
	revokd_verifier_t	*v = revokd_verifier_new();
	char			*path, *tok, *big;

	ck_assert_int_eq(revokd_verifier_set_key_file(v, "RS256",
	    "/nonexistent/key.pem"), -1);
	ck_assert_ptr_nonnull(strstr(revokd_verifier_errstr(v),
	    "No such file"));
	ck_assert_int_eq(revokd_verifier_set_key_file(v, "RS256", NULL), -1);
	ck_assert_int_eq(revokd_verifier_set_key_file(v, "RS256", ""), -1);
	ck_assert_int_eq(revokd_verifier_set_key_file(v, "RS256", "/tmp"),
	    -1);
	path = temp_file("", 0);
	ck_assert_int_eq(revokd_verifier_set_key_file(v, "HS256", path), -1);
	ck_assert_ptr_nonnull(strstr(revokd_verifier_errstr(v), "empty"));
	unlink(path);
	free(path);
	tok = hs(payload_exp(600));
	ck_assert_int_eq(revokd_verify(v, tok, strlen(tok)),
	    REVOKD_BAD_SIGNATURE);
	path = temp_file(SECRET, strlen(SECRET));
	ck_assert_int_eq(revokd_verifier_set_key_file(v, "HS256", path), 0);
	ck_assert_int_eq(revokd_verify(v, tok, strlen(tok)), REVOKD_VALID);
	unlink(path);
	free(path);
	free(tok);
	path = temp_file(rsa.pub, strlen(rsa.pub));
	ck_assert_int_eq(revokd_verifier_set_key_file(v, "RS256", path), 0);
	tok = hand_token(hdr("RS256"), payload_exp(600), "RS256");
	ck_assert_int_eq(revokd_verify(v, tok, strlen(tok)), REVOKD_VALID);
	free(tok);
	unlink(path);
	free(path);
	big = malloc(70000);
	memset(big, 'k', 70000);
	path = temp_file(big, 70000);
	ck_assert_int_eq(revokd_verifier_set_key_file(v, "HS256", path), -1);
	unlink(path);
	free(path);
	free(big);
	revokd_verifier_free(v);
}
END_TEST

/* --- Outcome strings and interop ------------------------------------ */

/* Every outcome has its stable string. */
START_TEST(test_outcome_str)
{
	ck_assert_str_eq(revokd_outcome_str(REVOKD_VALID), "valid");
	ck_assert_str_eq(revokd_outcome_str(REVOKD_REVOKED), "revoked");
	ck_assert_str_eq(revokd_outcome_str(REVOKD_BAD_SIGNATURE),
	    "bad_signature");
	ck_assert_str_eq(revokd_outcome_str(REVOKD_WRONG_ALGORITHM),
	    "wrong_algorithm");
	ck_assert_str_eq(revokd_outcome_str(REVOKD_EXPIRED), "expired");
	ck_assert_str_eq(revokd_outcome_str(REVOKD_NOT_YET_VALID),
	    "not_yet_valid");
	ck_assert_str_eq(revokd_outcome_str(REVOKD_MALFORMED), "malformed");
	ck_assert_str_eq(revokd_outcome_str(REVOKD_MISSING_JTI),
	    "missing_jti");
	ck_assert_str_eq(revokd_outcome_str(REVOKD_WRONG_ISSUER),
	    "wrong_issuer");
	ck_assert_str_eq(revokd_outcome_str(REVOKD_WRONG_AUDIENCE),
	    "wrong_audience");
	ck_assert_str_eq(revokd_outcome_str(REVOKD_UNAVAILABLE),
	    "daemon_unavailable");
	ck_assert_str_eq(revokd_outcome_str(REVOKD_PROTOCOL_ERROR),
	    "protocol_error");
	ck_assert_str_eq(revokd_outcome_str(REVOKD_UNKNOWN_KEY),
	    "unknown_key");
	ck_assert_str_eq(revokd_outcome_str(REVOKD_VALID_UNCHECKED),
	    "valid_unchecked");
	ck_assert_str_eq(revokd_outcome_str((revokd_outcome_t)99), "unknown");
	ck_assert_str_eq(revokd_outcome_str((revokd_outcome_t)-1), "unknown");
}
END_TEST

/* Return a python3 that can import jwt, or NULL. */
static const char *
find_python(void)
{
	static const char *const cands[] = { "python3", "/usr/bin/python3" };
	char	cmd[256];
	size_t	i;

	for (i = 0; i < sizeof cands / sizeof cands[0]; i++) {
		snprintf(cmd, sizeof cmd, "%s -c 'import jwt' >/dev/null 2>&1",
		    cands[i]);
		if (system(cmd) == 0)
			return cands[i];
	}
	return NULL;
}

/* Run a PyJWT one-liner minting alg with key argument; return token. */
static char *
pyjwt_mint(const char *py, const char *alg, const char *keyarg)
{
	char	 cmd[1024], out[4096];
	FILE	*fp;
	size_t	 n;

	snprintf(cmd, sizeof cmd, "%s -c 'import sys, time, jwt\n"
	    "a, k = sys.argv[1], sys.argv[2]\n"
	    "k = open(k).read() if a[0] != \"H\" else k\n"
	    "print(jwt.encode({\"jti\": \"py-\" + a, \"iss\": \"pyjwt\","
	    " \"aud\": [\"x\", \"api\"], \"iat\": int(time.time()),"
	    " \"exp\": int(time.time()) + 600}, k, algorithm=a))' %s '%s'",
	    py, alg, keyarg);
	fp = popen(cmd, "r");
	ck_assert_ptr_nonnull(fp);
	n = fread(out, 1, sizeof out - 1, fp);
	ck_assert_int_eq(pclose(fp), 0);
	out[n] = '\0';
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
		out[--n] = '\0';
	return strdup(out);
}

/* Mint with PyJWT as alg signed by key k (NULL: the HMAC secret). */
static char *
pyjwt_mint_key(const char *py, const char *alg, const char *secret,
    const struct test_key *k)
{
	char	*path, *tok;

	if (k == NULL)
		return pyjwt_mint(py, alg, secret);
	path = temp_file(k->priv, strlen(k->priv));
	tok = pyjwt_mint(py, alg, path);
	unlink(path);
	free(path);
	return tok;
}

/* Tokens minted by PyJWT (an independent implementation) verify for all
 * nine algorithms; PyJWT tokens signed by another key are refused. */
START_TEST(test_pyjwt)
{
	const char		*alg = algs[_i], *py = find_python();
	revokd_verifier_t	*v;
	struct test_key		 other;
	char			*tok, want[16];
	struct token_claims	 c;

	/* scripts/test installs python3-jwt: its absence is a failure,
	 * never a silent pass. */
	ck_assert_msg(py != NULL, "no python3 can import jwt and "
	    "cryptography (install python3-jwt python3-cryptography)");
	tok = pyjwt_mint_key(py, alg, SECRET,
	    alg[0] == 'H' ? NULL : key_of(alg));
	v = verifier_for(alg);
	ck_assert_int_eq(revokd_verifier_set_issuer(v, "pyjwt"), 0);
	ck_assert_int_eq(revokd_verifier_set_audience(v, "api"), 0);
	ck_assert_msg(verify_token(v, tok, strlen(tok), &c) == REVOKD_VALID,
	    "%s: PyJWT token refused", alg);
	snprintf(want, sizeof want, "py-%s", alg);
	ck_assert_str_eq(c.jti, want);
	ck_assert_str_eq(c.alg, alg);
	ck_assert_str_eq(c.typ, "JWT");
	token_claims_free(&c);
	free(tok);

	/* the same claims signed by another key of the same family */
	if (alg[0] == 'H') {
		tok = pyjwt_mint_key(py, alg, SECRET2, NULL);
	} else {
		if (alg[0] == 'R')
			key_gen(&other, "RSA", NULL, 2048);
		else
			key_gen(&other, "EC", strcmp(alg, "ES256") == 0 ?
			    "P-256" : strcmp(alg, "ES384") == 0 ? "P-384" :
			    "P-521", 0);
		tok = pyjwt_mint_key(py, alg, NULL, &other);
		key_free(&other);
	}
	ck_assert_int_eq(revokd_verify(v, tok, strlen(tok)),
	    REVOKD_BAD_SIGNATURE);
	free(tok);
	revokd_verifier_free(v);
}
END_TEST

/* --- Key sets -------------------------------------------------------- */

/* Build a token with header {"alg":alg,"kid":kid}, signed as sigalg
 * with secret (HS) or pkey; kid NULL: no kid. */
static char *
kid_token(const char *kid, const char *alg, const char *sigalg,
    const char *secret, EVP_PKEY *pkey)
{
	char	header[512];

	if (kid != NULL)
		snprintf(header, sizeof header,
		    "{\"alg\":\"%s\",\"kid\":\"%s\"}", alg, kid);
	else
		snprintf(header, sizeof header, "{\"alg\":\"%s\"}", alg);
	return hand_token_key(header, payload_exp(600), sigalg, secret,
	    secret != NULL ? strlen(secret) : 0, pkey);
}

/* Return the outcome of verifying a NUL-terminated token. */
static revokd_outcome_t
vv(const revokd_verifier_t *v, const char *tok)
{
	return revokd_verify(v, tok, strlen(tok));
}

/* Create a new private temporary directory and return its path. */
static char *
temp_dir(void)
{
	char	*dir = strdup("/tmp/test_verify.d.XXXXXX");

	ck_assert_ptr_nonnull(mkdtemp(dir));
	return dir;
}

/* Write data as file name of dir. */
static void
put_file(const char *dir, const char *name, const char *data, size_t len)
{
	char	path[512];
	FILE	*fp;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	ck_assert_uint_eq(fwrite(data, 1, len, fp), len);
	ck_assert_int_eq(fclose(fp), 0);
}

/* Remove file name of dir. */
static void
rm_file(const char *dir, const char *name)
{
	char	path[512];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	ck_assert_int_eq(remove(path), 0);
}

/* Remove every file of dir (one level), then dir; free the path. */
static void
rm_dir(char *dir)
{
	char	cmd[600];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
	free(dir);
}

/* Write the three standard test keys A (RS256), B (ES256), C (HS256). */
static void
put_abc(const char *dir)
{
	put_file(dir, "A.RS256.pem", rsa.pub, strlen(rsa.pub));
	put_file(dir, "B.ES256.pem", ec256.pub, strlen(ec256.pub));
	put_file(dir, "C.HS256", SECRET, strlen(SECRET));
}

/* A key directory: each kid verifies with its key and alg only. */
START_TEST(test_key_dir)
{
	revokd_verifier_t	*v = revokd_verifier_new();
	char			*dir = temp_dir(), *ta, *tb, *tc, *t;

	put_abc(dir);
	put_file(dir, ".hidden", "x", 1);	/* skipped */
	ck_assert_msg(revokd_verifier_load_key_dir(v, dir) == 0, "%s",
	    revokd_verifier_errstr(v));
	ta = kid_token("A", "RS256", "RS256", NULL, rsa.pkey);
	tb = kid_token("B", "ES256", "ES256", NULL, ec256.pkey);
	tc = kid_token("C", "HS256", "HS256", SECRET, NULL);
	ck_assert_int_eq(vv(v, ta), REVOKD_VALID);
	ck_assert_int_eq(vv(v, tb), REVOKD_VALID);
	ck_assert_int_eq(vv(v, tc), REVOKD_VALID);
	/* no kid and no no-kid key; unknown kids; a kid is never a path */
	t = kid_token(NULL, "RS256", "RS256", NULL, rsa.pkey);
	ck_assert_int_eq(vv(v, t), REVOKD_UNKNOWN_KEY);
	free(t);
	t = kid_token("D", "RS256", "RS256", NULL, rsa.pkey);
	ck_assert_int_eq(vv(v, t), REVOKD_UNKNOWN_KEY);
	free(t);
	t = kid_token("../../etc/passwd", "HS256", "HS256", SECRET, NULL);
	ck_assert_int_eq(vv(v, t), REVOKD_UNKNOWN_KEY);
	free(t);
	t = kid_token("A.RS256.pem", "RS256", "RS256", NULL, rsa.pkey);
	ck_assert_int_eq(vv(v, t), REVOKD_UNKNOWN_KEY);
	free(t);
	t = kid_token("a", "RS256", "RS256", NULL, rsa.pkey);
	ck_assert_int_eq(vv(v, t), REVOKD_UNKNOWN_KEY);	/* exact bytes */
	free(t);
	/* each kid is pinned to its alg: confusion across kids fails */
	t = kid_token("A", "HS256", "HS256", rsa.pub, NULL);
	ck_assert_int_eq(vv(v, t), REVOKD_WRONG_ALGORITHM);
	free(t);
	t = kid_token("C", "RS256", "RS256", NULL, rsa.pkey);
	ck_assert_int_eq(vv(v, t), REVOKD_WRONG_ALGORITHM);
	free(t);
	t = kid_token("B", "ES256", "ES256", NULL, ec256_other.pkey);
	ck_assert_int_eq(vv(v, t), REVOKD_BAD_SIGNATURE);
	free(t);
	t = kid_token("A", "none", NULL, NULL, NULL);
	ck_assert_int_eq(vv(v, t), REVOKD_WRONG_ALGORITHM);
	free(t);
	/* jku, x5u and jwk headers are ignored: the kid decides */
	t = hand_token_key("{\"alg\":\"ES256\",\"kid\":\"B\","
	    "\"jku\":\"http://127.0.0.1:1/jwks\",\"x5u\":\"file:///x\","
	    "\"jwk\":{\"kty\":\"oct\",\"k\":\"AAAA\"}}", payload_exp(600),
	    "ES256", NULL, 0, ec256_other.pkey);
	ck_assert_int_eq(vv(v, t), REVOKD_BAD_SIGNATURE);
	free(t);
	free(ta);
	free(tb);
	free(tc);
	revokd_verifier_free(v);
	rm_dir(dir);
}
END_TEST

/* Rotation: a key removed from the directory stops verifying at reload,
 * even for tokens verified (and cached) before; the others keep working. */
START_TEST(test_key_dir_rotation)
{
	revokd_verifier_t	*v = revokd_verifier_new();
	char			*dir = temp_dir(), *ta, *tb, *tn;
	unsigned long		 hits, misses, hits0;

	put_abc(dir);
	ck_assert_int_eq(revokd_verifier_load_key_dir(v, dir), 0);
	/* a manual no-kid key stays across reloads */
	ck_assert_int_eq(revokd_verifier_set_key(v, "HS512",
	    (const unsigned char *)SECRET2, strlen(SECRET2)), 0);
	ta = kid_token("A", "RS256", "RS256", NULL, rsa.pkey);
	tb = kid_token("B", "ES256", "ES256", NULL, ec256.pkey);
	tn = kid_token(NULL, "HS512", "HS512", SECRET2, NULL);
	ck_assert_int_eq(vv(v, ta), REVOKD_VALID);
	verify_cache_stats(v, &hits0, &misses);
	ck_assert_int_eq(vv(v, ta), REVOKD_VALID);
	verify_cache_stats(v, &hits, &misses);
	ck_assert_uint_eq(hits, hits0 + 1);		/* ta is cached */
	ck_assert_int_eq(vv(v, tb), REVOKD_VALID);
	ck_assert_int_eq(vv(v, tn), REVOKD_VALID);

	rm_file(dir, "A.RS256.pem");
	ck_assert_int_eq(vv(v, ta), REVOKD_VALID);	/* not reloaded yet */
	ck_assert_msg(revokd_verifier_reload(v) == 0, "%s",
	    revokd_verifier_errstr(v));
	ck_assert_int_eq(vv(v, ta), REVOKD_UNKNOWN_KEY);
	ck_assert_int_eq(vv(v, tb), REVOKD_VALID);
	ck_assert_int_eq(vv(v, tn), REVOKD_VALID);

	/* a broken directory fails the reload; the old set stays */
	put_file(dir, "A.RS256.pem", rsa.pub, strlen(rsa.pub));
	put_file(dir, "notes.txt", "hello", 5);
	ck_assert_int_eq(revokd_verifier_reload(v), -1);
	ck_assert_ptr_nonnull(strstr(revokd_verifier_errstr(v), "notes.txt"));
	ck_assert_int_eq(vv(v, ta), REVOKD_UNKNOWN_KEY);
	ck_assert_int_eq(vv(v, tb), REVOKD_VALID);
	rm_file(dir, "notes.txt");
	ck_assert_int_eq(revokd_verifier_reload(v), 0);
	ck_assert_int_eq(vv(v, ta), REVOKD_VALID);	/* A is back */

	/* the key under kid B replaced by another key */
	put_file(dir, "B.ES256.pem", ec256_other.pub, strlen(ec256_other.pub));
	ck_assert_int_eq(vv(v, tb), REVOKD_VALID);
	ck_assert_int_eq(revokd_verifier_reload(v), 0);
	ck_assert_int_eq(vv(v, tb), REVOKD_BAD_SIGNATURE);
	free(ta);
	free(tb);
	free(tn);
	revokd_verifier_free(v);
	rm_dir(dir);
}
END_TEST

/* Load dir after writing one bad file next to good ones: refused, names
 * the file, and the verifier's keys are unchanged. */
static void
dir_refused(const char *name, const char *data, size_t len,
    const char *want)
{
	revokd_verifier_t	*v = revokd_verifier_new();
	char			*dir = temp_dir(), *tc;

	ck_assert_int_eq(revokd_verifier_add_key(v, "C", "HS256",
	    (const unsigned char *)SECRET, strlen(SECRET)), 0);
	put_file(dir, "B.ES256.pem", ec256.pub, strlen(ec256.pub));
	put_file(dir, name, data, len);
	ck_assert_msg(revokd_verifier_load_key_dir(v, dir) == -1,
	    "%s accepted", name);
	ck_assert_msg(strstr(revokd_verifier_errstr(v), want) != NULL,
	    "%s: message \"%s\" lacks \"%s\"", name,
	    revokd_verifier_errstr(v), want);
	tc = kid_token("C", "HS256", "HS256", SECRET, NULL);
	ck_assert_int_eq(vv(v, tc), REVOKD_VALID);
	free(tc);
	/* nothing was remembered: reload has no directory to read */
	ck_assert_int_eq(revokd_verifier_reload(v), 0);
	revokd_verifier_free(v);
	rm_dir(dir);
}

/* Bad names, empty or bad keys, short secrets: the load is refused. */
START_TEST(test_key_dir_refusals)
{
	revokd_verifier_t	*v;
	char			*dir, big[70000];

	dir_refused("foo.pem", rsa.pub, strlen(rsa.pub), "foo.pem");
	dir_refused("A.RS256", rsa.pub, strlen(rsa.pub), "A.RS256");
	dir_refused("A.HS256.pem", SECRET, strlen(SECRET), "A.HS256.pem");
	dir_refused("A.rs256.pem", rsa.pub, strlen(rsa.pub), "A.rs256.pem");
	dir_refused("A.none", SECRET, strlen(SECRET), "A.none");
	dir_refused("RS256.pem", rsa.pub, strlen(rsa.pub), "RS256.pem");
	dir_refused("A.RS256.pem", "", 0, "empty");
	dir_refused("A.HS256", "", 0, "empty");
	dir_refused("A.HS256", SECRET, 31, "under 32 bytes");
	dir_refused("A.HS512", SECRET, 63, "under 64 bytes");
	dir_refused("A.HS256", rsa.pub, strlen(rsa.pub), "PEM");
	dir_refused("A.RS256.pem", rsa.priv, strlen(rsa.priv), "private");
	dir_refused("A.RS256.pem", rsa_small.pub, strlen(rsa_small.pub),
	    "2048");
	dir_refused("A.ES384.pem", ec256.pub, strlen(ec256.pub), "P-384");
	dir_refused("A.RS256.pem", "garbage", 7, "A.RS256.pem");
	dir_refused("B.HS256", SECRET, strlen(SECRET), "duplicate");
	memset(big, 'k', sizeof big);
	dir_refused("A.HS256", big, sizeof big, "A.HS256");

	v = revokd_verifier_new();
	ck_assert_int_eq(revokd_verifier_load_key_dir(v, "/nonexistent"),
	    -1);
	ck_assert_int_eq(revokd_verifier_load_key_dir(v, NULL), -1);
	ck_assert_int_eq(revokd_verifier_load_key_dir(v, ""), -1);
	dir = temp_dir();
	ck_assert_int_eq(revokd_verifier_load_key_dir(v, dir), -1);
	ck_assert_ptr_nonnull(strstr(revokd_verifier_errstr(v), "no key"));
	{
		char	sub[600];

		snprintf(sub, sizeof sub, "%s/D.RS256.pem", dir);
		ck_assert_int_eq(mkdir(sub, 0700), 0);
		ck_assert_int_eq(revokd_verifier_load_key_dir(v, dir), -1);
		ck_assert_ptr_nonnull(strstr(revokd_verifier_errstr(v),
		    "regular"));
	}
	revokd_verifier_free(v);
	rm_dir(dir);
}
END_TEST

/* Return pkey's selection (public, or key pair) as a PKCS#1 PEM:
 * "RSA PUBLIC KEY" or "RSA PRIVATE KEY". */
static char *
pkcs1_pem(EVP_PKEY *pkey, int selection)
{
	OSSL_ENCODER_CTX	*ectx;
	unsigned char		*data = NULL;
	size_t			 len = 0;
	char			*s;

	ectx = OSSL_ENCODER_CTX_new_for_pkey(pkey, selection, "PEM",
	    "type-specific", NULL);
	ck_assert_ptr_nonnull(ectx);
	ck_assert_int_eq(OSSL_ENCODER_to_data(ectx, &data, &len), 1);
	OSSL_ENCODER_CTX_free(ectx);
	ck_assert_ptr_nonnull(s = malloc(len + 1));
	memcpy(s, data, len);
	s[len] = '\0';
	OPENSSL_free(data);
	return s;
}

/* An RSA public key in PKCS#1 form (openssl rsa -RSAPublicKey_out) is
 * accepted for RS*, with the usual checks; a PKCS#1 private key is not. */
START_TEST(test_rsa_pkcs1)
{
	revokd_verifier_t	*v;
	EVP_PKEY		*pkey;
	char			*pub, *priv, *small, *tok, *dir;

	pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	ck_assert_ptr_nonnull(pkey);
	pub = pkcs1_pem(pkey, EVP_PKEY_PUBLIC_KEY);
	priv = pkcs1_pem(pkey, EVP_PKEY_KEYPAIR);
	small = pkcs1_pem(rsa_small.pkey, EVP_PKEY_PUBLIC_KEY);
	ck_assert_ptr_nonnull(strstr(pub, "-----BEGIN RSA PUBLIC KEY-----"));
	ck_assert_ptr_nonnull(strstr(priv, "-----BEGIN RSA PRIVATE KEY-----"));

	ck_assert_ptr_nonnull(v = revokd_verifier_new());
	ck_assert_msg(revokd_verifier_set_key(v, "RS256",
	    (const unsigned char *)pub, strlen(pub)) == 0, "%s",
	    revokd_verifier_errstr(v));
	tok = hand_token_key(hdr("RS256"), payload_exp(600), "RS256", NULL, 0,
	    pkey);
	ck_assert_int_eq(vv(v, tok), REVOKD_VALID);
	free(tok);
	/* signed by another key, or as another RS* */
	tok = hand_token_key(hdr("RS256"), payload_exp(600), "RS256", NULL, 0,
	    rsa.pkey);
	ck_assert_int_eq(vv(v, tok), REVOKD_BAD_SIGNATURE);
	free(tok);
	tok = hand_token_key(hdr("RS384"), payload_exp(600), "RS384", NULL, 0,
	    pkey);
	ck_assert_int_ne(vv(v, tok), REVOKD_VALID);
	free(tok);

	/* A PKCS#1 private key is still refused, as a private key. */
	ck_assert_int_eq(revokd_verifier_set_key(v, "RS256",
	    (const unsigned char *)priv, strlen(priv)), -1);
	ck_assert_ptr_nonnull(strstr(revokd_verifier_errstr(v),
	    "private key"));
	revokd_verifier_free(v);

	/* The other checks hold for PKCS#1 too. */
	ck_assert_int_eq(try_key("RS512", pub, strlen(pub)), 0);
	ck_assert_int_eq(try_key("RS256", small, strlen(small)), -1);
	ck_assert_int_eq(try_key("ES256", pub, strlen(pub)), -1);
	ck_assert_int_eq(try_key("HS256", pub, strlen(pub)), -1);
	ck_assert_int_eq(try_key("RS256", pub, strlen(pub) / 2), -1);

	/* And in a key directory. */
	dir = temp_dir();
	put_file(dir, "k1.RS256.pem", pub, strlen(pub));
	ck_assert_ptr_nonnull(v = revokd_verifier_new());
	ck_assert_msg(revokd_verifier_load_key_dir(v, dir) == 0, "%s",
	    revokd_verifier_errstr(v));
	tok = kid_token("k1", "RS256", "RS256", NULL, pkey);
	ck_assert_int_eq(vv(v, tok), REVOKD_VALID);
	free(tok);
	put_file(dir, "k1.RS256.pem", priv, strlen(priv));
	ck_assert_int_eq(revokd_verifier_reload(v), -1);
	revokd_verifier_free(v);
	rm_dir(dir);

	OPENSSL_cleanse(priv, strlen(priv));
	free(priv);
	free(pub);
	free(small);
	EVP_PKEY_free(pkey);
}
END_TEST

/* add_key: kids pinned to algs; a failed add changes nothing; set_key
 * alone keeps verifying tokens that carry a kid (one key, no kid set). */
START_TEST(test_add_key)
{
	revokd_verifier_t	*v = revokd_verifier_new();
	char			*t, *tk;

	/* only the no-kid key: used for every token, kid or not */
	ck_assert_int_eq(revokd_verifier_set_key(v, "ES256",
	    (const unsigned char *)ec256.pub, strlen(ec256.pub)), 0);
	tk = kid_token("idp-key-7", "ES256", "ES256", NULL, ec256.pkey);
	ck_assert_int_eq(vv(v, tk), REVOKD_VALID);
	/* once a kid is configured, a kid must name a key */
	ck_assert_int_eq(revokd_verifier_add_key(v, "r1", "RS384",
	    (const unsigned char *)rsa.pub, strlen(rsa.pub)), 0);
	ck_assert_int_eq(vv(v, tk), REVOKD_UNKNOWN_KEY);
	t = kid_token(NULL, "ES256", "ES256", NULL, ec256.pkey);
	ck_assert_int_eq(vv(v, t), REVOKD_VALID);
	free(t);
	t = kid_token("r1", "RS384", "RS384", NULL, rsa.pkey);
	ck_assert_int_eq(vv(v, t), REVOKD_VALID);
	/* a failed add leaves every key in place */
	ck_assert_int_eq(revokd_verifier_add_key(v, "r1", "RS384",
	    (const unsigned char *)rsa_small.pub, strlen(rsa_small.pub)), -1);
	ck_assert_int_eq(revokd_verifier_add_key(v, "r1", "HS256",
	    (const unsigned char *)SECRET, 16), -1);
	ck_assert_int_eq(revokd_verifier_add_key(v, "", "HS256",
	    (const unsigned char *)SECRET, 32), -1);
	ck_assert_int_eq(revokd_verifier_add_key(v, NULL, "HS256",
	    (const unsigned char *)"", 0), -1);
	ck_assert_int_eq(vv(v, t), REVOKD_VALID);
	free(t);
	t = kid_token(NULL, "ES256", "ES256", NULL, ec256.pkey);
	ck_assert_int_eq(vv(v, t), REVOKD_VALID);
	/* a failed set_key drops only the no-kid key (fails closed) */
	ck_assert_int_eq(revokd_verifier_set_key(v, "ES256",
	    (const unsigned char *)"x", 1), -1);
	ck_assert_str_ne(revokd_verifier_errstr(v), "");
	ck_assert_int_eq(vv(v, t), REVOKD_UNKNOWN_KEY);
	free(t);
	t = kid_token("r1", "RS384", "RS384", NULL, rsa.pkey);
	ck_assert_int_eq(vv(v, t), REVOKD_VALID);
	/* replacing the key under a kid */
	ck_assert_int_eq(revokd_verifier_add_key(v, "r1", "RS384",
	    (const unsigned char *)rsa_other.pub, strlen(rsa_other.pub)), 0);
	ck_assert_int_eq(vv(v, t), REVOKD_BAD_SIGNATURE);
	free(t);
	free(tk);
	revokd_verifier_free(v);
}
END_TEST

/* Append the base64url of a BIGNUM parameter of pkey, padded to pad. */
static char *
bn_b64(EVP_PKEY *pkey, const char *param, int pad)
{
	BIGNUM		*bn = NULL;
	unsigned char	 buf[1024];
	int		 n;
	char		*s;

	ck_assert_int_eq(EVP_PKEY_get_bn_param(pkey, param, &bn), 1);
	n = pad > 0 ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
	ck_assert_int_gt(n, 0);
	BN_free(bn);
	s = b64url(buf, (size_t)n);
	return s;
}

/* Return a JWK for key k (NULL: the oct key SECRET) with kid, alg and
 * extra members (",\"use\":\"enc\"", or ""); alg NULL: no alg. */
static char *
jwk_of(const struct test_key *k, const char *kid, const char *alg,
    const char *extra)
{
	char	*a, *b, *out, algm[64] = "", group[32];
	size_t	 n, glen;
	int	 field;

	out = malloc(4096);
	if (alg != NULL)
		snprintf(algm, sizeof algm, ",\"alg\":\"%s\"", alg);
	if (k == NULL) {
		a = b64url(SECRET, strlen(SECRET));
		snprintf(out, 4096, "{\"kty\":\"oct\",\"kid\":\"%s\"%s,"
		    "\"k\":\"%s\"%s}", kid, algm, a, extra);
		free(a);
		return out;
	}
	if (EVP_PKEY_is_a(k->pkey, "RSA")) {
		a = bn_b64(k->pkey, OSSL_PKEY_PARAM_RSA_N, 0);
		b = bn_b64(k->pkey, OSSL_PKEY_PARAM_RSA_E, 0);
		snprintf(out, 4096, "{\"kty\":\"RSA\",\"kid\":\"%s\"%s,"
		    "\"n\":\"%s\",\"e\":\"%s\"%s}", kid, algm, a, b, extra);
	} else {
		ck_assert_int_eq(EVP_PKEY_get_group_name(k->pkey, group,
		    sizeof group, &glen), 1);
		field = strcmp(group, "prime256v1") == 0 ? 32 :
		    strcmp(group, "secp384r1") == 0 ? 48 : 66;
		a = bn_b64(k->pkey, OSSL_PKEY_PARAM_EC_PUB_X, field);
		b = bn_b64(k->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, field);
		snprintf(out, 4096, "{\"kty\":\"EC\",\"kid\":\"%s\"%s,"
		    "\"crv\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"%s}", kid, algm,
		    field == 32 ? "P-256" : field == 48 ? "P-384" : "P-521",
		    a, b, extra);
	}
	free(a);
	free(b);
	n = strlen(out);
	ck_assert_uint_lt(n, 4000);
	return out;
}

/* Write {"keys":[jwks...]} (NULL-terminated list, each freed) to a temp
 * file and return its path. */
static char *
jwks_file(char *first, ...)
{
	va_list	 ap;
	char	*buf, *jwk, *path;
	size_t	 n = 0, cap = 65536;

	buf = malloc(cap);
	n += (size_t)snprintf(buf, cap, "{\"keys\":[");
	va_start(ap, first);
	for (jwk = first; jwk != NULL; jwk = va_arg(ap, char *)) {
		ck_assert_uint_lt(n + strlen(jwk) + 8, cap);
		n += (size_t)snprintf(buf + n, cap - n, "%s%s",
		    jwk == first ? "" : ",", jwk);
		free(jwk);
	}
	va_end(ap);
	n += (size_t)snprintf(buf + n, cap - n, "]}");
	path = temp_file(buf, n);
	free(buf);
	return path;
}

/* A JWK Set with RSA, EC (P-256, P-384, P-521) and oct keys verifies the
 * tokens of those keys; keys for another use are skipped. */
START_TEST(test_jwks)
{
	revokd_verifier_t	*v = revokd_verifier_new();
	char			*path, *t;
	size_t			 i;
	static const struct {
		const char	*kid;		/* kid in the JWKS */
		const char	*alg;		/* its alg */
	} want[] = {
		{ "rsa-1", "RS256" }, { "rsa-2", "RS512" },
		{ "p256", "ES256" }, { "p384", "ES384" }, { "p521", "ES512" },
		{ "hmac", "HS256" },
	};

	path = jwks_file(jwk_of(&rsa, "rsa-1", "RS256", ",\"use\":\"sig\""),
	    jwk_of(&rsa, "rsa-2", "RS512", ""),
	    jwk_of(&ec256, "p256", "ES256", ""),
	    jwk_of(&ec384, "p384", "ES384", ",\"x5c\":[\"AAAA\"]"),
	    jwk_of(&ec521, "p521", "ES512", ""),
	    jwk_of(NULL, "hmac", "HS256", ""),
	    jwk_of(&rsa_other, "enc-1", "RS256", ",\"use\":\"enc\""),
	    (char *)NULL);
	ck_assert_msg(revokd_verifier_load_jwks(v, path) == 0, "%s",
	    revokd_verifier_errstr(v));
	for (i = 0; i < sizeof want / sizeof want[0]; i++) {
		t = kid_token(want[i].kid, want[i].alg, want[i].alg,
		    want[i].alg[0] == 'H' ? SECRET : NULL,
		    want[i].alg[0] == 'H' ? NULL : key_of(want[i].alg)->pkey);
		ck_assert_msg(vv(v, t) == REVOKD_VALID, "%s refused",
		    want[i].kid);
		free(t);
	}
	t = kid_token("enc-1", "RS256", "RS256", NULL, rsa_other.pkey);
	ck_assert_int_eq(vv(v, t), REVOKD_UNKNOWN_KEY);
	free(t);
	t = kid_token("p256", "ES256", "ES256", NULL, ec256_other.pkey);
	ck_assert_int_eq(vv(v, t), REVOKD_BAD_SIGNATURE);
	free(t);
	t = kid_token("p256", "ES384", "ES384", NULL, ec384.pkey);
	ck_assert_int_eq(vv(v, t), REVOKD_WRONG_ALGORITHM);
	free(t);
	/* reload re-reads the file: rsa-1 gone */
	unlink(path);
	free(path);
	path = jwks_file(jwk_of(&rsa, "rsa-2", "RS512", ""), (char *)NULL);
	ck_assert_int_eq(revokd_verifier_load_jwks(v, path), 0);
	t = kid_token("rsa-1", "RS256", "RS256", NULL, rsa.pkey);
	ck_assert_int_eq(vv(v, t), REVOKD_UNKNOWN_KEY);
	free(t);
	unlink(path);
	free(path);
	revokd_verifier_free(v);
}
END_TEST

/* Load a JWKS of one bad key (after a good one) and expect a refusal
 * whose message holds want; the verifier keeps its key. */
static void
jwks_refused(char *jwk, const char *want)
{
	revokd_verifier_t	*v = verifier_for("HS256");
	char			*path, *t;

	path = jwks_file(jwk_of(&ec256, "good", "ES256", ""), jwk,
	    (char *)NULL);
	ck_assert_msg(revokd_verifier_load_jwks(v, path) == -1,
	    "accepted (want \"%s\")", want);
	ck_assert_msg(strstr(revokd_verifier_errstr(v), want) != NULL,
	    "message \"%s\" lacks \"%s\"", revokd_verifier_errstr(v), want);
	t = hs(payload_exp(600));
	ck_assert_int_eq(vv(v, t), REVOKD_VALID);
	free(t);
	/* "good" was not loaded (the lone no-kid key answers instead) */
	t = kid_token("good", "ES256", "ES256", NULL, ec256.pkey);
	ck_assert_int_eq(vv(v, t), REVOKD_WRONG_ALGORITHM);
	free(t);
	unlink(path);
	free(path);
	revokd_verifier_free(v);
}

/* Write raw text as a JWKS file, try to load it, expect a refusal. */
static void
jwks_text_refused(const char *text)
{
	revokd_verifier_t	*v = revokd_verifier_new();
	char			*path = temp_file(text, strlen(text));

	ck_assert_msg(revokd_verifier_load_jwks(v, path) == -1,
	    "accepted: %s", text);
	unlink(path);
	free(path);
	revokd_verifier_free(v);
}

/* A JWKS without alg or kid, with private members, a curve that does not
 * fit its alg, a short RSA key or secret, is refused as a whole. */
START_TEST(test_jwks_refusals)
{
	char	*short_k;

	/* the full 64-byte secret is fine for HS512 */
	{
		revokd_verifier_t	*v = revokd_verifier_new();
		char			*path;

		path = jwks_file(jwk_of(NULL, "h", "HS512", ""),
		    (char *)NULL);
		ck_assert_int_eq(revokd_verifier_load_jwks(v, path), 0);
		unlink(path);
		free(path);
		revokd_verifier_free(v);
	}
	jwks_refused(jwk_of(&rsa, "r", NULL, ""), "alg");
	jwks_refused(jwk_of(&ec384, "", "ES384", ""), "kid");
	jwks_refused(jwk_of(&rsa, "r", "RS256", ",\"d\":\"AQAB\""),
	    "private");
	jwks_refused(jwk_of(&ec256, "e", "ES256", ",\"d\":\"AQAB\""),
	    "private");
	jwks_refused(jwk_of(&rsa, "r", "RS256", ",\"p\":\"AQAB\""),
	    "private");
	jwks_refused(jwk_of(&ec256, "e", "ES384", ""), "P-384");
	jwks_refused(jwk_of(&ec384, "e", "ES256", ""), "P-256");
	jwks_refused(jwk_of(&rsa_small, "r", "RS256", ""), "2048");
	jwks_refused(jwk_of(&rsa, "r", "ES256", ""), "kty");
	jwks_refused(jwk_of(&rsa, "r", "none", ""), "alg");
	jwks_refused(jwk_of(&rsa, "r", "rs256", ""), "alg");
	{
		char	*k48 = b64url(SECRET, 48), *jwk = malloc(256);

		snprintf(jwk, 256, "{\"kty\":\"oct\",\"kid\":\"h\","
		    "\"alg\":\"HS512\",\"k\":\"%s\"}", k48);
		free(k48);
		jwks_refused(jwk, "under 64 bytes");
	}
	jwks_refused(jwk_of(&ec256, "good", "ES256", ""), "duplicate");
	short_k = strdup("{\"kty\":\"oct\",\"kid\":\"h\",\"alg\":\"HS256\","
	    "\"k\":\"c2hvcnQ\"}");
	jwks_refused(short_k, "under 32 bytes");
	jwks_refused(strdup("{\"kty\":\"EC\",\"kid\":\"e\",\"alg\":\"ES256\","
	    "\"crv\":\"P-256\",\"x\":\"AAAA\",\"y\":\"AAAA\"}"), "EC");
	jwks_refused(strdup("{\"kty\":\"RSA\",\"kid\":\"r\",\"alg\":\"RS256\","
	    "\"n\":\"AQAB\",\"e\":\"AQ==\"}"), "RSA");
	jwks_refused(strdup("[]"), "not an object");

	jwks_text_refused("");
	jwks_text_refused("not json");
	jwks_text_refused("[]");
	jwks_text_refused("{\"keys\":{}}");
	jwks_text_refused("{\"keys\":[]}");
	jwks_text_refused("{\"keys\":[],\"keys\":[]}");
	{
		revokd_verifier_t	*v = revokd_verifier_new();

		ck_assert_int_eq(revokd_verifier_load_jwks(v,
		    "/nonexistent.json"), -1);
		ck_assert_int_eq(revokd_verifier_load_jwks(v, NULL), -1);
		revokd_verifier_free(v);
	}
}
END_TEST

/* A kid both in the key directory and the JWKS is refused. */
START_TEST(test_jwks_dir_conflict)
{
	revokd_verifier_t	*v = revokd_verifier_new();
	char			*dir = temp_dir(), *path, *t;

	put_abc(dir);
	ck_assert_int_eq(revokd_verifier_load_key_dir(v, dir), 0);
	path = jwks_file(jwk_of(&ec256, "B", "ES256", ""), (char *)NULL);
	ck_assert_int_eq(revokd_verifier_load_jwks(v, path), -1);
	ck_assert_ptr_nonnull(strstr(revokd_verifier_errstr(v), "both"));
	unlink(path);
	free(path);
	path = jwks_file(jwk_of(&ec384, "E", "ES384", ""), (char *)NULL);
	ck_assert_int_eq(revokd_verifier_load_jwks(v, path), 0);
	t = kid_token("E", "ES384", "ES384", NULL, ec384.pkey);
	ck_assert_int_eq(vv(v, t), REVOKD_VALID);
	ck_assert_int_eq(revokd_verifier_reload(v), 0);
	ck_assert_int_eq(vv(v, t), REVOKD_VALID);
	free(t);
	t = kid_token("A", "RS256", "RS256", NULL, rsa.pkey);
	ck_assert_int_eq(vv(v, t), REVOKD_VALID);
	free(t);
	unlink(path);
	free(path);
	revokd_verifier_free(v);
	rm_dir(dir);
}
END_TEST

/* --- Cache and policy ------------------------------------------------ */

/* A second verification is a cache hit; a hit never outlives exp plus
 * leeway; the cache can be disabled and resized. */
START_TEST(test_cache)
{
	revokd_verifier_t	*v = verifier_for("ES256");
	struct token_claims	 c;
	unsigned long		 hits, misses;
	long long		 now = (long long)time(NULL), exp;
	char			 payload[128], *t;

	exp = now + 100;
	snprintf(payload, sizeof payload, "{\"jti\":\"cj\",\"iss\":\"ci\","
	    "\"exp\":%lld}", exp);
	t = hand_token(hdr("ES256"), payload, "ES256");
	ck_assert_int_eq(verify_token_at(v, t, strlen(t), now, &c),
	    REVOKD_VALID);
	token_claims_free(&c);
	verify_cache_stats(v, &hits, &misses);
	ck_assert_uint_eq(hits, 0);
	ck_assert_uint_eq(misses, 1);
	ck_assert_int_eq(verify_token_at(v, t, strlen(t), now + 1, &c),
	    REVOKD_VALID);
	ck_assert_str_eq(c.jti, "cj");
	ck_assert_str_eq(c.iss, "ci");
	ck_assert_int_eq(c.exp, exp);
	token_claims_free(&c);
	verify_cache_stats(v, &hits, &misses);
	ck_assert_uint_eq(hits, 1);
	ck_assert_uint_eq(misses, 1);
	/* within the leeway (30 s) after exp: still valid; then expired */
	ck_assert_int_eq(verify_token_at(v, t, strlen(t), exp + 29, &c),
	    REVOKD_VALID);
	token_claims_free(&c);
	ck_assert_int_eq(verify_token_at(v, t, strlen(t), exp + 30, &c),
	    REVOKD_EXPIRED);
	token_claims_free(&c);
	ck_assert_int_eq(verify_token_at(v, t, strlen(t), exp + 3600, &c),
	    REVOKD_EXPIRED);
	token_claims_free(&c);
	/* one byte different: not the cached token */
	t[strlen(t) - 2] ^= 1;
	ck_assert_int_ne(verify_token_at(v, t, strlen(t), now, &c),
	    REVOKD_VALID);
	token_claims_free(&c);
	t[strlen(t) - 2] ^= 1;
	/* a policy change forgets cached results */
	ck_assert_int_eq(verify_token_at(v, t, strlen(t), now, &c),
	    REVOKD_VALID);
	token_claims_free(&c);
	ck_assert_int_eq(revokd_verifier_set_issuer(v, "other"), 0);
	ck_assert_int_eq(verify_token_at(v, t, strlen(t), now, &c),
	    REVOKD_WRONG_ISSUER);
	ck_assert_int_eq(revokd_verifier_set_issuer(v, NULL), 0);
	/* a new key forgets cached results */
	ck_assert_int_eq(verify_token_at(v, t, strlen(t), now, &c),
	    REVOKD_VALID);
	token_claims_free(&c);
	ck_assert_int_eq(revokd_verifier_set_key(v, "ES256",
	    (const unsigned char *)ec256_other.pub, strlen(ec256_other.pub)),
	    0);
	ck_assert_int_eq(verify_token_at(v, t, strlen(t), now, &c),
	    REVOKD_BAD_SIGNATURE);
	ck_assert_int_eq(revokd_verifier_set_key(v, "ES256",
	    (const unsigned char *)ec256.pub, strlen(ec256.pub)), 0);
	/* disabled: every call is a full verification */
	ck_assert_int_eq(revokd_verifier_set_cache(v, 0), 0);
	verify_cache_stats(v, &hits, &misses);
	ck_assert_int_eq(vv(v, t), REVOKD_VALID);
	ck_assert_int_eq(vv(v, t), REVOKD_VALID);
	{
		unsigned long	h2, m2;

		verify_cache_stats(v, &h2, &m2);
		ck_assert_uint_eq(h2, hits);
		ck_assert_uint_eq(m2, misses + 2);
		/* resized back on */
		ck_assert_int_eq(revokd_verifier_set_cache(v, 2), 0);
		ck_assert_int_eq(vv(v, t), REVOKD_VALID);
		ck_assert_int_eq(vv(v, t), REVOKD_VALID);
		verify_cache_stats(v, &h2, &m2);
		ck_assert_uint_eq(h2, hits + 1);
	}
	ck_assert_int_eq(revokd_verifier_set_cache(v, (size_t)1 << 30), -1);
	/* refused tokens are never cached */
	free(t);
	t = hand_token(hdr("ES256"), payload_exp(-3600), "ES256");
	verify_cache_stats(v, &hits, &misses);
	ck_assert_int_eq(vv(v, t), REVOKD_EXPIRED);
	ck_assert_int_eq(vv(v, t), REVOKD_EXPIRED);
	{
		unsigned long	h2, m2;

		verify_cache_stats(v, &h2, &m2);
		ck_assert_uint_eq(h2, hits);
	}
	free(t);
	revokd_verifier_free(v);
}
END_TEST

/* A cache hit gives the claims a verify-then-check asks the daemon about
 * (jti, iss, sub, sid, iat, and iat's absence) exactly as a full
 * verification does: a cached token is checked against every rule. */
START_TEST(test_cache_claims)
{
	revokd_verifier_t	*v = verifier_for("HS256");
	struct token_claims	 miss, hit;
	long long		 now = (long long)time(NULL);
	char			 payload[256], *t[3];
	int			 i;

	snprintf(payload, sizeof payload, "{\"jti\":\"cc1\",\"iss\":\"ci\","
	    "\"sub\":\"alice\",\"sid\":\"s1\",\"iat\":%lld,\"exp\":%lld}",
	    now - 10, now + 100);
	t[0] = hs(payload);
	/* no iat, no sid, no iss */
	snprintf(payload, sizeof payload, "{\"jti\":\"cc2\",\"sub\":\"bob\","
	    "\"exp\":%lld}", now + 100);
	t[1] = hs(payload);
	/* iat 0 is an iat */
	snprintf(payload, sizeof payload, "{\"jti\":\"cc3\",\"iat\":0,"
	    "\"exp\":%lld}", now + 100);
	t[2] = hs(payload);
	for (i = 0; i < 3; i++) {
		unsigned long	 h0, h1, m;

		verify_cache_stats(v, &h0, &m);
		ck_assert_int_eq(verify_token_at(v, t[i], strlen(t[i]), now,
		    &miss), REVOKD_VALID);
		ck_assert_int_eq(verify_token_at(v, t[i], strlen(t[i]), now,
		    &hit), REVOKD_VALID);
		verify_cache_stats(v, &h1, &m);
		ck_assert_uint_eq(h1, h0 + 1);
		ck_assert_pstr_eq(hit.jti, miss.jti);
		ck_assert_pstr_eq(hit.iss, miss.iss);
		ck_assert_pstr_eq(hit.sub, miss.sub);
		ck_assert_pstr_eq(hit.sid, miss.sid);
		ck_assert_int_eq(hit.has_iat, miss.has_iat);
		ck_assert_int_eq(hit.iat, miss.iat);
		if (i == 0) {
			ck_assert_str_eq(hit.sub, "alice");
			ck_assert_str_eq(hit.sid, "s1");
			ck_assert(hit.has_iat && hit.iat == now - 10);
		} else if (i == 1) {
			ck_assert_str_eq(hit.sub, "bob");
			ck_assert_ptr_null(hit.sid);
			ck_assert_int_eq(hit.has_iat, 0);
		} else
			ck_assert(hit.has_iat && hit.iat == 0);
		token_claims_free(&miss);
		token_claims_free(&hit);
		free(t[i]);
	}
	revokd_verifier_free(v);
}
END_TEST

/* exp - iat over the limit, or no iat with a limit, is malformed. */
START_TEST(test_max_lifetime)
{
	revokd_verifier_t	*v = verifier_for("HS256");
	long long		 now = (long long)time(NULL);
	char			 buf[160], *t;

	ck_assert_int_eq(revokd_verifier_set_max_lifetime(v, -1), -1);
	ck_assert_int_eq(revokd_verifier_set_max_lifetime(v, 3600), 0);
	snprintf(buf, sizeof buf, "{\"jti\":\"a\",\"iat\":%lld,\"exp\":%lld}",
	    now, now + 3600);
	t = hs(buf);
	ck_assert_int_eq(vv(v, t), REVOKD_VALID);
	free(t);
	snprintf(buf, sizeof buf, "{\"jti\":\"a\",\"iat\":%lld,\"exp\":%lld}",
	    now, now + 3601);
	t = hs(buf);
	ck_assert_int_eq(vv(v, t), REVOKD_MALFORMED);
	ck_assert_int_eq(revokd_verifier_set_max_lifetime(v, 0), 0);
	ck_assert_int_eq(vv(v, t), REVOKD_VALID);
	ck_assert_int_eq(revokd_verifier_set_max_lifetime(v, 3600), 0);
	ck_assert_int_eq(vv(v, t), REVOKD_MALFORMED);	/* not cached */
	free(t);
	snprintf(buf, sizeof buf, "{\"jti\":\"a\",\"exp\":%lld}", now + 60);
	t = hs(buf);
	ck_assert_int_eq(vv(v, t), REVOKD_MALFORMED);	/* iat required */
	free(t);
	snprintf(buf, sizeof buf, "{\"jti\":\"a\",\"iat\":%lld,"
	    "\"exp\":%lld}", -9223372036854775807LL - 1, now + 60);
	t = hs(buf);
	ck_assert_int_eq(vv(v, t), REVOKD_MALFORMED);	/* overflow */
	free(t);
	/* iat in the future beyond the leeway */
	snprintf(buf, sizeof buf, "{\"jti\":\"a\",\"iat\":%lld,"
	    "\"exp\":%lld}", now + 100, now + 200);
	t = hs(buf);
	ck_assert_int_eq(vv(v, t), REVOKD_NOT_YET_VALID);
	free(t);
	revokd_verifier_free(v);
}
END_TEST

/* The length cap is configurable, bounded, and checked first. */
START_TEST(test_max_length)
{
	revokd_verifier_t	*v = verifier_for("HS256");
	char			*t = hs(payload_exp(600)), *big;
	size_t			 n = strlen(t);
	unsigned long		 hits, misses, m2;

	ck_assert_int_eq(revokd_verifier_set_max_length(v, 0), -1);
	ck_assert_int_eq(revokd_verifier_set_max_length(v, 65537), -1);
	ck_assert_int_eq(revokd_verifier_set_max_length(v, n - 1), 0);
	verify_cache_stats(v, &hits, &misses);
	ck_assert_int_eq(vv(v, t), REVOKD_MALFORMED);
	verify_cache_stats(v, &hits, &m2);
	ck_assert_uint_eq(m2, misses);		/* refused before anything */
	ck_assert_int_eq(revokd_verifier_set_max_length(v, n), 0);
	ck_assert_int_eq(vv(v, t), REVOKD_VALID);
	ck_assert_int_eq(revokd_verifier_set_max_length(v, 65536), 0);
	big = huge_token(9 * 1024 * 1024);
	ck_assert_int_eq(vv(v, big), REVOKD_MALFORMED);
	free(big);
	big = huge_token(60000);
	ck_assert_int_eq(vv(v, big), REVOKD_MALFORMED);
	free(big);
	free(t);
	revokd_verifier_free(v);
}
END_TEST

/* The accepted typ set is configurable; tokens without typ pass. */
START_TEST(test_typs)
{
	revokd_verifier_t	*v = verifier_for("HS256");
	char			*jwt, *at, *sec, *none;

	jwt = hand_token("{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
	    payload_exp(600), "HS256");
	at = hand_token("{\"alg\":\"HS256\",\"typ\":\"at+JWT\"}",
	    payload_exp(600), "HS256");
	sec = hand_token("{\"alg\":\"HS256\",\"typ\":\"secevent+jwt\"}",
	    payload_exp(600), "HS256");
	none = hand_token("{\"alg\":\"HS256\"}", payload_exp(600), "HS256");
	ck_assert_int_eq(vv(v, jwt), REVOKD_VALID);
	ck_assert_int_eq(vv(v, at), REVOKD_VALID);
	ck_assert_int_eq(vv(v, sec), REVOKD_MALFORMED);
	ck_assert_int_eq(revokd_verifier_set_typs(v, "JWT"), 0);
	ck_assert_int_eq(vv(v, jwt), REVOKD_VALID);
	ck_assert_int_eq(vv(v, at), REVOKD_MALFORMED);	/* cache forgot */
	ck_assert_int_eq(vv(v, none), REVOKD_VALID);
	ck_assert_int_eq(revokd_verifier_set_typs(v,
	    " at+jwt , application/SECEVENT+JWT"), 0);
	ck_assert_int_eq(vv(v, jwt), REVOKD_MALFORMED);
	ck_assert_int_eq(vv(v, at), REVOKD_VALID);
	ck_assert_int_eq(vv(v, sec), REVOKD_VALID);
	ck_assert_int_eq(revokd_verifier_set_typs(v, ""), -1);
	ck_assert_int_eq(revokd_verifier_set_typs(v, "JWT,,at+jwt"), -1);
	ck_assert_int_eq(revokd_verifier_set_typs(v, "a b"), -1);
	ck_assert_int_eq(revokd_verifier_set_typs(v,
	    "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q"), -1);
	ck_assert_int_eq(vv(v, sec), REVOKD_VALID);	/* unchanged */
	ck_assert_int_eq(revokd_verifier_set_typs(v, NULL), 0);
	ck_assert_int_eq(vv(v, jwt), REVOKD_VALID);
	ck_assert_int_eq(vv(v, at), REVOKD_VALID);
	ck_assert_int_eq(vv(v, sec), REVOKD_MALFORMED);
	free(jwt);
	free(at);
	free(sec);
	free(none);
	revokd_verifier_free(v);
}
END_TEST

/* The fail-open flag is off by default and readable by client.c. */
START_TEST(test_fail_open)
{
	revokd_verifier_t	*v = revokd_verifier_new();

	ck_assert_int_eq(verify_fail_open(v), 0);
	ck_assert_int_eq(revokd_verifier_set_fail_open(v, 1), 0);
	ck_assert_int_eq(verify_fail_open(v), 1);
	ck_assert_int_eq(revokd_verifier_set_fail_open(v, 7), 0);
	ck_assert_int_eq(verify_fail_open(v), 1);
	ck_assert_int_eq(revokd_verifier_set_fail_open(v, 0), 0);
	ck_assert_int_eq(verify_fail_open(v), 0);
	ck_assert_int_eq(verify_fail_open(NULL), 0);
	ck_assert_int_eq(revokd_verifier_set_fail_open(NULL, 1), -1);
	revokd_verifier_free(v);
}
END_TEST

/* Arguments of the reload thread test. */
struct reload_arg {
	revokd_verifier_t	*v;		/* shared verifier */
	const char		*tok;		/* token of a kept kid */
	atomic_int		*stop;		/* set when done */
};

/* Verify a kept key's token until told to stop; count failures. */
static void *
thread_reload_verify(void *arg)
{
	struct reload_arg	*a = arg;
	intptr_t		 bad = 0;

	while (!atomic_load(a->stop)) {
		if (vv(a->v, a->tok) != REVOKD_VALID)
			bad++;
	}
	return (void *)bad;
}

/* Reload while other threads verify: they never see a half-built set. */
START_TEST(test_reload_threads)
{
	revokd_verifier_t	*v = revokd_verifier_new();
	char			*dir = temp_dir(), *tb, *tc;
	struct reload_arg	 args[2];
	atomic_int		 stop;
	pthread_t		 th[2];
	void			*ret;
	int			 i;

	put_abc(dir);
	ck_assert_int_eq(revokd_verifier_load_key_dir(v, dir), 0);
	tb = kid_token("B", "ES256", "ES256", NULL, ec256.pkey);
	tc = kid_token("C", "HS256", "HS256", SECRET, NULL);
	atomic_init(&stop, 0);
	args[0] = (struct reload_arg){ v, tb, &stop };
	args[1] = (struct reload_arg){ v, tc, &stop };
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL,
		    thread_reload_verify, &args[i]), 0);
	for (i = 0; i < 50; i++) {
		if (i % 2)
			rm_file(dir, "A.RS256.pem");
		else if (i > 0)
			put_file(dir, "A.RS256.pem", rsa.pub,
			    strlen(rsa.pub));
		ck_assert_int_eq(revokd_verifier_reload(v), 0);
	}
	atomic_store(&stop, 1);
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(pthread_join(th[i], &ret), 0);
		ck_assert_int_eq((intptr_t)ret, 0);
	}
	free(tb);
	free(tc);
	revokd_verifier_free(v);
	rm_dir(dir);
}
END_TEST

/* Tokens shared by the threads of test_threads. */
static char	*thread_tokens[3];

/* Verify the shared tokens with a shared verifier; count the failures. */
static void *
thread_verify(void *arg)
{
	revokd_verifier_t *const	*vs = arg;
	intptr_t			 bad = 0;
	int				 i, k;

	for (i = 0; i < 200; i++) {
		for (k = 0; k < 3; k++) {
			if (revokd_verify(vs[k], thread_tokens[k],
			    strlen(thread_tokens[k])) != REVOKD_VALID)
				bad++;
		}
	}
	return (void *)bad;
}

/* One configured verifier may be used by many threads at once. */
START_TEST(test_threads)
{
	static const char *const talgs[] = { "HS256", "RS256", "ES256" };
	revokd_verifier_t	*vs[3];
	pthread_t		 th[4];
	void			*ret;
	int			 i;

	for (i = 0; i < 3; i++) {
		vs[i] = verifier_for(talgs[i]);
		thread_tokens[i] = hand_token(hdr(talgs[i]),
		    payload_exp(600), talgs[i]);
	}
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, thread_verify,
		    vs), 0);
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(pthread_join(th[i], &ret), 0);
		ck_assert_int_eq((intptr_t)ret, 0);
	}
	for (i = 0; i < 3; i++) {
		revokd_verifier_free(vs[i]);
		free(thread_tokens[i]);
	}
}
END_TEST

/* Build the suite. */
static Suite *
verify_suite(void)
{
	Suite	*s = suite_create("verify");
	TCase	*tc;
	int	 nalgs = (int)(sizeof algs / sizeof algs[0]);

	tc = tcase_create("algorithms");
	tcase_add_loop_test(tc, test_alg_valid_libjwt, 0, nalgs);
	tcase_add_loop_test(tc, test_alg_valid_hand, 0, nalgs);
	tcase_add_loop_test(tc, test_alg_tampered_payload, 0, nalgs);
	tcase_add_loop_test(tc, test_alg_tampered_signature, 0, nalgs);
	tcase_add_loop_test(tc, test_alg_other_key, 0, nalgs);
	tcase_add_loop_test(tc, test_alg_empty_signature, 0, nalgs);
	tcase_add_test(tc, test_es_signature_length);
	suite_add_tcase(s, tc);

	tc = tcase_create("confusion");
	tcase_add_test(tc, test_alg_none);
	tcase_add_test(tc, test_key_confusion);
	tcase_add_test(tc, test_wrong_alg);
	suite_add_tcase(s, tc);

	tc = tcase_create("time");
	tcase_add_test(tc, test_exp);
	tcase_add_test(tc, test_max_ttl);
	tcase_add_test(tc, test_rsa_e1_refused);
	tcase_add_test(tc, test_nbf);
	tcase_add_test(tc, test_iat);
	tcase_add_test(tc, test_time_types);
	suite_add_tcase(s, tc);

	tc = tcase_create("claims");
	tcase_add_test(tc, test_jti);
	tcase_add_test(tc, test_iss);
	tcase_add_test(tc, test_aud);
	suite_add_tcase(s, tc);

	tc = tcase_create("parsing");
	tcase_add_test(tc, test_json_shape);
	tcase_add_test(tc, test_typ);
	tcase_add_test(tc, test_base64url);
	tcase_add_test(tc, test_base64url_stray_bits);
	tcase_add_test(tc, test_segments);
	tcase_add_test(tc, test_huge);
	tcase_add_test(tc, test_peek);
	suite_add_tcase(s, tc);

	tc = tcase_create("keys");
	tcase_add_test(tc, test_set_key);
	tcase_add_test(tc, test_no_key);
	tcase_add_test(tc, test_key_file);
	tcase_add_test(tc, test_rsa_pkcs1);
	suite_add_tcase(s, tc);

	tc = tcase_create("keysets");
	tcase_add_test(tc, test_key_dir);
	tcase_add_test(tc, test_key_dir_rotation);
	tcase_add_test(tc, test_key_dir_refusals);
	tcase_add_test(tc, test_add_key);
	tcase_add_test(tc, test_jwks);
	tcase_add_test(tc, test_jwks_refusals);
	tcase_add_test(tc, test_jwks_dir_conflict);
	tcase_add_test(tc, test_reload_threads);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("policy");
	tcase_add_test(tc, test_cache);
	tcase_add_test(tc, test_cache_claims);
	tcase_add_test(tc, test_max_lifetime);
	tcase_add_test(tc, test_max_length);
	tcase_add_test(tc, test_typs);
	tcase_add_test(tc, test_fail_open);
	suite_add_tcase(s, tc);

	tc = tcase_create("interop");
	tcase_add_test(tc, test_outcome_str);
	tcase_add_loop_test(tc, test_pyjwt, 0, nalgs);
	tcase_add_test(tc, test_threads);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

/* Generate the keys, run the suite, exit non-zero on any failure. */
int
main(void)
{
	SRunner	*sr;
	int	 failed;

	key_gen(&rsa, "RSA", NULL, 2048);
	key_gen(&rsa_other, "RSA", NULL, 2048);
	key_gen(&rsa_small, "RSA", NULL, 1024);
	key_gen(&ec256, "EC", "P-256", 0);
	key_gen(&ec256_other, "EC", "P-256", 0);
	key_gen(&ec384, "EC", "P-384", 0);
	key_gen(&ec521, "EC", "P-521", 0);

	sr = srunner_create(verify_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);

	key_free(&rsa);
	key_free(&rsa_other);
	key_free(&rsa_small);
	key_free(&ec256);
	key_free(&ec256_other);
	key_free(&ec384);
	key_free(&ec521);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
