/* Unit tests of the journal: format, replay, torn tails, corruption,
 * group commit, sequence numbers and flags, the rule records and their
 * audit trail, compaction, replacement and their crash safety, the upgrade
 * from format 2, listing. */
#include <sys/stat.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blocklist.h"
#include "crc32c.h"
#include "journal.h"
#include "rules.h"

#define NOW		1700000000	/* the injected clock's start */
#define DEADLINE_MS	30000		/* longest wait for the writer */
#define HDR		8		/* file header bytes */
#define FIXED		48		/* record payload before the strings */
#define FIXED_V2	32		/* the same in format 2 */
#define LIFETIME	3600		/* the journal's token lifetime */
#define REC(s)		(8 + FIXED + (s)) /* record with s string bytes */
#define MARK		REC(0)		/* a MARK record */
#define BIG_N		100000		/* records of the big run */
#define MAX_SEEN	64		/* records kept by a collector */

/* Fail the test unless cond, without a report per passing check. */
#define EXPECT(cond) do {						\
	if (!(cond))							\
		ck_abort_msg("line %d: %s", __LINE__, #cond);		\
} while (0)

static int64_t	test_now = NOW;		/* the injected clock */
static size_t	test_audit_keep;	/* topen's cfg.audit_keep */
static int	test_hold;		/* topen's cfg.hold_compaction */
static size_t	test_compact_min;	/* topen's cfg.compact_min (0: 1 GiB,
					 * only on request) */

/* Return the injected time. */
static int64_t
test_clock(void)
{
	return test_now;
}

/* A record generated from its index, with the strings it points to. */
struct gen {
	char			 iss[32];	/* issuer */
	char			 jti[32];	/* token id */
	char			 reason[128];	/* reason */
	char			 comm[JOURNAL_COMM_MAX + 1]; /* process */
	char			 host[32];	/* host */
	struct journal_rec	 rec;		/* pointing into the above */
};

/* Fill g with record number i (every 7th an UNREVOKE of i - 1, every 5th
 * learned from Redis, every 3rd without an audit trail). */
static void
gen_rec(struct gen *g, uint64_t i)
{
	int		unrevoke = i % 7 == 6;
	uint64_t	key = unrevoke ? i - 1 : i;	/* whose entry */

	memset(&g->rec, 0, sizeof g->rec);

	snprintf(g->iss, sizeof g->iss, "https://iss%llu.example",
	    (unsigned long long)(key % 3));
	snprintf(g->jti, sizeof g->jti, "jti-%08llu",
	    (unsigned long long)key);
	snprintf(g->reason, sizeof g->reason,
	    "reason %llu: key compromise reported by the security team "
	    "on the incident channel", (unsigned long long)i);
	g->rec.type = unrevoke ? JOURNAL_UNREVOKE : JOURNAL_REVOKE;
	g->rec.flags = i % 5 == 4 ? JOURNAL_F_REMOTE : 0;
	g->rec.exp = unrevoke ? 0 : NOW + 100000 + (int64_t)i;
	g->rec.ts = NOW + (int64_t)i;
	g->rec.iss = g->iss;
	g->rec.isslen = key % 11 == 10 ? 0 : strlen(g->iss);
	g->rec.jti = g->jti;
	g->rec.jtilen = strlen(g->jti);
	g->rec.reason = g->reason;
	g->rec.reasonlen = unrevoke ? 0 : strlen(g->reason);
	if (i % 3 == 2) {
		g->rec.uid = g->rec.gid = JOURNAL_NOBODY;
		return;
	}
	/* The longest comm now and then. */
	if (i % 13 == 0) {
		memset(g->comm, 'c', JOURNAL_COMM_MAX);
		g->comm[JOURNAL_COMM_MAX] = '\0';
	} else
		snprintf(g->comm, sizeof g->comm, "revokectl");
	snprintf(g->host, sizeof g->host, "host%llu.example",
	    (unsigned long long)(i % 4));
	g->rec.uid = (uint32_t)(1000 + i);
	g->rec.gid = (uint32_t)(100 + i % 10);
	g->rec.pid = (uint32_t)(40000 + i);
	g->rec.comm = g->comm;
	g->rec.commlen = strlen(g->comm);
	g->rec.host = g->host;
	g->rec.hostlen = strlen(g->host);
}

/* Return the encoded size of record i. */
static size_t
gen_size(uint64_t i)
{
	struct gen	g;

	gen_rec(&g, i);
	return REC(g.rec.isslen + g.rec.jtilen + g.rec.reasonlen +
	    g.rec.commlen + g.rec.hostlen);
}

/* Replay check: each record must equal gen_rec(next), with seq next + 1
 * (records appended in order to a new journal). */
struct expect {
	uint64_t	 next;		/* index expected next */
	uint64_t	 bad;		/* mismatches seen */
};

/* Return 1 if the strings of a and b are equal (either may be NULL when
 * empty). */
static int
str_eq(const char *a, size_t alen, const char *b, size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* Compare a replayed record with the generated one. */
static void
expect_apply(const struct journal_rec *r, void *arg)
{
	struct expect	*e = arg;
	struct gen	 g;

	gen_rec(&g, e->next++);
	if (r->type != g.rec.type || r->flags != g.rec.flags ||
	    r->seq != e->next || r->exp != g.rec.exp ||
	    r->ts != g.rec.ts || r->isslen != g.rec.isslen ||
	    r->jtilen != g.rec.jtilen || r->reasonlen != g.rec.reasonlen ||
	    memcmp(r->iss, g.rec.iss, r->isslen) != 0 ||
	    memcmp(r->jti, g.rec.jti, r->jtilen) != 0 ||
	    memcmp(r->reason, g.rec.reason, r->reasonlen) != 0 ||
	    r->uid != g.rec.uid || r->gid != g.rec.gid ||
	    r->pid != g.rec.pid ||
	    !str_eq(r->comm, r->commlen, g.rec.comm, g.rec.commlen) ||
	    !str_eq(r->host, r->hostlen, g.rec.host, g.rec.hostlen))
		e->bad++;
}

/* Keeps the jtis, exps, flags and seqs of replayed records. */
struct seen {
	size_t	 n;			/* records seen */
	char	 jti[MAX_SEEN][64];	/* their jtis */
	int	 type[MAX_SEEN];	/* their types */
	int64_t	 exp[MAX_SEEN];		/* their exps */
	int	 flags[MAX_SEEN];	/* their flags */
	uint64_t seq[MAX_SEEN];		/* their seqs */
};

/* Record a replayed record. */
static void
seen_apply(const struct journal_rec *r, void *arg)
{
	struct seen	*s = arg;

	if (s->n < MAX_SEEN && r->jtilen < sizeof s->jti[0]) {
		memcpy(s->jti[s->n], r->jti, r->jtilen);
		s->jti[s->n][r->jtilen] = '\0';
		s->type[s->n] = r->type;
		s->exp[s->n] = r->exp;
		s->flags[s->n] = r->flags;
		s->seq[s->n] = r->seq;
	}
	s->n++;
}

static char	test_dir[64];		/* this test's state directory */

/* Return a path in the test directory (static buffer). */
static const char *
tpath(const char *name)
{
	static char	buf[4][128];
	static int	k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof buf[k], "%s/%s", test_dir, name);
	return buf[k];
}

