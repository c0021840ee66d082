#!/usr/bin/env bash
# The systemd units in systemd/: systemd-analyze verify has nothing to say
# about them (alone and with each example drop-in), the service's exposure
# (systemd-analyze security --offline) is at most 0.5, the sockets carry
# the names the daemon looks for, and sysusers creates the user and group
# the units name. Nothing is started: this checks the files, not a boot.
. "$(dirname "$0")/lib.sh"

UNITS=$(cd "$(dirname "$0")/../../systemd" && pwd)
SVCMGR_H=$(cd "$(dirname "$0")/../../daemon" && pwd)/svcmgr.h
# The highest exposure accepted, in tenths (systemd-analyze's figure runs
# from 0.0, best, to 10.0; --threshold takes tenths).
MAX_TENTHS=5
MAX_EXPOSURE=$((MAX_TENTHS / 10)).$((MAX_TENTHS % 10))
UNIT_FILES=(revokd.service revokd.socket revokd-admin.socket)

for tool in systemd-analyze systemd-sysusers; do
	if ! command -v "$tool" >/dev/null; then
		not_ok "$tool is installed" \
		    "not found: cannot check the units (Debian: apt-get install systemd)"
		finish
		exit 1
	fi
done
if [ ! -x "$BIN/revokd" ]; then
	not_ok "revokd is built" "$BIN/revokd is not executable"
	finish
	exit 1
fi

# unit_get FILE KEY: the last value assigned to KEY in FILE.
unit_get() {
	sed -n "s/^$2=//p" "$1" | tail -1
}

# stage DIR [DROPIN]: copy the units (and DROPIN as revokd.service.d/) to
# DIR, with ExecStart= naming the revokd just built, so that verify finds
# an executable.
stage() {
	local dir=$1 f
	mkdir -p "$dir"
	for f in "${UNIT_FILES[@]}"; do
		sed "/^ExecStart=/s|/usr/sbin/revokd|$BIN/revokd|" "$UNITS/$f" \
		    >"$dir/$f"
	done
	if [ -n "${2:-}" ]; then
		mkdir -p "$dir/revokd.service.d"
		sed "/^ExecStart=/s|/usr/sbin/revokd|$BIN/revokd|" "$2" \
		    >"$dir/revokd.service.d/$(basename "$2")"
	fi
}

# verify NAME DIR: systemd-analyze verify exits 0 and prints nothing about
# the units (it reports unknown keys, bad values and missing executables
# as warnings and still exits 0). Lines about other units on this machine
# are shown, not counted.
verify() {
	local name=$1 dir=$2 rc=0 f paths=()
	for f in "${UNIT_FILES[@]}"; do paths+=("$dir/$f"); done
	systemd-analyze verify "${paths[@]}" >"$TMP/verify.out" 2>&1 || rc=$?
	grep -v revokd "$TMP/verify.out" | sed 's/^/# (not ours) /'
	if [ "$rc" = 0 ] && ! grep -q revokd "$TMP/verify.out"; then
		ok "$name: systemd-analyze verify is silent"
	else
		not_ok "$name: systemd-analyze verify is silent" \
		    "exit $rc: $(grep revokd "$TMP/verify.out")"
	fi
}

# exposure DIR [THRESHOLD]: print the service's overall exposure level;
# with THRESHOLD (tenths, as --threshold takes it), fail above it.
exposure() {
	local rc=0
	systemd-analyze security --offline=true --threshold="${2:-100}" \
	    "$1/revokd.service" >"$TMP/security.out" 2>&1 || rc=$?
	sed -n 's/.*Overall exposure level for revokd\.service: \([0-9.]*\) .*/\1/p' \
	    "$TMP/security.out"
	return $rc
}

echo "# the units as shipped"
stage "$TMP/plain"
verify "units" "$TMP/plain"
rc=0
level=$(exposure "$TMP/plain" "$MAX_TENTHS") || rc=$?
echo "# revokd.service: overall exposure level $level (at most $MAX_EXPOSURE)"
if [ "$rc" = 0 ] && [ -n "$level" ] &&
    awk -v l="$level" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(l <= m) }'; then
	ok "exposure $level <= $MAX_EXPOSURE"
else
	not_ok "exposure <= $MAX_EXPOSURE" "got [$level], exit $rc; the checks failing:
$(grep -a '✗' "$TMP/security.out")"
fi

for dropin in "$UNITS"/examples/*.conf; do
	name=$(basename "$dropin" .conf)
	echo "# with the drop-in examples/$name.conf"
	stage "$TMP/$name" "$dropin"
	verify "$name drop-in" "$TMP/$name"
	echo "# revokd.service with $name.conf: overall exposure level $(exposure "$TMP/$name")"
done

echo "# what verify cannot see"
# fdname MACRO: the socket name daemon/svcmgr.h defines as MACRO.
fdname() {
	sed -n "s/^#define $1[[:space:]]*\"\(.*\)\".*/\1/p" "$SVCMGR_H"
}
if [ ! -f "$SVCMGR_H" ]; then
	not_ok "the daemon's socket names" "$SVCMGR_H not found"
fi
expect_eq "the services' socket is named as the daemon expects" \
    "$(fdname SVCMGR_FDNAME_SERVICES)" \
    "$(unit_get "$UNITS/revokd.socket" FileDescriptorName)"
expect_eq "the admins' socket is named as the daemon expects" \
    "$(fdname SVCMGR_FDNAME_ADMIN)" \
    "$(unit_get "$UNITS/revokd-admin.socket" FileDescriptorName)"
expect_eq "both sockets activate revokd.service" \
    "revokd.service revokd.service" \
    "$(unit_get "$UNITS/revokd.socket" Service) $(unit_get "$UNITS/revokd-admin.socket" Service)"
expect_eq "revokd.service is handed both sockets" \
    "revokd.socket revokd-admin.socket" \
    "$(unit_get "$UNITS/revokd.service" Sockets)"
expect_eq "the admins' socket is root's alone" "root root 0600" \
    "$(unit_get "$UNITS/revokd-admin.socket" SocketUser) $(unit_get "$UNITS/revokd-admin.socket" SocketGroup) $(unit_get "$UNITS/revokd-admin.socket" SocketMode)"

echo "# sysusers creates what the units name"
mkdir -p "$TMP/root/etc" "$TMP/root/usr/lib/sysusers.d"
cp "$UNITS/revokd.sysusers" "$TMP/root/usr/lib/sysusers.d/revokd.conf"
expect_exit "systemd-sysusers accepts revokd.sysusers" 0 \
    systemd-sysusers --root="$TMP/root"
user=$(unit_get "$UNITS/revokd.service" User)
group=$(unit_get "$UNITS/revokd.service" Group)
sgroup=$(unit_get "$UNITS/revokd.socket" SocketGroup)
pw=$(grep "^$user:" "$TMP/root/etc/passwd")
expect_eq "user $user, home /var/lib/revokd, no login" \
    "/var/lib/revokd:/usr/sbin/nologin" "$(echo "$pw" | cut -d: -f6-)"
expect_eq "its primary group is $group" \
    "$(echo "$pw" | cut -d: -f4)" \
    "$(grep "^$group:" "$TMP/root/etc/group" | cut -d: -f3)"
if grep -q "^$sgroup:" "$TMP/root/etc/group"; then
	ok "the services' socket's group $sgroup exists"
else
	not_ok "the services' socket's group $sgroup exists" \
	    "$(cat "$TMP/root/etc/group")"
fi

finish
