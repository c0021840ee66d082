/*
 * The floor under any request/reply over a Unix socket on this machine:
 * one request and one reply at a time, blocking write() and read(), each
 * round trip timed with clock_gettime.
 *
 *   bench_floor [-n rounds] [-c cpu] pair
 *	two processes over a socketpair: the parent writes a request the
 *	size of "CHECK <uuid>" in RESP, the child answers with a reply the
 *	size of CHECK's not_revoked. Nothing but the kernel's socket path
 *	and two wake-ups: no server can answer faster.
 *   bench_floor [-n rounds] [-c cpu] pair-epoll
 *	the same, the child waiting in epoll_wait before each read as an
 *	event-driven server does (one more system call a request): the
 *	floor of any server built on an event loop.
 *   bench_floor [-n rounds] unix PATH ARG...
 *	the same client loop against a RESP server on the Unix socket
 *	PATH, sending ARG... as one multibulk request. Every reply must be
 *	the same bytes as the first (ask for something that does not
 *	change, such as a CHECK of a jti nobody revoked).
 *   bench_floor serve PATH
 *	a null RESP server on the Unix socket PATH, until killed: one
 *	thread in epoll_wait, one read per readable connection, ":0" for
 *	every whole request in it, one write. A server that does no work,
 *	for a client such as redis-benchmark: what it gets from this one
 *	says what the client and the machine allow. Only for well-behaved
 *	benchmark clients: a client that stops reading stalls it, anything
 *	that is not RESP closes the connection, and it does not check what
 *	the requests are.
 *
 * -c runs the answering child on that CPU (the parent runs where it was
 * started: with taskset, on another CPU or the same one).
 *
 * Prints one line: "round_trips=N per_s=R p50_us=P p99_us=Q". The first
 * WARMUP round trips are not counted, in the rate nor the latencies.
 */
#include <sched.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define ROUNDS_DEFAULT	20000	/* round trips measured */
#define WARMUP		1000	/* round trips before measuring */
#define PAIR_REQ_LEN	58	/* "*2 $5 CHECK $36 <uuid>" in RESP */
#define PAIR_REP_LEN	22	/* "*1 $11 not_revoked" in RESP */
#define REPLY_MAX	4096	/* largest reply accepted in unix mode */
#define REQ_MAX		4096	/* largest request built in unix mode */
#define SERVE_READ	65536	/* bytes serve mode reads at once */
#define SERVE_EVENTS	256	/* events one epoll_wait returns */

/* Print a message (with strerror when errno_too) and exit 1. */
static void __attribute__((noreturn))
die(const char *msg, int errno_too)
{
	if (errno_too)
		fprintf(stderr, "bench_floor: %s: %s\n", msg,
		    strerror(errno));
	else
		fprintf(stderr, "bench_floor: %s\n", msg);
	exit(1);
}

