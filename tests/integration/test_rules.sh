#!/usr/bin/env bash
# The rules besides jti revocations (PROTOCOL.md section 3), one daemon
# without Redis: REVOKESUB, BAN/UNBAN, REVOKESID, REVOKEALL and CHECK with
# SUB/SID/IAT at their boundaries (iat == before, before + 1, the rule's
# own expiry), which rule is reported when several match, issuers kept
# apart, survival across SIGTERM and kill -9, LIST (a cursor walk, TYPE,
# MATCH, across a compaction) and AUDIT (the actor, newest first, SINCE,
# rebuilt at start-up).
. "$(dirname "$0")/lib.sh"
HOST=$(hostname)

# field LINE N: the N-th space-separated word of LINE.
field() {
	echo "$1" | awk -v n="$2" '{print $n}'
}

# rec_field RECORD NAME: one field of an "audit" line (values without
# spaces).
rec_field() {
	echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# next_second: wait for the clock to enter a new second, print it (so
# that what follows has a whole second before the next tick).
next_second() {
	local s
	s=$(date +%s)
	while [ "$(date +%s)" = "$s" ]; do sleep 0.01; done
	date +%s
}

echo "# REVOKESUB: log out everywhere"
daemon_start_n R
now=$(date +%s)
exp=$((now + 3600))
t0=$(date +%s)
expect_eq "REVOKESUB alice (BEFORE: now)" OK "$(q R REVOKESUB alice REASON 'log out')"
t1=$(date +%s)
r=$(q R CHECK t SUB alice)
b=$(field "$r" 3)
expect_range "its point is the daemon's clock when made" "$t0" "$t1" "$b"
expect_eq "CHECK SUB alice without IAT: revoked by the sub rule" \
    "revoked sub $b log out" "$r"
expect_eq "IAT == before: revoked" "revoked sub $b log out" \
    "$(q R CHECK t SUB alice IAT "$b")"
expect_eq "IAT == before + 1: not revoked" not_revoked \
    "$(q R CHECK t SUB alice IAT $((b + 1)))"
expect_eq "a negative IAT is before it: revoked" "revoked sub $b log out" \
    "$(q R CHECK t SUB alice IAT -5)"
expect_eq "without SUB: not revoked" not_revoked "$(q R CHECK t)"
expect_eq "another subject: not revoked" not_revoked \
    "$(q R CHECK t SUB alicf)"
expect_eq "ISS \"\" is no ISS" "revoked sub $b log out" \
    "$(q R CHECK t SUB alice ISS '')"
expect_eq "another issuer: not revoked" not_revoked \
    "$(q R CHECK t SUB alice ISS https://other.example)"

c=$((now - 100))
expect_eq "REVOKESUB carol BEFORE now-100" OK \
    "$(q R REVOKESUB carol BEFORE $c REASON r1)"
expect_eq "  IAT == before" "revoked sub $c r1" \
    "$(q R CHECK t SUB carol IAT $c)"
expect_eq "  IAT == before + 1" not_revoked \
    "$(q R CHECK t SUB carol IAT $((c + 1)))"
expect_eq "an earlier BEFORE keeps the point, takes the reason" OK \
    "$(q R REVOKESUB carol BEFORE $((c - 50)) REASON r2)"
expect_eq "  CHECK shows the later point" "revoked sub $c r2" \
    "$(q R CHECK t SUB carol)"
expect_eq "a later BEFORE moves it forward" OK \
    "$(q R REVOKESUB carol BEFORE $((c + 60)))"
expect_eq "  ...keeping the reason" "revoked sub $((c + 60)) r2" \
    "$(q R CHECK t SUB carol IAT $((c + 60)))"
expect_eq "  IAT == new point + 1" not_revoked \
    "$(q R CHECK t SUB carol IAT $((c + 61)))"
expect_eq "BEFORE in the future" "-ERR BEFORE is in the future" \
    "$(q R REVOKESUB dave BEFORE $((now + 100)))"
expect_eq "BEFORE older than lifetime + grace: +EXPIRED" EXPIRED \
    "$(q R REVOKESUB dave BEFORE $((now - 86400 - 300 - 5)))"
expect_eq "BEFORE inside lifetime + grace: stored" OK \
    "$(q R REVOKESUB dave BEFORE $((now - 86400 - 300 + 60)))"
expect_eq "  enforced: past lifetime, inside the grace" \
    "revoked sub $((now - 86400 - 240)) \"\"" "$(q R CHECK t SUB dave)"
expect_eq "BEFORE not an integer" "-ERR BEFORE is not an integer" \
    "$(q R REVOKESUB dave BEFORE soon)"
expect_eq "BEFORE 0" "-ERR BEFORE must be a positive Unix time" \
    "$(q R REVOKESUB dave BEFORE 0)"
expect_eq "empty sub" "-ERR sub must not be empty" "$(q R REVOKESUB '')"
expect_eq "CHECK with SUB \"\"" "-ERR sub must not be empty" \
    "$(q R CHECK t SUB '')"
expect_eq "IAT not an integer" "-ERR IAT is not an integer" \
    "$(q R CHECK t SUB alice IAT x)"

echo "# BAN / UNBAN"
expect_eq "BAN bob (no UNTIL)" OK "$(q R BAN bob REASON abuse)"
expect_eq "CHECK SUB bob: ban, until 0" "revoked ban 0 abuse" \
    "$(q R CHECK t SUB bob)"
expect_eq "a ban ignores IAT" "revoked ban 0 abuse" \
    "$(q R CHECK t SUB bob IAT $((now + 100000)))"
expect_eq "without SUB: not revoked" not_revoked "$(q R CHECK bob)"
expect_eq "BAN eve UNTIL now+3600" OK "$(q R BAN eve UNTIL $exp)"
expect_eq "  CHECK shows until, reason \"\"" "revoked ban $exp \"\"" \
    "$(q R CHECK t SUB eve)"
expect_eq "BAN eve with an earlier UNTIL" OK \
    "$(q R BAN eve UNTIL $((exp - 600)) REASON spam)"
expect_eq "  keeps the later end, takes the reason" "revoked ban $exp spam" \
    "$(q R CHECK t SUB eve)"
expect_eq "BAN eve without UNTIL" OK "$(q R BAN eve)"
expect_eq "  no end is the latest (0)" "revoked ban 0 spam" \
    "$(q R CHECK t SUB eve)"
expect_eq "BAN eve UNTIL again" OK "$(q R BAN eve UNTIL $((exp + 600)))"
expect_eq "  still no end" "revoked ban 0 spam" "$(q R CHECK t SUB eve)"
expect_eq "UNTIL past 2106" "-ERR UNTIL out of range" \
    "$(q R BAN far UNTIL 4294967295)"
expect_eq "UNTIL 4294967294: stored" OK "$(q R BAN far UNTIL 4294967294)"
expect_eq "  shown as is" "revoked ban 4294967294 \"\"" \
    "$(q R CHECK t SUB far)"
expect_eq "UNTIL + grace in the past: +EXPIRED" EXPIRED \
    "$(q R BAN gone UNTIL $((now - 301)))"
expect_eq "UNTIL 0" "-ERR UNTIL must be a positive Unix time" \
    "$(q R BAN gone UNTIL 0)"
expect_eq "UNBAN bob" 1 "$(q R UNBAN bob REASON appeal)"
expect_eq "UNBAN bob again" 0 "$(q R UNBAN bob)"
expect_eq "bob no longer revoked" not_revoked "$(q R CHECK t SUB bob)"
expect_eq "UNBAN of a sub rule: :0" 0 "$(q R UNBAN alice)"
expect_eq "  the sub rule stays" "revoked sub $b log out" \
    "$(q R CHECK t SUB alice)"
expect_eq "UNBAN far" 1 "$(q R UNBAN far)"
expect_eq "UNTIL past, + grace (300) not: stored" OK \
    "$(q R BAN late UNTIL $((now - 100)))"
expect_eq "  and enforced" "revoked ban $((now - 100)) \"\"" \
    "$(q R CHECK t SUB late)"
expect_eq "UNBAN late" 1 "$(q R UNBAN late)"

echo "# REVOKESID"
expect_eq "REVOKESID s1" OK "$(q R REVOKESID s1 $exp REASON stolen)"
expect_eq "CHECK SID s1" "revoked sid $exp stolen" "$(q R CHECK t SID s1)"
expect_eq "  whatever IAT" "revoked sid $exp stolen" \
    "$(q R CHECK t SID s1 IAT $((now + 10)))"
expect_eq "without SID: not revoked" not_revoked "$(q R CHECK t)"
expect_eq "SID s2: not revoked" not_revoked "$(q R CHECK t SID s2)"
expect_eq "jti s1 is not sid s1" not_revoked "$(q R CHECK s1)"
expect_eq "another issuer: not revoked" not_revoked \
    "$(q R CHECK t SID s1 ISS x)"
expect_eq "REVOKESID s1 with an earlier exp" OK \
    "$(q R REVOKESID s1 $((exp - 100)))"
expect_eq "  keeps the later exp and the reason" "revoked sid $exp stolen" \
    "$(q R CHECK t SID s1)"
expect_eq "REVOKESID past max-ttl" \
    "-ERR exp is more than 2592000 seconds away (max-ttl)" \
    "$(q R REVOKESID s3 $((now + 2592000 + 100)))"
expect_eq "REVOKESID with exp + grace past: +EXPIRED" EXPIRED \
    "$(q R REVOKESID s3 $((now - 301)))"
expect_eq "REVOKESID with exp past, + grace not: stored" OK \
    "$(q R REVOKESID s4 $((now - 100)))"
expect_eq "  and enforced" "revoked sid $((now - 100)) \"\"" \
    "$(q R CHECK t SID s4)"
expect_eq "REVOKESID exp not an integer" "-ERR exp is not an integer" \
    "$(q R REVOKESID s3 soon)"

echo "# REVOKEALL"
ib=$((now - 10))
expect_eq "REVOKEALL without BEFORE" "-ERR BEFORE is required" \
    "$(q R REVOKEALL ISS https://idp.example)"
expect_eq "REVOKEALL ISS idp BEFORE now-10" OK \
    "$(q R REVOKEALL ISS https://idp.example BEFORE $ib REASON keyleak)"
expect_eq "IAT == before" "revoked iss $ib keyleak" \
    "$(q R CHECK t ISS https://idp.example IAT $ib)"
expect_eq "IAT == before + 1" not_revoked \
    "$(q R CHECK t ISS https://idp.example IAT $((ib + 1)))"
expect_eq "without IAT" "revoked iss $ib keyleak" \
    "$(q R CHECK t ISS https://idp.example)"
expect_eq "the empty issuer is another one" not_revoked "$(q R CHECK t)"
expect_eq "BEFORE in the future" "-ERR BEFORE is in the future" \
    "$(q R REVOKEALL ISS https://idp.example BEFORE $((now + 100)))"
expect_eq "an earlier BEFORE keeps the point" OK \
    "$(q R REVOKEALL ISS https://idp.example BEFORE $((ib - 100)))"
expect_eq "  CHECK" "revoked iss $ib keyleak" \
    "$(q R CHECK t ISS https://idp.example IAT $ib)"
expect_eq "REVOKEALL older than lifetime + grace: +EXPIRED" EXPIRED \
    "$(q R REVOKEALL ISS y BEFORE $((now - 86400 - 300 - 5)))"
expect_eq "REVOKEALL for the empty issuer" OK \
    "$(q R REVOKEALL BEFORE $((now - 1000)))"
expect_eq "  refuses its old tokens" "revoked iss $((now - 1000)) \"\"" \
    "$(q R CHECK t IAT $((now - 1000)))"
expect_eq "  not newer ones" not_revoked "$(q R CHECK t IAT $((now - 999)))"

echo "# precedence: jti > sub > ban > sid > iss"
P=https://p.example
expect_eq "five rules for issuer P" "OK OK OK OK OK" "$(echo \
    "$(q R REVOKE pj $exp ISS $P REASON rj)" \
    "$(q R REVOKESUB pu ISS $P BEFORE $((now - 10)) REASON rs)" \
    "$(q R BAN pu ISS $P UNTIL $exp REASON rb)" \
    "$(q R REVOKESID ps $exp ISS $P REASON rd)" \
    "$(q R REVOKEALL ISS $P BEFORE $((now - 10)) REASON ri)")"
expect_eq "all match: jti" "revoked jti $exp rj" \
    "$(q R CHECK pj ISS $P SUB pu SID ps IAT $((now - 20)))"
expect_eq "all but jti: sub" "revoked sub $((now - 10)) rs" \
    "$(q R CHECK x ISS $P SUB pu SID ps IAT $((now - 20)))"
expect_eq "iat after the points: ban" "revoked ban $exp rb" \
    "$(q R CHECK x ISS $P SUB pu SID ps IAT $((now - 5)))"
expect_eq "sid and iss: sid" "revoked sid $exp rd" \
    "$(q R CHECK x ISS $P SUB other SID ps IAT $((now - 20)))"
expect_eq "iss alone" "revoked iss $((now - 10)) ri" \
    "$(q R CHECK x ISS $P SUB other SID other IAT $((now - 20)))"
expect_eq "none" not_revoked "$(q R CHECK x ISS $P SUB other IAT $((now - 5)))"
expect_eq "the same names under the empty issuer: none" not_revoked \
    "$(q R CHECK pj SUB pu SID ps IAT $((now - 5)))"
expect_eq "STATS: rules_sub rules_ban rules_sid rules_iss entries" \
    "4 2 3 3 1" "$(for f in rules_sub rules_ban rules_sid rules_iss entries; do
        dstat R $f; done | tr '\n' ' ' | sed 's/ $//')"
