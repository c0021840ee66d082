#!/usr/bin/env bash
# --metrics: /metrics in the Prometheus text format (checked line by line
# by metrics.py) counts what was done, on TCP and on a Unix socket;
# /healthz says 200 ok only while the daemon answers authoritatively
# (503 loading, degraded, stale otherwise); other paths 404, other methods
# 405; oversized or idle requests do not hurt the daemon.
. "$(dirname "$0")/lib.sh"
MET="/usr/bin/python3 $(dirname "$0")/metrics.py"

if ! "$BIN/revokd" --help 2>/dev/null | grep -q -e '--metrics'; then
	echo "not ok - $BIN/revokd has no --metrics option: daemon/main.c" \
	    "must parse it and call metrics_start() (daemon/metrics.h)"
	exit 1
fi

# mstart ADDR ARGS...: start revokd as daemon_start does, with --metrics
# ADDR; return 1 if it exited instead of coming up.
mstart() {
	local addr=$1 wrap=() end
	shift
	if [ "${REVOKD_VALGRIND:-0}" = 1 ]; then
		wrap=(valgrind -q --leak-check=full --errors-for-leak-kinds=definite
		    --error-exitcode=99 --log-file="$TMP/valgrind.%p.log")
	fi
	"${wrap[@]}" "$BIN/revokd" --socket "$SOCK" --state-dir "$STATE" \
	    --metrics "$addr" "$@" 2>>"$TMP/revokd.log" &
	DAEMON_PID=$!
	end=$(( $(date +%s) + 30 * SLOW ))
	until "$BIN/revokectl" -s "$SOCK" ping >/dev/null 2>&1; do
		if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
			wait "$DAEMON_PID"
			DAEMON_PID=
			return 1
		fi
		if [ "$(date +%s)" -ge "$end" ]; then
			echo "daemon did not come up; log:" >&2
			cat "$TMP/revokd.log" >&2
			exit 1
		fi
		sleep 0.02
	done
}

# mstart_tcp HOST ARGS...: mstart on HOST:PORT with a free port (another
# one if it was taken in between); sets MADDR.
mstart_tcp() {
	local host=$1 i
	shift
	for i in 1 2 3 4 5; do
		MADDR=$host:$($MET freeport)
		mstart "$MADDR" "$@" && return 0
		tail -n 3 "$TMP/revokd.log" |
		    grep -q 'Address already in use' || break
	done
	echo "daemon with --metrics $MADDR did not come up; log:" >&2
	cat "$TMP/revokd.log" >&2
	exit 1
}

# m FILE SERIES: the value of SERIES in scrape output FILE (empty if none).
m() {
	awk -F '\t' -v s="$2" '$1 == s { print $2 }' "$1"
}

# delta SERIES: its value in $TMP/s1 minus that in $TMP/s0 (integers).
delta() {
	echo $(( $(m "$TMP/s1" "$1") - $(m "$TMP/s0" "$1") ))
}

# cmd COMMAND RESULT: the series of revokd_commands_total.
cmd() {
	echo "revokd_commands_total{command=\"$1\",result=\"$2\"}"
}

# scrape_to FILE NAME: scrape $MADDR into FILE, recording ok or not_ok.
scrape_to() {
	if $MET "$MADDR" scrape >"$1" 2>"$TMP/scrape.err"; then
		ok "$2: well-formed"
	else
		not_ok "$2: well-formed" "$(cat "$TMP/scrape.err")"
	fi
}

# metric_is SERIES VALUE: a fresh scrape has SERIES at VALUE.
metric_is() {
	$MET "$MADDR" scrape >"$TMP/poll" 2>/dev/null &&
	    [ "$(m "$TMP/poll" "$1")" = "$2" ]
}

# health_is TEXT: /healthz answers "STATUS BODY" TEXT.
health_is() {
	[ "$($MET "$MADDR" get /healthz 2>&1)" = "$1" ]
}

exp=$(( $(date +%s) + 3600 ))

