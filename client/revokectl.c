/*
 * revokectl: the admin command line for revokd.
 *
 * Output is one line whose first word is the outcome's stable string.
 * A write the daemon stored but could not yet commit to Redis (+PENDING)
 * is a success: "ok revoked (replication pending) until=N" or
 * "unrevoked (replication pending)", exit 0. A daemon still loading its
 * blocklist or out of touch with Redis (-LOADING, -STALE) is
 * "daemon_unavailable MESSAGE", exit 3, as a daemon that is down, with
 * its message on stderr too.
 * Exit status: 0 done / not revoked / valid, 1 revoked or invalid,
 * 2 usage error (or the daemon refused the request), 3 daemon unreachable,
 * loading or stale, or protocol error.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "duration.h"
#include "revokd.h"
#include "token.h"

#define EXIT_DONE	0	/* done, not revoked, valid */
#define EXIT_REVOKED	1	/* revoked or invalid */
#define EXIT_USAGE	2	/* usage error, request refused */
#define EXIT_UNREACH	3	/* daemon unreachable, loading or stale;
				 * protocol error */

#define TOKEN_READ_MAX	(1024 * 1024)	/* bytes read for a token on stdin */
#define TIMEOUT_MAX_MS	3600000		/* longest -t: an hour */
#define STATS_LINE_MAX	4096		/* bytes of the stats line */
#define PENDING_NOTE	" (replication pending)" /* after a +PENDING write */

static const char *socket_path;	/* -s, else $REVOKD_SOCKET, else default */
static int timeout_ms = 2000;	/* -t */

/* Print usage and exit 2. */
static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: revokectl [-s socket] [-t timeout_ms] command [args]\n"
	    "commands:\n"
	    "  ping\n"
	    "  check JTI [--iss I]\n"
	    "  revoke JTI (--exp UNIX | --ttl DURATION) [--iss I] "
	    "[--reason TEXT]\n"
	    "  revoke-token TOKEN|- [--reason TEXT]\n"
	    "  unrevoke JTI [--iss I]\n"
	    "  stats\n"
	    "  verify TOKEN|- --alg ALG --key FILE [--leeway SECONDS] "
	    "[--iss I] [--aud A]\n"
	    "DURATION: 900, 15m, 2h, 7d. TOKEN '-' reads it from stdin.\n"
	    "socket: -s, else $REVOKD_SOCKET, else %s\n"
	    "output: one line, the outcome first (ok, expired, unrevoked,\n"
	    "  not_found, not_revoked, revoked, valid, daemon_unavailable, ...);\n"
	    "  \"ok revoked\" and \"unrevoked\" are followed by \""
	    "(replication pending)\"\n"
	    "  when the daemon stored the change but has not reached Redis "
	    "yet\n"
	    "exit: 0 done, not revoked, valid; 1 revoked, invalid; "
	    "2 usage error,\n"
	    "  refused; 3 daemon down, loading or stale, protocol error\n",
	    REVOKD_DEFAULT_SOCKET);
	exit(EXIT_USAGE);
}

