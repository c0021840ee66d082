#!/usr/bin/env bash
# `cmake --install` into temp DESTDIRs. With the prefix /usr every file is
# where a distribution puts it and nothing else is installed; with the
# prefix /opt/revokd nothing lands outside the prefix. Then librevokd is
# used from the /usr tree the way its users would: the README's example
# built with nothing but `pkg-config librevokd` (shared and static) and
# with find_package(revokd) (revokd::client, revokd::client_static), and
# run against the installed revokd and revokectl. Also: the manual pages
# format without warnings and name every option, command and function,
# and the example configuration names every setting.
#
# Usage: test_install.sh BINDIR BUILDDIR
# Environment, set by tests/CMakeLists.txt from the build's settings:
# REVOKD_SANITIZE (programs linking a sanitized librevokd need the same
# flags), CC, CMAKE, REVOKD_SYSTEMD_UNITDIR, REVOKD_SYSUSERSDIR.
# Writes nothing outside its temp dir but what cmake --install writes in
# the build tree: install_manifest.txt, which it puts back as it was, and
# the install-time librevokd.pc and install-staging/.
. "$(dirname "$0")/lib.sh"
# The compilers' temporary files too.
export TMPDIR=$TMP

BUILD=${2:?usage: $0 BINDIR BUILDDIR}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
CC=${CC:-cc}
CMAKE=${CMAKE:-cmake}
SANFLAGS=()
if [ -n "${REVOKD_SANITIZE:-}" ]; then
	SANFLAGS=(-fsanitize="$REVOKD_SANITIZE")
fi
D=$TMP/destdir		# the install with the prefix /usr
OPT=$TMP/destdir-opt	# the install with the prefix /opt/revokd
EXAMPLE=$SRC/tests/example/verify_check.c

# cmake --install writes BUILDDIR/install_manifest.txt; a real install's
# manifest (what `xargs rm` would uninstall) must survive this test.
MANIFEST=$BUILD/install_manifest.txt
if [ -e "$MANIFEST" ]; then
	cp -p "$MANIFEST" "$TMP/manifest.saved"
fi
restore_manifest() {
	if [ -e "$TMP/manifest.saved" ]; then
		cp -p "$TMP/manifest.saved" "$MANIFEST"
	else
		rm -f "$MANIFEST"
	fi
}
trap 'restore_manifest; cleanup' EXIT

# check NAME COMMAND...: ok if the command succeeds, else not ok with its
# output.
check() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		ok "$name"
	else
		not_ok "$name" "$(printf '%s' "$out" | head -c 2000)"
	fi
}

# install_to DESTDIR PREFIX: cmake --install the build there.
install_to() {
	DESTDIR=$1 "$CMAKE" --install "$BUILD" --prefix "$2" \
	    >"$TMP/install.log" 2>&1
}

