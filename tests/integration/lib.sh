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
FAILS=0
PASSES=0
export REVOKD_SOCKET=$SOCK

# Stop the daemon and remove the temp dir.
cleanup() {
	if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
		kill -KILL "$DAEMON_PID" 2>/dev/null
		wait "$DAEMON_PID" 2>/dev/null
	fi
	rm -rf "$TMP"
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
	"${wrap[@]}" "$BIN/revokd" --socket "$SOCK" --state-dir "$STATE" \
	    "$@" 2>>"$TMP/revokd.log" &
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
