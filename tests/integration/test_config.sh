#!/usr/bin/env bash
# The configuration file: -n checks one, errors name file:line, the command
# line wins over the file (also on a reload), a daemon started with -c
# serves with the file's settings, and SIGHUP applies what can change live
# (admin-uid for new connections, max-ttl, verbosity), reports what needs
# a restart (socket) and refuses a broken file, keeping the running
# settings. The admin-uid reload runs a client as nobody through setpriv,
# which needs root: without it the rest runs and the test reports itself
# skipped (77) unless something failed.
. "$(dirname "$0")/lib.sh"

ME=$(id -u)
ROOT=0
[ "$ME" = 0 ] && ROOT=1
NOBODY=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
CONF=$TMP/revokd.conf
LOG=$TMP/revokd.log
now=$(date +%s)
exp2h=$(( now + 7200 ))		# beyond max-ttl 1h, within 3h

# start_c ARGS...: start revokd with ARGS (a -c file whose socket is
# $SOCK, and no --socket), wait until it answers.
start_c() {
	local wrap=()
	if [ "${REVOKD_VALGRIND:-0}" = 1 ]; then
		wrap=(valgrind -q --leak-check=full --errors-for-leak-kinds=definite
		    --error-exitcode=99 --log-file="$TMP/valgrind.%p.log")
	fi
	"${wrap[@]}" "$BIN/revokd" "$@" 2>>"$LOG" &
	DAEMON_PID=$!
	if ! wait_secs 30 "$BIN/revokectl" -s "$SOCK" ping; then
		echo "daemon did not come up; log:" >&2
		cat "$LOG" >&2
		exit 1
	fi
}

# reloads: the number of reloads done or refused so far.
reloads() {
	grep -c -e 'reload done' -e 'reload refused' "$LOG"
}

# reloaded N: at least N reloads were done or refused.
reloaded() {
	[ "$(reloads)" -ge "$1" ]
}

# hup: send SIGHUP and wait until the daemon has dealt with it.
hup() {
	local n
	n=$(( $(reloads) + 1 ))
	kill -HUP "$DAEMON_PID"
	wait_secs 10 reloaded "$n" ||
	    not_ok "SIGHUP handled" "no reload line in: $(tail -5 "$LOG")"
}

# logged NAME PATTERN: the log has a line matching PATTERN (grep -E).
logged() {
	if grep -qE -- "$2" "$LOG"; then ok "$1"; else
		not_ok "$1" "no /$2/ in: $(tail -5 "$LOG")"; fi
}

# revoke JTI EXP: REVOKE as root, print the reply.
revoke() {
	redis-cli -s "$SOCK" REVOKE "$1" "$2"
}

echo "# -n checks a file"
cat >"$CONF" <<EOF
# revokd.conf for the test
socket = $SOCK
state-dir = $STATE

   # indented comment, blank lines, CRLF below
max-ttl = 1h
max-clients=100
admin-uid = $ME
EOF
printf 'client-timeout = 20\r\n' >>"$CONF"
expect_exit "-n -c good file: exit 0" 0 "$BIN/revokd" -n -c "$CONF"
expect_eq "  ...saying configuration OK" "configuration OK" "$(tail -1 "$TMP/err")"
expect_exit "--config= works too" 0 "$BIN/revokd" -n --config="$CONF"
expect_exit "-c /dev/null: an empty file is fine" 0 \
    "$BIN/revokd" -n -c /dev/null -s "$SOCK" -d "$STATE"
expect_exit "-c a missing file: exit 1" 1 "$BIN/revokd" -n -c "$TMP/nope.conf"
if grep -q "configuration file $TMP/nope.conf: No such file" "$TMP/err"; then
	ok "  ...naming it"; else not_ok "  ...naming it" "$(cat "$TMP/err")"; fi

