/*
 * Fuzz the journal reader: the first input byte splits the rest into a
 * snapshot and a log, written into a temporary state directory, which
 * journal_open then replays (upgrading a format 2 file). Errors are fine;
 * crashes, leaks, replayed records outside the format's limits (a MARK
 * among them, an unknown flag, AUDIT with STATE) and sequence numbers
 * that do not continue above every replayed one are not. A journal that
 * opened must then list from 0 back to 0 without an error (the first byte
 * picks the budget), and open again replaying exactly the same records
 * (an upgrade from format 2 merges nothing). For odd first bytes it must
 * compact into files that open again, holding nothing but the trail
 * copies of the newest audit_keep audit records (its top bits), exactly
 * as they were, and state copies that give the same tables.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal.h"
#include "rules.h"

#define FUZZ_NOW	1700000000	/* the fixed clock */
#define FUZZ_LIFETIME	3600		/* the token lifetime */
#define FUZZ_STEPS	100000		/* most steps of a listing */

/* What a record is known by in the tables. */
struct fuzz_key {
	int		 type;		/* its record type */
	char		*iss;		/* malloc'd copies */
	size_t		 isslen;
	char		*id;
	size_t		 idlen;
};

/* What a replay saw. */
struct fuzz_seen {
	size_t		 n;		/* records replayed */
	uint64_t	 max_seq;	/* their highest seq */
	uint64_t	 hash;		/* of the whole sequence */
	int		 compacted;	/* replaying a compaction's output */
	struct rules	*rules;		/* the tables it applies to */
	uint64_t	*audit;		/* hashes of the audit records' trail
					 * copies (not compacted) */
	size_t		 naudit;	/* audit records seen */
	struct fuzz_key	*keys;		/* every record's */
	size_t		 nkeys;
	size_t		 size;		/* audit and keys allocated */
	const uint64_t	*want;		/* compacted: the trail copies
					 * expected, in order */
	size_t		 nwant;
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char	fuzz_dir[64];		/* the state directory, made once */

/* Return the fixed time. */
static int64_t
fuzz_clock(void)
{
	return FUZZ_NOW;
}

/* Abort unless a record is within the format's limits; touch every byte
 * so the sanitizers see an overread. */
static void
fuzz_check(const struct journal_rec *r)
{
	const int		 both = JOURNAL_F_AUDIT | JOURNAL_F_STATE;
	volatile uint8_t	 sum = 0;
	size_t			 i;

	switch (r->type) {
	case JOURNAL_REVOKE:
	case JOURNAL_UNREVOKE:
	case JOURNAL_REVOKESUB:
	case JOURNAL_BAN:
	case JOURNAL_UNBAN:
	case JOURNAL_REVOKESID:
	case JOURNAL_REVOKEALL:
		break;
	default:
		abort();
	}
	if ((r->flags & ~(JOURNAL_F_REMOTE | both)) != 0 ||
	    (r->flags & both) == both ||
	    r->seq > (uint64_t)INT64_MAX || r->isslen > 256 ||
	    (r->type == JOURNAL_REVOKEALL ? r->jtilen != 0 :
	    r->jtilen < 1 || r->jtilen > 256) ||
	    r->reasonlen > 512 || r->commlen > JOURNAL_COMM_MAX ||
	    r->hostlen > JOURNAL_HOST_MAX)
		abort();
	for (i = 0; i < r->isslen; i++)
		sum ^= (uint8_t)r->iss[i];
	for (i = 0; i < r->jtilen; i++)
		sum ^= (uint8_t)r->jti[i];
	for (i = 0; i < r->reasonlen; i++)
		sum ^= (uint8_t)r->reason[i];
	for (i = 0; i < r->commlen; i++)
		sum ^= (uint8_t)r->comm[i];
	for (i = 0; i < r->hostlen; i++)
		sum ^= (uint8_t)r->host[i];
	(void)sum;
}

/* Mix len bytes at p into the FNV-1a hash h (the length first). */
static uint64_t
fuzz_mix(uint64_t h, const void *p, size_t len)
{
	const uint8_t	*b = p;
	size_t		 i;

	for (i = 0; i < sizeof len; i++)
		h = (h ^ (uint8_t)(len >> (8 * i))) * 0x100000001b3ULL;
	for (i = 0; i < len; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

/* Return the hash of every field of r, with flags, a lift's exp as
 * format 3 has it (0). */
static uint64_t
fuzz_hash(const struct journal_rec *r, int flags)
{
	uint64_t	h = 0xcbf29ce484222325ULL;
	int64_t		exp = r->type == JOURNAL_UNREVOKE ||
			    r->type == JOURNAL_UNBAN ? 0 : r->exp;

	h = fuzz_mix(h, &r->type, sizeof r->type);
	h = fuzz_mix(h, &flags, sizeof flags);
	h = fuzz_mix(h, &r->seq, sizeof r->seq);
	h = fuzz_mix(h, &exp, sizeof exp);
	h = fuzz_mix(h, &r->ts, sizeof r->ts);
	h = fuzz_mix(h, r->iss, r->isslen);
	h = fuzz_mix(h, r->jti, r->jtilen);
	h = fuzz_mix(h, r->reason, r->reasonlen);
	h = fuzz_mix(h, &r->uid, sizeof r->uid);
	h = fuzz_mix(h, &r->gid, sizeof r->gid);
	h = fuzz_mix(h, &r->pid, sizeof r->pid);
	h = fuzz_mix(h, r->comm, r->commlen);
	return fuzz_mix(h, r->host, r->hostlen);
}

/* Return a malloc'd copy of len bytes at p (never NULL). */
static char *
fuzz_dup(const char *p, size_t len)
{
	char	*q = malloc(len + 1);

	if (q == NULL)
		abort();
	if (len > 0)
		memcpy(q, p, len);
	return q;
}

/* Check a replayed record and keep track of it. */
static void
fuzz_apply(const struct journal_rec *r, void *arg)
{
	struct fuzz_seen	*seen = arg;
	struct fuzz_key		*k;
	uint64_t		 h = fuzz_hash(r, r->flags);

	seen->n++;
	fuzz_check(r);
	if (r->seq > seen->max_seq)
		seen->max_seq = r->seq;
	seen->hash = fuzz_mix(seen->hash, &h, sizeof h);
	if (rules_apply(seen->rules, r, FUZZ_NOW) == -1)
		abort();
	if (seen->nkeys == seen->size) {
		seen->size = seen->size > 0 ? 2 * seen->size : 64;
		if ((seen->keys = realloc(seen->keys, seen->size *
		    sizeof *seen->keys)) == NULL ||
		    (seen->audit = realloc(seen->audit, seen->size *
		    sizeof *seen->audit)) == NULL)
			abort();
	}
	k = &seen->keys[seen->nkeys++];
	k->type = r->type;
	k->iss = fuzz_dup(r->iss, r->isslen);
	k->isslen = r->isslen;
	k->id = fuzz_dup(r->jti, r->jtilen);
	k->idlen = r->jtilen;
	if (seen->compacted) {
		/* A trail copy, the next one expected, or a state copy of
		 * a rule (never a lift). */
		if (r->flags & JOURNAL_F_AUDIT) {
			if (seen->naudit >= seen->nwant ||
			    seen->want[seen->naudit++] != h)
				abort();
		} else if (!(r->flags & JOURNAL_F_STATE) ||
		    r->type == JOURNAL_UNREVOKE || r->type == JOURNAL_UNBAN)
			abort();
	} else if ((r->flags & JOURNAL_F_AUDIT) ||
	    !(r->flags & (JOURNAL_F_REMOTE | JOURNAL_F_STATE)))
		/* An audit record: its trail copy, should it be kept. */
		seen->audit[seen->naudit++] = fuzz_hash(r,
		    r->flags | JOURNAL_F_AUDIT);
}

/* Prepare seen for a replay (compacted: of a compaction's output). */
static void
fuzz_seen_init(struct fuzz_seen *seen, int compacted)
{
	static const uint8_t	key[BLOCKLIST_KEY_LEN] = { 1 };

	memset(seen, 0, sizeof *seen);
	seen->compacted = compacted;
	seen->hash = 0xcbf29ce484222325ULL;
	if ((seen->rules = rules_new(key, FUZZ_LIFETIME)) == NULL)
		abort();
}

/* Free what seen holds. */
static void
fuzz_seen_free(struct fuzz_seen *seen)
{
	size_t	i;

	for (i = 0; i < seen->nkeys; i++) {
		free(seen->keys[i].iss);
		free(seen->keys[i].id);
	}
	free(seen->keys);
	free(seen->audit);
	rules_free(seen->rules);
}

/* Abort unless the tables of a and b agree on every rule a's records
 * name. */
static void
fuzz_same_rules(const struct fuzz_seen *a, const struct fuzz_seen *b)
{
	struct rules_match	 ma, mb;
	const struct fuzz_key	*k;
	size_t			 i;
	int			 kind, fa, fb;

	for (i = 0; i < a->nkeys; i++) {
		k = &a->keys[i];
		if ((kind = rules_kind_of(k->type)) == -1)
			abort();
		fa = rules_lookup(a->rules, (enum rules_kind)kind, k->iss,
		    k->isslen, k->id, k->idlen, FUZZ_NOW, &ma);
		fb = rules_lookup(b->rules, (enum rules_kind)kind, k->iss,
		    k->isslen, k->id, k->idlen, FUZZ_NOW, &mb);
		if (fa != fb || (fa && (ma.time != mb.time ||
		    ma.reason_len != mb.reason_len ||
		    memcmp(ma.reason, mb.reason, ma.reason_len) != 0)))
			abort();
	}
}

/* Check a listed record. */
static int
fuzz_list(const struct journal_rec *r, void *arg)
{
	size_t	*n = arg;

	(*n)++;
	fuzz_check(r);
	return 0;
}

/* Write len bytes to dir/name, or remove it when p is NULL. */
static void
fuzz_file(const char *name, const uint8_t *p, size_t len)
{
	char	path[128];
	int	fd;

	snprintf(path, sizeof path, "%s/%s", fuzz_dir, name);
	unlink(path);
	if (p == NULL)
		return;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		abort();
	if (len > 0 && write(fd, p, len) != (ssize_t)len)
		abort();
	close(fd);
}

/* List the whole journal with budget; abort on an error or no end. */
static void
fuzz_list_all(struct journal *j, size_t budget)
{
	uint64_t	cursor = 0;
	size_t		n = 0, steps = 0;

	do {
		if (journal_list(j, &cursor, budget, fuzz_list, &n) != 0 ||
		    ++steps > FUZZ_STEPS)
			abort();
	} while (cursor != 0);
}

/* Compact and wait for it; abort if it does not happen. */
static void
fuzz_compact(struct journal *j)
{
	struct journal_stats	st;
	struct pollfd		pfd;
	int			i;

	journal_request_compact(j);
	pfd.fd = journal_notify_fd(j);
	pfd.events = POLLIN;
	for (i = 0; i < 1000; i++) {
		journal_collect(j);
		journal_get_stats(j, &st);
		if (st.compactions > 0)
			return;
		if (poll(&pfd, 1, 10) == -1 && errno != EINTR)
			abort();
	}
	abort();
}

/* Replay one pair of snapshot and log files. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct journal_config	 cfg;
	struct journal		*j;
	struct fuzz_seen	 seen, again, after;
	char			 err[256];
	size_t			 snaplen, keep;
	uint64_t		 durable;

	if (fuzz_dir[0] == '\0') {
		snprintf(fuzz_dir, sizeof fuzz_dir,
		    "/tmp/fuzz_journal.XXXXXX");
		if (mkdtemp(fuzz_dir) == NULL)
			abort();
	}
	if (size == 0)
		return 0;
	/* First byte: 0 means no snapshot, else its share of the rest. */
	snaplen = (size_t)data[0] * (size - 1) / 255;
	fuzz_file("journal.snap", data[0] == 0 ? NULL : data + 1, snaplen);
	fuzz_file("journal.log", data + 1 + snaplen, size - 1 - snaplen);
	memset(&cfg, 0, sizeof cfg);
	cfg.dir = fuzz_dir;
	cfg.compact_min = 1u << 30;
	cfg.clock = fuzz_clock;
	cfg.lifetime = FUZZ_LIFETIME;
	cfg.audit_keep = keep = (size_t)data[0] >> 5;
	fuzz_seen_init(&seen, 0);
	j = journal_open(&cfg, fuzz_apply, &seen, err, sizeof err);
	if (j == NULL) {
		fuzz_seen_free(&seen);
		if (err[0] == '\0' || strlen(err) >= sizeof err)
			abort();
		return 0;
	}
	/* Everything replayed is durable, the next seq above it all. */
	if ((durable = journal_durable(j)) < seen.max_seq)
		abort();
	/* What open accepted (or upgraded) lists cleanly. */
	fuzz_list_all(j, (size_t)data[0] * 8);
	journal_close(j);
	/* And replays the same again, upgraded or not. */
	fuzz_seen_init(&again, 0);
	if ((j = journal_open(&cfg, fuzz_apply, &again, err,
	    sizeof err)) == NULL || again.n != seen.n ||
	    again.hash != seen.hash || journal_durable(j) != durable)
		abort();
	fuzz_seen_free(&again);
	if (data[0] & 1) {
		/* And compacts into files that open again: the newest keep
		 * audit records as trail copies, the same tables. */
		fuzz_compact(j);
		fuzz_list_all(j, 0);
		journal_close(j);
		fuzz_seen_init(&after, 1);
		after.want = seen.audit + (seen.naudit > keep ?
		    seen.naudit - keep : 0);
		after.nwant = seen.naudit > keep ? keep : seen.naudit;
		if ((j = journal_open(&cfg, fuzz_apply, &after, err,
		    sizeof err)) == NULL || after.naudit != after.nwant ||
		    journal_durable(j) != durable)
			abort();
		fuzz_same_rules(&seen, &after);
		fuzz_same_rules(&after, &seen);
		fuzz_seen_free(&after);
	}
	journal_close(j);
	fuzz_seen_free(&seen);
	return 0;
}
