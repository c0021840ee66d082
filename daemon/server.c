/*
 * The Unix socket listener and client connections: the only module that
 * reads or writes client sockets. Bytes go straight from read() into the
 * RESP parser's buffer; replies are encoded into a per-connection buffer
 * and written back in request order.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "cmd.h"
#include "command.h"
#include "journal.h"
#include "log.h"
#include "metrics.h"
#include "repl.h"
#include "reply.h"
#include "resp.h"
#include "revokd.h"
#include "server.h"

#define READ_CHUNK	16384	/* bytes asked of one read() */
#define ACCEPT_BATCH	64	/* connections accepted per callback */
#define LISTEN_BACKLOG	511	/* listen(2) backlog */
#define HOLD_MARKS	16	/* hold marks kept per connection */
#define SERVER_LISTENERS 2	/* the services' socket and the admins' */
#define PEER_GROUPS_MAX	64	/* supplementary groups looked at */

/* A point in a connection's replies from which they wait for the journal:
 * one per batch of requests that wrote. */
struct hold_mark {
	uint64_t	 from;		/* reply byte (counted like sent) */
	uint64_t	 seq;		/* journal sequence that releases it */
};

/* A listening socket. */
struct listener {
	int		 fd;		/* listening socket, or -1 */
	char		*path;		/* its path, unlinked at exit */
	int		 admin;		/* the admin socket */
	int		 owned;		/* we made it: unlink at exit */
	struct event	*ev;		/* readable */
	struct event	*pause;		/* re-arms ev after EMFILE */
};

/* A write's reply that becomes +PENDING if Redis cannot confirm it. */
struct wslot {
	uint64_t	 pos;		/* reply byte (counted like sent) */
	uint64_t	 seq;		/* the write's journal sequence */
	size_t		 len;		/* bytes of the success reply */
	enum command_id	 cmd;		/* REVOKE or UNREVOKE (for metrics) */
};

/* One client connection. */
struct conn {
	int		 fd;		/* the client socket */
	uint64_t	 id;		/* for log lines */
	struct listener	*via;		/* the socket it came in on */
	struct ucred	 cred;		/* peer's pid, uid, gid at accept */
	int		 admin;		/* may run write commands */
	struct cmd_actor actor;		/* cred, for the audit trail */
	int		 refused_logged; /* a refusal was logged already */
	struct event	*rev;		/* readable */
	struct event	*wev;		/* writable (armed while output waits) */
	struct event	*stall;		/* fires when output stays stuck */
	struct resp_parser *parser;	/* buffered input */
	struct reply_buf out;		/* encoded replies not yet sent */
	int		 reading;	/* rev is armed */
	int		 writing;	/* wev is armed */
	int		 timing;	/* stall is armed */
	int		 closing;	/* close once out is sent */
	uint64_t	 sent;		/* bytes of replies sent so far */
	struct hold_mark marks[HOLD_MARKS]; /* ring, oldest at mhead */
	unsigned	 mhead;		/* index of the oldest mark */
	unsigned	 nmarks;	/* marks in use; > 0 while in held */
	struct wslot	*slots;		/* replicated writes' replies, in order */
	size_t		 shead;		/* first slot in use */
	size_t		 nslots;	/* end of the slots in use */
	size_t		 slotcap;	/* slots allocated */
	TAILQ_ENTRY(conn) entry;	/* in conns */
	TAILQ_ENTRY(conn) hentry;	/* in held, while holding */
};

static TAILQ_HEAD(, conn) conns = TAILQ_HEAD_INITIALIZER(conns);
/* Connections whose replies wait for a journal sync: a write is answered
 * only once it is on disk, and replies stay in request order. */
static TAILQ_HEAD(, conn) held = TAILQ_HEAD_INITIALIZER(held);
static struct event_base *base;		/* the daemon's loop */
static struct listener	 listeners[SERVER_LISTENERS]; /* services', admins' */
static size_t		 nlisteners;	/* listeners in use */
static struct event	*grace_ev;	/* ends the loop on shutdown */
static int		 shutting_down;	/* server_shutdown() was called */
static uint64_t		 next_id = 1;	/* connection ids */