echo "# settings (-n)"
for a in 127.0.0.1:9465 '[::1]:9465' "$TMP/m.sock"; do
	expect_exit "--metrics $a accepted" 0 \
	    "$BIN/revokd" -n -s "$SOCK" -d "$STATE" --metrics "$a"
done
for a in localhost:9465 127.0.0.1 127.0.0.1:0 127.0.0.1:65536 ::1:9465 \
    relative.sock '[::1]9465'; do
	expect_exit "--metrics $a refused" 1 \
	    "$BIN/revokd" -n -s "$SOCK" -d "$STATE" --metrics "$a"
done

echo "# TCP"
mstart_tcp 127.0.0.1
echo "# metrics on $MADDR"
expect_eq "/healthz without Redis: 200 ok" "200 ok" \
    "$($MET "$MADDR" get /healthz)"
scrape_to "$TMP/s0" "first scrape"
expect_eq "Content-Type" "text/plain; version=0.0.4; charset=utf-8" \
    "$($MET "$MADDR" header /metrics GET Content-Type)"

# One connection: 2 REVOKE ok, 1 expired, 1 over max-ttl; 3 CHECK
# revoked, 2 not; UNREVOKE ok then not found; PING.
printf '%s\r\n' "REVOKE r1 $exp" "REVOKE r2 $exp" "REVOKE old 1000" \
    "REVOKE far $(( $(date +%s) + 100 * 86400 ))" "CHECK r1" "CHECK r1" \
    "CHECK r1" "CHECK n1" "CHECK n2" "UNREVOKE r2" "UNREVOKE r2" "PING" |
    redis-cli -s "$SOCK" >"$TMP/replies"
expect_eq "the replies" "OK OK EXPIRED ERR revoked revoked revoked \
not_revoked not_revoked 1 0 PONG" "$(grep -v -x -e jti -e "$exp" -e '' \
    "$TMP/replies" | awk '{ print $1 }' | tr '\n' ' ' | sed 's/ $//')"
conns=1
refused=0
if [ "$(id -u)" = 0 ]; then
	chmod 755 "$TMP"
	chmod 666 "$SOCK"
	printf '%s\r\n' "REVOKE x $exp" "UNREVOKE r1" |
	    setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    redis-cli -s "$SOCK" >"$TMP/replies"
	expect_eq "as nobody: two NOPERM" "NOPERM NOPERM" \
	    "$(awk 'NF { print $1 }' "$TMP/replies" | tr '\n' ' ' |
	    sed 's/ $//')"
	conns=2
	refused=1
else
	echo "# not root: -NOPERM not exercised"
fi
expect_eq "a malformed frame is dropped" closed \
    "$($RAWC "$SOCK" garbage 2>&1)"
expect_within "the clients are gone" 10 metric_is revokd_connections 0
stats_commands=$(redis-cli -s "$SOCK" STATS | grep -A1 -x commands_total |
    tail -1)
scrape_to "$TMP/s1" "second scrape"

expect_eq "CHECK revoked +3" 3 "$(delta "$(cmd CHECK revoked)")"
expect_eq "CHECK not_revoked +2" 2 "$(delta "$(cmd CHECK not_revoked)")"
expect_eq "CHECK error +0" 0 "$(delta "$(cmd CHECK error)")"
expect_eq "REVOKE ok +2" 2 "$(delta "$(cmd REVOKE ok)")"
expect_eq "REVOKE expired +1" 1 "$(delta "$(cmd REVOKE expired)")"
expect_eq "REVOKE error +1" 1 "$(delta "$(cmd REVOKE error)")"
expect_eq "REVOKE pending +0" 0 "$(delta "$(cmd REVOKE pending)")"
expect_eq "REVOKE refused +$refused" $refused \
    "$(delta "$(cmd REVOKE refused)")"
expect_eq "UNREVOKE ok +1" 1 "$(delta "$(cmd UNREVOKE ok)")"
expect_eq "UNREVOKE not_found +1" 1 "$(delta "$(cmd UNREVOKE not_found)")"
expect_eq "UNREVOKE refused +$refused" $refused \
    "$(delta "$(cmd UNREVOKE refused)")"
