# Helpers for integration tests: a private daemon on a temp socket, polls
# with deadlines, and assertions. Source it, then call daemon_start.
# Usage of the sourcing script: test_X.sh BINDIR

set -u
BIN=${1:?usage: $0 BINDIR}
TMP=$(mktemp -d /tmp/revokd-test.XXXXXX)
SOCK=$TMP/revokd.sock
STATE=$TMP/state
mkdir -p "$STATE"
DAEMON_PID=
# A host's /etc/revokd/revokd.conf stays out of the tests' daemons.
DAEMON_CONF=(-c /dev/null)
FAILS=0
PASSES=0
export REVOKD_SOCKET=$SOCK

# Named daemons (daemon_start_n) by name: their pids; and a private Redis.
declare -gA DPIDS=()
REDIS_SOCK=$TMP/redis.sock
REDIS_URL=unix:$REDIS_SOCK
REDIS_PID=
# Valgrind runs the daemon many times slower: deadlines are multiplied by
# SLOW (wait_secs, expect_within, daemon_start_n).
SLOW=1
if [ "${REVOKD_VALGRIND:-0}" = 1 ]; then SLOW=10; fi

# Stop every daemon and Redis, remove the temp dir.
cleanup() {
	local pid
	for pid in "$DAEMON_PID" "${DPIDS[@]}" "$REDIS_PID"; do
		if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
			kill -CONT "$pid" 2>/dev/null
			kill -KILL "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
		fi
	done
	[ -n "${REVOKD_KEEP_TMP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT

# Run "$@" until it succeeds or $DEADLINE seconds (default 10) pass.
wait_for() {
	local end=$(( $(date +%s) + ${DEADLINE:-10} ))
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.02
	done
}

# Start revokd on $SOCK with extra arguments; wait until it answers.
daemon_start() {
	local wrap=()
	if [ "${REVOKD_VALGRIND:-0}" = 1 ]; then
		wrap=(valgrind -q --leak-check=full --errors-for-leak-kinds=definite
		    --error-exitcode=99 --log-file="$TMP/valgrind.%p.log")
	fi
	"${wrap[@]}" "$BIN/revokd" "${DAEMON_CONF[@]}" --socket "$SOCK" \
	    --state-dir "$STATE" "$@" 2>>"$TMP/revokd.log" &
	DAEMON_PID=$!
	if ! DEADLINE=${DEADLINE:-30} wait_for "$BIN/revokectl" -s "$SOCK" ping; then
		echo "daemon did not come up; log:" >&2
		cat "$TMP/revokd.log" >&2
		exit 1
	fi
}

# Stop the daemon with SIGTERM and return its exit status.
daemon_stop() {
	local rc=0
	kill -TERM "$DAEMON_PID"
	wait "$DAEMON_PID" || rc=$?
	DAEMON_PID=
	return $rc
}

# pipe_revokes PREFIX N EXP: send REVOKE PREFIX1..PREFIXN EXP through
# redis-cli --pipe; prints its summary ("errors: 0, replies: N").
pipe_revokes() {
	local i
	for i in $(seq 1 "$2"); do
		printf '*3\r\n$6\r\nREVOKE\r\n$%d\r\n%s%d\r\n$%d\r\n%d\r\n' \
		    $((${#1} + ${#i})) "$1" "$i" "${#3}" "$3"
	done > "$TMP/pipe.txt"
	redis-cli -s "$SOCK" --pipe < "$TMP/pipe.txt" 2>&1 | grep -o 'errors: .*'
}

# ok NAME: record a passed check.
ok() {
	PASSES=$((PASSES + 1))
	echo "ok - $1"
}

# not_ok NAME DETAIL: record a failed check.
not_ok() {
	FAILS=$((FAILS + 1))
	echo "not ok - $1: $2"
}

# expect_eq NAME EXPECTED ACTUAL
expect_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else
		not_ok "$1" "expected [$2], got [$3]"; fi
}

# expect_range NAME LO HI VALUE: LO <= VALUE <= HI (integers).
expect_range() {
	if [ -n "$4" ] && [ "$4" -ge "$2" ] && [ "$4" -le "$3" ]; then
		ok "$1"; else not_ok "$1" "[$4] not in [$2, $3]"; fi
}

# expect_exit NAME CODE CMD...: run CMD, compare its exit status.
expect_exit() {
	local name=$1 want=$2 rc=0
	shift 2
	"$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
	if [ "$rc" = "$want" ]; then ok "$name"; else
		not_ok "$name" "exit $rc, wanted $want; out: $(cat "$TMP/out") err: $(cat "$TMP/err")"
	fi
}

# finish: print the summary and exit non-zero if anything failed.
finish() {
	local f
	# Under valgrind (REVOKD_VALGRIND=1) any report is a failure, also
	# from daemons that were killed and so had no exit status to give.
	for f in "$TMP"/valgrind.*.log; do
		[ -s "$f" ] || continue
		not_ok "valgrind report $(basename "$f")" "$(head -c 2000 "$f")"
	done
	echo "$PASSES passed, $FAILS failed"
	[ "$FAILS" -eq 0 ]
}

# --- Several named daemons and a private Redis (test_redis_*.sh) ---
# Daemon NAME listens on $TMP/NAME.sock, keeps its journal in
# $TMP/NAME.state and logs to $TMP/NAME.log; DPIDS[NAME] is its pid.

dsock() { echo "$TMP/$1.sock"; }
dstate() { echo "$TMP/$1.state"; }
dlog() { echo "$TMP/$1.log"; }

# wait_secs SECONDS CMD...: wait_for with a deadline scaled by SLOW.
wait_secs() {
	local s=$1
	shift
	DEADLINE=$((s * SLOW)) wait_for "$@"
}

# Succeed when process $1 is alive and daemon $2 answers PING.
_daemon_up() {
	kill -0 "$1" 2>/dev/null || return 2
	"$BIN/revokectl" -s "$(dsock "$2")" ping
}

# daemon_start_n NAME ARGS...: start revokd NAME with extra arguments,
# wait until it answers PING (CHECK may still answer -LOADING).
daemon_start_n() {
	local name=$1 wrap=() end
	shift
	mkdir -p "$(dstate "$name")"
	if [ "${REVOKD_VALGRIND:-0}" = 1 ]; then
		wrap=(valgrind -q --leak-check=full --errors-for-leak-kinds=definite
		    --error-exitcode=99 --log-file="$TMP/valgrind.%p.log")
	fi
	echo "--- start $name: $*" >>"$(dlog "$name")"
	"${wrap[@]}" "$BIN/revokd" "${DAEMON_CONF[@]}" \
	    --socket "$(dsock "$name")" --state-dir "$(dstate "$name")" \
	    "$@" 2>>"$(dlog "$name")" &
	DPIDS[$name]=$!
	end=$(( $(date +%s) + 30 * SLOW ))
	until _daemon_up "${DPIDS[$name]}" "$name" >/dev/null 2>&1; do
		if ! kill -0 "${DPIDS[$name]}" 2>/dev/null ||
		    [ "$(date +%s)" -ge "$end" ]; then
			echo "daemon $name did not come up; log:" >&2
			cat "$(dlog "$name")" >&2
			exit 1
		fi
		sleep 0.02
	done
}

# daemon_stop_n NAME: SIGTERM, wait, return its exit status.
daemon_stop_n() {
	local rc=0
	kill -TERM "${DPIDS[$1]}"
	wait "${DPIDS[$1]}" || rc=$?
	unset "DPIDS[$1]"
	return $rc
}

# daemon_kill9 NAME: kill -9 and reap it.
daemon_kill9() {
	kill -KILL "${DPIDS[$1]}" 2>/dev/null
	wait "${DPIDS[$1]}" 2>/dev/null
	unset "DPIDS[$1]"
	return 0
}

# dcli NAME ARGS...: redis-cli against daemon NAME.
dcli() {
	local name=$1
	shift
	redis-cli -s "$(dsock "$name")" "$@"
}

# dstat NAME FIELD: print one STATS field of daemon NAME.
dstat() {
	dcli "$1" STATS | grep -A1 -x -- "$2" | tail -1
}

# stat_is NAME FIELD VALUE: succeed when the field has that value.
stat_is() {
	[ "$(dstat "$1" "$2")" = "$3" ]
}

# expect_within NAME SECONDS CMD...: poll CMD until it succeeds (deadline
# scaled by SLOW); record ok, or not_ok with CMD's last output.
expect_within() {
	local name=$1 s=$2
	shift 2
	if wait_secs "$s" "$@"; then ok "$name"; else
		not_ok "$name" "not true within $((s * SLOW)) s: $* -> $("$@" 2>&1 | head -c 500)"
	fi
}

# redis_start [ARGS...]: start a private redis-server on $REDIS_SOCK (no
# TCP), data in $TMP/redis with an fsync'd append-only file so that a
# restart (redis_stop or redis_kill, then redis_start) keeps every write.
redis_start() {
	local end
	mkdir -p "$TMP/redis"
	redis-server --port 0 --unixsocket "$REDIS_SOCK" --unixsocketperm 700 \
	    --dir "$TMP/redis" --appendonly yes --appendfsync always \
	    --save '' --daemonize no --logfile "$TMP/redis.log" "$@" &
	REDIS_PID=$!
	end=$(( $(date +%s) + 20 ))
	until [ "$(rcli PING 2>/dev/null)" = PONG ]; do
		if ! kill -0 "$REDIS_PID" 2>/dev/null ||
		    [ "$(date +%s)" -ge "$end" ]; then
			echo "redis-server did not come up; log:" >&2
			cat "$TMP/redis.log" >&2
			exit 1
		fi
		sleep 0.02
	done
}

# redis_stop: SIGTERM (Redis flushes its append-only file and removes its
# socket), wait for it.
redis_stop() {
	kill -TERM "$REDIS_PID"
	wait "$REDIS_PID" 2>/dev/null
	REDIS_PID=
	return 0
}

# redis_kill: kill -9 (appendfsync always: nothing acknowledged is lost).
redis_kill() {
	kill -KILL "$REDIS_PID"
	wait "$REDIS_PID" 2>/dev/null
	REDIS_PID=
	return 0
}

# rcli ARGS...: redis-cli against the private Redis.
rcli() {
	redis-cli -s "$REDIS_SOCK" "$@"
}

# redis_keys PATTERN: print the matching keys, sorted.
redis_keys() {
	rcli --scan --pattern "$1" | LC_ALL=C sort
}

# redis_client_ids: the ids of Redis's client connections except the
# asking one, sorted (to tell which connections a daemon opened).
redis_client_ids() {
	rcli CLIENT LIST | grep -v 'cmd=client|list' |
	    sed -n 's/^id=\([0-9]*\) .*/\1/p' | LC_ALL=C sort
}

# The Python helpers, run by the system interpreter.
PROBE="/usr/bin/python3 $(dirname "${BASH_SOURCE[0]}")/propagation.py"
RAWC="/usr/bin/python3 $(dirname "${BASH_SOURCE[0]}")/rawclient.py"

# synced NAME: daemon NAME has loaded Redis's set and follows the stream.
synced() {
	stat_is "$1" redis_state synced
}

# redis_converged NAME...: every named daemon is synced with nothing of
# its own waiting for Redis.
redis_converged() {
	local n
	for n in "$@"; do
		synced "$n" && stat_is "$n" redis_pending 0 || return 1
	done
}

# serving NAME: daemon NAME answers CHECK with a verdict (not -LOADING,
# not -STALE).
serving() {
	case "$(echo serving-probe | $PROBE checks "$(dsock "$1")" 2>/dev/null)" in
	"serving-probe not_revoked" | "serving-probe revoked "*) return 0 ;;
	esac
	return 1
}

# finish_n: finish, after failing on any sanitizer report in the daemons'
# logs (killed daemons have no exit status to show one).
finish_n() {
	local f
	for f in "$TMP"/*.log; do
		[ -f "$f" ] || continue
		if grep -q -e 'ERROR: AddressSanitizer' -e 'ERROR: LeakSanitizer' \
		    -e 'runtime error:' "$f"; then
			not_ok "sanitizer report in $(basename "$f")" \
			    "$(grep -m1 -A20 -e ERROR: -e 'runtime error:' "$f" | head -c 2000)"
		fi
	done
	finish
}

# The rules' tests (test_rules.sh, test_redis_rules.sh): rules.py sends
# commands with any arguments and prints LIST walks and AUDIT records.
RULES="/usr/bin/python3 $(dirname "$0")/rules.py"
ME_UID=$(id -u)
ME_GID=$(id -g)

# q NAME ARGS...: one command to daemon NAME, its reply on one line.
q() {
	local n=$1
	shift
	$RULES cmd "$(dsock "$n")" "$@"
}