/* Make a fresh state directory. */
static void
setup(void)
{
	snprintf(test_dir, sizeof test_dir, "/tmp/test_journal.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(test_dir));
	test_now = NOW;
	test_audit_keep = 0;
	test_hold = 0;
	test_compact_min = 0;
}

/* Remove the state directory. */
static void
teardown(void)
{
	static const char *names[] = { "journal.log", "journal.snap",
	    "journal.snap.tmp", "journal.log.tmp", "saved.log", "saved.snap",
	    "orig.log", "v2.log", "v2.snap" };
	size_t	i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		unlink(tpath(names[i]));
	rmdir(tpath("journal.snap.tmp"));	/* test_replace_fails */
	rmdir(test_dir);
}

/* Open the test journal; NULL with err on failure. */
static struct journal *
topen(journal_apply_cb apply, void *arg, char *err, size_t errlen)
{
	struct journal_config	cfg;

	memset(&cfg, 0, sizeof cfg);
	cfg.dir = test_dir;
	cfg.exp_grace = 0;
	cfg.compact_min = test_compact_min > 0 ? test_compact_min :
	    1u << 30;			/* only on request */
	cfg.clock = test_clock;
	cfg.lifetime = LIFETIME;
	cfg.audit_keep = test_audit_keep;
	cfg.hold_compaction = test_hold;
	err[0] = '\0';
	return journal_open(&cfg, apply, arg, err, errlen);
}

/* Open the test journal, failing the test on error. */
static struct journal *
topen_ok(journal_apply_cb apply, void *arg)
{
	struct journal	*j;
	char		 err[256];

	j = topen(apply, arg, err, sizeof err);
	ck_assert_msg(j != NULL, "journal_open: %s", err);
	return j;
}

/* Return the monotonic time in ms. */
static int64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait on the notify fd until done(j) or the deadline; returns done. The
 * fd is polled in short slices: not every change done looks at is
 * notified. */
static int
wait_for(struct journal *j, int (*done)(struct journal *, uint64_t),
    uint64_t arg)
{
	struct pollfd	pfd;
	int64_t		end = now_ms() + DEADLINE_MS, left;

	pfd.fd = journal_notify_fd(j);
	pfd.events = POLLIN;
	for (;;) {
		journal_collect(j);
		if (done(j, arg))
			return 1;
		if ((left = end - now_ms()) <= 0)
			return 0;
		if (poll(&pfd, 1, left < 10 ? (int)left : 10) == -1 &&
		    errno != EINTR)
			return 0;
	}
}

/* Return 1 when seq is durable. */
static int
is_durable(struct journal *j, uint64_t seq)
{
	return journal_durable(j) >= seq;
}

/* Return 1 when n compactions completed. */
static int
compacted(struct journal *j, uint64_t n)
{
	struct journal_stats	st;

	journal_get_stats(j, &st);
	return st.compactions >= n;
}

/* Append records [from, to) and return the last seq. */
static uint64_t
append_range(struct journal *j, uint64_t from, uint64_t to)
{
	struct gen	g;
	uint64_t	i, seq = 0;

	for (i = from; i < to; i++) {
		gen_rec(&g, i);
		seq = journal_append(j, &g.rec);
		EXPECT(seq != 0);
	}
	return seq;
}

/* Write n generated records to a fresh journal and close it. */
static void
make_journal(uint64_t n)
{
	struct journal	*j = topen_ok(NULL, NULL);

	append_range(j, 0, n);
	ck_assert_int_eq(journal_close(j), 0);
}

/* Return the size of a file in the test dir. */
static off_t
fsize(const char *name)
{
	struct stat	st;

	ck_assert_int_eq(stat(tpath(name), &st), 0);
	return st.st_size;
}

/* Copy a file in the test dir. */
static void
fcopy(const char *from, const char *to)
{
	char	buf[65536];
	ssize_t	n;
	int	in, out;

	ck_assert_int_ne(in = open(tpath(from), O_RDONLY), -1);
	ck_assert_int_ne(out = open(tpath(to), O_WRONLY | O_CREAT | O_TRUNC,
	    0600), -1);
	while ((n = read(in, buf, sizeof buf)) > 0)
		ck_assert_int_eq(write(out, buf, (size_t)n), n);
	close(in);
	close(out);
}

/* XOR the byte at off of a file with mask. */
static void
fflip(const char *name, off_t off, uint8_t mask)
{
	uint8_t	b;
	int	fd;

	ck_assert_int_ne(fd = open(tpath(name), O_RDWR), -1);
	ck_assert_int_eq(pread(fd, &b, 1, off), 1);
	b ^= mask;
	ck_assert_int_eq(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

/* Append bytes to a file. */
static void
fappend(const char *name, const void *p, size_t n)
{
	int	fd;

	ck_assert_int_ne(fd = open(tpath(name), O_WRONLY | O_APPEND), -1);
	ck_assert_int_eq(write(fd, p, n), (ssize_t)n);
	close(fd);
}

START_TEST(test_crc32c_vectors)
{
	static const uint8_t	zeros[32];

	ck_assert_uint_eq(crc32c(0, "123456789", 9), 0xe3069283);
	ck_assert_uint_eq(crc32c(0, "", 0), 0);
	/* RFC 3720 B.4: 32 bytes of zeros. */
	ck_assert_uint_eq(crc32c(0, zeros, sizeof zeros), 0x8a9136aa);
	/* Incremental equals one shot. */
	ck_assert_uint_eq(crc32c(crc32c(0, "12345", 5), "6789", 4),
	    0xe3069283);
}
END_TEST

START_TEST(test_roundtrip)
{
	struct journal		*j;
	struct journal_stats	 st;
	struct expect		 e = { 0, 0 };
	uint64_t		 last;

	j = topen_ok(NULL, NULL);
	last = append_range(j, 0, 200);
	ck_assert_uint_eq(last, 200);
	ck_assert_int_eq(journal_close(j), 0);

	j = topen_ok(expect_apply, &e);
	ck_assert_uint_eq(e.next, 200);
	ck_assert_uint_eq(e.bad, 0);
	journal_get_stats(j, &st);
	ck_assert_uint_eq(st.replayed, 200);
	ck_assert_uint_eq(st.torn_bytes, 0);
	ck_assert_uint_eq(st.log_bytes, (uint64_t)fsize("journal.log"));
	/* Appends continue after the replayed records, and so do seqs. */
	ck_assert_uint_eq(append_range(j, 200, 210), 210);
	ck_assert_int_eq(journal_close(j), 0);
	e.next = e.bad = 0;
	j = topen_ok(expect_apply, &e);
	ck_assert_uint_eq(e.next, 210);
	ck_assert_uint_eq(e.bad, 0);
	journal_close(j);
}
END_TEST

START_TEST(test_invalid_append)
{
	struct journal	*j = topen_ok(NULL, NULL);
	struct gen	 g;

	gen_rec(&g, 0);
	g.rec.jtilen = 0;
	ck_assert_uint_eq(journal_append(j, &g.rec), 0);
	gen_rec(&g, 0);
	g.rec.reasonlen = 513;
	ck_assert_uint_eq(journal_append(j, &g.rec), 0);
	gen_rec(&g, 0);
	g.rec.type = 9;
	ck_assert_uint_eq(journal_append(j, &g.rec), 0);
	gen_rec(&g, 0);
	ck_assert_uint_eq(journal_append(j, &g.rec), 1);
	journal_close(j);
}
END_TEST

START_TEST(test_group_commit)
{
	struct journal		*j = topen_ok(NULL, NULL);
	struct journal_stats	 st;
	uint64_t		 last;

	last = append_range(j, 0, 1000);
	ck_assert_uint_eq(journal_durable(j), 0);
	journal_get_stats(j, &st);
	ck_assert_uint_eq(st.pending, 1000);
	journal_kick(j);
	ck_assert_int_eq(wait_for(j, is_durable, last), 1);
	ck_assert_uint_eq(journal_durable(j), 1000);
	journal_get_stats(j, &st);
	ck_assert_uint_lt(st.syncs, 1000);
	ck_assert_uint_ge(st.syncs, 1);
	ck_assert_uint_eq(st.records, 1000);
	ck_assert_uint_eq(st.pending, 0);
	ck_assert_uint_eq(st.log_bytes, (uint64_t)fsize("journal.log"));
	journal_close(j);
}
END_TEST

START_TEST(test_durable_monotonic)
{
	struct journal	*j = topen_ok(NULL, NULL);
	struct pollfd	 pfd;
	uint64_t	 last = 0, d, prev = 0, i;
	int64_t		 end = now_ms() + DEADLINE_MS;

	pfd.fd = journal_notify_fd(j);
	pfd.events = POLLIN;
	for (i = 0; i < 50; i++) {
		last = append_range(j, i * 20, i * 20 + 20);
		journal_kick(j);
		d = journal_collect(j);
		EXPECT(d >= prev && d <= last);
		prev = d;
	}
	while ((d = journal_collect(j)) < last) {
		EXPECT(d >= prev);
		prev = d;
		ck_assert_int_lt(now_ms(), end);
		poll(&pfd, 1, 1000);
	}
	ck_assert_uint_eq(d, 1000);
	ck_assert_uint_eq(journal_durable(j), 1000);
	journal_close(j);
}
END_TEST

START_TEST(test_torn_tail_every_cut)
{
	struct journal		*j;
	struct journal_stats	 st;
	struct expect		 e;
	off_t			 full, start, cut;

	make_journal(10);
	fcopy("journal.log", "orig.log");
	full = fsize("journal.log");
	start = full - (off_t)gen_size(9);
	for (cut = start; cut < full; cut++) {
		fcopy("orig.log", "journal.log");
		ck_assert_int_eq(truncate(tpath("journal.log"), cut), 0);
		e.next = e.bad = 0;
		j = topen_ok(expect_apply, &e);
		ck_assert_uint_eq(e.next, 9);
		ck_assert_uint_eq(e.bad, 0);
		journal_get_stats(j, &st);
		ck_assert_uint_eq(st.replayed, 9);
		ck_assert_uint_eq(st.torn_bytes, (uint64_t)(cut - start));
		ck_assert_int_eq(fsize("journal.log"), start);
		journal_close(j);
	}
}
END_TEST

START_TEST(test_torn_tail_garbage)
{
	static const uint8_t	zeros[300];
	struct journal		*j;
	struct journal_stats	 st;
	struct expect		 e = { 0, 0 };
	off_t			 full;

	/* Zero fill past the data, as a crash can leave it. */
	make_journal(10);
	full = fsize("journal.log");
	fappend("journal.log", zeros, sizeof zeros);
	j = topen_ok(expect_apply, &e);
	ck_assert_uint_eq(e.next, 10);
	journal_get_stats(j, &st);
	ck_assert_uint_eq(st.torn_bytes, sizeof zeros);
	journal_close(j);
	ck_assert_int_eq(fsize("journal.log"), full);

	/* A last record whose bytes did not all reach the disk. */
	fflip("journal.log", full - 3, 0x40);
	e.next = 0;
	j = topen_ok(expect_apply, &e);
	ck_assert_uint_eq(e.next, 9);
	journal_get_stats(j, &st);
	ck_assert_uint_eq(st.torn_bytes, gen_size(9));
	journal_close(j);
}
END_TEST

/* After a power cut the unsynced end of the log may read back as zeros
 * over several records: a torn tail, not corruption (none of it was ever
 * acknowledged). */
START_TEST(test_torn_tail_zero_filled)
{
	static const uint8_t	zeros[4096];
	struct journal		*j;
	struct journal_stats	 st;
	struct expect		 e = { 0, 0 };
	off_t			 full, start8 = HDR;
	int			 fd, i;

	make_journal(10);
	full = fsize("journal.log");
	for (i = 0; i < 8; i++)
		start8 += (off_t)gen_size((uint64_t)i);
	ck_assert_int_lt(full - start8 - 5, (off_t)sizeof zeros);
	/* Record 8 keeps its length but loses its end; record 9 is gone. */
	ck_assert_int_ne(fd = open(tpath("journal.log"), O_RDWR), -1);
	ck_assert_int_eq(pwrite(fd, zeros, (size_t)(full - start8 - 5),
	    start8 + 5), full - start8 - 5);
	close(fd);
	j = topen_ok(expect_apply, &e);
	ck_assert_uint_eq(e.next, 8);
	ck_assert_uint_eq(e.bad, 0);
	journal_get_stats(j, &st);
	ck_assert_uint_eq(st.torn_bytes, (uint64_t)(full - start8));
	ck_assert_int_eq(fsize("journal.log"), start8);
	journal_close(j);
}
END_TEST

START_TEST(test_corrupt_mid_file)
{
	static const uint8_t	masks[] = { 0x01, 0x80, 0xff };
	struct journal		*j;
	char			 err[256], want[128];
	off_t			 off3 = HDR, len3, k;
	size_t			 m;
	int			 i;

	make_journal(10);
	fcopy("journal.log", "orig.log");
	for (i = 0; i < 3; i++)
		off3 += (off_t)gen_size((uint64_t)i);
	len3 = (off_t)gen_size(3);
	snprintf(want, sizeof want, "journal.log: offset %lld:",
	    (long long)off3);
	for (k = 0; k < len3; k++) {
		for (m = 0; m < sizeof masks; m++) {
			fcopy("orig.log", "journal.log");
			fflip("journal.log", off3 + k, masks[m]);
			j = topen(NULL, NULL, err, sizeof err);
			ck_assert_msg(j == NULL, "byte %lld mask %x opened",
			    (long long)k, masks[m]);
			ck_assert_msg(strstr(err, want) != NULL,
			    "byte %lld: \"%s\"", (long long)k, err);
			ck_assert_ptr_nonnull(strstr(err, test_dir));
		}
	}
	/* The file was left alone. */
	ck_assert_int_eq(fsize("journal.log"), fsize("orig.log"));
}
END_TEST

START_TEST(test_bad_header)
{
	struct journal	*j;
	char		 err[256];

	make_journal(3);
	fflip("journal.log", 0, 0x20);
	j = topen(NULL, NULL, err, sizeof err);
	ck_assert_ptr_null(j);
	ck_assert_ptr_nonnull(strstr(err, "journal.log: bad magic"));

	fflip("journal.log", 0, 0x20);
	fflip("journal.log", 4, 0x02);
	j = topen(NULL, NULL, err, sizeof err);
	ck_assert_ptr_null(j);
	ck_assert_ptr_nonnull(strstr(err, "journal.log: unsupported"));

	/* A snapshot with a bad magic is named as such. */
	fflip("journal.log", 4, 0x02);
	fcopy("journal.log", "journal.snap");
	fflip("journal.snap", 1, 0x01);
	j = topen(NULL, NULL, err, sizeof err);
	ck_assert_ptr_null(j);
	ck_assert_ptr_nonnull(strstr(err, "journal.snap: bad magic"));
}
END_TEST

START_TEST(test_snapshot_damage)
{
	struct journal	*j;
	char		 err[256];
	off_t		 full;

	/* A snapshot is the same format, beginning with a MARK; any damage
	 * is fatal, even at the end, because it is only ever renamed into
	 * place whole. */
	make_journal(5);
	j = topen_ok(NULL, NULL);
	journal_request_compact(j);
	ck_assert_int_eq(wait_for(j, compacted, 1), 1);
	journal_close(j);
	fcopy("journal.snap", "saved.snap");
	full = fsize("saved.snap");
	unlink(tpath("journal.log"));
	j = topen_ok(NULL, NULL);
	journal_close(j);

	/* In the first record after the MARK. */
	fcopy("saved.snap", "journal.snap");
	fflip("journal.snap", HDR + MARK + 9, 0x01);
	j = topen(NULL, NULL, err, sizeof err);
	ck_assert_ptr_null(j);
	ck_assert_msg(strstr(err, "journal.snap: offset 64:") != NULL,
	    "%s", err);

	/* In the MARK. */
	fcopy("saved.snap", "journal.snap");
	fflip("journal.snap", HDR + 20, 0x01);
	j = topen(NULL, NULL, err, sizeof err);
	ck_assert_ptr_null(j);
	ck_assert_msg(strstr(err, "journal.snap: offset 8:") != NULL,
	    "%s", err);

	fcopy("saved.snap", "journal.snap");
	ck_assert_int_eq(truncate(tpath("journal.snap"), full - 1), 0);
	j = topen(NULL, NULL, err, sizeof err);
	ck_assert_ptr_null(j);
	ck_assert_ptr_nonnull(strstr(err, "journal.snap: offset "));
	ck_assert_ptr_nonnull(strstr(err, "cut short"));

	fcopy("saved.snap", "journal.snap");
	ck_assert_int_eq(truncate(tpath("journal.snap"), 5), 0);
	j = topen(NULL, NULL, err, sizeof err);
	ck_assert_ptr_null(j);
	ck_assert_ptr_nonnull(strstr(err, "journal.snap: header cut short"));

	/* Without its MARK. */
	fcopy("saved.snap", "journal.snap");
	ck_assert_int_eq(truncate(tpath("journal.snap"), HDR), 0);
	j = topen(NULL, NULL, err, sizeof err);
	ck_assert_ptr_null(j);
	ck_assert_msg(strstr(err, "journal.snap: offset 8: snapshot has no "
	    "mark record") != NULL, "%s", err);
	unlink(tpath("journal.snap"));
	make_journal(2);
	fcopy("journal.log", "journal.snap");
	j = topen(NULL, NULL, err, sizeof err);
	ck_assert_ptr_null(j);
	ck_assert_msg(strstr(err, "journal.snap: offset 8: snapshot does not "
	    "begin with a mark record") != NULL, "%s", err);

	/* A MARK has no place in the log. */
	unlink(tpath("journal.snap"));
	fcopy("saved.snap", "journal.log");
	j = topen(NULL, NULL, err, sizeof err);
	ck_assert_ptr_null(j);
	ck_assert_msg(strstr(err, "journal.log: offset 8: mark record in the "
	    "log") != NULL, "%s", err);
}
END_TEST

/* Fill r with the given fields (strings static or jti's). */
static void
fill(struct journal_rec *r, int type, int flags, uint64_t seq,
    const char *jti, int64_t exp)
{
	memset(r, 0, sizeof *r);
	r->type = type;
	r->flags = flags;
	r->seq = seq;
	r->exp = exp;
	r->ts = test_now;
	r->iss = "iss";
	r->isslen = 3;
	r->jti = jti;
	r->jtilen = strlen(jti);
	r->reason = "why";
	r->reasonlen = type == JOURNAL_REVOKE ? 3 : 0;
}

/* Append a record with the given fields and flags. */
static uint64_t
put_f(struct journal *j, int type, const char *jti, int64_t exp, int flags)
{
	struct journal_rec	r;

	fill(&r, type, flags, 0, jti, exp);
	return journal_append(j, &r);
}

/* Append a record with the given fields. */
static uint64_t
put(struct journal *j, int type, const char *jti, int64_t exp)
{
	struct journal_rec	r;

	memset(&r, 0, sizeof r);
	r.type = type;
	r.exp = exp;
	r.ts = test_now;
	r.iss = "iss";
	r.isslen = 3;
	r.jti = jti;
	r.jtilen = strlen(jti);
	r.reason = "why";
	r.reasonlen = type == JOURNAL_REVOKE ? 3 : 0;
	return journal_append(j, &r);
}

/* Write: revoke A, B, C (C expiring soon), unrevoke B; close. */
static void
make_abc(void)
{
	struct journal	*j = topen_ok(NULL, NULL);

	put(j, JOURNAL_REVOKE, "A", NOW + 1000);
	put(j, JOURNAL_REVOKE, "B", NOW + 1000);
	put(j, JOURNAL_REVOKE, "C", NOW + 10);
	put(j, JOURNAL_REVOKE, "A", NOW + 500);	/* keeps NOW + 1000 */
	put(j, JOURNAL_UNREVOKE, "B", 0);
	journal_close(j);
}

/* Compact the journal in test_dir and close it. */
static void
compact_now(void)
{
	struct journal	*j = topen_ok(NULL, NULL);

	journal_request_compact(j);
	ck_assert_int_eq(wait_for(j, compacted, 1), 1);
	journal_close(j);
}

/* Replay the journal into a blocklist at test_now. */
static void
bl_apply(const struct journal_rec *r, void *arg)
{
	struct blocklist	*bl = arg;

	if (r->type == JOURNAL_UNREVOKE)
		blocklist_remove(bl, r->iss, r->isslen, r->jti, r->jtilen,
		    test_now);
	else if (r->exp > test_now)
		EXPECT(blocklist_add(bl, r->iss, r->isslen, r->jti,
		    r->jtilen, r->exp, r->reason, r->reasonlen,
		    test_now) != -1);
}

/* Return 1 if jti is revoked in bl at test_now. */
static int
bl_has(struct blocklist *bl, const char *jti)
{
	return blocklist_lookup(bl, "iss", 3, jti, strlen(jti), test_now,
	    NULL);
}

START_TEST(test_compaction)
{
	struct blocklist	*bl;
	uint8_t			 key[BLOCKLIST_KEY_LEN] = { 3 };
	struct journal		*j;
	struct journal_stats	 st;
	struct seen		 s;

	make_abc();
	test_now = NOW + 100;		/* C has expired */
	j = topen_ok(NULL, NULL);
	journal_request_compact(j);
	ck_assert_int_eq(wait_for(j, compacted, 1), 1);
	journal_get_stats(j, &st);
	ck_assert_uint_eq(st.compactions, 1);
	ck_assert_uint_eq(st.log_bytes, HDR);
	ck_assert_uint_eq(st.snapshot_bytes, HDR + MARK + REC(3 + 1 + 3));
	journal_close(j);
	ck_assert_int_eq(fsize("journal.log"), HDR);
	ck_assert_int_eq(fsize("journal.snap"), HDR + MARK + REC(3 + 1 + 3));
	ck_assert_int_eq(access(tpath("journal.snap.tmp"), F_OK), -1);

	memset(&s, 0, sizeof s);
	j = topen_ok(seen_apply, &s);
	ck_assert_uint_eq(s.n, 1);
	ck_assert_str_eq(s.jti[0], "A");
	ck_assert_int_eq(s.type[0], JOURNAL_REVOKE);
	ck_assert_int_eq(s.exp[0], NOW + 1000);
	/* A second compaction over snapshot + new log. */
	put(j, JOURNAL_REVOKE, "D", NOW + 2000);
	put(j, JOURNAL_UNREVOKE, "A", 0);
	journal_request_compact(j);
	ck_assert_int_eq(wait_for(j, compacted, 1), 1);
	journal_close(j);
	/* The writes may land before or after the compaction: compare the
	 * replayed state. */
	ck_assert_ptr_nonnull(bl = blocklist_new(key));
	j = topen_ok(bl_apply, bl);
	ck_assert_int_eq(bl_has(bl, "D"), 1);
	ck_assert_int_eq(bl_has(bl, "A"), 0);
	ck_assert_uint_eq(blocklist_count(bl), 1);
	journal_close(j);
	blocklist_free(bl);
}
END_TEST

START_TEST(test_crash_between_rename_and_truncate)
{
	struct blocklist	*bl;
	struct journal		*j;
	uint8_t			 key[BLOCKLIST_KEY_LEN] = { 1 };
	int			 pass;

	make_abc();
	fcopy("journal.log", "saved.log");
	test_now = NOW + 100;
	compact_now();
	for (pass = 0; pass < 2; pass++) {
		/* Pass 0: the snapshot beside the old log, as a crash after
		 * the rename leaves them. Pass 1: the compacted pair. */
		if (pass == 0)
			fcopy("saved.log", "journal.log");
		ck_assert_ptr_nonnull(bl = blocklist_new(key));
		j = topen_ok(bl_apply, bl);
		ck_assert_int_eq(bl_has(bl, "A"), 1);
		ck_assert_int_eq(bl_has(bl, "B"), 0);
		ck_assert_int_eq(bl_has(bl, "C"), 0);
		ck_assert_uint_eq(blocklist_count(bl), 1);
		if (pass == 0) {
			/* And compacting that again converges. */
			journal_request_compact(j);
			ck_assert_int_eq(wait_for(j, compacted, 1), 1);
		}
		journal_close(j);
		blocklist_free(bl);
	}
	ck_assert_int_eq(fsize("journal.log"), HDR);
	/* A leftover temporary snapshot is removed at open. */
	fcopy("journal.log", "journal.snap.tmp");
	journal_close(topen_ok(NULL, NULL));
	ck_assert_int_eq(access(tpath("journal.snap.tmp"), F_OK), -1);
}
END_TEST

START_TEST(test_appends_during_compaction)
{
	struct blocklist	*got, *want;
	struct journal		*j;
	struct gen		 g;
	uint8_t			 key[BLOCKLIST_KEY_LEN] = { 2 };
	uint64_t		 last, n = 30000, i;
	int			 a, b;

	make_journal(n);
	j = topen_ok(NULL, NULL);
	journal_request_compact(j);
	last = 0;
	for (i = 0; i < 20; i++) {
		last = append_range(j, n + i * 50, n + i * 50 + 50);
		journal_kick(j);
	}
	ck_assert_int_eq(wait_for(j, compacted, 1), 1);
	ck_assert_int_eq(wait_for(j, is_durable, last), 1);
	journal_close(j);
	ck_assert_int_gt(fsize("journal.snap"), HDR);

	/* Snapshot + log give the state of all n + 1000 writes. */
	ck_assert_ptr_nonnull(got = blocklist_new(key));
	ck_assert_ptr_nonnull(want = blocklist_new(key));
	j = topen_ok(bl_apply, got);
	journal_close(j);
	for (i = 0; i < n + 1000; i++) {
		gen_rec(&g, i);
		bl_apply(&g.rec, want);
	}
	ck_assert_uint_eq(blocklist_count(got), blocklist_count(want));
	for (i = 0; i < n + 1000; i++) {
		gen_rec(&g, i);
		a = blocklist_lookup(got, g.rec.iss, g.rec.isslen, g.rec.jti,
		    g.rec.jtilen, test_now, NULL);
		b = blocklist_lookup(want, g.rec.iss, g.rec.isslen,
		    g.rec.jti, g.rec.jtilen, test_now, NULL);
		EXPECT(a == b);
	}
	blocklist_free(got);
	blocklist_free(want);
}
END_TEST

START_TEST(test_big_reopen)
{
	struct journal		*j;
	struct journal_stats	 st;
	struct expect		 e = { 0, 0 };
	uint64_t		 i, last = 0;

	j = topen_ok(NULL, NULL);
	for (i = 0; i < BIG_N; i += 1000) {
		last = append_range(j, i, i + 1000);
		journal_kick(j);
		journal_collect(j);
	}
	ck_assert_int_eq(wait_for(j, is_durable, last), 1);
	journal_get_stats(j, &st);
	ck_assert_uint_lt(st.syncs, BIG_N / 1000 + 1);
	journal_close(j);
	j = topen_ok(expect_apply, &e);
	ck_assert_uint_eq(e.next, BIG_N);
	ck_assert_uint_eq(e.bad, 0);
	journal_close(j);
}
END_TEST

START_TEST(test_auto_compaction)
{
	struct journal_config	 cfg;
	struct journal		*j;
	struct journal_stats	 st;
	char			 err[256];
	uint64_t		 last, i;

	memset(&cfg, 0, sizeof cfg);
	cfg.dir = test_dir;
	cfg.compact_min = 4096;
	cfg.clock = test_clock;
	j = journal_open(&cfg, NULL, NULL, err, sizeof err);
	ck_assert_msg(j != NULL, "%s", err);
	/* The same 7 keys over and over: the live set stays small. */
	for (i = 0; i < 200; i++) {
		last = append_range(j, 0, 7);
		journal_kick(j);
		ck_assert_int_eq(wait_for(j, is_durable, last), 1);
	}
	ck_assert_int_eq(wait_for(j, compacted, 1), 1);
	journal_get_stats(j, &st);
	journal_close(j);
	ck_assert_msg(fsize("journal.log") < 4096 + 8192, "log %lld snap %lld"
	    " compactions %llu", (long long)fsize("journal.log"),
	    (long long)fsize("journal.snap"),
	    (unsigned long long)st.compactions);
}
END_TEST

/* Store v little-endian in n bytes at p. */
static void
le_put(uint8_t *p, uint64_t v, int n)
{
	int	i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* The fields of a record to encode by hand. */
struct hand {
	int		 type;		/* record type */
	int		 flags;		/* flags */
	uint64_t	 seq;		/* sequence number */
	int64_t		 exp;		/* exp */
	int64_t		 ts;		/* ts */
	const char	*iss;		/* strings, NUL-terminated */
	const char	*jti;
	const char	*reason;
	const char	*comm;		/* format 3 only */
	const char	*host;		/* format 3 only */
	uint32_t	 uid, gid, pid;	/* format 3 only */
};

/* Copy string s to p; return the end. */
static uint8_t *
hand_str(uint8_t *p, const char *s)
{
	size_t	len = s == NULL ? 0 : strlen(s);

	if (len > 0)
		memcpy(p, s, len);
	return p + len;
}

/* Encode h by hand, as the format of version describes it, into p; v1
 * leaves out seq and has 0 for flags. Returns its size. */
static size_t
enc_hand(uint8_t *p, int version, const struct hand *h)
{
	size_t	il = h->iss == NULL ? 0 : strlen(h->iss);
	size_t	jl = h->jti == NULL ? 0 : strlen(h->jti);
	size_t	rl = h->reason == NULL ? 0 : strlen(h->reason);
	size_t	cl = h->comm == NULL ? 0 : strlen(h->comm);
	size_t	hl = h->host == NULL ? 0 : strlen(h->host);
	size_t	fixed = version == 1 ? 24 : version == 2 ? FIXED_V2 : FIXED;
	size_t	plen = fixed + il + jl + rl + (version == 3 ? cl + hl : 0);
	uint8_t	*q = p + 8, *s = q + fixed;

	memset(p, 0, 8 + plen);
	le_put(p + 4, plen, 4);
	q[0] = (uint8_t)h->type;
	q[1] = (uint8_t)h->flags;
	le_put(q + 2, il, 2);
	le_put(q + 4, jl, 2);
	le_put(q + 6, rl, 2);
	if (version == 3) {
		le_put(q + 8, cl, 2);
		le_put(q + 10, hl, 2);
		le_put(q + 12, h->uid, 4);
		le_put(q + 16, h->gid, 4);
		le_put(q + 20, h->pid, 4);
		le_put(q + 24, (uint64_t)h->exp, 8);
		le_put(q + 32, (uint64_t)h->ts, 8);
		le_put(q + 40, h->seq, 8);
	} else {
		le_put(q + 8, (uint64_t)h->exp, 8);
		le_put(q + 16, (uint64_t)h->ts, 8);
		if (version == 2)
			le_put(q + 24, h->seq, 8);
	}
	s = hand_str(s, h->iss);
	s = hand_str(s, h->jti);
	s = hand_str(s, h->reason);
	if (version == 3) {
		s = hand_str(s, h->comm);
		(void)hand_str(s, h->host);
	}
	le_put(p, crc32c(0, p + 4, 4 + plen), 4);
	return 8 + plen;
}

/* Encode by hand a record with jti, no iss, no reason, no audit trail
 * into p; exp NOW + 1000 (0 for a MARK or an UNREVOKE). Returns its
 * size. */
static size_t
enc_rec(uint8_t *p, int version, int type, int flags, uint64_t seq,
    const char *jti)
{
	struct hand	h;

	memset(&h, 0, sizeof h);
	h.type = type;
	h.flags = flags;
	h.seq = seq;
	h.jti = jti;
	if (type != 3 && type != JOURNAL_UNREVOKE) {
		h.exp = NOW + 1000;
		h.ts = NOW;
	}
	return enc_hand(p, version, &h);
}

/* Create a file in the test dir: a header of the given version, then n
 * bytes of records. */
static void
fmake(const char *name, uint32_t version, const uint8_t *recs, size_t n)
{
	uint8_t	hdr[HDR] = { 'R', 'V', 'K', 'J' };
	int	fd;

	le_put(hdr + 4, version, 4);
	ck_assert_int_ne(fd = open(tpath(name), O_WRONLY | O_CREAT | O_TRUNC,
	    0600), -1);
	ck_assert_int_eq(write(fd, hdr, sizeof hdr), (ssize_t)sizeof hdr);
	if (n > 0)
		ck_assert_int_eq(write(fd, recs, n), (ssize_t)n);
	close(fd);
}

/* Append the bytes of file from, past its header, to file to. */
static void
fappend_recs(const char *from, const char *to)
{
	char	buf[65536];
	ssize_t	n;
	int	in;

	ck_assert_int_ne(in = open(tpath(from), O_RDONLY), -1);
	ck_assert_int_eq(lseek(in, HDR, SEEK_SET), HDR);
	while ((n = read(in, buf, sizeof buf)) > 0)
		fappend(to, buf, (size_t)n);
	close(in);
}

/* Replay into s, which is cleared first. */
static struct journal *
topen_seen(struct seen *s)
{
	memset(s, 0, sizeof *s);
	return topen_ok(seen_apply, s);
}

/* Return 1 when n compaction requests were dropped. */
static int
skipped(struct journal *j, uint64_t n)
{
	struct journal_stats	st;

	journal_get_stats(j, &st);
	return st.compact_skipped >= n;
}

/* Add a record to a replacement, failing the test on error. */
static void
snap_put(struct journal_snap *snap, const char *jti, int flags,
    uint64_t seq)
{
	struct journal_rec	r;

	fill(&r, JOURNAL_REVOKE, flags, seq, jti, NOW + 1000);
	ck_assert_int_eq(journal_snap_add(snap, &r), 0);
}

/* Return CPU seconds (user + system) of this process. */
static double
cpu_sec(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

START_TEST(test_seq_persists)
{
	struct journal		*j;
	struct journal_stats	 st;
	struct seen		 s;

	j = topen_ok(NULL, NULL);
	ck_assert_uint_eq(put(j, JOURNAL_REVOKE, "A", NOW + 1000), 1);
	ck_assert_uint_eq(put(j, JOURNAL_REVOKE, "B", NOW + 1000), 2);
	ck_assert_uint_eq(put(j, JOURNAL_UNREVOKE, "A", 0), 3);
	journal_close(j);

	j = topen_seen(&s);
	ck_assert_uint_eq(s.n, 3);
	ck_assert_uint_eq(s.seq[0], 1);
	ck_assert_uint_eq(s.seq[1], 2);
	ck_assert_uint_eq(s.seq[2], 3);
	/* What was replayed is durable; nothing is pending. */
	ck_assert_uint_eq(journal_durable(j), 3);
	journal_get_stats(j, &st);
	ck_assert_uint_eq(st.pending, 0);
	ck_assert_uint_eq(put(j, JOURNAL_REVOKE, "C", NOW + 1000), 4);
	journal_get_stats(j, &st);
	ck_assert_uint_eq(st.pending, 1);
	journal_kick(j);
	ck_assert_int_eq(wait_for(j, is_durable, 4), 1);
	journal_get_stats(j, &st);
	ck_assert_uint_eq(st.pending, 0);
	journal_close(j);

	j = topen_seen(&s);
	ck_assert_uint_eq(s.n, 4);
	ck_assert_uint_eq(s.seq[3], 4);
	ck_assert_str_eq(s.jti[3], "C");
	journal_close(j);
}
END_TEST

/* Count a listed record. */
static int
count_rec(const struct journal_rec *r, void *arg)
{
	(void)r;
	(*(size_t *)arg)++;
	return 0;
}

/* A burst grows the append buffers; trim frees them once idle, never
 * while they hold records or the writer has them, and nothing is lost. */
START_TEST(test_trim)
{
	struct journal		*j = topen_ok(NULL, NULL);
	struct journal_stats	 st;
	uint64_t		 last, cursor = 0;
	size_t			 n = 0;

	ck_assert_uint_eq(journal_trim(j), 0);
	last = append_range(j, 0, 20000);
	/* Queued records are not freed. */
	ck_assert_uint_eq(journal_trim(j), 0);
	journal_kick(j);
	ck_assert_int_eq(wait_for(j, is_durable, last), 1);
	/* The batch that held the burst is idle now: over 1 MiB. */
	ck_assert_uint_gt(journal_trim(j), 1024 * 1024);
	ck_assert_uint_eq(journal_trim(j), 0);
	/* A listing step's buffer (about its budget) goes too. */
	ck_assert_int_eq(journal_list(j, &cursor, 1 << 20, count_rec, &n), 0);
	ck_assert_uint_gt(n, 1000);
	ck_assert_uint_gt(journal_trim(j), 512 * 1024);
	ck_assert_uint_eq(journal_trim(j), 0);
	last = append_range(j, 20000, 20010);
	journal_kick(j);
	ck_assert_int_eq(wait_for(j, is_durable, last), 1);
	ck_assert_int_eq(journal_close(j), 0);

	j = topen_ok(NULL, NULL);
	journal_get_stats(j, &st);
	ck_assert_uint_eq(st.replayed, 20010);
	ck_assert_uint_eq(journal_durable(j), last);
	ck_assert_int_eq(journal_close(j), 0);
}
END_TEST

START_TEST(test_seq_after_compaction)
{
	struct journal	*j;
	struct seen	 s;

	/* A compaction of nothing at all: a MARK of 0. */
	compact_now();
	ck_assert_int_eq(fsize("journal.snap"), HDR + MARK);
	j = topen_seen(&s);
	ck_assert_uint_eq(s.n, 0);
	ck_assert_uint_eq(put(j, JOURNAL_REVOKE, "A", NOW + 10), 1);
	ck_assert_uint_eq(put(j, JOURNAL_UNREVOKE, "A", 0), 2);
	ck_assert_uint_eq(put(j, JOURNAL_REVOKE, "B", NOW + 10), 3);
	journal_close(j);

	/* Nothing is live: the snapshot is its MARK alone, the log empty,
	 * yet the next seq follows the last one. */
	test_now = NOW + 100;
	compact_now();
	ck_assert_int_eq(fsize("journal.snap"), HDR + MARK);
	ck_assert_int_eq(fsize("journal.log"), HDR);
	j = topen_seen(&s);
	ck_assert_uint_eq(s.n, 0);
	ck_assert_uint_eq(journal_durable(j), 3);
	ck_assert_uint_eq(put(j, JOURNAL_REVOKE, "C", NOW + 1000), 4);
	journal_close(j);
	j = topen_seen(&s);
	ck_assert_uint_eq(s.n, 1);
	ck_assert_uint_eq(s.seq[0], 4);
	ck_assert_uint_eq(put(j, JOURNAL_REVOKE, "D", NOW + 1000), 5);
	journal_close(j);
}
END_TEST

START_TEST(test_flags_roundtrip)
{
	struct journal	*j;
	struct seen	 s;

	j = topen_ok(NULL, NULL);
	ck_assert_uint_eq(put_f(j, JOURNAL_REVOKE, "L", NOW + 1000, 0), 1);
	ck_assert_uint_eq(put_f(j, JOURNAL_REVOKE, "R", NOW + 1000,
	    JOURNAL_F_REMOTE), 2);
	ck_assert_uint_eq(put_f(j, JOURNAL_UNREVOKE, "Z", 0,
	    JOURNAL_F_REMOTE), 3);
	/* Another daemon's write for the audit trail only. */
	ck_assert_uint_eq(put_f(j, JOURNAL_REVOKE, "T", NOW + 1000,
	    JOURNAL_F_REMOTE | JOURNAL_F_AUDIT), 4);
	/* No other flag may be appended, nor AUDIT with STATE. */
	ck_assert_uint_eq(put_f(j, JOURNAL_REVOKE, "X", NOW + 1000, 0x08), 0);
	ck_assert_uint_eq(put_f(j, JOURNAL_REVOKE, "X", NOW + 1000,
	    JOURNAL_F_AUDIT | JOURNAL_F_STATE), 0);
	ck_assert_uint_eq(put_f(j, JOURNAL_REVOKE, "X", NOW + 1000,
	    JOURNAL_F_REMOTE | JOURNAL_F_AUDIT | JOURNAL_F_STATE), 0);
	ck_assert_uint_eq(put_f(j, JOURNAL_REVOKE, "X", NOW + 1000, -1), 0);
	journal_close(j);

	/* Through the log: every record, the trail's too. */
	j = topen_seen(&s);
	ck_assert_uint_eq(s.n, 4);
	ck_assert_int_eq(s.flags[0], 0);
	ck_assert_int_eq(s.flags[1], JOURNAL_F_REMOTE);
	ck_assert_int_eq(s.flags[2], JOURNAL_F_REMOTE);
	ck_assert_int_eq(s.type[2], JOURNAL_UNREVOKE);
	ck_assert_int_eq(s.flags[3], JOURNAL_F_REMOTE | JOURNAL_F_AUDIT);
	ck_assert_str_eq(s.jti[3], "T");
	journal_close(j);

	/* Through a compaction keeping no trail: the live entries as
	 * state copies, REMOTE and seq kept; the trail-only record was
	 * never a rule ("T" has no state copy although its REVOKE would be
	 * live). */
	compact_now();
	j = topen_seen(&s);
	ck_assert_uint_eq(s.n, 2);
	ck_assert_str_eq(s.jti[0], "L");
	ck_assert_int_eq(s.flags[0], JOURNAL_F_STATE);
	ck_assert_uint_eq(s.seq[0], 1);
	ck_assert_str_eq(s.jti[1], "R");
	ck_assert_int_eq(s.flags[1], JOURNAL_F_REMOTE | JOURNAL_F_STATE);
	ck_assert_uint_eq(s.seq[1], 2);
	ck_assert_uint_eq(put(j, JOURNAL_REVOKE, "C", NOW + 1000), 5);
	journal_close(j);
}
END_TEST

START_TEST(test_v1_refused)
{
	struct journal	*j;
	uint8_t		 rec[128];
	char		 err[256], want[128];
	size_t		 n;

	/* A log written by version 1: refused, naming the file, and left
	 * alone. */
	n = enc_rec(rec, 1, JOURNAL_REVOKE, 0, 0, "A");
	fmake("journal.log", 1, rec, n);
	j = topen(NULL, NULL, err, sizeof err);
	ck_assert_ptr_null(j);
	snprintf(want, sizeof want, "%s: unsupported format version 1",
	    tpath("journal.log"));
	ck_assert_msg(strstr(err, want) != NULL, "%s", err);
	ck_assert_int_eq(fsize("journal.log"), HDR + (off_t)n);

	/* Even an empty one. */
	fmake("journal.log", 1, NULL, 0);
	j = topen(NULL, NULL, err, sizeof err);
	ck_assert_ptr_null(j);
	ck_assert_msg(strstr(err, want) != NULL, "%s", err);

	/* A version 1 snapshot. */
	unlink(tpath("journal.log"));
	fmake("journal.snap", 1, rec, n);
	j = topen(NULL, NULL, err, sizeof err);
	ck_assert_ptr_null(j);
	snprintf(want, sizeof want, "%s: unsupported format version 1",
	    tpath("journal.snap"));
	ck_assert_msg(strstr(err, want) != NULL, "%s", err);
}
END_TEST

START_TEST(test_bad_flags)
{
	/* Format 3: unknown bits, AUDIT with STATE. Format 2 only ever
	 * had REMOTE. -1 ends a list. */
	static const int	 bad3[] = { 0x08, 0x80, 0x06, 0x07, -1 };
	static const int	 bad2[] = { 0x02, 0x04, 0x80, 0x07, -1 };
	const int		*bad;
	struct journal		*j;
	struct journal_snap	*snap;
	struct journal_rec	 r;
	struct seen		 s;
	uint8_t			 recs[256];
	char			 err[256], want[64];
	size_t			 n, i;
	int			 v;

	/* Format 3, and format 2 which is read the same way. */
	for (v = 3; v >= 2; v--) {
		unlink(tpath("journal.snap"));
		/* The hand encoder agrees with the journal's. */
		n = enc_rec(recs, v, JOURNAL_REVOKE, JOURNAL_F_REMOTE, 7,
		    "A");
		n += enc_rec(recs + n, v, JOURNAL_REVOKE, 0, 8, "B");
		fmake("journal.log", (uint32_t)v, recs, n);
		j = topen_seen(&s);
		ck_assert_uint_eq(s.n, 2);
		ck_assert_int_eq(s.flags[0], JOURNAL_F_REMOTE);
		ck_assert_uint_eq(s.seq[0], 7);
		ck_assert_uint_eq(s.seq[1], 8);
		ck_assert_uint_eq(put(j, JOURNAL_REVOKE, "C", NOW + 1000), 9);
		journal_close(j);
		unlink(tpath("journal.snap"));

		/* Any other flag bit is damage, with a valid checksum
		 * too. */
		bad = v == 3 ? bad3 : bad2;
		for (i = 0; bad[i] != -1; i++) {
			n = enc_rec(recs, v, JOURNAL_REVOKE, bad[i], 1, "A");
			n += enc_rec(recs + n, v, JOURNAL_REVOKE, 0, 2, "B");
			fmake("journal.log", (uint32_t)v, recs, n);
			j = topen(NULL, NULL, err, sizeof err);
			ck_assert_ptr_null(j);
			ck_assert_msg(strstr(err, "journal.log: offset 8: "
			    "bad flags") != NULL, "%s", err);
		}

		/* In a snapshot, after its MARK. */
		n = enc_rec(recs, v, 3, 0, 5, "");
		n += enc_rec(recs + n, v, JOURNAL_REVOKE, 0x08, 1, "A");
		fmake("journal.snap", (uint32_t)v, recs, n);
		unlink(tpath("journal.log"));
		j = topen(NULL, NULL, err, sizeof err);
		ck_assert_ptr_null(j);
		snprintf(want, sizeof want, "journal.snap: offset %d: bad "
		    "flags", HDR + 8 + (v == 3 ? FIXED : FIXED_V2));
		ck_assert_msg(strstr(err, want) != NULL, "%s", err);

		/* A MARK with a flag, or strings. */
		n = enc_rec(recs, v, 3, JOURNAL_F_REMOTE, 5, "");
		fmake("journal.snap", (uint32_t)v, recs, n);
		j = topen(NULL, NULL, err, sizeof err);
		ck_assert_ptr_null(j);
		ck_assert_msg(strstr(err, "journal.snap: offset 8: bad mark "
		    "record") != NULL, "%s", err);
		n = enc_rec(recs, v, 3, 0, 5, "A");
		fmake("journal.snap", (uint32_t)v, recs, n);
		j = topen(NULL, NULL, err, sizeof err);
		ck_assert_ptr_null(j);
		ck_assert_msg(strstr(err, "journal.snap: offset 8: bad mark "
		    "record") != NULL, "%s", err);
	}

	/* Format 3 takes STATE, alone or with REMOTE. */
	n = enc_rec(recs, 3, JOURNAL_REVOKE, JOURNAL_F_STATE, 7, "A");
	n += enc_rec(recs + n, 3, JOURNAL_REVOKE, JOURNAL_F_STATE |
	    JOURNAL_F_REMOTE, 8, "B");
	fmake("journal.log", 3, recs, n);
	unlink(tpath("journal.snap"));
	j = topen_seen(&s);
	ck_assert_uint_eq(s.n, 2);
	ck_assert_int_eq(s.flags[0], JOURNAL_F_STATE);
	ck_assert_int_eq(s.flags[1], JOURNAL_F_STATE | JOURNAL_F_REMOTE);
	journal_close(j);

	/* A replacement takes no bad flags either. */
	ck_assert_ptr_nonnull(snap = journal_snap_new());
	fill(&r, JOURNAL_REVOKE, 0x08, 1, "A", NOW + 1000);
	ck_assert_int_eq(journal_snap_add(snap, &r), -1);
	fill(&r, JOURNAL_REVOKE, JOURNAL_F_AUDIT | JOURNAL_F_STATE, 1, "A",
	    NOW + 1000);
	ck_assert_int_eq(journal_snap_add(snap, &r), -1);
	fill(&r, JOURNAL_REVOKE, JOURNAL_F_STATE, 1, "A", NOW + 1000);
	ck_assert_int_eq(journal_snap_add(snap, &r), 0);
	journal_snap_free(snap);
}
END_TEST

START_TEST(test_snap_add_invalid)
{
	struct journal_snap	*snap;
	struct journal_rec	 r;

	ck_assert_ptr_nonnull(snap = journal_snap_new());
	fill(&r, JOURNAL_REVOKE, 0, 1, "A", NOW + 1000);
	ck_assert_int_eq(journal_snap_add(snap, &r), 0);
	r.jtilen = 0;
	ck_assert_int_eq(journal_snap_add(snap, &r), -1);
	fill(&r, 3, 0, 1, "A", NOW + 1000);
	ck_assert_int_eq(journal_snap_add(snap, &r), -1);
	fill(&r, JOURNAL_REVOKE, 0, 1, "A", NOW + 1000);
	r.reasonlen = 513;
	ck_assert_int_eq(journal_snap_add(snap, &r), -1);
	fill(&r, JOURNAL_REVOKE, 0, (uint64_t)INT64_MAX + 1, "A", NOW + 1000);
	ck_assert_int_eq(journal_snap_add(snap, &r), -1);
	fill(&r, JOURNAL_UNREVOKE, JOURNAL_F_REMOTE, 0, "A", 0);
	ck_assert_int_eq(journal_snap_add(snap, &r), 0);
	journal_snap_free(snap);
	journal_snap_free(NULL);
}
END_TEST

START_TEST(test_unconfirmed_blocks_compaction)
{
	struct journal		*j;
	struct journal_stats	 st;
	off_t			 before;

	j = topen_ok(NULL, NULL);
	put(j, JOURNAL_REVOKE, "A", NOW + 1000);
	put(j, JOURNAL_REVOKE, "B", NOW + 1000);
	put(j, JOURNAL_UNREVOKE, "A", 0);
	journal_set_unconfirmed(j, 2);
	journal_kick(j);
	ck_assert_int_eq(wait_for(j, is_durable, 3), 1);
	before = fsize("journal.log");

	/* Records 2 and 3 wait for Redis: the request is dropped. */
	journal_request_compact(j);
	ck_assert_int_eq(wait_for(j, skipped, 1), 1);
	journal_get_stats(j, &st);
	ck_assert_uint_eq(st.compactions, 0);
	ck_assert_int_eq(fsize("journal.log"), before);
	ck_assert_int_eq(access(tpath("journal.snap"), F_OK), -1);

	/* All confirmed: the next request runs. */
	journal_set_unconfirmed(j, 4);
	journal_request_compact(j);
	ck_assert_int_eq(wait_for(j, compacted, 1), 1);
	ck_assert_int_eq(fsize("journal.log"), HDR);
	ck_assert_int_gt(fsize("journal.snap"), HDR + MARK);

	/* A new record at the unconfirmed seq blocks again. */
	ck_assert_uint_eq(put(j, JOURNAL_REVOKE, "C", NOW + 1000), 4);
	journal_kick(j);
	ck_assert_int_eq(wait_for(j, is_durable, 4), 1);
	journal_request_compact(j);
	ck_assert_int_eq(wait_for(j, skipped, 2), 1);
	journal_get_stats(j, &st);
	ck_assert_uint_eq(st.compactions, 1);
	journal_set_unconfirmed(j, UINT64_MAX);
	journal_request_compact(j);
	ck_assert_int_eq(wait_for(j, compacted, 2), 1);
	journal_close(j);
	ck_assert_int_eq(fsize("journal.log"), HDR);
}
END_TEST

START_TEST(test_unconfirmed_blocks_auto_compaction)
{
	struct journal_config	 cfg;
	struct journal		*j;
	struct journal_stats	 st;
	char			 err[256];
	uint64_t		 last = 0, i;
	double			 cpu;

	memset(&cfg, 0, sizeof cfg);
	cfg.dir = test_dir;
	cfg.compact_min = 4096;
	cfg.clock = test_clock;
	j = journal_open(&cfg, NULL, NULL, err, sizeof err);
	ck_assert_msg(j != NULL, "%s", err);
	journal_set_unconfirmed(j, 1);
	for (i = 0; i < 100; i++) {
		last = append_range(j, 0, 7);
		journal_kick(j);
		ck_assert_int_eq(wait_for(j, is_durable, last), 1);
	}
	journal_get_stats(j, &st);
	ck_assert_uint_eq(st.compactions, 0);
	ck_assert_int_gt(fsize("journal.log"), 4 * 4096);
	/* The writer waits rather than spins over a compaction it may not
	 * do. */
	cpu = cpu_sec();
	usleep(300000);
	ck_assert_msg(cpu_sec() - cpu < 0.15, "writer busy while blocked: "
	    "%.3f s of CPU", cpu_sec() - cpu);
	/* Confirmed: the next batch lets it run. */
	journal_set_unconfirmed(j, last + 1);
	last = append_range(j, 0, 7);
	journal_kick(j);
	ck_assert_int_eq(wait_for(j, is_durable, last), 1);
	ck_assert_int_eq(wait_for(j, compacted, 1), 1);
	journal_close(j);
	ck_assert_int_lt(fsize("journal.log"), 4096);
}
END_TEST

/* Return 1 when the writer has written n batches. */
static int
synced(struct journal *j, uint64_t n)
{
	struct journal_stats	st;

	journal_get_stats(j, &st);
	return st.syncs >= n;
}

/* With hold_compaction, an oversized log is compacted neither at open nor
 * on request until journal_set_unconfirmed lifts the hold; without, it is
 * compacted at open. */
START_TEST(test_hold_compaction)
{
	struct journal		*j;
	struct journal_stats	 st;
	off_t			 big;
	uint64_t		 last;

	make_journal(3000);
	big = fsize("journal.log");
	ck_assert_int_gt(big, 64 * 1024);
	fcopy("journal.log", "saved.log");
	test_compact_min = 4096;
	test_hold = 1;
	j = topen_ok(NULL, NULL);
	usleep(200000);
	journal_get_stats(j, &st);
	ck_assert_uint_eq(st.compactions, 0);
	/* A batch wakes the writer: still held. */
	ck_assert_uint_ne(last = put(j, JOURNAL_REVOKE, "A", NOW + 1000), 0);
	journal_kick(j);
	ck_assert_int_eq(wait_for(j, is_durable, last), 1);
	ck_assert_int_eq(wait_for(j, synced, 1), 1);
	/* A request is dropped. */
	journal_request_compact(j);
	ck_assert_int_eq(wait_for(j, skipped, 1), 1);
	/* Raised, but not above what is on disk: still held. */
	journal_set_unconfirmed(j, last);
	journal_request_compact(j);
	ck_assert_int_eq(wait_for(j, skipped, 2), 1);
	journal_get_stats(j, &st);
	ck_assert_uint_eq(st.compactions, 0);
	ck_assert_int_gt(fsize("journal.log"), big);
	ck_assert_int_eq(access(tpath("journal.snap"), F_OK), -1);
	/* Lifted: the oversized log is compacted by itself. */
	journal_set_unconfirmed(j, UINT64_MAX);
	ck_assert_int_eq(wait_for(j, compacted, 1), 1);
	journal_close(j);
	ck_assert_int_eq(fsize("journal.log"), HDR);

	/* Without the hold, the same log is compacted at open. */
	unlink(tpath("journal.snap"));
	fcopy("saved.log", "journal.log");
	test_hold = 0;
	j = topen_ok(NULL, NULL);
	ck_assert_int_eq(wait_for(j, compacted, 1), 1);
	journal_close(j);
	ck_assert_int_eq(fsize("journal.log"), HDR);
}
END_TEST

START_TEST(test_replace)
{
	struct journal		*j;
	struct journal_snap	*snap;
	struct journal_stats	 st;
	struct seen		 s;
	uint64_t		 seq;

	j = topen_ok(NULL, NULL);
	/* A is on disk, B still queued when the replacement comes. */
	ck_assert_uint_eq(put(j, JOURNAL_REVOKE, "A", NOW + 1000), 1);
	journal_kick(j);
	ck_assert_int_eq(wait_for(j, is_durable, 1), 1);
	ck_assert_uint_eq(put(j, JOURNAL_REVOKE, "B", NOW + 1000), 2);
	ck_assert_ptr_nonnull(snap = journal_snap_new());
	snap_put(snap, "X", JOURNAL_F_REMOTE, 0);
	snap_put(snap, "Y", 0, 2);
	seq = journal_replace(j, snap);
	ck_assert_uint_eq(seq, 3);
	ck_assert_uint_eq(put(j, JOURNAL_REVOKE, "C", NOW + 1000), 4);
	journal_kick(j);
	ck_assert_int_eq(wait_for(j, is_durable, seq), 1);
	ck_assert_int_eq(wait_for(j, is_durable, 4), 1);
	journal_get_stats(j, &st);
	ck_assert_uint_eq(st.replaces, 1);
	ck_assert_uint_eq(st.pending, 0);
	ck_assert_uint_eq(st.snapshot_bytes, HDR + MARK + 2 * REC(3 + 1 + 3));
	ck_assert_uint_eq(st.log_bytes, HDR + REC(3 + 1 + 3));
	ck_assert_uint_eq(st.log_bytes, (uint64_t)fsize("journal.log"));
	ck_assert_uint_eq(st.snapshot_bytes, (uint64_t)fsize("journal.snap"));
	journal_close(j);

	/* Exactly the replacement, then what followed it. */
	j = topen_seen(&s);
	ck_assert_uint_eq(s.n, 3);
	ck_assert_str_eq(s.jti[0], "X");
	ck_assert_int_eq(s.flags[0], JOURNAL_F_REMOTE);
	ck_assert_uint_eq(s.seq[0], 0);
	ck_assert_str_eq(s.jti[1], "Y");
	ck_assert_int_eq(s.flags[1], 0);
	ck_assert_uint_eq(s.seq[1], 2);
	ck_assert_str_eq(s.jti[2], "C");
	ck_assert_uint_eq(s.seq[2], 4);
	ck_assert_uint_eq(journal_durable(j), 4);
	ck_assert_uint_eq(put(j, JOURNAL_REVOKE, "D", NOW + 1000), 5);
	journal_close(j);
}
END_TEST

START_TEST(test_replace_seq_above_snap)
{
	struct journal		*j;
	struct journal_snap	*snap;
	struct seen		 s;

	/* A replacement's own seq is above those of its records. */
	j = topen_ok(NULL, NULL);
	ck_assert_uint_eq(put(j, JOURNAL_REVOKE, "A", NOW + 1000), 1);
	ck_assert_ptr_nonnull(snap = journal_snap_new());
	snap_put(snap, "X", JOURNAL_F_REMOTE, 100);
	ck_assert_uint_eq(journal_replace(j, snap), 101);
	ck_assert_uint_eq(put(j, JOURNAL_REVOKE, "B", NOW + 1000), 102);
	journal_close(j);
	j = topen_seen(&s);
	ck_assert_uint_eq(s.n, 2);
	ck_assert_uint_eq(s.seq[0], 100);
	ck_assert_uint_eq(s.seq[1], 102);
	ck_assert_uint_eq(put(j, JOURNAL_REVOKE, "C", NOW + 1000), 103);
	journal_close(j);
}
END_TEST

START_TEST(test_replace_twice)
{
	struct journal		*j;
	struct journal_snap	*snap;
	struct seen		 s;
	static const char	*names[] = { "X", "Y", "Z" };
	uint64_t		 seq = 0, last = 0;
	size_t			 i;

	/* While the writer is busy (a compaction of a big journal, then the
	 * first replacement), the second waits to be handed over and the
	 * third supersedes it, taking over the records queued before both.
	 * Whatever the timing, the last one wins and every seq becomes
	 * durable. */
	make_journal(30000);
	j = topen_ok(NULL, NULL);
	journal_request_compact(j);
	for (i = 0; i < 3; i++) {
		ck_assert_uint_eq(put(j, JOURNAL_REVOKE, "A", NOW + 1000),
		    seq + (i == 0 ? 30001 : 1));
		ck_assert_ptr_nonnull(snap = journal_snap_new());
		snap_put(snap, names[i], JOURNAL_F_REMOTE, 0);
		seq = journal_replace(j, snap);
		ck_assert_uint_eq(seq, 30002 + 2 * i);
	}
	ck_assert_uint_eq(last = put(j, JOURNAL_REVOKE, "C", NOW + 1000),
	    seq + 1);
	journal_kick(j);
	ck_assert_int_eq(wait_for(j, is_durable, last), 1);
	journal_close(j);
	j = topen_seen(&s);
	ck_assert_uint_eq(s.n, 2);
	ck_assert_str_eq(s.jti[0], "Z");
	ck_assert_str_eq(s.jti[1], "C");
	ck_assert_uint_eq(s.seq[1], last);
	ck_assert_uint_eq(journal_durable(j), last);
	journal_close(j);
}
END_TEST

START_TEST(test_replace_empty)
{
	struct journal		*j;
	struct journal_snap	*snap;
	struct seen		 s;
	uint64_t		 seq;

	j = topen_ok(NULL, NULL);
	put(j, JOURNAL_REVOKE, "A", NOW + 1000);
	put(j, JOURNAL_REVOKE, "B", NOW + 1000);
	journal_kick(j);
	ck_assert_int_eq(wait_for(j, is_durable, 2), 1);
	ck_assert_ptr_nonnull(snap = journal_snap_new());
	ck_assert_uint_eq(seq = journal_replace(j, snap), 3);
	ck_assert_int_eq(wait_for(j, is_durable, seq), 1);
	journal_close(j);
	ck_assert_int_eq(fsize("journal.snap"), HDR + MARK);
	ck_assert_int_eq(fsize("journal.log"), HDR);
	j = topen_seen(&s);
	ck_assert_uint_eq(s.n, 0);
	ck_assert_uint_eq(put(j, JOURNAL_REVOKE, "C", NOW + 1000), 4);
	journal_close(j);
}
END_TEST

/* The rename of a replacement reached the disk, the truncation of the log
 * did not: the superseded records must stay gone, at open and through a
 * compaction. */
START_TEST(test_replace_crash_before_truncate)
{
	struct journal		*j;
	struct journal_snap	*snap;
	struct journal_stats	 st;
	struct seen		 s;
	size_t			 i;

	j = topen_ok(NULL, NULL);
	put(j, JOURNAL_REVOKE, "A", NOW + 1000);
	put(j, JOURNAL_REVOKE, "B", NOW + 1000);
	put(j, JOURNAL_REVOKE, "C", NOW + 1000);
	journal_close(j);
	fcopy("journal.log", "saved.log");
	j = topen_ok(NULL, NULL);
	ck_assert_ptr_nonnull(snap = journal_snap_new());
	snap_put(snap, "X", JOURNAL_F_REMOTE, 0);
	ck_assert_uint_eq(journal_replace(j, snap), 4);
	ck_assert_uint_eq(put(j, JOURNAL_REVOKE, "D", NOW + 1000), 5);
	journal_close(j);
	fcopy("journal.log", "orig.log");	/* header + D */

	/* Crash right after the rename: the old log beside the new
	 * snapshot. Only X; the log is truncated at open. */
	fcopy("saved.log", "journal.log");
	j = topen_seen(&s);
	ck_assert_uint_eq(s.n, 1);
	ck_assert_str_eq(s.jti[0], "X");
	journal_get_stats(j, &st);
	ck_assert_uint_eq(st.replayed, 1);
	ck_assert_uint_eq(st.log_bytes, HDR);
	ck_assert_int_eq(fsize("journal.log"), HDR);
	ck_assert_uint_eq(journal_durable(j), 4);
	journal_close(j);

	/* The log kept whole (the directory sync failed) and D appended
	 * behind the superseded records: X and D, also after a
	 * compaction. */
	fcopy("saved.log", "journal.log");
	fappend_recs("orig.log", "journal.log");
	for (i = 0; i < 2; i++) {
		j = topen_seen(&s);
		ck_assert_uint_eq(s.n, 2);
		ck_assert_str_eq(s.jti[0], "X");
		ck_assert_int_eq(s.flags[0], JOURNAL_F_REMOTE |
		    (i == 1 ? JOURNAL_F_STATE : 0));
		ck_assert_str_eq(s.jti[1], "D");
		ck_assert_uint_eq(s.seq[1], 5);
		ck_assert_uint_eq(journal_durable(j), 5);
		if (i == 0) {
			journal_request_compact(j);
			ck_assert_int_eq(wait_for(j, compacted, 1), 1);
		}
		journal_close(j);
	}
	ck_assert_int_eq(fsize("journal.log"), HDR);
	ck_assert_int_eq(fsize("journal.snap"), HDR + MARK +
	    2 * REC(3 + 1 + 3));
}
END_TEST

/* A replacement that cannot be written leaves the journal as it was, and
 * the records appended before it durable. */
START_TEST(test_replace_fails)
{
	struct journal		*j;
	struct journal_snap	*snap;
	struct journal_stats	 st;
	struct seen		 s;
	uint64_t		 seq;

	j = topen_ok(NULL, NULL);
	put(j, JOURNAL_REVOKE, "A", NOW + 1000);
	/* The temporary snapshot cannot be created. */
	ck_assert_int_eq(mkdir(tpath("journal.snap.tmp"), 0700), 0);
	ck_assert_ptr_nonnull(snap = journal_snap_new());
	snap_put(snap, "X", JOURNAL_F_REMOTE, 0);
	ck_assert_uint_eq(seq = journal_replace(j, snap), 2);
	ck_assert_int_eq(wait_for(j, is_durable, seq), 1);
	journal_get_stats(j, &st);
	ck_assert_uint_eq(st.replaces, 0);
	ck_assert_uint_eq(st.pending, 0);
	ck_assert_uint_eq(put(j, JOURNAL_REVOKE, "B", NOW + 1000), 3);
	journal_close(j);
	ck_assert_int_eq(rmdir(tpath("journal.snap.tmp")), 0);
	ck_assert_int_eq(access(tpath("journal.snap"), F_OK), -1);
	j = topen_seen(&s);
	ck_assert_uint_eq(s.n, 2);
	ck_assert_str_eq(s.jti[0], "A");
	ck_assert_str_eq(s.jti[1], "B");
	journal_close(j);
}
END_TEST

/* Long strings for the limits. */
static const char long_comm[] =
    "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";
static char	long_host[JOURNAL_HOST_MAX + 2];	/* filled by fill_rule */

/* Fill r as a valid record of type for id with exp and an audit trail. */
static void
fill_rule(struct journal_rec *r, int type, const char *id, int64_t exp)
{
	memset(long_host, 'h', JOURNAL_HOST_MAX + 1);
	memset(r, 0, sizeof *r);
	r->type = type;
	r->exp = exp;
	r->ts = test_now;
	r->iss = "https://idp.example";
	r->isslen = strlen(r->iss);
	r->jti = id;
	r->jtilen = strlen(id);
	r->reason = "a reason";
	r->reasonlen = 8;
	r->uid = 1000;
	r->gid = 1001;
	r->pid = 4242;
	r->comm = "revokectl";
	r->commlen = 9;
	r->host = "a.example";
	r->hostlen = 9;
}

/* Fill r as invalid record number i (the same as a valid one but for one
 * field); 0 when there is no such case. */
static int
fill_invalid(struct journal_rec *r, int i)
{
	fill_rule(r, JOURNAL_REVOKE, "A", NOW + 1000);
	switch (i) {
	case 0:
		r->jtilen = 0;
		break;
	case 1:
		r->reasonlen = 513;
		break;
	case 2:
		r->type = 9;
		break;
	case 3:
		r->type = 3;		/* MARK */
		break;
	case 4:
		r->type = 0;
		break;
	case 5:
		r->type = JOURNAL_REVOKEALL;	/* with an id */
		break;
	case 6:
		r->comm = long_comm;
		r->commlen = JOURNAL_COMM_MAX + 1;
		break;
	case 7:
		r->host = long_host;
		r->hostlen = JOURNAL_HOST_MAX + 1;
		break;
	case 8:
		r->type = JOURNAL_UNBAN;
		r->exp = 5;
		break;
	case 9:
		r->type = JOURNAL_UNREVOKE;
		r->exp = NOW;
		break;
	case 10:
		r->iss = long_host;
		r->isslen = 257;
		break;
	case 11:
		r->jti = long_host;
		r->jtilen = 257;
		break;
	case 12:
		r->flags = 0x08;
		break;
	case 13:
		r->flags = JOURNAL_F_AUDIT | JOURNAL_F_STATE;
		break;
	default:
		return 0;
	}
	return 1;
}

/* Fill r as valid record number i: every type, strings at their limits;
 * 0 when there is no such case. */
static int
fill_valid(struct journal_rec *r, int i)
{
	switch (i) {
	case 0:
		fill_rule(r, JOURNAL_REVOKE, "j1", NOW + 1000);
		break;
	case 1:
		fill_rule(r, JOURNAL_REVOKESUB, "alice", NOW - 10);
		r->flags = JOURNAL_F_REMOTE;
		r->uid = r->gid = 0;
		r->pid = 1;
		r->comm = "sh";
		r->commlen = 2;
		r->hostlen = 0;
		r->reason = "log out everywhere";
		r->reasonlen = strlen(r->reason);
		break;
	case 2:
		fill_rule(r, JOURNAL_BAN, "mallory", RULES_FOREVER);
		r->uid = r->gid = JOURNAL_NOBODY;
		r->pid = 0;
		r->commlen = 0;
		r->host = "b.example";
		break;
	case 3:
		fill_rule(r, JOURNAL_REVOKESID, "sess-1", NOW + 500);
		r->reasonlen = 0;
		break;
	case 4:
		fill_rule(r, JOURNAL_REVOKEALL, "", NOW - 5);
		r->jti = NULL;
		r->reason = "key leaked";
		r->reasonlen = strlen(r->reason);
		break;
	case 5:
		fill_rule(r, JOURNAL_UNREVOKE, "j0", 0);
		break;
	case 6:
		fill_rule(r, JOURNAL_UNBAN, "eve", 0);
		r->flags = JOURNAL_F_REMOTE;
		break;
	case 7:
		fill_rule(r, JOURNAL_BAN, "bob", NOW + 100);
		break;
	case 8:
		fill_rule(r, JOURNAL_REVOKE, "j2", NOW + 1000);
		r->comm = long_comm;
		r->commlen = JOURNAL_COMM_MAX;
		r->host = long_host;
		r->hostlen = JOURNAL_HOST_MAX;
		r->isslen = 0;
		break;
	case 9:
		fill_rule(r, JOURNAL_REVOKEALL, "", NOW - 20);
		r->iss = "";
		r->isslen = 0;
		break;
	default:
		return 0;
	}
	return 1;
}

/* A copy of a record, strings NUL-terminated. */
struct copy {
	struct journal_rec rec;			/* pointing into the below */
	char		 iss[JOURNAL_HOST_MAX + 2];
	char		 jti[JOURNAL_HOST_MAX + 2];
	char		 reason[520];
	char		 comm[JOURNAL_COMM_MAX + 1];
	char		 host[JOURNAL_HOST_MAX + 1];
};

/* Copies of the records replayed or listed. */
struct copies {
	size_t		 n;			/* records seen */
	struct copy	 c[MAX_SEEN];		/* the first MAX_SEEN */
};

/* Copy len bytes of s into buf as a string. */
static const char *
copy_str(char *buf, const char *s, size_t len)
{
	if (len > 0)
		memcpy(buf, s, len);
	buf[len] = '\0';
	return buf;
}

/* Keep a copy of a replayed record. */
static void
copies_apply(const struct journal_rec *r, void *arg)
{
	struct copies	*cs = arg;
	struct copy	*c;

	if (cs->n < MAX_SEEN) {
		c = &cs->c[cs->n];
		c->rec = *r;
		c->rec.iss = copy_str(c->iss, r->iss, r->isslen);
		c->rec.jti = copy_str(c->jti, r->jti, r->jtilen);
		c->rec.reason = copy_str(c->reason, r->reason, r->reasonlen);
		c->rec.comm = copy_str(c->comm, r->comm, r->commlen);
		c->rec.host = copy_str(c->host, r->host, r->hostlen);
	}
	cs->n++;
}

/* Keep a copy of a listed record; never stops the listing. */
static int
copies_list(const struct journal_rec *r, void *arg)
{
	copies_apply(r, arg);
	return 0;
}

/* Return a cleared set of copies (freed by the caller). */
static struct copies *
copies_new(void)
{
	struct copies	*cs = calloc(1, sizeof *cs);

	ck_assert_ptr_nonnull(cs);
	return cs;
}

/* Fail unless got equals want in every field but seq (and exp, reason
 * when not full). */
static void
rec_check(const struct journal_rec *got, const struct journal_rec *want,
    int line)
{
	ck_assert_msg(got->type == want->type && got->flags == want->flags &&
	    got->exp == want->exp && got->ts == want->ts &&
	    str_eq(got->iss, got->isslen, want->iss, want->isslen) &&
	    str_eq(got->jti, got->jtilen, want->jti, want->jtilen) &&
	    str_eq(got->reason, got->reasonlen, want->reason,
	    want->reasonlen) &&
	    got->uid == want->uid && got->gid == want->gid &&
	    got->pid == want->pid &&
	    str_eq(got->comm, got->commlen, want->comm, want->commlen) &&
	    str_eq(got->host, got->hostlen, want->host, want->hostlen),
	    "line %d: record of type %d (jti \"%.*s\") differs", line,
	    want->type, (int)want->jtilen, want->jti == NULL ? "" :
	    want->jti);
}

/* Return the format version in the header of a file of the test dir. */
static uint32_t
fversion(const char *name)
{
	uint8_t	hdr[HDR];
	int	fd;

	ck_assert_int_ne(fd = open(tpath(name), O_RDONLY), -1);
	ck_assert_int_eq(read(fd, hdr, sizeof hdr), HDR);
	close(fd);
	ck_assert_int_eq(memcmp(hdr, "RVKJ", 4), 0);
	return (uint32_t)hdr[4] | (uint32_t)hdr[5] << 8 |
	    (uint32_t)hdr[6] << 16 | (uint32_t)hdr[7] << 24;
}

START_TEST(test_invalid_rules)
{
	struct journal		*j = topen_ok(NULL, NULL);
	struct journal_snap	*snap;
	struct journal_rec	 r;
	uint64_t		 seq = 0;
	int			 i;

	ck_assert_ptr_nonnull(snap = journal_snap_new());
	for (i = 0; fill_invalid(&r, i); i++) {
		ck_assert_msg(journal_append(j, &r) == 0, "case %d", i);
		ck_assert_msg(journal_snap_add(snap, &r) == -1, "case %d", i);
	}
	ck_assert_int_eq(i, 14);
	for (i = 0; fill_valid(&r, i); i++) {
		ck_assert_msg(journal_append(j, &r) == ++seq, "case %d", i);
		ck_assert_msg(journal_snap_add(snap, &r) == 0, "case %d", i);
	}
	/* Every legal combination of flags. */
	for (i = 0; i < 8; i++) {
		fill_rule(&r, JOURNAL_REVOKE, "A", NOW + 1000);
		r.flags = i;
		if (i == (JOURNAL_F_AUDIT | JOURNAL_F_STATE) ||
		    i == (JOURNAL_F_AUDIT | JOURNAL_F_STATE |
		    JOURNAL_F_REMOTE))
			continue;
		ck_assert_msg(journal_append(j, &r) == ++seq, "flags %d", i);
		ck_assert_msg(journal_snap_add(snap, &r) == 0, "flags %d", i);
	}
	journal_snap_free(snap);
	journal_close(j);
}
END_TEST

/* Every type and the audit trail, through the log, a compaction and a
 * replacement. */
START_TEST(test_rule_records_roundtrip)
{
	struct journal		*j;
	struct journal_snap	*snap;
	struct journal_rec	 want[16];
	struct copies		*cs = copies_new();
	size_t			 n, i, k;

	j = topen_ok(NULL, NULL);
	for (n = 0; fill_valid(&want[n], (int)n); n++)
		ck_assert_uint_eq(journal_append(j, &want[n]), n + 1);
	journal_close(j);

	j = topen_ok(copies_apply, cs);
	ck_assert_uint_eq(cs->n, n);
	for (i = 0; i < n; i++) {
		rec_check(&cs->c[i].rec, &want[i], __LINE__);
		ck_assert_uint_eq(cs->c[i].rec.seq, i + 1);
	}
	ck_assert_uint_eq(cs->c[4].rec.jtilen, 0);
	ck_assert_uint_eq(cs->c[8].rec.commlen, JOURNAL_COMM_MAX);
	ck_assert_uint_eq(cs->c[8].rec.hostlen, JOURNAL_HOST_MAX);
	journal_request_compact(j);
	ck_assert_int_eq(wait_for(j, compacted, 1), 1);
	journal_close(j);

	/* The lifts are gone; every rule is kept as it was, seq too, as a
	 * state copy (no trail is kept). */
	memset(cs, 0, sizeof *cs);
	j = topen_ok(copies_apply, cs);
	ck_assert_uint_eq(cs->n, n - 2);
	for (i = k = 0; i < n; i++) {
		struct journal_rec	w = want[i];

		if (want[i].type == JOURNAL_UNREVOKE ||
		    want[i].type == JOURNAL_UNBAN)
			continue;
		w.flags = (w.flags & JOURNAL_F_REMOTE) | JOURNAL_F_STATE;
		rec_check(&cs->c[k].rec, &w, __LINE__);
		ck_assert_uint_eq(cs->c[k].rec.seq, i + 1);
		k++;
	}
	ck_assert_uint_eq(k, n - 2);

	/* A replacement takes them all, with the audit trail. */
	ck_assert_ptr_nonnull(snap = journal_snap_new());
	for (i = 0; i < n; i++) {
		want[i].seq = 100 + i;
		ck_assert_int_eq(journal_snap_add(snap, &want[i]), 0);
	}
	ck_assert_uint_eq(journal_replace(j, snap), 100 + n);
	journal_close(j);
	memset(cs, 0, sizeof *cs);
	j = topen_ok(copies_apply, cs);
	ck_assert_uint_eq(cs->n, n);
	for (i = 0; i < n; i++) {
		rec_check(&cs->c[i].rec, &want[i], __LINE__);
		ck_assert_uint_eq(cs->c[i].rec.seq, 100 + i);
	}
	journal_close(j);
	free(cs);
}
END_TEST

/* Append a rule record (no audit trail) for id with exp; return its seq. */
static uint64_t
put_rule(struct journal *j, int type, const char *iss, const char *id,
    int64_t exp)
{
	struct journal_rec	r;

	fill_rule(&r, type, id, exp);
	r.iss = iss;
	r.isslen = strlen(iss);
	r.reason = id;
	r.reasonlen = strlen(id);
	return journal_append(j, &r);
}

/* Return the index in cs of the first record of type for id, or -1. */
static int
copies_find(const struct copies *cs, int type, const char *iss,
    const char *id)
{
	size_t	i;

	for (i = 0; i < cs->n && i < MAX_SEEN; i++)
		if (cs->c[i].rec.type == type &&
		    strcmp(cs->c[i].iss, iss) == 0 &&
		    strcmp(cs->c[i].jti, id) == 0)
			return (int)i;
	return -1;
}

/* Compaction drops not-before rules a lifetime behind the horizon, expired
 * and lifted bans; keeps a ban forever; keeps a moved point's latest. */
START_TEST(test_compaction_rules)
{
	const int64_t		 h = NOW + 700;	/* the compaction's horizon */
	struct journal		*j;
	struct copies		*cs = copies_new();
	struct rules		*r;
	uint8_t			 key[BLOCKLIST_KEY_LEN] = { 9 };
	int			 i;

	j = topen_ok(NULL, NULL);
	put_rule(j, JOURNAL_REVOKESUB, "i", "old", NOW - 3000);
	put_rule(j, JOURNAL_REVOKESUB, "i", "new", NOW);
	put_rule(j, JOURNAL_REVOKEALL, "dead-iss", "", NOW - 3500);
	put_rule(j, JOURNAL_REVOKEALL, "live-iss", "", NOW - 2000);
	put_rule(j, JOURNAL_BAN, "i", "forever", RULES_FOREVER);
	put_rule(j, JOURNAL_BAN, "i", "until", NOW + 50);
	put_rule(j, JOURNAL_BAN, "i", "lifted", RULES_FOREVER);
	put_rule(j, JOURNAL_UNBAN, "i", "lifted", 0);
	put_rule(j, JOURNAL_REVOKESID, "i", "s", NOW + 1000);
	put_rule(j, JOURNAL_REVOKESID, "i", "s-old", NOW + 700);
	put_rule(j, JOURNAL_REVOKESUB, "i", "moved", NOW - 3000);
	put_rule(j, JOURNAL_REVOKESUB, "i", "moved", NOW - 100);
	put_rule(j, JOURNAL_REVOKESUB, "i", "back", NOW - 100);
	put_rule(j, JOURNAL_REVOKESUB, "i", "back", NOW - 3000);
	put_rule(j, JOURNAL_REVOKESUB, "i", "edge1", h - LIFETIME);
	put_rule(j, JOURNAL_REVOKESUB, "i", "edge2", h - LIFETIME + 1);
	/* The same id in different kinds: separate rules. */
	put_rule(j, JOURNAL_REVOKE, "i", "forever", NOW + 1000);
	put_rule(j, JOURNAL_UNREVOKE, "i", "forever", 0);
	journal_close(j);

	test_now = h;
	compact_now();
	j = topen_ok(copies_apply, cs);
	journal_close(j);
	ck_assert_uint_eq(cs->n, 7);
	ck_assert_int_eq(copies_find(cs, JOURNAL_REVOKESUB, "i", "old"), -1);
	ck_assert_int_ge(i = copies_find(cs, JOURNAL_REVOKESUB, "i", "new"),
	    0);
	ck_assert_int_eq(cs->c[i].rec.exp, NOW);
	ck_assert_int_eq(copies_find(cs, JOURNAL_REVOKEALL, "dead-iss", ""),
	    -1);
	ck_assert_int_ge(copies_find(cs, JOURNAL_REVOKEALL, "live-iss", ""),
	    0);
	ck_assert_int_ge(i = copies_find(cs, JOURNAL_BAN, "i", "forever"), 0);
	ck_assert_int_eq(cs->c[i].rec.exp, RULES_FOREVER);
	ck_assert_int_eq(copies_find(cs, JOURNAL_BAN, "i", "until"), -1);
	ck_assert_int_eq(copies_find(cs, JOURNAL_BAN, "i", "lifted"), -1);
	ck_assert_int_eq(copies_find(cs, JOURNAL_UNBAN, "i", "lifted"), -1);
	ck_assert_int_ge(copies_find(cs, JOURNAL_REVOKESID, "i", "s"), 0);
	ck_assert_int_eq(copies_find(cs, JOURNAL_REVOKESID, "i", "s-old"),
	    -1);
	/* Once, with the latest point and the seq of the last record that
	 * made it (a record that cannot be live at h makes nothing). */
	ck_assert_int_ge(i = copies_find(cs, JOURNAL_REVOKESUB, "i", "moved"),
	    0);
	ck_assert_int_eq(cs->c[i].rec.exp, NOW - 100);
	ck_assert_uint_eq(cs->c[i].rec.seq, 12);
	ck_assert_int_ge(i = copies_find(cs, JOURNAL_REVOKESUB, "i", "back"),
	    0);
	ck_assert_int_eq(cs->c[i].rec.exp, NOW - 100);
	ck_assert_uint_eq(cs->c[i].rec.seq, 13);
	ck_assert_int_eq(copies_find(cs, JOURNAL_REVOKESUB, "i", "edge1"), -1);
	ck_assert_int_ge(copies_find(cs, JOURNAL_REVOKESUB, "i", "edge2"), 0);
	ck_assert_int_eq(copies_find(cs, JOURNAL_REVOKE, "i", "forever"), -1);

	/* What is left replays into the tables as expected. */
	ck_assert_ptr_nonnull(r = rules_new(key, LIFETIME));
	for (i = 0; i < (int)cs->n; i++)
		ck_assert_int_eq(rules_apply(r, &cs->c[i].rec, h), 0);
	ck_assert_uint_eq(rules_count(r, -1), 7);
	ck_assert_int_eq(rules_lookup(r, RULES_ISS, "live-iss", 8, "", 0, h,
	    NULL), 1);
	ck_assert_int_eq(rules_lookup(r, RULES_BAN, "i", 1, "forever", 7,
	    RULES_FOREVER - 1, NULL), 1);
	rules_free(r);

	/* Much later, only the ban forever is left. */
	test_now = NOW + 100000;
	compact_now();
	memset(cs, 0, sizeof *cs);
	j = topen_ok(copies_apply, cs);
	journal_close(j);
	ck_assert_uint_eq(cs->n, 1);
	ck_assert_int_eq(cs->c[0].rec.type, JOURNAL_BAN);
	ck_assert_str_eq(cs->c[0].jti, "forever");
	free(cs);
}
END_TEST

/* Fill r as a record of type for id with exp written by writer w (1..3):
 * uid, gid, pid, comm, host, ts and reason all differ between writers. */
static void
fill_by(struct journal_rec *r, int type, const char *id, int64_t exp, int w)
{
	static const char *const comm[] = { "", "one", "two", "three" };
	static const char *const host[] = { "", "h1.example", "h2.example",
	    "h3.example" };
	static const char *const reason[] = { "", "first", "second",
	    "third" };

	fill_rule(r, type, id, exp);
	r->uid = (uint32_t)w;
	r->gid = 100 + (uint32_t)w;
	r->pid = 200 + (uint32_t)w;
	r->ts = NOW - 1000 + w;
	r->comm = comm[w];
	r->commlen = strlen(comm[w]);
	r->host = host[w];
	r->hostlen = strlen(host[w]);
	r->reason = reason[w];
	r->reasonlen = strlen(reason[w]);
}

/* Append a record of fill_by's into want (may be NULL); return its seq. */
static uint64_t
put_by(struct journal *j, int type, const char *id, int64_t exp, int w,
    struct journal_rec *want)
{
	struct journal_rec	r;
	uint64_t		seq;

	fill_by(&r, type, id, exp, w);
	ck_assert_uint_ne(seq = journal_append(j, &r), 0);
	if (want != NULL) {
		*want = r;
		want->seq = seq;
	}
	return seq;
}

/* Fail unless c is want, seq included. */
static void
copy_check(const struct copy *c, const struct journal_rec *want, int line)
{
	rec_check(&c->rec, want, line);
	ck_assert_msg(c->rec.seq == want->seq, "line %d: seq %llu, not %llu",
	    line, (unsigned long long)c->rec.seq,
	    (unsigned long long)want->seq);
}

/* Fail unless c is want's state copy: want with JOURNAL_F_STATE added
 * (REMOTE kept), seq included. */
static void
state_check(const struct copy *c, const struct journal_rec *want, int line)
{
	struct journal_rec	w = *want;

	w.flags = (w.flags & JOURNAL_F_REMOTE) | JOURNAL_F_STATE;
	copy_check(c, &w, line);
}

/* Fail unless c is want's trail copy: want with JOURNAL_F_AUDIT added,
 * seq included. */
static void
trail_check(const struct copy *c, const struct journal_rec *want, int line)
{
	struct journal_rec	w = *want;

	w.flags |= JOURNAL_F_AUDIT;
	copy_check(c, &w, line);
}

/* Compaction keeps each live rule as its last add-record: the audit trail
 * names the writer of the rule in force, not the writer of an earlier one
 * lifted since or superseded; the records stay oldest first. */
START_TEST(test_compaction_last_writer)
{
	struct journal		*j;
	struct journal_snap	*snap;
	struct journal_rec	 ban, other, tok, sub, r, zero, bob;
	struct copies		*cs = copies_new();
	size_t			 i;

	j = topen_ok(NULL, NULL);
	/* BAN by 1, UNBAN, BAN by 2: the ban in force is 2's. */
	put_by(j, JOURNAL_BAN, "bob", RULES_FOREVER, 1, NULL);
	put_by(j, JOURNAL_UNBAN, "bob", 0, 3, NULL);
	put_by(j, JOURNAL_BAN, "bob", RULES_FOREVER, 2, &ban);
	/* Re-revoked with a later exp by another writer. */
	put_by(j, JOURNAL_REVOKE, "tok", NOW + 500, 1, NULL);
	put_by(j, JOURNAL_REVOKE, "other", NOW + 800, 3, &other);
	put_by(j, JOURNAL_REVOKE, "tok", NOW + 900, 2, &tok);
	/* A not-before point moved forward by another writer. */
	put_by(j, JOURNAL_REVOKESUB, "alice", NOW - 100, 1, NULL);
	put_by(j, JOURNAL_REVOKESUB, "alice", NOW, 2, &sub);
	journal_close(j);

	compact_now();
	j = topen_ok(copies_apply, cs);
	journal_close(j);
	ck_assert_uint_eq(cs->n, 4);
	state_check(&cs->c[0], &ban, __LINE__);
	state_check(&cs->c[1], &other, __LINE__);
	state_check(&cs->c[2], &tok, __LINE__);
	state_check(&cs->c[3], &sub, __LINE__);

	/* Over snapshot and log: lifted and banned again in the log. */
	j = topen_ok(NULL, NULL);
	put_by(j, JOURNAL_UNBAN, "bob", 0, 1, NULL);
	put_by(j, JOURNAL_BAN, "bob", NOW + 5000, 3, &ban);
	journal_close(j);
	compact_now();
	memset(cs, 0, sizeof *cs);
	j = topen_ok(copies_apply, cs);
	journal_close(j);
	ck_assert_uint_eq(cs->n, 4);
	state_check(&cs->c[0], &other, __LINE__);
	state_check(&cs->c[1], &tok, __LINE__);
	state_check(&cs->c[2], &sub, __LINE__);
	state_check(&cs->c[3], &ban, __LINE__);

	/* A replacement's records of seq 0: each kept unless the log adds
	 * its rule again, when the log's record is the one kept. */
	j = topen_ok(NULL, NULL);
	ck_assert_ptr_nonnull(snap = journal_snap_new());
	fill_by(&r, JOURNAL_BAN, "carol", RULES_FOREVER, 1);
	ck_assert_int_eq(journal_snap_add(snap, &r), 0);
	fill_by(&zero, JOURNAL_REVOKE, "zero", NOW + 900, 1);
	ck_assert_int_eq(journal_snap_add(snap, &zero), 0);
	fill_by(&bob, JOURNAL_BAN, "bob", RULES_FOREVER, 2);
	ck_assert_int_eq(journal_snap_add(snap, &bob), 0);
	ck_assert_uint_ne(journal_replace(j, snap), 0);
	put_by(j, JOURNAL_BAN, "carol", RULES_FOREVER, 2, &ban);
	journal_close(j);
	compact_now();
	memset(cs, 0, sizeof *cs);
	j = topen_ok(copies_apply, cs);
	journal_close(j);
	ck_assert_uint_eq(cs->n, 3);
	state_check(&cs->c[0], &zero, __LINE__);
	state_check(&cs->c[1], &bob, __LINE__);
	state_check(&cs->c[2], &ban, __LINE__);
	for (i = 0; i < 2; i++)
		ck_assert_uint_eq(cs->c[i].rec.seq, 0);
	free(cs);
}
END_TEST

/* Append a record of fill_by's with flags into want; return its seq. */
static uint64_t
put_byf(struct journal *j, int type, const char *id, int64_t exp, int w,
    int flags, struct journal_rec *want)
{
	struct journal_rec	r;
	uint64_t		seq;

	fill_by(&r, type, id, exp, w);
	r.flags = flags;
	ck_assert_uint_ne(seq = journal_append(j, &r), 0);
	*want = r;
	want->seq = seq;
	return seq;
}

/* Return tables holding what replaying cs applies at horizon h. */
static struct rules *
rules_of(const struct copies *cs, int64_t h)
{
	uint8_t		 key[BLOCKLIST_KEY_LEN] = { 5 };
	struct rules	*r;
	size_t		 i;

	ck_assert_uint_le(cs->n, MAX_SEEN);
	ck_assert_ptr_nonnull(r = rules_new(key, LIFETIME));
	for (i = 0; i < cs->n; i++)
		ck_assert_int_eq(rules_apply(r, &cs->c[i].rec, h), 0);
	return r;
}

/* Fail unless replaying a and b at horizon h gives the same tables: the
 * same rules, times and reasons for every id either names. */
static void
same_state(const struct copies *a, const struct copies *b, int64_t h)
{
	struct rules		*ra = rules_of(a, h), *rb = rules_of(b, h);
	struct rules_match	 ma, mb;
	const struct copies	*both[2] = { a, b };
	const struct journal_rec *r;
	size_t			 i, k;
	int			 kind, fa, fb;

	ck_assert_uint_eq(rules_count(ra, -1), rules_count(rb, -1));
	for (k = 0; k < 2; k++)
		for (i = 0; i < both[k]->n; i++) {
			r = &both[k]->c[i].rec;
			kind = rules_kind_of(r->type);
			fa = rules_lookup(ra, (enum rules_kind)kind, r->iss,
			    r->isslen, r->jti, r->jtilen, h, &ma);
			fb = rules_lookup(rb, (enum rules_kind)kind, r->iss,
			    r->isslen, r->jti, r->jtilen, h, &mb);
			ck_assert_int_eq(fa, fb);
			if (!fa)
				continue;
			ck_assert_int_eq(ma.time, mb.time);
			ck_assert(str_eq(ma.reason, ma.reason_len, mb.reason,
			    mb.reason_len));
		}
	rules_free(ra);
	rules_free(rb);
}

/* Compaction keeps the newest audit_keep records of the audit trail (own
 * writes, other daemons' trail-only records) exactly as they were, flagged
 * AUDIT, and the rules in force as state copies flagged STATE; replay
 * gives the same tables, and the daemon's ring the same newest records. */
START_TEST(test_compaction_audit_trail)
{
	const int64_t		 h = NOW + 100;	/* the compaction's horizon */
	const int		 RA = JOURNAL_F_REMOTE | JOURNAL_F_AUDIT;
	struct journal		*j;
	struct journal_rec	 w[16];
	struct copies		*before = copies_new(), *cs = copies_new();
	struct copies		*again = copies_new();
	struct rules		*rt;
	struct rules_match	 hit;
	char			 why[64];
	size_t			 i;

	test_audit_keep = 4;
	j = topen_ok(NULL, NULL);
	/* Audit records are marked (n): own writes and trail-only ones. */
	put_byf(j, JOURNAL_REVOKE, "a", NOW + 1000, 1, 0, &w[1]);      /* 0 */
	put_byf(j, JOURNAL_REVOKE, "r", NOW + 1000, 2, JOURNAL_F_REMOTE,
	    &w[2]);
	put_byf(j, JOURNAL_REVOKE, "t", NOW + 1000, 2, RA, &w[3]);     /* 1 */
	put_byf(j, JOURNAL_REVOKE, "a", NOW + 2000, 3, 0, &w[4]);      /* 2 */
	put_byf(j, JOURNAL_BAN, "b", RULES_FOREVER, 1, 0, &w[5]);      /* 3 */
	put_byf(j, JOURNAL_UNBAN, "b", 0, 2, 0, &w[6]);                /* 4 */
	/* Another daemon's lift of r, for the trail only: r stays. */
	put_byf(j, JOURNAL_UNREVOKE, "r", 0, 3, RA, &w[7]);            /* 5 */
	put_byf(j, JOURNAL_REVOKESUB, "s", NOW, 1, 0, &w[8]);          /* 6 */
	put_byf(j, JOURNAL_BAN, "c", NOW + 500, 3, JOURNAL_F_REMOTE, &w[9]);
	/* Expired at h: only its trail copy is left. */
	put_byf(j, JOURNAL_REVOKE, "e", NOW + 1, 2, 0, &w[10]);        /* 7 */
	journal_close(j);
	j = topen_ok(copies_apply, before);
	journal_close(j);
	ck_assert_uint_eq(before->n, 10);

	/* 8 audit records: the newest 4 (seqs 6, 7, 8, 10) are kept; the
	 * rules r, a, s, c in force; in the order of the file, a write's
	 * trail copy before its state copy. */
	test_now = h;
	compact_now();
	ck_assert_ptr_nonnull(rt = rules_of(before, h));
	j = topen_ok(copies_apply, cs);
	ck_assert_uint_eq(journal_durable(j), 10);
	journal_close(j);
	ck_assert_uint_eq(cs->n, 8);
	state_check(&cs->c[0], &w[2], __LINE__);
	/* a's state: the table's merged time and reason, seq, ts and
	 * writer of its last add-record. */
	ck_assert(rules_lookup(rt, RULES_JTI, w[4].iss, w[4].isslen, "a", 1,
	    h, &hit));
	w[4].exp = hit.time;
	ck_assert_uint_lt(hit.reason_len, sizeof why);
	w[4].reason = copy_str(why, hit.reason, hit.reason_len);
	w[4].reasonlen = hit.reason_len;
	ck_assert_int_eq(w[4].exp, NOW + 2000);
	state_check(&cs->c[1], &w[4], __LINE__);
	trail_check(&cs->c[2], &w[6], __LINE__);
	trail_check(&cs->c[3], &w[7], __LINE__);
	ck_assert_int_eq(cs->c[3].rec.flags, RA);
	trail_check(&cs->c[4], &w[8], __LINE__);
	state_check(&cs->c[5], &w[8], __LINE__);
	state_check(&cs->c[6], &w[9], __LINE__);
	trail_check(&cs->c[7], &w[10], __LINE__);
	same_state(before, cs, h);
	rules_free(rt);

	/* Again over snapshot and log: the trail copies count as audit
	 * records, the state copies do not. Of 6 audit records (seqs 6, 7,
	 * 8, 10 in the snapshot, 11 and 12 in the log) the newest 4. */
	j = topen_ok(NULL, NULL);
	put_byf(j, JOURNAL_REVOKE, "f", NOW + 3000, 1, 0, &w[11]);
	put_byf(j, JOURNAL_REVOKESID, "g", NOW + 3000, 2, RA, &w[12]);
	journal_close(j);
	memset(before, 0, sizeof *before);
	journal_close(topen_ok(copies_apply, before));
	compact_now();
	memset(cs, 0, sizeof *cs);
	j = topen_ok(copies_apply, cs);
	ck_assert_uint_eq(journal_durable(j), 12);
	ck_assert_uint_eq(put_rule(j, JOURNAL_REVOKE, "i", "next",
	    NOW + 1000), 13);
	journal_close(j);
	ck_assert_uint_eq(cs->n, 9);
	state_check(&cs->c[0], &w[2], __LINE__);
	state_check(&cs->c[1], &w[4], __LINE__);
	trail_check(&cs->c[2], &w[8], __LINE__);
	state_check(&cs->c[3], &w[8], __LINE__);
	state_check(&cs->c[4], &w[9], __LINE__);
	trail_check(&cs->c[5], &w[10], __LINE__);
	trail_check(&cs->c[6], &w[11], __LINE__);
	state_check(&cs->c[7], &w[11], __LINE__);
	trail_check(&cs->c[8], &w[12], __LINE__);
	same_state(before, cs, h);

	/* With "next" (seq 13): the oldest trail copy (8) goes. A
	 * compacted journal then compacts into itself. */
	compact_now();
	memset(again, 0, sizeof *again);
	journal_close(topen_ok(copies_apply, again));
	compact_now();
	memset(cs, 0, sizeof *cs);
	journal_close(topen_ok(copies_apply, cs));
	ck_assert_uint_eq(cs->n, again->n);
	for (i = 0; i < cs->n; i++)
		copy_check(&cs->c[i], &again->c[i].rec, __LINE__);
	ck_assert_uint_eq(cs->n, 10);
	state_check(&cs->c[2], &w[8], __LINE__);
	state_check(&cs->c[3], &w[9], __LINE__);
	trail_check(&cs->c[4], &w[10], __LINE__);
	ck_assert_uint_eq(cs->c[8].rec.seq, 13);
	ck_assert_int_eq(cs->c[8].rec.flags, JOURNAL_F_AUDIT);
	ck_assert_uint_eq(cs->c[9].rec.seq, 13);
	ck_assert_int_eq(cs->c[9].rec.flags, JOURNAL_F_STATE);
	free(before);
	free(cs);
	free(again);
}
END_TEST

/* Encode a format 2 record into p: iss "iss", reason as given. */
static size_t
enc_v2(uint8_t *p, int type, int flags, uint64_t seq, const char *jti,
    int64_t exp, const char *reason)
{
	struct hand	h;

	memset(&h, 0, sizeof h);
	h.type = type;
	h.flags = flags;
	h.seq = seq;
	h.exp = exp;
	h.ts = type == 3 ? 0 : NOW - 1;	/* a MARK has none */
	h.iss = type == 3 ? "" : "iss";
	h.jti = jti;
	h.reason = reason;
	return enc_hand(p, 2, &h);
}

/* Write a format 2 pair: the snapshot (MARK 5: A, X expired, B) and the
 * log (Z superseded by the MARK, C, lift of B with an exp, D, C again with
 * a later exp). */
static void
make_v2(void)
{
	uint8_t	buf[1024];
	size_t	n;

	n = enc_v2(buf, 3, 0, 5, "", 0, "");
	n += enc_v2(buf + n, JOURNAL_REVOKE, JOURNAL_F_REMOTE, 2, "A",
	    NOW + 1000, "ra");
	n += enc_v2(buf + n, JOURNAL_REVOKE, 0, 3, "X", NOW - 10, "rx");
	n += enc_v2(buf + n, JOURNAL_REVOKE, 0, 4, "B", NOW + 2000, "rb");
	fmake("journal.snap", 2, buf, n);
	n = enc_v2(buf, JOURNAL_REVOKE, 0, 4, "Z", NOW + 1000, "");
	n += enc_v2(buf + n, JOURNAL_REVOKE, 0, 6, "C", NOW + 3000, "rc");
	/* Format 2 never said a lift's exp is 0. */
	n += enc_v2(buf + n, JOURNAL_UNREVOKE, JOURNAL_F_REMOTE, 7, "B", 99,
	    "");
	n += enc_v2(buf + n, JOURNAL_REVOKE, 0, 8, "D", NOW + 4000, "");
	n += enc_v2(buf + n, JOURNAL_REVOKE, 0, 9, "C", NOW + 5000, "rc2");
	fmake("journal.log", 2, buf, n);
}

/* Fail unless got, replayed from an upgraded journal, is exactly old,
 * replayed from format 2 (n records): every record, seq, flags, times and
 * strings, in order, a lift's exp now 0. */
static void
check_upgraded(const struct copies *got, const struct copies *old, size_t n)
{
	struct journal_rec	want;
	size_t			i;

	ck_assert_uint_eq(old->n, n);
	ck_assert_uint_eq(got->n, n);
	for (i = 0; i < n; i++) {
		want = old->c[i].rec;
		if (want.type == JOURNAL_UNREVOKE)
			want.exp = 0;
		copy_check(&got->c[i], &want, __LINE__);
		ck_assert_uint_eq(got->c[i].rec.uid, JOURNAL_NOBODY);
		ck_assert_uint_eq(got->c[i].rec.gid, JOURNAL_NOBODY);
		ck_assert_uint_eq(got->c[i].rec.pid, 0);
		ck_assert_uint_eq(got->c[i].rec.commlen, 0);
		ck_assert_uint_eq(got->c[i].rec.hostlen, 0);
	}
}

/* The upgrade from format 2 rewrites every record replay applies, one
 * for one, merging nothing (a lift, an expired or superseded write may
 * still be owed to Redis), and is crash-safe. */
START_TEST(test_upgrade_v2)
{
	static const char	*order[] = { "A", "X", "B", "C", "B", "D",
	    "C" };
	struct journal		*j;
	struct journal_stats	 st;
	struct copies		*v2 = copies_new(), *cs = copies_new();
	size_t			 i;

	make_v2();
	fcopy("journal.snap", "v2.snap");
	fcopy("journal.log", "v2.log");
	/* Replayed as format 2 has it: everything but the superseded Z. */
	j = topen_ok(copies_apply, v2);
	ck_assert_uint_eq(v2->n, 7);
	for (i = 0; i < v2->n; i++) {
		ck_assert_str_eq(v2->c[i].jti, order[i]);
		ck_assert_uint_eq(v2->c[i].rec.uid, JOURNAL_NOBODY);
		ck_assert_uint_eq(v2->c[i].rec.gid, JOURNAL_NOBODY);
		ck_assert_uint_eq(v2->c[i].rec.pid, 0);
		ck_assert_uint_eq(v2->c[i].rec.commlen, 0);
		ck_assert_uint_eq(v2->c[i].rec.hostlen, 0);
	}
	ck_assert_int_eq(v2->c[4].rec.type, JOURNAL_UNREVOKE);
	ck_assert_int_eq(v2->c[4].rec.exp, 99);
	ck_assert_int_eq(v2->c[4].rec.flags, JOURNAL_F_REMOTE);
	/* Now both files are format 3, the log empty, the snapshot a MARK
	 * and the 7 records. */
	ck_assert_uint_eq(fversion("journal.snap"), 3);
	ck_assert_uint_eq(fversion("journal.log"), 3);
	ck_assert_int_eq(fsize("journal.log"), HDR);
	ck_assert_int_eq(fsize("journal.snap"), HDR + MARK +
	    4 * REC(3 + 1 + 2) + 2 * REC(3 + 1) + REC(3 + 1 + 3));
	ck_assert_int_eq(access(tpath("journal.snap.tmp"), F_OK), -1);
	ck_assert_int_eq(access(tpath("journal.log.tmp"), F_OK), -1);
	journal_get_stats(j, &st);
	ck_assert_uint_eq(st.log_bytes, HDR);
	ck_assert_uint_eq(st.snapshot_bytes, (uint64_t)fsize("journal.snap"));
	ck_assert_uint_eq(st.compactions, 0);
	ck_assert_uint_eq(journal_durable(j), 9);
	journal_close(j);
	fcopy("journal.snap", "saved.snap");

	/* Replaying the upgraded journal hands over the same records. */
	j = topen_ok(copies_apply, cs);
	check_upgraded(cs, v2, 7);
	ck_assert_uint_eq(journal_durable(j), 9);
	/* Appends are format 3 and continue the seqs. */
	ck_assert_uint_eq(put_rule(j, JOURNAL_BAN, "iss", "E", RULES_FOREVER),
	    10);
	journal_close(j);
	memset(cs, 0, sizeof *cs);
	journal_close(topen_ok(copies_apply, cs));
	ck_assert_uint_eq(cs->n, 8);
	cs->n = 7;
	check_upgraded(cs, v2, 7);
	ck_assert_str_eq(cs->c[7].jti, "E");
	ck_assert_uint_eq(cs->c[7].rec.uid, 1000);

	/* A crash before the snapshot's rename: the format 2 pair, and the
	 * leftovers of the upgrade, which go. */
	fcopy("v2.snap", "journal.snap");
	fcopy("v2.log", "journal.log");
	fcopy("v2.log", "journal.snap.tmp");
	fcopy("v2.log", "journal.log.tmp");
	memset(cs, 0, sizeof *cs);
	j = topen_ok(copies_apply, cs);
	ck_assert_uint_eq(cs->n, 7);
	for (i = 0; i < 7; i++)
		copy_check(&cs->c[i], &v2->c[i].rec, __LINE__);
	journal_close(j);
	ck_assert_int_eq(access(tpath("journal.snap.tmp"), F_OK), -1);
	ck_assert_int_eq(access(tpath("journal.log.tmp"), F_OK), -1);
	memset(cs, 0, sizeof *cs);
	journal_close(topen_ok(copies_apply, cs));
	check_upgraded(cs, v2, 7);

	/* A crash between the renames: the new snapshot beside the format 2
	 * log, whose records it all supersedes: nothing twice. */
	fcopy("saved.snap", "journal.snap");
	fcopy("v2.log", "journal.log");
	memset(cs, 0, sizeof *cs);
	j = topen_ok(copies_apply, cs);
	check_upgraded(cs, v2, 7);
	ck_assert_uint_eq(journal_durable(j), 9);
	ck_assert_uint_eq(fversion("journal.log"), 3);
	ck_assert_int_eq(fsize("journal.log"), HDR);
	ck_assert_int_eq(fsize("journal.snap"), fsize("saved.snap"));
	ck_assert_uint_eq(put_rule(j, JOURNAL_BAN, "iss", "E", RULES_FOREVER),
	    10);
	journal_close(j);
	memset(cs, 0, sizeof *cs);
	journal_close(topen_ok(copies_apply, cs));
	ck_assert_uint_eq(cs->n, 8);
	cs->n = 7;
	check_upgraded(cs, v2, 7);

	/* A format 2 log alone, its last record torn: Z, C, the lift of B
	 * and D, one for one, Z no longer superseded. */
	unlink(tpath("journal.snap"));
	fcopy("v2.log", "journal.log");
	ck_assert_int_eq(truncate(tpath("journal.log"), fsize("v2.log") - 2),
	    0);
	memset(v2, 0, sizeof *v2);
	j = topen_ok(copies_apply, v2);
	ck_assert_uint_eq(v2->n, 4);
	ck_assert_str_eq(v2->c[0].jti, "Z");
	journal_get_stats(j, &st);
	ck_assert_uint_gt(st.torn_bytes, 0);
	ck_assert_uint_eq(journal_durable(j), 8);
	journal_close(j);
	ck_assert_uint_eq(fversion("journal.snap"), 3);
	ck_assert_uint_eq(fversion("journal.log"), 3);
	memset(cs, 0, sizeof *cs);
	j = topen_ok(copies_apply, cs);
	check_upgraded(cs, v2, 4);
	ck_assert_uint_eq(journal_durable(j), 8);
	journal_close(j);

	/* A format 2 log holding only its header. */
	unlink(tpath("journal.snap"));
	fmake("journal.log", 2, NULL, 0);
	journal_close(topen_ok(NULL, NULL));
	ck_assert_uint_eq(fversion("journal.log"), 3);
	ck_assert_int_eq(fsize("journal.snap"), HDR + MARK);
	free(v2);
	free(cs);
}
END_TEST

/* The upgrade happens when compaction is held, and merges nothing even
 * then; a compaction afterwards, once allowed, does. */
START_TEST(test_upgrade_held)
{
	struct journal	*j;
	struct copies	*cs = copies_new();

	make_v2();
	test_hold = 1;
	test_compact_min = 64;
	journal_close(topen_ok(NULL, NULL));
	ck_assert_uint_eq(fversion("journal.snap"), 3);
	j = topen_ok(copies_apply, cs);
	ck_assert_uint_eq(cs->n, 7);
	ck_assert_int_eq(cs->c[4].rec.type, JOURNAL_UNREVOKE);
	ck_assert_int_eq(cs->c[4].rec.exp, 0);
	journal_set_unconfirmed(j, UINT64_MAX);
	journal_request_compact(j);
	ck_assert_int_eq(wait_for(j, compacted, 1), 1);
	journal_close(j);
	memset(cs, 0, sizeof *cs);
	journal_close(topen_ok(copies_apply, cs));
	/* A, C (its later exp), D as state copies; no trail kept. */
	ck_assert_uint_eq(cs->n, 3);
	ck_assert_str_eq(cs->c[0].jti, "A");
	ck_assert_int_eq(cs->c[0].rec.flags,
	    JOURNAL_F_REMOTE | JOURNAL_F_STATE);
	ck_assert_str_eq(cs->c[1].jti, "D");
	ck_assert_str_eq(cs->c[2].jti, "C");
	ck_assert_int_eq(cs->c[2].rec.exp, NOW + 5000);
	free(cs);
}
END_TEST

/* Write a format 3 log of A, the record h (seq 3), C; refuse to open it
 * with what in the error. */
static void
refuse_middle(const struct hand *h, const char *what)
{
	uint8_t	buf[512];
	char	err[256];
	size_t	n;

	n = enc_rec(buf, 3, JOURNAL_REVOKE, 0, 1, "A");
	n += enc_hand(buf + n, 3, h);
	n += enc_rec(buf + n, 3, JOURNAL_REVOKE, 0, 4, "C");
	fmake("journal.log", 3, buf, n);
	ck_assert_ptr_null(topen(NULL, NULL, err, sizeof err));
	ck_assert_msg(strstr(err, "journal.log: offset 8") == NULL &&
	    strstr(err, what) != NULL, "%s", err);
}

/* Format 2 is read as strictly as it always was, format 3 as strictly. */
START_TEST(test_format_strict)
{
	struct hand	 h;
	uint8_t		 buf[256];
	char		 err[256];
	size_t		 n;

	/* A type format 2 does not have. */
	n = enc_v2(buf, JOURNAL_REVOKE, 0, 1, "A", NOW + 10, "");
	n += enc_v2(buf + n, JOURNAL_BAN, 0, 2, "B", NOW + 10, "");
	n += enc_v2(buf + n, JOURNAL_REVOKE, 0, 3, "C", NOW + 10, "");
	fmake("journal.log", 2, buf, n);
	ck_assert_ptr_null(topen(NULL, NULL, err, sizeof err));
	ck_assert_msg(strstr(err, "bad record type") != NULL, "%s", err);
	/* Nor is a format 3 record in a format 2 file, or the reverse. */
	n = enc_rec(buf, 3, JOURNAL_REVOKE, 0, 1, "A");
	n += enc_rec(buf + n, 3, JOURNAL_REVOKE, 0, 2, "B");
	fmake("journal.log", 2, buf, n);
	ck_assert_ptr_null(topen(NULL, NULL, err, sizeof err));
	n = enc_rec(buf, 2, JOURNAL_REVOKE, 0, 1, "A");
	n += enc_rec(buf + n, 2, JOURNAL_REVOKE, 0, 2, "B");
	fmake("journal.log", 3, buf, n);
	ck_assert_ptr_null(topen(NULL, NULL, err, sizeof err));

	/* In format 3: a lift with an exp, a revokeall with an id, a comm
	 * or host too long, an unknown type. */
	memset(&h, 0, sizeof h);
	h.type = JOURNAL_UNBAN;
	h.seq = 3;
	h.jti = "B";
	h.exp = 7;
	refuse_middle(&h, "exp of a lifting record not 0");
	h.type = JOURNAL_REVOKEALL;
	h.exp = NOW;
	refuse_middle(&h, "revokeall record with an id");
	h.type = JOURNAL_REVOKE;
	h.comm = "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
	    "cccccc";
	refuse_middle(&h, "comm too long");
	h.comm = NULL;
	memset(long_host, 'h', JOURNAL_HOST_MAX + 1);
	long_host[JOURNAL_HOST_MAX + 1] = '\0';
	h.host = long_host;
	refuse_middle(&h, "host too long");
	h.host = NULL;
	h.type = 9;
	refuse_middle(&h, "bad record type");
	/* And the same record, valid, opens. */
	h.type = JOURNAL_BAN;
	h.uid = JOURNAL_NOBODY;
	h.host = "x";
	n = enc_rec(buf, 3, JOURNAL_REVOKE, 0, 1, "A");
	n += enc_hand(buf + n, 3, &h);
	fmake("journal.log", 3, buf, n);
	journal_close(topen_ok(NULL, NULL));
}
END_TEST

/* List everything from 0 back to 0 with budget into cs; return the
 * number of steps. */
static size_t
list_all(struct journal *j, size_t budget, struct copies *cs)
{
	uint64_t	cursor = 0;
	size_t		steps = 0;

	do {
		ck_assert_int_eq(journal_list(j, &cursor, budget, copies_list,
		    cs), 0);
		ck_assert_uint_lt(++steps, 100000);
	} while (cursor != 0);
	return steps;
}

/* Return 1 if cs holds exactly one record of type for id. */
static int
copies_once(const struct copies *cs, int type, const char *id)
{
	size_t	i, n = 0;

	for (i = 0; i < cs->n && i < MAX_SEEN; i++)
		if (cs->c[i].rec.type == type && strcmp(cs->c[i].jti, id) == 0)
			n++;
	return n == 1;
}

/* Every record on disk, from 0 back to 0, whatever the budget. */
START_TEST(test_list_all)
{
	static const size_t	 budgets[] = { 0, 1, 100, 200, 4096, 1 << 20 };
	struct journal		*j;
	struct copies		*cs = copies_new();
	struct journal_rec	 r;
	size_t			 b, steps, i, nsnap = 0, nlog = 0;

	/* Nothing at all: done at once. */
	j = topen_ok(NULL, NULL);
	ck_assert_uint_eq(list_all(j, 0, cs), 1);
	ck_assert_uint_eq(cs->n, 0);
	journal_close(j);
	/* A snapshot of its MARK alone: a step for each file. */
	compact_now();
	j = topen_ok(NULL, NULL);
	ck_assert_uint_eq(list_all(j, 0, cs), 2);
	ck_assert_uint_eq(cs->n, 0);

	/* The valid records in the snapshot (the lifts compacted away),
	 * then in the log. */
	for (i = 0; fill_valid(&r, (int)i); i++) {
		ck_assert_uint_ne(journal_append(j, &r), 0);
		if (r.type != JOURNAL_UNREVOKE && r.type != JOURNAL_UNBAN)
			nsnap++;
	}
	journal_kick(j);
	ck_assert_int_eq(wait_for(j, is_durable, i), 1);
	journal_request_compact(j);
	ck_assert_int_eq(wait_for(j, compacted, 1), 1);
	put_rule(j, JOURNAL_REVOKE, "i", "L1", NOW + 100);
	put_rule(j, JOURNAL_UNREVOKE, "i", "L1", 0);
	put_rule(j, JOURNAL_REVOKESUB, "i", "L2", NOW);
	put_rule(j, JOURNAL_UNBAN, "i", "L3", 0);
	nlog = 4;
	journal_kick(j);
	ck_assert_int_eq(wait_for(j, is_durable, journal_last_seq(j)), 1);

	for (b = 0; b < sizeof budgets / sizeof budgets[0]; b++) {
		memset(cs, 0, sizeof *cs);
		steps = list_all(j, budgets[b], cs);
		ck_assert_uint_eq(cs->n, nsnap + nlog);
		if (budgets[b] <= 1)	/* a record a step */
			ck_assert_uint_eq(steps, nsnap + nlog);
		if (budgets[b] >= 4096)
			ck_assert_uint_eq(steps, 2);
		ck_assert(copies_once(cs, JOURNAL_REVOKE, "j1"));
		ck_assert(copies_once(cs, JOURNAL_BAN, "mallory"));
		ck_assert(copies_once(cs, JOURNAL_REVOKEALL, "") == 0);
		ck_assert(copies_once(cs, JOURNAL_REVOKE, "L1"));
		ck_assert(copies_once(cs, JOURNAL_UNREVOKE, "L1"));
		ck_assert(copies_once(cs, JOURNAL_UNBAN, "L3"));
		ck_assert(copies_once(cs, JOURNAL_REVOKESUB, "L2"));
		ck_assert_int_eq(copies_find(cs, JOURNAL_UNBAN, "https://idp"
		    ".example", "eve"), -1);
		/* In disk order, with the audit trail. */
		fill_valid(&r, 0);
		r.flags = JOURNAL_F_STATE;
		rec_check(&cs->c[0].rec, &r, __LINE__);
		ck_assert_uint_eq(cs->c[0].rec.seq, 1);
		ck_assert_str_eq(cs->c[nsnap].jti, "L1");
	}
	journal_close(j);

	/* Without a snapshot: the log alone. */
	unlink(tpath("journal.snap"));
	unlink(tpath("journal.log"));
	j = topen_ok(NULL, NULL);
	put_rule(j, JOURNAL_REVOKE, "i", "A", NOW + 100);
	put_rule(j, JOURNAL_BAN, "i", "B", NOW + 100);
	journal_kick(j);
	ck_assert_int_eq(wait_for(j, is_durable, 2), 1);
	memset(cs, 0, sizeof *cs);
	ck_assert_uint_eq(list_all(j, 1, cs), 2);
	ck_assert_uint_eq(cs->n, 2);
	ck_assert_str_eq(cs->c[0].jti, "A");
	ck_assert_str_eq(cs->c[1].jti, "B");
	journal_close(j);
	free(cs);
}
END_TEST

/* Stop after a record when the callback says so. */
static int
stop_list(const struct journal_rec *r, void *arg)
{
	copies_apply(r, arg);
	return 1;
}

START_TEST(test_list_stop)
{
	const uint64_t	 off_mask = ((uint64_t)1 << 40) - 1;
	struct journal	*j;
	struct copies	*cs = copies_new();
	uint64_t	 cursor = 0, bad;
	size_t		 steps = 0;

	j = topen_ok(NULL, NULL);
	put_rule(j, JOURNAL_REVOKE, "i", "A", NOW + 100);
	put_rule(j, JOURNAL_REVOKE, "i", "B", NOW + 100);
	put_rule(j, JOURNAL_REVOKE, "i", "C", NOW + 100);
	journal_kick(j);
	ck_assert_int_eq(wait_for(j, is_durable, 3), 1);
	do {
		ck_assert_int_eq(journal_list(j, &cursor, 1 << 20, stop_list,
		    cs), 0);
		steps++;
	} while (cursor != 0);
	ck_assert_uint_eq(steps, 3);
	ck_assert_uint_eq(cs->n, 3);
	ck_assert_str_eq(cs->c[2].jti, "C");

	/* A cursor of this generation pointing nowhere (its low 40 bits are
	 * the offset, as journal.c lays it out): invalid, kept. */
	ck_assert_int_eq(journal_list(j, &cursor, 1, stop_list, cs), 0);
	ck_assert_uint_ne(cursor, 0);
	bad = (cursor & ~off_mask) | off_mask;
	cursor = bad;
	ck_assert_int_eq(journal_list(j, &cursor, 1, stop_list, cs), -2);
	ck_assert_uint_eq(cursor, bad);
	bad = (cursor & ~off_mask) | 3;
	cursor = bad;
	ck_assert_int_eq(journal_list(j, &cursor, 1, stop_list, cs), -2);
	ck_assert_uint_eq(cursor, bad);
	/* Inside a record: its checksum fails. */
	bad = (cursor & ~off_mask) | (HDR + 1);
	cursor = bad;
	ck_assert_int_eq(journal_list(j, &cursor, 1, stop_list, cs), -2);
	ck_assert_uint_eq(cursor, bad);
	ck_assert_uint_eq(cs->n, 4);
	journal_close(j);
	free(cs);
}
END_TEST

/* A compaction between two steps: the listing restarts on the new files
 * and still visits everything; so does a cursor of an earlier open. */
START_TEST(test_list_generation)
{
	struct journal	*j;
	struct copies	*cs = copies_new();
	uint64_t	 cursor = 0, old;
	char		 id[16];
	int		 i, seen[20];

	j = topen_ok(NULL, NULL);
	for (i = 0; i < 20; i++) {
		snprintf(id, sizeof id, "R%02d", i);
		put_rule(j, JOURNAL_REVOKE, "i", id, NOW + 100);
	}
	journal_kick(j);
	ck_assert_int_eq(wait_for(j, is_durable, 20), 1);
	journal_request_compact(j);
	ck_assert_int_eq(wait_for(j, compacted, 1), 1);
	/* The MARK and R00, then R01, R02. */
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(journal_list(j, &cursor, 1, copies_list, cs),
		    0);
	ck_assert_uint_eq(cs->n, 3);
	ck_assert_str_eq(cs->c[2].jti, "R02");
	ck_assert_uint_ne(cursor, 0);
	old = cursor;
	/* R00 lifted, R20 added, compacted: a new generation. */
	put_rule(j, JOURNAL_UNREVOKE, "i", "R00", 0);
	put_rule(j, JOURNAL_REVOKE, "i", "R20", NOW + 100);
	journal_kick(j);
	ck_assert_int_eq(wait_for(j, is_durable, 22), 1);
	journal_request_compact(j);
	ck_assert_int_eq(wait_for(j, compacted, 2), 1);
	/* Restarted: the new snapshot's first record is R01. */
	memset(cs, 0, sizeof *cs);
	ck_assert_int_eq(journal_list(j, &cursor, 1, copies_list, cs), 0);
	ck_assert_uint_eq(cs->n, 1);
	ck_assert_str_eq(cs->c[0].jti, "R01");
	while (cursor != 0)
		ck_assert_int_eq(journal_list(j, &cursor, 1, copies_list, cs),
		    0);
	ck_assert_uint_eq(cs->n, 20);
	memset(seen, 0, sizeof seen);
	for (i = 0; i < 20; i++)
		seen[atoi(cs->c[i].jti + 1) - 1]++;
	for (i = 0; i < 20; i++)
		ck_assert_int_eq(seen[i], 1);
	journal_close(j);

	/* A cursor of an earlier open restarts too (but for a 2^-23
	 * chance). */
	j = topen_ok(NULL, NULL);
	memset(cs, 0, sizeof *cs);
	cursor = old;
	ck_assert_int_eq(journal_list(j, &cursor, 1, copies_list, cs), 0);
	ck_assert_uint_eq(cs->n, 1);
	ck_assert_str_eq(cs->c[0].jti, "R01");
	journal_close(j);
	free(cs);
}
END_TEST

/* A record being written at the end of the log ends the step there, or
 * the listing when the step starts at it; it is listed once whole.
 * Damage is -1 where it is known to be damage, -2 at a step's cursor. */
START_TEST(test_list_partial)
{
	struct journal	*j;
	struct copies	*cs = copies_new();
	struct hand	 h;
	uint8_t		 buf[256];
	uint64_t	 cursor = 0, at;
	size_t		 n;

	j = topen_ok(NULL, NULL);
	put_rule(j, JOURNAL_REVOKE, "i", "A", NOW + 100);
	put_rule(j, JOURNAL_REVOKE, "i", "B", NOW + 100);
	journal_kick(j);
	ck_assert_int_eq(wait_for(j, is_durable, 2), 1);
	memset(&h, 0, sizeof h);
	h.type = JOURNAL_REVOKESID;
	h.seq = 3;
	h.jti = "C";
	h.exp = NOW + 100;
	h.comm = "revokectl";
	n = enc_hand(buf, 3, &h);
	fappend("journal.log", buf, 5);
	/* After A and B, the step stops at C. */
	ck_assert_int_eq(journal_list(j, &cursor, 1 << 20, copies_list, cs),
	    0);
	ck_assert_uint_eq(cs->n, 2);
	ck_assert_uint_ne(cursor, 0);
	at = cursor;
	/* Starting at it while it is still being written: the end. */
	ck_assert_int_eq(journal_list(j, &cursor, 1 << 20, copies_list, cs),
	    0);
	ck_assert_uint_eq(cs->n, 2);
	ck_assert_uint_eq(cursor, 0);
	fappend("journal.log", buf + 5, 30);
	cursor = at;
	ck_assert_int_eq(journal_list(j, &cursor, 1 << 20, copies_list, cs),
	    0);
	ck_assert_uint_eq(cs->n, 2);
	ck_assert_uint_eq(cursor, 0);
	/* Whole: listed. */
	fappend("journal.log", buf + 35, n - 35);
	cursor = at;
	ck_assert_int_eq(journal_list(j, &cursor, 1 << 20, copies_list, cs),
	    0);
	ck_assert_uint_eq(cs->n, 3);
	ck_assert_str_eq(cs->c[2].jti, "C");
	ck_assert_str_eq(cs->c[2].comm, "revokectl");
	ck_assert_uint_eq(cursor, 0);

	/* Damage under the listing (B's checksum) after a record read
	 * whole is an error, logged, and the cursor stays at it. From
	 * there, it cannot be told from a forged cursor: invalid. */
	fflip("journal.log", HDR + REC(1 + 1 + 1 + 9 + 9) + 20, 0x01);
	memset(cs, 0, sizeof *cs);
	cursor = 0;
	ck_assert_int_eq(journal_list(j, &cursor, 1 << 20, copies_list, cs),
	    -1);
	ck_assert_uint_eq(cs->n, 1);
	ck_assert_str_eq(cs->c[0].jti, "A");
	ck_assert_uint_ne(cursor, 0);
	at = cursor;
	ck_assert_int_eq(journal_list(j, &cursor, 1 << 20, copies_list, cs),
	    -2);
	ck_assert_uint_eq(cs->n, 1);
	ck_assert_uint_eq(cursor, at);
	fflip("journal.log", HDR + REC(1 + 1 + 1 + 9 + 9) + 20, 0x01);
	ck_assert_int_eq(journal_list(j, &cursor, 1 << 20, copies_list, cs),
	    0);
	ck_assert_uint_eq(cs->n, 3);
	ck_assert_str_eq(cs->c[1].jti, "B");
	ck_assert_uint_eq(cursor, 0);

	/* Damage in a file's first record is damage, at any cursor. */
	fflip("journal.log", HDR + 20, 0x01);
	memset(cs, 0, sizeof *cs);
	cursor = 0;
	ck_assert_int_eq(journal_list(j, &cursor, 1 << 20, copies_list, cs),
	    -1);
	ck_assert_uint_eq(cs->n, 0);
	fflip("journal.log", HDR + 20, 0x01);
	journal_close(j);
	free(cs);
}
END_TEST

/* List from cursor until the end or an error, at most 1000 steps; return
 * the last result. */
static int
list_from(struct journal *j, uint64_t cursor, struct copies *cs)
{
	size_t	steps = 0;
	int	rc;

	do {
		rc = journal_list(j, &cursor, 64, copies_list, cs);
		ck_assert_uint_lt(++steps, 1000);
	} while (rc == 0 && cursor != 0);
	return rc;
}

/* A cursor of the current generation at any offset of either file is
 * refused (-2) unless it is a record's, never taken for damage, and every
 * listing ends: one at a record goes on from there. */
START_TEST(test_list_forged)
{
	const uint64_t	 off_mask = ((uint64_t)1 << 40) - 1;
	const uint64_t	 log_bit = (uint64_t)1 << 40;
	struct journal	*j;
	struct copies	*cs = copies_new();
	struct hand	 h;
	uint8_t		 buf[256];
	uint64_t	 cursor = 0, gen = 0, off, end, bound[2][16];
	size_t		 nb[2] = { 0, 0 }, k, mid = 0, refused = 0;
	long		 want;
	int		 f, rc;
	char		 id[8];

	j = topen_ok(NULL, NULL);
	for (k = 0; k < 4; k++) {
		snprintf(id, sizeof id, "S%zu", k);
		put_rule(j, JOURNAL_REVOKE, "i", id, NOW + 100);
	}
	journal_kick(j);
	ck_assert_int_eq(wait_for(j, is_durable, 4), 1);
	journal_request_compact(j);
	ck_assert_int_eq(wait_for(j, compacted, 1), 1);
	for (k = 0; k < 3; k++) {
		snprintf(id, sizeof id, "L%zu", k);
		put_rule(j, JOURNAL_REVOKE, "i", id, NOW + 100);
	}
	journal_kick(j);
	ck_assert_int_eq(wait_for(j, is_durable, 7), 1);
	/* And a record being written at the end of the log. */
	memset(&h, 0, sizeof h);
	h.type = JOURNAL_REVOKE;
	h.seq = 8;
	h.jti = "W";
	h.exp = NOW + 100;
	(void)enc_hand(buf, 3, &h);
	fappend("journal.log", buf, 30);

	/* The record boundaries, as a listing a record a step sees them:
	 * S1..S3 (S0 follows the MARK), L0..L2 and W. */
	bound[0][nb[0]++] = HDR + MARK;		/* S0 */
	do {
		ck_assert_int_eq(journal_list(j, &cursor, 0, copies_list, cs),
		    0);
		if (cursor != 0) {
			f = (cursor & log_bit) != 0;
			ck_assert_uint_lt(nb[f], 16);
			bound[f][nb[f]++] = cursor & off_mask;
			gen = cursor & ~(off_mask | log_bit);
		}
	} while (cursor != 0);
	ck_assert_uint_eq(cs->n, 7);
	ck_assert_uint_eq(nb[0], 4);
	ck_assert_uint_eq(nb[1], 4);
	ck_assert_uint_eq(bound[1][0], HDR);

	for (f = 0; f < 2; f++) {
		end = (uint64_t)fsize(f ? "journal.log" : "journal.snap");
		for (off = 0; off <= end + 1; off++) {
			memset(cs, 0, sizeof *cs);
			cursor = gen | (f ? log_bit : 0) | off;
			rc = list_from(j, cursor, cs);
			for (k = 0; k < nb[f]; k++)
				if (bound[f][k] == off)
					break;
			/* What the rest of the listing holds from a record
			 * or a file's end, or -1 for an invalid cursor. */
			if (f == 0)
				want = off == HDR ? 7 : off == end ? 3 :
				    k < nb[0] ? (long)(7 - k) : -1;
			else
				want = off == end ? 0 : k < nb[1] ?
				    (long)(3 - k) : -1;
			if (want >= 0) {
				ck_assert_msg(rc == 0 && cs->n == (size_t)want,
				    "file %d offset %llu: %d, %zu records", f,
				    (unsigned long long)off, rc, cs->n);
				continue;
			}
			/* Else refused, or, in the log, maybe taken for
			 * a record being written: the end. */
			ck_assert_msg(rc == -2 || (f == 1 && rc == 0 &&
			    cs->n == 0), "file %d offset %llu: %d", f,
			    (unsigned long long)off, rc);
			ck_assert_uint_eq(cs->n, 0);
			if (f == 1 && off > HDR && off < bound[1][3]) {
				mid++;
				refused += rc == -2;
			}
		}
	}
	/* Inside the log's whole records, most are refused. */
	ck_assert_msg(refused * 10 >= mid * 9, "%zu of %zu refused",
	    refused, mid);
	journal_close(j);
	free(cs);
}
END_TEST

/* The state a listing test keeps. */
struct listing {
	uint8_t		*seen;		/* per record number, visits */
	size_t		 n;		/* records numbered */
};

/* Count a visit of a record "L<number>". */
static int
listing_cb(const struct journal_rec *r, void *arg)
{
	struct listing	*l = arg;
	char		 buf[16];
	unsigned long	 k;

	if (r->jtilen < 2 || r->jtilen >= sizeof buf || r->jti[0] != 'L')
		return 0;
	memcpy(buf, r->jti + 1, r->jtilen - 1);
	buf[r->jtilen - 1] = '\0';
	k = strtoul(buf, NULL, 10);
	if (k < l->n && l->seen[k] < 255)
		l->seen[k]++;
	return 0;
}

/* Listings while the writer appends and compacts: every record on disk
 * throughout is visited, no step fails. */
START_TEST(test_list_concurrent)
{
	struct journal	*j;
	struct listing	 l;
	uint64_t	 cursor, last = 0;
	char		 id[32];
	size_t		 i, steps, round, extra = 0;
	uint64_t	 compactions = 0;

	l.n = 20000;
	ck_assert_ptr_nonnull(l.seen = calloc(l.n, 1));
	j = topen_ok(NULL, NULL);
	for (i = 0; i < l.n; i++) {
		snprintf(id, sizeof id, "L%zu", i);
		ck_assert_uint_ne(last = put_rule(j, JOURNAL_REVOKE, "i", id,
		    NOW + 1000), 0);
	}
	journal_kick(j);
	ck_assert_int_eq(wait_for(j, is_durable, last), 1);
	journal_request_compact(j);
	ck_assert_int_eq(wait_for(j, compacted, ++compactions), 1);
	for (round = 0; round < 8; round++) {
		memset(l.seen, 0, l.n);
		cursor = 0;
		steps = 0;
		do {
			ck_assert_int_eq(journal_list(j, &cursor, 512,
			    listing_cb, &l), 0);
			steps++;
			/* Writes and compactions meanwhile, a few. */
			if (steps % 50 == 0 && steps <= 1000) {
				snprintf(id, sizeof id, "X%zu", extra++);
				last = put_rule(j, JOURNAL_REVOKE, "i", id,
				    NOW + 1000);
				journal_kick(j);
				journal_collect(j);
			}
			/* Slowed down while one runs, so that it swaps the
			 * files in the middle of the listing. */
			if (steps == 100 || steps == 700) {
				journal_request_compact(j);
				compactions++;
			}
			if (!compacted(j, compactions))
				usleep(20);
			ck_assert_uint_lt(steps, 1000000);
		} while (cursor != 0);
		for (i = 0; i < l.n; i++)
			EXPECT(l.seen[i] >= 1);
		ck_assert_int_eq(wait_for(j, is_durable, last), 1);
	}
	journal_close(j);
	free(l.seen);
}
END_TEST

/* Build the suite. */
static Suite *
journal_suite(void)
{
	Suite	*s = suite_create("journal");
	TCase	*tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_crc32c_vectors);
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_invalid_append);
	tcase_add_test(tc, test_group_commit);
	tcase_add_test(tc, test_durable_monotonic);
	tcase_add_test(tc, test_torn_tail_every_cut);
	tcase_add_test(tc, test_torn_tail_garbage);
	tcase_add_test(tc, test_torn_tail_zero_filled);
	tcase_add_test(tc, test_corrupt_mid_file);
	tcase_add_test(tc, test_bad_header);
	tcase_add_test(tc, test_snapshot_damage);
	tcase_add_test(tc, test_compaction);
	tcase_add_test(tc, test_crash_between_rename_and_truncate);
	tcase_add_test(tc, test_appends_during_compaction);
	tcase_add_test(tc, test_big_reopen);
	tcase_add_test(tc, test_auto_compaction);
	tcase_add_test(tc, test_seq_persists);
	tcase_add_test(tc, test_seq_after_compaction);
	tcase_add_test(tc, test_trim);
	tcase_add_test(tc, test_flags_roundtrip);
	tcase_add_test(tc, test_v1_refused);
	tcase_add_test(tc, test_bad_flags);
	tcase_add_test(tc, test_snap_add_invalid);
	tcase_add_test(tc, test_unconfirmed_blocks_compaction);
	tcase_add_test(tc, test_unconfirmed_blocks_auto_compaction);
	tcase_add_test(tc, test_hold_compaction);
	tcase_add_test(tc, test_replace);
	tcase_add_test(tc, test_replace_seq_above_snap);
	tcase_add_test(tc, test_replace_twice);
	tcase_add_test(tc, test_replace_empty);
	tcase_add_test(tc, test_replace_crash_before_truncate);
	tcase_add_test(tc, test_replace_fails);
	tcase_add_test(tc, test_invalid_rules);
	tcase_add_test(tc, test_rule_records_roundtrip);
	tcase_add_test(tc, test_compaction_rules);
	tcase_add_test(tc, test_compaction_last_writer);
	tcase_add_test(tc, test_compaction_audit_trail);
	tcase_add_test(tc, test_upgrade_v2);
	tcase_add_test(tc, test_upgrade_held);
	tcase_add_test(tc, test_format_strict);
	tcase_add_test(tc, test_list_all);
	tcase_add_test(tc, test_list_stop);
	tcase_add_test(tc, test_list_generation);
	tcase_add_test(tc, test_list_partial);
	tcase_add_test(tc, test_list_forged);
	tcase_add_test(tc, test_list_concurrent);
	suite_add_tcase(s, tc);
	return s;
}

/* Run the suite. */
int
main(void)
{
	SRunner	*sr = srunner_create(journal_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
