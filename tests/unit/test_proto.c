/* Unit tests of proto/: the request parser, the encoder, the commands. */

#include <check.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "reply.h"
#include "resp.h"

/* A string literal and its length, embedded NULs included. */
#define S(lit) (lit), (sizeof(lit) - 1)

/* A growable byte string recording what a parser produced. */
struct sbuf {
	char	*p;	/* heap bytes */
	size_t	 len;	/* bytes used */
	size_t	 cap;	/* bytes allocated */
};

/* What one run of the parser over an input produced. */
struct outcome {
	struct sbuf	 log;	/* every request and the final state */
	int		 nreq;	/* requests returned */
	enum resp_err	 err;	/* final error, RESP_ERR_NONE if none */
	size_t		 pending; /* bytes left when no error */
};

/* Append n bytes to a string. */
static void
sb_add(struct sbuf *sb, const void *p, size_t n)
{
	if (sb->cap - sb->len < n) {
		while (sb->cap - sb->len < n)
			sb->cap = sb->cap ? sb->cap * 2 : 256;
		sb->p = realloc(sb->p, sb->cap);
		ck_assert_ptr_nonnull(sb->p);
	}
	memcpy(sb->p + sb->len, p, n);
	sb->len += n;
}

/* Append formatted text to a string. */
static void __attribute__((format(printf, 2, 3)))
sb_addf(struct sbuf *sb, const char *fmt, ...)
{
	char	 tmp[256];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	ck_assert(n >= 0 && (size_t)n < sizeof tmp);
	sb_add(sb, tmp, (size_t)n);
}

/* Take every whole request out of the parser into the outcome; return 1
 * once the parser is in error. */
static int
drain(struct resp_parser *p, struct outcome *o, size_t max_args)
{
	struct resp_request	 req;
	enum resp_status	 st;
	size_t			 i;

	for (;;) {
		memset(&req, 0xa5, sizeof req);
		st = resp_parser_get(p, &req);
		if (st == RESP_INCOMPLETE)
			return 0;
		if (st == RESP_ERROR) {
			o->err = resp_parser_error(p);
			ck_assert_int_ne(o->err, RESP_ERR_NONE);
			ck_assert_str_ne(resp_parser_errstr(p), "");
			sb_addf(&o->log, "E%d:%s", (int)o->err,
			    resp_parser_errstr(p));
			/* Sticky: the parser stays in error. */
			ck_assert_int_eq(resp_parser_get(p, &req), RESP_ERROR);
			ck_assert_int_eq(resp_parser_feed(p, "*1\r\n", 4), -1);
			ck_assert_int_eq(resp_parser_get(p, &req), RESP_ERROR);
			ck_assert_int_eq(resp_parser_error(p), o->err);
			return 1;
		}
		ck_assert_int_eq(st, RESP_OK);
		ck_assert_uint_ge(req.argc, 1);
		ck_assert_uint_le(req.argc, max_args);
		sb_addf(&o->log, "R%d/%zu", req.inl, req.argc);
		for (i = 0; i < req.argc; i++) {
			ck_assert_ptr_nonnull(req.argv[i].ptr);
			sb_addf(&o->log, "[%zu:", req.argv[i].len);
			sb_add(&o->log, req.argv[i].ptr, req.argv[i].len);
			sb_add(&o->log, "]", 1);
		}
		o->nreq++;
	}
}

/* Feed in[0..len) in chunks (first bytes, then step bytes each), by
 * feed() or by space()/commit(), draining after each chunk. */
static void
run(const char *in, size_t len, size_t first, size_t step, int use_space,
    size_t max_request, size_t max_args, struct outcome *o)
{
	struct resp_parser	*p;
	size_t			 at = 0, n, avail;
	char			*space;
	int			 failed = 0, chunks = 0;

	memset(o, 0, sizeof *o);
	p = resp_parser_new(max_request, max_args);
	ck_assert_ptr_nonnull(p);
	if (max_args == 0)
		max_args = RESP_MAX_ARGS_DEFAULT;
	while (!failed && (at < len || chunks == 0)) {
		n = chunks++ == 0 ? first : step;
		if (n > len - at)
			n = len - at;
		if (use_space) {
			space = resp_parser_space(p, n, &avail);
			ck_assert_ptr_nonnull(space);
			ck_assert_uint_ge(avail, n);
			memcpy(space, in + at, n);
			resp_parser_commit(p, n);
		} else
			ck_assert_int_eq(resp_parser_feed(p, in + at, n), 0);
		at += n;
		failed = drain(p, o, max_args);
	}
	if (!failed) {
		o->pending = resp_parser_pending(p);
		sb_addf(&o->log, "P%zu", o->pending);
	}
	resp_parser_free(p);
}

/* Free an outcome's log. */
static void
outcome_free(struct outcome *o)
{
	free(o->log.p);
	o->log.p = NULL;
}

/* Check two outcomes are identical. */
static void
outcome_same(const struct outcome *a, const struct outcome *b,
    const char *what, size_t at)
{
	ck_assert_msg(a->log.len == b->log.len &&
	    memcmp(a->log.p, b->log.p, a->log.len) == 0,
	    "%s at %zu: outcome differs from a whole feed", what, at);
	ck_assert_int_eq(a->nreq, b->nreq);
	ck_assert_int_eq(a->err, b->err);
}

/* Run an input whole, split in two at every byte (by feed() and by
 * space()/commit()) and one byte at a time; all must agree. Returns the
 * whole-feed outcome (caller frees). */
static void
run_all(const char *in, size_t len, size_t max_request, size_t max_args,
    struct outcome *whole)
{
	struct outcome	 o;
	size_t		 k, stride;

	run(in, len, len, len, 0, max_request, max_args, whole);
	/* Big inputs: sample the split points to keep the test quick. */
	stride = len > 4096 ? 509 : 1;
	for (k = 0; k <= len; k += stride) {
		run(in, len, k, len, 0, max_request, max_args, &o);
		outcome_same(&o, whole, "split feed", k);
		outcome_free(&o);
		run(in, len, k, len, 1, max_request, max_args, &o);
		outcome_same(&o, whole, "split space", k);
		outcome_free(&o);
	}
	run(in, len, 1, 1, 0, max_request, max_args, &o);
	outcome_same(&o, whole, "bytewise feed", 0);
	outcome_free(&o);
	run(in, len, 1, 1, 1, max_request, max_args, &o);
	outcome_same(&o, whole, "bytewise space", 0);
	outcome_free(&o);
	run(in, len, 3, 7, 0, max_request, max_args, &o);
	outcome_same(&o, whole, "3/7 feed", 0);
	outcome_free(&o);
}

/* One parser test input with its expected result. */
struct pcase {
	const char	*in;	/* bytes */
	size_t		 len;	/* length */
	int		 nreq;	/* requests expected */
	enum resp_err	 err;	/* error expected at the end */
	const char	*errstr; /* its message, NULL to skip the check */
};

