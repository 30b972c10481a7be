#!/usr/bin/env bash
# tests/run.sh — runs every unit test binary, every check of the tree
# (tests/static) and every end-to-end script,
# then prints one closing line "tests: N passed, N failed" and fails if any
# test failed. Each program prints its own "NAME: N passed, N failed" last.
# `tests/run.sh faults` runs the fault tests instead (tests/faults: root,
# loop-mounted file systems; make test-faults), `tests/run.sh deb` the test
# of the Debian package (tests/deb: root, installs it; make test-deb).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/release}
export BUILD
passed=0
failed=0
broken=()

count() {  # $1 = name, $2 = file holding the program's output, $3 = exit code
	local line p f
	line=$(grep -E '^[A-Za-z0-9_.-]+: [0-9]+ passed, [0-9]+ failed' "$2" | tail -n 1)
	if [ -z "$line" ]; then
		broken+=("$1 (exit $3, no summary)")
		failed=$((failed + 1))
		return
	fi
	p=$(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$line")
	f=$(sed -E 's/.*passed, ([0-9]+) failed.*/\1/' <<<"$line")
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$3" -ne 0 ] && [ "$f" -eq 0 ]; then
		broken+=("$1 (exit $3)")
		failed=$((failed + 1))
	fi
}

run_one() {  # $1 = name, rest = command
	local name=$1 out rc
	shift
	out=$(mktemp)
	echo "== $name"
	"$@" 2>&1 | tee "$out" | grep -E '^(FAIL|  |ok|not ok)|: [0-9]+ passed' || true
	rc=${PIPESTATUS[0]}
	count "$name" "$out" "$rc"
	rm -f "$out"
}

if [ "${1:-}" = faults ]; then
	scripts=(tests/faults/test_*.py)
elif [ "${1:-}" = deb ]; then
	scripts=(tests/deb/test_*.py)
else
	for t in "$BUILD"/tests/test_*; do
		[ -x "$t" ] || continue
		run_one "$(basename "$t")" "$t"
	done
	scripts=(tests/static/test_*.py tests/e2e/test_*.py)
fi
for t in "${scripts[@]}"; do
	[ -f "$t" ] || continue
	run_one "$(basename "$t")" /usr/bin/python3 "$t"
done

for b in "${broken[@]+"${broken[@]}"}"; do
	echo "broken: $b"
done
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
