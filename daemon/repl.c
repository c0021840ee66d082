/*
 * Replication through Redis.
 *
 * Layout under the key prefix P (documented in README.md):
 *	P K:<isslen>:<iss><id>	one string per rule, K its kind: j (jti),
 *				s (sub), b (ban), d (sid), i (iss, id "");
 *				expiring at its end + grace; value
 *				"<time>:<isslen>:<idlen>:<iss><id><reason>"
 *	P stream		the change events, XADD MAXLEN ~ stream-maxlen;
 *				fields o (origin), s (seq), op (r|u|s|b|n|d|a:
 *				REVOKE, UNREVOKE, REVOKESUB, BAN, UNBAN,
 *				REVOKESID, REVOKEALL), iss, jti (the id), exp
 *				(the time) and r (reason) as merged with the
 *				rule Redis had, the write as it was made: ge
 *				(time), gr (reason), ts, uid, gid, pid, comm,
 *				host
 *	P audit			the audit trail, XADD MAXLEN ~ audit-maxlen;
 *				the write as it was made: exp, r as given
 *	P origins		hash: origin -> highest seq it wrote
 *
 * A write is sent as one Lua script that updates the entry, appends the
 * event and records the seq, atomically, and does nothing for a seq it has
 * seen: re-sending after a lost reply or a restart is harmless.
 *
 * Own writes stay in the outbox, in seq order, until Redis confirms them;
 * the journal keeps them on disk meanwhile (no compaction passes them), so
 * after a restart the outbox is rebuilt from the journal and Redis's
 * "origins" entry says where to resume.
 *
 * Two connections share the daemon's event loop: "wc" for writes, scans
 * and lookups, "sc" for the blocking XREAD of the stream. Any failure of
 * either drops both and reconnects with capped exponential backoff.
 *
 * Order: the stream is the order of the fleet. An own event is not applied
 * when read back (it was applied when made); another daemon's event for a
 * key that has an own write not yet read back is skipped, because the own
 * write follows it in the stream and wins there too.
 */
#include <sys/queue.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

#include "audit.h"
#include "blocklist.h"
#include "iset.h"
#include "journal.h"
#include "log.h"
#include "repl.h"
#include "revokd.h"
#include "rules.h"
#include "sentinel.h"
#include "siphash.h"
#include "ticker.h"

#define REPL_BACKOFF_MIN_MS	100	/* first reconnect delay */
#define REPL_BACKOFF_MAX_MS	5000	/* reconnect delay cap */
#define REPL_WINDOW		1024	/* writes sent and not yet confirmed */
#define REPL_SCAN_COUNT		1000	/* SCAN COUNT during a reload */
#define REPL_XREAD_COUNT	1000	/* events per XREAD */
#define REPL_BLOCK_MS		1000	/* XREAD BLOCK */
#define REPL_TICK_MS		100	/* timeout checks */
#define REPL_ORIGIN_FILE	"origin" /* in the state directory */
#define REPL_ORIGIN_LEN		32	/* hex digits of an origin id */
#define REPL_PASSWORD_MAX	512	/* bytes of a password file */
#define REPL_KEY_MAX		(REVOKD_KEY_PREFIX_MAX + 8 +		\
    BLOCKLIST_ID_MAX + BLOCKLIST_ID_MAX) /* an entry's key */
#define REPL_ID_MAX		48	/* a stream id "ms-seq" */
#define REPL_RECENT_MAX		65536	/* confirmed writes remembered */
#define REPL_RECENT_MS		120000	/* ... for this long, so that a
					 * primary that lost them in a
					 * failover gets them again */

/* Redis's single-threaded atomic write of one rule, its event and its
 * audit record. KEYS: entry, stream, origins, audit. ARGV: op, origin,
 * seq, exp, ttl past exp, reason, iss, id, maxlen, prev (the seq of this
 * origin's previous write), audit maxlen, ts, uid, gid, pid, comm, host.
 * Ops u (UNREVOKE) and n (UNBAN) delete, the others keep the later time
 * and the old reason when none is given, and never bring the key's expiry
 * forward (a daemon with a shorter --max-token-lifetime must not shorten
 * another's not-before rule). Returns
 * 1 when applied, 0 for a seq already applied, and an error, changing
 * nothing, when the previous write is missing (it failed: everything after
 * it is sent again, in order). The seq is recorded last: a script that
 * fails part-way (Redis does not roll back) is not taken as done. */
static const char repl_script[] =
"local last = tonumber(redis.call('HGET', KEYS[3], ARGV[2]) or '0')\n"
"if last >= tonumber(ARGV[3]) then return 0 end\n"
"if last < tonumber(ARGV[10]) then\n"
"  return redis.error_reply('ERR revokd: an earlier write is missing')\n"
"end\n"
"local exp = tonumber(ARGV[4])\n"
"local given = ARGV[4]\n"
"local reason = ARGV[6]\n"
"if ARGV[1] ~= 'u' and ARGV[1] ~= 'n' then\n"
"  local cur = redis.call('GET', KEYS[1])\n"
"  if cur then\n"
"    local ce, il, jl, rest = string.match(cur, '^(%d+):(%d+):(%d+):(.*)$')\n"
"    if ce then\n"
"      if tonumber(ce) > exp then exp = tonumber(ce) end\n"
"      if reason == '' then\n"
"        reason = string.sub(rest, tonumber(il) + tonumber(jl) + 1)\n"
"      end\n"
"    end\n"
"  end\n"
"  local e = string.format('%d', exp)\n"
"  local at = exp + tonumber(ARGV[5])\n"
"  local old = redis.call('EXPIRETIME', KEYS[1])\n"
"  if old > at then at = old end\n"
"  redis.call('SET', KEYS[1], e .. ':' .. #ARGV[7] .. ':' .. #ARGV[8] ..\n"
"      ':' .. ARGV[7] .. ARGV[8] .. reason,\n"
"      'EXAT', string.format('%d', at))\n"
"  ARGV[4] = e\n"
"else\n"
"  redis.call('DEL', KEYS[1])\n"
"end\n"
"redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[9], '*', 'o', ARGV[2],\n"
"    's', ARGV[3], 'op', ARGV[1], 'iss', ARGV[7], 'jti', ARGV[8],\n"
"    'exp', ARGV[4], 'r', reason, 'ge', given, 'gr', ARGV[6],\n"
"    'ts', ARGV[12], 'uid', ARGV[13],\n"
"    'gid', ARGV[14], 'pid', ARGV[15], 'comm', ARGV[16],\n"
"    'host', ARGV[17])\n"
"redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[11], '*', 'o', ARGV[2],\n"
"    's', ARGV[3], 'op', ARGV[1], 'iss', ARGV[7], 'jti', ARGV[8],\n"
"    'exp', given, 'r', ARGV[6], 'ts', ARGV[12], 'uid', ARGV[13],\n"
"    'gid', ARGV[14], 'pid', ARGV[15], 'comm', ARGV[16],\n"
"    'host', ARGV[17])\n"
"redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])\n"
"return 1\n";

/* An own write not yet confirmed by Redis. */
struct obox {
	STAILQ_ENTRY(obox) entry;	/* in outbox or keep */
	uint64_t	 seq;		/* journal sequence number */
	int		 type;		/* JOURNAL_REVOKE ... _REVOKEALL */
	int64_t		 exp;		/* the record's time */
	int64_t		 ts;		/* when it was made */
	int64_t		 confirmed_ms;	/* in recent: when Redis confirmed it */
	uint32_t	 uid;		/* the writer, for the audit trail */
	uint32_t	 gid;
	uint32_t	 pid;
	size_t		 isslen;	/* bytes of iss at data */
	size_t		 jtilen;	/* bytes of the id after iss */
	size_t		 reasonlen;	/* bytes of reason after the id */
	size_t		 commlen;	/* bytes of comm after reason */
	size_t		 hostlen;	/* bytes of host after comm */
	char		 data[];	/* iss, id, reason, comm, host */
};
STAILQ_HEAD(oboxq, obox);

/* A full reload in progress. */
struct reload {
	struct rules	*rs;		/* the set being built */
	struct journal_snap *snap;	/* its journal image */
	uint64_t	 base;		/* own writes above it are re-applied */
	char		 pos[REPL_ID_MAX]; /* stream id noted before the scan */
	int		 have_pos;	/* the XREVRANGE reply came */
	int		 scan_done;	/* SCAN returned cursor 0 */
	size_t		 mgets;		/* MGET replies outstanding */
	size_t		 loaded;	/* entries taken from Redis */
	int64_t		 t0;		/* when it started (ms) */
	redisAsyncContext *ac;		/* where it reads: wc, or rc (the
					 * read replica) */
};

/* Everything this module knows. */
static struct {
	struct event_base *base;	/* the daemon's loop */
	void		(*changed)(void); /* writes confirmed or state moved */
	struct repl_target target;	/* parsed --redis */
	char		 origin[REPL_ORIGIN_LEN + 1]; /* this daemon's id */
	char		*password;	/* from --redis-password-file */
	enum repl_state	 state;		/* see enum repl_state */
	int		 wait_over;	/* --redis-wait passed or synced once */
	redisAsyncContext *wc;		/* writes, scans, lookups */
	redisAsyncContext *sc;		/* the blocking stream read */
	int		 wc_ready;	/* handshake done: writes flow */
	int		 sc_ready;	/* handshake done */
	int		 reading;	/* an XREAD is outstanding */
	int		 joined;	/* pos is known to have no gap after it:
					 * the stream may be read */
	size_t		 wc_pending;	/* commands unanswered on wc */
	size_t		 sc_pending;	/* commands unanswered on sc */
	int64_t		 wc_progress;	/* last reply, or first send (ms) */
	int64_t		 sc_progress;	/* same for sc */
	char		 sha[41];	/* SHA1 of repl_script */
	struct oboxq	 outbox;	/* own writes to confirm, seq order */
	struct obox	*unsent;	/* first not yet sent, or NULL */
	struct obox	*last_sent;	/* last sent, not yet confirmed */
	size_t		 nout;		/* entries in outbox */
	size_t		 inflight;	/* sent, not yet confirmed */
	uint64_t	 last_seq;	/* highest seq put in the outbox */
	struct oboxq	 keep;		/* confirmed during a reload */
	struct oboxq	 recent;	/* confirmed lately, oldest first:
					 * sent again to a primary that lost
					 * them (failover) */
	size_t		 nrecent;	/* entries in recent */
	uint64_t	 acked_max;	/* highest own seq ever confirmed */
	uint64_t	 eval_seq;	/* --redis-replicas: the last write
					 * whose script replied (this session) */
	int		 wait_out;	/* --redis-replicas: a WAIT is in
					 * flight (one at a time: it blocks
					 * the connection) */
	int		 replicas_short; /* the last WAIT found too few
					 * replicas: writes are answered as
					 * pending until one succeeds */
	uint64_t	 sent_max;	/* highest seq sent this session */
	struct event	*rewait_ev;	/* probes again while short */
	struct repl_target rtarget;	/* --redis-read-replica */
	int		 use_rr;	/* rtarget is set */
	int		 rr_skip;	/* the next reload reads the primary:
					 * the replica failed or lagged */
	redisAsyncContext *rc;		/* the read replica, during a reload */
	size_t		 rc_pending;	/* commands unanswered on rc */
	int64_t		 rc_progress;	/* last reply, or first send (ms) */
	int		 use_sentinel;	/* --redis sentinel://... */
	struct sentinel_cfg scfg;	/* the sentinels, from --redis */
	char		*spassword;	/* --sentinel-password-file */
	int		 resolving;	/* asking the sentinels */
	char		 primary[SENTINEL_HOST_MAX + 8]; /* "host:port" of
					 * the primary reached, "" if none */
	char		 candidate[SENTINEL_HOST_MAX + 8]; /* named by the
					 * sentinels, not yet checked (ROLE) */
	char		 announced[SENTINEL_HOST_MAX + 8]; /* +switch-master
					 * heard while asking, "" if none */
	struct reload	*reload;	/* a reload in progress, or NULL */
	char		 pos[REPL_ID_MAX]; /* last stream id read */
	int		 have_pos;	/* pos is valid (this process) */
	struct iset	*iset;		/* own writes not yet read back, by
					 * key (NULL without Redis) */
	struct event	*retry_ev;	/* reconnect after backoff */
	struct ticker	*tick;		/* timeout checks */
	struct event	*wait_ev;	/* end of --redis-wait */
	struct event	*notify_ev;	/* calls changed() from the loop */
	uint64_t	 acked;		/* highest own seq Redis has, as far
					 * as this connection knows */
	int		 backoff_ms;	/* next reconnect delay */
	int		 down_logged;	/* the outage was logged */
	int		 connected_once; /* a handshake ever completed */
	int64_t		 last_live;	/* last XREAD reply (ms) */
	struct repl_stats stats;	/* counters */
} R;

