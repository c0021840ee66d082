#!/usr/bin/env bash
# revokectl against the real daemon: outputs and exit codes
# (0 done / not revoked / valid, 1 revoked or invalid, 2 usage,
# 3 daemon unreachable, loading or stale), --json, the rules of protocol
# 3 (subjects, bans, sessions, issuers), LIST and AUDIT, plus the daemon's
# own command line; and against fakeserver.py for a daemon's replication
# replies and for the exact requests revokectl sends (times, cursors).
. "$(dirname "$0")/lib.sh"
CTL="$BIN/revokectl"
D=("$BIN/revokd" --state-dir "$STATE")
FAKE_SOCK=$TMP/fake-repl.sock
FAKE_PID=
FAKE_REC=$TMP/fake.rec

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
# Every request it receives is recorded in $FAKE_REC (emptied first).
fake_start() {
	: > "$FAKE_REC"
	/usr/bin/python3 "$(dirname "$0")/fakeserver.py" --record "$FAKE_REC" \
	    "$FAKE_SOCK" "$@" 2>>"$TMP/fake.log" &
	FAKE_PID=$!
	if ! wait_for test -S "$FAKE_SOCK"; then
		echo "fakeserver did not come up; log:" >&2
		cat "$TMP/fake.log" >&2
		exit 1
	fi
}

# fake_stop: stop fakeserver.py; it must exit 0.
fake_stop() {
	local rc=0
	kill -TERM "$FAKE_PID"
	wait "$FAKE_PID" || rc=$?
	FAKE_PID=
	expect_eq "fakeserver SIGTERM exit status" "0" "$rc"
}

# requests: the requests fakeserver.py recorded, one a line, arguments
# separated by spaces; then forget them.
requests() {
	/usr/bin/python3 -c 'import sys
sys.path.insert(0, sys.argv[1])
import fakeserver
buf = open(sys.argv[2], "rb").read()
while buf:
    args, buf = fakeserver.parse(buf)
    print(" ".join(a.decode("utf-8", "backslashreplace") for a in args))' \
	    "$(dirname "$0")" "$FAKE_REC"
	: > "$FAKE_REC"
}

# json_get PATH: the value at PATH (keys and array indexes joined by
# dots; "" for the whole document) of the JSON in $TMP/out: strings as
# they are, anything else as JSON. Fails unless stdout is one JSON text.
json_get() {
	/usr/bin/python3 -c 'import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split(".") if sys.argv[2] else []:
    v = v[int(k)] if isinstance(v, list) else v[k]
print(v if isinstance(v, str) else json.dumps(v))' "$TMP/out" "$1"
}

# json_py EXPR: EXPR evaluated by Python with the JSON of $TMP/out as v.
json_py() {
	/usr/bin/python3 -c 'import json, sys
v = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$TMP/out" "$1"
}

# iso UNIX: the time in ISO 8601 UTC, as revokectl prints it.
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }

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
t1=$(date +%s)
expect_exit "revoke --ttl" 0 "$CTL" revoke j1 --ttl 2h --reason "stolen laptop"
t2=$(date +%s)
expect_eq "revoke output" "ok" "$(cut -d' ' -f1 < "$TMP/out")"
expect_exit "check revoked" 1 "$CTL" check j1
expect_eq "check revoked output" "revoked rule=jti" "$(cut -d' ' -f1-2 < "$TMP/out")"
expect_eq "check shows the reason" 'reason="stolen laptop"' "$(grep -o 'reason=.*' "$TMP/out")"
shown=$(grep -o 'until=[^ ]*' "$TMP/out" | cut -d= -f2)
expect_exit "check revoked --json" 1 "$CTL" check j1 --json
until=$(json_get until)
expect_range "until is now + 2h" $((t1 + 7200)) $((t2 + 7200)) "$until"
expect_eq "check shows until in ISO 8601 UTC" "$(iso "$until")" "$shown"
expect_eq "check --json" "revoked jti stolen laptop" \
    "$(json_get outcome) $(json_get rule) $(json_get reason)"
expect_exit "--json before the command" 1 "$CTL" --json check j1
expect_eq "--json before the command: the same" "jti" "$(json_get rule)"
expect_exit "check, other issuer" 0 "$CTL" check j1 --iss https://idp
j2exp=$((now + 600))
expect_exit "revoke --exp --iss" 0 "$CTL" revoke j2 --exp $j2exp --iss https://idp
expect_exit "check --iss" 1 "$CTL" check j2 --iss https://idp
expect_exit "check without iss" 0 "$CTL" check j2
expect_exit "revoke with exp past the grace" 0 "$CTL" revoke j3 --exp $((now - 301))
expect_eq "revoke with past exp output" "expired exp=$(iso $((now - 301)))" "$(cut -d' ' -f1-2 < "$TMP/out")"
expect_exit "revoke --json, expired" 0 "$CTL" revoke j3 --exp $((now - 301)) --json
expect_eq "revoke --json, expired: outcome, rule, until" "expired jti $((now - 301))" \
    "$(json_get outcome) $(json_get rule) $(json_get until)"
expect_exit "revoke --exp ISO 8601" 0 "$CTL" revoke j5 --exp "$(iso $((now + 600)))" --json
expect_eq "revoke --json" "ok false $((now + 600))" \
    "$(json_get outcome) $(json_get pending) $(json_get until)"
