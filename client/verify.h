/* JWT verification with a pinned algorithm (internal to librevokd). */
#ifndef REVOKD_VERIFY_H
#define REVOKD_VERIFY_H

#include "revokd.h"
#include "token.h"

/* Verify token against v; on REVOKD_VALID fills claims (free with
 * token_claims_free in every case; on any other outcome it is left
 * empty). The checks run in this order, the first failure deciding:
 *  1. no key set -> BAD_SIGNATURE (nothing can be verified); len over the
 *     limit (TOKEN_MAX_LEN_DEFAULT) -> MALFORMED;
 *  2. token_peek() fails -> MALFORMED;
 *  3. header alg not byte-equal to the pinned one -> WRONG_ALGORITHM;
 *     typ present and not JWT or at+jwt (any case) -> MALFORMED;
 *  4. signature -> BAD_SIGNATURE;
 *  5. exp missing -> MALFORMED; now >= exp + leeway -> EXPIRED;
 *     now + leeway < nbf, or iat > now + leeway -> NOT_YET_VALID;
 *  6. iss -> WRONG_ISSUER; aud -> WRONG_AUDIENCE;
 *  7. jti missing or "" -> MISSING_JTI; over 256 bytes -> MALFORMED. */
revokd_outcome_t verify_token(const revokd_verifier_t *v, const char *token,
    size_t len, struct token_claims *claims);
/* Same as verify_token() as if the time were now (Unix seconds). */
revokd_outcome_t verify_token_at(const revokd_verifier_t *v,
    const char *token, size_t len, long long now,
    struct token_claims *claims);

#endif
