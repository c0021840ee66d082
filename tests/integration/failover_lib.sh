# Helpers for the Sentinel failover tests (test_redis_failover*.sh): Redis
# nodes and sentinels on loopback TCP ports (sentinels announce addresses,
# so no Unix sockets), each with its own directory $TMP/NAME and log
# $TMP/node-NAME.log; background clients (failover.py) that stop when a
# file appears. Source after lib.sh.

declare -gA NODE_PIDS=() NODE_PORTS=() NODE_AUTH=()
# Background clients' pids, stopped by touching $STOP.
BG_PIDS=()
STOP=$TMP/stop
MASTER=revokd-test
P=revokd:
FAILOVER="/usr/bin/python3 $(dirname "${BASH_SOURCE[0]}")/failover.py"
if command -v redis-sentinel >/dev/null; then SENTINEL_CMD=(redis-sentinel)
else SENTINEL_CMD=(redis-server); SENTINEL_ARGS=(--sentinel); fi

# Kill every background client and node, then lib.sh's cleanup.
failover_cleanup() {
	local pid
	touch "$STOP" 2>/dev/null
	for pid in "${BG_PIDS[@]}" "${NODE_PIDS[@]}"; do
		if kill -0 "$pid" 2>/dev/null; then
			kill -CONT "$pid" 2>/dev/null
			kill -KILL "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
		fi
	done
	cleanup
}
trap failover_cleanup EXIT

# now_ms: the time in Unix milliseconds.
now_ms() {
	date +%s%3N
}

# free_port: print a loopback TCP port nobody listens on, below the
# ephemeral range (so that no outgoing connection takes it meanwhile) and
# not handed out to another node of this test.
free_port() {
	/usr/bin/python3 - "${NODE_PORTS[@]}" <<-'EOF'
	import random, socket, sys
	taken = set(int(p) for p in sys.argv[1:])
	for _ in range(1000):
	    port = random.randrange(10000, 32000)
	    if port in taken:
	        continue
	    s = socket.socket()
	    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
	    try:
	        s.bind(("127.0.0.1", port))
	    except OSError:
	        continue
	    finally:
	        s.close()
	    print(port)
	    break
	EOF
}

# naddr NAME: node NAME's "127.0.0.1:PORT" (as sentinels and STATS say it).
naddr() {
	echo "127.0.0.1:${NODE_PORTS[$1]}"
}

nlog() { echo "$TMP/node-$1.log"; }

# ncli NAME ARGS...: redis-cli against node NAME (its password, if any,
# through the environment, never argv).
ncli() {
	local name=$1
	shift
	if [ -n "${NODE_AUTH[$name]:-}" ]; then
		REDISCLI_AUTH=${NODE_AUTH[$name]} redis-cli -h 127.0.0.1 \
		    -p "${NODE_PORTS[$name]}" "$@"
	else
		redis-cli -h 127.0.0.1 -p "${NODE_PORTS[$name]}" "$@"
	fi
}

# _node_wait NAME: wait until node NAME answers PING; 1 if it died or 20 s
# passed.
_node_wait() {
	local end=$(( $(date +%s) + 20 ))
	until [ "$(ncli "$1" PING 2>/dev/null)" = PONG ]; do
		if ! kill -0 "${NODE_PIDS[$1]}" 2>/dev/null ||
		    [ "$(date +%s)" -ge "$end" ]; then
			return 1
		fi
		sleep 0.02
	done
}

# _node_run NAME CMD...: run CMD (a redis-server or sentinel for NAME, on
# NODE_PORTS[NAME], which is picked if unset) in the background and wait
# until it answers; a port picked here that turns out taken is picked
# again. Exits the test if the node does not come up.
_node_run() {
	local name=$1 try fresh=0
	shift
	[ -n "${NODE_PORTS[$name]:-}" ] || fresh=1
	for try in 1 2 3 4 5; do
		[ -n "${NODE_PORTS[$name]:-}" ] || NODE_PORTS[$name]=$(free_port)
		echo "--- start $name on port ${NODE_PORTS[$name]}" >>"$(nlog "$name")"
		"$@" &
		NODE_PIDS[$name]=$!
		_node_wait "$name" && return 0
		kill -KILL "${NODE_PIDS[$name]}" 2>/dev/null
		wait "${NODE_PIDS[$name]}" 2>/dev/null
		unset "NODE_PIDS[$name]"
		if [ $fresh = 1 ] && grep -q 'Address already in use' "$(nlog "$name")"
		then
			unset "NODE_PORTS[$name]"
			continue
		fi
		break
	done
	echo "node $name did not come up; log:" >&2
	cat "$(nlog "$name")" >&2
	exit 1
}

