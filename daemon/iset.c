/*
 * The in-flight set: own writes not yet read back from the Redis stream,
 * by key.
 *
 * Open addressing with linear probing and backward-shift deletion (no
 * tombstones) over 24-byte slots, each a 128-bit SipHash-2-4 digest of
 * (iss, jti) under a per-process key and the newest seq (0 marks an empty
 * slot). As in the blocklist, the digest stands in for the key: two keys
 * with one keyed 128-bit digest are treated as impossible.
 *
 * The capacity is a power of two and the home slot is the digest's first
 * 64 bits (little-endian) masked with capacity - 1. The table is made on
 * the first add, doubles before the load passes 1/2 (so a probe always
 * meets an empty slot) and, after deletions, halves down to a load of at
 * most 1/4 once it falls below 1/8, never below ISET_MIN_CAP slots. The
 * set is small in practice (own writes in flight): a resize rehashes in
 * one go.
 */
#include <stdlib.h>
#include <string.h>

#include "blocklist.h"
#include "iset.h"
#include "siphash.h"

#define ISET_MIN_CAP	64	/* fewest slots once there is a table */
#define ISET_GROW_DIV	2	/* grow before the load passes 1/2 */
#define ISET_SHRINK_DIV	8	/* shrink below a load of 1/8 ... */
#define ISET_TARGET_DIV	4	/* ... to a load of at most 1/4 */

/* One slot of the set. */
struct iset_slot {
	uint8_t		 digest[SIPHASH_OUT_LEN]; /* of (iss, jti) */
	uint64_t	 seq;		/* newest own write; 0: empty slot */
};

/* The table and its digest key. */
struct iset {
	struct iset_slot *slots;	/* cap slots, or NULL */
	size_t		 cap;		/* power of two, or 0 */
	size_t		 count;		/* slots in use */
	uint8_t		 key[SIPHASH_KEY_LEN]; /* random digest key */
};

/* Digest (iss, jti) into out; return -1 if either is too long. */
static int
iset_digest(const struct iset *s, const char *iss, size_t isslen,
    const char *jti, size_t jtilen, uint8_t out[SIPHASH_OUT_LEN])
{
	uint8_t	buf[2 + BLOCKLIST_ID_MAX + ISET_JTI_MAX];

	if (isslen > BLOCKLIST_ID_MAX || jtilen > ISET_JTI_MAX)
		return -1;
	/* The length of iss keeps ("ab", "c") apart from ("a", "bc"). */
	buf[0] = (uint8_t)isslen;
	buf[1] = (uint8_t)(isslen >> 8);
	if (isslen > 0)
		memcpy(buf + 2, iss, isslen);
	if (jtilen > 0)
		memcpy(buf + 2 + isslen, jti, jtilen);
	siphash128(s->key, buf, 2 + isslen + jtilen, out);
	return 0;
}

/* Return the probe hash of a digest: its first 64 bits, little-endian. */
static uint64_t
iset_probe_hash(const uint8_t *d)
{
	uint64_t	v = 0;
	int		i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | d[i];
	return v;
}

/* Return the home slot of digest d. */
static size_t
iset_home(const struct iset *s, const uint8_t *d)
{
	return (size_t)iset_probe_hash(d) & (s->cap - 1);
}

/* Return the index of the slot holding d, or of the empty slot where it
 * would go. The table must exist. */
static size_t
iset_find(const struct iset *s, const uint8_t *d)
{
	size_t	i, mask = s->cap - 1;

	for (i = iset_home(s, d);; i = (i + 1) & mask)
		if (s->slots[i].seq == 0 ||
		    memcmp(s->slots[i].digest, d, SIPHASH_OUT_LEN) == 0)
			return i;
}

/* Rehash the set into cap slots (a power of two); 0, or -1 on OOM with
 * nothing changed. */
static int
iset_resize(struct iset *s, size_t cap)
{
	struct iset_slot *old = s->slots;
	size_t		 i, oldcap = s->cap;

	if ((s->slots = calloc(cap, sizeof *s->slots)) == NULL) {
		s->slots = old;
		return -1;
	}
	s->cap = cap;
	for (i = 0; i < oldcap; i++)
		if (old[i].seq != 0)
			s->slots[iset_find(s, old[i].digest)] = old[i];
	free(old);
	return 0;
}

/* Halve the table while it is mostly empty. */
static void
iset_maybe_shrink(struct iset *s)
{
	size_t	cap = ISET_MIN_CAP;

	if (s->cap <= ISET_MIN_CAP || s->count >= s->cap / ISET_SHRINK_DIV)
		return;
	while (cap < s->count * ISET_TARGET_DIV)
		cap *= 2;
	/* On OOM the larger table simply stays. */
	if (cap < s->cap)
		(void)iset_resize(s, cap);
}

/* Empty the slot at index i, shifting later ones of its run back. */
static void
iset_delete_at(struct iset *s, size_t i)
{
	size_t	j = i, k, mask = s->cap - 1;

	for (;;) {
		s->slots[i].seq = 0;
		for (;;) {
			j = (j + 1) & mask;
			if (s->slots[j].seq == 0) {
				s->count--;
				return;
			}
			k = iset_home(s, s->slots[j].digest);
			/* Leave j unless its home lies outside (i, j]: then
			 * the hole at i would cut it off from its home. */
			if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
				continue;
			s->slots[i] = s->slots[j];
			i = j;
			break;
		}
	}
}

