/* RESP2 request parser: a feed/get pair over bytes, no file descriptors. */
#ifndef REVOKD_PROTO_RESP_H
#define REVOKD_PROTO_RESP_H

#include <stddef.h>

#define RESP_ARGV_CAP 32                 /* storage for arguments in a request */
#define RESP_MAX_REQUEST_DEFAULT 65536   /* bytes in one request frame */
#define RESP_MAX_ARGS_DEFAULT RESP_ARGV_CAP /* arguments in one request */

/* Return values of resp_parser_get(). */
enum resp_status {
	RESP_ERROR = -1,	/* malformed or over a limit; see resp_parser_error() */
	RESP_OK = 0,		/* one whole request returned */
	RESP_INCOMPLETE = 1	/* need more bytes */
};

/* Sticky error kinds. */
enum resp_err {
	RESP_ERR_NONE = 0,
	RESP_ERR_OOM,		/* out of memory */
	RESP_ERR_TOO_BIG,	/* request frame over max_request bytes */
	RESP_ERR_TOO_MANY_ARGS,	/* more than max_args arguments */
	RESP_ERR_BAD_LENGTH,	/* negative, overflowing or non-numeric length */
	RESP_ERR_BAD_TYPE,	/* an element that is not a bulk string */
	RESP_ERR_PROTOCOL	/* any other framing error (missing CRLF, ...) */
};

/* A view into the parser's buffer; not NUL-terminated. */
struct resp_arg {
	const char	*ptr;	/* first byte */
	size_t		 len;	/* length in bytes */
};

/* One parsed request: argv views stay valid until the next call to any
 * resp_parser_* function on the same parser. */
struct resp_request {
	size_t		 argc;			/* number of arguments, >= 1 */
	struct resp_arg	 argv[RESP_ARGV_CAP];	/* argv[0] is the command name */
	int		 inl;			/* 1 if it came as an inline command */
};

struct resp_parser;

/* Create a parser; limits of 0 take the defaults. NULL only on OOM. */
struct resp_parser *resp_parser_new(size_t max_request, size_t max_args);
/* Free a parser and its buffer. */
void resp_parser_free(struct resp_parser *);
/* Copy len bytes into the parser. Returns 0, or -1 with a sticky error. */
int resp_parser_feed(struct resp_parser *, const char *buf, size_t len);
/* Return writable space of at least want bytes for a read() straight into
 * the buffer (zero copy), its size in *avail; NULL on OOM. */
char *resp_parser_space(struct resp_parser *, size_t want, size_t *avail);
/* Account for n bytes written into the space from resp_parser_space(). */
void resp_parser_commit(struct resp_parser *, size_t n);
/* Take the next whole request out of the buffer. */
enum resp_status resp_parser_get(struct resp_parser *, struct resp_request *);
/* Return the sticky error kind. */
enum resp_err resp_parser_error(const struct resp_parser *);
/* Return the sticky error message ("" when none). */
const char *resp_parser_errstr(const struct resp_parser *);
/* Return the number of buffered bytes not yet returned as requests. */
size_t resp_parser_pending(const struct resp_parser *);

#endif
