#!/usr/bin/env bash
# Authorization by peer credentials: reads are open to whoever can open
# the socket, writes need an admin uid or gid, and with --admin-socket
# they are accepted there only. CI runs as root: the unprivileged client
# runs as nobody through setpriv.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ]; then
	echo "not root: cannot run a client as another user (skipped)"
	exit 77
fi

exp=$(( $(date +%s) + 3600 ))
NOBODY=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
# Group "daemon" as a supplementary group of nobody.
DGID=$(getent group daemon | cut -d: -f3)
NOBODY_SUPP=(setpriv --reuid=nobody --regid=nogroup --groups="$DGID")
chmod 755 "$TMP"	# nobody must reach the sockets

# stat_of FIELD: one STATS field, asked as root.
stat_of() {
	redis-cli -s "$SOCK" STATS | grep -A1 -x -- "$1" | tail -1
}

# as WHO... CMD: run redis-cli against $SOCK as an unprivileged user.
as() {
	local n=$1
	shift
	case $n in
	nobody) "${NOBODY[@]}" redis-cli -s "$SOCK" "$@" ;;
	supp) "${NOBODY_SUPP[@]}" redis-cli -s "$SOCK" "$@" ;;
	esac
}

echo "# default: root and the daemon's own user are the admins"
daemon_start
expect_eq "the socket's mode" 660 "$(stat -c %a "$SOCK")"
chmod 666 "$SOCK"
expect_eq "REVOKE as root: +OK" OK "$(redis-cli -s "$SOCK" REVOKE held "$exp")"
expect_eq "PING as nobody" PONG "$(as nobody PING)"
expect_eq "CHECK as nobody" revoked "$(as nobody CHECK held | head -1)"
expect_eq "STATS as nobody" version "$(as nobody STATS | head -1)"
expect_eq "REVOKE as nobody: -NOPERM" \
    "NOPERM REVOKE needs an admin (uid 65534 gid 65534 is not one)" \
    "$(as nobody REVOKE x "$exp")"
expect_eq "UNREVOKE as nobody: -NOPERM" \
    "NOPERM UNREVOKE needs an admin (uid 65534 gid 65534 is not one)" \
    "$(as nobody UNREVOKE held)"
expect_eq "pipelined: reads answered, writes refused, in order" \
    "PONG NOPERM not_revoked" "$(printf 'PING\r\nREVOKE y %s\r\nCHECK y\r\n' \
    "$exp" | "${NOBODY[@]}" redis-cli -s "$SOCK" | awk 'NF {print $1}' |
    tr '\n' ' ' | sed 's/ $//')"
expect_eq "nothing changed" "not_revoked revoked 1" \
    "$(redis-cli -s "$SOCK" CHECK x) $(redis-cli -s "$SOCK" CHECK held |
    head -1) $(redis-cli -s "$SOCK" STATS | grep -A1 -x entries | tail -1)"
expect_eq "STATS counts the refusals" 3 \
    "$(redis-cli -s "$SOCK" STATS | grep -A1 -x writes_refused | tail -1)"
if grep -q "uid 65534 gid 65534) on $SOCK: UNREVOKE refused" \
    "$TMP/revokd.log"; then ok "the attempt is logged with the actor"; else
	not_ok "the attempt is logged with the actor" "$(tail -3 "$TMP/revokd.log")"
fi
expect_exit "revokectl revoke as nobody: exit 2 (refused)" 2 \
    "${NOBODY[@]}" "$BIN/revokectl" -s "$SOCK" revoke z --ttl 1h
if grep -q NOPERM "$TMP/out"; then ok "  ...saying NOPERM"; else
	not_ok "  ...saying NOPERM" "$(cat "$TMP/out" "$TMP/err")"; fi

echo "# the rule commands: every write, LIST and AUDIT need an admin"
now=$(date +%s)
expect_eq "BAN heldban as root: +OK" OK \
    "$(redis-cli -s "$SOCK" BAN heldban REASON root)"
