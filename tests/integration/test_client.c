/*
 * librevokd against the real daemon: the built revokd on a temp socket,
 * driven through the public API only; and against fakeserver.py, a
 * scripted server, for replies the real one gives only in states that are
 * hard to reach (loading, stale, Redis away), for every reply PROTOCOL.md
 * allows to a command, and for the exact bytes of each request (the fake
 * records them).
 * usage: test_client PATH_TO_REVOKD [PATH_TO_FAKESERVER_PY]
 * (default: $REVOKD_FAKESERVER, else fakeserver.py beside this source).
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jwt.h>

#include "revokd.h"

static const char *revokd_bin;	/* the daemon under test */
static char	 tmpdir[] = "/tmp/revokd-client.XXXXXX";
static char	 sock[256];	/* its socket */
static char	 state[256];	/* its state directory */
static pid_t	 daemon_pid = -1;
static char	 fakeserver[1024];	/* fakeserver.py */
static char	 fake_sock[256];	/* its socket */
static char	 fake_rec[256];		/* the requests it received */
static pid_t	 fake_pid = -1;		/* its process, -1 when none */

#define PYTHON	"/usr/bin/python3"	/* runs fakeserver.py */
#define FAKE_ARGS_MAX	24		/* script entries per fake_start */
#define REQ_MAX		8192		/* bytes of requests compared */

static const unsigned char secret[] =
    "0123456789abcdef0123456789abcdef-test-secret";

/* Return a monotonic time in seconds. */
static double
mono(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Start the daemon and wait (10 s at most) until it answers PING. */
static void
daemon_start(void)
{
	revokd_t	*h;
	double		 end = mono() + 10;
	int		 up = 0;

	daemon_pid = fork();
	ck_assert_int_ne(daemon_pid, -1);
	if (daemon_pid == 0) {
		char	 log[300];
		int	 fd;

		/* Keep the daemon's log out of the test's output. */
		snprintf(log, sizeof log, "%s/revokd.log", tmpdir);
		if ((fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600)) != -1)
			dup2(fd, STDERR_FILENO);
		execl(revokd_bin, "revokd", "--socket", sock, "--state-dir",
		    state, (char *)NULL);
		_exit(127);
	}
	h = revokd_new(sock, 500);
	while (!up && mono() < end) {
		up = revokd_ping(h) == 0;
		if (!up)
			usleep(10000);
	}
	revokd_free(h);
	ck_assert_msg(up, "daemon did not come up");
}

/* Stop the daemon with sig and reap it; return its wait status. */
static int
daemon_stop(int sig)
{
	int	 status = 0;

	if (daemon_pid > 0) {
		kill(daemon_pid, sig);
		waitpid(daemon_pid, &status, 0);
	}
	daemon_pid = -1;
	return status;
}

/* Per-test fixture: a fresh daemon with an empty journal. */
static void
setup(void)
{
	char	 path[300];

	snprintf(path, sizeof path, "%s/journal.log", state);
	unlink(path);
	snprintf(path, sizeof path, "%s/journal.snap", state);
	unlink(path);
	daemon_start();
}

/* Per-test fixture: stop it. */
static void
teardown(void)
{
	daemon_stop(SIGKILL);
}

/* Start fakeserver.py on fake_sock answering by script (NULL-terminated
 * "CMD=REPLY" entries), accepting max_conns connections (0: any),
 * recording every request in fake_rec (emptied first); wait (10 s at
 * most) until its socket appears, which it renames into place only once
 * listening. */
static void
fake_start(int max_conns, const char *const *script)
{
	const char	*argv[FAKE_ARGS_MAX + 8];
	char		 conns[16];
	struct stat	 st;
	double		 end = mono() + 10;
	int		 argc = 0, status;

	unlink(fake_sock);
	unlink(fake_rec);
	argv[argc++] = PYTHON;
	argv[argc++] = fakeserver;
	snprintf(conns, sizeof conns, "%d", max_conns);
	argv[argc++] = "--max-conns";
	argv[argc++] = conns;
	argv[argc++] = "--record";
	argv[argc++] = fake_rec;
	argv[argc++] = fake_sock;
	while (*script != NULL) {
		ck_assert_int_lt(argc, FAKE_ARGS_MAX + 7);
		argv[argc++] = *script++;
	}
	argv[argc] = NULL;
	fake_pid = fork();
	ck_assert_int_ne(fake_pid, -1);
	if (fake_pid == 0) {
		execv(PYTHON, (char *const *)argv);
		_exit(127);
	}
	while (stat(fake_sock, &st) == -1 || !S_ISSOCK(st.st_mode)) {
		if (waitpid(fake_pid, &status, WNOHANG) == fake_pid) {
			fake_pid = -1;
			ck_abort_msg("fakeserver exited early (status %d)",
			    status);
		}
		ck_assert_msg(mono() < end, "fakeserver did not come up");
		usleep(10000);
	}
}

/* Stop fakeserver.py with SIGTERM; it must exit 0. */
static void
fake_stop(void)
{
	int	 status = 0;

	if (fake_pid <= 0)
		return;
	kill(fake_pid, SIGTERM);
	waitpid(fake_pid, &status, 0);
	fake_pid = -1;
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "fakeserver status %d", status);
}

/* Per-test fixture: no fake server left behind by a failed test. */
static void
fake_teardown(void)
{
	if (fake_pid > 0) {
		kill(fake_pid, SIGKILL);
		waitpid(fake_pid, NULL, 0);
	}
	fake_pid = -1;
	unlink(fake_sock);
}

/* Append the multibulk form of a request, its NULL-terminated arguments,
 * to the NUL-terminated buf of size bytes: what a client must send. */
static void
req_append(char *buf, size_t size, ...)
{
	const char	*arg;
	char		 head[32];
	size_t		 n = 0;
	va_list		 ap;

	va_start(ap, size);
	while (va_arg(ap, const char *) != NULL)
		n++;
	va_end(ap);
	snprintf(head, sizeof head, "*%zu\r\n", n);
	ck_assert_int_lt(strlen(buf) + strlen(head), size);
	strcat(buf, head);
	va_start(ap, size);
	while ((arg = va_arg(ap, const char *)) != NULL) {
		snprintf(head, sizeof head, "$%zu\r\n", strlen(arg));
		ck_assert_int_lt(strlen(buf) + strlen(head) + strlen(arg) + 2,
		    size);
		strcat(buf, head);
		strcat(buf, arg);
		strcat(buf, "\r\n");
	}
	va_end(ap);
}

/* Assert that the fake received exactly the requests in want (in
 * req_append() form, "" for none) since the last call, and forget them. */
static void
expect_requests(const char *want)
{
	char	 got[REQ_MAX + 1];
	size_t	 n = 0;
	FILE	*f;

	if ((f = fopen(fake_rec, "rb")) != NULL) {
		n = fread(got, 1, REQ_MAX, f);
		fclose(f);
	}
	got[n] = '\0';
	ck_assert_msg(strlen(got) == n && strcmp(got, want) == 0,
	    "requests:\n%s\nwanted:\n%s", got, want);
	/* The fake opens it O_APPEND: emptied, it is written from the
	 * start again. */
	if ((f = fopen(fake_rec, "wb")) != NULL)
		fclose(f);
}

/* Mint an HS256 token with the claims of a verify-then-check: jti, iss,
 * sub and sid NULL for none, iat -1 for none. Caller frees. */
