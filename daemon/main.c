/* revokd: start-up, options, signals and the event loop. */
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "blocklist.h"
#include "cmd.h"
#include "duration.h"
#include "journal.h"
#include "log.h"
#include "repl.h"
#include "resp.h"
#include "revokd.h"
#include "server.h"
#include "svcmgr.h"

struct settings	 settings;
struct stats	 stats;
struct blocklist *blocklist;
struct journal	*journal;
time_t		 start_time;

static int	 activated;	/* the service manager passed the sockets */
static int	 ready;		/* READY=1 was sent: the set is loaded */

/* Set every setting to its default. */
static void
settings_init(void)
{
	/* Installed default; scripts/run passes one inside the checkout. */
	settings.socket_path = "/run/revokd/revokd.sock";
	/* Tokens live minutes to hours; 30 days bounds a typo'd exp. */
	settings.max_ttl = 30 * 24 * 3600;
	/*
	 * Verifiers accept a token for their clock-skew leeway after its exp
	 * (librevokd allows at most 300 s), so a revocation must outlive exp
	 * by as much, or a revoked token would pass in that window.
	 */
	settings.exp_grace = 300;
	/* Info and warnings, no debug. */
	settings.verbose = 0;
	/* One request frame; no command needs more. */
	settings.max_request = RESP_MAX_REQUEST_DEFAULT;
	/* Arguments in one request. */
	settings.max_args = RESP_MAX_ARGS_DEFAULT;
	/* jti, iss and reason sizes (256, 256, 512 bytes). */
	command_limits_default(&settings.limits);
	/* Far above what a host's services open, far below fd limits. */
	settings.max_clients = 10000;
	/* Unsent replies of one client before we stop reading from it. */
	settings.out_limit = 256 * 1024;
	/* Seconds such a client may stay stuck before it is dropped. */
	settings.client_timeout = 30;
	/* Seconds to finish sending replies on SIGTERM. */
	settings.shutdown_grace = 5;
	/* Expiry sweep period; a full pass over the table takes ~1 s. */
	settings.sweep_ms = 100;
	/* Installed default; scripts/run passes one inside the checkout. */
	settings.state_dir = "/var/lib/revokd";
	/* Expired and lifted entries leave the disk within the hour. */
	settings.compact_interval = 3600;
	/* A log smaller than this is never worth compacting on its own. */
	settings.compact_min = 4 * 1024 * 1024;
	/* No Redis: the journal is the whole storage. */
	settings.redis_url = NULL;
	/* No AUTH. */
	settings.redis_password_file = NULL;
	/* Room for other applications in the same Redis database. */
	settings.key_prefix = "revokd:";
	/* A restart with Redis down serves its journal after this long. */
	settings.redis_wait = 5;
	/* Far above a healthy Redis's worst latency, short enough that
	 * writes answered +PENDING do not wait long behind a hung one. */
	settings.redis_timeout = 2;
	/* Off: a stale daemon still answers from what it has. */
	settings.max_staleness = 0;
	/* About 15 MB of events in Redis; a daemon disconnected for longer
	 * than that many writes reloads the full set. */
	settings.stream_maxlen = 100000;
	/* One socket for everybody; writes need admin credentials. */
	settings.admin_socket_path = NULL;
	/* Root and the daemon's own user may write; no group may. */
	settings.admin_uids[0] = 0;
	settings.admin_uids[1] = (unsigned)geteuid();
	settings.nadmin_uids = settings.admin_uids[1] == 0 ? 1 : 2;
	settings.nadmin_gids = 0;
}

