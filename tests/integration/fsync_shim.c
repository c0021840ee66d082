/*
 * An LD_PRELOAD shim for the power-loss test (test_powerloss.sh).
 *
 * kill -9 keeps the page cache, so a daemon that acknowledged a write
 * before its fsync would still pass a crash test. This shim records what a
 * power loss would keep: after each successful fsync or fdatasync of a
 * file whose path ends in "/journal.log", the file's size goes into the
 * file named by REVOKD_SHIM_OUT, as 20 decimal digits and a newline,
 * overwritten at offset 0 (the "last synced size"). Truncating the log to
 * it models the power loss. REVOKD_SHIM_DELAY_MS, if set, delays each such
 * sync, widening the window in which an early acknowledgement would show.
 *
 * The size is recorded before the sync call returns, so before the daemon
 * can learn the sync finished: a crash between the two leaves an older
 * (smaller) size, never one the daemon has not yet seen as durable.
 *
 * Built without sanitizers so it also loads into the ASan build.
 */
#include <sys/stat.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SHIM_SUFFIX	"/journal.log"	/* the files we watch */
#define SHIM_EXPORT	__attribute__((visibility("default")))

typedef int	(*sync_fn)(int);

static sync_fn	 real_fdatasync;	/* libc's fdatasync */
static sync_fn	 real_fsync;		/* libc's fsync */

static void	 shim_init(void) __attribute__((constructor));
static sync_fn	 shim_lookup(const char *);
static int	 shim_is_log(int);
static void	 shim_delay(void);
static void	 shim_record(int);
static int	 shim_sync(sync_fn, int);

/* Resolve the real functions once, before any thread of the host runs. */
static void
shim_init(void)
{
	real_fdatasync = shim_lookup("fdatasync");
	real_fsync = shim_lookup("fsync");
}

/* Return the next definition of name after ours; abort if there is none. */
static sync_fn
shim_lookup(const char *name)
{
	sync_fn	 fn;

	fn = (sync_fn)dlsym(RTLD_NEXT, name);
	if (fn == NULL) {
		fprintf(stderr, "fsync_shim: dlsym %s: %s\n", name, dlerror());
		abort();
	}
	return fn;
}

/* Return whether fd is open on a file whose path ends in SHIM_SUFFIX. */
static int
shim_is_log(int fd)
{
	char	 link[64], path[PATH_MAX];
	size_t	 suffix = strlen(SHIM_SUFFIX);
	ssize_t	 n;

	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof path - 1);
	if (n < 0 || (size_t)n < suffix)
		return 0;
	path[n] = '\0';
	return strcmp(path + n - suffix, SHIM_SUFFIX) == 0;
}

/* Sleep REVOKD_SHIM_DELAY_MS milliseconds, if set. */
static void
shim_delay(void)
{
	const char	*s = getenv("REVOKD_SHIM_DELAY_MS");
	struct timespec	 ts;
	long		 ms;

	if (s == NULL || (ms = strtol(s, NULL, 10)) <= 0)
		return;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Write fd's size to REVOKD_SHIM_OUT, if set, over what was there. */
static void
shim_record(int fd)
{
	const char	*out = getenv("REVOKD_SHIM_OUT");
	struct stat	 st;
	char		 buf[32];
	int		 len, o;

	if (out == NULL || fstat(fd, &st) == -1)
		return;
	len = snprintf(buf, sizeof buf, "%020lld\n", (long long)st.st_size);
	if ((o = open(out, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) == -1)
		return;
	if (pwrite(o, buf, (size_t)len, 0) != len)
		fprintf(stderr, "fsync_shim: cannot record to %s\n", out);
	close(o);
}

/* Run the real sync on fd, delayed and recorded if fd is the journal log. */
static int
shim_sync(sync_fn fn, int fd)
{
	int	 is_log, rc, saved;

	if ((is_log = shim_is_log(fd)))
		shim_delay();
	rc = fn(fd);
	saved = errno;
	if (is_log && rc == 0)
		shim_record(fd);
	errno = saved;
	return rc;
}

/* Interpose fdatasync. */
SHIM_EXPORT int
fdatasync(int fd)
{
	return shim_sync(real_fdatasync, fd);
}

/* Interpose fsync. */
SHIM_EXPORT int
fsync(int fd)
{
	return shim_sync(real_fsync, fd);
}
