/* Command handlers: execute decoded commands against the blocklist. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "blocklist.h"
#include "cmd.h"
#include "journal.h"
#include "log.h"
#include "metrics.h"
#include "repl.h"
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

/* Fill a journal record from a write command. */
static void
cmd_record(const struct command *cmd, int type, int64_t now,
    struct journal_rec *rec)
{
	memset(rec, 0, sizeof *rec);
	rec->type = type;
	rec->exp = cmd->exp;
	rec->ts = now;
	rec->iss = cmd->iss.ptr;
	rec->isslen = cmd->iss.len;
	rec->jti = cmd->jti.ptr;
	rec->jtilen = cmd->jti.len;
	rec->reason = cmd->reason.ptr;
	rec->reasonlen = cmd->reason.len;
}

/* Apply a journal record replayed at start-up to the blocklist. */
void
cmd_replay(const struct journal_rec *rec, void *arg)
{
	int64_t	 horizon = cmd_horizon(*(const int64_t *)arg);

	if (!(rec->flags & JOURNAL_F_REMOTE))
		repl_replayed(rec);
	if (journal_rec_apply(blocklist, rec, horizon) == -1)
		fatalx("out of memory loading the journal");
}

/* Answer -LOADING and return 1 while the blocklist is not loaded. */
static int
cmd_loading(struct reply_buf *out)
{
	if (repl_state() != REPL_LOADING)
		return 0;
	reply_error(out, "LOADING revokd is loading the blocklist from Redis");
	return 1;
}

/* CHECK jti [ISS iss]: is (iss, jti) revoked now? Returns how it ended. */
static enum metrics_result
cmd_check(const struct command *cmd, struct reply_buf *out, int64_t now)
{
	struct blocklist_hit	 hit;
	struct repl_stats	 rs;

	if (cmd_loading(out))
		return METRICS_ERROR;
	if (settings.max_staleness > 0 && repl_state() != REPL_OFF) {
		repl_get_stats(&rs);
		if (rs.staleness_ms > (int64_t)settings.max_staleness * 1000) {
			reply_errorf(out, "STALE no confirmed contact with "
			    "Redis for %lld s (max-staleness %d s)",
			    (long long)(rs.staleness_ms / 1000),
			    settings.max_staleness);
			return METRICS_ERROR;
		}
	}
	stats.checks_total++;
	if (!blocklist_lookup(blocklist, cmd->iss.ptr, cmd->iss.len,
	    cmd->jti.ptr, cmd->jti.len, cmd_horizon(now), &hit)) {
		reply_array(out, 1);
		reply_bulk(out, "not_revoked", 11);
		return METRICS_NOT_REVOKED;
	}
	stats.checks_revoked++;
	reply_array(out, 4);
	reply_bulk(out, "revoked", 7);
	reply_bulk(out, "jti", 3);
	reply_int(out, hit.exp);
	reply_bulk(out, hit.reason, hit.reason_len);
	return METRICS_REVOKED;
}

/* Journal a write and queue it for Redis, before it changes the
 * blocklist: a record whose apply then fails only makes a restart
 * stricter, never looser. 0, or -1 with the error replied. */
static int
cmd_journal(const struct command *cmd, int type, int64_t now,
    struct reply_buf *out, struct cmd_result *res)
{
	struct journal_rec	 rec;

	cmd_record(cmd, type, now, &rec);
	if ((res->seq = journal_append(journal, &rec)) == 0) {
		reply_error(out, "ERR out of memory");
		return -1;
	}
	rec.seq = res->seq;
	repl_write(&rec);
	res->replicated = repl_state() != REPL_OFF;
	return 0;
}

/* REVOKE jti exp [ISS iss] [REASON text]: revoke until exp, journaled
 * before it is acknowledged. Returns how it ended. */
static enum metrics_result
cmd_revoke(const struct command *cmd, struct reply_buf *out, int64_t now,
    struct cmd_result *res)
{
	char			 jti[LOG_ARG_MAX + 8], iss[LOG_ARG_MAX + 8];
	int			 r;