static const struct pcase pcases[] = {
	/* Every command, whole. */
	{ S("*1\r\n$4\r\nPING\r\n"), 1, RESP_ERR_NONE, NULL },
	{ S("*2\r\n$4\r\nPING\r\n$5\r\nhello\r\n"), 1, RESP_ERR_NONE, NULL },
	{ S("*2\r\n$5\r\nCHECK\r\n$3\r\nabc\r\n"), 1, RESP_ERR_NONE, NULL },
	{ S("*4\r\n$5\r\nCHECK\r\n$3\r\nabc\r\n$3\r\nISS\r\n$1\r\ni\r\n"),
	    1, RESP_ERR_NONE, NULL },
	{ S("*7\r\n$6\r\nREVOKE\r\n$3\r\nabc\r\n$10\r\n1700000000\r\n"
	    "$3\r\nISS\r\n$1\r\ni\r\n$6\r\nREASON\r\n$4\r\nlost\r\n"),
	    1, RESP_ERR_NONE, NULL },
	{ S("*2\r\n$8\r\nUNREVOKE\r\n$3\r\nabc\r\n"), 1, RESP_ERR_NONE, NULL },
	{ S("*1\r\n$5\r\nSTATS\r\n"), 1, RESP_ERR_NONE, NULL },
	{ S("*1\r\n$4\r\nQUIT\r\n"), 1, RESP_ERR_NONE, NULL },
	/* Binary-safe payloads, empty bulk. */
	{ S("*2\r\n$4\r\nPING\r\n$6\r\na\0\r\n\nb\r\n"), 1, RESP_ERR_NONE,
	    NULL },
	{ S("*2\r\n$4\r\nPING\r\n$0\r\n\r\n"), 1, RESP_ERR_NONE, NULL },
	/* Pipelined. */
	{ S("*1\r\n$4\r\nPING\r\n*2\r\n$5\r\nCHECK\r\n$1\r\nx\r\n"
	    "PING\r\n*1\r\n$5\r\nSTATS\r\n"), 4, RESP_ERR_NONE, NULL },
	/* Empty arrays are skipped. */
	{ S("*0\r\n*0\r\n*1\r\n$4\r\nPING\r\n*0\r\n"), 1, RESP_ERR_NONE,
	    NULL },
	/* Inline. */
	{ S("PING\r\n"), 1, RESP_ERR_NONE, NULL },
	{ S("PING\n"), 1, RESP_ERR_NONE, NULL },
	{ S("  CHECK \t abc  ISS\tx \r\n"), 1, RESP_ERR_NONE, NULL },
	{ S("\r\n\n  \t\r\nPING\r\n\r\n"), 1, RESP_ERR_NONE, NULL },
	{ S("PING\r\nPING a\nQUIT\r\n"), 3, RESP_ERR_NONE, NULL },
	/* Incomplete. */
	{ S("*2\r\n$4\r\nPING\r\n"), 0, RESP_ERR_NONE, NULL },
	{ S("*1\r\n$4\r\nPI"), 0, RESP_ERR_NONE, NULL },
	{ S("PING"), 0, RESP_ERR_NONE, NULL },
	{ S("*1\r"), 0, RESP_ERR_NONE, NULL },
	{ S(""), 0, RESP_ERR_NONE, NULL },
	/* Bad lengths. */
	{ S("*-1\r\n"), 0, RESP_ERR_BAD_LENGTH, "invalid multibulk length" },
	{ S("*\r\n"), 0, RESP_ERR_BAD_LENGTH, "invalid multibulk length" },
	{ S("*+1\r\n$4\r\nPING\r\n"), 0, RESP_ERR_BAD_LENGTH, NULL },
	{ S("* 1\r\n$4\r\nPING\r\n"), 0, RESP_ERR_BAD_LENGTH, NULL },
	{ S("*1 \r\n$4\r\nPING\r\n"), 0, RESP_ERR_BAD_LENGTH, NULL },
	{ S("*x\r\n"), 0, RESP_ERR_BAD_LENGTH, NULL },
	{ S("*01\r\n$4\r\nPING\r\n"), 0, RESP_ERR_BAD_LENGTH, NULL },
	{ S("*99999999999999999999\r\n"), 0, RESP_ERR_BAD_LENGTH, NULL },
	{ S("*99999999999999999999999999999"), 0, RESP_ERR_BAD_LENGTH,
	    NULL },
	{ S("*1\r\n$-1\r\n"), 0, RESP_ERR_BAD_LENGTH, "invalid bulk length" },
	{ S("*1\r\n$\r\n\r\n"), 0, RESP_ERR_BAD_LENGTH, NULL },
	{ S("*1\r\n$abc\r\n"), 0, RESP_ERR_BAD_LENGTH, NULL },
	{ S("*1\r\n$4a\r\nPING\r\n"), 0, RESP_ERR_BAD_LENGTH, NULL },
	{ S("*1\r\n$+4\r\nPING\r\n"), 0, RESP_ERR_BAD_LENGTH, NULL },
	{ S("*1\r\n$ 4\r\nPING\r\n"), 0, RESP_ERR_BAD_LENGTH, NULL },
	{ S("*1\r\n$04\r\nPING\r\n"), 0, RESP_ERR_BAD_LENGTH, NULL },
	{ S("*1\r\n$9223372036854775808\r\n"), 0, RESP_ERR_BAD_LENGTH, NULL },
	{ S("*1\r\n$99999999999999999999\r\n"), 0, RESP_ERR_BAD_LENGTH,
	    NULL },
	/* Over limits, known from the header alone. */
	{ S("*1\r\n$9223372036854775807\r\n"), 0, RESP_ERR_TOO_BIG,
	    "request too big (max 65536 bytes)" },
	{ S("*1\r\n$65536\r\n"), 0, RESP_ERR_TOO_BIG, NULL },
	{ S("*33\r\n"), 0, RESP_ERR_TOO_MANY_ARGS,
	    "too many arguments (max 32)" },
	{ S("*1000\r\n$4\r\nPING\r\n"), 0, RESP_ERR_TOO_MANY_ARGS, NULL },
	/* Wrong element types. */
	{ S("*1\r\n+PING\r\n"), 0, RESP_ERR_BAD_TYPE,
	    "expected '$', got '+'" },
	{ S("*2\r\n$4\r\nPING\r\n:1\r\n"), 0, RESP_ERR_BAD_TYPE,
	    "expected '$', got ':'" },
	{ S("*1\r\n*1\r\n$4\r\nPING\r\n"), 0, RESP_ERR_BAD_TYPE, NULL },
	{ S("*1\r\n\r\n"), 0, RESP_ERR_BAD_TYPE, NULL },
	/* Missing CRLFs. */
	{ S("*1\r\n$4\r\nPINGxx"), 0, RESP_ERR_PROTOCOL,
	    "expected CRLF after bulk data" },
	{ S("*1\r\n$4\r\nPINGx"), 0, RESP_ERR_PROTOCOL, NULL },
	{ S("*1\r\n$4\r\nPING\rx"), 0, RESP_ERR_PROTOCOL, NULL },
	{ S("*1\r\n$4\r\nPING\n\r"), 0, RESP_ERR_PROTOCOL, NULL },
	{ S("*1\r\n$3\r\nPING\r\n"), 0, RESP_ERR_PROTOCOL, NULL },
	{ S("*1\rX"), 0, RESP_ERR_PROTOCOL, NULL },
	{ S("*1\r\n$4\rX"), 0, RESP_ERR_PROTOCOL, NULL },
	/* Good requests, then an error: the requests still come out. */
	{ S("*1\r\n$4\r\nPING\r\n*1\r\n$-1\r\n"), 1, RESP_ERR_BAD_LENGTH,
	    NULL },
	{ S("PING\r\n*x\r\nPING\r\n"), 1, RESP_ERR_BAD_LENGTH, NULL },
	{ S("PING\r\n*1\r\n$4\r\nPING\r\nPING"), 2, RESP_ERR_NONE, NULL },
	/* Inline with too many words. */
	{ S("a b c d e f g h i j k l m n o p q r s t u v w x y z "
	    "1 2 3 4 5 6 7\r\n"), 0, RESP_ERR_TOO_MANY_ARGS, NULL },
	{ S("a b c d e f g h i j k l m n o p q r s t u v w x y z "
	    "1 2 3 4 5 6\r\n"), 1, RESP_ERR_NONE, NULL },
};

/* Every parser case: expected result, identical under every split. */
START_TEST(test_parse_table)
{
	const struct pcase	*c = &pcases[_i];
	struct outcome		 o;

	run_all(c->in, c->len, 0, 0, &o);
	ck_assert_msg(o.nreq == c->nreq, "case %d: %d requests, want %d",
	    _i, o.nreq, c->nreq);
	ck_assert_msg(o.err == c->err, "case %d: error %d, want %d", _i,
	    (int)o.err, (int)c->err);
	if (c->errstr != NULL) {
		ck_assert(o.log.len > strlen(c->errstr));
		ck_assert_mem_eq(o.log.p + o.log.len - strlen(c->errstr),
		    c->errstr, strlen(c->errstr));
	}
	outcome_free(&o);
}
END_TEST

/* Parse a whole buffer and return the first request (parser kept). */
static struct resp_parser *
parse1(const char *in, size_t len, struct resp_request *req)
{
	struct resp_parser	*p;

	p = resp_parser_new(0, 0);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(resp_parser_feed(p, in, len), 0);
	ck_assert_int_eq(resp_parser_get(p, req), RESP_OK);
	return p;
}

/* Check a view holds a given string. */
static void
arg_is(const struct resp_arg *a, const char *s, size_t n)
{
	ck_assert_uint_eq(a->len, n);
	ck_assert_mem_eq(a->ptr, s, n);
}

/* Multibulk requests come out with the right arguments. */
START_TEST(test_parse_multibulk)
{
	struct resp_parser	*p;
	struct resp_request	 req;

	p = parse1(S("*3\r\n$6\r\nREVOKE\r\n$3\r\na\0b\r\n$0\r\n\r\n"), &req);
	ck_assert_uint_eq(req.argc, 3);
	ck_assert_int_eq(req.inl, 0);
	arg_is(&req.argv[0], S("REVOKE"));
	arg_is(&req.argv[1], S("a\0b"));
	arg_is(&req.argv[2], S(""));
	ck_assert_int_eq(resp_parser_get(p, &req), RESP_INCOMPLETE);
	ck_assert_uint_eq(resp_parser_pending(p), 0);
	ck_assert_int_eq(resp_parser_error(p), RESP_ERR_NONE);
	ck_assert_str_eq(resp_parser_errstr(p), "");
	resp_parser_free(p);
}
END_TEST

/* Inline commands split on spaces and tabs; CRLF or bare LF end them. */
START_TEST(test_parse_inline)
{
	struct resp_parser	*p;
	struct resp_request	 req;

	p = parse1(S("\r\n \t\n  revoke\tj1  100 \t\r\nPING\nPING x\r"),
	    &req);
	ck_assert_int_eq(req.inl, 1);
	ck_assert_uint_eq(req.argc, 3);
	arg_is(&req.argv[0], S("revoke"));
	arg_is(&req.argv[1], S("j1"));
	arg_is(&req.argv[2], S("100"));
	ck_assert_int_eq(resp_parser_get(p, &req), RESP_OK);
	ck_assert_uint_eq(req.argc, 1);
	arg_is(&req.argv[0], S("PING"));
	/* "PING x\r" waits for its LF. */
	ck_assert_int_eq(resp_parser_get(p, &req), RESP_INCOMPLETE);
	ck_assert_uint_eq(resp_parser_pending(p), 7);
	ck_assert_int_eq(resp_parser_feed(p, "\n", 1), 0);
	ck_assert_int_eq(resp_parser_get(p, &req), RESP_OK);
	ck_assert_uint_eq(req.argc, 2);
	arg_is(&req.argv[1], S("x"));
	/* No quote handling: quotes are ordinary bytes. */
	ck_assert_int_eq(resp_parser_feed(p, S("PING \"a b\"\r\n")), 0);
	ck_assert_int_eq(resp_parser_get(p, &req), RESP_OK);
	ck_assert_uint_eq(req.argc, 3);
	arg_is(&req.argv[1], S("\"a"));
	arg_is(&req.argv[2], S("b\""));
	resp_parser_free(p);
}
END_TEST

