/*
 * The verified-token cache: claims of tokens that passed verification,
 * keyed by the SHA-256 of the exact token bytes.
 *
 * Layout. The cache is split into up to CACHE_SHARDS shards, each with its
 * own mutex, chained hash table and LRU list, so threads verifying
 * different tokens rarely take the same lock. The digest is uniformly
 * random, so its bytes are the hash: bytes 0-7 pick the shard, bytes 8-15
 * the bucket. A hit compares all 32 bytes. max_entries is split exactly
 * across the shards (their capacities sum to it), so the bound is global;
 * LRU order is per shard, and since shards fill unevenly a cache may
 * start evicting a little before it holds max_entries in all.
 *
 * Memory. An entry is one allocation: the struct followed by the four
 * strings (jti, iss, sub, sid) with their NULs. Claims whose strings total
 * more than CACHE_STR_MAX bytes are not cached (such a token is simply
 * verified on every call), so one entry costs at most
 * sizeof(struct cache_entry) + CACHE_STR_MAX + 4 bytes (about 1.2 KiB on
 * LP64) plus malloc overhead, and the whole cache at most max_entries
 * times that plus the bucket arrays (one pointer per entry, rounded up to
 * a power of two per shard).
 *
 * Expiry. An entry whose until is <= now is never returned: vcache_get
 * frees it when it finds it, and vcache_put, when the shard is full,
 * looks at the CACHE_EVICT_SCAN least recently used entries for one
 * expired at the latest time a get on that shard was given, before
 * evicting the least recently used. Expired entries
 * elsewhere in the list are reclaimed when looked up or when they age to
 * the tail; they never cost more than the bound above.
 *
 * Locking. No allocation and no free happens under a shard lock: put
 * builds its entry before locking and frees what it displaced after
 * unlocking; get copies the entry into a stack buffer under the lock and
 * duplicates the strings after unlocking.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"

#define CACHE_SHARDS		16	/* most shards (power of two) */
#define CACHE_STR_MAX		1024	/* most bytes of jti+iss+sub+sid */
#define CACHE_NSTR		4	/* strings kept: jti, iss, sub, sid */
#define CACHE_EVICT_SCAN	8	/* LRU entries checked for expiry */
#define CACHE_BUCKETS_MIN	16	/* initial buckets per shard */
#define CACHE_BUCKETS_MAX	((size_t)1 << 24)	/* most per shard */

/* One cached token. */
struct cache_entry {
	struct cache_entry	*hnext;		/* next in the hash chain */
	struct cache_entry	*lprev;		/* LRU neighbour, newer */
	struct cache_entry	*lnext;		/* LRU neighbour, older */
	unsigned char		 digest[CACHE_DIGEST_LEN]; /* the key */
	long long		 until;		/* valid while now < until */
	long long		 exp;		/* claims "exp" */
	long long		 nbf;		/* claims "nbf" */
	long long		 iat;		/* claims "iat" */
	unsigned char		 has_exp;	/* exp present */
	unsigned char		 has_nbf;	/* nbf present */
	unsigned char		 has_iat;	/* iat present */
	unsigned char		 has_str[CACHE_NSTR]; /* string i present */
	unsigned short		 len[CACHE_NSTR]; /* bytes of string i */
	size_t			 strbytes;	/* bytes used in str */
	char			 str[];		/* strings, each NUL-ended */
};

/* A shard: a lock, a chained hash table and an LRU list. */
struct cache_shard {
	pthread_mutex_t		 lock;		/* guards everything below */
	struct cache_entry	**buckets;	/* hash chains */
	size_t			 nbuckets;	/* power of two */
	size_t			 maxbuckets;	/* most buckets it grows to */
	struct cache_entry	*head;		/* most recently used */
	struct cache_entry	*tail;		/* least recently used */
	size_t			 count;		/* entries in the shard */
	size_t			 cap;		/* most entries in the shard */
	long long		 now;		/* latest now given to get */
};

/* The cache. */
struct vcache {
	struct cache_shard	 shards[CACHE_SHARDS];	/* nshards used */
	size_t			 nshards;	/* power of two, <= max */
	size_t			 strmax; /* most string bytes per entry */
};