/* Print usage (to stdout for --help, else stderr) and exit with code. */
static void __attribute__((noreturn))
usage(int code)
{
	fprintf(code == 0 ? stdout : stderr,
	    "usage: revokd [-nv] [-s path] [--max-ttl duration]\n"
	    "              [--exp-grace seconds] [-d state-dir]\n"
	    "              [--compact-interval seconds] [--max-clients n]\n"
	    "              [--client-timeout seconds] [--redis url]\n"
	    "              [--redis-password-file file] [--key-prefix p]\n"
	    "              [--redis-wait seconds] [--redis-timeout seconds]\n"
	    "              [--max-staleness seconds] [--stream-maxlen n]\n"
	    "              [--admin-socket path] [--admin-uid list]\n"
	    "              [--admin-gid list]\n"
	    "  -s, --socket PATH         Unix socket to listen on (%s)\n"
	    "      --max-ttl DURATION    furthest exp accepted (30d)\n"
	    "      --exp-grace SECONDS   an entry outlives its exp (300)\n"
	    "  -d, --state-dir DIR       journal and snapshot (%s)\n"
	    "      --compact-interval S  seconds between compactions (3600)\n"
	    "      --max-clients N       concurrent clients (10000)\n"
	    "      --client-timeout SEC  drop a client stuck mid-request or\n"
	    "                            on unread replies (30)\n"
	    "      --redis URL           share the blocklist through Redis:\n"
	    "                            unix:/path or redis://host[:port][/db]\n"
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
	    "  -n                        check the configuration and exit\n"
	    "  -v                        more logging (repeat for more)\n"
	    "  -h, --help                this text\n"
	    "  -V, --version             print the version\n",
	    settings.socket_path, settings.state_dir);
	exit(code);
}

/* Report a bad option value and exit 2 (a usage error). */
static void __attribute__((noreturn))
badopt(const char *opt, const char *value)
{
	fprintf(stderr, "revokd: %s: invalid value '%s'\n", opt, value);
	exit(2);
}

/* Parse a positive integer no larger than max; -1 if invalid. */
static long long
parse_count(const char *s, long long max)
{
	char		*end;
	long long	 v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > max)
		return -1;
	return v;
}

/* Parse a comma-separated list of user (or, with group, group) names or
 * numbers into ids; 0, or -1 if an entry is unknown or there are too
 * many. */
static int
parse_ids(const char *arg, int group, unsigned *ids, size_t *n)
{
	struct passwd	*pw;
	struct group	*gr;
	char		*copy, *word, *save = NULL, *end;
	unsigned long	 v;
	int		 rc = 0;

	if ((copy = strdup(arg)) == NULL)
		return -1;
	*n = 0;
	for (word = strtok_r(copy, ",", &save); word != NULL;
	    word = strtok_r(NULL, ",", &save)) {
		if (*n == REVOKD_ADMIN_IDS_MAX) {
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
			fprintf(stderr, "revokd: no such %s: %s\n",
			    group ? "group" : "user", word);
			rc = -1;
			break;
		}
	}
	free(copy);
	return *n == 0 ? -1 : rc;
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
	    repl_unreachable());
}

