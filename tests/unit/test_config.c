/* Unit tests of daemon/config.c: the lexer (comments, blanks, CRLF,
 * limits, malformed lines), loading into settings (unknown and repeated
 * keys, every key's bad values, keys the command line set) and the table
 * itself. */

#include <check.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/* A string literal and its length, embedded NULs included. */
#define S(lit) (lit), (sizeof(lit) - 1)

#define MAX_SEEN	64	/* entries and errors kept by a collector */

/* What the callbacks saw. */
struct seen {
	char	 keys[MAX_SEEN][64];	/* entry keys */
	char	 values[MAX_SEEN][256];	/* entry values */
	size_t	 lines[MAX_SEEN];	/* entry lines */
	size_t	 nentries;		/* entries */
	char	 errors[MAX_SEEN][CONFIG_ERR_MAX + 300]; /* messages */
	size_t	 nerrors;		/* errors */
	int	 refuse;		/* entries fail with "refused" */
};

/* Record an entry. */
static int
collect_entry(const char *key, const char *value, size_t line, char *why,
    size_t whylen, void *arg)
{
	struct seen	*s = arg;

	ck_assert_uint_lt(s->nentries, MAX_SEEN);
	snprintf(s->keys[s->nentries], sizeof s->keys[0], "%s", key);
	snprintf(s->values[s->nentries], sizeof s->values[0], "%s", value);
	s->lines[s->nentries++] = line;
	if (s->refuse) {
		snprintf(why, whylen, "%s: refused", key);
		return -1;
	}
	return 0;
}

/* Record an error. */
static void
collect_error(const char *msg, void *arg)
{
	struct seen	*s = arg;

	ck_assert_uint_lt(s->nerrors, MAX_SEEN);
	snprintf(s->errors[s->nerrors++], sizeof s->errors[0], "%s", msg);
}

/* Lex len bytes of buf as "t.conf" with default limits into s. */
static size_t
lex(struct seen *s, const char *buf, size_t len)
{
	struct config_parser	p;

	memset(s, 0, sizeof *s);
	config_parser_init(&p, collect_entry, collect_error, s);
	return config_parse(&p, buf, len, "t.conf");
}

/* Set the defaults the tests compare against (main.c's settings_init is
 * the daemon's; these only need to be known values). */
static void
defaults(struct settings *s)
{
	memset(s, 0, sizeof *s);
	s->socket_path = "default.sock";
	s->state_dir = "default.state";
	s->key_prefix = "revokd:";
	s->max_ttl = 30 * 86400;
	s->exp_grace = 300;
	s->compact_interval = 3600;
	s->max_clients = 10000;
	s->client_timeout = 30;
	s->redis_wait = 5;
	s->redis_timeout = 2;
	s->stream_maxlen = 100000;
	s->admin_uids[0] = 0;
	s->nadmin_uids = 1;
}

/* Load a NUL-terminated file text into s (from defaults) with skip;
 * return the errors; *strings must be freed. */
static size_t
load(struct settings *st, struct seen *s, const char *text, uint64_t skip,
    char **strings)
{
	memset(s, 0, sizeof *s);
	defaults(st);
	return config_load(st, text, strlen(text), "/etc/t.conf", skip,
	    strings, collect_error, s);
}

/* Load text and expect exactly one error, equal to want. */
static void
load_fails(const char *text, const char *want)
{
	struct settings	 st, d;
	struct seen	 s;
	char		*strings;
	size_t		 n, i;

	n = load(&st, &s, text, 0, &strings);
	ck_assert_msg(n == 1 && s.nerrors == 1, "%s: %zu errors, first [%s]",
	    text, n, s.nerrors ? s.errors[0] : "");
	ck_assert_str_eq(s.errors[0], want);
	/* The bad value left its setting alone. */
	defaults(&d);
	if (strchr(text, '\n') == strrchr(text, '\n'))
		for (i = 0; i < config_nkeys; i++)
			ck_assert_msg(config_same(&config_keys[i], &st, &d),
			    "%s changed %s", text, config_keys[i].name);
	free(strings);
}

