#!/usr/bin/env bash
# tests/valgrind.sh [SCRIPT...] — runs end-to-end scripts (default:
# tests/e2e/test_core.py) with every gateway they start under valgrind's
# memcheck, then fails if any of them lost memory for good or made a memory
# error. Not part of `make test` (it is slow); run it after `make`.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/release}
W=$(mktemp -d /tmp/tellonce-valgrind.XXXXXX)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/bin" "$W/logs"
cat > "$W/bin/tellonce" <<WRAP
#!/bin/sh
exec valgrind --leak-check=full --show-leak-kinds=definite \
	--errors-for-leak-kinds=definite --log-file=$W/logs/%p.log \
	$PWD/$BUILD/tellonce "\$@"
WRAP
chmod +x "$W/bin/tellonce"
[ $# -gt 0 ] || set -- tests/e2e/test_core.py
status=0
for t in "$@"; do
	BUILD=$W/bin /usr/bin/python3 "$t" | tail -n 1
	[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
done
for log in "$W"/logs/*.log; do
	lost=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$log")
	errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$log")
	echo "$(basename "$log" .log): definitely lost ${lost:-?} bytes, ${errors:-?} errors"
	if [ "${lost:-x}" != 0 ] || [ "${errors:-x}" != 0 ]; then
		status=1
		cat "$log"
	fi
done
exit $status
