/* librevokd connection: commands to the daemon over its Unix socket. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <hiredis/hiredis.h>

#include "command.h"
#include "revokd.h"
#include "token.h"
#include "verify.h"

#define JTI_MAX	COMMAND_MAX_JTI_DEFAULT	/* bytes the daemon takes in a jti */
#define ISS_MAX	COMMAND_MAX_ISS_DEFAULT	/* bytes in an issuer */

/* A connection handle. */
struct revokd {
	char		*path;		/* socket path */
	struct timeval	 timeout;	/* connect, send and receive */
	redisContext	*rc;		/* NULL until connected or when broken */
	revokd_err_t	 err;		/* kind of the last call's error */
	char		 errstr[256];	/* its message */
	char		 rule[16];	/* last CHECK: rule that matched */
	char		 reason[COMMAND_MAX_REASON_DEFAULT + 1]; /* last CHECK */
	long long	 until;		/* last CHECK: revoked until */
};

/* Record an error on the handle. */
static void __attribute__((format(printf, 3, 4)))
client_set_error(revokd_t *h, revokd_err_t err, const char *fmt, ...)
{
	va_list	 ap;

	h->err = err;
	va_start(ap, fmt);
	vsnprintf(h->errstr, sizeof h->errstr, fmt, ap);
	va_end(ap);
}

/* Drop a broken connection so the next call reconnects. */
static void
client_disconnect(revokd_t *h)
{
	if (h->rc != NULL)
		redisFree(h->rc);
	h->rc = NULL;
}

/* Return the library version. */
const char *
revokd_version(void)
{
	return REVOKD_VERSION_STRING;
}

/* Create a handle for the daemon at path. */
revokd_t *
revokd_new(const char *path, int timeout_ms)
{
	revokd_t	*h;

	if (path == NULL || *path == '\0')
		path = getenv("REVOKD_SOCKET");
	if (path == NULL || *path == '\0')
		path = REVOKD_DEFAULT_SOCKET;
	if (timeout_ms <= 0)
		timeout_ms = 1000;
	if ((h = calloc(1, sizeof *h)) == NULL)
		return NULL;
	if ((h->path = strdup(path)) == NULL) {
		free(h);
		return NULL;
	}
	h->timeout.tv_sec = timeout_ms / 1000;
	h->timeout.tv_usec = (timeout_ms % 1000) * 1000;
	return h;
}

/* Close the connection and free the handle. */
void
revokd_free(revokd_t *h)
{
	if (h == NULL)
		return;
	client_disconnect(h);
	free(h->path);
	free(h);
}

/* Return the error kind of the last call. */
revokd_err_t
revokd_err(const revokd_t *h)
{
	return h->err;
}

/* Return the error message of the last call. */
const char *
revokd_errstr(const revokd_t *h)
{
	return h->errstr;
}

