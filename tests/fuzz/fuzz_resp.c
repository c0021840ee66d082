/*
 * libFuzzer target for the RESP request parser, the command decoder and the
 * reply encoder.
 *
 * Input: byte 0 picks the fragment sizes, byte 1 the limits, the rest is the
 * byte stream a client would send.  The stream is fed in fragments,
 * alternating resp_parser_feed() and resp_parser_space()/commit(), draining
 * resp_parser_get() after each.  Checked: every view lies inside the bytes
 * its request consumed and equals them, argc is in range, the byte
 * accounting adds up, errors are sticky, and the same stream fed whole gives
 * the same requests and the same error (the parser does not depend on how
 * the stream was split).  Each request is also decoded and answered, and the
 * encoded replies are checked to be well-formed RESP.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "reply.h"
#include "resp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with a message when an invariant does not hold. */
#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: invariant failed: %s\n",	\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

/* What a whole run over the stream produced. */
struct fuzz_run {
	uint64_t	 hash;		/* FNV-1a over every request */
	size_t		 nreq;		/* requests returned */
	enum resp_err	 err;		/* final error */
	char		 errstr[128];	/* its message */
	size_t		 pending;	/* bytes left unparsed */
};

/* Mix n bytes into an FNV-1a hash. */
static uint64_t
fuzz_fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char	*b = p;
	size_t			 i;

	for (i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* Return the offset of the first argument inside a frame, skipping the
 * empty requests (*0, blank inline lines) the parser drops silently. */
static size_t
fuzz_first_arg(const char *f, size_t n, int inl)
{
	size_t		 s = 0, e, i, lf;
	const char	*nl;

	for (;;) {
		FUZZ_CHECK(s < n);
		if (f[s] == '*') {
			if (n - s >= 4 && memcmp(f + s, "*0\r\n", 4) == 0) {
				s += 4;
				continue;
			}
			break;
		}
		nl = memchr(f + s, '\n', n - s);
		FUZZ_CHECK(nl != NULL);
		e = (size_t)(nl - f);
		if (e > s && f[e - 1] == '\r')
			e--;
		for (i = s; i < e && (f[i] == ' ' || f[i] == '\t'); i++)
			;
		if (i < e)
			break;
		s = (size_t)(nl - f) + 1;
	}
	if (inl) {
		FUZZ_CHECK(f[s] != '*');
		while (f[s] == ' ' || f[s] == '\t')
			s++;
		return s;
	}
	/* "*<n>\r\n$<len>\r\n": the payload follows the second LF. */
	FUZZ_CHECK(f[s] == '*');
	for (lf = 0; lf < 2; s++) {
		FUZZ_CHECK(s < n);
		if (f[s] == '\n')
			lf++;
	}
	return s;
}

/* Check the replies encoded since the last check (the first *checked
 * pending bytes were checked already) are well-formed and end exactly. */
static void
fuzz_check_replies(const struct reply_buf *rb, size_t *checked)
{
	const char	*p, *end, *nl;
	long long	 n;
	char		*ep;

	if (reply_pending(rb) == *checked)	/* data may be NULL */
		return;
	p = rb->data + rb->off + *checked;
	end = rb->data + rb->len;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		FUZZ_CHECK(nl != NULL && nl > p + 1 && nl[-1] == '\r');
		FUZZ_CHECK(memchr(p, '\r', (size_t)(nl - p - 1)) == NULL);
		switch (*p) {
		case '+':
		case '-':
		case ':':
			break;
		case '*':
			n = strtoll(p + 1, &ep, 10);
			FUZZ_CHECK(ep == nl - 1 && n >= 0);
			break;
		case '$':
			n = strtoll(p + 1, &ep, 10);
			FUZZ_CHECK(ep == nl - 1 && n >= -1);
			if (n >= 0) {
				FUZZ_CHECK(end - (nl + 1) >= n + 2);
				nl += n + 2;
				FUZZ_CHECK(nl[0] == '\n' && nl[-1] == '\r');
			}
			break;
		default:
			FUZZ_CHECK(!"bad reply type");
		}
		p = nl + 1;
	}
	FUZZ_CHECK(p == end);
	*checked = reply_pending(rb);
}