static void	repl_fail(const char *, ...) LOG_FMT(1, 2);
static void	repl_scan(const char *);
static void	repl_pump(void);
static void	repl_read(void);
static void	repl_connect_to(void);
static void	repl_check_gap(void);
static void	repl_waited_cb(redisAsyncContext *, void *, void *);
static void	repl_recent_add(struct obox *);
static void	repl_recent_trim(int64_t);
static void	repl_reload_start(uint64_t);
static void	repl_rewait_arm(void);
static redisAsyncContext *repl_open(const struct repl_target *);
static int	repl_hello(redisAsyncContext *, int);
static void	repl_resolved(const char *, int, const char *);

/* Return monotonic milliseconds. */
static int64_t
repl_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Parse a --redis URL into t; 0, or -1 with err. */
int
repl_parse_url(const char *url, struct repl_target *t, char *err,
    size_t errlen)
{
	const char	*p, *host, *hend, *colon;
	char		*end;
	long		 v;
	size_t		 n;

	memset(t, 0, sizeof *t);
	t->port = 6379;
	if (strncmp(url, "unix:", 5) == 0) {
		p = url + 5;
		if (strncmp(p, "//", 2) == 0)
			p += 2;
		if (*p != '/') {
			snprintf(err, errlen, "%s: unix: needs an absolute "
			    "path", url);
			return -1;
		}
		if (strlen(p) >= sizeof t->path) {
			snprintf(err, errlen, "%s: socket path too long "
			    "(max %zu bytes)", url, sizeof t->path - 1);
			return -1;
		}
		memcpy(t->path, p, strlen(p) + 1);
		return 0;
	}
	if (strncmp(url, "redis://", 8) != 0) {
		snprintf(err, errlen, "%s: expected unix:/path or "
		    "redis://host[:port][/db]", url);
		return -1;
	}
	host = url + 8;
	if (strchr(host, '@') != NULL) {
		snprintf(err, errlen, "%s: no credentials in the URL; use "
		    "--redis-password-file", url);
		return -1;
	}
	if (*host == '[') {
		if ((hend = strchr(host, ']')) == NULL) {
			snprintf(err, errlen, "%s: unterminated [", url);
			return -1;
		}
		host++;
		p = hend + 1;
	} else {
		hend = host + strcspn(host, ":/");
		p = hend;
	}
	n = (size_t)(hend - host);
	if (n == 0 || n >= sizeof t->host) {
		snprintf(err, errlen, "%s: bad host", url);
		return -1;
	}
	memcpy(t->host, host, n);
	t->host[n] = '\0';
	if (*p == ':') {
		colon = p + 1;
		errno = 0;
		v = strtol(colon, &end, 10);
		if (end == colon || errno != 0 || v < 1 || v > 65535 ||
		    (*end != '\0' && *end != '/')) {
			snprintf(err, errlen, "%s: bad port", url);
			return -1;
		}
		t->port = (int)v;
		p = end;
	}
	if (*p == '/' && p[1] != '\0') {
		errno = 0;
		v = strtol(p + 1, &end, 10);
		if (p[1] < '0' || p[1] > '9' || errno != 0 || *end != '\0' ||
		    v < 0 || v > 1000000) {
			snprintf(err, errlen, "%s: bad database number", url);
			return -1;
		}
		t->db = (int)v;
	} else if (*p != '\0' && strcmp(p, "/") != 0) {
		snprintf(err, errlen, "%s: unexpected text after the host",
		    url);
		return -1;
	}
	return 0;
}

/* Read the password file at path into *out (allocated); 0, or -1 with
 * err. */