/* Connect now. */
int
revokd_connect(revokd_t *h)
{
	redisContext	*rc;

	h->err = REVOKD_OK;
	h->errstr[0] = '\0';
	if (h->rc != NULL)
		return 0;
	/* hiredis would silently cut a long path and reach another socket. */
	if (strlen(h->path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		client_set_error(h, REVOKD_ERR_ARG, "socket path too long "
		    "(max %zu bytes)",
		    sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		return -1;
	}
	rc = redisConnectUnixWithTimeout(h->path, h->timeout);
	if (rc == NULL) {
		client_set_error(h, REVOKD_ERR_OOM, "out of memory");
		return -1;
	}
	if (rc->err) {
		client_set_error(h, rc->err == REDIS_ERR_IO &&
		    errno == ETIMEDOUT ? REVOKD_ERR_TIMEOUT : REVOKD_ERR_IO,
		    "connect %s: %s", h->path, rc->errstr);
		redisFree(rc);
		return -1;
	}
	if (redisSetTimeout(rc, h->timeout) != REDIS_OK) {
		client_set_error(h, REVOKD_ERR_IO, "setting timeouts: %s",
		    rc->errstr);
		redisFree(rc);
		return -1;
	}
	h->rc = rc;
	return 0;
}

/* Write a formatted command to the daemon. hiredis would write() it and a
 * daemon that went away would raise SIGPIPE in the embedding process; send
 * with MSG_NOSIGNAL instead. Returns 0, or -1 with errno set. */
static int
client_send(revokd_t *h, const char *buf, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		n = send(h->rc->fd, buf, len, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Send one command and read its reply; NULL with errno (send) or the
 * context's error (receive) on failure. */
static redisReply *
client_roundtrip(revokd_t *h, int argc, const char **argv,
    const size_t *lens, int *send_failed)
{
	char		*cmd;
	int		 len;
	void		*reply = NULL;
	int		 saved;

	*send_failed = 0;
	if ((len = redisFormatCommandArgv(&cmd, argc, argv, lens)) < 0) {
		errno = ENOMEM;
		*send_failed = 1;
		return NULL;
	}
	if (client_send(h, cmd, (size_t)len) == -1) {
		saved = errno;
		redisFreeCommand(cmd);
		errno = saved;
		*send_failed = 1;
		return NULL;
	}
	redisFreeCommand(cmd);
	errno = 0;
	if (redisGetReply(h->rc, &reply) != REDIS_OK)
		return NULL;
	return reply;
}

/* Return the error kind of an error reply: LOADING and STALE say the
 * daemon cannot answer authoritatively yet, anything else is a refusal. */
static revokd_err_t
client_error_kind(const redisReply *r)
{
	static const char *const unavailable[] = { "LOADING", "STALE" };
	size_t	 i, n;

	for (i = 0; i < sizeof unavailable / sizeof unavailable[0]; i++) {
		n = strlen(unavailable[i]);
		/* The code is the first word, as in Redis ("-LOADING ..."). */
		if (r->len >= n && memcmp(r->str, unavailable[i], n) == 0 &&
		    (r->len == n || r->str[n] == ' '))
			return REVOKD_ERR_UNAVAILABLE;
	}
	return REVOKD_ERR_SERVER;
}

/* Send one command and return its reply, or NULL with the error set.
 * Server error replies are returned as errors too. */
static redisReply *
client_command(revokd_t *h, int argc, const char **argv, const size_t *lens)
{
	redisReply	*r;
	int		 saved, reused, attempt, send_failed;

	for (attempt = 0;; attempt++) {
		reused = h->rc != NULL;
		if (revokd_connect(h) == -1)
			return NULL;
		r = client_roundtrip(h, argc, argv, lens, &send_failed);
		saved = errno;
		/* A connection kept from an earlier call may have been closed
		 * by a daemon restart: try once more on a fresh one. Every
		 * command is idempotent, so a repeat is harmless. */
		if (r == NULL && reused && attempt == 0 &&
		    saved != EAGAIN && saved != EWOULDBLOCK &&
		    saved != ENOMEM && (send_failed ||
		    h->rc->err == REDIS_ERR_EOF || h->rc->err == REDIS_ERR_IO)) {
			client_disconnect(h);
			continue;
		}
		break;
	}
	if (r == NULL && send_failed) {
		if (saved == EAGAIN || saved == EWOULDBLOCK)
			client_set_error(h, REVOKD_ERR_TIMEOUT,
			    "%s: send timed out", h->path);
		else if (saved == ENOMEM)
			client_set_error(h, REVOKD_ERR_OOM, "out of memory");
		else
			client_set_error(h, REVOKD_ERR_IO, "%s: send: %s",
			    h->path, strerror(saved));
		client_disconnect(h);
		return NULL;
	}
	if (r == NULL) {
		if (h->rc->err == REDIS_ERR_IO &&
		    (saved == EAGAIN || saved == EWOULDBLOCK))
			client_set_error(h, REVOKD_ERR_TIMEOUT,
			    "%s: timed out", h->path);
		else if (h->rc->err == REDIS_ERR_PROTOCOL)
			client_set_error(h, REVOKD_ERR_PROTOCOL, "%s: %s",
			    h->path, h->rc->errstr);
		else if (h->rc->err == REDIS_ERR_OOM)
			client_set_error(h, REVOKD_ERR_OOM, "out of memory");
		else
			client_set_error(h, REVOKD_ERR_IO, "%s: %s", h->path,
			    h->rc->errstr[0] ? h->rc->errstr :
			    "connection lost");
		/* The stream is in an unknown state: start over next time. */
		client_disconnect(h);
		return NULL;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		/* A well-formed reply: the connection stays as it is. */
		client_set_error(h, client_error_kind(r), "%.*s",
		    (int)(r->len > 200 ? 200 : r->len), r->str);
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

/* Record a reply of an unexpected shape. */
static void
client_bad_reply(revokd_t *h, redisReply *r, const char *cmd)
{
	client_set_error(h, REVOKD_ERR_PROTOCOL,
	    "unexpected reply to %s (type %d)", cmd, r->type);
	freeReplyObject(r);
	client_disconnect(h);
}

/* Check that iss and jti are usable; -1 with the error set if not. */
static int
client_check_ids(revokd_t *h, const char *iss, const char *jti)
{
	if (jti == NULL || *jti == '\0' || strlen(jti) > JTI_MAX) {
		client_set_error(h, REVOKD_ERR_ARG,
		    "jti must be 1 to %d bytes", JTI_MAX);
		return -1;
	}
	if (iss != NULL && strlen(iss) > ISS_MAX) {
		client_set_error(h, REVOKD_ERR_ARG,
		    "iss must be at most %d bytes", ISS_MAX);
		return -1;
	}
	return 0;
}

/* Append "ISS iss" to a command's arguments when iss is not empty. */
static void
client_push_iss(const char **argv, size_t *lens, int *argc, const char *iss)
{
	if (iss == NULL || *iss == '\0')
		return;
	argv[*argc] = "ISS";
	lens[(*argc)++] = 3;
	argv[*argc] = iss;
	lens[(*argc)++] = strlen(iss);
}

/* PING the daemon. */
int
revokd_ping(revokd_t *h)
{
	const char	*argv[] = { "PING" };
	size_t		 lens[] = { 4 };
	redisReply	*r;

	if ((r = client_command(h, 1, argv, lens)) == NULL)
		return -1;
	if (r->type != REDIS_REPLY_STATUS || strcmp(r->str, "PONG") != 0) {
		client_bad_reply(h, r, "PING");
		return -1;
	}
	freeReplyObject(r);
	return 0;
}

/* Copy a bulk string reply element into a fixed buffer, truncating. */
static void
client_copy(char *dst, size_t size, const redisReply *e)
{
	size_t	 n = e->len < size - 1 ? e->len : size - 1;

	memcpy(dst, e->str, n);
	dst[n] = '\0';
}

/* Ask whether (iss, jti) is revoked. */
int
revokd_check(revokd_t *h, const char *iss, const char *jti)
{
	const char	*argv[4];
	size_t		 lens[4];
	redisReply	*r, **e;
	int		 argc = 2;

	h->rule[0] = h->reason[0] = '\0';
	h->until = 0;
	if (client_check_ids(h, iss, jti) == -1)
		return -1;
	argv[0] = "CHECK";
	lens[0] = 5;
	argv[1] = jti;
	lens[1] = strlen(jti);
	client_push_iss(argv, lens, &argc, iss);
	if ((r = client_command(h, argc, argv, lens)) == NULL)
		return -1;
	e = r->element;
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
	    e[0]->type != REDIS_REPLY_STRING)
		goto bad;
	if (strcmp(e[0]->str, "not_revoked") == 0) {
		freeReplyObject(r);
		return 0;
	}
	if (strcmp(e[0]->str, "revoked") != 0 || r->elements < 4 ||
	    e[1]->type != REDIS_REPLY_STRING ||
	    e[2]->type != REDIS_REPLY_INTEGER ||
	    e[3]->type != REDIS_REPLY_STRING)
		goto bad;
	client_copy(h->rule, sizeof h->rule, e[1]);
	client_copy(h->reason, sizeof h->reason, e[3]);
	h->until = e[2]->integer;
	freeReplyObject(r);
	return 1;
bad:
	client_bad_reply(h, r, "CHECK");
	return -1;
}

/* Return the rule of the last CHECK that said revoked. */
const char *
revokd_last_rule(const revokd_t *h)
{
	return h->rule;
}

/* Return the reason of the last CHECK that said revoked. */
const char *
revokd_last_reason(const revokd_t *h)
{
	return h->reason;
}

/* Return how long the last CHECK's revocation lasts. */
long long
revokd_last_until(const revokd_t *h)
{
	return h->until;
}

/* Revoke (iss, jti) until exp. */
int
revokd_revoke(revokd_t *h, const char *iss, const char *jti, long long exp,
    const char *reason)
{
	const char	*argv[7];
	size_t		 lens[7];
	char		 expbuf[24];
	redisReply	*r;
	int		 argc = 3, ret;

	if (client_check_ids(h, iss, jti) == -1)
		return -1;
	if (exp <= 0) {
		client_set_error(h, REVOKD_ERR_ARG, "exp must be positive");
		return -1;
	}
	snprintf(expbuf, sizeof expbuf, "%lld", exp);
	argv[0] = "REVOKE";
	lens[0] = 6;
	argv[1] = jti;
	lens[1] = strlen(jti);
	argv[2] = expbuf;
	lens[2] = strlen(expbuf);
	client_push_iss(argv, lens, &argc, iss);
	if (reason != NULL && *reason != '\0') {
		argv[argc] = "REASON";
		lens[argc++] = 6;
		argv[argc] = reason;
		lens[argc++] = strlen(reason);
	}
	if ((r = client_command(h, argc, argv, lens)) == NULL)
		return -1;
	if (r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0)
		ret = 0;
	else if (r->type == REDIS_REPLY_STATUS &&
	    strcmp(r->str, "EXPIRED") == 0)
		ret = 1;
	else if (r->type == REDIS_REPLY_STATUS &&
	    strcmp(r->str, "PENDING") == 0)
		ret = 2;
	else {
		client_bad_reply(h, r, "REVOKE");
		return -1;
	}
	freeReplyObject(r);
	return ret;
}

/* Lift a revocation. */
int
revokd_unrevoke(revokd_t *h, const char *iss, const char *jti)
{
	const char	*argv[4];
	size_t		 lens[4];
	redisReply	*r;
	int		 argc = 2, ret;

	if (client_check_ids(h, iss, jti) == -1)
		return -1;
	argv[0] = "UNREVOKE";
	lens[0] = 8;
	argv[1] = jti;
	lens[1] = strlen(jti);
	client_push_iss(argv, lens, &argc, iss);
	if ((r = client_command(h, argc, argv, lens)) == NULL)
		return -1;
	if (r->type == REDIS_REPLY_INTEGER &&
	    (r->integer == 0 || r->integer == 1))
		ret = (int)r->integer;
	else if (r->type == REDIS_REPLY_STATUS &&
	    strcmp(r->str, "PENDING") == 0)
		ret = 2;
	else {
		client_bad_reply(h, r, "UNREVOKE");
		return -1;
	}
	freeReplyObject(r);
	return ret;
}

/* Fetch the daemon's STATS as "name=value" pairs. */
int
revokd_stats(revokd_t *h, char *buf, size_t size)
{
	const char	*argv[] = { "STATS" };
	size_t		 lens[] = { 5 }, i, n = 0;
	redisReply	*r, *k, *v;
	char		 pair[512];
	int		 len;

	if (size == 0) {
		client_set_error(h, REVOKD_ERR_ARG, "no room for stats");
		return -1;
	}
	buf[0] = '\0';
	if ((r = client_command(h, 1, argv, lens)) == NULL)
		return -1;
	if (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0) {
		client_bad_reply(h, r, "STATS");
		return -1;
	}
	for (i = 0; i < r->elements; i += 2) {
		k = r->element[i];
		v = r->element[i + 1];
		if (k->type != REDIS_REPLY_STRING)
			continue;
		if (v->type == REDIS_REPLY_INTEGER)
			len = snprintf(pair, sizeof pair, "%s%.*s=%lld",
			    n ? " " : "", (int)k->len, k->str, v->integer);
		else if (v->type == REDIS_REPLY_STRING ||
		    v->type == REDIS_REPLY_STATUS)
			len = snprintf(pair, sizeof pair, "%s%.*s=%.*s",
			    n ? " " : "", (int)k->len, k->str, (int)v->len,
			    v->str);
		else
			continue;
		if (len < 0 || (size_t)len >= sizeof pair ||
		    n + (size_t)len >= size)
			break;
		memcpy(buf + n, pair, (size_t)len + 1);
		n += (size_t)len;
	}
	freeReplyObject(r);
	return 0;
}

/* Verify a token, then ask the daemon whether it is revoked. */
revokd_outcome_t
revokd_verify_check(revokd_t *h, const revokd_verifier_t *v,
    const char *token, size_t len)
{
	struct token_claims	 claims;
	revokd_outcome_t	 o;
	int			 r;

	if (h == NULL)
		return REVOKD_UNAVAILABLE;
	h->err = REVOKD_OK;
	h->errstr[0] = '\0';
	if (v == NULL || token == NULL)
		return REVOKD_MALFORMED;
	o = verify_token(v, token, len, &claims);
	if (o != REVOKD_VALID) {
		token_claims_free(&claims);
		return o;
	}
	if (claims.iss != NULL && strlen(claims.iss) > ISS_MAX) {
		token_claims_free(&claims);
		return REVOKD_MALFORMED;
	}
	r = revokd_check(h, claims.iss, claims.jti);
	token_claims_free(&claims);
	if (r == 1)
		return REVOKD_REVOKED;
	if (r == 0)
		return REVOKD_VALID;
	/* The token is genuine; whether it is revoked is unknown. */
	if (verify_fail_open(v))
		return REVOKD_VALID_UNCHECKED;
	switch (h->err) {
	case REVOKD_ERR_PROTOCOL:
	case REVOKD_ERR_SERVER:
		return REVOKD_PROTOCOL_ERROR;
	case REVOKD_ERR_UNAVAILABLE:	/* loading or stale: as if down */
	default:
		return REVOKD_UNAVAILABLE;
	}
}
