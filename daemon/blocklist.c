/*
 * The in-memory blocklist: revoked (iss, jti) pairs, each until its exp.
 *
 * One open-addressing array of 24-byte slots, Robin Hood linear probing
 * with backward-shift deletion (no tombstones). A slot holds only a
 * 128-bit SipHash-2-4 digest of (iss, jti) under a per-process key, the
 * exp and a reference to an interned reason. The digest stands in for the
 * key: a collision of two 128-bit keyed digests is treated as impossible
 * (it would merge two entries into one), so the strings are never stored.
 *
 * The capacity is not a power of two: the home slot is the high half of
 * digest * capacity, so the table can grow by 1.25x and run at a load of
 * up to 7/8. Memory, counting 24 bytes a slot:
 *   - right after a growth the load is just above 7/8 / 1.25 = 0.7, the
 *     lowest a growing table ever sees, so the worst case is 24 / 0.7 =
 *     34.3 bytes per entry at any count (plus the few hundred bytes of
 *     struct blocklist and the reasons); the best is 24 / 0.875 = 27.4.
 *   - a table that grew and then lost entries keeps its capacity until the
 *     load falls below 1/5; then it shrinks to a load of 1/2 and frees the
 *     old array. So after a partial expiry, bytes per entry can be up to
 *     24 * 5 = 120 until the next shrink; that is the price of hysteresis.
 *
 * Known limitation: a resize rehashes the whole table in one go (tens of
 * milliseconds at a million entries), which stalls the event loop once per
 * growth or shrink. Incremental rehashing would need two arrays at once.
 * So blocklist_expire's work is its budget plus the backward shifts, plus
 * such a rehash when it shrinks the table (amortized over the frees).
 */
#include <stdlib.h>
#include <string.h>

#include "blocklist.h"
#include "siphash.h"

#define BL_MIN_CAP	64	/* fewest slots; an empty table stays tiny */
#define BL_LOAD_NUM	7	/* grow above a load of BL_LOAD_NUM/DEN */
#define BL_LOAD_DEN	8
#define BL_SHRINK_DIV	5	/* shrink below a load of 1/BL_SHRINK_DIV */
#define BL_RINDEX_MIN	16	/* fewest slots of the reason index */

/* One slot of the table; exp == 0 marks it empty. */
struct bl_slot {
	uint64_t	h0;	/* digest, first half; picks the home slot */
	uint64_t	h1;	/* digest, second half */
	uint32_t	exp;	/* Unix seconds the entry lives until */
	uint32_t	reason;	/* reason id, 0 = none */
};

_Static_assert(sizeof(struct bl_slot) == 24, "a slot must be 24 bytes");

/* One interned reason; ids are index + 1. */
struct bl_reason {
	char		*str;	/* NUL-terminated text, NULL if id is free */
	size_t		 len;	/* strlen(str) */
	size_t		 refs;	/* entries using it; next free id if free */
	uint64_t	 hash;	/* keyed digest of the text, for the index */
};

/* The table, its sweep cursor and the reasons' side table. */
struct blocklist {
	uint8_t		 key[BLOCKLIST_KEY_LEN]; /* SipHash key */
	struct bl_slot	*slots;		/* the table */
	size_t		 cap;		/* slots in the table */
	size_t		 count;		/* entries, swept or not */
	size_t		 cursor;	/* next slot the sweep examines */

	struct bl_reason *reasons;	/* interned reasons by id - 1 */
	uint32_t	 nreasons;	/* ids handed out (high water) */
	uint32_t	 reasonsalloc;	/* allocated length of reasons */
	uint32_t	 nlive;		/* reasons in use */
	uint32_t	 freeid;	/* first free id, 0 = none */
	uint32_t	*rindex;	/* open addressing of ids, 0 = empty */
	size_t		 rindexlen;	/* slots of rindex, a power of two */
	size_t		 reasonbytes;	/* heap held by reason strings */
};

