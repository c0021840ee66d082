/*
 * The local journal.
 *
 * Two files in the state directory, each an 8-byte header ("RVKJ" and a
 * u32 LE format version, now 3) followed by records:
 *
 *	u32 crc32c	over every byte of the record after this field
 *	u32 length	of the payload
 *	payload:	u8 type, u8 flags, u16 isslen, u16 jtilen,
 *			u16 reasonlen, u16 commlen, u16 hostlen,
 *			u32 uid, u32 gid, u32 pid,
 *			i64 exp, i64 ts, u64 seq,
 *			iss, jti, reason, comm, host
 *
 * all little-endian, every field at its natural alignment within the
 * 48 fixed bytes. type is REVOKE (1), UNREVOKE (2), MARK (3), REVOKESUB
 * (4), BAN (5), UNBAN (6), REVOKESID (7) or REVOKEALL (8); the legal
 * flags are JOURNAL_F_REMOTE, JOURNAL_F_AUDIT (a record for the audit
 * trail only: replay hands it over, but nothing applies it) and
 * JOURNAL_F_STATE (a compaction's copy of a rule in force: applied, but
 * no part of the trail), AUDIT and STATE never together; any other bit,
 * or that pair, is damage. jti is the record's
 * id (jti, sub or sid), 1..256 bytes, except for REVOKEALL where it is
 * empty; UNREVOKE and UNBAN have exp 0; iss is at most 256 bytes, reason
 * 512, comm JOURNAL_COMM_MAX, host JOURNAL_HOST_MAX. uid, gid, pid, comm
 * and host are the audit trail (who made the write, on which host), any
 * value. seq is the record's sequence number: unique and increasing in
 * the log, never above JOURNAL_SEQ_MAX; in a snapshot a write's trail
 * copy and its state copy share it (see compaction below), and a
 * replacement's records carry what Redis gave them. A MARK has no strings,
 * no flags, every
 * number 0 but seq, which is the highest sequence number issued when its
 * snapshot was made; it is the first record of every snapshot and appears
 * nowhere else. It serves two purposes: sequence numbers continue across
 * restarts even when the log is empty, and it says which log records the
 * snapshot already accounts for: at open (and in compaction) log records
 * whose seq is at or below the MARK's are skipped as superseded.
 *
 * Version 2 (deployed before the audit trail and the new rule kinds) has
 * the 32-byte fixed part u8 type, u8 flags, u16 isslen, u16 jtilen, u16
 * reasonlen, i64 exp, i64 ts, u64 seq, then iss, jti, reason; only REVOKE,
 * UNREVOKE and MARK, only the flag JOURNAL_F_REMOTE, and an UNREVOKE's exp
 * may be anything. Its records are read as having no audit trail (uid
 * and gid JOURNAL_NOBODY, pid 0, comm and host empty), and at the end of
 * journal_open, before anything is appended, a journal with a version 2
 * file is upgraded record for record, merging nothing: open does not yet
 * know which writes Redis has not confirmed, and a merge (a compaction)
 * could drop a lift or a superseded write an outbox still has to send.
 * The upgrade writes a version 3 snapshot holding a MARK with the highest
 * seq on disk, then exactly the records replay applied, in replay order
 * (the snapshot's, then the log's above the old MARK), each re-encoded
 * with its seq, flags, strings and times, an UNREVOKE's exp made 0; it is
 * renamed into place, then a fresh version 3 log (journal.log.tmp,
 * synced) is renamed over the old log and the directory synced. Replaying
 * the upgraded pair hands over the same records as replaying the old one.
 * A crash before the first rename leaves the old files; between the
 * renames, a version 3 snapshot beside a version 2 log whose records it
 * all supersedes (skipped, and the upgrade, now a plain copy, done again);
 * after the second, the upgraded pair. A version 1 file (no flags, no
 * seq) is refused.
 *
 * journal.snap holds the live entries as of the last compaction, or the
 * content of the last replacement (journal_replace), and is only ever
 * written whole and renamed into place, so any damage in it is an error.
 * journal.log holds every write since. A crash while appending can only
 * leave a prefix of the last batch, so a bad record that reaches the end of
 * the log is a torn tail (dropped, the log truncated); a bad record
 * followed by more bytes is corruption (refused).
 *
 * Compaction and replacement both write journal.snap.tmp, fsync it, rename
 * it over journal.snap, fsync the directory, then truncate the log to its
 * header. A crash before the rename leaves the old pair intact. A crash
 * between the rename and the truncation leaves the new snapshot beside the
 * old log, whose records all carry a seq at or below the new MARK: they
 * are skipped, so a replacement cannot resurrect what it superseded (for a
 * compaction, replaying them again would be harmless, skipping them is
 * simply exact), and the next open finishes the job by truncating the log
 * once the directory is synced. Records appended after either operation
 * have larger seqs and reach the log after the truncation (or, when the
 * directory sync failed and the log was kept whole, after the superseded
 * records, which compaction skips as open does). A replacement that fails
 * before its rename is logged and forgotten: the journal keeps its old
 * content, which is safe because the replacement only ever holds what
 * Redis had; the records appended before it were synced first anyway.
 * Compaction writes, in the order of the files, two kinds of copies (see
 * compact_emit). The audit trail: the newest cfg->audit_keep audit
 * records (own writes, flagged neither REMOTE nor STATE, and trail-only
 * records, flagged AUDIT), each exactly as it was, seq included, with
 * JOURNAL_F_AUDIT added, so that it is never applied again. The state:
 * each live rule once, as its last add-record with the table's merged
 * time and reason, flagged JOURNAL_F_STATE (REMOTE kept), so that it is
 * applied but never taken for a write someone made; lifted and expired
 * rules are dropped, and not-before rules (REVOKESUB, REVOKEALL) once
 * their point is more than the token lifetime behind the horizon. A write
 * that is both among the newest audit records and a live rule's last
 * add-record yields both copies, the trail's first. Neither kind is
 * something the daemon's Redis outbox needs: compaction never runs while
 * the files may hold a record Redis has not confirmed (unconfirmed).
 *
 * The loop thread appends into "queued"; journal_kick swaps it with the
 * writer thread's (empty) batch buffer when the writer is idle, so every
 * write made while a batch is being synced shares the next fsync (group
 * commit). The writer publishes the batch's last sequence number as durable
 * and writes to an eventfd the loop watches. Compaction runs on the writer
 * thread between batches; appends made meanwhile wait in "queued". A
 * replacement takes "queued" with it (those records are written and synced
 * first, in the same hand-over) and waits in "replace" until the writer is
 * idle; appends made after it wait in "queued" behind it.
 *
 * Listing (journal_list) reads the files on the loop thread without any
 * lock, by path and pread. The writer bumps a generation number before it
 * renames a snapshot into place and again once the log is truncated (odd
 * in between, seqlock style); within one generation the snapshot never
 * changes and the log only grows, so bytes read while the generation
 * stayed the same and even are a consistent prefix of that generation's
 * files. A listing cursor holds the generation (its low 23 bits, from a
 * random start per open so that a cursor of an earlier process is not
 * taken for a current one), which file and the byte offset of the next
 * record; a cursor of another generation restarts at the current
 * snapshot's beginning. A cursor of the current generation whose offset
 * holds no valid record (forged, or from a client's typo) is refused
 * (-2), not taken for damage: a cursor landing inside a record fails the
 * checksum. Only a record that follows one the same step read whole, or
 * the first record of a file, can be damage. A record cut short by the
 * end of the log at the cursor is one being written: the listing ends
 * there (it was added during the listing, which may or may not return
 * it), which also ends a listing from any forged cursor.
 */
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blocklist.h"
#include "crc32c.h"
#include "iset.h"
#include "journal.h"
#include "log.h"
#include "rules.h"

#define JOURNAL_MAGIC		"RVKJ"	/* first bytes of both files */
#define JOURNAL_VERSION		3	/* format version; bump on change */
#define JOURNAL_VERSION_OLD	2	/* the previous one, read and
					 * upgraded */
#define JOURNAL_VERSIONS_S	"versions 2 and 3" /* what is read, for
					 * messages */
#define JOURNAL_HDR_LEN		8	/* magic + version */
#define JOURNAL_REC_HDR		8	/* crc + payload length */
#define JOURNAL_FIXED		48	/* payload bytes before the strings */
#define JOURNAL_FIXED_OLD	32	/* the same in version 2 */
#define JOURNAL_MARK		3	/* record type: snapshot mark (internal) */
#define JOURNAL_MARK_LEN	(JOURNAL_REC_HDR + JOURNAL_FIXED) /* its size */
#define JOURNAL_FLAGS		(JOURNAL_F_REMOTE | JOURNAL_F_AUDIT | \
    JOURNAL_F_STATE)			/* every legal flag bit */
#define JOURNAL_FLAGS_OLD	JOURNAL_F_REMOTE /* the same in version 2 */
#define JOURNAL_SEQ_MAX		((uint64_t)INT64_MAX) /* highest legal seq */
#define JOURNAL_ISS_MAX		256	/* most bytes of iss */
#define JOURNAL_JTI_MAX		256	/* most bytes of jti */
#define JOURNAL_REASON_MAX	512	/* most bytes of reason */
#define JOURNAL_PAYLOAD_MAX	(JOURNAL_FIXED + JOURNAL_ISS_MAX +	\
    JOURNAL_JTI_MAX + JOURNAL_REASON_MAX + JOURNAL_COMM_MAX +		\
    JOURNAL_HOST_MAX)			/* longest legal payload */
#define JOURNAL_PAYLOAD_MAX_OLD	(JOURNAL_FIXED_OLD + JOURNAL_ISS_MAX +	\
    JOURNAL_JTI_MAX + JOURNAL_REASON_MAX) /* the same in version 2 */
#define JOURNAL_REC_MAX		(JOURNAL_REC_HDR + JOURNAL_PAYLOAD_MAX)
#define JOURNAL_COMPACT_MIN	(64u << 20) /* compact_min when cfg's is 0 */
#define JOURNAL_BUF_INIT	65536	/* first size of the append buffers */
#define JOURNAL_BUF_KEEP	(4 * JOURNAL_BUF_INIT) /* an idle append
				   buffer above this is freed by trim */