expect_exit "revoke output in ISO 8601" 0 "$CTL" revoke j5 --exp $((now + 600))
expect_eq "revoke output in ISO 8601: until" "ok revoked until=$(iso $((now + 600)))" "$(cat "$TMP/out")"
expect_exit "revoke beyond max-ttl" 2 "$CTL" revoke j4 --ttl 31d
expect_eq "revoke beyond max-ttl, one line" "refused ERR exp is more than 2592000 seconds away (max-ttl)" "$(cat "$TMP/out")"
expect_exit "revoke beyond max-ttl --json" 2 "$CTL" revoke j4 --ttl 31d --json
expect_eq "refused --json: outcome and error" \
    "refused ERR exp is more than 2592000 seconds away (max-ttl)" \
    "$(json_get outcome) $(json_get error)"
expect_eq "refused --json: the error on stderr too" \
    "error: refused ERR exp is more than 2592000 seconds away (max-ttl)" "$(cat "$TMP/err")"
expect_exit "revoke without exp" 2 "$CTL" revoke j4
expect_exit "revoke with both --exp and --ttl" 2 "$CTL" revoke j4 --exp $((now + 60)) --ttl 1h
expect_exit "revoke bad duration" 2 "$CTL" revoke j4 --ttl 10y
expect_exit "check, jti over 256 bytes" 2 "$CTL" check "$(head -c 257 /dev/zero | tr '\0' x)"
expect_exit "unknown command" 2 "$CTL" frobnicate
expect_exit "check without jti" 2 "$CTL" check
expect_exit "option not for the command" 2 "$CTL" check j1 --ttl 1h
expect_exit "unrevoke" 0 "$CTL" unrevoke j1
expect_eq "unrevoke output" "unrevoked" "$(cat "$TMP/out")"
expect_exit "unrevoke again" 0 "$CTL" unrevoke j1 --json
expect_eq "unrevoke again --json" "not_found jti" "$(json_get outcome) $(json_get rule)"
expect_exit "check after unrevoke" 0 "$CTL" check j1
expect_exit "check --json, not revoked" 0 "$CTL" check j1 --json
expect_eq "check --json, not revoked" '{"outcome": "not_revoked"}' "$(json_get "")"
expect_exit "unrevoke --reason" 0 "$CTL" unrevoke j5 --reason "wrong token" --json
expect_eq "unrevoke --reason --json" "unrevoked false" "$(json_get outcome) $(json_get pending)"
expect_exit "stats" 0 "$CTL" stats
expect_eq "stats entries" "entries=1" "$(grep -o 'entries=[0-9]*' "$TMP/out")"
expect_exit "stats --json" 0 "$CTL" stats --json
expect_eq "stats --json: entries a number" "stats 1" "$(json_get outcome) $(json_get stats.entries)"
expect_exit "ping --json" 0 "$CTL" ping --json
expect_eq "ping --json" "pong" "$(json_get outcome)"

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
expect_eq "revoke-token used the token's exp" "until=$(iso $((now + 900)))" "$(grep -o 'until=[^ ]*' "$TMP/out")"
expect_exit "verify revoked token" 1 "$CTL" verify - --alg HS256 --key "$TMP/secret" <<<"$tok"
expect_eq "verify revoked output" "revoked" "$(cut -d' ' -f1 < "$TMP/out")"
expect_exit "revoke-token garbage" 2 "$CTL" revoke-token - <<<"not.a.token"
nojti=$(mint "{\"sub\":\"bob\",\"exp\":$((now + 900))}")
expect_exit "revoke-token without jti" 2 "$CTL" revoke-token "$nojti"
expect_exit "stats count" 0 "$CTL" stats
expect_eq "stats after tokens" "entries=2" "$(grep -o 'entries=[0-9]*' "$TMP/out")"

# --- Rules of protocol 3 against the daemon: subjects, bans, sessions,
# issuers; LIST and AUDIT. Times are given as Unix seconds and as ISO 8601.
n3=$(date +%s)
expect_exit "revoke-sub" 0 "$CTL" revoke-sub alice --iss https://idp --reason "logout everywhere"
expect_eq "revoke-sub output" "ok revoked_sub before=now" "$(cat "$TMP/out")"
expect_exit "check, alice's token issued before" 1 "$CTL" check a1 --iss https://idp --sub alice --iat $((n3 - 60))
expect_eq "check names the sub rule, with before" "revoked rule=sub before=" \
    "$(grep -o '^revoked rule=sub before=' "$TMP/out")"
expect_exit "check --json, sub rule" 1 "$CTL" check a1 --iss https://idp --sub alice --iat $((n3 - 60)) --json
expect_eq "check --json, sub rule: rule and reason" "sub logout everywhere" "$(json_get rule) $(json_get reason)"
expect_range "check --json, sub rule: until is the logout time" "$n3" "$(date +%s)" "$(json_get until)"
expect_exit "check, alice's token issued after" 0 "$CTL" check a2 --iss https://idp --sub alice --iat $(( $(date +%s) + 1 ))
expect_exit "check, --iat in ISO 8601" 1 "$CTL" check a2 --iss https://idp --sub alice --iat "$(iso $((n3 - 60)))"
expect_exit "check without --iat: issued at the beginning of time" 1 "$CTL" check a3 --iss https://idp --sub alice
expect_exit "check, alice of another issuer" 0 "$CTL" check a1 --sub alice --iat $((n3 - 60))
expect_exit "check without --sub" 0 "$CTL" check a1 --iss https://idp --iat $((n3 - 60))
expect_exit "logout-all --before ISO 8601" 0 "$CTL" logout-all bob --before "$(iso $((n3 - 100)))" --json
expect_eq "logout-all --json" "ok sub false $((n3 - 100))" \
    "$(json_get outcome) $(json_get rule) $(json_get pending) $(json_get before)"
