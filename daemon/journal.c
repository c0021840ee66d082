/*
 * The local journal.
 *
 * Two files in the state directory, each an 8-byte header ("RVKJ" and a
 * u32 LE format version, now 2) followed by records:
 *
 *	u32 crc32c	over every byte of the record after this field
 *	u32 length	of the payload
 *	payload:	u8 type, u8 flags, u16 isslen, u16 jtilen,
 *			u16 reasonlen, i64 exp, i64 ts, u64 seq,
 *			iss, jti, reason
 *
 * all little-endian. type is REVOKE (1), UNREVOKE (2) or MARK (3); the only
 * legal flag is JOURNAL_F_REMOTE, any other bit is damage. seq is the
 * record's sequence number: unique, increasing in the log, never above
 * JOURNAL_SEQ_MAX. A MARK has no strings, no flags, exp = ts = 0, and as
 * seq the highest sequence number issued when its snapshot was made; it is
 * the first record of every snapshot and appears nowhere else. It serves
 * two purposes: sequence numbers continue across restarts even when the
 * log is empty, and it says which log records the snapshot already
 * accounts for: at open (and in compaction) log records whose seq is at
 * or below the MARK's are skipped as superseded. A version 1 file (no
 * flags, no seq) is refused.
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
#include "journal.h"
#include "log.h"

#define JOURNAL_MAGIC		"RVKJ"	/* first bytes of both files */
#define JOURNAL_VERSION		2	/* format version; bump on change */
#define JOURNAL_VERSION_S	"2"	/* the same, for messages */
#define JOURNAL_HDR_LEN		8	/* magic + version */
#define JOURNAL_REC_HDR		8	/* crc + payload length */
#define JOURNAL_FIXED		32	/* payload bytes before the strings */
#define JOURNAL_MARK		3	/* record type: snapshot mark (internal) */
#define JOURNAL_MARK_LEN	(JOURNAL_REC_HDR + JOURNAL_FIXED) /* its size */
#define JOURNAL_FLAGS		JOURNAL_F_REMOTE /* every legal flag bit */
#define JOURNAL_SEQ_MAX		((uint64_t)INT64_MAX) /* highest legal seq */
#define JOURNAL_ISS_MAX		256	/* most bytes of iss */
#define JOURNAL_JTI_MAX		256	/* most bytes of jti */
#define JOURNAL_REASON_MAX	512	/* most bytes of reason */
#define JOURNAL_PAYLOAD_MAX	(JOURNAL_FIXED + JOURNAL_ISS_MAX +	\
    JOURNAL_JTI_MAX + JOURNAL_REASON_MAX) /* longest legal payload */
#define JOURNAL_REC_MAX		(JOURNAL_REC_HDR + JOURNAL_PAYLOAD_MAX)
#define JOURNAL_COMPACT_MIN	(64u << 20) /* compact_min when cfg's is 0 */
#define JOURNAL_BUF_INIT	65536	/* first size of the append buffers */
#define JOURNAL_WBUF		(1u << 20) /* snapshot write buffer */
#define JOURNAL_LOG		"journal.log"	/* the append-only log */
#define JOURNAL_SNAP		"journal.snap"	/* the compacted snapshot */
#define JOURNAL_SNAP_TMP	"journal.snap.tmp" /* snapshot being built */

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
	int64_t		 exp_grace;	/* live while now - grace < exp */
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

/* Return 1 if a record's type, flags and lengths are legal. */
static int
jrec_valid(const struct journal_rec *r)
{
	if (r->type != JOURNAL_REVOKE && r->type != JOURNAL_UNREVOKE)
		return 0;
	if ((r->flags & ~JOURNAL_FLAGS) != 0)
		return 0;
	if (r->isslen > JOURNAL_ISS_MAX || r->jtilen < 1 ||
	    r->jtilen > JOURNAL_JTI_MAX || r->reasonlen > JOURNAL_REASON_MAX)
		return 0;
	return 1;
}

/* Return the encoded size of a valid record. */
static size_t
jrec_size(const struct journal_rec *r)
{
	return JOURNAL_REC_HDR + JOURNAL_FIXED + r->isslen + r->jtilen +
	    r->reasonlen;
}

