#!/usr/bin/env bash
# fuzz/run.sh NAME... — runs each libFuzzer harness (built by make fuzz in
# build/fuzz/fuzz/) for FUZZ_SECONDS on its seed corpus and regressions.
# Exits non-zero if any harness found a crash (saved in build/fuzz/crashes).
set -u
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
status=0
for name in "$@"; do
	mkdir -p "build/fuzz/corpus/$name" build/fuzz/crashes "fuzz/corpus/$name" \
		"fuzz/regressions/$name"
	echo "== $name: $seconds s"
	# The API harness runs a multi-threaded server: its allocations in
	# flight would look like leaks between inputs.
	leaks=1
	[ "$name" = fuzz_api ] && leaks=0
	"build/fuzz/fuzz/$name" -max_total_time="$seconds" -timeout=20 \
		-detect_leaks=$leaks -print_final_stats=1 \
		-artifact_prefix="build/fuzz/crashes/$name-" \
		"build/fuzz/corpus/$name" "fuzz/corpus/$name" \
		"fuzz/regressions/$name" 2>&1 | grep -E '^(#[0-9]+ +DONE|stat::|==|INFO: Running|.*ERROR|SUMMARY)' \
		|| true
	[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
done
exit $status
