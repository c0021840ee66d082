/*
 * The configuration file and the table of settings.
 *
 * One table lists every setting once: its long option (which is also its
 * key in the file), how its value is read and checked, where it is stored
 * and whether a SIGHUP may change it. main.c builds getopt_long's options
 * from it, and the file goes through the same config_set(), so an option
 * and a key cannot drift apart.
 *
 * The lexer (config_parse) is a pure function over a buffer: main.c reads
 * the file, this never touches a file descriptor, and fuzz_config feeds it
 * arbitrary bytes. Only admin-uid and admin-gid names are resolved through
 * the system's user and group databases.
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "duration.h"

/* The offset of a field of struct settings and how it is stored, from its
 * type: the table cannot store an int where an int64_t lives. */
#define FIELD(f)							\
	_Generic((*(struct settings *)NULL).f,				\
	    const char *: CONFIG_F_STR,					\
	    int: CONFIG_F_INT,						\
	    int64_t: CONFIG_F_I64,					\
	    size_t: CONFIG_F_SIZE),					\
	offsetof(struct settings, f)

/*
 * Live keys are applied by a SIGHUP; the others are reported as needing a
 * restart. What a key does decides:
 * - live: limits read when a request or connection comes (max-ttl,
 *   max-clients, client-timeout, admin-uid, admin-gid), settings read on
 *   each use (max-staleness, redis-timeout, verbose), and compact-interval
 *   (main.c re-arms its timer).
 * - restart: the sockets (metrics' too), the state directory and
 *   everything Redis is opened with are set up once; exp-grace decides when stored entries
 *   expire, and the journal, Redis and the table must agree on it, so it
 *   cannot move under them, and so does max-token-lifetime for not-before
 *   rules; audit-keep sizes the ring once; redis-wait only matters at
 *   start.
 * String settings are never live: the running settings keep pointing into
 * the strings of the file read at start.
 */
const struct config_key config_keys[] = {
	{ "socket", 's', CONFIG_STRING, FIELD(socket_path), 0, LLONG_MAX, 0 },
	{ "max-ttl", 0, CONFIG_DURATION, FIELD(max_ttl), 1, INT32_MAX, 1 },
	{ "exp-grace", 0, CONFIG_DURATION, FIELD(exp_grace), 0, 86400, 0 },
	{ "state-dir", 'd', CONFIG_STRING, FIELD(state_dir), 0, LLONG_MAX, 0 },
	{ "compact-interval", 0, CONFIG_DURATION, FIELD(compact_interval),
	    1, 86400 * 7, 1 },
	{ "max-clients", 0, CONFIG_NUMBER, FIELD(max_clients), 1, 1000000, 1 },
	{ "client-timeout", 0, CONFIG_NUMBER, FIELD(client_timeout),
	    1, 86400, 1 },
	{ "redis", 0, CONFIG_STRING, FIELD(redis_url), 0, LLONG_MAX, 0 },
	{ "redis-password-file", 0, CONFIG_STRING, FIELD(redis_password_file),
	    0, LLONG_MAX, 0 },
	{ "key-prefix", 0, CONFIG_STRING, FIELD(key_prefix),
	    1, REVOKD_KEY_PREFIX_MAX, 0 },
	{ "redis-wait", 0, CONFIG_DURATION, FIELD(redis_wait), 0, 86400, 0 },
	{ "redis-timeout", 0, CONFIG_DURATION, FIELD(redis_timeout),
	    1, 3600, 1 },
	{ "max-staleness", 0, CONFIG_DURATION, FIELD(max_staleness),
	    0, 86400 * 7, 1 },
	{ "stream-maxlen", 0, CONFIG_NUMBER, FIELD(stream_maxlen),
	    1, 1000000000, 0 },
	{ "admin-socket", 0, CONFIG_STRING, FIELD(admin_socket_path),
	    0, LLONG_MAX, 0 },
	{ "admin-uid", 0, CONFIG_USERS, CONFIG_F_IDS,
	    offsetof(struct settings, admin_uids), 1, REVOKD_ADMIN_IDS_MAX, 1 },
	{ "admin-gid", 0, CONFIG_GROUPS, CONFIG_F_IDS,
	    offsetof(struct settings, admin_gids), 1, REVOKD_ADMIN_IDS_MAX, 1 },
	{ "metrics", 0, CONFIG_STRING, FIELD(metrics_addr), 0, LLONG_MAX, 0 },
	{ "max-token-lifetime", 0, CONFIG_DURATION, FIELD(max_token_lifetime),
	    1, 86400 * 366, 0 },
	{ "audit-keep", 0, CONFIG_NUMBER, FIELD(audit_keep), 1, 1000000, 0 },
	{ "audit-maxlen", 0, CONFIG_NUMBER, FIELD(audit_maxlen),
	    1, 1000000000, 0 },
	{ "sentinel-password-file", 0, CONFIG_STRING,
	    FIELD(sentinel_password_file), 0, LLONG_MAX, 0 },
	{ "redis-replicas", 0, CONFIG_NUMBER, FIELD(redis_replicas), 0, 100,
	    0 },
	{ "redis-read-replica", 0, CONFIG_STRING, FIELD(redis_read_replica),
	    0, LLONG_MAX, 0 },
	/* Only 0 and more than 0 differ today; room for a level or two. */
	{ "verbose", 'v', CONFIG_COUNT, FIELD(verbose), 0, 9, 1 },
};
const size_t	config_nkeys = sizeof config_keys / sizeof config_keys[0];