expect_exit "revoke-sub --json without --before: before null" 0 "$CTL" revoke-sub bob2 --json
expect_eq "revoke-sub --json without --before" "null" "$(json_get before)"
expect_exit "bob's token issued at before" 1 "$CTL" check b1 --sub bob --iat $((n3 - 100))
expect_exit "bob's token issued a second later" 0 "$CTL" check b1 --sub bob --iat $((n3 - 99))
expect_exit "revoke-sub moves forward only" 0 "$CTL" revoke-sub bob --before $((n3 - 200))
expect_exit "revoke-sub moves forward only: still at before" 1 "$CTL" check b1 --sub bob --iat $((n3 - 100))
expect_exit "revoke-sub --before in the future" 2 "$CTL" revoke-sub bob --before $((n3 + 3600))
expect_eq "revoke-sub --before in the future output" "refused ERR BEFORE is in the future" "$(cat "$TMP/out")"
expect_exit "revoke-sub --before long ago" 0 "$CTL" revoke-sub bob --before 2020-01-01T00:00:00Z
expect_eq "revoke-sub --before long ago output" "expired before=2020-01-01T00:00:00Z" \
    "$(cut -d' ' -f1-2 < "$TMP/out")"
expect_exit "revoke-sub, bad time" 2 "$CTL" revoke-sub bob --before 2026-02-30T00:00:00Z
expect_exit "revoke-sub without a subject" 2 "$CTL" revoke-sub

expect_exit "ban --for" 0 "$CTL" ban carol --for 1h --reason abuse --json
expect_eq "ban --json" "ok ban false" "$(json_get outcome) $(json_get rule) $(json_get pending)"
expect_range "ban --for: until is now + 1h" $((n3 + 3600)) $(( $(date +%s) + 3600 )) "$(json_get until)"
expect_exit "check, banned whatever the iat" 1 "$CTL" check c1 --sub carol --iat $((n3 + 10))
expect_eq "check, banned: rule and reason" "revoked rule=ban" "$(cut -d' ' -f1-2 < "$TMP/out")"
expect_eq "check, banned: reason" 'reason="abuse"' "$(grep -o 'reason=.*' "$TMP/out")"
expect_exit "ban without an end" 0 "$CTL" ban dave
expect_eq "ban without an end output" "ok banned until=none" "$(cat "$TMP/out")"
expect_exit "check, ban without an end" 1 "$CTL" check d1 --sub dave --json
expect_eq "check --json, ban without an end: until 0" "ban 0" "$(json_get rule) $(json_get until)"
expect_exit "check, ban without an end: until=none" 1 "$CTL" check d1 --sub dave
expect_eq "check, ban without an end: until=none" "until=none" "$(grep -o 'until=[^ ]*' "$TMP/out")"
expect_exit "unban" 0 "$CTL" unban dave --reason appeal
expect_eq "unban output" "unbanned" "$(cat "$TMP/out")"
expect_exit "unban again" 0 "$CTL" unban dave --json
expect_eq "unban again --json" "not_found ban" "$(json_get outcome) $(json_get rule)"
expect_exit "check after unban" 0 "$CTL" check d1 --sub dave
expect_exit "ban --until ISO 8601 with an offset" 0 "$CTL" ban erin \
    --until "$(date -u -d "@$((n3 + 600 + 7200))" +%Y-%m-%dT%H:%M:%S)+02:00" --json
expect_eq "ban --until with an offset" "$((n3 + 600))" "$(json_get until)"
expect_exit "ban --until and --for" 2 "$CTL" ban erin --until $((n3 + 600)) --for 1h
expect_exit "ban --for, bad duration" 2 "$CTL" ban erin --for 1y
expect_exit "ban --until past the grace" 0 "$CTL" ban erin2 --until $((n3 - 400))
expect_eq "ban --until past the grace output" "expired until=$(iso $((n3 - 400)))" \
    "$(cut -d' ' -f1-2 < "$TMP/out")"
expect_exit "check, ban past the grace stored nothing" 0 "$CTL" check e2 --sub erin2

expect_exit "revoke-session --ttl" 0 "$CTL" revoke-session sess1 --ttl 1h --iss https://idp --reason "logout"
expect_eq "revoke-session output" "ok revoked_sid" "$(cut -d' ' -f1-2 < "$TMP/out")"
expect_exit "check, revoked session" 1 "$CTL" check s1 --iss https://idp --sid sess1 --iat $n3
expect_eq "check, revoked session: rule" "revoked rule=sid" "$(cut -d' ' -f1-2 < "$TMP/out")"
expect_exit "check, other session" 0 "$CTL" check s1 --iss https://idp --sid sess2 --iat $n3
expect_exit "check, same session of another issuer" 0 "$CTL" check s1 --sid sess1 --iat $n3
expect_exit "revoke-session --exp ISO 8601 --json" 0 "$CTL" revoke-session sess3 --exp "$(iso $((n3 + 900)))" --json
expect_eq "revoke-session --json" "ok sid $((n3 + 900))" "$(json_get outcome) $(json_get rule) $(json_get until)"
expect_exit "revoke-session without --exp" 2 "$CTL" revoke-session sess4
expect_exit "revoke-session beyond max-ttl" 2 "$CTL" revoke-session sess4 --ttl 31d

