/*
 * Key sets: the verification keys of a verifier, by kid, each pinned to
 * one algorithm, read from PEM/secret strings, a key directory or a JWK
 * Set file.
 *
 * A kid is only ever a lookup key here: it is never turned into a path and
 * never fetched. Every loader is all-or-nothing: one bad file or JWK fails
 * the whole load, so a typo never silently drops a key (or adds one).
 * Sets are immutable once published; the verifier swaps whole sets.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "keyset.h"
#include "token.h"

/* The nine algorithms we accept; nothing else, "none" least of all. */
static const struct keyset_alg keyset_algs[] = {
	{ "HS256", KEYSET_HMAC, "SHA2-256", 32, NULL, NULL, 0 },
	{ "HS384", KEYSET_HMAC, "SHA2-384", 48, NULL, NULL, 0 },
	{ "HS512", KEYSET_HMAC, "SHA2-512", 64, NULL, NULL, 0 },
	{ "RS256", KEYSET_RSA, "SHA2-256", 32, NULL, NULL, 0 },
	{ "RS384", KEYSET_RSA, "SHA2-384", 48, NULL, NULL, 0 },
	{ "RS512", KEYSET_RSA, "SHA2-512", 64, NULL, NULL, 0 },
	{ "ES256", KEYSET_ECDSA, "SHA2-256", 32, "prime256v1", "P-256", 32 },
	{ "ES384", KEYSET_ECDSA, "SHA2-384", 48, "secp384r1", "P-384", 48 },
	{ "ES512", KEYSET_ECDSA, "SHA2-512", 64, "secp521r1", "P-521", 66 },
};

/* JWK members that only a private key has (RFC 7518 6.2.2, 6.3.2). */
static const char *const jwk_private[] = {
	"d", "p", "q", "dp", "dq", "qi", "oth"
};

/* Write a message into err and return -1. */
static int ks_fail(char *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/* Write a message into err and return -1. */
static int
ks_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Look up a supported algorithm by its exact name. */
const struct keyset_alg *
keyset_alg_find(const char *name)
{
	size_t	i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < sizeof keyset_algs / sizeof keyset_algs[0]; i++) {
		if (strcmp(keyset_algs[i].name, name) == 0)
			return &keyset_algs[i];
	}
	return NULL;
}

/* Free what k holds, wiping the secret, and zero it. */
void
keyset_key_clear(struct keyset_key *k)
{
	if (k == NULL)
		return;
	free(k->kid);
	EVP_MD_free(k->md);
	if (k->secret != NULL) {
		OPENSSL_cleanse(k->secret, k->secretlen);
		free(k->secret);
	}
	EVP_PKEY_free(k->pkey);
	memset(k, 0, sizeof *k);
}

/* Run OpenSSL's public key validation on pkey (RSA: modulus and a sane
 * exponent, so e = 1 cannot turn verification into a comparison; EC: the
 * point is on the curve); frees it and fails if it does not pass. */
static int
check_public(EVP_PKEY *pkey, const struct keyset_alg *a, char *err,
    size_t errlen)
{
	EVP_PKEY_CTX	*ctx;
	int		 ok;

	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	ok = ctx != NULL && EVP_PKEY_public_check(ctx) == 1;
	EVP_PKEY_CTX_free(ctx);
	if (!ok) {
		EVP_PKEY_free(pkey);
		return ks_fail(err, errlen, "%s: public key fails validation",
		    a->name);
	}
	return 0;
}

