/* The verified-token cache: claims of tokens that passed verification,
 * keyed by the SHA-256 of the exact token bytes (internal). */
#ifndef REVOKD_CACHE_H
#define REVOKD_CACHE_H

#include <stddef.h>

#include "token.h"

#define CACHE_DIGEST_LEN 32	/* SHA-256 */

struct vcache;

/* Create a cache of at most max_entries (> 0), thread-safe. NULL on OOM. */
struct vcache *vcache_new(size_t max_entries);
/* Free the cache and everything in it. */
void vcache_free(struct vcache *);
/* On a hit whose until is > now, fill out with a copy of the cached claims
 * (jti, iss, sub, sid, exp, nbf, iat and their has_ flags; the caller
 * frees it with token_claims_free) and return 1; else 0. */
int vcache_get(struct vcache *, const unsigned char digest[CACHE_DIGEST_LEN],
    long long now, struct token_claims *out);
/* Remember claims for a verified token until `until` (Unix seconds);
 * when its shard is full, evicts an expired entry (as of the latest now
 * given to vcache_get) near the LRU end, else the least recently used.
 * Claims whose jti+iss+sub+sid exceed 1 KiB are not kept. Silently does
 * nothing when out of memory. */
void vcache_put(struct vcache *, const unsigned char digest[CACHE_DIGEST_LEN],
    long long until, const struct token_claims *claims);
/* Drop every entry (key set reloaded). */
void vcache_clear(struct vcache *);
/* Return the number of entries (exact when no other call is running). */
size_t vcache_count(struct vcache *);

#endif