/* Tell the service manager how things stand. */
static void
notify_status(void)
{
	struct repl_stats	rs;

	if (repl_state() == REPL_OFF) {
		svcmgr_notify("STATUS=serving %zu entries",
		    blocklist_count(blocklist));
		return;
	}
	repl_get_stats(&rs);
	svcmgr_notify("STATUS=%s %zu entries, Redis %s, %llu writes pending",
	    ready ? "serving" : "loading", blocklist_count(blocklist),
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

/* Free expired entries, a slice of the table per tick. */
static void
sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	size_t	 budget, freed;

	(void)fd;
	(void)what;
	(void)arg;
	/* Enough slots per tick that a whole pass takes about a second. */
	budget = blocklist_capacity(blocklist) * (size_t)settings.sweep_ms /
	    1000 + 64;
	freed = blocklist_expire(blocklist,
	    (int64_t)time(NULL) - settings.exp_grace, budget);
	if (freed > 0)
		log_debug("expired %zu entries", freed);
}

/* Parse options, set up the socket and the loop, serve until signalled. */
int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket",		required_argument,	NULL, 's' },
		{ "max-ttl",		required_argument,	NULL, 'T' },
		{ "exp-grace",		required_argument,	NULL, 'G' },
		{ "state-dir",		required_argument,	NULL, 'd' },
		{ "compact-interval",	required_argument,	NULL, 'I' },
		{ "max-clients",	required_argument,	NULL, 'C' },
		{ "client-timeout",	required_argument,	NULL, 'O' },
		{ "redis",		required_argument,	NULL, 'R' },
		{ "redis-password-file", required_argument,	NULL, 'P' },
		{ "key-prefix",		required_argument,	NULL, 'K' },
		{ "redis-wait",		required_argument,	NULL, 'W' },
		{ "redis-timeout",	required_argument,	NULL, 'U' },
		{ "max-staleness",	required_argument,	NULL, 'S' },
		{ "stream-maxlen",	required_argument,	NULL, 'M' },
		{ "admin-socket",	required_argument,	NULL, 'A' },
		{ "admin-uid",		required_argument,	NULL, 'u' },
		{ "admin-gid",		required_argument,	NULL, 'g' },
		{ "help",		no_argument,		NULL, 'h' },
		{ "version",		no_argument,		NULL, 'V' },
		{ NULL,			0,			NULL, 0 }
	};
	struct event_base	*base;
	struct event		*sigterm, *sigint, *sweep, *jev, *compact;
	struct event		*status, *wdog;
	struct timeval		 stv, wtv;
	int			 sfd = -1, afd = -1;
	struct journal_config	 jcfg;
	struct journal_stats	 js;
	struct timeval		 tv, ctv;
	char			 err[512];
	int64_t			 now;
	uint8_t			 key[BLOCKLIST_KEY_LEN];
	long long		 v;
	int			 ch, checkonly = 0, fd;

	settings_init();
	log_init(0, getenv("JOURNAL_STREAM") != NULL);
	while ((ch = getopt_long(argc, argv, "d:hnVvs:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 's':
			settings.socket_path = optarg;
			break;
		case 'T':
			if ((v = duration_parse(optarg)) < 1 || v > INT32_MAX)
				badopt("--max-ttl", optarg);
			settings.max_ttl = v;
			break;
		case 'G':
			if ((v = duration_parse(optarg)) < 0 || v > 86400)
				badopt("--exp-grace", optarg);
			settings.exp_grace = v;
			break;
		case 'd':
			settings.state_dir = optarg;
			break;
		case 'I':
			if ((v = duration_parse(optarg)) < 1 || v > 86400 * 7)
				badopt("--compact-interval", optarg);
			settings.compact_interval = (int)v;
			break;
		case 'C':
			if ((v = parse_count(optarg, 1000000)) == -1)
				badopt("--max-clients", optarg);
			settings.max_clients = (size_t)v;
			break;
		case 'O':
			if ((v = parse_count(optarg, 86400)) == -1)
				badopt("--client-timeout", optarg);
			settings.client_timeout = (int)v;
			break;
		case 'R':
			settings.redis_url = optarg;
			break;
		case 'P':
			settings.redis_password_file = optarg;
			break;
		case 'K':
			if (optarg[0] == '\0' ||
			    strlen(optarg) > REVOKD_KEY_PREFIX_MAX)
				badopt("--key-prefix", optarg);
			settings.key_prefix = optarg;
			break;
		case 'W':
			if ((v = duration_parse(optarg)) < 0 || v > 86400)
				badopt("--redis-wait", optarg);
			settings.redis_wait = (int)v;
			break;
		case 'U':
			if ((v = duration_parse(optarg)) < 1 || v > 3600)
				badopt("--redis-timeout", optarg);
			settings.redis_timeout = (int)v;
			break;
		case 'S':
			if ((v = duration_parse(optarg)) < 0 || v > 86400 * 7)
				badopt("--max-staleness", optarg);
			settings.max_staleness = (int)v;
			break;
		case 'M':
			if ((v = parse_count(optarg, 1000000000)) == -1)
				badopt("--stream-maxlen", optarg);
			settings.stream_maxlen = (size_t)v;
			break;
		case 'A':
			settings.admin_socket_path = optarg;
			break;
		case 'u':
			if (parse_ids(optarg, 0, settings.admin_uids,
			    &settings.nadmin_uids) == -1)
				badopt("--admin-uid", optarg);
			break;
		case 'g':
			if (parse_ids(optarg, 1, settings.admin_gids,
			    &settings.nadmin_gids) == -1)
				badopt("--admin-gid", optarg);
			break;
		case 'n':
			checkonly = 1;
			break;
		case 'v':
			settings.verbose++;
			break;
		case 'V':
			printf("revokd %s\n", REVOKD_VERSION_STRING);
			return 0;
		case 'h':
			usage(0);
		default:
			usage(2);
		}
	}
	if (optind != argc)
		usage(2);
	log_init(settings.verbose, getenv("JOURNAL_STREAM") != NULL);

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
		settings.admin_socket_path = afd != -1 ? socket_name(afd, 1) :
		    NULL;
	}
	if (svcmgr_notify_init(err, sizeof err) == -1)
		fatalx("%s", err);

	if (settings_check() == -1)
		fatalx("configuration invalid");
	if (settings.redis_password_file != NULL && settings.redis_url == NULL)
		fatalx("--redis-password-file needs --redis");
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
	if ((blocklist = blocklist_new(key)) == NULL)
		fatalx("out of memory");
	start_time = time(NULL);

	/* Everything acknowledged before a crash comes back first. */
	memset(&jcfg, 0, sizeof jcfg);
	jcfg.dir = settings.state_dir;
	jcfg.exp_grace = settings.exp_grace;
	jcfg.compact_min = settings.compact_min;
	now = (int64_t)time(NULL);
	if ((journal = journal_open(&jcfg, cmd_replay, &now, err,
	    sizeof err)) == NULL)
		fatalx("journal: %s", err);
	journal_get_stats(journal, &js);
	log_info("journal %s: %llu records replayed, %zu entries live%s",
	    settings.state_dir, (unsigned long long)js.replayed,
	    blocklist_count(blocklist), js.torn_bytes ? " (torn tail "
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
	if (repl_start(base, changed) == -1)
		fatalx("cannot start replication");
	status = event_new(base, -1, EV_PERSIST, svcmgr_cb, NULL);
	wdog = event_new(base, -1, EV_PERSIST, svcmgr_cb, &wdog);
	stv.tv_sec = 10;
	stv.tv_usec = 0;
	/* Pat the watchdog at half its interval, from the loop itself: a
	 * stuck loop misses it. */
	wtv.tv_sec = (time_t)(svcmgr_watchdog_usec() / 2 / 1000000);
	wtv.tv_usec = (suseconds_t)(svcmgr_watchdog_usec() / 2 % 1000000);
	if (status == NULL || wdog == NULL || event_add(status, &stv) == -1 ||
	    (svcmgr_watchdog_usec() > 0 && event_add(wdog, &wtv) == -1))
		fatalx("cannot set up events");
	changed();	/* ready now unless Redis is still loading */

	sigterm = evsignal_new(base, SIGTERM, signal_cb, NULL);
	sigint = evsignal_new(base, SIGINT, signal_cb, NULL);
	sweep = event_new(base, -1, EV_PERSIST, sweep_cb, NULL);
	jev = event_new(base, journal_notify_fd(journal), EV_READ | EV_PERSIST,
	    journal_cb, NULL);
	compact = event_new(base, -1, EV_PERSIST, compact_cb, NULL);
	ctv.tv_sec = settings.compact_interval;
	ctv.tv_usec = 0;
	tv.tv_sec = settings.sweep_ms / 1000;
	tv.tv_usec = (settings.sweep_ms % 1000) * 1000;
	if (sigterm == NULL || sigint == NULL || sweep == NULL ||
	    jev == NULL || compact == NULL ||
	    event_add(sigterm, NULL) == -1 || event_add(sigint, NULL) == -1 ||
	    event_add(sweep, &tv) == -1 || event_add(jev, NULL) == -1 ||
	    event_add(compact, &ctv) == -1)
		fatalx("cannot set up events");

	log_info("revokd %s listening on %s (max-ttl %llds, exp-grace %llds)",
	    REVOKD_VERSION_STRING, settings.socket_path,
	    (long long)settings.max_ttl, (long long)settings.exp_grace);
	if (event_base_dispatch(base) == -1)
		fatalx("event loop failed");

	server_free();
	repl_stop();
	if (journal_close(journal) == -1)
		log_warnx("journal: closing failed");
	event_free(jev);
	event_free(compact);
	event_free(sigterm);
	event_free(sigint);
	event_free(sweep);
	event_free(status);
	event_free(wdog);
	event_base_free(base);
	svcmgr_close();
	blocklist_free(blocklist);
	log_info("revokd stopped");
	return 0;
}