/* Check that pkey is a public key fit for alg; frees it if not. */
static int
check_pkey(EVP_PKEY *pkey, const struct keyset_alg *a, char *err,
    size_t errlen)
{
	char	group[64];
	size_t	glen;

	if (a->kind == KEYSET_RSA) {
		/* "RSA" only: an RSA-PSS key would not do PKCS#1 v1.5. */
		if (!EVP_PKEY_is_a(pkey, "RSA")) {
			EVP_PKEY_free(pkey);
			return ks_fail(err, errlen, "%s: not an RSA key",
			    a->name);
		}
		if (EVP_PKEY_get_bits(pkey) < KEYSET_RSA_MIN_BITS) {
			EVP_PKEY_free(pkey);
			return ks_fail(err, errlen, "%s: RSA key under %d bits",
			    a->name, KEYSET_RSA_MIN_BITS);
		}
		return check_public(pkey, a, err, errlen);
	}
	if (!EVP_PKEY_is_a(pkey, "EC") ||
	    EVP_PKEY_get_group_name(pkey, group, sizeof group, &glen) != 1) {
		EVP_PKEY_free(pkey);
		return ks_fail(err, errlen, "%s: not an EC key", a->name);
	}
	if (strcmp(group, a->curve) != 0) {
		EVP_PKEY_free(pkey);
		return ks_fail(err, errlen, "%s: EC key not on %s", a->name,
		    a->crv);
	}
	return check_public(pkey, a, err, errlen);
}

/* Decode a PKCS#1 "RSA PUBLIC KEY" PEM (openssl rsa -RSAPublicKey_out),
 * public part only; NULL if key is not one. */
static EVP_PKEY *
decode_rsa_pkcs1(const unsigned char *key, size_t keylen)
{
	OSSL_DECODER_CTX	*dctx;
	EVP_PKEY		*pkey = NULL;
	const unsigned char	*data = key;
	size_t			 len = keylen;

	/* "type-specific" is PKCS#1 for RSA; SubjectPublicKeyInfo was
	 * already tried by the caller. */
	dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, "PEM", "type-specific",
	    "RSA", EVP_PKEY_PUBLIC_KEY, NULL, NULL);
	if (dctx == NULL)
		return NULL;
	if (OSSL_DECODER_from_data(dctx, &data, &len) != 1) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
	OSSL_DECODER_CTX_free(dctx);
	return pkey;
}

/* Parse a PEM public key of the algorithm's type into *out: a
 * SubjectPublicKeyInfo ("PUBLIC KEY"), or for RS* also PKCS#1. */
static int
parse_pem(const struct keyset_alg *a, const unsigned char *key,
    size_t keylen, EVP_PKEY **out, char *err, size_t errlen)
{
	BIO		*bio;
	EVP_PKEY	*pkey;

	if ((bio = BIO_new_mem_buf(key, (int)keylen)) == NULL)
		return ks_fail(err, errlen, "out of memory");
	pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (pkey == NULL) {
		/* A private key is refused: verifiers should not hold one.
		 * Checked before the PKCS#1 decoder so that an "RSA PRIVATE
		 * KEY" never reaches it. */
		if (memmem(key, keylen, "PRIVATE KEY", 11) != NULL)
			return ks_fail(err, errlen, "%s: a private key was "
			    "given, need the public key", a->name);
		if (a->kind == KEYSET_RSA)
			pkey = decode_rsa_pkcs1(key, keylen);
		if (pkey == NULL)
			return ks_fail(err, errlen, "%s: not a PEM public "
			    "key", a->name);
	}
	if (check_pkey(pkey, a, err, errlen) != 0)
		return -1;
	*out = pkey;
	return 0;
}

/* Check an HMAC secret for alg and copy it into k. */
static int
take_secret(struct keyset_key *k, const struct keyset_alg *a,
    const unsigned char *key, size_t keylen, char *err, size_t errlen)
{
	if (keylen < a->hashlen)
		return ks_fail(err, errlen, "%s: secret under %zu bytes",
		    a->name, a->hashlen);
	/* An RSA/EC public key used as an HMAC secret is the classic
	 * key-confusion attack: refuse anything PEM. */
	if (memmem(key, keylen, "-----BEGIN", 10) != NULL)
		return ks_fail(err, errlen, "%s: secret is a PEM key",
		    a->name);
	if ((k->secret = malloc(keylen)) == NULL)
		return ks_fail(err, errlen, "out of memory");
	memcpy(k->secret, key, keylen);
	k->secretlen = keylen;
	return 0;
}