# node_start NAME [ARGS...]: start a redis-server NAME on 127.0.0.1, on
# NODE_PORTS[NAME] if set (a restart) or a free port; no persistence
# unless ARGS say otherwise (later arguments win); a replica's full sync
# starts at once (Redis waits 5 s by default for more replicas).
node_start() {
	local name=$1
	shift
	mkdir -p "$TMP/$name"
	# The port is read when the command runs, after _node_run picked it.
	_node_run "$name" _redis_server "$name" "$@"
}

_redis_server() {
	local name=$1
	shift
	exec redis-server --port "${NODE_PORTS[$name]}" --bind 127.0.0.1 \
	    --dir "$TMP/$name" --save '' --appendonly no --daemonize no \
	    --repl-diskless-sync-delay 0 --logfile "$(nlog "$name")" "$@"
}

# replica_start NAME PRIMARY [ARGS...]: node_start NAME as a replica of
# node PRIMARY; wait until its link is up.
replica_start() {
	local name=$1 primary=$2
	shift 2
	node_start "$name" --replicaof 127.0.0.1 "${NODE_PORTS[$primary]}" "$@"
	if ! wait_secs 20 replica_of "$name" "$primary"; then
		echo "replica $name did not sync with $primary:" >&2
		tail -20 "$(nlog "$name")" >&2
		exit 1
	fi
}

# replica_of NAME PRIMARY: node NAME is a replica of node PRIMARY with its
# link up.
replica_of() {
	local info
	info=$(ncli "$1" INFO replication 2>/dev/null | tr -d '\r')
	echo "$info" | grep -qx role:slave &&
	    echo "$info" | grep -qx "master_port:${NODE_PORTS[$2]}" &&
	    echo "$info" | grep -qx master_link_status:up
}

# sentinel_start NAME PRIMARY [CONFIG-LINE...]: start a sentinel NAME
# watching node PRIMARY as $MASTER (quorum 2), with a short
# down-after-milliseconds and failover-timeout; extra configuration
# lines (e.g. "requirepass x") after. A sentinel rewrites its file, so it
# gets its own in $TMP/NAME. NODE_PORTS[PRIMARY] must be set, the node
# need not be up.
sentinel_start() {
	local name=$1 primary=$2 line
	shift 2
	mkdir -p "$TMP/$name"
	_node_run "$name" _sentinel "$name" "$primary" "$@"
}

_sentinel() {
	local name=$1 primary=$2 conf=$TMP/$1/sentinel.conf line
	shift 2
	{
		echo "port ${NODE_PORTS[$name]}"
		echo "bind 127.0.0.1"
		echo "daemonize no"
		echo "dir $TMP/$name"
		echo "logfile $(nlog "$name")"
		echo "sentinel monitor $MASTER 127.0.0.1 ${NODE_PORTS[$primary]} 2"
		echo "sentinel down-after-milliseconds $MASTER 1000"
		echo "sentinel failover-timeout $MASTER 5000"
		echo "sentinel parallel-syncs $MASTER 1"
		for line in "$@"; do echo "$line"; done
	} >"$conf"
	exec "${SENTINEL_CMD[@]}" "$conf" "${SENTINEL_ARGS[@]}"
}

# sentinel_url NAME...: the daemon's --redis URL for these sentinels.
sentinel_url() {
	local n hosts=
	for n in "$@"; do hosts=$hosts${hosts:+,}127.0.0.1:${NODE_PORTS[$n]}; done
	echo "sentinel://$hosts/$MASTER"
}

# sentinel_field NAME FIELD: one field of SENTINEL MASTER on sentinel NAME.
sentinel_field() {
	ncli "$1" SENTINEL MASTER "$MASTER" 2>/dev/null | tr -d '\r' |
	    grep -A1 -x -- "$2" | tail -1
}

