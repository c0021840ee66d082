/* revokd: start-up, options, signals and the event loop. */
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "audit.h"
#include "cmd.h"
#include "config.h"
#include "journal.h"
#include "log.h"
#include "metrics.h"
#include "repl.h"
#include "rules.h"
#include "resp.h"
#include "revokd.h"
#include "server.h"
#include "svcmgr.h"
#include "ticker.h"

/*
 * Allocations from this size up get their own mapping, returned to the
 * system when freed. glibc's default threshold starts here too but climbs
 * to the largest block freed so far (up to 32 MiB), and the heap's trim
 * threshold with it (to 64 MiB): after one burst of writes the buffers it
 * grew would stay resident for good. Setting it fixes both.
 */
#define MMAP_THRESHOLD	(128 * 1024)
#define SWEEP_SLOTS_MIN	131072	/* slots a second the sweep visits at least */
#define SWEEP_PASS_SECS	10	/* seconds a pass over a bigger table takes */

struct settings	 settings;
struct stats	 stats;
struct rules *rules;
struct journal	*journal;
time_t		 start_time;

static int	 activated;	/* the service manager passed the sockets */
static int	 ready;		/* READY=1 was sent: the set is loaded */
static int	 log_prefixes;	/* stderr is the journal: <N> prefixes */

/* An option of the command line, applied over the file at every load. */
struct cli_setting {
	const struct config_key	*key;	/* which setting */
	const char		*value;	/* its argument (argv), or NULL */
};

static const char	*config_path;	/* -c FILE, or NULL: the default */
static int		 config_used;	/* a file was read: reloads need it */
static char		*config_strings; /* the running settings' strings */
static struct cli_setting *cli;		/* the command line's settings */
static size_t		 ncli;		/* entries in cli */
static uint64_t		 cli_keys;	/* bit i: config_keys[i] is in cli */

/* Set every setting to its default. */
static void
settings_init(struct settings *s)
{
	/* Installed default; scripts/run passes one inside the checkout. */
	s->socket_path = "/run/revokd/revokd.sock";
	/* Tokens live minutes to hours; 30 days bounds a typo'd exp. */
	s->max_ttl = 30 * 24 * 3600;
	/*
	 * Verifiers accept a token for their clock-skew leeway after its exp
	 * (librevokd allows at most 300 s), so a revocation must outlive exp
	 * by as much, or a revoked token would pass in that window.
	 */
	s->exp_grace = 300;
	/* Info and warnings, no debug. */
	s->verbose = 0;
	/* One request frame; no command needs more. */
	s->max_request = RESP_MAX_REQUEST_DEFAULT;
	/* Arguments in one request. */
	s->max_args = RESP_MAX_ARGS_DEFAULT;
	/* jti, iss and reason sizes (256, 256, 512 bytes). */
	command_limits_default(&s->limits);
	/* Far above what a host's services open, far below fd limits. */
	s->max_clients = 10000;
	/* Unsent replies of one client before we stop reading from it. */
	s->out_limit = 256 * 1024;
	/* Seconds such a client may stay stuck before it is dropped. */
	s->client_timeout = 30;
	/* Seconds to finish sending replies on SIGTERM. */
	s->shutdown_grace = 5;
	/* Expiry sweep period; a full pass over the table takes ~1 s. */
	s->sweep_ms = 100;
	/* Installed default; scripts/run passes one inside the checkout. */
	s->state_dir = "/var/lib/revokd";
	/* Expired and lifted entries leave the disk within the hour. */
	s->compact_interval = 3600;
	/* A log smaller than this is never worth compacting on its own. */
	s->compact_min = 4 * 1024 * 1024;
	/* No Redis: the journal is the whole storage. */
	s->redis_url = NULL;
	/* No AUTH. */
	s->redis_password_file = NULL;
	/* Room for other applications in the same Redis database. */
	s->key_prefix = "revokd:";
	/* A restart with Redis down serves its journal after this long. */
	s->redis_wait = 5;
	/* Far above a healthy Redis's worst latency, short enough that
	 * writes answered +PENDING do not wait long behind a hung one. */
	s->redis_timeout = 2;
	/* Off: a stale daemon still answers from what it has. */
	s->max_staleness = 0;
	/* About 15 MB of events in Redis; a daemon disconnected for longer
	 * than that many writes reloads the full set. */
	s->stream_maxlen = 100000;
	/* One socket for everybody; writes need admin credentials. */
	s->admin_socket_path = NULL;
	/* Root and the daemon's own user may write; no group may. */
	s->admin_uids[0] = 0;
	s->admin_uids[1] = (unsigned)geteuid();
	s->nadmin_uids = s->admin_uids[1] == 0 ? 1 : 2;
	s->nadmin_gids = 0;
	/* No HTTP endpoint: STATS on the socket is always there. */
	s->metrics_addr = NULL;
	/* A day: longer than any access token's life (they last minutes),
	 * and than most refresh tokens'; raise it for longer ones. */
	s->max_token_lifetime = 24 * 3600;
	/* What AUDIT can show; about 2 MB of typical records. */
	s->audit_keep = 10000;
	/* The fleet's history in Redis: about 30 MB. */
	s->audit_maxlen = 100000;
	/* Sentinels without AUTH. */
	s->sentinel_password_file = NULL;
	/* Confirmed once the primary has it: a failover can lose the last
	 * writes (they are then sent again from memory, see repl.c). */
	s->redis_replicas = 0;
	/* Full reloads scan the primary. */
	s->redis_read_replica = NULL;
}