/* Many pipelined requests in one buffer come out in order. */
START_TEST(test_parse_pipeline)
{
	struct resp_parser	*p;
	struct resp_request	 req;
	struct sbuf		 in = { NULL, 0, 0 };
	char			 jti[32];
	int			 i, n;
	struct outcome		 o;

	for (i = 0; i < 1000; i++) {
		n = snprintf(jti, sizeof jti, "jti-%d", i);
		if (i % 3 == 0)
			sb_addf(&in, "CHECK %s\r\n", jti);
		else
			sb_addf(&in, "*2\r\n$5\r\nCHECK\r\n$%d\r\n%s\r\n",
			    n, jti);
	}
	p = resp_parser_new(0, 0);
	ck_assert_int_eq(resp_parser_feed(p, in.p, in.len), 0);
	for (i = 0; i < 1000; i++) {
		n = snprintf(jti, sizeof jti, "jti-%d", i);
		ck_assert_int_eq(resp_parser_get(p, &req), RESP_OK);
		ck_assert_int_eq(req.inl, i % 3 == 0);
		ck_assert_uint_eq(req.argc, 2);
		arg_is(&req.argv[0], S("CHECK"));
		arg_is(&req.argv[1], jti, (size_t)n);
	}
	ck_assert_int_eq(resp_parser_get(p, &req), RESP_INCOMPLETE);
	ck_assert_uint_eq(resp_parser_pending(p), 0);
	resp_parser_free(p);

	/* The same stream in odd fragments gives the same requests. */
	run_all(in.p, in.len, 0, 0, &o);
	ck_assert_int_eq(o.nreq, 1000);
	ck_assert_int_eq(o.err, RESP_ERR_NONE);
	outcome_free(&o);
	free(in.p);
}
END_TEST

/* Views point into the space handed out for read(): zero copy. */
START_TEST(test_parse_zero_copy)
{
	static const char	 msg[] = "*2\r\n$4\r\nPING\r\n$3\r\nabc\r\n*1";
	struct resp_parser	*p;
	struct resp_request	 req;
	char			*space;
	size_t			 avail;

	p = resp_parser_new(0, 0);
	space = resp_parser_space(p, 16, &avail);
	ck_assert_ptr_nonnull(space);
	ck_assert_uint_ge(avail, 16);
	ck_assert_uint_ge(avail, sizeof msg - 1);
	memcpy(space, msg, sizeof msg - 1);
	resp_parser_commit(p, sizeof msg - 1);
	ck_assert_int_eq(resp_parser_get(p, &req), RESP_OK);
	ck_assert_ptr_eq(req.argv[0].ptr, space + 8);
	ck_assert_ptr_eq(req.argv[1].ptr, space + 18);
	arg_is(&req.argv[1], S("abc"));
	ck_assert_int_eq(resp_parser_get(p, &req), RESP_INCOMPLETE);
	ck_assert_uint_eq(resp_parser_pending(p), 2);

	/* The unparsed tail moves to the front; the rest follows it. */
	space = resp_parser_space(p, 64, &avail);
	ck_assert_ptr_nonnull(space);
	ck_assert_uint_ge(avail, 64);
	memcpy(space, "\r\n$4\r\nQUIT\r\n", 12);
	resp_parser_commit(p, 12);
	ck_assert_int_eq(resp_parser_get(p, &req), RESP_OK);
	ck_assert_uint_eq(req.argc, 1);
	arg_is(&req.argv[0], S("QUIT"));
	/* "*1" was moved to the front, just before space. */
	ck_assert_ptr_eq(req.argv[0].ptr, space - 2 + 8);

	/* A commit beyond the space is clamped, never overruns. */
	space = resp_parser_space(p, 1, &avail);
	ck_assert_ptr_nonnull(space);
	resp_parser_commit(p, 0);
	ck_assert_uint_eq(resp_parser_pending(p), 0);
	resp_parser_free(p);
	resp_parser_free(NULL);
}
END_TEST

/* Build "*1\r\n$<n>\r\n" + n bytes + "\r\n" into a fresh buffer. */
static char *
big_bulk(size_t n, size_t *len)
{
	char	*b;
	int	 h;

	b = malloc(n + 64);
	ck_assert_ptr_nonnull(b);
	h = snprintf(b, 64, "*1\r\n$%zu\r\n", n);
	memset(b + h, 'x', n);
	memcpy(b + h + n, "\r\n", 2);
	*len = (size_t)h + n + 2;
	return b;
}

/* A frame of exactly max_request bytes passes; one more byte fails. */
START_TEST(test_limit_frame)
{
	struct outcome		 o;
	struct resp_parser	*p;
	struct resp_request	 req;
	char			*b;
	size_t			 len;

	b = big_bulk(65522, &len);
	ck_assert_uint_eq(len, 65536);
	run_all(b, len, 0, 0, &o);
	ck_assert_int_eq(o.nreq, 1);
	ck_assert_int_eq(o.err, RESP_ERR_NONE);
	outcome_free(&o);
	free(b);

	b = big_bulk(65523, &len);
	ck_assert_uint_eq(len, 65537);
	run_all(b, len, 0, 0, &o);
	ck_assert_int_eq(o.nreq, 0);
	ck_assert_int_eq(o.err, RESP_ERR_TOO_BIG);
	outcome_free(&o);
	/* Rejected from the header alone, without the payload. */
	p = resp_parser_new(0, 0);
	ck_assert_int_eq(resp_parser_feed(p, b, 12), 0);
	ck_assert_int_eq(resp_parser_get(p, &req), RESP_ERROR);
	ck_assert_int_eq(resp_parser_error(p), RESP_ERR_TOO_BIG);
	ck_assert_str_eq(resp_parser_errstr(p),
	    "request too big (max 65536 bytes)");
	resp_parser_free(p);
	free(b);

	/* The whole frame counts, headers included, across arguments. */
	{
		static const char hdr[] = "*2\r\n$4\r\nPING\r\n$65512\r\n";

		ck_assert_uint_eq(sizeof hdr - 1 + 65512 + 2, 65536);
		b = malloc(65536 + 1);
		memcpy(b, hdr, sizeof hdr - 1);
		memset(b + sizeof hdr - 1, 'y', 65512);
		memcpy(b + 65534, "\r\n", 2);
		run_all(b, 65536, 0, 0, &o);
		ck_assert_int_eq(o.nreq, 1);
		outcome_free(&o);
		b[sizeof hdr - 4] = '3';	/* $65513 */
		run_all(b, sizeof hdr - 1, 0, 0, &o);
		ck_assert_int_eq(o.err, RESP_ERR_TOO_BIG);
		outcome_free(&o);
		free(b);
	}

	/* A smaller limit set at creation. */
	b = big_bulk(89, &len);
	ck_assert_uint_eq(len, 100);
	run_all(b, len, 100, 0, &o);
	ck_assert_int_eq(o.nreq, 1);
	outcome_free(&o);
	run_all(b, len, 99, 0, &o);
	ck_assert_int_eq(o.err, RESP_ERR_TOO_BIG);
	ck_assert(strstr(o.log.p, "request too big (max 99 bytes)") != NULL);
	outcome_free(&o);
	free(b);
}
END_TEST

/* Inline lines obey max_request too, newline included. */
START_TEST(test_limit_inline)
{
	struct outcome	 o;
	char		*b;

	b = malloc(65537 + 1);
	memset(b, 'A', 65537);
	b[65535] = '\n';		/* 65535 bytes + LF = 65536 */
	run_all(b, 65536, 0, 0, &o);
	ck_assert_int_eq(o.nreq, 1);
	ck_assert_int_eq(o.err, RESP_ERR_NONE);
	outcome_free(&o);

	b[65535] = 'A';
	b[65536] = '\n';		/* 65536 bytes + LF */
	run_all(b, 65537, 0, 0, &o);
	ck_assert_int_eq(o.nreq, 0);
	ck_assert_int_eq(o.err, RESP_ERR_TOO_BIG);
	outcome_free(&o);

	/* No newline within max_request bytes: rejected at once. */
	run_all(b, 65536, 0, 0, &o);
	ck_assert_int_eq(o.err, RESP_ERR_TOO_BIG);
	outcome_free(&o);
	run_all(b, 65535, 0, 0, &o);
	ck_assert_int_eq(o.err, RESP_ERR_NONE);
	ck_assert_uint_eq(o.pending, 65535);
	outcome_free(&o);
	free(b);
}
END_TEST

