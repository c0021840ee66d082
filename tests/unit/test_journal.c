/* Unit tests of the journal: format, replay, torn tails, corruption,
 * group commit, sequence numbers and flags, compaction, replacement and
 * their crash safety. */
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

#define NOW		1700000000	/* the injected clock's start */
#define DEADLINE_MS	30000		/* longest wait for the writer */
#define HDR		8		/* file header bytes */
#define FIXED		32		/* record payload before the strings */
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
	struct journal_rec	 rec;		/* pointing into the above */
};

/* Fill g with record number i (every 7th an UNREVOKE of i - 1, every 5th
 * learned from Redis). */
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
}

/* Return the encoded size of record i. */
static size_t
gen_size(uint64_t i)
{
	struct gen	g;

	gen_rec(&g, i);
	return REC(g.rec.isslen + g.rec.jtilen + g.rec.reasonlen);
}

/* Replay check: each record must equal gen_rec(next), with seq next + 1
 * (records appended in order to a new journal). */
struct expect {
	uint64_t	 next;		/* index expected next */
	uint64_t	 bad;		/* mismatches seen */
};

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
	    memcmp(r->reason, g.rec.reason, r->reasonlen) != 0)
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
}

/* Remove the state directory. */
static void
teardown(void)
{
	static const char *names[] = { "journal.log", "journal.snap",
	    "journal.snap.tmp", "saved.log", "saved.snap", "orig.log" };
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
	cfg.compact_min = 1u << 30;	/* only on request */
	cfg.clock = test_clock;
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
	ck_assert_msg(strstr(err, "journal.snap: offset 48:") != NULL,
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

/* Encode by hand, as the format describes, a record with jti, no iss and
 * no reason into p; v1 leaves out seq and has 0 for flags. Returns its
 * size. */
static size_t
enc_rec(uint8_t *p, int version, int type, int flags, uint64_t seq,
    const char *jti)
{
	size_t	jl = strlen(jti), fixed = version == 1 ? 24 : FIXED;
	size_t	plen = fixed + jl;

	memset(p, 0, 8 + plen);
	le_put(p + 4, plen, 4);
	p[8] = (uint8_t)type;
	p[9] = (uint8_t)flags;
	le_put(p + 12, jl, 2);
	if (type != 3) {		/* a MARK has exp = ts = 0 */
		le_put(p + 16, NOW + 1000, 8);
		le_put(p + 24, NOW, 8);
	}
	if (version != 1)
		le_put(p + 32, seq, 8);
	memcpy(p + 8 + fixed, jti, jl);
	le_put(p, crc32c(0, p + 4, 4 + plen), 4);
	return 8 + plen;
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
	/* No other flag may be appended. */
	ck_assert_uint_eq(put_f(j, JOURNAL_REVOKE, "X", NOW + 1000, 0x02), 0);
	ck_assert_uint_eq(put_f(j, JOURNAL_REVOKE, "X", NOW + 1000, -1), 0);
	journal_close(j);

	/* Through the log. */
	j = topen_seen(&s);
	ck_assert_uint_eq(s.n, 3);
	ck_assert_int_eq(s.flags[0], 0);
	ck_assert_int_eq(s.flags[1], JOURNAL_F_REMOTE);
	ck_assert_int_eq(s.flags[2], JOURNAL_F_REMOTE);
	ck_assert_int_eq(s.type[2], JOURNAL_UNREVOKE);
	journal_close(j);

	/* Through a compaction: the live entries keep flags and seq. */
	compact_now();
	j = topen_seen(&s);
	ck_assert_uint_eq(s.n, 2);
	ck_assert_str_eq(s.jti[0], "L");
	ck_assert_int_eq(s.flags[0], 0);
	ck_assert_uint_eq(s.seq[0], 1);
	ck_assert_str_eq(s.jti[1], "R");
	ck_assert_int_eq(s.flags[1], JOURNAL_F_REMOTE);
	ck_assert_uint_eq(s.seq[1], 2);
	ck_assert_uint_eq(put(j, JOURNAL_REVOKE, "C", NOW + 1000), 4);
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
	static const int	 bad[] = { 0x02, 0x80, 0x03 };
	struct journal		*j;
	struct journal_snap	*snap;
	struct journal_rec	 r;
	struct seen		 s;
	uint8_t			 recs[256];
	char			 err[256];
	size_t			 n, i;

	/* The hand encoder agrees with the journal's. */
	n = enc_rec(recs, 2, JOURNAL_REVOKE, JOURNAL_F_REMOTE, 7, "A");
	n += enc_rec(recs + n, 2, JOURNAL_REVOKE, 0, 8, "B");
	fmake("journal.log", 2, recs, n);
	j = topen_seen(&s);
	ck_assert_uint_eq(s.n, 2);
	ck_assert_int_eq(s.flags[0], JOURNAL_F_REMOTE);
	ck_assert_uint_eq(s.seq[0], 7);
	ck_assert_uint_eq(s.seq[1], 8);
	ck_assert_uint_eq(put(j, JOURNAL_REVOKE, "C", NOW + 1000), 9);
	journal_close(j);

	/* Any other flag bit is damage, with a valid checksum too. */
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		n = enc_rec(recs, 2, JOURNAL_REVOKE, bad[i], 1, "A");
		n += enc_rec(recs + n, 2, JOURNAL_REVOKE, 0, 2, "B");
		fmake("journal.log", 2, recs, n);
		j = topen(NULL, NULL, err, sizeof err);
		ck_assert_ptr_null(j);
		ck_assert_msg(strstr(err, "journal.log: offset 8: bad flags") !=
		    NULL, "%s", err);
	}

	/* In a snapshot, after its MARK. */
	n = enc_rec(recs, 2, 3, 0, 5, "");
	n += enc_rec(recs + n, 2, JOURNAL_REVOKE, 0x04, 1, "A");
	fmake("journal.snap", 2, recs, n);
	unlink(tpath("journal.log"));
	j = topen(NULL, NULL, err, sizeof err);
	ck_assert_ptr_null(j);
	ck_assert_msg(strstr(err, "journal.snap: offset 48: bad flags") !=
	    NULL, "%s", err);

	/* A MARK with a flag, or strings. */
	n = enc_rec(recs, 2, 3, JOURNAL_F_REMOTE, 5, "");
	fmake("journal.snap", 2, recs, n);
	j = topen(NULL, NULL, err, sizeof err);
	ck_assert_ptr_null(j);
	ck_assert_msg(strstr(err, "journal.snap: offset 8: bad mark record") !=
	    NULL, "%s", err);
	n = enc_rec(recs, 2, 3, 0, 5, "A");
	fmake("journal.snap", 2, recs, n);
	j = topen(NULL, NULL, err, sizeof err);
	ck_assert_ptr_null(j);
	ck_assert_msg(strstr(err, "journal.snap: offset 8: bad mark record") !=
	    NULL, "%s", err);

	/* A replacement takes no bad flags either. */
	ck_assert_ptr_nonnull(snap = journal_snap_new());
	fill(&r, JOURNAL_REVOKE, 0x02, 1, "A", NOW + 1000);
	ck_assert_int_eq(journal_snap_add(snap, &r), -1);
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
		ck_assert_int_eq(s.flags[0], JOURNAL_F_REMOTE);
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
	tcase_add_test(tc, test_flags_roundtrip);
	tcase_add_test(tc, test_v1_refused);
	tcase_add_test(tc, test_bad_flags);
	tcase_add_test(tc, test_snap_add_invalid);
	tcase_add_test(tc, test_unconfirmed_blocks_compaction);
	tcase_add_test(tc, test_unconfirmed_blocks_auto_compaction);
	tcase_add_test(tc, test_replace);
	tcase_add_test(tc, test_replace_seq_above_snap);
	tcase_add_test(tc, test_replace_twice);
	tcase_add_test(tc, test_replace_empty);
	tcase_add_test(tc, test_replace_crash_before_truncate);
	tcase_add_test(tc, test_replace_fails);
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
