/* Command handlers: execute decoded commands against the blocklist. */
#ifndef REVOKD_CMD_H
#define REVOKD_CMD_H

#include <stdint.h>

#include "command.h"
#include "journal.h"
#include "reply.h"

/* What executing a command asks of its connection. */
struct cmd_result {
	int		 close;		/* close once the reply is sent (QUIT) */
	uint64_t	 seq;		/* journal sequence that must be durable
					 * (and confirmed by Redis) before the
					 * reply is sent; 0: none */
	int		 replicated;	/* the reply becomes +PENDING if Redis
					 * cannot confirm the write */
};

/* Who sent a command, for the audit trail. */
struct cmd_actor {
	uint32_t	 uid;		/* peer uid at accept (SO_PEERCRED) */
	uint32_t	 gid;		/* peer gid at accept */
	uint32_t	 pid;		/* peer pid at accept (0: unknown) */
	int		 comm_read;	/* comm was looked up */
	char		 comm[JOURNAL_COMM_MAX + 1]; /* /proc/PID/comm, read
					 * at the first write, "" if not
					 * readable */
};

/* Execute cmd from actor at time now, appending its reply to out. */
void cmd_execute(const struct command *cmd, struct reply_buf *out,
    int64_t now, struct cmd_actor *actor, struct cmd_result *res);
/* Apply a journal record replayed at start-up to the rules. */
void cmd_replay(const struct journal_rec *rec, void *arg);

#endif
