/*
 * Compact JWS parsing without signature verification.
 *
 * Everything here treats the token as hostile: the total length is bounded
 * before any work, base64url is decoded by hand with a strict alphabet, and
 * JSON comes from jansson with duplicate names refused (two "exp" members
 * could otherwise be read differently by us and by another verifier).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "token.h"

/* Value of each base64url character, or -1 outside the alphabet. */
static const int8_t b64url_value[256] = {
	['A'] = 0, ['B'] = 1, ['C'] = 2, ['D'] = 3, ['E'] = 4, ['F'] = 5,
	['G'] = 6, ['H'] = 7, ['I'] = 8, ['J'] = 9, ['K'] = 10, ['L'] = 11,
	['M'] = 12, ['N'] = 13, ['O'] = 14, ['P'] = 15, ['Q'] = 16,
	['R'] = 17, ['S'] = 18, ['T'] = 19, ['U'] = 20, ['V'] = 21,
	['W'] = 22, ['X'] = 23, ['Y'] = 24, ['Z'] = 25,
	['a'] = 26, ['b'] = 27, ['c'] = 28, ['d'] = 29, ['e'] = 30,
	['f'] = 31, ['g'] = 32, ['h'] = 33, ['i'] = 34, ['j'] = 35,
	['k'] = 36, ['l'] = 37, ['m'] = 38, ['n'] = 39, ['o'] = 40,
	['p'] = 41, ['q'] = 42, ['r'] = 43, ['s'] = 44, ['t'] = 45,
	['u'] = 46, ['v'] = 47, ['w'] = 48, ['x'] = 49, ['y'] = 50,
	['z'] = 51, ['0'] = 52, ['1'] = 53, ['2'] = 54, ['3'] = 55,
	['4'] = 56, ['5'] = 57, ['6'] = 58, ['7'] = 59, ['8'] = 60,
	['9'] = 61, ['-'] = 62, ['_'] = 63,
};

/* Return the 6-bit value of c, or -1 if c is not base64url. */
static int
b64url_char(unsigned char c)
{
	/* The table is zero-filled: only 'A' legitimately maps to 0. */
	if (b64url_value[c] == 0 && c != 'A')
		return -1;
	return b64url_value[c];
}