/* Print usage (to stdout for --help, else stderr) and exit with code. */
static void __attribute__((noreturn))
usage(int code)
{
	struct settings	 d;

	settings_init(&d);
	fprintf(code == 0 ? stdout : stderr,
	    "usage: revokd [-nv] [-c file] [-s path] [--max-ttl duration]\n"
	    "              [--exp-grace seconds] [-d state-dir]\n"
	    "              [--compact-interval seconds] [--max-clients n]\n"
	    "              [--client-timeout seconds] [--redis url]\n"
	    "              [--redis-password-file file] [--key-prefix p]\n"
	    "              [--redis-wait seconds] [--redis-timeout seconds]\n"
	    "              [--max-staleness seconds] [--stream-maxlen n]\n"
	    "              [--admin-socket path] [--admin-uid list]\n"
	    "              [--admin-gid list] [--metrics address]\n"
	    "              [--max-token-lifetime duration] [--audit-keep n]\n"
	    "              [--audit-maxlen n] [--sentinel-password-file file]\n"
	    "              [--redis-replicas n] [--redis-read-replica url]\n"
	    "  -c, --config FILE         key = value settings, which options\n"
	    "                            override (%s,\n"
	    "                            if it exists)\n"
	    "  -s, --socket PATH         Unix socket to listen on (%s)\n"
	    "      --max-ttl DURATION    furthest exp accepted (30d)\n"
	    "      --exp-grace SECONDS   an entry outlives its exp (300)\n"
	    "  -d, --state-dir DIR       journal and snapshot (%s)\n"
	    "      --compact-interval S  seconds between compactions (3600)\n"
	    "      --max-clients N       concurrent clients (10000)\n"
	    "      --client-timeout SEC  drop a client stuck mid-request or\n"
	    "                            on unread replies (30)\n"
	    "      --redis URL           share the blocklist through Redis:\n"
	    "                            unix:/path, redis://host[:port][/db] or\n"
	    "                            sentinel://host:port[,...]/master\n"
	    "      --redis-password-file FILE  AUTH password, one line\n"
	    "      --key-prefix PREFIX   prefix of the Redis keys (revokd:)\n"
	    "      --redis-wait SECONDS  at start, serve the journal after\n"
	    "                            this long without Redis (5)\n"
	    "      --redis-timeout SEC   a Redis reply overdue (2)\n"
	    "      --max-staleness SEC   CHECK answers -STALE after this\n"
	    "                            long without Redis (0: never)\n"
	    "      --stream-maxlen N     events kept in the stream (100000)\n"
	    "      --admin-socket PATH   the admins' socket (mode 0600); writes\n"
	    "                            are then refused on the other one\n"
	    "      --admin-uid LIST      users who may write, by name or\n"
	    "                            number, comma-separated (root and\n"
	    "                            the daemon's own user)\n"
	    "      --admin-gid LIST      groups whose members may write\n"
	    "      --metrics ADDRESS     serve /metrics and /healthz over HTTP\n"
	    "                            on IPV4:PORT, [IPV6]:PORT or /path\n"
	    "      --max-token-lifetime DURATION  longest iat-to-exp of a\n"
	    "                            token; not-before rules live this\n"
	    "                            long (24h)\n"
	    "      --audit-keep N        audit records AUDIT can show (10000)\n"
	    "      --audit-maxlen N      records kept in the Redis audit\n"
	    "                            stream (100000)\n"
	    "      --sentinel-password-file FILE  the sentinels' AUTH\n"
	    "                            password, one line\n"
	    "      --redis-replicas N    a write is confirmed once N replicas\n"
	    "                            have it (WAIT); else +PENDING (0)\n"
	    "      --redis-read-replica URL  full reloads read this replica\n"
	    "                            (unix:/path or redis://host[:port][/db])\n"
	    "  -n                        check the configuration and exit\n"
	    "  -v, --verbose             more logging (repeat for more)\n"
	    "  -h, --help                this text\n"
	    "  -V, --version             print the version\n",
	    CONFIG_PATH_DEFAULT, d.socket_path, d.state_dir);
	exit(code);
}

