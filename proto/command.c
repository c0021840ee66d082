/* The command table and the decoding of requests into typed commands. */

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "command.h"

#define COMMAND_ECHO_MAX 32	/* bytes of a client's word echoed in errors */

#define O_ISS	COMMAND_OPT_ISS
#define O_REASON COMMAND_OPT_REASON

/* The command table; min/max argc include the name and every option
 * (npos positionals, then a keyword/value pair per option it takes). */
static const struct command_def command_table[] = {
	{ "PING",	CMD_PING,	1, 2, COMMAND_READ, 1, 0 },
	{ "ECHO",	CMD_ECHO,	2, 2, COMMAND_READ, 2, 0 },
	{ "CHECK",	CMD_CHECK,	2, 10, COMMAND_READ, 2,
	    O_ISS | COMMAND_OPT_SUB | COMMAND_OPT_SID | COMMAND_OPT_IAT },
	{ "REVOKE",	CMD_REVOKE,	3, 7, COMMAND_WRITE, 3, O_ISS | O_REASON },
	{ "UNREVOKE",	CMD_UNREVOKE,	2, 6, COMMAND_WRITE, 2, O_ISS | O_REASON },
	{ "STATS",	CMD_STATS,	1, 1, COMMAND_READ, 1, 0 },
	{ "QUIT",	CMD_QUIT,	1, 1, COMMAND_READ, 1, 0 },
	{ "REVOKESUB",	CMD_REVOKESUB,	2, 8, COMMAND_WRITE, 2,
	    O_ISS | O_REASON | COMMAND_OPT_BEFORE },
	{ "BAN",	CMD_BAN,	2, 8, COMMAND_WRITE, 2,
	    O_ISS | O_REASON | COMMAND_OPT_UNTIL },
	{ "UNBAN",	CMD_UNBAN,	2, 6, COMMAND_WRITE, 2, O_ISS | O_REASON },
	{ "REVOKESID",	CMD_REVOKESID,	3, 7, COMMAND_WRITE, 3, O_ISS | O_REASON },
	{ "REVOKEALL",	CMD_REVOKEALL,	1, 7, COMMAND_WRITE, 1,
	    O_ISS | O_REASON | COMMAND_OPT_BEFORE },
	{ "LIST",	CMD_LIST,	1, 9, COMMAND_ADMIN, 1,
	    COMMAND_OPT_TYPE | COMMAND_OPT_MATCH | COMMAND_OPT_CURSOR |
	    COMMAND_OPT_COUNT },
	{ "AUDIT",	CMD_AUDIT,	1, 5, COMMAND_ADMIN, 1,
	    COMMAND_OPT_COUNT | COMMAND_OPT_SINCE }
};

#define COMMAND_NOPTS	12	/* option keywords */

/* Option keywords, by bit: the n-th name is bit 1 << n. */
static const char *const command_opt_names[COMMAND_NOPTS] = {
	"ISS", "REASON", "BEFORE", "UNTIL", "SUB", "SID", "IAT", "TYPE",
	"MATCH", "CURSOR", "COUNT", "SINCE"
};

/* LIST's TYPE words, in the order of the daemon's rule kinds. */
static const char *const command_kind_names[COMMAND_NKINDS] = {
	"JTI", "SUB", "BAN", "SID", "ISS"
};

/* Return the name of command id, or NULL if the table has none. */
const char *
command_name(enum command_id id)
{
	size_t	i;

	for (i = 0; i < sizeof command_table / sizeof command_table[0]; i++)
		if (command_table[i].id == id)
			return command_table[i].name;
	return NULL;
}

/* Fill in the default limits. */
void
command_limits_default(struct command_limits *l)
{
	l->max_jti = COMMAND_MAX_JTI_DEFAULT;
	l->max_iss = COMMAND_MAX_ISS_DEFAULT;
	l->max_reason = COMMAND_MAX_REASON_DEFAULT;
}

