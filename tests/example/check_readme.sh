#!/bin/sh
# The README's C example must be, byte for byte, the example the build
# compiles and links against librevokd.
# usage: check_readme.sh README.md verify_check.c
set -eu
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
# The first ```c block after the line "<!-- example: verify_check.c -->".
awk '/<!-- example: verify_check.c -->/ { found = 1; next }
     found && /^```c$/ { inblock = 1; next }
     inblock && /^```$/ { exit }
     inblock { print }' "$1" > "$tmp"
if ! cmp -s "$tmp" "$2"; then
	echo "README.md example differs from $2:" >&2
	diff -u "$2" "$tmp" >&2 || true
	echo "0 passed, 1 failed"
	exit 1
fi
echo "1 passed, 0 failed"
