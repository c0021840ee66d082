#!/usr/bin/env bash
# Redis replication through Sentinel, sentinels late: daemon A starts with
# a sentinel:// URL while no sentinel and no Redis runs; it serves from its
# journal after --redis-wait (degraded, no primary) and answers writes
# +PENDING. Then the sentinels start (password-protected, the first one in
# the URL stays down) but the primary does not: A finds a sentinel and
# still waits. Then the primary starts: A connects, syncs, and its pending
# writes reach Redis in order. A daemon with the wrong sentinel password
# stays degraded and says why.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/failover_lib.sh"
PW=sentinel-s3cret

# writes NAME FROM TO: pipeline REVOKE lI for I in FROM..TO on daemon
# NAME, print the replies counted ("20 PENDING").
writes() {
	seq -f "REVOKE l%g $exp" "$2" "$3" | $PROBE cmds "$(dsock "$1")" |
	    sort | uniq -c | awk '{$1 = $1; print}'
}

# subscribed SENTINEL...: a client (a daemon) holds a subscription on one
# of these sentinels.
subscribed() {
	local s
	for s in "$@"; do
		ncli "$s" CLIENT LIST 2>/dev/null | grep -q -E ' p?sub=[1-9]' &&
		    return 0
	done
	return 1
}

# stream_jtis NAME: the jti of every event in node NAME's stream, in order.
stream_jtis() {
	ncli "$1" XRANGE "${P}stream" - + | grep -x -A1 jti | grep -v -x -e jti -e --
}

# Every port is picked now: the URL names them before anything listens.
for n in r1 s1 s2 s3; do NODE_PORTS[$n]=$(free_port); done
for n in s1 s2 s3; do NODE_AUTH[$n]=$PW; done
printf '%s\n' "$PW" >"$TMP/sentinel.pass"
printf 'wrong\n' >"$TMP/wrong.pass"
URL=$(sentinel_url s1 s2 s3)
exp=$(( $(date +%s) + 3600 ))

echo "# A starts: no sentinel, no Redis"
daemon_start_n A --redis "$URL" --sentinel-password-file "$TMP/sentinel.pass" \
    --redis-wait 1
expect_within "A serves from its journal after --redis-wait" 10 serving A
expect_eq "A: redis_state degraded" degraded "$(dstat A redis_state)"
expect_eq "A: redis_primary empty" "" "$(dstat A redis_primary)"
expect_eq "REVOKE l1..l20 on A: +PENDING" "20 PENDING" "$(writes A 1 20)"
expect_eq "A: redis_pending 20" 20 "$(dstat A redis_pending)"
expect_eq "A enforces them" 20 "$($RAWC "$(dsock A)" count l 20)"

echo "# sentinels s2 and s3 start (s1, first in the URL, stays down); no primary"
for s in s2 s3; do sentinel_start "$s" r1 "requirepass $PW" \
    "sentinel sentinel-pass $PW"; done
expect_within "A subscribes on s2 or s3 (it asked past s1)" 20 subscribed s2 s3
expect_eq "A: still degraded (the primary is down)" degraded \
    "$(dstat A redis_state)"
expect_eq "A: still 20 pending" 20 "$(dstat A redis_pending)"

echo "# the primary r1 starts"
node_start r1
expect_within "A converges: synced, nothing pending" 20 redis_converged A
expect_eq "A: redis_primary is r1" "$(naddr r1)" "$(dstat A redis_primary)"
expect_eq "A: redis_failovers 0 (first contact is no failover)" 0 \
    "$(dstat A redis_failovers)"
expect_eq "A's pending writes reached r1" \
    "$(seq -f "${P}j:0:l%g" 1 20 | LC_ALL=C sort)" \
    "$(ncli r1 --scan --pattern "${P}j:*" | LC_ALL=C sort)"
expect_eq "in the order they were made" "$(seq -f 'l%g' 1 20)" \
    "$(stream_jtis r1)"
expect_eq "REVOKE l21 on A: +OK now" "1 OK" "$(writes A 21 21)"
if grep -q -F "$PW" "$(dlog A)"; then not_ok "the password is not logged" \
    "$(grep -F "$PW" "$(dlog A)")"; else ok "the password is not logged"; fi

echo "# s1 starts too; B starts with every sentinel up"
sentinel_start s1 r1 "requirepass $PW" "sentinel sentinel-pass $PW"
daemon_start_n B --redis "$URL" --sentinel-password-file "$TMP/sentinel.pass"
expect_within "B synced on r1" 10 primary_is B "$(naddr r1)"
expect_eq "B has all 21" 21 "$($RAWC "$(dsock B)" count l 21)"
expect_eq "REVOKE l22 on B: +OK" "1 OK" "$(writes B 22 22)"
expect_within "A enforces B's write" 10 eval \
    '[ "$($RAWC "$(dsock A)" count l 22)" = 22 ]'

echo "# D with the wrong sentinel password"
daemon_start_n D --redis "$URL" --sentinel-password-file "$TMP/wrong.pass" \
    --redis-wait 1
expect_within "D serves degraded after --redis-wait" 10 \
    stat_is D redis_state degraded
expect_eq "D: redis_primary empty" "" "$(dstat D redis_primary)"
# Redis's own words (WRONGPASS invalid username-password pair), as for a
# wrong --redis-password-file (test_redis_config.sh), not the NOAUTH of
# the command after the refused AUTH, which reads as if none was sent.
if grep -q -e WRONGPASS -e 'invalid username-password' "$(dlog D)"; then
	ok "D logs the sentinels' refusal"
else
	not_ok "D logs the sentinels' refusal" "$(tail -5 "$(dlog D)")"
fi
expect_eq "REVOKE on D: +PENDING" PENDING "$(dcli D REVOKE d1 "$exp")"
expect_eq "nothing of D's reached r1" 0 "$(ncli r1 EXISTS "${P}j:0:d1")"
for n in A B D; do
	daemon_stop_n "$n"
	expect_eq "$n: SIGTERM exit status" 0 $?
done
finish_n
