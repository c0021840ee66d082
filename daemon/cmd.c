/* Command handlers: execute decoded commands against the blocklist. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "blocklist.h"
#include "cmd.h"
#include "log.h"
#include "revokd.h"

#define LOG_ARG_MAX 64	/* bytes of an argument shown in a log line */

/* Return the time against which exps are compared: an entry stays revoked
 * while horizon < exp, exp_grace seconds past the token's own exp. */
static int64_t
cmd_horizon(int64_t now)
{
	return now - settings.exp_grace;
}

/* Copy a printable, truncated form of an argument into buf for logging. */
static const char *
cmd_loggable(const struct resp_arg *a, char *buf, size_t size)
{
	size_t	 i, n = 0;

	for (i = 0; i < a->len && n + 4 < size && i < LOG_ARG_MAX; i++) {
		unsigned char ch = (unsigned char)a->ptr[i];

		buf[n++] = (ch >= 0x20 && ch < 0x7f && ch != '"') ? ch : '?';
	}
	if (i < a->len && n + 4 < size) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return buf;
}

/* CHECK jti [ISS iss]: is (iss, jti) revoked now? */
static void
cmd_check(const struct command *cmd, struct reply_buf *out, int64_t now)
{
	struct blocklist_hit	 hit;

	stats.checks_total++;
	if (!blocklist_lookup(blocklist, cmd->iss.ptr, cmd->iss.len,
	    cmd->jti.ptr, cmd->jti.len, cmd_horizon(now), &hit)) {
		reply_array(out, 1);
		reply_bulk(out, "not_revoked", 11);
		return;
	}
	stats.checks_revoked++;
	reply_array(out, 4);
	reply_bulk(out, "revoked", 7);
	reply_bulk(out, "jti", 3);
	reply_int(out, hit.exp);
	reply_bulk(out, hit.reason, hit.reason_len);
}

/* REVOKE jti exp [ISS iss] [REASON text]: revoke until exp. */
static void
cmd_revoke(const struct command *cmd, struct reply_buf *out, int64_t now)
{
	char	 jti[LOG_ARG_MAX + 8], iss[LOG_ARG_MAX + 8];
	int	 r;

	if (cmd->exp <= cmd_horizon(now)) {
		reply_simple(out, "EXPIRED");
		return;
	}
	if (cmd->exp - now > settings.max_ttl) {
		reply_errorf(out, "ERR exp is more than %lld seconds away "
		    "(max-ttl)", (long long)settings.max_ttl);
		return;
	}
	if (cmd->exp > (int64_t)UINT32_MAX) {
		reply_error(out, "ERR exp out of range");
		return;
	}
	r = blocklist_add(blocklist, cmd->iss.ptr, cmd->iss.len,
	    cmd->jti.ptr, cmd->jti.len, cmd->exp, cmd->reason.ptr,
	    cmd->reason.len, cmd_horizon(now));
	if (r == -1) {
		reply_error(out, "ERR out of memory");
		return;
	}
	stats.revoked_total++;
	log_info("revoke iss=\"%s\" jti=\"%s\" exp=%lld%s",
	    cmd_loggable(&cmd->iss, iss, sizeof iss),
	    cmd_loggable(&cmd->jti, jti, sizeof jti), (long long)cmd->exp,
	    r == 0 ? " (already revoked)" : "");
	reply_simple(out, "OK");
}

/* UNREVOKE jti [ISS iss]: lift a revocation. */
static void
cmd_unrevoke(const struct command *cmd, struct reply_buf *out, int64_t now)
{
	char	 jti[LOG_ARG_MAX + 8], iss[LOG_ARG_MAX + 8];
	int	 r;

	r = blocklist_remove(blocklist, cmd->iss.ptr, cmd->iss.len,
	    cmd->jti.ptr, cmd->jti.len, cmd_horizon(now));
	if (r)
		log_info("unrevoke iss=\"%s\" jti=\"%s\"",
		    cmd_loggable(&cmd->iss, iss, sizeof iss),
		    cmd_loggable(&cmd->jti, jti, sizeof jti));
	reply_int(out, r);
}

/* Append one STATS field with an integer value. */
static void
cmd_stat(struct reply_buf *out, const char *name, long long value)
{
	reply_bulkstr(out, name);
	reply_int(out, value);
}

/* STATS: counters as field/value pairs. */
static void
cmd_stats(struct reply_buf *out, int64_t now)
{
	reply_array(out, 2 * 11);
	reply_bulkstr(out, "version");
	reply_bulkstr(out, REVOKD_VERSION_STRING);
	cmd_stat(out, "uptime_seconds", (long long)(now - start_time));
	cmd_stat(out, "entries", (long long)blocklist_count(blocklist));
	cmd_stat(out, "memory_bytes", (long long)blocklist_memory(blocklist));
	cmd_stat(out, "connections", (long long)stats.connections);
	cmd_stat(out, "connections_total", (long long)stats.connections_total);
	cmd_stat(out, "commands_total", (long long)stats.commands_total);
	cmd_stat(out, "clients_dropped", (long long)stats.clients_dropped);
	cmd_stat(out, "checks_total", (long long)stats.checks_total);
	cmd_stat(out, "checks_revoked", (long long)stats.checks_revoked);
	cmd_stat(out, "revokes_total", (long long)stats.revoked_total);
}

/* Execute cmd at time now, appending its reply to out. */
int
cmd_execute(const struct command *cmd, struct reply_buf *out, int64_t now)
{
	switch (cmd->def->id) {
	case CMD_PING:
		if (cmd->has_msg)
			reply_bulk(out, cmd->msg.ptr, cmd->msg.len);
		else
			reply_simple(out, "PONG");
		break;
	case CMD_ECHO:
		reply_bulk(out, cmd->msg.ptr, cmd->msg.len);
		break;
	case CMD_CHECK:
		cmd_check(cmd, out, now);
		break;
	case CMD_REVOKE:
		cmd_revoke(cmd, out, now);
		break;
	case CMD_UNREVOKE:
		cmd_unrevoke(cmd, out, now);
		break;
	case CMD_STATS:
		cmd_stats(out, now);
		break;
	case CMD_QUIT:
		reply_simple(out, "OK");
		return 1;
	case CMD_COUNT:
		break;
	}
	return 0;
}