_Static_assert(sizeof config_keys / sizeof config_keys[0] <= 64,
    "sets of keys are uint64_t bit masks");

/* The state of config_load. */
struct config_loader {
	struct settings	*s;		/* what the file builds */
	struct settings	 scratch;	/* where keys in skip are checked */
	uint64_t	 skip;		/* keys set on the command line */
	size_t		 seen[64];	/* line of each key's entry, 0: none */
	char		*strings;	/* values of string keys, NUL-ended */
	size_t		 used;		/* bytes of strings used */
	size_t		 size;		/* bytes of strings allocated */
	config_error_fn	*error;		/* the caller's error report */
	void		*arg;		/* and its argument */
};

/* Return the key named name, or NULL. */
const struct config_key *
config_key_find(const char *name)
{
	size_t	 i;

	for (i = 0; i < config_nkeys; i++)
		if (strcmp(config_keys[i].name, name) == 0)
			return &config_keys[i];
	return NULL;
}

/* Return the key of short option c, or NULL. */
const struct config_key *
config_key_short(int c)
{
	size_t	 i;

	for (i = 0; i < config_nkeys; i++)
		if (c != 0 && config_keys[i].shortopt == c)
			return &config_keys[i];
	return NULL;
}

/* Return the address of k's field in s. */
static void *
config_field(const struct config_key *k, const struct settings *s)
{
	return (char *)(uintptr_t)s + k->offset;
}

/* Return where the count of k's ids (admin-uid, admin-gid) lives in s. */
static size_t *
config_count(const struct config_key *k, const struct settings *s)
{
	struct settings	*m = (struct settings *)(uintptr_t)s;

	return k->type == CONFIG_USERS ? &m->nadmin_uids : &m->nadmin_gids;
}

/* Return the number stored in k's field of s. */
static long long
config_get_num(const struct config_key *k, const struct settings *s)
{
	void	*p = config_field(k, s);

	switch (k->field) {
	case CONFIG_F_INT:
		return *(int *)p;
	case CONFIG_F_I64:
		return *(int64_t *)p;
	case CONFIG_F_SIZE:
		return (long long)*(size_t *)p;
	default:
		return 0;
	}
}

/* Store v (already in k's range) in k's field of s. */
static void
config_put_num(const struct config_key *k, struct settings *s, long long v)
{
	void	*p = config_field(k, s);

	switch (k->field) {
	case CONFIG_F_INT:
		*(int *)p = (int)v;
		break;
	case CONFIG_F_I64:
		*(int64_t *)p = v;
		break;
	case CONFIG_F_SIZE:
		*(size_t *)p = (size_t)v;
		break;
	default:
		break;
	}
}

/* Parse a comma-separated list of users (or, with group, groups) by name
 * or number into ids, blanks around each ignored; 0, or -1 with why. */
