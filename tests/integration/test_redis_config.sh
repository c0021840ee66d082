#!/usr/bin/env bash
# Redis settings: URL forms and their errors, -n, AUTH with a password
# file (right and wrong), TCP, a database number, and a key prefix with
# glob characters that keeps two deployments apart in one Redis.
. "$(dirname "$0")/lib.sh"

exp=$(( $(date +%s) + 3600 ))

echo "# -n and bad settings"
expect_exit "-n: unix URL is fine" 0 \
    "$BIN/revokd" -n -s "$TMP/n.sock" -d "$STATE" --redis unix:/nonexistent/r.sock
expect_exit "-n: a sentinel URL is fine" 0 \
    "$BIN/revokd" -n -s "$TMP/n.sock" -d "$STATE" \
    --redis 'sentinel://10.0.0.1:26379,[::1]:26380,s3.example:26381/revokd'
for url in 'bogus://x' 'unix:relative' 'redis://' 'redis://h:0' \
    'redis://h:65536' 'redis://h:12x' 'redis://h:1/x' 'redis://u:p@h' \
    "unix:/$(printf 'x%.0s' $(seq 1 120))" 'sentinel://h:1' \
    'sentinel://h:1/' 'sentinel:///m' 'sentinel://h/m' 'sentinel://h:0/m' \
    'sentinel://h:1,/m' 'sentinel://u:p@h:1/m' 'sentinel://[::1:1/m' \
    "sentinel://$(printf 'h:1,%.0s' $(seq 1 17))h:1/m"; do
	expect_exit "-n refuses --redis $url" 1 \
	    "$BIN/revokd" -n -s "$TMP/n.sock" -d "$STATE" --redis "$url"
	if grep -q "redis: " "$TMP/err"; then ok "  ...saying why"; else
		not_ok "  ...saying why" "$(cat "$TMP/err")"; fi
done
expect_exit "--redis-password-file needs --redis" 1 \
    "$BIN/revokd" -n -s "$TMP/n.sock" -d "$STATE" --redis-password-file /dev/null
expect_exit "--sentinel-password-file needs a sentinel URL" 1 \
    "$BIN/revokd" -n -s "$TMP/n.sock" -d "$STATE" --redis unix:/x/r.sock \
    --sentinel-password-file "$0"
expect_exit "a bad --redis-read-replica" 1 \
    "$BIN/revokd" -n -s "$TMP/n.sock" -d "$STATE" --redis unix:/x/r.sock \
    --redis-read-replica redis://h:0
expect_exit "a missing password file" 1 \
    "$BIN/revokd" -n -s "$TMP/n.sock" -d "$STATE" --redis unix:/x/r.sock \
    --redis-password-file "$TMP/none"
printf '\n' >"$TMP/empty.pass"
expect_exit "an empty password file" 1 \
    "$BIN/revokd" -n -s "$TMP/n.sock" -d "$STATE" --redis unix:/x/r.sock \
    --redis-password-file "$TMP/empty.pass"
expect_exit "an empty --key-prefix" 2 \
    "$BIN/revokd" -n -s "$TMP/n.sock" -d "$STATE" --redis unix:/x/r.sock \
    --key-prefix ''
for opt in --redis-wait=x --redis-timeout=0 --max-staleness=-1 \
    --stream-maxlen=0 --redis-replicas=-1 --redis-replicas=101; do
	expect_exit "bad $opt" 2 "$BIN/revokd" -n -s "$TMP/n.sock" -d "$STATE" \
	    --redis unix:/x/r.sock "$opt"
done
expect_eq "-n created no origin id" "" "$(ls "$STATE")"