refused=$(stat_of writes_refused)
audits=$(stat_of audit_records)
n=0
for c in "REVOKESUB u1" "REVOKESUB u1 ISS i BEFORE $now REASON r" \
    "BAN u1" "BAN u1 UNTIL $exp" "UNBAN heldban" "REVOKESID s1 $exp" \
    "REVOKEALL BEFORE $now" "REVOKEALL ISS i BEFORE $now REASON r" \
    "LIST" "LIST TYPE ban COUNT 5" "AUDIT" "AUDIT COUNT 1"; do
	# shellcheck disable=SC2086 # the words of $c are the arguments
	expect_eq "$c as nobody: -NOPERM" \
	    "NOPERM ${c%% *} needs an admin (uid 65534 gid 65534 is not one)" \
	    "$(as nobody $c)"
	n=$((n + 1))
done
expect_eq "nothing changed: rules_sub rules_ban rules_sid rules_iss" \
    "0 1 0 0" "$(for f in rules_sub rules_ban rules_sid rules_iss; do
    stat_of $f; done | tr '\n' ' ' | sed 's/ $//')"
expect_eq "  the ban stays" "revoked ban 0 root" \
    "$(redis-cli -s "$SOCK" CHECK t SUB heldban | tr '\n' ' ' | sed 's/ $//')"
expect_eq "  no audit record for the refusals" "$audits" \
    "$(stat_of audit_records)"
expect_eq "STATS counts the $n refusals" $((refused + n)) \
    "$(stat_of writes_refused)"
expect_eq "root: REVOKESUB, REVOKESID, REVOKEALL" "OK OK OK" \
    "$(echo "$(redis-cli -s "$SOCK" REVOKESUB u2 BEFORE $now REASON r)" \
    "$(redis-cli -s "$SOCK" REVOKESID s2 $exp)" \
    "$(redis-cli -s "$SOCK" REVOKEALL ISS i2 BEFORE $now)")"
# c1 ARGS...: nobody's CHECK, the verdict and the rule on one line.
c1() {
	as nobody CHECK "$@" | head -2 | tr '\n' ' ' | sed 's/ $//'
}
expect_eq "CHECK SUB IAT == before as nobody" "revoked sub" \
    "$(c1 t SUB u2 IAT $now)"
expect_eq "CHECK SUB IAT == before + 1 as nobody" not_revoked \
    "$(c1 t SUB u2 IAT $((now + 1)))"
expect_eq "CHECK SUB of a banned subject as nobody" "revoked ban" \
    "$(c1 t SUB heldban IAT $now)"
expect_eq "CHECK SID as nobody" "revoked sid" "$(c1 t SID s2)"
expect_eq "CHECK ISS IAT as nobody" "revoked iss" "$(c1 t ISS i2 IAT $now)"
expect_eq "CHECK with every option as nobody" "revoked ban" \
    "$(c1 t ISS '' SUB heldban SID s9 IAT $now)"
expect_eq "LIST as root: the 5 rules" 5 \
    "$(redis-cli -s "$SOCK" LIST | grep -c -x -e jti -e sub -e ban -e sid -e iss)"
daemon_stop
expect_eq "SIGTERM exit status" 0 $?

echo "# --admin-uid replaces the list; --admin-gid adds groups"
daemon_start --admin-uid nobody
chmod 666 "$SOCK"
expect_eq "REVOKE as nobody (--admin-uid nobody): +OK" OK \
    "$(as nobody REVOKE n1 "$exp")"
expect_eq "REVOKE as root (not in the list): -NOPERM" NOPERM \
    "$(redis-cli -s "$SOCK" REVOKE n2 "$exp" | awk '{print $1}')"
expect_eq "BAN as nobody: +OK" OK "$(as nobody BAN n3 REASON x)"
expect_eq "  AUDIT as nobody: the record's actor" \
    "BAN n3 65534 65534 redis-cli" \
    "$(as nobody AUDIT COUNT 1 | paste - - | awk -F'\t' '
    $1 == "command" || $1 == "target" || $1 == "uid" || $1 == "gid" ||
    $1 == "comm" {printf "%s%s", sep, $2; sep = " "}')"
expect_eq "  LIST as nobody" "ban n3" \
    "$(as nobody LIST TYPE ban MATCH 'n*' | sed -n '2p;4p' | tr '\n' ' ' | sed 's/ $//')"
expect_eq "AUDIT as root (not in the list): -NOPERM" \
    "NOPERM AUDIT needs an admin (uid 0 gid 0 is not one)" \
    "$(redis-cli -s "$SOCK" AUDIT)"