#define JOURNAL_WBUF		(1u << 20) /* snapshot write buffer */
#define JOURNAL_LIST_BUF	(4u << 20) /* most bytes a listing step reads */
#define JOURNAL_LOG		"journal.log"	/* the append-only log */
#define JOURNAL_LOG_TMP		"journal.log.tmp" /* fresh log of an upgrade */
#define JOURNAL_SNAP		"journal.snap"	/* the compacted snapshot */
#define JOURNAL_SNAP_TMP	"journal.snap.tmp" /* snapshot being built */

/* A listing cursor: byte offset, then which file, then the generation. */
#define JLIST_OFF_BITS		40	/* bits of the offset */
#define JLIST_OFF_MAX		((UINT64_C(1) << JLIST_OFF_BITS) - 1)
#define JLIST_LOG		(UINT64_C(1) << JLIST_OFF_BITS) /* in the log */
#define JLIST_GEN_SHIFT		(JLIST_OFF_BITS + 1) /* generation / 2 */

/* What scanning a record found. */
enum jscan {
	JSCAN_OK,		/* a valid record */
	JSCAN_SHORT,		/* cut short by the end of the data */
	JSCAN_BADLEN,		/* impossible payload length */
	JSCAN_BAD,		/* complete but invalid (CRC, fields) */
};

/* A growable byte buffer of encoded records. */
struct jbuf {
	uint8_t		*data;		/* encoded records */
	size_t		 len;		/* bytes used */
	size_t		 size;		/* bytes allocated */
};

/* A replacement for the whole journal, and then its place in the queue. */
struct journal_snap {
	struct jbuf	 recs;		/* its records, encoded */
	uint64_t	 max_seq;	/* highest seq among them (0: none) */
	/* Set by journal_replace. */
	struct jbuf	 pre;		/* records appended before it */
	uint64_t	 seq;		/* its own seq, the snapshot's MARK */
};

/* What scanning a file found, besides the records it applied. */
struct jscan_res {
	uint64_t	 count;		/* records applied */
	uint64_t	 superseded;	/* log records skipped (seq < floor) */
	uint64_t	 max_seq;	/* highest seq of any record, MARK too */
	uint64_t	 mark;		/* a snapshot's MARK seq */
	size_t		 end;		/* offset where the valid records end */
};

/* A file mapped for reading. */
struct jmap {
	const uint8_t	*data;		/* contents, NULL when empty */
	size_t		 len;		/* length in bytes */
};

struct journal {
	char		*dir;		/* state directory */
	char		*log_path;	/* DIR/journal.log */
	char		*snap_path;	/* DIR/journal.snap */
	char		*tmp_path;	/* DIR/journal.snap.tmp */
	char		*logtmp_path;	/* DIR/journal.log.tmp */
	int64_t		 exp_grace;	/* live while now - grace < exp */
	int64_t		 lifetime;	/* not-before rules live this long */
	size_t		 audit_keep;	/* trail copies a compaction keeps */
	size_t		 compact_min;	/* no auto compaction below this */
	journal_clock_cb clock;		/* current time */
	int		 dirfd;		/* the directory, for fsync */
	int		 logfd;		/* journal.log, O_APPEND */
	int		 efd;		/* eventfd: a batch became durable */

	/* Owned by the loop thread. */
	struct jbuf	 queued;	/* records not yet handed over */
	uint64_t	 queued_last;	/* seq of the last record in queued */
	struct journal_snap *replace;	/* a replacement not yet handed
					   over; queued follows it */
	uint64_t	 next_seq;	/* seq of the next append */
	uint64_t	 records;	/* records appended since open */
	uint64_t	 replayed;	/* records replayed at open */
	uint64_t	 torn_bytes;	/* torn tail dropped at open */
	uint8_t		*list_buf;	/* what a listing step read */
	size_t		 list_size;	/* bytes allocated for it */

	/* Shared without a lock. */
	uint64_t	 gen;		/* generation of the files (atomic):
					   bumped by the writer before and
					   after it swaps them, odd between */

	/* Shared, under mu. */
	pthread_mutex_t	 mu;		/* guards the fields below */
	pthread_cond_t	 cv;		/* wakes the writer */
	pthread_t	 thread;	/* the writer */
	int		 started;	/* the writer was started */
	struct jbuf	 batch;		/* records handed to the writer */
	uint64_t	 batch_last;	/* seq durable once batch is done */
	struct journal_snap *batch_snap; /* replacement to write after the
					   batch's records, or NULL */
	int		 batch_ready;	/* batch is waiting to be written */
	int		 busy;		/* writer has a batch or compacts */
	int		 compact_req;	/* compaction requested */
	int		 stop;		/* writer must exit */
	uint64_t	 log_bytes;	/* size of journal.log */
	uint64_t	 snap_bytes;	/* size of journal.snap */
	uint64_t	 syncs;		/* batches written and synced */
	uint64_t	 compactions;	/* compactions completed */
	uint64_t	 compact_skipped; /* requests dropped: unconfirmed */
	uint64_t	 replaces;	/* replacements renamed into place */
	uint64_t	 last_sync_usec; /* duration of the last batch */
	uint64_t	 compact_floor;	/* no auto compaction below (after a
					   failed one) */
	uint64_t	 durable;	/* highest durable seq (atomic) */
	uint64_t	 unconfirmed;	/* lowest seq Redis has not confirmed
					   (atomic; UINT64_MAX: none) */
};

/* Store a u16 little-endian. */
static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/* Store a u32 little-endian. */
static void
put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

/* Store a u64 little-endian. */
static void
put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

/* Load a u16 little-endian. */
static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* Load a u32 little-endian. */
static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)get16(p) | (uint32_t)get16(p + 2) << 16;
}

/* Load a u64 little-endian. */
static uint64_t
get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* Return 1 if type is a record type of a journal_rec (MARK excluded). */
static int
jtype_known(int type)
{
	switch (type) {
	case JOURNAL_REVOKE:
	case JOURNAL_UNREVOKE:
	case JOURNAL_REVOKESUB:
	case JOURNAL_BAN:
	case JOURNAL_UNBAN:
	case JOURNAL_REVOKESID:
	case JOURNAL_REVOKEALL:
		return 1;
	default:
		return 0;
	}
}

/* Return 1 if type lifts a rule (its record has exp 0). */
static int
jtype_lifts(int type)
{
	return type == JOURNAL_UNREVOKE || type == JOURNAL_UNBAN;
}

/* Return 1 if flags are legal in a record of a file of version: known
 * bits, and never AUDIT (not applied) with STATE (applied). */
static int
jflags_valid(int flags, int version)
{
	int	legal = version == JOURNAL_VERSION_OLD ? JOURNAL_FLAGS_OLD :
		    JOURNAL_FLAGS;

	return (flags & ~legal) == 0 &&
	    (flags & (JOURNAL_F_AUDIT | JOURNAL_F_STATE)) !=
	    (JOURNAL_F_AUDIT | JOURNAL_F_STATE);
}

/* Return 1 if r belongs to the audit trail: an own write (neither
 * learned from Redis nor a compaction's state copy), or a trail-only
 * record. Replay hands the daemon these for its audit ring. */
static int
jrec_audited(const struct journal_rec *r)
{
	return (r->flags & JOURNAL_F_AUDIT) != 0 ||
	    (r->flags & (JOURNAL_F_REMOTE | JOURNAL_F_STATE)) == 0;
}

/* Return 1 if a record's type, flags, lengths and exp are legal. */
static int
jrec_valid(const struct journal_rec *r)
{
	if (!jtype_known(r->type))
		return 0;
	if (!jflags_valid(r->flags, JOURNAL_VERSION))
		return 0;
	if (r->isslen > JOURNAL_ISS_MAX || r->reasonlen > JOURNAL_REASON_MAX ||
	    r->commlen > JOURNAL_COMM_MAX || r->hostlen > JOURNAL_HOST_MAX)
		return 0;
	if (r->type == JOURNAL_REVOKEALL ? r->jtilen != 0 :
	    r->jtilen < 1 || r->jtilen > JOURNAL_JTI_MAX)
		return 0;
	if (jtype_lifts(r->type) && r->exp != 0)
		return 0;
	return 1;
}

/* Return the encoded size of a valid record. */
static size_t
jrec_size(const struct journal_rec *r)
{
	return JOURNAL_REC_HDR + JOURNAL_FIXED + r->isslen + r->jtilen +
	    r->reasonlen + r->commlen + r->hostlen;
}

/* Copy len bytes of s to p (s may be NULL when len is 0); return the end. */
static uint8_t *
jput_str(uint8_t *p, const char *s, size_t len)
{
	if (len > 0)
		memcpy(p, s, len);
	return p + len;
}

/* Encode a valid record (or a MARK) with seq into p (jrec_size bytes). */
static void
jrec_encode(uint8_t *p, const struct journal_rec *r, uint64_t seq)
{
	size_t	 plen = jrec_size(r) - JOURNAL_REC_HDR;
	uint8_t	*q = p + JOURNAL_REC_HDR, *s = q + JOURNAL_FIXED;

	put32(p + 4, (uint32_t)plen);
	q[0] = (uint8_t)r->type;
	q[1] = (uint8_t)r->flags;
	put16(q + 2, (uint16_t)r->isslen);
	put16(q + 4, (uint16_t)r->jtilen);
	put16(q + 6, (uint16_t)r->reasonlen);
	put16(q + 8, (uint16_t)r->commlen);
	put16(q + 10, (uint16_t)r->hostlen);
	put32(q + 12, r->uid);
	put32(q + 16, r->gid);
	put32(q + 20, r->pid);
	put64(q + 24, (uint64_t)r->exp);
	put64(q + 32, (uint64_t)r->ts);
	put64(q + 40, seq);
	s = jput_str(s, r->iss, r->isslen);
	s = jput_str(s, r->jti, r->jtilen);
	s = jput_str(s, r->reason, r->reasonlen);
	s = jput_str(s, r->comm, r->commlen);
	(void)jput_str(s, r->host, r->hostlen);
	put32(p, crc32c(0, p + 4, JOURNAL_REC_HDR - 4 + plen));
}