/* Read 8 bytes of the digest as a number. */
static uint64_t
digest_word(const unsigned char *digest, size_t off)
{
	uint64_t	w;

	memcpy(&w, digest + off, sizeof w);
	return w;
}

/* Return the shard holding digest. */
static struct cache_shard *
cache_shard(struct vcache *c, const unsigned char *digest)
{
	return &c->shards[digest_word(digest, 0) & (c->nshards - 1)];
}

/* Return the bucket index of digest in shard s. */
static size_t
cache_bucket(const struct cache_shard *s, const unsigned char *digest)
{
	return (size_t)(digest_word(digest, 8) & (s->nbuckets - 1));
}

/* Return the smallest power of two >= n, at most CACHE_BUCKETS_MAX. */
static size_t
pow2_ceil(size_t n)
{
	size_t	p = 1;

	while (p < n && p < CACHE_BUCKETS_MAX)
		p <<= 1;
	return p;
}

/* Create a cache of at most max_entries (> 0), thread-safe. NULL on OOM. */
struct vcache *
vcache_new(size_t max_entries)
{
	struct vcache		*c;
	struct cache_shard	*s;
	size_t			 i, n;

	if (max_entries == 0)
		return NULL;
	if ((c = calloc(1, sizeof *c)) == NULL)
		return NULL;
	c->strmax = CACHE_STR_MAX;
	/* Fewer shards than CACHE_SHARDS for a tiny cache, so every shard
	 * holds at least one entry and the capacities sum to max_entries. */
	c->nshards = 1;
	while (c->nshards * 2 <= CACHE_SHARDS &&
	    c->nshards * 2 <= max_entries)
		c->nshards *= 2;
	for (i = 0; i < c->nshards; i++) {
		s = &c->shards[i];
		s->cap = max_entries / c->nshards +
		    (i < max_entries % c->nshards ? 1 : 0);
		s->maxbuckets = pow2_ceil(s->cap);
		n = s->maxbuckets < CACHE_BUCKETS_MIN ?
		    s->maxbuckets : CACHE_BUCKETS_MIN;
		if ((s->buckets = calloc(n, sizeof *s->buckets)) == NULL ||
		    pthread_mutex_init(&s->lock, NULL) != 0) {
			free(s->buckets);
			s->buckets = NULL;
			c->nshards = i;
			vcache_free(c);
			return NULL;
		}
		s->nbuckets = n;
	}
	return c;
}

/* Free a chain of entries linked by lnext. */
static void
entries_free(struct cache_entry *e)
{
	struct cache_entry	*next;

	for (; e != NULL; e = next) {
		next = e->lnext;
		free(e);
	}
}

/* Free the cache and everything in it. */
void
vcache_free(struct vcache *c)
{
	size_t	i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nshards; i++) {
		entries_free(c->shards[i].head);
		free(c->shards[i].buckets);
		pthread_mutex_destroy(&c->shards[i].lock);
	}
	free(c);
}

/* Find digest in shard s; set *prevp to the link pointing at it. */
static struct cache_entry *
shard_find(struct cache_shard *s, const unsigned char *digest,
    struct cache_entry ***prevp)
{
	struct cache_entry	**pp, *e;

	pp = &s->buckets[cache_bucket(s, digest)];
	for (e = *pp; e != NULL; pp = &e->hnext, e = e->hnext) {
		if (memcmp(e->digest, digest, CACHE_DIGEST_LEN) == 0) {
			*prevp = pp;
			return e;
		}
	}
	return NULL;
}

/* Unlink e from the LRU list of s. */
static void
lru_unlink(struct cache_shard *s, struct cache_entry *e)
{
	if (e->lprev != NULL)
		e->lprev->lnext = e->lnext;
	else
		s->head = e->lnext;
	if (e->lnext != NULL)
		e->lnext->lprev = e->lprev;
	else
		s->tail = e->lprev;
	e->lprev = e->lnext = NULL;
}