START_TEST(test_lex_basics)
{
	struct seen	s;
	static const char text[] =
	    "# a comment\n"
	    "\n"
	    "   \t\n"
	    "  # an indented comment = not an entry\n"
	    "a = 1\n"
	    "b=2\n"
	    "\t c \t=\t three words  \t\n"
	    "d = x = y\n"
	    "e = a#b\n"
	    "f = #not a comment: the value starts there\n"
	    "g = last, no newline";

	ck_assert_uint_eq(lex(&s, S(text)), 0);
	ck_assert_uint_eq(s.nerrors, 0);
	ck_assert_uint_eq(s.nentries, 7);
	ck_assert_str_eq(s.keys[0], "a");
	ck_assert_str_eq(s.values[0], "1");
	ck_assert_uint_eq(s.lines[0], 5);
	ck_assert_str_eq(s.keys[1], "b");
	ck_assert_str_eq(s.values[1], "2");
	ck_assert_str_eq(s.keys[2], "c");
	ck_assert_str_eq(s.values[2], "three words");
	ck_assert_uint_eq(s.lines[2], 7);
	ck_assert_str_eq(s.keys[3], "d");
	ck_assert_str_eq(s.values[3], "x = y");
	ck_assert_str_eq(s.values[4], "a#b");
	ck_assert_str_eq(s.values[5],
	    "#not a comment: the value starts there");
	ck_assert_str_eq(s.keys[6], "g");
	ck_assert_str_eq(s.values[6], "last, no newline");
	ck_assert_uint_eq(s.lines[6], 11);

	/* Nothing at all, only blanks and comments. */
	ck_assert_uint_eq(lex(&s, "", 0), 0);
	ck_assert_uint_eq(s.nentries, 0);
	ck_assert_uint_eq(lex(&s, S("\n\n# x\n  \n")), 0);
	ck_assert_uint_eq(s.nentries, 0);
}
END_TEST

START_TEST(test_lex_crlf_bom)
{
	struct seen	s;

	ck_assert_uint_eq(lex(&s, S("a = 1\r\nb = 2 \r\n\r\n# c\r\nd=4\r")),
	    0);
	ck_assert_uint_eq(s.nentries, 3);
	ck_assert_str_eq(s.values[0], "1");
	ck_assert_str_eq(s.values[1], "2");
	ck_assert_str_eq(s.keys[2], "d");
	ck_assert_str_eq(s.values[2], "4");
	ck_assert_uint_eq(s.lines[2], 5);

	/* A byte order mark before the first key. */
	ck_assert_uint_eq(lex(&s, S("\xef\xbb\xbf" "a = 1\n")), 0);
	ck_assert_str_eq(s.keys[0], "a");
	/* Only at the very start. */
	ck_assert_uint_eq(lex(&s, S("a = 1\n\xef\xbb\xbf" "b = 2\n")), 0);
	ck_assert_str_eq(s.keys[1], "\xef\xbb\xbf" "b");

	/* A CR anywhere else is a control character. */
	ck_assert_uint_eq(lex(&s, S("a = 1\r2\n")), 1);
	ck_assert_str_eq(s.errors[0], "t.conf:1: control character 0x0d");
}
END_TEST

START_TEST(test_lex_errors)
{
	struct seen	s;

	ck_assert_uint_eq(lex(&s, S("a = 1\nno equals sign\nb = 2\n")), 1);
	ck_assert_str_eq(s.errors[0],
	    "t.conf:2: no '=' (a line is key = value)");
	ck_assert_uint_eq(s.nentries, 2);	/* the others still go */

	ck_assert_uint_eq(lex(&s, S("  = 5\n")), 1);
	ck_assert_str_eq(s.errors[0], "t.conf:1: no key before '='");

	ck_assert_uint_eq(lex(&s, S("\n\nkey =   \n")), 1);
	ck_assert_str_eq(s.errors[0], "t.conf:3: key: empty value");
	ck_assert_uint_eq(lex(&s, S("key=")), 1);
	ck_assert_str_eq(s.errors[0], "t.conf:1: key: empty value");

	/* Trailing comments are refused rather than taken as the value. */
	ck_assert_uint_eq(lex(&s, S("socket = /run/x.sock # the socket\n")),
	    1);
	ck_assert_str_eq(s.errors[0], "t.conf:1: socket: '#' after a blank "
	    "in the value (comments take a line of their own)");
	ck_assert_uint_eq(lex(&s, S("a = 1\t#x\n")), 1);
	ck_assert_uint_eq(s.nentries, 0);

	/* NUL, other control characters, DEL; a tab is a blank. */
	ck_assert_uint_eq(lex(&s, S("a = 1\0002\n")), 1);
	ck_assert_str_eq(s.errors[0], "t.conf:1: control character 0x00");
	ck_assert_uint_eq(lex(&s, S("a = \x1b[31m\n")), 1);
	ck_assert_str_eq(s.errors[0], "t.conf:1: control character 0x1b");
	ck_assert_uint_eq(lex(&s, S("a = x\x7f\n")), 1);
	ck_assert_str_eq(s.errors[0], "t.conf:1: control character 0x7f");
	ck_assert_uint_eq(lex(&s, S("a\t=\tx\ty\n")), 0);
	ck_assert_str_eq(s.values[0], "x\ty");

	/* The entry callback's message, with the location in front. */
	memset(&s, 0, sizeof s);
	{
		struct config_parser	p;

		config_parser_init(&p, collect_entry, collect_error, &s);
		s.refuse = 1;
		ck_assert_uint_eq(config_parse(&p, S("\nx = 1\ny = 2\n"),
		    "/etc/revokd/revokd.conf"), 2);
		ck_assert_str_eq(s.errors[0],
		    "/etc/revokd/revokd.conf:2: x: refused");
		ck_assert_str_eq(s.errors[1],
		    "/etc/revokd/revokd.conf:3: y: refused");
	}
}
END_TEST