static void	conn_free(struct conn *);
static int	conn_process(struct conn *);
static size_t	conn_sendable(const struct conn *);
static int	conn_flush(struct conn *);
static int	conn_is_success(const struct conn *, const struct wslot *);

/* Return the current time in Unix seconds. */
static int64_t
server_now(void)
{
	return (int64_t)time(NULL);
}

/* Refuse path unless it can be replaced: absent, or a socket nobody is
 * listening on (then unlink it). Returns 0, or -1 with errno set. */
static int
server_clear_stale(const char *path, const struct sockaddr_un *sun)
{
	struct stat	 st;
	int		 fd, saved;

	if (lstat(path, &st) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		log_warnx("%s exists and is not a socket; not replacing it",
		    path);
		errno = EEXIST;
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (const struct sockaddr *)sun, sizeof *sun) == 0) {
		close(fd);
		log_warnx("%s: another daemon is listening there", path);
		errno = EADDRINUSE;
		return -1;
	}
	saved = errno;
	close(fd);
	if (saved != ECONNREFUSED) {
		errno = saved;
		return -1;
	}
	log_info("removing stale socket %s", path);
	if (unlink(path) == -1 && errno != ENOENT)
		return -1;
	return 0;
}

/* Create, bind and listen on the Unix socket at path with mode. */
int
server_listen(const char *path, mode_t mode)
{
	struct sockaddr_un	 sun;
	mode_t			 old_umask;
	int			 fd, saved;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (path[0] == '\0' || path[0] == '@') {
		log_warnx("socket path must be a file system path");
		errno = EINVAL;
		return -1;
	}
	if (strlen(path) >= sizeof sun.sun_path) {
		log_warnx("socket path too long (max %zu bytes): %s",
		    sizeof sun.sun_path - 1, path);
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);

	if (server_clear_stale(path, &sun) == -1) {
		log_warn("%s", path);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		log_warn("socket");
		return -1;
	}
	/* Set before bind so there is no moment when the socket has a
	 * wider mode. */
	old_umask = umask(~mode & 0777);
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		saved = errno;
		(void)umask(old_umask);
		close(fd);
		errno = saved;
		log_warn("bind %s", path);
		return -1;
	}
	(void)umask(old_umask);
	if (chmod(path, mode) == -1 || listen(fd, LISTEN_BACKLOG) == -1) {
		saved = errno;
		log_warn("%s", path);
		(void)unlink(path);
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* Arm ev (with timeout tv unless NULL) or disarm it, as *armed says it
 * is: event_del() costs as much on an idle event as on an armed one, and
 * this runs for every request. A call that fails leaves *armed as it
 * was, so the next one tries again. */
static void
conn_arm(struct event *ev, int *armed, int on, const struct timeval *tv)
{
	if (on && !*armed)
		*armed = event_add(ev, tv) == 0;
	else if (!on && *armed)
		*armed = event_del(ev) != 0;
}

/* Arm or disarm the read event. */
static void
conn_set_reading(struct conn *c, int on)
{
	conn_arm(c->rev, &c->reading, on, NULL);
}

/* Start the stall timer, or stop it. */
static void
conn_set_timing(struct conn *c, int on)
{
	struct timeval	 tv = { settings.client_timeout, 0 };

	conn_arm(c->stall, &c->timing, on, &tv);
}

/* Drop a misbehaving client, counting it. */
static void
conn_drop(struct conn *c, const char *why)
{
	log_info("client %llu dropped: %s", (unsigned long long)c->id, why);
	stats.clients_dropped++;
	conn_free(c);
}

/*
 * Re-evaluate what the connection waits for after its state changed.
 * Reading pauses while unsent replies (sendable or still waiting for the
 * journal) reach out_limit. The stall timer runs only while the client is
 * at fault: it leaves out_limit of replies it could have unread, or owes
 * us the rest of a request while we are reading. Byte-level progress does
 * not restart it, so a client trickling one byte at a time is still
 * dropped; a completed request (progressed) does.
 */
static void
conn_update(struct conn *c, int progressed)
{
	size_t		 sendable = conn_sendable(c);
	int		 reading, waiting;

	reading = !c->closing && !shutting_down &&
	    reply_pending(&c->out) < settings.out_limit;
	conn_set_reading(c, reading);
	waiting = sendable >= settings.out_limit ||
	    (c->closing && sendable > 0) ||
	    (reading && resp_parser_pending(c->parser) > 0);
	if (!waiting || progressed)
		conn_set_timing(c, 0);
	if (waiting)
		conn_set_timing(c, 1);
}

/* Return the bytes of reply that may be sent now: those before the first
 * reply still waiting for the journal. */
static size_t
conn_sendable(const struct conn *c)
{
	size_t	 pending = reply_pending(&c->out);

	if (c->nmarks > 0 && c->marks[c->mhead].from - c->sent < pending)
		return (size_t)(c->marks[c->mhead].from - c->sent);
	return pending;
}

/* Write as much pending output as the socket takes. Returns -1 if the
 * connection was freed. */
static int
conn_flush(struct conn *c)
{
	ssize_t		 n;
	size_t		 pending;

	if (c->out.oom) {
		conn_drop(c, "out of memory for replies");
		return -1;
	}
	while ((pending = conn_sendable(c)) > 0) {
		n = send(c->fd, c->out.data + c->out.off, pending,
		    MSG_NOSIGNAL);
		if (n > 0) {
			reply_consume(&c->out, (size_t)n);
			c->sent += (uint64_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n == -1 && errno != EPIPE && errno != ECONNRESET)
			log_warn("client %llu: send", (unsigned long long)c->id);
		conn_free(c);
		return -1;
	}
	/* What is left either waits for room or for the journal. */
	conn_arm(c->wev, &c->writing, conn_sendable(c) > 0, NULL);
	if (reply_pending(&c->out) == 0 && (c->closing || shutting_down)) {
		conn_free(c);
		return -1;
	}
	return 0;
}

/* Hold the replies from byte from on until journal sequence seq is
 * durable. With every mark in use the newest absorbs it (holding longer,
 * never shorter). */
static void
conn_hold(struct conn *c, uint64_t from, uint64_t seq)
{
	struct hold_mark	*m;

	if (c->nmarks == HOLD_MARKS) {
		m = &c->marks[(c->mhead + c->nmarks - 1) % HOLD_MARKS];
		m->seq = seq;
		return;
	}
	if (c->nmarks == 0)
		TAILQ_INSERT_TAIL(&held, c, hentry);
	m = &c->marks[(c->mhead + c->nmarks++) % HOLD_MARKS];
	m->from = from;
	m->seq = seq;
}

/* Note that the reply at byte pos, len bytes, answers replicated write
 * seq, a command cmd; -1 when out of memory. */
static int
conn_slot(struct conn *c, uint64_t pos, size_t len, uint64_t seq,
    enum command_id cmd)
{
	struct wslot	*ns;
	size_t		 ncap;

	if (c->shead == c->nslots)
		c->shead = c->nslots = 0;
	if (c->nslots == c->slotcap) {
		if (c->shead > 0) {
			memmove(c->slots, c->slots + c->shead,
			    (c->nslots - c->shead) * sizeof *c->slots);
			c->nslots -= c->shead;
			c->shead = 0;
		} else {
			ncap = c->slotcap ? c->slotcap * 2 : 16;
			if ((ns = reallocarray(c->slots, ncap,
			    sizeof *ns)) == NULL)
				return -1;
			c->slots = ns;
			c->slotcap = ncap;
		}
	}
	c->slots[c->nslots].pos = pos;
	c->slots[c->nslots].len = len;
	c->slots[c->nslots].seq = seq;
	c->slots[c->nslots].cmd = cmd;
	c->nslots++;
	return 0;
}

/* Refuse a write command to a client that is not an admin, and log it. */
static void
conn_refuse(struct conn *c, const char *name)
{
	if (settings.admin_socket_path != NULL && !c->via->admin)
		reply_errorf(&c->out, "NOPERM %s is accepted on the admin "
		    "socket only", name);
	else
		reply_errorf(&c->out, "NOPERM %s needs an admin (uid %u gid "
		    "%u is not one)", name, (unsigned)c->cred.uid,
		    (unsigned)c->cred.gid);
	stats.refused_total++;
	/* Once per connection: a client pipelining refused writes must not
	 * flood the log (and push the real audit lines out of it). */
	if (c->refused_logged)
		return;
	c->refused_logged = 1;
	log_warnx("client %llu (pid %d uid %u gid %u) on %s: %s refused: "
	    "not an admin (further refusals on this connection not logged)",
	    (unsigned long long)c->id, (int)c->cred.pid,
	    (unsigned)c->cred.uid, (unsigned)c->cred.gid,
	    c->via->path != NULL ? c->via->path : "?", name);
}

/* Execute every whole request buffered, while the output has room;
 * returns how many were taken. */
static int
conn_process(struct conn *c)
{
	struct resp_request	 req;
	struct command		 cmd;
	enum resp_status	 st;
	enum command_status	 cs;
	struct cmd_result	 res;
	char			 err[COMMAND_ERR_MAX];
	uint64_t		 before, from = 0, seq = 0;
	int64_t			 now = server_now();
	int			 taken = 0;

	while (!c->closing &&
	    reply_pending(&c->out) < settings.out_limit) {
		st = resp_parser_get(c->parser, &req);
		if (st == RESP_INCOMPLETE)
			break;
		taken++;
		if (st == RESP_ERROR) {
			reply_errorf(&c->out, "ERR Protocol error: %s",
			    resp_parser_errstr(c->parser));
			log_info("client %llu: protocol error: %s",
			    (unsigned long long)c->id,
			    resp_parser_errstr(c->parser));
			stats.clients_dropped++;
			c->closing = 1;
			break;
		}
		cs = command_decode(&req, &settings.limits, &cmd, err,
		    sizeof err);
		if (cs != COMMAND_OK) {
			reply_error(&c->out, err);
			if (cs == COMMAND_ELIMIT) {
				log_info("client %llu: %s",
				    (unsigned long long)c->id, err);
				stats.clients_dropped++;
				c->closing = 1;
			}
			continue;
		}
		stats.commands_total++;
		if ((cmd.def->flags & (COMMAND_WRITE | COMMAND_ADMIN)) &&
		    !c->admin) {
			conn_refuse(c, cmd.def->name);
			metrics_count_command(cmd.def->id, METRICS_REFUSED);
			continue;
		}
		before = c->sent + reply_pending(&c->out);
		cmd_execute(&cmd, &c->out, now, &c->actor, &res);
		if (res.close)
			c->closing = 1;
		if (res.seq != 0 && res.replicated && conn_slot(c, before,
		    c->sent + reply_pending(&c->out) - before, res.seq,
		    cmd.def->id) == -1)
			c->out.oom = 1;	/* dropped at the next flush */
		if (res.seq != 0) {
			/* This reply and every later one wait for the sync. */
			if (seq == 0)
				from = before;
			seq = res.seq;
		}
	}
	if (seq != 0) {
		conn_hold(c, from, seq);
		journal_kick(journal);
	}
	return taken;
}

/* Read from a client and answer what it sent. */
static void
conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;
	char		*space;
	size_t		 avail;
	ssize_t		 n;
	int		 taken;

	(void)what;
	if ((space = resp_parser_space(c->parser, READ_CHUNK,
	    &avail)) == NULL) {
		conn_drop(c, "out of memory for requests");
		return;
	}
	n = read(fd, space, avail);
	if (n == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		if (errno != ECONNRESET)
			log_warn("client %llu: read", (unsigned long long)c->id);
		conn_free(c);
		return;
	}
	if (n == 0) {
		/* The client closed its side; send what is still owed. */
		c->closing = 1;
		conn_set_reading(c, 0);
		if (conn_flush(c) == 0)
			conn_update(c, 0);
		return;
	}
	resp_parser_commit(c->parser, (size_t)n);
	taken = conn_process(c);
	if (conn_flush(c) == 0)
		conn_update(c, taken > 0);
}

/* The socket can take more output: send it, then resume requests. */
static void
conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;
	int		 taken = 0;

	(void)fd;
	(void)what;
	if (conn_flush(c) == -1)
		return;
	if (!c->closing && !shutting_down &&
	    reply_pending(&c->out) < settings.out_limit) {
		/* Requests left buffered when output was full. */
		taken = conn_process(c);
		if (conn_flush(c) == -1)
			return;
	}
	conn_update(c, taken > 0);
}