static char *
mint_claims(const char *jti, const char *iss, const char *sub,
    const char *sid, long iat, long exp)
{
	jwt_t	*jwt;
	char	*out;

	ck_assert_int_eq(jwt_new(&jwt), 0);
	if (jti != NULL)
		ck_assert_int_eq(jwt_add_grant(jwt, "jti", jti), 0);
	if (iss != NULL)
		ck_assert_int_eq(jwt_add_grant(jwt, "iss", iss), 0);
	if (sub != NULL)
		ck_assert_int_eq(jwt_add_grant(jwt, "sub", sub), 0);
	if (sid != NULL)
		ck_assert_int_eq(jwt_add_grant(jwt, "sid", sid), 0);
	if (iat != -1)
		ck_assert_int_eq(jwt_add_grant_int(jwt, "iat", iat), 0);
	ck_assert_int_eq(jwt_add_grant_int(jwt, "exp", exp), 0);
	ck_assert_int_eq(jwt_set_alg(jwt, JWT_ALG_HS256, secret,
	    sizeof secret - 1), 0);
	out = jwt_encode_str(jwt);
	ck_assert_ptr_nonnull(out);
	jwt_free(jwt);
	return out;
}

/* Mint an HS256 token with libjwt; jti may be NULL. Caller frees. */
static char *
mint(const char *jti, const char *iss, long exp)
{
	return mint_claims(jti, iss, NULL, NULL, -1, exp);
}

/* Change one signature character to another base64url character, so
 * the token stays well-formed but its signature no longer matches. */
static void
tamper(char *tok)
{
	char	*c = tok + strlen(tok) - 2;

	*c = *c == 'A' ? 'B' : 'A';
}

/* A verifier pinned to HS256 with the test secret. */
static revokd_verifier_t *
hs256_verifier(void)
{
	revokd_verifier_t	*v = revokd_verifier_new();

	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(revokd_verifier_set_key(v, "HS256", secret,
	    sizeof secret - 1), 0);
	return v;
}

START_TEST(test_ping)
{
	revokd_t	*h = revokd_new(sock, 1000);

	ck_assert_ptr_nonnull(h);
	ck_assert_int_eq(revokd_ping(h), 0);
	ck_assert_int_eq(revokd_err(h), REVOKD_OK);
	ck_assert_str_eq(revokd_errstr(h), "");
	revokd_free(h);
}
END_TEST

START_TEST(test_env_socket)
{
	revokd_t	*h;

	setenv("REVOKD_SOCKET", sock, 1);
	h = revokd_new(NULL, 0);
	ck_assert_int_eq(revokd_ping(h), 0);
	revokd_free(h);
	unsetenv("REVOKD_SOCKET");
}
END_TEST

START_TEST(test_revoke_check_unrevoke)
{
	revokd_t	*h = revokd_new(sock, 1000);
	long long	 exp = (long long)time(NULL) + 600;

	ck_assert_int_eq(revokd_check(h, NULL, "a1"), 0);
	ck_assert_int_eq(revokd_revoke(h, NULL, "a1", exp, "logout"), 0);
	ck_assert_int_eq(revokd_check(h, NULL, "a1"), 1);
	ck_assert_str_eq(revokd_last_rule(h), "jti");
	ck_assert_str_eq(revokd_last_reason(h), "logout");
	ck_assert_int_eq(revokd_last_until(h), exp);
	/* The empty issuer is the absent one; others are distinct. */
	ck_assert_int_eq(revokd_check(h, "", "a1"), 1);
	ck_assert_int_eq(revokd_check(h, "https://idp", "a1"), 0);
	ck_assert_int_eq(revokd_revoke(h, "https://idp", "a1", exp, NULL), 0);
	ck_assert_int_eq(revokd_check(h, "https://idp", "a1"), 1);
	ck_assert_str_eq(revokd_last_reason(h), "");
	/* A later REVOKE never shortens a revocation. */
	ck_assert_int_eq(revokd_revoke(h, NULL, "a1", exp - 100, NULL), 0);
	ck_assert_int_eq(revokd_check(h, NULL, "a1"), 1);
	ck_assert_int_eq(revokd_last_until(h), exp);
	ck_assert_int_eq(revokd_unrevoke(h, NULL, "a1"), 1);
	ck_assert_int_eq(revokd_unrevoke(h, NULL, "a1"), 0);
	ck_assert_int_eq(revokd_check(h, NULL, "a1"), 0);
	ck_assert_int_eq(revokd_check(h, "https://idp", "a1"), 1);
	revokd_free(h);
}
END_TEST

START_TEST(test_revoke_limits)
{
	revokd_t	*h = revokd_new(sock, 1000);
	long long	 now = (long long)time(NULL);
	char		 big[258];

	/* Past exp + the 300 s grace: nothing to do. */
	ck_assert_int_eq(revokd_revoke(h, NULL, "old", now - 301, NULL), 1);
	ck_assert_int_eq(revokd_check(h, NULL, "old"), 0);
	/* Inside the grace a verifier's leeway may still accept the token:
	 * the revocation is stored and enforced. */
	ck_assert_int_eq(revokd_revoke(h, NULL, "recent", now - 5, NULL), 0);
	ck_assert_int_eq(revokd_check(h, NULL, "recent"), 1);
	ck_assert_int_eq(revokd_last_until(h), now - 5);
	ck_assert_int_eq(revokd_revoke(h, NULL, "far", now + 31 * 86400,
	    NULL), -1);
	ck_assert_int_eq(revokd_err(h), REVOKD_ERR_SERVER);
	ck_assert_ptr_nonnull(strstr(revokd_errstr(h), "max-ttl"));
	ck_assert_int_eq(revokd_check(h, NULL, "far"), 0);
	ck_assert_int_eq(revokd_err(h), REVOKD_OK);

	ck_assert_int_eq(revokd_check(h, NULL, NULL), -1);
	ck_assert_int_eq(revokd_err(h), REVOKD_ERR_ARG);
	ck_assert_int_eq(revokd_check(h, NULL, ""), -1);
	memset(big, 'x', 257);
	big[257] = '\0';
	ck_assert_int_eq(revokd_check(h, NULL, big), -1);
	ck_assert_int_eq(revokd_err(h), REVOKD_ERR_ARG);
	ck_assert_int_eq(revokd_check(h, big, "j"), -1);
	big[256] = '\0';
	ck_assert_int_eq(revokd_check(h, NULL, big), 0);
	ck_assert_int_eq(revokd_revoke(h, NULL, "j", 0, NULL), -1);
	ck_assert_int_eq(revokd_err(h), REVOKD_ERR_ARG);
	revokd_free(h);
}
END_TEST

START_TEST(test_stats)
{
	revokd_t	*h = revokd_new(sock, 1000);
	char		 buf[1024];

	ck_assert_int_eq(revokd_revoke(h, NULL, "s1",
	    (long long)time(NULL) + 60, NULL), 0);
	ck_assert_int_eq(revokd_stats(h, buf, sizeof buf), 0);
	ck_assert_msg(strstr(buf, "entries=1 ") != NULL, "%s", buf);
	ck_assert_ptr_nonnull(strstr(buf, "version=" REVOKD_VERSION_STRING));
	ck_assert_ptr_nonnull(strstr(buf, "memory_bytes="));
	/* Truncation happens at a pair boundary. */
	ck_assert_int_eq(revokd_stats(h, buf, 20), 0);
	ck_assert_int_lt(strlen(buf), 20);
	ck_assert_ptr_null(strchr(buf, ' '));
	revokd_free(h);
}
END_TEST