START_TEST(test_lex_limits)
{
	struct config_parser	 p;
	struct seen		 s;

	memset(&s, 0, sizeof s);
	config_parser_init(&p, collect_entry, collect_error, &s);
	ck_assert_uint_eq(p.max_size, CONFIG_MAX_SIZE);
	ck_assert_uint_eq(p.max_line, CONFIG_MAX_LINE);
	ck_assert_uint_eq(p.max_errors, CONFIG_MAX_ERRORS);

	/* A line of exactly max_line bytes is fine (its CR LF aside), one
	 * more is not; the next line is still read. */
	p.max_line = 10;
	ck_assert_uint_eq(config_parse(&p, S("abc = 1234\r\n"), "t"), 0);
	ck_assert_str_eq(s.values[0], "1234");
	memset(&s, 0, sizeof s);
	ck_assert_uint_eq(config_parse(&p, S("abc = 12345\nd = 1\n"), "t"),
	    1);
	ck_assert_str_eq(s.errors[0], "t:1: line longer than 10 bytes");
	ck_assert_uint_eq(s.nentries, 1);
	ck_assert_str_eq(s.keys[0], "d");
	/* Comments count too: the limit is on what is read, not kept. */
	memset(&s, 0, sizeof s);
	ck_assert_uint_eq(config_parse(&p, S("# 1234567890\n"), "t"), 1);

	/* The file's size: more than max_size bytes are not looked at. */
	p.max_line = CONFIG_MAX_LINE;
	p.max_size = 8;
	memset(&s, 0, sizeof s);
	ck_assert_uint_eq(config_parse(&p, S("a = 1\nb=2"), "t"), 1);
	ck_assert_str_eq(s.errors[0], "t: larger than 8 bytes");
	ck_assert_uint_eq(s.nentries, 0);
	memset(&s, 0, sizeof s);
	ck_assert_uint_eq(config_parse(&p, S("a = 1\nb="), "t"), 1);

	/* Errors stop at max_errors, plus one saying so. */
	p.max_size = CONFIG_MAX_SIZE;
	p.max_errors = 3;
	memset(&s, 0, sizeof s);
	ck_assert_uint_eq(config_parse(&p, S("x\nx\nx\nx\nx\nok = 1\n"), "t"),
	    4);
	ck_assert_str_eq(s.errors[3], "t:4: too many errors; the rest is "
	    "not read");
	ck_assert_uint_eq(s.nentries, 0);
}
END_TEST