/* Fill k's kid, alg and digest; the key material is set by the caller. */
static int
key_init(struct keyset_key *k, const char *kid, const struct keyset_alg *a,
    char *err, size_t errlen)
{
	memset(k, 0, sizeof *k);
	if (kid != NULL) {
		if (*kid == '\0' || strlen(kid) > KEYSET_KID_MAX)
			return ks_fail(err, errlen, "empty or too long kid");
		if ((k->kid = strdup(kid)) == NULL)
			return ks_fail(err, errlen, "out of memory");
	}
	if ((k->md = EVP_MD_fetch(NULL, a->digest, NULL)) == NULL) {
		keyset_key_clear(k);
		return ks_fail(err, errlen, "%s: digest unavailable",
		    a->name);
	}
	k->alg = a;
	return 0;
}

/* Parse key for alg under kid into k. */
int
keyset_key_parse(struct keyset_key *k, const char *kid, const char *alg,
    const unsigned char *key, size_t keylen, char *err, size_t errlen)
{
	const struct keyset_alg	*a;

	memset(k, 0, sizeof *k);
	if ((a = keyset_alg_find(alg)) == NULL)
		return ks_fail(err, errlen, "unsupported algorithm");
	if (key == NULL || keylen == 0)
		return ks_fail(err, errlen, "%s: empty key", a->name);
	if (keylen > KEYSET_KEY_MAX)
		return ks_fail(err, errlen, "%s: key too long", a->name);
	if (key_init(k, kid, a, err, errlen) != 0)
		return -1;
	if (a->kind == KEYSET_HMAC) {
		if (take_secret(k, a, key, keylen, err, errlen) != 0)
			goto fail;
	} else if (parse_pem(a, key, keylen, &k->pkey, err, errlen) != 0)
		goto fail;
	return 0;
fail:
	keyset_key_clear(k);
	return -1;
}

/* Copy src into dst, sharing the OpenSSL objects by reference. */
static int
key_copy(struct keyset_key *dst, const struct keyset_key *src)
{
	memset(dst, 0, sizeof *dst);
	if (src->kid != NULL && (dst->kid = strdup(src->kid)) == NULL)
		return -1;
	if (src->secret != NULL) {
		if ((dst->secret = malloc(src->secretlen)) == NULL) {
			keyset_key_clear(dst);
			return -1;
		}
		memcpy(dst->secret, src->secret, src->secretlen);
		dst->secretlen = src->secretlen;
	}
	if (EVP_MD_up_ref(src->md) != 1) {
		keyset_key_clear(dst);
		return -1;
	}
	dst->md = src->md;
	if (src->pkey != NULL) {
		if (EVP_PKEY_up_ref(src->pkey) != 1) {
			keyset_key_clear(dst);
			return -1;
		}
		dst->pkey = src->pkey;
	}
	dst->alg = src->alg;
	return 0;
}

/* Create an empty set with one reference. */
struct keyset *
keyset_new(void)
{
	struct keyset	*ks;

	if ((ks = calloc(1, sizeof *ks)) == NULL)
		return NULL;
	atomic_init(&ks->refs, 1);
	return ks;
}

/* Take a reference to ks. */
void
keyset_ref(struct keyset *ks)
{
	atomic_fetch_add_explicit(&ks->refs, 1, memory_order_relaxed);
}

/* Drop a reference to ks, freeing it with the last one. */
void
keyset_unref(struct keyset *ks)
{
	size_t	i;

	if (ks == NULL)
		return;
	/* acq_rel: the freeing thread sees every reader's last use. */
	if (atomic_fetch_sub_explicit(&ks->refs, 1, memory_order_acq_rel)
	    != 1)
		return;
	for (i = 0; i < ks->nkeys; i++)
		keyset_key_clear(&ks->keys[i]);
	free(ks->keys);
	if (ks->nokid != NULL) {
		keyset_key_clear(ks->nokid);
		free(ks->nokid);
	}
	free(ks);
}