daemon_stop_n R
expect_eq "R: SIGTERM exit status" 0 $?

echo "# expiry of the rules themselves (lifetime $((3 * SLOW)) s, grace 0)"
L=$((3 * SLOW))
daemon_start_n E --max-token-lifetime $L --exp-grace 0
now=$(next_second)
expect_eq "REVOKESUB u1, REVOKEALL ie, BAN u2 UNTIL +L, REVOKESID s3 +L," \
    "OK OK OK OK OK" "$(echo "$(q E REVOKESUB u1)" \
    "$(q E REVOKEALL ISS ie BEFORE $now)" \
    "$(q E BAN u2 UNTIL $((now + L)))" "$(q E REVOKESID s3 $((now + L)))" \
    "$(q E BAN u4)")"
r=$(q E CHECK t SUB u1)
b=$(field "$r" 3)
expect_eq "  u1 revoked at first" "revoked sub" "$(field "$r" 1) $(field "$r" 2)"
expect_eq "REVOKESUB with BEFORE + lifetime <= now: +EXPIRED" EXPIRED \
    "$(q E REVOKESUB u5 BEFORE $((now - L)))"
expect_eq "REVOKEALL with BEFORE + lifetime <= now: +EXPIRED" EXPIRED \
    "$(q E REVOKEALL ISS ie2 BEFORE $((now - L)))"