START_TEST(test_load_all_keys)
{
	struct settings	 st;
	struct seen	 s;
	char		*strings, *copy;
	static const char text[] =
	    "socket = /run/r/revokd.sock\n"
	    "state-dir = /var/lib/r\n"
	    "max-ttl = 2h\n"
	    "exp-grace = 60\n"
	    "compact-interval = 10m\n"
	    "max-clients = 500\n"
	    "client-timeout = 7\n"
	    "redis = unix:/run/redis/redis.sock\n"
	    "redis-password-file = /etc/revokd/redis.pass\n"
	    "key-prefix = app:\n"
	    "redis-wait = 0\n"
	    "redis-timeout = 3s\n"
	    "max-staleness = 1m\n"
	    "stream-maxlen = 1000\n"
	    "admin-socket = /run/r/admin.sock\n"
	    "admin-uid = root, 1000 ,2000\n"
	    "admin-gid = 0\n"
	    "verbose = 2\n";

	/* The buffer goes away: the strings must not point into it. */
	copy = strdup(text);
	ck_assert_ptr_nonnull(copy);
	memset(&s, 0, sizeof s);
	defaults(&st);
	ck_assert_uint_eq(config_load(&st, copy, strlen(copy), "t.conf", 0,
	    &strings, collect_error, &s), 0);
	memset(copy, 'X', strlen(copy));
	free(copy);
	ck_assert_uint_eq(s.nerrors, 0);
	ck_assert_str_eq(st.socket_path, "/run/r/revokd.sock");
	ck_assert_str_eq(st.state_dir, "/var/lib/r");
	ck_assert_int_eq(st.max_ttl, 7200);
	ck_assert_int_eq(st.exp_grace, 60);
	ck_assert_int_eq(st.compact_interval, 600);
	ck_assert_uint_eq(st.max_clients, 500);
	ck_assert_int_eq(st.client_timeout, 7);
	ck_assert_str_eq(st.redis_url, "unix:/run/redis/redis.sock");
	ck_assert_str_eq(st.redis_password_file, "/etc/revokd/redis.pass");
	ck_assert_str_eq(st.key_prefix, "app:");
	ck_assert_int_eq(st.redis_wait, 0);
	ck_assert_int_eq(st.redis_timeout, 3);
	ck_assert_int_eq(st.max_staleness, 60);
	ck_assert_uint_eq(st.stream_maxlen, 1000);
	ck_assert_str_eq(st.admin_socket_path, "/run/r/admin.sock");
	ck_assert_uint_eq(st.nadmin_uids, 3);
	ck_assert_uint_eq(st.admin_uids[0], 0);
	ck_assert_uint_eq(st.admin_uids[1], 1000);
	ck_assert_uint_eq(st.admin_uids[2], 2000);
	ck_assert_uint_eq(st.nadmin_gids, 1);
	ck_assert_uint_eq(st.admin_gids[0], 0);
	ck_assert_int_eq(st.verbose, 2);
	free(strings);
}
END_TEST

START_TEST(test_load_errors)
{
	struct settings	 st;
	struct seen	 s;
	char		*strings;

	load_fails("colour = blue\n",
	    "/etc/t.conf:1: unknown key 'colour'");
	load_fails("\n--max-ttl = 1h\n",
	    "/etc/t.conf:2: unknown key '--max-ttl'");
	load_fails("Max-TTL = 1h\n", "/etc/t.conf:1: unknown key 'Max-TTL'");
	/* Command-line-only options are not keys. */
	load_fails("config = /etc/x\n", "/etc/t.conf:1: unknown key 'config'");
	load_fails("help = 1\n", "/etc/t.conf:1: unknown key 'help'");
	/* A password is never inline. */
	load_fails("redis-password = hunter2\n",
	    "/etc/t.conf:1: unknown key 'redis-password' (never inline: "
	    "redis-password-file names a file holding it)");

	/* A repeated key, also when both values are good. */
	ck_assert_uint_eq(load(&st, &s, "max-ttl = 1h\n# x\nmax-ttl = 1h\n",
	    0, &strings), 1);
	ck_assert_str_eq(s.errors[0],
	    "/etc/t.conf:3: max-ttl: duplicate key (first on line 1)");
	free(strings);
	/* The first stays the one that was read. */
	ck_assert_uint_eq(load(&st, &s, "max-clients = 5\nmax-clients = 6\n",
	    0, &strings), 1);
	ck_assert_uint_eq(st.max_clients, 5);
	free(strings);

	/* Every error of a file is reported, each with its line. */
	ck_assert_uint_eq(load(&st, &s, "max-ttl = 0\nbogus\nfoo = 1\n"
	    "max-clients = 10\nverbose = 10\n", 0, &strings), 4);
	ck_assert_str_eq(s.errors[0], "/etc/t.conf:1: max-ttl: invalid value "
	    "'0' (1 to 2147483647 seconds, or with a unit: 15m, 2h, 7d)");
	ck_assert_str_eq(s.errors[1],
	    "/etc/t.conf:2: no '=' (a line is key = value)");
	ck_assert_str_eq(s.errors[2], "/etc/t.conf:3: unknown key 'foo'");
	ck_assert_str_eq(s.errors[3],
	    "/etc/t.conf:5: verbose: invalid value '10' (0 to 9)");
	ck_assert_uint_eq(st.max_clients, 10);	/* the good one applied */
	free(strings);

	/* A string's length. */
	{
		char	 text[256], want[512];

		snprintf(text, sizeof text, "key-prefix = %0129d\n", 0);
		snprintf(want, sizeof want, "/etc/t.conf:1: key-prefix: "
		    "invalid value '%0129d' (1 to 128 bytes)", 0);
		load_fails(text, want);
	}

	/* Too large a file: no strings, one error. */
	{
		char	*big = malloc(CONFIG_MAX_SIZE + 2);

		ck_assert_ptr_nonnull(big);
		memset(big, '\n', CONFIG_MAX_SIZE + 1);
		big[CONFIG_MAX_SIZE + 1] = '\0';
		ck_assert_uint_eq(load(&st, &s, big, 0, &strings), 1);
		ck_assert_str_eq(s.errors[0],
		    "/etc/t.conf: larger than 65536 bytes");
		free(strings);
		big[CONFIG_MAX_SIZE] = '\0';
		ck_assert_uint_eq(load(&st, &s, big, 0, &strings), 0);
		free(strings);
		free(big);
	}
}
END_TEST