static int
repl_read_password(const char *path, char **out, char *err, size_t errlen)
{
	char	 buf[REPL_PASSWORD_MAX + 2];
	ssize_t	 n;
	size_t	 len;
	int	 fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	n = read(fd, buf, sizeof buf - 1);
	saved = errno;
	close(fd);
	if (n == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(saved));
		return -1;
	}
	len = (size_t)n;
	if (len > REPL_PASSWORD_MAX) {
		snprintf(err, errlen, "%s: longer than %d bytes", path,
		    REPL_PASSWORD_MAX);
		return -1;
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	buf[len] = '\0';
	if (len == 0 || memchr(buf, '\0', len) != NULL ||
	    strpbrk(buf, "\r\n") != NULL) {
		snprintf(err, errlen, "%s: empty or not one line", path);
		return -1;
	}
	if ((*out = strdup(buf)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	explicit_bzero(buf, sizeof buf);
	return 0;
}

/* Return 1 if s is REPL_ORIGIN_LEN lowercase hex digits. */
static int
repl_origin_valid(const char *s, size_t len)
{
	size_t	i;

	if (len != REPL_ORIGIN_LEN)
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* Build the path of the origin file (or its temp file, with suffix); 0, or
 * -1 with err when too long. */
static int
repl_origin_path(char *buf, size_t size, const char *suffix, char *err,
    size_t errlen)
{
	if ((size_t)snprintf(buf, size, "%s/%s%s", settings.state_dir,
	    REPL_ORIGIN_FILE, suffix) >= size) {
		snprintf(err, errlen, "state directory path too long");
		return -1;
	}
	return 0;
}

/* Pick a random origin id and, unless checkonly, store it (atomically,
 * synced); 0, or -1 with err. */
static int
repl_make_origin(int checkonly, char *err, size_t errlen)
{
	char		 path[PATH_MAX], tmp[PATH_MAX], buf[REPL_ORIGIN_LEN + 1];
	uint8_t		 rnd[REPL_ORIGIN_LEN / 2];
	size_t		 i;
	int		 fd, saved;

	if (repl_origin_path(path, sizeof path, "", err, errlen) == -1 ||
	    repl_origin_path(tmp, sizeof tmp, ".tmp", err, errlen) == -1)
		return -1;
	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
		snprintf(err, errlen, "getrandom: %s", strerror(errno));
		return -1;
	}
	for (i = 0; i < sizeof rnd; i++)
		snprintf(R.origin + 2 * i, 3, "%02x", rnd[i]);
	if (checkonly)
		return 0;
	memcpy(buf, R.origin, REPL_ORIGIN_LEN);
	buf[REPL_ORIGIN_LEN] = '\n';
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1 || write(fd, buf, sizeof buf) != (ssize_t)sizeof buf ||
	    fsync(fd) == -1) {
		saved = errno;
		if (fd != -1)
			close(fd);
		(void)unlink(tmp);
		snprintf(err, errlen, "%s: %s", tmp, strerror(saved));
		return -1;
	}
	close(fd);
	if (rename(tmp, path) == -1) {
		saved = errno;
		(void)unlink(tmp);
		snprintf(err, errlen, "%s: %s", path, strerror(saved));
		return -1;
	}
	if ((fd = open(settings.state_dir, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) != -1) {
		(void)fsync(fd);
		close(fd);
	}
	log_info("redis: new origin id %s", R.origin);
	return 0;
}

/* Replace the origin id at run time; 0, or -1 (logged). */
static int
repl_new_origin(void)
{
	char	err[256];

	if (repl_make_origin(0, err, sizeof err) == -1) {
		log_warnx("redis: %s", err);
		return -1;
	}
	return 0;
}

/* Read this daemon's origin id from the state directory, creating it
 * unless checkonly; 0, or -1 with err. */
static int
repl_load_origin(int checkonly, char *err, size_t errlen)
{
	char		 path[PATH_MAX], buf[REPL_ORIGIN_LEN + 2];
	ssize_t		 n;
	int		 fd, saved;

	if (repl_origin_path(path, sizeof path, "", err, errlen) == -1)
		return -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return repl_make_origin(checkonly, err, errlen);
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	n = read(fd, buf, sizeof buf);
	saved = errno;
	close(fd);
	if (n == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(saved));
		return -1;
	}
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (!repl_origin_valid(buf, (size_t)n)) {
		snprintf(err, errlen, "%s: not an origin id (%d hex digits)",
		    path, REPL_ORIGIN_LEN);
		return -1;
	}
	memcpy(R.origin, buf, REPL_ORIGIN_LEN);
	R.origin[REPL_ORIGIN_LEN] = '\0';
	return 0;
}

/* Check the Redis settings, load the origin id and the password. */
int
repl_init(int checkonly, char *err, size_t errlen)
{
	uint8_t	key[SIPHASH_KEY_LEN];

	STAILQ_INIT(&R.outbox);
	STAILQ_INIT(&R.keep);
	STAILQ_INIT(&R.recent);
	R.state = REPL_OFF;
	if (settings.redis_url == NULL) {
		if (settings.sentinel_password_file != NULL) {
			snprintf(err, errlen, "--sentinel-password-file needs "
			    "--redis sentinel://...");
			return -1;
		}
		return 0;
	}
	if (strncmp(settings.redis_url, "sentinel://", 11) == 0) {
		if (sentinel_parse_url(settings.redis_url, &R.scfg, err,
		    errlen) == -1)
			return -1;
		R.use_sentinel = 1;
	} else if (repl_parse_url(settings.redis_url, &R.target, err,
	    errlen) == -1)
		return -1;
	else if (settings.sentinel_password_file != NULL) {
		snprintf(err, errlen, "--sentinel-password-file needs --redis "
		    "sentinel://...");
		return -1;
	}
	if (settings.redis_read_replica != NULL) {
		if (repl_parse_url(settings.redis_read_replica, &R.rtarget,
		    err, errlen) == -1)
			return -1;
		R.use_rr = 1;
	}
	if (settings.sentinel_password_file != NULL &&
	    repl_read_password(settings.sentinel_password_file, &R.spassword,
	    err, errlen) == -1)
		return -1;
	if (strlen(settings.key_prefix) > REVOKD_KEY_PREFIX_MAX) {
		snprintf(err, errlen, "key prefix longer than %d bytes",
		    REVOKD_KEY_PREFIX_MAX);
		return -1;
	}
	if (settings.redis_password_file != NULL &&
	    repl_read_password(settings.redis_password_file, &R.password, err,
	    errlen) == -1)
		return -1;
	if (getrandom(key, sizeof key, 0) != (ssize_t)sizeof key) {
		snprintf(err, errlen, "getrandom: %s", strerror(errno));
		return -1;
	}
	if ((R.iset = iset_new(key)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	explicit_bzero(key, sizeof key);
	R.state = REPL_LOADING;
	return repl_load_origin(checkonly, err, errlen);
}

/* --- The outbox ------------------------------------------------------- */

/* Tell the journal which records must stay uncompacted. */
static void
outbox_publish(void)
{
	struct obox	*o = STAILQ_FIRST(&R.outbox);

	/* Not yet open while it replays: repl_start publishes then. */
	if (journal != NULL)
		journal_set_unconfirmed(journal, o != NULL ? o->seq :
		    UINT64_MAX);
}

/* Copy n bytes to *p and advance it. */
static void
repl_put(char **p, const char *src, size_t n)
{
	if (n > 0)
		memcpy(*p, src, n);
	*p += n;
}

/* Return the key letter of a rule kind. */
static char
repl_kind_letter(int kind)
{
	static const char letters[RULES_NKINDS] = { 'j', 's', 'b', 'd', 'i' };

	return kind >= 0 && kind < RULES_NKINDS ? letters[kind] : '?';
}

/* Return the op letter of a record type, as in the stream. */
static const char *
repl_op(int type)
{
	switch (type) {
	case JOURNAL_REVOKE:
		return "r";
	case JOURNAL_UNREVOKE:
		return "u";
	case JOURNAL_REVOKESUB:
		return "s";
	case JOURNAL_BAN:
		return "b";
	case JOURNAL_UNBAN:
		return "n";
	case JOURNAL_REVOKESID:
		return "d";
	case JOURNAL_REVOKEALL:
		return "a";
	}
	return "?";
}

/* Return the record type of a stream op, or -1. */
static int
repl_op_type(const char *op, size_t len)
{
	static const int	 types[] = { JOURNAL_REVOKE, JOURNAL_UNREVOKE,
	    JOURNAL_REVOKESUB, JOURNAL_BAN, JOURNAL_UNBAN, JOURNAL_REVOKESID,
	    JOURNAL_REVOKEALL };
	size_t			 i;

	if (len != 1)
		return -1;
	for (i = 0; i < sizeof types / sizeof types[0]; i++)
		if (repl_op(types[i])[0] == op[0])
			return types[i];
	return -1;
}

/* Build the in-flight set's id for a rule: its kind letter, then the id,
 * so that a ban and a logout of one subject stay apart. Returns the
 * length (at most ISET_JTI_MAX). */
static size_t
repl_iset_id(char *buf, int type, const char *id, size_t idlen)
{
	buf[0] = repl_kind_letter(rules_kind_of(type));
	if (idlen > 0)
		memcpy(buf + 1, id, idlen);
	return idlen + 1;
}

/* Note an own write in the in-flight set: read back, it wins over other
 * daemons' events before it. Without it, at worst a conflict resolves
 * late. */
static void
repl_iset_note(const struct obox *o)
{
	char	 iid[ISET_JTI_MAX];
	size_t	 iidlen;

	iidlen = repl_iset_id(iid, o->type, o->data + o->isslen, o->jtilen);
	if (iset_add(R.iset, o->data, o->isslen, iid, iidlen, o->seq) == -1)
		log_warnx("redis: out of memory for the in-flight set");
}

/* Append an own write to the outbox (and the in-flight set). */
static void
outbox_add(const struct journal_rec *rec)
{
	struct obox	*o;
	char		*p;

	if (rec->seq <= R.last_seq)
		return;		/* replayed twice (snapshot and log) */
	o = malloc(sizeof *o + rec->isslen + rec->jtilen + rec->reasonlen +
	    rec->commlen + rec->hostlen);
	if (o == NULL)
		fatalx("out of memory for the Redis outbox");
	o->seq = rec->seq;
	o->type = rec->type;
	/* A lift carries no time (format 2 journals wrote one). */
	o->exp = rec->type == JOURNAL_UNREVOKE || rec->type == JOURNAL_UNBAN ?
	    0 : rec->exp;
	o->ts = rec->ts;
	o->uid = rec->uid;
	o->gid = rec->gid;
	o->pid = rec->pid;
	o->isslen = rec->isslen;
	o->jtilen = rec->jtilen;
	o->reasonlen = rec->reasonlen;
	o->commlen = rec->commlen;
	o->hostlen = rec->hostlen;
	p = o->data;
	repl_put(&p, rec->iss, rec->isslen);
	repl_put(&p, rec->jti, rec->jtilen);
	repl_put(&p, rec->reason, rec->reasonlen);
	repl_put(&p, rec->comm, rec->commlen);
	repl_put(&p, rec->host, rec->hostlen);
	STAILQ_INSERT_TAIL(&R.outbox, o, entry);
	if (R.unsent == NULL)
		R.unsent = o;
	R.nout++;
	R.last_seq = rec->seq;
	repl_iset_note(o);
	if (o == STAILQ_FIRST(&R.outbox))
		outbox_publish();
}

/* Fill a journal record from an outbox entry. */
static void
outbox_rec(const struct obox *o, struct journal_rec *rec)
{
	memset(rec, 0, sizeof *rec);
	rec->type = o->type;
	rec->seq = o->seq;
	rec->exp = o->exp;
	rec->ts = o->ts;
	rec->iss = o->data;
	rec->isslen = o->isslen;
	rec->jti = o->data + o->isslen;
	rec->jtilen = o->jtilen;
	rec->reason = o->data + o->isslen + o->jtilen;
	rec->reasonlen = o->reasonlen;
	rec->uid = o->uid;
	rec->gid = o->gid;
	rec->pid = o->pid;
	rec->comm = rec->reason + o->reasonlen;
	rec->commlen = o->commlen;
	rec->host = rec->comm + o->commlen;
	rec->hostlen = o->hostlen;
}

/* Drop the outbox entries Redis already has (seq <= upto). */
static void
outbox_confirmed_upto(uint64_t upto)
{
	struct obox	*o;

	while ((o = STAILQ_FIRST(&R.outbox)) != NULL && o->seq <= upto) {
		STAILQ_REMOVE_HEAD(&R.outbox, entry);
		if (R.unsent == o)
			R.unsent = STAILQ_NEXT(o, entry);
		R.nout--;
		free(o);
	}
	outbox_publish();
}

/* Note an own write replayed from the journal at start-up. */
void
repl_replayed(const struct journal_rec *rec)
{
	if (R.state != REPL_OFF)
		outbox_add(rec);
}

/* Queue an own write for Redis. */
void
repl_write(const struct journal_rec *rec)
{
	if (R.state == REPL_OFF)
		return;
	outbox_add(rec);
	repl_pump();
}

/* --- Connections ------------------------------------------------------ */

/* Run the changed() callback from the loop, not from inside a caller
 * that may be in the middle of a client's request. */
static void
repl_notify(void)
{
	if (R.notify_ev != NULL)
		event_active(R.notify_ev, EV_TIMEOUT, 0);
}

/* The deferred notification fired. */
static void
repl_notify_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (R.changed != NULL)
		R.changed();
}

/* Drop both connections and what depended on them: a reload in progress
 * and the writes it kept. */
static void
repl_drop(void)
{
	redisAsyncContext	*ac;
	struct obox		*o;

	/* Freed contexts call their pending callbacks with no reply; those
	 * see that the context is no longer ours and do nothing. */
	if ((ac = R.wc) != NULL) {
		R.wc = NULL;
		redisAsyncFree(ac);
	}
	if ((ac = R.sc) != NULL) {
		R.sc = NULL;
		redisAsyncFree(ac);
	}
	if ((ac = R.rc) != NULL) {
		R.rc = NULL;
		redisAsyncFree(ac);
	}
	R.wc_ready = R.sc_ready = R.reading = R.joined = 0;
	R.wc_pending = R.sc_pending = R.rc_pending = 0;
	if (R.reload != NULL) {
		rules_free(R.reload->rs);
		journal_snap_free(R.reload->snap);
		free(R.reload);
		R.reload = NULL;
	}
	/* Confirmed during the reload: remembered like any other. */
	while ((o = STAILQ_FIRST(&R.keep)) != NULL) {
		STAILQ_REMOVE_HEAD(&R.keep, entry);
		repl_recent_add(o);
	}
}

/* Log the outage once, switch to degraded when serving, and schedule a
 * reconnect. */
static void
repl_fail(const char *fmt, ...)
{
	struct timeval		 tv;
	va_list			 ap;
	char			 why[256];
	int			 delay;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	repl_drop();
	R.unsent = STAILQ_FIRST(&R.outbox);
	R.last_sent = NULL;
	R.eval_seq = 0;
	R.sent_max = 0;
	R.wait_out = 0;
	/* A new session (maybe a new primary) asks its replicas afresh. */
	R.replicas_short = 0;
	R.inflight = 0;
	if (!R.down_logged) {
		log_warnx("redis: %s: %s; %s, retrying", settings.redis_url,
		    why, R.state == REPL_LOADING && !R.wait_over ?
		    "still loading" : "serving from memory and the journal, "
		    "writes answered +PENDING");
		R.down_logged = 1;
	} else
		log_debug("redis: %s", why);
	if (R.state == REPL_SYNCED ||
	    (R.state == REPL_LOADING && R.wait_over))
		R.state = REPL_DEGRADED;
	/* Full jitter over the upper half: spreads a fleet's reconnects. */
	delay = R.backoff_ms / 2 + (int)(random() % (R.backoff_ms / 2 + 1));
	R.backoff_ms = R.backoff_ms * 2 > REPL_BACKOFF_MAX_MS ?
	    REPL_BACKOFF_MAX_MS : R.backoff_ms * 2;
	tv.tv_sec = delay / 1000;
	tv.tv_usec = (delay % 1000) * 1000;
	evtimer_add(R.retry_ev, &tv);
	repl_notify();
}

/* Account for a reply on ac; return 1 if ac is still ours and the reply
 * is usable (an error reply only when errors_ok), else 0: the context was
 * dropped, or an error reply failed the session. */
static int
repl_got_err(redisAsyncContext *ac, redisReply *r, const char *what,
    int errors_ok)
{
	if (ac == R.wc && ac != NULL) {
		R.wc_pending--;
		R.wc_progress = repl_ms();
	} else if (ac == R.sc && ac != NULL) {
		R.sc_pending--;
		R.sc_progress = repl_ms();
	} else if (ac == R.rc && ac != NULL) {
		R.rc_pending--;
		R.rc_progress = repl_ms();
	} else
		return 0;
	if (r == NULL)
		return 0;	/* the disconnect callback reports it */
	if (r->type == REDIS_REPLY_ERROR && !errors_ok) {
		repl_fail("%s: %s", what, r->str);
		return 0;
	}
	return 1;
}

/* repl_got_err without error replies. */
static int
repl_got(redisAsyncContext *ac, redisReply *r, const char *what)
{
	return repl_got_err(ac, r, what, 0);
}

/* Send a command on wc or sc; 0, or -1 (the session failed). */
static int
repl_send(redisAsyncContext *ac, redisCallbackFn *fn, void *priv, int argc,
    const char **argv, const size_t *lens)
{
	size_t	*pending = ac == R.wc ? &R.wc_pending : ac == R.rc ?
	    &R.rc_pending : &R.sc_pending;
	int64_t	*progress = ac == R.wc ? &R.wc_progress : ac == R.rc ?
	    &R.rc_progress : &R.sc_progress;

	if (redisAsyncCommandArgv(ac, fn, priv, argc, argv, lens) != REDIS_OK) {
		repl_fail("cannot send %s", argv[0]);
		return -1;
	}
	if ((*pending)++ == 0)
		*progress = repl_ms();
	return 0;
}

/* Send a command of NUL-terminated words. */
static int
repl_sendv(redisAsyncContext *ac, redisCallbackFn *fn, void *priv,
    int argc, const char **argv)
{
	size_t	lens[16];
	int	i;

	if (argc > 16)
		fatalx("repl_sendv: too many arguments");
	for (i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	return repl_send(ac, fn, priv, argc, argv, lens);
}

/* Build a Redis key name: the prefix followed by name. */
static size_t
repl_key(char *buf, size_t size, const char *name)
{
	int	n = snprintf(buf, size, "%s%s", settings.key_prefix, name);

	return n < 0 || (size_t)n >= size ? 0 : (size_t)n;
}

/* Build the key of a rule of kind into buf (REPL_KEY_MAX bytes); returns
 * its length. */
static size_t
repl_entry_key(char *buf, int kind, const char *iss, size_t isslen,
    const char *jti, size_t jtilen)
{
	int	n = snprintf(buf, REPL_KEY_MAX, "%s%c:%zu:", settings.key_prefix,
	    repl_kind_letter(kind), isslen);

	memcpy(buf + n, iss, isslen);
	memcpy(buf + n + isslen, jti, jtilen);
	return (size_t)n + isslen + jtilen;
}

/* Remember a confirmed write for a while (see REPL_RECENT_MS), dropping
 * the oldest beyond the limits. */
static void
repl_recent_add(struct obox *o)
{
	int64_t		 now = repl_ms();

	o->confirmed_ms = now;
	STAILQ_INSERT_TAIL(&R.recent, o, entry);
	R.nrecent++;
	repl_recent_trim(now);
}

/* Forget the confirmed writes beyond the limits (also from the tick, so
 * that an idle daemon does not hold them). */
static void
repl_recent_trim(int64_t now)
{
	struct obox	*old;

	while ((old = STAILQ_FIRST(&R.recent)) != NULL &&
	    (R.nrecent > REPL_RECENT_MAX ||
	    now - old->confirmed_ms > REPL_RECENT_MS)) {
		STAILQ_REMOVE_HEAD(&R.recent, entry);
		R.nrecent--;
		free(old);
	}
}

/* The outbox's head o is confirmed: Redis has it (and, with
 * --redis-replicas, enough replicas do). */
static void
repl_confirm_head(struct obox *o)
{
	STAILQ_REMOVE_HEAD(&R.outbox, entry);
	R.nout--;
	if (settings.redis_replicas == 0)
		R.inflight--;	/* else counted off at its script reply */
	R.acked = o->seq;
	if (o->seq > R.acked_max)
		R.acked_max = o->seq;
	if (R.last_sent == o)
		R.last_sent = NULL;
	if (R.reload != NULL && o->seq > R.reload->base)
		STAILQ_INSERT_TAIL(&R.keep, o, entry);
	else
		repl_recent_add(o);
}

/* A write's script reply: applied (or seen before). Without
 * --redis-replicas that confirms it; with it, its WAIT does. */
static void
repl_eval_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	struct obox	*o;

	/* Only a current connection's replies get here: priv is alive. */
	if (!repl_got(ac, reply, "write"))
		return;
	if (settings.redis_replicas > 0) {
		/* Replies come in the order the writes were sent; the write
		 * stays in the outbox (so priv is alive) until a WAIT. */
		o = priv;
		if (o->seq <= R.eval_seq) {
			repl_fail("write reply out of order");
			return;
		}
		R.eval_seq = o->seq;
		/* The window bounds scripts in flight, not writes waiting
		 * for replicas (which may be gone for long). */
		R.inflight--;
		repl_pump();
		return;
	}
	/* Replies come in the order the writes were sent: the head. */
	if ((o = STAILQ_FIRST(&R.outbox)) == NULL || o != priv) {
		repl_fail("write confirmation out of order");
		return;
	}
	repl_confirm_head(o);
	outbox_publish();
	repl_pump();
	repl_notify();
}

/* Send WAIT for the writes up to seq (every write sent before it on the
 * connection counts); it blocks the connection at most half the Redis
 * timeout, so a missing replica is told from a hung Redis. */
static void
repl_send_wait(uint64_t seq)
{
	uint64_t	*upto;
	char		 nrep[16], wms[16];
	const char	*argv[3];

	if ((upto = malloc(sizeof *upto)) == NULL) {
		repl_fail("out of memory");
		return;
	}
	*upto = seq;
	snprintf(nrep, sizeof nrep, "%d", settings.redis_replicas);
	snprintf(wms, sizeof wms, "%d", settings.redis_timeout * 500);
	argv[0] = "WAIT";
	argv[1] = nrep;
	argv[2] = wms;
	if (repl_sendv(R.wc, repl_waited_cb, upto, 3, argv) == -1)
		free(upto);
	else
		R.wait_out = 1;
}

/* WAIT replied for the writes up to *priv: confirmed if enough replicas
 * have them. If not, every write is answered +PENDING (the primary has
 * them) until a WAIT, probing every second on the same connection (which
 * keeps following the stream), finds the replicas back. */
static void
repl_waited_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	redisReply	*r = reply;
	struct obox	*o;
	uint64_t	 upto = *(uint64_t *)priv;

	free(priv);
	if (!repl_got(ac, r, "WAIT"))
		return;
	R.wait_out = 0;
	if (r->type != REDIS_REPLY_INTEGER) {
		repl_fail("WAIT: unexpected reply");
		return;
	}
	if (r->integer < settings.redis_replicas) {
		if (!R.replicas_short)
			log_warnx("redis: WAIT: %lld of %d replicas acknowledged "
			    "within %d ms; writes answered +PENDING until "
			    "they do", r->integer, settings.redis_replicas,
			    settings.redis_timeout * 500);
		R.replicas_short = 1;
		repl_rewait_arm();
		repl_notify();
		return;
	}
	if (R.replicas_short)
		log_info("redis: WAIT: %lld replicas have the writes again",
		    r->integer);
	R.replicas_short = 0;
	/* The writes up to upto all had their script replies (before this
	 * one). */
	while ((o = STAILQ_FIRST(&R.outbox)) != NULL && o->seq <= upto &&
	    o->seq <= R.eval_seq)
		repl_confirm_head(o);
	outbox_publish();
	/* Writes sent while it blocked: the next WAIT. */
	if (R.sent_max > upto)
		repl_send_wait(R.sent_max);
	repl_pump();
	repl_notify();
}

/* Arm the probe of a short WAIT (every second while short). */
static void
repl_rewait_arm(void)
{
	struct timeval	tv = { 1, 0 };

	if (!evtimer_pending(R.rewait_ev, NULL))
		evtimer_add(R.rewait_ev, &tv);
}

/* The pause after a short WAIT is over: wait again, for everything sent
 * this session (after a reconnect, the writes sent again). */
static void
repl_rewait_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (!R.replicas_short)
		return;
	if (R.wc_ready && !R.wait_out && R.sent_max > 0 &&
	    !STAILQ_EMPTY(&R.outbox))
		repl_send_wait(R.sent_max);
	else if (STAILQ_EMPTY(&R.outbox))
		R.replicas_short = 0;	/* nothing to wait for */
	repl_rewait_arm();
}