/* The client stayed stuck for client_timeout seconds. */
static void
conn_stall_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;

	(void)fd;
	(void)what;
	conn_drop(c, conn_sendable(c) > 0 ? "not reading its replies" :
	    "request not completed in time");
}

/* Close a connection and free everything it holds. */
static void
conn_free(struct conn *c)
{
	struct wslot	*w;
	uint64_t	 confirmed = repl_confirmed();

	/* Writes whose replies were never settled still happened: count
	 * them as Redis stands now. */
	for (; c->shead < c->nslots; c->shead++) {
		w = &c->slots[c->shead];
		if (conn_is_success(c, w))
			metrics_count_command(w->cmd, w->seq <= confirmed ?
			    METRICS_OK : METRICS_PENDING);
	}
	TAILQ_REMOVE(&conns, c, entry);
	if (c->nmarks > 0)
		TAILQ_REMOVE(&held, c, hentry);
	free(c->slots);
	stats.connections--;
	event_free(c->rev);
	event_free(c->wev);
	event_free(c->stall);
	resp_parser_free(c->parser);
	reply_free(&c->out);
	close(c->fd);
	log_debug("client %llu closed", (unsigned long long)c->id);
	free(c);
	if (shutting_down && TAILQ_EMPTY(&conns))
		event_base_loopexit(base, NULL);
}

