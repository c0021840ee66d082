/*
 * RESP2 request parser: bytes go in with resp_parser_feed() or
 * resp_parser_space()/resp_parser_commit(), whole requests come out of
 * resp_parser_get() as views into the parser's own buffer.
 *
 * The parser is resumable: when a request is incomplete it keeps how far it
 * got (state, position, offsets of the arguments already parsed) so a request
 * fed one byte at a time is parsed in linear time.  Every position is stored
 * relative to the start of the current request, never as a pointer, so the
 * buffer may be moved by realloc() or compacted freely between calls.
 *
 * Errors are a pure function of the bytes received, not of how they were
 * split: the same stream gives the same requests and the same error however
 * it is fragmented (the fuzz target checks this).
 */

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"

#define RESP_INITIAL_CAP 1024		/* first allocation of the buffer */
#define RESP_SHRINK_CAP (128 * 1024)	/* free an empty buffer above this */

/* Where the parser is inside the current request. */
enum resp_state {
	ST_NEW,		/* at the first byte of a request */
	ST_INLINE,	/* looking for the end of an inline line */
	ST_BULKHDR,	/* at a $<len>\r\n header of a multibulk element */
	ST_BULKDATA	/* inside a bulk payload and its CRLF */
};

/* Results of resp_parse_len(). */
enum resp_len {
	LEN_OK,		/* a whole valid length line */
	LEN_MORE,	/* valid so far, need more bytes */
	LEN_BAD,	/* not a number, negative, overflowing */
	LEN_NOLF	/* CR not followed by LF */
};

struct resp_parser {
	char		*buf;		/* heap storage, NULL until needed */
	size_t		 cap;		/* allocated size of buf */
	size_t		 len;		/* bytes [0, len) of buf are filled */
	size_t		 start;		/* first byte of the current request */
	size_t		 pos;		/* progress, relative to start */
	enum resp_state	 state;		/* where in the request we are */
	size_t		 nargs;		/* elements announced by *<n> */
	size_t		 argc;		/* elements parsed so far */
	size_t		 bulklen;	/* payload length of this bulk */
	size_t		 argoff[RESP_ARGV_CAP]; /* payloads, rel. to start */
	size_t		 arglen[RESP_ARGV_CAP]; /* payload lengths */
	size_t		 max_request;	/* bytes in one request frame */
	size_t		 max_args;	/* arguments in one request */
	enum resp_err	 err;		/* sticky error kind */
	char		 errstr[64];	/* sticky error message */
};

/* Create a parser with the given limits (0 means the default). */
struct resp_parser *
resp_parser_new(size_t max_request, size_t max_args)
{
	struct resp_parser	*p;

	if ((p = calloc(1, sizeof *p)) == NULL)
		return NULL;
	p->max_request = max_request ? max_request : RESP_MAX_REQUEST_DEFAULT;
	if (max_args == 0 || max_args > RESP_ARGV_CAP)
		max_args = max_args ? RESP_ARGV_CAP : RESP_MAX_ARGS_DEFAULT;
	p->max_args = max_args;
	p->state = ST_NEW;
	p->errstr[0] = '\0';
	return p;
}

/* Free a parser and its buffer. */
void
resp_parser_free(struct resp_parser *p)
{
	if (p == NULL)
		return;
	free(p->buf);
	free(p);
}

/* Set the sticky error unless one is already set; return RESP_ERROR. */
static enum resp_status
resp_fail(struct resp_parser *p, enum resp_err err, const char *msg,
    size_t arg)
{
	if (p->err != RESP_ERR_NONE)
		return RESP_ERROR;
	p->err = err;
	switch (err) {
	case RESP_ERR_TOO_BIG:
		snprintf(p->errstr, sizeof p->errstr,
		    "request too big (max %zu bytes)", arg);
		break;
	case RESP_ERR_TOO_MANY_ARGS:
		snprintf(p->errstr, sizeof p->errstr,
		    "too many arguments (max %zu)", arg);
		break;
	case RESP_ERR_BAD_TYPE:
		if (arg >= 0x21 && arg <= 0x7e)
			snprintf(p->errstr, sizeof p->errstr,
			    "expected '$', got '%c'", (int)arg);
		else
			snprintf(p->errstr, sizeof p->errstr,
			    "expected '$', got byte 0x%02x", (unsigned)arg);
		break;
	default:
		snprintf(p->errstr, sizeof p->errstr, "%s", msg);
		break;
	}
	return RESP_ERROR;
}

/* Move the unparsed tail to the front of the buffer. */
static void
resp_compact(struct resp_parser *p)
{
	if (p->start == 0)
		return;
	if (p->len > p->start)
		memmove(p->buf, p->buf + p->start, p->len - p->start);
	p->len -= p->start;
	p->start = 0;
}

/* Reclaim consumed bytes; called only at the start of an API call, when no
 * views are handed out any more. */
static void
resp_reclaim(struct resp_parser *p)
{
	if (p->start == p->len) {
		p->start = p->len = 0;
		if (p->cap > RESP_SHRINK_CAP) {
			free(p->buf);
			p->buf = NULL;
			p->cap = 0;
		}
	} else if (p->start > p->cap / 2)
		resp_compact(p);
}