/* Send unsent writes while the window has room. */
static void
repl_pump(void)
{
	char		 key[REPL_KEY_MAX], stream[REPL_KEY_MAX];
	char		 origins[REPL_KEY_MAX], audit[REPL_KEY_MAX];
	char		 seq[24], exp[24], ttl[24], maxlen[24], prev[24];
	char		 amaxlen[24], ts[24], uid[16], gid[16], pid[16];
	const char	*argv[24], *p;
	size_t		 lens[24];
	struct obox	*o, *before;
	int		 i, kind, sent = 0;

	/* Not before the stream position is settled: a reload must know
	 * which writes it cannot have seen (those sent after it started). */
	if (!R.wc_ready || (!R.joined && R.reload == NULL))
		return;
	if (repl_key(stream, sizeof stream, "stream") == 0 ||
	    repl_key(origins, sizeof origins, "origins") == 0 ||
	    repl_key(audit, sizeof audit, "audit") == 0)
		return;
	snprintf(maxlen, sizeof maxlen, "%zu", settings.stream_maxlen);
	snprintf(amaxlen, sizeof amaxlen, "%zu", settings.audit_maxlen);
	while ((o = R.unsent) != NULL && R.inflight < REPL_WINDOW) {
		/* The previous write, which Redis must have applied first. */
		before = R.last_sent;
		snprintf(prev, sizeof prev, "%llu", (unsigned long long)
		    (before != NULL ? before->seq : R.acked));
		snprintf(seq, sizeof seq, "%llu", (unsigned long long)o->seq);
		snprintf(exp, sizeof exp, "%lld", (long long)o->exp);
		kind = rules_kind_of(o->type);
		/* The key expires when the rule stops mattering. */
		snprintf(ttl, sizeof ttl, "%lld", (long long)(kind == -1 ?
		    settings.exp_grace : rules_end(rules,
		    (enum rules_kind)kind, 0) + settings.exp_grace));
		snprintf(ts, sizeof ts, "%lld", (long long)o->ts);
		snprintf(uid, sizeof uid, "%ld", o->uid == JOURNAL_NOBODY ?
		    -1L : (long)o->uid);
		snprintf(gid, sizeof gid, "%ld", o->gid == JOURNAL_NOBODY ?
		    -1L : (long)o->gid);
		snprintf(pid, sizeof pid, "%lu", (unsigned long)o->pid);
		p = o->data + o->isslen + o->jtilen + o->reasonlen;
		i = 0;
		argv[i] = "EVALSHA"; lens[i++] = 7;
		argv[i] = R.sha; lens[i++] = 40;
		argv[i] = "4"; lens[i++] = 1;
		argv[i] = key;
		lens[i++] = repl_entry_key(key, kind, o->data, o->isslen,
		    o->data + o->isslen, o->jtilen);
		argv[i] = stream; lens[i++] = strlen(stream);
		argv[i] = origins; lens[i++] = strlen(origins);
		argv[i] = audit; lens[i++] = strlen(audit);
		argv[i] = repl_op(o->type); lens[i++] = 1;
		argv[i] = R.origin; lens[i++] = REPL_ORIGIN_LEN;
		argv[i] = seq; lens[i++] = strlen(seq);
		argv[i] = exp; lens[i++] = strlen(exp);
		argv[i] = ttl; lens[i++] = strlen(ttl);
		argv[i] = o->data + o->isslen + o->jtilen;
		lens[i++] = o->reasonlen;
		argv[i] = o->data; lens[i++] = o->isslen;
		argv[i] = o->data + o->isslen; lens[i++] = o->jtilen;
		argv[i] = maxlen; lens[i++] = strlen(maxlen);
		argv[i] = prev; lens[i++] = strlen(prev);
		argv[i] = amaxlen; lens[i++] = strlen(amaxlen);
		argv[i] = ts; lens[i++] = strlen(ts);
		argv[i] = uid; lens[i++] = strlen(uid);
		argv[i] = gid; lens[i++] = strlen(gid);
		argv[i] = pid; lens[i++] = strlen(pid);
		argv[i] = p; lens[i++] = o->commlen;
		argv[i] = p + o->commlen; lens[i++] = o->hostlen;
		if (repl_send(R.wc, repl_eval_cb, o, i, argv, lens) == -1)
			return;
		R.unsent = STAILQ_NEXT(o, entry);
		R.last_sent = o;
		R.sent_max = o->seq;
		R.inflight++;
		sent++;
	}
	/* One WAIT covers every write sent before it; while the replicas
	 * are short, only the periodic probe asks. */
	if (sent > 0 && settings.redis_replicas > 0 && !R.wait_out &&
	    !R.replicas_short)
		repl_send_wait(R.sent_max);
}

/* --- The stream ------------------------------------------------------- */

/* Parse len decimal digits (nothing else) at s into *v; 0, or -1 if
 * they are not that or overflow. */
