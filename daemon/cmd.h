/* Command handlers: execute decoded commands against the blocklist. */
#ifndef REVOKD_CMD_H
#define REVOKD_CMD_H

#include <stdint.h>

#include "command.h"
#include "reply.h"

/* Execute cmd at time now, appending its reply to out. Returns 1 when the
 * connection is to be closed once the reply is sent (QUIT), else 0. */
int cmd_execute(const struct command *cmd, struct reply_buf *out, int64_t now);

#endif
