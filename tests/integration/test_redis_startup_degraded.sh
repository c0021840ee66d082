#!/usr/bin/env bash
# Redis replication, start-up with Redis down: A answers -LOADING during
# --redis-wait, then serves from its journal (degraded), accepting writes
# with +PENDING, also across a restart; once Redis starts, A converges and
# every write it made without Redis reaches Redis and another daemon.
. "$(dirname "$0")/lib.sh"
P=revokd:
WAIT=3

# writes NAME FROM TO: pipeline REVOKE sI for I in FROM..TO on daemon NAME,
# print the replies counted ("20 PENDING").
writes() {
	seq -f "REVOKE s%g $exp" "$2" "$3" | $PROBE cmds "$(dsock "$1")" |
	    sort | uniq -c | awk '{$1 = $1; print}'
}

# start_degraded: start A with Redis down; check -LOADING first, then
# serving after the wait.
start_degraded() {
	local t0 first elapsed
	t0=$(date +%s%N)
	daemon_start_n A --redis "$REDIS_URL" --redis-wait $WAIT
	first=$(printf 'CHECK s1\nREVOKE early %s\nUNREVOKE s1\n' "$exp" |
	    $PROBE cmds "$(dsock A)" | cut -d' ' -f1 | tr '\n' ' ')
	echo "# replies right after start: $first"
	# Observable unless start-up itself took most of the wait (valgrind).
	if [ "$SLOW" = 1 ]; then
		expect_eq "during --redis-wait: CHECK, REVOKE, UNREVOKE answer -LOADING" \
		    "-LOADING -LOADING -LOADING " "$first"
	fi
	expect_within "serves after --redis-wait ($WAIT s)" $((WAIT + 10)) \
	    serving A
	elapsed=$(( ($(date +%s%N) - t0) / 1000000 ))
	echo "# serving ${elapsed} ms after start"
	expect_range "did not serve long before the wait was over" \
	    $((WAIT * 1000 - 500)) 1000000 $elapsed
	expect_eq "redis_state degraded" degraded "$(dstat A redis_state)"
}

exp=$(( $(date +%s) + 3600 ))
echo "# A starts, Redis down"
start_degraded
expect_eq "REVOKE s1..s20 +PENDING" "20 PENDING" "$(writes A 1 20)"
expect_eq "redis_pending 20" 20 "$(dstat A redis_pending)"
daemon_stop_n A
expect_eq "A: SIGTERM exit status" 0 $?

echo "# A restarts, Redis still down"
start_degraded
expect_eq "served from the journal: s1..s20" 20 \
    "$($RAWC "$(dsock A)" count s 20)"
expect_eq "the early REVOKE was refused" "early not_revoked" \
    "$(echo early | $PROBE checks "$(dsock A)")"
expect_eq "redis_pending still 20 (nothing reached Redis)" 20 \
    "$(dstat A redis_pending)"
expect_eq "REVOKE s21..s30 +PENDING" "10 PENDING" "$(writes A 21 30)"
expect_eq "redis_pending 30" 30 "$(dstat A redis_pending)"

echo "# Redis starts"
redis_start
expect_within "A converges: synced, nothing pending" 20 redis_converged A
expect_eq "its journal-only writes reached Redis" \
    "$(seq -f "${P}j:0:s%g" 1 30 | LC_ALL=C sort)" "$(redis_keys "${P}j:*")"
expect_eq "in the order they were made" "$(seq -f 's%g' 1 30)" \
    "$($PROBE stream "$REDIS_SOCK" "${P}stream" |
        sed 's/.* jti=\([^ ]*\).*/\1/')"
expect_eq "writes answer +OK now" "1 OK" "$(writes A 31 31)"
expect_range "redis_reloads counted" 1 1000000 "$(dstat A redis_reloads)"
daemon_start_n B --redis "$REDIS_URL"
expect_within "B synced" 10 synced B
expect_eq "B has all 31" 31 "$($RAWC "$(dsock B)" count s 31)"
for n in A B; do
	daemon_stop_n "$n"
	expect_eq "$n: SIGTERM exit status" 0 $?
done
finish_n
