#!/usr/bin/env bash
# revokd driven by foreign RESP clients: redis-cli, redis-cli --pipe, and
# raw sockets that pipeline, send garbage or never read their replies.
. "$(dirname "$0")/lib.sh"
RAW="python3 $(dirname "$0")/rawclient.py $SOCK"
R="redis-cli -s $SOCK"

daemon_start --client-timeout 1
now=$(date +%s)
exp=$((now + 3600))

expect_eq "PING" "PONG" "$($R PING)"
expect_eq "PING msg" "hello" "$($R PING hello)"
expect_eq "CHECK unknown" "not_revoked" "$($R CHECK abc)"
expect_eq "REVOKE" "OK" "$($R REVOKE abc $exp REASON logout)"
expect_eq "CHECK revoked" "revoked
jti
$exp
logout" "$($R CHECK abc)"
expect_eq "CHECK lowercase command" "revoked" "$($R check abc | head -1)"
expect_eq "CHECK other issuer" "not_revoked" "$($R CHECK abc ISS https://other)"
expect_eq "REVOKE with ISS" "OK" "$($R REVOKE abc $exp ISS https://idp)"
expect_eq "CHECK with ISS" "revoked" "$($R CHECK abc ISS https://idp | head -1)"
expect_eq "REVOKE past exp + grace" "EXPIRED" "$($R REVOKE old $((now - 301)))"
expect_eq "CHECK after past exp + grace" "not_revoked" "$($R CHECK old)"
expect_eq "REVOKE within the grace" "OK" "$($R REVOKE recent $((now - 10)))"
expect_eq "CHECK within the grace" "revoked" "$($R CHECK recent | head -1)"
expect_eq "REVOKE beyond max-ttl" \
    "ERR exp is more than 2592000 seconds away (max-ttl)" \
    "$($R REVOKE far $((now + 40 * 86400)))"
expect_eq "CHECK after refused REVOKE" "not_revoked" "$($R CHECK far)"
expect_eq "REVOKE bad exp" "ERR exp is not an integer" "$($R REVOKE x 12a)"
expect_eq "unknown command keeps the connection" "PONG" \
    "$(printf 'FOO\nPING\n' | $R | tail -1)"
expect_eq "UNREVOKE" "1" "$($R UNREVOKE abc)"
expect_eq "UNREVOKE again" "0" "$($R UNREVOKE abc)"
expect_eq "CHECK after UNREVOKE" "not_revoked" "$($R CHECK abc)"
expect_eq "ISS entry kept" "revoked" "$($R CHECK abc ISS https://idp | head -1)"
expect_eq "QUIT" "OK" "$($R QUIT)"

# redis-cli --pipe: 20000 REVOKEs in one stream, every reply OK.
expect_eq "redis-cli --pipe" "errors: 0, replies: 20000" \
    "$(pipe_revokes bulk- 20000 "$exp")"
expect_eq "piped entries enforced" "revoked" "$($R CHECK bulk-12345 | head -1)"
entries=$($R STATS | grep -A1 '^entries$' | tail -1)
expect_eq "STATS entries" "20002" "$entries"

# Raw pipelining: replies in request order.
expect_eq "raw pipeline of 1000" "ok 1000" "$($RAW pipeline 1000)"
expect_eq "inline PING" "b'+PONG\\r\\n' OPEN" "$($RAW send 'PING\r\n')"

# Framing errors: one -ERR, then the connection is closed.
out=$($RAW send '*33\r\n')
expect_eq "33 arguments refused and closed" \
    "b'-ERR Protocol error: too many arguments (max 32)\\r\\n' EOF" "$out"
big=$(head -c 257 /dev/zero | tr '\0' j)
out=$($RAW send "*2\\r\\n\$5\\r\\nCHECK\\r\\n\$257\\r\\n$big\\r\\n")
expect_eq "jti over 256 bytes refused and closed" \
    "b'-ERR jti too long (max 256 bytes)\\r\\n' EOF" "$out"
out=$($RAW send '*1\r\n$99999\r\n')
expect_eq "frame over 64 KiB refused and closed" "EOF" "${out##* }"

# A misbehaving client is dropped; a client connected before it and one
# connecting after it are both served.
coproc KEEP { $R; }
echo PING >&"${KEEP[1]}"
read -r line <&"${KEEP[0]}"
expect_eq "first client served" "PONG" "$line"
expect_eq "garbage client disconnected" "closed" "$($RAW garbage)"
# Read a CHECK reply (4 lines when revoked) from the kept client.
kept_check() {
	echo "CHECK $1" >&"${KEEP[1]}"
	read -r line <&"${KEEP[0]}"
	if [ "$line" = revoked ]; then
		read -r _ <&"${KEEP[0]}"; read -r _ <&"${KEEP[0]}"; read -r _ <&"${KEEP[0]}"
	fi
}
kept_check bulk-1
expect_eq "earlier client still served" "revoked" "$line"
expect_eq "new client served" "PONG" "$($R PING)"

# A client that starts a request and never finishes it is dropped after
# --client-timeout (1 s here), well before 15 s of silence.
expect_eq "unfinished request dropped" "b'' EOF" \
    "$($RAW send '*2\r\n$5\r\nCHECK\r\n$3\r\nab' 15)"

# A client that never reads its replies is dropped after --client-timeout.
dropped_before=$($R STATS | grep -A1 '^clients_dropped$' | tail -1)
expect_eq "non-reading client dropped" "dropped" "$($RAW noread 1000000)"
dropped_after=$($R STATS | grep -A1 '^clients_dropped$' | tail -1)
expect_eq "drop counted" "1" "$((dropped_after - dropped_before))"
kept_check bulk-2
expect_eq "earlier client served after the drop" "revoked" "$line"
exec {KEEP[1]}>&-

daemon_stop
expect_eq "SIGTERM exit status" "0" "$?"

# Expiry in the daemon: with no grace, an entry is refused until its exp,
# then the sweep frees it (entries back to 0) without any command.
rm -f "$STATE"/journal.*
daemon_start --exp-grace 0
soon=$(( $(date +%s) + 2 ))
expect_eq "REVOKE expiring soon" "OK" "$($R REVOKE soon $soon)"
expect_eq "revoked before exp" "revoked" "$($R CHECK soon | head -1)"
stats_entries() { $R STATS | grep -A1 '^entries$' | tail -1; }
expect_eq "one entry" "1" "$(stats_entries)"
entry_gone() { [ "$(stats_entries)" = 0 ]; }
if wait_for entry_gone; then ok "entry freed after exp"; else
	not_ok "entry freed after exp" "entries=$(stats_entries)"; fi
expect_range "freed at or after exp" "$soon" 2000000000 "$(date +%s)"
expect_eq "not revoked after exp" "not_revoked" "$($R CHECK soon)"
daemon_stop
expect_eq "socket removed on exit" "absent" "$([ -e "$SOCK" ] && echo present || echo absent)"
finish
