#!/usr/bin/env bash
# revokectl against the real daemon: outputs and exit codes
# (0 done / not revoked / valid, 1 revoked or invalid, 2 usage,
# 3 daemon unreachable, loading or stale), plus the daemon's own command
# line; and against fakeserver.py for a daemon's replication replies.
. "$(dirname "$0")/lib.sh"
CTL="$BIN/revokectl"
D=("$BIN/revokd" --state-dir "$STATE")
FAKE_SOCK=$TMP/fake-repl.sock
FAKE_PID=

# Kill fakeserver.py if a failure left it running, then lib.sh's cleanup.
fake_kill() {
	if [ -n "$FAKE_PID" ] && kill -0 "$FAKE_PID" 2>/dev/null; then
		kill -KILL "$FAKE_PID" 2>/dev/null
		wait "$FAKE_PID" 2>/dev/null
	fi
	return 0
}
trap 'fake_kill; cleanup' EXIT

# fake_start CMD=REPLY...: fakeserver.py on $FAKE_SOCK answering by the
# script; its socket appears (renamed into place) once it listens.
fake_start() {
	/usr/bin/python3 "$(dirname "$0")/fakeserver.py" "$FAKE_SOCK" "$@" \
	    2>>"$TMP/fake.log" &
	FAKE_PID=$!
	if ! wait_for test -S "$FAKE_SOCK"; then
		echo "fakeserver did not come up; log:" >&2
		cat "$TMP/fake.log" >&2
		exit 1
	fi
}

# The daemon's command line.
expect_exit "revokd -n" 0 "${D[@]}" -n --socket "$SOCK"
expect_eq "revokd -n says OK" "configuration OK" "$(cat "$TMP/err")"
expect_exit "revokd -n, missing socket dir" 1 "${D[@]}" -n --socket "$TMP/no/such/dir/s"
expect_exit "revokd -n, abstract socket" 1 "${D[@]}" -n --socket @revokd
expect_exit "revokd -n, missing state dir" 1 "$BIN/revokd" -n --socket "$SOCK" --state-dir "$TMP/nostate"
expect_exit "revokd unknown option" 2 "${D[@]}" --bogus
expect_exit "revokd --max-ttl bad" 2 "${D[@]}" -n --max-ttl 5x
expect_exit "revokd --exp-grace bad" 2 "${D[@]}" -n --exp-grace -1
expect_exit "revokd --version" 0 "${D[@]}" --version
expect_exit "revokd --help" 0 "${D[@]}" --help
expect_eq "revokd --help on stdout" "usage:" "$(head -c 6 "$TMP/out")"
: > "$TMP/notasocket"
expect_exit "revokd refuses to replace a non-socket" 1 "${D[@]}" --socket "$TMP/notasocket"
expect_eq "non-socket file kept" "kept" "$([ -f "$TMP/notasocket" ] && echo kept)"

expect_exit "ping, no daemon" 3 "$CTL" ping
expect_eq "ping, no daemon, one line" "daemon_unavailable" "$(cut -d' ' -f1 < "$TMP/out")"
long=$TMP/$(head -c 120 /dev/zero | tr '\0' d)/s
expect_exit "socket path too long" 2 "$CTL" -s "$long" ping
expect_eq "socket path too long, one line" "usage_error" "$(cut -d' ' -f1 < "$TMP/out")"

# A peer that answers +OK to everything: CHECK's reply makes no sense.
python3 -c 'import os, socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)
os.write(1, b"up\n")
c, _ = s.accept(); c.recv(4096); c.sendall(b"+OK\r\n"); c.close()' "$TMP/fake.sock" > "$TMP/fake.up" &
fake=$!
wait_for grep -q up "$TMP/fake.up"
expect_exit "protocol error" 3 "$CTL" -s "$TMP/fake.sock" check j1
expect_eq "protocol error, one line" "protocol_error" "$(cut -d' ' -f1 < "$TMP/out")"
wait "$fake"

