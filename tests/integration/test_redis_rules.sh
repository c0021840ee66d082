#!/usr/bin/env bash
# Redis replication of the rules besides jti revocations: every kind made
# on A is enforced by B, an UNBAN on B lifts the ban on A; the Redis
# layout (one key per rule, P K:<isslen>:<iss><id>, expiring at its end +
# grace, + lifetime for not-before rules; the change and audit streams);
# expiry from Redis; B restarted with an empty state directory reloads
# every kind from Redis (CHECK and LIST); the audit trail carries the
# writer (uid, pid, comm) and the accepting host to the other daemon.
# A runs in a UTS namespace of its own under another host name (when
# unshare works), so that the host field tells the daemons apart.
. "$(dirname "$0")/lib.sh"
P=revokd:
HOST_B=$(hostname)

# reply_is NAME WANT ARGS...: daemon NAME answers ARGS with WANT.
reply_is() {
	local n=$1 want=$2
	shift 2
	[ "$(q "$n" "$@")" = "$want" ]
}

# rec_field RECORD NAME: one field of an "audit" line (values without
# spaces).
rec_field() {
	echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# stream_field ENTRY_LINE FIELD: a field of one "propagation.py stream" line.
stream_field() {
	echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# xrev_field KEY FIELD: FIELD of the newest entry of stream KEY.
xrev_field() {
	rcli XREVRANGE "$1" + - COUNT 1 | tail -n +2 | paste - - |
	    awk -F'\t' -v f="$2" '$1 == f {print $2}'
}

# A's revokd: a wrapper that runs it in a UTS namespace named HOST_A
# (pid kept: unshare and sh exec). Under valgrind the wrapper runs
# valgrind itself (lib.sh's valgrind does not follow the exec).
HOST_A=$HOST_B
ABIN=$TMP/abin
mkdir -p "$ABIN"
ln -s "$BIN/revokectl" "$ABIN/revokectl"
if unshare --uts /bin/sh -c 'hostname revokd-test-a' 2>/dev/null; then
	HOST_A=revokd-test-a
	vg=
	if [ "${REVOKD_VALGRIND:-0}" = 1 ]; then
		vg="valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 --log-file=$TMP/valgrind.%p.log"
	fi
	cat >"$ABIN/revokd" <<EOF
#!/bin/sh
exec unshare --uts /bin/sh -c 'hostname "\$0" && exec "\$@"' $HOST_A $vg "$BIN/revokd" "\$@"
EOF
else
	echo "# unshare --uts failed: A and B share the host name $HOST_B"
	ln -s "$BIN/revokd" "$ABIN/revokd"
fi
chmod 755 "$ABIN"/revokd 2>/dev/null
# Under valgrind lib.sh also runs the wrapper's /bin/sh under valgrind
# (until its exec): tolerated, it leaves at most an empty log.

redis_start
BIN=$ABIN daemon_start_n A --redis "$REDIS_URL"
daemon_start_n B --redis "$REDIS_URL"
expect_within "A and B synced" 10 redis_converged A B
now=$(date +%s)
exp=$((now + 3600))
sexp=$((now + 600))

echo "# one rule of each kind on A"
w=$($RULES pidcmd "$(dsock A)" REVOKESUB alice ISS idp BEFORE $((now - 10)) \
    REASON 'rs x')
wpid=${w%% *}
expect_eq "REVOKESUB alice" OK "${w#* }"
expect_eq "REVOKE, BAN bob, BAN carol UNTIL, REVOKESID, REVOKEALL" \
    "OK OK OK OK OK" "$(echo "$(q A REVOKE j1 $exp ISS idp REASON rj)" \
    "$(q A BAN bob ISS idp REASON rb)" "$(q A BAN carol UNTIL $exp REASON rc)" \
    "$(q A REVOKESID s1 $sexp ISS idp REASON rd)" \
    "$(q A REVOKEALL ISS idp BEFORE $((now - 20)) REASON ri)")"

# verdicts NAME: CHECK of every rule (and its boundary) on daemon NAME.
verdicts() {
	q "$1" CHECK j1 ISS idp
	q "$1" CHECK t ISS idp SUB alice IAT $((now - 10))
	q "$1" CHECK t ISS idp SUB alice IAT $((now - 9))
	q "$1" CHECK t ISS idp SUB bob IAT $now
	q "$1" CHECK t SUB carol
	q "$1" CHECK t ISS idp SID s1 IAT $now
	q "$1" CHECK t ISS idp IAT $((now - 20))
	q "$1" CHECK t ISS idp IAT $((now - 19))
}
want="revoked jti $exp rj
revoked sub $((now - 10)) rs x
not_revoked
revoked ban 0 rb
revoked ban $exp rc
revoked sid $sexp rd
revoked iss $((now - 20)) ri
not_revoked"
expect_eq "A enforces them" "$want" "$(verdicts A)"
expect_within "B applied the 6 writes" 10 stat_is B redis_applied 6
expect_eq "B enforces them alike (rule, time, reason)" "$want" "$(verdicts B)"
expect_eq "B: entries rules_sub rules_ban rules_sid rules_iss" "1 1 2 1 1" \
    "$(for f in entries rules_sub rules_ban rules_sid rules_iss; do
    dstat B $f; done | tr '\n' ' ' | sed 's/ $//')"

echo "# the Redis layout"
expect_eq "one key per rule" "${P}b:0:carol
${P}b:3:idpbob
${P}d:3:idps1
${P}i:3:idp
${P}j:3:idpj1
${P}s:3:idpalice" "$(redis_keys "${P}[jsbdi]:*")"
expect_eq "s: expires at before + lifetime + grace" \
    $((now - 10 + 86400 + 300)) "$(rcli EXPIRETIME "${P}s:3:idpalice")"
expect_eq "i: expires at before + lifetime + grace" \
    $((now - 20 + 86400 + 300)) "$(rcli EXPIRETIME "${P}i:3:idp")"
expect_eq "b without UNTIL: expires at UINT32_MAX + grace" 4294967595 \
    "$(rcli EXPIRETIME "${P}b:3:idpbob")"
expect_eq "b with UNTIL: expires at until + grace" $((exp + 300)) \
    "$(rcli EXPIRETIME "${P}b:0:carol")"
expect_eq "d: expires at exp + grace" $((sexp + 300)) \
    "$(rcli EXPIRETIME "${P}d:3:idps1")"
expect_eq "j: expires at exp + grace" $((exp + 300)) \
    "$(rcli EXPIRETIME "${P}j:3:idpj1")"
expect_eq "s value: <time>:<isslen>:<idlen>:<iss><id><reason>" \
    "$((now - 10)):3:5:idpalicers x" "$(rcli GET "${P}s:3:idpalice")"
expect_eq "b value without UNTIL" "4294967295:3:3:idpbobrb" \
    "$(rcli GET "${P}b:3:idpbob")"
expect_eq "i value (id empty)" "$((now - 20)):3:0:idpri" \
    "$(rcli GET "${P}i:3:idp")"
$PROBE stream "$REDIS_SOCK" "${P}stream" >"$TMP/stream"
expect_eq "change stream: ops of the 6 writes" "s r b b d a" \
    "$(while read -r l; do stream_field "$l" op; done <"$TMP/stream" |
    tr '\n' ' ' | sed 's/ $//')"