# bad NAME LINE TEXT: a file with TEXT after a good line fails -n with
# exit 1 and an error at BAD:LINE.
BAD=$TMP/bad.conf
bad() {
	printf 'state-dir = %s\n%b' "$STATE" "$3" >"$BAD"
	expect_exit "$1: exit 1" 1 "$BIN/revokd" -n -c "$BAD" -s "$SOCK"
	if grep -qF "$BAD:$2: " "$TMP/err"; then ok "  ...at $BAD:$2"; else
		not_ok "  ...at $BAD:$2" "$(cat "$TMP/err")"; fi
}
bad "an unknown key" 2 'colour = blue\n'
bad "a bad value" 3 '\nmax-ttl = 0\n'
bad "no '='" 2 'max-ttl 1h\n'
bad "a duplicate key" 3 'max-ttl = 1h\nmax-ttl = 1h\n'
bad "an empty value" 2 'max-clients =\n'
bad "a trailing comment" 2 'max-ttl = 1h  # an hour\n'
bad "an inline password" 2 'redis-password = s3cret\n'
bad "an unknown admin user" 2 'admin-uid = no-such-user-here\n'
bad "a control character" 2 'max-ttl = 1h\033\n'
if grep -q s3cret "$TMP/err"; then not_ok "the inline password is not echoed" \
    "$(cat "$TMP/err")"; else ok "the inline password is not echoed"; fi
printf 'state-dir = %s\nmax-ttl = 0\nfoo = 1\nmax-clients = x\n' "$STATE" >"$BAD"
expect_exit "several errors: exit 1" 1 "$BIN/revokd" -n -c "$BAD" -s "$SOCK"
expect_eq "  ...each reported" "$BAD:2 $BAD:3 $BAD:4" "$(grep -o "$BAD:[0-9]*" \
    "$TMP/err" | tr '\n' ' ' | sed 's/ $//')"
expect_exit "a bad option still exits 2 (usage), file or not" 2 \
    "$BIN/revokd" -n -c "$CONF" --max-ttl 0
expect_exit "-n: the file's socket must be usable" 1 \
    "$BIN/revokd" -n -c "$CONF" -s /nonexistent/dir/x.sock

echo "# a daemon started with -c serves with the file's settings"
start_c -c "$CONF"
expect_eq "REVOKE 2h ahead: refused by the file's max-ttl 1h" \
    "ERR exp is more than 3600 seconds away (max-ttl)" "$(revoke early "$exp2h")"
logged "the file is logged" "configuration file $CONF\$"
if grep -q ' debug: ' "$LOG"; then not_ok "no debug lines yet" "$(grep debug "$LOG")"
else ok "no debug lines yet"; fi

echo "# SIGHUP: live settings change"
expect_eq "no compaction yet (compact-interval 3600)" 0 \
    "$(redis-cli -s "$SOCK" STATS | grep -A1 -x journal_compactions | tail -1)"
sed -i 's/^max-ttl = 1h$/max-ttl = 3h/' "$CONF"
echo "verbose = 1" >>"$CONF"
echo "compact-interval = 1" >>"$CONF"
hup
logged "the change is logged" "reload: max-ttl 3600 -> 10800"
expect_eq "REVOKE 2h ahead: now +OK" OK "$(revoke r1 "$exp2h")"
# compacted N: the daemon has done at least N compactions.
compacted() {
	[ "$(redis-cli -s "$SOCK" STATS | grep -A1 -x journal_compactions |
	    tail -1)" -ge "$1" ]
}
expect_within "compact-interval 1: the timer was re-armed, compactions run" \
    10 compacted 2
"$BIN/revokectl" -s "$SOCK" ping >/dev/null
expect_within "verbose = 1: debug lines now" 5 grep -q ' debug: client' "$LOG"

if [ "$ROOT" = 1 ]; then
	chmod 755 "$TMP"
	chmod 666 "$SOCK"
	expect_eq "REVOKE as nobody: -NOPERM (admin-uid = 0)" \
	    "NOPERM REVOKE needs an admin (uid 65534 gid 65534 is not one)" \
	    "$("${NOBODY[@]}" redis-cli -s "$SOCK" REVOKE n1 "$exp2h")"
	sed -i 's/^admin-uid = 0$/admin-uid = 0, nobody/' "$CONF"
	hup
	logged "the admin change is logged" "reload: admin-uid 0 -> 0,65534"
	expect_eq "REVOKE as nobody on a new connection: +OK" OK \
	    "$("${NOBODY[@]}" redis-cli -s "$SOCK" REVOKE n1 "$exp2h")"
	sed -i 's/^admin-uid = 0, nobody$/admin-uid = 0/' "$CONF"
	hup
	expect_eq "and -NOPERM again once removed" NOPERM \
	    "$("${NOBODY[@]}" redis-cli -s "$SOCK" REVOKE n2 "$exp2h" |
	    awk '{print $1}')"