START_TEST(test_verify_check)
{
	revokd_t		*h = revokd_new(sock, 1000);
	revokd_verifier_t	*v = hs256_verifier();
	long			 exp = (long)time(NULL) + 300;
	char			*tok = mint("vc1", "https://idp", exp);
	char			*nojti = mint(NULL, NULL, exp);

	ck_assert_int_eq(revokd_verify_check(h, v, tok, strlen(tok)),
	    REVOKD_VALID);
	ck_assert_int_eq(revokd_revoke(h, "https://idp", "vc1", exp,
	    "compromised"), 0);
	ck_assert_int_eq(revokd_verify_check(h, v, tok, strlen(tok)),
	    REVOKD_REVOKED);
	ck_assert_str_eq(revokd_last_reason(h), "compromised");
	ck_assert_int_eq(revokd_verify_check(h, v, nojti, strlen(nojti)),
	    REVOKD_MISSING_JTI);
	tamper(tok);
	ck_assert_int_eq(revokd_verify_check(h, v, tok, strlen(tok)),
	    REVOKD_BAD_SIGNATURE);
	ck_assert_str_eq(revokd_outcome_str(REVOKD_REVOKED), "revoked");
	free(tok);

	/* Just past exp the verifier's leeway still accepts the token: its
	 * revocation must still be enforced then. */
	tok = mint("vc2", NULL, (long)time(NULL) - 5);
	ck_assert_int_eq(revokd_verify_check(h, v, tok, strlen(tok)),
	    REVOKD_VALID);
	ck_assert_int_eq(revokd_revoke(h, NULL, "vc2",
	    (long long)time(NULL) - 5, NULL), 0);
	ck_assert_int_eq(revokd_verify_check(h, v, tok, strlen(tok)),
	    REVOKD_REVOKED);
	free(tok);
	free(nojti);
	revokd_verifier_free(v);
	revokd_free(h);
}
END_TEST

START_TEST(test_unavailable_and_reconnect)
{
	revokd_t		*h = revokd_new(sock, 1000);
	revokd_verifier_t	*v = hs256_verifier();
	char			*tok = mint("rc1", NULL, (long)time(NULL) + 300);
	int			 status;

	ck_assert_int_eq(revokd_ping(h), 0);
	status = daemon_stop(SIGTERM);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* Fail closed while the daemon is away. */
	ck_assert_int_eq(revokd_verify_check(h, v, tok, strlen(tok)),
	    REVOKD_UNAVAILABLE);
	ck_assert_int_eq(revokd_err(h), REVOKD_ERR_IO);
	ck_assert_int_ne(strlen(revokd_errstr(h)), 0);
	ck_assert_int_eq(revokd_ping(h), -1);
	/* The same handle works again once the daemon is back. */
	daemon_start();
	ck_assert_int_eq(revokd_verify_check(h, v, tok, strlen(tok)),
	    REVOKD_VALID);
	ck_assert_int_eq(revokd_err(h), REVOKD_OK);
	/* A restart under a connected handle costs the caller nothing. */
	daemon_stop(SIGKILL);
	daemon_start();
	ck_assert_int_eq(revokd_ping(h), 0);
	free(tok);
	revokd_verifier_free(v);
	revokd_free(h);
}
END_TEST

START_TEST(test_fail_open)
{
	revokd_t		*h = revokd_new(sock, 500);
	revokd_verifier_t	*v = hs256_verifier();
	char			*tok = mint("fo1", NULL, (long)time(NULL) + 300);

	ck_assert_int_eq(revokd_verifier_set_fail_open(v, 1), 0);
	/* While the daemon answers, fail-open changes nothing. */
	ck_assert_int_eq(revokd_verify_check(h, v, tok, strlen(tok)),
	    REVOKD_VALID);
	ck_assert_int_eq(revokd_revoke(h, NULL, "fo1",
	    (long long)time(NULL) + 300, NULL), 0);
	ck_assert_int_eq(revokd_verify_check(h, v, tok, strlen(tok)),
	    REVOKD_REVOKED);
	daemon_stop(SIGKILL);
	/* Genuine but unchecked, and the outcome says so. */
	ck_assert_int_eq(revokd_verify_check(h, v, tok, strlen(tok)),
	    REVOKD_VALID_UNCHECKED);
	ck_assert_str_eq(revokd_outcome_str(REVOKD_VALID_UNCHECKED),
	    "valid_unchecked");
	/* Never for a token that fails verification. */
	free(tok);
	tok = mint("fo1", NULL, (long)time(NULL) + 300);
	tamper(tok);
	ck_assert_int_eq(revokd_verify_check(h, v, tok, strlen(tok)),
	    REVOKD_BAD_SIGNATURE);
	ck_assert_int_eq(revokd_verifier_set_fail_open(v, 0), 0);
	free(tok);
	tok = mint("fo1", NULL, (long)time(NULL) + 300);
	ck_assert_int_eq(revokd_verify_check(h, v, tok, strlen(tok)),
	    REVOKD_UNAVAILABLE);
	free(tok);
	revokd_verifier_free(v);
	revokd_free(h);
}
END_TEST

START_TEST(test_timeout)
{
	struct sockaddr_un	 sun;
	char			 path[300];
	revokd_t		*h;
	double			 t0;
	int			 fd;

	/* A server that accepts (backlog) but never answers. */
	snprintf(path, sizeof path, "%s/silent.sock", tmpdir);
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	h = revokd_new(path, 200);
	t0 = mono();
	ck_assert_int_eq(revokd_check(h, NULL, "x"), -1);
	ck_assert_int_eq(revokd_err(h), REVOKD_ERR_TIMEOUT);
	/* Bounded by the timeout, not hanging (generous upper bound). */
	ck_assert(mono() - t0 < 5.0);
	revokd_free(h);
	close(fd);
	unlink(path);
}
END_TEST

/* Thread body: checks and revokes on its own handle. */
static void *
worker(void *arg)
{
	revokd_t	*h = revokd_new(sock, 2000);
	long		 id = (long)arg, bad = 0;
	char		 jti[32];
	int		 i;

	for (i = 0; i < 500; i++) {
		snprintf(jti, sizeof jti, "t%ld-%d", id, i);
		if (revokd_revoke(h, NULL, jti, (long long)time(NULL) + 60,
		    NULL) != 0 || revokd_check(h, NULL, jti) != 1)
			bad++;
	}
	revokd_free(h);
	return (void *)bad;
}

START_TEST(test_threads)
{
	pthread_t	 t[8];
	void		*bad;
	long		 i;
	char		 buf[512];
	revokd_t	*h;

	for (i = 0; i < 8; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, worker,
		    (void *)i), 0);
	for (i = 0; i < 8; i++) {
		ck_assert_int_eq(pthread_join(t[i], &bad), 0);
		ck_assert_int_eq((long)bad, 0);
	}
	h = revokd_new(sock, 1000);
	ck_assert_int_eq(revokd_stats(h, buf, sizeof buf), 0);
	ck_assert_ptr_nonnull(strstr(buf, "entries=4000"));
	revokd_free(h);
}
END_TEST

