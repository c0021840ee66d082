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
daemon_stop
expect_eq "SIGTERM exit status" 0 $?

echo "# --admin-uid replaces the list; --admin-gid adds groups"
daemon_start --admin-uid nobody
chmod 666 "$SOCK"
expect_eq "REVOKE as nobody (--admin-uid nobody): +OK" OK \
    "$(as nobody REVOKE n1 "$exp")"
expect_eq "REVOKE as root (not in the list): -NOPERM" NOPERM \
    "$(redis-cli -s "$SOCK" REVOKE n2 "$exp" | awk '{print $1}')"
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
expect_exit "--admin-socket the same as the socket" 1 \
    "$BIN/revokd" -n -s "$SOCK" -d "$STATE" --admin-socket "$SOCK"
expect_exit "--admin-uid with an unknown user" 2 \
    "$BIN/revokd" -n -s "$SOCK" -d "$STATE" --admin-uid no-such-user-here
expect_exit "--admin-gid with an unknown group" 2 \
    "$BIN/revokd" -n -s "$SOCK" -d "$STATE" --admin-gid no-such-group-here
expect_exit "--admin-uid 0,65534 is fine" 0 \
    "$BIN/revokd" -n -s "$SOCK" -d "$STATE" --admin-uid 0,65534
finish