/* Return writable space of at least want bytes at the end of the buffer. */
char *
resp_parser_space(struct resp_parser *p, size_t want, size_t *avail)
{
	size_t	 need, ncap;
	char	*nbuf;

	if (avail != NULL)
		*avail = 0;
	if (p->err == RESP_ERR_OOM)
		return NULL;
	if (want == 0)
		want = 1;
	resp_reclaim(p);
	if (p->cap - p->len < want && p->start > 0)
		resp_compact(p);
	if (p->cap - p->len < want) {
		if (want > SIZE_MAX - p->len) {
			resp_fail(p, RESP_ERR_OOM, "out of memory", 0);
			return NULL;
		}
		need = p->len + want;
		ncap = p->cap ? p->cap : RESP_INITIAL_CAP;
		while (ncap < need) {
			if (ncap > SIZE_MAX / 2) {
				ncap = need;
				break;
			}
			ncap *= 2;
		}
		if ((nbuf = realloc(p->buf, ncap)) == NULL) {
			resp_fail(p, RESP_ERR_OOM, "out of memory", 0);
			return NULL;
		}
		p->buf = nbuf;
		p->cap = ncap;
	}
	if (avail != NULL)
		*avail = p->cap - p->len;
	return p->buf + p->len;
}

/* Account for n bytes written into the space from resp_parser_space(). */
void
resp_parser_commit(struct resp_parser *p, size_t n)
{
	if (n > p->cap - p->len)	/* caller bug: clamp, never overrun */
		n = p->cap - p->len;
	p->len += n;
}

/* Copy len bytes into the parser. */
int
resp_parser_feed(struct resp_parser *p, const char *buf, size_t len)
{
	char	*space;
	size_t	 avail;

	if (p->err != RESP_ERR_NONE)
		return -1;
	if (len == 0) {
		resp_reclaim(p);
		return 0;
	}
	if ((space = resp_parser_space(p, len, &avail)) == NULL)
		return -1;
	memcpy(space, buf, len);
	resp_parser_commit(p, len);
	return 0;
}

/*
 * Parse the digits of a length line starting after its '*' or '$' marker:
 * s[0..n) holds the bytes available.  Accepts 0 or a decimal without sign
 * and leading zeros, up to INT64_MAX, followed by CRLF.  Bad bytes are
 * reported as soon as they are seen; the line is at most 21 bytes before it
 * is either complete or bad, so rescanning it on every call stays cheap.
 */
static enum resp_len
resp_parse_len(const char *s, size_t n, uint64_t *val, size_t *used)
{
	uint64_t	v = 0;
	size_t		i;
	unsigned	d;

	for (i = 0; i < n; i++) {
		if (s[i] == '\r') {
			if (i == 0)
				return LEN_BAD;
			if (i + 1 == n)
				return LEN_MORE;
			if (s[i + 1] != '\n')
				return LEN_NOLF;
			*val = v;
			*used = i + 2;
			return LEN_OK;
		}
		d = (unsigned char)s[i] - '0';
		if (d > 9)
			return LEN_BAD;
		if (i == 1 && s[0] == '0')	/* leading zero */
			return LEN_BAD;
		if (v > ((uint64_t)INT64_MAX - d) / 10)
			return LEN_BAD;
		v = v * 10 + d;
	}
	return LEN_MORE;
}

/* Turn a length-parse failure into the sticky error. */
static enum resp_status
resp_len_fail(struct resp_parser *p, enum resp_len r, int multibulk)
{
	if (r == LEN_NOLF)
		return resp_fail(p, RESP_ERR_PROTOCOL,
		    "expected CRLF after length", 0);
	return resp_fail(p, RESP_ERR_BAD_LENGTH, multibulk ?
	    "invalid multibulk length" : "invalid bulk length", 0);
}

/* Split an inline line [0, n) of the current request on spaces and tabs. */
static enum resp_status
resp_split_inline(struct resp_parser *p, size_t n, struct resp_request *req)
{
	const char	*b = p->buf + p->start;
	size_t		 i = 0, s, argc = 0;

	for (;;) {
		while (i < n && (b[i] == ' ' || b[i] == '\t'))
			i++;
		if (i == n)
			break;
		if (argc == p->max_args)
			return resp_fail(p, RESP_ERR_TOO_MANY_ARGS, NULL,
			    p->max_args);
		s = i;
		while (i < n && b[i] != ' ' && b[i] != '\t')
			i++;
		req->argv[argc].ptr = b + s;
		req->argv[argc].len = i - s;
		argc++;
	}
	req->argc = argc;
	req->inl = 1;
	return RESP_OK;
}

/* Parse an inline line: RESP_OK with req filled (argc 0 for an empty line),
 * RESP_INCOMPLETE, or RESP_ERROR. */