START_TEST(test_rules)
{
	revokd_t	*h = revokd_new(sock, 1000);
	long long	 now = (long long)time(NULL);

	/* Log out everywhere: the subject's tokens issued up to the point. */
	ck_assert_int_eq(revokd_check_claims(h, "https://idp", "r1", "alice",
	    NULL, now - 60), 0);
	ck_assert_int_eq(revokd_revoke_sub(h, "https://idp", "alice", now - 30,
	    "logout"), 0);
	ck_assert_int_eq(revokd_check_claims(h, "https://idp", "r1", "alice",
	    NULL, now - 60), 1);
	ck_assert_str_eq(revokd_last_rule(h), "sub");
	ck_assert_int_eq(revokd_last_until(h), now - 30);
	ck_assert_str_eq(revokd_last_reason(h), "logout");
	ck_assert_int_eq(revokd_check_claims(h, "https://idp", "r1", "alice",
	    NULL, now - 30), 1);
	ck_assert_int_eq(revokd_check_claims(h, "https://idp", "r1", "alice",
	    NULL, now - 29), 0);
	ck_assert_str_eq(revokd_last_rule(h), "");
	/* No iat: issued at the beginning of time. */
	ck_assert_int_eq(revokd_check_claims(h, "https://idp", "r1", "alice",
	    NULL, REVOKD_NO_IAT), 1);
	/* Another issuer's alice; a check without the subject. */
	ck_assert_int_eq(revokd_check_claims(h, NULL, "r1", "alice", NULL,
	    REVOKD_NO_IAT), 0);
	ck_assert_int_eq(revokd_check(h, "https://idp", "r1"), 0);
	/* 0 is the daemon's now; never in its future; long ago is moot. */
	ck_assert_int_eq(revokd_revoke_sub(h, NULL, "bob", 0, NULL), 0);
	ck_assert_int_eq(revokd_check_claims(h, NULL, "r2", "bob", NULL,
	    now - 1), 1);
	ck_assert_int_eq(revokd_revoke_sub(h, NULL, "bob", now + 3600, NULL),
	    -1);
	ck_assert_int_eq(revokd_err(h), REVOKD_ERR_SERVER);
	ck_assert_str_eq(revokd_errstr(h), "ERR BEFORE is in the future");
	ck_assert_int_eq(revokd_revoke_sub(h, NULL, "bob2", 1577836800, NULL),
	    1);

	/* Bans, with and without an end. */
	ck_assert_int_eq(revokd_ban(h, NULL, "carol", 0, "abuse"), 0);
	ck_assert_int_eq(revokd_check_claims(h, NULL, "r3", "carol", NULL,
	    now + 10), 1);
	ck_assert_str_eq(revokd_last_rule(h), "ban");
	ck_assert_int_eq(revokd_last_until(h), 0);
	ck_assert_str_eq(revokd_last_reason(h), "abuse");
	ck_assert_int_eq(revokd_unban(h, NULL, "carol", "appeal"), 1);
	ck_assert_int_eq(revokd_unban(h, NULL, "carol", NULL), 0);
	ck_assert_int_eq(revokd_check_claims(h, NULL, "r3", "carol", NULL,
	    now), 0);
	ck_assert_int_eq(revokd_ban(h, NULL, "dave", now + 600, NULL), 0);
	ck_assert_int_eq(revokd_check_claims(h, NULL, "r4", "dave", NULL,
	    REVOKD_NO_IAT), 1);
	ck_assert_int_eq(revokd_last_until(h), now + 600);
	ck_assert_int_eq(revokd_ban(h, NULL, "erin", now - 400, NULL), 1);
	ck_assert_int_eq(revokd_check_claims(h, NULL, "r4", "erin", NULL,
	    now), 0);

	/* Sessions. */
	ck_assert_int_eq(revokd_revoke_session(h, "https://idp", "s1",
	    now + 600, "logout"), 0);
	ck_assert_int_eq(revokd_check_claims(h, "https://idp", "r5", NULL,
	    "s1", now), 1);
	ck_assert_str_eq(revokd_last_rule(h), "sid");
	ck_assert_int_eq(revokd_last_until(h), now + 600);
	ck_assert_int_eq(revokd_check_claims(h, "https://idp", "r5", NULL,
	    "s2", now), 0);
	ck_assert_int_eq(revokd_check_claims(h, NULL, "r5", NULL, "s1", now),
	    0);
	ck_assert_int_eq(revokd_revoke_session(h, NULL, "s3", now - 301, NULL),
	    1);
	ck_assert_int_eq(revokd_revoke_session(h, NULL, "s3",
	    now + 31 * 86400, NULL), -1);
	ck_assert_ptr_nonnull(strstr(revokd_errstr(h), "max-ttl"));

	/* The issuer, e.g. a leaked key. */
	ck_assert_int_eq(revokd_revoke_all(h, "https://old", now - 30,
	    "key leaked"), 0);
	ck_assert_int_eq(revokd_check_claims(h, "https://old", "r6", NULL,
	    NULL, now - 30), 1);
	ck_assert_str_eq(revokd_last_rule(h), "iss");
	ck_assert_int_eq(revokd_last_until(h), now - 30);
	ck_assert_int_eq(revokd_check_claims(h, "https://old", "r6", NULL,
	    NULL, now - 29), 0);
	/* revokd_check() sends no iat: the issuer rule refuses it. */
	ck_assert_int_eq(revokd_check(h, "https://old", "r6"), 1);
	ck_assert_int_eq(revokd_revoke_all(h, "https://old", now + 3600, NULL),
	    -1);
	ck_assert_int_eq(revokd_err(h), REVOKD_ERR_SERVER);

	/* The first rule that matches, in the order jti, sub, ban, sid,
	 * iss, is reported. */
	ck_assert_int_eq(revokd_revoke(h, "https://old", "r7", now + 600,
	    "jti"), 0);
	ck_assert_int_eq(revokd_ban(h, "https://old", "frank", 0, NULL), 0);
	ck_assert_int_eq(revokd_check_claims(h, "https://old", "r7", "frank",
	    NULL, now - 40), 1);
	ck_assert_str_eq(revokd_last_rule(h), "jti");
	ck_assert_int_eq(revokd_unrevoke_reason(h, "https://old", "r7",
	    "mistake"), 1);
	ck_assert_int_eq(revokd_check_claims(h, "https://old", "r7", "frank",
	    NULL, now - 40), 1);
	ck_assert_str_eq(revokd_last_rule(h), "ban");
	ck_assert_int_eq(revokd_unban(h, "https://old", "frank", NULL), 1);
	ck_assert_int_eq(revokd_check_claims(h, "https://old", "r7", "frank",
	    NULL, now - 40), 1);
	ck_assert_str_eq(revokd_last_rule(h), "iss");
	revokd_free(h);
}
END_TEST

START_TEST(test_verify_check_rules)
{
	revokd_t		*h = revokd_new(sock, 1000);
	revokd_verifier_t	*v = hs256_verifier();
	long			 now = (long)time(NULL);
	char			*old, *late, *noiat, *sess;

	old = mint_claims("w1", "https://idp", "alice", NULL, now - 60,
	    now + 300);
	late = mint_claims("w2", "https://idp", "alice", NULL, now + 5,
	    now + 300);
	noiat = mint_claims("w3", "https://idp", "alice", NULL, -1, now + 300);
	sess = mint_claims("w4", "https://idp", "bob", "s9", now, now + 300);
	/* Verified once each: later calls are cache hits. */
	ck_assert_int_eq(revokd_verify_check(h, v, old, strlen(old)),
	    REVOKD_VALID);
	ck_assert_int_eq(revokd_verify_check(h, v, late, strlen(late)),
	    REVOKD_VALID);
	ck_assert_int_eq(revokd_verify_check(h, v, noiat, strlen(noiat)),
	    REVOKD_VALID);
	ck_assert_int_eq(revokd_verify_check(h, v, sess, strlen(sess)),
	    REVOKD_VALID);
	ck_assert_int_eq(revokd_revoke_sub(h, "https://idp", "alice", now - 30,
	    "logout"), 0);
	ck_assert_int_eq(revokd_verify_check(h, v, old, strlen(old)),
	    REVOKD_REVOKED);
	ck_assert_str_eq(revokd_last_rule(h), "sub");
	ck_assert_int_eq(revokd_verify_check(h, v, late, strlen(late)),
	    REVOKD_VALID);
	/* A token without iat cannot be cleared against the logout. */
	ck_assert_int_eq(revokd_verify_check(h, v, noiat, strlen(noiat)),
	    REVOKD_REVOKED);
	ck_assert_int_eq(revokd_revoke_session(h, "https://idp", "s9",
	    now + 300, NULL), 0);
	ck_assert_int_eq(revokd_verify_check(h, v, sess, strlen(sess)),
	    REVOKD_REVOKED);
	ck_assert_str_eq(revokd_last_rule(h), "sid");
	ck_assert_int_eq(revokd_ban(h, "https://idp", "alice", 0, NULL), 0);
	ck_assert_int_eq(revokd_verify_check(h, v, late, strlen(late)),
	    REVOKD_REVOKED);
	ck_assert_str_eq(revokd_last_rule(h), "ban");
	free(old);
	free(late);
	free(noiat);
	free(sess);
	revokd_verifier_free(v);
	revokd_free(h);
}
END_TEST