expect_eq "BAN UNTIL now: +EXPIRED" EXPIRED "$(q E BAN u6 UNTIL $now)"
expect_eq "REVOKESID exp now: +EXPIRED" EXPIRED "$(q E REVOKESID s7 $now)"
expect_eq "STATS right after" "1 2 1 1" "$(for f in rules_sub rules_ban \
    rules_sid rules_iss; do dstat E $f; done | tr '\n' ' ' | sed 's/ $//')"
# Poll CHECK until the sub rule lets the token through; it must not
# have done so before before + lifetime.
end=$(( $(date +%s) + 10 * SLOW ))
until [ "$(q E CHECK t SUB u1)" = not_revoked ] || [ "$(date +%s)" -ge $end ]; do
	sleep 0.05
done
gone=$(date +%s)
expect_eq "u1's sub rule lapses" not_revoked "$(q E CHECK t SUB u1)"
expect_range "  not before before + lifetime" $((b + L)) $((b + L + 10 * SLOW)) \
    "$gone"
expect_within "rules_sub back to 0" 10 stat_is E rules_sub 0
expect_within "rules_iss back to 0" 10 stat_is E rules_iss 0
expect_within "rules_sid back to 0" 10 stat_is E rules_sid 0
expect_within "rules_ban down to 1 (the ban without end)" 10 \
    stat_is E rules_ban 1
