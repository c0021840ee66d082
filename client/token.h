/* Compact JWS parsing: strict base64url, header and claims, no signature. */
#ifndef REVOKD_TOKEN_H
#define REVOKD_TOKEN_H

#include <stddef.h>

#define TOKEN_MAX_LEN_DEFAULT 8192	/* bytes in a whole token */

/* The claims of a token, type-checked; strings are heap copies. */
struct token_claims {
	char		*alg;		/* header "alg" as written */
	char		*typ;		/* header "typ" or NULL */
	char		*kid;		/* header "kid" or NULL */
	char		*jti;		/* "jti" or NULL */
	char		*iss;		/* "iss" or NULL */
	char		*sub;		/* "sub" or NULL */
	char		*sid;		/* "sid" or NULL */
	long long	 exp;		/* "exp" when has_exp */
	long long	 nbf;		/* "nbf" when has_nbf */
	long long	 iat;		/* "iat" when has_iat */
	int		 has_exp;	/* exp present */
	int		 has_nbf;	/* nbf present */
	int		 has_iat;	/* iat present */
	char		**aud;		/* "aud" as a list (string or array) */
	size_t		 naud;		/* entries in aud */
	unsigned char	*sig;		/* decoded signature (NULL if empty) */
	size_t		 siglen;	/* bytes in sig */
	size_t		 signed_len;	/* bytes of "header.payload" */
};

/* Split and decode a token without checking its signature; fills claims
 * (free with token_claims_free even on failure). Returns 0, or -1 with a
 * message in err: bad base64url, header or payload not a JSON object,
 * duplicate names, a claim of the wrong type, over maxlen bytes.
 *
 * The length is checked before anything is decoded. Base64url is strict:
 * no padding, no '+' '/' or whitespace, no length of 1 mod 4, no stray
 * trailing bits. exp, nbf and iat must be JSON integers: fractional seconds
 * ("exp": 1.5) and numbers in exponent form are refused, as are strings.
 * jti, iss, sub, sid, alg, typ and kid must be strings without NUL; aud a
 * string or a non-empty array of strings. A header with "crit" is refused
 * (we implement no extension). The signature segment may be empty only
 * when alg is some casing of "none", so that such a token reaches the
 * algorithm check and is reported as a wrong algorithm. */
int token_peek(const char *token, size_t len, size_t maxlen,
    struct token_claims *claims, char *err, size_t errlen);
/* Decode strict unpadded base64url (the rules of token_peek) into a new
 * buffer of *outlen bytes (free it). 0, or -1 if invalid or OOM. */
int token_b64url_decode(const char *src, size_t len, unsigned char **out,
    size_t *outlen);
/* Free the strings held by claims and zero it. */
void token_claims_free(struct token_claims *);

#endif