#define LOADING_MSG	"LOADING revokd is loading the blocklist"
#define STALE_MSG	"STALE no contact with Redis for 42 s (max 30 s)"

START_TEST(test_fake_loading)
{
	/* One connection only: a handle that reconnected would fail. */
	static const char *const script[] = {
		"PING=+PONG\\r\\n",
		"CHECK=-" LOADING_MSG "\\r\\n",
		"CHECK=*1\\r\\n$11\\r\\nnot_revoked\\r\\n",
		"REVOKE=-LOADING\\r\\n",
		"UNREVOKE=-LOADINGS is no code\\r\\n",
		"UNREVOKE=-ERR LOADING is no code either\\r\\n",
		NULL
	};
	revokd_t	*h;

	fake_start(1, script);
	h = revokd_new(fake_sock, 1000);
	ck_assert_int_eq(revokd_check(h, NULL, "l1"), -1);
	ck_assert_int_eq(revokd_err(h), REVOKD_ERR_UNAVAILABLE);
	ck_assert_str_eq(revokd_errstr(h), LOADING_MSG);
	/* A well-formed reply: the same connection goes on. */
	ck_assert_int_eq(revokd_ping(h), 0);
	ck_assert_int_eq(revokd_check(h, NULL, "l1"), 0);
	ck_assert_int_eq(revokd_err(h), REVOKD_OK);
	/* Any command may be answered LOADING, with or without text. */
	ck_assert_int_eq(revokd_revoke(h, NULL, "l1",
	    (long long)time(NULL) + 60, NULL), -1);
	ck_assert_int_eq(revokd_err(h), REVOKD_ERR_UNAVAILABLE);
	ck_assert_str_eq(revokd_errstr(h), "LOADING");
	/* Only the first word is the code. */
	ck_assert_int_eq(revokd_unrevoke(h, NULL, "l1"), -1);
	ck_assert_int_eq(revokd_err(h), REVOKD_ERR_SERVER);
	ck_assert_int_eq(revokd_unrevoke(h, NULL, "l1"), -1);
	ck_assert_int_eq(revokd_err(h), REVOKD_ERR_SERVER);
	ck_assert_str_eq(revokd_errstr(h), "ERR LOADING is no code either");
	ck_assert_int_eq(revokd_ping(h), 0);
	revokd_free(h);
	fake_stop();
}
END_TEST

START_TEST(test_fake_stale)
{
	static const char *const script[] = {
		"CHECK=-" STALE_MSG "\\r\\n",
		NULL
	};
	revokd_t		*h;
	revokd_verifier_t	*v = hs256_verifier();
	char			*tok = mint("st1", "https://idp",
				    (long)time(NULL) + 300);

	fake_start(1, script);
	h = revokd_new(fake_sock, 1000);
	ck_assert_int_eq(revokd_check(h, "https://idp", "st1"), -1);
	ck_assert_int_eq(revokd_err(h), REVOKD_ERR_UNAVAILABLE);
	ck_assert_str_eq(revokd_errstr(h), STALE_MSG);
	/* Fail closed, as for a daemon that is down, not a protocol error. */
	ck_assert_int_eq(revokd_verify_check(h, v, tok, strlen(tok)),
	    REVOKD_UNAVAILABLE);
	ck_assert_int_eq(revokd_err(h), REVOKD_ERR_UNAVAILABLE);
	ck_assert_str_eq(revokd_errstr(h), STALE_MSG);
	/* Fail open: genuine but unchecked, on the same connection. */
	ck_assert_int_eq(revokd_verifier_set_fail_open(v, 1), 0);
	ck_assert_int_eq(revokd_verify_check(h, v, tok, strlen(tok)),
	    REVOKD_VALID_UNCHECKED);
	ck_assert_int_eq(revokd_err(h), REVOKD_ERR_UNAVAILABLE);
	/* Never for a token that fails verification. */
	tamper(tok);
	ck_assert_int_eq(revokd_verify_check(h, v, tok, strlen(tok)),
	    REVOKD_BAD_SIGNATURE);
	revokd_free(h);
	fake_stop();
	free(tok);
	revokd_verifier_free(v);
}
END_TEST

START_TEST(test_fake_pending)
{
	static const char *const script[] = {
		"REVOKE=+PENDING\\r\\n",
		"REVOKE=+EXPIRED\\r\\n",
		"REVOKE=+OK\\r\\n",
		"REVOKE=+PENDINGS\\r\\n",
		"UNREVOKE=+PENDING\\r\\n",
		"UNREVOKE=:0\\r\\n",
		"UNREVOKE=:1\\r\\n",
		"UNREVOKE=$7\\r\\nPENDING\\r\\n",
		NULL
	};
	revokd_t	*h;
	long long	 exp = (long long)time(NULL) + 600;

	fake_start(0, script);
	h = revokd_new(fake_sock, 1000);
	ck_assert_int_eq(revokd_revoke(h, "https://idp", "p1", exp, "x"), 2);
	ck_assert_int_eq(revokd_err(h), REVOKD_OK);
	ck_assert_int_eq(revokd_revoke(h, NULL, "p1", exp, NULL), 1);
	ck_assert_int_eq(revokd_revoke(h, NULL, "p1", exp, NULL), 0);
	ck_assert_int_eq(revokd_unrevoke(h, "https://idp", "p1"), 2);
	ck_assert_int_eq(revokd_err(h), REVOKD_OK);
	ck_assert_int_eq(revokd_unrevoke(h, NULL, "p1"), 0);
	ck_assert_int_eq(revokd_unrevoke(h, NULL, "p1"), 1);
	/* Anything else is a protocol error, as before. */
	ck_assert_int_eq(revokd_revoke(h, NULL, "p1", exp, NULL), -1);
	ck_assert_int_eq(revokd_err(h), REVOKD_ERR_PROTOCOL);
	ck_assert_int_eq(revokd_unrevoke(h, NULL, "p1"), -1);
	ck_assert_int_eq(revokd_err(h), REVOKD_ERR_PROTOCOL);
	revokd_free(h);
	fake_stop();
}
END_TEST

#define NOT_REVOKED	"CHECK=*1\\r\\n$11\\r\\nnot_revoked\\r\\n"

START_TEST(test_version)
{
	char	 want[32];

	/* The header and the library agree. */
	snprintf(want, sizeof want, "%d.%d.%d", REVOKD_VERSION_MAJOR,
	    REVOKD_VERSION_MINOR, REVOKD_VERSION_PATCH);
	ck_assert_str_eq(revokd_version(), want);
}
END_TEST

