/* The configuration file (key = value lines, parsed without touching a
 * file descriptor) and the table of settings it shares with the command
 * line. */
#ifndef REVOKD_CONFIG_H
#define REVOKD_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "revokd.h"

#define CONFIG_PATH_DEFAULT	"/etc/revokd/revokd.conf" /* without -c */
#define CONFIG_MAX_SIZE		(64 * 1024)	/* bytes in a file */
#define CONFIG_MAX_LINE		4096	/* bytes in a line, without its end */
#define CONFIG_MAX_ERRORS	20	/* errors reported before giving up */
#define CONFIG_ERR_MAX		512	/* bytes of one error message */

/* How a key's value is read. */
enum config_type {
	CONFIG_STRING,		/* min..max bytes, taken as they are */
	CONFIG_DURATION,	/* "900", "15m", "2h", "7d": min..max seconds */
	CONFIG_NUMBER,		/* decimal digits: min..max */
	CONFIG_USERS,		/* users by name or number, comma-separated */
	CONFIG_GROUPS,		/* groups by name or number, comma-separated */
	CONFIG_COUNT		/* a flag on the command line, each one adding
				 * 1; a number min..max in a file */
};

/* How a key's value is stored in struct settings. */
enum config_field {
	CONFIG_F_STR,		/* const char *, NULL: unset */
	CONFIG_F_INT,		/* int */
	CONFIG_F_I64,		/* int64_t */
	CONFIG_F_SIZE,		/* size_t */
	CONFIG_F_IDS		/* admin_uids or admin_gids with its count */
};

/* One setting: a long option and a key of the file. */
struct config_key {
	const char	*name;		/* option without "--"; the file's key */
	int		 shortopt;	/* its short option letter, or 0 */
	enum config_type type;		/* how its value is read */
	enum config_field field;	/* how it is stored */
	size_t		 offset;	/* of its field in struct settings */
	long long	 min;		/* least number, or string length */
	long long	 max;		/* largest number, or string length */
	int		 live;		/* a SIGHUP applies a change */
};

/* Every setting, in the order of usage(). */
extern const struct config_key	config_keys[];
/* Entries in config_keys (at most 64: sets of keys are bit masks). */
extern const size_t		config_nkeys;

/* Return the key named name, or NULL. */
const struct config_key *config_key_find(const char *name);
/* Return the key of short option c, or NULL. */
const struct config_key *config_key_short(int c);
/* Set k in s from value (NULL: a command-line flag of type
 * CONFIG_COUNT). Returns 0, or -1 with why describing the problem (may be
 * empty); s is unchanged then. */
int config_set(const struct config_key *k, struct settings *s,
    const char *value, char *why, size_t whylen);
/* Return 1 if k has the same value in a and b. */
int config_same(const struct config_key *k, const struct settings *a,
    const struct settings *b);
/* Copy k's value from src to dst (strings by pointer). */
void config_copy(const struct config_key *k, struct settings *dst,
    const struct settings *src);
/* Write k's value in s as text, e.g. for "reload: max-clients 10 -> 20". */
void config_format(const struct config_key *k, const struct settings *s,
    char *buf, size_t len);

/* A report of one error: "file:line: message". */
typedef void config_error_fn(const char *msg, void *arg);
/* An entry "key = value" on line line: 0, or -1 with a message (without
 * the location) in why. */
typedef int config_entry_fn(const char *key, const char *value, size_t line,
    char *why, size_t whylen, void *arg);

/* The lexer: its limits and where entries and errors go. */
struct config_parser {
	size_t		 max_size;	/* bytes in a file */
	size_t		 max_line;	/* bytes in a line, without its end */
	size_t		 max_errors;	/* errors before giving up */
	config_entry_fn	*entry;		/* called per entry, in file order */
	config_error_fn	*error;		/* called per error */
	void		*arg;		/* passed to both */
};

/* Set p's limits to the defaults and its callbacks to these. */
void config_parser_init(struct config_parser *p, config_entry_fn *entry,
    config_error_fn *error, void *arg);
/*
 * Split len bytes of buf (file name fname, for messages) into entries:
 * one "key = value" per line (LF or CRLF), whitespace around key and
 * value trimmed, blank lines and lines whose first non-blank is '#'
 * skipped. No trailing comments: a value with '#' after a blank is an
 * error, and so are control characters, a line longer than max_line, no
 * '=', no key, an empty value. Returns the number of errors reported.
 */
size_t config_parse(const struct config_parser *p, const char *buf,
    size_t len, const char *fname);
/*
 * Parse a configuration file into s (set to its defaults first by the
 * caller): every value is checked as its option is, an unknown or repeated
 * key is an error. Keys in skip (bit i: config_keys[i], set on the command
 * line) are checked but not applied. String settings point into *strings,
 * a block the caller frees once s is dropped (also after errors). Returns
 * the number of errors reported to error.
 */
size_t config_load(struct settings *s, const char *buf, size_t len,
    const char *fname, uint64_t skip, char **strings, config_error_fn *error,
    void *arg);

#endif
