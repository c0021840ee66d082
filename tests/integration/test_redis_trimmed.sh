#!/usr/bin/env bash
# Redis replication, trimmed stream: with --stream-maxlen 10, B's place in
# the stream is trimmed away while it is cut off (1: paused and its Redis
# connections killed, so it reconnects; 2: stopped and restarted, the
# stream emptied with XTRIM MAXLEN 0). B does a full reload (STATS
# redis_reloads) and converges to A's set.
. "$(dirname "$0")/lib.sh"
P=revokd:
OPTS=(--redis "$REDIS_URL" --stream-maxlen 10)
exp=$(( $(date +%s) + 3600 ))
JTIS=($(seq -f t%g 1 20) $(seq -f u%g 1 300) $(seq -f v%g 1 200))

# writes NAME OP PREFIX FROM TO: pipeline OP PREFIX<I> on daemon NAME;
# print the distinct replies.
writes() {
	local suffix=
	if [ "$2" = REVOKE ]; then suffix=" $exp"; fi
	seq -f "$2 $3%g$suffix" "$4" "$5" | $PROBE cmds "$(dsock "$1")" |
	    sort -u | tr '\n' ' '
}

# same_set: A and B answer identically for every jti and hold as many
# entries.
same_set() {
	printf '%s\n' "${JTIS[@]}" | $PROBE checks "$(dsock A)" >"$TMP/A.dump" &&
	printf '%s\n' "${JTIS[@]}" | $PROBE checks "$(dsock B)" >"$TMP/B.dump" &&
	    cmp -s "$TMP/A.dump" "$TMP/B.dump" &&
	    [ "$(dstat A entries)" = "$(dstat B entries)" ]
}

# expect_same LABEL: poll same_set; on failure show the differences.
expect_same() {
	if wait_secs 10 same_set; then ok "$1"; else
		not_ok "$1" "A $(dstat A entries) entries, B $(dstat B entries); $(
		    diff "$TMP/A.dump" "$TMP/B.dump" | grep '^[<>]' | head -10 |
		    tr '\n' ';')"
	fi
}

redis_start
daemon_start_n A "${OPTS[@]}"
expect_within "A synced" 10 synced A
before=$(redis_client_ids)
daemon_start_n B "${OPTS[@]}"
expect_within "B synced" 10 synced B
b_ids=$(LC_ALL=C comm -13 <(echo "$before") <(redis_client_ids))
echo "# B's Redis connections: $(echo $b_ids)"
expect_eq "t1..t20 on A: +OK" "OK " "$(writes A REVOKE t 1 20)"
expect_same "B has them"

echo "# 1: B paused, its Redis connections killed; 480 writes on A"
reloads=$(dstat B redis_reloads)
kill -STOP "${DPIDS[B]}"
for id in $b_ids; do rcli CLIENT KILL ID "$id" >/dev/null; done
expect_eq "REVOKE u1..u300 on A: +OK" "OK " "$(writes A REVOKE u 1 300)"
expect_eq "UNREVOKE u1..u150 on A" "1 " "$(writes A UNREVOKE u 1 150)"
expect_eq "UNREVOKE t1..t10 on A" "1 " "$(writes A UNREVOKE t 1 10)"
len=$(rcli XLEN "${P}stream")
first=$(rcli XINFO STREAM "${P}stream" | grep -A1 -x first-entry | tail -1)
echo "# stream: $len events left of 500, first id $first"
expect_range "the stream was trimmed (MAXLEN ~ 10: whole nodes)" 0 479 "$len"
kill -CONT "${DPIDS[B]}"
expect_within "B reconnects and syncs" 20 redis_converged B
expect_range "B did a full reload (redis_reloads was $reloads)" \
    $((reloads + 1)) 1000000 "$(dstat B redis_reloads)"
expect_same "B converged to A's set"
expect_eq "A holds 160 entries" 160 "$(dstat A entries)"

echo "# 2: B stopped; 300 writes on A; the stream emptied; B restarted"
daemon_stop_n B
expect_eq "B: SIGTERM exit status" 0 $?
expect_eq "REVOKE v1..v200 on A: +OK" "OK " "$(writes A REVOKE v 1 200)"
expect_eq "UNREVOKE v1..v50 on A" "1 " "$(writes A UNREVOKE v 1 50)"
expect_eq "UNREVOKE u151..u200 on A" "1 " "$(writes A UNREVOKE u 151 200)"
rcli XTRIM "${P}stream" MAXLEN 0 >/dev/null
expect_eq "stream empty" 0 "$(rcli XLEN "${P}stream")"
daemon_start_n B "${OPTS[@]}"
expect_within "B synced after restart" 20 redis_converged B
expect_range "B did a full reload" 1 1000 "$(dstat B redis_reloads)"
expect_same "B converged to A's set"
expect_eq "A holds 260 entries" 260 "$(dstat A entries)"
expect_eq "Redis holds as many keys" 260 "$(redis_keys "${P}j:*" | wc -l)"
expect_eq "UNREVOKE t11 on B: 1" 1 "$(dcli B UNREVOKE t11)"
expect_within "A follows B after all that" 10 \
    eval '[ "$(echo t11 | $PROBE checks "$(dsock A)")" = "t11 not_revoked" ]'
for n in A B; do
	daemon_stop_n "$n"
	expect_eq "$n: SIGTERM exit status" 0 $?
done
finish_n