/* Return an ASCII byte in upper case. */
static int
command_upper(int c)
{
	return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

/* Compare a view with an upper-case word, ignoring ASCII case. */
static int
command_word_is(const char *p, size_t len, const char *word)
{
	size_t	 i;

	for (i = 0; i < len; i++) {
		if (word[i] == '\0' ||
		    command_upper((unsigned char)p[i]) != word[i])
			return 0;
	}
	return word[len] == '\0';
}

/* Find a command by name, case-insensitively. */
const struct command_def *
command_lookup(const char *name, size_t len)
{
	size_t	 i;

	for (i = 0; i < sizeof command_table / sizeof command_table[0]; i++) {
		if (command_word_is(name, len, command_table[i].name))
			return &command_table[i];
	}
	return NULL;
}

/* Copy at most COMMAND_ECHO_MAX bytes of a client word into dst as printable
 * ASCII ('?' for anything else), NUL-terminated. */
static void
command_sanitize(char *dst, const struct resp_arg *a)
{
	size_t	 i, n;
	int	 c;

	n = a->len < COMMAND_ECHO_MAX ? a->len : COMMAND_ECHO_MAX;
	for (i = 0; i < n; i++) {
		c = (unsigned char)a->ptr[i];
		dst[i] = (c >= 0x20 && c < 0x7f && c != '\'') ? (char)c : '?';
	}
	dst[n] = '\0';
}

/* Write the lower-case name of a command into dst. */
static void
command_lower_name(char *dst, size_t size, const char *name)
{
	size_t	 i;

	for (i = 0; name[i] != '\0' && i + 1 < size; i++)
		dst[i] = (char)(name[i] - 'A' + 'a');
	dst[i] = '\0';
}

/* Parse a Unix time: digits with an optional '-', no overflow. Returns 0,
 * or -1 if it is not an integer. */
static int
command_parse_exp(const struct resp_arg *a, int64_t *out)
{
	size_t		 i = 0;
	int		 neg = 0;
	uint64_t	 v = 0, lim;
	unsigned	 d;

	if (a->len > 0 && a->ptr[0] == '-') {
		neg = 1;
		i = 1;
	}
	if (i == a->len)
		return -1;
	/* |INT64_MIN| is INT64_MAX + 1. */
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < a->len; i++) {
		d = (unsigned char)a->ptr[i] - '0';
		if (d > 9)
			return -1;
		if (v > (lim - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (neg)
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN :
		    -(int64_t)v;
	else
		*out = (int64_t)v;
	return 0;
}

/* Parse a time or number argument named what into *out: "ERR what is
 * not an integer", or with positive "ERR what must be a positive Unix
 * time" for one <= 0. 0, or -1 with err. */
static int
command_time(const struct resp_arg *a, const char *what, int positive,
    int64_t *out, char *err, size_t errlen)
{
	if (command_parse_exp(a, out) == -1) {
		snprintf(err, errlen, "ERR %s is not an integer", what);
		return -1;
	}
	if (positive && *out <= 0) {
		snprintf(err, errlen, "ERR %s must be a positive Unix time",
		    what);
		return -1;
	}
	return 0;
}

/* Parse an unsigned 64-bit decimal (LIST's cursor); 0, or -1. */
static int
command_parse_u64(const struct resp_arg *a, uint64_t *out)
{
	uint64_t	 v = 0;
	unsigned	 d;
	size_t		 i;

	if (a->len == 0)
		return -1;
	for (i = 0; i < a->len; i++) {
		d = (unsigned char)a->ptr[i] - '0';
		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* Report an argument over its limit; returns COMMAND_ELIMIT. */
static enum command_status
command_too_long(char *err, size_t errlen, const char *what, size_t max)
{
	snprintf(err, errlen, "ERR %s too long (max %zu bytes)", what, max);
	return COMMAND_ELIMIT;
}

/* Decode a request into cmd; on failure write "ERR ..." into err. */
enum command_status
command_decode(const struct resp_request *req,
    const struct command_limits *limits, struct command *cmd,
    char *err, size_t errlen)
{
	static const char		 empty[] = "";
	struct command_limits		 lim;
	const struct command_def	*def;
	const struct resp_arg		*kw;
	struct resp_arg			 vals[COMMAND_NOPTS];
	char				 word[COMMAND_ECHO_MAX + 1];
	char				 lname[16];
	const char			*idname;
	unsigned			 opt;
	size_t				 i, n;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	else
		errlen = 0;	/* snprintf(NULL, 0, ...) is allowed */
	memset(cmd, 0, sizeof *cmd);
	cmd->jti.ptr = cmd->iss.ptr = cmd->reason.ptr = cmd->msg.ptr = empty;
	cmd->sub.ptr = cmd->sid.ptr = cmd->match.ptr = empty;
	cmd->kind = COMMAND_KIND_NONE;
	for (n = 0; n < COMMAND_NOPTS; n++) {
		vals[n].ptr = empty;
		vals[n].len = 0;
	}

	if (limits == NULL)
		command_limits_default(&lim);
	else {
		lim = *limits;
		if (lim.max_jti == 0)
			lim.max_jti = COMMAND_MAX_JTI_DEFAULT;
		if (lim.max_iss == 0)
			lim.max_iss = COMMAND_MAX_ISS_DEFAULT;
		if (lim.max_reason == 0)
			lim.max_reason = COMMAND_MAX_REASON_DEFAULT;
	}

	if (req->argc == 0) {
		snprintf(err, errlen, "ERR unknown command ''");
		return COMMAND_EUNKNOWN;
	}
	if ((def = command_lookup(req->argv[0].ptr, req->argv[0].len)) ==
	    NULL) {
		command_sanitize(word, &req->argv[0]);
		snprintf(err, errlen, "ERR unknown command '%s'", word);
		return COMMAND_EUNKNOWN;
	}
	cmd->def = def;
	if (req->argc < (size_t)def->min_argc ||
	    req->argc > (size_t)def->max_argc) {
		command_lower_name(lname, sizeof lname, def->name);
		snprintf(err, errlen,
		    "ERR wrong number of arguments for '%s' command", lname);
		return COMMAND_EARGS;
	}

	switch (def->id) {
	case CMD_PING:
		if (req->argc == 2) {
			cmd->msg = req->argv[1];
			cmd->has_msg = 1;
		}
		return COMMAND_OK;
	case CMD_ECHO:
		cmd->msg = req->argv[1];
		cmd->has_msg = 1;
		return COMMAND_OK;
	default:
		break;
	}

	/* Options: keyword/value pairs after the positional arguments. */
	for (i = (size_t)def->npos; i < req->argc; i += 2) {
		kw = &req->argv[i];
		for (n = 0; n < COMMAND_NOPTS; n++)
			if ((def->opts & 1u << n) && command_word_is(kw->ptr,
			    kw->len, command_opt_names[n]))
				break;
		if (n == COMMAND_NOPTS) {
			command_sanitize(word, kw);
			snprintf(err, errlen,
			    "ERR unknown option '%s' for '%s'", word,
			    def->name);
			return COMMAND_EARGS;
		}
		opt = 1u << n;
		if (cmd->seen & opt) {
			snprintf(err, errlen, "ERR %s given twice",
			    command_opt_names[n]);
			return COMMAND_EARGS;
		}
		cmd->seen |= opt;
		if (i + 1 == req->argc) {
			snprintf(err, errlen, "ERR syntax error");
			return COMMAND_EARGS;
		}
		vals[n] = req->argv[i + 1];
	}
	cmd->iss = vals[0];
	cmd->reason = vals[1];
	cmd->sub = vals[4];
	cmd->sid = vals[5];
	cmd->match = vals[8];

	if (def->npos >= 2)
		cmd->jti = req->argv[1];
	idname = def->id == CMD_REVOKESID ? "sid" : def->id == CMD_REVOKESUB ||
	    def->id == CMD_BAN || def->id == CMD_UNBAN ? "sub" : "jti";
	if (cmd->jti.len > lim.max_jti)
		return command_too_long(err, errlen, idname, lim.max_jti);
	if (cmd->iss.len > lim.max_iss)
		return command_too_long(err, errlen, "iss", lim.max_iss);
	if (cmd->reason.len > lim.max_reason)
		return command_too_long(err, errlen, "reason",
		    lim.max_reason);
	if (cmd->sub.len > lim.max_jti)
		return command_too_long(err, errlen, "sub", lim.max_jti);
	if (cmd->sid.len > lim.max_jti)
		return command_too_long(err, errlen, "sid", lim.max_jti);
	if (cmd->match.len > lim.max_jti)
		return command_too_long(err, errlen, "pattern", lim.max_jti);
	if (def->npos >= 2 && cmd->jti.len == 0) {
		snprintf(err, errlen, "ERR %s must not be empty", idname);
		return COMMAND_EARGS;
	}
	if ((cmd->seen & COMMAND_OPT_SUB) && cmd->sub.len == 0) {
		snprintf(err, errlen, "ERR sub must not be empty");
		return COMMAND_EARGS;
	}
	if ((cmd->seen & COMMAND_OPT_SID) && cmd->sid.len == 0) {
		snprintf(err, errlen, "ERR sid must not be empty");
		return COMMAND_EARGS;
	}
	if (def->npos == 3 && command_time(&req->argv[2], "exp", 1,
	    &cmd->exp, err, errlen) == -1)
		return COMMAND_EARGS;
	if (((cmd->seen & COMMAND_OPT_BEFORE) && command_time(&vals[2],
	    "BEFORE", 1, &cmd->before, err, errlen) == -1) ||
	    ((cmd->seen & COMMAND_OPT_UNTIL) && command_time(&vals[3],
	    "UNTIL", 1, &cmd->until, err, errlen) == -1) ||
	    ((cmd->seen & COMMAND_OPT_IAT) && command_time(&vals[6],
	    "IAT", 0, &cmd->iat, err, errlen) == -1) ||
	    ((cmd->seen & COMMAND_OPT_COUNT) && command_time(&vals[10],
	    "COUNT", 0, &cmd->count, err, errlen) == -1) ||
	    ((cmd->seen & COMMAND_OPT_SINCE) && command_time(&vals[11],
	    "SINCE", 1, &cmd->since, err, errlen) == -1))
		return COMMAND_EARGS;
	if ((cmd->seen & COMMAND_OPT_CURSOR) &&
	    command_parse_u64(&vals[9], &cmd->cursor) == -1) {
		snprintf(err, errlen, "ERR invalid cursor");
		return COMMAND_EARGS;
	}
	if (cmd->seen & COMMAND_OPT_TYPE) {
		for (n = 0; n < COMMAND_NKINDS; n++)
			if (command_word_is(vals[7].ptr, vals[7].len,
			    command_kind_names[n]))
				break;
		if (n == COMMAND_NKINDS) {
			command_sanitize(word, &vals[7]);
			snprintf(err, errlen, "ERR unknown rule kind '%s'",
			    word);
			return COMMAND_EARGS;
		}
		cmd->kind = (int)n;
	}
	if (def->id == CMD_REVOKEALL && !(cmd->seen & COMMAND_OPT_BEFORE)) {
		snprintf(err, errlen, "ERR BEFORE is required");
		return COMMAND_EARGS;
	}
	return COMMAND_OK;
}