/* Take option k (argument value, NULL for a flag) from the command line:
 * check it (exit 2 if invalid, a usage error) and remember it. */
static void
cli_add(const struct config_key *k, const char *value)
{
	struct settings	 scratch;
	char		 why[CONFIG_ERR_MAX];

	settings_init(&scratch);
	if (config_set(k, &scratch, value, why, sizeof why) == -1) {
		fprintf(stderr, "revokd: --%s: invalid value '%s'%s%s%s\n",
		    k->name, value != NULL ? value : "", why[0] ? " (" : "",
		    why, why[0] ? ")" : "");
		exit(2);
	}
	cli[ncli].key = k;
	cli[ncli++].value = value;
	cli_keys |= (uint64_t)1 << (k - config_keys);
}

/* Log one error of the configuration file. */
static void
config_error_cb(const char *msg, void *arg)
{
	(void)arg;
	log_warnx("%s", msg);
}

/* Read at most max + 1 bytes of path (one more than the parser accepts,
 * so that it can say the file is too large) into a new buffer; NULL with
 * errno set if it cannot be read. */
static char *
config_read(const char *path, size_t max, size_t *len)
{
	char	*buf;
	size_t	 n = 0;
	ssize_t	 r;
	int	 fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1)
		return NULL;
	if ((buf = malloc(max + 1)) == NULL) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	while (n < max + 1) {
		if ((r = read(fd, buf + n, max + 1 - n)) == -1) {
			if (errno == EINTR)
				continue;
			saved = errno;
			free(buf);
			close(fd);
			errno = saved;
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	*len = n;
	return buf;
}

/*
 * Build settings in s: the defaults, then the configuration file, then
 * the command line over it. The file is -c's, or the default one if it
 * exists; once a file has been read, it must be there at a reload too.
 * *strings (freed by the caller, also on errors) holds the file's string
 * values; *used is the file read, or NULL. Returns 0, or -1 with every
 * error logged.
 */
static int
settings_load(struct settings *s, char **strings, const char **used)
{
	const char	*path;
	char		*buf, why[CONFIG_ERR_MAX];
	size_t		 len, i, errors = 0;

	settings_init(s);
	*strings = NULL;
	*used = NULL;
	path = config_path != NULL ? config_path : CONFIG_PATH_DEFAULT;
	if ((buf = config_read(path, CONFIG_MAX_SIZE, &len)) == NULL) {
		if (errno != ENOENT || config_path != NULL || config_used) {
			log_warn("configuration file %s", path);
			return -1;
		}
	} else {
		config_used = 1;
		*used = path;
		errors = config_load(s, buf, len, path, cli_keys, strings,
		    config_error_cb, NULL);
		free(buf);
	}
	/* Checked when parsed; a user or group may have gone since. */
	for (i = 0; i < ncli; i++) {
		if (config_set(cli[i].key, s, cli[i].value, why,
		    sizeof why) == -1) {
			log_warnx("--%s: invalid value '%s'%s%s%s",
			    cli[i].key->name, cli[i].value != NULL ?
			    cli[i].value : "", why[0] ? " (" : "",
			    why, why[0] ? ")" : "");
			errors++;
		}
	}
	return errors > 0 ? -1 : 0;
}

/* Check that a socket path can be bound: a file system path, short
 * enough, in an existing directory; 0 or -1 (logged). */
static int
socket_path_check(const char *path)
{
	struct sockaddr_un	 sun;
	struct stat		 st;
	char			*dir, *slash;
	int			 ok = 0;

	if (path[0] == '@' || path[0] == '\0') {
		log_warnx("socket path must be a file system path (no "
		    "abstract namespace): %s", path);
		return -1;
	}
	if (strlen(path) >= sizeof sun.sun_path) {
		log_warnx("socket path too long (max %zu bytes): %s",
		    sizeof sun.sun_path - 1, path);
		return -1;
	}
	if ((dir = strdup(path)) == NULL)
		return -1;
	if ((slash = strrchr(dir, '/')) == NULL)
		strcpy(dir, ".");
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (stat(dir, &st) == -1) {
		log_warn("socket directory %s", dir);
		ok = -1;
	} else if (!S_ISDIR(st.st_mode)) {
		log_warnx("socket directory %s is not a directory", dir);
		ok = -1;
	}
	free(dir);
	return ok;
}

/* Check the settings beyond what parsing saw; 0 if usable. */
static int
settings_check(void)
{
	struct stat		 st;
	int			 ok = 0;

	if (!activated && socket_path_check(settings.socket_path) == -1)
		return -1;
	if (!activated && settings.admin_socket_path != NULL) {
		if (socket_path_check(settings.admin_socket_path) == -1)
			return -1;
		if (strcmp(settings.admin_socket_path,
		    settings.socket_path) == 0) {
			log_warnx("the admin socket needs a path of its own");
			return -1;
		}
	}
	if (stat(settings.state_dir, &st) == -1) {
		log_warn("state directory %s", settings.state_dir);
		ok = -1;
	} else if (!S_ISDIR(st.st_mode)) {
		log_warnx("state directory %s is not a directory",
		    settings.state_dir);
		ok = -1;
	} else if (access(settings.state_dir, W_OK) == -1) {
		log_warn("state directory %s", settings.state_dir);
		ok = -1;
	}
	return ok;
}

/* Send the replies whose writes are durable and confirmed by Redis (or
 * that Redis cannot confirm now). */
static void
release(void)
{
	server_release(journal_durable(journal), repl_confirmed(),
	    repl_settled());
}

/* Tell the service manager how things stand. */
static void
notify_status(void)
{
	struct repl_stats	rs;

	if (repl_state() == REPL_OFF) {
		svcmgr_notify("STATUS=serving %zu entries",
		    rules_count(rules, -1));
		return;
	}
	repl_get_stats(&rs);
	svcmgr_notify("STATUS=%s %zu entries, Redis %s, %llu writes pending",
	    ready ? "serving" : "loading", rules_count(rules, -1),
	    repl_state_name(repl_state()), (unsigned long long)rs.pending);
}

/* Replication moved: send what it released, and once the set is loaded
 * tell the service manager, never before (a service must not hear "not
 * revoked" from a daemon that has not loaded). */
static void
changed(void)
{
	release();
	if (ready || repl_state() == REPL_LOADING)
		return;
	ready = 1;
	svcmgr_notify("READY=1");
	notify_status();
}

/* Time to refresh the status line, or to pat the watchdog. */
static void
svcmgr_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	if (arg != NULL)
		svcmgr_notify("WATCHDOG=1");
	else
		notify_status();
}

