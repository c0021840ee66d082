/*
 * The local journal: every write, appended and fsync'd before it is
 * acknowledged, replayed at start-up, compacted into a snapshot of the live
 * entries. Writing and fsync run on a thread of their own so the event loop
 * never waits for the disk; the loop learns of durable writes through a
 * notification fd.
 */
#ifndef REVOKD_JOURNAL_H
#define REVOKD_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#define JOURNAL_REVOKE		1	/* record type: revoke (iss, jti)
					 * until exp */
#define JOURNAL_UNREVOKE	2	/* record type: lift a revocation */
/* 3 is the internal MARK record */
#define JOURNAL_REVOKESUB	4	/* record type: revoke (iss, sub)'s
					 * tokens with iat <= exp ("before") */
#define JOURNAL_BAN		5	/* record type: ban (iss, sub) until
					 * exp (RULES_FOREVER: no end) */
#define JOURNAL_UNBAN		6	/* record type: lift a ban */
#define JOURNAL_REVOKESID	7	/* record type: revoke (iss, sid)
					 * until exp */
#define JOURNAL_REVOKEALL	8	/* record type: revoke iss's tokens
					 * with iat <= exp ("before"); jti
					 * is empty */

#define JOURNAL_F_REMOTE	0x01	/* flag: learned from Redis (another
					 * daemon's write or a full reload),
					 * not made by a client of this one */
#define JOURNAL_F_AUDIT		0x02	/* flag: for the audit trail only,
					 * never applied: another daemon's
					 * write as it was made (with
					 * JOURNAL_F_REMOTE, or an own write's
					 * copy made by a compaction) */
#define JOURNAL_F_STATE		0x04	/* flag: a compaction's copy of a
					 * rule in force (merged time and
					 * reason): applied, but not part of
					 * the audit trail */

/* One write, as appended and as replayed. Strings are not NUL-terminated;
 * when replayed they point into a buffer valid during the callback only.
 * journal_append and journal_snap_add refuse a record outside the limits
 * below (a REVOKEALL with an id, an UNREVOKE or UNBAN with an exp, an
 * unknown flag, JOURNAL_F_AUDIT with JOURNAL_F_STATE, ...). */
struct journal_rec {
	int		 type;		/* JOURNAL_REVOKE ... JOURNAL_REVOKEALL */
	int		 flags;		/* JOURNAL_F_* */
	uint64_t	 seq;		/* replayed: its sequence number, unique
					 * and increasing across restarts
					 * (a replacement's records keep the
					 * ones they were given, maybe 0; a
					 * compaction's copies keep their
					 * write's, so a write's trail copy
					 * and state copy share one);
					 * ignored by journal_append */
	int64_t		 exp;		/* REVOKE, REVOKESID: the token's or
					 * session's exp; REVOKESUB,
					 * REVOKEALL: the not-before point;
					 * BAN: until; UNREVOKE, UNBAN: 0
					 * (replayed from a format 2 file: an
					 * UNREVOKE's may be anything) */
	int64_t		 ts;		/* Unix seconds the write was made */
	const char	*iss;		/* issuer, may be empty */
	size_t		 isslen;	/* <= 256 */
	const char	*jti;		/* the id: jti, sub or sid */
	size_t		 jtilen;	/* 1..256; 0 for REVOKEALL (always) */
	const char	*reason;	/* reason, may be empty */
	size_t		 reasonlen;	/* <= 512 */
	/* The audit trail: who made the write. */
	uint32_t	 uid;		/* peer uid (JOURNAL_NOBODY: unknown, as
					 * for records of format 2) */
	uint32_t	 gid;		/* peer gid (JOURNAL_NOBODY: unknown) */
	uint32_t	 pid;		/* peer pid (0: unknown) */
	const char	*comm;		/* process name, may be empty */
	size_t		 commlen;	/* <= JOURNAL_COMM_MAX */
	const char	*host;		/* host name of the daemon that took
					 * the write, may be empty */
	size_t		 hostlen;	/* <= JOURNAL_HOST_MAX */
};