/* Encode a MARK record carrying seq into p (JOURNAL_MARK_LEN bytes). */
static void
jmark_encode(uint8_t *p, uint64_t seq)
{
	struct journal_rec	mark;

	memset(&mark, 0, sizeof mark);
	mark.type = JOURNAL_MARK;
	jrec_encode(p, &mark, seq);
}

/* Return the bytes of a record's fixed payload in a file of version. */
static size_t
jfixed_len(int version)
{
	return version == JOURNAL_VERSION_OLD ? JOURNAL_FIXED_OLD :
	    JOURNAL_FIXED;
}

/* Return the longest legal payload in a file of version. */
static size_t
jpayload_max(int version)
{
	return version == JOURNAL_VERSION_OLD ? JOURNAL_PAYLOAD_MAX_OLD :
	    JOURNAL_PAYLOAD_MAX;
}

/* Decode the fixed payload at q of a file of version into r (strings not
 * set): a version 2 record has no audit trail. */
static void
jfixed_get(const uint8_t *q, int version, struct journal_rec *r)
{
	r->type = q[0];
	r->flags = q[1];
	r->isslen = get16(q + 2);
	r->jtilen = get16(q + 4);
	r->reasonlen = get16(q + 6);
	if (version == JOURNAL_VERSION_OLD) {
		r->commlen = r->hostlen = 0;
		r->uid = r->gid = JOURNAL_NOBODY;
		r->pid = 0;
		r->exp = (int64_t)get64(q + 8);
		r->ts = (int64_t)get64(q + 16);
		r->seq = get64(q + 24);
		return;
	}
	r->commlen = get16(q + 8);
	r->hostlen = get16(q + 10);
	r->uid = get32(q + 12);
	r->gid = get32(q + 16);
	r->pid = get32(q + 20);
	r->exp = (int64_t)get64(q + 24);
	r->ts = (int64_t)get64(q + 32);
	r->seq = get64(q + 40);
}

/* Check the fixed payload fields at q of a file of version against plen;
 * NULL or what is wrong. */
static const char *
jrec_check_fixed(const uint8_t *q, size_t plen, int version)
{
	struct journal_rec	r;
	size_t			fixed = jfixed_len(version);
	int			old = version == JOURNAL_VERSION_OLD;

	jfixed_get(q, version, &r);
	if (r.type != JOURNAL_MARK && (old ? r.type != JOURNAL_REVOKE &&
	    r.type != JOURNAL_UNREVOKE : !jtype_known(r.type)))
		return "bad record type";
	if (!jflags_valid(r.flags, version))
		return "bad flags";
	if (r.seq > JOURNAL_SEQ_MAX)
		return "sequence number out of range";
	if (r.type == JOURNAL_MARK) {
		if (r.flags != 0 || r.isslen != 0 || r.jtilen != 0 ||
		    r.reasonlen != 0 || r.commlen != 0 || r.hostlen != 0 ||
		    r.exp != 0 || r.ts != 0 ||
		    (!old && (r.uid != 0 || r.gid != 0 || r.pid != 0)))
			return "bad mark record";
		if (plen != fixed)
			return "record length does not match field lengths";
		return NULL;
	}
	if (r.isslen > JOURNAL_ISS_MAX)
		return "iss too long";
	if (r.type == JOURNAL_REVOKEALL) {
		if (r.jtilen != 0)
			return "revokeall record with an id";
	} else if (r.jtilen < 1 || r.jtilen > JOURNAL_JTI_MAX)
		return "jti length out of range";
	if (r.reasonlen > JOURNAL_REASON_MAX)
		return "reason too long";
	if (r.commlen > JOURNAL_COMM_MAX)
		return "comm too long";
	if (r.hostlen > JOURNAL_HOST_MAX)
		return "host too long";
	/* Version 2 never said; its lifts are replayed whatever exp. */
	if (!old && jtype_lifts(r.type) && r.exp != 0)
		return "exp of a lifting record not 0";
	if (plen != fixed + r.isslen + r.jtilen + r.reasonlen + r.commlen +
	    r.hostlen)
		return "record length does not match field lengths";
	return NULL;
}

/* Return 1 if all n bytes at p are zero. */
static int
all_zero(const uint8_t *p, size_t n)
{
	while (n-- > 0)
		if (*p++ != 0)
			return 0;
	return 1;
}

/*
 * Decode the record at p (avail bytes to the end of the data) of a file of
 * version. Fills rec (pointing into p) and *extent on JSCAN_OK; *extent is
 * also set for JSCAN_BAD. *what says what is wrong otherwise.
 */
static enum jscan
jrec_decode(const uint8_t *p, size_t avail, int version,
    struct journal_rec *rec, size_t *extent, const char **what)
{
	const uint8_t	*q = p + JOURNAL_REC_HDR;
	size_t		 plen, fixed = jfixed_len(version);
	const char	*bad;

	if (avail < JOURNAL_REC_HDR) {
		*what = "record header cut short";
		return JSCAN_SHORT;
	}
	plen = get32(p + 4);
	if (plen < fixed || plen > jpayload_max(version)) {
		*what = "impossible record length";
		return JSCAN_BADLEN;
	}
	if (avail - JOURNAL_REC_HDR < plen) {
		*what = "record cut short";
		/* A torn write leaves a prefix of a valid record (or zeros):
		 * fixed fields that contradict the length are damage. */
		if (avail - JOURNAL_REC_HDR >= fixed &&
		    !all_zero(q, fixed) &&
		    (bad = jrec_check_fixed(q, plen, version)) != NULL) {
			*what = bad;
			*extent = 0;	/* never counts as reaching EOF */
			return JSCAN_BAD;
		}
		return JSCAN_SHORT;
	}
	*extent = JOURNAL_REC_HDR + plen;
	if (crc32c(0, p + 4, JOURNAL_REC_HDR - 4 + plen) != get32(p)) {
		*what = "checksum mismatch";
		return JSCAN_BAD;
	}
	if ((bad = jrec_check_fixed(q, plen, version)) != NULL) {
		*what = bad;
		return JSCAN_BAD;
	}
	jfixed_get(q, version, rec);
	rec->iss = (const char *)q + fixed;
	rec->jti = rec->iss + rec->isslen;
	rec->reason = rec->jti + rec->jtilen;
	rec->comm = rec->reason + rec->reasonlen;
	rec->host = rec->comm + rec->commlen;
	return JSCAN_OK;
}

/* Return what is wrong with a valid record at off of a snapshot (snap) or
 * a log, given where MARKs may be; NULL if nothing. */
static const char *
jrec_check_place(const struct journal_rec *r, size_t off, int snap)
{
	if (!snap)
		return r->type == JOURNAL_MARK ? "mark record in the log" :
		    NULL;
	if (off == JOURNAL_HDR_LEN)
		return r->type != JOURNAL_MARK ?
		    "snapshot does not begin with a mark record" : NULL;
	return r->type == JOURNAL_MARK ? "mark record out of place" : NULL;
}

/*
 * Scan the records of a whole file image (header included, already
 * checked, of either version), calling apply for each record but MARKs
 * whose seq is at least floor; a snapshot (snap) must begin with a MARK.
 * Returns 0 when all are valid; 1 for a torn tail starting at res->end
 * (only when tail_ok); -1 for damage at res->end, with *what.
 */
static int
jscan_file(const uint8_t *buf, size_t len, int snap, int tail_ok,
    uint64_t floor, journal_apply_cb apply, void *arg,
    struct jscan_res *res, const char **what)
{
	struct journal_rec	 rec;
	size_t			 off = JOURNAL_HDR_LEN, ext = 0;
	enum jscan		 r;
	const char		*bad;
	int			 version = (int)get32(buf + 4);

	memset(res, 0, sizeof *res);
	while (off < len) {
		r = jrec_decode(buf + off, len - off, version, &rec, &ext,
		    what);
		if (r == JSCAN_OK &&
		    (bad = jrec_check_place(&rec, off, snap)) != NULL) {
			*what = bad;
			r = JSCAN_BAD;
		}
		if (r == JSCAN_OK) {
			if (rec.seq > res->max_seq)
				res->max_seq = rec.seq;
			if (rec.type == JOURNAL_MARK)
				res->mark = rec.seq;
			else if (rec.seq < floor)
				res->superseded++;
			else {
				if (apply != NULL)
					apply(&rec, arg);
				res->count++;
			}
			off += ext;
			continue;
		}
		res->end = off;
		if (!tail_ok)
			return -1;
		switch (r) {
		case JSCAN_SHORT:
			return 1;
		case JSCAN_BADLEN:
			/* No extent to go by: torn only if it is the zero
			 * fill a crash can leave past the written data. */
			return all_zero(buf + off, len - off) ? 1 : -1;
		default:
			/* Torn if nothing follows, or only zeros: after a
			 * power cut a file system may leave the unsynced end
			 * of the file zero-filled, over several records. */
			return off + ext >= len ||
			    all_zero(buf + off + ext, len - off - ext) ? 1 : -1;
		}
	}
	res->end = len;
	if (snap && len <= JOURNAL_HDR_LEN) {
		/* Every snapshot is written with one. */
		*what = "snapshot has no mark record";
		res->end = JOURNAL_HDR_LEN;
		return -1;
	}
	return 0;
}

/* Format an error into err. */
static void LOG_FMT(3, 4)
jerr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Check a file header; NULL or what is wrong. Sets *version (may be
 * NULL) to the file's format version when it is one this journal reads. */
static const char *
jhdr_check(const uint8_t *p, size_t len, int *version)
{
	uint32_t	v;

	if (len < JOURNAL_HDR_LEN)
		return "header cut short";
	if (memcmp(p, JOURNAL_MAGIC, 4) != 0)
		return "bad magic (not a revokd journal)";
	if ((v = get32(p + 4)) == 1)
		return "unsupported format version 1 (written by an older "
		    "revokd; this one reads " JOURNAL_VERSIONS_S ")";
	if (v != JOURNAL_VERSION && v != JOURNAL_VERSION_OLD)
		return "unsupported format version (this revokd reads "
		    JOURNAL_VERSIONS_S ")";
	if (version != NULL)
		*version = (int)v;
	return NULL;
}