/* Write all of buf or exit. */
static void
write_all(int fd, const char *buf, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		if ((n = write(fd, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			die("write", 1);
		}
		buf += n;
		len -= (size_t)n;
	}
}

/* Read exactly len bytes; return 0, or -1 at end of file before any. */
static int
read_all(int fd, char *buf, size_t len)
{
	size_t	got = 0;
	ssize_t	n;

	while (got < len) {
		if ((n = read(fd, buf + got, len - got)) == -1) {
			if (errno == EINTR)
				continue;
			die("read", 1);
		}
		if (n == 0) {
			if (got == 0)
				return -1;
			die("short read", 0);
		}
		got += (size_t)n;
	}
	return 0;
}

/* Return the length of the RESP2 reply at the start of buf[0..len), 0 if
 * it is not complete yet, -1 if it is malformed. */
static long
resp_len(const char *buf, size_t len)
{
	const char	*nl;
	long		 n, i, sub, off;

	if (len == 0)
		return 0;
	if ((nl = memchr(buf, '\n', len)) == NULL)
		return 0;
	off = nl - buf + 1;
	switch (buf[0]) {
	case '+': case '-': case ':':
		return off;
	case '$':
		n = strtol(buf + 1, NULL, 10);
		if (n < 0)
			return off;
		return (size_t)off + (size_t)n + 2 <= len ? off + n + 2 : 0;
	case '*':
		n = strtol(buf + 1, NULL, 10);
		for (i = 0; i < n; i++) {
			sub = resp_len(buf + off, len - (size_t)off);
			if (sub <= 0)
				return sub;
			off += sub;
		}
		return off;
	default:
		return -1;
	}
}

/* Read one RESP reply into buf (REPLY_MAX bytes); return its length. */
static size_t
read_reply(int fd, char *buf)
{
	size_t	got = 0;
	ssize_t	n;
	long	len;

	for (;;) {
		if ((len = resp_len(buf, got)) > 0)
			break;
		if (len == -1)
			die("malformed reply", 0);
		if (got == REPLY_MAX)
			die("reply too long", 0);
		if ((n = read(fd, buf + got, REPLY_MAX - got)) == -1) {
			if (errno == EINTR)
				continue;
			die("read", 1);
		}
		if (n == 0)
			die("server closed the connection", 0);
		got += (size_t)n;
	}
	if ((size_t)len != got)
		die("more than one reply arrived", 0);
	return got;
}

/* Return a new epoll fd watching fd for input (ev.data.fd = fd), or
 * exit. */
static int
epoll_on(int fd)
{
	struct epoll_event	ev;
	int			ep;

	if ((ep = epoll_create1(0)) == -1)
		die("epoll_create1", 1);
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN;
	ev.data.fd = fd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1)
		die("epoll_ctl", 1);
	return ep;
}

/* Fill sun with the Unix socket address path, or exit. */
static void
unix_addr(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof *sun);
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun->sun_path)
		die("socket path too long", 0);
	memcpy(sun->sun_path, path, strlen(path));
}

/* Answer every PAIR_REQ_LEN request on fd with PAIR_REP_LEN bytes until
 * the other side closes; with use_epoll, wait in epoll_wait for each; on
 * CPU cpu unless it is -1. */
static void
pair_child(int fd, int use_epoll, int cpu)
{
	struct epoll_event	ev;
	cpu_set_t		set;
	char			req[PAIR_REQ_LEN], rep[PAIR_REP_LEN];
	int			ep = -1;

	if (cpu != -1) {
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof set, &set) == -1)
			die("sched_setaffinity", 1);
	}
	memset(rep, 'r', sizeof rep);
	if (use_epoll)
		ep = epoll_on(fd);
	for (;;) {
		if (use_epoll && epoll_wait(ep, &ev, 1, -1) == -1) {
			if (errno == EINTR)
				continue;
			die("epoll_wait", 1);
		}
		if (read_all(fd, req, sizeof req) == -1)
			break;
		write_all(fd, rep, sizeof rep);
	}
	_exit(0);
}

/* Time rounds round trips over a socketpair to a child process (waiting
 * in epoll_wait with use_epoll, on CPU cpu unless -1); return the
 * nanoseconds they took together. */