expect_exit "revoke-all without --before" 2 "$CTL" revoke-all --iss https://old-idp
expect_exit "revoke-all with an argument" 2 "$CTL" revoke-all x --before $n3
expect_exit "revoke-all --before ISO 8601" 0 "$CTL" revoke-all --iss https://old-idp \
    --before "$(iso $((n3 - 30)))" --reason "key leaked"
expect_eq "revoke-all output" "ok revoked_iss before=$(iso $((n3 - 30)))" "$(cat "$TMP/out")"
expect_exit "check, issued before the leak" 1 "$CTL" check x1 --iss https://old-idp --iat $((n3 - 31))
expect_eq "check, issued before the leak: rule" "revoked rule=iss before=$(iso $((n3 - 30)))" \
    "$(cut -d' ' -f1-3 < "$TMP/out")"
expect_exit "check, issued after the leak" 0 "$CTL" check x1 --iss https://old-idp --iat $((n3 - 29))
expect_exit "check, no iat: refused by the issuer rule" 1 "$CTL" check x1 --iss https://old-idp
expect_exit "check, no iat: another issuer" 0 "$CTL" check x1 --iss https://idp
expect_exit "revoke-all --before in the future" 2 "$CTL" revoke-all --before $((n3 + 3600))

# LIST: every rule once; in JSON an array of objects.
expect_exit "list" 0 "$CTL" list
expect_eq "list: alice's rule" "sub iss=\"https://idp\" id=\"alice\"" \
    "$(grep '^sub .*"alice"' "$TMP/out" | cut -d' ' -f1-3)"
expect_eq "list: the ban without an end" 'ban iss="" id="carol"' \
    "$(grep '^ban .*"carol"' "$TMP/out" | cut -d' ' -f1-3)"
expect_eq "list: the issuer rule" \
    "iss iss=\"https://old-idp\" id=\"\" before=$(iso $((n3 - 30))) reason=\"key leaked\"" \
    "$(grep '^iss ' "$TMP/out")"
expect_exit "list --json" 0 "$CTL" list --json
expect_eq "list --json: each rule once" "True" \
    "$(json_py 'len(v) == len({(r["kind"], r["iss"], r["id"]) for r in v})')"
expect_eq "list --json: the kinds" "ban iss jti sid sub" \
    "$(json_py '" ".join(sorted({r["kind"] for r in v}))')"
expect_eq "list --json: alice's rule" "logout everywhere" \
    "$(json_py '[r["reason"] for r in v if r["kind"] == "sub" and r["id"] == "alice"][0]')"
expect_eq "list --json: the jti rule" "j2 https://idp $j2exp" \
    "$(json_py '" ".join(str(x) for r in v if r["id"] == "j2" for x in (r["id"], r["iss"], r["time"]))')"
expect_exit "list --type ban" 0 "$CTL" list --type ban --json
expect_eq "list --type ban: bans only" "ban" "$(json_py '" ".join(sorted({r["kind"] for r in v}))')"
expect_exit "list --match" 0 "$CTL" list --match 'sess*' --json
expect_eq "list --match: the sessions" "sess1 sess3" "$(json_py '" ".join(sorted(r["id"] for r in v))')"
expect_exit "list --iss" 0 "$CTL" list --iss https://old-idp --json
expect_eq "list --iss: that issuer's rules only" "iss" "$(json_py '" ".join(r["kind"] for r in v)')"
expect_exit "list --type unknown" 2 "$CTL" list --type frob
expect_eq "list --type unknown output" "refused ERR unknown rule kind 'frob'" "$(cat "$TMP/out")"

# AUDIT: the newest records first, every write with its reason.
expect_exit "audit --json" 0 "$CTL" audit --count 100 --json
expect_eq "audit --json: newest first" "True" \
    "$(json_py 'all(a["time"] >= b["time"] for a, b in zip(v, v[1:]))')"
expect_eq "audit --json: the unban, with its reason" "ban dave" \
    "$(json_py '[r["kind"] + " " + r["target"] for r in v if r["command"] == "UNBAN" and r["reason"] == "appeal"][0]')"
expect_eq "audit --json: the unrevoke's reason" "wrong token" \
    "$(json_py '[r["reason"] for r in v if r["command"] == "UNREVOKE" and r["target"] == "j5"][0]')"
expect_eq "audit --json: who wrote" "True" \
    "$(json_py 'all(r["uid"] == '"$(id -u)"' and r["comm"] == "revokectl" for r in v)')"
expect_exit "audit --count 2" 0 "$CTL" audit --count 2 --json
expect_eq "audit --count 2: two records" "2" "$(json_py 'len(v)')"
expect_exit "audit --since the future" 0 "$CTL" audit --since $((n3 + 3600)) --json
expect_eq "audit --since the future: none" "[]" "$(json_get "")"
expect_exit "audit" 0 "$CTL" audit --count 1
expect_eq "audit: the time in ISO 8601, the command, then name=value" "1" \
    "$(grep -cE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z [A-Z]+ [a-z]+=' "$TMP/out")"
expect_exit "audit --count 0" 2 "$CTL" audit --count 0
expect_exit "audit --since, bad time" 2 "$CTL" audit --since yesterday

