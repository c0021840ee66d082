#!/usr/bin/env bash
# Soak and faults (issue 7): SOAK_CONNS (300) connections from one Python
# process (soak.py) do CHECKs and REVOKEs for SOAK_SECONDS (20) against a
# daemon replicating to a private Redis, while clients vanish mid-request,
# send garbage, stall half-way through a request, one at a time never
# reads its replies, Redis is killed -9 and later stopped (each time
# restarted) and the daemon gets SIGHUP with a changed file. Afterwards:
# every acknowledged revocation is enforced (the long-lived ones, and the
# short-lived ones until their exp), every long-lived one is in Redis,
# memory and Redis hold only the long-lived ones once the rest expired,
# RSS is back near its baseline, the fd count is back to its baseline,
# and the daemon still answers. Prints one line of figures.
. "$(dirname "$0")/lib.sh"
P=revokd:
SOAK="/usr/bin/python3 $(dirname "$0")/soak.py"
LOAD_SECONDS=${SOAK_SECONDS:-20}
CONNS=${SOAK_CONNS:-300}
# Requests a second over all connections (0: as fast as answered). Paced,
# so that the run leaves CPU to the tests ctest runs beside it.
RATE=${SOAK_RATE:-10000}
# Short, so that the non-readers and the stalled requests are dropped
# within the run (and reloadable: the file sets it).
CLIENT_TIMEOUT=2
# The RSS bound over the baseline once the load is over, in MiB; see
# "the bound" below.
RSS_SLACK_MIB=${SOAK_RSS_SLACK_MIB:-20}
[ "$RATE" = 0 ] && RSS_SLACK_MIB=${SOAK_RSS_SLACK_MIB:-32}
RSS_SLACK_KIB=$((RSS_SLACK_MIB * 1024))
CONF=$TMP/revokd.conf

# A sanitizer's shadow memory and quarantine inflate RSS: its bound is
# checked on plain builds only (valgrind runs the daemon under its own
# process too).
sanitized=0
if grep -qa -e __asan_init -e __msan_init -e __tsan_init "$BIN/revokd" ||
    [ "${REVOKD_VALGRIND:-0}" = 1 ]; then
	sanitized=1
fi

cat >"$CONF" <<EOF
max-clients = 1000
client-timeout = $CLIENT_TIMEOUT
compact-interval = 2
EOF
DAEMON_CONF=(-c "$CONF")

# fds_one: with one client connected (the probe itself, once every other
# has gone), print the daemon's open fds; fail while others are connected.
fds_one() {
	local r
	r=$($SOAK fds "$(dsock A)" "$PID") || return 1
	set -- $r
	[ "$1" = 1 ] || return 1
	echo "$2"
}

# fds_back: the fd count with one client equals the baseline.
fds_back() {
	[ "$(fds_one)" = "$fd_base" ]
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$PID/status"; }
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$PID/status"; }

# table_back: STATS memory_bytes (the rule tables) at most 120 bytes a
# long-lived entry over the baseline: blocklist.c's worst case after a
# partial expiry, until the next shrink.
table_back() {
	[ "$(dstat A memory_bytes)" -le $((mem_base + 120 * long)) ]
}

# rss_back: VmRSS within RSS_SLACK_KIB of the baseline.
rss_back() {
	[ "$(rss_kib)" -le $((rss_base + RSS_SLACK_KIB)) ]
}

# field NAME [LINE]: the value of NAME=value in LINE (default: the load's
# result line).
field() {
	echo " ${2-$RESULT} " | sed -n "s/.* $1=\([^ ]*\) .*/\1/p"
}

redis_start
daemon_start_n A --redis "$REDIS_URL" --exp-grace 0
PID=${DPIDS[A]}
expect_within "A synced" 10 synced A
if ! DEADLINE=10 wait_for fds_one; then
	not_ok "baseline fds" "other clients still connected: $($SOAK fds "$(dsock A)" "$PID")"
fi
fd_base=$(fds_one)
rss_base=$(rss_kib)
mem_base=$(dstat A memory_bytes)
echo "# baseline: $fd_base fds with one client, VmRSS $rss_base KiB"

echo "# load: $CONNS connections for $LOAD_SECONDS s, with faults"
RESULT=
while read -r line; do
	case $line in
	"fault redis-kill")
		echo "# kill -9 Redis, restart it"
		redis_kill
		expect_within "A notices Redis killed" 10 \
		    stat_is A redis_state degraded
		redis_start
		;;
	"fault redis-stop")
		echo "# stop Redis, restart it"
		redis_stop
		expect_within "A notices Redis stopped" 10 \
		    stat_is A redis_state degraded
		redis_start
		;;
	"fault hup")
		echo "# SIGHUP with max-clients 1000 -> 1100"
		sed -i 's/^max-clients = 1000$/max-clients = 1100/' "$CONF"
		kill -HUP "$PID"
		expect_within "SIGHUP: reload done" 10 \
		    grep -q "reload done ($CONF): 1 applied" "$(dlog A)"
		expect_eq "SIGHUP: max-clients applied" 1 \
		    "$(grep -c 'reload: max-clients 1000 -> 1100' "$(dlog A)")"
		;;
	"result "*)
		RESULT=${line#result }
		;;
	*)
		echo "$line"
		;;
	esac