# absdir DIR: DIR, made absolute under /usr when relative (as CMake does).
absdir() {
	case $1 in
	/*) echo "$1" ;;
	*) echo "/usr/$1" ;;
	esac
}

# Where the units and the sysusers.d file belong for the prefix /usr (the
# rule in CMakeLists.txt): the build's override, else systemd's own
# directories as pkg-config names them, else /usr/lib/...
UNITDIR=${REVOKD_SYSTEMD_UNITDIR:-}
[ -n "$UNITDIR" ] ||
    UNITDIR=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null)
UNITDIR=$(absdir "${UNITDIR:-lib/systemd/system}")
SYSUSERSDIR=${REVOKD_SYSUSERSDIR:-}
[ -n "$SYSUSERSDIR" ] ||
    SYSUSERSDIR=$(pkg-config --variable=sysusersdir systemd 2>/dev/null)
SYSUSERSDIR=$(absdir "${SYSUSERSDIR:-lib/sysusers.d}")

# --- The prefix /usr --------------------------------------------------------

if ! install_to "$D" /usr; then
	not_ok "cmake --install --prefix /usr" "$(tail -20 "$TMP/install.log")"
	finish
	exit 1
fi
ok "cmake --install --prefix /usr into a DESTDIR"

check "revokd in sbin" test -x "$D/usr/sbin/revokd"
check "revokectl in bin" test -x "$D/usr/bin/revokectl"

# The library directory: lib, lib64 or lib/<multiarch>, whatever
# GNUInstallDirs chose; the one librevokd.so.0 says which.
mapfile -t sos < <(cd "$D" && find . -name librevokd.so.0 | sed 's|^\.||')
if [ "${#sos[@]}" -ne 1 ] || [[ ${sos[0]} != /usr/lib* ]]; then
	not_ok "one librevokd.so.0 in /usr/lib*" "found: ${sos[*]:-none}"
	finish
	exit 1
fi
LIBDIR=$(dirname "${sos[0]}")
ok "librevokd.so.0 in $LIBDIR"
L=$D$LIBDIR
real=$(readlink -f "$L/librevokd.so.0")
check "librevokd.so.0 is a link to librevokd.so.0.x.y" \
    test -L "$L/librevokd.so.0" -a -f "$real" -a \
    "$(dirname "$real")" = "$(readlink -f "$L")"
case $(basename "$real") in
librevokd.so.0.*) ok "the real file is $(basename "$real")" ;;
*) not_ok "the real file is librevokd.so.0.x.y" "$(basename "$real")" ;;
esac
check "librevokd.so (for -lrevokd) links to it" \
    test -L "$L/librevokd.so" -a "$(readlink -f "$L/librevokd.so")" = "$real"
expect_eq "SONAME" "librevokd.so.0" \
    "$(readelf -d "$real" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')"
expect_eq "the shared library exports revokd_* only" "" \
    "$(nm -D --defined-only "$real" | awk '{ print $3 }' |
    grep -v '^revokd_' | tr '\n' ' ')"
check "librevokd.a" test -f "$L/librevokd.a" -a ! -L "$L/librevokd.a"

expect_eq "the only installed header is revokd.h" "/usr/include/revokd.h" \
    "$(cd "$D" && find ./usr/include ! -type d | sed 's|^\.||' |
    tr '\n' ' ' | sed 's/ $//')"
check "revokd.h as in client/include" \
    cmp "$D/usr/include/revokd.h" "$SRC/client/include/revokd.h"

PC=$L/pkgconfig/librevokd.pc
check "librevokd.pc in $LIBDIR/pkgconfig" test -f "$PC"
expect_eq "librevokd.pc: prefix" "/usr" "$(sed -n 's/^prefix=//p' "$PC")"
expect_eq "librevokd.pc: libdir" "\${prefix}${LIBDIR#/usr}" \
    "$(sed -n 's/^libdir=//p' "$PC")"
expect_eq "librevokd.pc: Requires.private" "hiredis >= 0.14 jansson libcrypto" \
    "$(sed -n 's/^Requires.private: //p' "$PC")"

CM=$L/cmake/revokd
for f in revokdConfig.cmake revokdConfigVersion.cmake revokdTargets.cmake \
    revokdStaticTargets.cmake; do
	check "$LIBDIR/cmake/revokd/$f" test -f "$CM/$f"
done

for m in man8/revokd.8 man1/revokectl.1 man3/librevokd.3; do
	check "man page $m" cmp "$D/usr/share/man/$m" "$SRC/man/${m#*/}"
done

for u in revokd.service revokd.socket revokd-admin.socket; do
	check "unit $UNITDIR/$u as in systemd/" \
	    cmp "$D$UNITDIR/$u" "$SRC/systemd/$u"
done
exec_start=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$D$UNITDIR/revokd.service")
expect_eq "ExecStart= names the installed revokd" "/usr/sbin/revokd" \
    "$exec_start"