/* 32 arguments pass, 33 fail, in both forms; max_args is settable. */
START_TEST(test_limit_args)
{
	struct sbuf	 mb = { NULL, 0, 0 }, il = { NULL, 0, 0 };
	struct outcome	 o;
	int		 i;

	for (i = 0; i < 33; i++) {
		sb_addf(&mb, "$1\r\n%c\r\n", 'a' + i % 26);
		sb_addf(&il, "%c ", 'a' + i % 26);
	}
	/* 32 of them: bulk part is 7 bytes each, inline 2. */
	{
		struct sbuf	 r = { NULL, 0, 0 };

		sb_addf(&r, "*32\r\n");
		sb_add(&r, mb.p, 32 * 7);
		run_all(r.p, r.len, 0, 0, &o);
		ck_assert_int_eq(o.nreq, 1);
		ck_assert(strstr(o.log.p, "R0/32") == o.log.p);
		outcome_free(&o);
		r.len = 0;
		sb_addf(&r, "*33\r\n");
		sb_add(&r, mb.p, 33 * 7);
		run_all(r.p, r.len, 0, 0, &o);
		ck_assert_int_eq(o.err, RESP_ERR_TOO_MANY_ARGS);
		outcome_free(&o);
		/* Rejected from "*33\r\n" alone. */
		run_all(r.p, 5, 0, 0, &o);
		ck_assert_int_eq(o.err, RESP_ERR_TOO_MANY_ARGS);
		outcome_free(&o);
		/* A smaller limit; one over RESP_ARGV_CAP is clamped. */
		run_all(r.p, r.len, 0, 40, &o);
		ck_assert_int_eq(o.err, RESP_ERR_TOO_MANY_ARGS);
		ck_assert(strstr(o.log.p, "(max 32)") != NULL);
		outcome_free(&o);
		r.len = 0;
		sb_addf(&r, "*3\r\n");
		sb_add(&r, mb.p, 3 * 7);
		run_all(r.p, r.len, 0, 2, &o);
		ck_assert_int_eq(o.err, RESP_ERR_TOO_MANY_ARGS);
		ck_assert(strstr(o.log.p, "too many arguments (max 2)") !=
		    NULL);
		outcome_free(&o);
		free(r.p);
	}
	il.p[32 * 2 - 1] = '\n';
	run_all(il.p, 32 * 2, 0, 0, &o);
	ck_assert_int_eq(o.nreq, 1);
	outcome_free(&o);
	il.p[32 * 2 - 1] = ' ';
	il.p[33 * 2 - 1] = '\n';
	run_all(il.p, 33 * 2, 0, 0, &o);
	ck_assert_int_eq(o.err, RESP_ERR_TOO_MANY_ARGS);
	outcome_free(&o);
	free(mb.p);
	free(il.p);
}
END_TEST

/* A 64 KiB request fed one byte at a time completes (linear resume). */
START_TEST(test_bytewise_big)
{
	struct resp_parser	*p;
	struct resp_request	 req;
	char			*b;
	size_t			 len, i, n;
	int			 got = 0;
	struct sbuf		 m = { NULL, 0, 0 };
	struct outcome		 o;

	b = big_bulk(65522, &len);
	p = resp_parser_new(0, 0);
	for (i = 0; i < len; i++) {
		ck_assert_int_eq(resp_parser_feed(p, b + i, 1), 0);
		if (resp_parser_get(p, &req) == RESP_OK) {
			ck_assert_uint_eq(i, len - 1);
			ck_assert_uint_eq(req.argv[0].len, 65522);
			got = 1;
		}
	}
	ck_assert(got);
	resp_parser_free(p);
	free(b);

	/* Inline 64 KiB line, and 32 arguments of 2 KiB. */
	b = malloc(65536);
	memset(b, 'z', 65535);
	b[65535] = '\n';
	run(b, 65536, 1, 1, 0, 0, 0, &o);
	ck_assert_int_eq(o.nreq, 1);
	ck_assert_int_eq(o.err, RESP_ERR_NONE);
	outcome_free(&o);
	free(b);
	sb_addf(&m, "*32\r\n");
	for (i = 0; i < 32; i++) {
		sb_addf(&m, "$2000\r\n");
		for (n = 0; n < 2000; n++)
			sb_add(&m, "q", 1);
		sb_add(&m, "\r\n", 2);
	}
	p = resp_parser_new(0, 0);
	got = 0;
	for (i = 0; i < m.len; i++) {
		ck_assert_int_eq(resp_parser_feed(p, m.p + i, 1), 0);
		if (resp_parser_get(p, &req) == RESP_OK) {
			ck_assert_uint_eq(req.argc, 32);
			ck_assert_uint_eq(req.argv[31].len, 2000);
			got = 1;
		}
	}
	ck_assert(got);
	resp_parser_free(p);
	free(m.p);
}
END_TEST

/* Errors are sticky and the limit defaults hold. */
START_TEST(test_parse_sticky)
{
	struct resp_parser	*p;
	struct resp_request	 req;
	char			*space;
	size_t			 avail;

	p = resp_parser_new(0, 0);
	ck_assert_int_eq(resp_parser_feed(p, S("*1\r\n+OK\r\nPING\r\n")), 0);
	ck_assert_int_eq(resp_parser_get(p, &req), RESP_ERROR);
	ck_assert_int_eq(resp_parser_error(p), RESP_ERR_BAD_TYPE);
	ck_assert_int_eq(resp_parser_feed(p, S("PING\r\n")), -1);
	ck_assert_int_eq(resp_parser_get(p, &req), RESP_ERROR);
	ck_assert_int_eq(resp_parser_get(p, &req), RESP_ERROR);
	ck_assert_str_eq(resp_parser_errstr(p), "expected '$', got '+'");
	/* Space is still handed out (NULL means out of memory only). */
	space = resp_parser_space(p, 10, &avail);
	ck_assert_ptr_nonnull(space);
	resp_parser_commit(p, 0);
	ck_assert_int_eq(resp_parser_get(p, &req), RESP_ERROR);
	resp_parser_free(p);

	/* A non-printable type byte is shown in hex. */
	p = resp_parser_new(0, 0);
	ck_assert_int_eq(resp_parser_feed(p, S("*1\r\n\001")), 0);
	ck_assert_int_eq(resp_parser_get(p, &req), RESP_ERROR);
	ck_assert_str_eq(resp_parser_errstr(p),
	    "expected '$', got byte 0x01");
	resp_parser_free(p);
}
END_TEST

/* Return the pending bytes of a reply buffer as a NUL-terminated copy. */
static const char *
rb_str(const struct reply_buf *rb)
{
	static char	 out[4096];
	size_t		 n = reply_pending(rb);

	ck_assert_uint_lt(n, sizeof out);
	if (n > 0)
		memcpy(out, rb->data + rb->off, n);
	out[n] = '\0';
	return out;
}

/* Every encoder function, byte for byte. */
START_TEST(test_reply_forms)
{
	struct reply_buf	 rb;

	reply_init(&rb);
	ck_assert_uint_eq(reply_pending(&rb), 0);
	reply_simple(&rb, "PONG");
	ck_assert_str_eq(rb_str(&rb), "+PONG\r\n");
	reply_consume(&rb, reply_pending(&rb));
	ck_assert_uint_eq(rb.off, 0);
	ck_assert_uint_eq(rb.len, 0);

	reply_error(&rb, "ERR bad\r\nthing\r");
	ck_assert_str_eq(rb_str(&rb), "-ERR bad  thing \r\n");
	reply_consume(&rb, reply_pending(&rb));
	reply_errorf(&rb, "ERR %s is %d", "a\nb", 42);
	ck_assert_str_eq(rb_str(&rb), "-ERR a b is 42\r\n");
	reply_consume(&rb, reply_pending(&rb));
	reply_errorf(&rb, "ERR Protocol error: %s", "invalid bulk length");
	ck_assert_str_eq(rb_str(&rb),
	    "-ERR Protocol error: invalid bulk length\r\n");
	reply_consume(&rb, reply_pending(&rb));

	reply_int(&rb, 0);
	reply_int(&rb, 1);
	reply_int(&rb, -1);
	reply_int(&rb, 1700000000);
	reply_int(&rb, -42);
	reply_int(&rb, LLONG_MAX);
	reply_int(&rb, LLONG_MIN);
	ck_assert_str_eq(rb_str(&rb), ":0\r\n:1\r\n:-1\r\n:1700000000\r\n"
	    ":-42\r\n:9223372036854775807\r\n:-9223372036854775808\r\n");
	reply_consume(&rb, reply_pending(&rb));

	reply_bulk(&rb, "", 0);
	reply_bulk(&rb, NULL, 0);
	reply_bulkstr(&rb, "not_revoked");
	reply_null(&rb);
	reply_array(&rb, 0);
	reply_array(&rb, 4);
	ck_assert_str_eq(rb_str(&rb), "$0\r\n\r\n$0\r\n\r\n"
	    "$11\r\nnot_revoked\r\n$-1\r\n*0\r\n*4\r\n");
	reply_consume(&rb, reply_pending(&rb));

	/* A reply spelled out equals the one built piece by piece. */
	reply_array(&rb, 1);
	reply_bulkstr(&rb, "not_revoked");
	reply_raw(&rb, "*1\r\n$11\r\nnot_revoked\r\n", 22);
	reply_raw(&rb, "", 0);
	ck_assert_str_eq(rb_str(&rb), "*1\r\n$11\r\nnot_revoked\r\n"
	    "*1\r\n$11\r\nnot_revoked\r\n");
	reply_consume(&rb, reply_pending(&rb));

	reply_bulk(&rb, "a\0\r\nb", 5);
	ck_assert_uint_eq(reply_pending(&rb), 11);
	ck_assert_mem_eq(rb.data + rb.off, "$5\r\na\0\r\nb\r\n", 11);
	ck_assert_int_eq(rb.oom, 0);
	reply_free(&rb);
	ck_assert_ptr_null(rb.data);
	ck_assert_uint_eq(reply_pending(&rb), 0);
}
END_TEST