/* Print an error line and exit with code. */
static void __attribute__((noreturn, format(printf, 2, 3)))
die(int code, const char *fmt, ...)
{
	va_list	 ap;

	fputs("error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

/* Say on stderr why a daemon that is up cannot answer (loading, stale). */
static void
note_unavailable(revokd_t *h)
{
	if (revokd_err(h) == REVOKD_ERR_UNAVAILABLE)
		fprintf(stderr, "error: daemon cannot answer now: %s\n",
		    revokd_errstr(h));
}

/* Exit after a failed library call on h: one line on stdout, the
 * outcome's stable string first, and the matching exit status. */
static void __attribute__((noreturn))
die_client(revokd_t *h)
{
	const char	*what, *msg = revokd_errstr(h);
	int		 code;

	switch (revokd_err(h)) {
	case REVOKD_ERR_ARG:
		what = "usage_error";
		code = EXIT_USAGE;
		break;
	case REVOKD_ERR_SERVER:
		/* The daemon refused the request as given; its own trouble
		 * (out of memory) is not the user's. */
		if (strncmp(msg, "ERR out of memory", 17) == 0) {
			what = "daemon_error";
			code = EXIT_UNREACH;
		} else {
			what = "refused";
			code = EXIT_USAGE;
		}
		break;
	case REVOKD_ERR_PROTOCOL:
		what = "protocol_error";
		code = EXIT_UNREACH;
		break;
	case REVOKD_ERR_UNAVAILABLE:
		/* Up but loading or stale: to the caller as good as down. */
		note_unavailable(h);
		what = "daemon_unavailable";
		code = EXIT_UNREACH;
		break;
	default:
		what = "daemon_unavailable";
		code = EXIT_UNREACH;
		break;
	}
	printf("%s %s\n", what, msg);
	exit(code);
}

/* Return the token named by arg: arg itself, or stdin for "-". The
 * caller frees it. Trailing white space from stdin is dropped. */
static char *
read_token(const char *arg, size_t *len)
{
	char	*buf;
	size_t	 n = 0, r;

	if (strcmp(arg, "-") != 0) {
		*len = strlen(arg);
		if ((buf = strdup(arg)) == NULL)
			die(EXIT_UNREACH, "out of memory");
		return buf;
	}
	if ((buf = malloc(TOKEN_READ_MAX + 1)) == NULL)
		die(EXIT_UNREACH, "out of memory");
	while (n < TOKEN_READ_MAX &&
	    (r = fread(buf + n, 1, TOKEN_READ_MAX - n, stdin)) > 0)
		n += r;
	if (ferror(stdin))
		die(EXIT_USAGE, "reading the token from stdin failed");
	if (n == TOKEN_READ_MAX && fgetc(stdin) != EOF)
		die(EXIT_USAGE, "token on stdin is over %d bytes",
		    TOKEN_READ_MAX);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
	    buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		n--;
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* Options of the subcommands; not all apply to each. */
struct opts {
	const char	*iss;		/* --iss */
	const char	*reason;	/* --reason */
	const char	*alg;		/* --alg */
	const char	*key;		/* --key */
	const char	*aud;		/* --aud */
	long long	 exp;		/* --exp, or now + --ttl */
	long long	 leeway;	/* --leeway, -1 when not given */
	int		 have_exp;	/* --exp or --ttl given */
};

/* Parse the options of a subcommand; positional args are left in
 * argv[optind..]. allowed lists the option letters the command takes. */
static void
parse_opts(int argc, char **argv, const char *allowed, struct opts *o)
{
	static const struct option longopts[] = {
		{ "iss",	required_argument, NULL, 'i' },
		{ "reason",	required_argument, NULL, 'r' },
		{ "exp",	required_argument, NULL, 'e' },
		{ "ttl",	required_argument, NULL, 'T' },
		{ "alg",	required_argument, NULL, 'a' },
		{ "key",	required_argument, NULL, 'k' },
		{ "leeway",	required_argument, NULL, 'l' },
		{ "aud",	required_argument, NULL, 'A' },
		{ NULL,		0,		   NULL, 0 }
	};
	long long	 v;
	int		 ch;

	memset(o, 0, sizeof *o);
	o->leeway = -1;
	/* 0, not 1: glibc then forgets main()'s "+" (stop at the first
	 * non-option) and permutes, so options may follow the arguments. */
	optind = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (ch == '?' || strchr(allowed, ch) == NULL) {
			if (ch != '?')
				fprintf(stderr, "revokectl: %s: option %s not "
				    "allowed\n", argv[0], argv[optind - 1]);
			usage();
		}
		switch (ch) {
		case 'i':
			o->iss = optarg;
			break;
		case 'r':
			o->reason = optarg;
			break;
		case 'e':
			if (o->have_exp || (v = number_parse(optarg)) < 1)
				die(EXIT_USAGE, "--exp takes Unix seconds, "
				    "once, without --ttl");
			o->exp = v;
			o->have_exp = 1;
			break;
		case 'T':
			if (o->have_exp || (v = duration_parse(optarg)) < 1)
				die(EXIT_USAGE, "--ttl takes a duration "
				    "(900, 15m, 2h, 7d), once, without --exp");
			o->exp = (long long)time(NULL) + v;
			o->have_exp = 1;
			break;
		case 'a':
			o->alg = optarg;
			break;
		case 'k':
			o->key = optarg;
			break;
		case 'l':
			if ((o->leeway = number_parse(optarg)) < 0)
				die(EXIT_USAGE, "--leeway takes seconds");
			break;
		case 'A':
			o->aud = optarg;
			break;
		}
	}
}

/* Require exactly n positional arguments after the options. */
static void
want_args(int argc, int n)
{
	if (argc - optind != n)
		usage();
}

/* ping */
static int
cmd_ping(revokd_t *h)
{
	if (revokd_ping(h) == -1)
		die_client(h);
	printf("pong\n");
	return EXIT_DONE;
}

/* check JTI [--iss I] */
static int
cmd_check(revokd_t *h, int argc, char **argv)
{
	struct opts	 o;
	int		 r;

	parse_opts(argc, argv, "i", &o);
	want_args(argc, 1);
	if ((r = revokd_check(h, o.iss, argv[optind])) == -1)
		die_client(h);
	if (r == 0) {
		printf("not_revoked\n");
		return EXIT_DONE;
	}
	printf("revoked rule=%s until=%lld reason=\"%s\"\n",
	    revokd_last_rule(h), revokd_last_until(h), revokd_last_reason(h));
	return EXIT_REVOKED;
}

/* Revoke (iss, jti) until exp and print the outcome. */
static int
do_revoke(revokd_t *h, const char *iss, const char *jti, long long exp,
    const char *reason)
{
	int	 r;

	if ((r = revokd_revoke(h, iss, jti, exp, reason)) == -1)
		die_client(h);
	if (r == 1)
		printf("expired exp=%lld (past, with the daemon's grace; "
		    "nothing stored)\n",
		    exp);
	else
		printf("ok revoked%s until=%lld\n", r == 2 ? PENDING_NOTE : "",
		    exp);
	return EXIT_DONE;
}

/* revoke JTI (--exp UNIX | --ttl DURATION) [--iss I] [--reason TEXT] */
static int
cmd_revoke(revokd_t *h, int argc, char **argv)
{
	struct opts	 o;

	parse_opts(argc, argv, "ireT", &o);
	want_args(argc, 1);
	if (!o.have_exp)
		die(EXIT_USAGE, "revoke needs --exp or --ttl");
	return do_revoke(h, o.iss, argv[optind], o.exp, o.reason);
}

/* revoke-token TOKEN|- [--reason TEXT]: revoke by the token's own claims;
 * the signature is not checked (an admin needs no key to revoke). */
static int
cmd_revoke_token(revokd_t *h, int argc, char **argv)
{
	struct token_claims	 c;
	struct opts		 o;
	char			*tok, err[128];
	size_t			 len;
	int			 ret;

	parse_opts(argc, argv, "r", &o);
	want_args(argc, 1);
	tok = read_token(argv[optind], &len);
	if (token_peek(tok, len, TOKEN_MAX_LEN_DEFAULT, &c, err,
	    sizeof err) == -1) {
		token_claims_free(&c);
		free(tok);
		die(EXIT_USAGE, "token: %s", err);
	}
	free(tok);
	if (c.jti == NULL || *c.jti == '\0' || !c.has_exp) {
		ret = c.jti == NULL || *c.jti == '\0';
		token_claims_free(&c);
		die(EXIT_USAGE, "token has no %s", ret ? "jti" : "exp");
	}
	ret = do_revoke(h, c.iss, c.jti, c.exp, o.reason);
	token_claims_free(&c);
	return ret;
}

/* unrevoke JTI [--iss I] */
static int
cmd_unrevoke(revokd_t *h, int argc, char **argv)
{
	struct opts	 o;
	int		 r;

	parse_opts(argc, argv, "i", &o);
	want_args(argc, 1);
	if ((r = revokd_unrevoke(h, o.iss, argv[optind])) == -1)
		die_client(h);
	if (r == 0)
		printf("not_found\n");
	else
		printf("unrevoked%s\n", r == 2 ? PENDING_NOTE : "");
	return EXIT_DONE;
}

/* verify TOKEN|- --alg ALG --key FILE [--leeway S] [--iss I] [--aud A] */
static int
cmd_verify(revokd_t *h, int argc, char **argv)
{
	revokd_verifier_t	*v;
	revokd_outcome_t	 out;
	struct opts		 o;
	char			*tok;
	size_t			 len;

	parse_opts(argc, argv, "aklAi", &o);
	want_args(argc, 1);
	if (o.alg == NULL || o.key == NULL)
		die(EXIT_USAGE, "verify needs --alg and --key");
	if ((v = revokd_verifier_new()) == NULL)
		die(EXIT_UNREACH, "out of memory");
	if (revokd_verifier_set_key_file(v, o.alg, o.key) == -1 ||
	    (o.leeway >= 0 &&
	    revokd_verifier_set_leeway(v, (unsigned)o.leeway) == -1) ||
	    (o.iss != NULL && revokd_verifier_set_issuer(v, o.iss) == -1) ||
	    (o.aud != NULL && revokd_verifier_set_audience(v, o.aud) == -1))
		die(EXIT_USAGE, "%s", revokd_verifier_errstr(v));
	tok = read_token(argv[optind], &len);
	out = revokd_verify_check(h, v, tok, len);
	free(tok);
	revokd_verifier_free(v);
	switch (out) {
	case REVOKD_VALID:
		printf("valid\n");
		return EXIT_DONE;
	case REVOKD_UNAVAILABLE:
	case REVOKD_PROTOCOL_ERROR:
		note_unavailable(h);
		printf("%s %s\n", revokd_outcome_str(out), revokd_errstr(h));
		return EXIT_UNREACH;
	case REVOKD_REVOKED:
		printf("revoked rule=%s until=%lld reason=\"%s\"\n",
		    revokd_last_rule(h), revokd_last_until(h),
		    revokd_last_reason(h));
		return EXIT_REVOKED;
	default:
		printf("%s\n", revokd_outcome_str(out));
		return EXIT_REVOKED;
	}
}

/* stats: every field on one line. */
static int
cmd_stats(revokd_t *h)
{
	char	 line[STATS_LINE_MAX];

	if (revokd_stats(h, line, sizeof line) == -1)
		die_client(h);
	printf("stats %s\n", line);
	return EXIT_DONE;
}

/* Run one revokectl command. */
int
main(int argc, char **argv)
{
	revokd_t	*h;
	const char	*cmd;
	long long	 v;
	int		 ch, ret;

	while ((ch = getopt(argc, argv, "+hs:t:V")) != -1) {
		switch (ch) {
		case 's':
			socket_path = optarg;
			break;
		case 't':
			if ((v = number_parse(optarg)) < 1 || v > TIMEOUT_MAX_MS)
				die(EXIT_USAGE, "-t takes milliseconds");
			timeout_ms = (int)v;
			break;
		case 'V':
			printf("revokectl %s\n", revokd_version());
			return EXIT_DONE;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	cmd = argv[0];
	if ((h = revokd_new(socket_path, timeout_ms)) == NULL)
		die(EXIT_UNREACH, "out of memory");
	if (strcmp(cmd, "ping") == 0 && argc == 1)
		ret = cmd_ping(h);
	else if (strcmp(cmd, "stats") == 0 && argc == 1)
		ret = cmd_stats(h);
	else if (strcmp(cmd, "check") == 0)
		ret = cmd_check(h, argc, argv);
	else if (strcmp(cmd, "revoke") == 0)
		ret = cmd_revoke(h, argc, argv);
	else if (strcmp(cmd, "revoke-token") == 0)
		ret = cmd_revoke_token(h, argc, argv);
	else if (strcmp(cmd, "unrevoke") == 0)
		ret = cmd_unrevoke(h, argc, argv);
	else if (strcmp(cmd, "verify") == 0)
		ret = cmd_verify(h, argc, argv);
	else
		usage();
	revokd_free(h);
	return ret;
}