# Tokens and the rules: verify sends the token's sub, sid and iat;
# revoke-token --everywhere also logs the subject out as of its iat.
n3=$(date +%s)
vfy=("$CTL" verify - --alg HS256 --key "$TMP/secret")
tf=$(mint "{\"jti\":\"ev1\",\"iss\":\"https://idp\",\"sub\":\"frank\",\"iat\":$((n3 - 10)),\"exp\":$((n3 + 900))}")
tf2=$(mint "{\"jti\":\"ev2\",\"iss\":\"https://idp\",\"sub\":\"frank\",\"iat\":$((n3 - 20)),\"exp\":$((n3 + 900))}")
tf3=$(mint "{\"jti\":\"ev3\",\"iss\":\"https://idp\",\"sub\":\"frank\",\"iat\":$((n3 - 9)),\"exp\":$((n3 + 900))}")
tf4=$(mint "{\"jti\":\"ev4\",\"iss\":\"https://idp\",\"sub\":\"frank\",\"exp\":$((n3 + 900))}")
expect_exit "verify frank's token" 0 "${vfy[@]}" <<<"$tf"
expect_exit "verify frank's token without iat" 0 "${vfy[@]}" <<<"$tf4"
expect_exit "revoke-token --everywhere" 0 "$CTL" revoke-token - --everywhere --reason stolen --json <<<"$tf"
expect_eq "revoke-token --everywhere --json" "ok jti ev1 https://idp ok sub frank $((n3 - 10))" \
    "$(json_get outcome) $(json_get rule) $(json_get jti) $(json_get iss) $(json_get everywhere.outcome) $(json_get everywhere.rule) $(json_get everywhere.sub) $(json_get everywhere.before)"
expect_exit "verify the token: revoked by its jti" 1 "${vfy[@]}" <<<"$tf"
expect_eq "verify the token: rule jti" "revoked rule=jti" "$(cut -d' ' -f1-2 < "$TMP/out")"
expect_exit "verify an older token of the subject" 1 "${vfy[@]}" --json <<<"$tf2"
expect_eq "verify an older token of the subject: rule sub" "revoked sub $((n3 - 10)) stolen" \
    "$(json_get outcome) $(json_get rule) $(json_get until) $(json_get reason)"
expect_exit "verify a later token of the subject" 0 "${vfy[@]}" <<<"$tf3"
expect_exit "verify the subject's token without iat: revoked" 1 "${vfy[@]}" <<<"$tf4"
expect_eq "verify the subject's token without iat: rule sub" "revoked rule=sub" "$(cut -d' ' -f1-2 < "$TMP/out")"
tg=$(mint "{\"jti\":\"ev5\",\"sub\":\"gina\",\"iat\":$((n3 - 5)),\"exp\":$((n3 + 900))}")
expect_exit "revoke-token --everywhere, in words" 0 "$CTL" revoke-token - --everywhere <<<"$tg"
expect_eq "revoke-token --everywhere, in words: a line per write" \
    "ok revoked until=$(iso $((n3 + 900)))|ok revoked_sub before=$(iso $((n3 - 5)))" \
    "$(paste -sd'|' < "$TMP/out")"
tn=$(mint "{\"jti\":\"ev6\",\"sub\":\"hank\",\"exp\":$((n3 + 900))}")
expect_exit "revoke-token --everywhere without iat" 2 "$CTL" revoke-token - --everywhere <<<"$tn"
expect_exit "revoke-token --everywhere without iat wrote nothing" 0 "$CTL" check ev6
tn=$(mint "{\"jti\":\"ev7\",\"iat\":$n3,\"exp\":$((n3 + 900))}")
expect_exit "revoke-token --everywhere without sub" 2 "$CTL" revoke-token - --everywhere <<<"$tn"
ts=$(mint "{\"jti\":\"ev8\",\"iss\":\"https://idp\",\"sub\":\"ivy\",\"sid\":\"sess1\",\"iat\":$n3,\"exp\":$((n3 + 900))}")
expect_exit "verify a token of a revoked session" 1 "${vfy[@]}" <<<"$ts"
expect_eq "verify a token of a revoked session: rule sid" "revoked rule=sid" "$(cut -d' ' -f1-2 < "$TMP/out")"
tb=$(mint "{\"jti\":\"ev9\",\"sub\":\"carol\",\"iat\":$n3,\"exp\":$((n3 + 900))}")
expect_exit "verify a token of a banned subject" 1 "${vfy[@]}" <<<"$tb"
expect_eq "verify a token of a banned subject: rule ban" "revoked rule=ban" "$(cut -d' ' -f1-2 < "$TMP/out")"
ti=$(mint "{\"jti\":\"ev10\",\"iss\":\"https://old-idp\",\"iat\":$((n3 - 100)),\"exp\":$((n3 + 900))}")
expect_exit "verify a token signed before the key leaked" 1 "${vfy[@]}" <<<"$ti"
expect_eq "verify a token signed before the key leaked: rule iss" "revoked rule=iss" "$(cut -d' ' -f1-2 < "$TMP/out")"
ti=$(mint "{\"jti\":\"ev11\",\"iss\":\"https://old-idp\",\"iat\":$n3,\"exp\":$((n3 + 900))}")
expect_exit "verify a token signed after" 0 "${vfy[@]}" --json <<<"$ti"
expect_eq "verify --json, valid" "valid" "$(json_get outcome)"

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
    "ok revoked (replication pending) until=$(iso $((now + 600)))" "$(cat "$TMP/out")"
expect_exit "revoke-token, replication pending" 0 "${F[@]}" revoke-token - <<<"$tok"
expect_eq "revoke-token, replication pending output" \
    "ok revoked (replication pending) until=$(iso $((now + 900)))" "$(cat "$TMP/out")"
expect_exit "revoke --json, replication pending" 0 "${F[@]}" revoke j1 --exp $((now + 600)) --json
expect_eq "revoke --json, replication pending" "ok true" "$(json_get outcome) $(json_get pending)"
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
expect_exit "ping --json, daemon loading" 3 "${F[@]}" ping --json
expect_eq "ping --json, daemon loading" "daemon_unavailable $loading" \
    "$(json_get outcome) $(json_get error)"