/* Put e at the head (most recently used) of the LRU list of s. */
static void
lru_push(struct cache_shard *s, struct cache_entry *e)
{
	e->lprev = NULL;
	e->lnext = s->head;
	if (s->head != NULL)
		s->head->lprev = e;
	s->head = e;
	if (s->tail == NULL)
		s->tail = e;
}

/* Remove e, found through link pp, from s; the caller frees it. */
static void
shard_remove(struct cache_shard *s, struct cache_entry *e,
    struct cache_entry **pp)
{
	*pp = e->hnext;
	e->hnext = NULL;
	lru_unlink(s, e);
	s->count--;
}

/* Remove e from s, looking up its hash link; the caller frees it. */
static void
shard_evict(struct cache_shard *s, struct cache_entry *e)
{
	struct cache_entry	**pp;

	if (shard_find(s, e->digest, &pp) == e)
		shard_remove(s, e, pp);
}

/* Double the buckets of s if it is loaded and may grow; keep the old
 * table when out of memory (chains just get longer). Called locked: the
 * one allocation under a lock, amortised over the inserts that fill it. */
static void
shard_grow(struct cache_shard *s)
{
	struct cache_entry	**nb, *e, *next;
	size_t			 i, n, h;

	if (s->count < s->nbuckets || s->nbuckets >= s->maxbuckets)
		return;
	n = s->nbuckets * 2;
	if ((nb = calloc(n, sizeof *nb)) == NULL)
		return;
	for (i = 0; i < s->nbuckets; i++) {
		for (e = s->buckets[i]; e != NULL; e = next) {
			next = e->hnext;
			h = (size_t)(digest_word(e->digest, 8) & (n - 1));
			e->hnext = nb[h];
			nb[h] = e;
		}
	}
	free(s->buckets);
	s->buckets = nb;
	s->nbuckets = n;
}

/* Return the length of s or 0 for NULL. */
static size_t
str_len(const char *s)
{
	return s == NULL ? 0 : strlen(s);
}

/* Build an entry from claims; NULL when out of memory or too large. */
static struct cache_entry *
entry_new(const struct vcache *c, const unsigned char *digest,
    long long until, const struct token_claims *claims)
{
	const char		*src[CACHE_NSTR];
	struct cache_entry	*e;
	size_t			 len[CACHE_NSTR], total = 0, off = 0;
	int			 i;

	src[0] = claims->jti;
	src[1] = claims->iss;
	src[2] = claims->sub;
	src[3] = claims->sid;
	for (i = 0; i < CACHE_NSTR; i++) {
		len[i] = str_len(src[i]);
		if (len[i] > c->strmax || total + len[i] > c->strmax)
			return NULL;
		total += len[i];
	}
	if ((e = malloc(sizeof *e + total + CACHE_NSTR)) == NULL)
		return NULL;
	memset(e, 0, sizeof *e);
	memcpy(e->digest, digest, CACHE_DIGEST_LEN);
	e->until = until;
	e->exp = claims->exp;
	e->nbf = claims->nbf;
	e->iat = claims->iat;
	e->has_exp = claims->has_exp != 0;
	e->has_nbf = claims->has_nbf != 0;
	e->has_iat = claims->has_iat != 0;
	for (i = 0; i < CACHE_NSTR; i++) {
		e->has_str[i] = src[i] != NULL;
		e->len[i] = (unsigned short)len[i];
		if (len[i] > 0)
			memcpy(e->str + off, src[i], len[i]);
		e->str[off + len[i]] = '\0';
		off += len[i] + 1;
	}
	e->strbytes = off;
	return e;
}