daemon_start
expect_eq "socket mode 0660" "660" "$(stat -c %a "$SOCK")"
expect_exit "second daemon on a live socket" 1 "${D[@]}" --socket "$SOCK"
expect_exit "first daemon still serves" 0 "$CTL" ping
expect_eq "ping output" "pong" "$(cat "$TMP/out")"

now=$(date +%s)
expect_exit "check unknown" 0 "$CTL" check j1
expect_eq "check unknown output" "not_revoked" "$(cat "$TMP/out")"
expect_exit "revoke --ttl" 0 "$CTL" revoke j1 --ttl 2h --reason "stolen laptop"
expect_eq "revoke output" "ok" "$(cut -d' ' -f1 < "$TMP/out")"
expect_exit "check revoked" 1 "$CTL" check j1
expect_eq "check revoked output" "revoked rule=jti" "$(cut -d' ' -f1-2 < "$TMP/out")"
until=$(grep -o 'until=[0-9]*' "$TMP/out" | cut -d= -f2)
expect_range "until is now + 2h" $((now + 7200)) $((now + 7202)) "$until"
expect_eq "check shows the reason" 'reason="stolen laptop"' "$(grep -o 'reason=.*' "$TMP/out")"
expect_exit "check, other issuer" 0 "$CTL" check j1 --iss https://idp
expect_exit "revoke --exp --iss" 0 "$CTL" revoke j2 --exp $((now + 600)) --iss https://idp
expect_exit "check --iss" 1 "$CTL" check j2 --iss https://idp
expect_exit "check without iss" 0 "$CTL" check j2
expect_exit "revoke with exp past the grace" 0 "$CTL" revoke j3 --exp $((now - 301))
expect_eq "revoke with past exp output" "expired" "$(cut -d' ' -f1 < "$TMP/out")"
expect_exit "revoke beyond max-ttl" 2 "$CTL" revoke j4 --ttl 31d
expect_eq "revoke beyond max-ttl, one line" "refused ERR exp is more than 2592000 seconds away (max-ttl)" "$(cat "$TMP/out")"
expect_exit "revoke without exp" 2 "$CTL" revoke j4
expect_exit "revoke with both --exp and --ttl" 2 "$CTL" revoke j4 --exp $((now + 60)) --ttl 1h
expect_exit "revoke bad duration" 2 "$CTL" revoke j4 --ttl 10y
expect_exit "check, jti over 256 bytes" 2 "$CTL" check "$(head -c 257 /dev/zero | tr '\0' x)"
expect_exit "unknown command" 2 "$CTL" frobnicate
expect_exit "check without jti" 2 "$CTL" check
expect_exit "option not for the command" 2 "$CTL" check j1 --ttl 1h
expect_exit "unrevoke" 0 "$CTL" unrevoke j1
expect_eq "unrevoke output" "unrevoked" "$(cat "$TMP/out")"
expect_exit "unrevoke again" 0 "$CTL" unrevoke j1
expect_eq "unrevoke again output" "not_found" "$(cat "$TMP/out")"
expect_exit "check after unrevoke" 0 "$CTL" check j1
expect_exit "stats" 0 "$CTL" stats
expect_eq "stats entries" "entries=1" "$(grep -o 'entries=[0-9]*' "$TMP/out")"

