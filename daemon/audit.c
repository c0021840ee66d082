/*
 * The audit trail in memory: a ring of the newest records, each one
 * allocation holding the struct and its strings.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "journal.h"
#include "log.h"

#define AUDIT_LOG_MAX	64	/* bytes of a value shown in a log line */

/* The ring and its counters. */
static struct {
	struct audit_entry **ring;	/* keep slots, oldest at head */
	size_t		 keep;		/* slots */
	size_t		 head;		/* oldest record */
	size_t		 count;		/* records held */
	uint64_t	 total;		/* records added since start */
	int		 oom_logged;	/* a dropped record was logged */
	char		 host[JOURNAL_HOST_MAX + 1]; /* gethostname() */
} A;

/* Set up a trail keeping the newest keep records; 0, or -1 on OOM. */
int
audit_init(size_t keep)
{
	audit_free();
	if (keep == 0)
		keep = 1;
	if ((A.ring = calloc(keep, sizeof *A.ring)) == NULL)
		return -1;
	A.keep = keep;
	if (gethostname(A.host, sizeof A.host) == -1)
		A.host[0] = '\0';
	A.host[sizeof A.host - 1] = '\0';
	return 0;
}

/* Free every record. */
void
audit_free(void)
{
	size_t	i;

	for (i = 0; i < A.count; i++)
		free(A.ring[(A.head + i) % A.keep]);
	free(A.ring);
	A.ring = NULL;
	A.keep = A.head = A.count = 0;
}

/* Copy n bytes to *p, NUL-terminate, point *dst at them, advance *p. */
static void
audit_copy(char **p, const char *src, size_t n, const char **dst)
{
	if (n > 0)
		memcpy(*p, src, n);
	(*p)[n] = '\0';
	*dst = *p;
	*p += n + 1;
}

/* Record a write (copied); out of memory drops it, logged once. */
void
audit_add(const struct journal_rec *r)
{
	struct audit_entry	*e;
	char			*p;
	size_t			 slot;

	if (A.keep == 0)
		return;
	e = malloc(sizeof *e + r->isslen + r->jtilen + r->reasonlen +
	    r->commlen + r->hostlen + 5);
	if (e == NULL) {
		if (!A.oom_logged)
			log_warnx("audit: out of memory, records dropped");
		A.oom_logged = 1;
		return;
	}
	e->ts = r->ts;
	e->type = r->type;
	e->exp = r->exp;
	e->uid = r->uid;
	e->gid = r->gid;
	e->pid = r->pid;
	p = (char *)(e + 1);
	audit_copy(&p, r->iss, e->isslen = r->isslen, &e->iss);
	audit_copy(&p, r->jti, e->idlen = r->jtilen, &e->id);
	audit_copy(&p, r->reason, e->reasonlen = r->reasonlen, &e->reason);
	audit_copy(&p, r->comm, e->commlen = r->commlen, &e->comm);
	audit_copy(&p, r->host, e->hostlen = r->hostlen, &e->host);
	if (A.count == A.keep) {
		free(A.ring[A.head]);
		A.ring[A.head] = e;
		A.head = (A.head + 1) % A.keep;
	} else {
		slot = (A.head + A.count) % A.keep;
		A.ring[slot] = e;
		A.count++;
	}
	A.total++;
}

/* Fill rec as a trail-only journal record of e. */
void
audit_rec(const struct audit_entry *e, struct journal_rec *rec)
{
	memset(rec, 0, sizeof *rec);
	rec->type = e->type;
	rec->flags = JOURNAL_F_AUDIT | JOURNAL_F_REMOTE;
	rec->exp = e->exp;
	rec->ts = e->ts;
	rec->iss = e->iss;
	rec->isslen = e->isslen;
	rec->jti = e->id;
	rec->jtilen = e->idlen;
	rec->reason = e->reason;
	rec->reasonlen = e->reasonlen;
	rec->uid = e->uid;
	rec->gid = e->gid;
	rec->pid = e->pid;
	rec->comm = e->comm;
	rec->commlen = e->commlen;
	rec->host = e->host;
	rec->hostlen = e->hostlen;
}

/* Copy a printable, truncated form of n bytes at p into buf. */
static const char *
audit_loggable(const char *p, size_t n, char *buf, size_t size)
{
	size_t	 i, o = 0;

	for (i = 0; i < n && o + 4 < size && i < AUDIT_LOG_MAX; i++) {
		unsigned char ch = (unsigned char)p[i];

		buf[o++] = (ch >= 0x20 && ch < 0x7f && ch != '"') ? ch : '?';
	}
	if (i < n && o + 4 < size) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

/* Return the upper-case command name of a journal record type. */
const char *
audit_command(int type)
{
	switch (type) {
	case JOURNAL_REVOKE:
		return "REVOKE";
	case JOURNAL_UNREVOKE:
		return "UNREVOKE";
	case JOURNAL_REVOKESUB:
		return "REVOKESUB";
	case JOURNAL_BAN:
		return "BAN";
	case JOURNAL_UNBAN:
		return "UNBAN";
	case JOURNAL_REVOKESID:
		return "REVOKESID";
	case JOURNAL_REVOKEALL:
		return "REVOKEALL";
	}
	return "?";
}

/* Log an accepted write at info level (remote ones at debug). */
void
audit_log(const struct journal_rec *r)
{
	char	 iss[AUDIT_LOG_MAX + 8], id[AUDIT_LOG_MAX + 8];
	char	 reason[AUDIT_LOG_MAX + 8], comm[AUDIT_LOG_MAX + 8];
	char	 host[AUDIT_LOG_MAX + 8], line[1024];
	int	 remote = (r->flags & JOURNAL_F_REMOTE) != 0;

	if (remote && !log_debugging())
		return;
	snprintf(line, sizeof line, "audit: %s iss=\"%s\" target=\"%s\" until=%lld reason=\"%s\" "
	    "uid=%ld gid=%ld pid=%lu comm=\"%s\" host=\"%s\"%s",
	    audit_command(r->type),
	    audit_loggable(r->iss, r->isslen, iss, sizeof iss),
	    audit_loggable(r->jti, r->jtilen, id, sizeof id),
	    /* As AUDIT shows it: 0 for a ban without an end. */
	    r->type == JOURNAL_BAN && r->exp == (int64_t)UINT32_MAX ? 0LL :
	    (long long)r->exp,
	    audit_loggable(r->reason, r->reasonlen, reason, sizeof reason),
	    r->uid == JOURNAL_NOBODY ? -1L : (long)r->uid,
	    r->gid == JOURNAL_NOBODY ? -1L : (long)r->gid,
	    (unsigned long)r->pid,
	    audit_loggable(r->comm, r->commlen, comm, sizeof comm),
	    audit_loggable(r->host, r->hostlen, host, sizeof host),
	    remote ? " (from Redis)" : "");
	if (remote)
		log_debug("%s", line);
	else
		log_info("%s", line);
}

/* Return the number of records held. */
size_t
audit_count(void)
{
	return A.count;
}

/* Return the i-th newest record, or NULL past the end. */
const struct audit_entry *
audit_get(size_t i)
{
	if (i >= A.count)
		return NULL;
	return A.ring[(A.head + A.count - 1 - i) % A.keep];
}

/* Return the number of records added since start. */
uint64_t
audit_total(void)
{
	return A.total;
}

/* Return the most records kept. */
size_t
audit_keep(void)
{
	return A.keep;
}

/* Return this host's name. */
const char *
audit_hostname(void)
{
	return A.host;
}
