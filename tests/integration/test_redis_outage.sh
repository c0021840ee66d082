#!/usr/bin/env bash
# Redis replication, outage: with Redis stopped, writes on A are accepted
# with +PENDING and enforced locally; once Redis is back every one of them
# reaches Redis and daemon B, in the stream in the order they were made,
# and replies are +OK again. A second outage (Redis killed) with A itself
# killed -9 meanwhile: its pending writes come back from its journal.
# Daemon S, with --max-staleness 1, answers CHECK with -STALE during the
# outage and verdicts again after it.
. "$(dirname "$0")/lib.sh"
P=revokd:

# writes NAME OP FROM TO: pipeline "OP oI ..." for I in FROM..TO on daemon
# NAME, print the replies counted ("50 PENDING").
writes() {
	local i
	for i in $(seq "$3" "$4"); do
		if [ "$2" = REVOKE ]; then echo "REVOKE o$i $exp"; else
			echo "UNREVOKE o$i"; fi
	done | $PROBE cmds "$(dsock "$1")" | sort | uniq -c | awk '{$1 = $1; print}'
}

# stream_ops: "op jti" of every event in the stream, in stream order.
stream_ops() {
	$PROBE stream "$REDIS_SOCK" "${P}stream" |
	    sed 's/.* op=\([^ ]*\).* jti=\([^ ]*\).*/\1 \2/'
}

redis_start
daemon_start_n A --redis "$REDIS_URL"
daemon_start_n B --redis "$REDIS_URL"
daemon_start_n S --redis "$REDIS_URL" --max-staleness 1
expect_within "A, B and S synced" 10 redis_converged A B S
exp=$(( $(date +%s) + 3600 ))

expect_eq "before the outage: 10 REVOKEs +OK" "10 OK" "$(writes A REVOKE 1 10)"
expect_within "B has them" 10 eval \
    '[ "$($RAWC "$(dsock B)" count o 10)" = 10 ]'

echo "# Redis stopped"
redis_stop
expect_within "A notices: redis_state degraded" 10 \
    stat_is A redis_state degraded
expect_eq "during the outage: 50 REVOKEs +PENDING" "50 PENDING" \
    "$(writes A REVOKE 11 60)"
expect_eq "during the outage: UNREVOKE o5 +PENDING" "1 PENDING" \
    "$(writes A UNREVOKE 5 5)"
expect_eq "A enforces them locally" 59 "$($RAWC "$(dsock A)" count o 60)"
expect_eq "A: o5 lifted locally" "o5 not_revoked" \
    "$(echo o5 | $PROBE checks "$(dsock A)")"
expect_eq "A: redis_pending counts them" 51 "$(dstat A redis_pending)"
expect_eq "A: still degraded" degraded "$(dstat A redis_state)"
expect_eq "B: keeps serving what it had" 10 "$($RAWC "$(dsock B)" count o 10)"
expect_within "S (--max-staleness 1): CHECK answers -STALE" 10 eval \
    '[ "$(echo o1 | $PROBE checks "$(dsock S)" | cut -d" " -f2)" = -STALE ]'
expect_range "S: redis_staleness_ms over 1000" 1000 100000000 \
    "$(dstat S redis_staleness_ms)"

echo "# Redis restarted"
redis_start
expect_within "A and B converge (synced, nothing pending)" 20 \
    redis_converged A B
expect_eq "Redis holds every key" \
    "$(seq -f "${P}j:0:o%g" 1 60 | grep -vx "${P}j:0:o5" | LC_ALL=C sort)" \
    "$(redis_keys "${P}j:*")"
expect_within "B has every revocation" 10 eval \
    '[ "$($RAWC "$(dsock B)" count o 60)" = 59 ]'
expect_eq "B: o5 lifted" "o5 not_revoked" \
    "$(echo o5 | $PROBE checks "$(dsock B)")"
expect_within "S: answers verdicts again, o5 lifted" 10 eval \
    '[ "$(echo o5 | $PROBE checks "$(dsock S)")" = "o5 not_revoked" ]'
expect_eq "after the outage: 10 REVOKEs +OK again" "10 OK" \
    "$(writes A REVOKE 61 70)"
expect_eq "the stream holds A's writes in the order they were made" \
    "$( (seq -f 'r o%g' 1 60; echo u o5; seq -f 'r o%g' 61 70) )" \
    "$(stream_ops)"
expect_eq "A: redis_pending 0" 0 "$(dstat A redis_pending)"

echo "# Redis killed; A writes, is killed -9, restarts; then Redis returns"
redis_kill
expect_within "A notices: degraded" 10 stat_is A redis_state degraded
expect_eq "REVOKE o71..o75 +PENDING" "5 PENDING" "$(writes A REVOKE 71 75)"
expect_eq "UNREVOKE o61 +PENDING" "1 PENDING" "$(writes A UNREVOKE 61 61)"
daemon_kill9 A
daemon_start_n A --redis "$REDIS_URL" --redis-wait 1
expect_within "A serves from its journal" 10 serving A
expect_eq "A: all 73 revocations present, o71..o75 included" 73 \
    "$($RAWC "$(dsock A)" count o 75)"
expect_eq "A: o61 still lifted" "o61 not_revoked" \
    "$(echo o61 | $PROBE checks "$(dsock A)")"
# Until Redis answers, A cannot know which of its journal's writes Redis
# confirmed before the kill: it may count (and re-send) all of them.
pending=$(dstat A redis_pending)
echo "# A's redis_pending after the restart: $pending"
expect_range "A: its 6 unconfirmed writes are pending" 6 77 "$pending"
redis_start
expect_within "A, B and S converge" 20 redis_converged A B S
expect_eq "the stream has them after the rest, in order" \
    "$( (seq -f 'r o%g' 1 60; echo u o5; seq -f 'r o%g' 61 75; echo u o61) )" \
    "$(stream_ops)"
expect_within "B has o71..o75 and not o61" 10 eval \
    '[ "$($RAWC "$(dsock B)" count o 75)" = 73 ]'
expect_eq "Redis holds the same set" 73 "$(redis_keys "${P}j:*" | wc -l)"
for n in A B S; do
	expect_eq "$n: entries" 73 "$(dstat "$n" entries)"
	daemon_stop_n "$n"
	expect_eq "$n: SIGTERM exit status" 0 $?
done
finish_n
