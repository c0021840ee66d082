/*
 * Journal figures (not a test): group-commit write throughput from a
 * single loop thread, warm-open time of a 1,000,000-entry journal
 * replayed into the rule tables, and the time to list it (LIST) in
 * 64 KiB steps. Usage: bench_journal [dir] (default: a new directory
 * under /tmp; use a real disk to see real fsync costs).
 */
#include <sys/stat.h>

#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"
#include "rules.h"

#define BENCH_WRITE_N	200000	/* records of the throughput run */
#define BENCH_WRITE_SEC	10	/* or this many seconds, whichever first */
#define BENCH_KICK	64	/* appends between kicks */
#define BENCH_OPEN_N	1000000	/* REVOKE records of the warm open */
#define BENCH_NOW	1700000000 /* exps are after this */
#define BENCH_LIFETIME	86400	/* the token lifetime */
#define BENCH_LIST_STEP	65536	/* bytes a listing step reads */

/* Return monotonic seconds. */
static double
now_sec(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Fill buf with a UUID-shaped jti for i. */
static void
uuid(char buf[37], uint64_t i)
{
	uint64_t	a = i * 0x9e3779b97f4a7c15ULL;
	uint64_t	b = ~i * 0xbf58476d1ce4e5b9ULL;

	snprintf(buf, 37, "%08llx-%04llx-4%03llx-a%03llx-%012llx",
	    (unsigned long long)(a >> 32),
	    (unsigned long long)(a >> 16 & 0xffff),
	    (unsigned long long)(a & 0xfff), (unsigned long long)(b >> 52),
	    (unsigned long long)(b & 0xffffffffffffULL));
}

/* Fill r as REVOKE number i (jti in buf), with an audit trail. */
static void
make_rec(struct journal_rec *r, char buf[37], uint64_t i)
{
	uuid(buf, i);
	memset(r, 0, sizeof *r);
	r->type = JOURNAL_REVOKE;
	r->exp = BENCH_NOW + 86400 + (int64_t)(i % 3600);
	r->ts = BENCH_NOW;
	r->iss = "https://idp.example.com";
	r->isslen = strlen(r->iss);
	r->jti = buf;
	r->jtilen = 36;
	r->reason = "logout";
	r->reasonlen = 6;
	r->uid = 1000;
	r->gid = 1000;
	r->pid = 4242 + (uint32_t)(i % 1000);
	r->comm = "revokectl";
	r->commlen = 9;
	r->host = "revokd-1.example.com";
	r->hostlen = 20;
}

/* Return the fixed clock. */
static int64_t
bench_clock(void)
{
	return BENCH_NOW;
}

/* Open the journal in dir or exit. */
static struct journal *
bench_open(const char *dir, journal_apply_cb apply, void *arg)
{
	struct journal_config	 cfg;
	struct journal		*j;
	char			 err[256];

	memset(&cfg, 0, sizeof cfg);
	cfg.dir = dir;
	cfg.compact_min = (size_t)1 << 40;	/* no compaction */
	cfg.clock = bench_clock;
	cfg.lifetime = BENCH_LIFETIME;
	if ((j = journal_open(&cfg, apply, arg, err, sizeof err)) == NULL) {
		fprintf(stderr, "journal_open: %s\n", err);
		exit(1);
	}
	return j;
}

/* Remove the journal files of dir. */
static void
bench_clean(const char *dir)
{
	char	path[4096];

	snprintf(path, sizeof path, "%s/journal.log", dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/journal.snap", dir);
	unlink(path);
}

/* Replay a record into the rule tables. */
static void
bench_apply(const struct journal_rec *r, void *arg)
{
	if (rules_apply(arg, r, BENCH_NOW) == -1) {
		fprintf(stderr, "rules_apply: out of memory\n");
		exit(1);
	}
}

/* Count a listed record. */
static int
bench_list(const struct journal_rec *r, void *arg)
{
	uint64_t	*n = arg;

	(void)r;
	(*n)++;
	return 0;
}

/* Append as fast as the loop can, kicking every BENCH_KICK. */
static void
bench_write(const char *dir)
{
	struct journal		*j = bench_open(dir, NULL, NULL);
	struct journal_stats	 st;
	struct journal_rec	 r;
	struct pollfd		 pfd;
	char			 jti[37];
	uint64_t		 n = 0, last = 0;
	double			 t0 = now_sec(), t;

	pfd.fd = journal_notify_fd(j);
	pfd.events = POLLIN;
	while (n < BENCH_WRITE_N && now_sec() - t0 < BENCH_WRITE_SEC) {
		make_rec(&r, jti, n++);
		if ((last = journal_append(j, &r)) == 0) {
			fprintf(stderr, "journal_append failed\n");
			exit(1);
		}
		if (n % BENCH_KICK == 0) {
			journal_kick(j);
			if (poll(&pfd, 1, 0) > 0)
				journal_collect(j);
		}
	}
	journal_kick(j);
	while (journal_collect(j) < last)
		poll(&pfd, 1, 1000);
	t = now_sec() - t0;
	journal_get_stats(j, &st);
	printf("%-34s %12.0f\n", "write: records durable/s", (double)n / t);
	printf("%-34s %12.0f\n", "write: fsyncs/s", (double)st.syncs / t);
	printf("%-34s %12.1f\n", "write: records per fsync",
	    (double)n / (double)st.syncs);
	printf("%-34s %12llu\n", "write: last fsync (us)",
	    (unsigned long long)st.last_sync_usec);
	printf("%-34s %12.2f\n", "write: seconds", t);
	journal_close(j);
	bench_clean(dir);
}

/* Time opening and replaying BENCH_OPEN_N records into the rule tables,
 * then listing them. */
static void
bench_open_time(const char *dir)
{
	struct journal		*j = bench_open(dir, NULL, NULL);
	struct journal_stats	 st;
	struct journal_rec	 r;
	struct rules		*rules;
	struct stat		 sb;
	uint8_t			 key[BLOCKLIST_KEY_LEN] = { 7 };
	char			 jti[37], path[4096];
	uint64_t		 i, cursor = 0, listed = 0, steps = 0;
	double			 t0;

	for (i = 0; i < BENCH_OPEN_N; i++) {
		make_rec(&r, jti, i);
		journal_append(j, &r);
		if (i % 4096 == 4095)
			journal_kick(j);
	}
	journal_close(j);
	snprintf(path, sizeof path, "%s/journal.log", dir);
	if (stat(path, &sb) == -1 ||
	    (rules = rules_new(key, BENCH_LIFETIME)) == NULL)
		exit(1);
	t0 = now_sec();
	j = bench_open(dir, bench_apply, rules);
	printf("%-34s %12.3f\n", "open: seconds for 1M records",
	    now_sec() - t0);
	journal_get_stats(j, &st);
	printf("%-34s %12llu\n", "open: records replayed",
	    (unsigned long long)st.replayed);
	printf("%-34s %12zu\n", "open: rules in the tables",
	    rules_count(rules, -1));
	printf("%-34s %12.1f\n", "open: log MiB",
	    (double)sb.st_size / (1 << 20));
	t0 = now_sec();
	do {
		if (journal_list(j, &cursor, BENCH_LIST_STEP, bench_list,
		    &listed) != 0)
			exit(1);
		steps++;
	} while (cursor != 0);
	printf("%-34s %12.3f\n", "list: seconds for 1M records",
	    now_sec() - t0);
	printf("%-34s %12llu\n", "list: records listed",
	    (unsigned long long)listed);
	printf("%-34s %12llu\n", "list: steps",
	    (unsigned long long)steps);
	journal_close(j);
	rules_free(rules);
	bench_clean(dir);
}

/* Run both figures. */
int
main(int argc, char *argv[])
{
	char	tmpl[] = "/tmp/bench_journal.XXXXXX";
	char	*dir;

	if (argc > 1)
		dir = argv[1];
	else if ((dir = mkdtemp(tmpl)) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	printf("journal in %s\n", dir);
	bench_write(dir);
	bench_open_time(dir);
	if (argc <= 1)
		rmdir(dir);
	return 0;
}