static int
repl_u64(const char *s, size_t len, uint64_t *v)
{
	size_t	i;

	*v = 0;
	if (len == 0 || len > 20)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9' ||
		    *v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		*v = *v * 10 + (uint64_t)(s[i] - '0');
	}
	return 0;
}

/* Parse a stream id "ms-seq"; 0, or -1 if it is not one. */
static int
repl_id_parse(const char *s, uint64_t *ms, uint64_t *seq)
{
	const char	*dash = strchr(s, '-');

	if (dash == NULL || repl_u64(s, (size_t)(dash - s), ms) == -1 ||
	    repl_u64(dash + 1, strlen(dash + 1), seq) == -1)
		return -1;
	return 0;
}

/* Compare two stream ids like strcmp; an unparsable one sorts last. */
static int
repl_id_cmp(const char *a, const char *b)
{
	uint64_t	am, as, bm, bs;

	if (repl_id_parse(a, &am, &as) == -1)
		return 1;
	if (repl_id_parse(b, &bm, &bs) == -1)
		return -1;
	if (am != bm)
		return am < bm ? -1 : 1;
	return as < bs ? -1 : as > bs;
}

/* Become synced (caught up with the stream). */
static void
repl_set_synced(void)
{
	if (R.state == REPL_SYNCED)
		return;
	log_info("redis: synced with %s (%zu entries, %zu writes pending)",
	    settings.redis_url, rules_count(rules, -1), R.nout);
	R.state = REPL_SYNCED;
	R.wait_over = 1;
	R.down_logged = 0;
	R.backoff_ms = REPL_BACKOFF_MIN_MS;
	repl_notify();
}

/* Return the value of field name in an event's field list, or NULL. */
static const redisReply *
repl_field(const redisReply *fields, const char *name)
{
	size_t	i;

	for (i = 0; i + 1 < fields->elements; i += 2)
		if (fields->element[i]->type == REDIS_REPLY_STRING &&
		    strcmp(fields->element[i]->str, name) == 0 &&
		    fields->element[i + 1]->type == REDIS_REPLY_STRING)
			return fields->element[i + 1];
	return NULL;
}

/* Parse an audit field holding a signed id (-1: unknown) into *v; a
 * missing or bad one leaves JOURNAL_NOBODY (events of older daemons have
 * none). */
static void
repl_audit_id(const redisReply *f, uint32_t *v)
{
	uint64_t	n;

	*v = JOURNAL_NOBODY;
	if (f != NULL && repl_u64(f->str, f->len, &n) == 0 &&
	    n < JOURNAL_NOBODY)
		*v = (uint32_t)n;
}

/* Fill rec's audit fields from an event's fields (absent: unknown). */
static void
repl_audit_fields(const redisReply *f, struct journal_rec *rec)
{
	const redisReply	*v;
	uint64_t		 n;

	repl_audit_id(repl_field(f, "uid"), &rec->uid);
	repl_audit_id(repl_field(f, "gid"), &rec->gid);
	rec->pid = 0;
	if ((v = repl_field(f, "pid")) != NULL &&
	    repl_u64(v->str, v->len, &n) == 0 && n <= UINT32_MAX)
		rec->pid = (uint32_t)n;
	if ((v = repl_field(f, "ts")) != NULL &&
	    repl_u64(v->str, v->len, &n) == 0 && n <= INT64_MAX)
		rec->ts = (int64_t)n;
	if ((v = repl_field(f, "comm")) != NULL &&
	    v->len <= JOURNAL_COMM_MAX) {
		rec->comm = v->str;
		rec->commlen = v->len;
	}
	if ((v = repl_field(f, "host")) != NULL &&
	    v->len <= JOURNAL_HOST_MAX) {
		rec->host = v->str;
		rec->hostlen = v->len;
	}
}

/* Apply one stream event [id, [field, value, ...]]; 0, or -1 when the
 * reply does not even carry a usable id (the stream cannot be followed). */
static int
repl_apply_event(const redisReply *e)
{
	const redisReply	*id, *f, *o, *s, *op, *iss, *jti, *exp, *why;
	const redisReply	*ge, *gr;
	struct journal_rec	 rec, arec;
	struct rules_match	 hit;
	int64_t			 horizon, now = (int64_t)time(NULL);
	uint64_t		 v, e64, e64g, inflight;
	char			 iid[ISET_JTI_MAX];
	size_t			 iidlen;
	int			 own, type, kind, lift;

	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
	    (id = e->element[0])->type != REDIS_REPLY_STRING ||
	    (f = e->element[1])->type != REDIS_REPLY_ARRAY ||
	    id->len >= sizeof R.pos || repl_id_parse(id->str, &v, &e64) == -1)
		return -1;
	memcpy(R.pos, id->str, id->len + 1);
	o = repl_field(f, "o");
	s = repl_field(f, "s");
	op = repl_field(f, "op");
	iss = repl_field(f, "iss");
	jti = repl_field(f, "jti");
	exp = repl_field(f, "exp");
	why = repl_field(f, "r");
	if (o == NULL || s == NULL || op == NULL || iss == NULL ||
	    jti == NULL || exp == NULL || why == NULL ||
	    (type = repl_op_type(op->str, op->len)) == -1 ||
	    (jti->len < 1) != (type == JOURNAL_REVOKEALL) ||
	    jti->len > settings.limits.max_jti || iss->len >
	    settings.limits.max_iss || why->len > settings.limits.max_reason ||
	    repl_u64(s->str, s->len, &v) == -1 ||
	    repl_u64(exp->str, exp->len, &e64) == -1) {
		log_warnx("redis: stream event %s malformed, skipped", R.pos);
		return 0;
	}
	kind = rules_kind_of(type);
	lift = type == JOURNAL_UNREVOKE || type == JOURNAL_UNBAN;
	own = o->len == REPL_ORIGIN_LEN && memcmp(o->str, R.origin,
	    REPL_ORIGIN_LEN) == 0;
	iidlen = repl_iset_id(iid, type, jti->str, jti->len);
	inflight = iset_get(R.iset, iss->str, iss->len, iid, iidlen);
	memset(&rec, 0, sizeof rec);
	rec.type = type;
	rec.flags = JOURNAL_F_REMOTE;
	rec.ts = now;
	rec.iss = iss->str;
	rec.isslen = iss->len;
	rec.jti = jti->str;
	rec.jtilen = jti->len;
	rec.reason = why->str;
	rec.reasonlen = why->len;
	rec.exp = lift ? 0 : (int64_t)e64;
	repl_audit_fields(f, &rec);
	if (own) {
		/* Applied when it was made; applied again only if it is our
		 * latest write of the key, as Redis merged it (a later exp
		 * from another daemon wins there). */
		if (inflight == 0 || inflight != v)
			return 0;
		(void)iset_del(R.iset, iss->str, iss->len, iid, iidlen);
	} else {
		/* Another daemon's write, as it was made: part of the
		 * fleet's history even when it changes nothing here. The
		 * journal keeps it for the trail only (never applied). */
		arec = rec;
		arec.flags |= JOURNAL_F_AUDIT;
		if (!lift && (ge = repl_field(f, "ge")) != NULL &&
		    repl_u64(ge->str, ge->len, &e64g) == 0 &&
		    e64g <= INT64_MAX)
			arec.exp = (int64_t)e64g;
		if ((gr = repl_field(f, "gr")) != NULL &&
		    gr->len <= settings.limits.max_reason) {
			arec.reason = gr->str;
			arec.reasonlen = gr->len;
		}
		audit_log(&arec);
		audit_add(&arec);
		if (journal_append(journal, &arec) == 0)
			log_warnx("redis: out of memory journaling an event");
		if (inflight != 0)
			return 0;	/* an own write follows it */
		R.stats.applied++;
	}
	/* The journal's record is made now, here; the audit fields say
	 * when and by whom the write was made. */
	horizon = now - settings.exp_grace;
	if (lift) {
		if (!rules_lookup(rules, (enum rules_kind)kind, iss->str,
		    iss->len, jti->str, jti->len, horizon, NULL))
			return 0;
		if (journal_append(journal, &rec) == 0)
			log_warnx("redis: out of memory journaling an event");
		(void)rules_remove(rules, (enum rules_kind)kind, iss->str,
		    iss->len, jti->str, jti->len, horizon);
		return 0;
	}
	if (e64 > UINT32_MAX || rules_end(rules, (enum rules_kind)kind,
	    rec.exp) <= horizon)
		return 0;	/* expired here already */
	if (rules_lookup(rules, (enum rules_kind)kind, iss->str, iss->len,
	    jti->str, jti->len, horizon, &hit) && hit.time >= rec.exp &&
	    (why->len == 0 || (why->len == hit.reason_len &&
	    memcmp(why->str, hit.reason, why->len) == 0)))
		return 0;	/* nothing new */
	if (journal_append(journal, &rec) == 0)
		log_warnx("redis: out of memory journaling an event");
	if (rules_add(rules, (enum rules_kind)kind, iss->str, iss->len,
	    jti->str, jti->len, rec.exp, why->str, why->len, horizon) == -1)
		log_warnx("redis: out of memory applying an event");
	return 0;
}

/* XREAD replied: apply the events, then read on. */
static void
repl_xread_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	redisReply	*r = reply, *st, *entries;
	size_t		 i, n = 0;

	(void)priv;
	if (!repl_got(ac, r, "XREAD"))
		return;
	R.reading = 0;
	R.last_live = repl_ms();
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
	    (st = r->element[0])->type == REDIS_REPLY_ARRAY &&
	    st->elements == 2 &&
	    (entries = st->element[1])->type == REDIS_REPLY_ARRAY) {
		n = entries->elements;
		for (i = 0; i < n; i++)
			if (repl_apply_event(entries->element[i]) == -1) {
				journal_kick(journal);
				repl_fail("XREAD: an entry without a valid id");
				return;
			}
		journal_kick(journal);
	} else if (r->type != REDIS_REPLY_NIL) {
		repl_fail("XREAD: unexpected reply");
		return;
	}
	if (n < REPL_XREAD_COUNT)
		repl_set_synced();
	repl_read();
}

/* Read the stream from pos (blocking on sc) unless a read is out. */
static void
repl_read(void)
{
	char		 stream[REPL_KEY_MAX], count[16], block[16];
	const char	*argv[8];
	int		 argc;

	if (!R.sc_ready || R.reading || !R.joined || R.reload != NULL ||
	    repl_key(stream, sizeof stream, "stream") == 0)
		return;
	snprintf(count, sizeof count, "%d", REPL_XREAD_COUNT);
	/* Replies confirm the stream live: often enough for max-staleness. */
	snprintf(block, sizeof block, "%d", settings.max_staleness > 0 &&
	    settings.max_staleness * 250 < REPL_BLOCK_MS ?
	    settings.max_staleness * 250 : REPL_BLOCK_MS);
	argc = 0;
	argv[argc++] = "XREAD";
	argv[argc++] = "COUNT";
	argv[argc++] = count;
	/* Catching up does not block: an empty reply means caught up. */
	if (R.state == REPL_SYNCED) {
		argv[argc++] = "BLOCK";
		argv[argc++] = block;
	}
	argv[argc++] = "STREAMS";
	argv[argc++] = stream;
	argv[argc++] = R.pos;
	if (repl_sendv(R.sc, repl_xread_cb, NULL, argc, argv) == 0)
		R.reading = 1;
}

/* --- Full reload ------------------------------------------------------ */

/* The record type that makes a rule of each kind. */
static const int repl_kind_type[RULES_NKINDS] = {
	JOURNAL_REVOKE, JOURNAL_REVOKESUB, JOURNAL_BAN, JOURNAL_REVOKESID,
	JOURNAL_REVOKEALL
};

