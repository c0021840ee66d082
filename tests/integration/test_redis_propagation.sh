#!/usr/bin/env bash
# Redis replication, propagation: two daemons on one Redis. 1000
# revocations made on A are all enforced by B; prints the latency from A's
# reply to B's first "revoked" (median, p99). Also the Redis layout (one
# key per entry with its value and expiry, one stream event per write, the
# origins hash), UNREVOKE and writes made on B travelling the other way.
. "$(dirname "$0")/lib.sh"
P=revokd:
N=1000

# stream_field ENTRY_LINE FIELD: a field of one "propagation.py stream" line.
stream_field() {
	echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# check_is NAME JTI WANT [ISS]: daemon NAME's CHECK reply, one line, is WANT.
check_is() {
	[ "$(echo "$2" | $PROBE checks "$(dsock "$1")" ${4:+"$4"})" = "$2 $3" ]
}

redis_start
daemon_start_n A --redis "$REDIS_URL"
daemon_start_n B --redis "$REDIS_URL"
expect_within "A synced" 10 synced A
expect_within "B synced" 10 synced B
exp=$(( $(date +%s) + 3600 ))

echo "# $N REVOKEs on A, one at a time, each followed by CHECKs on B in a" \
    "tight loop until it says revoked"
out=$($PROBE latency "$(dsock A)" "$(dsock B)" p $N $exp $((5 * SLOW)))
rc=$?
echo "# propagation A -> B: $out"
expect_eq "$N REVOKEs on A answered +OK, every one enforced by B" 0 $rc
# The target is p99 < 10 ms, but a loaded CI machine (or valgrind) can
# exceed that without any fault of the daemon, so the figure is printed
# above and only a p99 over 1 s (x10 under valgrind) fails: that means B
# polls or waits for something instead of tailing the stream.
p99=$(echo "$out" | sed -n 's/.*p99_ms=\([0-9]*\).*/\1/p')
expect_range "p99 propagation latency at most 1000 ms" 0 $((1000 * SLOW - 1)) \
    "${p99:-99999}"

expect_eq "Redis holds $N entry keys" $N "$(redis_keys "${P}j:*" | wc -l)"
expect_eq "the stream holds $N events" $N "$(rcli XLEN "${P}stream")"
expect_eq "entries on A" $N "$(dstat A entries)"
expect_eq "entries on B" $N "$(dstat B entries)"
expect_eq "B applied $N events from A" $N "$(dstat B redis_applied)"
expect_eq "A applied none (its own events are not applied twice)" 0 \
    "$(dstat A redis_applied)"
expect_eq "Redis entry p1: exp, empty reason" "p1 revoked jti $exp \"\"" \
    "$(echo p1 | $PROBE entries "$REDIS_SOCK" "$P")"
expect_eq "key expires at exp + grace (EXAT)" $((exp + 300)) \
    "$(rcli EXPIRETIME "${P}j:0:p1")"

# The stream events: fields o, s, op, iss, jti, exp, r.
$PROBE stream "$REDIS_SOCK" "${P}stream" >"$TMP/stream"
first=$(head -1 "$TMP/stream")
last=$(tail -1 "$TMP/stream")
echo "# first event: $first"
expect_eq "first event: op" r "$(stream_field "$first" op)"
expect_eq "first event: jti" p1 "$(stream_field "$first" jti)"
expect_eq "first event: iss" "" "$(stream_field "$first" iss)"
expect_eq "first event: exp" $exp "$(stream_field "$first" exp)"
expect_eq "last event: jti" p$N "$(stream_field "$last" jti)"
expect_eq "stream in the order of the writes" \
    "$(seq -f 'p%g' 1 $N)" \
    "$(sed 's/.* jti=\([^ ]*\).*/\1/' "$TMP/stream")"
origin=$(stream_field "$first" o)
expect_eq "one origin wrote every event" "1 $origin" \
    "$(sed 's/.* o=\([^ ]*\).*/\1/' "$TMP/stream" | sort | uniq -c |
        awk '{print $1 == '$N' ? 1 : 0, $2}')"
expect_eq "seq numbers increase" 1 \
    "$(sed 's/.* s=\([0-9]*\).*/\1/' "$TMP/stream" |
        awk 'NR > 1 && $1 <= prev {bad = 1} {prev = $1} END {print bad ? 0 : 1}')"
expect_eq "origins hash: A's last seq" "$(stream_field "$last" s)" \
    "$(rcli HGET "${P}origins" "$origin")"

# Issuer and reason travel; a reason may hold ':'.
expect_eq "REVOKE with ISS and REASON on A" OK \
    "$(dcli A REVOKE x1 $exp ISS iss REASON a:b)"
expect_within "B enforces it with the same exp and reason" 10 \
    check_is B x1 "revoked jti $exp a:b" iss
expect_eq "its key j:<isslen>:<iss><jti> exists" 1 \
    "$(rcli EXISTS "${P}j:3:issx1")"
expect_eq "its value is <exp>:<isslen>:<jtilen>:<iss><jti><reason> (README)" \
    "$exp:3:2:issx1a:b" "$(rcli GET "${P}j:3:issx1")"
expect_eq "not for the empty issuer on B" "x1 not_revoked" \
    "$(echo x1 | $PROBE checks "$(dsock B)")"

# UNREVOKE on A lifts it on B and in Redis.
expect_eq "UNREVOKE p1 on A" 1 "$(dcli A UNREVOKE p1)"
expect_within "B: p1 no longer revoked" 10 check_is B p1 not_revoked
expect_eq "p1's key is gone" 0 "$(rcli EXISTS "${P}j:0:p1")"
last=$($PROBE stream "$REDIS_SOCK" "${P}stream" | tail -1)
expect_eq "last event is the UNREVOKE" "u p1" \
    "$(stream_field "$last" op) $(stream_field "$last" jti)"

# Writes on B reach A; a later exp wins everywhere.
expect_eq "REVOKE on B" OK "$(dcli B REVOKE fromb $exp REASON b)"
expect_within "A enforces B's revocation" 10 \
    check_is A fromb "revoked jti $exp b"
expect_eq "REVOKE p2 again on B, later exp" OK \
    "$(dcli B REVOKE p2 $((exp + 100)))"
expect_within "A has p2's later exp" 10 \
    check_is A p2 "revoked jti $((exp + 100)) \"\""
expect_eq "Redis has p2's later exp" "p2 revoked jti $((exp + 100)) \"\"" \
    "$(echo p2 | $PROBE entries "$REDIS_SOCK" "$P")"
expect_eq "Redis: p2 expires at the later exp + grace" $((exp + 400)) \
    "$(rcli EXPIRETIME "${P}j:0:p2")"
expect_eq "two origins in the origins hash" 2 "$(rcli HLEN "${P}origins")"
expect_within "same entries on A and B" 10 \
    eval '[ "$(dstat A entries)" = $((N + 1)) ] && [ "$(dstat B entries)" = $((N + 1)) ]'
expect_eq "nothing pending on A" 0 "$(dstat A redis_pending)"

daemon_stop_n A
expect_eq "A: SIGTERM exit status" 0 $?
daemon_stop_n B
expect_eq "B: SIGTERM exit status" 0 $?
finish_n
