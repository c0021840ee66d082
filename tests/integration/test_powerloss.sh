#!/usr/bin/env bash
# Power loss: a write is acknowledged only once its journal record is
# fsync'd. kill -9 alone cannot show this (the page cache survives it), so
# the daemon runs with fsync_shim preloaded, which records the journal's
# size at each completed sync; after kill -9 the log is cut back to that
# size, which is what a power loss would leave, and every acknowledged
# write must still be there on restart.
# Usage: test_powerloss.sh BINDIR SHIM
. "$(dirname "$0")/lib.sh"
SHIM=${2:?usage: $0 BINDIR SHIM}
PL="python3 $(dirname "$0")/powerloss.py $SOCK"
RAW="python3 $(dirname "$0")/rawclient.py $SOCK"
LOG=$STATE/journal.log
ROUNDS=${REVOKD_POWERLOSS_ROUNDS:-6}	# at least this many rounds,
MIDSTORM=3				# more until this many were
MAX_ROUNDS=$((ROUNDS + 14))		# killed mid-storm, up to this many
WRITES=5000

# Run "$@" with the shim preloaded (ASan wants to be first otherwise).
with_shim() {
	LD_PRELOAD=$SHIM${LD_PRELOAD:+:$LD_PRELOAD} \
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
	    "$@"
}

# Print the size the shim last recorded in file $1 (none: 0).
synced_size() {
	local s
	s=$(cat "$1" 2>/dev/null) || s=0
	echo $((10#${s:-0}))
}

# Ack waits for fsync: with every journal sync delayed 300 ms, a REVOKE's
# reply cannot come sooner, while the loop keeps answering others.
REVOKD_SHIM_OUT=$TMP/synced.ackwait REVOKD_SHIM_DELAY_MS=300 \
    with_shim daemon_start
expect_eq "shim loaded: the new journal's sync was recorded" 8 \
    "$(synced_size "$TMP/synced.ackwait")"
out=$($PL ackwait aw1)
echo "# $out"
field() { echo "$out" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
expect_eq "ackwait: REVOKE stored" "+OK" "$(field reply)"
expect_range "ackwait: REVOKE answered only after its 300 ms fsync" \
    300 100000 "$(field revoke_ms)"
expect_eq "ackwait: a CHECK meanwhile is answered first" 0 "$(field early)"
expect_range "ackwait: the CHECK meanwhile is not blocked by the disk" \
    0 249 "$(field check_ms)"
expect_range "ackwait: STATS meanwhile is not blocked by the disk" \
    0 249 "$(field probe_ms)"
daemon_stop

# Power-loss rounds: a storm of pipelined REVOKEs, kill -9 at a random
# moment, the log cut back to its last synced size, a restart without the
# shim; the acknowledged REVOKEs (the first K replies) must all be there.
# The storm takes only milliseconds on a fast disk, so the kill comes after
# a random number of replies (right after a batch is released, with the
# next one in flight), or after a random 0..0.4 s if that is sooner.
# Often the daemon still gets every reply out first, so rounds go on until
# enough of them were killed mid-storm.
midstorm=0
r=0
while [ $r -lt "$ROUNDS" ] ||
    { [ $midstorm -lt $MIDSTORM ] && [ $r -lt $MAX_ROUNDS ]; }; do
	r=$((r + 1))
	rm -f "$STATE"/journal.*
	out=$TMP/synced.$r
	delay=$((RANDOM % 6))
	kill_after=$(python3 -c 'import random; print("%.3f" % random.uniform(0, 0.4))')
	kill_acks=$((RANDOM % (WRITES - 1) + 1))
	REVOKD_SHIM_OUT=$out REVOKD_SHIM_DELAY_MS=$delay with_shim daemon_start
	res=$($PL storm "r${r}k" $WRITES "$DAEMON_PID" "$kill_after" \
	    "$kill_acks") ||
	    not_ok "round $r: storm replies" "$res"
	wait "$DAEMON_PID" 2>/dev/null
	DAEMON_PID=
	acked=$(echo "$res" | sed -n 's/.*acked=\([0-9]*\).*/\1/p')
	size=$(stat -c %s "$LOG")
	synced=$(synced_size "$out")
	# Compaction may have shrunk the log since the last recorded sync.
	keep=$(( synced < size ? synced : size ))
	truncate -s "$keep" "$LOG"
	[ "${acked:-0}" -lt $WRITES ] && midstorm=$((midstorm + 1))
	echo "# round $r: fsync delay ${delay} ms, kill after ${kill_after} s" \
	    "or ${kill_acks} replies:" \
	    "${res}, log ${size} bytes, synced ${synced} bytes"
	expect_range "round $r: the shim recorded a sync" 8 "$size" "$synced"
	daemon_start
	ok "round $r: restart after power loss"
	expect_eq "round $r: all ${acked:-?} acknowledged REVOKEs survive" \
	    "${acked:-?}" "$($RAW count "r${r}k" "${acked:-0}")"
	daemon_stop
done
expect_range "rounds killed mid-storm (fewer than $WRITES acknowledged)" \
    1 $MAX_ROUNDS "$midstorm"
finish
