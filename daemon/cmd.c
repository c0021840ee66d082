/* Command handlers: execute decoded commands against the rules. */
#include <fcntl.h>
#include <fnmatch.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "cmd.h"
#include "journal.h"
#include "log.h"
#include "metrics.h"
#include "repl.h"
#include "revokd.h"
#include "rules.h"

#define CMD_LIST_COUNT		100	/* LIST's default COUNT */
#define CMD_LIST_COUNT_MAX	10000	/* LIST's largest COUNT */
#define CMD_LIST_BUDGET		(256u << 10) /* journal bytes one LIST
					 * step reads at most */
#define CMD_AUDIT_COUNT		100	/* AUDIT's default COUNT */
#define CMD_AUDIT_COUNT_MAX	10000	/* AUDIT's largest COUNT */
#define CMD_UNTIL_MAX		((int64_t)UINT32_MAX - 1) /* latest UNTIL
					 * (UINT32_MAX means "no end") */
#define CMD_NOT_REVOKED	"*1\r\n$11\r\nnot_revoked\r\n" /* CHECK's miss */

/* Return the time against which exps are compared: an entry stays revoked
 * while horizon < exp, exp_grace seconds past the token's own exp. */
static int64_t
cmd_horizon(int64_t now)
{
	return now - settings.exp_grace;
}