expect_eq "PING ok +1" 1 "$(delta "$(cmd PING ok)")"
expect_eq "STATS ok +1" 1 "$(delta "$(cmd STATS ok)")"
expect_eq "revokd_writes_refused_total +$((2 * refused))" $((2 * refused)) \
    "$(delta revokd_writes_refused_total)"
expect_eq "the commands add up to STATS commands_total" "$stats_commands" \
    "$(awk -F '\t' '$1 ~ /^revokd_commands_total\{/ { n += $2 }
    END { print n }' "$TMP/s1")"
expect_eq "CHECK duration: +5 observations" 5 \
    "$(delta revokd_check_duration_seconds_count)"
expect_eq "CHECK duration: a sum above 0" 1 \
    "$(awk -v v="$(m "$TMP/s1" revokd_check_duration_seconds_sum)" \
    'BEGIN { print (v > 0) }')"
expect_eq "entries{rule=jti}" 1 "$(m "$TMP/s1" 'revokd_entries{rule="jti"}')"
expect_eq "entries{rule=ban}" 0 "$(m "$TMP/s1" 'revokd_entries{rule="ban"}')"
expect_eq "audit records: +3 (2 REVOKE, 1 UNREVOKE that changed something)" \
    3 "$(delta revokd_audit_records_total)"
expect_range "memory_bytes" 1 1000000000 "$(m "$TMP/s1" revokd_memory_bytes)"
expect_eq "connections 0" 0 "$(m "$TMP/s1" revokd_connections)"
expect_eq "connections_total +$((conns + 2))" $((conns + 2)) \
    "$(delta revokd_connections_total)"
expect_eq "clients_dropped_total +1" 1 "$(delta revokd_clients_dropped_total)"
expect_range "journal log bytes" 1 1000000 \
    "$(m "$TMP/s1" 'revokd_journal_bytes{file="log"}')"
expect_eq "journal snapshot bytes" 0 \
    "$(m "$TMP/s1" 'revokd_journal_bytes{file="snapshot"}')"
expect_range "journal fsyncs" 1 1000 \
    "$(m "$TMP/s1" revokd_journal_fsyncs_total)"
if [ -n "$(m "$TMP/s1" revokd_journal_last_fsync_duration_seconds)" ]; then
	ok "last fsync duration"; else not_ok "last fsync duration" missing; fi
expect_eq "redis_state off 1, others 0" "1 0 0 0" "$(for s in off loading \
    synced degraded; do m "$TMP/s1" "revokd_redis_state{state=\"$s\"}"
    done | tr '\n' ' ' | sed 's/ $//')"
expect_range "start time" $(( $(date +%s) - 300 )) "$(date +%s)" \
    "$(m "$TMP/s1" revokd_start_time_seconds)"
expect_range "uptime" 0 300 "$(m "$TMP/s1" revokd_uptime_seconds)"
version=$("$BIN/revokd" --version | cut -d' ' -f2)
expect_eq "build_info" 1 "$(m "$TMP/s1" "revokd_build_info{version=\"$version\"}")"
expect_eq "config reloads: ok and refused series" "0 0" \
    "$(m "$TMP/s1" 'revokd_config_reloads_total{result="ok"}') $(m "$TMP/s1" \
    'revokd_config_reloads_total{result="refused"}')"

echo "# HTTP"
expect_eq "/other: 404" "404 not found" "$($MET "$MADDR" get /other)"
expect_eq "/: 404" "404 not found" "$($MET "$MADDR" get /)"
expect_eq "POST /metrics: 405" "405 method not allowed" \
    "$($MET "$MADDR" get /metrics POST)"
expect_eq "  ...with Allow" "GET, HEAD" \
    "$($MET "$MADDR" header /metrics POST Allow)"
expect_eq "DELETE /healthz: 405" "405 method not allowed" \
    "$($MET "$MADDR" get /healthz DELETE)"
expect_eq "HEAD /healthz: 200, no body" "200 0" "$($MET "$MADDR" head /healthz)"
expect_eq "HEAD /metrics: 200, no body" "200 0" "$($MET "$MADDR" head /metrics)"
expect_eq "a query string is ignored" \
    "text/plain; version=0.0.4; charset=utf-8" \
    "$($MET "$MADDR" header '/metrics?a=b' GET Content-Type)"
