/* Key sets: verification keys by kid, each pinned to one algorithm. */
#ifndef REVOKD_KEYSET_H
#define REVOKD_KEYSET_H

#include <stdatomic.h>
#include <stddef.h>

#include <openssl/evp.h>

#define KEYSET_KEY_MAX		65536	/* bytes in a key or key file */
#define KEYSET_JWKS_MAX		(1024 * 1024)	/* bytes in a JWKS file */
#define KEYSET_FILES_MAX	1024	/* files in a key directory */
#define KEYSET_KID_MAX		256	/* bytes in a kid */
#define KEYSET_RSA_MIN_BITS	2048	/* RFC 7518 3.3: at least 2048 */

/* The family of a JWS algorithm. */
enum keyset_kind {
	KEYSET_HMAC = 1,	/* HS256, HS384, HS512 */
	KEYSET_RSA,		/* RS256, RS384, RS512 (PKCS#1 v1.5) */
	KEYSET_ECDSA		/* ES256, ES384, ES512 */
};

/* One supported algorithm. */
struct keyset_alg {
	const char		*name;		/* JWS "alg" */
	enum keyset_kind	 kind;		/* family */
	const char		*digest;	/* OpenSSL digest name */
	size_t			 hashlen;	/* digest bytes */
	const char		*curve;		/* EC group name (ES*) */
	const char		*crv;		/* JWK "crv" (ES*) */
	size_t			 fieldlen;	/* bytes of r, s, x, y (ES*) */
};

/* One key: immutable once in a set. */
struct keyset_key {
	char			*kid;		/* kid, NULL: the no-kid key */
	const struct keyset_alg	*alg;		/* pinned algorithm */
	EVP_MD			*md;		/* fetched digest of alg */
	unsigned char		*secret;	/* HMAC secret (HS*) */
	size_t			 secretlen;	/* bytes in secret */
	EVP_PKEY		*pkey;		/* public key (RS*, ES*) */
};

/*
 * A set of keys, sorted by kid, plus the no-kid key. Never changed once
 * published to verifying threads: a new set is built and swapped in, and
 * the old one is freed when its last reader drops its reference.
 */
struct keyset {
	atomic_uint		 refs;		/* references held */
	struct keyset_key	*keys;		/* keys with a kid, by kid */
	size_t			 nkeys;		/* entries in keys */
	struct keyset_key	*nokid;		/* the no-kid key or NULL */
};

/* Look up a supported algorithm by its exact name; NULL if none. */
const struct keyset_alg *keyset_alg_find(const char *name);
/* Parse key for alg (secret for HS*, PEM public key otherwise) into k
 * under kid (NULL allowed). 0, or -1 with a message in err. */
int keyset_key_parse(struct keyset_key *k, const char *kid, const char *alg,
    const unsigned char *key, size_t keylen, char *err, size_t errlen);
/* Free what k holds, wiping the secret, and zero it. */
void keyset_key_clear(struct keyset_key *k);

/* Create an empty set with one reference. NULL on OOM. */
struct keyset *keyset_new(void);
/* Take a reference to ks. */
void keyset_ref(struct keyset *ks);
/* Drop a reference to ks, freeing it with the last one. */
void keyset_unref(struct keyset *ks);
/* Return the number of keys in ks (the no-kid key included). */
size_t keyset_count(const struct keyset *ks);
/* Return the key for kid (NULL: the no-kid key), or NULL. */
const struct keyset_key *keyset_find(const struct keyset *ks,
    const char *kid);
/* Return a new set holding copies of the keys of a and of b (either may
 * be NULL); a kid in both keeps a's key, unless dup is not NULL: then the
 * merge fails with *dup pointing at that kid (inside a). NULL on OOM or
 * such a duplicate. */
struct keyset *keyset_merge(const struct keyset *a, const struct keyset *b,
    const char **dup);
/* Move k into ks (not yet published), replacing a key of the same kid.
 * k is zeroed. 0, or -1 on OOM (k untouched). */
int keyset_put(struct keyset *ks, struct keyset_key *k);

/* Read every "KID.ALG.pem" / "KID.ALG" file of dir into a new set.
 * NULL with a message naming the file in err on any failure. */
struct keyset *keyset_load_dir(const char *dir, char *err, size_t errlen);
/* Read a JWK Set file into a new set. NULL with a message in err. */
struct keyset *keyset_load_jwks(const char *path, char *err, size_t errlen);
/* Read a whole file of 1 to max bytes into a new buffer (wiped and freed
 * by the caller). 0, or -1 with a message naming path in err. */
int keyset_read_file(const char *path, size_t max, unsigned char **buf,
    size_t *len, char *err, size_t errlen);

#endif