check "which is there" test -x "$D$exec_start"
check "sysusers.d: $SYSUSERSDIR/revokd.conf" \
    cmp "$D$SYSUSERSDIR/revokd.conf" "$SRC/systemd/revokd.sysusers"
DOC=$D/usr/share/doc/revokd
check "example configuration in /usr/share/doc/revokd" \
    cmp "$DOC/revokd.conf.example" "$SRC/systemd/revokd.conf.example"
for f in redis-unix.conf redis-tcp.conf; do
	check "example drop-in $f" cmp "$DOC/examples/$f" \
	    "$SRC/systemd/examples/$f"
done

# Nothing else: no tests, no internal headers, no tmpfiles.d entry (the
# socket units create /run/revokd).
expected="/usr/sbin/revokd /usr/bin/revokectl /usr/include/revokd.h
$LIBDIR/librevokd.so $LIBDIR/librevokd.so.0 ${real#"$D"} $LIBDIR/librevokd.a
$LIBDIR/pkgconfig/librevokd.pc $LIBDIR/cmake/revokd/revokdConfig.cmake
$LIBDIR/cmake/revokd/revokdConfigVersion.cmake
$LIBDIR/cmake/revokd/revokdTargets.cmake
$LIBDIR/cmake/revokd/revokdStaticTargets.cmake
/usr/share/man/man8/revokd.8 /usr/share/man/man1/revokectl.1
/usr/share/man/man3/librevokd.3 $UNITDIR/revokd.service
$UNITDIR/revokd.socket $UNITDIR/revokd-admin.socket
$SYSUSERSDIR/revokd.conf /usr/share/doc/revokd/revokd.conf.example
/usr/share/doc/revokd/examples/redis-unix.conf
/usr/share/doc/revokd/examples/redis-tcp.conf"
unexpected=$(cd "$D" && find . ! -type d | sed 's|^\.||' | sort |
    while read -r f; do
	case " $(echo $expected) " in
	*" $f "*) ;;
	*) case $f in
	   $LIBDIR/cmake/revokd/revokd*Targets-*.cmake) ;;
	   *) echo "$f" ;;
	   esac ;;
	esac
    done)
expect_eq "nothing else is installed" "" "$(echo $unexpected)"

# Installed programs must not look for libraries in the build tree.
for f in "$D/usr/sbin/revokd" "$D/usr/bin/revokectl" "$real"; do
	expect_eq "no RPATH into the build tree: ${f#"$D"}" "" \
	    "$(readelf -d "$f" | grep -E 'R(UN)?PATH' | grep -F "$BUILD")"
done

version=$(sed -n 's/^Version: //p' "$PC")
expect_eq "revokd --version" "revokd $version" \
    "$("$D/usr/sbin/revokd" --version 2>&1)"
expect_eq "revokectl -V" "revokectl $version" \
    "$("$D/usr/bin/revokectl" -V 2>&1)"

# --- The manual pages and the example configuration ------------------------

if command -v groff >/dev/null; then
	for m in revokd.8 revokectl.1 librevokd.3; do
		expect_eq "groff -man -ww: no warnings from $m" "" \
		    "$(groff -man -Tutf8 -ww -z "$SRC/man/$m" 2>&1)"
	done
else
	ok "groff -man -ww # SKIP groff is not installed"
fi

# man_text PAGE: the page's source with \- read as - and no font changes.
man_text() {
	sed 's/\\-/-/g; s/\\&//g; s/\\f[BIRP]//g' "$SRC/man/$1"
}

# Every long option of revokd --help.
mapfile -t longopts < <("$D/usr/sbin/revokd" --help 2>&1 |
    grep -oE -- '--[a-z][a-z-]+' | sort -u)
missing=()
for o in "${longopts[@]}"; do
	man_text revokd.8 | grep -qF -- "$o" || missing+=("$o")
done
expect_eq "revokd.8 describes every option of revokd --help" "" "${missing[*]}"