/* Return the high 64 bits of a * b. */
static uint64_t
mulhi64(uint64_t a, uint64_t b)
{
#ifdef __SIZEOF_INT128__
	__extension__ typedef unsigned __int128 u128;

	return (uint64_t)(((u128)a * b) >> 64);
#else
	uint64_t alo = (uint32_t)a, ahi = a >> 32;
	uint64_t blo = (uint32_t)b, bhi = b >> 32;
	uint64_t ll = alo * blo, lh = alo * bhi, hl = ahi * blo;
	uint64_t hh = ahi * bhi;
	uint64_t mid = (ll >> 32) + (uint32_t)lh + (uint32_t)hl;

	return hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
#endif
}

/* Load 8 bytes as a little-endian 64-bit word. */
static uint64_t
bl_load64(const uint8_t *p)
{
	uint64_t	v = 0;
	int		i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Return the home slot of digest half h0 in a table of cap slots. */
static size_t
bl_home(uint64_t h0, size_t cap)
{
	return (size_t)mulhi64(h0, cap);
}

/* Return how far slot i sits from its home. */
static size_t
bl_dist(const struct blocklist *bl, size_t i)
{
	size_t	home = bl_home(bl->slots[i].h0, bl->cap);

	return i >= home ? i - home : i + bl->cap - home;
}

/* Digest (iss, jti) into h; return -1 if either is too long. */
static int
bl_digest(const struct blocklist *bl, const char *iss, size_t isslen,
    const char *jti, size_t jtilen, uint64_t h[2])
{
	uint8_t	buf[2 + 2 * BLOCKLIST_ID_MAX], out[SIPHASH_OUT_LEN];

	if (isslen > BLOCKLIST_ID_MAX || jtilen > BLOCKLIST_ID_MAX)
		return -1;
	/* The length prefix keeps ("ab", "c") apart from ("a", "bc"). */
	buf[0] = (uint8_t)isslen;
	buf[1] = (uint8_t)(isslen >> 8);
	if (isslen > 0)
		memcpy(buf + 2, iss, isslen);
	if (jtilen > 0)
		memcpy(buf + 2 + isslen, jti, jtilen);
	siphash128(bl->key, buf, 2 + isslen + jtilen, out);
	h[0] = bl_load64(out);
	h[1] = bl_load64(out + 8);
	return 0;
}

/* Return the slot holding digest h, or (size_t)-1 if absent. */
static size_t
bl_find(const struct blocklist *bl, const uint64_t h[2])
{
	size_t	i = bl_home(h[0], bl->cap), d;

	for (d = 0;; d++) {
		const struct bl_slot *s = &bl->slots[i];

		if (s->exp == 0)
			return (size_t)-1;
		if (s->h0 == h[0] && s->h1 == h[1])
			return i;
		/* Robin Hood: ours would have displaced this one. */
		if (bl_dist(bl, i) < d)
			return (size_t)-1;
		if (++i == bl->cap)
			i = 0;
	}
}

/* Place an entry known to be absent, displacing richer ones. */
static void
bl_place(struct bl_slot *slots, size_t cap, struct bl_slot in)
{
	struct bl_slot	 tmp;
	size_t		 i = bl_home(in.h0, cap), d = 0, sd, home;

	for (;;) {
		if (slots[i].exp == 0) {
			slots[i] = in;
			return;
		}
		home = bl_home(slots[i].h0, cap);
		sd = i >= home ? i - home : i + cap - home;
		if (sd < d) {
			tmp = slots[i];
			slots[i] = in;
			in = tmp;
			d = sd;
		}
		if (++i == cap)
			i = 0;
		d++;
	}
}

/* Return the home of reason id in the reason index. */
static size_t
bl_rhome(const struct blocklist *bl, uint32_t id)
{
	return (size_t)bl->reasons[id - 1].hash & (bl->rindexlen - 1);
}

/* Rebuild the reason index with len slots; -1 on OOM, nothing changed. */
static int
bl_rindex_build(struct blocklist *bl, size_t len)
{
	uint32_t	*idx, id;
	size_t		 i;

	if ((idx = calloc(len, sizeof(*idx))) == NULL)
		return -1;
	free(bl->rindex);
	bl->rindex = idx;
	bl->rindexlen = len;
	for (id = 1; id <= bl->nreasons; id++) {
		if (bl->reasons[id - 1].str == NULL)
			continue;
		i = bl_rhome(bl, id);
		while (idx[i] != 0)
			i = (i + 1) & (len - 1);
		idx[i] = id;
	}
	return 0;
}

/* Take a reference on the reason text, interning it; -1 on OOM. */
static int
bl_reason_get(struct blocklist *bl, const char *text, size_t len,
    uint32_t *idp)
{
	struct bl_reason	*r;
	uint8_t			 out[SIPHASH_OUT_LEN];
	uint64_t		 hash;
	size_t			 i, n;
	uint32_t		 id;
	char			*s;

	if (len == 0) {
		*idp = 0;
		return 0;
	}
	siphash128(bl->key, text, len, out);
	hash = bl_load64(out);
	if (bl->rindex != NULL) {
		i = (size_t)hash & (bl->rindexlen - 1);
		for (; (id = bl->rindex[i]) != 0;
		    i = (i + 1) & (bl->rindexlen - 1)) {
			r = &bl->reasons[id - 1];
			if (r->hash == hash && r->len == len &&
			    memcmp(r->str, text, len) == 0) {
				r->refs++;
				*idp = id;
				return 0;
			}
		}
	}

	/* A new reason: allocate everything before changing anything. */
	if (len == SIZE_MAX || (s = malloc(len + 1)) == NULL)
		return -1;
	if (bl->freeid == 0 && bl->nreasons == bl->reasonsalloc) {
		n = bl->reasonsalloc == 0 ? 4 : (size_t)bl->reasonsalloc * 2;
		if (n > UINT32_MAX - 1 ||
		    (r = realloc(bl->reasons, n * sizeof(*r))) == NULL) {
			free(s);
			return -1;
		}
		bl->reasons = r;
		bl->reasonsalloc = (uint32_t)n;
	}
	/* Keep the index at most half full. */
	if (((size_t)bl->nlive + 1) * 2 > bl->rindexlen) {
		n = bl->rindexlen == 0 ? BL_RINDEX_MIN : bl->rindexlen * 2;
		if (bl_rindex_build(bl, n) == -1) {
			free(s);
			return -1;
		}
	}

	if (bl->freeid != 0) {
		id = bl->freeid;
		bl->freeid = (uint32_t)bl->reasons[id - 1].refs;
	} else
		id = ++bl->nreasons;
	r = &bl->reasons[id - 1];
	memcpy(s, text, len);
	s[len] = '\0';
	r->str = s;
	r->len = len;
	r->refs = 1;
	r->hash = hash;
	bl->nlive++;
	bl->reasonbytes += len + 1;
	i = bl_rhome(bl, id);
	while (bl->rindex[i] != 0)
		i = (i + 1) & (bl->rindexlen - 1);
	bl->rindex[i] = id;
	*idp = id;
	return 0;
}

/* Remove reason id from the index, shifting later ones back. */
static void
bl_rindex_del(struct blocklist *bl, uint32_t id)
{
	size_t	mask = bl->rindexlen - 1, i, j, k;

	for (i = bl_rhome(bl, id); bl->rindex[i] != id; i = (i + 1) & mask)
		;
	/* Knuth's algorithm R: move back any entry whose home is not in
	 * the cyclic range (i, j]. */
	for (j = i;;) {
		j = (j + 1) & mask;
		if (bl->rindex[j] == 0)
			break;
		k = bl_rhome(bl, bl->rindex[j]);
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		bl->rindex[i] = bl->rindex[j];
		i = j;
	}
	bl->rindex[i] = 0;
}

/* Drop a reference on reason id, freeing it with the last one. */
static void
bl_reason_put(struct blocklist *bl, uint32_t id)
{
	struct bl_reason	*r;

	if (id == 0)
		return;
	r = &bl->reasons[id - 1];
	if (--r->refs > 0)
		return;
	bl_rindex_del(bl, id);
	bl->reasonbytes -= r->len + 1;
	free(r->str);
	r->str = NULL;
	r->refs = bl->freeid;
	bl->freeid = id;
	if (--bl->nlive > 0)
		return;
	/* The last reason went: give back the side table too. */
	free(bl->reasons);
	free(bl->rindex);
	bl->reasons = NULL;
	bl->rindex = NULL;
	bl->nreasons = bl->reasonsalloc = bl->freeid = 0;
	bl->rindexlen = 0;
}

/* Empty slot i, shifting the following cluster back by one. */
static void
bl_delete_at(struct blocklist *bl, size_t i)
{
	size_t	j;

	bl_reason_put(bl, bl->slots[i].reason);
	for (;;) {
		j = i + 1 == bl->cap ? 0 : i + 1;
		if (bl->slots[j].exp == 0 || bl_dist(bl, j) == 0)
			break;
		bl->slots[i] = bl->slots[j];
		i = j;
	}
	memset(&bl->slots[i], 0, sizeof(bl->slots[i]));
	bl->count--;
}

/* Rehash into ncap slots, dropping entries expired at now; -1 on OOM. */
static int
bl_resize(struct blocklist *bl, size_t ncap, int64_t now)
{
	struct bl_slot	*ns, *s;
	size_t		 i;

	if (ncap > SIZE_MAX / sizeof(*ns) ||
	    (ns = calloc(ncap, sizeof(*ns))) == NULL)
		return -1;
	for (i = 0; i < bl->cap; i++) {
		s = &bl->slots[i];
		if (s->exp == 0)
			continue;
		if (s->exp <= now) {
			bl_reason_put(bl, s->reason);
			bl->count--;
			continue;
		}
		bl_place(ns, ncap, *s);
	}
	free(bl->slots);
	bl->slots = ns;
	bl->cap = ncap;
	bl->cursor = 0;
	return 0;
}

/* Shrink the table if it has become mostly empty. */
static void
bl_maybe_shrink(struct blocklist *bl, int64_t now)
{
	size_t	ncap;

	/* Again if the rehash dropped expired entries, so a table whose
	 * entries all expired goes back to the minimum at once. */
	while (bl->cap > BL_MIN_CAP && bl->count < bl->cap / BL_SHRINK_DIV) {
		ncap = bl->count * 2;
		if (ncap < BL_MIN_CAP)
			ncap = BL_MIN_CAP;
		/* On OOM keep the larger table; it still works. */
		if (bl_resize(bl, ncap, now) == -1)
			return;
	}
}

/* Create an empty blocklist whose digests are keyed with key. */
struct blocklist *
blocklist_new(const uint8_t key[BLOCKLIST_KEY_LEN])
{
	struct blocklist	*bl;

	if ((bl = calloc(1, sizeof(*bl))) == NULL)
		return NULL;
	if ((bl->slots = calloc(BL_MIN_CAP, sizeof(*bl->slots))) == NULL) {
		free(bl);
		return NULL;
	}
	memcpy(bl->key, key, BLOCKLIST_KEY_LEN);
	bl->cap = BL_MIN_CAP;
	return bl;
}

/* Free a blocklist and everything it holds. */
void
blocklist_free(struct blocklist *bl)
{
	uint32_t	id;

	if (bl == NULL)
		return;
	for (id = 1; id <= bl->nreasons; id++)
		free(bl->reasons[id - 1].str);
	free(bl->reasons);
	free(bl->rindex);
	free(bl->slots);
	free(bl);
}

/* Revoke (iss, jti) until exp; 1 if added, 0 if updated, -1 on error. */
int
blocklist_add(struct blocklist *bl, const char *iss, size_t isslen,
    const char *jti, size_t jtilen, int64_t exp, const char *reason,
    size_t reasonlen, int64_t now)
{
	struct bl_slot	*s, in;
	uint64_t	 h[2];
	uint32_t	 rid;
	size_t		 i, ncap;

	if (exp <= now || exp <= 0 || exp > UINT32_MAX)
		return -1;
	if (bl_digest(bl, iss, isslen, jti, jtilen, h) == -1)
		return -1;

	if ((i = bl_find(bl, h)) != (size_t)-1) {
		s = &bl->slots[i];
		if (s->exp <= now) {
			/* Expired but not yet swept: start it afresh. */
			if (bl_reason_get(bl, reason, reasonlen, &rid) == -1)
				return -1;
			bl_reason_put(bl, s->reason);
			s->reason = rid;
			s->exp = (uint32_t)exp;
			return 1;
		}
		if (reasonlen > 0) {
			if (bl_reason_get(bl, reason, reasonlen, &rid) == -1)
				return -1;
			bl_reason_put(bl, s->reason);
			s->reason = rid;
		}
		if (exp > s->exp)
			s->exp = (uint32_t)exp;
		return 0;
	}

	/* Grow first so that an OOM leaves no entry half made. */
	if ((bl->count + 1) * BL_LOAD_DEN > bl->cap * BL_LOAD_NUM) {
		ncap = bl->cap;
		while ((bl->count + 1) * BL_LOAD_DEN > ncap * BL_LOAD_NUM)
			ncap += ncap / 4;
		if (bl_resize(bl, ncap, now) == -1)
			return -1;
	}
	if (bl_reason_get(bl, reason, reasonlen, &rid) == -1)
		return -1;
	in.h0 = h[0];
	in.h1 = h[1];
	in.exp = (uint32_t)exp;
	in.reason = rid;
	bl_place(bl->slots, bl->cap, in);
	bl->count++;
	return 1;
}

/* Return 1 and fill hit if (iss, jti) is revoked at now. */
int
blocklist_lookup(const struct blocklist *bl, const char *iss, size_t isslen,
    const char *jti, size_t jtilen, int64_t now, struct blocklist_hit *hit)
{
	const struct bl_slot	*s;
	const struct bl_reason	*r;
	uint64_t		 h[2];
	size_t			 i;

	if (bl_digest(bl, iss, isslen, jti, jtilen, h) == -1)
		return 0;
	if ((i = bl_find(bl, h)) == (size_t)-1)
		return 0;
	s = &bl->slots[i];
	if (now >= s->exp)
		return 0;
	if (hit != NULL) {
		hit->exp = s->exp;
		if (s->reason == 0) {
			hit->reason = "";
			hit->reason_len = 0;
		} else {
			r = &bl->reasons[s->reason - 1];
			hit->reason = r->str;
			hit->reason_len = r->len;
		}
	}
	return 1;
}

/* Remove (iss, jti); 1 if a live entry was removed, else 0. */
int
blocklist_remove(struct blocklist *bl, const char *iss, size_t isslen,
    const char *jti, size_t jtilen, int64_t now)
{
	uint64_t	h[2];
	size_t		i;
	int		live;

	if (bl_digest(bl, iss, isslen, jti, jtilen, h) == -1)
		return 0;
	if ((i = bl_find(bl, h)) == (size_t)-1)
		return 0;
	live = bl->slots[i].exp > now;
	bl_delete_at(bl, i);
	/* No shrink here: a rehash would stall the request; the next
	 * blocklist_expire() sweep shrinks the table. */
	return live;
}

/* Free entries with exp <= now, examining at most budget slots. */
size_t
blocklist_expire(struct blocklist *bl, int64_t now, size_t budget)
{
	struct bl_slot	*s;
	size_t		 before = bl->count, idle = 0;

	/*
	 * idle counts slots passed over since the last free: once it
	 * reaches cap the whole table was seen clean, so stop early.
	 */
	while (budget > 0 && bl->count > 0 && idle < bl->cap) {
		budget--;
		s = &bl->slots[bl->cursor];
		if (s->exp != 0 && s->exp <= now) {
			/* The shift refills this slot: look at it again. */
			bl_delete_at(bl, bl->cursor);
			idle = 0;
			continue;
		}
		idle++;
		if (++bl->cursor == bl->cap)
			bl->cursor = 0;
	}
	/* A shrink drops expired entries too; they count as freed. */
	bl_maybe_shrink(bl, now);
	return before - bl->count;
}

/* Return the number of entries held (expired ones not yet swept count). */
size_t
blocklist_count(const struct blocklist *bl)
{
	return bl->count;
}

/* Return the number of slots (capacity) of the table. */
size_t
blocklist_capacity(const struct blocklist *bl)
{
	return bl->cap;
}

/* Return the bytes of heap memory held by the blocklist. */
size_t
blocklist_memory(const struct blocklist *bl)
{
	return sizeof(*bl) + bl->cap * sizeof(*bl->slots) +
	    (size_t)bl->reasonsalloc * sizeof(*bl->reasons) +
	    bl->rindexlen * sizeof(*bl->rindex) + bl->reasonbytes;
}
