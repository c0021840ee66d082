/* RESP2 reply encoder into a growable buffer. */

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"

#define REPLY_INITIAL_CAP 256	/* first allocation */
#define REPLY_INT_MAX 24	/* bytes of "-9223372036854775808" and more */
#define REPLY_KEEP_MAX 65536	/* bytes kept allocated once all is sent */

/* Initialise an empty buffer. */
void
reply_init(struct reply_buf *rb)
{
	rb->data = NULL;
	rb->off = rb->len = rb->cap = 0;
	rb->oom = 0;
}

/* Free the buffer's storage. */
void
reply_free(struct reply_buf *rb)
{
	free(rb->data);
	reply_init(rb);
}

/* Return the number of bytes still to send. */
size_t
reply_pending(const struct reply_buf *rb)
{
	return rb->len - rb->off;
}

/* Move the unsent bytes to the front of the buffer. */
static void
reply_compact(struct reply_buf *rb)
{
	if (rb->off == 0)
		return;
	memmove(rb->data, rb->data + rb->off, rb->len - rb->off);
	rb->len -= rb->off;
	rb->off = 0;
}

/* Mark n bytes as sent. */
void
reply_consume(struct reply_buf *rb, size_t n)
{
	if (n > rb->len - rb->off)
		n = rb->len - rb->off;
	rb->off += n;
	if (rb->off == rb->len) {
		rb->off = rb->len = 0;
		/* Give back what a burst of replies made us allocate. */
		if (rb->cap > REPLY_KEEP_MAX) {
			free(rb->data);
			rb->data = NULL;
			rb->cap = 0;
		}
	} else if (rb->off > rb->cap / 2)
		reply_compact(rb);
}

/* Make room for need more bytes; return 0, or -1 with oom set. */
static int
reply_reserve(struct reply_buf *rb, size_t need)
{
	size_t	 ncap;
	char	*ndata;

	if (rb->oom)
		return -1;
	if (rb->cap - rb->len >= need)
		return 0;
	reply_compact(rb);
	if (rb->cap - rb->len >= need)
		return 0;
	if (need > SIZE_MAX - rb->len) {
		rb->oom = 1;
		return -1;
	}
	ncap = rb->cap ? rb->cap : REPLY_INITIAL_CAP;
	while (ncap - rb->len < need) {
		if (ncap > SIZE_MAX / 2) {
			ncap = rb->len + need;
			break;
		}
		ncap *= 2;
	}
	if ((ndata = realloc(rb->data, ncap)) == NULL) {
		rb->oom = 1;
		return -1;
	}
	rb->data = ndata;
	rb->cap = ncap;
	return 0;
}

/* Append n raw bytes; reserve must already have been done. */
static void
reply_put(struct reply_buf *rb, const void *p, size_t n)
{
	if (n > 0)
		memcpy(rb->data + rb->len, p, n);
	rb->len += n;
}

/* Format n in decimal into the end of tmp; return the first digit. */
static char *
reply_fmt_ll(char *end, long long n)
{
	unsigned long long	 u;
	char			*p = end;

	/* Negate in unsigned arithmetic so LLONG_MIN does not overflow. */
	u = n < 0 ? 0ULL - (unsigned long long)n : (unsigned long long)n;
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (n < 0)
		*--p = '-';
	return p;
}

/* Append <c><n>\r\n, the header form shared by :, $ and *. */
static void
reply_header(struct reply_buf *rb, char c, long long n, size_t extra)
{
	char	 tmp[REPLY_INT_MAX], *p;
	size_t	 len;

	p = reply_fmt_ll(tmp + sizeof tmp, n);
	len = (size_t)(tmp + sizeof tmp - p);
	if (extra > SIZE_MAX - len - 3) {
		rb->oom = 1;
		return;
	}
	if (reply_reserve(rb, 1 + len + 2 + extra) == -1)
		return;
	rb->data[rb->len++] = c;
	reply_put(rb, p, len);
	reply_put(rb, "\r\n", 2);
}

/* Append <c>s\r\n with CR and LF in s replaced by spaces. */
static void
reply_line(struct reply_buf *rb, char c, const char *s, size_t n)
{
	char	*d;
	size_t	 i;

	if (n > SIZE_MAX - 3) {
		rb->oom = 1;
		return;
	}
	if (reply_reserve(rb, n + 3) == -1)
		return;
	rb->data[rb->len++] = c;
	d = rb->data + rb->len;
	reply_put(rb, s, n);
	for (i = 0; i < n; i++) {
		if (d[i] == '\r' || d[i] == '\n')
			d[i] = ' ';
	}
	reply_put(rb, "\r\n", 2);
}