# Every command of revokectl's usage, and every option of those commands.
usage=$("$D/usr/bin/revokectl" 2>&1)
mapfile -t cmds < <(printf '%s\n' "$usage" |
    sed -n '/^commands:/,/^[^ ]/s/^  \([a-z-]*\).*/\1/p')
missing=()
for c in "${cmds[@]}"; do
	man_text revokectl.1 | grep -qE "^\.B[IR]? $c( |$)" || missing+=("$c")
done
for o in $(printf '%s\n' "$usage" | grep -oE -- '--[a-z]+' | sort -u); do
	man_text revokectl.1 | grep -qF -- "$o" || missing+=("$o")
done
if [ "${#cmds[@]}" -lt 7 ]; then
	not_ok "revokectl.1 describes every command" \
	    "could not read the commands from the usage: ${cmds[*]}"
else
	expect_eq "revokectl.1 describes every command and option" "" \
	    "${missing[*]}"
fi

# Every function of revokd.h.
mapfile -t funcs < <(grep -oE '\brevokd_[a-z_]+\(' \
    "$SRC/client/include/revokd.h" | tr -d '(' | sort -u)
missing=()
for f in "${funcs[@]}"; do
	man_text librevokd.3 | grep -qE "^\.BI? .*\b$f\(" || missing+=("$f")
done
expect_eq "librevokd.3 describes every function of revokd.h (${#funcs[@]})" \
    "" "${missing[*]}"

# The example configuration: comments only (as it is, it changes
# nothing), and a "#key = default" line for each long option of revokd
# --help but those that are not settings.
CONF=$SRC/systemd/revokd.conf.example
expect_eq "revokd.conf.example: every line a comment" "" \
    "$(grep -vnE '^(#|$)' "$CONF")"
expect_eq "revokd.conf.example: a key for every setting, no other" \
    "$(printf '%s\n' "${longopts[@]#--}" | grep -vxE 'help|version|config' |
    tr '\n' ' ')" \
    "$(sed -n 's/^#\([a-z][a-z-]*\) = .*/\1/p' "$CONF" | sort -u |
    tr '\n' ' ')"
# The installed example is a valid configuration file as it is. A daemon
# started here reads an empty one, not the host's /etc/revokd/revokd.conf.
: >"$TMP/empty.conf"
NOCONF=(-c "$TMP/empty.conf")
expect_eq "revokd -n -c revokd.conf.example" "configuration OK" \
    "$("$D/usr/sbin/revokd" -n -c "$DOC/revokd.conf.example" -s "$SOCK" \
    -d "$STATE" 2>&1)"

# --- librevokd from the installed tree ------------------------------------

# pkg-config as it is used with a staged install: the sysroot DESTDIR.
export PKG_CONFIG_SYSROOT_DIR=$D PKG_CONFIG_PATH=$L/pkgconfig
expect_eq "pkg-config --modversion librevokd" "$version" \
    "$(pkg-config --modversion librevokd 2>&1)"
expect_eq "pkg-config --libs librevokd" "-L$L -lrevokd" \
    "$(pkg-config --libs librevokd 2>&1 | sed 's/ *$//')"
read -ra pc_cflags < <(pkg-config --cflags librevokd)
read -ra pc_libs < <(pkg-config --libs librevokd)
# Static: the archive instead of the shared library, with the rest of what
# --static says (Requires.private, Libs.private) and nothing else.
read -ra pc_static < <(pkg-config --static --libs librevokd |
    sed 's/\(^\| \)-lrevokd\( \|$\)/\1-l:librevokd.a\2/')
unset PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_PATH
check "the README example builds with pkg-config librevokd" \
    "$CC" "${SANFLAGS[@]}" -o "$TMP/example_pc" "$EXAMPLE" \
    "${pc_cflags[@]}" "${pc_libs[@]}"
