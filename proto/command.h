/* The command table and the decoding of requests into typed commands. */
#ifndef REVOKD_PROTO_COMMAND_H
#define REVOKD_PROTO_COMMAND_H

#include <stdint.h>
#include "resp.h"

#define COMMAND_MAX_JTI_DEFAULT 256	/* bytes in a jti */
#define COMMAND_MAX_ISS_DEFAULT 256	/* bytes in an issuer */
#define COMMAND_MAX_REASON_DEFAULT 512	/* bytes in a reason */
#define COMMAND_ERR_MAX 256		/* bytes of a decode error message */

/* Handler ids. */
enum command_id {
	CMD_PING,
	CMD_ECHO,
	CMD_CHECK,
	CMD_REVOKE,
	CMD_UNREVOKE,
	CMD_STATS,
	CMD_QUIT,
	CMD_REVOKESUB,
	CMD_BAN,
	CMD_UNBAN,
	CMD_REVOKESID,
	CMD_REVOKEALL,
	CMD_LIST,
	CMD_AUDIT,
	CMD_COUNT	/* number of commands */
};

#define COMMAND_READ	0x1	/* reads state only */
#define COMMAND_WRITE	0x2	/* changes the blocklist */
#define COMMAND_ADMIN	0x4	/* for admins only (every WRITE is too) */

/* Option keywords, as bits of struct command_def's opts. */
#define COMMAND_OPT_ISS		0x001	/* ISS iss */
#define COMMAND_OPT_REASON	0x002	/* REASON text */
#define COMMAND_OPT_BEFORE	0x004	/* BEFORE ts */
#define COMMAND_OPT_UNTIL	0x008	/* UNTIL ts */
#define COMMAND_OPT_SUB		0x010	/* SUB sub */
#define COMMAND_OPT_SID		0x020	/* SID sid */
#define COMMAND_OPT_IAT		0x040	/* IAT iat */
#define COMMAND_OPT_TYPE	0x080	/* TYPE kind */
#define COMMAND_OPT_MATCH	0x100	/* MATCH pattern */
#define COMMAND_OPT_CURSOR	0x200	/* CURSOR c */
#define COMMAND_OPT_COUNT	0x400	/* COUNT n */
#define COMMAND_OPT_SINCE	0x800	/* SINCE ts */

/* LIST TYPE values, in the order of the daemon's rule kinds. */
#define COMMAND_KIND_NONE	(-1)	/* TYPE not given: every kind */
#define COMMAND_NKINDS		5	/* jti, sub, ban, sid, iss */

/* One entry of the command table. */
struct command_def {
	const char	*name;		/* upper case */
	enum command_id	 id;		/* handler id */
	int		 min_argc;	/* including the name */
	int		 max_argc;	/* including the name */
	unsigned	 flags;		/* COMMAND_READ, _WRITE, _ADMIN */
	int		 npos;		/* positional arguments, with the name */
	unsigned	 opts;		/* COMMAND_OPT_* it takes */
};

/* Limits on argument sizes. */
struct command_limits {
	size_t	max_jti;	/* bytes in a jti, sub, sid or MATCH pattern */
	size_t	max_iss;	/* bytes in an issuer */
	size_t	max_reason;	/* bytes in a reason */
};

/* A decoded request; the views point into the request's buffer. */
struct command {
	const struct command_def *def;	/* table entry */
	struct resp_arg	 jti;		/* the id: jti (CHECK, REVOKE,
					 * UNREVOKE), sub (REVOKESUB, BAN,
					 * UNBAN) or sid (REVOKESID); len 0
					 * for the others */
	struct resp_arg	 iss;		/* ISS option; len 0 when absent */
	struct resp_arg	 reason;	/* REASON option; len 0 when absent */
	struct resp_arg	 sub;		/* CHECK's SUB */
	struct resp_arg	 sid;		/* CHECK's SID */
	struct resp_arg	 match;		/* LIST's MATCH pattern */
	struct resp_arg	 msg;		/* PING's optional message, ECHO's */
	int		 has_msg;	/* PING was given a message */
	unsigned	 seen;		/* COMMAND_OPT_* given */
	int64_t		 exp;		/* REVOKE, REVOKESID: Unix seconds */
	int64_t		 before;	/* BEFORE (REVOKESUB, REVOKEALL) */
	int64_t		 until;		/* BAN's UNTIL */
	int64_t		 iat;		/* CHECK's IAT */
	int64_t		 since;		/* AUDIT's SINCE */
	int64_t		 count;		/* LIST's, AUDIT's COUNT (unchecked
					 * range: the daemon's limits) */
	uint64_t	 cursor;	/* LIST's CURSOR, 0 when absent */
	int		 kind;		/* LIST's TYPE: 0 .. COMMAND_NKINDS - 1
					 * in the order jti, sub, ban, sid,
					 * iss; COMMAND_KIND_NONE if absent */
};

/* Results of command_decode(). */
enum command_status {
	COMMAND_OK = 0,		/* decoded */
	COMMAND_EUNKNOWN,	/* no such command: reply -ERR, keep the client */
	COMMAND_EARGS,		/* bad arguments: reply -ERR, keep the client */
	COMMAND_ELIMIT		/* an argument over a limit: reply -ERR, close */
};

/* Fill in the default limits. */
void command_limits_default(struct command_limits *);
/* Return the (upper case) name of command id, or NULL. */
const char *command_name(enum command_id);
/* Find a command by name, case-insensitively; NULL if unknown. */
const struct command_def *command_lookup(const char *name, size_t len);
/* Decode a request into cmd; on failure write "ERR ..." into err. */
enum command_status command_decode(const struct resp_request *,
    const struct command_limits *, struct command *cmd,
    char *err, size_t errlen);

#endif