/* Return 1 if id is one of the n ids at list. */
static int
server_id_in(unsigned id, const unsigned *list, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (list[i] == id)
			return 1;
	return 0;
}

/* Decide whether the peer of socket fd, which came in on l, may run write
 * commands: its uid or one of its groups is an admin's, and with an
 * admin socket configured it came in on that one. */
static int
server_peer_admin(int fd, const struct listener *l, const struct ucred *cr)
{
	gid_t		 groups[PEER_GROUPS_MAX];
	socklen_t	 len = sizeof groups;
	size_t		 i, n;

	if (settings.admin_socket_path != NULL && !l->admin)
		return 0;
	if (server_id_in(cr->uid, settings.admin_uids,
	    settings.nadmin_uids) ||
	    server_id_in(cr->gid, settings.admin_gids, settings.nadmin_gids))
		return 1;
	if (settings.nadmin_gids == 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == -1)
		return 0;	/* ERANGE: more groups than we look at */
	n = len / sizeof groups[0];
	for (i = 0; i < n; i++)
		if (server_id_in(groups[i], settings.admin_gids,
		    settings.nadmin_gids))
			return 1;
	return 0;
}

/* Set up a connection for a socket accepted on l. */
static void
conn_new(int fd, struct listener *l)
{
	struct conn	*c;
	socklen_t	 len;

	if ((c = calloc(1, sizeof *c)) == NULL)
		goto fail;
	c->fd = fd;
	c->id = next_id++;
	c->via = l;
	/* Read once: what the peer was when it connected is what counts. */
	len = sizeof c->cred;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c->cred, &len) == -1) {
		log_warn("client %llu: SO_PEERCRED", (unsigned long long)c->id);
		c->cred.pid = 0;
		c->cred.uid = (uid_t)-1;
		c->cred.gid = (gid_t)-1;
	} else
		c->admin = server_peer_admin(fd, l, &c->cred);
	c->actor.uid = (uint32_t)c->cred.uid;
	c->actor.gid = (uint32_t)c->cred.gid;
	c->actor.pid = c->cred.pid > 0 ? (uint32_t)c->cred.pid : 0;
	reply_init(&c->out);
	c->parser = resp_parser_new(settings.max_request, settings.max_args);
	c->rev = event_new(base, fd, EV_READ | EV_PERSIST, conn_read_cb, c);
	c->wev = event_new(base, fd, EV_WRITE | EV_PERSIST, conn_write_cb, c);
	c->stall = evtimer_new(base, conn_stall_cb, c);
	if (c->parser == NULL || c->rev == NULL || c->wev == NULL ||
	    c->stall == NULL)
		goto fail;
	TAILQ_INSERT_TAIL(&conns, c, entry);
	stats.connections++;
	stats.connections_total++;
	conn_set_reading(c, 1);
	log_debug("client %llu connected on %s: pid %d uid %u gid %u%s",
	    (unsigned long long)c->id, l->path, (int)c->cred.pid,
	    (unsigned)c->cred.uid, (unsigned)c->cred.gid,
	    c->admin ? " (admin)" : "");
	return;