expect_eq "CHECK ISS ie: not revoked" not_revoked "$(q E CHECK t ISS ie)"
expect_eq "CHECK SUB u2: not revoked" not_revoked "$(q E CHECK t SUB u2)"
expect_eq "CHECK SID s3: not revoked" not_revoked "$(q E CHECK t SID s3)"
expect_eq "CHECK SUB u4: still banned" "revoked ban 0 \"\"" \
    "$(q E CHECK t SUB u4)"
expect_eq "LIST: only the ban without end" 'ban "" u4 0 ""' \
    "$($RULES list "$(dsock E)" 3 2>/dev/null)"
daemon_stop_n E
daemon_start_n E --max-token-lifetime $L --exp-grace 0
expect_eq "after a restart: only u4" "0 1 0 0 revoked" \
    "$(for f in rules_sub rules_ban rules_sid rules_iss; do dstat E $f
    done | tr '\n' ' ')$(q E CHECK t SUB u4 | awk '{print $1}')"
daemon_stop_n E

echo "# survival across SIGTERM and kill -9"
daemon_start_n S
now=$(date +%s)
exp=$((now + 3600))
expect_eq "one rule of each kind, a lifted ban" "OK OK OK OK OK OK OK 1" \
    "$(echo "$(q S REVOKE sj $exp ISS si REASON 'r jti')" \
    "$(q S REVOKESUB su ISS si BEFORE $((now - 5)) REASON 'r sub')" \
    "$(q S BAN sb ISS si REASON 'r ban')" \
    "$(q S BAN sc UNTIL $exp REASON 'r ban2')" \
    "$(q S REVOKESID ss $exp ISS si REASON 'r sid')" \
    "$(q S REVOKEALL ISS si2 BEFORE $((now - 7)) REASON 'r iss')" \
    "$(q S BAN sx)" "$(q S UNBAN sx)")"