/* Return the number of keys in ks. */
size_t
keyset_count(const struct keyset *ks)
{
	if (ks == NULL)
		return 0;
	return ks->nkeys + (ks->nokid != NULL);
}

/* Return the index of kid in ks->keys, or where it would go (*found 0). */
static size_t
key_index(const struct keyset *ks, const char *kid, int *found)
{
	size_t	lo = 0, hi = ks->nkeys, mid;
	int	c;

	*found = 0;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(kid, ks->keys[mid].kid);
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* Return the key for kid (NULL: the no-kid key), or NULL. */
const struct keyset_key *
keyset_find(const struct keyset *ks, const char *kid)
{
	size_t	i;
	int	found;

	if (ks == NULL)
		return NULL;
	if (kid == NULL)
		return ks->nokid;
	i = key_index(ks, kid, &found);
	return found ? &ks->keys[i] : NULL;
}

/* Move k into ks, replacing a key of the same kid. */
int
keyset_put(struct keyset *ks, struct keyset_key *k)
{
	struct keyset_key	*keys;
	size_t			 i;
	int			 found;

	if (k->kid == NULL) {
		if (ks->nokid == NULL &&
		    (ks->nokid = calloc(1, sizeof *ks->nokid)) == NULL)
			return -1;
		keyset_key_clear(ks->nokid);
		*ks->nokid = *k;
		memset(k, 0, sizeof *k);
		return 0;
	}
	i = key_index(ks, k->kid, &found);
	if (found) {
		keyset_key_clear(&ks->keys[i]);
		ks->keys[i] = *k;
		memset(k, 0, sizeof *k);
		return 0;
	}
	keys = realloc(ks->keys, (ks->nkeys + 1) * sizeof *keys);
	if (keys == NULL)
		return -1;
	ks->keys = keys;
	memmove(&keys[i + 1], &keys[i], (ks->nkeys - i) * sizeof *keys);
	keys[i] = *k;
	ks->nkeys++;
	memset(k, 0, sizeof *k);
	return 0;
}

/* Put a copy of src into ks. */
static int
put_copy(struct keyset *ks, const struct keyset_key *src)
{
	struct keyset_key	k;

	if (key_copy(&k, src) != 0)
		return -1;
	if (keyset_put(ks, &k) != 0) {
		keyset_key_clear(&k);
		return -1;
	}
	return 0;
}

/* Return a new set holding copies of the keys of a and b. */
struct keyset *
keyset_merge(const struct keyset *a, const struct keyset *b,
    const char **dup)
{
	struct keyset	*ks;
	size_t		 i;

	if (dup != NULL)
		*dup = NULL;
	if ((ks = keyset_new()) == NULL)
		return NULL;
	/* b first, then a over it: a's key of a kid wins. */
	if (b != NULL) {
		for (i = 0; i < b->nkeys; i++) {
			if (dup != NULL && keyset_find(a, b->keys[i].kid)) {
				*dup = keyset_find(a, b->keys[i].kid)->kid;
				goto fail;
			}
			if (put_copy(ks, &b->keys[i]) != 0)
				goto fail;
		}
		if (b->nokid != NULL && put_copy(ks, b->nokid) != 0)
			goto fail;
	}
	if (a != NULL) {
		for (i = 0; i < a->nkeys; i++) {
			if (put_copy(ks, &a->keys[i]) != 0)
				goto fail;
		}
		if (a->nokid != NULL && put_copy(ks, a->nokid) != 0)
			goto fail;
	}
	return ks;
fail:
	keyset_unref(ks);
	return NULL;
}

/* Read all of fd, 1 to max bytes, into a new buffer. */
static int
read_fd(int fd, const char *path, size_t max, unsigned char **buf,
    size_t *len, char *err, size_t errlen)
{
	unsigned char	*b;
	size_t		 off = 0;
	ssize_t		 n;
	int		 saved;

	*buf = NULL;
	*len = 0;
	if ((b = malloc(max + 1)) == NULL)
		return ks_fail(err, errlen, "%s: out of memory", path);
	for (;;) {
		n = read(fd, b + off, max + 1 - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			saved = errno;
			OPENSSL_cleanse(b, off);
			free(b);
			return ks_fail(err, errlen, "%s: %s", path,
			    strerror(saved));
		}
		if (n == 0)
			break;
		off += (size_t)n;
		if (off > max) {
			OPENSSL_cleanse(b, off);
			free(b);
			return ks_fail(err, errlen, "%s: file over %zu bytes",
			    path, max);
		}
	}
	if (off == 0) {
		free(b);
		return ks_fail(err, errlen, "%s: empty key file", path);
	}
	*buf = b;
	*len = off;
	return 0;
}

/* Open name (relative to dirfd, or a path with AT_FDCWD), regular only. */
static int
open_regular(int dirfd, const char *name, const char *shown, char *err,
    size_t errlen)
{
	struct stat	st;
	int		fd, saved;

	/* O_NONBLOCK: a FIFO planted in the directory must not hang us. */
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK);
	if (fd == -1)
		return ks_fail(err, errlen, "%s: %s", shown, strerror(errno));
	if (fstat(fd, &st) == -1) {
		saved = errno;
		close(fd);
		return ks_fail(err, errlen, "%s: %s", shown,
		    strerror(saved));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return ks_fail(err, errlen, "%s: not a regular file", shown);
	}
	return fd;
}