/* Consume keeps order, resets and compacts; growth holds big replies. */
/* reply_splice replaces a reply in the middle of the unsent bytes. */
START_TEST(test_reply_splice)
{
	struct reply_buf	 rb;
	size_t			 i;

	reply_init(&rb);
	reply_simple(&rb, "X");
	reply_simple(&rb, "OK");
	reply_int(&rb, 1);
	reply_bulk(&rb, "tail", 4);
	reply_consume(&rb, 2);		/* "+X" sent */
	/* Longer: "+OK\r\n" (at 2) becomes "+PENDING\r\n". */
	ck_assert_int_eq(reply_splice(&rb, 2, 5, "+PENDING\r\n", 10), 0);
	ck_assert_str_eq(rb_str(&rb), "\r\n+PENDING\r\n:1\r\n$4\r\ntail\r\n");
	/* Shorter, and at the very end. */
	ck_assert_int_eq(reply_splice(&rb, 12, 4, "", 0), 0);
	ck_assert_str_eq(rb_str(&rb), "\r\n+PENDING\r\n$4\r\ntail\r\n");
	ck_assert_int_eq(reply_splice(&rb, reply_pending(&rb), 0, "+E\r\n",
	    4), 0);
	ck_assert_str_eq(rb_str(&rb),
	    "\r\n+PENDING\r\n$4\r\ntail\r\n+E\r\n");
	/* Out of range: nothing changes, but the buffer is marked bad. */
	ck_assert_int_eq(reply_splice(&rb, reply_pending(&rb), 1, "x", 1), -1);
	ck_assert_int_eq(rb.oom, 1);
	ck_assert_str_eq(rb_str(&rb),
	    "\r\n+PENDING\r\n$4\r\ntail\r\n+E\r\n");
	rb.oom = 0;
	ck_assert_int_eq(reply_splice(&rb, 1000, 0, "x", 1), -1);
	rb.oom = 0;
	/* Growing past the capacity, with a sent prefix to compact. */
	reply_consume(&rb, 2);
	for (i = 0; i < 3000; i++)
		reply_simple(&rb, "OK");
	ck_assert_int_eq(reply_splice(&rb, 10, 4, "+PENDING+PENDING+PENDING"
	    "+PENDING+PENDING", 40), 0);
	ck_assert_uint_eq(reply_pending(&rb), 24 - 4 + 40 + 3000 * 5);
	ck_assert_mem_eq(rb.data + rb.off, "+PENDING\r\n+PENDING+PENDING", 26);
	ck_assert_mem_eq(rb.data + rb.len - 5, "+OK\r\n", 5);
	reply_free(&rb);
}
END_TEST

START_TEST(test_reply_buffer)
{
	struct reply_buf	 rb;
	char			*big;
	size_t			 i, cap;

	reply_init(&rb);
	reply_simple(&rb, "OK");
	reply_int(&rb, 7);
	reply_consume(&rb, 1);
	ck_assert_str_eq(rb_str(&rb), "OK\r\n:7\r\n");
	reply_consume(&rb, 100);	/* more than pending: clamped */
	ck_assert_uint_eq(rb.off, 0);
	ck_assert_uint_eq(rb.len, 0);

	/* Off beyond half the capacity moves the tail to the front. */
	for (i = 0; i < 100; i++)
		reply_int(&rb, (long long)i);
	cap = rb.cap;
	reply_consume(&rb, rb.len - 5);
	ck_assert_uint_eq(rb.off, 0);
	ck_assert_uint_eq(rb.len, 5);
	ck_assert_str_eq(rb_str(&rb), ":99\r\n");
	ck_assert_uint_eq(rb.cap, cap);

	/* A writer that never empties the buffer does not grow it forever. */
	for (i = 0; i < 100000; i++) {
		reply_simple(&rb, "QUEUED");
		reply_consume(&rb, 9);
	}
	ck_assert_uint_le(rb.cap, 4 * cap);
	ck_assert_uint_eq(reply_pending(&rb), 5);
	ck_assert_str_eq(rb_str(&rb), "UED\r\n");

	big = malloc(1 << 20);
	memset(big, 'b', 1 << 20);
	reply_bulk(&rb, big, 1 << 20);
	ck_assert_uint_eq(reply_pending(&rb), 5 + 1 + 7 + 2 + (1 << 20) + 2);
	ck_assert_mem_eq(rb.data + rb.off + 5, "$1048576\r\nbbb", 13);
	ck_assert_mem_eq(rb.data + rb.len - 3, "b\r\n", 3);
	free(big);
	ck_assert_int_eq(rb.oom, 0);

	/* The oom flag is sticky: nothing more is appended. */
	i = rb.len;
	reply_bulk(&rb, "", (size_t)LLONG_MAX + 1);
	ck_assert_int_eq(rb.oom, 1);
	reply_simple(&rb, "OK");
	reply_int(&rb, 1);
	reply_errorf(&rb, "ERR %d", 1);
	ck_assert_uint_eq(rb.len, i);
	reply_free(&rb);
	ck_assert_int_eq(rb.oom, 0);
}
END_TEST

static struct command	 dcmd;		/* result of the last decode() */
static char		 derr[256];	/* its error text */

/* Decode argv (NULL-terminated C strings) with the given limits. */
static enum command_status
decode_lim(const struct command_limits *lim, const char **argv)
{
	struct resp_request	 req;
	size_t			 n;

	memset(&req, 0, sizeof req);
	for (n = 0; argv[n] != NULL; n++) {
		req.argv[n].ptr = argv[n];
		req.argv[n].len = strlen(argv[n]);
	}
	req.argc = n;
	memset(derr, 'Z', sizeof derr);
	return command_decode(&req, lim, &dcmd, derr, sizeof derr);
}

#define DECODE(...) decode_lim(NULL, (const char *[]){ __VA_ARGS__, NULL })
#define DECODE_LIM(l, ...) \
	decode_lim((l), (const char *[]){ __VA_ARGS__, NULL })

/* Check a decode failed with a status and an exact message. */
#define DECODE_FAILS(st, msg, ...) do {					\
	ck_assert_int_eq(DECODE(__VA_ARGS__), (st));			\
	ck_assert_str_eq(derr, (msg));					\
} while (0)

/* A view equals a C string. */
static int
view_is(const struct resp_arg *a, const char *s)
{
	return a->len == strlen(s) && memcmp(a->ptr, s, a->len) == 0;
}

/* The table: names, ids, flags, arities; lookup ignores case. */
START_TEST(test_command_lookup)
{
	const struct command_def	*d;

	d = command_lookup("ping", 4);
	ck_assert_ptr_nonnull(d);
	ck_assert_str_eq(d->name, "PING");
	ck_assert_int_eq(d->id, CMD_PING);
	ck_assert_uint_eq(d->flags, COMMAND_READ);
	ck_assert_int_eq(d->min_argc, 1);
	ck_assert_int_eq(d->max_argc, 2);
	d = command_lookup("Check", 5);
	ck_assert_int_eq(d->id, CMD_CHECK);
	ck_assert_uint_eq(d->flags, COMMAND_READ);
	d = command_lookup("REVOKE", 6);
	ck_assert_int_eq(d->id, CMD_REVOKE);
	ck_assert_uint_eq(d->flags, COMMAND_WRITE);
	d = command_lookup("unREVOKE", 8);
	ck_assert_int_eq(d->id, CMD_UNREVOKE);
	ck_assert_uint_eq(d->flags, COMMAND_WRITE);
	ck_assert_int_eq(command_lookup("stats", 5)->id, CMD_STATS);
	ck_assert_uint_eq(command_lookup("stats", 5)->flags, COMMAND_READ);
	ck_assert_int_eq(command_lookup("QuIt", 4)->id, CMD_QUIT);
	ck_assert_ptr_null(command_lookup("PIN", 3));
	ck_assert_ptr_null(command_lookup("PINGS", 5));
	ck_assert_ptr_null(command_lookup("PINGX", 5));
	ck_assert_ptr_null(command_lookup("", 0));
	ck_assert_ptr_null(command_lookup("PI\0G", 4));
}
END_TEST