static double
run_pair(double *lat, size_t rounds, int use_epoll, int cpu)
{
	char	req[PAIR_REQ_LEN], rep[PAIR_REP_LEN];
	int	sv[2], status;
	pid_t	pid;
	size_t	i;
	double	t0, start = 0, wall;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		die("socketpair", 1);
	if ((pid = fork()) == -1)
		die("fork", 1);
	if (pid == 0) {
		close(sv[0]);
		pair_child(sv[1], use_epoll, cpu);
	}
	close(sv[1]);
	memset(req, 'q', sizeof req);
	for (i = 0; i < WARMUP + rounds; i++) {
		t0 = now_ns();
		if (i == WARMUP)
			start = t0;
		write_all(sv[0], req, sizeof req);
		if (read_all(sv[0], rep, sizeof rep) == -1)
			die("child exited", 0);
		if (i >= WARMUP)
			lat[i - WARMUP] = now_ns() - t0;
	}
	wall = now_ns() - start;
	close(sv[0]);
	if (waitpid(pid, &status, 0) == -1 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		die("child failed", 0);
	return wall;
}

/* Time rounds round trips of the request args[0..nargs) to the RESP
 * server on the Unix socket path; return the nanoseconds they took
 * together. */
static double
run_unix(double *lat, size_t rounds, const char *path, char **args,
    int nargs)
{
	struct sockaddr_un	 sun;
	char			 req[REQ_MAX], first[REPLY_MAX], rep[REPLY_MAX];
	size_t			 reqlen, firstlen, len, i;
	int			 fd, n, a;
	double			 t0, start = 0;

	unix_addr(&sun, path);
	n = snprintf(req, sizeof req, "*%d\r\n", nargs);
	for (a = 0; a < nargs && n > 0 && (size_t)n < sizeof req; a++)
		n += snprintf(req + n, sizeof req - (size_t)n,
		    "$%zu\r\n%s\r\n", strlen(args[a]), args[a]);
	if (n <= 0 || (size_t)n >= sizeof req)
		die("request too long", 0);
	reqlen = (size_t)n;

	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		die("socket", 1);
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1)
		die(path, 1);
	write_all(fd, req, reqlen);
	firstlen = read_reply(fd, first);
	if (first[0] == '-')
		die("the server answered an error", 0);
	for (i = 0; i < WARMUP + rounds; i++) {
		t0 = now_ns();
		if (i == WARMUP)
			start = t0;
		write_all(fd, req, reqlen);
		len = read_reply(fd, rep);
		if (i >= WARMUP)
			lat[i - WARMUP] = now_ns() - t0;
		if (len != firstlen || memcmp(rep, first, len) != 0)
			die("the reply changed", 0);
	}
	close(fd);
	return now_ns() - start;
}

/* One connection of serve mode. */
struct sconn {
	char	*buf;		/* bytes of a request not yet whole */
	size_t	 len;		/* bytes in buf */
	size_t	 cap;		/* bytes allocated */
};

/* Write all of buf to the non-blocking fd, waiting for room when full;
 * -1 when the peer is gone. */
static int
serve_write(int fd, const char *buf, size_t len)
{
	struct pollfd	pfd = { .fd = fd, .events = POLLOUT };
	ssize_t		n;

	while (len > 0) {
		if ((n = send(fd, buf, len, MSG_NOSIGNAL)) > 0) {
			buf += n;
			len -= (size_t)n;
		} else if (n == -1 && (errno == EAGAIN || errno == EINTR))
			(void)poll(&pfd, 1, -1);
		else
			return -1;
	}
	return 0;
}

/* Read what connection fd sent and answer every whole request in it;
 * -1 when it is closed or sent something that is not RESP. */
static int
serve_read(int fd, struct sconn *c, char *out)
{
	size_t	 off = 0, nout = 0;
	ssize_t	 n;
	long	 r;
	char	*p;

	if (c->cap - c->len < SERVE_READ) {
		if ((p = realloc(c->buf, c->len + SERVE_READ)) == NULL)
			die("out of memory", 0);
		c->buf = p;
		c->cap = c->len + SERVE_READ;
	}
	if ((n = read(fd, c->buf + c->len, SERVE_READ)) <= 0)
		return n == -1 && (errno == EAGAIN || errno == EINTR) ? 0 : -1;
	c->len += (size_t)n;
	while ((r = resp_len(c->buf + off, c->len - off)) > 0) {
		off += (size_t)r;
		if (nout + 4 > SERVE_READ) {
			if (serve_write(fd, out, nout) == -1)
				return -1;
			nout = 0;
		}
		memcpy(out + nout, ":0\r\n", 4);
		nout += 4;
	}
	if (r == -1)
		return -1;
	memmove(c->buf, c->buf + off, c->len - off);
	c->len -= off;
	return nout > 0 ? serve_write(fd, out, nout) : 0;
}