/* Remember claims for a verified token until `until` (Unix seconds). */
void
vcache_put(struct vcache *c, const unsigned char digest[CACHE_DIGEST_LEN],
    long long until, const struct token_claims *claims)
{
	struct cache_shard	*s;
	struct cache_entry	*e, *old, *victim = NULL, *v, **pp;
	int			 i;

	if (c == NULL || claims == NULL)
		return;
	if ((e = entry_new(c, digest, until, claims)) == NULL)
		return;
	s = cache_shard(c, digest);
	pthread_mutex_lock(&s->lock);
	if ((old = shard_find(s, digest, &pp)) != NULL)
		shard_remove(s, old, pp);
	else if (s->count >= s->cap) {
		/* Full: an expired entry near the LRU end goes first, else
		 * the least recently used. put is given no clock, so
		 * "expired" is judged against the latest now a get on this
		 * shard was given (verification always looks up first). */
		victim = s->tail;
		for (v = s->tail, i = 0; v != NULL && i < CACHE_EVICT_SCAN;
		    v = v->lprev, i++) {
			if (v->until <= s->now) {
				victim = v;
				break;
			}
		}
		if (victim != NULL)
			shard_evict(s, victim);
	}
	shard_grow(s);
	pp = &s->buckets[cache_bucket(s, digest)];
	e->hnext = *pp;
	*pp = e;
	lru_push(s, e);
	s->count++;
	pthread_mutex_unlock(&s->lock);
	free(old);
	free(victim);
}

/* Copy the claims held by e into out; 0, or -1 when out of memory. */
static int
claims_from_entry(const struct cache_entry *e, struct token_claims *out)
{
	char		**dst[CACHE_NSTR];
	const char	 *p = e->str;
	int		  i;

	memset(out, 0, sizeof *out);
	dst[0] = &out->jti;
	dst[1] = &out->iss;
	dst[2] = &out->sub;
	dst[3] = &out->sid;
	for (i = 0; i < CACHE_NSTR; i++) {
		if (e->has_str[i] &&
		    (*dst[i] = strndup(p, e->len[i])) == NULL) {
			token_claims_free(out);
			return -1;
		}
		p += e->len[i] + 1;
	}
	out->exp = e->exp;
	out->nbf = e->nbf;
	out->iat = e->iat;
	out->has_exp = e->has_exp;
	out->has_nbf = e->has_nbf;
	out->has_iat = e->has_iat;
	return 0;
}

/* Look digest up; on a live hit copy its claims to out and return 1. */
int
vcache_get(struct vcache *c, const unsigned char digest[CACHE_DIGEST_LEN],
    long long now, struct token_claims *out)
{
	/* The entry is copied here under the lock, and the strings are
	 * duplicated from the copy after unlocking. */
	union {
		struct cache_entry	e;
		char			raw[sizeof(struct cache_entry) +
					    CACHE_STR_MAX + CACHE_NSTR];
	}			 copy;
	struct cache_shard	*s;
	struct cache_entry	*e, *dead = NULL, **pp;
	int			 hit = 0;

	if (c == NULL)
		return 0;
	s = cache_shard(c, digest);
	pthread_mutex_lock(&s->lock);
	if (now > s->now)
		s->now = now;
	if ((e = shard_find(s, digest, &pp)) != NULL) {
		if (e->until <= now) {
			shard_remove(s, e, pp);
			dead = e;
		} else {
			lru_unlink(s, e);
			lru_push(s, e);
			memcpy(&copy, e, sizeof *e + e->strbytes);
			hit = 1;
		}
	}
	pthread_mutex_unlock(&s->lock);
	free(dead);
	if (!hit)
		return 0;
	return claims_from_entry(&copy.e, out) == 0;
}

/* Drop every entry (key set reloaded). */
void
vcache_clear(struct vcache *c)
{
	struct cache_shard	*s;
	struct cache_entry	*list;
	size_t			 i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nshards; i++) {
		s = &c->shards[i];
		pthread_mutex_lock(&s->lock);
		list = s->head;
		s->head = s->tail = NULL;
		memset(s->buckets, 0, s->nbuckets * sizeof *s->buckets);
		s->count = 0;
		pthread_mutex_unlock(&s->lock);
		entries_free(list);
	}
}

/* Return the number of entries (exact when no other call is running). */
size_t
vcache_count(struct vcache *c)
{
	size_t	i, n = 0;

	if (c == NULL)
		return 0;
	for (i = 0; i < c->nshards; i++) {
		pthread_mutex_lock(&c->shards[i].lock);
		n += c->shards[i].count;
		pthread_mutex_unlock(&c->shards[i].lock);
	}
	return n;
}
