#!/usr/bin/env bash
# Durability on the embedded default: every acknowledged write survives a
# kill -9, a torn last record is dropped, other damage stops start-up, and
# expired entries leave memory and disk.
. "$(dirname "$0")/lib.sh"
RAW="python3 $(dirname "$0")/rawclient.py $SOCK"
R="redis-cli -s $SOCK"
LOG=$STATE/journal.log

stat_of() { $R STATS | grep -A1 "^$1\$" | tail -1; }

# 1000 REVOKEs through redis-cli --pipe: all acknowledged, then kill -9.
daemon_start
exp=$(( $(date +%s) + 3600 ))
expect_eq "1000 REVOKEs acknowledged" "errors: 0, replies: 1000" \
    "$(pipe_revokes k 1000 "$exp")"
syncs=$(stat_of journal_syncs)
expect_range "group commit: fewer fsyncs than writes" 1 999 "$syncs"
kill -KILL "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null; DAEMON_PID=

daemon_start
expect_eq "after kill -9: all 1000 present" "1000" "$($RAW count k 1000)"
expect_eq "after kill -9: entries" "1000" "$(stat_of entries)"

# UNREVOKE is as durable as REVOKE.
expect_eq "UNREVOKE k7" "1" "$($R UNREVOKE k7)"
kill -KILL "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null; DAEMON_PID=
daemon_start
expect_eq "after kill -9: k7 still unrevoked" "not_revoked" "$($R CHECK k7)"
expect_eq "after kill -9: 999 present" "999" "$($RAW count k 1000)"

# A record cut in half by a crash mid-write: dropped, the rest loads.
kill -KILL "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null; DAEMON_PID=
size=$(stat -c %s "$LOG")
truncate -s $((size - 7)) "$LOG"
daemon_start
expect_eq "torn tail: the last write (UNREVOKE k7) is gone" "revoked" \
    "$($R CHECK k7 | head -1)"
expect_eq "torn tail: the rest loads" "1000" "$($RAW count k 1000)"
expect_eq "torn tail logged" "yes" \
    "$(grep -q torn "$TMP/revokd.log" && echo yes)"

# Damage inside the journal stops start-up, naming file and offset.
daemon_stop
printf '\xff' | dd of="$LOG" bs=1 seek=20 conv=notrunc 2>/dev/null
rc=0
"$BIN/revokd" --socket "$SOCK" --state-dir "$STATE" 2>"$TMP/corrupt.log" || rc=$?
expect_eq "corruption: start-up refused" "1" "$rc"
expect_eq "corruption: error names file and offset" "1" \
    "$(grep -c "journal.log: offset 8" "$TMP/corrupt.log")"
rm -f "$STATE"/journal.*

# SIGTERM keeps everything; expiry and compaction clear memory and disk
# (--audit-keep 1: the audit trail keeps only the newest write, which is
# longlived's).
daemon_start --exp-grace 0 --compact-interval 1 --audit-keep 1
now=$(date +%s)
expect_eq "REVOKE short-lived" "OK" "$($R REVOKE shortlived $((now + 2)))"
expect_eq "REVOKE long-lived" "OK" "$($R REVOKE longlived $((now + 3600)))"
daemon_stop
expect_eq "SIGTERM exit status" "0" "$?"
daemon_start --exp-grace 0 --compact-interval 1 --audit-keep 1
expect_eq "after restart: long-lived present" "revoked" "$($R CHECK longlived | head -1)"
compacted() {
	[ "$(stat_of entries)" = 1 ] &&
	[ "$(stat_of journal_log_bytes)" = 8 ] &&
	! grep -q shortlived "$STATE/journal.snap" 2>/dev/null &&
	grep -q longlived "$STATE/journal.snap" 2>/dev/null
}
if DEADLINE=20 wait_for compacted; then ok "expired entry gone from memory, log and snapshot"
else not_ok "expired entry gone from memory, log and snapshot" \
    "entries=$(stat_of entries) log=$(stat_of journal_log_bytes)"; fi
daemon_stop
daemon_start
expect_eq "after compaction and restart: only the live entry" "1" "$(stat_of entries)"
expect_eq "after compaction and restart: it is enforced" "revoked" "$($R CHECK longlived | head -1)"
daemon_stop
finish