# sentinel_primary NAME: "host:port" of the primary sentinel NAME names.
sentinel_primary() {
	ncli "$1" SENTINEL GET-MASTER-ADDR-BY-NAME "$MASTER" 2>/dev/null |
	    tr -d '\r' | paste -sd:
}

# sentinels_ready NREPLICAS NAME...: every named sentinel knows the others
# and NREPLICAS replicas, and takes the primary for up.
sentinels_ready() {
	local want=$1 n
	shift
	for n in "$@"; do
		[ "$(sentinel_field "$n" num-other-sentinels)" = $(($# - 1)) ] &&
		    [ "$(sentinel_field "$n" num-slaves)" = "$want" ] &&
		    [ "$(sentinel_field "$n" flags)" = master ] || return 1
	done
}

# all_sentinels_say ADDR NAME...: every named sentinel names ADDR primary.
all_sentinels_say() {
	local addr=$1 n
	shift
	for n in "$@"; do
		[ "$(sentinel_primary "$n")" = "$addr" ] || return 1
	done
}

# node_kill NAME: kill -9 node NAME and reap it.
node_kill() {
	kill -KILL "${NODE_PIDS[$1]}" 2>/dev/null
	wait "${NODE_PIDS[$1]}" 2>/dev/null
	unset "NODE_PIDS[$1]"
	return 0
}

# node_of_addr ADDR: the name of the node at "127.0.0.1:PORT".
node_of_addr() {
	local n
	for n in "${!NODE_PORTS[@]}"; do
		[ "$(naddr "$n")" = "$1" ] && { echo "$n"; return 0; }
	done
	return 1
}

# cut_replication PRIMARY: the replicas of node PRIMARY stop receiving its
# writes, and stay connected to nothing: their links are killed and
# PRIMARY refuses their PSYNC/SYNC (an ACL on the default user, which the
# daemons and sentinels use too, for other commands). What PRIMARY then
# acknowledges exists nowhere else: lost if it dies.
cut_replication() {
	ncli "$1" ACL SETUSER default -psync -sync >/dev/null &&
	    ncli "$1" CLIENT KILL TYPE replica >/dev/null
}

# primary_is NAME ADDR: daemon NAME is synced on the primary ADDR.
primary_is() {
	stat_is "$1" redis_primary "$2" && synced "$1"
}

# bg NAME CMD...: run CMD in the background (a failover.py client until
# $STOP exists), its stderr in $TMP/bg-NAME.err.
bg() {
	local name=$1
	shift
	"$@" 2>"$TMP/bg-$name.err" &
	BG_PIDS+=($!)
}

# bg_stop: touch $STOP, wait for every background client.
bg_stop() {
	local pid
	touch "$STOP"
	for pid in "${BG_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
	BG_PIDS=()
}

# wlog_count LOG AFTER_MS REPLY: writes in writer log LOG sent at or after
# AFTER_MS and answered REPLY.
wlog_count() {
	awk -v t="$2" -v r="$3" '$1 >= t && $4 == r {n++} END {print n + 0}' "$1"
}

# cut_window_filled T_CUT: B has 20 writes sent since T_CUT answered +OK,
# A 2 writes sent since T_CUT answered.
cut_window_filled() {
	[ "$(wlog_count "$TMP/w-B" "$1" OK)" -ge 20 ] &&
	    [ "$(awk -v t="$1" '$1 >= t' "$TMP/w-A" | wc -l)" -ge 2 ]
}

# grown FILE LINES: FILE has at least LINES lines.
grown() {
	[ "$(wc -l <"$1")" -ge "$2" ]
}

# fig KEY: a value of the figures line $FIGS.
fig() {
	echo " $FIGS " | sed -n "s/.* $1=\([^ ]*\) .*/\1/p"
}

# ms_to_s MS: "1.234".
ms_to_s() {
	awk -v m="$1" 'BEGIN {printf "%.3f", m / 1000}'
}

# redis_jkeys NAME: how many entry keys (P j:*) node NAME holds.
redis_jkeys() {
	ncli "$1" --scan --pattern "${P}j:*" | wc -l
}

# failover_run OLD: the failover of test_redis_failover*.sh, with daemons
# A (--redis-replicas 1) and B synced on node OLD, the primary, watched by
# sentinels s1 s2 s3. A canary revoked before; a
# writer (REVOKE a<i> on A, b<i> on B, logs $TMP/w-A, $TMP/w-B), a checker
# per daemon (the canary stays revoked, "free" unrevoked, every CHECK
# answered), a monitor of STATS ($TMP/mon). Replication from OLD is cut
# (its replicas miss what it acknowledges from then on, so B's +OK writes
# are lost with it), OLD is killed -9, a replica is promoted; both daemons
# must follow, keep answering, and every acknowledged write must end up on
# the new primary and in both daemons. Sets NEW (the new primary's node
# name), T_CUT, T_KILL (Unix ms), FIGS (failover.py figures); prints the
# figures. With A_OK_AFTER=1 the new
# primary has a replica, so A's writes (--redis-replicas 1) are +OK again
# once it follows.
failover_run() {
	local old=$1 n new_addr out rc pending
	exp=$(( $(date +%s) + 3600 ))
	expect_eq "REVOKE canary on A: +OK" OK "$(dcli A REVOKE canary "$exp")"
	expect_within "B has the canary" 10 eval \
	    '[ "$(dcli B CHECK canary | head -1)" = revoked ]'

	rm -f "$STOP"
	bg wA $FAILOVER writer "$(dsock A)" a "$exp" "$TMP/w-A" "$STOP"
	bg wB $FAILOVER writer "$(dsock B)" b "$exp" "$TMP/w-B" "$STOP"
	bg cA $FAILOVER checker "$(dsock A)" canary free "$TMP/c-A" "$STOP"
	bg cB $FAILOVER checker "$(dsock B)" canary free "$TMP/c-B" "$STOP"
	bg mon $FAILOVER monitor "$TMP/mon" "$STOP" A="$(dsock A)" B="$(dsock B)"
	expect_within "writes flow: 20 +OK on each daemon" 10 eval \
	    '[ "$(wlog_count "$TMP/w-A" 0 OK)" -ge 20 ] &&
	     [ "$(wlog_count "$TMP/w-B" 0 OK)" -ge 20 ]'

	echo "# replication from $old cut: its replicas miss what it acknowledges"
	cut_replication "$old"
	# Taken after: a write sent from now on reaches no replica.
	T_CUT=$(now_ms)
	# The replicas stay eligible for promotion while their link has been
	# down less than 10 x down-after-milliseconds: a fixed deadline (not
	# scaled by SLOW), and go on with what was written by then.
	DEADLINE=4 wait_for cut_window_filled "$T_CUT"
	T_KILL=$(now_ms)
	echo "# kill -9 of the primary $old"
	node_kill "$old"

	expect_within "the sentinels promote a replica" 30 eval \
	    '[ -n "$(sentinel_primary s1)" ] &&
	     [ "$(sentinel_primary s1)" != "$(naddr "$old")" ]'
	new_addr=$(sentinel_primary s1)
	NEW=$(node_of_addr "$new_addr")
	echo "# the new primary: $NEW ($new_addr), named by s1 after" \
	    "$(ms_to_s $(( $(now_ms) - T_KILL ))) s"
	expect_within "A follows: synced on $new_addr" 30 primary_is A "$new_addr"
	expect_within "B follows: synced on $new_addr" 30 primary_is B "$new_addr"
	# Writes go on after the move before the writers stop.
	wait_secs 10 grown "$TMP/w-A" $(( $(wc -l <"$TMP/w-A") + 20 ))
	wait_secs 10 grown "$TMP/w-B" $(( $(wc -l <"$TMP/w-B") + 20 ))
	bg_stop

	out=$($FAILOVER converge "$T_KILL" $((30 * SLOW)) "$new_addr" "$P" \
	    "$(dsock A)" "$(dsock B)" -- "$TMP/w-A" "$TMP/w-B")
	rc=$?
	echo "# $out"
	expect_eq "every acknowledged write on the new primary and both daemons" \
	    0 $rc
	CONVERGED_MS=$(echo "$out" | sed -n 's/^converged_ms=\([0-9]*\).*/\1/p')

	FIGS=$($FAILOVER figures "$T_CUT" "$T_KILL" "$new_addr" "$TMP/mon" \
	    A="$TMP/w-A" B="$TMP/w-B")
	echo "# failover figures: $FIGS"
	echo "# without a reachable primary (kill -9 to the first daemon synced" \
	    "on $new_addr): $(ms_to_s "$(fig outage_ms)") s (A $(ms_to_s \
	    "$(fig A_synced_ms)") s, B $(ms_to_s "$(fig B_synced_ms)") s)"
	echo "# writes answered +PENDING during it: A $(fig A_outage_pending)," \
	    "B $(fig B_outage_pending) (and +OK: A $(fig A_outage_ok), B" \
	    "$(fig B_outage_ok))"
	echo "# replication cut to kill: A $(fig A_cut_pending) +PENDING" \
	    "$(fig A_cut_ok) +OK; B $(fig B_cut_ok) +OK (lost with $old)" \
	    "$(fig B_cut_pending) +PENDING"
	echo "# convergence (kill -9 to every acknowledged write in Redis and" \
	    "both daemons): $(ms_to_s "${CONVERGED_MS:-0}") s;" \
	    "writes: A $(fig A_writes), B $(fig B_writes)"
	echo "# A's states after the kill: $(fig A_states)"
	echo "# B's states after the kill: $(fig B_states)"

	expect_eq "every write answered +OK or +PENDING" "0 0" \
	    "$(fig A_bad) $(fig B_bad)"
	grep -h -e '-EXC' "$TMP/w-A" "$TMP/w-B" | head -3
	expect_eq "A (--redis-replicas 1): no +OK while no replica had its writes" \
	    0 "$(fig A_cut_ok)"
	expect_range "B (no --redis-replicas): +OK from the cut-off primary" \
	    1 1000000 "$(fig B_cut_ok)"
	for n in A B; do
		expect_eq "$n: CHECK answered right throughout" "" \
		    "$(grep -m3 '^wrong' "$TMP/c-$n")"
		expect_range "$n: CHECKs made during the failover" 10 100000000 \
		    "$(sed -n 's/^summary checks=\([0-9]*\).*/\1/p' "$TMP/c-$n")"
		# From memory: a CHECK never waits for Redis or a sentinel. A
		# loaded machine may still hold one up for a while.
		expect_range "$n: slowest CHECK under 1 s" 0 $((1000 * SLOW)) \
		    "$(sed -n 's/.* max_ms=\([0-9]*\).*/\1/p' "$TMP/c-$n")"
		expect_eq "$n: redis_failovers" 1 "$(dstat "$n" redis_failovers)"
	done
	echo "# checks: A $(tail -1 "$TMP/c-A"), B $(tail -1 "$TMP/c-B")"
	expect_range "B re-sent the +OK writes $old lost (redis_republished)" \
	    "$(fig B_cut_ok)" 1000000 "$(dstat B redis_republished)"
	echo "# redis_republished: A $(dstat A redis_republished)," \
	    "B $(dstat B redis_republished)"
	expect_eq "the stream on $NEW: each daemon's writes in order" ordered=1 \
	    "$($FAILOVER streamorder "$new_addr" "${P}stream" |
	        grep -o 'ordered=[01]')"
	if [ "${A_OK_AFTER:-0}" = 1 ]; then
		expect_range "A: +OK again once it follows a primary with a replica" \
		    1 1000000 "$(fig A_after_ok)"
		expect_within "A and B converge (synced, nothing pending)" 20 \
		    redis_converged A B
	else
		expect_eq "A: +PENDING only while the new primary has no replica" \
		    0 "$(fig A_after_ok)"
		expect_within "B converges (synced, nothing pending)" 20 \
		    redis_converged B
		pending=$(dstat A redis_pending)
		expect_range "A: its writes wait for a replica (redis_pending)" \
		    1 1000000 "$pending"
	fi
	# Exactly the acknowledged writes and the canary: nothing made up.
	n=$(( $(awk '$4 == "OK" || $4 == "PENDING"' "$TMP/w-A" "$TMP/w-B" |
	    wc -l) + 1 ))
	expect_eq "$NEW holds one entry key per acknowledged write" $n \
	    "$(redis_jkeys "$NEW")"
	expect_eq "A: entries" $n "$(dstat A entries)"
	expect_eq "B: entries" $n "$(dstat B entries)"
}