echo "# a password-protected Redis on TCP"
printf 's3cret pass\n' >"$TMP/good.pass"
printf 'wrong\n' >"$TMP/bad.pass"
# redis-cli reads the password from the environment, never argv.
rcli() {
	REDISCLI_AUTH='s3cret pass' redis-cli -s "$REDIS_SOCK" "$@"
}
# A free port: Redis refuses one in use; try a few.
for try in 1 2 3 4 5 6 7 8; do
	PORT=$(( 20000 + RANDOM % 30000 ))
	if ! (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
done
redis_start --port "$PORT" --bind 127.0.0.1 --requirepass 's3cret pass'
daemon_start_n A --redis "redis://127.0.0.1:$PORT" \
    --redis-password-file "$TMP/good.pass"
expect_within "A (right password, TCP) synced" 10 synced A
expect_eq "REVOKE on A: +OK" OK "$(dcli A REVOKE a1 "$exp")"
expect_eq "the key is in Redis db 0" 1 "$(rcli EXISTS "revokd:j:0:a1")"
if grep -q 's3cret' "$(dlog A)"; then not_ok "the password is not logged" \
    "$(grep s3cret "$(dlog A)")"; else ok "the password is not logged"; fi

daemon_start_n B --redis "redis://127.0.0.1:$PORT" \
    --redis-password-file "$TMP/bad.pass" --redis-wait 1
expect_within "B (wrong password) serves degraded after --redis-wait" 10 \
    stat_is B redis_state degraded
if grep -q -i -e WRONGPASS -e 'invalid' "$(dlog B)"; then
	ok "B logs Redis's refusal"
else
	not_ok "B logs Redis's refusal" "$(tail -5 "$(dlog B)")"
fi
expect_eq "B logs the outage once" 1 "$(grep -c 'retrying' "$(dlog B)")"
expect_eq "REVOKE on B: +PENDING" PENDING "$(dcli B REVOKE b1 "$exp")"
expect_eq "nothing of B's reached Redis" 0 "$(rcli EXISTS "revokd:j:0:b1")"

echo "# a write Redis refuses is retried, in order, until it succeeds"
rcli HSET "revokd:j:0:bad" f v >/dev/null
expect_eq "REVOKE bad on A (its key is a hash): +PENDING" PENDING \
    "$(dcli A REVOKE bad "$exp")"
expect_eq "REVOKE after it on A: +PENDING too" PENDING \
    "$(dcli A REVOKE after "$exp")"
expect_eq "A enforces both" "revoked revoked" \
    "$(dcli A CHECK bad | head -1) $(dcli A CHECK after | head -1)"
expect_eq "Redis has neither write" "hash 0" \
    "$(rcli TYPE revokd:j:0:bad) $(rcli EXISTS revokd:j:0:after)"
if grep -q "WRONGTYPE" "$(dlog A)"; then ok "A logs Redis's error"; else
	not_ok "A logs Redis's error" "$(tail -3 "$(dlog A)")"; fi
rcli DEL "revokd:j:0:bad" >/dev/null
expect_within "A delivers them once the key is fixed" 20 \
    redis_converged A
expect_eq "both are in Redis" "string 1" \
    "$(rcli TYPE revokd:j:0:bad) $(rcli EXISTS revokd:j:0:after)"
expect_eq "in order in the stream" "bad after" "$(rcli XRANGE revokd:stream - + |
    grep -A1 -x jti | grep -v -x -e jti -e -- | tail -2 | tr '\n' ' ' |
    sed 's/ $//')"

echo "# a state directory restored without its journal, origin id kept"
daemon_stop_n A
expect_eq "A: SIGTERM exit status" 0 $?
rm -f "$(dstate A)"/journal.*
daemon_start_n A --redis "redis://127.0.0.1:$PORT" \
    --redis-password-file "$TMP/good.pass"
expect_within "A synced again" 10 synced A
expect_eq "A reloaded its entries from Redis" "revoked" \
    "$(dcli A CHECK a1 | head -1)"
expect_eq "REVOKE on A: +OK" OK "$(dcli A REVOKE restored1 "$exp")"
expect_eq "and it is really in Redis" 1 "$(rcli EXISTS revokd:j:0:restored1)"
if grep -q "taking a new origin id" "$(dlog A)"; then
	ok "A noticed and took a new origin id"
else
	not_ok "A noticed and took a new origin id" "$(tail -5 "$(dlog A)")"
fi

echo "# a database number and a prefix with glob characters"
daemon_start_n C --redis "redis://127.0.0.1:$PORT/3" \
    --redis-password-file "$TMP/good.pass" --key-prefix 't*x['
expect_within "C synced" 10 synced C
expect_eq "REVOKE on C: +OK" OK "$(dcli C REVOKE c1 "$exp" REASON "in db 3")"
expect_eq "C's key is in db 3 under its prefix" 1 \
    "$(rcli -n 3 EXISTS 't*x[j:0:c1')"
expect_eq "and not in db 0" 0 "$(rcli EXISTS 't*x[j:0:c1')"
expect_eq "A does not see C's revocation" not_revoked "$(dcli A CHECK c1)"
# A key that the glob "t*x[j:*" would match unescaped: must not be loaded.
rcli -n 3 SET 'tZZx[j:0:decoy' "$exp:0:5:decoy" >/dev/null
daemon_start_n D --redis "redis://127.0.0.1:$PORT/3" \
    --redis-password-file "$TMP/good.pass" --key-prefix 't*x['
expect_within "D (fresh, same prefix) synced" 10 synced D
expect_eq "D loaded C's entry from Redis" revoked \
    "$(dcli D CHECK c1 | head -1)"
expect_eq "with its reason" "in db 3" "$(dcli D CHECK c1 | tail -1)"
expect_eq "D did not load the decoy" not_revoked "$(dcli D CHECK decoy)"
expect_eq "D holds one entry" 1 "$(dstat D entries)"

for n in A B C D; do
	daemon_stop_n "$n"
	expect_eq "$n: SIGTERM exit status" 0 $?
done
finish_n
