/* The command table and the decoding of requests into typed commands. */

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "command.h"

#define COMMAND_ECHO_MAX 32	/* bytes of a client's word echoed in errors */

/* The command table; min/max argc include the name and every option. */
static const struct command_def command_table[] = {
	{ "PING",	CMD_PING,	1, 2, COMMAND_READ },
	{ "ECHO",	CMD_ECHO,	2, 2, COMMAND_READ },
	{ "CHECK",	CMD_CHECK,	2, 4, COMMAND_READ },
	{ "REVOKE",	CMD_REVOKE,	3, 7, COMMAND_WRITE },
	{ "UNREVOKE",	CMD_UNREVOKE,	2, 4, COMMAND_WRITE },
	{ "STATS",	CMD_STATS,	1, 1, COMMAND_READ },
	{ "QUIT",	CMD_QUIT,	1, 1, COMMAND_READ }
};

/* Option keywords. */
enum command_opt {
	OPT_ISS = 0x1,		/* ISS iss */
	OPT_REASON = 0x2	/* REASON text */
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

/* Decode a request into cmd; on failure write "ERR ..." into err. */
enum command_status
command_decode(const struct resp_request *req,
    const struct command_limits *limits, struct command *cmd,
    char *err, size_t errlen)
{
	static const char		 empty[] = "";
	struct command_limits		 lim;
	const struct command_def	*def;
	const struct resp_arg		*kw, *val;
	char				 word[COMMAND_ECHO_MAX + 1];
	char				 lname[16];
	unsigned			 seen = 0, opt;
	size_t				 i, npos;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	else
		errlen = 0;	/* snprintf(NULL, 0, ...) is allowed */
	memset(cmd, 0, sizeof *cmd);
	cmd->jti.ptr = cmd->iss.ptr = cmd->reason.ptr = cmd->msg.ptr = empty;

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
	case CMD_STATS:
	case CMD_QUIT:
		return COMMAND_OK;
	case CMD_REVOKE:
		npos = 3;
		break;
	default:
		npos = 2;
		break;
	}

	/* Options: keyword/value pairs after the positional arguments. */
	for (i = npos; i < req->argc; i += 2) {
		kw = &req->argv[i];
		if (command_word_is(kw->ptr, kw->len, "ISS"))
			opt = OPT_ISS;
		else if (def->id == CMD_REVOKE &&
		    command_word_is(kw->ptr, kw->len, "REASON"))
			opt = OPT_REASON;
		else {
			command_sanitize(word, kw);
			snprintf(err, errlen,
			    "ERR unknown option '%s' for '%s'", word,
			    def->name);
			return COMMAND_EARGS;
		}
		if (seen & opt) {
			snprintf(err, errlen, "ERR %s given twice",
			    opt == OPT_ISS ? "ISS" : "REASON");
			return COMMAND_EARGS;
		}
		seen |= opt;
		if (i + 1 == req->argc) {
			snprintf(err, errlen, "ERR syntax error");
			return COMMAND_EARGS;
		}
		val = &req->argv[i + 1];
		if (opt == OPT_ISS)
			cmd->iss = *val;
		else
			cmd->reason = *val;
	}

	cmd->jti = req->argv[1];
	if (cmd->jti.len > lim.max_jti) {
		snprintf(err, errlen, "ERR jti too long (max %zu bytes)",
		    lim.max_jti);
		return COMMAND_ELIMIT;
	}
	if (cmd->iss.len > lim.max_iss) {
		snprintf(err, errlen, "ERR iss too long (max %zu bytes)",
		    lim.max_iss);
		return COMMAND_ELIMIT;
	}
	if (cmd->reason.len > lim.max_reason) {
		snprintf(err, errlen, "ERR reason too long (max %zu bytes)",
		    lim.max_reason);
		return COMMAND_ELIMIT;
	}
	if (cmd->jti.len == 0) {
		snprintf(err, errlen, "ERR jti must not be empty");
		return COMMAND_EARGS;
	}
	if (def->id == CMD_REVOKE) {
		if (command_parse_exp(&req->argv[2], &cmd->exp) == -1) {
			snprintf(err, errlen, "ERR exp is not an integer");
			return COMMAND_EARGS;
		}
		if (cmd->exp <= 0) {
			snprintf(err, errlen,
			    "ERR exp must be a positive Unix time");
			return COMMAND_EARGS;
		}
	}
	return COMMAND_OK;
}
