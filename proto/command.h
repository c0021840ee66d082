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
	CMD_COUNT	/* number of commands */
};

#define COMMAND_READ	0x1	/* reads state only */
#define COMMAND_WRITE	0x2	/* changes the blocklist */

/* One entry of the command table. */
struct command_def {
	const char	*name;		/* upper case */
	enum command_id	 id;		/* handler id */
	int		 min_argc;	/* including the name */
	int		 max_argc;	/* including the name */
	unsigned	 flags;		/* COMMAND_READ or COMMAND_WRITE */
};

/* Limits on argument sizes. */
struct command_limits {
	size_t	max_jti;	/* bytes in a jti */
	size_t	max_iss;	/* bytes in an issuer */
	size_t	max_reason;	/* bytes in a reason */
};

/* A decoded request; the views point into the request's buffer. */
struct command {
	const struct command_def *def;	/* table entry */
	struct resp_arg	 jti;		/* CHECK, REVOKE, UNREVOKE */
	struct resp_arg	 iss;		/* ISS option; len 0 when absent */
	struct resp_arg	 reason;	/* REASON option; len 0 when absent */
	struct resp_arg	 msg;		/* PING's optional message, ECHO's */
	int		 has_msg;	/* PING was given a message */
	int64_t		 exp;		/* REVOKE: Unix seconds */
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