/* Return the path a passed listening socket is bound to (static
 * storage, one per slot), or NULL if it has none (abstract, unnamed). */
static const char *
socket_name(int fd, int slot)
{
	static char		 names[2][sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct sockaddr_un	 sun;
	socklen_t		 len = sizeof sun;

	memset(&sun, 0, sizeof sun);
	if (getsockname(fd, (struct sockaddr *)&sun, &len) == -1 ||
	    sun.sun_path[0] == '\0')
		return NULL;
	memcpy(names[slot], sun.sun_path, sizeof sun.sun_path);
	names[slot][sizeof names[slot] - 1] = '\0';
	return names[slot];
}

/* Writes became durable: send the replies that waited for them. */
static void
journal_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	(void)journal_collect(journal);
	release();
}

/* Time to drop expired and lifted entries from the disk too. */
static void
compact_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	journal_request_compact(journal);
	journal_kick(journal);
}

/* SIGTERM or SIGINT: shut down gracefully. */
static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	log_info("signal %d: shutting down", (int)sig);
	svcmgr_notify("STOPPING=1");
	server_shutdown();
}

/*
 * SIGHUP: read the configuration again (the command line still wins) and
 * apply what can change while running; report the rest as needing a
 * restart. A configuration with errors is refused as a whole: the running
 * one stays. Logs go to stderr, so there is no log file to reopen.
 */