# state_of NAME: every rule's CHECK, the counts, LIST and AUDIT of NAME.
state_of() {
	q "$1" CHECK sj ISS si
	q "$1" CHECK t ISS si SUB su IAT $((now - 5))
	q "$1" CHECK t ISS si SUB su IAT $((now - 4))
	q "$1" CHECK t ISS si SUB sb IAT $now
	q "$1" CHECK t SUB sc
	q "$1" CHECK t SUB sx
	q "$1" CHECK t ISS si SID ss IAT $now
	q "$1" CHECK t ISS si2 IAT $((now - 7))
	q "$1" CHECK t ISS si2 IAT $((now - 6))
	for f in entries rules_sub rules_ban rules_sid rules_iss; do
		echo "$f $(dstat "$1" $f)"
	done
	$RULES list "$(dsock "$1")" 2 2>/dev/null
	$RULES audit "$(dsock "$1")" COUNT 20
}
state_of S >"$TMP/state.before"
expect_eq "before: the verdicts" "revoked jti $exp r jti
revoked sub $((now - 5)) r sub
not_revoked
revoked ban 0 r ban
revoked ban $exp r ban2
not_revoked
revoked sid $exp r sid
revoked iss $((now - 7)) r iss
not_revoked" "$(head -9 "$TMP/state.before")"
expect_eq "before: 6 listed" 6 "$(grep -c -e '^jti ' -e '^sub ' -e '^ban ' \
    -e '^sid ' -e '^iss ' "$TMP/state.before")"
daemon_stop_n S
expect_eq "S: SIGTERM exit status" 0 $?
daemon_start_n S
state_of S >"$TMP/state.term"
expect_eq "after SIGTERM: the same verdicts, counts, LIST and AUDIT" \
    "$(cat "$TMP/state.before")" "$(cat "$TMP/state.term")"
daemon_kill9 S
daemon_start_n S
state_of S >"$TMP/state.kill"
expect_eq "after kill -9: the same verdicts, counts, LIST and AUDIT" \
    "$(cat "$TMP/state.before")" "$(cat "$TMP/state.kill")"
daemon_stop_n S

echo "# LIST"
daemon_start_n L
now=$(date +%s)
exp=$((now + 3600))
{
	for i in $(seq 1 12); do
		echo "REVOKE lj$i $exp ISS i$((i % 3)) REASON rj$i"
		echo "jti i$((i % 3)) lj$i $exp rj$i" >>"$TMP/want.all"
	done
	for i in $(seq 1 8); do
		echo "REVOKESUB lu$i BEFORE $((now - i)) REASON ru$i"
		echo "sub \"\" lu$i $((now - i)) ru$i" >>"$TMP/want.all"
	done
	for i in $(seq 1 6); do
		if [ $((i % 2)) = 0 ]; then
			echo "BAN lb$i UNTIL $((exp + i))"
			echo "ban \"\" lb$i $((exp + i)) \"\"" >>"$TMP/want.all"
		else
			echo "BAN lb$i"
			echo "ban \"\" lb$i 0 \"\"" >>"$TMP/want.all"
		fi
	done
	for i in $(seq 1 6); do
		echo "REVOKESID ls$i $exp ISS iss-s REASON rs$i"
		echo "sid iss-s ls$i $exp rs$i" >>"$TMP/want.all"
	done
	for i in $(seq 1 4); do
		echo "REVOKEALL ISS li$i BEFORE $((now - 10)) REASON ri$i"
		echo "iss li$i \"\" $((now - 10)) ri$i" >>"$TMP/want.all"
	done
	echo "REVOKEALL BEFORE $((now - 10)) REASON ri0"
	echo "iss \"\" \"\" $((now - 10)) ri0" >>"$TMP/want.all"
	# Changes: a later exp (reason kept), an earlier point with a new
	# reason, a lifted jti and a lifted ban.
	echo "REVOKE lj1 $((exp + 60)) ISS i1"
	echo "REVOKESUB lu1 BEFORE $((now - 100)) REASON newr"
	echo "UNREVOKE lj2 ISS i2"
	echo "UNBAN lb1"
} >"$TMP/list.cmds"
sed -i -e "s/^jti i1 lj1 $exp rj1\$/jti i1 lj1 $((exp + 60)) rj1/" \
    -e "s/^sub \"\" lu1 $((now - 1)) ru1\$/sub \"\" lu1 $((now - 1)) newr/" \
    -e '/^jti i2 lj2 /d' -e '/^ban "" lb1 /d' "$TMP/want.all"