#define JOURNAL_NOBODY		UINT32_MAX /* uid/gid of an unknown actor */
#define JOURNAL_COMM_MAX	64	/* most bytes of comm */
#define JOURNAL_HOST_MAX	255	/* most bytes of host */

/* Called for each record a listing visits; return 1 to stop after it. */
typedef int (*journal_list_cb)(const struct journal_rec *, void *arg);

/* Called for each record replayed at open, in order. */
typedef void (*journal_apply_cb)(const struct journal_rec *, void *arg);
/* Returns the current time (Unix seconds); injectable for tests. */
typedef int64_t (*journal_clock_cb)(void);

/* Settings of a journal. */
struct journal_config {
	const char	*dir;		/* state directory (must exist) */
	int64_t		 exp_grace;	/* an entry is live while now - grace < exp */
	size_t		 compact_min;	/* log bytes below which no compaction
					 * happens by itself (0: 64 MiB) */
	journal_clock_cb clock;		/* NULL: time(NULL) */
	int64_t		 lifetime;	/* --max-token-lifetime: how long a
					 * not-before rule lives past its
					 * point (compaction drops it then) */
	size_t		 audit_keep;	/* compaction keeps a trail-only copy
					 * (JOURNAL_F_AUDIT) of the newest
					 * this many audit records: own writes
					 * and trail-only records */
	int		 hold_compaction; /* start as if every record were
					 * unconfirmed (journal_set_unconfirmed
					 * with 0) until the owner says
					 * otherwise: with Redis, nothing is
					 * compacted before the outbox is
					 * known */
};

/* Counters for STATS. */
struct journal_stats {
	uint64_t	 log_bytes;	/* size of the log file */
	uint64_t	 snapshot_bytes; /* size of the snapshot file */
	uint64_t	 syncs;		/* fsync batches completed */
	uint64_t	 records;	/* records appended since open */
	uint64_t	 compactions;	/* compactions completed */
	uint64_t	 last_sync_usec; /* duration of the last write+fsync */
	uint64_t	 replayed;	/* records replayed at open */
	uint64_t	 torn_bytes;	/* bytes of a torn tail dropped at open */
	uint64_t	 pending;	/* records appended, not yet durable */
	uint64_t	 replaces;	/* replacements renamed into place */
	uint64_t	 compact_skipped; /* compaction requests dropped while
					 * the log held unconfirmed records */
};

struct journal;

/* Open or create the journal in cfg->dir, replaying the snapshot then the
 * log through apply. A torn last record (crash mid-write) is dropped with
 * a warning and the log truncated there; any other damage, or a file of
 * a format version other than 2 or 3, fails with err naming the file (and
 * byte offset). Files of format 2 are replayed, then rewritten as format 3
 * before open returns, record for record (nothing merged or dropped:
 * replaying them again hands apply the same records, an UNREVOKE's exp
 * now 0); logged once, err when that fails. NULL on failure. Sequence
 * numbers continue above the highest one on disk, which is durable. */
struct journal *journal_open(const struct journal_config *cfg,
    journal_apply_cb apply, void *arg, char *err, size_t errlen);
/* Queue a record for writing (rec->seq ignored, rec->flags kept); returns
 * its sequence number (1, 2, ... on a new journal), or 0 when out of memory
 * or the record is invalid (nothing queued). Not durable until
 * journal_durable() reaches that number. */
uint64_t journal_append(struct journal *, const struct journal_rec *);
/* Hand what is queued to the writer thread if it is idle; never blocks.
 * Writes queued while a batch is being synced go out in the next batch
 * (group commit). */
void journal_kick(struct journal *);
/* Return an fd that becomes readable when a batch became durable. */
int journal_notify_fd(const struct journal *);
/* Drain the notification fd; returns the highest durable sequence number.
 * A failed write or fsync is fatal (logged, exit 1): an acknowledgement
 * could otherwise be a lie. */
