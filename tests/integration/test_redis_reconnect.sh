#!/usr/bin/env bash
# Redis replication, reconnect: three daemons A, B, C. C loses Redis
# (1: its connections are killed and its Redis socket path, a symlink,
# removed, so it reconnects and catches up from its stream position;
# 2: it is stopped and restarted) while A and B revoke and unrevoke, C
# itself writing with +PENDING in 1. Afterwards A, B and C answer CHECK
# identically for every jti used, hold the same number of entries, and
# Redis's keys and values match, all equal to what the writes imply
# (events applied in stream order).
. "$(dirname "$0")/lib.sh"
P=revokd:
exp1=$(( $(date +%s) + 3600 ))
exp2=$((exp1 + 3600))
C_LINK=$TMP/c-redis.sock

declare -A MODEL=()	# jti -> "exp reason" while revoked
JTIS=($(seq -f m%g 1 20) $(seq -f a%g 1 30) $(seq -f b%g 1 30)
    $(seq -f c%g 1 5) $(seq -f d%g 1 10))

# rev NAME WANT EXP REASON JTI...: REVOKE every JTI on daemon NAME
# (pipelined); each reply must be WANT. Update the model: the later exp
# stays, the new reason is taken.
rev() {
	local name=$1 want=$2 e=$3 r=$4 j got
	shift 4
	got=$(for j in "$@"; do echo "REVOKE $j $e REASON $r"; done |
	    $PROBE cmds "$(dsock "$name")" | sort -u | tr '\n' ' ')
	expect_eq "$name: REVOKE $1..${!#} reason $r: $want" "$want " "$got"
	for j in "$@"; do
		if [ -n "${MODEL[$j]:-}" ] && [ "${MODEL[$j]%% *}" -gt "$e" ]
		then
			MODEL[$j]="${MODEL[$j]%% *} $r"
		else
			MODEL[$j]="$e $r"
		fi
	done
}

# unrev NAME WANT JTI...: UNREVOKE every JTI on daemon NAME; each reply
# must be WANT. Update the model.
unrev() {
	local name=$1 want=$2 j got
	shift 2
	got=$(for j in "$@"; do echo "UNREVOKE $j"; done |
	    $PROBE cmds "$(dsock "$name")" | sort -u | tr '\n' ' ')
	expect_eq "$name: UNREVOKE $1..${!#}: $want" "$want " "$got"
	for j in "$@"; do unset "MODEL[$j]"; done
}

# model_dump: the CHECK answer the model implies for every jti.
model_dump() {
	local j
	for j in "${JTIS[@]}"; do
		if [ -n "${MODEL[$j]:-}" ]; then
			echo "$j revoked jti ${MODEL[$j]}"
		else
			echo "$j not_revoked"
		fi
	done
}

# dump NAME: daemon NAME's CHECK answer for every jti.
dump() {
	printf '%s\n' "${JTIS[@]}" | $PROBE checks "$(dsock "$1")"
}

# redis_dump: the same form, from the values of Redis's entry keys.
redis_dump() {
	printf '%s\n' "${JTIS[@]}" | $PROBE entries "$REDIS_SOCK" "$P"
}

# agree NAME...: every named daemon answers as the model says.
agree() {
	local n
	model_dump >"$TMP/model"
	for n; do
		dump "$n" >"$TMP/dump.$n" 2>&1 &&
		    cmp -s "$TMP/model" "$TMP/dump.$n" || return 1
	done
}

# expect_agree LABEL NAME...: poll agree; on failure show the differences.
expect_agree() {
	local label=$1 n
	shift
	if wait_secs 10 agree "$@"; then ok "$label"; return; fi
	for n; do
		dump "$n" >"$TMP/dump.$n" 2>&1
		cmp -s "$TMP/model" "$TMP/dump.$n" ||
		    not_ok "$label" "$n differs from the model (< model, > $n): $(
		        diff "$TMP/model" "$TMP/dump.$n" | grep '^[<>]' |
		        head -20 | tr '\n' ';')"
	done
}