LC_ALL=C sort -o "$TMP/want.all" "$TMP/want.all"
expect_eq "41 writes" "$(printf 'OK\n%.0s' $(seq 1 39); printf '1\n1')" \
    "$($PROBE cmds "$(dsock L)" <"$TMP/list.cmds")"
expect_eq "35 rules in force" 35 "$(wc -l <"$TMP/want.all")"
$RULES list "$(dsock L)" 3 >"$TMP/got.all" 2>"$TMP/steps"
expect_eq "LIST COUNT 3 until cursor 0: every rule, nothing else" \
    "$(cat "$TMP/want.all")" "$(LC_ALL=C sort "$TMP/got.all")"
expect_range "  in several steps ($(cat "$TMP/steps"))" 12 1000 \
    "$(sed 's/steps=\([0-9]*\).*/\1/' "$TMP/steps")"
for k in jti sub ban sid iss; do
	expect_eq "LIST TYPE $k" "$(grep "^$k " "$TMP/want.all")" \
	    "$($RULES list "$(dsock L)" 2 TYPE $k 2>/dev/null | LC_ALL=C sort)"
done
expect_eq "TYPE is case-insensitive" "$(grep '^sid ' "$TMP/want.all")" \
    "$($RULES list "$(dsock L)" 5 TYPE SiD 2>/dev/null | LC_ALL=C sort)"
expect_eq "MATCH lj1*" "$(grep -E '^jti i. lj1[0-9]* ' "$TMP/want.all")" \
    "$($RULES list "$(dsock L)" 3 MATCH 'lj1*' 2>/dev/null | LC_ALL=C sort)"
expect_eq "MATCH li[12] matches the issuer of iss rules" \
    "$(grep -E '^iss li[12] ' "$TMP/want.all")" \
    "$($RULES list "$(dsock L)" 3 MATCH 'li[12]' 2>/dev/null | LC_ALL=C sort)"
expect_eq "MATCH l?? TYPE ban" "$(grep -E '^ban ' "$TMP/want.all")" \
    "$($RULES list "$(dsock L)" 1 TYPE ban MATCH 'l??' 2>/dev/null | LC_ALL=C sort)"
expect_eq "MATCH * matches every id, the empty issuer too" \
    "$(cat "$TMP/want.all")" \
    "$($RULES list "$(dsock L)" 3 MATCH '*' 2>/dev/null | LC_ALL=C sort)"
expect_eq "MATCH \"\": the empty issuer's iss rule" "iss \"\" \"\" $((now - 10)) ri0" \
    "$($RULES list "$(dsock L)" 3 MATCH '' 2>/dev/null)"
expect_eq "MATCH nothing" "" \
    "$($RULES list "$(dsock L)" 3 MATCH 'nope*' 2>/dev/null)"
r=$(q L LIST)
expect_eq "LIST with defaults: one step, cursor 0, 35 entries" "0 35" \
    "$(field "$r" 1) $(( ($(echo "$r" | wc -w) - 1) / 5 ))"
expect_eq "COUNT 10000 is fine" 0 "$(field "$(q L LIST COUNT 10000)" 1)"
expect_eq "COUNT 0" "-ERR COUNT must be between 1 and 10000" \
    "$(q L LIST COUNT 0)"
expect_eq "COUNT 10001" "-ERR COUNT must be between 1 and 10000" \
    "$(q L LIST COUNT 10001)"
expect_eq "CURSOR abc" "-ERR invalid cursor" "$(q L LIST CURSOR abc)"
expect_eq "CURSOR -1" "-ERR invalid cursor" "$(q L LIST CURSOR -1)"
expect_eq "TYPE bogus" "-ERR unknown rule kind 'bogus'" \
    "$(q L LIST TYPE bogus)"