/* Read a whole file of 1 to max bytes into a new buffer. */
int
keyset_read_file(const char *path, size_t max, unsigned char **buf,
    size_t *len, char *err, size_t errlen)
{
	int	fd, rc;

	*buf = NULL;
	*len = 0;
	if (path == NULL || *path == '\0')
		return ks_fail(err, errlen, "no key file");
	if ((fd = open_regular(AT_FDCWD, path, path, err, errlen)) == -1)
		return -1;
	rc = read_fd(fd, path, max, buf, len, err, errlen);
	close(fd);
	return rc;
}

/* Split "KID.ALG.pem" or "KID.ALG" into kid (a new string) and alg. */
static int
dir_name_parse(const char *name, char **kid, const struct keyset_alg **alg)
{
	const char	*dot;
	char		 algname[8];
	size_t		 len = strlen(name), base, alen;
	int		 pem;

	*kid = NULL;
	pem = len > 4 && strcmp(name + len - 4, ".pem") == 0;
	base = pem ? len - 4 : len;
	/* the last '.' before the base's end splits KID and ALG */
	for (dot = name + base; dot > name && dot[-1] != '.'; dot--)
		;
	if (dot == name || dot - 1 == name)
		return -1;
	alen = base - (size_t)(dot - name);
	if (alen == 0 || alen >= sizeof algname)
		return -1;
	memcpy(algname, dot, alen);
	algname[alen] = '\0';
	if ((*alg = keyset_alg_find(algname)) == NULL)
		return -1;
	/* A secret in a .pem file, or a public key without, is a mistake. */
	if (pem != ((*alg)->kind != KEYSET_HMAC))
		return -1;
	if ((size_t)(dot - 1 - name) > KEYSET_KID_MAX)
		return -1;
	*kid = strndup(name, (size_t)(dot - 1 - name));
	return *kid == NULL ? -1 : 0;
}