/* Return the kind of a rule's key letter, or -1. */
static int
repl_letter_kind(char c)
{
	int	k;

	for (k = 0; k < RULES_NKINDS; k++)
		if (repl_kind_letter(k) == c)
			return k;
	return -1;
}

/* Parse the value "<time>:<isslen>:<idlen>:<iss><id><reason>" of a rule
 * of kind into rec; 0, or -1 if it is not one. */
static int
repl_parse_value(const char *v, size_t len, int kind,
    struct journal_rec *rec)
{
	const char		*p = v, *end = v + len;
	unsigned long long	 n[3];
	int			 i;

	for (i = 0; i < 3; i++) {
		n[i] = 0;
		if (p == end || *p < '0' || *p > '9')
			return -1;
		while (p < end && *p >= '0' && *p <= '9') {
			if (n[i] > UINT32_MAX)
				return -1;
			n[i] = n[i] * 10 + (unsigned)(*p++ - '0');
		}
		if (p == end || *p++ != ':')
			return -1;
	}
	if (n[1] > settings.limits.max_iss ||
	    (n[2] < 1) != (kind == RULES_ISS) ||
	    n[2] > settings.limits.max_jti ||
	    (size_t)(end - p) < n[1] + n[2] ||
	    (size_t)(end - p) - n[1] - n[2] > settings.limits.max_reason)
		return -1;
	memset(rec, 0, sizeof *rec);
	rec->type = repl_kind_type[kind];
	rec->flags = JOURNAL_F_REMOTE;
	rec->exp = (int64_t)n[0];
	rec->iss = p;
	rec->isslen = n[1];
	rec->jti = p + n[1];
	rec->jtilen = n[2];
	rec->reason = p + n[1] + n[2];
	rec->reasonlen = (size_t)(end - p) - n[1] - n[2];
	rec->uid = rec->gid = JOURNAL_NOBODY;
	return 0;
}

/* Apply a write to a reload's set and its journal image. */
static int
repl_reload_apply(struct reload *rl, const struct journal_rec *rec,
    int64_t horizon)
{
	int	kind = rules_kind_of(rec->type);

	if (kind != -1 && rec->type != JOURNAL_UNREVOKE &&
	    rec->type != JOURNAL_UNBAN && (rec->exp > (int64_t)UINT32_MAX ||
	    rules_end(rl->rs, (enum rules_kind)kind, rec->exp) <= horizon))
		return 0;	/* not worth a record either */
	if (rules_apply(rl->rs, rec, horizon) == -1)
		return -1;
	return journal_snap_add(rl->snap, rec);
}

/* The scan is complete: swap the new set in and follow the stream. */
static void
repl_reload_finish(void)
{
	struct reload		*rl = R.reload;
	struct journal_rec	 rec;
	struct obox		*o;
	int64_t			 horizon = (int64_t)time(NULL) -
	    settings.exp_grace;
	size_t			 i;

	/* Own writes the scan may not have seen, in order: those confirmed
	 * meanwhile, then those still waiting. */
	while ((o = STAILQ_FIRST(&R.keep)) != NULL) {
		STAILQ_REMOVE_HEAD(&R.keep, entry);
		outbox_rec(o, &rec);
		rec.flags = JOURNAL_F_STATE;
		if (repl_reload_apply(rl, &rec, horizon) == -1)
			fatalx("out of memory reloading from Redis");
		repl_recent_add(o);
	}
	STAILQ_FOREACH(o, &R.outbox, entry) {
		outbox_rec(o, &rec);
		rec.flags = JOURNAL_F_STATE;
		if (repl_reload_apply(rl, &rec, horizon) == -1)
			fatalx("out of memory reloading from Redis");
	}
	/* Redis's values carry no audit trail: the journal keeps the one in
	 * memory, oldest first (own writes above are STATE, not audited
	 * twice; they are in it). */
	for (i = audit_count(); i-- > 0; ) {
		audit_rec(audit_get(i), &rec);
		if (journal_snap_add(rl->snap, &rec) == -1)
			log_warnx("redis: an audit record could not be kept");
	}
	rules_free(rules);
	rules = rl->rs;
	if (journal_replace(journal, rl->snap) == 0)
		log_warnx("redis: out of memory writing the reloaded set to "
		    "the journal; it keeps the old one");
	journal_kick(journal);
	iset_drop_upto(R.iset, rl->base);
	memcpy(R.pos, rl->pos, sizeof R.pos);
	R.have_pos = 1;
	R.stats.reloads++;
	log_info("redis: loaded %zu entries from Redis in %lld ms",
	    rl->loaded, (long long)(repl_ms() - rl->t0));
	R.reload = NULL;
	if (rl->ac != R.rc || R.rc == NULL) {
		R.rr_skip = 0;
		R.joined = 1;
		free(rl);
		repl_read();
		return;
	}
	/* From the read replica: done with it. The primary's stream must
	 * still hold every event after the replica's position (a replica
	 * far behind may be past the trimming); XINFO decides, as after a
	 * reconnect, and a gap reloads from the primary. */
	free(rl);
	redisAsyncFree(R.rc);
	R.rc = NULL;
	R.rc_pending = 0;
	R.rr_skip = 1;
	repl_check_gap();
}

/* Finish the reload once every part of it has answered. */
static void
repl_reload_check(void)
{
	struct reload	*rl = R.reload;

	if (rl != NULL && rl->have_pos && rl->scan_done && rl->mgets == 0)
		repl_reload_finish();
}

/* The keys of one MGET, by kind. */
struct repl_mget {
	size_t		 n;		/* keys asked for */
	signed char	 kind[];	/* each one's kind, -1: not a rule */
};

/* MGET replied: take the entries. */
static void
repl_mget_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	redisReply		*r = reply;
	struct reload		*rl = R.reload;
	struct journal_rec	 rec;
	int64_t			 horizon = (int64_t)time(NULL) -
	    settings.exp_grace;
	size_t			 i;
	struct repl_mget	*m = priv;

	if (!repl_got(ac, r, "MGET") || rl == NULL) {
		free(m);
		return;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != m->n) {
		free(m);
		repl_fail("MGET: unexpected reply");
		return;
	}
	for (i = 0; i < r->elements; i++) {
		if (r->element[i]->type != REDIS_REPLY_STRING)
			continue;	/* gone since the SCAN */
		if (m->kind[i] < 0 || repl_parse_value(r->element[i]->str,
		    r->element[i]->len, m->kind[i], &rec) == -1) {
			log_warnx("redis: an entry's value is malformed, "
			    "skipped");
			continue;
		}
		if (repl_reload_apply(rl, &rec, horizon) == -1)
			fatalx("out of memory reloading from Redis");
		rl->loaded++;
	}
	free(m);
	rl->mgets--;
	repl_reload_check();
}

/* SCAN replied: fetch the keys' values, scan on. */
static void
repl_scan_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	redisReply	*r = reply, *keys, *k;
	struct reload	*rl = R.reload;
	struct repl_mget *m;
	const char	**argv;
	size_t		 *lens, i, plen = strlen(settings.key_prefix);

	(void)priv;
	if (!repl_got(ac, r, "SCAN") || rl == NULL)
		return;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    (keys = r->element[1])->type != REDIS_REPLY_ARRAY) {
		repl_fail("SCAN: unexpected reply");
		return;
	}
	if (keys->elements > 0) {
		argv = calloc(keys->elements + 1, sizeof *argv);
		lens = calloc(keys->elements + 1, sizeof *lens);
		m = malloc(sizeof *m + keys->elements);
		if (argv == NULL || lens == NULL || m == NULL)
			fatalx("out of memory reloading from Redis");
		argv[0] = "MGET";
		lens[0] = 4;
		m->n = keys->elements;
		for (i = 0; i < keys->elements; i++) {
			k = keys->element[i];
			if (k->type != REDIS_REPLY_STRING) {
				free(argv);
				free(lens);
				free(m);
				repl_fail("SCAN: a key that is not a string");
				return;
			}
			argv[i + 1] = k->str;
			lens[i + 1] = k->len;
			/* The pattern matched "<prefix><letter>:". */
			m->kind[i] = (signed char)(k->len > plen + 1 ?
			    repl_letter_kind(k->str[plen]) : -1);
		}
		i = keys->elements + 1;
		rl->mgets++;
		if (repl_send(rl->ac, repl_mget_cb, m, (int)i, argv,
		    lens) == -1) {
			free(argv);
			free(lens);
			free(m);
			return;
		}
		free(argv);
		free(lens);
	}
	if (strcmp(r->element[0]->str, "0") == 0) {
		rl->scan_done = 1;
		repl_reload_check();
	} else
		repl_scan(r->element[0]->str);
}

/* Send SCAN from cursor over the entry keys. */
static void
repl_scan(const char *cursor)
{
	char		 pat[2 * REVOKD_KEY_PREFIX_MAX + 16], count[16];
	const char	*argv[6], *p;
	size_t		 n = 0;

	/* The prefix is matched literally: escape glob characters. */
	for (p = settings.key_prefix; *p != '\0'; p++) {
		if (strchr("*?[]\\", *p) != NULL)
			pat[n++] = '\\';
		pat[n++] = *p;
	}
	memcpy(pat + n, "[jsbdi]:*", 10);
	snprintf(count, sizeof count, "%d", REPL_SCAN_COUNT);
	argv[0] = "SCAN";
	argv[1] = cursor;
	argv[2] = "MATCH";
	argv[3] = pat;
	argv[4] = "COUNT";
	argv[5] = count;
	(void)repl_sendv(R.reload->ac, repl_scan_cb, NULL, 6, argv);
}

/* XREVRANGE replied: the stream position the reload starts from. */
static void
repl_xrev_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	redisReply	*r = reply, *e;
	struct reload	*rl = R.reload;

	(void)priv;
	if (!repl_got(ac, r, "XREVRANGE") || rl == NULL)
		return;
	if (r->type != REDIS_REPLY_ARRAY) {
		repl_fail("XREVRANGE: unexpected reply");
		return;
	}
	strcpy(rl->pos, "0-0");
	if (r->elements > 0 && (e = r->element[0])->type ==
	    REDIS_REPLY_ARRAY && e->elements == 2 &&
	    e->element[0]->type == REDIS_REPLY_STRING &&
	    e->element[0]->len < sizeof rl->pos)
		memcpy(rl->pos, e->element[0]->str, e->element[0]->len + 1);
	rl->have_pos = 1;
	repl_reload_check();
}

/* The read replica's origins entry: a replica behind this daemon's own
 * confirmed writes cannot serve the reload; the primary does it. */
static void
repl_rr_hget_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	redisReply	*r = reply;
	struct reload	*rl = R.reload;
	uint64_t	 has = 0, base;

	(void)priv;
	if (!repl_got(ac, r, "HGET") || rl == NULL)
		return;
	if (r->type == REDIS_REPLY_STRING &&
	    repl_u64(r->str, r->len, &has) == -1)
		has = 0;
	if (has >= rl->base)
		return;
	log_info("redis: the read replica has own writes up to %llu of %llu; "
	    "loading from the primary", (unsigned long long)has,
	    (unsigned long long)rl->base);
	base = rl->base;
	R.rc = NULL;
	R.rc_pending = 0;
	redisAsyncFree(ac);	/* its later replies are dropped */
	rules_free(rl->rs);
	journal_snap_free(rl->snap);
	free(rl);
	R.reload = NULL;
	R.rr_skip = 1;
	repl_reload_start(base);
}

/* Start a full reload: note the stream's last id, then scan every entry.
 * Own writes above base were not in Redis when it started. */