r=$(q L LIST CURSOR 123456789 COUNT 10000)
expect_eq "a cursor of no generation of this daemon starts over" "0 35" \
    "$(field "$r" 1) $(( ($(echo "$r" | wc -w) - 1) / 5 ))"
daemon_stop_n L
daemon_start_n L --compact-interval $((2 * SLOW))
expect_eq "after a restart: the same listing" "$(cat "$TMP/want.all")" \
    "$($RULES list "$(dsock L)" 3 2>/dev/null)"
LIST_WAIT_COMPACTION=2 $RULES list "$(dsock L)" 3 >"$TMP/got.c" 2>"$TMP/steps.c"
expect_eq "a compaction in the middle of the walk: still every rule" \
    "$(cat "$TMP/want.all")" "$(cat "$TMP/got.c")"
expect_range "  (compactions: $(dstat L journal_compactions); $(cat "$TMP/steps.c"))" \
    1 1000000 "$(dstat L journal_compactions)"
expect_eq "after it: the same listing" "$(cat "$TMP/want.all")" \
    "$($RULES list "$(dsock L)" 4 2>/dev/null)"
daemon_stop_n L
expect_eq "L: SIGTERM exit status" 0 $?

echo "# AUDIT"
daemon_start_n U --audit-keep 5
now=$(date +%s)
exp=$((now + 3600))
w=$($RULES pidcmd "$(dsock U)" REVOKE aj $exp ISS ai REASON 'audit one')
pid=$(field "$w" 1)
expect_eq "REVOKE" OK "$(field "$w" 2)"
r=$($RULES audit "$(dsock U)" COUNT 1)
t=$(rec_field "$r" time)
expect_range "the record's time" "$now" $((now + 5 * SLOW)) "$t"
expect_eq "the record" "time=$t command=REVOKE kind=jti iss=ai target=aj until=$exp reason=audit one uid=$ME_UID gid=$ME_GID pid=$pid comm=python3 host=$HOST" "$r"
w=$($RULES pidcmd "$(dsock U)" REVOKESUB au ISS ai REASON x)
r=$($RULES audit "$(dsock U)" COUNT 1)
expect_eq "REVOKESUB record: kind, until = before, another pid" \
    "command=REVOKESUB kind=sub target=au until=$(rec_field "$r" time) pid=$(field "$w" 1)" \
    "$(for f in command kind target until pid; do
        printf '%s=%s ' $f "$(rec_field "$r" $f)"; done | sed 's/ $//')"
expect_eq "BAN ab, UNBAN ab, REVOKESID as, REVOKEALL ai, UNREVOKE aj" \
    "OK 1 OK OK 1" "$(echo "$(dcli U BAN ab)" "$(dcli U UNBAN ab REASON ok)" \
    "$(dcli U REVOKESID as $exp)" "$(dcli U REVOKEALL ISS ai BEFORE $now)" \
    "$(dcli U UNREVOKE aj ISS ai REASON mistake)")"
$RULES audit "$(dsock U)" >"$TMP/audit.5"
expect_eq "AUDIT: the 5 newest (--audit-keep 5), newest first" \
    "UNREVOKE REVOKEALL REVOKESID UNBAN BAN" \
    "$(while read -r l; do rec_field "$l" command; done <"$TMP/audit.5" |
    tr '\n' ' ' | sed 's/ $//')"
expect_eq "  kinds" "jti iss sid ban ban" \
    "$(while read -r l; do rec_field "$l" kind; done <"$TMP/audit.5" |
    tr '\n' ' ' | sed 's/ $//')"
expect_eq "  targets (\"\" for REVOKEALL)" "aj  as ab ab" \
    "$(while read -r l; do rec_field "$l" target; done <"$TMP/audit.5" |
    tr '\n' ' ' | sed 's/ $//')"
expect_eq "  until (0 for removals and a ban without end)" "0 $now $exp 0 0" \
    "$(while read -r l; do rec_field "$l" until; done <"$TMP/audit.5" |
    tr '\n' ' ' | sed 's/ $//')"
expect_eq "  reasons of the removals" "mistake ok" \
    "$(sed -n '1p;4p' "$TMP/audit.5" | while read -r l; do
    rec_field "$l" reason; done | tr '\n' ' ' | sed 's/ $//')"
