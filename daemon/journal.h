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

#define JOURNAL_REVOKE		1	/* record type: revoke until exp */
#define JOURNAL_UNREVOKE	2	/* record type: lift a revocation */

#define JOURNAL_F_REMOTE	0x01	/* flag: learned from Redis (another
					 * daemon's write or a full reload),
					 * not made by a client of this one */

/* One write, as appended and as replayed. Strings are not NUL-terminated;
 * when replayed they point into a buffer valid during the callback only. */
struct journal_rec {
	int		 type;		/* JOURNAL_REVOKE or JOURNAL_UNREVOKE */
	int		 flags;		/* JOURNAL_F_* */
	uint64_t	 seq;		/* replayed: its sequence number, unique
					 * and increasing across restarts
					 * (a replacement's records keep the
					 * ones they were given, maybe 0);
					 * ignored by journal_append */
	int64_t		 exp;		/* REVOKE: the token's exp */
	int64_t		 ts;		/* Unix seconds the write was made */
	const char	*iss;		/* issuer, may be empty */
	size_t		 isslen;	/* <= 256 */
	const char	*jti;		/* token id */
	size_t		 jtilen;	/* 1..256 */
	const char	*reason;	/* REVOKE: reason, may be empty */
	size_t		 reasonlen;	/* <= 512 */
};

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
struct blocklist;

/* Apply a record to bl as of horizon (an entry lives while horizon <
 * exp): UNREVOKE removes, REVOKE adds unless already expired or beyond
 * what the table holds (2106), both skipped as replay always did. 0, or
 * -1 when out of memory. */
int journal_rec_apply(struct blocklist *bl, const struct journal_rec *,
    int64_t horizon);

/* Open or create the journal in cfg->dir, replaying the snapshot then the
 * log through apply. A torn last record (crash mid-write) is dropped with
 * a warning and the log truncated there; any other damage, or a file of
 * another format version, fails with err naming the file (and byte
 * offset). NULL on failure. Sequence numbers continue above the highest
 * one on disk, which is durable. */
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
/* Ask for a compaction at the writer's next idle moment (drops expired
 * and lifted entries from disk). */
void journal_request_compact(struct journal *);
/* Tell the journal the lowest sequence number not yet confirmed by Redis
 * (UINT64_MAX, the default: none). While the journal holds a record at or
 * above it, no compaction happens (a requested one is dropped), so the
 * records Redis still has to receive survive a restart as they were
 * written. Set it before journal_kick hands the records over; the writer
 * looks at it when it next wakes. */
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
/* Fill in the counters. */
void journal_get_stats(struct journal *, struct journal_stats *);
/* Write and fsync everything queued, stop the writer, close the files. */
int journal_close(struct journal *);

#endif