check "... and with pkg-config --static librevokd" \
    "$CC" "${SANFLAGS[@]}" -o "$TMP/example_pc_static" "$EXAMPLE" \
    "${pc_cflags[@]}" "${pc_static[@]}"

# find_package(revokd) with CMAKE_PREFIX_PATH into DESTDIR.
mkdir -p "$TMP/consumer"
cat >"$TMP/consumer/CMakeLists.txt" <<-END
	cmake_minimum_required(VERSION 3.13)
	project(consumer LANGUAGES C)
	# Not another major version, nor a component that does not exist.
	find_package(revokd 1.0 QUIET)
	if(revokd_FOUND)
	  message(FATAL_ERROR "find_package(revokd 1.0) found \${revokd_VERSION}")
	endif()
	find_package(revokd QUIET COMPONENTS nonesuch)
	if(revokd_FOUND)
	  message(FATAL_ERROR "find_package(revokd COMPONENTS nonesuch) succeeded")
	endif()
	find_package(revokd 0.1 REQUIRED)
	if(NOT revokd_DIR STREQUAL "$L/cmake/revokd")
	  message(FATAL_ERROR "revokd_DIR is \${revokd_DIR}")
	endif()
	# The shared library needs nothing found for it.
	if(TARGET PkgConfig::revokd_static_deps OR TARGET revokd::client_static)
	  message(FATAL_ERROR "static dependencies loaded without being asked")
	endif()
	add_executable(example_cmake "$EXAMPLE")
	target_link_libraries(example_cmake PRIVATE revokd::client)
	find_package(revokd 0.1 REQUIRED COMPONENTS client_static)
	add_executable(example_cmake_static "$EXAMPLE")
	target_link_libraries(example_cmake_static PRIVATE revokd::client_static)
	set_target_properties(example_cmake example_cmake_static PROPERTIES
	  RUNTIME_OUTPUT_DIRECTORY "$TMP")
END
check "find_package(revokd) configures" \
    "$CMAKE" -S "$TMP/consumer" -B "$TMP/consumer/build" \
    -DCMAKE_C_COMPILER="$CC" -DCMAKE_PREFIX_PATH="$D/usr" \
    -DCMAKE_C_FLAGS="${SANFLAGS[*]}" \
    -DCMAKE_EXE_LINKER_FLAGS="${SANFLAGS[*]}"
check "... and builds with revokd::client and revokd::client_static" \
    "$CMAKE" --build "$TMP/consumer/build"

# needed BINARY: its DT_NEEDED libraries.
needed() {
	readelf -d "$1" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' |
	    tr '\n' ' '
}
for x in example_pc example_cmake; do
	case $(needed "$TMP/$x") in
	*librevokd.so.0*) ok "$x loads librevokd.so.0" ;;
	*) not_ok "$x loads librevokd.so.0" "NEEDED: $(needed "$TMP/$x")" ;;
	esac
done
for x in example_pc_static example_cmake_static; do
	case $(needed "$TMP/$x") in
	*librevokd*) not_ok "$x has librevokd built in" \
	    "NEEDED: $(needed "$TMP/$x")" ;;
	*) ok "$x has librevokd built in" ;;
	esac
done

# --- Run it all: the installed daemon, revokectl and the examples ----------

# An RS256 key and a token such as the example expects (iss, jti, exp).
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
    -out "$TMP/key.pem" 2>/dev/null
openssl pkey -in "$TMP/key.pem" -pubout -out "$TMP/pub.pem" 2>/dev/null
b64url() {
	openssl base64 -A | tr '+/' '-_' | tr -d '='
}
now=$(date +%s)
header=$(printf '{"alg":"RS256","typ":"JWT"}' | b64url)
payload=$(printf '{"iss":"https://idp.example.com","jti":"install-%s","exp":%d}' \
    "$$" $((now + 3600)) | b64url)
sig=$(printf '%s.%s' "$header" "$payload" |
    openssl dgst -sha256 -sign "$TMP/key.pem" -binary | b64url)
