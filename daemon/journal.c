/*
 * The local journal.
 *
 * Two files in the state directory, each an 8-byte header ("RVKJ" and a
 * u32 LE format version) followed by records:
 *
 *	u32 crc32c	over every byte of the record after this field
 *	u32 length	of the payload
 *	payload:	u8 type, u8 0, u16 isslen, u16 jtilen, u16 reasonlen,
 *			i64 exp, i64 ts, iss, jti, reason
 *
 * all little-endian. journal.snap holds the live entries as of the last
 * compaction and is only ever written whole and renamed into place, so any
 * damage in it is an error. journal.log holds every write since. A crash
 * while appending can only leave a prefix of the last batch, so a bad
 * record that reaches the end of the log is a torn tail (dropped, the log
 * truncated); a bad record followed by more bytes is corruption (refused).
 *
 * The loop thread appends into "queued"; journal_kick swaps it with the
 * writer thread's (empty) batch buffer when the writer is idle, so every
 * write made while a batch is being synced shares the next fsync (group
 * commit). The writer publishes the batch's last sequence number as durable
 * and writes to an eventfd the loop watches. Compaction runs on the writer
 * thread between batches; appends made meanwhile wait in "queued".
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
#define JOURNAL_VERSION		1	/* format version; bump on change */
#define JOURNAL_HDR_LEN		8	/* magic + version */
#define JOURNAL_REC_HDR		8	/* crc + payload length */
#define JOURNAL_FIXED		24	/* payload bytes before the strings */
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
	uint64_t	 batch_last;	/* seq of the last record in batch */
	int		 batch_ready;	/* batch is waiting to be written */
	int		 busy;		/* writer has a batch or compacts */
	int		 compact_req;	/* compaction requested */
	int		 stop;		/* writer must exit */
	uint64_t	 log_bytes;	/* size of journal.log */
	uint64_t	 snap_bytes;	/* size of journal.snap */
	uint64_t	 syncs;		/* batches written and synced */
	uint64_t	 compactions;	/* compactions completed */
	uint64_t	 last_sync_usec; /* duration of the last batch */
	uint64_t	 compact_floor;	/* no auto compaction below (after a
					   failed one) */
	uint64_t	 durable;	/* highest durable seq (atomic) */
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