fail:
	log_warnx("out of memory for a new client");
	if (c != NULL) {
		if (c->rev)
			event_free(c->rev);
		if (c->wev)
			event_free(c->wev);
		if (c->stall)
			event_free(c->stall);
		resp_parser_free(c->parser);
		free(c);
	}
	close(fd);
}

/* Re-arm accepting after a pause for lack of descriptors. */
static void
accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener	*l = arg;

	(void)fd;
	(void)what;
	if (!shutting_down && l->ev != NULL)
		event_add(l->ev, NULL);
}

/* Accept pending connections on listener arg. */
static void
accept_cb(evutil_socket_t fd, short what, void *arg)
{
	static const char full[] = "-ERR max number of clients reached\r\n";
	struct listener	*l = arg;
	struct timeval	 tv = { 1, 0 };
	int		 cfd, i;

	(void)what;
	for (i = 0; i < ACCEPT_BATCH; i++) {
		cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd == -1) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				log_warn("accept (pausing for 1 s)");
				event_del(l->ev);
				evtimer_add(l->pause, &tv);
			} else if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR && errno != ECONNABORTED)
				log_warn("accept");
			return;
		}
		/* The admins' socket is not limited: a service that took
		 * every slot must not lock admins out during an incident. */
		if (!l->admin && stats.connections >= settings.max_clients) {
			(void)send(cfd, full, sizeof full - 1,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
			close(cfd);
			stats.clients_dropped++;
			continue;
		}
		conn_new(cfd, l);
	}
}