/* Read and parse one key file of a key directory into ks. */
static int
dir_load_one(struct keyset *ks, int dfd, const char *name, char *err,
    size_t errlen)
{
	const struct keyset_alg	*a;
	struct keyset_key	 k;
	unsigned char		*buf;
	size_t			 len;
	char			*kid, msg[192];
	int			 fd, rc;

	if (dir_name_parse(name, &kid, &a) != 0)
		return ks_fail(err, errlen, "%s: not KID.ALG.pem (RS*, ES*) "
		    "or KID.ALG (HS*)", name);
	if (keyset_find(ks, kid) != NULL) {
		free(kid);
		return ks_fail(err, errlen, "%s: duplicate kid", name);
	}
	if ((fd = open_regular(dfd, name, name, err, errlen)) == -1) {
		free(kid);
		return -1;
	}
	rc = read_fd(fd, name, KEYSET_KEY_MAX, &buf, &len, err, errlen);
	close(fd);
	if (rc != 0) {
		free(kid);
		return -1;
	}
	rc = keyset_key_parse(&k, kid, a->name, buf, len, msg, sizeof msg);
	OPENSSL_cleanse(buf, len);
	free(buf);
	free(kid);
	if (rc != 0)
		return ks_fail(err, errlen, "%s: %s", name, msg);
	if (keyset_put(ks, &k) != 0) {
		keyset_key_clear(&k);
		return ks_fail(err, errlen, "out of memory");
	}
	return 0;
}

/* Read every key file of dir into a new set. */
struct keyset *
keyset_load_dir(const char *dir, char *err, size_t errlen)
{
	struct keyset	*ks;
	struct dirent	*de;
	DIR		*d;
	size_t		 nfiles = 0;
	int		 saved;

	if (dir == NULL || *dir == '\0') {
		ks_fail(err, errlen, "no key directory");
		return NULL;
	}
	if ((d = opendir(dir)) == NULL) {
		ks_fail(err, errlen, "%s: %s", dir, strerror(errno));
		return NULL;
	}
	if ((ks = keyset_new()) == NULL) {
		closedir(d);
		ks_fail(err, errlen, "out of memory");
		return NULL;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			if ((saved = errno) != 0) {
				ks_fail(err, errlen, "%s: %s", dir,
				    strerror(saved));
				goto fail;
			}
			break;
		}
		/* ".", "..", editor droppings and Kubernetes' "..data" */
		if (de->d_name[0] == '.')
			continue;
		if (++nfiles > KEYSET_FILES_MAX) {
			ks_fail(err, errlen, "%s: over %d files", dir,
			    KEYSET_FILES_MAX);
			goto fail;
		}
		if (dir_load_one(ks, dirfd(d), de->d_name, err, errlen) != 0)
			goto fail;
	}
	closedir(d);
	if (keyset_count(ks) == 0) {
		keyset_unref(ks);
		ks_fail(err, errlen, "%s: no key files", dir);
		return NULL;
	}
	return ks;
fail:
	closedir(d);
	keyset_unref(ks);
	return NULL;
}