expect_exit "check --json, daemon stale" 3 "${F[@]}" check j1 --json
expect_eq "check --json, daemon stale" "daemon_unavailable $stale" \
    "$(json_get outcome) $(json_get error)"
fake_stop

# The exact requests, against fakeserver.py: times in Unix seconds and ISO
# 8601 (with offsets), options, and nothing sent for a bad time.
t0=$(date -u -d 2026-12-01T10:00:00Z +%s)
fake_start 'REVOKEALL=+OK\r\n' 'REVOKESUB=+OK\r\n' 'BAN=+OK\r\n' 'UNBAN=:1\r\n' \
    'REVOKESID=+OK\r\n' 'REVOKE=+OK\r\n' 'UNREVOKE=:1\r\n' \
    'CHECK=*1\r\n$11\r\nnot_revoked\r\n' 'AUDIT=*0\r\n' \
    'LIST=*2\r\n$1\r\n0\r\n*0\r\n'
F=("$CTL" -s "$FAKE_SOCK")
expect_exit "revoke-all --before Z" 0 "${F[@]}" revoke-all --before 2026-12-01T10:00:00Z
expect_exit "revoke-all --before +02:00" 0 "${F[@]}" revoke-all --before 2026-12-01T10:00:00+02:00 --iss https://idp
expect_exit "revoke-all --before -05:30" 0 "${F[@]}" revoke-all --before 2026-12-01t10:00:00-05:30 --reason "key leaked"
expect_exit "revoke-all --before Unix" 0 "${F[@]}" revoke-all --before "$t0"
expect_eq "revoke-all requests" "REVOKEALL BEFORE $t0
REVOKEALL ISS https://idp BEFORE $((t0 - 7200))
REVOKEALL BEFORE $((t0 + 19800)) REASON key leaked
REVOKEALL BEFORE $t0" "$(requests)"
expect_exit "revoke-sub, no --before" 0 "${F[@]}" revoke-sub alice
expect_exit "logout-all --before leap day" 0 "${F[@]}" logout-all alice --before 2028-02-29T23:59:59Z --iss I --reason R
expect_exit "ban, no end" 0 "${F[@]}" ban bob
expect_exit "ban --until" 0 "${F[@]}" ban bob --until 2026-12-01T10:00:00Z --reason "r 1"
expect_exit "unban --reason" 0 "${F[@]}" unban bob --iss I --reason appeal
expect_exit "revoke-session --exp ISO 8601" 0 "${F[@]}" revoke-session s1 --exp 2026-12-01T10:00:00Z --iss I
expect_exit "revoke --exp ISO 8601" 0 "${F[@]}" revoke j1 --exp 2026-12-01T10:00:00Z
expect_exit "unrevoke --reason" 0 "${F[@]}" unrevoke j1 --reason oops
expect_exit "check with the claims" 0 "${F[@]}" check j1 --iss I --sub u --sid s --iat 2026-12-01T10:00:00Z
expect_exit "check --iat 0" 0 "${F[@]}" check j1 --iat 0
expect_exit "audit --count --since" 0 "${F[@]}" audit --count 5 --since 2026-12-01T10:00:00Z
expect_exit "list --type --match" 0 "${F[@]}" list --type ban --match 'a*'
expect_eq "requests" "REVOKESUB alice
REVOKESUB alice ISS I BEFORE $(date -u -d 2028-02-29T23:59:59Z +%s) REASON R
BAN bob
BAN bob UNTIL $t0 REASON r 1
UNBAN bob ISS I REASON appeal
REVOKESID s1 $t0 ISS I
REVOKE j1 $t0
UNREVOKE j1 REASON oops
CHECK j1 ISS I SUB u SID s IAT $t0
CHECK j1 IAT 0
AUDIT COUNT 5 SINCE $t0
LIST TYPE ban MATCH a* CURSOR 0 COUNT 1000" "$(requests)"
for bad in 2026-02-29T00:00:00Z 2026-12-01T24:00:00Z 2026-12-32T10:00:00Z \
    2026-00-01T10:00:00Z 2026-12-01T10:60:00Z 2026-12-01T10:00:60Z \
    "2026-12-01 10:00:00Z" 2026-12-01T10:00:00 2026-12-01T10:00:00+2:00 \
    2026-12-01T10:00:00+24:00 2026-12-01T10:00:00.5Z 2026-12-01 1.5 -5 +5 "" \
    1969-12-31T23:59:59Z 1970-01-01T00:00:00+00:01 now 99999999999999999999; do
	expect_exit "revoke-all --before '$bad': usage error" 2 "${F[@]}" revoke-all --before "$bad"
done
expect_eq "a bad --before: the message" \
    "error: --before takes a time: Unix seconds or ISO 8601 like 2026-12-01T10:00:00Z (or +HH:MM, -HH:MM), after 1970" \
    "$(cat "$TMP/err")"
