/*
 * revokectl: the admin command line for revokd.
 *
 * Output is one line whose first word is the outcome's stable string
 * (list and audit: one line per rule or record; revoke-token --everywhere:
 * one line per write). Times are shown as ISO 8601 UTC. With --json every
 * command prints one JSON object instead (list and audit: one JSON array
 * of objects), compact, on one line; the shapes are in revokectl(1).
 * A write the daemon stored but could not yet commit to Redis (+PENDING)
 * is a success: "ok revoked (replication pending) until=T" or
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
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "client.h"
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
#define LIST_STEP	1000		/* COUNT of each LIST step */
#define SUB_MAX		256		/* bytes the daemon takes in a sub */
#define TIME_BUF	32		/* bytes of a formatted time */
#define JSON_FLAGS	(JSON_COMPACT | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER)

static const char *socket_path;	/* -s, else $REVOKD_SOCKET, else default */
static int timeout_ms = 2000;	/* -t */
static int json_out;		/* --json: JSON on stdout */

/* Print usage and exit 2. */
static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: revokectl [-s socket] [-t timeout_ms] [--json] command "
	    "[args]\n"
	    "commands:\n"
	    "  ping\n"
	    "  check JTI [--iss I] [--sub S] [--sid S] [--iat TIME]\n"
	    "  revoke JTI (--exp TIME | --ttl DURATION) [--iss I] "
	    "[--reason TEXT]\n"
	    "  revoke-token TOKEN|- [--everywhere] [--reason TEXT]\n"
	    "  unrevoke JTI [--iss I] [--reason TEXT]\n"
	    "  revoke-sub SUB [--before TIME] [--iss I] [--reason TEXT] "
	    "(alias logout-all)\n"
	    "  ban SUB [--until TIME | --for DURATION] [--iss I] "
	    "[--reason TEXT]\n"
	    "  unban SUB [--iss I] [--reason TEXT]\n"
	    "  revoke-session SID (--exp TIME | --ttl DURATION) [--iss I] "
	    "[--reason TEXT]\n"
	    "  revoke-all --before TIME [--iss I] [--reason TEXT]\n"
	    "  list [--type KIND] [--match GLOB] [--iss I]\n"
	    "  audit [--count N] [--since TIME]\n"
	    "  stats\n"
	    "  verify TOKEN|- --alg ALG --key FILE [--leeway SECONDS] "
	    "[--iss I] [--aud A]\n"
	    "every command takes --json: one JSON object on stdout (list, "
	    "audit: an array).\n"
	    "TIME: Unix seconds, or ISO 8601 2026-12-01T10:00:00Z (or "
	    "+HH:MM, -HH:MM).\n"
	    "DURATION: 900, 15m, 2h, 7d. TOKEN '-' reads it from stdin.\n"
	    "socket: -s, else $REVOKD_SOCKET, else %s\n"
	    "output: one line, the outcome first (ok, expired, unrevoked,\n"
	    "  unbanned, not_found, not_revoked, revoked, valid,\n"
	    "  daemon_unavailable, ...); \"ok ...\", \"unrevoked\" and "
	    "\"unbanned\"\n"
	    "  say \"(replication pending)\" when the daemon stored the "
	    "change but has\n"
	    "  not reached Redis yet\n"
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

/* Exit for a failed allocation. */
static void __attribute__((noreturn))
die_oom(void)
{
	die(EXIT_UNREACH, "out of memory");
}

/* --- Output -------------------------------------------------------- */

/* Return the length of the valid UTF-8 sequence at p (n bytes left), or 0
 * when it is not one (overlong, surrogate, past U+10FFFF, cut short). */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	size_t		 len, i;
	unsigned long	 cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		cp = p[0] & 0x07;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

/* Print len bytes of s for a terminal, on one line: printable ASCII and
 * valid UTF-8 as they are; '"', '\' and every other byte (controls,
 * C1 controls, invalid UTF-8) as \" \\ \xNN. Text from the daemon was
 * written by any admin and must not drive the terminal. */
static void
put_text(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, n;

	while (i < len) {
		n = utf8_len(p + i, len - i);
		if (n == 1 && p[i] >= 0x20 && p[i] < 0x7f) {
			if (p[i] == '"' || p[i] == '\\')
				putchar('\\');
			putchar(p[i]);
		} else if (n > 1 && !(n == 2 && p[i] == 0xc2 &&
		    p[i + 1] < 0xa0)) {
			fwrite(p + i, 1, n, stdout);
		} else {
			printf("\\x%02x", p[i]);
			n = 1;
		}
		i += n;
	}
}

/* Print len bytes of s in double quotes, as put_text() does. */
static void
put_quoted(const char *s, size_t len)
{
	putchar('"');
	put_text(s, len);
	putchar('"');
}

/* Format Unix seconds as ISO 8601 UTC ("2026-12-01T10:00:00Z") into buf
 * (TIME_BUF bytes); plain digits when the time cannot be shown so. */