/* Read the actor's process name once, from /proc/PID/comm. */
static void
cmd_actor_comm(struct cmd_actor *a)
{
	char	 path[64];
	ssize_t	 n;
	int	 fd;

	if (a->comm_read)
		return;
	a->comm_read = 1;
	a->comm[0] = '\0';
	if (a->pid == 0)
		return;
	snprintf(path, sizeof path, "/proc/%lu/comm", (unsigned long)a->pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return;
	n = read(fd, a->comm, sizeof a->comm - 1);
	close(fd);
	if (n <= 0) {
		a->comm[0] = '\0';
		return;
	}
	if (a->comm[n - 1] == '\n')
		n--;
	a->comm[n] = '\0';
}

/* Fill a journal record of type with time t from a write command. */
static void
cmd_record(const struct command *cmd, int type, int64_t t, int64_t now,
    struct cmd_actor *actor, struct journal_rec *rec)
{
	const char	*host = audit_hostname();

	memset(rec, 0, sizeof *rec);
	rec->type = type;
	rec->exp = t;
	rec->ts = now;
	rec->iss = cmd->iss.ptr;
	rec->isslen = cmd->iss.len;
	rec->jti = cmd->jti.ptr;
	rec->jtilen = cmd->jti.len;
	rec->reason = cmd->reason.ptr;
	rec->reasonlen = cmd->reason.len;
	cmd_actor_comm(actor);
	rec->uid = actor->uid;
	rec->gid = actor->gid;
	rec->pid = actor->pid;
	rec->comm = actor->comm;
	rec->commlen = strlen(actor->comm);
	rec->host = host;
	rec->hostlen = strlen(host);
}

/* Apply a journal record replayed at start-up to the rules. */
void
cmd_replay(const struct journal_rec *rec, void *arg)
{
	int64_t	 horizon = cmd_horizon(*(const int64_t *)arg);

	/* The trail: own writes, and the trail-only records (other
	 * daemons' writes as they were made, copies kept by compactions and
	 * reloads); a compaction's STATE copy of a rule is not a write. */
	if (rec->flags & JOURNAL_F_AUDIT) {
		audit_add(rec);
		return;
	}
	if (!(rec->flags & JOURNAL_F_REMOTE)) {
		repl_replayed(rec);
		if (!(rec->flags & JOURNAL_F_STATE))
			audit_add(rec);
	}
	if (rules_apply(rules, rec, horizon) == -1)
		fatalx("out of memory loading the journal");
}

/* Answer -LOADING and return 1 while the rules are not loaded. */
static int
cmd_loading(struct reply_buf *out)
{
	if (repl_state() != REPL_LOADING)
		return 0;
	reply_error(out, "LOADING revokd is loading the blocklist from Redis");
	return 1;
}

/* Return a rule's time as replies show it: 0 for a ban without an end. */
static long long
cmd_shown_time(enum rules_kind kind, int64_t t)
{
	return kind == RULES_BAN && t == RULES_FOREVER ? 0 : (long long)t;
}

/* CHECK jti [ISS iss] [SUB sub] [SID sid] [IAT iat]: is the token revoked
 * by any rule now? Returns how it ended. */
static enum metrics_result
cmd_check(const struct command *cmd, struct reply_buf *out, int64_t now)
{
	struct rules_query	 q;
	struct rules_match	 m;
	struct repl_stats	 rs;
	const char		*name;

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
	memset(&q, 0, sizeof q);
	q.iss = cmd->iss.ptr;
	q.isslen = cmd->iss.len;
	q.jti = cmd->jti.ptr;
	q.jtilen = cmd->jti.len;
	if (cmd->seen & COMMAND_OPT_SUB) {
		q.sub = cmd->sub.ptr;
		q.sublen = cmd->sub.len;
	}
	if (cmd->seen & COMMAND_OPT_SID) {
		q.sid = cmd->sid.ptr;
		q.sidlen = cmd->sid.len;
	}
	q.has_iat = (cmd->seen & COMMAND_OPT_IAT) != 0;
	q.iat = cmd->iat;
	if (!rules_check(rules, &q, cmd_horizon(now), &m)) {
		/* The common answer, spelled out: ["not_revoked"]. */
		reply_raw(out, CMD_NOT_REVOKED, sizeof CMD_NOT_REVOKED - 1);
		return METRICS_NOT_REVOKED;
	}
	stats.checks_revoked++;
	name = rules_kind_name(m.kind);
	reply_array(out, 4);
	reply_bulk(out, "revoked", 7);
	reply_bulkstr(out, name);
	reply_int(out, cmd_shown_time(m.kind, m.time));
	reply_bulk(out, m.reason, m.reason_len);
	return METRICS_REVOKED;
}

/* Journal a write of type with time t and queue it for Redis, before it
 * changes the rules: a record whose apply then fails only makes a restart
 * stricter, never looser. Logs it and adds it to the audit trail. 0, or
 * -1 with the error replied. */
static int
cmd_journal(const struct command *cmd, int type, int64_t t, int64_t now,
    struct cmd_actor *actor, struct reply_buf *out, struct cmd_result *res)
{
	struct journal_rec	 rec;

	cmd_record(cmd, type, t, now, actor, &rec);
	if ((res->seq = journal_append(journal, &rec)) == 0) {
		reply_error(out, "ERR out of memory");
		return -1;
	}
	rec.seq = res->seq;
	repl_write(&rec);
	res->replicated = repl_state() != REPL_OFF;
	audit_log(&rec);
	audit_add(&rec);
	return 0;
}

/* Journal, then add the rule of kind with time t: +OK, or an error.
 * Returns how it ended. */
static enum metrics_result
cmd_store(const struct command *cmd, int type, enum rules_kind kind,
    int64_t t, int64_t now, struct cmd_actor *actor, struct reply_buf *out,
    struct cmd_result *res)
{
	if (cmd_journal(cmd, type, t, now, actor, out, res) == -1)
		return METRICS_ERROR;
	if (rules_add(rules, kind, cmd->iss.ptr, cmd->iss.len, cmd->jti.ptr,
	    cmd->jti.len, t, cmd->reason.ptr, cmd->reason.len,
	    cmd_horizon(now)) == -1) {
		reply_error(out, "ERR out of memory");
		return METRICS_ERROR;
	}
	if (kind == RULES_JTI)
		stats.revoked_total++;
	reply_simple(out, "OK");
	return METRICS_OK;
}

/* REVOKE jti exp / REVOKESID sid exp [ISS iss] [REASON text]: revoke
 * until exp. Returns how it ended. */
static enum metrics_result
cmd_revoke(const struct command *cmd, struct reply_buf *out, int64_t now,
    struct cmd_actor *actor, struct cmd_result *res)
{
	int	 sid = cmd->def->id == CMD_REVOKESID;

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
	return cmd_store(cmd, sid ? JOURNAL_REVOKESID : JOURNAL_REVOKE,
	    sid ? RULES_SID : RULES_JTI, cmd->exp, now, actor, out, res);
}

/* REVOKESUB sub / REVOKEALL [ISS iss] [BEFORE ts] [REASON text]: refuse
 * the tokens issued at or before ts. Returns how it ended. */
static enum metrics_result
cmd_notbefore(const struct command *cmd, struct reply_buf *out,
    int64_t now, struct cmd_actor *actor, struct cmd_result *res)
{
	int	 all = cmd->def->id == CMD_REVOKEALL;
	int64_t	 before;

	if (cmd_loading(out))
		return METRICS_ERROR;
	before = (cmd->seen & COMMAND_OPT_BEFORE) ? cmd->before : now;
	if (before > now) {
		reply_error(out, "ERR BEFORE is in the future");
		return METRICS_ERROR;
	}
	if (before + settings.max_token_lifetime <= cmd_horizon(now)) {
		reply_simple(out, "EXPIRED");
		return METRICS_EXPIRED;
	}
	return cmd_store(cmd, all ? JOURNAL_REVOKEALL : JOURNAL_REVOKESUB,
	    all ? RULES_ISS : RULES_SUB, before, now, actor, out, res);
}

/* BAN sub [ISS iss] [UNTIL ts] [REASON text]. Returns how it ended. */
static enum metrics_result
cmd_ban(const struct command *cmd, struct reply_buf *out, int64_t now,
    struct cmd_actor *actor, struct cmd_result *res)
{
	int64_t	 until = RULES_FOREVER;

	if (cmd_loading(out))
		return METRICS_ERROR;
	if (cmd->seen & COMMAND_OPT_UNTIL) {
		if (cmd->until > CMD_UNTIL_MAX) {
			reply_error(out, "ERR UNTIL out of range");
			return METRICS_ERROR;
		}
		if (cmd->until <= cmd_horizon(now)) {
			reply_simple(out, "EXPIRED");
			return METRICS_EXPIRED;
		}
		until = cmd->until;
	}
	return cmd_store(cmd, JOURNAL_BAN, RULES_BAN, until, now, actor, out,
	    res);
}

/* UNREVOKE jti / UNBAN sub [ISS iss] [REASON text]: lift a revocation or
 * a ban, journaled before it is acknowledged. Returns how it ended. */
static enum metrics_result
cmd_lift(const struct command *cmd, struct reply_buf *out, int64_t now,
    struct cmd_actor *actor, struct cmd_result *res)
{
	int		 ban = cmd->def->id == CMD_UNBAN;
	enum rules_kind	 kind = ban ? RULES_BAN : RULES_JTI;
	int		 r;

	if (cmd_loading(out))
		return METRICS_ERROR;
	if (!rules_lookup(rules, kind, cmd->iss.ptr, cmd->iss.len,
	    cmd->jti.ptr, cmd->jti.len, cmd_horizon(now), NULL)) {
		reply_int(out, 0);
		return METRICS_NOT_FOUND;
	}
	if (cmd_journal(cmd, ban ? JOURNAL_UNBAN : JOURNAL_UNREVOKE, 0, now,
	    actor, out, res) == -1)
		return METRICS_ERROR;
	r = rules_remove(rules, kind, cmd->iss.ptr, cmd->iss.len,
	    cmd->jti.ptr, cmd->jti.len, cmd_horizon(now));
	reply_int(out, r);
	return r ? METRICS_OK : METRICS_NOT_FOUND;
}

/* One LIST step being collected. */
struct cmd_list {
	const struct command *cmd;	/* the request */
	int64_t		 horizon;	/* now - grace */
	int64_t		 count;		/* most entries to return */
	int64_t		 found;		/* entries collected */
	char		 pattern[COMMAND_MAX_JTI_DEFAULT * 4 + 1];
					/* MATCH, NUL-terminated */
	int		 match;		/* a pattern was given */
	struct reply_buf buf;		/* the entries encoded */
};

/* Visit a journal record for LIST: collect it if it is a rule in force
 * as the tables have it; return 1 once COUNT entries are collected. */
static int
cmd_list_visit(const struct journal_rec *r, void *arg)
{
	struct cmd_list		*l = arg;
	struct rules_match	 hit;
	const char		*text;
	size_t			 textlen;
	char			 name[COMMAND_MAX_JTI_DEFAULT + 1];
	int			 kind;

	if ((kind = rules_kind_of(r->type)) == -1 ||
	    r->type == JOURNAL_UNREVOKE || r->type == JOURNAL_UNBAN ||
	    (r->flags & JOURNAL_F_AUDIT))
		return 0;
	if (l->cmd->kind != COMMAND_KIND_NONE && l->cmd->kind != kind)
		return 0;
	if (!rules_lookup(rules, (enum rules_kind)kind, r->iss, r->isslen,
	    r->jti, r->jtilen, l->horizon, &hit) || hit.time != r->exp)
		return 0;
	if (l->match) {
		text = kind == RULES_ISS ? r->iss : r->jti;
		textlen = kind == RULES_ISS ? r->isslen : r->jtilen;
		/* fnmatch needs a string: an id with a NUL never matches. */
		if (textlen >= sizeof name || memchr(text, '\0', textlen))
			return 0;
		memcpy(name, text, textlen);
		name[textlen] = '\0';
		if (fnmatch(l->pattern, name, 0) != 0)
			return 0;
	}
	reply_array(&l->buf, 5);
	reply_bulkstr(&l->buf, rules_kind_name((enum rules_kind)kind));
	reply_bulk(&l->buf, r->iss, r->isslen);
	reply_bulk(&l->buf, r->jti, r->jtilen);
	reply_int(&l->buf, cmd_shown_time((enum rules_kind)kind, hit.time));
	reply_bulk(&l->buf, hit.reason, hit.reason_len);
	return ++l->found >= l->count;
}

/* LIST [TYPE kind] [MATCH pattern] [CURSOR c] [COUNT n]: one step of a
 * listing of the rules in force, read from the journal. */
static enum metrics_result
cmd_list(const struct command *cmd, struct reply_buf *out, int64_t now)
{
	struct cmd_list	 l;
	uint64_t	 cursor = cmd->cursor;
	char		 cbuf[24];

	memset(&l, 0, sizeof l);
	l.cmd = cmd;
	l.horizon = cmd_horizon(now);
	l.count = (cmd->seen & COMMAND_OPT_COUNT) ? cmd->count :
	    CMD_LIST_COUNT;
	if (l.count < 1 || l.count > CMD_LIST_COUNT_MAX) {
		reply_errorf(out, "ERR COUNT must be between 1 and %d",
		    CMD_LIST_COUNT_MAX);
		return METRICS_ERROR;
	}
	if (cmd_loading(out))
		return METRICS_ERROR;
	if ((cmd->seen & COMMAND_OPT_MATCH) && memchr(cmd->match.ptr, '\0',
	    cmd->match.len) == NULL && cmd->match.len < sizeof l.pattern) {
		/* "" is a pattern too: it matches the empty issuer's iss
		 * rule (its id is the issuer). */
		memcpy(l.pattern, cmd->match.ptr, cmd->match.len);
		l.pattern[cmd->match.len] = '\0';
		l.match = 1;
	} else if (cmd->seen & COMMAND_OPT_MATCH) {
		/* A pattern with a NUL matches nothing. */
		reply_array(out, 2);
		reply_bulk(out, "0", 1);
		reply_array(out, 0);
		return METRICS_OK;
	}
	reply_init(&l.buf);
	switch (journal_list(journal, &cursor, CMD_LIST_BUDGET,
	    cmd_list_visit, &l)) {
	case 0:
		break;
	case -2:
		reply_free(&l.buf);
		reply_error(out, "ERR invalid cursor");
		return METRICS_ERROR;
	default:
		reply_free(&l.buf);
		reply_error(out, "ERR cannot read the journal (see the log)");
		return METRICS_ERROR;
	}
	snprintf(cbuf, sizeof cbuf, "%llu", (unsigned long long)cursor);
	reply_array(out, 2);
	reply_bulkstr(out, cbuf);
	reply_array(out, (size_t)l.found);
	reply_append(out, &l.buf);
	reply_free(&l.buf);
	return METRICS_OK;
}

/* Append one AUDIT record as field/value pairs. */
static void
cmd_audit_entry(struct reply_buf *out, const struct audit_entry *e)
{
	int	 kind = rules_kind_of(e->type);
	int	 lift = e->type == JOURNAL_UNREVOKE || e->type == JOURNAL_UNBAN;

	reply_array(out, 2 * 12);
	reply_bulkstr(out, "time");
	reply_int(out, e->ts);
	reply_bulkstr(out, "command");
	reply_bulkstr(out, audit_command(e->type));
	reply_bulkstr(out, "kind");
	reply_bulkstr(out, kind == -1 ? "" :
	    rules_kind_name((enum rules_kind)kind));
	reply_bulkstr(out, "iss");
	reply_bulk(out, e->iss, e->isslen);
	reply_bulkstr(out, "target");
	reply_bulk(out, e->id, e->idlen);
	reply_bulkstr(out, "until");
	reply_int(out, lift || kind == -1 ? 0 :
	    cmd_shown_time((enum rules_kind)kind, e->exp));
	reply_bulkstr(out, "reason");
	reply_bulk(out, e->reason, e->reasonlen);
	reply_bulkstr(out, "uid");
	reply_int(out, e->uid == JOURNAL_NOBODY ? -1 : (long long)e->uid);
	reply_bulkstr(out, "gid");
	reply_int(out, e->gid == JOURNAL_NOBODY ? -1 : (long long)e->gid);
	reply_bulkstr(out, "pid");
	reply_int(out, (long long)e->pid);
	reply_bulkstr(out, "comm");
	reply_bulk(out, e->comm, e->commlen);
	reply_bulkstr(out, "host");
	reply_bulk(out, e->host, e->hostlen);
}

/* AUDIT [COUNT n] [SINCE ts]: the newest audit records, newest first. */
static enum metrics_result
cmd_audit(const struct command *cmd, struct reply_buf *out)
{
	const struct audit_entry *e;
	int64_t		 count;
	size_t		 i, n = 0, max;

	max = audit_keep() < CMD_AUDIT_COUNT_MAX ? audit_keep() :
	    CMD_AUDIT_COUNT_MAX;
	count = (cmd->seen & COMMAND_OPT_COUNT) ? cmd->count :
	    CMD_AUDIT_COUNT;
	if (count > (int64_t)max && !(cmd->seen & COMMAND_OPT_COUNT))
		count = (int64_t)max;
	/* One reply is built on the loop: a bounded one. */
	if (count < 1 || count > (int64_t)max) {
		reply_errorf(out, "ERR COUNT must be between 1 and %zu", max);
		return METRICS_ERROR;
	}
	/* Records are in time order but for clock steps: SINCE filters
	 * each one rather than stopping at the first older record. */
	for (i = 0; (e = audit_get(i)) != NULL && n < (size_t)count; i++)
		if (!(cmd->seen & COMMAND_OPT_SINCE) || e->ts >= cmd->since)
			n++;
	reply_array(out, n);
	for (i = 0, n = 0; (e = audit_get(i)) != NULL && n < (size_t)count;
	    i++) {
		if ((cmd->seen & COMMAND_OPT_SINCE) && e->ts < cmd->since)
			continue;
		cmd_audit_entry(out, e);
		n++;
	}
	return METRICS_OK;
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
	reply_array(out, 2 * 33);
	reply_bulkstr(out, "version");
	reply_bulkstr(out, REVOKD_VERSION_STRING);
	cmd_stat(out, "uptime_seconds", (long long)(now - start_time));
	cmd_stat(out, "entries", (long long)rules_count(rules, RULES_JTI));
	cmd_stat(out, "memory_bytes", (long long)rules_memory(rules));
	cmd_stat(out, "rules_sub", (long long)rules_count(rules, RULES_SUB));
	cmd_stat(out, "rules_ban", (long long)rules_count(rules, RULES_BAN));
	cmd_stat(out, "rules_sid", (long long)rules_count(rules, RULES_SID));
	cmd_stat(out, "rules_iss", (long long)rules_count(rules, RULES_ISS));
	cmd_stat(out, "audit_records", (long long)audit_count());
	cmd_stat(out, "audit_total", (long long)audit_total());
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
	reply_bulkstr(out, "redis_primary");
	reply_bulkstr(out, repl_primary());
	cmd_stat(out, "redis_failovers", (long long)rs.failovers);
	cmd_stat(out, "redis_republished", (long long)rs.republished);
}

/* Execute cmd from actor at time now, appending its reply to out. */
void
cmd_execute(const struct command *cmd, struct reply_buf *out, int64_t now,
    struct cmd_actor *actor, struct cmd_result *res)
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
	case CMD_REVOKESID:
		mr = cmd_revoke(cmd, out, now, actor, res);
		break;
	case CMD_REVOKESUB:
	case CMD_REVOKEALL:
		mr = cmd_notbefore(cmd, out, now, actor, res);
		break;
	case CMD_BAN:
		mr = cmd_ban(cmd, out, now, actor, res);
		break;
	case CMD_UNREVOKE:
	case CMD_UNBAN:
		mr = cmd_lift(cmd, out, now, actor, res);
		break;
	case CMD_LIST:
		mr = cmd_list(cmd, out, now);
		break;
	case CMD_AUDIT:
		mr = cmd_audit(cmd, out);
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