expect_eq "a 100 kB header: 400" 400 \
    "$($MET "$MADDR" bigheader 100000 /healthz)"
expect_eq "50 idle half-requests do not block a scrape" 200 \
    "$($MET "$MADDR" idle 50 /healthz)"
expect_eq "still answering CHECK" not_revoked \
    "$(redis-cli -s "$SOCK" CHECK n1)"
daemon_stop
expect_eq "SIGTERM exit status" 0 $?

if /usr/bin/python3 -c 'import socket
socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
	echo "# IPv6"
	mstart_tcp '[::1]'
	expect_eq "/healthz on $MADDR: 200 ok" "200 ok" \
	    "$($MET "$MADDR" get /healthz)"
	scrape_to "$TMP/s6" "scrape on $MADDR"
	daemon_stop
else
	echo "# no ::1: IPv6 not exercised"
fi

echo "# Unix socket"
MADDR=$TMP/metrics.sock
mstart "$MADDR" || { cat "$TMP/revokd.log"; exit 1; }
expect_eq "its mode" 660 "$(stat -c %a "$MADDR")"
expect_eq "/healthz: 200 ok" "200 ok" "$($MET "$MADDR" get /healthz)"
scrape_to "$TMP/s2" "scrape"
expect_eq "entries from the journal" 1 \
    "$(m "$TMP/s2" 'revokd_entries{rule="jti"}')"
expect_eq "counters start at 0" 0 "$(m "$TMP/s2" "$(cmd CHECK revoked)")"
mkdir -p "$TMP/other"
expect_exit "another daemon cannot take a live metrics socket" 1 \
    "$BIN/revokd" -s "$TMP/other.sock" -d "$TMP/other" --metrics "$MADDR"
if grep -q "metrics: cannot listen on $MADDR" "$TMP/err"; then
	ok "  ...saying so"
else
	not_ok "  ...saying so" "$(cat "$TMP/err")"
fi
expect_eq "the first one still answers" "200 ok" \
    "$($MET "$MADDR" get /healthz)"
daemon_stop
expect_eq "SIGTERM exit status" 0 $?
expect_eq "the metrics socket is removed" no \
    "$([ -e "$MADDR" ] && echo yes || echo no)"

# A fresh state directory: no own writes of the runs above to replay.
STATE=$TMP/state-redis
mkdir -p "$STATE"
WAIT=$SLOW

echo "# Redis unreachable: loading, then degraded"
$MET "$MADDR" watch /healthz $((WAIT + 20 * SLOW)) degraded \
    >"$TMP/watch" 2>&1 &
WPID=$!
mstart "$MADDR" --redis unix:/nonexistent --redis-wait $WAIT ||
    { cat "$TMP/revokd.log"; exit 1; }
wait $WPID
expect_eq "/healthz: 503 loading, then 503 degraded" \
    "503 loading
503 degraded: Redis unreachable" "$(cat "$TMP/watch")"
expect_eq "REVOKE while degraded: PENDING" PENDING \
    "$(redis-cli -s "$SOCK" REVOKE d1 "$exp")"
expect_eq "CHECK while degraded" revoked \
    "$(redis-cli -s "$SOCK" CHECK d1 | head -1)"
scrape_to "$TMP/s3" "scrape while degraded"
expect_eq "redis_state degraded 1, others 0" "0 0 0 1" "$(for s in off \
    loading synced degraded; do m "$TMP/s3" "revokd_redis_state{state=\"$s\"}"
    done | tr '\n' ' ' | sed 's/ $//')"
expect_eq "REVOKE pending 1" 1 "$(m "$TMP/s3" "$(cmd REVOKE pending)")"
expect_eq "REVOKE ok 0" 0 "$(m "$TMP/s3" "$(cmd REVOKE ok)")"
expect_eq "redis_pending_writes 1" 1 \
    "$(m "$TMP/s3" revokd_redis_pending_writes)"
