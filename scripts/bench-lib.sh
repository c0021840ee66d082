# Shell functions shared by scripts/bench and scripts/bench-redis: private
# revokd and redis-server processes on Unix sockets in a temp dir, stopped
# and removed on exit. Sourced from the top of the source tree; the caller
# sets build (the build directory) and deadline (seconds to wait for any
# start-up), then calls bench_init.
# shellcheck shell=bash disable=SC2154 # build, deadline: the caller's

bench_pids=	# servers started and not yet stopped, for bench_cleanup
revokd_pid=	# the revokd of the last start_revokd
redis_pid=	# the redis-server of the last start_redis

# bench_require NAME TOOL...: exit unless every TOOL is on the PATH.
bench_require() {
	local name=$1 tool
	shift
	for tool in "$@"; do
		if ! command -v "$tool" >/dev/null; then
			echo "$name: $tool not found (scripts/deps.sh)" >&2
			exit 1
		fi
	done
}

# bench_build TARGET...: configure $build if it is new (with the cmake
# options in the array cmake_args, if set), then build the targets.
bench_build() {
	if [ ! -f "$build/CMakeCache.txt" ]; then
		cmake -S . -B "$build" ${cmake_args[@]+"${cmake_args[@]}"} \
		    >/dev/null
	fi
	cmake --build "$build" -j"$(nproc)" --target "$@" >/dev/null
}

# bench_init: make the temp dir $tmp, and stop everything on exit.
bench_init() {
	tmp=$(mktemp -d /tmp/revokd-bench.XXXXXX)
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}

# Stop whichever servers we started and remove the temp dir.
bench_cleanup() {
	local pid
	for pid in $bench_pids; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$tmp"
}

# bench_forget PID: PID was stopped; cleanup leaves it alone.
bench_forget() {
	local pid rest=
	for pid in $bench_pids; do
		[ "$pid" = "$1" ] || rest="$rest $pid"
	done
	bench_pids=$rest
}

# Milliseconds since the epoch.
now_ms() {
	echo $(( $(date +%s%N) / 1000000 ))
}

# ready SOCK T0_MS: wait until revokd on SOCK answers CHECK with a verdict
# (not -LOADING, not refused); print the milliseconds since T0_MS.
ready() {
	/usr/bin/python3 - "$1" "$2" "$deadline" <<'EOF'
import socket, sys, time
path, t0, deadline = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
req = b"*2\r\n$5\r\nCHECK\r\n$5\r\nprobe\r\n"
end = time.time() + deadline
s = None
while time.time() < end:
    try:
        if s is None:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
        s.sendall(req)
        data = s.recv(4096)
        if data.startswith(b"*"):
            print(int(time.time() * 1000) - t0)
            sys.exit(0)
        if not data:
            raise OSError("closed")
    except OSError:
        if s is not None:
            s.close()
        s = None
    time.sleep(0.001)
sys.exit("not ready after %gs" % deadline)
EOF
}

# stat SOCK FIELD: one STATS field.
stat() {
	redis-cli -s "$1" STATS | grep -A1 -x -- "$2" | tail -1
}

# start_revokd NAME ARGS...: start revokd on $tmp/NAME.sock with state
# dir $tmp/NAME.state and its log in $tmp/NAME.log; sets revokd_pid.
start_revokd() {
	local name=$1
	shift
	mkdir -p "$tmp/$name.state"
	"$build/bin/revokd" --socket "$tmp/$name.sock" \
	    --state-dir "$tmp/$name.state" "$@" 2>>"$tmp/$name.log" &
	revokd_pid=$!
	bench_pids="$bench_pids $revokd_pid"
}

# stop_revokd: SIGTERM, wait.
stop_revokd() {
	kill "$revokd_pid"
	wait "$revokd_pid" || true
	bench_forget "$revokd_pid"
	revokd_pid=
}

# rss PID: resident set size in MiB.
rss() {
	awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"
}

# rss_kb PID: resident set size in KiB.
rss_kb() {
	awk '/^VmRSS/ { print $2 }' "/proc/$1/status"
}

# start_redis NAME ARGS...: start a redis-server on $tmp/NAME.sock, no TCP,
# persistence off unless ARGS say otherwise, its files in $tmp/NAME.d and
# its log in $tmp/NAME.log; wait until it answers PING; sets redis_pid.
start_redis() {
	local name=$1 i
	shift
	mkdir -p "$tmp/$name.d"
	redis-server --port 0 --unixsocket "$tmp/$name.sock" --save '' \
	    --appendonly no --daemonize no --dir "$tmp/$name.d" "$@" \
	    >"$tmp/$name.log" 2>&1 &
	redis_pid=$!
	bench_pids="$bench_pids $redis_pid"
	for ((i = 0; i < deadline * 10; i++)); do
		[ "$(redis-cli -s "$tmp/$name.sock" PING 2>/dev/null)" = PONG ] &&
		    return 0
		if ! kill -0 "$redis_pid" 2>/dev/null; then
			break
		fi
		sleep 0.1
	done
	echo "redis-server $name did not start:" >&2
	cat "$tmp/$name.log" >&2
	exit 1
}

# stop_redis PID: SIGTERM (no save: persistence is off), wait.
stop_redis() {
	kill "$1"
	wait "$1" || true
	bench_forget "$1"
}