static const char *
fmt_time(long long t, char *buf)
{
	struct tm	 tm;
	time_t		 tt = (time_t)t;

	if (t < 0 || (long long)tt != t || gmtime_r(&tt, &tm) == NULL ||
	    tm.tm_year > 9999 - 1900 ||
	    strftime(buf, TIME_BUF, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, TIME_BUF, "%lld", t);
	return buf;
}

/* Return a JSON string of len bytes of s: invalid UTF-8 becomes U+FFFD
 * (JSON holds text only; the daemon's strings are bytes). */
static json_t *
jstr(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	json_t			*js;
	char			*buf;
	size_t			 i = 0, n, o = 0;

	if (len > (SIZE_MAX - 1) / 3)
		die_oom();
	/* Each bad byte becomes the 3 bytes of U+FFFD. */
	if ((buf = malloc(len * 3 + 1)) == NULL)
		die_oom();
	while (i < len) {
		if ((n = utf8_len(p + i, len - i)) == 0) {
			memcpy(buf + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
			continue;
		}
		memcpy(buf + o, p + i, n);
		o += n;
		i += n;
	}
	js = json_stringn(buf, o);
	free(buf);
	if (js == NULL)
		die_oom();
	return js;
}

/* Return a JSON string of the C string s, or null for NULL. */
static json_t *
jcstr(const char *s)
{
	return s == NULL ? json_null() : jstr(s, strlen(s));
}

/* Return a JSON integer. */
static json_t *
jint(long long v)
{
	json_t	*js;

	if ((js = json_integer((json_int_t)v)) == NULL)
		die_oom();
	return js;
}

/* Set obj[key] to v, taking v's reference. */
static void
jset(json_t *obj, const char *key, json_t *v)
{
	if (v == NULL || json_object_set_new(obj, key, v) == -1)
		die_oom();
}

/* Return a new JSON object {"outcome": outcome}. */
static json_t *
jobj(const char *outcome)
{
	json_t	*obj;

	if ((obj = json_object()) == NULL)
		die_oom();
	if (outcome != NULL)
		jset(obj, "outcome", jcstr(outcome));
	return obj;
}

/* Print v on one line on stdout and release it. */
static void
jprint(json_t *v)
{
	if (json_dumpf(v, stdout, JSON_FLAGS) == -1)
		die(EXIT_UNREACH, "writing JSON failed");
	putchar('\n');
	json_decref(v);
}

/* Say on stderr why a daemon that is up cannot answer (loading, stale). */
static void
note_unavailable(revokd_t *h)
{
	if (revokd_err(h) == REVOKD_ERR_UNAVAILABLE)
		fprintf(stderr, "error: daemon cannot answer now: %s\n",
		    revokd_errstr(h));
}

/* Return the outcome string and exit status of a failed library call. */
static const char *
failure(revokd_t *h, int *code)
{
	switch (revokd_err(h)) {
	case REVOKD_ERR_ARG:
		*code = EXIT_USAGE;
		return "usage_error";
	case REVOKD_ERR_SERVER:
		/* The daemon refused the request as given; its own trouble
		 * (out of memory) is not the user's. */
		if (strncmp(revokd_errstr(h), "ERR out of memory", 17) == 0) {
			*code = EXIT_UNREACH;
			return "daemon_error";
		}
		*code = EXIT_USAGE;
		return "refused";
	case REVOKD_ERR_PROTOCOL:
		*code = EXIT_UNREACH;
		return "protocol_error";
	case REVOKD_ERR_UNAVAILABLE:	/* up but loading or stale */
	default:
		*code = EXIT_UNREACH;
		return "daemon_unavailable";
	}
}

/* Report a failed call on h as the outcome what: one line on stdout, what
 * first, or with --json the object {"outcome", "error"} (into obj under
 * key when obj is not NULL: the report of a command that did part of its
 * work), and the message on stderr. */
static void
report_failure(revokd_t *h, const char *what, json_t *obj, const char *key)
{
	json_t	*err;

	note_unavailable(h);
	if (!json_out) {
		printf("%s %s\n", what, revokd_errstr(h));
		return;
	}
	if (revokd_err(h) != REVOKD_ERR_UNAVAILABLE)
		fprintf(stderr, "error: %s %s\n", what, revokd_errstr(h));
	err = jobj(what);
	jset(err, "error", jcstr(revokd_errstr(h)));
	if (obj != NULL) {
		jset(obj, key, err);
		err = obj;
	}
	jprint(err);
}

/* Exit after a failed library call on h, reported by report_failure(),
 * with the matching exit status. */
static void __attribute__((noreturn))
die_client_in(revokd_t *h, json_t *obj, const char *key)
{
	const char	*what;
	int		 code;

	what = failure(h, &code);
	report_failure(h, what, obj, key);
	exit(code);
}

/* Exit after a failed library call on h (see die_client_in()). */
static void __attribute__((noreturn))
die_client(revokd_t *h)
{
	die_client_in(h, NULL, NULL);
}

/* --- Times --------------------------------------------------------- */

/* Return the value of the n decimal digits at s, or -1. */
static int
digits(const char *s, int n)
{
	int	 v = 0, i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* Return the days from 1970-01-01 to y-m-d in the proleptic Gregorian
 * calendar (H. Hinnant's days_from_civil). */
static long long
days_from_civil(long long y, int m, int d)
{
	long long	 era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Parse a time: Unix seconds, or ISO 8601 "YYYY-MM-DDTHH:MM:SS" followed
 * by "Z" or an offset "+HH:MM" / "-HH:MM" (RFC 3339 without fractions).
 * Returns Unix seconds, or -1 if s is not one or is before 1970. */
static long long
time_parse(const char *s)
{
	static const int	 mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31,
				    30, 31, 30, 31 };
	size_t			 len = strlen(s);
	int			 y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	long long		 t;

	if (len > 0 && s[0] >= '0' && s[0] <= '9' &&
	    strspn(s, "0123456789") == len)
		return number_parse(s);
	if (len != 20 && len != 25)
		return -1;
	if (s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
	    s[13] != ':' || s[16] != ':')
		return -1;
	if ((y = digits(s, 4)) < 0 || (mo = digits(s + 5, 2)) < 1 ||
	    mo > 12 || (d = digits(s + 8, 2)) < 1 ||
	    (h = digits(s + 11, 2)) < 0 || h > 23 ||
	    (mi = digits(s + 14, 2)) < 0 || mi > 59 ||
	    (sec = digits(s + 17, 2)) < 0 || sec > 59)
		return -1;
	if (d > mdays[mo - 1] + (mo == 2 && y % 4 == 0 &&
	    (y % 100 != 0 || y % 400 == 0)))
		return -1;
	if (len == 20 && s[19] != 'Z' && s[19] != 'z')
		return -1;
	if (len == 25) {
		if (s[19] == '+')
			sign = 1;
		else if (s[19] == '-')
			sign = -1;
		else
			return -1;
		if (s[22] != ':' || (oh = digits(s + 20, 2)) < 0 || oh > 23 ||
		    (om = digits(s + 23, 2)) < 0 || om > 59)
			return -1;
	}
	/* An offset is how far local time is ahead of UTC. */
	t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec -
	    sign * (oh * 3600 + om * 60);
	return t < 0 ? -1 : t;
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
	const char	*sub;		/* --sub */
	const char	*sid;		/* --sid */
	const char	*type;		/* --type */
	const char	*match;		/* --match */
	long long	 exp;		/* --exp, or now + --ttl */
	long long	 leeway;	/* --leeway, -1 when not given */
	long long	 iat;		/* --iat, REVOKD_NO_IAT when not given */
	long long	 before;	/* --before, 0 when not given */
	long long	 until;		/* --until, or now + --for; 0: none */
	long long	 count;		/* --count, 0 when not given */
	long long	 since;		/* --since, 0 when not given */
	int		 have_exp;	/* --exp or --ttl given */
	int		 everywhere;	/* --everywhere */
};

/* Parse a time option's value (Unix seconds or ISO 8601) of at least min;
 * exit 2 naming the option if it is not one. */
static long long
time_opt(const char *name, const char *arg, long long min)
{
	long long	 v;

	if ((v = time_parse(arg)) < min)
		die(EXIT_USAGE, "--%s takes a time: Unix seconds or ISO 8601 "
		    "like 2026-12-01T10:00:00Z (or +HH:MM, -HH:MM)%s", name,
		    min > 0 ? ", after 1970" : "");
	return v;
}

/* Parse a duration option's value into now + the duration; exit 2 naming
 * the option if it is not one. */
static long long
duration_opt(const char *name, const char *arg)
{
	long long	 v;

	if ((v = duration_parse(arg)) < 1 || v > LLONG_MAX - time(NULL))
		die(EXIT_USAGE, "--%s takes a duration (900, 15m, 2h, 7d)",
		    name);
	return (long long)time(NULL) + v;
}

/* Parse the options of a subcommand; positional args are left in
 * argv[optind..]. allowed lists the option letters the command takes
 * (--json, 'j', is always allowed). */
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
		{ "sub",	required_argument, NULL, 'S' },
		{ "sid",	required_argument, NULL, 'D' },
		{ "iat",	required_argument, NULL, 'I' },
		{ "before",	required_argument, NULL, 'B' },
		{ "until",	required_argument, NULL, 'U' },
		{ "for",	required_argument, NULL, 'F' },
		{ "type",	required_argument, NULL, 'y' },
		{ "match",	required_argument, NULL, 'm' },
		{ "count",	required_argument, NULL, 'c' },
		{ "since",	required_argument, NULL, 'n' },
		{ "everywhere",	no_argument,	   NULL, 'E' },
		{ "json",	no_argument,	   NULL, 'j' },
		{ NULL,		0,		   NULL, 0 }
	};
	int	 ch, have_until = 0;

	memset(o, 0, sizeof *o);
	o->leeway = -1;
	o->iat = REVOKD_NO_IAT;
	/* 0, not 1: glibc then forgets main()'s "+" (stop at the first
	 * non-option) and permutes, so options may follow the arguments. */
	optind = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (ch == '?' || (ch != 'j' && strchr(allowed, ch) == NULL)) {
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
			if (o->have_exp || (o->exp = time_parse(optarg)) < 1)
				die(EXIT_USAGE, "--exp takes a time (Unix "
				    "seconds or ISO 8601 like "
				    "2026-12-01T10:00:00Z), once, without "
				    "--ttl");
			o->have_exp = 1;
			break;
		case 'T':
			if (o->have_exp)
				die(EXIT_USAGE, "--ttl takes a duration "
				    "(900, 15m, 2h, 7d), once, without --exp");
			o->exp = duration_opt("ttl", optarg);
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
		case 'S':
			o->sub = optarg;
			break;
		case 'D':
			o->sid = optarg;
			break;
		case 'I':
			o->iat = time_opt("iat", optarg, 0);
			break;
		case 'B':
			o->before = time_opt("before", optarg, 1);
			break;
		case 'U':
		case 'F':
			if (have_until++)
				die(EXIT_USAGE, "--until and --for: one of "
				    "them, once");
			o->until = ch == 'U' ? time_opt("until", optarg, 1) :
			    duration_opt("for", optarg);
			break;
		case 'y':
			o->type = optarg;
			break;
		case 'm':
			o->match = optarg;
			break;
		case 'c':
			if ((o->count = number_parse(optarg)) < 1)
				die(EXIT_USAGE, "--count takes a number, at "
				    "least 1");
			break;
		case 'n':
			o->since = time_opt("since", optarg, 1);
			break;
		case 'E':
			o->everywhere = 1;
			break;
		case 'j':
			json_out = 1;
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

/* --- Reports ------------------------------------------------------- */

/* What a write makes or lifts, for its report. */
struct write_kind {
	const char	*rule;		/* the rule's kind: "jti", "sub", ... */
	const char	*done;		/* word after "ok": "revoked", ... */
	const char	*tname;		/* its time: "until" or "before" */
	const char	*expired;	/* name of the time when expired */
	const char	*zero;		/* the time 0 in words: "now", "none" */
};

static const struct write_kind wk_jti = {
	"jti", "revoked", "until", "exp", NULL };
static const struct write_kind wk_sub = {
	"sub", "revoked_sub", "before", "before", "now" };
static const struct write_kind wk_ban = {
	"ban", "banned", "until", "until", "none" };
static const struct write_kind wk_sid = {
	"sid", "revoked_sid", "until", "exp", NULL };
static const struct write_kind wk_iss = {
	"iss", "revoked_iss", "before", "before", NULL };

/* Report the result r of a write that stores a rule with time t, in
 * words, or into a new JSON object returned (printed by the caller). */
static json_t *
report_store(const struct write_kind *k, int r, long long t)
{
	char	 buf[TIME_BUF];
	json_t	*obj;
	int	 now = t == 0 && k->zero != NULL && strcmp(k->zero, "now") == 0;

	if (json_out) {
		obj = jobj(r == 1 ? "expired" : "ok");
		jset(obj, "rule", jcstr(k->rule));
		if (r != 1)
			jset(obj, "pending", json_boolean(r == 2));
		/* "now" is the daemon's clock: unknown here. */
		jset(obj, k->tname, now ? json_null() : jint(t));
		return obj;
	}
	if (r == 1) {
		printf("expired %s=%s (%s; nothing stored)\n", k->expired,
		    fmt_time(t, buf), strcmp(k->tname, "before") == 0 ?
		    "with the daemon's lifetime and grace, every token it "
		    "could refuse has expired" :
		    "past, with the daemon's grace");
		return NULL;
	}
	printf("ok %s%s %s=%s\n", k->done, r == 2 ? PENDING_NOTE : "",
	    k->tname, t == 0 && k->zero != NULL ? k->zero : fmt_time(t, buf));
	return NULL;
}

/* Report the result r of a write that removes a rule ("unrevoked",
 * "unbanned"), in words or JSON. */
static void
report_remove(const char *rule, const char *done, int r)
{
	json_t	*obj;

	if (json_out) {
		obj = jobj(r == 0 ? "not_found" : done);
		jset(obj, "rule", jcstr(rule));
		if (r != 0)
			jset(obj, "pending", json_boolean(r == 2));
		jprint(obj);
		return;
	}
	if (r == 0)
		printf("not_found\n");
	else
		printf("%s%s\n", done, r == 2 ? PENDING_NOTE : "");
}

/* Print the verdict "revoked" of the last check on h, with the rule that
 * matched, and return EXIT_REVOKED. */
static int
report_revoked(revokd_t *h)
{
	const char	*rule = revokd_last_rule(h), *reason;
	long long	 t = revokd_last_until(h);
	char		 buf[TIME_BUF];
	json_t		*obj;

	reason = revokd_last_reason(h);
	if (json_out) {
		obj = jobj("revoked");
		jset(obj, "rule", jcstr(rule));
		jset(obj, "until", jint(t));
		jset(obj, "reason", jcstr(reason));
		jprint(obj);
		return EXIT_REVOKED;
	}
	fputs("revoked rule=", stdout);
	put_text(rule, strlen(rule));
	/* A not-before rule refuses tokens issued up to its time. */
	if (strcmp(rule, "sub") == 0 || strcmp(rule, "iss") == 0)
		printf(" before=%s", fmt_time(t, buf));
	else if (strcmp(rule, "ban") == 0 && t == 0)
		printf(" until=none");
	else
		printf(" until=%s", fmt_time(t, buf));
	fputs(" reason=", stdout);
	put_quoted(reason, strlen(reason));
	putchar('\n');
	return EXIT_REVOKED;
}

/* Print a bare outcome ("pong", "not_revoked", "valid", ...). */
static void
report_word(const char *outcome)
{
	if (json_out)
		jprint(jobj(outcome));
	else
		printf("%s\n", outcome);
}

/* --- Commands ------------------------------------------------------ */

/* ping */
static int
cmd_ping(revokd_t *h, int argc, char **argv)
{
	struct opts	 o;

	parse_opts(argc, argv, "", &o);
	want_args(argc, 0);
	if (revokd_ping(h) == -1)
		die_client(h);
	report_word("pong");
	return EXIT_DONE;
}

/* check JTI [--iss I] [--sub S] [--sid S] [--iat TIME] */
static int
cmd_check(revokd_t *h, int argc, char **argv)
{
	struct opts	 o;
	int		 r;

	parse_opts(argc, argv, "iSDI", &o);
	want_args(argc, 1);
	if ((r = revokd_check_claims(h, o.iss, argv[optind], o.sub, o.sid,
	    o.iat)) == -1)
		die_client(h);
	if (r == 1)
		return report_revoked(h);
	report_word("not_revoked");
	return EXIT_DONE;
}

/* Revoke (iss, jti) until exp; report it, in JSON into the object
 * returned (the caller prints it), in words on stdout. */
static json_t *
do_revoke(revokd_t *h, const char *iss, const char *jti, long long exp,
    const char *reason)
{
	int	 r;

	if ((r = revokd_revoke(h, iss, jti, exp, reason)) == -1)
		die_client(h);
	return report_store(&wk_jti, r, exp);
}

/* revoke JTI (--exp TIME | --ttl DURATION) [--iss I] [--reason TEXT] */
static int
cmd_revoke(revokd_t *h, int argc, char **argv)
{
	struct opts	 o;
	json_t		*obj;

	parse_opts(argc, argv, "ireT", &o);
	want_args(argc, 1);
	if (!o.have_exp)
		die(EXIT_USAGE, "revoke needs --exp or --ttl");
	if ((obj = do_revoke(h, o.iss, argv[optind], o.exp, o.reason)) != NULL)
		jprint(obj);
	return EXIT_DONE;
}

/* revoke-token TOKEN|- [--everywhere] [--reason TEXT]: revoke by the
 * token's own claims; the signature is not checked (an admin needs no key
 * to revoke). --everywhere also logs its subject out as of its iat: the
 * token and every other one of the subject issued up to it. */
static int
cmd_revoke_token(revokd_t *h, int argc, char **argv)
{
	struct token_claims	 c;
	struct opts		 o;
	char			*tok, err[128];
	const char		*missing = NULL;
	size_t			 len;
	json_t			*obj, *sub;
	int			 r;

	parse_opts(argc, argv, "rE", &o);
	want_args(argc, 1);
	tok = read_token(argv[optind], &len);
	if (token_peek(tok, len, TOKEN_MAX_LEN_DEFAULT, &c, err,
	    sizeof err) == -1) {
		token_claims_free(&c);
		free(tok);
		die(EXIT_USAGE, "token: %s", err);
	}
	free(tok);
	if (c.jti == NULL || *c.jti == '\0')
		missing = "jti";
	else if (!c.has_exp)
		missing = "exp";
	else if (o.everywhere && (c.sub == NULL || *c.sub == '\0'))
		missing = "sub (--everywhere revokes the subject)";
	else if (o.everywhere && (!c.has_iat || c.iat < 1))
		missing = "iat (--everywhere revokes the subject's tokens "
		    "issued up to it; use revoke-sub)";
	if (missing != NULL) {
		token_claims_free(&c);
		die(EXIT_USAGE, "token has no %s", missing);
	}
	/* Every check before the first write: none or both are made. */
	if (o.everywhere && strlen(c.sub) > SUB_MAX) {
		token_claims_free(&c);
		die(EXIT_USAGE, "token's sub is over %d bytes", SUB_MAX);
	}
	obj = do_revoke(h, c.iss, c.jti, c.exp, o.reason);
	if (obj != NULL) {
		jset(obj, "jti", jcstr(c.jti));
		jset(obj, "iss", jcstr(c.iss));
	}
	if (o.everywhere) {
		if ((r = revokd_revoke_sub(h, c.iss, c.sub, c.iat,
		    o.reason)) == -1)
			die_client_in(h, obj, "everywhere");
		if ((sub = report_store(&wk_sub, r, c.iat)) != NULL) {
			jset(sub, "sub", jcstr(c.sub));
			jset(obj, "everywhere", sub);
		}
	}
	if (obj != NULL)
		jprint(obj);
	token_claims_free(&c);
	return EXIT_DONE;
}

/* unrevoke JTI [--iss I] [--reason TEXT] */
static int
cmd_unrevoke(revokd_t *h, int argc, char **argv)
{
	struct opts	 o;
	int		 r;

	parse_opts(argc, argv, "ir", &o);
	want_args(argc, 1);
	if ((r = revokd_unrevoke_reason(h, o.iss, argv[optind],
	    o.reason)) == -1)
		die_client(h);
	report_remove("jti", "unrevoked", r);
	return EXIT_DONE;
}

/* Print the report of a store made, if it is JSON; return EXIT_DONE. */
static int
done_store(const struct write_kind *k, int r, long long t)
{
	json_t	*obj;

	if ((obj = report_store(k, r, t)) != NULL)
		jprint(obj);
	return EXIT_DONE;
}

/* revoke-sub SUB [--before TIME] [--iss I] [--reason TEXT] (logout-all) */
static int
cmd_revoke_sub(revokd_t *h, int argc, char **argv)
{
	struct opts	 o;
	int		 r;

	parse_opts(argc, argv, "iBr", &o);
	want_args(argc, 1);
	if ((r = revokd_revoke_sub(h, o.iss, argv[optind], o.before,
	    o.reason)) == -1)
		die_client(h);
	return done_store(&wk_sub, r, o.before);
}

/* ban SUB [--until TIME | --for DURATION] [--iss I] [--reason TEXT] */
static int
cmd_ban(revokd_t *h, int argc, char **argv)
{
	struct opts	 o;
	int		 r;

	parse_opts(argc, argv, "iUFr", &o);
	want_args(argc, 1);
	if ((r = revokd_ban(h, o.iss, argv[optind], o.until, o.reason)) == -1)
		die_client(h);
	return done_store(&wk_ban, r, o.until);
}

/* unban SUB [--iss I] [--reason TEXT] */
static int
cmd_unban(revokd_t *h, int argc, char **argv)
{
	struct opts	 o;
	int		 r;

	parse_opts(argc, argv, "ir", &o);
	want_args(argc, 1);
	if ((r = revokd_unban(h, o.iss, argv[optind], o.reason)) == -1)
		die_client(h);
	report_remove("ban", "unbanned", r);
	return EXIT_DONE;
}

/* revoke-session SID (--exp TIME | --ttl DURATION) [--iss I]
 * [--reason TEXT] */
static int
cmd_revoke_session(revokd_t *h, int argc, char **argv)
{
	struct opts	 o;
	int		 r;

	parse_opts(argc, argv, "ieTr", &o);
	want_args(argc, 1);
	if (!o.have_exp)
		die(EXIT_USAGE, "revoke-session needs --exp or --ttl");
	if ((r = revokd_revoke_session(h, o.iss, argv[optind], o.exp,
	    o.reason)) == -1)
		die_client(h);
	return done_store(&wk_sid, r, o.exp);
}

/* revoke-all --before TIME [--iss I] [--reason TEXT] */
static int
cmd_revoke_all(revokd_t *h, int argc, char **argv)
{
	struct opts	 o;
	int		 r;

	parse_opts(argc, argv, "iBr", &o);
	want_args(argc, 0);
	/* Never implied: this refuses every token the issuer ever signed. */
	if (o.before == 0)
		die(EXIT_USAGE, "revoke-all needs --before");
	if ((r = revokd_revoke_all(h, o.iss, o.before, o.reason)) == -1)
		die_client(h);
	return done_store(&wk_iss, r, o.before);
}

/* A rule kept by list: a copy of what the daemon sent. */
struct list_rule {
	char		*str[4];	/* kind, iss, id, reason (NUL-ended) */
	size_t		 len[4];	/* their bytes */
	long long	 time;		/* as CHECK's until */
	size_t		 seq;		/* order received: the later wins */
	int		 rank;		/* the kind's place in jti, sub, ban,
					 * sid, iss; 5 for a kind unknown */
};

/* The rules list collects. */
struct list_ctx {
	struct list_rule *v;		/* the rules */
	size_t		 n;		/* rules in v */
	size_t		 cap;		/* room in v */
	const char	*iss;		/* --iss: only this issuer, or NULL */
};

/* Return a NUL-terminated copy of len bytes of s. */
static char *
memdup0(const char *s, size_t len)
{
	char	*p;

	if ((p = malloc(len + 1)) == NULL)
		die_oom();
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

/* Keep a rule of a LIST step (client_rule_cb). */
static void
list_collect(const struct client_rule *r, void *arg)
{
	static const char *const kinds[] = { "jti", "sub", "ban", "sid",
	    "iss" };
	struct list_ctx		*ctx = arg;
	struct list_rule	*lr;

	if (ctx->iss != NULL && (r->isslen != strlen(ctx->iss) ||
	    memcmp(r->iss, ctx->iss, r->isslen) != 0))
		return;
	if (ctx->n == ctx->cap) {
		ctx->cap = ctx->cap ? ctx->cap * 2 : 64;
		if (ctx->cap > SIZE_MAX / sizeof *ctx->v ||
		    (lr = realloc(ctx->v, ctx->cap * sizeof *ctx->v)) == NULL)
			die_oom();
		ctx->v = lr;
	}
	lr = &ctx->v[ctx->n];
	lr->str[0] = memdup0(r->kind, r->kindlen);
	lr->len[0] = r->kindlen;
	lr->str[1] = memdup0(r->iss, r->isslen);
	lr->len[1] = r->isslen;
	lr->str[2] = memdup0(r->id, r->idlen);
	lr->len[2] = r->idlen;
	lr->str[3] = memdup0(r->reason, r->reasonlen);
	lr->len[3] = r->reasonlen;
	lr->time = r->time;
	lr->seq = ctx->n;
	for (lr->rank = 0; lr->rank < 5; lr->rank++)
		if (strcmp(lr->str[0], kinds[lr->rank]) == 0)
			break;
	ctx->n++;
}

/* Compare two byte strings: by their common bytes, then by length. */
static int
bytes_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int	 c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/* Order rules by identity (kind, iss, id), then as received (qsort). */
static int
list_cmp(const void *pa, const void *pb)
{
	const struct list_rule	*a = pa, *b = pb;
	int			 i, c;

	if (a->rank != b->rank)
		return a->rank < b->rank ? -1 : 1;
	for (i = 0; i < 3; i++)
		if ((c = bytes_cmp(a->str[i], a->len[i], b->str[i],
		    b->len[i])) != 0)
			return c;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Return whether two rules are the same rule (kind, iss, id). */
static int
list_same(const struct list_rule *a, const struct list_rule *b)
{
	int	 i;

	for (i = 0; i < 3; i++)
		if (bytes_cmp(a->str[i], a->len[i], b->str[i], b->len[i]))
			return 0;
	return 1;
}

/* Print one rule on a line: KIND iss="I" id="ID" until=T reason="R". */
static void
list_print(const struct list_rule *r)
{
	char	 buf[TIME_BUF];

	put_text(r->str[0], r->len[0]);
	fputs(" iss=", stdout);
	put_quoted(r->str[1], r->len[1]);
	fputs(" id=", stdout);
	put_quoted(r->str[2], r->len[2]);
	if (r->rank == 1 || r->rank == 4)	/* sub, iss: not-before */
		printf(" before=%s", fmt_time(r->time, buf));
	else if (r->rank == 2 && r->time == 0)	/* a ban without an end */
		printf(" until=none");
	else if (r->rank < 5)
		printf(" until=%s", fmt_time(r->time, buf));
	else
		printf(" time=%s", fmt_time(r->time, buf));
	fputs(" reason=", stdout);
	put_quoted(r->str[3], r->len[3]);
	putchar('\n');
}

/* Return one rule as a JSON object. */
static json_t *
list_json(const struct list_rule *r)
{
	json_t	*obj = jobj(NULL);

	jset(obj, "kind", jstr(r->str[0], r->len[0]));
	jset(obj, "iss", jstr(r->str[1], r->len[1]));
	jset(obj, "id", jstr(r->str[2], r->len[2]));
	jset(obj, "time", jint(r->time));
	jset(obj, "reason", jstr(r->str[3], r->len[3]));
	return obj;
}

/* list [--type KIND] [--match GLOB] [--iss I]: every rule in force, once
 * each, ordered by kind (jti, sub, ban, sid, iss), issuer and id. */
static int
cmd_list(revokd_t *h, int argc, char **argv)
{
	struct list_ctx	 ctx;
	struct opts	 o;
	char		 cursor[CLIENT_CURSOR_MAX] = "0";
	char		 next[CLIENT_CURSOR_MAX];
	json_t		*arr = NULL;
	size_t		 i;
	int		 j;

	parse_opts(argc, argv, "ymi", &o);
	want_args(argc, 0);
	memset(&ctx, 0, sizeof ctx);
	ctx.iss = o.iss;
	/* Like SCAN: step until the cursor is 0 again. */
	do {
		if (client_list(h, o.type, o.match, cursor, LIST_STEP, next,
		    list_collect, &ctx) == -1)
			die_client(h);
		memcpy(cursor, next, sizeof cursor);
	} while (strcmp(cursor, "0") != 0);
	/* A rule may come more than once: keep its latest copy. */
	if (ctx.n > 0)
		qsort(ctx.v, ctx.n, sizeof *ctx.v, list_cmp);
	if (json_out && (arr = json_array()) == NULL)
		die_oom();
	for (i = 0; i < ctx.n; i++) {
		if (i + 1 == ctx.n || !list_same(&ctx.v[i], &ctx.v[i + 1])) {
			if (arr != NULL) {
				if (json_array_append_new(arr,
				    list_json(&ctx.v[i])) == -1)
					die_oom();
			} else
				list_print(&ctx.v[i]);
		}
		for (j = 0; j < 4; j++)
			free(ctx.v[i].str[j]);
	}
	free(ctx.v);
	if (arr != NULL)
		jprint(arr);
	return EXIT_DONE;
}

/* Return whether a field name can be a JSON key: text, no NUL. */
static int
json_key_ok(const struct client_field *f)
{
	size_t	 i = 0, n;

	if (strlen(f->name) != f->namelen)
		return 0;
	while (i < f->namelen) {
		if ((n = utf8_len((const unsigned char *)f->name + i,
		    f->namelen - i)) == 0)
			return 0;
		i += n;
	}
	return 1;
}

/* Return a record's fields as a JSON object; fields whose name cannot be
 * a key are left out. */
static json_t *
fields_json(const struct client_field *f, size_t n)
{
	json_t	*obj = jobj(NULL);
	size_t	 i;

	for (i = 0; i < n; i++)
		if (json_key_ok(&f[i]))
			jset(obj, f[i].name, f[i].is_int ? jint(f[i].integer) :
			    jstr(f[i].str, f[i].len));
	return obj;
}

/* Return the field of a record named name, or NULL. */
static const struct client_field *
field_get(const struct client_field *f, size_t n, const char *name)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (f[i].namelen == strlen(name) &&
		    memcmp(f[i].name, name, f[i].namelen) == 0)
			return &f[i];
	return NULL;
}

/* Print one audit record (client_record_cb): its time and command, then
 * every other field as name=value in the daemon's order; or, with --json,
 * append it to the array arg. */
static void
audit_record(const struct client_field *f, size_t n, void *arg)
{
	const struct client_field	*t, *c;
	char				 buf[TIME_BUF];
	size_t				 i;

	if (json_out) {
		if (json_array_append_new(arg, fields_json(f, n)) == -1)
			die_oom();
		return;
	}
	t = field_get(f, n, "time");
	c = field_get(f, n, "command");
	fputs(t != NULL && t->is_int ? fmt_time(t->integer, buf) : "-",
	    stdout);
	putchar(' ');
	if (c != NULL && !c->is_int)
		put_text(c->str, c->len);
	else
		putchar('-');
	for (i = 0; i < n; i++) {
		if (&f[i] == t || &f[i] == c)
			continue;
		putchar(' ');
		put_text(f[i].name, f[i].namelen);
		putchar('=');
		if (!f[i].is_int)
			put_quoted(f[i].str, f[i].len);
		else if (f[i].namelen == 5 && memcmp(f[i].name, "until", 5) == 0)
			fputs(f[i].integer == 0 ? "none" :
			    fmt_time(f[i].integer, buf), stdout);
		else
			printf("%lld", f[i].integer);
	}
	putchar('\n');
}

/* audit [--count N] [--since TIME]: the newest audit records, newest
 * first. */
static int
cmd_audit(revokd_t *h, int argc, char **argv)
{
	struct opts	 o;
	json_t		*arr = NULL;

	parse_opts(argc, argv, "cn", &o);
	want_args(argc, 0);
	if (json_out && (arr = json_array()) == NULL)
		die_oom();
	if (client_audit(h, o.count, o.since, audit_record, arr) == -1)
		die_client(h);
	if (arr != NULL)
		jprint(arr);
	return EXIT_DONE;
}

/* Keep the STATS fields as a JSON object under "stats" of the object arg
 * (client_record_cb). */
static void
stats_record(const struct client_field *f, size_t n, void *arg)
{
	jset(arg, "stats", fields_json(f, n));
}

/* stats: every field on one line. */
static int
cmd_stats(revokd_t *h, int argc, char **argv)
{
	struct opts	 o;
	char		 line[STATS_LINE_MAX];
	json_t		*obj;

	parse_opts(argc, argv, "", &o);
	want_args(argc, 0);
	if (json_out) {
		obj = jobj("stats");
		if (client_stats(h, stats_record, obj) == -1)
			die_client(h);
		jprint(obj);
		return EXIT_DONE;
	}
	if (revokd_stats(h, line, sizeof line) == -1)
		die_client(h);
	printf("stats %s\n", line);
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
		die_oom();
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
		report_word("valid");
		return EXIT_DONE;
	case REVOKD_UNAVAILABLE:
	case REVOKD_PROTOCOL_ERROR:
		/* The token is genuine; whether it is revoked is unknown. */
		report_failure(h, revokd_outcome_str(out), NULL, NULL);
		return EXIT_UNREACH;
	case REVOKD_REVOKED:
		return report_revoked(h);
	default:
		report_word(revokd_outcome_str(out));
		return EXIT_REVOKED;
	}
}

/* A command of revokectl. */
struct ctl_command {
	const char	*name;		/* as typed */
	int		(*run)(revokd_t *, int, char **); /* exit status */
};

static const struct ctl_command ctl_commands[] = {
	{ "ping",		cmd_ping },
	{ "check",		cmd_check },
	{ "revoke",		cmd_revoke },
	{ "revoke-token",	cmd_revoke_token },
	{ "unrevoke",		cmd_unrevoke },
	{ "revoke-sub",		cmd_revoke_sub },
	{ "logout-all",		cmd_revoke_sub },
	{ "ban",		cmd_ban },
	{ "unban",		cmd_unban },
	{ "revoke-session",	cmd_revoke_session },
	{ "revoke-all",		cmd_revoke_all },
	{ "list",		cmd_list },
	{ "audit",		cmd_audit },
	{ "stats",		cmd_stats },
	{ "verify",		cmd_verify },
};

/* Run one revokectl command. */
int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json",	no_argument,	   NULL, 'j' },
		{ NULL,		0,		   NULL, 0 }
	};
	const struct ctl_command	*c = NULL;
	revokd_t			*h;
	long long			 v;
	size_t				 i;
	int				 ch, ret;

	while ((ch = getopt_long(argc, argv, "+hs:t:V", longopts,
	    NULL)) != -1) {
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
		case 'j':
			json_out = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	for (i = 0; i < sizeof ctl_commands / sizeof ctl_commands[0]; i++)
		if (strcmp(argv[0], ctl_commands[i].name) == 0)
			c = &ctl_commands[i];
	if (c == NULL)
		usage();
	if ((h = revokd_new(socket_path, timeout_ms)) == NULL)
		die_oom();
	ret = c->run(h, argc, argv);
	revokd_free(h);
	return ret;
}