START_TEST(test_load_bad_values)
{
	static const struct {
		const char	*line;	/* one entry */
		const char	*error;	/* its message after "file:1: " */
	} bad[] = {
		{ "max-ttl = 0", "max-ttl: invalid value '0' (1 to 2147483647 "
		    "seconds, or with a unit: 15m, 2h, 7d)" },
		{ "max-ttl = 2147483648", NULL },
		{ "max-ttl = 1w", NULL },
		{ "max-ttl = -1", NULL },
		{ "max-ttl = 1h30m", NULL },
		{ "max-ttl = +5", NULL },
		{ "max-ttl = 99999999999999999999", NULL },
		{ "exp-grace = 86401", "exp-grace: invalid value '86401' (0 to "
		    "86400 seconds, or with a unit: 15m, 2h, 7d)" },
		{ "exp-grace = 2d", NULL },
		{ "compact-interval = 0", NULL },
		{ "compact-interval = 8d", NULL },
		{ "max-clients = 0", "max-clients: invalid value '0' (1 to "
		    "1000000)" },
		{ "max-clients = 1000001", NULL },
		{ "max-clients = 10k", NULL },
		{ "max-clients = 1m", NULL },	/* a count, not a duration */
		{ "max-clients = 0x10", NULL },
		{ "client-timeout = 0", NULL },
		{ "client-timeout = 86401", NULL },
		{ "client-timeout = 30s", NULL },
		{ "key-prefix = 0123456789012345678901234567890123456789"
		    "01234567890123456789012345678901234567890123456789"
		    "0123456789012345678901234567890123456789", NULL },
		{ "redis-wait = 86401", NULL },
		{ "redis-wait = x", NULL },
		{ "redis-timeout = 0", NULL },
		{ "redis-timeout = 3601", NULL },
		{ "max-staleness = -1", NULL },
		{ "max-staleness = 8d", NULL },
		{ "stream-maxlen = 0", NULL },
		{ "stream-maxlen = 1000000001", NULL },
		{ "admin-uid = no-such-user-here", "admin-uid: invalid value "
		    "'no-such-user-here' (no such user: no-such-user-here)" },
		{ "admin-uid = 4294967295", NULL },
		{ "admin-uid = -1", NULL },
		{ "admin-uid = ,,", "admin-uid: invalid value ',,' (no user)" },
		{ "admin-uid = 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,"
		    "19,20,21,22,23,24,25,26,27,28,29,30,31,32", NULL },
		{ "admin-gid = no-such-group-here", "admin-gid: invalid value "
		    "'no-such-group-here' (no such group: no-such-group-here)" },
		{ "admin-gid = root, no-such-group-here", NULL },
		{ "verbose = 10", NULL },
		{ "verbose = yes", NULL },
		{ "verbose = -1", NULL },
	};
	char	 line[512], want[1024];
	size_t	 i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(line, sizeof line, "%s\n", bad[i].line);
		if (bad[i].error != NULL)
			snprintf(want, sizeof want, "/etc/t.conf:1: %s",
			    bad[i].error);
		else {
			struct settings	 st;
			struct seen	 s;
			char		*strings;

			/* Only the shape of the message. */
			ck_assert_msg(load(&st, &s, line, 0, &strings) == 1,
			    "%s accepted", bad[i].line);
			free(strings);
			ck_assert_msg(strstr(s.errors[0], ": invalid value '") !=
			    NULL && strncmp(s.errors[0], "/etc/t.conf:1: ",
			    15) == 0, "%s: %s", bad[i].line, s.errors[0]);
			snprintf(want, sizeof want, "%s", s.errors[0]);
		}
		load_fails(line, want);
	}
}
END_TEST