static enum resp_status
resp_get_inline(struct resp_parser *p, struct resp_request *req)
{
	const char	*b = p->buf + p->start, *nl;
	size_t		 avail = p->len - p->start, scan, n;

	/* Never look past max_request bytes: a line that long is too big. */
	scan = avail < p->max_request ? avail : p->max_request;
	nl = p->pos < scan ? memchr(b + p->pos, '\n', scan - p->pos) : NULL;
	if (nl == NULL) {
		if (avail >= p->max_request)
			return resp_fail(p, RESP_ERR_TOO_BIG, NULL,
			    p->max_request);
		p->pos = avail;
		return RESP_INCOMPLETE;
	}
	n = (size_t)(nl - b);
	if (resp_split_inline(p, n > 0 && b[n - 1] == '\r' ? n - 1 : n,
	    req) != RESP_OK)
		return RESP_ERROR;
	p->start += n + 1;
	p->pos = 0;
	p->state = ST_NEW;
	return RESP_OK;
}

/* Take the next whole request out of the buffer. */
enum resp_status
resp_parser_get(struct resp_parser *p, struct resp_request *req)
{
	const char		*b;
	size_t			 avail, used, i;
	uint64_t		 v;
	enum resp_len		 r;
	enum resp_status	 st;

	if (p->err != RESP_ERR_NONE)
		return RESP_ERROR;
	resp_reclaim(p);
	if (p->buf == NULL)		/* nothing buffered yet */
		return RESP_INCOMPLETE;
	for (;;) {
		b = p->buf + p->start;
		avail = p->len - p->start;
		switch (p->state) {
		case ST_NEW:
			if (avail == 0)
				return RESP_INCOMPLETE;
			if (b[0] != '*') {
				p->state = ST_INLINE;
				p->pos = 0;
				break;
			}
			r = resp_parse_len(b + 1, avail - 1, &v, &used);
			if (r == LEN_MORE)
				return RESP_INCOMPLETE;
			if (r != LEN_OK)
				return resp_len_fail(p, r, 1);
			used++;		/* the '*' */
			if (used > p->max_request)
				return resp_fail(p, RESP_ERR_TOO_BIG, NULL,
				    p->max_request);
			if (v == 0) {	/* empty request: skip, as Redis */
				p->start += used;
				break;
			}
			if (v > p->max_args)
				return resp_fail(p, RESP_ERR_TOO_MANY_ARGS,
				    NULL, p->max_args);
			p->nargs = (size_t)v;
			p->argc = 0;
			p->pos = used;
			p->state = ST_BULKHDR;
			break;
		case ST_INLINE:
			if ((st = resp_get_inline(p, req)) != RESP_OK)
				return st;
			if (req->argc > 0)
				return RESP_OK;
			break;		/* empty line: skip */
		case ST_BULKHDR:
			if (p->pos == avail)
				return RESP_INCOMPLETE;
			if (b[p->pos] != '$')
				return resp_fail(p, RESP_ERR_BAD_TYPE, NULL,
				    (unsigned char)b[p->pos]);
			r = resp_parse_len(b + p->pos + 1, avail - p->pos - 1,
			    &v, &used);
			if (r == LEN_MORE)
				return RESP_INCOMPLETE;
			if (r != LEN_OK)
				return resp_len_fail(p, r, 0);
			used += p->pos + 1;
			/* The frame would end at used + v + 2: reject it now
			 * rather than buffer bytes we will refuse anyway. */
			if (v > p->max_request ||
			    used + (size_t)v + 2 > p->max_request)
				return resp_fail(p, RESP_ERR_TOO_BIG, NULL,
				    p->max_request);
			p->bulklen = (size_t)v;
			p->pos = used;
			p->state = ST_BULKDATA;
			break;
		case ST_BULKDATA:
			if (avail - p->pos < p->bulklen + 2) {
				if (avail - p->pos > p->bulklen &&
				    b[p->pos + p->bulklen] != '\r')
					return resp_fail(p, RESP_ERR_PROTOCOL,
					    "expected CRLF after bulk data",
					    0);
				return RESP_INCOMPLETE;
			}
			if (b[p->pos + p->bulklen] != '\r' ||
			    b[p->pos + p->bulklen + 1] != '\n')
				return resp_fail(p, RESP_ERR_PROTOCOL,
				    "expected CRLF after bulk data", 0);
			p->argoff[p->argc] = p->pos;
			p->arglen[p->argc] = p->bulklen;
			p->argc++;
			p->pos += p->bulklen + 2;
			if (p->argc < p->nargs) {
				p->state = ST_BULKHDR;
				break;
			}
			for (i = 0; i < p->argc; i++) {
				req->argv[i].ptr = b + p->argoff[i];
				req->argv[i].len = p->arglen[i];
			}
			req->argc = p->argc;
			req->inl = 0;
			p->start += p->pos;
			p->pos = 0;
			p->argc = 0;
			p->state = ST_NEW;
			return RESP_OK;
		}
	}
}

/* Return the sticky error kind. */
enum resp_err
resp_parser_error(const struct resp_parser *p)
{
	return p->err;
}

/* Return the sticky error message. */
const char *
resp_parser_errstr(const struct resp_parser *p)
{
	return p->errstr;
}

/* Return the number of buffered bytes not yet returned as requests. */
size_t
resp_parser_pending(const struct resp_parser *p)
{
	return p->len - p->start;
}