daemon_stop
daemon_start --admin-uid root --admin-gid nogroup
chmod 666 "$SOCK"
expect_eq "REVOKE as nobody:nogroup (--admin-gid nogroup): +OK" OK \
    "$(as nobody REVOKE g1 "$exp")"
daemon_stop
daemon_start --admin-gid daemon
chmod 666 "$SOCK"
expect_eq "REVOKE with daemon as a supplementary group: +OK" OK \
    "$(as supp REVOKE g2 "$exp")"
expect_eq "without it: -NOPERM" NOPERM \
    "$(as nobody REVOKE g3 "$exp" | awk '{print $1}')"
daemon_stop

echo "# --admin-socket: writes there only"
ADMIN=$TMP/admin.sock
daemon_start --admin-socket "$ADMIN"
expect_eq "the admin socket's mode" 600 "$(stat -c %a "$ADMIN")"
expect_eq "the services' socket's mode" 660 "$(stat -c %a "$SOCK")"
expect_eq "REVOKE as root on the services' socket: -NOPERM" \
    "NOPERM REVOKE is accepted on the admin socket only" \
    "$(redis-cli -s "$SOCK" REVOKE a1 "$exp")"
expect_eq "REVOKE as root on the admin socket: +OK" OK \
    "$(redis-cli -s "$ADMIN" REVOKE a1 "$exp")"
for c in "REVOKESUB a2" "BAN a2" "UNBAN a2" "REVOKESID a3 $exp" \
    "REVOKEALL ISS a BEFORE $(date +%s)" "LIST" "AUDIT"; do
	# shellcheck disable=SC2086 # the words of $c are the arguments
	expect_eq "$c as root on the services' socket: -NOPERM" \
	    "NOPERM ${c%% *} is accepted on the admin socket only" \
	    "$(redis-cli -s "$SOCK" $c)"
done
expect_eq "BAN, UNBAN, LIST, AUDIT on the admin socket" "OK 1 0 time" \
    "$(echo "$(redis-cli -s "$ADMIN" BAN a2)" \
    "$(redis-cli -s "$ADMIN" UNBAN a2)" \
    "$(redis-cli -s "$ADMIN" LIST | head -1)" \
    "$(redis-cli -s "$ADMIN" AUDIT COUNT 1 | head -1)")"
expect_eq "CHECK SUB on the services' socket" "revoked ban" \
    "$(redis-cli -s "$ADMIN" BAN a4 >/dev/null
    redis-cli -s "$SOCK" CHECK t SUB a4 | head -2 | tr '\n' ' ' | sed 's/ $//')"
expect_eq "CHECK on the services' socket" revoked \
    "$(redis-cli -s "$SOCK" CHECK a1 | head -1)"
expect_eq "CHECK on the admin socket" revoked \
    "$(redis-cli -s "$ADMIN" CHECK a1 | head -1)"
expect_exit "nobody cannot open the admin socket (exit 3: unreachable)" 3 \
    "${NOBODY[@]}" "$BIN/revokectl" -s "$ADMIN" ping
daemon_stop
expect_eq "SIGTERM exit status" 0 $?
expect_eq "both sockets removed" "" "$(ls "$TMP" | grep '\.sock$')"

echo "# settings"
expect_exit "--admin-socket in the abstract namespace" 1 \
    "$BIN/revokd" -n -s "$SOCK" -d "$STATE" --admin-socket @revokd-admin
expect_exit "--socket in the abstract namespace" 1 \
    "$BIN/revokd" -n -s @revokd-test -d "$STATE"
expect_exit "--admin-socket the same as the socket" 1 \
    "$BIN/revokd" -n -s "$SOCK" -d "$STATE" --admin-socket "$SOCK"
expect_exit "--admin-uid with an unknown user" 2 \
    "$BIN/revokd" -n -s "$SOCK" -d "$STATE" --admin-uid no-such-user-here
expect_exit "--admin-gid with an unknown group" 2 \
    "$BIN/revokd" -n -s "$SOCK" -d "$STATE" --admin-gid no-such-group-here
expect_exit "--admin-uid 0,65534 is fine" 0 \
    "$BIN/revokd" -n -s "$SOCK" -d "$STATE" --admin-uid 0,65534
finish