first=$(head -1 "$TMP/stream")
expect_eq "the REVOKESUB event: id, time, audit fields" \
    "alice $((now - 10)) $ME_UID $ME_GID $wpid python3 $HOST_A" \
    "$(for f in jti exp uid gid pid comm host; do
    printf '%s ' "$(stream_field "$first" $f)"; done | sed 's/ $//')"
expect_eq "the REVOKEALL event: id empty" "a  idp" \
    "$(l=$(tail -1 "$TMP/stream"); echo "$(stream_field "$l" op) $(stream_field "$l" jti) $(stream_field "$l" iss)")"
expect_eq "audit stream: 6 records" 6 "$(rcli XLEN "${P}audit")"
expect_eq "XREVRANGE ${P}audit: the newest (REVOKEALL on A)" \
    "a idp ri $ME_UID $HOST_A" \
    "$(for f in op iss r uid host; do printf '%s ' "$(xrev_field "${P}audit" $f)"
    done | sed 's/ $//')"
$PROBE stream "$REDIS_SOCK" "${P}audit" >"$TMP/audit.stream"
expect_eq "  the oldest (REVOKESUB): pid, comm, ts" \
    "$wpid python3 1" "$(l=$(head -1 "$TMP/audit.stream")
    ts=$(stream_field "$l" ts)
    echo "$(stream_field "$l" pid) $(stream_field "$l" comm) $((ts >= now && ts <= now + 10 * SLOW))")"