/* PING, STATS, QUIT. */
START_TEST(test_command_simple)
{
	ck_assert_int_eq(DECODE("PING"), COMMAND_OK);
	ck_assert_int_eq(dcmd.def->id, CMD_PING);
	ck_assert_int_eq(dcmd.has_msg, 0);
	ck_assert_str_eq(derr, "");
	ck_assert_int_eq(DECODE("ping", "hello world"), COMMAND_OK);
	ck_assert_int_eq(dcmd.has_msg, 1);
	ck_assert(view_is(&dcmd.msg, "hello world"));
	ck_assert_int_eq(DECODE("PING", ""), COMMAND_OK);
	ck_assert_int_eq(dcmd.has_msg, 1);
	ck_assert_uint_eq(dcmd.msg.len, 0);
	DECODE_FAILS(COMMAND_EARGS,
	    "ERR wrong number of arguments for 'ping' command",
	    "PING", "a", "b");
	ck_assert_int_eq(DECODE("stats"), COMMAND_OK);
	ck_assert_int_eq(dcmd.def->id, CMD_STATS);
	DECODE_FAILS(COMMAND_EARGS,
	    "ERR wrong number of arguments for 'stats' command",
	    "STATS", "x");
	ck_assert_int_eq(DECODE("QUIT"), COMMAND_OK);
	ck_assert_int_eq(dcmd.def->id, CMD_QUIT);
	DECODE_FAILS(COMMAND_EARGS,
	    "ERR wrong number of arguments for 'quit' command",
	    "quit", "now");
}
END_TEST

/* CHECK and UNREVOKE with and without ISS. */
START_TEST(test_command_check)
{
	ck_assert_int_eq(DECODE("CHECK", "abc"), COMMAND_OK);
	ck_assert_int_eq(dcmd.def->id, CMD_CHECK);
	ck_assert(view_is(&dcmd.jti, "abc"));
	ck_assert_uint_eq(dcmd.iss.len, 0);
	ck_assert_uint_eq(dcmd.reason.len, 0);
	ck_assert_int_eq(DECODE("check", "abc", "iss", "https://i"),
	    COMMAND_OK);
	ck_assert(view_is(&dcmd.iss, "https://i"));
	ck_assert(view_is(&dcmd.jti, "abc"));
	ck_assert_int_eq(DECODE("CHECK", "abc", "IsS", ""), COMMAND_OK);
	ck_assert_uint_eq(dcmd.iss.len, 0);
	/* The jti is positional even when it looks like a keyword. */
	ck_assert_int_eq(DECODE("CHECK", "ISS"), COMMAND_OK);
	ck_assert(view_is(&dcmd.jti, "ISS"));
	DECODE_FAILS(COMMAND_EARGS,
	    "ERR wrong number of arguments for 'check' command", "CHECK");
	DECODE_FAILS(COMMAND_EARGS, "ERR ISS given twice",
	    "CHECK", "a", "ISS", "b", "ISS", "c");
	DECODE_FAILS(COMMAND_EARGS,
	    "ERR wrong number of arguments for 'check' command",
	    "CHECK", "a", "ISS", "b", "SUB", "c", "SID", "d", "IAT", "1",
	    "ISS", "e");
	DECODE_FAILS(COMMAND_EARGS, "ERR syntax error", "CHECK", "a", "ISS");
	DECODE_FAILS(COMMAND_EARGS, "ERR unknown option 'FOO' for 'CHECK'",
	    "CHECK", "a", "FOO", "b");
	DECODE_FAILS(COMMAND_EARGS, "ERR unknown option 'foo' for 'CHECK'",
	    "CHECK", "a", "foo");
	DECODE_FAILS(COMMAND_EARGS,
	    "ERR unknown option 'REASON' for 'CHECK'",
	    "CHECK", "a", "REASON", "b");
	DECODE_FAILS(COMMAND_EARGS, "ERR jti must not be empty", "CHECK", "");

	ck_assert_int_eq(DECODE("UNREVOKE", "j"), COMMAND_OK);
	ck_assert_int_eq(dcmd.def->id, CMD_UNREVOKE);
	ck_assert(view_is(&dcmd.jti, "j"));
	ck_assert_int_eq(DECODE("unrevoke", "j", "ISS", "x"), COMMAND_OK);
	ck_assert(view_is(&dcmd.iss, "x"));
	DECODE_FAILS(COMMAND_EARGS,
	    "ERR wrong number of arguments for 'unrevoke' command",
	    "UNREVOKE");
	DECODE_FAILS(COMMAND_EARGS, "ERR syntax error",
	    "UNREVOKE", "j", "iss");
	ck_assert_int_eq(DECODE("UNREVOKE", "j", "REASON", "r"), COMMAND_OK);
	ck_assert(view_is(&dcmd.reason, "r"));
	DECODE_FAILS(COMMAND_EARGS,
	    "ERR unknown option 'BEFORE' for 'UNREVOKE'",
	    "UNREVOKE", "j", "BEFORE", "1");
	DECODE_FAILS(COMMAND_EARGS, "ERR jti must not be empty",
	    "UNREVOKE", "", "ISS", "x");
}
END_TEST

/* CHECK's SUB, SID and IAT. */
START_TEST(test_command_check_claims)
{
	ck_assert_int_eq(DECODE("CHECK", "j", "sub", "alice", "SID", "s1",
	    "IAT", "-5", "ISS", "i"), COMMAND_OK);
	ck_assert(view_is(&dcmd.sub, "alice"));
	ck_assert(view_is(&dcmd.sid, "s1"));
	ck_assert(view_is(&dcmd.iss, "i"));
	ck_assert(dcmd.seen & COMMAND_OPT_IAT);
	ck_assert_int_eq(dcmd.iat, -5);
	ck_assert_int_eq(DECODE("CHECK", "j", "IAT", "0"), COMMAND_OK);
	ck_assert_int_eq(dcmd.iat, 0);
	ck_assert_int_eq(DECODE("CHECK", "j"), COMMAND_OK);
	ck_assert(!(dcmd.seen & (COMMAND_OPT_IAT | COMMAND_OPT_SUB |
	    COMMAND_OPT_SID)));
	DECODE_FAILS(COMMAND_EARGS, "ERR IAT is not an integer",
	    "CHECK", "j", "IAT", "soon");
	DECODE_FAILS(COMMAND_EARGS, "ERR IAT is not an integer",
	    "CHECK", "j", "IAT", "99999999999999999999");
	DECODE_FAILS(COMMAND_EARGS, "ERR sub must not be empty",
	    "CHECK", "j", "SUB", "");
	DECODE_FAILS(COMMAND_EARGS, "ERR sid must not be empty",
	    "CHECK", "j", "SID", "");
	DECODE_FAILS(COMMAND_EARGS, "ERR SUB given twice",
	    "CHECK", "j", "SUB", "a", "SUB", "b");
	DECODE_FAILS(COMMAND_EARGS, "ERR unknown option 'BEFORE' for 'CHECK'",
	    "CHECK", "j", "BEFORE", "1");
}
END_TEST

/* The rule writes: REVOKESUB, BAN, UNBAN, REVOKESID, REVOKEALL. */
START_TEST(test_command_rules)
{
	ck_assert_int_eq(DECODE("REVOKESUB", "alice"), COMMAND_OK);
	ck_assert_int_eq(dcmd.def->id, CMD_REVOKESUB);
	ck_assert_uint_eq(dcmd.def->flags, COMMAND_WRITE);
	ck_assert(view_is(&dcmd.jti, "alice"));
	ck_assert(!(dcmd.seen & COMMAND_OPT_BEFORE));
	ck_assert_int_eq(DECODE("revokesub", "alice", "before", "1700000000",
	    "REASON", "r", "ISS", "i"), COMMAND_OK);
	ck_assert_int_eq(dcmd.before, 1700000000);
	ck_assert(view_is(&dcmd.reason, "r"));
	ck_assert(view_is(&dcmd.iss, "i"));
	DECODE_FAILS(COMMAND_EARGS, "ERR sub must not be empty",
	    "REVOKESUB", "");
	DECODE_FAILS(COMMAND_EARGS, "ERR BEFORE must be a positive Unix time",
	    "REVOKESUB", "a", "BEFORE", "0");
	DECODE_FAILS(COMMAND_EARGS, "ERR BEFORE is not an integer",
	    "REVOKESUB", "a", "BEFORE", "now");
	DECODE_FAILS(COMMAND_EARGS, "ERR unknown option 'UNTIL' for "
	    "'REVOKESUB'", "REVOKESUB", "a", "UNTIL", "1");

	ck_assert_int_eq(DECODE("BAN", "bob", "UNTIL", "1800000000"),
	    COMMAND_OK);
	ck_assert_int_eq(dcmd.def->id, CMD_BAN);
	ck_assert_int_eq(dcmd.until, 1800000000);
	ck_assert_int_eq(DECODE("BAN", "bob"), COMMAND_OK);
	ck_assert(!(dcmd.seen & COMMAND_OPT_UNTIL));
	DECODE_FAILS(COMMAND_EARGS, "ERR UNTIL must be a positive Unix time",
	    "BAN", "bob", "UNTIL", "-1");
	ck_assert_int_eq(DECODE("UNBAN", "bob", "ISS", "i", "REASON", "ok"),
	    COMMAND_OK);
	ck_assert_int_eq(dcmd.def->id, CMD_UNBAN);
	DECODE_FAILS(COMMAND_EARGS, "ERR unknown option 'UNTIL' for 'UNBAN'",
	    "UNBAN", "bob", "UNTIL", "5");

	ck_assert_int_eq(DECODE("REVOKESID", "s1", "1700000000", "ISS", "i"),
	    COMMAND_OK);
	ck_assert_int_eq(dcmd.def->id, CMD_REVOKESID);
	ck_assert(view_is(&dcmd.jti, "s1"));
	ck_assert_int_eq(dcmd.exp, 1700000000);
	DECODE_FAILS(COMMAND_EARGS, "ERR sid must not be empty",
	    "REVOKESID", "", "5");
	DECODE_FAILS(COMMAND_EARGS, "ERR exp is not an integer",
	    "REVOKESID", "s1", "x");
	DECODE_FAILS(COMMAND_EARGS,
	    "ERR wrong number of arguments for 'revokesid' command",
	    "REVOKESID", "s1");

	ck_assert_int_eq(DECODE("REVOKEALL", "BEFORE", "1700000000"),
	    COMMAND_OK);
	ck_assert_int_eq(dcmd.def->id, CMD_REVOKEALL);
	ck_assert_uint_eq(dcmd.jti.len, 0);
	ck_assert_int_eq(dcmd.before, 1700000000);
	DECODE_FAILS(COMMAND_EARGS, "ERR BEFORE is required", "REVOKEALL");
	DECODE_FAILS(COMMAND_EARGS, "ERR BEFORE is required",
	    "REVOKEALL", "ISS", "i");
	DECODE_FAILS(COMMAND_EARGS, "ERR syntax error", "REVOKEALL", "BEFORE");
}
END_TEST