/* Decode a request and answer it the way the daemon would. */
static void
fuzz_answer(const struct resp_request *req, struct reply_buf *rb)
{
	struct command_limits	 lim;
	struct command		 cmd;
	char			 err[64];
	enum command_status	 st;
	size_t			 i;

	command_limits_default(&lim);
	memset(err, 'Z', sizeof err);
	st = command_decode(req, &lim, &cmd, err, sizeof err);
	FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL);
	if (st != COMMAND_OK) {
		FUZZ_CHECK(strncmp(err, "ERR ", 4) == 0);
		FUZZ_CHECK(strpbrk(err, "\r\n") == NULL);
		reply_error(rb, err);
		return;
	}
	FUZZ_CHECK(cmd.def != NULL && cmd.def->id < CMD_COUNT);
	FUZZ_CHECK(req->argc >= (size_t)cmd.def->min_argc &&
	    req->argc <= (size_t)cmd.def->max_argc);
	switch (cmd.def->id) {
	case CMD_PING:
		if (cmd.has_msg)
			reply_bulk(rb, cmd.msg.ptr, cmd.msg.len);
		else
			reply_simple(rb, "PONG");
		break;
	case CMD_CHECK:
		FUZZ_CHECK(cmd.jti.len > 0 && cmd.jti.len <= lim.max_jti);
		FUZZ_CHECK(cmd.iss.len <= lim.max_iss);
		reply_array(rb, 4);
		reply_bulkstr(rb, "revoked");
		reply_bulk(rb, cmd.jti.ptr, cmd.jti.len);
		reply_int(rb, (long long)cmd.jti.len * -1234567);
		reply_bulk(rb, cmd.iss.ptr, cmd.iss.len);
		break;
	case CMD_REVOKE:
		FUZZ_CHECK(cmd.exp > 0);
		FUZZ_CHECK(cmd.reason.len <= lim.max_reason);
		reply_int(rb, cmd.exp);
		reply_errorf(rb, "ERR exp is more than %lld seconds away "
		    "(max-ttl) %.*s", (long long)cmd.exp,
		    (int)cmd.reason.len, cmd.reason.ptr);
		break;
	case CMD_UNREVOKE:
		reply_int(rb, 0);
		break;
	case CMD_STATS:
		reply_array(rb, 2);
		reply_bulkstr(rb, "entries");
		reply_int(rb, INT64_MIN);
		break;
	default:
		reply_simple(rb, "OK");
		reply_null(rb);
		break;
	}
	for (i = 0; i < req->argc; i++)
		reply_error(rb, req->argv[i].len > 0 ? "ERR x\r\ny" : "ERR");
}

/* Take every request out of the parser, checking each against the stream
 * (stream[0..fed) was given so far); return 1 once in error. */
static int
fuzz_drain(struct resp_parser *p, const char *stream, size_t fed,
    size_t max_args, struct fuzz_run *r, struct reply_buf *rb)
{
	struct resp_request	 req;
	enum resp_status	 st;
	size_t			 before, after, fs, flen, off0, off, i;
	char			 errcopy[128];

	for (;;) {
		before = resp_parser_pending(p);
		FUZZ_CHECK(before <= fed);
		st = resp_parser_get(p, &req);
		if (st == RESP_ERROR) {
			r->err = resp_parser_error(p);
			FUZZ_CHECK(r->err != RESP_ERR_NONE);
			FUZZ_CHECK(strlen(resp_parser_errstr(p)) > 0 &&
			    strlen(resp_parser_errstr(p)) < sizeof errcopy);
			FUZZ_CHECK(strpbrk(resp_parser_errstr(p), "\r\n") ==
			    NULL);
			snprintf(errcopy, sizeof errcopy, "%s",
			    resp_parser_errstr(p));
			snprintf(r->errstr, sizeof r->errstr, "%s", errcopy);
			/* Sticky. */
			FUZZ_CHECK(resp_parser_get(p, &req) == RESP_ERROR);
			FUZZ_CHECK(resp_parser_feed(p, "PING\r\n", 6) == -1);
			FUZZ_CHECK(resp_parser_error(p) == r->err);
			FUZZ_CHECK(strcmp(resp_parser_errstr(p),
			    errcopy) == 0);
			if (rb != NULL)
				reply_errorf(rb, "ERR Protocol error: %s",
				    errcopy);
			return 1;
		}
		after = resp_parser_pending(p);
		if (st == RESP_INCOMPLETE) {
			/* Only empty requests may have been dropped. */
			FUZZ_CHECK(after <= before);
			return 0;
		}
		FUZZ_CHECK(st == RESP_OK);
		FUZZ_CHECK(after < before);
		FUZZ_CHECK(req.argc >= 1 && req.argc <= max_args);
		FUZZ_CHECK(req.inl == 0 || req.inl == 1);
		/* The request consumed stream[fs, fs + flen). */
		fs = fed - before;
		flen = before - after;
		off0 = fuzz_first_arg(stream + fs, flen, req.inl);
		r->hash = fuzz_fnv(r->hash, &req.inl, sizeof req.inl);
		r->hash = fuzz_fnv(r->hash, &req.argc, sizeof req.argc);
		for (i = 0; i < req.argc; i++) {
			FUZZ_CHECK(req.argv[i].ptr != NULL);
			FUZZ_CHECK(req.argv[i].ptr >= req.argv[0].ptr);
			if (i > 0)
				FUZZ_CHECK(req.argv[i].ptr >=
				    req.argv[i - 1].ptr + req.argv[i - 1].len);
			off = off0 + (size_t)(req.argv[i].ptr -
			    req.argv[0].ptr);
			FUZZ_CHECK(off <= flen &&
			    req.argv[i].len <= flen - off);
			FUZZ_CHECK(memcmp(req.argv[i].ptr, stream + fs + off,
			    req.argv[i].len) == 0);
			if (req.inl)
				FUZZ_CHECK(req.argv[i].len > 0 &&
				    memchr(req.argv[i].ptr, ' ',
				    req.argv[i].len) == NULL &&
				    memchr(req.argv[i].ptr, '\n',
				    req.argv[i].len) == NULL);
			r->hash = fuzz_fnv(r->hash, &req.argv[i].len,
			    sizeof req.argv[i].len);
			r->hash = fuzz_fnv(r->hash, req.argv[i].ptr,
			    req.argv[i].len);
		}
		r->nreq++;
		if (rb != NULL)
			fuzz_answer(&req, rb);
	}
}

