/* Unit tests of the journal: format, replay, torn tails, corruption,
 * group commit, compaction and its crash safety. */
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

/* Fill g with record number i (every 7th an UNREVOKE of i - 1). */
static void
gen_rec(struct gen *g, uint64_t i)
{
	int		unrevoke = i % 7 == 6;
	uint64_t	key = unrevoke ? i - 1 : i;	/* whose entry */

	snprintf(g->iss, sizeof g->iss, "https://iss%llu.example",
	    (unsigned long long)(key % 3));
	snprintf(g->jti, sizeof g->jti, "jti-%08llu",
	    (unsigned long long)key);
	snprintf(g->reason, sizeof g->reason,
	    "reason %llu: key compromise reported by the security team "
	    "on the incident channel", (unsigned long long)i);
	g->rec.type = unrevoke ? JOURNAL_UNREVOKE : JOURNAL_REVOKE;
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
	return 8 + 24 + g.rec.isslen + g.rec.jtilen + g.rec.reasonlen;
}

/* Replay check: each record must equal gen_rec(next). */
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
	if (r->type != g.rec.type || r->exp != g.rec.exp ||
	    r->ts != g.rec.ts || r->isslen != g.rec.isslen ||
	    r->jtilen != g.rec.jtilen || r->reasonlen != g.rec.reasonlen ||
	    memcmp(r->iss, g.rec.iss, r->isslen) != 0 ||
	    memcmp(r->jti, g.rec.jti, r->jtilen) != 0 ||
	    memcmp(r->reason, g.rec.reason, r->reasonlen) != 0)
		e->bad++;
}

/* Keeps the jtis and exps of replayed records. */
struct seen {
	size_t	 n;			/* records seen */
	char	 jti[MAX_SEEN][64];	/* their jtis */
	int	 type[MAX_SEEN];	/* their types */
	int64_t	 exp[MAX_SEEN];		/* their exps */
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

/* Wait on the notify fd until done(j) or the deadline; returns done. */
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
		if (poll(&pfd, 1, (int)left) == -1 && errno != EINTR)
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
	/* Appends continue after the replayed records. */
	ck_assert_uint_eq(append_range(j, 200, 210), 10);
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

	/* A snapshot is the same format; any damage is fatal, even at the
	 * end, because it is only ever renamed into place whole. */
	make_journal(5);
	fcopy("journal.log", "saved.snap");
	full = fsize("saved.snap");
	unlink(tpath("journal.log"));

	fcopy("saved.snap", "journal.snap");
	j = topen_ok(NULL, NULL);
	journal_close(j);

	fflip("journal.snap", HDR + 40, 0x01);
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
}
END_TEST

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
	ck_assert_uint_eq(st.snapshot_bytes, HDR + 8 + 24 + 3 + 1 + 3);
	journal_close(j);
	ck_assert_int_eq(fsize("journal.log"), HDR);
	ck_assert_int_eq(fsize("journal.snap"), HDR + 8 + 24 + 3 + 1 + 3);
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
