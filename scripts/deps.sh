# Install the Debian packages revokd needs, when any is missing.
# Sourced by scripts/run and scripts/test.

REVOKD_PACKAGES="build-essential cmake pkg-config libevent-dev libhiredis-dev
libjwt-dev libjansson-dev libssl-dev openssl check redis-server redis-tools
redis-sentinel python3 python3-jwt python3-cryptography clang
libclang-rt-14-dev valgrind systemd util-linux"

# Install what is missing from REVOKD_PACKAGES (as root, else with sudo).
revokd_install_deps() {
	local missing="" p sudo=""
	for p in $REVOKD_PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		    grep -q 'install ok installed' || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	echo "installing:$missing" >&2
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends $missing >/dev/null
}