/* Decode base64url member name of jwk (non-empty) into a new buffer. */
static int
jwk_bytes(const json_t *jwk, const char *name, unsigned char **out,
    size_t *len)
{
	const json_t	*js = json_object_get(jwk, name);

	*out = NULL;
	if (!json_is_string(js) || json_string_length(js) == 0)
		return -1;
	if (token_b64url_decode(json_string_value(js),
	    json_string_length(js), out, len) != 0)
		return -1;
	if (*len == 0) {
		free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

/* Build a public EVP_PKEY of type from the parameters in bld. */
static EVP_PKEY *
pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM	*params;
	EVP_PKEY_CTX	*ctx = NULL, *cctx = NULL;
	EVP_PKEY	*pkey = NULL;

	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
		return NULL;
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		goto out;
	/* RSA: n odd, e odd and > 1; EC: the point is on the curve. */
	if ((cctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL ||
	    EVP_PKEY_public_check(cctx) != 1) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
out:
	EVP_PKEY_CTX_free(cctx);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return pkey;
}

/* Build an RSA public key from the JWK members n and e. */
static EVP_PKEY *
jwk_rsa(const json_t *jwk)
{
	OSSL_PARAM_BLD	*bld = NULL;
	unsigned char	*nb = NULL, *eb = NULL;
	size_t		 nlen, elen;
	BIGNUM		*n = NULL, *e = NULL;
	EVP_PKEY	*pkey = NULL;

	if (jwk_bytes(jwk, "n", &nb, &nlen) != 0 ||
	    jwk_bytes(jwk, "e", &eb, &elen) != 0 ||
	    nlen > KEYSET_KEY_MAX || elen > 64)
		goto out;
	if ((n = BN_bin2bn(nb, (int)nlen, NULL)) == NULL ||
	    (e = BN_bin2bn(eb, (int)elen, NULL)) == NULL ||
	    (bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1)
		goto out;
	pkey = pkey_fromdata("RSA", bld);
out:
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	free(nb);
	free(eb);
	return pkey;
}

/* Build an EC public key on a's curve from the JWK members x and y. */
static EVP_PKEY *
jwk_ec(const json_t *jwk, const struct keyset_alg *a)
{
	OSSL_PARAM_BLD	*bld = NULL;
	unsigned char	*x = NULL, *y = NULL, *pub = NULL;
	size_t		 xlen, ylen;
	EVP_PKEY	*pkey = NULL;

	/* RFC 7518 6.2.1.2: x and y are exactly the field size. */
	if (jwk_bytes(jwk, "x", &x, &xlen) != 0 ||
	    jwk_bytes(jwk, "y", &y, &ylen) != 0 ||
	    xlen != a->fieldlen || ylen != a->fieldlen)
		goto out;
	if ((pub = malloc(1 + 2 * a->fieldlen)) == NULL)
		goto out;
	pub[0] = 0x04;		/* uncompressed point */
	memcpy(pub + 1, x, xlen);
	memcpy(pub + 1 + xlen, y, ylen);
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
	    a->curve, 0) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
	    pub, 1 + 2 * a->fieldlen) != 1)
		goto out;
	pkey = pkey_fromdata("EC", bld);
out:
	OSSL_PARAM_BLD_free(bld);
	free(x);
	free(y);
	free(pub);
	return pkey;
}

/* Return a JWK's string member (without NUL), or NULL. */
static const char *
jwk_str(const json_t *jwk, const char *name)
{
	const json_t	*js = json_object_get(jwk, name);

	if (!json_is_string(js) ||
	    strlen(json_string_value(js)) != json_string_length(js))
		return NULL;
	return json_string_value(js);
}