static void
repl_reload_start(uint64_t base)
{
	struct reload	*rl;
	char		 stream[REPL_KEY_MAX];
	const char	*argv[6];
	uint8_t		 key[BLOCKLIST_KEY_LEN];

	if ((rl = calloc(1, sizeof *rl)) == NULL ||
	    getrandom(key, sizeof key, 0) != (ssize_t)sizeof key ||
	    (rl->rs = rules_new(key, settings.max_token_lifetime)) == NULL ||
	    (rl->snap = journal_snap_new()) == NULL)
		fatalx("out of memory starting a reload from Redis");
	rl->base = base;
	rl->t0 = repl_ms();
	rl->ac = R.wc;
	R.reload = rl;
	if (R.use_rr && !R.rr_skip && R.rc == NULL &&
	    (R.rc = repl_open(&R.rtarget)) != NULL &&
	    repl_hello(R.rc, R.rtarget.db) == 0)
		rl->ac = R.rc;
	if (R.wc == NULL)
		return;		/* opening the replica failed the session */
	/* From a replica, the position is noted there too: its scan then
	 * reflects at least every event up to it. */
	log_info("redis: loading the full set from %s",
	    rl->ac == R.rc ? settings.redis_read_replica : settings.redis_url);
	if (rl->ac == R.rc) {
		/* ... and it must have every own write the primary has
		 * (those up to base are not re-applied). */
		char	 origins[REPL_KEY_MAX];

		(void)repl_key(origins, sizeof origins, "origins");
		argv[0] = "HGET";
		argv[1] = origins;
		argv[2] = R.origin;
		if (repl_sendv(R.rc, repl_rr_hget_cb, NULL, 3, argv) == -1)
			return;
	}
	(void)repl_key(stream, sizeof stream, "stream");
	/* Sent before the SCAN on the same connection: every event after
	 * this id is read from the stream once the scan is done. */
	argv[0] = "XREVRANGE";
	argv[1] = stream;
	argv[2] = "+";
	argv[3] = "-";
	argv[4] = "COUNT";
	argv[5] = "1";
	if (repl_sendv(rl->ac, repl_xrev_cb, NULL, 6, argv) == 0)
		repl_scan("0");
}

/* Return 1 if the stream described by XINFO STREAM reply r may lack
 * events after pos: they were trimmed or deleted, or the stream is new. */
static int
repl_gap(const redisReply *r)
{
	const redisReply	*v, *maxdel = NULL, *first = NULL, *last = NULL;
	const char		*name;
	size_t			 i;

	if (r->type != REDIS_REPLY_ARRAY)	/* no stream: deleted, or */
		return strcmp(R.pos, "0-0") != 0; /* Redis lost its data */
	for (i = 0; i + 1 < r->elements; i += 2) {
		if (r->element[i]->type != REDIS_REPLY_STRING)
			continue;
		name = r->element[i]->str;
		v = r->element[i + 1];
		if (v->type == REDIS_REPLY_STRING &&
		    strcmp(name, "max-deleted-entry-id") == 0)
			maxdel = v;
		else if (v->type == REDIS_REPLY_STRING &&
		    strcmp(name, "last-generated-id") == 0)
			last = v;
		else if (v->type == REDIS_REPLY_ARRAY && v->elements == 2 &&
		    v->element[0]->type == REDIS_REPLY_STRING &&
		    strcmp(name, "first-entry") == 0)
			first = v->element[0];
	}
	if (last == NULL || repl_id_cmp(last->str, R.pos) < 0)
		return 1;	/* unknown, or a stream made anew */
	if (repl_id_cmp(last->str, R.pos) == 0)
		return 0;	/* nothing happened since */
	if (maxdel != NULL && repl_id_cmp(maxdel->str, R.pos) > 0)
		return 1;	/* XDEL past pos */
	/* Trimming removes the oldest entries: the events after pos are all
	 * there if the first one left is not after pos. (When it is, it may
	 * be the very next one; reloading then is merely unnecessary.) */
	return first == NULL || repl_id_cmp(first->str, R.pos) > 0;
}

/* XINFO STREAM replied: catch up from pos, or reload if events after it
 * were trimmed away while we were disconnected. */
static void
repl_xinfo_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	redisReply	*r = reply;
	(void)priv;
	if (!repl_got_err(ac, r, "XINFO", 1))
		return;
	if (repl_gap(r)) {
		log_warnx("redis: events after %s are no longer in the stream; "
		    "reloading", R.pos);
		/* Nothing was sent since HGET: Redis has up to acked. */
		repl_reload_start(R.acked);
	} else {
		R.joined = 1;
		R.rr_skip = 0;
	}
	repl_pump();
	repl_read();
}

/* --- Connecting ------------------------------------------------------- */

/* A handshake step replied; failures end the session. */
static void
repl_ok_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	(void)repl_got(ac, reply, priv);
}

/* SCRIPT LOAD replied with the script's SHA1. */
static void
repl_script_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	redisReply	*r = reply;

	(void)priv;
	if (!repl_got(ac, r, "SCRIPT LOAD"))
		return;
	if (r->type != REDIS_REPLY_STRING || r->len != 40) {
		repl_fail("SCRIPT LOAD: unexpected reply");
		return;
	}
	memcpy(R.sha, r->str, 41);
}

/* Redis has own writes only up to confirmed, fewer than it confirmed
 * before: a failover lost the rest (replication is asynchronous). Put the
 * remembered ones back at the head of the outbox, in order, to be sent
 * again. */
static void
repl_redeliver(uint64_t confirmed)
{
	struct oboxq	 back;
	struct obox	*o;
	size_t		 n = 0;
	uint64_t	 first = 0;

	STAILQ_INIT(&back);
	while ((o = STAILQ_FIRST(&R.recent)) != NULL) {
		STAILQ_REMOVE_HEAD(&R.recent, entry);
		R.nrecent--;
		/* A lift is not sent again: the new primary may have a newer
		 * revocation of the key, which it must not undo (the lift is
		 * lost, the safe side); nor is anything past the window. */
		if (o->seq <= confirmed || o->type == JOURNAL_UNREVOKE ||
		    o->type == JOURNAL_UNBAN ||
		    repl_ms() - o->confirmed_ms > REPL_RECENT_MS) {
			if (o->seq > confirmed && (o->type == JOURNAL_UNREVOKE ||
			    o->type == JOURNAL_UNBAN))
				log_warnx("redis: a %s of seq %llu was lost in a "
				    "failover and is not sent again (a newer "
				    "revocation may exist): issue it again",
				    o->type == JOURNAL_UNBAN ? "UNBAN" :
				    "UNREVOKE", (unsigned long long)o->seq);
			free(o);
			continue;
		}
		if (first == 0)
			first = o->seq;
		STAILQ_INSERT_TAIL(&back, o, entry);
		n++;
	}
	if (first != confirmed + 1)
		log_warnx("redis: the primary lacks own writes %llu to %llu "
		    "it had confirmed, and only %zu are remembered (sent "
		    "again): the rest is lost",
		    (unsigned long long)confirmed + 1,
		    (unsigned long long)R.acked_max, n);
	else
		log_warnx("redis: the primary lacks %zu own writes it had "
		    "confirmed (a failover lost them): sending them again",
		    n);
	/* Read back, they win over other daemons' events before them, as
	 * any own write not yet read back does. */
	STAILQ_FOREACH(o, &back, entry)
		repl_iset_note(o);
	STAILQ_CONCAT(&back, &R.outbox);
	STAILQ_CONCAT(&R.outbox, &back);
	R.nout += n;
	R.unsent = STAILQ_FIRST(&R.outbox);
	R.stats.republished += n;
	/* Sent again, they are confirmed again. */
	R.acked_max = confirmed;
	outbox_publish();
}

/* HGET origins replied: what Redis has of ours. The write connection is
 * ready; sync the set. */
static void
repl_hget_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	redisReply	*r = reply;
	uint64_t	 confirmed = 0;

	(void)priv;
	if (!repl_got(ac, r, "HGET"))
		return;
	if (r->type == REDIS_REPLY_STRING) {
		if (repl_u64(r->str, r->len, &confirmed) == -1) {
			repl_fail("HGET: not a sequence number");
			return;
		}
	} else if (r->type != REDIS_REPLY_NIL) {
		repl_fail("HGET: unexpected reply");
		return;
	}
	if (confirmed > journal_last_seq(journal)) {
		/* Redis has more of this origin than this journal ever wrote:
		 * the state directory was wiped or restored, but not the
		 * origin id. Its new writes would be taken for old ones. */
		log_warnx("redis: Redis has writes up to %llu from origin %s, "
		    "this journal only %llu (state directory restored?); "
		    "taking a new origin id", (unsigned long long)confirmed,
		    R.origin, (unsigned long long)journal_last_seq(journal));
		if (repl_new_origin() == -1) {
			repl_fail("cannot store a new origin id");
			return;
		}
		confirmed = 0;
	}
	if (confirmed < R.acked_max)
		repl_redeliver(confirmed);
	/* With --redis-replicas, what the primary has is not confirmed
	 * until a WAIT says the replicas have it too: sent again (the
	 * script skips it), then waited for. */
	if (settings.redis_replicas == 0)
		outbox_confirmed_upto(confirmed);
	R.acked = confirmed;
	R.wc_ready = 1;
	if (R.connected_once)
		R.stats.reconnects++;
	R.connected_once = 1;
	log_info("redis: connected to %s, %zu writes to deliver",
	    settings.redis_url, R.nout);
	if (!R.have_pos) {
		repl_reload_start(confirmed);
		repl_pump();
		return;
	}
	repl_check_gap();
	repl_notify();
}

/* Ask the primary whether its stream still holds every event after pos
 * (repl_xinfo_cb joins it, or reloads). */
static void
repl_check_gap(void)
{
	char		 stream[REPL_KEY_MAX];
	const char	*argv[3];

	(void)repl_key(stream, sizeof stream, "stream");
	argv[0] = "XINFO";
	argv[1] = "STREAM";
	argv[2] = stream;
	(void)repl_sendv(R.wc, repl_xinfo_cb, NULL, 3, argv);
}

/* The stream connection answered its handshake. */
static void
repl_sc_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	(void)priv;
	if (!repl_got(ac, reply, "PING"))
		return;
	R.sc_ready = 1;
	repl_read();
}

/* hiredis: a connection attempt finished. */
static void
repl_connect_cb(const redisAsyncContext *ac, int status)
{
	if (status == REDIS_OK)
		return;
	/* hiredis frees the context after this returns. */
	if (ac == R.wc) {
		R.wc = NULL;
		repl_fail("connect: %s", ac->errstr);
	} else if (ac == R.sc) {
		R.sc = NULL;
		repl_fail("connect: %s", ac->errstr);
	} else if (ac == R.rc) {
		R.rc = NULL;
		R.rr_skip = 1;
		repl_fail("read replica: connect: %s", ac->errstr);
	}
}

/* hiredis: a connection closed (it frees the context itself). */
static void
repl_disconnect_cb(const redisAsyncContext *ac, int status)
{
	(void)status;
	if (ac == R.wc) {
		R.wc = NULL;
		repl_fail("connection lost: %s", ac->err ? ac->errstr :
		    "closed");
	} else if (ac == R.sc) {
		R.sc = NULL;
		repl_fail("connection lost: %s", ac->err ? ac->errstr :
		    "closed");
	} else if (ac == R.rc) {
		R.rc = NULL;
		R.rr_skip = 1;
		repl_fail("read replica: connection lost: %s", ac->err ?
		    ac->errstr : "closed");
	}
}

/* Open one connection and queue its authentication; NULL on failure (the
 * session failed). */