/* Decode strict unpadded base64url into a new buffer; -1 if invalid. */
int
token_b64url_decode(const char *src, size_t len, unsigned char **out,
    size_t *outlen)
{
	unsigned char	*buf;
	size_t		 i, n = 0;
	uint32_t	 acc = 0;
	int		 bits = 0, v;

	*out = NULL;
	*outlen = 0;
	if (len % 4 == 1)
		return -1;
	if ((buf = malloc(len / 4 * 3 + 3)) == NULL)
		return -1;
	for (i = 0; i < len; i++) {
		if ((v = b64url_char((unsigned char)src[i])) < 0)
			goto bad;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[n++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* Leftover bits must be zero, else two encodings mean one value. */
	if (acc != 0)
		goto bad;
	*out = buf;
	*outlen = n;
	return 0;
bad:
	free(buf);
	return -1;
}

/* Decode a base64url segment holding a JSON object; NULL if it is not. */
static json_t *
segment_json(const char *src, size_t len, char *err, size_t errlen,
    const char *what)
{
	unsigned char	*buf;
	size_t		 n;
	json_t		*js;
	json_error_t	 jerr;

	if (token_b64url_decode(src, len, &buf, &n) != 0) {
		snprintf(err, errlen, "%s: bad base64url", what);
		return NULL;
	}
	js = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, &jerr);
	free(buf);
	if (js == NULL) {
		snprintf(err, errlen, "%s: invalid JSON", what);
		return NULL;
	}
	if (!json_is_object(js)) {
		json_decref(js);
		snprintf(err, errlen, "%s: not a JSON object", what);
		return NULL;
	}
	return js;
}

/* Copy a JSON string without embedded NUL; -1 if it is not one. */
static int
json_cstr(const json_t *js, char **out)
{
	const char	*s;
	size_t		 n;

	if (!json_is_string(js))
		return -1;
	s = json_string_value(js);
	n = json_string_length(js);
	if (strlen(s) != n)
		return -1;
	if ((*out = strdup(s)) == NULL)
		return -1;
	return 0;
}

/* Copy member name of obj as a string if present; -1 on a bad type. */
static int
opt_string(const json_t *obj, const char *name, char **out)
{
	const json_t	*js;

	*out = NULL;
	if ((js = json_object_get(obj, name)) == NULL)
		return 0;
	return json_cstr(js, out);
}

/* Read member name of obj as an integer if present; -1 on a bad type. */
static int
opt_int(const json_t *obj, const char *name, long long *out, int *has)
{
	const json_t	*js;

	*has = 0;
	if ((js = json_object_get(obj, name)) == NULL)
		return 0;
	if (!json_is_integer(js))
		return -1;
	*out = (long long)json_integer_value(js);
	*has = 1;
	return 0;
}

/* Read "aud" as a string or a non-empty array of strings. */
static int
read_aud(const json_t *obj, struct token_claims *c)
{
	const json_t	*js, *item;
	size_t		 i, n;

	if ((js = json_object_get(obj, "aud")) == NULL)
		return 0;
	if (json_is_string(js)) {
		if ((c->aud = calloc(1, sizeof *c->aud)) == NULL)
			return -1;
		if (json_cstr(js, &c->aud[0]) != 0)
			return -1;
		c->naud = 1;
		return 0;
	}
	if (!json_is_array(js) || (n = json_array_size(js)) == 0)
		return -1;
	if ((c->aud = calloc(n, sizeof *c->aud)) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		item = json_array_get(js, i);
		if (json_cstr(item, &c->aud[i]) != 0)
			return -1;
		c->naud = i + 1;
	}
	return 0;
}

/* Fill the header fields of c from the header object. */
static int
read_header(const json_t *hdr, struct token_claims *c, char *err,
    size_t errlen)
{
	if (json_object_get(hdr, "alg") == NULL) {
		snprintf(err, errlen, "header: missing alg");
		return -1;
	}
	if (opt_string(hdr, "alg", &c->alg) != 0) {
		snprintf(err, errlen, "header: alg not a string");
		return -1;
	}
	if (opt_string(hdr, "typ", &c->typ) != 0) {
		snprintf(err, errlen, "header: typ not a string");
		return -1;
	}
	if (opt_string(hdr, "kid", &c->kid) != 0) {
		snprintf(err, errlen, "header: kid not a string");
		return -1;
	}
	/* RFC 7515 4.1.11: unknown critical extensions must be refused. */
	if (json_object_get(hdr, "crit") != NULL) {
		snprintf(err, errlen, "header: crit not supported");
		return -1;
	}
	return 0;
}

/* Fill the claims of c from the payload object. */
static int
read_payload(const json_t *pl, struct token_claims *c, char *err,
    size_t errlen)
{
	static const struct {
		const char	*name;		/* claim name */
		size_t		 off;		/* offset of its char * */
	} strs[] = {
		{ "jti", offsetof(struct token_claims, jti) },
		{ "iss", offsetof(struct token_claims, iss) },
		{ "sub", offsetof(struct token_claims, sub) },
		{ "sid", offsetof(struct token_claims, sid) },
	};
	size_t	 i;
	char	**dst;

	for (i = 0; i < sizeof strs / sizeof strs[0]; i++) {
		dst = (char **)(void *)((char *)c + strs[i].off);
		if (opt_string(pl, strs[i].name, dst) != 0) {
			snprintf(err, errlen, "claims: %s not a string",
			    strs[i].name);
			return -1;
		}
	}
	if (opt_int(pl, "exp", &c->exp, &c->has_exp) != 0) {
		snprintf(err, errlen, "claims: exp not an integer");
		return -1;
	}
	if (opt_int(pl, "nbf", &c->nbf, &c->has_nbf) != 0) {
		snprintf(err, errlen, "claims: nbf not an integer");
		return -1;
	}
	if (opt_int(pl, "iat", &c->iat, &c->has_iat) != 0) {
		snprintf(err, errlen, "claims: iat not an integer");
		return -1;
	}
	if (read_aud(pl, c) != 0) {
		snprintf(err, errlen, "claims: aud not a string or list");
		return -1;
	}
	return 0;
}

/* Split and decode a token without checking its signature. */
int
token_peek(const char *token, size_t len, size_t maxlen,
    struct token_claims *claims, char *err, size_t errlen)
{
	const char	*dot1, *dot2, *sig;
	size_t		 siglen;
	json_t		*hdr = NULL, *pl = NULL;
	int		 rc = -1;

	memset(claims, 0, sizeof *claims);
	if (errlen > 0)
		err[0] = '\0';
	/* Length first: nothing below may see an unbounded token. */
	if (token == NULL || len == 0) {
		snprintf(err, errlen, "empty token");
		return -1;
	}
	if (len > maxlen) {
		snprintf(err, errlen, "token too long");
		return -1;
	}
	if ((dot1 = memchr(token, '.', len)) == NULL ||
	    (dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)))
	    == NULL) {
		snprintf(err, errlen, "not three segments");
		return -1;
	}
	sig = dot2 + 1;
	siglen = len - (size_t)(sig - token);
	if (memchr(sig, '.', siglen) != NULL) {
		snprintf(err, errlen, "not three segments");
		return -1;
	}

	if ((hdr = segment_json(token, (size_t)(dot1 - token), err, errlen,
	    "header")) == NULL)
		goto out;
	if (read_header(hdr, claims, err, errlen) != 0)
		goto out;
	if ((pl = segment_json(dot1 + 1, (size_t)(dot2 - dot1 - 1), err,
	    errlen, "claims")) == NULL)
		goto out;
	if (read_payload(pl, claims, err, errlen) != 0)
		goto out;

	if (token_b64url_decode(sig, siglen, &claims->sig,
	    &claims->siglen) != 0) {
		snprintf(err, errlen, "signature: bad base64url");
		goto out;
	}
	if (claims->siglen == 0) {
		free(claims->sig);
		claims->sig = NULL;
		/* Let "none" through to be refused as an algorithm. */
		if (strcasecmp(claims->alg, "none") != 0) {
			snprintf(err, errlen, "signature: empty");
			goto out;
		}
	}
	claims->signed_len = (size_t)(dot2 - token);
	rc = 0;
out:
	json_decref(hdr);
	json_decref(pl);
	return rc;
}

/* Free the strings held by claims and zero it. */
void
token_claims_free(struct token_claims *c)
{
	size_t	i;

	if (c == NULL)
		return;
	free(c->alg);
	free(c->typ);
	free(c->kid);
	free(c->jti);
	free(c->iss);
	free(c->sub);
	free(c->sid);
	if (c->aud != NULL) {
		for (i = 0; i < c->naud; i++)
			free(c->aud[i]);
		free(c->aud);
	}
	free(c->sig);
	memset(c, 0, sizeof *c);
}