expect_eq "staleness at least the wait" 1 "$(awk -v w=$WAIT \
    -v v="$(m "$TMP/s3" revokd_redis_staleness_seconds)" \
    'BEGIN { print (v >= w) }')"
daemon_stop
expect_eq "SIGTERM exit status" 0 $?

echo "# Redis unreachable with --max-staleness: then stale"
MAXS=$((WAIT + 1))
$MET "$MADDR" watch /healthz $((MAXS + 20 * SLOW)) stale \
    >"$TMP/watch" 2>&1 &
WPID=$!
mstart "$MADDR" --redis unix:/nonexistent --redis-wait $WAIT \
    --max-staleness $MAXS || { cat "$TMP/revokd.log"; exit 1; }
wait $WPID
expect_eq "/healthz: 503 loading, degraded, then stale" \
    "503 loading
503 degraded: Redis unreachable
503 stale: no contact with Redis for" \
    "$(sed 's/\(for\) [0-9]* s$/\1/' "$TMP/watch")"
expect_eq "CHECK answers -STALE then" STALE \
    "$(redis-cli -s "$SOCK" CHECK d1 | awk '{ print $1 }')"
scrape_to "$TMP/s4" "scrape while stale"
expect_eq "CHECK error counted" 1 "$(m "$TMP/s4" "$(cmd CHECK error)")"
expect_eq "max_staleness shown" $MAXS \
    "$(m "$TMP/s4" revokd_redis_max_staleness_seconds)"
daemon_stop
expect_eq "SIGTERM exit status" 0 $?

echo "# Redis up: synced, writes ok; Redis gone: degraded, writes pending"
redis_start
mstart "$MADDR" --redis "$REDIS_URL" || { cat "$TMP/revokd.log"; exit 1; }
expect_within "/healthz: 200 ok once synced" 20 health_is "200 ok"
expect_eq "REVOKE: OK" OK "$(redis-cli -s "$SOCK" REVOKE s1 "$exp")"
expect_eq "UNREVOKE: 1" 1 "$(redis-cli -s "$SOCK" UNREVOKE s1)"
scrape_to "$TMP/s5" "scrape while synced"
expect_eq "redis_state synced 1, others 0" "0 0 1 0" "$(for s in off \
    loading synced degraded; do m "$TMP/s5" "revokd_redis_state{state=\"$s\"}"
    done | tr '\n' ' ' | sed 's/ $//')"
expect_eq "REVOKE ok 1, pending 0" "1 0" "$(m "$TMP/s5" "$(cmd REVOKE ok)") \
$(m "$TMP/s5" "$(cmd REVOKE pending)")"
expect_eq "UNREVOKE ok 1, pending 0" "1 0" "$(m "$TMP/s5" \
    "$(cmd UNREVOKE ok)") $(m "$TMP/s5" "$(cmd UNREVOKE pending)")"
expect_eq "nothing pending" 0 "$(m "$TMP/s5" revokd_redis_pending_writes)"
expect_range "a reload counted" 1 100 \
    "$(m "$TMP/s5" revokd_redis_reloads_total)"
redis_kill
expect_within "/healthz: 503 degraded" 20 health_is \
    "503 degraded: Redis unreachable"
expect_eq "REVOKE: PENDING" PENDING "$(redis-cli -s "$SOCK" REVOKE s2 "$exp")"
expect_eq "UNREVOKE: PENDING" PENDING "$(redis-cli -s "$SOCK" UNREVOKE s2)"
scrape_to "$TMP/s5" "scrape after Redis went away"
expect_eq "REVOKE ok 1, pending 1" "1 1" "$(m "$TMP/s5" "$(cmd REVOKE ok)") \
$(m "$TMP/s5" "$(cmd REVOKE pending)")"
expect_eq "UNREVOKE ok 1, pending 1" "1 1" "$(m "$TMP/s5" \
    "$(cmd UNREVOKE ok)") $(m "$TMP/s5" "$(cmd UNREVOKE pending)")"
daemon_stop
expect_eq "SIGTERM exit status" 0 $?
finish_n