START_TEST(test_load_good_edges)
{
	struct settings	 st;
	struct seen	 s;
	char		*strings;

	ck_assert_uint_eq(load(&st, &s, "max-ttl = 2147483647\n"
	    "exp-grace = 0\nmax-clients = 1000000\nclient-timeout = 86400\n"
	    "compact-interval = 7d\nredis-timeout = 1h\nmax-staleness = 0\n"
	    "stream-maxlen = 1000000000\nverbose = 0\nadmin-uid = 0,,65534,\n"
	    "key-prefix = 01234567890123456789012345678901234567890123456789"
	    "01234567890123456789012345678901234567890123456789"
	    "0123456789012345678901234567\n", 0, &strings), 0);
	ck_assert_int_eq(st.max_ttl, INT32_MAX);
	ck_assert_int_eq(st.exp_grace, 0);
	ck_assert_uint_eq(st.max_clients, 1000000);
	ck_assert_int_eq(st.client_timeout, 86400);
	ck_assert_int_eq(st.compact_interval, 7 * 86400);
	ck_assert_int_eq(st.redis_timeout, 3600);
	ck_assert_uint_eq(st.stream_maxlen, 1000000000);
	ck_assert_uint_eq(st.nadmin_uids, 2);
	ck_assert_uint_eq(st.admin_uids[1], 65534);
	ck_assert_uint_eq(strlen(st.key_prefix), REVOKD_KEY_PREFIX_MAX);
	free(strings);
}
END_TEST

START_TEST(test_load_skip)
{
	struct settings	 st;
	struct seen	 s;
	char		*strings;
	uint64_t	 skip;

	skip = (uint64_t)1 << (config_key_find("max-ttl") - config_keys) |
	    (uint64_t)1 << (config_key_find("socket") - config_keys);
	/* Keys the command line set are checked, not applied. */
	ck_assert_uint_eq(load(&st, &s, "max-ttl = 1h\nsocket = /f.sock\n"
	    "max-clients = 3\n", skip, &strings), 0);
	ck_assert_int_eq(st.max_ttl, 30 * 86400);
	ck_assert_str_eq(st.socket_path, "default.sock");
	ck_assert_uint_eq(st.max_clients, 3);
	free(strings);
	ck_assert_uint_eq(load(&st, &s, "max-ttl = 0\n", skip, &strings), 1);
	free(strings);
	ck_assert_uint_eq(load(&st, &s, "max-ttl = 1h\nmax-ttl = 2h\n", skip,
	    &strings), 1);
	free(strings);
}
END_TEST