START_TEST(test_fake_check_claims)
{
	static const char *const script[] = {
		"CHECK=*4\\r\\n$7\\r\\nrevoked\\r\\n$3\\r\\nsub\\r\\n"
		    ":1767225600\\r\\n$6\\r\\nlogout\\r\\n",
		"CHECK=*4\\r\\n$7\\r\\nrevoked\\r\\n$3\\r\\nban\\r\\n:0\\r\\n"
		    "$0\\r\\n\\r\\n",
		"CHECK=*4\\r\\n$7\\r\\nrevoked\\r\\n$20\\r\\n"
		    "quarantine-by-policy\\r\\n:5\\r\\n$0\\r\\n\\r\\n",
		"CHECK=*4\\r\\n$7\\r\\nrevoked\\r\\n$70\\r\\n"
		    "0123456789012345678901234567890123456789"
		    "012345678901234567890123456789\\r\\n:5\\r\\n$0\\r\\n\\r\\n",
		NOT_REVOKED,
		/* More elements than four: a later protocol's. */
		"CHECK=*5\\r\\n$7\\r\\nrevoked\\r\\n$3\\r\\niss\\r\\n:7\\r\\n"
		    "$1\\r\\nk\\r\\n:1\\r\\n",
		/* Revoked with fewer than four: no sense. */
		"CHECK=*1\\r\\n$7\\r\\nrevoked\\r\\n",
		NULL
	};
	revokd_t	*h;
	char		 want[REQ_MAX] = "", big[258];

	fake_start(0, script);
	h = revokd_new(fake_sock, 1000);
	ck_assert_int_eq(revokd_check_claims(h, "https://idp", "j1", "alice",
	    "s1", 1767225000), 1);
	ck_assert_str_eq(revokd_last_rule(h), "sub");
	ck_assert_int_eq(revokd_last_until(h), 1767225600);
	ck_assert_str_eq(revokd_last_reason(h), "logout");
	/* No sid, no iat: neither is sent. */
	ck_assert_int_eq(revokd_check_claims(h, NULL, "j2", "bob", NULL,
	    REVOKD_NO_IAT), 1);
	ck_assert_str_eq(revokd_last_rule(h), "ban");
	ck_assert_int_eq(revokd_last_until(h), 0);
	ck_assert_str_eq(revokd_last_reason(h), "");
	/* "" is none; iat 0 is an iat. A rule unknown here, verbatim. */
	ck_assert_int_eq(revokd_check_claims(h, "", "j3", "", "", 0), 1);
	ck_assert_str_eq(revokd_last_rule(h), "quarantine-by-policy");
	ck_assert_int_eq(revokd_check_claims(h, NULL, "j3", NULL, NULL, 1), 1);
	ck_assert_str_eq(revokd_last_rule(h),
	    "012345678901234567890123456789012345678901234567890123456789012");
	ck_assert_int_eq(revokd_check(h, NULL, "j4"), 0);
	ck_assert_str_eq(revokd_last_rule(h), "");
	ck_assert_int_eq(revokd_last_until(h), 0);
	ck_assert_int_eq(revokd_check_claims(h, NULL, "j5", NULL, "s5", -5), 1);
	ck_assert_str_eq(revokd_last_rule(h), "iss");
	ck_assert_str_eq(revokd_last_reason(h), "k");
	ck_assert_int_eq(revokd_check_claims(h, NULL, "j6", NULL, NULL,
	    REVOKD_NO_IAT), -1);
	ck_assert_int_eq(revokd_err(h), REVOKD_ERR_PROTOCOL);
	req_append(want, sizeof want, "CHECK", "j1", "ISS", "https://idp",
	    "SUB", "alice", "SID", "s1", "IAT", "1767225000", NULL);
	req_append(want, sizeof want, "CHECK", "j2", "SUB", "bob", NULL);
	req_append(want, sizeof want, "CHECK", "j3", "IAT", "0", NULL);
	req_append(want, sizeof want, "CHECK", "j3", "IAT", "1", NULL);
	req_append(want, sizeof want, "CHECK", "j4", NULL);
	req_append(want, sizeof want, "CHECK", "j5", "SID", "s5", "IAT", "-5",
	    NULL);
	req_append(want, sizeof want, "CHECK", "j6", NULL);
	expect_requests(want);
	/* Bad arguments: nothing is sent. */
	memset(big, 'x', 257);
	big[257] = '\0';
	ck_assert_int_eq(revokd_check_claims(h, NULL, "j", big, NULL, 1), -1);
	ck_assert_int_eq(revokd_err(h), REVOKD_ERR_ARG);
	ck_assert_str_eq(revokd_errstr(h), "sub must be 1 to 256 bytes");
	ck_assert_int_eq(revokd_check_claims(h, NULL, "j", NULL, big, 1), -1);
	ck_assert_int_eq(revokd_err(h), REVOKD_ERR_ARG);
	ck_assert_int_eq(revokd_check_claims(h, big, "j", NULL, NULL, 1), -1);
	ck_assert_int_eq(revokd_check_claims(h, NULL, NULL, "u", NULL, 1), -1);
	ck_assert_int_eq(revokd_err(h), REVOKD_ERR_ARG);
	expect_requests("");
	revokd_free(h);
	fake_stop();
}
END_TEST

START_TEST(test_fake_verify_check_claims)
{
	static const char *const script[] = {
		NOT_REVOKED, NOT_REVOKED, NOT_REVOKED,
		/* A rule made meanwhile: the cached token is refused. */
		"CHECK=*4\\r\\n$7\\r\\nrevoked\\r\\n$3\\r\\nsub\\r\\n:5\\r\\n"
		    "$0\\r\\n\\r\\n",
		NOT_REVOKED,
		NULL
	};
	revokd_t		*h;
	revokd_verifier_t	*v = hs256_verifier();
	long			 now = (long)time(NULL);
	char			*full, *bare, *num, *longsub, *zero, big[258];
	char			 want[REQ_MAX] = "", iat[32];
	jwt_t			*jwt;

	full = mint_claims("v1", "https://idp", "alice", "s1", now - 10,
	    now + 300);
	bare = mint_claims("v2", NULL, "bob", NULL, -1, now + 300);
	zero = mint_claims("v5", NULL, NULL, NULL, 0, now + 300);
	memset(big, 'u', 257);
	big[257] = '\0';
	longsub = mint_claims("v4", NULL, big, NULL, now, now + 300);
	/* A sid that is not a string: the token is malformed. */
	ck_assert_int_eq(jwt_new(&jwt), 0);
	ck_assert_int_eq(jwt_add_grant(jwt, "jti", "v3"), 0);
	ck_assert_int_eq(jwt_add_grant_int(jwt, "sid", 5), 0);
	ck_assert_int_eq(jwt_add_grant_int(jwt, "exp", now + 300), 0);
	ck_assert_int_eq(jwt_set_alg(jwt, JWT_ALG_HS256, secret,
	    sizeof secret - 1), 0);
	ck_assert_ptr_nonnull(num = jwt_encode_str(jwt));
	jwt_free(jwt);

	fake_start(1, script);
	h = revokd_new(fake_sock, 1000);
	ck_assert_int_eq(revokd_verify_check(h, v, full, strlen(full)),
	    REVOKD_VALID);
	ck_assert_int_eq(revokd_verify_check(h, v, bare, strlen(bare)),
	    REVOKD_VALID);
	ck_assert_int_eq(revokd_verify_check(h, v, zero, strlen(zero)),
	    REVOKD_VALID);
	ck_assert_int_eq(revokd_verify_check(h, v, num, strlen(num)),
	    REVOKD_MALFORMED);
	ck_assert_int_eq(revokd_verify_check(h, v, longsub, strlen(longsub)),
	    REVOKD_MALFORMED);
	/* Verified from the cache, asked with the same claims. */
	ck_assert_int_eq(revokd_verify_check(h, v, full, strlen(full)),
	    REVOKD_REVOKED);
	ck_assert_str_eq(revokd_last_rule(h), "sub");
	ck_assert_int_eq(revokd_verify_check(h, v, bare, strlen(bare)),
	    REVOKD_VALID);
	snprintf(iat, sizeof iat, "%ld", now - 10);
	req_append(want, sizeof want, "CHECK", "v1", "ISS", "https://idp",
	    "SUB", "alice", "SID", "s1", "IAT", iat, NULL);
	req_append(want, sizeof want, "CHECK", "v2", "SUB", "bob", NULL);
	req_append(want, sizeof want, "CHECK", "v5", "IAT", "0", NULL);
	req_append(want, sizeof want, "CHECK", "v1", "ISS", "https://idp",
	    "SUB", "alice", "SID", "s1", "IAT", iat, NULL);
	req_append(want, sizeof want, "CHECK", "v2", "SUB", "bob", NULL);
	expect_requests(want);
	revokd_free(h);
	fake_stop();
	free(full);
	free(bare);
	free(zero);
	free(longsub);
	free(num);
	revokd_verifier_free(v);
}
END_TEST