/* Return 1 if a record's type and lengths are legal. */
static int
jrec_valid(const struct journal_rec *r)
{
	if (r->type != JOURNAL_REVOKE && r->type != JOURNAL_UNREVOKE)
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

/* Encode a valid record into p (jrec_size bytes). */
static void
jrec_encode(uint8_t *p, const struct journal_rec *r)
{
	size_t	 plen = jrec_size(r) - JOURNAL_REC_HDR;
	uint8_t	*s = p + JOURNAL_REC_HDR + JOURNAL_FIXED;

	put32(p + 4, (uint32_t)plen);
	p[8] = (uint8_t)r->type;
	p[9] = 0;
	put16(p + 10, (uint16_t)r->isslen);
	put16(p + 12, (uint16_t)r->jtilen);
	put16(p + 14, (uint16_t)r->reasonlen);
	put64(p + 16, (uint64_t)r->exp);
	put64(p + 24, (uint64_t)r->ts);
	if (r->isslen > 0)
		memcpy(s, r->iss, r->isslen);
	memcpy(s + r->isslen, r->jti, r->jtilen);
	if (r->reasonlen > 0)
		memcpy(s + r->isslen + r->jtilen, r->reason, r->reasonlen);
	put32(p, crc32c(0, p + 4, JOURNAL_REC_HDR - 4 + plen));
}

/* Check the fixed payload fields at q against plen; NULL or what is wrong. */
static const char *
jrec_check_fixed(const uint8_t *q, size_t plen)
{
	size_t	isslen = get16(q + 2), jtilen = get16(q + 4);
	size_t	reasonlen = get16(q + 6);

	if (q[0] != JOURNAL_REVOKE && q[0] != JOURNAL_UNREVOKE)
		return "bad record type";
	if (q[1] != 0)
		return "nonzero padding";
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
	rec->isslen = get16(q + 2);
	rec->jtilen = get16(q + 4);
	rec->reasonlen = get16(q + 6);
	rec->exp = (int64_t)get64(q + 8);
	rec->ts = (int64_t)get64(q + 16);
	rec->iss = (const char *)q + JOURNAL_FIXED;
	rec->jti = rec->iss + rec->isslen;
	rec->reason = rec->jti + rec->jtilen;
	return JSCAN_OK;
}

/*
 * Scan the records of a whole file image (header included, already
 * checked), calling apply for each. Returns 0 when all are valid; 1 for a
 * torn tail starting at *end (only when tail_ok); -1 for damage at *end,
 * with *what. *count is the number of records applied.
 */
static int
jscan_file(const uint8_t *buf, size_t len, int tail_ok,
    journal_apply_cb apply, void *arg, uint64_t *count, size_t *end,
    const char **what)
{
	struct journal_rec	 rec;
	size_t			 off = JOURNAL_HDR_LEN, ext = 0;
	enum jscan		 r;

	*count = 0;
	while (off < len) {
		r = jrec_decode(buf + off, len - off, &rec, &ext, what);
		if (r == JSCAN_OK) {
			if (apply != NULL)
				apply(&rec, arg);
			(*count)++;
			off += ext;
			continue;
		}
		*end = off;
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
	*end = len;
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
	if (get32(p + 4) != JOURNAL_VERSION)
		return "unsupported format version";
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

/* Replay the snapshot, if any; 0 or -1 with err. */
static int
journal_load_snap(struct journal *j, journal_apply_cb apply, void *arg,
    char *err, size_t errlen)
{
	struct jmap	 m;
	const char	*what;
	uint64_t	 n;
	size_t		 end;
	int		 fd, saved;

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
	if (jscan_file(m.data, m.len, 0, apply, arg, &n, &end, &what) != 0) {
		jerr(err, errlen, "%s: offset %zu: %s", j->snap_path, end,
		    what);
		jmap_free(&m);
		return -1;
	}
	j->replayed += n;
	j->snap_bytes = m.len;
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

/* Open and replay the log, dropping a torn tail; 0 or -1 with err. */
static int
journal_load_log(struct journal *j, journal_apply_cb apply, void *arg,
    char *err, size_t errlen)
{
	struct jmap	 m;
	const char	*what;
	uint8_t		 hdr[JOURNAL_HDR_LEN];
	uint64_t	 n;
	size_t		 end, len;
	int		 r;

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
	r = jscan_file(m.data, m.len, 1, apply, arg, &n, &end, &what);
	len = m.len;
	jmap_free(&m);
	j->replayed += n;
	if (r == -1) {
		jerr(err, errlen, "%s: offset %zu: %s", j->log_path, end,
		    what);
		return -1;
	}
	j->log_bytes = end;
	if (r == 1) {
		j->torn_bytes = len - end;
		log_warnx("%s: offset %zu: torn tail of %zu bytes dropped "
		    "(%s)",
		    j->log_path, end, len - end, what);
		if (ftruncate(j->logfd, (off_t)end) == -1 ||
		    fsync(j->logfd) == -1)
			goto syserr;
	}
	return 0;

syserr:
	jerr(err, errlen, "%s: %s", j->log_path, strerror(errno));
	return -1;
}

/* Apply a record to a digest table during compaction. */
static void
compact_apply(const struct journal_rec *r, void *arg)
{
	void		**a = arg;
	struct blocklist *bl = a[0];
	const int64_t	*horizon = a[1];
	int		*failed = a[2];

	if (r->type == JOURNAL_UNREVOKE) {
		blocklist_remove(bl, r->iss, r->isslen, r->jti, r->jtilen,
		    *horizon);
		return;
	}
	if (r->exp <= *horizon)
		return;		/* expired: cannot be live */
	if (blocklist_add(bl, r->iss, r->isslen, r->jti, r->jtilen, r->exp,
	    r->reason, r->reasonlen, *horizon) == -1)
		*failed = 1;	/* OOM, or an exp the table cannot hold */
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

/* Emit a REVOKE to the snapshot if it is live, once, as the table has it. */
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
	jrec_encode(o->buf + o->len, &out);
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

/* Scan both images through fn; 0 or -1 if either is damaged. */
static int
compact_pass(const struct jmap *snap, const struct jmap *lg,
    journal_apply_cb fn, void *arg)
{
	const char	*what;
	uint64_t	 n;
	size_t		 end;

	if (snap->len > 0 && jscan_file(snap->data, snap->len, 0, fn, arg,
	    &n, &end, &what) != 0) {
		log_warnx("compaction: snapshot offset %zu: %s", end, what);
		return -1;
	}
	if (jscan_file(lg->data, lg->len, 0, fn, arg, &n, &end, &what) != 0) {
		log_warnx("compaction: log offset %zu: %s", end, what);
		return -1;
	}
	return 0;
}

/*
 * Rewrite the snapshot as the live entries of snapshot + log and truncate
 * the log; on the writer thread. Failures before the rename leave the
 * files as they were (logged); a crash between the rename and the truncate
 * leaves a snapshot whose entries the old log repeats, which replays to
 * the same state. Returns 0, or -1 when the log was not truncated.
 */
static int
journal_compact(struct journal *j)
{
	struct jmap		 snap, lg;
	struct compact_out	 o;
	uint8_t			 key[BLOCKLIST_KEY_LEN];
	void			*a[3];
	int			 failed = 0, rc = -1;
	uint64_t		 t0 = mono_usec();

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
	if (compact_pass(&snap, &lg, compact_apply, a) == -1)
		goto out;
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
	o.len = JOURNAL_HDR_LEN;
	if (compact_pass(&snap, &lg, compact_emit, &o) == -1)
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

/* Write batches and compact until told to stop; the writer thread. */
static void *
journal_writer(void *arg)
{
	struct journal	*j = arg;
	uint64_t	 t0, last;
	int		 held, r;

	pthread_mutex_lock(&j->mu);
	for (;;) {
		/* Compaction first: under a steady stream of batches the
		 * writer would otherwise never be idle. A batch handed over
		 * meanwhile waits, and so do the appends behind it. */
		if (!j->stop && (j->compact_req || journal_want_compact(j))) {
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
			pthread_mutex_unlock(&j->mu);
			t0 = mono_usec();
			if (write_all(j->logfd, j->batch.data,
			    j->batch.len) == -1)
				fatal("journal: write %s", j->log_path);
			if (fdatasync(j->logfd) == -1)
				fatal("journal: fdatasync %s", j->log_path);
			pthread_mutex_lock(&j->mu);
			j->last_sync_usec = mono_usec() - t0;
			j->log_bytes += j->batch.len;
			j->syncs++;
			j->batch.len = 0;
			j->batch_ready = 0;
			j->busy = 0;
			last = j->batch_last;
			__atomic_store_n(&j->durable, last, __ATOMIC_RELEASE);
			pthread_mutex_unlock(&j->mu);
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
	j->next_seq = 1;
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
	if (journal_load_snap(j, apply, arg, err, errlen) == -1 ||
	    journal_load_log(j, apply, arg, err, errlen) == -1)
		goto fail;
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

/* Queue a record; return its seq or 0. */
uint64_t
journal_append(struct journal *j, const struct journal_rec *r)
{
	if (!jrec_valid(r)) {
		log_warnx("journal: invalid record not appended");
		return 0;
	}
	if (jbuf_reserve(&j->queued, jrec_size(r)) == -1)
		return 0;
	jrec_encode(j->queued.data + j->queued.len, r);
	j->queued.len += jrec_size(r);
	j->queued_last = j->next_seq;
	j->records++;
	return j->next_seq++;
}

/* Hand queued records to the writer if it is idle. */
void
journal_kick(struct journal *j)
{
	struct jbuf	tmp;

	if (j->queued.len == 0)
		return;
	pthread_mutex_lock(&j->mu);
	if (!j->busy) {
		/* batch is empty whenever the writer is idle. */
		tmp = j->batch;
		j->batch = j->queued;
		j->queued = tmp;
		j->queued.len = 0;
		j->batch_last = j->queued_last;
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

/* Ask the writer for a compaction. */
void
journal_request_compact(struct journal *j)
{
	pthread_mutex_lock(&j->mu);
	j->compact_req = 1;
	pthread_cond_signal(&j->cv);
	pthread_mutex_unlock(&j->mu);
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