done < <($SOAK load "$(dsock A)" "$LOAD_SECONDS" "$CONNS" "$RATE" \
    "$CLIENT_TIMEOUT" "$TMP/acked" 2>"$TMP/soak.err")
echo "# $RESULT"
if [ -z "$RESULT" ]; then
	not_ok "the load ran to its end" "$(tail -20 "$TMP/soak.err")"
	finish_n
	exit 1
fi
expect_eq "the load saw no violation" 0 "$(field violations)"
[ -s "$TMP/soak.err" ] && head -20 "$TMP/soak.err"
expect_eq "no worker lost its connection" 0 "$(field worker_lost)"
expect_eq "every garbage connection got -ERR and was closed" \
    "$(field garbage)" "$(field garbage_closed)"
expect_eq "every stalled half-request was dropped" \
    "$(field slow)" "$(field slow_dropped)"
expect_eq "every non-reader was dropped" \
    "$(field noread)" "$(field noread_dropped)"
expect_range "some non-readers ran" 1 1000000 "$(field noread)"
expect_range "some writes were answered +PENDING (the outages were seen)" \
    1 1000000000 "$(field revokes_pending)"
expect_range "A reconnected to Redis at least twice" 2 1000 \
    "$(dstat A redis_reconnects)"

echo "# afterwards"
expect_within "A converged: synced, nothing pending" 30 redis_converged A
long=$(awk '$3 == "long"' "$TMP/acked" | wc -l)
verified=$($SOAK verify "$(dsock A)" "$TMP/acked" 2>"$TMP/missing")
expect_eq "every acknowledged long-lived revocation is enforced" \
    "$long of $long" \
    "$(field long_revoked "$verified") of $(field long "$verified")"
expect_eq "every acknowledged short-lived one still live is enforced" \
    "$(field short_live "$verified")" "$(field short_live_revoked "$verified")"
[ -s "$TMP/missing" ] && head -20 "$TMP/missing"
expect_eq "Redis holds every acknowledged long-lived revocation" "$long" \
    "$(awk '$3 == "long" {print $1}' "$TMP/acked" |
    $PROBE entries "$REDIS_SOCK" "$P" | grep -c ' revoked jti ')"

echo "# the short-lived entries expire"
expect_within "A: entries back to the $long long-lived ones" 30 \
    stat_is A entries "$long"
expect_within "Redis: only the $long long-lived keys left" 30 \
    eval '[ "$(redis_keys "${P}j:*" | wc -l)" = "$long" ]'
expect_within "A: memory_bytes back within 120 bytes a long-lived entry" \
    10 table_back
# The bound. What legitimately stays once the short entries are gone:
# the audit trail's newest 10000 records (default audit-keep, ~200 bytes
# each: 2 MiB); the writes Redis confirmed, remembered for re-delivery
# after a failover (repl.c: at most 65536 of ~150 bytes, 9.4 MiB, trimmed
# only when the next write is confirmed, so an idle daemon keeps them);
# and heap that glibc cannot hand back, freed connection and reply buffers
# interleaved with those records. Measured with the defaults (paced,
# ~38000 writes): +12 MiB, 7.5 MiB of it live (malloc_stats). Unpaced
# (SOAK_RATE=0) the window fills to its cap and the heap fragments more:
# +20 to +26 MiB measured, hence 32 MiB there. Both are far below what a
# leak of a few bytes per request (200000 to 1000000 of them) or of a
# read buffer per connection (~2500 connections) would leave.
if [ "$sanitized" = 1 ]; then
	echo "ok - RSS bound not checked: sanitizer or valgrind build (# SKIP)"
else
	expect_within "RSS back within $((RSS_SLACK_KIB / 1024)) MiB of the baseline" \
	    20 rss_back
fi
expect_within "fds back to the baseline ($fd_base with one client)" 20 fds_back
expect_eq "A answers PING" PONG "$(dcli A PING)"
expect_eq "clients dropped: the garbage, stalled and non-reading ones" \
    $(( $(field garbage) + $(field slow) + $(field noread) )) \
    "$(dstat A clients_dropped)"

echo "soak: ops=$(field ops) ($(field ops_per_s)/s over $(field seconds) s," \
    "$(field revokes) REVOKEs: $(field revokes_ok) +OK, $(field revokes_pending) +PENDING," \
    "$long long-lived) CHECK p50=$(field check_p50_ms) ms p99=$(field check_p99_ms) ms" \
    "max=$(field check_max_ms) ms; REVOKE p99=$(field revoke_p99_ms) ms" \
    "max=$(field revoke_max_ms) ms; max RSS $(hwm_kib) KiB (baseline $rss_base," \
    "after $(rss_kib)); clients dropped $(dstat A clients_dropped)" \
    "(non-readers $(field noread), longest $(field noread_max_s) s;" \
    "stalled $(field slow); garbage $(field garbage)); vanished $(field vanished)"

daemon_stop_n A
expect_eq "A: SIGTERM exit status" 0 $?
finish_n