static void
hup_cb(evutil_socket_t sig, short what, void *arg)
{
	struct ticker		*compact = arg;
	const struct config_key	*k;
	struct settings		 next;
	struct timeval		 ctv;
	const char		*used;
	char			*strings, was[1024], now[1024];
	size_t			 i, applied = 0, pending = 0;
	int			 verbose = settings.verbose;
	int			 interval = settings.compact_interval;

	(void)what;
	log_info("signal %d: reloading the configuration", (int)sig);
	if (settings_load(&next, &strings, &used) == -1) {
		log_warnx("reload refused: the running configuration stays");
		free(strings);
		metrics_count_reload(0);
		return;
	}
	for (i = 0; i < config_nkeys; i++) {
		k = &config_keys[i];
		if (config_same(k, &settings, &next))
			continue;
		/* The service manager's sockets replaced these. */
		if (activated && (strcmp(k->name, "socket") == 0 ||
		    strcmp(k->name, "admin-socket") == 0))
			continue;
		config_format(k, &settings, was, sizeof was);
		config_format(k, &next, now, sizeof now);
		if (!k->live) {
			log_warnx("reload: %s %s -> %s needs a restart; "
			    "still %s", k->name, was, now, was);
			pending++;
			continue;
		}
		/* Never a string (see config.c): strings is freed below. */
		config_copy(k, &settings, &next);
		log_info("reload: %s %s -> %s", k->name, was, now);
		applied++;
	}
	free(strings);
	if (settings.verbose != verbose)
		log_init(settings.verbose, log_prefixes);
	if (settings.compact_interval != interval) {
		ctv.tv_sec = settings.compact_interval;
		ctv.tv_usec = 0;
		if (ticker_start(compact, &ctv) == -1)
			log_warnx("reload: cannot re-arm the compaction timer");
	}
	log_info("reload done (%s): %zu applied, %zu need a restart",
	    used != NULL ? used : "no configuration file", applied, pending);
	metrics_count_reload(1);
}

/* Give memory back to the system after a burst of writes or a
 * compaction: the journal's idle append buffers, then the C library's
 * free pages. */