uint64_t journal_collect(struct journal *);
/* Return the highest durable sequence number. */
uint64_t journal_durable(const struct journal *);
/* Return the highest sequence number issued (durable or not). */
uint64_t journal_last_seq(const struct journal *);
/* Ask for a compaction at the writer's next idle moment: the files become
 * trail copies (JOURNAL_F_AUDIT) of the newest cfg->audit_keep records of
 * the audit trail (own writes and trail-only records) and one copy
 * (JOURNAL_F_STATE) of each rule in force; expired and lifted entries
 * leave the disk. Dropped while compaction is held (see
 * journal_set_unconfirmed). */
void journal_request_compact(struct journal *);
/* Tell the journal the lowest sequence number not yet confirmed by Redis
 * (UINT64_MAX, the default: none; 0 from open with cfg->hold_compaction).
 * While the journal holds a record at or above it, no compaction happens
 * (a requested one is dropped), so the records Redis still has to receive
 * survive a restart as they were written. Set it before journal_kick hands
 * the records over; the writer looks at it when it next wakes, and is
 * woken when this lifts the hold. */
void journal_set_unconfirmed(struct journal *, uint64_t seq);

/* A replacement for the whole journal, built on the loop thread. */
struct journal_snap;

/* Return an empty replacement, or NULL when out of memory. */
struct journal_snap *journal_snap_new(void);
/* Add a record to it, keeping rec->seq (0 for a record that has none of
 * its own) and rec->flags; 0, or -1 when out of memory or the record is
 * invalid (as for journal_append, or seq above INT64_MAX). */
int journal_snap_add(struct journal_snap *, const struct journal_rec *);
/* Free a replacement that was not handed to journal_replace. */
void journal_snap_free(struct journal_snap *);
/* Replace everything appended so far with the records of snap (taken over
 * and freed): the writer syncs what was appended before, then writes snap
 * as the new snapshot and empties the log, atomically. Records appended
 * afterwards follow it. Hands it to the writer itself (as journal_kick).
 * Returns the replacement's own sequence number, above every one issued
 * and every one in snap, which journal_durable() reaches once it is on
 * disk, or 0 when out of memory (snap freed, nothing changed). If writing
 * it fails, that is logged and the journal keeps its old content (a copy
 * of what Redis had, so still safe); durable reaches the number anyway. */
uint64_t journal_replace(struct journal *, struct journal_snap *snap);
/*
 * One step of a listing of the records on disk (LIST): visit records from
 * *cursor (0: the beginning of the snapshot) through cb, reading at most
 * about budget bytes, and store the cursor to continue from in *cursor (0
 * when the end of the log was reached). Records are visited as they are
 * on disk, superseded, dead and trail-only ones included (the caller
 * filters them against the tables) and MARKs excluded. Like Redis's SCAN,
 * a listing from 0 back to 0 visits every record that was on disk for its
 * whole duration at least once; a compaction or replacement in between
 * restarts it on the new files (records may then be visited twice), and
 * so does a cursor of another open of the journal (but for a 2^-23
 * chance). A record added during the listing may or may not be visited:
 * one still being written at the end of the log ends the step with the
 * cursor at it, or, when the step starts at it, ends the listing (*cursor
 * 0), so that every listing ends, even from a forged cursor. A step
 * visits at least one record when there is one (MARKs do not count).
 * Never blocks on the writer. Returns 0 (maybe with nothing visited, while
 * the writer swaps the files); -2 for a cursor of the current generation
 * that points at no valid record (an invalid cursor, most likely forged:
 * not logged, the cursor kept; damage right at a step's cursor looks the
 * same); -1 on a read error or on damage in a record after the cursor's
 * or at a file's first (logged; the cursor is moved past the records this
 * step visited before it).
 */
int journal_list(struct journal *, uint64_t *cursor, size_t budget,
    journal_list_cb cb, void *arg);
/* Fill in the counters. */
void journal_get_stats(struct journal *, struct journal_stats *);
/* Free idle append buffers that a burst left large; returns the bytes
 * freed. */
size_t journal_trim(struct journal *);
/* Write and fsync everything queued, stop the writer, close the files. */
int journal_close(struct journal *);

#endif