/* Serve path as a null RESP server until killed. */
static void __attribute__((noreturn))
run_serve(const char *path)
{
	struct sockaddr_un	 sun;
	struct epoll_event	 ev, evs[SERVE_EVENTS];
	struct sconn		*conns = NULL, *nc;
	size_t			 nconns = 0;
	char			*out;
	int			 lfd, ep, fd, i, n;

	unix_addr(&sun, path);
	if ((out = malloc(SERVE_READ)) == NULL)
		die("out of memory", 0);
	if ((lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1 ||
	    bind(lfd, (struct sockaddr *)&sun, sizeof sun) == -1 ||
	    listen(lfd, 511) == -1)
		die(path, 1);
	ep = epoll_on(lfd);
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN;
	for (;;) {
		if ((n = epoll_wait(ep, evs, SERVE_EVENTS, -1)) == -1) {
			if (errno == EINTR)
				continue;
			die("epoll_wait", 1);
		}
		for (i = 0; i < n; i++) {
			fd = evs[i].data.fd;
			if (fd == lfd) {
				if ((fd = accept4(lfd, NULL, NULL,
				    SOCK_NONBLOCK)) == -1)
					continue;
				if ((size_t)fd >= nconns) {
					if ((nc = realloc(conns, ((size_t)fd +
					    64) * sizeof *nc)) == NULL)
						die("out of memory", 0);
					memset(nc + nconns, 0, ((size_t)fd +
					    64 - nconns) * sizeof *nc);
					conns = nc;
					nconns = (size_t)fd + 64;
				}
				ev.data.fd = fd;
				if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1)
					die("epoll_ctl", 1);
				continue;
			}
			if (serve_read(fd, &conns[fd], out) == -1) {
				close(fd);	/* leaves the epoll set */
				conns[fd].len = 0;
			}
		}
	}
}

/* Print usage and exit 2. */
static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: bench_floor [-n rounds] [-c cpu] pair | "
	    "pair-epoll\n"
	    "       bench_floor [-n rounds] unix path arg ...\n"
	    "       bench_floor serve path\n");
	exit(2);
}

/* Parse the arguments, run one mode, print its line. */
int
main(int argc, char *argv[])
{
	double		*lat, wall;
	size_t		 rounds = ROUNDS_DEFAULT;
	char		*end;
	long		 cpu = -1;
	int		 ch;

	while ((ch = getopt(argc, argv, "c:n:")) != -1) {
		switch (ch) {
		case 'c':
			cpu = strtol(optarg, &end, 10);
			if (*end != '\0' || cpu < 0 || cpu >= CPU_SETSIZE)
				usage();
			break;
		case 'n':
			rounds = strtoul(optarg, &end, 10);
			if (*end != '\0' || rounds < 1 || rounds > 100000000)
				usage();
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	if (strcmp(argv[0], "serve") == 0 && argc == 2)
		run_serve(argv[1]);
	if ((lat = malloc(rounds * sizeof *lat)) == NULL)
		die("out of memory", 0);

	if (strcmp(argv[0], "pair") == 0 && argc == 1)
		wall = run_pair(lat, rounds, 0, (int)cpu);
	else if (strcmp(argv[0], "pair-epoll") == 0 && argc == 1)
		wall = run_pair(lat, rounds, 1, (int)cpu);
	else if (strcmp(argv[0], "unix") == 0 && argc >= 3)
		wall = run_unix(lat, rounds, argv[1], argv + 2, argc - 2);
	else
		usage();

	qsort(lat, rounds, sizeof *lat, cmp_double);
	printf("round_trips=%zu per_s=%.0f p50_us=%.1f p99_us=%.1f\n", rounds,
	    (double)rounds / (wall / 1e9), lat[rounds / 2] / 1e3,
	    lat[(rounds * 99) / 100] / 1e3);
	free(lat);
	return 0;
}