static void
trim_memory(void)
{
	static uint64_t		 compactions;	/* seen at the last trim */
	struct journal_stats	 js;
	size_t			 freed;

	freed = journal_trim(journal);
	journal_get_stats(journal, &js);
	if (freed == 0 && js.compactions == compactions)
		return;
	compactions = js.compactions;
#ifdef __GLIBC__
	(void)malloc_trim(0);
#endif
	log_debug("memory trimmed (%zu bytes of journal buffers)", freed);
}

/* Free expired entries, a slice of the table per tick. */
static void
sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	size_t	 per_sec, budget, freed;

	(void)fd;
	(void)what;
	(void)arg;
	/*
	 * A pass over a table of up to SWEEP_SLOTS_MIN slots (about twice
	 * the entries) takes a second at most, over a bigger one about
	 * SWEEP_PASS_SECS: CHECK refuses an expired entry at once anyway,
	 * the sweep only gives its memory back, and at a pass a second a
	 * daemon holding a million entries spent 1% of a CPU on it idle.
	 */
	per_sec = 2 * rules_count(rules, -1) / SWEEP_PASS_SECS;
	if (per_sec < SWEEP_SLOTS_MIN)
		per_sec = SWEEP_SLOTS_MIN;
	budget = per_sec * (size_t)settings.sweep_ms / 1000 +
	    64 * RULES_NKINDS;
	freed = rules_expire(rules,
	    (int64_t)time(NULL) - settings.exp_grace, budget);
	if (freed > 0)
		log_debug("expired %zu entries", freed);
	trim_memory();
}

/* Parse options, set up the socket and the loop, serve until signalled. */
int
main(int argc, char **argv)
{
	/* getopt_long's code of config_keys[i] is OPT_KEY + i. */
	enum { OPT_KEY = 256 };
	struct option		 longopts[64 + 4];
	const struct config_key	*k;
	const char		*used;
	size_t			 i, n;
	struct event_base	*base;
	struct event		*sigterm, *sigint, *sighup, *jev;
	struct ticker		*sweep, *compact, *status, *wdog = NULL;
	struct timeval		 stv, wtv;
	uint64_t		 wdog_usec;
	int			 sfd = -1, afd = -1;
	struct journal_config	 jcfg;
	struct journal_stats	 js;
	struct timeval		 tv, ctv;
	char			 err[512];
	int64_t			 now;
	uint8_t			 key[BLOCKLIST_KEY_LEN];
	int			 ch, checkonly = 0, fd;

#ifdef __GLIBC__
	(void)mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD);
