#!/usr/bin/env bash
# --redis-read-replica: a full reload scans the replica, not the primary
# (the primary's SCAN count does not move); a replica that lacks this
# daemon's own confirmed writes gives way to the primary, so nothing the
# daemon wrote is lost; a replica that is down does too.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/failover_lib.sh"

# scans NODE: how many SCAN commands node NODE has run.
scans() {
	ncli "$1" INFO commandstats | tr -d '\r' |
	    sed -n 's/^cmdstat_scan:calls=\([0-9]*\),.*/\1/p' | grep . || echo 0
}

# logged NAME TEXT: daemon NAME's log has TEXT.
logged() {
	grep -qF -- "$2" "$(dlog "$1")"
}

node_start p
replica_start r p
P="redis://$(naddr p)"
RR="redis://$(naddr r)"
now=$(date +%s)
exp=$((now + 3600))

daemon_start_n A --redis "$P"
expect_within "A synced" 10 synced A
expect_eq "20 REVOKEs and a BAN on A" OK \
    "$( (seq -f "REVOKE j%g $exp" 1 20; echo "BAN bob") |
    $PROBE cmds "$(dsock A)" | sort -u)"
expect_within "the replica has them" 10 \
    eval '[ "$(ncli r EXISTS revokd:b:0:bob revokd:j:0:j20)" = 2 ]'

echo "# B, empty, reloads from the replica"
before=$(scans p)
daemon_start_n B --redis "$P" --redis-read-replica "$RR"
expect_within "B synced" 10 synced B
expect_eq "B's log: loaded from the replica" 0 \
    "$(logged B "loading the full set from $RR"; echo $?)"
expect_eq "  ... and not from the primary" 1 \
    "$(logged B "loading the full set from $P"; echo $?)"
expect_eq "the primary ran no SCAN" "$before" "$(scans p)"
expect_range "the replica ran the SCANs" 1 1000000 "$(scans r)"
expect_eq "B: 20 jti entries, 1 ban" "20 1" \
    "$(dstat B entries) $(dstat B rules_ban)"
expect_eq "B: bob banned" ban "$(dcli B CHECK t SUB bob | sed -n 2p)"
expect_eq "B then follows the primary's stream" OK \
    "$(dcli A REVOKE late $exp)"
expect_within "B applied A's later write" 10 \
    eval '[ "$(dcli B CHECK late | head -1)" = revoked ]'

echo "# the replica falls behind B's own writes: the primary serves"
ncli r REPLICAOF NO ONE >/dev/null
expect_eq "REVOKE mine on B" OK "$(dcli B REVOKE mine $exp)"
expect_eq "B: UNREVOKE j1" 1 "$(dcli B UNREVOKE j1)"
daemon_stop_n B
expect_eq "B: SIGTERM exit status" 0 $?
: >"$(dlog B)"
daemon_start_n B --redis "$P" --redis-read-replica "$RR"
expect_within "B synced" 10 synced B
expect_eq "B's log: the replica lacked its writes" 0 \
    "$(logged B "the read replica has own writes up to"; echo $?)"
expect_eq "  ... and the primary served the reload" 0 \
    "$(logged B "loading the full set from $P"; echo $?)"
expect_eq "B: its own REVOKE kept" revoked "$(dcli B CHECK mine | head -1)"
expect_eq "B: its own UNREVOKE kept" not_revoked "$(dcli B CHECK j1)"

echo "# the replica down: the next reload is the primary's"
node_kill r
daemon_stop_n B
rm -rf "$(dstate B)"
: >"$(dlog B)"
daemon_start_n B --redis "$P" --redis-read-replica "$RR"
expect_within "B synced" 20 synced B
expect_eq "B's log: the replica failed" 0 "$(logged B "read replica:"; echo $?)"
expect_eq "B: reloaded from the primary" "revoked not_revoked" \
    "$(dcli B CHECK mine | head -1) $(dcli B CHECK j1)"

for n in A B; do
	daemon_stop_n "$n"
	expect_eq "$n: SIGTERM exit status" 0 $?
done
finish_n
