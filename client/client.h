/* The admin listings of librevokd, LIST, AUDIT and STATS as typed records,
 * for revokectl (internal: not in revokd.h, not exported by the shared
 * library). */
#ifndef REVOKD_CLIENT_H
#define REVOKD_CLIENT_H

#include <stddef.h>

#include "revokd.h"

#define CLIENT_CURSOR_MAX 64	/* bytes of a LIST cursor, NUL included */

/* One rule of a LIST step. The strings are NUL-terminated and may hold
 * NUL bytes (the protocol is binary safe): use the lengths. */
struct client_rule {
	const char	*kind;		/* "jti", "sub", "ban", "sid", "iss" or
					 * a kind this library does not know */
	size_t		 kindlen;	/* bytes in kind */
	const char	*iss;		/* issuer, "" for none */
	size_t		 isslen;	/* bytes in iss */
	const char	*id;		/* jti, sub or sid; "" for iss rules */
	size_t		 idlen;		/* bytes in id */
	long long	 time;		/* as revokd_last_until() */
	const char	*reason;	/* reason, "" for none */
	size_t		 reasonlen;	/* bytes in reason */
};

/* One field of a record (an AUDIT record, STATS): its name and a value
 * that is an integer or a byte string. Strings as in struct client_rule. */
struct client_field {
	const char	*name;		/* field name */
	size_t		 namelen;	/* bytes in name */
	int		 is_int;	/* the value is integer, else str */
	long long	 integer;	/* the value when is_int */
	const char	*str;		/* the value when !is_int */
	size_t		 len;		/* bytes in str */
};

/* Called for each rule of a LIST step; valid during the call only. */
typedef void (*client_rule_cb)(const struct client_rule *, void *arg);
/* Called for each record with its n fields, in the daemon's order; valid
 * during the call only. */
typedef void (*client_record_cb)(const struct client_field *fields,
    size_t n, void *arg);

/* Send one LIST step from cursor ("0": start) with TYPE kind and MATCH
 * pattern (NULL: not sent) and COUNT count (0: not sent); call cb for each
 * rule it returns and copy the next cursor into next ("0": the listing is
 * complete). A rule may come more than once: the caller removes
 * duplicates. 0, or -1 with the error on the handle (nothing written to
 * next). */
int client_list(revokd_t *, const char *kind, const char *match,
    const char *cursor, int count, char next[CLIENT_CURSOR_MAX],
    client_rule_cb cb, void *arg);
/* Send AUDIT with COUNT count and SINCE since (0: not sent) and call cb
 * for each record, newest first. Fields whose value is neither an integer
 * nor a string are left out. 0, or -1 with the error on the handle. */
int client_audit(revokd_t *, long long count, long long since,
    client_record_cb cb, void *arg);
/* Send STATS and call cb once with its fields. 0, or -1 with the error on
 * the handle. */
int client_stats(revokd_t *, client_record_cb cb, void *arg);

#endif
