/* The in-memory blocklist: revoked (iss, jti) pairs, each until its exp. */
#ifndef REVOKD_BLOCKLIST_H
#define REVOKD_BLOCKLIST_H

#include <stddef.h>
#include <stdint.h>

#define BLOCKLIST_KEY_LEN 16	/* bytes of the digest key */
#define BLOCKLIST_ID_MAX 256	/* most bytes of iss and of jti */

/* What a lookup found. reason points into the blocklist and stays valid
 * until the next change to it. */
struct blocklist_hit {
	int64_t		 exp;		/* Unix seconds the entry lives until */
	const char	*reason;	/* NUL-terminated, "" when none */
	size_t		 reason_len;	/* strlen(reason) */
};

struct blocklist;

/* Create an empty blocklist whose digests are keyed with key (random per
 * process). NULL only on OOM. */
struct blocklist *blocklist_new(const uint8_t key[BLOCKLIST_KEY_LEN]);
/* Free a blocklist and everything it holds. */
void blocklist_free(struct blocklist *);
/* Revoke (iss, jti) until exp. An existing entry keeps the later exp and
 * takes the new reason when one is given. Returns 1 if added, 0 if it
 * updated an entry, -1 on OOM (nothing changed). exp must be > now and
 * <= UINT32_MAX, and iss and jti at most BLOCKLIST_ID_MAX bytes each;
 * otherwise -1, nothing changed (a caller's bug: check before). An entry
 * that expired but was not yet swept is replaced as if new (returns 1). */
int blocklist_add(struct blocklist *, const char *iss, size_t isslen,
    const char *jti, size_t jtilen, int64_t exp,
    const char *reason, size_t reasonlen, int64_t now);
/* Return 1 and fill hit (may be NULL) if (iss, jti) is revoked at now. */
int blocklist_lookup(const struct blocklist *, const char *iss,
    size_t isslen, const char *jti, size_t jtilen, int64_t now,
    struct blocklist_hit *hit);
/* Remove (iss, jti). Returns 1 if a live entry was removed, else 0. */
int blocklist_remove(struct blocklist *, const char *iss, size_t isslen,
    const char *jti, size_t jtilen, int64_t now);
/* Free entries whose exp <= now, examining at most budget slots from where
 * the last call stopped; returns the number freed. May shrink the table. */
size_t blocklist_expire(struct blocklist *, int64_t now, size_t budget);
/* Return the number of entries held (expired ones not yet swept count). */
size_t blocklist_count(const struct blocklist *);
/* Return the number of slots (capacity) of the table. */
size_t blocklist_capacity(const struct blocklist *);
/* Return the bytes of heap memory held by the blocklist. */
size_t blocklist_memory(const struct blocklist *);

#endif
