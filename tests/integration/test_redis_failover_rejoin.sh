#!/usr/bin/env bash
# Redis replication, Sentinel failover and the old primary's return: the
# failover of test_redis_failover.sh with one replica, so that afterwards
# the new primary has none and A's writes (--redis-replicas 1) stay
# +PENDING. The old primary keeps an fsync'd append-only file: it comes
# back (kill -9, restart) with what it held, as a primary, until the
# sentinels make it a replica of the new one. Nothing it held comes back
# wrongly: revocations lifted (UNREVOKE) after the failover, also ones
# only it had, stay lifted on both daemons and in Redis; and A's waiting
# writes are confirmed once it replicates.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/failover_lib.sh"

# not_revoked_everywhere JTI: lifted on A, B and on the primary $NEW.
not_revoked_everywhere() {
	[ "$(dcli A CHECK "$1" | head -1)" = not_revoked ] &&
	    [ "$(dcli B CHECK "$1" | head -1)" = not_revoked ] &&
	    [ "$(ncli "$NEW" EXISTS "${P}j:0:$1")" = 0 ]
}

node_start r1 --appendonly yes --appendfsync always
replica_start r2 r1
for s in s1 s2 s3; do sentinel_start "$s" r1; done
expect_within "the sentinels know each other and the replica" 20 \
    sentinels_ready 1 s1 s2 s3
URL=$(sentinel_url s1 s2 s3)
daemon_start_n A --redis "$URL" --redis-replicas 1
daemon_start_n B --redis "$URL"
expect_within "A and B synced" 10 redis_converged A B

failover_run r1
NEWA=$(naddr "$NEW")
expect_eq "r2 is the new primary" r2 "$NEW"

# What only r1 had: B's +OK writes after the cut (b<i>), re-sent by B.
lost=$(awk -v c="$T_CUT" -v k="$T_KILL" '$1 >= c && $2 < k && $4 == "OK" {
    print $3}' "$TMP/w-B" | tail -1)
early=$(awk '$4 == "OK" {print $3; exit}' "$TMP/w-A")
echo "# lifted after the failover: $lost (only r1 had it before), $early" \
    "(A's, r1 and r2 had it), canary (A's), b1 (B's)"
expect_eq "$lost is in r1's append-only file" yes \
    "$(cat "$TMP/r1"/appendonlydir/*.aof | grep -q -a -F "${P}j:0:$lost"$'\r' &&
        echo yes)"
expect_eq "UNREVOKE $lost on B: +OK" 1 "$(dcli B UNREVOKE "$lost")"
expect_eq "UNREVOKE b1 on B: +OK" 1 "$(dcli B UNREVOKE b1)"
expect_eq "UNREVOKE $early on A: +PENDING (no replica)" PENDING \
    "$(dcli A UNREVOKE "$early")"
expect_eq "UNREVOKE canary on A: +PENDING" PENDING "$(dcli A UNREVOKE canary)"
expect_eq "REVOKE again1 on A: +PENDING" PENDING "$(dcli A REVOKE again1 "$exp")"
expect_eq "REVOKE again2 on B: +OK" OK "$(dcli B REVOKE again2 "$exp")"
for j in "$lost" b1 "$early" canary; do
	expect_within "$j lifted on A, B and $NEW" 10 not_revoked_everywhere "$j"
done
republished=$(dstat A redis_republished):$(dstat B redis_republished)
# From here until r1 replicates, r2 has no replica: A's writes wait, but
# Redis is reachable and A follows its stream.
reconnects=$(dstat A redis_reconnects)
wait_logged=$(grep -c 'replicas acknowledged' "$(dlog A)")
entries=$(dstat A entries)
expect_eq "A and B hold the same entries" "$entries" "$(dstat B entries)"

echo "# r1 restarted with its append-only file: a primary again, stale"
t0=$(now_ms)
node_start r1 --appendonly yes --appendfsync always
expect_eq "r1 came back with $lost" 1 "$(ncli r1 EXISTS "${P}j:0:$lost")"
expect_eq "r1 came back with canary" 1 "$(ncli r1 EXISTS "${P}j:0:canary")"
expect_within "the sentinels make r1 a replica of r2" 30 replica_of r1 r2
echo "# r1 a replica of r2 after $(ms_to_s $(( $(now_ms) - t0 ))) s"
expect_eq "the sentinels still name r2" "$NEWA" "$(sentinel_primary s2)"
# A waits for a replica by reconnecting and re-sending (README), but logs
# it once, not per attempt (README: "the outage is logged once").
echo "# A reconnected $(( $(dstat A redis_reconnects) - reconnects )) times" \
    "while r2 had no replica"
expect_range "A: the missing replica logged at most once meanwhile" 0 1 \
    $(( $(grep -c 'replicas acknowledged' "$(dlog A)") - wait_logged ))
expect_within "r1 has r2's data: $lost gone" 10 eval \
    '[ "$(ncli r1 EXISTS "${P}j:0:$lost")" = 0 ]'
expect_within "A's waiting writes confirmed now that r2 has a replica" 30 \
    redis_converged A B
expect_eq "REVOKE again3 on A: +OK again" OK "$(dcli A REVOKE again3 "$exp")"
for j in "$lost" b1 "$early" canary; do
	expect_eq "$j still lifted on A, B and r2" yes \
	    "$(not_revoked_everywhere "$j" && echo yes)"
	expect_eq "$j not on r1 either" 0 "$(ncli r1 EXISTS "${P}j:0:$j")"
done
for j in again1 again2 again3; do
	expect_within "$j revoked on A, B and r2" 10 eval \
	    '[ "$(dcli A CHECK $j | head -1)" = revoked ] &&
	     [ "$(dcli B CHECK $j | head -1)" = revoked ] &&
	     [ "$(ncli r2 EXISTS "${P}j:0:$j")" = 1 ]'
done
for n in A B; do
	expect_eq "$n: still one failover" 1 "$(dstat "$n" redis_failovers)"
	expect_eq "$n: still synced on r2" "$NEWA" "$(dstat "$n" redis_primary)"
done
expect_eq "nothing re-sent because of r1's return (redis_republished)" \
    "$republished" "$(dstat A redis_republished):$(dstat B redis_republished)"
expect_eq "A: entries (again3 added)" $((entries + 1)) "$(dstat A entries)"
expect_eq "B: entries" $((entries + 1)) "$(dstat B entries)"
expect_eq "r2: one key per entry" $((entries + 1)) "$(redis_jkeys r2)"
expect_eq "the stream on r2: each daemon's writes in order" ordered=1 \
    "$($FAILOVER streamorder "$NEWA" "${P}stream" | grep -o 'ordered=[01]')"
for n in A B; do
	daemon_stop_n "$n"
	expect_eq "$n: SIGTERM exit status" 0 $?
done
finish_n