/* Feed the stream in fragments of 1..maxchunk bytes (0: all at once) and
 * drain after each. */
static void
fuzz_parse(const char *s, size_t n, size_t max_request, size_t max_args,
    uint32_t seed, size_t maxchunk, struct fuzz_run *r, struct reply_buf *rb)
{
	struct resp_parser	*p;
	size_t			 at = 0, chunk, avail, eff_args;
	char			*space;
	int			 failed = 0, k = 0;
	size_t			 checked = 0, sent;

	memset(r, 0, sizeof *r);
	r->hash = 0xcbf29ce484222325ULL;
	eff_args = max_args == 0 ? RESP_MAX_ARGS_DEFAULT :
	    max_args > RESP_ARGV_CAP ? RESP_ARGV_CAP : max_args;
	if ((p = resp_parser_new(max_request, max_args)) == NULL)
		abort();
	while (!failed && at < n) {
		seed = seed * 1103515245u + 12345u;
		chunk = maxchunk == 0 ? n : 1 + (seed >> 16) % maxchunk;
		if (chunk > n - at)
			chunk = n - at;
		if (k++ % 2 == 0)
			FUZZ_CHECK(resp_parser_feed(p, s + at, chunk) == 0);
		else {
			space = resp_parser_space(p, chunk, &avail);
			FUZZ_CHECK(space != NULL && avail >= chunk);
			memcpy(space, s + at, chunk);
			resp_parser_commit(p, chunk);
		}
		at += chunk;
		failed = fuzz_drain(p, s, at, eff_args, r, rb);
		if (rb != NULL) {
			fuzz_check_replies(rb, &checked);
			/* Send some of it, as a slow socket would. */
			sent = reply_pending(rb) / 2 + 1;
			if (sent > checked)
				sent = checked;
			reply_consume(rb, sent);
			checked -= sent;
		}
	}
	if (!failed) {
		failed = fuzz_drain(p, s, n, eff_args, r, rb);
		r->pending = resp_parser_pending(p);
	}
	if (rb != NULL)
		fuzz_check_replies(rb, &checked);
	resp_parser_free(p);
}

/* Run one input. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_run		 a, b;
	struct reply_buf	 rb;
	size_t			 max_request = 0, max_args = 0, maxchunk;
	uint32_t		 seed = 1;
	const char		*s = (const char *)data;

	if (size >= 2) {
		seed = (uint32_t)data[0] * 2654435761u;
		/* Small chunks most of the time, up to the whole input. */
		maxchunk = (data[0] & 0x80) ? size :
		    1 + (size_t)(data[0] & 0x0f);
		if (data[1] & 0x01) {
			max_request = 8 + (size_t)(data[1] >> 1) * 3;
			max_args = 1 + (data[1] >> 2) % 40;
		}
		s += 2;
		size -= 2;
	} else
		maxchunk = 1;

	reply_init(&rb);
	fuzz_parse(s, size, max_request, max_args, seed, maxchunk, &a, &rb);
	FUZZ_CHECK(!rb.oom);
	reply_free(&rb);

	/* The same stream fed whole gives the same result. */
	fuzz_parse(s, size, max_request, max_args, 0, 0, &b, NULL);
	FUZZ_CHECK(a.nreq == b.nreq);
	FUZZ_CHECK(a.hash == b.hash);
	FUZZ_CHECK(a.err == b.err);
	FUZZ_CHECK(strcmp(a.errstr, b.errstr) == 0);
	FUZZ_CHECK(a.pending == b.pending);
	return 0;
}
