#!/usr/bin/env bash
# Redis replication, expiry: entries whose exp is 2-3 s away (--exp-grace
# 0) leave the memory of both daemons, Redis (each key carries EXAT exp +
# grace) and, after a compaction (--compact-interval 1), both journals;
# a long-lived entry stays everywhere.
. "$(dirname "$0")/lib.sh"
P=revokd:
# --audit-keep 1: compactions keep a trail copy of the newest write only,
# which is longlived's.
OPTS=(--redis "$REDIS_URL" --exp-grace 0 --compact-interval 1 --audit-keep 1)

# journal_has NAME WORD: daemon NAME's snapshot or log contains WORD.
journal_has() {
	cat "$(dstate "$1")"/journal.* 2>/dev/null | grep -qa -- "$2"
}

# gone_from_journals: no "shortlived" in A's or B's journal, A's has
# "longlived".
gone_from_journals() {
	! journal_has A shortlived && ! journal_has B shortlived &&
	    journal_has A longlived
}

redis_start
daemon_start_n A "${OPTS[@]}"
daemon_start_n B "${OPTS[@]}"
expect_within "A and B synced" 10 redis_converged A B
now=$(date +%s)
# 2 and 3 s away (x SLOW: valgrind must still store them before exp).
short=$((now + 2 * SLOW))
long=$((now + 3600))
replies=$( (seq -f "REVOKE shortlived%g $short" 1 5
    echo "REVOKE shortlived6 $((now + 3 * SLOW))"
    echo "REVOKE longlived $long") | $PROBE cmds "$(dsock A)" | sort -u)
expect_eq "7 REVOKEs on A +OK" OK "$replies"
expect_eq "Redis key expires at exp + grace (0)" $short \
    "$(rcli EXPIRETIME "${P}j:0:shortlived1")"
expect_eq "long-lived key expires at its exp" $long \
    "$(rcli EXPIRETIME "${P}j:0:longlived")"
expect_within "B applied all 7" 10 stat_is B redis_applied 7
expect_eq "A stored all 7" 7 "$(dstat A revokes_total)"

echo "# waiting for exp to pass"
expect_within "A: memory holds only the long-lived entry" 20 \
    stat_is A entries 1
expect_within "B: memory holds only the long-lived entry" 20 \
    stat_is B entries 1
expect_within "Redis: only the long-lived key is left" 20 \
    eval '[ "$(redis_keys "${P}j:*")" = "${P}j:0:longlived" ]'
expect_within "journals of A and B: compacted, no short-lived jti left" 20 \
    gone_from_journals
expect_eq "A: the long-lived entry enforced" "revoked jti $long" \
    "$(dcli A CHECK longlived | head -3 | tr '\n' ' ' | sed 's/ $//')"
expect_eq "B: the long-lived entry enforced" "revoked jti $long" \
    "$(dcli B CHECK longlived | head -3 | tr '\n' ' ' | sed 's/ $//')"
expect_eq "A: shortlived1 not revoked" not_revoked \
    "$(dcli A CHECK shortlived1)"

echo "# restarts: without Redis, then with it"
daemon_stop_n A
expect_eq "A: SIGTERM exit status" 0 $?
daemon_start_n A --exp-grace 0
expect_eq "A from its journal alone: 1 entry" 1 "$(dstat A entries)"
daemon_stop_n A
daemon_start_n A "${OPTS[@]}"
expect_within "A synced" 10 synced A
expect_eq "A after a full reload: 1 entry" 1 "$(dstat A entries)"
for n in A B; do
	daemon_stop_n "$n"
	expect_eq "$n: SIGTERM exit status" 0 $?
done
finish_n