/* Parse one JWK into ks; 1 if skipped (not for signatures), 0, -1. */
static int
jwks_one(struct keyset *ks, const json_t *jwk, size_t idx, char *err,
    size_t errlen)
{
	const struct keyset_alg	*a;
	struct keyset_key	 k;
	const char		*kid, *alg, *kty, *use;
	unsigned char		*sec;
	size_t			 i, seclen;
	char			 msg[160];
	int			 rc;

	if (!json_is_object(jwk))
		return ks_fail(err, errlen, "key %zu: not an object", idx);
	/* Pinning needs both: a key without alg or kid is refused. */
	if ((kid = jwk_str(jwk, "kid")) == NULL || *kid == '\0' ||
	    strlen(kid) > KEYSET_KID_MAX)
		return ks_fail(err, errlen, "key %zu: no valid \"kid\"", idx);
	if ((alg = jwk_str(jwk, "alg")) == NULL)
		return ks_fail(err, errlen, "kid %.64s: no \"alg\"", kid);
	if ((kty = jwk_str(jwk, "kty")) == NULL)
		return ks_fail(err, errlen, "kid %.64s: no \"kty\"", kid);
	if (json_object_get(jwk, "use") != NULL &&
	    ((use = jwk_str(jwk, "use")) == NULL || strcmp(use, "sig") != 0))
		return 1;
	for (i = 0; i < sizeof jwk_private / sizeof jwk_private[0]; i++) {
		if (json_object_get(jwk, jwk_private[i]) != NULL)
			return ks_fail(err, errlen, "kid %.64s: private key "
			    "member \"%s\"", kid, jwk_private[i]);
	}
	if ((a = keyset_alg_find(alg)) == NULL)
		return ks_fail(err, errlen, "kid %.64s: unsupported alg "
		    "%.16s", kid, alg);
	if (keyset_find(ks, kid) != NULL)
		return ks_fail(err, errlen, "kid %.64s: duplicate kid", kid);
	if (strcmp(kty, a->kind == KEYSET_HMAC ? "oct" :
	    a->kind == KEYSET_RSA ? "RSA" : "EC") != 0)
		return ks_fail(err, errlen, "kid %.64s: kty %.8s does not fit "
		    "alg %s", kid, kty, a->name);
	if (key_init(&k, kid, a, msg, sizeof msg) != 0)
		return ks_fail(err, errlen, "kid %.64s: %s", kid, msg);
	switch (a->kind) {
	case KEYSET_HMAC:
		if (jwk_bytes(jwk, "k", &sec, &seclen) != 0) {
			rc = ks_fail(msg, sizeof msg, "bad \"k\"");
			break;
		}
		rc = take_secret(&k, a, sec, seclen, msg, sizeof msg);
		OPENSSL_cleanse(sec, seclen);
		free(sec);
		break;
	case KEYSET_RSA:
		if ((k.pkey = jwk_rsa(jwk)) == NULL)
			rc = ks_fail(msg, sizeof msg, "bad RSA \"n\"/\"e\"");
		else
			rc = check_pkey(k.pkey, a, msg, sizeof msg);
		break;
	default:
		if (jwk_str(jwk, "crv") == NULL ||
		    strcmp(jwk_str(jwk, "crv"), a->crv) != 0)
			rc = ks_fail(msg, sizeof msg, "crv is not %s",
			    a->crv);
		else if ((k.pkey = jwk_ec(jwk, a)) == NULL)
			rc = ks_fail(msg, sizeof msg, "bad EC \"x\"/\"y\"");
		else
			rc = check_pkey(k.pkey, a, msg, sizeof msg);
		break;
	}
	if (rc != 0) {
		/* check_pkey() already freed a refused key */
		if (a->kind != KEYSET_HMAC)
			k.pkey = NULL;
		keyset_key_clear(&k);
		return ks_fail(err, errlen, "kid %.64s: %s", kid, msg);
	}
	if (keyset_put(ks, &k) != 0) {
		keyset_key_clear(&k);
		return ks_fail(err, errlen, "out of memory");
	}
	return 0;
}

/* Read a JWK Set file into a new set. */
struct keyset *
keyset_load_jwks(const char *path, char *err, size_t errlen)
{
	struct keyset	*ks = NULL;
	unsigned char	*buf;
	size_t		 len, i;
	json_t		*root, *keys;
	json_error_t	 jerr;
	char		 msg[224];
	int		 rc;

	if (keyset_read_file(path, KEYSET_JWKS_MAX, &buf, &len, err,
	    errlen) != 0)
		return NULL;
	root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES,
	    &jerr);
	OPENSSL_cleanse(buf, len);
	free(buf);
	if (root == NULL) {
		ks_fail(err, errlen, "%s: invalid JSON at line %d", path,
		    jerr.line);
		return NULL;
	}
	if (!json_is_object(root) ||
	    !json_is_array(keys = json_object_get(root, "keys"))) {
		ks_fail(err, errlen, "%s: not {\"keys\": [...]}", path);
		goto out;
	}
	if (json_array_size(keys) > KEYSET_FILES_MAX) {
		ks_fail(err, errlen, "%s: over %d keys", path,
		    KEYSET_FILES_MAX);
		goto out;
	}
	if ((ks = keyset_new()) == NULL) {
		ks_fail(err, errlen, "out of memory");
		goto out;
	}
	for (i = 0; i < json_array_size(keys); i++) {
		rc = jwks_one(ks, json_array_get(keys, i), i, msg,
		    sizeof msg);
		if (rc < 0) {
			ks_fail(err, errlen, "%s: %s", path, msg);
			keyset_unref(ks);
			ks = NULL;
			goto out;
		}
	}
	if (keyset_count(ks) == 0) {
		ks_fail(err, errlen, "%s: no signature key", path);
		keyset_unref(ks);
		ks = NULL;
	}
out:
	json_decref(root);
	return ks;
}