# expect_all_agree LABEL: A, B, C and Redis agree with the model and with
# each other, and hold the same number of entries.
expect_all_agree() {
	local n count=${#MODEL[@]}
	expect_agree "$1: A, B and C answer as the writes imply" A B C
	expect_eq "$1: A, B and C answer identically" 1 "$(
	    dump A >"$TMP/same.A"; dump B >"$TMP/same.B"; dump C >"$TMP/same.C"
	    cmp -s "$TMP/same.A" "$TMP/same.B" &&
	    cmp -s "$TMP/same.A" "$TMP/same.C" && echo 1)"
	for n in A B C; do
		expect_eq "$1: $n holds $count entries" $count "$(dstat "$n" entries)"
	done
	expect_eq "$1: Redis's values match" "$(model_dump)" "$(redis_dump)"
	expect_eq "$1: Redis has no other entry keys" $count \
	    "$(redis_keys "${P}j:*" | wc -l)"
}

redis_start
daemon_start_n A --redis "$REDIS_URL"
daemon_start_n B --redis "$REDIS_URL"
expect_within "A and B synced" 10 redis_converged A B
ln -s "$REDIS_SOCK" "$C_LINK"
before=$(redis_client_ids)
daemon_start_n C --redis "unix:$C_LINK"
expect_within "C synced (through a symlink to Redis's socket)" 10 synced C
c_ids=$(LC_ALL=C comm -13 <(echo "$before") <(redis_client_ids))
echo "# C's Redis connections: $(echo $c_ids)"
expect_eq "C has Redis connections of its own" 1 \
    "$([ -n "$c_ids" ] && echo 1)"

rev A OK $exp1 A0 $(seq -f m%g 1 20)
expect_agree "m1..m20 reached B and C" B C

echo "# 1: C cut off from Redis: socket link removed, connections killed"
rm "$C_LINK"
for id in $c_ids; do rcli CLIENT KILL ID "$id" >/dev/null; done
expect_within "C notices: degraded" 10 stat_is C redis_state degraded
reloads=$(dstat C redis_reloads)
reconnects=$(dstat C redis_reconnects)

rev A OK $exp1 A $(seq -f a%g 1 30)
rev B OK $exp1 B $(seq -f b%g 1 30)
expect_agree "A and B agree" A B
unrev A 1 $(seq -f a%g 1 10)
unrev B 1 $(seq -f a%g 11 15)
unrev A 1 $(seq -f b%g 1 5)
expect_agree "own and the other's UNREVOKEs: A and B agree" A B
rev B OK $exp2 B2 a1
rev A OK $exp2 A2 b10
unrev A 1 $(seq -f m%g 1 5)
rev B OK $exp1 B2 m20
expect_agree "re-revoked, later exp, new reason: A and B agree" A B
# C, offline, writes too: new entries, and two that A and B changed
# meanwhile (its writes reach the stream after theirs, so they win).
rev C PENDING $exp1 C $(seq -f c%g 1 5) b20
unrev C PENDING m20
expect_eq "C: redis_pending 7" 7 "$(dstat C redis_pending)"

echo "# C's link to Redis restored"
ln -s "$REDIS_SOCK" "$C_LINK"
expect_within "C converges: synced, nothing pending" 20 redis_converged C
expect_eq "C caught up from its stream position: no full reload" \
    "$reloads" "$(dstat C redis_reloads)"
expect_range "C counted a reconnect (redis_reconnects was $reconnects)" \
    $((reconnects + 1)) 1000000 "$(dstat C redis_reconnects)"
expect_all_agree "after reconnect"

echo "# 2: C stopped; A and B keep writing; C restarted"
daemon_stop_n C
expect_eq "C: SIGTERM exit status" 0 $?
rev A OK $exp1 A $(seq -f d%g 1 10)
expect_agree "A and B agree" A B
unrev B 1 $(seq -f d%g 1 3)
unrev B 1 $(seq -f b%g 6 9)
rev A OK $exp2 A3 c1
unrev A 1 c2
rev B OK $exp1 B3 m1
expect_agree "A and B agree" A B
daemon_start_n C --redis "unix:$C_LINK"
expect_within "C synced after restart" 10 redis_converged C
expect_all_agree "after restart"
for n in A B C; do
	daemon_stop_n "$n"
	expect_eq "$n: SIGTERM exit status" 0 $?
done
finish_n