expect_eq "  written through redis-cli (dcli): comm" \
    "redis-cli redis-cli redis-cli redis-cli redis-cli" \
    "$(while read -r l; do rec_field "$l" comm; done <"$TMP/audit.5" |
    tr '\n' ' ' | sed 's/ $//')"
expect_eq "  uid, gid, host" "$ME_UID $ME_GID $HOST" \
    "$(while read -r l; do echo "$(rec_field "$l" uid) $(rec_field "$l" gid) $(rec_field "$l" host)"
    done <"$TMP/audit.5" | sort -u)"
expect_eq "  pids > 0, one per client" 5 \
    "$(while read -r l; do rec_field "$l" pid; done <"$TMP/audit.5" |
    awk '$1 > 0' | sort -u | wc -l)"
expect_eq "STATS audit_records audit_total" "5 7" \
    "$(dstat U audit_records) $(dstat U audit_total)"
expect_eq "writes that change nothing: EXPIRED, :0, error" \
    "EXPIRED EXPIRED 0 0 -ERR BEFORE is in the future" \
    "$(echo "$(q U REVOKE old $((now - 400)))" "$(q U BAN old UNTIL $((now - 400)))" \
    "$(q U UNBAN nobody)" "$(q U UNREVOKE nothing)" \
    "$(q U REVOKESUB x BEFORE $((now + 100)))")"
expect_eq "  leave no audit record" "5 7" \
    "$(dstat U audit_records) $(dstat U audit_total)"
expect_eq "AUDIT COUNT 6 with --audit-keep 5" \
    "-ERR COUNT must be between 1 and 5" "$($RULES audit "$(dsock U)" COUNT 6)"
expect_eq "AUDIT COUNT 0" "-ERR COUNT must be between 1 and 5" \
    "$($RULES audit "$(dsock U)" COUNT 0)"
expect_eq "AUDIT COUNT 2" "UNREVOKE REVOKEALL" \
    "$($RULES audit "$(dsock U)" COUNT 2 | while read -r l; do
    rec_field "$l" command; done | tr '\n' ' ' | sed 's/ $//')"
expect_eq "SINCE 0" "-ERR SINCE must be a positive Unix time" \
    "$($RULES audit "$(dsock U)" SINCE 0)"
expect_eq "SINCE x" "-ERR SINCE is not an integer" \
    "$($RULES audit "$(dsock U)" SINCE x)"
# SINCE: a record made in a later second than every other one.
tn=$(rec_field "$(head -1 "$TMP/audit.5")" time)
wait_for eval '[ "$(date +%s)" -gt "$tn" ]'
expect_eq "REVOKE late, a second later" OK "$(q U REVOKE late $exp)"
tl=$(rec_field "$($RULES audit "$(dsock U)" COUNT 1)" time)
expect_range "  its time is later" $((tn + 1)) $((tn + 100)) "$tl"
expect_eq "AUDIT SINCE its time: it alone" "REVOKE late" \
    "$($RULES audit "$(dsock U)" SINCE "$tl" | while read -r l; do
    echo "$(rec_field "$l" command) $(rec_field "$l" target)"; done)"
expect_range "AUDIT SINCE the second before: more" 2 5 \
    "$($RULES audit "$(dsock U)" SINCE "$tn" | wc -l)"
expect_eq "AUDIT SINCE the future: none" "" \
    "$($RULES audit "$(dsock U)" SINCE $((tl + 1000)))"
$RULES audit "$(dsock U)" >"$TMP/audit.before"
daemon_stop_n U
daemon_start_n U --audit-keep 5
expect_eq "after a restart: the same records (from the journal)" \
    "$(cat "$TMP/audit.before")" "$($RULES audit "$(dsock U)")"
daemon_kill9 U
daemon_start_n U --audit-keep 100
expect_eq "after kill -9 with --audit-keep 100: all 8 writes" \
    "REVOKE UNREVOKE REVOKEALL REVOKESID UNBAN BAN REVOKESUB REVOKE" \
    "$($RULES audit "$(dsock U)" | while read -r l; do
    rec_field "$l" command; done | tr '\n' ' ' | sed 's/ $//')"
expect_eq "  the first record whole" "time=$t command=REVOKE kind=jti iss=ai target=aj until=$exp reason=audit one uid=$ME_UID gid=$ME_GID pid=$pid comm=python3 host=$HOST" \
    "$($RULES audit "$(dsock U)" | tail -1)"
daemon_stop_n U
expect_eq "U: SIGTERM exit status" 0 $?
finish_n
