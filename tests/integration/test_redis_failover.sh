#!/usr/bin/env bash
# Redis replication, Sentinel failover: a primary with two replicas and
# three sentinels; daemon A (--redis-replicas 1) and daemon B (no replica
# needed) find the primary through the sentinels. Both write continuously;
# replication is cut (so the primary acknowledges writes no replica has)
# and the primary is killed -9. The sentinels promote a replica; both
# daemons follow it, CHECK answers right throughout, B re-sends the +OK
# writes the dead primary took with it, and every acknowledged write ends
# up on the new primary and in both daemons. Prints the failover figures.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/failover_lib.sh"

node_start r1
replica_start r2 r1
replica_start r3 r1
for s in s1 s2 s3; do sentinel_start "$s" r1; done
expect_within "the sentinels know each other and both replicas" 20 \
    sentinels_ready 2 s1 s2 s3
URL=$(sentinel_url s1 s2 s3)
echo "# --redis $URL"
daemon_start_n A --redis "$URL" --redis-replicas 1
daemon_start_n B --redis "$URL"
expect_within "A synced" 10 synced A
expect_within "B synced" 10 synced B
expect_eq "A: redis_primary is r1" "$(naddr r1)" "$(dstat A redis_primary)"
expect_eq "B: redis_primary is r1" "$(naddr r1)" "$(dstat B redis_primary)"
expect_eq "A: redis_failovers 0" 0 "$(dstat A redis_failovers)"
expect_eq "A: redis_republished 0" 0 "$(dstat A redis_republished)"

A_OK_AFTER=1 failover_run r1
for r in r2 r3; do
	[ "$r" = "$NEW" ] && continue
	expect_within "the other replica $r follows $NEW" 20 replica_of "$r" "$NEW"
done

echo "# a daemon started now finds the new primary"
daemon_start_n C --redis "$URL"
expect_within "C synced on $NEW" 10 primary_is C "$(naddr "$NEW")"
expect_eq "C has every entry" "$(dstat A entries)" "$(dstat C entries)"
expect_eq "C: redis_failovers 0 (it never moved)" 0 "$(dstat C redis_failovers)"
expect_eq "REVOKE on A: +OK" OK "$(dcli A REVOKE last "$exp")"
expect_within "B and C enforce it" 10 eval \
    '[ "$(dcli B CHECK last | head -1)" = revoked ] &&
     [ "$(dcli C CHECK last | head -1)" = revoked ]'
for n in A B C; do
	daemon_stop_n "$n"
	expect_eq "$n: SIGTERM exit status" 0 $?
done
finish_n