/* Append +s\r\n. */
void
reply_simple(struct reply_buf *rb, const char *s)
{
	/* The contract forbids CR/LF; replacing them keeps framing safe. */
	reply_line(rb, '+', s, strlen(s));
}

/* Append -msg\r\n with CR and LF replaced by spaces. */
void
reply_error(struct reply_buf *rb, const char *msg)
{
	reply_line(rb, '-', msg, strlen(msg));
}

/* Append an error built with a printf format. */
void
reply_errorf(struct reply_buf *rb, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;
	size_t	 i, at;
	char	*d;

	if (rb->oom)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		reply_error(rb, "ERR internal error");
		return;
	}
	/* vsnprintf writes a NUL: reserve it, then drop it. */
	if (reply_reserve(rb, 1 + (size_t)n + 2) == -1)
		return;
	rb->data[rb->len++] = '-';
	at = rb->len;
	va_start(ap, fmt);
	vsnprintf(rb->data + at, (size_t)n + 1, fmt, ap);
	va_end(ap);
	d = rb->data + at;
	for (i = 0; i < (size_t)n; i++) {
		if (d[i] == '\r' || d[i] == '\n')
			d[i] = ' ';
	}
	rb->len += (size_t)n;
	reply_put(rb, "\r\n", 2);
}

/* Append :n\r\n. */
void
reply_int(struct reply_buf *rb, long long n)
{
	reply_header(rb, ':', n, 0);
}

/* Append a bulk string $len\r\n...\r\n. */
void
reply_bulk(struct reply_buf *rb, const char *p, size_t len)
{
	if (rb->oom)
		return;
	if (len > (size_t)LLONG_MAX || len > SIZE_MAX - 2) {
		rb->oom = 1;
		return;
	}
	reply_header(rb, '$', (long long)len, len + 2);
	if (rb->oom)
		return;
	reply_put(rb, p, len);
	reply_put(rb, "\r\n", 2);
}

/* Append a bulk string from a NUL-terminated string. */
void
reply_bulkstr(struct reply_buf *rb, const char *s)
{
	reply_bulk(rb, s, strlen(s));
}

/* Append the null bulk string $-1\r\n. */
void
reply_null(struct reply_buf *rb)
{
	reply_header(rb, '$', -1, 0);
}

/* Append an array header *n\r\n. */
void
reply_array(struct reply_buf *rb, size_t n)
{
	if (n > (size_t)LLONG_MAX) {
		rb->oom = 1;
		return;
	}
	reply_header(rb, '*', (long long)n, 0);
}

/* Append len bytes of replies already encoded (a constant one). */
void
reply_raw(struct reply_buf *rb, const char *p, size_t len)
{
	if (reply_reserve(rb, len) == 0)
		reply_put(rb, p, len);
}

/* Append the unsent bytes of src (whole replies encoded elsewhere). */
void
reply_append(struct reply_buf *rb, const struct reply_buf *src)
{
	if (src->oom) {
		rb->oom = 1;
		return;
	}
	if (reply_reserve(rb, src->len - src->off) == -1)
		return;
	reply_put(rb, src->data + src->off, src->len - src->off);
}

/* Replace the oldlen bytes at offset at of the unsent bytes with the
 * newlen bytes at p. */
int
reply_splice(struct reply_buf *rb, size_t at, size_t oldlen, const char *p,
    size_t newlen)
{
	size_t	 start, tail;

	if (at > reply_pending(rb) || oldlen > reply_pending(rb) - at) {
		rb->oom = 1;	/* a caller's bug: this buffer is no good */
		return -1;
	}
	if (newlen > oldlen && reply_reserve(rb, newlen - oldlen) == -1)
		return -1;
	/* reply_reserve may have moved the unsent bytes to the front. */
	start = rb->off + at;
	tail = rb->len - start - oldlen;
	memmove(rb->data + start + newlen, rb->data + start + oldlen, tail);
	memcpy(rb->data + start, p, newlen);
	rb->len = rb->len - oldlen + newlen;
	return 0;
}