/* Create an empty set keyed with key. */
struct iset *
iset_new(const uint8_t key[SIPHASH_KEY_LEN])
{
	struct iset	*s;

	if ((s = calloc(1, sizeof *s)) == NULL)
		return NULL;
	memcpy(s->key, key, sizeof s->key);
	return s;
}

/* Free a set. */
void
iset_free(struct iset *s)
{
	if (s == NULL)
		return;
	free(s->slots);
	explicit_bzero(s->key, sizeof s->key);
	free(s);
}

/* Note a write of (iss, jti) with seq, keeping the larger seq. */
int
iset_add(struct iset *s, const char *iss, size_t isslen, const char *jti,
    size_t jtilen, uint64_t seq)
{
	struct iset_slot *slot;
	uint8_t		 d[SIPHASH_OUT_LEN];

	if (seq == 0 || iset_digest(s, iss, isslen, jti, jtilen, d) == -1)
		return -1;
	/* Grow first even if the key is there: simpler, and harmless. */
	if ((s->count + 1) * ISET_GROW_DIV > s->cap &&
	    iset_resize(s, s->cap ? s->cap * 2 : ISET_MIN_CAP) == -1)
		return -1;
	slot = &s->slots[iset_find(s, d)];
	if (slot->seq == 0) {
		memcpy(slot->digest, d, sizeof d);
		s->count++;
	}
	if (seq > slot->seq)
		slot->seq = seq;
	return 0;
}

/* Return the seq of (iss, jti), or 0. */
uint64_t
iset_get(const struct iset *s, const char *iss, size_t isslen,
    const char *jti, size_t jtilen)
{
	uint8_t	d[SIPHASH_OUT_LEN];

	if (s->count == 0 || iset_digest(s, iss, isslen, jti, jtilen,
	    d) == -1)
		return 0;
	return s->slots[iset_find(s, d)].seq;
}

/* Remove (iss, jti); 1 if it was there. */
int
iset_del(struct iset *s, const char *iss, size_t isslen, const char *jti,
    size_t jtilen)
{
	uint8_t	d[SIPHASH_OUT_LEN];
	size_t	i;

	if (s->count == 0 || iset_digest(s, iss, isslen, jti, jtilen,
	    d) == -1)
		return 0;
	i = iset_find(s, d);
	if (s->slots[i].seq == 0)
		return 0;
	iset_delete_at(s, i);
	iset_maybe_shrink(s);
	return 1;
}

/* Remove every entry with seq <= upto. */
void
iset_drop_upto(struct iset *s, uint64_t upto)
{
	size_t	i;

	/* A deletion shifts a later entry into slot i: look at i again.
	 * Entries only move backwards, and one that moves from the front
	 * across the wrap to the back is looked at when the scan gets
	 * there; none moves from behind the scan to before it. The table
	 * shrinks only after the scan, which a rehash would upset. */
	for (i = 0; i < s->cap;) {
		if (s->slots[i].seq != 0 && s->slots[i].seq <= upto)
			iset_delete_at(s, i);
		else
			i++;
	}
	iset_maybe_shrink(s);
}

/* Return the number of entries. */
size_t
iset_count(const struct iset *s)
{
	return s->count;
}

/* Return the number of slots. */
size_t
iset_capacity(const struct iset *s)
{
	return s->cap;
}

/* Return the probe hash of (iss, jti). */
uint64_t
iset_hash(const struct iset *s, const char *iss, size_t isslen,
    const char *jti, size_t jtilen)
{
	uint8_t	d[SIPHASH_OUT_LEN];

	if (iset_digest(s, iss, isslen, jti, jtilen, d) == -1)
		return 0;
	return iset_probe_hash(d);
}

/* Check the structure of the set. */
int
iset_check(const struct iset *s, size_t *wrapped)
{
	size_t	i, j, home, used = 0, nwrap = 0, mask = s->cap - 1;

	if (wrapped != NULL)
		*wrapped = 0;
	if (s->cap == 0)
		return s->slots == NULL && s->count == 0 ? 0 : -1;
	if ((s->cap & mask) != 0 || s->cap < ISET_MIN_CAP ||
	    s->count * ISET_GROW_DIV > s->cap)
		return -1;
	for (i = 0; i < s->cap; i++) {
		if (s->slots[i].seq == 0)
			continue;
		used++;
		home = iset_home(s, s->slots[i].digest);
		if (home > i)
			nwrap++;
		/* Every slot from home up to i is full and holds another
		 * digest: a lookup walks to i and stops there. */
		for (j = home; j != i; j = (j + 1) & mask)
			if (s->slots[j].seq == 0 ||
			    memcmp(s->slots[j].digest, s->slots[i].digest,
			    SIPHASH_OUT_LEN) == 0)
				return -1;
	}
	if (used != s->count)
		return -1;
	if (wrapped != NULL)
		*wrapped = nwrap;
	return 0;
}