static int
config_ids(const char *arg, int group, unsigned *ids, size_t *n, char *why,
    size_t whylen)
{
	struct passwd	*pw;
	struct group	*gr;
	char		*copy, *word, *save = NULL, *end;
	unsigned long	 v;
	int		 rc = 0;

	if ((copy = strdup(arg)) == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	*n = 0;
	for (word = strtok_r(copy, ",", &save); word != NULL;
	    word = strtok_r(NULL, ",", &save)) {
		/* "root, www-data" as well as "root,www-data". */
		while (*word == ' ' || *word == '\t')
			word++;
		for (end = word + strlen(word); end > word &&
		    (end[-1] == ' ' || end[-1] == '\t'); end--)
			;
		*end = '\0';
		if (*word == '\0')
			continue;
		if (*n == REVOKD_ADMIN_IDS_MAX) {
			snprintf(why, whylen, "more than %d %s",
			    REVOKD_ADMIN_IDS_MAX, group ? "groups" : "users");
			rc = -1;
			break;
		}
		errno = 0;
		v = strtoul(word, &end, 10);
		if (*word >= '0' && *word <= '9' && *end == '\0' &&
		    errno == 0 && v < UINT32_MAX)
			ids[(*n)++] = (unsigned)v;
		else if (!group && (pw = getpwnam(word)) != NULL)
			ids[(*n)++] = (unsigned)pw->pw_uid;
		else if (group && (gr = getgrnam(word)) != NULL)
			ids[(*n)++] = (unsigned)gr->gr_gid;
		else {
			snprintf(why, whylen, "no such %s: %s",
			    group ? "group" : "user", word);
			rc = -1;
			break;
		}
	}
	free(copy);
	if (rc == 0 && *n == 0) {
		snprintf(why, whylen, "no %s", group ? "group" : "user");
		rc = -1;
	}
	return rc;
}

/* Set k in s from value (NULL: a flag); 0, or -1 with why. */
int
config_set(const struct config_key *k, struct settings *s, const char *value,
    char *why, size_t whylen)
{
	unsigned	 ids[REVOKD_ADMIN_IDS_MAX];
	size_t		 n, len;
	long long	 v;

	if (whylen > 0)
		why[0] = '\0';
	if (value == NULL && k->type != CONFIG_COUNT) {
		snprintf(why, whylen, "a value is needed");
		return -1;
	}
	switch (k->type) {
	case CONFIG_STRING:
		len = strlen(value);
		if ((long long)len < k->min || (long long)len > k->max) {
			snprintf(why, whylen, "%lld to %lld bytes", k->min,
			    k->max);
			return -1;
		}
		*(const char **)config_field(k, s) = value;
		return 0;
	case CONFIG_DURATION:
		if ((v = duration_parse(value)) < k->min || v > k->max) {
			snprintf(why, whylen, "%lld to %lld seconds, or with "
			    "a unit: 15m, 2h, 7d", k->min, k->max);
			return -1;
		}
		config_put_num(k, s, v);
		return 0;
	case CONFIG_NUMBER:
		if ((v = number_parse(value)) < k->min || v > k->max) {
			snprintf(why, whylen, "%lld to %lld", k->min, k->max);
			return -1;
		}
		config_put_num(k, s, v);
		return 0;
	case CONFIG_COUNT:
		if (value == NULL) {	/* -v -v ... stops at the top */
			if ((v = config_get_num(k, s)) < k->max)
				config_put_num(k, s, v + 1);
			return 0;
		}
		if ((v = number_parse(value)) < k->min || v > k->max) {
			snprintf(why, whylen, "%lld to %lld", k->min, k->max);
			return -1;
		}
		config_put_num(k, s, v);
		return 0;
	case CONFIG_USERS:
	case CONFIG_GROUPS:
		if (config_ids(value, k->type == CONFIG_GROUPS, ids, &n, why,
		    whylen) == -1)
			return -1;
		memcpy(config_field(k, s), ids, n * sizeof ids[0]);
		*config_count(k, s) = n;
		return 0;
	}
	return -1;
}

/* Return 1 if k has the same value in a and b. */
int
config_same(const struct config_key *k, const struct settings *a,
    const struct settings *b)
{
	const char	*x, *y;
	size_t		 n;

	switch (k->field) {
	case CONFIG_F_STR:
		x = *(const char **)config_field(k, a);
		y = *(const char **)config_field(k, b);
		return x == y || (x != NULL && y != NULL && strcmp(x, y) == 0);
	case CONFIG_F_IDS:
		n = *config_count(k, a);
		return n == *config_count(k, b) && memcmp(config_field(k, a),
		    config_field(k, b), n * sizeof(unsigned)) == 0;
	default:
		return config_get_num(k, a) == config_get_num(k, b);
	}
}

/* Copy k's value from src to dst. */
void
config_copy(const struct config_key *k, struct settings *dst,
    const struct settings *src)
{
	size_t	 n;

	switch (k->field) {
	case CONFIG_F_STR:
		*(const char **)config_field(k, dst) =
		    *(const char **)config_field(k, src);
		break;
	case CONFIG_F_IDS:
		n = *config_count(k, src);
		memcpy(config_field(k, dst), config_field(k, src),
		    n * sizeof(unsigned));
		*config_count(k, dst) = n;
		break;
	default:
		config_put_num(k, dst, config_get_num(k, src));
		break;
	}
}

/* Write k's value in s as text. */
void
config_format(const struct config_key *k, const struct settings *s,
    char *buf, size_t len)
{
	const unsigned	*ids;
	const char	*str;
	size_t		 i, n, at = 0;
	int		 w;

	if (len == 0)
		return;
	buf[0] = '\0';
	switch (k->field) {
	case CONFIG_F_STR:
		str = *(const char **)config_field(k, s);
		snprintf(buf, len, "%s", str != NULL ? str : "(none)");
		break;
	case CONFIG_F_IDS:
		ids = config_field(k, s);
		n = *config_count(k, s);
		if (n == 0)
			snprintf(buf, len, "(none)");
		for (i = 0; i < n && at < len; i++) {
			w = snprintf(buf + at, len - at, "%s%u", i ? "," : "",
			    ids[i]);
			if (w < 0)
				break;
			at += (size_t)w;
		}
		break;
	default:
		snprintf(buf, len, "%lld", config_get_num(k, s));
		break;
	}
}

/* --- The lexer -------------------------------------------------------- */

/* The state of one config_parse. */
struct config_lex {
	const struct config_parser *p;	/* limits and callbacks */
	const char	*fname;		/* for messages */
	size_t		 errors;	/* reported so far */
};

/* Report an error on line line (0: the whole file). */
static void __attribute__((format(printf, 3, 4)))
config_error(struct config_lex *lx, size_t line, const char *fmt, ...)
{
	char		 msg[CONFIG_ERR_MAX], full[CONFIG_ERR_MAX + 300];
	va_list		 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(full, sizeof full, "%.*s:%zu: %s", 256, lx->fname,
		    line, msg);
	else
		snprintf(full, sizeof full, "%.*s: %s", 256, lx->fname, msg);
	lx->errors++;
	if (lx->p->error != NULL)
		lx->p->error(full, lx->p->arg);
}

/* Return 1 for the blanks trimmed around keys and values. */
static int
config_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Set p's limits to the defaults and its callbacks. */
void
config_parser_init(struct config_parser *p, config_entry_fn *entry,
    config_error_fn *error, void *arg)
{
	p->max_size = CONFIG_MAX_SIZE;
	p->max_line = CONFIG_MAX_LINE;
	p->max_errors = CONFIG_MAX_ERRORS;
	p->entry = entry;
	p->error = error;
	p->arg = arg;
}

/* Handle one line (NUL-terminated, its end removed, n bytes). */
static void
config_line(struct config_lex *lx, char *line, size_t n, size_t lineno)
{
	char		 why[CONFIG_ERR_MAX];
	char		*key, *value, *eq, *end;
	size_t		 i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)line[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			config_error(lx, lineno, "control character 0x%02x",
			    c);
			return;
		}
	}
	key = line;
	while (config_blank(*key))
		key++;
	if (*key == '\0' || *key == '#')
		return;
	if ((eq = strchr(key, '=')) == NULL) {
		config_error(lx, lineno, "no '=' (a line is key = value)");
		return;
	}
	for (end = eq; end > key && config_blank(end[-1]); end--)
		;
	*end = '\0';
	value = eq + 1;
	while (config_blank(*value))
		value++;
	for (end = value + strlen(value); end > value &&
	    config_blank(end[-1]); end--)
		;
	*end = '\0';
	if (*key == '\0') {
		config_error(lx, lineno, "no key before '='");
		return;
	}
	if (*value == '\0') {
		config_error(lx, lineno, "%s: empty value", key);
		return;
	}
	for (i = 1; value[i] != '\0'; i++) {
		if (value[i] == '#' && config_blank(value[i - 1])) {
			config_error(lx, lineno, "%s: '#' after a blank in "
			    "the value (comments take a line of their own)",
			    key);
			return;
		}
	}
	why[0] = '\0';
	if (lx->p->entry != NULL && lx->p->entry(key, value, lineno, why,
	    sizeof why, lx->p->arg) == -1)
		config_error(lx, lineno, "%s", why);
}