echo "# the audit trail on both daemons"
ra=$($RULES audit "$(dsock A)" COUNT 10 | grep 'command=REVOKESUB')
rb=$($RULES audit "$(dsock B)" COUNT 10 | grep 'command=REVOKESUB')
t=$(rec_field "$ra" time)
expect_eq "A's record of its REVOKESUB" "time=$t command=REVOKESUB kind=sub iss=idp target=alice until=$((now - 10)) reason=rs x uid=$ME_UID gid=$ME_GID pid=$wpid comm=python3 host=$HOST_A" "$ra"
expect_eq "B's record of it: the same (A's host, the writer on A)" "$ra" "$rb"
expect_eq "B holds all 6 records" 6 "$($RULES audit "$(dsock B)" | wc -l)"

echo "# a write that moves nothing is recorded alike on both daemons"
expect_eq "REVOKESUB alice on A: an earlier BEFORE, no REASON" OK \
    "$(q A REVOKESUB alice ISS idp BEFORE $((now - 50)))"
expect_within "B applied it" 10 stat_is B redis_applied 7
expect_eq "  the rule kept its point and reason (A, B)" \
    "revoked sub $((now - 10)) rs x
revoked sub $((now - 10)) rs x" "$(q A CHECK t ISS idp SUB alice IAT $((now - 10)))
$(q B CHECK t ISS idp SUB alice IAT $((now - 10)))"
ra2=$($RULES audit "$(dsock A)" COUNT 1)
expect_eq "  A's record: REVOKESUB alice, reason as given (none)" \
    "REVOKESUB alice " "$(rec_field "$ra2" command) $(rec_field "$ra2" target) $(rec_field "$ra2" reason)"
expect_eq "  B's record of it: the same as A's" "$ra2" \
    "$($RULES audit "$(dsock B)" COUNT 1)"
expect_eq "  the audit stream's: reason as given (none)" "s alice " \
    "$(xrev_field "${P}audit" op) $(xrev_field "${P}audit" jti) $(xrev_field "${P}audit" r)"

echo "# UNBAN on B lifts the ban on A"
expect_eq "UNBAN bob on B" 1 "$(q B UNBAN bob ISS idp REASON appeal)"
expect_within "A: bob no longer banned" 10 \
    reply_is A not_revoked CHECK t ISS idp SUB bob IAT $now
expect_eq "its key is gone" 0 "$(rcli EXISTS "${P}b:3:idpbob")"
expect_eq "last event: op n, from B's host" "n bob $HOST_B" \
    "$(l=$($PROBE stream "$REDIS_SOCK" "${P}stream" | tail -1)
    echo "$(stream_field "$l" op) $(stream_field "$l" jti) $(stream_field "$l" host)")"
expect_eq "A's AUDIT: the UNBAN, made on B" \
    "UNBAN ban bob appeal 0 python3 $HOST_B" \
    "$(r=$($RULES audit "$(dsock A)" COUNT 1)
    for f in command kind target reason until comm host; do
    printf '%s ' "$(rec_field "$r" $f)"; done | sed 's/ $//')"
expect_eq "A: rules_ban" 1 "$(dstat A rules_ban)"
expect_eq "B: rules_ban" 1 "$(dstat B rules_ban)"

expect_eq "B: LIST as A's (rules applied from the stream are journaled)" \
    "$($RULES list "$(dsock A)" 3 2>/dev/null)" \
    "$($RULES list "$(dsock B)" 3 2>/dev/null)"

echo "# B restarted with its journal"
$RULES audit "$(dsock B)" >"$TMP/audit.b"
daemon_stop_n B
expect_eq "B: SIGTERM exit status" 0 $?
daemon_start_n B --redis "$REDIS_URL"
expect_within "B synced" 10 synced B
expect_eq "B's AUDIT after the restart: the same, A's records too" \
    "$(cat "$TMP/audit.b")" "$($RULES audit "$(dsock B)")"