expect_exit "revoke-all --before 0: usage error" 2 "${F[@]}" revoke-all --before 0
expect_exit "ban --until 1970-01-01T00:00:00Z: usage error" 2 "${F[@]}" ban x --until 1970-01-01T00:00:00Z
expect_exit "revoke --exp, bad time" 2 "${F[@]}" revoke j --exp 2026-12-01T10:00
expect_exit "check --iat, bad time" 2 "${F[@]}" check j --iat tomorrow
expect_exit "ban --until and --for" 2 "${F[@]}" ban x --for 1h --until "$t0"
expect_exit "ban --for twice" 2 "${F[@]}" ban x --for 1h --for 2h
expect_exit "revoke-session with --exp and --ttl" 2 "${F[@]}" revoke-session s --exp "$t0" --ttl 1h
expect_exit "revoke-all without --before" 2 "${F[@]}" revoke-all --iss I
expect_eq "revoke-all without --before: the message" "error: revoke-all needs --before" "$(cat "$TMP/err")"
expect_exit "list takes no argument" 2 "${F[@]}" list x
expect_exit "audit --count -1" 2 "${F[@]}" audit --count -1
expect_exit "--everywhere is revoke-token's" 2 "${F[@]}" revoke j --ttl 1h --everywhere
expect_exit "--reason is not check's" 2 "${F[@]}" check j --reason x
expect_eq "nothing sent for usage errors" "" "$(requests)"
t1=$(date +%s)
expect_exit "ban --for" 0 "${F[@]}" ban x --for 2h --json
until=$(json_get until)
expect_eq "ban --for: UNTIL now + 2h" "BAN x UNTIL $until" "$(requests)"
expect_range "ban --for: now + 2h" $((t1 + 7200)) $(( $(date +%s) + 7200 )) "$until"
fake_stop