#endif
	log_prefixes = getenv("JOURNAL_STREAM") != NULL;
	settings_init(&settings);
	log_init(0, log_prefixes);
	/* Every setting is a long option; then the options of its own. */
	for (i = 0; i < config_nkeys; i++) {
		longopts[i].name = config_keys[i].name;
		longopts[i].has_arg = config_keys[i].type == CONFIG_COUNT ?
		    no_argument : required_argument;
		longopts[i].flag = NULL;
		longopts[i].val = OPT_KEY + (int)i;
	}
	longopts[i++] = (struct option){ "config", required_argument, NULL,
	    'c' };
	longopts[i++] = (struct option){ "help", no_argument, NULL, 'h' };
	longopts[i++] = (struct option){ "version", no_argument, NULL, 'V' };
	longopts[i] = (struct option){ NULL, 0, NULL, 0 };
	/* One entry per option: several short ones may share a word
	 * ("-vvv"), so count characters, not words. */
	for (i = 0, n = 1; i < (size_t)argc; i++)
		n += strlen(argv[i]);
	if ((cli = calloc(n, sizeof *cli)) == NULL)
		fatalx("out of memory");
	while ((ch = getopt_long(argc, argv, "c:d:hnVvs:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			config_path = optarg;
			break;
		case 'n':
			checkonly = 1;
			break;
		case 'V':
			printf("revokd %s\n", REVOKD_VERSION_STRING);
			return 0;
		case 'h':
			usage(0);
		default:
			if (ch >= OPT_KEY && ch < OPT_KEY + (int)config_nkeys)
				k = &config_keys[ch - OPT_KEY];
			else if ((k = config_key_short(ch)) == NULL)
				usage(2);
			cli_add(k, optarg);
			break;
		}
	}
	if (optind != argc)
		usage(2);
	if (settings_load(&settings, &config_strings, &used) == -1)
		fatalx("configuration invalid");
	log_init(settings.verbose, log_prefixes);
	/* Until the loop handles it, a SIGHUP must not kill us (its
	 * default action). */
	signal(SIGHUP, SIG_IGN);

	/* Sockets passed by the service manager replace --socket and
	 * --admin-socket. */
	if ((activated = svcmgr_listen_fds(&sfd, &afd, err,
	    sizeof err)) == -1)
		fatalx("socket activation: %s", err);
	if (activated > 0) {
		if ((settings.socket_path = socket_name(sfd, 0)) == NULL ||
		    (afd != -1 && socket_name(afd, 1) == NULL))
			fatalx("socket activation: pathname sockets only (not "
			    "abstract or unnamed)");
		/* An admin socket asked for but not passed would leave the
		 * services' socket taking writes: refuse. */
		if (afd == -1 && settings.admin_socket_path != NULL)
			fatalx("socket activation: admin-socket is set but no "
			    "socket named %s was passed", SVCMGR_FDNAME_ADMIN);
		settings.admin_socket_path = afd != -1 ? socket_name(afd, 1) :
		    NULL;
	}
	if (svcmgr_notify_init(err, sizeof err) == -1)
		fatalx("%s", err);

	if (settings_check() == -1)
		fatalx("configuration invalid");
	if (settings.redis_password_file != NULL && settings.redis_url == NULL)
		fatalx("--redis-password-file needs --redis");
	if (settings.metrics_addr != NULL &&
	    metrics_check(settings.metrics_addr, err, sizeof err) == -1)
		fatalx("metrics: %s", err);
	if (repl_init(checkonly, err, sizeof err) == -1)
		fatalx("redis: %s", err);
	if (checkonly) {
		fprintf(stderr, "configuration OK\n");
		return 0;
	}

	/* A peer that hangs up must not kill us; send() reports EPIPE. */
	signal(SIGPIPE, SIG_IGN);
	if (getrandom(key, sizeof key, 0) != (ssize_t)sizeof key)
		fatal("getrandom");
	if ((rules = rules_new(key, settings.max_token_lifetime)) == NULL ||
	    audit_init(settings.audit_keep) == -1)
		fatalx("out of memory");
	start_time = time(NULL);

	/* Everything acknowledged before a crash comes back first. */
	memset(&jcfg, 0, sizeof jcfg);
	jcfg.dir = settings.state_dir;
	jcfg.exp_grace = settings.exp_grace;
	jcfg.compact_min = settings.compact_min;
	jcfg.lifetime = settings.max_token_lifetime;
	jcfg.audit_keep = settings.audit_keep;
	/* With Redis, the outbox is rebuilt from the journal: nothing may
	 * be compacted away before it is known (repl_start publishes it). */
	jcfg.hold_compaction = settings.redis_url != NULL;
	now = (int64_t)time(NULL);
	if ((journal = journal_open(&jcfg, cmd_replay, &now, err,
	    sizeof err)) == NULL)
		fatalx("journal: %s", err);
	journal_get_stats(journal, &js);
	log_info("journal %s: %llu records replayed, %zu entries live%s",
	    settings.state_dir, (unsigned long long)js.replayed,
	    rules_count(rules, -1), js.torn_bytes ? " (torn tail "
	    "dropped)" : "");

	if ((base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	if (activated > 0) {
		if (server_start(base, sfd, settings.socket_path, 0, 0) == -1 ||
		    (afd != -1 && server_start(base, afd,
		    settings.admin_socket_path, 1, 0) == -1))
			fatalx("cannot start the server");
		log_info("socket activation: %s%s%s", settings.socket_path,
		    afd != -1 ? ", admin " : "", afd != -1 ?
		    settings.admin_socket_path : "");
	} else {
		if ((fd = server_listen(settings.socket_path, 0660)) == -1)
			fatalx("cannot listen on %s", settings.socket_path);
		if (server_start(base, fd, settings.socket_path, 0, 1) == -1)
			fatalx("cannot start the server");
		if (settings.admin_socket_path != NULL &&
		    ((fd = server_listen(settings.admin_socket_path,
		    0600)) == -1 || server_start(base, fd,
		    settings.admin_socket_path, 1, 1) == -1))
			fatalx("cannot listen on %s",
			    settings.admin_socket_path);
	}
	if (settings.metrics_addr != NULL &&
	    metrics_start(base, settings.metrics_addr, err, sizeof err) == -1)
		fatalx("metrics: %s", err);
	if (repl_start(base, changed) == -1)
		fatalx("cannot start replication");
	status = ticker_new(base, svcmgr_cb, NULL);
	stv.tv_sec = 10;
	stv.tv_usec = 0;
	/* Pat the watchdog at half its interval, from the loop itself: a
	 * stuck loop misses it. */
	wdog_usec = svcmgr_watchdog_usec() / 2;
	if (wdog_usec > 0 && wdog_usec < 1000)
		wdog_usec = 1000;	/* a zero period would spin */
	wtv.tv_sec = (time_t)(wdog_usec / 1000000);
	wtv.tv_usec = (suseconds_t)(wdog_usec % 1000000);
	if (status == NULL || ticker_start(status, &stv) == -1 ||
	    (wdog_usec > 0 && ((wdog = ticker_new(base, svcmgr_cb,
	    &wdog)) == NULL || ticker_start(wdog, &wtv) == -1)))
		fatal("cannot set up timers");
	changed();	/* ready now unless Redis is still loading */

	sigterm = evsignal_new(base, SIGTERM, signal_cb, NULL);
	sigint = evsignal_new(base, SIGINT, signal_cb, NULL);
	sweep = ticker_new(base, sweep_cb, NULL);
	jev = event_new(base, journal_notify_fd(journal), EV_READ | EV_PERSIST,
	    journal_cb, NULL);
	compact = ticker_new(base, compact_cb, NULL);
	sighup = evsignal_new(base, SIGHUP, hup_cb, compact);
	ctv.tv_sec = settings.compact_interval;
	ctv.tv_usec = 0;
	tv.tv_sec = settings.sweep_ms / 1000;
	tv.tv_usec = (settings.sweep_ms % 1000) * 1000;
	if (sigterm == NULL || sigint == NULL || sighup == NULL ||
	    sweep == NULL || jev == NULL || compact == NULL ||
	    event_add(sigterm, NULL) == -1 || event_add(sigint, NULL) == -1 ||
	    event_add(sighup, NULL) == -1 || ticker_start(sweep, &tv) == -1 ||
	    event_add(jev, NULL) == -1 || ticker_start(compact, &ctv) == -1)
		fatalx("cannot set up events");

	if (used != NULL)
		log_info("configuration file %s", used);
	log_info("revokd %s listening on %s (max-ttl %llds, exp-grace %llds)",
	    REVOKD_VERSION_STRING, settings.socket_path,
	    (long long)settings.max_ttl, (long long)settings.exp_grace);
	if (event_base_dispatch(base) == -1)
		fatalx("event loop failed");

	server_free();
	metrics_stop();
	repl_stop();
	if (journal_close(journal) == -1)
		log_warnx("journal: closing failed");
	event_free(jev);
	ticker_free(compact);
	event_free(sigterm);
	event_free(sigint);
	event_free(sighup);
	ticker_free(sweep);
	ticker_free(status);
	ticker_free(wdog);
	event_base_free(base);
	svcmgr_close();
	rules_free(rules);
	audit_free();
	free(config_strings);
	free(cli);
	log_info("revokd stopped");
	return 0;
}