START_TEST(test_set_and_compare)
{
	const struct config_key	*v = config_key_find("verbose");
	const struct config_key	*uid = config_key_find("admin-uid");
	const struct config_key	*sock = config_key_find("socket");
	const struct config_key	*ttl = config_key_find("max-ttl");
	struct settings		 a, b;
	char			 why[CONFIG_ERR_MAX], buf[64];
	int			 i;

	ck_assert_ptr_nonnull(v);
	ck_assert_ptr_eq(config_key_short('v'), v);
	ck_assert_ptr_eq(config_key_short('s'), sock);
	ck_assert_ptr_eq(config_key_short('d'), config_key_find("state-dir"));
	ck_assert_ptr_null(config_key_short('x'));
	ck_assert_ptr_null(config_key_short(0));
	ck_assert_ptr_null(config_key_find("nope"));

	/* -v: each adds one, up to the top. */
	defaults(&a);
	for (i = 0; i < 20; i++)
		ck_assert_int_eq(config_set(v, &a, NULL, why, sizeof why), 0);
	ck_assert_int_eq(a.verbose, 9);
	/* Only a count takes no value. */
	ck_assert_int_eq(config_set(ttl, &a, NULL, why, sizeof why), -1);

	defaults(&a);
	defaults(&b);
	for (i = 0; i < (int)config_nkeys; i++)
		ck_assert(config_same(&config_keys[i], &a, &b));
	ck_assert_int_eq(config_set(uid, &b, "0,7", why, sizeof why), 0);
	ck_assert(!config_same(uid, &a, &b));
	config_format(uid, &b, buf, sizeof buf);
	ck_assert_str_eq(buf, "0,7");
	config_copy(uid, &a, &b);
	ck_assert(config_same(uid, &a, &b));
	ck_assert_uint_eq(a.nadmin_uids, 2);
	/* A failed set leaves the list as it was. */
	ck_assert_int_eq(config_set(uid, &b, "1,no-such-user-here", why,
	    sizeof why), -1);
	ck_assert_str_eq(why, "no such user: no-such-user-here");
	ck_assert(config_same(uid, &a, &b));

	ck_assert_int_eq(config_set(sock, &b, "/x.sock", why, sizeof why), 0);
	ck_assert(!config_same(sock, &a, &b));
	config_format(sock, &b, buf, sizeof buf);
	ck_assert_str_eq(buf, "/x.sock");
	b.socket_path = NULL;
	config_format(sock, &b, buf, sizeof buf);
	ck_assert_str_eq(buf, "(none)");
	ck_assert_int_eq(config_set(ttl, &b, "15m", why, sizeof why), 0);
	config_format(ttl, &b, buf, sizeof buf);
	ck_assert_str_eq(buf, "900");
	config_copy(ttl, &a, &b);
	ck_assert_int_eq(a.max_ttl, 900);
}
END_TEST

START_TEST(test_table)
{
	size_t	 i, j;

	ck_assert_uint_le(config_nkeys, 64);
	for (i = 0; i < config_nkeys; i++) {
		const struct config_key *k = &config_keys[i];

		ck_assert_ptr_eq(config_key_find(k->name), k);
		for (j = 0; j < i; j++)
			ck_assert_str_ne(config_keys[j].name, k->name);
		/* A reload frees the new file's strings: never live. */
		ck_assert_msg(!(k->live && k->field == CONFIG_F_STR),
		    "%s is a live string", k->name);
		ck_assert_int_le(k->min, k->max);
		ck_assert((k->type == CONFIG_STRING) ==
		    (k->field == CONFIG_F_STR));
	}
	/* What may change under a running daemon. */
	ck_assert(config_key_find("admin-uid")->live);
	ck_assert(config_key_find("admin-gid")->live);
	ck_assert(config_key_find("max-clients")->live);
	ck_assert(config_key_find("client-timeout")->live);
	ck_assert(config_key_find("max-ttl")->live);
	ck_assert(config_key_find("max-staleness")->live);
	ck_assert(config_key_find("verbose")->live);
	ck_assert(!config_key_find("exp-grace")->live);
	ck_assert(!config_key_find("socket")->live);
	ck_assert(!config_key_find("stream-maxlen")->live);
	ck_assert(!config_key_find("key-prefix")->live);
	ck_assert_ptr_null(config_key_find("redis-password"));
}
END_TEST

/* Build the suite. */
static Suite *
config_suite(void)
{
	Suite	*s = suite_create("config");
	TCase	*tc;

	tc = tcase_create("lexer");
	tcase_add_test(tc, test_lex_basics);
	tcase_add_test(tc, test_lex_crlf_bom);
	tcase_add_test(tc, test_lex_errors);
	tcase_add_test(tc, test_lex_limits);
	suite_add_tcase(s, tc);

	tc = tcase_create("settings");
	tcase_add_test(tc, test_load_all_keys);
	tcase_add_test(tc, test_load_errors);
	tcase_add_test(tc, test_load_bad_values);
	tcase_add_test(tc, test_load_good_edges);
	tcase_add_test(tc, test_load_skip);
	tcase_add_test(tc, test_set_and_compare);
	tcase_add_test(tc, test_table);
	suite_add_tcase(s, tc);
	return s;
}

/* Run the suite; exit non-zero on any failure. */
int
main(void)
{
	SRunner	*sr = srunner_create(config_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