/* LIST and AUDIT: admin commands with cursor, kind and count options. */
START_TEST(test_command_list_audit)
{
	ck_assert_int_eq(DECODE("LIST"), COMMAND_OK);
	ck_assert_int_eq(dcmd.def->id, CMD_LIST);
	ck_assert_uint_eq(dcmd.def->flags, COMMAND_ADMIN);
	ck_assert_int_eq(dcmd.kind, COMMAND_KIND_NONE);
	ck_assert_uint_eq(dcmd.cursor, 0);
	ck_assert_int_eq(DECODE("LIST", "TYPE", "ban", "MATCH", "a*",
	    "CURSOR", "18446744073709551615", "COUNT", "7"), COMMAND_OK);
	ck_assert_int_eq(dcmd.kind, 2);
	ck_assert(view_is(&dcmd.match, "a*"));
	ck_assert(dcmd.cursor == UINT64_MAX);
	ck_assert_int_eq(dcmd.count, 7);
	ck_assert_int_eq(DECODE("LIST", "TYPE", "ISS"), COMMAND_OK);
	ck_assert_int_eq(dcmd.kind, 4);
	DECODE_FAILS(COMMAND_EARGS, "ERR unknown rule kind 'user'",
	    "LIST", "TYPE", "user");
	DECODE_FAILS(COMMAND_EARGS, "ERR invalid cursor",
	    "LIST", "CURSOR", "18446744073709551616");
	DECODE_FAILS(COMMAND_EARGS, "ERR invalid cursor",
	    "LIST", "CURSOR", "-1");
	DECODE_FAILS(COMMAND_EARGS, "ERR invalid cursor", "LIST", "CURSOR", "");
	DECODE_FAILS(COMMAND_EARGS, "ERR COUNT is not an integer",
	    "LIST", "COUNT", "many");

	ck_assert_int_eq(DECODE("AUDIT"), COMMAND_OK);
	ck_assert_int_eq(dcmd.def->id, CMD_AUDIT);
	ck_assert_uint_eq(dcmd.def->flags, COMMAND_ADMIN);
	ck_assert_int_eq(DECODE("AUDIT", "SINCE", "1700000000", "COUNT", "3"),
	    COMMAND_OK);
	ck_assert_int_eq(dcmd.since, 1700000000);
	ck_assert_int_eq(dcmd.count, 3);
	DECODE_FAILS(COMMAND_EARGS, "ERR SINCE must be a positive Unix time",
	    "AUDIT", "SINCE", "0");
	DECODE_FAILS(COMMAND_EARGS, "ERR unknown option 'TYPE' for 'AUDIT'",
	    "AUDIT", "TYPE", "jti");
	DECODE_FAILS(COMMAND_EARGS,
	    "ERR wrong number of arguments for 'audit' command",
	    "AUDIT", "COUNT", "1", "SINCE", "1", "COUNT");
}
END_TEST

/* REVOKE: options in any order and case, once each; exp forms. */
START_TEST(test_command_revoke)
{
	ck_assert_int_eq(DECODE("REVOKE", "j1", "1700000000"), COMMAND_OK);
	ck_assert_int_eq(dcmd.def->id, CMD_REVOKE);
	ck_assert_uint_eq(dcmd.def->flags, COMMAND_WRITE);
	ck_assert(view_is(&dcmd.jti, "j1"));
	ck_assert_int_eq(dcmd.exp, 1700000000);
	ck_assert_uint_eq(dcmd.iss.len, 0);
	ck_assert_uint_eq(dcmd.reason.len, 0);

	ck_assert_int_eq(DECODE("revoke", "j1", "5", "ISS", "i", "REASON",
	    "lost laptop"), COMMAND_OK);
	ck_assert(view_is(&dcmd.iss, "i"));
	ck_assert(view_is(&dcmd.reason, "lost laptop"));
	ck_assert_int_eq(dcmd.exp, 5);
	ck_assert_int_eq(DECODE("Revoke", "j1", "5", "reason", "r",
	    "iss", "i"), COMMAND_OK);
	ck_assert(view_is(&dcmd.iss, "i"));
	ck_assert(view_is(&dcmd.reason, "r"));
	ck_assert_int_eq(DECODE("REVOKE", "j1", "5", "ReAsOn", "ISS"),
	    COMMAND_OK);
	ck_assert(view_is(&dcmd.reason, "ISS"));
	ck_assert_uint_eq(dcmd.iss.len, 0);

	DECODE_FAILS(COMMAND_EARGS, "ERR ISS given twice",
	    "REVOKE", "j", "5", "ISS", "a", "iss", "b");
	DECODE_FAILS(COMMAND_EARGS, "ERR REASON given twice",
	    "REVOKE", "j", "5", "REASON", "a", "reason", "b");
	DECODE_FAILS(COMMAND_EARGS, "ERR syntax error",
	    "REVOKE", "j", "5", "ISS");
	DECODE_FAILS(COMMAND_EARGS, "ERR syntax error",
	    "REVOKE", "j", "5", "ISS", "i", "REASON");
	DECODE_FAILS(COMMAND_EARGS, "ERR unknown option 'SUB' for 'REVOKE'",
	    "REVOKE", "j", "5", "SUB", "s");
	DECODE_FAILS(COMMAND_EARGS,
	    "ERR wrong number of arguments for 'revoke' command",
	    "REVOKE", "j");
	DECODE_FAILS(COMMAND_EARGS,
	    "ERR wrong number of arguments for 'revoke' command",
	    "REVOKE", "j", "5", "ISS", "i", "REASON", "r", "x");
	DECODE_FAILS(COMMAND_EARGS, "ERR jti must not be empty",
	    "REVOKE", "", "5");

	/* exp forms. */
	DECODE_FAILS(COMMAND_EARGS, "ERR exp is not an integer",
	    "REVOKE", "j", "");
	DECODE_FAILS(COMMAND_EARGS, "ERR exp is not an integer",
	    "REVOKE", "j", "12a");
	DECODE_FAILS(COMMAND_EARGS, "ERR exp is not an integer",
	    "REVOKE", "j", "99999999999999999999");
	DECODE_FAILS(COMMAND_EARGS, "ERR exp is not an integer",
	    "REVOKE", "j", "9223372036854775808");
	DECODE_FAILS(COMMAND_EARGS, "ERR exp is not an integer",
	    "REVOKE", "j", "+5");
	DECODE_FAILS(COMMAND_EARGS, "ERR exp is not an integer",
	    "REVOKE", "j", " 5");
	DECODE_FAILS(COMMAND_EARGS, "ERR exp is not an integer",
	    "REVOKE", "j", "5 ");
	DECODE_FAILS(COMMAND_EARGS, "ERR exp is not an integer",
	    "REVOKE", "j", "-");
	DECODE_FAILS(COMMAND_EARGS, "ERR exp is not an integer",
	    "REVOKE", "j", "1.5");
	DECODE_FAILS(COMMAND_EARGS, "ERR exp is not an integer",
	    "REVOKE", "j", "--5");
	DECODE_FAILS(COMMAND_EARGS, "ERR exp is not an integer",
	    "REVOKE", "j", "-9223372036854775809");
	DECODE_FAILS(COMMAND_EARGS, "ERR exp must be a positive Unix time",
	    "REVOKE", "j", "-5");
	DECODE_FAILS(COMMAND_EARGS, "ERR exp must be a positive Unix time",
	    "REVOKE", "j", "0");
	DECODE_FAILS(COMMAND_EARGS, "ERR exp must be a positive Unix time",
	    "REVOKE", "j", "-0");
	DECODE_FAILS(COMMAND_EARGS, "ERR exp must be a positive Unix time",
	    "REVOKE", "j", "-9223372036854775808");
	ck_assert_int_eq(DECODE("REVOKE", "j", "9223372036854775807"),
	    COMMAND_OK);
	ck_assert(dcmd.exp == INT64_MAX);
	ck_assert_int_eq(DECODE("REVOKE", "j", "0001"), COMMAND_OK);
	ck_assert(dcmd.exp == 1);
}
END_TEST