/* Fill a file header. */
static void
jhdr_make(uint8_t *p)
{
	memcpy(p, JOURNAL_MAGIC, 4);
	put32(p + 4, JOURNAL_VERSION);
}

/* Map fd read-only into m; 0 or -1 with errno. */
static int
jmap_fd(int fd, struct jmap *m)
{
	struct stat	 st;
	void		*p;

	m->data = NULL;
	m->len = 0;
	if (fstat(fd, &st) == -1)
		return -1;
	if (st.st_size == 0)
		return 0;
	if ((uint64_t)st.st_size > SIZE_MAX) {
		errno = EFBIG;
		return -1;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return -1;
	(void)madvise(p, (size_t)st.st_size, MADV_SEQUENTIAL);
	m->data = p;
	m->len = (size_t)st.st_size;
	return 0;
}

/* Unmap m. */
static void
jmap_free(struct jmap *m)
{
	if (m->data != NULL)
		munmap((void *)(uintptr_t)m->data, m->len);
	m->data = NULL;
	m->len = 0;
}

/* Write all of buf to fd, retrying short writes and EINTR; 0 or -1. */
static int
write_all(int fd, const void *buf, size_t len)
{
	const uint8_t	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Return a malloc'd "dir/name", or NULL. */
static char *
jpath(const char *dir, const char *name)
{
	char	*p;

	if (asprintf(&p, "%s/%s", dir, name) == -1)
		return NULL;
	return p;
}

/* Return the time in microseconds of a monotonic clock. */
static uint64_t
mono_usec(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Return the journal's idea of now. */
static int64_t
jnow(const struct journal *j)
{
	return j->clock != NULL ? j->clock() : (int64_t)time(NULL);
}

/* Make room for n more bytes in b; 0 or -1 on OOM. */
static int
jbuf_reserve(struct jbuf *b, size_t n)
{
	size_t	 size;
	uint8_t	*p;

	if (b->size - b->len >= n)
		return 0;
	size = b->size > 0 ? b->size : JOURNAL_BUF_INIT;
	while (size - b->len < n) {
		if (size > SIZE_MAX / 2)
			return -1;
		size *= 2;
	}
	if ((p = realloc(b->data, size)) == NULL)
		return -1;
	b->data = p;
	b->size = size;
	return 0;
}

/*
 * Replay the snapshot, if any; 0 or -1 with err. *floor becomes the lowest
 * seq of a log record the snapshot does not cover (0 without a snapshot),
 * *max_seq the highest seq in it, *version its format version (0 without
 * a snapshot).
 */
static int
journal_load_snap(struct journal *j, journal_apply_cb apply, void *arg,
    uint64_t *floor, uint64_t *max_seq, int *version, char *err,
    size_t errlen)
{
	struct jmap		 m;
	struct jscan_res	 res;
	const char		*what;
	int			 fd, saved;

	*floor = *max_seq = 0;
	*version = 0;

	if ((fd = open(j->snap_path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return 0;
		jerr(err, errlen, "%s: %s", j->snap_path, strerror(errno));
		return -1;
	}
	if (jmap_fd(fd, &m) == -1) {
		saved = errno;
		close(fd);
		jerr(err, errlen, "%s: %s", j->snap_path, strerror(saved));
		return -1;
	}
	close(fd);
	if ((what = jhdr_check(m.data, m.len, version)) != NULL) {
		jerr(err, errlen, "%s: %s", j->snap_path, what);
		jmap_free(&m);
		return -1;
	}
	if (jscan_file(m.data, m.len, 1, 0, 0, apply, arg, &res,
	    &what) != 0) {
		jerr(err, errlen, "%s: offset %zu: %s", j->snap_path, res.end,
		    what);
		jmap_free(&m);
		return -1;
	}
	j->replayed += res.count;
	j->snap_bytes = m.len;
	*floor = res.mark + 1;
	*max_seq = res.max_seq;
	jmap_free(&m);
	return 0;
}

/* Write a fresh header to the empty log and sync it; 0 or -1. */
static int
journal_init_log(struct journal *j)
{
	uint8_t	hdr[JOURNAL_HDR_LEN];

	jhdr_make(hdr);
	if (write_all(j->logfd, hdr, sizeof hdr) == -1 ||
	    fdatasync(j->logfd) == -1 || fsync(j->dirfd) == -1)
		return -1;
	j->log_bytes = sizeof hdr;
	return 0;
}

/* Return 1 if the len bytes at p (fewer than a header) are a prefix of
 * the header of a version this journal reads: a crash while creating the
 * file. */
static int
jhdr_torn(const uint8_t *p, size_t len)
{
	uint8_t	hdr[JOURNAL_HDR_LEN];

	if (len >= JOURNAL_HDR_LEN)
		return 0;
	if (len == 0)
		return 1;
	jhdr_make(hdr);
	if (memcmp(p, hdr, len) == 0)
		return 1;
	put32(hdr + 4, JOURNAL_VERSION_OLD);
	return memcmp(p, hdr, len) == 0;
}

/*
 * Open and replay the log from seq floor on, dropping a torn tail, and a
 * log the snapshot wholly supersedes; 0 or -1 with err. Raises *max_seq to
 * the highest seq in the log; *version becomes its format version.
 */
static int
journal_load_log(struct journal *j, journal_apply_cb apply, void *arg,
    uint64_t floor, uint64_t *max_seq, int *version, char *err,
    size_t errlen)
{
	struct jmap		 m;
	struct jscan_res	 res;
	const char		*what;
	size_t			 keep, len;
	int			 r;

	*version = JOURNAL_VERSION;
	j->logfd = open(j->log_path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC,
	    0600);
	if (j->logfd == -1 || jmap_fd(j->logfd, &m) == -1)
		goto syserr;
	if (jhdr_torn(m.data, m.len)) {
		/* Empty, or a crash while creating it. */
		if (m.len > 0)
			log_warnx("%s: torn header, rewritten", j->log_path);
		j->torn_bytes = m.len;
		jmap_free(&m);
		if (ftruncate(j->logfd, 0) == -1 || journal_init_log(j) == -1)
			goto syserr;
		return 0;
	}
	if ((what = jhdr_check(m.data, m.len, version)) != NULL) {
		jerr(err, errlen, "%s: %s", j->log_path, what);
		jmap_free(&m);
		return -1;
	}
	r = jscan_file(m.data, m.len, 0, 1, floor, apply, arg, &res, &what);
	len = m.len;
	jmap_free(&m);
	j->replayed += res.count;
	if (r == -1) {
		jerr(err, errlen, "%s: offset %zu: %s", j->log_path, res.end,
		    what);
		return -1;
	}
	if (res.max_seq > *max_seq)
		*max_seq = res.max_seq;
	keep = res.end;
	if (r == 1) {
		j->torn_bytes = len - res.end;
		log_warnx("%s: offset %zu: torn tail of %zu bytes dropped "
		    "(%s)",
		    j->log_path, res.end, len - res.end, what);
	}
	if (res.count == 0 && res.superseded > 0) {
		/* A crash between the rename of a snapshot and the
		 * truncation of the log: finish the job. The rename may
		 * not have reached the disk yet (a crash of the process
		 * only): sync the directory before the log forgets. */
		log_info("%s: %llu records the snapshot supersedes dropped",
		    j->log_path, (unsigned long long)res.superseded);
		if (fsync(j->dirfd) == -1)
			goto syserr;
		keep = JOURNAL_HDR_LEN;
	}
	j->log_bytes = keep;
	if (keep < len && (ftruncate(j->logfd, (off_t)keep) == -1 ||
	    fsync(j->logfd) == -1))
		goto syserr;
	return 0;

syserr:
	jerr(err, errlen, "%s: %s", j->log_path, strerror(errno));
	return -1;
}

/* The snapshot being written by a compaction or an upgrade. */
struct compact_out {
	struct rules	*rules;		/* the final state */
	struct iset	*last;		/* by rule key (compact_key): the
					 * ordinal of its last add-record
					 * applied since its last lift */
	uint64_t	 ord;		/* ordinal of the record being scanned,
					 * from 1, the same in both passes */
	uint64_t	 audits;	/* audit records (jrec_audited) seen:
					 * all of them after pass 1, so far
					 * in pass 2 */
	uint64_t	 audit_from;	/* pass 2: the index (from 0) of the
					 * first audit record kept */
	int64_t		 horizon;	/* "now" - grace for the tables */
	int		 oom;		/* applying a record ran out of memory */
	int		 fd;		/* journal.snap.tmp */
	uint8_t		*buf;		/* write buffer */
	size_t		 len;		/* bytes in buf */
	size_t		 total;		/* bytes written in all */
	int		 failed;	/* a write failed (errno saved) */
	int		 err;		/* that errno */
};

_Static_assert(JOURNAL_JTI_MAX + 1 <= ISET_JTI_MAX &&
    JOURNAL_ISS_MAX <= BLOCKLIST_ID_MAX, "a rule key must fit an iset");

/* Write the key of r's rule of kind into buf (ISET_JTI_MAX bytes): the
 * kind as a byte in front of the id, so that one iset keeps every kind
 * apart; return its length. */
static size_t
compact_key(char *buf, int kind, const struct journal_rec *r)
{
	buf[0] = (char)('0' + kind);
	if (r->jtilen > 0)
		memcpy(buf + 1, r->jti, r->jtilen);
	return r->jtilen + 1;
}

/* Return 1 if rules_apply puts an add-record of kind in the tables, as
 * rules.h says: one that can be live at horizon, with a time the tables
 * can hold. The other add-records change nothing and are no rule's. */
static int
compact_applies(const struct compact_out *o, const struct journal_rec *r,
    int kind)
{
	return r->exp > 0 && r->exp <= (int64_t)UINT32_MAX &&
	    rules_end(o->rules, (enum rules_kind)kind, r->exp) > o->horizon;
}

/*
 * Apply a record to the tables during compaction (pass 1) and note, for
 * each rule, its last add-record. The note is the record's ordinal in the
 * scan, not its seq: both passes visit the same records in the same
 * order, so the ordinal names a record exactly, where a seq would not (a
 * replacement's records keep the seqs Redis gave them, maybe 0).
 */
static void
compact_apply(const struct journal_rec *r, void *arg)
{
	struct compact_out	*o = arg;
	char			 key[ISET_JTI_MAX];
	size_t			 keylen;
	int			 kind = rules_kind_of(r->type);

	o->ord++;
	if (jrec_audited(r))
		o->audits++;
	if (r->flags & JOURNAL_F_AUDIT)
		return;		/* the trail only: never a rule's */
	if (rules_apply(o->rules, r, o->horizon) == -1) {
		o->oom = 1;
		return;
	}
	if (kind == -1)
		return;
	keylen = compact_key(key, kind, r);
	if (jtype_lifts(r->type))
		(void)iset_del(o->last, r->iss, r->isslen, key, keylen);
	else if (compact_applies(o, r, kind) &&
	    iset_add(o->last, r->iss, r->isslen, key, keylen, o->ord) == -1)
		o->oom = 1;
}

/* Write out the buffered snapshot bytes. */
static void
compact_flush(struct compact_out *o)
{
	if (o->failed || o->len == 0)
		return;
	if (write_all(o->fd, o->buf, o->len) == -1) {
		o->failed = 1;
		o->err = errno;
	}
	o->total += o->len;
	o->len = 0;
}

/* Append the encoding of a valid record, with its own seq, to the
 * snapshot being written. */
static void
compact_put(struct compact_out *o, const struct journal_rec *r)
{
	if (JOURNAL_WBUF - o->len < JOURNAL_REC_MAX)
		compact_flush(o);
	jrec_encode(o->buf + o->len, r, r->seq);
	o->len += jrec_size(r);
}

/* Return a copy of r as the current version has it: an UNREVOKE of
 * format 2 may have any exp, which format 3 makes 0. */
static struct journal_rec
jrec_current(const struct journal_rec *r)
{
	struct journal_rec	out = *r;

	if (jtype_lifts(out.type))
		out.exp = 0;
	return out;
}

/*
 * Emit a record's copies to the snapshot (pass 2), in the order of the
 * files, oldest first. The trail copy, if r is one of the newest
 * audit_keep audit records: r exactly as it was (seq, times, reason,
 * audit trail) but flagged JOURNAL_F_AUDIT, never to be applied again.
 * The state copy, if r adds a live rule and is its last add-record: the
 * rule as the table has it (merged time, reason) with r's seq, ts and
 * audit trail, flagged JOURNAL_F_STATE (and REMOTE if r was): the writer
 * named is the one whose write last shaped the rule, not one whose rule
 * was lifted since or superseded, yet the record is not that write and
 * the trail never shows it. Lifts (UNREVOKE, UNBAN) have no state copy:
 * what they removed is not in the table; neither have trail-only records,
 * which never made a rule.
 */
static void
compact_emit(const struct journal_rec *r, void *arg)
{
	struct compact_out	*o = arg;
	struct rules_match	 hit;
	struct journal_rec	 out;
	char			 key[ISET_JTI_MAX];
	uint64_t		 last;
	int			 kind = rules_kind_of(r->type);

	o->ord++;
	if (jrec_audited(r) && o->audits++ >= o->audit_from) {
		out = jrec_current(r);
		out.flags |= JOURNAL_F_AUDIT;
		compact_put(o, &out);
	}
	if (kind == -1 || jtype_lifts(r->type) || (r->flags & JOURNAL_F_AUDIT))
		return;
	last = iset_get(o->last, r->iss, r->isslen, key,
	    compact_key(key, kind, r));
	if ((last != 0 && last != o->ord) ||
	    !rules_lookup(o->rules, kind, r->iss, r->isslen, r->jti,
	    r->jtilen, o->horizon, &hit))
		return;
	out = *r;
	out.flags = (r->flags & JOURNAL_F_REMOTE) | JOURNAL_F_STATE;
	out.exp = hit.time;
	out.reason = hit.reason;
	out.reasonlen = hit.reason_len;
	if (out.reasonlen > JOURNAL_REASON_MAX)
		out.reasonlen = JOURNAL_REASON_MAX;	/* cannot happen */
	compact_put(o, &out);
	/* A live rule with no add-record noted cannot be (pass 1 applied
	 * one); should it happen all the same, keep the rule rather than
	 * lose it, written once: its first live record. */
	if (last == 0)
		(void)rules_remove(o->rules, kind, r->iss, r->isslen, r->jti,
		    r->jtilen, o->horizon);
}

/* Emit a record replayed from either version as the current version has
 * it, for an upgrade: nothing merged, nothing dropped. */
static void
upgrade_emit(const struct journal_rec *r, void *arg)
{
	struct journal_rec	out = jrec_current(r);

	compact_put(arg, &out);
}

/* Map the snapshot (if any) and the log for a compaction (who: for
 * messages); 0 or -1. */
static int
compact_map(struct journal *j, const char *who, struct jmap *snap,
    struct jmap *lg)
{
	const char	*what;
	int		 fd;

	snap->data = lg->data = NULL;
	snap->len = lg->len = 0;
	if ((fd = open(j->snap_path, O_RDONLY | O_CLOEXEC)) != -1) {
		if (jmap_fd(fd, snap) == -1) {
			log_warn("%s: %s", who, j->snap_path);
			close(fd);
			return -1;
		}
		close(fd);
	} else if (errno != ENOENT) {
		log_warn("%s: %s", who, j->snap_path);
		return -1;
	}
	if (jmap_fd(j->logfd, lg) == -1) {
		log_warn("%s: %s", who, j->log_path);
		jmap_free(snap);
		return -1;
	}
	if ((snap->len > 0 && (what = jhdr_check(snap->data,
	    snap->len, NULL)) != NULL) ||
	    (what = jhdr_check(lg->data, lg->len, NULL)) != NULL) {
		log_warnx("%s: %s", who, what);
		jmap_free(snap);
		jmap_free(lg);
		return -1;
	}
	return 0;
}

/* Scan both images through fn, skipping the MARK and the log records the
 * snapshot supersedes; 0 or -1 if either is damaged. *max_seq becomes the
 * highest seq in either. */
static int
compact_pass(const char *who, const struct jmap *snap, const struct jmap *lg,
    journal_apply_cb fn, void *arg, uint64_t *max_seq)
{
	struct jscan_res	 res;
	const char		*what;
	uint64_t		 floor = 0;

	*max_seq = 0;
	if (snap->len > 0) {
		if (jscan_file(snap->data, snap->len, 1, 0, 0, fn, arg, &res,
		    &what) != 0) {
			log_warnx("%s: snapshot offset %zu: %s", who, res.end,
			    what);
			return -1;
		}
		floor = res.mark + 1;
		*max_seq = res.max_seq;
	}
	if (jscan_file(lg->data, lg->len, 0, 0, floor, fn, arg, &res,
	    &what) != 0) {
		log_warnx("%s: log offset %zu: %s", who, res.end, what);
		return -1;
	}
	if (res.max_seq > *max_seq)
		*max_seq = res.max_seq;
	return 0;
}

/* Begin a swap of the files: listings started before it restart. */
static void
jgen_begin(struct journal *j)
{
	__atomic_add_fetch(&j->gen, 1, __ATOMIC_SEQ_CST);
}

/* End a swap of the files begun with jgen_begin. */
static void
jgen_end(struct journal *j)
{
	__atomic_add_fetch(&j->gen, 1, __ATOMIC_SEQ_CST);
}

/*
 * Replace the log with an empty one of the current version, for an
 * upgrade, once the snapshot that supersedes all of the old log's records
 * is in place: journal.log.tmp with a header, synced, renamed over the
 * log, the directory synced. A crash on either side of the rename replays
 * the same. Returns 0, or -1 (logged).
 */
static int
journal_fresh_log(struct journal *j)
{
	uint8_t	hdr[JOURNAL_HDR_LEN];
	int	fd;

	jhdr_make(hdr);
	fd = open(j->logtmp_path, O_RDWR | O_APPEND | O_CREAT | O_TRUNC |
	    O_CLOEXEC, 0600);
	if (fd == -1) {
		log_warn("upgrade: %s", j->logtmp_path);
		return -1;
	}
	if (write_all(fd, hdr, sizeof hdr) == -1 || fdatasync(fd) == -1) {
		log_warn("upgrade: write %s", j->logtmp_path);
		goto fail;
	}
	if (rename(j->logtmp_path, j->log_path) == -1) {
		log_warn("upgrade: rename %s", j->logtmp_path);
		goto fail;
	}
	close(j->logfd);
	j->logfd = fd;
	if (fsync(j->dirfd) == -1) {
		log_warn("upgrade: fsync %s", j->dir);
		return -1;
	}
	return 0;

fail:
	close(fd);
	unlink(j->logtmp_path);
	return -1;
}

/*
 * Rewrite the snapshot as a MARK, the trail copies and the live rules of
 * snapshot + log (compact_emit) and truncate the log; on the writer
 * thread. Or, for an upgrade (upgrade) at open, rewrite it as a MARK and
 * every record replay applies, unmerged (upgrade_emit), and replace the
 * log by a fresh one of the current version. Failures before the rename
 * leave the files as they were (logged); a crash between the rename and
 * the truncate leaves a snapshot whose MARK covers every record of the
 * old log, which is skipped at open. Returns 0, or -1 when the log was
 * not truncated.
 */
static int
journal_compact(struct journal *j, int upgrade)
{
	const char		*who = upgrade ? "upgrade" : "compaction";
	struct jmap		 snap, lg;
	struct compact_out	 o;
	uint8_t			 key[BLOCKLIST_KEY_LEN];
	int			 rc = -1;
	uint64_t		 t0 = mono_usec(), mark, durable, seen;

	memset(&o, 0, sizeof o);
	o.fd = -1;
	if (compact_map(j, who, &snap, &lg) == -1)
		return -1;
	if ((o.buf = malloc(JOURNAL_WBUF)) == NULL) {
		log_warnx("%s: out of memory", who);
		goto out;
	}
	if (!upgrade) {
		if (getrandom(key, sizeof key, 0) != (ssize_t)sizeof key) {
			log_warn("%s: getrandom", who);
			goto out;
		}
		if ((o.rules = rules_new(key, j->lifetime)) == NULL ||
		    (o.last = iset_new(key)) == NULL) {
			log_warnx("%s: out of memory", who);
			goto out;
		}
		o.horizon = jnow(j) - j->exp_grace;
	}
	/* Pass 1: the tables, the last add-records, the audit records; for
	 * an upgrade, only the highest seq. */
	if (compact_pass(who, &snap, &lg, upgrade ? NULL : compact_apply, &o,
	    &mark) == -1)
		goto out;
	/* The highest seq issued whose record can be in the log: records
	 * handed over later are written after the truncation. durable is
	 * above the files' highest after a failed replacement. */
	durable = __atomic_load_n(&j->durable, __ATOMIC_ACQUIRE);
	if (durable > mark)
		mark = durable;
	if (o.oom) {
		log_warnx("%s: digest table failed (out of memory?)", who);
		goto out;
	}
	o.fd = open(j->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600);
	if (o.fd == -1) {
		log_warn("%s: %s", who, j->tmp_path);
		goto out;
	}
	jhdr_make(o.buf);
	jmark_encode(o.buf + JOURNAL_HDR_LEN, mark);
	o.len = JOURNAL_HDR_LEN + JOURNAL_MARK_LEN;
	/* Pass 2 visits the same records in the same order. */
	o.ord = 0;
	o.audit_from = o.audits > j->audit_keep ? o.audits - j->audit_keep :
	    0;
	o.audits = 0;
	if (compact_pass(who, &snap, &lg, upgrade ? upgrade_emit :
	    compact_emit, &o, &seen) == -1)
		goto out;
	compact_flush(&o);
	if (o.failed) {
		errno = o.err;
		log_warn("%s: write %s", who, j->tmp_path);
		goto out;
	}
	if (fsync(o.fd) == -1) {
		log_warn("%s: fsync %s", who, j->tmp_path);
		goto out;
	}
	close(o.fd);
	o.fd = -1;
	jgen_begin(j);
	if (rename(j->tmp_path, j->snap_path) == -1) {
		log_warn("%s: rename %s", who, j->tmp_path);
		jgen_end(j);
		goto out;
	}
	if (fsync(j->dirfd) == -1) {
		/* The rename may not be durable: keep the log whole. */
		log_warn("%s: fsync %s", who, j->dir);
		jgen_end(j);
		goto done;
	}
	if (upgrade) {
		if (journal_fresh_log(j) == -1) {
			jgen_end(j);
			goto done;
		}
	} else {
		if (ftruncate(j->logfd, JOURNAL_HDR_LEN) == -1)
			fatal("compaction: truncate %s", j->log_path);
		if (fsync(j->logfd) == -1)
			fatal("compaction: fsync %s", j->log_path);
	}
	jgen_end(j);
	pthread_mutex_lock(&j->mu);
	j->log_bytes = JOURNAL_HDR_LEN;
	pthread_mutex_unlock(&j->mu);
	rc = 0;
done:
	pthread_mutex_lock(&j->mu);
	j->snap_bytes = o.total;
	if (!upgrade)
		j->compactions++;
	pthread_mutex_unlock(&j->mu);
	if (!upgrade)
		log_info("journal compacted: snapshot %zu bytes in %llu ms",
		    o.total, (unsigned long long)(mono_usec() - t0) / 1000);
out:
	if (o.fd != -1) {
		close(o.fd);
		unlink(j->tmp_path);
	}
	rules_free(o.rules);
	iset_free(o.last);
	free(o.buf);
	jmap_free(&snap);
	jmap_free(&lg);
	return rc;
}

/*
 * Write snap as the new snapshot (header, MARK with snap->seq, its
 * records), rename it into place and truncate the log; on the writer
 * thread, after the records appended before it are synced. Failures before
 * the rename leave the old files whole (logged): the replacement is lost,
 * the journal keeps its old content. A crash between the rename and the
 * truncate leaves the old log beside the new snapshot; its records all
 * have seqs below snap->seq, so they are skipped at open. Returns 0, or
 * -1 when the log was not truncated.
 */
static int
journal_write_replace(struct journal *j, const struct journal_snap *snap)
{
	uint8_t		 head[JOURNAL_HDR_LEN + JOURNAL_MARK_LEN];
	uint64_t	 t0 = mono_usec(), total;
	int		 fd;

	jhdr_make(head);
	jmark_encode(head + JOURNAL_HDR_LEN, snap->seq);
	total = sizeof head + snap->recs.len;
	fd = open(j->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1) {
		log_warn("replace: %s", j->tmp_path);
		return -1;
	}
	if (write_all(fd, head, sizeof head) == -1 ||
	    write_all(fd, snap->recs.data, snap->recs.len) == -1) {
		log_warn("replace: write %s", j->tmp_path);
		goto fail;
	}
	if (fsync(fd) == -1) {
		log_warn("replace: fsync %s", j->tmp_path);
		goto fail;
	}
	close(fd);
	fd = -1;
	jgen_begin(j);
	if (rename(j->tmp_path, j->snap_path) == -1) {
		log_warn("replace: rename %s", j->tmp_path);
		jgen_end(j);
		goto fail;
	}
	pthread_mutex_lock(&j->mu);
	j->snap_bytes = total;
	j->replaces++;
	pthread_mutex_unlock(&j->mu);
	if (fsync(j->dirfd) == -1) {
		/* The rename may not be durable: keep the log whole. Its
		 * records are superseded all the same if it is. */
		log_warn("replace: fsync %s", j->dir);
		jgen_end(j);
		return -1;
	}
	if (ftruncate(j->logfd, JOURNAL_HDR_LEN) == -1)
		fatal("replace: truncate %s", j->log_path);
	if (fsync(j->logfd) == -1)
		fatal("replace: fsync %s", j->log_path);
	jgen_end(j);
	pthread_mutex_lock(&j->mu);
	j->log_bytes = JOURNAL_HDR_LEN;
	pthread_mutex_unlock(&j->mu);
	log_info("journal replaced: snapshot %llu bytes in %llu ms",
	    (unsigned long long)total,
	    (unsigned long long)(mono_usec() - t0) / 1000);
	return 0;

fail:
	if (fd != -1)
		close(fd);
	unlink(j->tmp_path);
	log_warnx("replace: the journal keeps its previous content");
	return -1;
}

/* Wake the loop thread through the eventfd. */
static void
journal_notify(struct journal *j)
{
	uint64_t	one = 1;
	ssize_t		n;

	do
		n = write(j->efd, &one, sizeof one);
	while (n == -1 && errno == EINTR);
	/* EAGAIN: the counter is saturated, the fd is readable anyway. */
	if (n == -1 && errno != EAGAIN)
		fatal("journal: eventfd write");
}

/* Return 1 if the log has outgrown the snapshot (mu held). */
static int
journal_want_compact(const struct journal *j)
{
	uint64_t	limit = j->compact_min;

	if (2 * j->snap_bytes > limit)
		limit = 2 * j->snap_bytes;
	if (j->compact_floor > limit)
		limit = j->compact_floor;
	return j->log_bytes > limit;
}

/* Return 1 if the files may hold a record Redis has not confirmed, which
 * a compaction would merge away (mu held). Not only the log: a replacement
 * snapshot carries the unconfirmed records of its time. */
static int
journal_compact_blocked(const struct journal *j)
{
	return __atomic_load_n(&j->durable, __ATOMIC_ACQUIRE) >=
	    __atomic_load_n(&j->unconfirmed, __ATOMIC_ACQUIRE);
}

/* Write batches and compact until told to stop; the writer thread. */
static void *
journal_writer(void *arg)
{
	struct journal		*j = arg;
	struct journal_snap	*snap;
	uint64_t		 t0, usec, last;
	int			 held, r, blocked;

	pthread_mutex_lock(&j->mu);
	for (;;) {
		/* Not while the log holds unconfirmed records: a request is
		 * dropped, the size trigger is looked at again later. */
		blocked = journal_compact_blocked(j);
		if (!j->stop && j->compact_req && blocked) {
			j->compact_req = 0;
			j->compact_skipped++;
			log_debug("journal: compaction skipped, the log holds "
			    "records from %llu on not confirmed by Redis",
			    (unsigned long long)__atomic_load_n(
			    &j->unconfirmed, __ATOMIC_ACQUIRE));
		}
		/* Compaction first: under a steady stream of batches the
		 * writer would otherwise never be idle. A batch handed over
		 * meanwhile waits, and so do the appends behind it. */
		if (!j->stop && !blocked &&
		    (j->compact_req || journal_want_compact(j))) {
			j->compact_req = 0;
			if ((held = !j->busy))
				j->busy = 1;
			pthread_mutex_unlock(&j->mu);
			r = journal_compact(j, 0);
			pthread_mutex_lock(&j->mu);
			/* After a failure, wait for twice the log to retry. */
			j->compact_floor = r == 0 ? 0 : 2 * j->log_bytes;
			if (held)
				j->busy = 0;
			pthread_mutex_unlock(&j->mu);
			/* Let the loop hand over what queued meanwhile. */
			journal_notify(j);
			pthread_mutex_lock(&j->mu);
			continue;
		}
		if (j->batch_ready) {
			snap = j->batch_snap;
			pthread_mutex_unlock(&j->mu);
			/* The batch's records first, a replacement's too:
			 * acknowledged writes, durable even if it fails. */
			if (j->batch.len > 0) {
				t0 = mono_usec();
				if (write_all(j->logfd, j->batch.data,
				    j->batch.len) == -1)
					fatal("journal: write %s",
					    j->log_path);
				if (fdatasync(j->logfd) == -1)
					fatal("journal: fdatasync %s",
					    j->log_path);
				usec = mono_usec() - t0;
				pthread_mutex_lock(&j->mu);
				j->last_sync_usec = usec;
				j->log_bytes += j->batch.len;
				j->syncs++;
				pthread_mutex_unlock(&j->mu);
			}
			/* A failed replacement leaves the old content,
			 * which is safe: it is a copy of what Redis had. */
			if (snap != NULL)
				(void)journal_write_replace(j, snap);
			pthread_mutex_lock(&j->mu);
			j->batch.len = 0;
			j->batch_snap = NULL;
			j->batch_ready = 0;
			j->busy = 0;
			last = j->batch_last;
			__atomic_store_n(&j->durable, last, __ATOMIC_RELEASE);
			pthread_mutex_unlock(&j->mu);
			journal_snap_free(snap);
			journal_notify(j);
			pthread_mutex_lock(&j->mu);
			continue;
		}
		if (j->stop)
			break;
		pthread_cond_wait(&j->cv, &j->mu);
	}
	pthread_mutex_unlock(&j->mu);
	return NULL;
}

/* Free a journal's memory and close its fds. */
static void
journal_free(struct journal *j)
{
	if (j->logfd != -1)
		close(j->logfd);
	if (j->dirfd != -1)
		close(j->dirfd);
	if (j->efd != -1)
		close(j->efd);
	pthread_cond_destroy(&j->cv);
	pthread_mutex_destroy(&j->mu);
	free(j->queued.data);
	free(j->batch.data);
	journal_snap_free(j->replace);
	journal_snap_free(j->batch_snap);
	free(j->dir);
	free(j->log_path);
	free(j->snap_path);
	free(j->tmp_path);
	free(j->logtmp_path);
	free(j->list_buf);
	free(j);
}

/* Open or create the journal, replaying it through apply. */
struct journal *
journal_open(const struct journal_config *cfg, journal_apply_cb apply,
    void *arg, char *err, size_t errlen)
{
	struct journal	*j;
	uint64_t	 floor, max_seq;
	int		 saved, snapv, logv;

	if ((j = calloc(1, sizeof *j)) == NULL)
		return NULL;
	j->logfd = j->dirfd = j->efd = -1;
	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->cv, NULL);
	j->exp_grace = cfg->exp_grace;
	j->lifetime = cfg->lifetime;
	j->audit_keep = cfg->audit_keep;
	j->compact_min = cfg->compact_min > 0 ? cfg->compact_min :
	    JOURNAL_COMPACT_MIN;
	j->clock = cfg->clock;
	/* Held: as if every record were unconfirmed, until the owner knows
	 * what Redis still has to receive. */
	j->unconfirmed = cfg->hold_compaction ? 0 : UINT64_MAX;
	if ((j->dir = strdup(cfg->dir)) == NULL ||
	    (j->log_path = jpath(cfg->dir, JOURNAL_LOG)) == NULL ||
	    (j->snap_path = jpath(cfg->dir, JOURNAL_SNAP)) == NULL ||
	    (j->tmp_path = jpath(cfg->dir, JOURNAL_SNAP_TMP)) == NULL ||
	    (j->logtmp_path = jpath(cfg->dir, JOURNAL_LOG_TMP)) == NULL) {
		jerr(err, errlen, "out of memory");
		goto fail;
	}
	j->dirfd = open(cfg->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (j->dirfd == -1) {
		jerr(err, errlen, "%s: %s", cfg->dir, strerror(errno));
		goto fail;
	}
	if ((j->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		jerr(err, errlen, "eventfd: %s", strerror(errno));
		goto fail;
	}
	/* A random start: a listing cursor of an earlier process is most
	 * likely taken for one of another generation. */
	if (getrandom(&j->gen, sizeof j->gen, GRND_NONBLOCK) !=
	    (ssize_t)sizeof j->gen)
		j->gen = 0;
	j->gen &= ~(uint64_t)1;
	if (journal_load_snap(j, apply, arg, &floor, &max_seq, &snapv, err,
	    errlen) == -1 ||
	    journal_load_log(j, apply, arg, floor, &max_seq, &logv, err,
	    errlen) == -1)
		goto fail;
	/* Everything replayed is durable; seqs continue above it. */
	j->next_seq = max_seq + 1;
	j->durable = max_seq;
	/* Leftovers of a compaction or an upgrade that did not finish. */
	if (unlink(j->tmp_path) == -1 && errno != ENOENT)
		log_warn("%s", j->tmp_path);
	if (unlink(j->logtmp_path) == -1 && errno != ENOENT)
		log_warn("%s", j->logtmp_path);
	/* Only records of the current version are ever appended. */
	if (snapv == JOURNAL_VERSION_OLD || logv == JOURNAL_VERSION_OLD) {
		if (journal_compact(j, 1) == -1) {
			jerr(err, errlen, "%s: cannot upgrade the journal "
			    "from format %d (see the messages above)", j->dir,
			    JOURNAL_VERSION_OLD);
			goto fail;
		}
		log_info("journal: upgraded from format %d",
		    JOURNAL_VERSION_OLD);
	}
	if ((saved = pthread_create(&j->thread, NULL, journal_writer,
	    j)) != 0) {
		jerr(err, errlen, "pthread_create: %s", strerror(saved));
		goto fail;
	}
	j->started = 1;
	return j;

fail:
	journal_free(j);
	return NULL;
}

/* Queue a record with the next seq; return that seq or 0. */
uint64_t
journal_append(struct journal *j, const struct journal_rec *r)
{
	if (!jrec_valid(r)) {
		log_warnx("journal: invalid record not appended");
		return 0;
	}
	if (j->next_seq > JOURNAL_SEQ_MAX) {
		log_warnx("journal: sequence numbers exhausted");
		return 0;
	}
	if (jbuf_reserve(&j->queued, jrec_size(r)) == -1)
		return 0;
	jrec_encode(j->queued.data + j->queued.len, r, j->next_seq);
	j->queued.len += jrec_size(r);
	j->queued_last = j->next_seq;
	j->records++;
	return j->next_seq++;
}

/* Hand the pending replacement, else the queued records, to the writer if
 * it is idle. */
void
journal_kick(struct journal *j)
{
	struct journal_snap	*r;
	struct jbuf		 tmp;

	if (j->queued.len == 0 && j->replace == NULL)
		return;
	pthread_mutex_lock(&j->mu);
	if (!j->busy) {
		/* batch is empty whenever the writer is idle. */
		tmp = j->batch;
		if ((r = j->replace) != NULL) {
			/* Its records go with it; queued follows later. */
			j->replace = NULL;
			j->batch = r->pre;
			r->pre = tmp;
			r->pre.len = 0;
			if (j->queued.data == NULL) {
				j->queued = r->pre;
				memset(&r->pre, 0, sizeof r->pre);
			}
			j->batch_last = r->seq;
			j->batch_snap = r;
		} else {
			j->batch = j->queued;
			j->queued = tmp;
			j->queued.len = 0;
			j->batch_last = j->queued_last;
		}
		j->batch_ready = 1;
		j->busy = 1;
		pthread_cond_signal(&j->cv);
	}
	pthread_mutex_unlock(&j->mu);
}

/* Free the append buffers while they are empty and larger than
 * JOURNAL_BUF_KEEP (and the listing buffer, only used within a call):
 * a burst of writes grows them to its size, and without this they would
 * keep that size for good. Returns the bytes freed. */
size_t
journal_trim(struct journal *j)
{
	size_t	freed = 0;

	if (j->list_size > JOURNAL_BUF_KEEP) {
		freed += j->list_size;
		free(j->list_buf);
		j->list_buf = NULL;
		j->list_size = 0;
	}
	if (j->queued.len == 0 && j->queued.size > JOURNAL_BUF_KEEP) {
		freed += j->queued.size;
		free(j->queued.data);
		memset(&j->queued, 0, sizeof j->queued);
	}
	pthread_mutex_lock(&j->mu);
	/* The writer touches batch only between a kick and going idle. */
	if (!j->busy && j->batch.size > JOURNAL_BUF_KEEP) {
		freed += j->batch.size;
		free(j->batch.data);
		memset(&j->batch, 0, sizeof j->batch);
	}
	pthread_mutex_unlock(&j->mu);
	return freed;
}

/* Return the notification fd. */
int
journal_notify_fd(const struct journal *j)
{
	return j->efd;
}

/* Drain the notification fd; return the durable seq. */
uint64_t
journal_collect(struct journal *j)
{
	uint64_t	v;
	ssize_t		n;

	do
		n = read(j->efd, &v, sizeof v);
	while (n == -1 && errno == EINTR);
	if (n == -1 && errno != EAGAIN)
		fatal("journal: eventfd read");
	journal_kick(j);
	return journal_durable(j);
}

/* Return the durable seq. */
uint64_t
journal_durable(const struct journal *j)
{
	return __atomic_load_n(&j->durable, __ATOMIC_ACQUIRE);
}

/* Return the highest seq issued. */
uint64_t
journal_last_seq(const struct journal *j)
{
	return j->next_seq - 1;
}

/* Ask the writer for a compaction. */
void
journal_request_compact(struct journal *j)
{
	pthread_mutex_lock(&j->mu);
	j->compact_req = 1;
	pthread_cond_signal(&j->cv);
	pthread_mutex_unlock(&j->mu);
}

/* Set the lowest seq Redis has not confirmed. */
void
journal_set_unconfirmed(struct journal *j, uint64_t seq)
{
	uint64_t	old, durable;

	old = __atomic_exchange_n(&j->unconfirmed, seq, __ATOMIC_ACQ_REL);
	durable = journal_durable(j);
	/* No longer held back: wake the writer, so that a log that outgrew
	 * its trigger meanwhile (or at open) is compacted now rather than
	 * after the next write. */
	if (durable >= old && durable < seq) {
		pthread_mutex_lock(&j->mu);
		pthread_cond_signal(&j->cv);
		pthread_mutex_unlock(&j->mu);
	}
}

/* Return an empty replacement. */
struct journal_snap *
journal_snap_new(void)
{
	return calloc(1, sizeof(struct journal_snap));
}

/* Add a record with its own seq and flags; 0 or -1. */
int
journal_snap_add(struct journal_snap *snap, const struct journal_rec *r)
{
	if (!jrec_valid(r) || r->seq > JOURNAL_SEQ_MAX) {
		log_warnx("journal: invalid record not added to a "
		    "replacement");
		return -1;
	}
	if (jbuf_reserve(&snap->recs, jrec_size(r)) == -1)
		return -1;
	jrec_encode(snap->recs.data + snap->recs.len, r, r->seq);
	snap->recs.len += jrec_size(r);
	if (r->seq > snap->max_seq)
		snap->max_seq = r->seq;
	return 0;
}

/* Free a replacement. */
void
journal_snap_free(struct journal_snap *snap)
{
	if (snap == NULL)
		return;
	free(snap->recs.data);
	free(snap->pre.data);
	free(snap);
}

/*
 * Queue snap to replace everything appended so far; return the seq
 * durable once it is on disk, or 0. Its seq is above every seq issued and
 * every seq in snap, so that its MARK covers them all.
 */
uint64_t
journal_replace(struct journal *j, struct journal_snap *snap)
{
	struct journal_snap	*prev = j->replace;
	uint64_t		 seq = j->next_seq;

	if (snap == NULL)
		return 0;
	if (snap->max_seq >= seq)
		seq = snap->max_seq + 1;
	if (seq > JOURNAL_SEQ_MAX) {
		log_warnx("journal: sequence numbers exhausted");
		journal_snap_free(snap);
		return 0;
	}
	if (prev != NULL) {
		/* One not handed over yet: this one supersedes it, and
		 * takes its records and those appended since. */
		if (jbuf_reserve(&prev->pre, j->queued.len) == -1) {
			journal_snap_free(snap);
			return 0;
		}
		if (j->queued.len > 0) {
			memcpy(prev->pre.data + prev->pre.len, j->queued.data,
			    j->queued.len);
			prev->pre.len += j->queued.len;
			j->queued.len = 0;
		}
		snap->pre = prev->pre;
		memset(&prev->pre, 0, sizeof prev->pre);
		journal_snap_free(prev);
	} else {
		free(snap->pre.data);
		snap->pre = j->queued;
		memset(&j->queued, 0, sizeof j->queued);
	}
	snap->seq = seq;
	j->replace = snap;
	j->next_seq = seq + 1;
	journal_kick(j);
	return seq;
}

/* Return a listing cursor for generation gen, file log, offset off. */
static uint64_t
jlist_cursor(uint64_t gen, int log, uint64_t off)
{
	return (gen >> 1) << JLIST_GEN_SHIFT | (log ? JLIST_LOG : 0) | off;
}

/* Return the cursor a listing restarts from after seeing generation gen:
 * the beginning of the snapshot of the generation that follows a swap in
 * progress, else of gen's. Never 0. */
static uint64_t
jlist_restart(uint64_t gen)
{
	return jlist_cursor(gen + (gen & 1), 0, JOURNAL_HDR_LEN);
}

/* Read up to len bytes at off of fd into buf, retrying short reads and
 * EINTR; returns the bytes read (fewer at the end of the file) or -1. */
static ssize_t
pread_all(int fd, uint8_t *buf, size_t len, uint64_t off)
{
	size_t	got = 0;
	ssize_t	n;

	while (got < len) {
		n = pread(fd, buf + got, len - got, (off_t)(off + got));
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* Make the listing buffer at least len bytes; 0 or -1 on OOM. */
static int
jlist_reserve(struct journal *j, size_t len)
{
	uint8_t	*p;

	if (j->list_size >= len)
		return 0;
	if ((p = realloc(j->list_buf, len)) == NULL)
		return -1;
	j->list_buf = p;
	j->list_size = len;
	return 0;
}

/*
 * One step of a listing: read up to about budget bytes of the file the
 * cursor names (the snapshot, or when this generation has none the log)
 * and visit its records. The bytes are only used if the generation was the
 * same, and even, before and after the read: then they are a prefix of
 * this generation's file. One file per step: the end of the snapshot
 * moves the cursor to the log's first record. What is wrong with the
 * record at the cursor is the cursor's fault (-2), unless the cursor is
 * at a file's first record: a step only ever stops at a record boundary,
 * so only a record after one read whole is known to be damaged (-1).
 */
int
journal_list(struct journal *j, uint64_t *cursor, size_t budget,
    journal_list_cb cb, void *arg)
{
	struct journal_rec	 rec;
	struct stat		 st;
	const char		*path, *what;
	uint8_t			 hdr[JOURNAL_HDR_LEN];
	uint64_t		 gen, again, off, size, cur = *cursor;
	size_t			 n = 0, p, ext = 0, want, visited = 0;
	ssize_t			 got, hdrlen;
	int			 fd = -1, log, version, stop = 0;
	enum jscan		 r;

	gen = __atomic_load_n(&j->gen, __ATOMIC_SEQ_CST);
	if (gen & 1) {
		/* The files are being swapped: come back later. */
		*cursor = jlist_restart(gen);
		return 0;
	}
	if (cur == 0 || cur >> JLIST_GEN_SHIFT !=
	    jlist_cursor(gen, 0, 0) >> JLIST_GEN_SHIFT) {
		log = 0;
		off = JOURNAL_HDR_LEN;
	} else {
		log = (cur & JLIST_LOG) != 0;
		off = cur & JLIST_OFF_MAX;
	}
	if (!log && (fd = open(j->snap_path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno != ENOENT) {
			path = j->snap_path;
			goto syserr;
		}
		/* No snapshot in this generation: the log holds all. */
		log = 1;
		off = JOURNAL_HDR_LEN;
	}
	path = log ? j->log_path : j->snap_path;
	if (log && (fd = open(j->log_path, O_RDONLY | O_CLOEXEC)) == -1)
		goto syserr;
	if (fstat(fd, &st) == -1)
		goto syserr;
	size = (uint64_t)st.st_size;
	if ((hdrlen = pread_all(fd, hdr, sizeof hdr, 0)) == -1)
		goto syserr;
	if (size <= JLIST_OFF_MAX && off >= JOURNAL_HDR_LEN && off <= size) {
		/* At least a whole record, so that every step makes
		 * progress. */
		want = budget > JOURNAL_REC_MAX ? budget : JOURNAL_REC_MAX;
		if (want > JOURNAL_LIST_BUF)
			want = JOURNAL_LIST_BUF;
		if (size - off < want)
			want = (size_t)(size - off);
		if (jlist_reserve(j, want) == -1) {
			log_warnx("journal: list: out of memory");
			goto fail;
		}
		if ((got = pread_all(fd, j->list_buf, want, off)) == -1)
			goto syserr;
		n = (size_t)got;
	}
	close(fd);
	fd = -1;
	again = __atomic_load_n(&j->gen, __ATOMIC_SEQ_CST);
	if (again != gen) {
		/* Swapped meanwhile: what was read may be of either. */
		*cursor = jlist_restart(again);
		return 0;
	}

	/* What was read is this generation's: anything wrong is real. */
	if ((what = jhdr_check(hdr, (size_t)hdrlen, &version)) == NULL &&
	    version != JOURNAL_VERSION)
		what = "not of the current format version";
	if (what != NULL) {
		log_warnx("journal: list: %s: %s", path, what);
		return -1;
	}
	if (size > JLIST_OFF_MAX) {
		log_warnx("journal: list: %s: too big to list (%llu bytes)",
		    path, (unsigned long long)size);
		return -1;
	}
	if (off < JOURNAL_HDR_LEN || off > size)
		return -2;	/* a cursor of this generation, but no record */

	/* At least one record visited (a MARK does not count). */
	for (p = 0; p < n && !stop && (visited == 0 || p < budget);
	    p += ext) {
		r = jrec_decode(j->list_buf + p, n - p, JOURNAL_VERSION, &rec,
		    &ext, &what);
		if (r == JSCAN_OK && (what = jrec_check_place(&rec,
		    (size_t)(off + p), !log)) != NULL)
			r = JSCAN_BAD;
		/* Cut short by the end of what was read: the step ends
		 * here, the next reads on. */
		if (r == JSCAN_SHORT && off + n < size)
			break;
		/* Cut short by the end of the log: a record being written
		 * right now. At the cursor, the listing ends (the record was
		 * added during it); else the step ends at it. */
		if (r == JSCAN_SHORT && log) {
			if (p == 0) {
				*cursor = 0;
				return 0;
			}
			break;
		}
		if (r != JSCAN_OK && p == 0 && off != JOURNAL_HDR_LEN)
			return -2;	/* the cursor points at no record */
		if (r != JSCAN_OK) {
			log_warnx("journal: list: %s: offset %llu: %s", path,
			    (unsigned long long)(off + p), what);
			*cursor = jlist_cursor(gen, log, off + p);
			return -1;
		}
		if (rec.type == JOURNAL_MARK)
			continue;
		visited++;
		if (cb(&rec, arg))
			stop = 1;
	}
	off += p;
	if (off < size)
		*cursor = jlist_cursor(gen, log, off);
	else
		*cursor = log ? 0 : jlist_cursor(gen, 1, JOURNAL_HDR_LEN);
	return 0;

syserr:
	log_warn("journal: list: %s", path);
fail:
	if (fd != -1)
		close(fd);
	return -1;
}

/* Fill in the counters. */
void
journal_get_stats(struct journal *j, struct journal_stats *st)
{
	memset(st, 0, sizeof *st);
	st->records = j->records;
	st->pending = j->next_seq - 1 - journal_durable(j);
	st->replayed = j->replayed;
	st->torn_bytes = j->torn_bytes;
	pthread_mutex_lock(&j->mu);
	st->log_bytes = j->log_bytes;
	st->snapshot_bytes = j->snap_bytes;
	st->syncs = j->syncs;
	st->compactions = j->compactions;
	st->last_sync_usec = j->last_sync_usec;
	st->replaces = j->replaces;
	st->compact_skipped = j->compact_skipped;
	pthread_mutex_unlock(&j->mu);
}

/* Sync everything queued, stop the writer and free the journal. */
int
journal_close(struct journal *j)
{
	struct pollfd	pfd;

	if (j == NULL)
		return 0;
	pfd.fd = j->efd;
	pfd.events = POLLIN;
	while (journal_durable(j) + 1 < j->next_seq) {
		journal_kick(j);
		if (poll(&pfd, 1, -1) == -1 && errno != EINTR)
			fatal("journal: poll");
		journal_collect(j);
	}
	pthread_mutex_lock(&j->mu);
	j->stop = 1;
	pthread_cond_signal(&j->cv);
	pthread_mutex_unlock(&j->mu);
	pthread_join(j->thread, NULL);
	journal_free(j);
	return 0;
}