	if (cmd_loading(out))
		return METRICS_ERROR;
	if (cmd->exp <= cmd_horizon(now)) {
		reply_simple(out, "EXPIRED");
		return METRICS_EXPIRED;
	}
	if (cmd->exp - now > settings.max_ttl) {
		reply_errorf(out, "ERR exp is more than %lld seconds away "
		    "(max-ttl)", (long long)settings.max_ttl);
		return METRICS_ERROR;
	}
	if (cmd->exp > (int64_t)UINT32_MAX) {
		reply_error(out, "ERR exp out of range");
		return METRICS_ERROR;
	}
	if (cmd_journal(cmd, JOURNAL_REVOKE, now, out, res) == -1)
		return METRICS_ERROR;
	r = blocklist_add(blocklist, cmd->iss.ptr, cmd->iss.len,
	    cmd->jti.ptr, cmd->jti.len, cmd->exp, cmd->reason.ptr,
	    cmd->reason.len, cmd_horizon(now));
	if (r == -1) {
		reply_error(out, "ERR out of memory");
		return METRICS_ERROR;
	}
	stats.revoked_total++;
	log_info("revoke iss=\"%s\" jti=\"%s\" exp=%lld%s",
	    cmd_loggable(&cmd->iss, iss, sizeof iss),
	    cmd_loggable(&cmd->jti, jti, sizeof jti), (long long)cmd->exp,
	    r == 0 ? " (already revoked)" : "");
	reply_simple(out, "OK");
	return METRICS_OK;
}

/* UNREVOKE jti [ISS iss]: lift a revocation, journaled before it is
 * acknowledged. Returns how it ended. */
static enum metrics_result
cmd_unrevoke(const struct command *cmd, struct reply_buf *out, int64_t now,
    struct cmd_result *res)
{
	char			 jti[LOG_ARG_MAX + 8], iss[LOG_ARG_MAX + 8];
	int			 r;

	if (cmd_loading(out))
		return METRICS_ERROR;
	if (!blocklist_lookup(blocklist, cmd->iss.ptr, cmd->iss.len,
	    cmd->jti.ptr, cmd->jti.len, cmd_horizon(now), NULL)) {
		reply_int(out, 0);
		return METRICS_NOT_FOUND;
	}
	if (cmd_journal(cmd, JOURNAL_UNREVOKE, now, out, res) == -1)
		return METRICS_ERROR;
	r = blocklist_remove(blocklist, cmd->iss.ptr, cmd->iss.len,
	    cmd->jti.ptr, cmd->jti.len, cmd_horizon(now));
	if (r)
		log_info("unrevoke iss=\"%s\" jti=\"%s\"",
		    cmd_loggable(&cmd->iss, iss, sizeof iss),
		    cmd_loggable(&cmd->jti, jti, sizeof jti));
	reply_int(out, r);
	return r ? METRICS_OK : METRICS_NOT_FOUND;
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
	struct journal_stats	 js;
	struct repl_stats	 rs;

	journal_get_stats(journal, &js);
	repl_get_stats(&rs);
	reply_array(out, 2 * 24);
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
	cmd_stat(out, "writes_refused", (long long)stats.refused_total);
	cmd_stat(out, "journal_log_bytes", (long long)js.log_bytes);
	cmd_stat(out, "journal_snapshot_bytes", (long long)js.snapshot_bytes);
	cmd_stat(out, "journal_syncs", (long long)js.syncs);
	cmd_stat(out, "journal_last_sync_usec", (long long)js.last_sync_usec);
	cmd_stat(out, "journal_compactions", (long long)js.compactions);
	cmd_stat(out, "journal_pending", (long long)js.pending);
	reply_bulkstr(out, "redis_state");
	reply_bulkstr(out, repl_state_name(repl_state()));
	cmd_stat(out, "redis_pending", (long long)rs.pending);
	cmd_stat(out, "redis_staleness_ms", (long long)rs.staleness_ms);
	cmd_stat(out, "redis_reloads", (long long)rs.reloads);
	cmd_stat(out, "redis_applied", (long long)rs.applied);
	cmd_stat(out, "redis_reconnects", (long long)rs.reconnects);
}

/* Execute cmd at time now, appending its reply to out. */
void
cmd_execute(const struct command *cmd, struct reply_buf *out, int64_t now,
    struct cmd_result *res)
{
	enum metrics_result	 mr = METRICS_OK;
	uint64_t		 t0;

	res->close = 0;
	res->seq = 0;
	res->replicated = 0;
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
		t0 = metrics_clock();
		mr = cmd_check(cmd, out, now);
		metrics_observe_check(metrics_clock() - t0);
		break;
	case CMD_REVOKE:
		mr = cmd_revoke(cmd, out, now, res);
		break;
	case CMD_UNREVOKE:
		mr = cmd_unrevoke(cmd, out, now, res);
		break;
	case CMD_STATS:
		cmd_stats(out, now);
		break;
	case CMD_QUIT:
		reply_simple(out, "OK");
		res->close = 1;
		break;
	case CMD_COUNT:
		return;
	}
	/* A replicated write that succeeded ends ok or pending, which only
	 * the server knows once Redis answered or failed: it counts it. */
	if (mr != METRICS_OK || !res->replicated)
		metrics_count_command(cmd->def->id, mr);
}