/* Split buf into entries; return the number of errors. */
size_t
config_parse(const struct config_parser *p, const char *buf, size_t len,
    const char *fname)
{
	struct config_lex	 lx = { p, fname, 0 };
	const char		*nl;
	char			*line;
	size_t			 pos = 0, eol, next, n, lineno = 0;

	if (len > p->max_size) {
		config_error(&lx, 0, "larger than %zu bytes", p->max_size);
		return lx.errors;
	}
	if ((line = malloc(p->max_line + 1)) == NULL) {
		config_error(&lx, 0, "out of memory");
		return lx.errors;
	}
	/* A byte order mark, as some editors write. */
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		pos = 3;
	while (pos < len) {
		if (lx.errors >= p->max_errors) {
			config_error(&lx, lineno + 1, "too many errors; "
			    "the rest is not read");
			break;
		}
		lineno++;
		nl = memchr(buf + pos, '\n', len - pos);
		eol = nl != NULL ? (size_t)(nl - buf) : len;
		next = nl != NULL ? eol + 1 : len;
		n = eol - pos;
		if (n > 0 && buf[eol - 1] == '\r')
			n--;		/* CRLF */
		if (n > p->max_line)
			config_error(&lx, lineno, "line longer than %zu bytes",
			    p->max_line);
		else {
			memcpy(line, buf + pos, n);
			line[n] = '\0';
			config_line(&lx, line, n, lineno);
		}
		pos = next;
	}
	free(line);
	return lx.errors;
}

