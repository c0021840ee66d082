/*
 * Fuzz the configuration file: the lexer with small limits, and the whole
 * load into settings with the real table.
 *
 * Input: byte 0 picks the lexer's line and error limits, the rest is the
 * file. Checked for the lexer: every entry's key and value are non-empty,
 * trimmed, free of control characters, the key has no '=', the value no
 * '#' after a blank, both fit in a line, lines only go up; every error
 * names the file, the count returned is the count reported and stays
 * under max_errors + 1. Checked for the load: every setting the file set
 * is in its key's range, strings point into the block handed back, the
 * entries counted are the entries applied, and loading the same bytes
 * again gives the same settings.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with a message when an invariant does not hold. */
#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: invariant failed: %s\n",	\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

#define FUZZ_FNAME	"fuzz.conf"	/* the file name in messages */

/* What the lexer handed out. */
struct fuzz_seen {
	const struct config_parser *p;	/* its limits */
	size_t		 entries;	/* entries */
	size_t		 errors;	/* errors */
	size_t		 last_line;	/* line of the last entry */
	size_t		 lines;		/* lines in the input */
};

/* Return 1 for a blank. */
static int
fuzz_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Check a string the lexer returned. */
static void
fuzz_check_text(const char *s, int is_value)
{
	size_t	 i, n = strlen(s);

	FUZZ_CHECK(n > 0);
	FUZZ_CHECK(!fuzz_blank(s[0]) && !fuzz_blank(s[n - 1]));
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		FUZZ_CHECK((c >= 0x20 && c != 0x7f) || c == '\t');
		if (!is_value)
			FUZZ_CHECK(c != '=');
		if (is_value && c == '#' && i > 0)
			FUZZ_CHECK(!fuzz_blank(s[i - 1]));
	}
}

/* An entry of the lexer: check it, refuse every third. */
static int
fuzz_entry(const char *key, const char *value, size_t line, char *why,
    size_t whylen, void *arg)
{
	struct fuzz_seen	*seen = arg;

	fuzz_check_text(key, 0);
	fuzz_check_text(value, 1);
	FUZZ_CHECK(key[0] != '#');
	FUZZ_CHECK(strlen(key) + strlen(value) + 1 <= seen->p->max_line);
	FUZZ_CHECK(line > seen->last_line && line <= seen->lines);
	seen->last_line = line;
	if (++seen->entries % 3 == 0) {
		snprintf(why, whylen, "%s: refused", key);
		return -1;
	}
	return 0;
}

/* An error: it names the file. */
static void
fuzz_error(const char *msg, void *arg)
{
	struct fuzz_seen	*seen = arg;

	FUZZ_CHECK(strncmp(msg, FUZZ_FNAME ":", sizeof FUZZ_FNAME) == 0);
	seen->errors++;
}

/* An error of the load: count it. */
static void
fuzz_load_error(const char *msg, void *arg)
{
	FUZZ_CHECK(strncmp(msg, FUZZ_FNAME ":", sizeof FUZZ_FNAME) == 0 ||
	    strcmp(msg, "out of memory") == 0);
	(*(size_t *)arg)++;
}

/* Known values for every setting, the way main.c's defaults are. */
static void
fuzz_defaults(struct settings *s)
{
	memset(s, 0, sizeof *s);
	s->socket_path = "d.sock";
	s->state_dir = "d";
	s->key_prefix = "revokd:";
	s->max_ttl = 3600;
	s->compact_interval = 3600;
	s->max_clients = 10;
	s->client_timeout = 30;
	s->redis_timeout = 2;
	s->stream_maxlen = 100;
	s->nadmin_uids = 1;
}

/* Check every setting of s against its key's range. */
static void
fuzz_check_settings(const struct settings *s, const struct settings *d,
    const char *strings, size_t len)
{
	const struct config_key	*k;
	const char		*str;
	char			 text[64];
	size_t			 i, n;
	long long		 v;

	for (i = 0; i < config_nkeys; i++) {
		k = &config_keys[i];
		if (config_same(k, s, d))
			continue;
		switch (k->field) {
		case CONFIG_F_STR:
			memcpy(&str, (const char *)s + k->offset, sizeof str);
			FUZZ_CHECK(strings != NULL && str >= strings &&
			    str < strings + len + 1);
			n = strlen(str);
			FUZZ_CHECK((long long)n >= k->min &&
			    (long long)n <= k->max);
			FUZZ_CHECK(str + n < strings + len + 1);
			break;
		case CONFIG_F_IDS:
			n = k->type == CONFIG_USERS ? s->nadmin_uids :
			    s->nadmin_gids;
			FUZZ_CHECK(n >= 1 && n <= REVOKD_ADMIN_IDS_MAX);
			break;
		default:
			config_format(k, s, text, sizeof text);
			v = strtoll(text, NULL, 10);
			FUZZ_CHECK(v >= k->min && v <= k->max);
			break;
		}
	}
}

/* Lex and load one input. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_parser	 p;
	struct fuzz_seen	 seen;
	struct settings		 s, again, d;
	const char		*buf;
	char			*strings, *strings2;
	size_t			 len, i, n, errors = 0, errors2 = 0;

	if (size < 1)
		return 0;
	buf = (const char *)data + 1;
	len = size - 1;

	/* The lexer, with limits small enough to be hit. */
	memset(&seen, 0, sizeof seen);
	config_parser_init(&p, fuzz_entry, fuzz_error, &seen);
	p.max_line = 1 + (data[0] & 0x3f);
	p.max_errors = 1 + (data[0] >> 6);
	seen.p = &p;
	seen.lines = 1;
	for (i = 0; i < len; i++)
		seen.lines += buf[i] == '\n';
	n = config_parse(&p, buf, len, FUZZ_FNAME);
	FUZZ_CHECK(n == seen.errors);
	FUZZ_CHECK(n <= p.max_errors + 1);

	/* The whole load, twice: the same bytes give the same settings. */
	fuzz_defaults(&d);
	s = d;
	n = config_load(&s, buf, len, FUZZ_FNAME, (uint64_t)data[0] << 8,
	    &strings, fuzz_load_error, &errors);
	FUZZ_CHECK(n == errors);
	FUZZ_CHECK(n <= CONFIG_MAX_ERRORS + 1);
	fuzz_check_settings(&s, &d, strings, len);
	again = d;
	n = config_load(&again, buf, len, FUZZ_FNAME, (uint64_t)data[0] << 8,
	    &strings2, fuzz_load_error, &errors2);
	FUZZ_CHECK(n == errors && errors2 == errors);
	for (i = 0; i < config_nkeys; i++)
		FUZZ_CHECK(config_same(&config_keys[i], &s, &again));
	free(strings);
	free(strings2);
	return 0;
}