# A listing in steps, with duplicates and an empty step; audit records
# with fields this revokectl does not know; replies of every write.
entry() { # entry KIND ISS ID TIME REASON: one LIST entry, in RESP
	printf '*5\\r\\n$%d\\r\\n%s\\r\\n$%d\\r\\n%s\\r\\n$%d\\r\\n%s\\r\\n:%s\\r\\n$%d\\r\\n%s\\r\\n' \
	    ${#1} "$1" ${#2} "$2" ${#3} "$3" "$4" ${#5} "$5"
}
page1="*2\\r\\n\$2\\r\\n17\\r\\n*3\\r\\n$(entry sub I alice "$t0" "") $(entry jti I a1 "$t0" "old") $(entry jti "" a1 "$t0" "")"
page2='*2\r\n$2\r\n42\r\n*0\r\n'
page3="*2\\r\\n\$1\\r\\n0\\r\\n*3\\r\\n$(entry jti I a1 $((t0 + 1)) "new") $(entry ban "" bob 0 "spam") $(entry future I x 5 "")"
rec="*12\\r\\n\$4\\r\\ntime\\r\\n:$t0\\r\\n\$7\\r\\ncommand\\r\\n\$3\\r\\nBAN\\r\\n\$5\\r\\nuntil\\r\\n:0\\r\\n\$6\\r\\nreason\\r\\n\$9\\r\\na \"b\"\\x1b[1m\\r\\n\$5\\r\\nextra\\r\\n*1\\r\\n:1\\r\\n\$3\\r\\nnew\\r\\n:7\\r\\n"
fake_start "LIST=${page1// /}" "LIST=$page2" "LIST=${page3// /}" "LIST=${page1// /}" \
    "LIST=$page2" "LIST=${page3// /}" "AUDIT=*1\\r\\n$rec" \
    "CHECK=*4\\r\\n\$7\\r\\nrevoked\\r\\n\$12\\r\\nquarantined!\\r\\n:5\\r\\n\$0\\r\\n\\r\\n" \
    'REVOKESUB=+PENDING\r\n' 'REVOKESUB=+EXPIRED\r\n' 'REVOKESUB=-ERR BEFORE is in the future\r\n' \
    'BAN=+PENDING\r\n' 'BAN=-NOPERM BAN needs an admin (uid 1000 gid 1000 is not one)\r\n' \
    'UNBAN=+PENDING\r\n' 'UNBAN=:0\r\n' 'REVOKESID=+PENDING\r\n' 'REVOKESID=+EXPIRED\r\n' \
    'REVOKEALL=+PENDING\r\n' 'REVOKEALL=-LOADING revokd is loading the blocklist\r\n' \
    'REVOKE=+OK\r\n'
expect_exit "list, in steps" 0 "${F[@]}" list
expect_eq "list: each rule once, the latest copy, in order" \
    "jti iss=\"\" id=\"a1\" until=$(iso "$t0") reason=\"\"|jti iss=\"I\" id=\"a1\" until=$(iso $((t0 + 1))) reason=\"new\"|sub iss=\"I\" id=\"alice\" before=$(iso "$t0") reason=\"\"|ban iss=\"\" id=\"bob\" until=none reason=\"spam\"|future iss=\"I\" id=\"x\" time=1970-01-01T00:00:05Z reason=\"\"" \
    "$(paste -sd'|' < "$TMP/out")"
expect_eq "list: the cursors" "LIST CURSOR 0 COUNT 1000
LIST CURSOR 17 COUNT 1000
LIST CURSOR 42 COUNT 1000" "$(requests)"
expect_exit "list --json, in steps" 0 "${F[@]}" list --json --iss I
expect_eq "list --json --iss: that issuer's rules once" \
    "jti:a1:$((t0 + 1)):new sub:alice:$t0: future:x:5:" \
    "$(json_py '" ".join("%s:%s:%s:%s" % (r["kind"], r["id"], r["time"], r["reason"]) for r in v)')"
expect_exit "audit, fields unknown" 0 "${F[@]}" audit
expect_eq "audit: one line, escaped" \
    "$(iso "$t0") BAN until=none reason=\"a \\\"b\\\"\\x1b[1m\" new=7" "$(cat "$TMP/out")"
expect_exit "audit --json, fields unknown" 0 "${F[@]}" audit --json
expect_eq "audit --json: every field of a known type" \
    "[{\"time\": $t0, \"command\": \"BAN\", \"until\": 0, \"reason\": \"a \\\"b\\\"\\u001b[1m\", \"new\": 7}]" \
    "$(json_get "")"
expect_exit "check, a rule unknown here: revoked" 1 "${F[@]}" check j --sub u
expect_eq "check, a rule unknown here: named" "revoked rule=quarantined! until=1970-01-01T00:00:05Z reason=\"\"" "$(cat "$TMP/out")"
expect_exit "revoke-sub, replication pending" 0 "${F[@]}" revoke-sub alice --before "$t0"
expect_eq "revoke-sub, replication pending output" \
    "ok revoked_sub (replication pending) before=$(iso "$t0")" "$(cat "$TMP/out")"
expect_exit "revoke-sub, expired" 0 "${F[@]}" revoke-sub alice --before "$t0" --json
expect_eq "revoke-sub, expired --json" "expired sub $t0" \
    "$(json_get outcome) $(json_get rule) $(json_get before)"
expect_exit "revoke-sub, refused" 2 "${F[@]}" revoke-sub alice
expect_eq "revoke-sub, refused output" "refused ERR BEFORE is in the future" "$(cat "$TMP/out")"
expect_exit "ban, replication pending" 0 "${F[@]}" ban bob --json
expect_eq "ban, replication pending --json" "ok true 0" \
    "$(json_get outcome) $(json_get pending) $(json_get until)"
expect_exit "ban, not an admin" 2 "${F[@]}" ban bob
expect_eq "ban, not an admin output" "refused NOPERM BAN needs an admin (uid 1000 gid 1000 is not one)" \
    "$(cat "$TMP/out")"
expect_exit "unban, replication pending" 0 "${F[@]}" unban bob
expect_eq "unban, replication pending output" "unbanned (replication pending)" "$(cat "$TMP/out")"
expect_exit "unban, none" 0 "${F[@]}" unban bob
expect_eq "unban, none output" "not_found" "$(cat "$TMP/out")"
expect_exit "revoke-session, replication pending" 0 "${F[@]}" revoke-session s --exp "$t0"
expect_eq "revoke-session, replication pending output" \
    "ok revoked_sid (replication pending) until=$(iso "$t0")" "$(cat "$TMP/out")"
expect_exit "revoke-session, expired" 0 "${F[@]}" revoke-session s --exp "$t0"
expect_eq "revoke-session, expired output" "expired exp=$(iso "$t0")" "$(cut -d' ' -f1-2 < "$TMP/out")"
expect_exit "revoke-all, replication pending" 0 "${F[@]}" revoke-all --before "$t0" --json
expect_eq "revoke-all, replication pending --json" "ok iss true $t0" \
    "$(json_get outcome) $(json_get rule) $(json_get pending) $(json_get before)"
expect_exit "revoke-all, daemon loading" 3 "${F[@]}" revoke-all --before "$t0"
expect_eq "revoke-all, daemon loading output" "daemon_unavailable LOADING revokd is loading the blocklist" \
    "$(cat "$TMP/out")"
# --everywhere whose second write is refused: the first is reported.
tf=$(mint "{\"jti\":\"ev1\",\"sub\":\"frank\",\"iat\":$t0,\"exp\":$((t0 + 900))}")
requests > /dev/null
expect_exit "revoke-token --everywhere, second write refused" 2 "${F[@]}" revoke-token - --everywhere --json <<<"$tf"
expect_eq "revoke-token --everywhere, second write refused: both reported" \
    "ok refused ERR BEFORE is in the future" \
    "$(json_get outcome) $(json_get everywhere.outcome) $(json_get everywhere.error)"
expect_eq "revoke-token --everywhere: the requests" "REVOKE ev1 $((t0 + 900))
REVOKESUB frank BEFORE $t0" "$(requests)"
expect_exit "revoke-token --everywhere, second write refused, in words" 2 "${F[@]}" revoke-token - --everywhere <<<"$tf"
expect_eq "revoke-token --everywhere, second write refused, in words" \
    "ok revoked until=$(iso $((t0 + 900)))|refused ERR BEFORE is in the future" "$(paste -sd'|' < "$TMP/out")"
expect_eq "the token is never printed" "" "$(grep -F "$tf" "$TMP/out" "$TMP/err")"
fake_stop

# A daemon of protocol 2 refuses CHECK's SUB, SID and IAT; it holds jti
# rules only, so the plain CHECK is the whole answer.
fake_start "CHECK=-ERR unknown option 'SUB' for 'CHECK'\\r\\n" \
    'CHECK=*1\r\n$11\r\nnot_revoked\r\n'
expect_exit "check --sub, protocol 2 daemon" 0 "${F[@]}" check j --sub u --iat 5
expect_eq "check --sub, protocol 2 daemon: asked again without the claims" \
    "CHECK j SUB u IAT 5
CHECK j" "$(requests)"
fake_stop
fake_start "CHECK=-ERR wrong number of arguments for 'check' command\\r\\n" \
    'CHECK=*4\r\n$7\r\nrevoked\r\n$3\r\njti\r\n:5\r\n$0\r\n\r\n'
expect_exit "check --sub --iss, protocol 2 daemon" 1 "${F[@]}" check j --iss I --sub u --sid s --iat 5
expect_eq "check --sub --iss, protocol 2 daemon: asked again without the claims" \
    "CHECK j ISS I SUB u SID s IAT 5
CHECK j ISS I" "$(requests)"
fake_stop

finish