/* Encode a valid record (or a MARK) with seq into p (jrec_size bytes). */
static void
jrec_encode(uint8_t *p, const struct journal_rec *r, uint64_t seq)
{
	size_t	 plen = jrec_size(r) - JOURNAL_REC_HDR;
	uint8_t	*s = p + JOURNAL_REC_HDR + JOURNAL_FIXED;

	put32(p + 4, (uint32_t)plen);
	p[8] = (uint8_t)r->type;
	p[9] = (uint8_t)r->flags;
	put16(p + 10, (uint16_t)r->isslen);
	put16(p + 12, (uint16_t)r->jtilen);
	put16(p + 14, (uint16_t)r->reasonlen);
	put64(p + 16, (uint64_t)r->exp);
	put64(p + 24, (uint64_t)r->ts);
	put64(p + 32, seq);
	if (r->isslen > 0)
		memcpy(s, r->iss, r->isslen);
	if (r->jtilen > 0)
		memcpy(s + r->isslen, r->jti, r->jtilen);
	if (r->reasonlen > 0)
		memcpy(s + r->isslen + r->jtilen, r->reason, r->reasonlen);
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

/* Check the fixed payload fields at q against plen; NULL or what is wrong. */
static const char *
jrec_check_fixed(const uint8_t *q, size_t plen)
{
	size_t	isslen = get16(q + 2), jtilen = get16(q + 4);
	size_t	reasonlen = get16(q + 6);

	if (q[0] != JOURNAL_REVOKE && q[0] != JOURNAL_UNREVOKE &&
	    q[0] != JOURNAL_MARK)
		return "bad record type";
	if ((q[1] & ~JOURNAL_FLAGS) != 0)
		return "bad flags";
	if (get64(q + 24) > JOURNAL_SEQ_MAX)
		return "sequence number out of range";
	if (q[0] == JOURNAL_MARK) {
		if (q[1] != 0 || isslen != 0 || jtilen != 0 ||
		    reasonlen != 0 || get64(q + 8) != 0 || get64(q + 16) != 0)
			return "bad mark record";
		if (plen != JOURNAL_FIXED)
			return "record length does not match field lengths";
		return NULL;
	}
	if (isslen > JOURNAL_ISS_MAX)
		return "iss too long";
	if (jtilen < 1 || jtilen > JOURNAL_JTI_MAX)
		return "jti length out of range";
	if (reasonlen > JOURNAL_REASON_MAX)
		return "reason too long";
	if (plen != JOURNAL_FIXED + isslen + jtilen + reasonlen)
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
 * Decode the record at p (avail bytes to the end of the data). Fills rec
 * (pointing into p) and *extent on JSCAN_OK; *extent is also set for
 * JSCAN_BAD. *what says what is wrong otherwise.
 */
static enum jscan
jrec_decode(const uint8_t *p, size_t avail, struct journal_rec *rec,
    size_t *extent, const char **what)
{
	const uint8_t	*q = p + JOURNAL_REC_HDR;
	size_t		 plen;
	const char	*bad;

	if (avail < JOURNAL_REC_HDR) {
		*what = "record header cut short";
		return JSCAN_SHORT;
	}
	plen = get32(p + 4);
	if (plen < JOURNAL_FIXED || plen > JOURNAL_PAYLOAD_MAX) {
		*what = "impossible record length";
		return JSCAN_BADLEN;
	}
	if (avail - JOURNAL_REC_HDR < plen) {
		*what = "record cut short";
		/* A torn write leaves a prefix of a valid record (or zeros):
		 * fixed fields that contradict the length are damage. */
		if (avail - JOURNAL_REC_HDR >= JOURNAL_FIXED &&
		    !all_zero(q, JOURNAL_FIXED) &&
		    (bad = jrec_check_fixed(q, plen)) != NULL) {
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
	if ((bad = jrec_check_fixed(q, plen)) != NULL) {
		*what = bad;
		return JSCAN_BAD;
	}
	rec->type = q[0];
	rec->flags = q[1];
	rec->isslen = get16(q + 2);
	rec->jtilen = get16(q + 4);
	rec->reasonlen = get16(q + 6);
	rec->exp = (int64_t)get64(q + 8);
	rec->ts = (int64_t)get64(q + 16);
	rec->seq = get64(q + 24);
	rec->iss = (const char *)q + JOURNAL_FIXED;
	rec->jti = rec->iss + rec->isslen;
	rec->reason = rec->jti + rec->jtilen;
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
 * checked), calling apply for each REVOKE and UNREVOKE whose seq is at
 * least floor; a snapshot (snap) must begin with a MARK. Returns 0 when
 * all are valid; 1 for a torn tail starting at res->end (only when
 * tail_ok); -1 for damage at res->end, with *what.
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

	memset(res, 0, sizeof *res);
	while (off < len) {
		r = jrec_decode(buf + off, len - off, &rec, &ext, what);
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

/* Check a file header; NULL or what is wrong. */
static const char *
jhdr_check(const uint8_t *p, size_t len)
{
	if (len < JOURNAL_HDR_LEN)
		return "header cut short";
	if (memcmp(p, JOURNAL_MAGIC, 4) != 0)
		return "bad magic (not a revokd journal)";
	if (get32(p + 4) == 1)
		return "unsupported format version 1 (written by an older "
		    "revokd; this one reads version " JOURNAL_VERSION_S ")";
	if (get32(p + 4) != JOURNAL_VERSION)
		return "unsupported format version (this revokd reads "
		    "version " JOURNAL_VERSION_S ")";
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
 * *max_seq the highest seq in it.
 */
static int
journal_load_snap(struct journal *j, journal_apply_cb apply, void *arg,
    uint64_t *floor, uint64_t *max_seq, char *err, size_t errlen)
{
	struct jmap		 m;
	struct jscan_res	 res;
	const char		*what;
	int			 fd, saved;

	*floor = *max_seq = 0;

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
	if ((what = jhdr_check(m.data, m.len)) != NULL) {
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

/*
 * Open and replay the log from seq floor on, dropping a torn tail, and a
 * log the snapshot wholly supersedes; 0 or -1 with err. Raises *max_seq to
 * the highest seq in the log.
 */
static int
journal_load_log(struct journal *j, journal_apply_cb apply, void *arg,
    uint64_t floor, uint64_t *max_seq, char *err, size_t errlen)
{
	struct jmap		 m;
	struct jscan_res	 res;
	const char		*what;
	uint8_t			 hdr[JOURNAL_HDR_LEN];
	size_t			 keep, len;
	int			 r;

	j->logfd = open(j->log_path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC,
	    0600);
	if (j->logfd == -1 || jmap_fd(j->logfd, &m) == -1)
		goto syserr;
	jhdr_make(hdr);
	if (m.len < JOURNAL_HDR_LEN && memcmp(m.data == NULL ? hdr : m.data,
	    hdr, m.len) == 0) {
		/* Empty, or a crash while creating it. */
		if (m.len > 0)
			log_warnx("%s: torn header, rewritten", j->log_path);
		j->torn_bytes = m.len;
		jmap_free(&m);
		if (ftruncate(j->logfd, 0) == -1 || journal_init_log(j) == -1)
			goto syserr;
		return 0;
	}
	if ((what = jhdr_check(m.data, m.len)) != NULL) {
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

/* Apply a record to bl as of horizon; 0, or -1 when out of memory. */
int
journal_rec_apply(struct blocklist *bl, const struct journal_rec *r,
    int64_t horizon)
{
	if (r->type == JOURNAL_UNREVOKE) {
		(void)blocklist_remove(bl, r->iss, r->isslen, r->jti,
		    r->jtilen, horizon);
		return 0;
	}
	if (r->exp <= horizon || r->exp > (int64_t)UINT32_MAX)
		return 0;	/* cannot be live */
	return blocklist_add(bl, r->iss, r->isslen, r->jti, r->jtilen,
	    r->exp, r->reason, r->reasonlen, horizon) == -1 ? -1 : 0;
}

/* Apply a record to a digest table during compaction. */
static void
compact_apply(const struct journal_rec *r, void *arg)
{
	void		**a = arg;
	const int64_t	*horizon = a[1];
	int		*failed = a[2];

	if (journal_rec_apply(a[0], r, *horizon) == -1)
		*failed = 1;
}

/* The snapshot being written by a compaction. */
struct compact_out {
	struct blocklist *bl;		/* the final state */
	int64_t		 horizon;	/* "now" for the table */
	int		 fd;		/* journal.snap.tmp */
	uint8_t		*buf;		/* write buffer */
	size_t		 len;		/* bytes in buf */
	size_t		 total;		/* bytes written in all */
	int		 failed;	/* a write failed (errno saved) */
	int		 err;		/* that errno */
};

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

/* Emit a REVOKE to the snapshot if it is live, once, as the table has it
 * (exp, reason) with the flags and seq of its first occurrence. */
static void
compact_emit(const struct journal_rec *r, void *arg)
{
	struct compact_out	*o = arg;
	struct blocklist_hit	 hit;
	struct journal_rec	 out;

	if (r->type != JOURNAL_REVOKE || !blocklist_lookup(o->bl, r->iss,
	    r->isslen, r->jti, r->jtilen, o->horizon, &hit))
		return;
	out = *r;
	out.exp = hit.exp;
	out.reason = hit.reason;
	out.reasonlen = hit.reason_len;
	if (out.reasonlen > JOURNAL_REASON_MAX)
		out.reasonlen = JOURNAL_REASON_MAX;	/* cannot happen */
	if (JOURNAL_WBUF - o->len < JOURNAL_REC_MAX)
		compact_flush(o);
	jrec_encode(o->buf + o->len, &out, out.seq);
	o->len += jrec_size(&out);
	/* Written once: later records of the same key are skipped. */
	blocklist_remove(o->bl, r->iss, r->isslen, r->jti, r->jtilen,
	    o->horizon);
}

/* Map the snapshot (if any) and the log for a compaction; 0 or -1. */
static int
compact_map(struct journal *j, struct jmap *snap, struct jmap *lg)
{
	const char	*what;
	int		 fd;

	snap->data = lg->data = NULL;
	snap->len = lg->len = 0;
	if ((fd = open(j->snap_path, O_RDONLY | O_CLOEXEC)) != -1) {
		if (jmap_fd(fd, snap) == -1) {
			log_warn("compaction: %s", j->snap_path);
			close(fd);
			return -1;
		}
		close(fd);
	} else if (errno != ENOENT) {
		log_warn("compaction: %s", j->snap_path);
		return -1;
	}
	if (jmap_fd(j->logfd, lg) == -1) {
		log_warn("compaction: %s", j->log_path);
		jmap_free(snap);
		return -1;
	}
	if ((snap->len > 0 && (what = jhdr_check(snap->data,
	    snap->len)) != NULL) ||
	    (what = jhdr_check(lg->data, lg->len)) != NULL) {
		log_warnx("compaction: %s", what);
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
compact_pass(const struct jmap *snap, const struct jmap *lg,
    journal_apply_cb fn, void *arg, uint64_t *max_seq)
{
	struct jscan_res	 res;
	const char		*what;
	uint64_t		 floor = 0;

	*max_seq = 0;
	if (snap->len > 0) {
		if (jscan_file(snap->data, snap->len, 1, 0, 0, fn, arg, &res,
		    &what) != 0) {
			log_warnx("compaction: snapshot offset %zu: %s",
			    res.end, what);
			return -1;
		}
		floor = res.mark + 1;
		*max_seq = res.max_seq;
	}
	if (jscan_file(lg->data, lg->len, 0, 0, floor, fn, arg, &res,
	    &what) != 0) {
		log_warnx("compaction: log offset %zu: %s", res.end, what);
		return -1;
	}
	if (res.max_seq > *max_seq)
		*max_seq = res.max_seq;
	return 0;
}

/*
 * Rewrite the snapshot as a MARK and the live entries of snapshot + log
 * and truncate the log; on the writer thread. Failures before the rename
 * leave the files as they were (logged); a crash between the rename and
 * the truncate leaves a snapshot whose MARK covers every record of the old
 * log, which is skipped at open. Returns 0, or -1 when the log was not
 * truncated.
 */
static int
journal_compact(struct journal *j)
{
	struct jmap		 snap, lg;
	struct compact_out	 o;
	uint8_t			 key[BLOCKLIST_KEY_LEN];
	void			*a[3];
	int			 failed = 0, rc = -1;
	uint64_t		 t0 = mono_usec(), mark, durable, seen;

	memset(&o, 0, sizeof o);
	o.fd = -1;
	if (compact_map(j, &snap, &lg) == -1)
		return -1;
	if (getrandom(key, sizeof key, 0) != (ssize_t)sizeof key) {
		log_warn("compaction: getrandom");
		goto out;
	}
	if ((o.bl = blocklist_new(key)) == NULL ||
	    (o.buf = malloc(JOURNAL_WBUF)) == NULL) {
		log_warnx("compaction: out of memory");
		goto out;
	}
	o.horizon = jnow(j) - j->exp_grace;
	a[0] = o.bl;
	a[1] = &o.horizon;
	a[2] = &failed;
	if (compact_pass(&snap, &lg, compact_apply, a, &mark) == -1)
		goto out;
	/* The highest seq issued whose record can be in the log: records
	 * handed over later are written after the truncation. durable is
	 * above the files' highest after a failed replacement. */
	durable = __atomic_load_n(&j->durable, __ATOMIC_ACQUIRE);
	if (durable > mark)
		mark = durable;
	if (failed) {
		log_warnx("compaction: digest table failed (out of memory?)");
		goto out;
	}
	o.fd = open(j->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600);
	if (o.fd == -1) {
		log_warn("compaction: %s", j->tmp_path);
		goto out;
	}
	jhdr_make(o.buf);
	jmark_encode(o.buf + JOURNAL_HDR_LEN, mark);
	o.len = JOURNAL_HDR_LEN + JOURNAL_MARK_LEN;
	if (compact_pass(&snap, &lg, compact_emit, &o, &seen) == -1)
		goto out;
	compact_flush(&o);
	if (o.failed) {
		errno = o.err;
		log_warn("compaction: write %s", j->tmp_path);
		goto out;
	}
	if (fsync(o.fd) == -1) {
		log_warn("compaction: fsync %s", j->tmp_path);
		goto out;
	}
	close(o.fd);
	o.fd = -1;
	if (rename(j->tmp_path, j->snap_path) == -1) {
		log_warn("compaction: rename %s", j->tmp_path);
		goto out;
	}
	if (fsync(j->dirfd) == -1) {
		/* The rename may not be durable: keep the log whole. */
		log_warn("compaction: fsync %s", j->dir);
		goto done;
	}
	if (ftruncate(j->logfd, JOURNAL_HDR_LEN) == -1)
		fatal("compaction: truncate %s", j->log_path);
	if (fsync(j->logfd) == -1)
		fatal("compaction: fsync %s", j->log_path);
	pthread_mutex_lock(&j->mu);
	j->log_bytes = JOURNAL_HDR_LEN;
	pthread_mutex_unlock(&j->mu);
	rc = 0;
done:
	pthread_mutex_lock(&j->mu);
	j->snap_bytes = o.total;
	j->compactions++;
	pthread_mutex_unlock(&j->mu);
	log_info("journal compacted: snapshot %zu bytes in %llu ms", o.total,
	    (unsigned long long)(mono_usec() - t0) / 1000);
out:
	if (o.fd != -1) {
		close(o.fd);
		unlink(j->tmp_path);
	}
	blocklist_free(o.bl);
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
	if (rename(j->tmp_path, j->snap_path) == -1) {
		log_warn("replace: rename %s", j->tmp_path);
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
		return -1;
	}
	if (ftruncate(j->logfd, JOURNAL_HDR_LEN) == -1)
		fatal("replace: truncate %s", j->log_path);
	if (fsync(j->logfd) == -1)
		fatal("replace: fsync %s", j->log_path);
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
			r = journal_compact(j);
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
	free(j);
}

/* Open or create the journal, replaying it through apply. */
struct journal *
journal_open(const struct journal_config *cfg, journal_apply_cb apply,
    void *arg, char *err, size_t errlen)
{
	struct journal	*j;
	uint64_t	 floor, max_seq;
	int		 saved;

	if ((j = calloc(1, sizeof *j)) == NULL)
		return NULL;
	j->logfd = j->dirfd = j->efd = -1;
	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->cv, NULL);
	j->exp_grace = cfg->exp_grace;
	j->compact_min = cfg->compact_min > 0 ? cfg->compact_min :
	    JOURNAL_COMPACT_MIN;
	j->clock = cfg->clock;
	j->unconfirmed = UINT64_MAX;
	if ((j->dir = strdup(cfg->dir)) == NULL ||
	    (j->log_path = jpath(cfg->dir, JOURNAL_LOG)) == NULL ||
	    (j->snap_path = jpath(cfg->dir, JOURNAL_SNAP)) == NULL ||
	    (j->tmp_path = jpath(cfg->dir, JOURNAL_SNAP_TMP)) == NULL) {
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
	if (journal_load_snap(j, apply, arg, &floor, &max_seq, err,
	    errlen) == -1 ||
	    journal_load_log(j, apply, arg, floor, &max_seq, err,
	    errlen) == -1)
		goto fail;
	/* Everything replayed is durable; seqs continue above it. */
	j->next_seq = max_seq + 1;
	j->durable = max_seq;
	/* A leftover of a compaction that did not finish. */
	if (unlink(j->tmp_path) == -1 && errno != ENOENT)
		log_warn("%s", j->tmp_path);
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
	__atomic_store_n(&j->unconfirmed, seq, __ATOMIC_RELEASE);
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