START_TEST(test_fake_writes)
{
	static const char *const script[] = {
		"REVOKESUB=+OK\\r\\n",
		"REVOKESUB=+EXPIRED\\r\\n",
		"REVOKESUB=+PENDING\\r\\n",
		"REVOKESUB=-ERR BEFORE is in the future\\r\\n",
		"REVOKESUB=-NOPERM REVOKESUB needs an admin (uid 1 gid 1 is "
		    "not one)\\r\\n",
		"REVOKESUB=-LOADING revokd is loading the blocklist\\r\\n",
		"REVOKESUB=+OKAY\\r\\n",
		"BAN=+OK\\r\\n", "BAN=+PENDING\\r\\n", "BAN=+EXPIRED\\r\\n",
		"BAN=:1\\r\\n",
		"UNBAN=:1\\r\\n", "UNBAN=:0\\r\\n", "UNBAN=+PENDING\\r\\n",
		"UNBAN=$7\\r\\nPENDING\\r\\n",
		"REVOKESID=+OK\\r\\n", "REVOKESID=+EXPIRED\\r\\n",
		"REVOKESID=+PENDING\\r\\n",
		"REVOKEALL=+OK\\r\\n", "REVOKEALL=+PENDING\\r\\n",
		"REVOKEALL=-ERR BEFORE is in the future\\r\\n",
		"UNREVOKE=:1\\r\\n", "UNREVOKE=+PENDING\\r\\n",
		NULL
	};
	revokd_t	*h;
	char		 want[REQ_MAX] = "", big[258];

	fake_start(0, script);
	h = revokd_new(fake_sock, 1000);
	ck_assert_int_eq(revokd_revoke_sub(h, "https://idp", "alice",
	    1767225600, "logout"), 0);
	ck_assert_int_eq(revokd_revoke_sub(h, NULL, "alice", 0, NULL), 1);
	ck_assert_int_eq(revokd_revoke_sub(h, "", "alice", 0, ""), 2);
	ck_assert_int_eq(revokd_err(h), REVOKD_OK);
	ck_assert_int_eq(revokd_revoke_sub(h, NULL, "alice", 0, NULL), -1);
	ck_assert_int_eq(revokd_err(h), REVOKD_ERR_SERVER);
	ck_assert_str_eq(revokd_errstr(h), "ERR BEFORE is in the future");
	ck_assert_int_eq(revokd_revoke_sub(h, NULL, "alice", 0, NULL), -1);
	ck_assert_int_eq(revokd_err(h), REVOKD_ERR_SERVER);
	ck_assert_str_eq(revokd_errstr(h),
	    "NOPERM REVOKESUB needs an admin (uid 1 gid 1 is not one)");
	ck_assert_int_eq(revokd_revoke_sub(h, NULL, "alice", 0, NULL), -1);
	ck_assert_int_eq(revokd_err(h), REVOKD_ERR_UNAVAILABLE);
	ck_assert_int_eq(revokd_revoke_sub(h, NULL, "alice", 0, NULL), -1);
	ck_assert_int_eq(revokd_err(h), REVOKD_ERR_PROTOCOL);
	ck_assert_int_eq(revokd_ban(h, "I", "bob", 0, "spam"), 0);
	ck_assert_int_eq(revokd_ban(h, NULL, "bob", 1767225600, NULL), 2);
	ck_assert_int_eq(revokd_ban(h, NULL, "bob", 1, NULL), 1);
	ck_assert_int_eq(revokd_ban(h, NULL, "bob", 0, NULL), -1);
	ck_assert_int_eq(revokd_err(h), REVOKD_ERR_PROTOCOL);
	ck_assert_int_eq(revokd_unban(h, "I", "bob", "appeal"), 1);
	ck_assert_int_eq(revokd_unban(h, NULL, "bob", NULL), 0);
	ck_assert_int_eq(revokd_unban(h, NULL, "bob", NULL), 2);
	ck_assert_int_eq(revokd_unban(h, NULL, "bob", NULL), -1);
	ck_assert_int_eq(revokd_err(h), REVOKD_ERR_PROTOCOL);
	ck_assert_int_eq(revokd_revoke_session(h, "I", "s1", 1767225600,
	    "logout"), 0);
	ck_assert_int_eq(revokd_revoke_session(h, NULL, "s1", 1, NULL), 1);
	ck_assert_int_eq(revokd_revoke_session(h, NULL, "s1", 2, NULL), 2);
	ck_assert_int_eq(revokd_revoke_all(h, "I", 1767225600, "key leaked"),
	    0);
	ck_assert_int_eq(revokd_revoke_all(h, NULL, 1767225600, NULL), 2);
	ck_assert_int_eq(revokd_revoke_all(h, NULL, 1767225600, NULL), -1);
	ck_assert_int_eq(revokd_err(h), REVOKD_ERR_SERVER);
	ck_assert_int_eq(revokd_unrevoke_reason(h, "I", "j1", "mistake"), 1);
	ck_assert_int_eq(revokd_unrevoke_reason(h, NULL, "j1", NULL), 2);
	req_append(want, sizeof want, "REVOKESUB", "alice", "ISS",
	    "https://idp", "BEFORE", "1767225600", "REASON", "logout", NULL);
	req_append(want, sizeof want, "REVOKESUB", "alice", NULL);
	req_append(want, sizeof want, "REVOKESUB", "alice", NULL);
	req_append(want, sizeof want, "REVOKESUB", "alice", NULL);
	req_append(want, sizeof want, "REVOKESUB", "alice", NULL);
	req_append(want, sizeof want, "REVOKESUB", "alice", NULL);
	req_append(want, sizeof want, "REVOKESUB", "alice", NULL);
	req_append(want, sizeof want, "BAN", "bob", "ISS", "I", "REASON",
	    "spam", NULL);
	req_append(want, sizeof want, "BAN", "bob", "UNTIL", "1767225600",
	    NULL);
	req_append(want, sizeof want, "BAN", "bob", "UNTIL", "1", NULL);
	req_append(want, sizeof want, "BAN", "bob", NULL);
	req_append(want, sizeof want, "UNBAN", "bob", "ISS", "I", "REASON",
	    "appeal", NULL);
	req_append(want, sizeof want, "UNBAN", "bob", NULL);
	req_append(want, sizeof want, "UNBAN", "bob", NULL);
	req_append(want, sizeof want, "UNBAN", "bob", NULL);
	req_append(want, sizeof want, "REVOKESID", "s1", "1767225600", "ISS",
	    "I", "REASON", "logout", NULL);
	req_append(want, sizeof want, "REVOKESID", "s1", "1", NULL);
	req_append(want, sizeof want, "REVOKESID", "s1", "2", NULL);
	req_append(want, sizeof want, "REVOKEALL", "ISS", "I", "BEFORE",
	    "1767225600", "REASON", "key leaked", NULL);
	req_append(want, sizeof want, "REVOKEALL", "BEFORE", "1767225600",
	    NULL);
	req_append(want, sizeof want, "REVOKEALL", "BEFORE", "1767225600",
	    NULL);
	req_append(want, sizeof want, "UNREVOKE", "j1", "ISS", "I", "REASON",
	    "mistake", NULL);
	req_append(want, sizeof want, "UNREVOKE", "j1", NULL);
	expect_requests(want);

	/* Bad arguments: nothing is sent. */
	memset(big, 'x', 257);
	big[257] = '\0';
	ck_assert_int_eq(revokd_revoke_sub(h, NULL, NULL, 0, NULL), -1);
	ck_assert_int_eq(revokd_err(h), REVOKD_ERR_ARG);
	ck_assert_int_eq(revokd_revoke_sub(h, NULL, "", 0, NULL), -1);
	ck_assert_int_eq(revokd_revoke_sub(h, NULL, big, 0, NULL), -1);
	ck_assert_int_eq(revokd_revoke_sub(h, big, "a", 0, NULL), -1);
	ck_assert_int_eq(revokd_revoke_sub(h, NULL, "a", -1, NULL), -1);
	ck_assert_int_eq(revokd_err(h), REVOKD_ERR_ARG);
	ck_assert_int_eq(revokd_ban(h, NULL, "a", -1, NULL), -1);
	ck_assert_int_eq(revokd_ban(h, NULL, NULL, 0, NULL), -1);
	ck_assert_int_eq(revokd_unban(h, NULL, "", NULL), -1);
	ck_assert_int_eq(revokd_revoke_session(h, NULL, "s", 0, NULL), -1);
	ck_assert_int_eq(revokd_revoke_session(h, NULL, big, 5, NULL), -1);
	ck_assert_int_eq(revokd_revoke_all(h, NULL, 0, NULL), -1);
	ck_assert_int_eq(revokd_err(h), REVOKD_ERR_ARG);
	ck_assert_str_eq(revokd_errstr(h), "before must be positive");
	ck_assert_int_eq(revokd_revoke_all(h, big, 5, NULL), -1);
	ck_assert_int_eq(revokd_unrevoke_reason(h, NULL, "", "r"), -1);
	ck_assert_int_eq(revokd_err(h), REVOKD_ERR_ARG);
	expect_requests("");
	revokd_free(h);
	fake_stop();
}
END_TEST