/* Start accepting clients on listening socket fd (the admins' socket if
 * admin; owned: we bound it, so we unlink it at exit). */
int
server_start(struct event_base *b, int fd, const char *path, int admin,
    int owned)
{
	struct listener	*l;

	if (nlisteners == SERVER_LISTENERS)
		return -1;
	base = b;
	l = &listeners[nlisteners++];
	l->fd = fd;
	l->admin = admin;
	l->owned = owned;
	if ((l->path = strdup(path)) == NULL)
		return -1;
	l->ev = event_new(base, fd, EV_READ | EV_PERSIST, accept_cb, l);
	l->pause = evtimer_new(base, accept_resume_cb, l);
	if (l->ev == NULL || l->pause == NULL)
		return -1;
	return event_add(l->ev, NULL);
}

/* Stop listening on l and free it; with unlink_path, remove the socket
 * file too if we made it (one passed by the service manager stays). */
static void
listener_close(struct listener *l, int unlink_path)
{
	if (l->ev != NULL)
		event_free(l->ev);
	if (l->pause != NULL)
		event_free(l->pause);
	l->ev = l->pause = NULL;
	if (l->fd != -1)
		close(l->fd);
	l->fd = -1;
	if (l->path != NULL && unlink_path && l->owned &&
	    unlink(l->path) == -1 && errno != ENOENT)
		log_warn("unlink %s", l->path);
	free(l->path);
	l->path = NULL;
}

/* The grace period for flushing replies on shutdown is over. */
static void
grace_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	log_warnx("shutdown: %zu clients still had replies pending",
	    (size_t)stats.connections);
	event_base_loopexit(base, NULL);
}