/* Unknown commands and options are echoed sanitized and truncated. */
START_TEST(test_command_unknown)
{
	char	 name[100];

	DECODE_FAILS(COMMAND_EUNKNOWN, "ERR unknown command 'FOO'", "FOO");
	DECODE_FAILS(COMMAND_EUNKNOWN, "ERR unknown command 'get'",
	    "get", "key");
	DECODE_FAILS(COMMAND_EUNKNOWN, "ERR unknown command ''", "");
	DECODE_FAILS(COMMAND_EUNKNOWN, "ERR unknown command '?x?y?'",
	    "\001x\ny'");
	memset(name, 'A', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	DECODE_FAILS(COMMAND_EUNKNOWN,
	    "ERR unknown command 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'", name);
	DECODE_FAILS(COMMAND_EARGS,
	    "ERR unknown option 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' "
	    "for 'CHECK'",
	    "CHECK", "j", name, "v");
	DECODE_FAILS(COMMAND_EARGS,
	    "ERR unknown option 'I?S' for 'REVOKE'",
	    "REVOKE", "j", "5", "I\rS", "v");
}
END_TEST

/* jti, iss and reason limits: at the limit ok, one over closes. */
START_TEST(test_command_limits)
{
	struct command_limits	 lim;
	char			 s[600];

	command_limits_default(&lim);
	ck_assert_uint_eq(lim.max_jti, 256);
	ck_assert_uint_eq(lim.max_iss, 256);
	ck_assert_uint_eq(lim.max_reason, 512);

	memset(s, 'j', sizeof s);
	s[256] = '\0';
	ck_assert_int_eq(DECODE("CHECK", s), COMMAND_OK);
	ck_assert_uint_eq(dcmd.jti.len, 256);
	ck_assert_int_eq(DECODE("CHECK", "j", "ISS", s), COMMAND_OK);
	ck_assert_int_eq(DECODE_LIM(&lim, "UNREVOKE", s), COMMAND_OK);
	s[257] = '\0';
	s[256] = 'j';
	DECODE_FAILS(COMMAND_ELIMIT, "ERR jti too long (max 256 bytes)",
	    "CHECK", s);
	DECODE_FAILS(COMMAND_ELIMIT, "ERR jti too long (max 256 bytes)",
	    "UNREVOKE", s);
	DECODE_FAILS(COMMAND_ELIMIT, "ERR jti too long (max 256 bytes)",
	    "REVOKE", s, "5");
	/* Limits win over later argument errors. */
	DECODE_FAILS(COMMAND_ELIMIT, "ERR jti too long (max 256 bytes)",
	    "REVOKE", s, "bad");
	DECODE_FAILS(COMMAND_ELIMIT, "ERR iss too long (max 256 bytes)",
	    "CHECK", "j", "ISS", s);
	DECODE_FAILS(COMMAND_ELIMIT, "ERR iss too long (max 256 bytes)",
	    "REVOKE", "j", "5", "ISS", s);
	/* sub, sid and patterns share the jti's limit. */
	DECODE_FAILS(COMMAND_ELIMIT, "ERR sub too long (max 256 bytes)",
	    "BAN", s);
	DECODE_FAILS(COMMAND_ELIMIT, "ERR sid too long (max 256 bytes)",
	    "REVOKESID", s, "5");
	DECODE_FAILS(COMMAND_ELIMIT, "ERR sub too long (max 256 bytes)",
	    "CHECK", "j", "SUB", s);
	DECODE_FAILS(COMMAND_ELIMIT, "ERR sid too long (max 256 bytes)",
	    "CHECK", "j", "SID", s);
	DECODE_FAILS(COMMAND_ELIMIT, "ERR pattern too long (max 256 bytes)",
	    "LIST", "MATCH", s);

	memset(s, 'r', sizeof s);
	s[512] = '\0';
	ck_assert_int_eq(DECODE("REVOKE", "j", "5", "REASON", s), COMMAND_OK);
	ck_assert_uint_eq(dcmd.reason.len, 512);
	s[512] = 'r';
	s[513] = '\0';
	DECODE_FAILS(COMMAND_ELIMIT, "ERR reason too long (max 512 bytes)",
	    "REVOKE", "j", "5", "REASON", s);

	lim.max_jti = 4;
	lim.max_iss = 2;
	lim.max_reason = 3;
	ck_assert_int_eq(DECODE_LIM(&lim, "REVOKE", "abcd", "5", "ISS", "ab",
	    "REASON", "abc"), COMMAND_OK);
	ck_assert_int_eq(DECODE_LIM(&lim, "CHECK", "abcde"), COMMAND_ELIMIT);
	ck_assert_str_eq(derr, "ERR jti too long (max 4 bytes)");
	ck_assert_int_eq(DECODE_LIM(&lim, "CHECK", "a", "ISS", "abc"),
	    COMMAND_ELIMIT);
	ck_assert_int_eq(DECODE_LIM(&lim, "REVOKE", "a", "5", "REASON",
	    "abcd"), COMMAND_ELIMIT);
	ck_assert_str_eq(derr, "ERR reason too long (max 3 bytes)");
}
END_TEST

/* The error buffer is always NUL-terminated, even when tiny. */
START_TEST(test_command_errbuf)
{
	struct resp_request	 req;
	struct command		 cmd;
	char			 e[8];

	memset(&req, 0, sizeof req);
	req.argc = 1;
	req.argv[0].ptr = "NOPE";
	req.argv[0].len = 4;
	memset(e, 'Z', sizeof e);
	ck_assert_int_eq(command_decode(&req, NULL, &cmd, e, sizeof e),
	    COMMAND_EUNKNOWN);
	ck_assert_str_eq(e, "ERR unk");
	e[0] = 'Z';
	ck_assert_int_eq(command_decode(&req, NULL, &cmd, e, 1),
	    COMMAND_EUNKNOWN);
	ck_assert_int_eq(e[0], '\0');
	ck_assert_int_eq(command_decode(&req, NULL, &cmd, NULL, 0),
	    COMMAND_EUNKNOWN);
}
END_TEST

/* Parsed requests decode: the two modules fit together. */
START_TEST(test_command_from_wire)
{
	struct resp_parser	*p;
	struct resp_request	 req;
	struct command		 cmd;
	char			 e[128];

	p = parse1(S("revoke abc 1700000000 ISS https://idp REASON lost\r\n"
	    "*4\r\n$5\r\nCHECK\r\n$3\r\nabc\r\n$3\r\niss\r\n$11\r\n"
	    "https://idp\r\n"), &req);
	ck_assert_int_eq(command_decode(&req, NULL, &cmd, e, sizeof e),
	    COMMAND_OK);
	ck_assert_int_eq(cmd.def->id, CMD_REVOKE);
	ck_assert(cmd.exp == 1700000000);
	ck_assert(view_is(&cmd.reason, "lost"));
	ck_assert_int_eq(resp_parser_get(p, &req), RESP_OK);
	ck_assert_int_eq(command_decode(&req, NULL, &cmd, e, sizeof e),
	    COMMAND_OK);
	ck_assert_int_eq(cmd.def->id, CMD_CHECK);
	ck_assert(view_is(&cmd.iss, "https://idp"));
	ck_assert(view_is(&cmd.jti, "abc"));
	resp_parser_free(p);
}
END_TEST

/* Build the suite. */
static Suite *
proto_suite(void)
{
	Suite	*s = suite_create("proto");
	TCase	*tc;

	tc = tcase_create("resp");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_parse_table, 0,
	    (int)(sizeof pcases / sizeof pcases[0]));
	tcase_add_test(tc, test_parse_multibulk);
	tcase_add_test(tc, test_parse_inline);
	tcase_add_test(tc, test_parse_pipeline);
	tcase_add_test(tc, test_parse_zero_copy);
	tcase_add_test(tc, test_parse_sticky);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_limit_frame);
	tcase_add_test(tc, test_limit_inline);
	tcase_add_test(tc, test_limit_args);
	tcase_add_test(tc, test_bytewise_big);
	suite_add_tcase(s, tc);

	tc = tcase_create("reply");
	tcase_add_test(tc, test_reply_forms);
	tcase_add_test(tc, test_reply_buffer);
	tcase_add_test(tc, test_reply_splice);
	suite_add_tcase(s, tc);

	tc = tcase_create("command");
	tcase_add_test(tc, test_command_lookup);
	tcase_add_test(tc, test_command_simple);
	tcase_add_test(tc, test_command_check);
	tcase_add_test(tc, test_command_revoke);
	tcase_add_test(tc, test_command_check_claims);
	tcase_add_test(tc, test_command_rules);
	tcase_add_test(tc, test_command_list_audit);
	tcase_add_test(tc, test_command_unknown);
	tcase_add_test(tc, test_command_limits);
	tcase_add_test(tc, test_command_errbuf);
	tcase_add_test(tc, test_command_from_wire);
	suite_add_tcase(s, tc);
	return s;
}

/* Run the suite; exit non-zero on any failure. */
int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(proto_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