START_TEST(test_fake_v2_check)
{
	static const char *const script[] = {
		"CHECK=-ERR wrong number of arguments for 'check' command\\r\\n",
		NOT_REVOKED, NOT_REVOKED,
		"CHECK=+OK\\r\\n",
		"CHECK=-ERR unknown option 'IAT' for 'CHECK'\\r\\n",
		"CHECK=*4\\r\\n$7\\r\\nrevoked\\r\\n$3\\r\\njti\\r\\n:9\\r\\n"
		    "$0\\r\\n\\r\\n",
		"CHECK=-ERR unknown option 'FOO' for 'CHECK'\\r\\n",
		NULL
	};
	revokd_t	*h;
	char		 want[REQ_MAX] = "";

	/* A protocol 2 daemon: asked again without the claims, then plain
	 * checks until the connection is lost. */
	fake_start(3, script);
	h = revokd_new(fake_sock, 1000);
	ck_assert_int_eq(revokd_check_claims(h, "I", "j1", "u", "s", 5), 0);
	ck_assert_int_eq(revokd_err(h), REVOKD_OK);
	ck_assert_int_eq(revokd_check_claims(h, "I", "j1", "u", "s", 5), 0);
	ck_assert_int_eq(revokd_check_claims(h, NULL, "j2", "u", NULL, 5), -1);
	ck_assert_int_eq(revokd_err(h), REVOKD_ERR_PROTOCOL);
	ck_assert_int_eq(revokd_check_claims(h, NULL, "j2", NULL, NULL, 5), 1);
	ck_assert_str_eq(revokd_last_rule(h), "jti");
	/* Other refusals are errors, never asked again. */
	revokd_free(h);
	h = revokd_new(fake_sock, 1000);
	ck_assert_int_eq(revokd_check_claims(h, NULL, "j3", "u", NULL, 5), -1);
	ck_assert_int_eq(revokd_err(h), REVOKD_ERR_SERVER);
	req_append(want, sizeof want, "CHECK", "j1", "ISS", "I", "SUB", "u",
	    "SID", "s", "IAT", "5", NULL);
	req_append(want, sizeof want, "CHECK", "j1", "ISS", "I", NULL);
	req_append(want, sizeof want, "CHECK", "j1", "ISS", "I", NULL);
	req_append(want, sizeof want, "CHECK", "j2", NULL);
	req_append(want, sizeof want, "CHECK", "j2", "IAT", "5", NULL);
	req_append(want, sizeof want, "CHECK", "j2", NULL);
	req_append(want, sizeof want, "CHECK", "j3", "SUB", "u", "IAT", "5",
	    NULL);
	expect_requests(want);
	revokd_free(h);
	fake_stop();
}
END_TEST

int
main(int argc, char **argv)
{
	const char	*env, *slash;
	Suite	*s;
	TCase	*tc;
	SRunner	*sr;
	int	 failed;

	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: test_client PATH_TO_REVOKD "
		    "[PATH_TO_FAKESERVER_PY]\n");
		return 2;
	}
	revokd_bin = argv[1];
	if (argc == 3)
		snprintf(fakeserver, sizeof fakeserver, "%s", argv[2]);
	else if ((env = getenv("REVOKD_FAKESERVER")) != NULL && *env != '\0')
		snprintf(fakeserver, sizeof fakeserver, "%s", env);
	else if ((slash = strrchr(__FILE__, '/')) != NULL)
		/* CMake compiles sources by absolute path. */
		snprintf(fakeserver, sizeof fakeserver, "%.*s/fakeserver.py",
		    (int)(slash - __FILE__), __FILE__);
	else
		snprintf(fakeserver, sizeof fakeserver, "fakeserver.py");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(sock, sizeof sock, "%s/revokd.sock", tmpdir);
	snprintf(state, sizeof state, "%s/state", tmpdir);
	snprintf(fake_sock, sizeof fake_sock, "%s/fake.sock", tmpdir);
	snprintf(fake_rec, sizeof fake_rec, "%s/fake.rec", tmpdir);
	if (mkdir(state, 0700) == -1) {
		perror("mkdir");
		return 1;
	}

	s = suite_create("client");
	tc = tcase_create("daemon");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_ping);
	tcase_add_test(tc, test_env_socket);
	tcase_add_test(tc, test_revoke_check_unrevoke);
	tcase_add_test(tc, test_revoke_limits);
	tcase_add_test(tc, test_stats);
	tcase_add_test(tc, test_verify_check);
	tcase_add_test(tc, test_unavailable_and_reconnect);
	tcase_add_test(tc, test_fail_open);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_threads);
	tcase_add_test(tc, test_rules);
	tcase_add_test(tc, test_verify_check_rules);
	suite_add_tcase(s, tc);
	tc = tcase_create("fakeserver");
	tcase_add_checked_fixture(tc, NULL, fake_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_fake_loading);
	tcase_add_test(tc, test_fake_stale);
	tcase_add_test(tc, test_fake_pending);
	tcase_add_test(tc, test_version);
	tcase_add_test(tc, test_fake_check_claims);
	tcase_add_test(tc, test_fake_verify_check_claims);
	tcase_add_test(tc, test_fake_writes);
	tcase_add_test(tc, test_fake_v2_check);
	suite_add_tcase(s, tc);

	sr = srunner_create(s);
	/* The daemon is a child of each test: run tests in this process. */
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	daemon_stop(SIGKILL);
	/* tmpdir is our own mkdtemp() directory: no quoting issues. */
	snprintf(sock, sizeof sock, "rm -rf %s", tmpdir);
	if (system(sock) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return failed == 0 ? 0 : 1;
}
