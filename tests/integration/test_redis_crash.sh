#!/usr/bin/env bash
# Redis replication, crash: kill -9 of a daemon right after 1000
# acknowledged REVOKEs; restarted without Redis, its journal alone holds all
# 1000. A journal whose last record is cut in half still loads (that record
# dropped, logged as torn). Restarted with Redis down, then up: it serves
# from the journal, then syncs.
. "$(dirname "$0")/lib.sh"
P=revokd:
N=1000

redis_start
daemon_start_n A --redis "$REDIS_URL"
expect_within "A synced" 10 synced A
exp=$(( $(date +%s) + 3600 ))

echo "# $N pipelined REVOKEs on A, then kill -9"
seq -f "REVOKE k%g $exp" 1 $N | $PROBE cmds "$(dsock A)" | sort | uniq -c \
    >"$TMP/replies"
expect_eq "$N REVOKEs answered +OK" "$N OK" "$(awk '{print $1, $2}' "$TMP/replies")"
# +OK means committed to Redis too: no waiting here.
expect_eq "Redis holds the $N keys at once" $N "$(redis_keys "${P}j:*" | wc -l)"
daemon_kill9 A

echo "# restart A without --redis"
daemon_start_n A
expect_eq "after kill -9, without Redis: all $N present" $N \
    "$($RAWC "$(dsock A)" count k $N)"
expect_eq "entries" $N "$(dstat A entries)"
expect_eq "redis_state off" off "$(dstat A redis_state)"

echo "# one more write, kill -9, its record cut in half"
expect_eq "REVOKE last (no Redis)" OK "$(dcli A REVOKE last $exp)"
daemon_kill9 A
log=$(dstate A)/journal.log
size=$(stat -c %s "$log")
truncate -s $((size - 7)) "$log"
daemon_start_n A
expect_eq "torn tail: the daemon starts and all $N load" $N \
    "$($RAWC "$(dsock A)" count k $N)"
expect_eq "torn tail: the cut record (REVOKE last) is dropped" \
    "last not_revoked" "$(echo last | $PROBE checks "$(dsock A)")"
expect_eq "torn tail: logged" yes \
    "$(grep -q torn "$(dlog A)" && echo yes)"
daemon_kill9 A

echo "# restart A with --redis while Redis is down, then start Redis"
redis_stop
daemon_start_n A --redis "$REDIS_URL" --redis-wait 1
expect_within "A serves from its journal after --redis-wait" 10 serving A
expect_eq "A: all $N present" $N "$($RAWC "$(dsock A)" count k $N)"
expect_eq "A is degraded" degraded "$(dstat A redis_state)"
redis_start
expect_within "A synced once Redis is back" 20 redis_converged A
expect_eq "Redis still holds the $N keys (append-only file)" $N \
    "$(redis_keys "${P}j:*" | wc -l)"
expect_eq "A: all $N present" $N "$($RAWC "$(dsock A)" count k $N)"
expect_eq "A: entries" $N "$(dstat A entries)"
daemon_stop_n A
expect_eq "A: SIGTERM exit status" 0 $?
finish_n
