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

#include "client.h"
#include "command.h"
#include "revokd.h"
#include "token.h"
#include "verify.h"

#define JTI_MAX	COMMAND_MAX_JTI_DEFAULT	/* bytes the daemon takes in a jti,
					 * a sub or a sid */
#define ISS_MAX	COMMAND_MAX_ISS_DEFAULT	/* bytes in an issuer */
#define RULE_MAX 63			/* bytes of a rule name kept */
#define NUM_MAX	24			/* bytes of a formatted long long */
#define ARGS_MAX 12			/* most arguments of one request */

/* A connection handle. */
struct revokd {
	char		*path;		/* socket path */
	struct timeval	 timeout;	/* connect, send and receive */
	redisContext	*rc;		/* NULL until connected or when broken */
	revokd_err_t	 err;		/* kind of the last call's error */
	char		 errstr[256];	/* its message */
	char		 rule[RULE_MAX + 1]; /* last CHECK: rule that matched */
	char		 reason[COMMAND_MAX_REASON_DEFAULT + 1]; /* last CHECK */
	long long	 until;		/* last CHECK: the rule's time */
	int		 plain_check;	/* the daemon refused SUB, SID, IAT on
					 * CHECK (protocol 2): send plain
					 * checks until the next connection */
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
	/* The next daemon may be another version. */
	h->plain_check = 0;
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
		 * command is idempotent, so a repeat is harmless (a REVOKESUB
		 * without BEFORE takes the daemon's now again: the same
		 * intent, "log out as of now"). */
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

/* Check that an id (jti, sub or sid, named what) is 1 to JTI_MAX bytes;
 * -1 with the error set if not. */
static int
client_check_id(revokd_t *h, const char *what, const char *id)
{
	if (id == NULL || *id == '\0' || strlen(id) > JTI_MAX) {
		client_set_error(h, REVOKD_ERR_ARG,
		    "%s must be 1 to %d bytes", what, JTI_MAX);
		return -1;
	}
	return 0;
}

/* Check that an issuer is usable (NULL is); -1 with the error set if not. */
static int
client_check_iss(revokd_t *h, const char *iss)
{
	if (iss != NULL && strlen(iss) > ISS_MAX) {
		client_set_error(h, REVOKD_ERR_ARG,
		    "iss must be at most %d bytes", ISS_MAX);
		return -1;
	}
	return 0;
}

/* Check that iss and jti are usable; -1 with the error set if not. */
static int
client_check_ids(revokd_t *h, const char *iss, const char *jti)
{
	if (client_check_id(h, "jti", jti) == -1)
		return -1;
	return client_check_iss(h, iss);
}

/* Append one argument to a request. */
static void
client_push(const char **argv, size_t *lens, int *argc, const char *arg)
{
	argv[*argc] = arg;
	lens[(*argc)++] = strlen(arg);
}

/* Append "NAME value" to a request's arguments when value is neither
 * NULL nor empty (the absent and the empty issuer, reason, sub and sid
 * are the same to the daemon). */
static void
client_push_opt(const char **argv, size_t *lens, int *argc, const char *name,
    const char *value)
{
	if (value == NULL || *value == '\0')
		return;
	client_push(argv, lens, argc, name);
	client_push(argv, lens, argc, value);
}

/* Append "NAME number" to a request's arguments; buf (NUM_MAX bytes) holds
 * the digits until the request is sent. */
static void
client_push_num(const char **argv, size_t *lens, int *argc, const char *name,
    long long v, char *buf)
{
	snprintf(buf, NUM_MAX, "%lld", v);
	client_push_opt(argv, lens, argc, name, buf);
}

/* Return the reply to a write that stores a rule: 0 +OK, 1 +EXPIRED, 2
 * +PENDING; -1 with a protocol error for anything else. Frees r. */
static int
client_store_reply(revokd_t *h, redisReply *r, const char *cmd)
{
	static const char *const status[] = { "OK", "EXPIRED", "PENDING" };
	int	 i;

	for (i = 0; i < 3; i++) {
		if (r->type == REDIS_REPLY_STATUS &&
		    strcmp(r->str, status[i]) == 0) {
			freeReplyObject(r);
			return i;
		}
	}
	client_bad_reply(h, r, cmd);
	return -1;
}

/* Return the reply to a write that removes a rule: 1 (:1) removed, 0 (:0)
 * none, 2 (+PENDING, a status, not an integer) removed with replication
 * pending; -1 with a protocol error for anything else. Frees r. */
static int
client_remove_reply(revokd_t *h, redisReply *r, const char *cmd)
{
	int	 ret;

	if (r->type == REDIS_REPLY_INTEGER &&
	    (r->integer == 0 || r->integer == 1))
		ret = (int)r->integer;
	else if (r->type == REDIS_REPLY_STATUS &&
	    strcmp(r->str, "PENDING") == 0)
		ret = 2;
	else {
		client_bad_reply(h, r, cmd);
		return -1;
	}
	freeReplyObject(r);
	return ret;
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
	return revokd_check_claims(h, iss, jti, NULL, NULL, REVOKD_NO_IAT);
}

/* Return whether an error reply is a protocol 2 daemon refusing CHECK's
 * protocol 3 options: "ERR wrong number of arguments for 'check' command"
 * (it takes at most "CHECK jti ISS iss"), or "ERR unknown option 'SUB'
 * for 'CHECK'" (also SID, IAT) when the count fits. A daemon of protocol 3
 * gives neither to a request of revokd_check_claims(). */
static int
client_is_v2_check(const revokd_t *h)
{
	static const char *const opts[] = { "SUB", "SID", "IAT" };
	char	 want[64];
	size_t	 i;

	if (h->err != REVOKD_ERR_SERVER)
		return 0;
	if (strcmp(h->errstr,
	    "ERR wrong number of arguments for 'check' command") == 0)
		return 1;
	for (i = 0; i < sizeof opts / sizeof opts[0]; i++) {
		snprintf(want, sizeof want,
		    "ERR unknown option '%s' for 'CHECK'", opts[i]);
		if (strcmp(h->errstr, want) == 0)
			return 1;
	}
	return 0;
}

/* Ask whether a token with these claims is revoked. */
int
revokd_check_claims(revokd_t *h, const char *iss, const char *jti,
    const char *sub, const char *sid, long long iat)
{
	const char	*argv[ARGS_MAX];
	size_t		 lens[ARGS_MAX];
	char		 iatbuf[NUM_MAX];
	redisReply	*r, **e;
	int		 argc, claims;

	h->rule[0] = h->reason[0] = '\0';
	h->until = 0;
	if (client_check_ids(h, iss, jti) == -1 ||
	    (sub != NULL && *sub != '\0' &&
	    client_check_id(h, "sub", sub) == -1) ||
	    (sid != NULL && *sid != '\0' &&
	    client_check_id(h, "sid", sid) == -1))
		return -1;
	claims = (sub != NULL && *sub != '\0') ||
	    (sid != NULL && *sid != '\0') || iat != REVOKD_NO_IAT;
	for (;;) {
		argc = 0;
		client_push(argv, lens, &argc, "CHECK");
		client_push(argv, lens, &argc, jti);
		client_push_opt(argv, lens, &argc, "ISS", iss);
		if (claims && !h->plain_check) {
			client_push_opt(argv, lens, &argc, "SUB", sub);
			client_push_opt(argv, lens, &argc, "SID", sid);
			if (iat != REVOKD_NO_IAT)
				client_push_num(argv, lens, &argc, "IAT", iat,
				    iatbuf);
		}
		if ((r = client_command(h, argc, argv, lens)) != NULL)
			break;
		/* A protocol 2 daemon holds jti rules only: a plain CHECK is
		 * the whole answer there. Asked once per connection. */
		if (!claims || h->plain_check || !client_is_v2_check(h))
			return -1;
		h->plain_check = 1;
	}
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
	const char	*argv[ARGS_MAX];
	size_t		 lens[ARGS_MAX];
	char		 expbuf[NUM_MAX];
	redisReply	*r;
	int		 argc = 0;

	if (client_check_ids(h, iss, jti) == -1)
		return -1;
	if (exp <= 0) {
		client_set_error(h, REVOKD_ERR_ARG, "exp must be positive");
		return -1;
	}
	snprintf(expbuf, sizeof expbuf, "%lld", exp);
	client_push(argv, lens, &argc, "REVOKE");
	client_push(argv, lens, &argc, jti);
	client_push(argv, lens, &argc, expbuf);
	client_push_opt(argv, lens, &argc, "ISS", iss);
	client_push_opt(argv, lens, &argc, "REASON", reason);
	if ((r = client_command(h, argc, argv, lens)) == NULL)
		return -1;
	return client_store_reply(h, r, "REVOKE");
}

/* Lift a revocation. */
int
revokd_unrevoke(revokd_t *h, const char *iss, const char *jti)
{
	return revokd_unrevoke_reason(h, iss, jti, NULL);
}

/* Lift a revocation, with a reason for the audit trail. */
int
revokd_unrevoke_reason(revokd_t *h, const char *iss, const char *jti,
    const char *reason)
{
	const char	*argv[ARGS_MAX];
	size_t		 lens[ARGS_MAX];
	redisReply	*r;
	int		 argc = 0;

	if (client_check_ids(h, iss, jti) == -1)
		return -1;
	client_push(argv, lens, &argc, "UNREVOKE");
	client_push(argv, lens, &argc, jti);
	client_push_opt(argv, lens, &argc, "ISS", iss);
	client_push_opt(argv, lens, &argc, "REASON", reason);
	if ((r = client_command(h, argc, argv, lens)) == NULL)
		return -1;
	return client_remove_reply(h, r, "UNREVOKE");
}

/* Send a write about the id of the kind named what ("sub"; what NULL: no
 * id, REVOKEALL), with the time option "tname t" (not sent when tname is
 * NULL), and return its reply, or NULL with the error set. */
static redisReply *
client_rule_write(revokd_t *h, const char *cmd, const char *what,
    const char *id, const char *iss, const char *tname, long long t,
    const char *reason)
{
	const char	*argv[ARGS_MAX];
	size_t		 lens[ARGS_MAX];
	char		 tbuf[NUM_MAX];
	int		 argc = 0;

	if ((what != NULL && client_check_id(h, what, id) == -1) ||
	    client_check_iss(h, iss) == -1)
		return NULL;
	client_push(argv, lens, &argc, cmd);
	if (what != NULL)
		client_push(argv, lens, &argc, id);
	client_push_opt(argv, lens, &argc, "ISS", iss);
	if (tname != NULL)
		client_push_num(argv, lens, &argc, tname, t, tbuf);
	client_push_opt(argv, lens, &argc, "REASON", reason);
	return client_command(h, argc, argv, lens);
}

/* Log the subject out everywhere as of before (0: the daemon's now). */
int
revokd_revoke_sub(revokd_t *h, const char *iss, const char *sub,
    long long before, const char *reason)
{
	redisReply	*r;

	if (before < 0) {
		client_set_error(h, REVOKD_ERR_ARG,
		    "before must be positive, or 0 for now");
		return -1;
	}
	if ((r = client_rule_write(h, "REVOKESUB", "sub", sub, iss,
	    before > 0 ? "BEFORE" : NULL, before, reason)) == NULL)
		return -1;
	return client_store_reply(h, r, "REVOKESUB");
}

/* Ban the subject until until (0: no end). */
int
revokd_ban(revokd_t *h, const char *iss, const char *sub, long long until,
    const char *reason)
{
	redisReply	*r;

	if (until < 0) {
		client_set_error(h, REVOKD_ERR_ARG,
		    "until must be positive, or 0 for no end");
		return -1;
	}
	if ((r = client_rule_write(h, "BAN", "sub", sub, iss,
	    until > 0 ? "UNTIL" : NULL, until, reason)) == NULL)
		return -1;
	return client_store_reply(h, r, "BAN");
}

/* Lift a ban. */
int
revokd_unban(revokd_t *h, const char *iss, const char *sub,
    const char *reason)
{
	redisReply	*r;

	if ((r = client_rule_write(h, "UNBAN", "sub", sub, iss, NULL, 0,
	    reason)) == NULL)
		return -1;
	return client_remove_reply(h, r, "UNBAN");
}

/* Revoke the session sid until exp. */
int
revokd_revoke_session(revokd_t *h, const char *iss, const char *sid,
    long long exp, const char *reason)
{
	const char	*argv[ARGS_MAX];
	size_t		 lens[ARGS_MAX];
	char		 expbuf[NUM_MAX];
	redisReply	*r;
	int		 argc = 0;

	if (client_check_id(h, "sid", sid) == -1 ||
	    client_check_iss(h, iss) == -1)
		return -1;
	if (exp <= 0) {
		client_set_error(h, REVOKD_ERR_ARG, "exp must be positive");
		return -1;
	}
	/* exp is positional, as REVOKE's. */
	snprintf(expbuf, sizeof expbuf, "%lld", exp);
	client_push(argv, lens, &argc, "REVOKESID");
	client_push(argv, lens, &argc, sid);
	client_push(argv, lens, &argc, expbuf);
	client_push_opt(argv, lens, &argc, "ISS", iss);
	client_push_opt(argv, lens, &argc, "REASON", reason);
	if ((r = client_command(h, argc, argv, lens)) == NULL)
		return -1;
	return client_store_reply(h, r, "REVOKESID");
}

/* Refuse every token of the issuer issued at or before before. */
int
revokd_revoke_all(revokd_t *h, const char *iss, long long before,
    const char *reason)
{
	redisReply	*r;

	/* No "now" default: revoking a whole issuer is never implicit. */
	if (before <= 0) {
		client_set_error(h, REVOKD_ERR_ARG, "before must be positive");
		return -1;
	}
	if ((r = client_rule_write(h, "REVOKEALL", NULL, NULL, iss, "BEFORE",
	    before, reason)) == NULL)
		return -1;
	return client_store_reply(h, r, "REVOKEALL");
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

/* Return whether a reply element is a string (bulk or status). */
static int
client_is_str(const redisReply *e)
{
	return e->type == REDIS_REPLY_STRING || e->type == REDIS_REPLY_STATUS;
}

/* Send one LIST step and call cb for each rule it returns. */
int
client_list(revokd_t *h, const char *kind, const char *match,
    const char *cursor, int count, char next[CLIENT_CURSOR_MAX],
    client_rule_cb cb, void *arg)
{
	const char		*argv[ARGS_MAX];
	size_t			 lens[ARGS_MAX], i;
	char			 countbuf[NUM_MAX];
	redisReply		*r, *c, *ents, **f;
	struct client_rule	 rule;
	int			 argc = 0;

	if (cursor == NULL || *cursor == '\0' ||
	    strlen(cursor) >= CLIENT_CURSOR_MAX) {
		client_set_error(h, REVOKD_ERR_ARG, "bad cursor");
		return -1;
	}
	client_push(argv, lens, &argc, "LIST");
	client_push_opt(argv, lens, &argc, "TYPE", kind);
	client_push_opt(argv, lens, &argc, "MATCH", match);
	client_push_opt(argv, lens, &argc, "CURSOR", cursor);
	if (count > 0)
		client_push_num(argv, lens, &argc, "COUNT", count, countbuf);
	if ((r = client_command(h, argc, argv, lens)) == NULL)
		return -1;
	/* Check the whole shape before the first callback. */
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    (c = r->element[0])->type != REDIS_REPLY_STRING ||
	    c->len == 0 || c->len >= CLIENT_CURSOR_MAX ||
	    strlen(c->str) != c->len ||
	    (ents = r->element[1])->type != REDIS_REPLY_ARRAY)
		goto bad;
	for (i = 0; i < ents->elements; i++) {
		/* Five elements, or more from a later protocol. */
		f = ents->element[i]->element;
		if (ents->element[i]->type != REDIS_REPLY_ARRAY ||
		    ents->element[i]->elements < 5 ||
		    f[0]->type != REDIS_REPLY_STRING ||
		    f[1]->type != REDIS_REPLY_STRING ||
		    f[2]->type != REDIS_REPLY_STRING ||
		    f[3]->type != REDIS_REPLY_INTEGER ||
		    f[4]->type != REDIS_REPLY_STRING)
			goto bad;
	}
	for (i = 0; i < ents->elements; i++) {
		f = ents->element[i]->element;
		rule.kind = f[0]->str;
		rule.kindlen = f[0]->len;
		rule.iss = f[1]->str;
		rule.isslen = f[1]->len;
		rule.id = f[2]->str;
		rule.idlen = f[2]->len;
		rule.time = f[3]->integer;
		rule.reason = f[4]->str;
		rule.reasonlen = f[4]->len;
		cb(&rule, arg);
	}
	memcpy(next, c->str, c->len + 1);
	freeReplyObject(r);
	return 0;
bad:
	client_bad_reply(h, r, "LIST");
	return -1;
}

/* Turn a flat array of field/value pairs into fields and call cb with
 * them; -1 if a name is not a string or the count is odd. */
static int
client_record(const redisReply *r, client_record_cb cb, void *arg)
{
	struct client_field	*fields;
	const redisReply	*k, *v;
	size_t			 i, n = 0;

	if (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0)
		return -1;
	for (i = 0; i < r->elements; i += 2)
		if (!client_is_str(r->element[i]))
			return -1;
	if ((fields = calloc(r->elements / 2 + 1, sizeof *fields)) == NULL)
		return -2;
	for (i = 0; i < r->elements; i += 2) {
		k = r->element[i];
		v = r->element[i + 1];
		/* Fields must be accepted whatever they are: an unknown type
		 * is left out rather than refused. */
		if (v->type != REDIS_REPLY_INTEGER && !client_is_str(v))
			continue;
		fields[n].name = k->str;
		fields[n].namelen = k->len;
		fields[n].is_int = v->type == REDIS_REPLY_INTEGER;
		fields[n].integer = fields[n].is_int ? v->integer : 0;
		fields[n].str = fields[n].is_int ? NULL : v->str;
		fields[n].len = fields[n].is_int ? 0 : v->len;
		n++;
	}
	cb(fields, n, arg);
	free(fields);
	return 0;
}

/* Send AUDIT and call cb for each record. */
int
client_audit(revokd_t *h, long long count, long long since,
    client_record_cb cb, void *arg)
{
	const char	*argv[ARGS_MAX];
	size_t		 lens[ARGS_MAX], i;
	char		 countbuf[NUM_MAX], sincebuf[NUM_MAX];
	redisReply	*r;
	int		 argc = 0, rc;

	client_push(argv, lens, &argc, "AUDIT");
	if (count > 0)
		client_push_num(argv, lens, &argc, "COUNT", count, countbuf);
	if (since > 0)
		client_push_num(argv, lens, &argc, "SINCE", since, sincebuf);
	if ((r = client_command(h, argc, argv, lens)) == NULL)
		return -1;
	if (r->type != REDIS_REPLY_ARRAY)
		goto bad;
	for (i = 0; i < r->elements; i++) {
		if (r->element[i]->type != REDIS_REPLY_ARRAY ||
		    r->element[i]->elements % 2 != 0)
			goto bad;
	}
	for (i = 0; i < r->elements; i++) {
		if ((rc = client_record(r->element[i], cb, arg)) == -2) {
			freeReplyObject(r);
			client_set_error(h, REVOKD_ERR_OOM, "out of memory");
			return -1;
		}
		if (rc == -1)
			goto bad;
	}
	freeReplyObject(r);
	return 0;
bad:
	client_bad_reply(h, r, "AUDIT");
	return -1;
}

/* Send STATS and call cb once with its fields. */
int
client_stats(revokd_t *h, client_record_cb cb, void *arg)
{
	const char	*argv[] = { "STATS" };
	size_t		 lens[] = { 5 };
	redisReply	*r;
	int		 rc;

	if ((r = client_command(h, 1, argv, lens)) == NULL)
		return -1;
	if ((rc = client_record(r, cb, arg)) == -1) {
		client_bad_reply(h, r, "STATS");
		return -1;
	}
	freeReplyObject(r);
	if (rc == -2) {
		client_set_error(h, REVOKD_ERR_OOM, "out of memory");
		return -1;
	}
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
	/* No rule could be made for a longer iss, sub or sid: the token
	 * could not be revoked, so it is not accepted. */
	if ((claims.iss != NULL && strlen(claims.iss) > ISS_MAX) ||
	    (claims.sub != NULL && strlen(claims.sub) > JTI_MAX) ||
	    (claims.sid != NULL && strlen(claims.sid) > JTI_MAX)) {
		token_claims_free(&claims);
		return REVOKD_MALFORMED;
	}
	r = revokd_check_claims(h, claims.iss, claims.jti, claims.sub,
	    claims.sid, claims.has_iat ? claims.iat : REVOKD_NO_IAT);
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
