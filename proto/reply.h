/* RESP2 reply encoder into a growable buffer. */
#ifndef REVOKD_PROTO_REPLY_H
#define REVOKD_PROTO_REPLY_H

#include <stddef.h>

/* An output buffer: bytes [off, len) are still to be sent. */
struct reply_buf {
	char	*data;	/* heap storage */
	size_t	 off;	/* first byte not yet sent */
	size_t	 len;	/* end of the encoded bytes */
	size_t	 cap;	/* allocated size */
	int	 oom;	/* sticky: an append failed for lack of memory */
};

/* Initialise an empty buffer (no allocation). */
void reply_init(struct reply_buf *);
/* Free the buffer's storage. */
void reply_free(struct reply_buf *);
/* Return the number of bytes still to send. */
size_t reply_pending(const struct reply_buf *);
/* Mark n bytes as sent; reclaims space when everything was sent. */
void reply_consume(struct reply_buf *, size_t n);
/* Append +s\r\n; s must not contain CR or LF. */
void reply_simple(struct reply_buf *, const char *s);
/* Append -msg\r\n; msg starts with the error code (ERR, NOPERM, ...);
 * CR and LF in msg are replaced by spaces. */
void reply_error(struct reply_buf *, const char *msg);
/* Append an error built with a printf format. */
void reply_errorf(struct reply_buf *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Append :n\r\n. */
void reply_int(struct reply_buf *, long long n);
/* Append a bulk string $len\r\n...\r\n (binary safe). */
void reply_bulk(struct reply_buf *, const char *p, size_t len);
/* Append a bulk string from a NUL-terminated string. */
void reply_bulkstr(struct reply_buf *, const char *s);
/* Append the null bulk string $-1\r\n. */
void reply_null(struct reply_buf *);
/* Append an array header *n\r\n; the n elements follow. */
void reply_array(struct reply_buf *, size_t n);
/* Append len bytes that already are whole RESP replies (a constant
 * reply, spelled out once). */
void reply_raw(struct reply_buf *, const char *p, size_t len);
/* Append the unsent bytes of src (whole replies encoded elsewhere, e.g.
 * the elements of an array whose length was not known in advance). */
void reply_append(struct reply_buf *, const struct reply_buf *src);
/* Replace the oldlen bytes at offset at of the unsent bytes with the
 * newlen bytes at p (a reply chosen after later ones were encoded);
 * 0, or -1 when out of range or out of memory (oom set: the buffer is not
 * to be sent; nothing changed). */
int reply_splice(struct reply_buf *, size_t at, size_t oldlen,
    const char *p, size_t newlen);

#endif
