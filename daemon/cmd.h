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

/* Execute cmd at time now, appending its reply to out. */
void cmd_execute(const struct command *cmd, struct reply_buf *out,
    int64_t now, struct cmd_result *res);
/* Apply a journal record replayed at start-up to the blocklist. */
void cmd_replay(const struct journal_rec *rec, void *arg);

#endif