else
	echo "not root: the admin-uid reload needs a client as nobody (skipped)"
fi

echo "# SIGHUP: a changed socket needs a restart"
sed -i "s|^socket = .*|socket = $TMP/other.sock|; s/^max-clients=100$/max-clients = 200/" "$CONF"
hup
logged "the socket change is logged as needing a restart" \
    "reload: socket $SOCK -> $TMP/other.sock needs a restart"
logged "the rest of the file still applies" "reload: max-clients 100 -> 200"
logged "the summary counts both" "reload done \\($CONF\\): 1 applied, 1 need a restart"
expect_eq "still serving on the old socket" PONG "$(redis-cli -s "$SOCK" PING)"
expect_eq "nothing on the new one" "" "$(ls "$TMP" | grep other.sock)"
sed -i "s|^socket = .*|socket = $SOCK|" "$CONF"

echo "# SIGHUP: a broken file is refused, the running settings stay"
sed -i 's/^max-ttl = 3h$/max-ttl = 1h/; s/^max-clients = 200$/max-clients = lots/' "$CONF"
line=$(grep -n '^max-clients' "$CONF" | cut -d: -f1)
hup
logged "the error is logged with file:line" \
    "$CONF:$line: max-clients: invalid value 'lots'"
logged "the reload is refused" "reload refused: the running configuration stays"
expect_eq "max-ttl still 3h: REVOKE 2h ahead +OK" OK "$(revoke r2 "$exp2h")"
expect_eq "still serving" PONG "$(redis-cli -s "$SOCK" PING)"
mv "$CONF" "$CONF.away"
hup
logged "a file gone is refused too" "configuration file $CONF: No such file"
expect_eq "REVOKE 2h ahead still +OK" OK "$(revoke r3 "$exp2h")"
mv "$CONF.away" "$CONF"
daemon_stop
expect_eq "SIGTERM after reloads: exit 0" 0 $?

echo "# the command line wins over the file, also on a reload"
cat >"$CONF" <<EOF
socket = $SOCK
state-dir = $STATE
max-ttl = 1h
verbose = 0
EOF
: >"$LOG"
start_c -c "$CONF" --max-ttl 3h
expect_eq "--max-ttl 3h over the file's 1h: REVOKE 2h ahead +OK" OK \
    "$(revoke c1 "$exp2h")"
sed -i 's/^max-ttl = 1h$/max-ttl = 2m/' "$CONF"
hup
expect_eq "after SIGHUP with max-ttl = 2m: still +OK" OK "$(revoke c2 "$exp2h")"
if grep -q "reload: max-ttl" "$LOG"; then not_ok "no max-ttl change logged" \
    "$(grep 'reload:' "$LOG")"; else ok "no max-ttl change logged"; fi
sed -i 's/^max-ttl = 2m$/max-ttl = 0/' "$CONF"
hup
logged "a bad value of a key the command line set is still an error" \
    "$CONF:3: max-ttl: invalid value '0'"
daemon_stop

echo "# without -c and with no default file, SIGHUP changes nothing"
if [ -e /etc/revokd/revokd.conf ]; then
	echo "/etc/revokd/revokd.conf exists here (skipped)"
else
	: >"$LOG"
	DAEMON_CONF=()
	daemon_start --max-ttl 1h
	DAEMON_CONF=(-c /dev/null)
	hup
	logged "reload without a file" "reload done \\(no configuration file\\): 0 applied, 0 need a restart"
	expect_eq "still serving" PONG "$(redis-cli -s "$SOCK" PING)"
	daemon_stop
fi

finish_n || exit 1
if [ "$ROOT" != 1 ]; then
	echo "not root: part of the test was skipped"
	exit 77
fi