expect_eq "B: A's two REVOKESUB records, newest first" "$ra2
$ra" "$($RULES audit "$(dsock B)" | grep 'command=REVOKESUB')"

echo "# B restarted with an empty state directory: a full reload"
daemon_stop_n B
expect_eq "B: SIGTERM exit status" 0 $?
rm -rf "$(dstate B)"
daemon_start_n B --redis "$REDIS_URL"
expect_within "B synced" 10 synced B
expect_range "B: reloaded from Redis" 1 100 "$(dstat B redis_reloads)"
want=$(echo "$want" | sed "4s/.*/not_revoked/")
expect_eq "B enforces every kind again" "$want" "$(verdicts B)"
expect_eq "B: entries rules_sub rules_ban rules_sid rules_iss" "1 1 1 1 1" \
    "$(for f in entries rules_sub rules_ban rules_sid rules_iss; do
    dstat B $f; done | tr '\n' ' ' | sed 's/ $//')"
expect_eq "B: LIST (from its new journal)" "ban \"\" carol $exp rc
iss idp \"\" $((now - 20)) ri
jti idp j1 $exp rj
sid idp s1 $sexp rd
sub idp alice $((now - 10)) rs x" \
    "$($RULES list "$(dsock B)" 2 2>/dev/null | LC_ALL=C sort)"
expect_eq "A: the same LIST" "$($RULES list "$(dsock B)" 2 2>/dev/null)" \
    "$($RULES list "$(dsock A)" 2 2>/dev/null)"
expect_eq "a write on B reaches A" OK "$(q B BAN dan REASON late)"
expect_within "A enforces it" 10 reply_is A "revoked ban 0 late" CHECK t SUB dan

echo "# expiry from Redis (prefix x:, lifetime $((3 * SLOW)) s, grace 0)"
L=$((3 * SLOW))
# Small stream nodes, so that XADD MAXLEN ~ trims close to the limit.
rcli CONFIG SET stream-node-max-entries 2 >/dev/null
daemon_start_n C --redis "$REDIS_URL" --key-prefix x: \
    --max-token-lifetime $L --exp-grace 0 --audit-maxlen 3
expect_within "C synced" 10 synced C
# A new second: a whole one before the next tick.
now=$(date +%s)
while [ "$(date +%s)" = "$now" ]; do sleep 0.01; done
now=$(date +%s)
expect_eq "REVOKESUB, REVOKEALL, BAN UNTIL, REVOKESID, REVOKE, BAN" \
    "OK OK OK OK OK OK" "$(echo "$(q C REVOKESUB u1)" \
    "$(q C REVOKEALL ISS ie BEFORE $now)" "$(q C BAN u2 UNTIL $((now + L)))" \
    "$(q C REVOKESID s3 $((now + L)))" "$(q C REVOKE j5 $((now + L)))" \
    "$(q C BAN u4)")"
b=$(q C CHECK t SUB u1 | awk '{print $3}')
expect_eq "x:s: expires at before + lifetime" $((b + L)) \
    "$(rcli EXPIRETIME x:s:0:u1)"
expect_eq "x:b: without UNTIL, grace 0" 4294967295 \
    "$(rcli EXPIRETIME x:b:0:u4)"
expect_eq "6 keys" 6 "$(redis_keys 'x:[jsbdi]:*' | wc -l)"
expect_within "Redis: only the ban without end is left" 15 \
    eval '[ "$(redis_keys "x:[jsbdi]:*")" = x:b:0:u4 ]'
expect_within "C: only the ban in memory" 10 eval \
    '[ "$(for f in entries rules_sub rules_ban rules_sid rules_iss; do dstat C $f; done | tr "\n" " ")" = "0 0 1 0 0 " ]'
expect_eq "the daemons of prefix revokd: did not see them" \
    "not_revoked 0" "$(q A CHECK t SUB u4) $(redis_keys "${P}[jsbdi]:*" |
    grep -c ':u[0-9]')"
expect_range "x:audit trimmed near --audit-maxlen 3 (6 writes)" 3 5 \
    "$(rcli XLEN x:audit)"
expect_eq "x:stream keeps every event" 6 "$(rcli XLEN x:stream)"

for n in A B C; do
	daemon_stop_n "$n"
	expect_eq "$n: SIGTERM exit status" 0 $?
done
finish_n