static redisAsyncContext *
repl_open(const struct repl_target *t)
{
	redisAsyncContext	*ac;
	char			 msg[128];

	if (t->path[0] != '\0')
		ac = redisAsyncConnectUnix(t->path);
	else
		ac = redisAsyncConnect(t->host, t->port);
	if (ac == NULL) {
		repl_fail("out of memory");
		return NULL;
	}
	if (ac->err) {
		snprintf(msg, sizeof msg, "%s", ac->errstr);
		redisAsyncFree(ac);
		repl_fail("connect: %s", msg);
		return NULL;
	}
	if (redisLibeventAttach(ac, R.base) != REDIS_OK) {
		redisAsyncFree(ac);
		repl_fail("cannot attach to the event loop");
		return NULL;
	}
	redisAsyncSetConnectCallback(ac, repl_connect_cb);
	redisAsyncSetDisconnectCallback(ac, repl_disconnect_cb);
	return ac;
}

/* Queue AUTH and SELECT as the configuration asks. */
static int
repl_hello(redisAsyncContext *ac, int dbnum)
{
	static char	 auth[] = "AUTH", select[] = "SELECT";
	const char	*argv[2];
	char		 db[16];

	if (R.password != NULL) {
		argv[0] = "AUTH";
		argv[1] = R.password;
		if (repl_sendv(ac, repl_ok_cb, auth, 2, argv) == -1)
			return -1;
	}
	if (dbnum != 0) {
		snprintf(db, sizeof db, "%d", dbnum);
		argv[0] = "SELECT";
		argv[1] = db;
		if (repl_sendv(ac, repl_ok_cb, select, 2, argv) == -1)
			return -1;
	}
	return 0;
}

/* ROLE replied: write only to a primary (a sentinel's answer may be
 * stale, or the node demoted since). */
static void
repl_role_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	redisReply	*r = reply;

	(void)priv;
	if (!repl_got(ac, r, "ROLE"))
		return;
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
	    r->element[0]->type != REDIS_REPLY_STRING) {
		repl_fail("ROLE: unexpected reply");
		return;
	}
	if (strcmp(r->element[0]->str, "master") != 0) {
		/* Ask another sentinel next time: this one may be stale. */
		sentinel_distrust();
		repl_fail("%s is not a primary (role %s)", R.candidate,
		    r->element[0]->str);
		return;
	}
	if (R.primary[0] != '\0' && strcmp(R.candidate, R.primary) != 0) {
		R.stats.failovers++;
		log_warnx("redis: the primary of %s is now %s (was %s)",
		    R.scfg.name, R.candidate, R.primary);
	} else if (R.primary[0] == '\0')
		log_info("redis: the primary of %s is %s", R.scfg.name,
		    R.candidate);
	memcpy(R.primary, R.candidate, sizeof R.primary);
}

/* Connect both connections and queue their handshakes. */
static void
repl_connect(void)
{
	if (R.wc != NULL || R.sc != NULL || R.resolving)
		return;
	if (R.use_sentinel) {
		/* Where the primary is now; repl_resolved goes on. */
		R.resolving = 1;
		sentinel_resolve(repl_resolved);
		return;
	}
	repl_connect_to();
}

/* Connect both connections to R.target and queue their handshakes. */
static void
repl_connect_to(void)
{
	char		 origins[REPL_KEY_MAX];
	const char	*argv[3];

	if ((R.wc = repl_open(&R.target)) == NULL ||
	    (R.sc = repl_open(&R.target)) == NULL)
		return;
	if (repl_hello(R.wc, R.target.db) == -1 ||
	    repl_hello(R.sc, R.target.db) == -1)
		return;
	if (R.use_sentinel) {
		argv[0] = "ROLE";
		if (repl_sendv(R.wc, repl_role_cb, NULL, 1, argv) == -1)
			return;
	}
	argv[0] = "SCRIPT";
	argv[1] = "LOAD";
	argv[2] = repl_script;
	if (repl_sendv(R.wc, repl_script_cb, NULL, 3, argv) == -1)
		return;
	(void)repl_key(origins, sizeof origins, "origins");
	argv[0] = "HGET";
	argv[1] = origins;
	argv[2] = R.origin;
	if (repl_sendv(R.wc, repl_hget_cb, NULL, 3, argv) == -1)
		return;
	argv[0] = "PING";
	(void)repl_sendv(R.sc, repl_sc_cb, NULL, 1, argv);
}

/* The sentinels answered: connect to the primary they named. */
static void
repl_resolved(const char *host, int port, const char *why)
{
	char	 addr[sizeof R.primary];

	const char	*colon;

	R.resolving = 0;
	if (host == NULL && R.announced[0] == '\0') {
		repl_fail("sentinels: %s", why);
		return;
	}
	/* A +switch-master heard meanwhile is newer than the answer. */
	if (R.announced[0] != '\0' &&
	    (colon = strrchr(R.announced, ':')) != NULL) {
		snprintf(R.target.host, sizeof R.target.host, "%.*s",
		    (int)(colon - R.announced), R.announced);
		R.target.port = atoi(colon + 1);
		memcpy(addr, R.announced, sizeof addr);
	} else {
		snprintf(R.target.host, sizeof R.target.host, "%s", host);
		R.target.port = port;
		snprintf(addr, sizeof addr, "%s:%d", host, port);
	}
	R.announced[0] = '\0';
	memcpy(R.candidate, addr, sizeof R.candidate);
	R.target.path[0] = '\0';
	repl_connect_to();
}

/* A sentinel announced a new primary: leave the old one at once. */
static void
repl_switched(const char *host, int port)
{
	char	 addr[sizeof R.primary];

	snprintf(addr, sizeof addr, "%s:%d", host, port);
	R.backoff_ms = REPL_BACKOFF_MIN_MS;
	if (R.wc != NULL) {
		if (strcmp(addr, R.primary) != 0)
			repl_fail("failover: the primary is now %s", addr);
		return;
	}
	/* Between attempts: the next one need not wait out the backoff;
	 * while asking the sentinels, the announcement wins. */
	if (R.resolving)
		memcpy(R.announced, addr, sizeof R.announced);
	else {
		evtimer_del(R.retry_ev);
		repl_connect();
	}
}

/* The backoff is over: try again. */
static void
repl_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	repl_connect();
}

/* Drop a connection that stopped answering. */
static void
repl_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	int64_t	now = repl_ms(), limit = (int64_t)settings.redis_timeout * 1000;

	(void)fd;
	(void)what;
	(void)arg;
	repl_recent_trim(now);
	if (R.wc != NULL && R.wc_pending > 0 && now - R.wc_progress > limit)
		repl_fail("no reply for %d s", settings.redis_timeout);
	else if (R.rc != NULL && R.rc_pending > 0 &&
	    now - R.rc_progress > limit) {
		R.rr_skip = 1;
		repl_fail("read replica: no reply for %d s",
		    settings.redis_timeout);
	} else if (R.sc != NULL && R.sc_pending > 0 &&
	    now - R.sc_progress > limit + REPL_BLOCK_MS)
		repl_fail("no reply on the stream for %d s",
		    settings.redis_timeout);
}

/* --redis-wait is over: serve from the journal if Redis is not there. */
static void
repl_wait_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	R.wait_over = 1;
	if (R.state != REPL_LOADING || R.wc_ready)
		return;		/* a reload in progress finishes first */
	log_warnx("redis: not reachable after %d s; serving %zu entries "
	    "from the journal", settings.redis_wait,
	    rules_count(rules, -1));
	R.state = REPL_DEGRADED;
	repl_notify();
}

/* Start connecting to Redis on the loop. */
int
repl_start(struct event_base *base, void (*changed)(void))
{
	struct timeval	tick = { 0, REPL_TICK_MS * 1000 };
	struct timeval	wait = { settings.redis_wait, 0 };

	if (R.state == REPL_OFF)
		return 0;
	R.base = base;
	R.changed = changed;
	outbox_publish();
	R.backoff_ms = REPL_BACKOFF_MIN_MS;
	R.last_live = repl_ms();
	srandom((unsigned)getpid() ^ (unsigned)R.last_live);
	R.retry_ev = evtimer_new(base, repl_retry_cb, NULL);
	R.tick = ticker_new(base, repl_tick_cb, NULL);
	R.wait_ev = evtimer_new(base, repl_wait_cb, NULL);
	R.notify_ev = event_new(base, -1, 0, repl_notify_cb, NULL);
	R.rewait_ev = evtimer_new(base, repl_rewait_cb, NULL);
	if (R.retry_ev == NULL || R.tick == NULL || R.wait_ev == NULL ||
	    R.notify_ev == NULL || R.rewait_ev == NULL ||
	    ticker_start(R.tick, &tick) == -1 ||
	    evtimer_add(R.wait_ev, &wait) == -1)
		return -1;
	if (R.use_sentinel && sentinel_init(base, &R.scfg, R.spassword,
	    settings.redis_timeout * 1000, repl_switched) == -1)
		return -1;
	repl_connect();
	return 0;
}

/* --- Queries ---------------------------------------------------------- */

/* Return the state. */
enum repl_state
repl_state(void)
{
	return R.state;
}

/* Return the state's name. */
const char *
repl_state_name(enum repl_state st)
{
	switch (st) {
	case REPL_OFF:
		return "off";
	case REPL_LOADING:
		return "loading";
	case REPL_SYNCED:
		return "synced";
	case REPL_DEGRADED:
		return "degraded";
	}
	return "?";
}

/* Return the seq up to which every own write is confirmed. */
uint64_t
repl_confirmed(void)
{
	struct obox	*o = STAILQ_FIRST(&R.outbox);

	return o == NULL ? UINT64_MAX : o->seq - 1;
}

/* Return the highest seq that may be answered unconfirmed now. */
uint64_t
repl_settled(void)
{
	if (R.state != REPL_OFF && (!R.wc_ready || R.replicas_short))
		return UINT64_MAX;
	return 0;
}

/* Fill in the counters. */
void
repl_get_stats(struct repl_stats *st)
{
	*st = R.stats;
	st->pending = R.nout;
	st->staleness_ms = R.state == REPL_OFF ? 0 : repl_ms() - R.last_live;
}

/* Return "host:port" of the primary reached through the sentinels. */
const char *
repl_primary(void)
{
	return R.primary;
}

/* Return this daemon's origin id. */
const char *
repl_origin(void)
{
	return R.origin;
}

/* Disconnect and free everything. */
void
repl_stop(void)
{
	struct obox		*o;

	if (R.state == REPL_OFF)
		return;
	R.changed = NULL;
	R.state = REPL_DEGRADED;
	R.down_logged = 1;	/* a clean stop is no outage */
	repl_drop();
	if (R.use_sentinel)
		sentinel_stop();
	while ((o = STAILQ_FIRST(&R.outbox)) != NULL) {
		STAILQ_REMOVE_HEAD(&R.outbox, entry);
		free(o);
	}
	while ((o = STAILQ_FIRST(&R.recent)) != NULL) {
		STAILQ_REMOVE_HEAD(&R.recent, entry);
		free(o);
	}
	if (R.spassword != NULL) {
		explicit_bzero(R.spassword, strlen(R.spassword));
		free(R.spassword);
		R.spassword = NULL;
	}
	if (R.retry_ev != NULL)
		event_free(R.retry_ev);
	ticker_free(R.tick);
	R.tick = NULL;
	if (R.wait_ev != NULL)
		event_free(R.wait_ev);
	if (R.notify_ev != NULL)
		event_free(R.notify_ev);
	if (R.rewait_ev != NULL)
		event_free(R.rewait_ev);
	R.retry_ev = R.wait_ev = R.notify_ev = R.rewait_ev = NULL;
	iset_free(R.iset);
	R.iset = NULL;
	if (R.password != NULL) {
		explicit_bzero(R.password, strlen(R.password));
		free(R.password);
	}
}