# Tokens: minted with PyJWT (an independent implementation).
head -c 48 /dev/urandom | base64 | tr -d '\n' > "$TMP/secret"
mint() { # mint CLAIMS_JSON [SECRET_FILE] [ALG]
	/usr/bin/python3 -c 'import json, sys, jwt
print(jwt.encode(json.loads(sys.argv[1]), open(sys.argv[2], "rb").read(),
    algorithm=sys.argv[3]))' "$1" "${2:-$TMP/secret}" "${3:-HS256}"
}
tok=$(mint "{\"jti\":\"t1\",\"iss\":\"https://idp\",\"sub\":\"alice\",\"exp\":$((now + 900))}")
expect_exit "verify valid (stdin)" 0 "$CTL" verify - --alg HS256 --key "$TMP/secret" <<<"$tok"
expect_eq "verify valid output" "valid" "$(cat "$TMP/out")"
expect_exit "verify wrong alg pinned" 1 "$CTL" verify - --alg HS512 --key "$TMP/secret" <<<"$tok"
expect_eq "verify wrong alg output" "wrong_algorithm" "$(cat "$TMP/out")"
expect_exit "verify --iss mismatch" 1 "$CTL" verify - --alg HS256 --key "$TMP/secret" --iss https://else <<<"$tok"
expect_eq "verify --iss mismatch output" "wrong_issuer" "$(cat "$TMP/out")"
head -c 48 /dev/urandom | base64 | tr -d '\n' > "$TMP/other"
expect_exit "verify other key" 1 "$CTL" verify - --alg HS256 --key "$TMP/other" <<<"$tok"
expect_eq "verify other key output" "bad_signature" "$(cat "$TMP/out")"
: > "$TMP/empty"
expect_exit "verify with an empty key file" 2 "$CTL" verify - --alg HS256 --key "$TMP/empty" <<<"$tok"
none=$(python3 -c 'import base64, json, sys
b = lambda o: base64.urlsafe_b64encode(json.dumps(o).encode()).rstrip(b"=").decode()
print(b({"alg": "none", "typ": "JWT"}) + "." + b(json.loads(sys.argv[1])) + ".")' \
    "{\"jti\":\"t1\",\"exp\":$((now + 900))}")
expect_exit "verify alg none" 1 "$CTL" verify - --alg HS256 --key "$TMP/secret" <<<"$none"
expect_eq "verify alg none output" "wrong_algorithm" "$(cat "$TMP/out")"
expect_exit "revoke-token (stdin)" 0 "$CTL" revoke-token - --reason logout <<<"$tok"
expect_exit "check the token's jti and iss" 1 "$CTL" check t1 --iss https://idp
expect_eq "revoke-token used the token's exp" "until=$((now + 900))" "$(grep -o 'until=[0-9]*' "$TMP/out")"
expect_exit "verify revoked token" 1 "$CTL" verify - --alg HS256 --key "$TMP/secret" <<<"$tok"
expect_eq "verify revoked output" "revoked" "$(cut -d' ' -f1 < "$TMP/out")"
expect_exit "revoke-token garbage" 2 "$CTL" revoke-token - <<<"not.a.token"
nojti=$(mint "{\"sub\":\"bob\",\"exp\":$((now + 900))}")
expect_exit "revoke-token without jti" 2 "$CTL" revoke-token "$nojti"
expect_exit "stats count" 0 "$CTL" stats
expect_eq "stats after tokens" "entries=2" "$(grep -o 'entries=[0-9]*' "$TMP/out")"

# The README's C example, run: RS256 with a fresh key pair.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$TMP/rsa.pem" 2>/dev/null
openssl pkey -in "$TMP/rsa.pem" -pubout -out "$TMP/rsa.pub"
rs=$(mint "{\"jti\":\"ex1\",\"iss\":\"https://idp.example.com\",\"exp\":$((now + 900))}" "$TMP/rsa.pem" RS256)
expect_exit "README example: valid" 0 "$BIN/example_verify_check" "$TMP/rsa.pub" <<<"$rs"
expect_eq "README example: valid output" "valid" "$(cat "$TMP/out")"
expect_exit "README example: revoke it" 0 "$CTL" revoke ex1 --iss https://idp.example.com --ttl 1h
expect_exit "README example: revoked" 1 "$BIN/example_verify_check" "$TMP/rsa.pub" <<<"$rs"
expect_eq "README example: revoked output" "revoked" "$(cat "$TMP/out")"
# PyJWT refuses a PEM as an HMAC secret, so forge this one by hand.
forged=$(python3 -c 'import base64, hashlib, hmac, json, sys
b = lambda d: base64.urlsafe_b64encode(d).rstrip(b"=").decode()
si = b(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + b(sys.argv[2].encode())
print(si + "." + b(hmac.new(open(sys.argv[1], "rb").read(), si.encode(), hashlib.sha256).digest()))' \
    "$TMP/rsa.pub" "{\"jti\":\"ex2\",\"iss\":\"https://idp.example.com\",\"exp\":$((now + 900))}")
expect_exit "README example: HS256 with the public key as secret" 1 \
    "$BIN/example_verify_check" "$TMP/rsa.pub" <<<"$forged"
expect_eq "README example: key confusion refused" "wrong_algorithm" "$(cat "$TMP/out")"

# A daemon restart: the library reconnects on the next call.
kill -KILL "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null; DAEMON_PID=
expect_exit "verify, daemon down" 3 "$CTL" verify - --alg HS256 --key "$TMP/secret" <<<"$tok"
expect_eq "verify, daemon down output" "daemon_unavailable" "$(cut -d' ' -f1 < "$TMP/out")"
daemon_start
expect_exit "stale socket replaced on restart" 0 "$CTL" ping

daemon_stop
expect_eq "SIGTERM exit status" "0" "$?"

# A daemon that replicates to Redis: writes stored while Redis is away
# (+PENDING) are successes; a daemon loading or stale cannot answer.
# Each command's scripted replies are used in turn, the last one after.
loading="LOADING revokd is loading the blocklist"
stale="STALE no contact with Redis for 42 s (max 30 s)"
fake_start 'REVOKE=+PENDING\r\n' 'UNREVOKE=+PENDING\r\n' 'UNREVOKE=:0\r\n' \
    "CHECK=-$loading\\r\\n" "CHECK=-$stale\\r\\n" "PING=-$loading\\r\\n"
F=("$CTL" -s "$FAKE_SOCK")
expect_exit "revoke, replication pending" 0 "${F[@]}" revoke j1 --exp $((now + 600))
expect_eq "revoke, replication pending output" \
    "ok revoked (replication pending) until=$((now + 600))" "$(cat "$TMP/out")"
expect_exit "revoke-token, replication pending" 0 "${F[@]}" revoke-token - <<<"$tok"
expect_eq "revoke-token, replication pending output" \
    "ok revoked (replication pending) until=$((now + 900))" "$(cat "$TMP/out")"
expect_exit "unrevoke, replication pending" 0 "${F[@]}" unrevoke j1
expect_eq "unrevoke, replication pending output" \
    "unrevoked (replication pending)" "$(cat "$TMP/out")"
expect_exit "unrevoke, none" 0 "${F[@]}" unrevoke j1
expect_eq "unrevoke, none output" "not_found" "$(cat "$TMP/out")"
expect_exit "check, daemon loading" 3 "${F[@]}" check j1
expect_eq "check, daemon loading output" "daemon_unavailable $loading" "$(cat "$TMP/out")"
expect_eq "check, daemon loading stderr" "error: daemon cannot answer now: $loading" \
    "$(cat "$TMP/err")"
expect_exit "check, daemon stale" 3 "${F[@]}" check j1 --iss https://idp
expect_eq "check, daemon stale output" "daemon_unavailable $stale" "$(cat "$TMP/out")"
expect_eq "check, daemon stale stderr" "error: daemon cannot answer now: $stale" \
    "$(cat "$TMP/err")"
expect_exit "verify, daemon stale" 3 "${F[@]}" verify - --alg HS256 --key "$TMP/secret" <<<"$tok"
expect_eq "verify, daemon stale output" "daemon_unavailable $stale" "$(cat "$TMP/out")"
expect_eq "verify, daemon stale stderr" "error: daemon cannot answer now: $stale" \
    "$(cat "$TMP/err")"
expect_exit "ping, daemon loading" 3 "${F[@]}" ping
expect_eq "ping, daemon loading output" "daemon_unavailable $loading" "$(cat "$TMP/out")"
kill -TERM "$FAKE_PID"
wait "$FAKE_PID"
expect_eq "fakeserver SIGTERM exit status" "0" "$?"
FAKE_PID=

finish
