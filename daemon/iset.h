/*
 * The in-flight set: for each (iss, jti) with an own write not yet read
 * back from the Redis stream, the journal sequence number of the newest
 * such write.
 */
#ifndef REVOKD_ISET_H
#define REVOKD_ISET_H

#include <stddef.h>
#include <stdint.h>

#include "blocklist.h"
#include "siphash.h"

#define ISET_JTI_MAX	(BLOCKLIST_ID_MAX + 1) /* most bytes of jti: an
					 * id with a kind byte in front */

struct iset;

/* Create an empty set whose digests are keyed with key (random per
 * process). NULL only on OOM. */
struct iset *iset_new(const uint8_t key[SIPHASH_KEY_LEN]);
/* Free a set (NULL is fine). */
void iset_free(struct iset *);
/* Note a write of (iss, jti) with seq; an existing entry keeps the larger
 * seq. Returns 0, or -1 on OOM (nothing changed). seq must be > 0, iss
 * at most BLOCKLIST_ID_MAX bytes and jti at most ISET_JTI_MAX; otherwise -1, nothing
 * changed (a caller's bug: check before). */
int iset_add(struct iset *, const char *iss, size_t isslen,
    const char *jti, size_t jtilen, uint64_t seq);
/* Return the seq noted for (iss, jti), or 0 if there is none. */
uint64_t iset_get(const struct iset *, const char *iss, size_t isslen,
    const char *jti, size_t jtilen);
/* Remove (iss, jti). Returns 1 if it was there, else 0. May shrink the
 * table. */
int iset_del(struct iset *, const char *iss, size_t isslen,
    const char *jti, size_t jtilen);
/* Remove every entry whose seq is <= upto. May shrink the table. */
void iset_drop_upto(struct iset *, uint64_t upto);
/* Return the number of entries. */
size_t iset_count(const struct iset *);

/* For tests. */

/* Return the number of slots (0, or a power of two). */
size_t iset_capacity(const struct iset *);
/* Return the probe hash of (iss, jti): its home slot is the hash masked
 * with capacity - 1. 0 for ids that are too long. */
uint64_t iset_hash(const struct iset *, const char *iss, size_t isslen,
    const char *jti, size_t jtilen);
/* Check the structure: the count, the load, no duplicate, and every entry
 * reachable from its home slot without crossing an empty slot. Returns 0,
 * or -1 if broken; sets *wrapped (may be NULL) to the number of entries
 * stored across the end of the table from their home. */
int iset_check(const struct iset *, size_t *wrapped);

#endif