/* Stop accepting, unlink the socket, flush replies, then end the loop. */
void
server_shutdown(void)
{
	struct conn	*c, *next;
	struct timeval	 tv = { settings.shutdown_grace, 0 };
	size_t		 i;

	if (shutting_down)
		return;
	shutting_down = 1;
	for (i = 0; i < nlisteners; i++)
		listener_close(&listeners[i], 1);
	/* Requests already read have been answered; send the answers. */
	for (c = TAILQ_FIRST(&conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		conn_set_reading(c, 0);
		conn_set_timing(c, 0);
		(void)conn_flush(c);
	}
	if (TAILQ_EMPTY(&conns)) {
		event_base_loopexit(base, NULL);
		return;
	}
	if ((grace_ev = evtimer_new(base, grace_cb, NULL)) == NULL ||
	    evtimer_add(grace_ev, &tv) == -1)
		event_base_loopexit(base, NULL);
}

/* Return 1 if the replies held for write seq may go out. */
static int
server_releasable(uint64_t seq, uint64_t durable, uint64_t confirmed,
    uint64_t settled)
{
	return seq <= durable && (seq <= confirmed || seq <= settled);
}

/* Return 1 if a write's reply is its success reply (+OK or :1), not an
 * error (nor a reply lost to out of memory). */
static int
conn_is_success(const struct conn *c, const struct wslot *w)
{
	const char	*p;

	if (w->pos < c->sent ||
	    w->pos - c->sent + w->len > reply_pending(&c->out))
		return 0;
	p = c->out.data + c->out.off + (w->pos - c->sent);
	return (w->len == 5 && memcmp(p, "+OK\r\n", 5) == 0) ||
	    (w->len == 4 && memcmp(p, ":1\r\n", 4) == 0);
}

/* Settle the replicated writes' replies before byte end: "+PENDING" for
 * those Redis has not confirmed. Later replies and marks shift along. */
static void
conn_settle(struct conn *c, uint64_t end, uint64_t confirmed)
{
	static const char pending[] = "+PENDING\r\n";
	struct wslot	*w;
	int64_t		 delta;
	size_t		 i;
	unsigned	 k;

	while (c->shead < c->nslots && (w = &c->slots[c->shead])->pos < end) {
		c->shead++;
		/* An error reply was counted by cmd_execute. */
		if (!conn_is_success(c, w))
			continue;
		if (w->seq <= confirmed) {
			metrics_count_command(w->cmd, METRICS_OK);
			continue;
		}
		metrics_count_command(w->cmd, METRICS_PENDING);
		if (reply_splice(&c->out, (size_t)(w->pos - c->sent), w->len,
		    pending, sizeof pending - 1) == -1)
			return;		/* oom: dropped at the next flush */
		delta = (int64_t)(sizeof pending - 1) - (int64_t)w->len;
		for (i = c->shead; i < c->nslots; i++)
			c->slots[i].pos += (uint64_t)delta;
		for (k = 0; k < c->nmarks; k++)
			c->marks[(c->mhead + k) % HOLD_MARKS].from +=
			    (uint64_t)delta;
		if (end != UINT64_MAX)	/* UINT64_MAX: no mark left */
			end += (uint64_t)delta;
	}
}

/* Send the replies whose writes are durable and confirmed by Redis (or
 * that Redis cannot confirm now), and resume those clients. */
void
server_release(uint64_t durable, uint64_t confirmed, uint64_t settled)
{
	struct conn	*c, *next;
	uint64_t	 end;

	for (c = TAILQ_FIRST(&held); c != NULL; c = next) {
		next = TAILQ_NEXT(c, hentry);
		if (!server_releasable(c->marks[c->mhead].seq, durable,
		    confirmed, settled))
			continue;
		while (c->nmarks > 0 && server_releasable(
		    c->marks[c->mhead].seq, durable, confirmed, settled)) {
			c->mhead = (c->mhead + 1) % HOLD_MARKS;
			c->nmarks--;
		}
		end = c->nmarks > 0 ? c->marks[c->mhead].from : UINT64_MAX;
		conn_settle(c, end, confirmed);
		if (c->nmarks == 0)
			TAILQ_REMOVE(&held, c, hentry);
		conn_write_cb(c->fd, EV_WRITE, c);
	}
}

/* Free every connection and the server's events (after the loop ends). */
void
server_free(void)
{
	size_t		 i;

	for (i = 0; i < nlisteners; i++)
		listener_close(&listeners[i], 0);
	struct conn	*c;

	while ((c = TAILQ_FIRST(&conns)) != NULL)
		conn_free(c);
	if (grace_ev != NULL)
		event_free(grace_ev);
	grace_ev = NULL;
}
