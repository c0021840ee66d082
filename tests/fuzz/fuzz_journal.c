/*
 * Fuzz the journal reader: the first input byte splits the rest into a
 * snapshot and a log, written into a temporary state directory, which
 * journal_open then replays. Errors are fine; crashes, leaks, replayed
 * records outside the format's limits (a MARK among them, an unknown
 * flag) and sequence numbers that do not continue above every replayed
 * one are not.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "journal.h"

#define FUZZ_NOW	1700000000	/* the fixed clock */

/* What the replay saw. */
struct fuzz_seen {
	size_t		 n;		/* records replayed */
	uint64_t	 max_seq;	/* their highest seq */
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char	fuzz_dir[64];		/* the state directory, made once */

/* Return the fixed time. */
static int64_t
fuzz_clock(void)
{
	return FUZZ_NOW;
}

/* Check a replayed record against the format's limits. */
static void
fuzz_apply(const struct journal_rec *r, void *arg)
{
	struct fuzz_seen	*seen = arg;
	volatile uint8_t	 sum = 0;
	size_t			 i;

	seen->n++;
	if ((r->type != JOURNAL_REVOKE && r->type != JOURNAL_UNREVOKE) ||
	    (r->flags & ~JOURNAL_F_REMOTE) != 0 ||
	    r->seq > (uint64_t)INT64_MAX ||
	    r->isslen > 256 || r->jtilen < 1 || r->jtilen > 256 ||
	    r->reasonlen > 512)
		abort();
	if (r->seq > seen->max_seq)
		seen->max_seq = r->seq;
	/* Touch every byte so the sanitizers see an overread. */
	for (i = 0; i < r->isslen; i++)
		sum ^= (uint8_t)r->iss[i];
	for (i = 0; i < r->jtilen; i++)
		sum ^= (uint8_t)r->jti[i];
	for (i = 0; i < r->reasonlen; i++)
		sum ^= (uint8_t)r->reason[i];
	(void)sum;
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

/* Replay one pair of snapshot and log files. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct journal_config	 cfg;
	struct journal		*j;
	struct fuzz_seen	 seen = { 0, 0 };
	char			 err[256];
	size_t			 snaplen;

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
	j = journal_open(&cfg, fuzz_apply, &seen, err, sizeof err);
	if (j == NULL) {
		if (err[0] == '\0' || strlen(err) >= sizeof err)
			abort();
		return 0;
	}
	/* Everything replayed is durable, the next seq above it all. */
	if (journal_durable(j) < seen.max_seq)
		abort();
	journal_close(j);
	return 0;
}
