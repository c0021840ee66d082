/* JWT verification with a pinned algorithm (internal to librevokd). */
#ifndef REVOKD_VERIFY_H
#define REVOKD_VERIFY_H

#include "revokd.h"
#include "token.h"

/* Verify token against v; on REVOKD_VALID fills claims (free with
 * token_claims_free in every case; on any other outcome it is left
 * empty). The checks run in this order, the first failure deciding:
 *  1. v NULL -> BAD_SIGNATURE; len 0 or over the limit (set_max_length,
 *     default TOKEN_MAX_LEN_DEFAULT) -> MALFORMED, before any hashing;
 *  2. cache hit (SHA-256 of the exact bytes, entry until exp + leeway,
 *     times still good at now) -> VALID with the cached claims (jti,
 *     iss, sub, sid, exp, nbf, iat only: no alg, typ, kid or aud);
 *  3. no key at all -> BAD_SIGNATURE (nothing can be verified);
 *  4. token_peek() fails -> MALFORMED;
 *  5. no key for the header's kid (or for no kid) -> UNKNOWN_KEY; a set
 *     holding only the no-kid key uses it whatever the kid;
 *  6. header alg not byte-equal to the key's pinned one ->
 *     WRONG_ALGORITHM; typ present and not in the accepted set (any
 *     case, "application/" prefix ignored) -> MALFORMED;
 *  7. signature -> BAD_SIGNATURE;
 *  8. exp missing -> MALFORMED; now >= exp + leeway -> EXPIRED;
 *     now + leeway < nbf, or iat > now + leeway -> NOT_YET_VALID;
 *  9. max lifetime set and iat missing or exp - iat over it -> MALFORMED;
 * 10. iss -> WRONG_ISSUER; aud -> WRONG_AUDIENCE;
 * 11. jti missing or "" -> MISSING_JTI; over 256 bytes -> MALFORMED.
 * A VALID result of 3-11 is cached (when the cache is on). */
revokd_outcome_t verify_token(const revokd_verifier_t *v, const char *token,
    size_t len, struct token_claims *claims);
/* Same as verify_token() as if the time were now (Unix seconds). */
revokd_outcome_t verify_token_at(const revokd_verifier_t *v,
    const char *token, size_t len, long long now,
    struct token_claims *claims);

/* Return whether v is set to fail open (revokd_verifier_set_fail_open). */
int verify_fail_open(const revokd_verifier_t *v);
/* Report how many verifications the cache answered (hits) and how many
 * went through full verification (misses) since v was created. */
void verify_cache_stats(const revokd_verifier_t *v, unsigned long *hits,
    unsigned long *misses);

#endif