TOKEN=$header.$payload.$sig
# The same signature over other claims.
forged=$(printf '{"iss":"https://idp.example.com","jti":"other","exp":%d}' \
    $((now + 3600)) | b64url)
FORGED=$header.$forged.$sig

"$D/usr/sbin/revokd" "${NOCONF[@]}" --socket "$SOCK" --state-dir "$STATE" \
    2>>"$TMP/revokd.log" &
DAEMON_PID=$!
if ! DEADLINE=30 wait_for "$D/usr/bin/revokectl" -s "$SOCK" ping; then
	not_ok "the installed revokd answers the installed revokectl" \
	    "$(tail -20 "$TMP/revokd.log")"
	finish
	exit 1
fi
ok "the installed revokd answers the installed revokectl"

# run_example NAME TOKEN: the example's output and exit status, with the
# installed library on the loader's path.
run_example() {
	local out rc=0
	out=$(printf '%s\n' "$2" | LD_LIBRARY_PATH=$L REVOKD_SOCKET=$SOCK \
	    "$TMP/$1" "$TMP/pub.pem" 2>&1) || rc=$?
	echo "$out rc=$rc"
}
EXAMPLES=(example_pc example_pc_static example_cmake example_cmake_static)
for x in "${EXAMPLES[@]}"; do
	expect_eq "$x: valid" "valid rc=0" "$(run_example "$x" "$TOKEN")"
	expect_eq "$x: a forged token" "bad_signature rc=1" \
	    "$(run_example "$x" "$FORGED")"
done
out=$(printf '%s\n' "$TOKEN" |
    "$D/usr/bin/revokectl" -s "$SOCK" revoke-token - 2>&1)
case $out in
"ok revoked until="*) ok "revokectl revoke-token" ;;
*) not_ok "revokectl revoke-token" "$out" ;;
esac
for x in "${EXAMPLES[@]}"; do
	expect_eq "$x: revoked" "revoked rc=1" "$(run_example "$x" "$TOKEN")"
done
kill -TERM "$DAEMON_PID"
rc=0
wait "$DAEMON_PID" || rc=$?
DAEMON_PID=
expect_eq "revokd exits 0 on SIGTERM" 0 "$rc"

# --- Another prefix: nothing outside it -------------------------------------

if install_to "$OPT" /opt/revokd; then
	ok "cmake --install --prefix /opt/revokd into a DESTDIR"
	expect_eq "every file under DESTDIR/opt/revokd" "" \
	    "$(cd "$OPT" && find . ! -type d ! -path './opt/revokd/*')"
	expect_eq "every file of the manifest under /opt/revokd" "" \
	    "$(grep -v '^/opt/revokd/' "$MANIFEST")"
	P=$OPT/opt/revokd
	expect_eq "units in /opt/revokd/lib/systemd/system" \
	    "revokd-admin.socket revokd.service revokd.socket" \
	    "$(ls "$P/lib/systemd/system" | tr '\n' ' ' | sed 's/ $//')"
	expect_eq "ExecStart= names /opt/revokd/sbin/revokd, else as in systemd/" \
	    "ExecStart=/opt/revokd/sbin/revokd --state-dir /var/lib/revokd" \
	    "$(diff "$SRC/systemd/revokd.service" \
	    "$P/lib/systemd/system/revokd.service" | sed -n 's/^> //p')"
	check "sysusers.d in /opt/revokd/lib/sysusers.d" \
	    test -f "$P/lib/sysusers.d/revokd.conf"
	expect_eq "librevokd.pc: prefix" "/opt/revokd" \
	    "$(sed -n 's/^prefix=//p' "$P${LIBDIR#/usr}/pkgconfig/librevokd.pc")"
else
	not_ok "cmake --install --prefix /opt/revokd" \
	    "$(tail -20 "$TMP/install.log")"
fi

finish