/* --- Loading into settings ------------------------------------------- */

/* Apply one entry of the file. */
static int
config_load_entry(const char *key, const char *value, size_t line,
    char *why, size_t whylen, void *arg)
{
	struct config_loader	*L = arg;
	const struct config_key	*k;
	struct settings		*target;
	char			 detail[CONFIG_ERR_MAX];
	const char		*v = value;
	size_t			 i, n;

	if ((k = config_key_find(key)) == NULL) {
		if (strcmp(key, "redis-password") == 0)
			snprintf(why, whylen, "unknown key 'redis-password' "
			    "(never inline: redis-password-file names a file "
			    "holding it)");
		else
			snprintf(why, whylen, "unknown key '%s'", key);
		return -1;
	}
	i = (size_t)(k - config_keys);
	if (L->seen[i] != 0) {
		snprintf(why, whylen, "%s: duplicate key (first on line %zu)",
		    key, L->seen[i]);
		return -1;
	}
	L->seen[i] = line;
	if (k->field == CONFIG_F_STR) {
		n = strlen(value) + 1;
		if (L->strings == NULL || L->size - L->used < n) {
			snprintf(why, whylen, "%s: out of memory", key);
			return -1;
		}
		v = memcpy(L->strings + L->used, value, n);
		L->used += n;
	}
	target = (L->skip >> i) & 1 ? &L->scratch : L->s;
	if (config_set(k, target, v, detail, sizeof detail) == -1) {
		snprintf(why, whylen, "%s: invalid value '%.*s'%s%s%s", key,
		    200, value, detail[0] ? " (" : "", detail,
		    detail[0] ? ")" : "");
		return -1;
	}
	return 0;
}

/* Pass an error of the lexer on to config_load's caller. */
static void
config_load_error(const char *msg, void *arg)
{
	struct config_loader	*L = arg;

	if (L->error != NULL)
		L->error(msg, L->arg);
}

/* Parse a configuration file into s; return the number of errors. */
size_t
config_load(struct settings *s, const char *buf, size_t len,
    const char *fname, uint64_t skip, char **strings, config_error_fn *error,
    void *arg)
{
	struct config_parser	 p;
	struct config_loader	*L;
	size_t			 errors;

	*strings = NULL;
	if ((L = calloc(1, sizeof *L)) == NULL) {
		if (error != NULL)
			error("out of memory", arg);
		return 1;
	}
	L->s = s;
	L->scratch = *s;
	L->skip = skip;
	L->error = error;
	L->arg = arg;
	config_parser_init(&p, config_load_entry, config_load_error, L);
	/* Every value is shorter than its line, so the file's size is
	 * enough for all of them with their NULs. */
	if (len <= p.max_size && (L->strings = malloc(len + 1)) != NULL)
		L->size = len + 1;
	errors = config_parse(&p, buf, len, fname);
	*strings = L->strings;
	free(L);
	return errors;
}
