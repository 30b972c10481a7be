#!/usr/bin/env bash
# bench/audit.sh — durable appends/s of the audit log at 1, 8 and 64
# concurrent writers, and `audit verify` speed on a log of 1M entries, next
# to the machine's raw SHA-256 speed. Usage: BUILD=build/release bench/audit.sh
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/release}
BENCH=$BUILD/bench/audit_bench
SECONDS_EACH=${SECONDS_EACH:-5}
ENTRIES=${ENTRIES:-1000000}
work=$(mktemp -d /var/tmp/audit-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
# Each log below in a block group of its own: on ext4 without a journal,
# the files of a log made where the previous one was just deleted are
# slow to create (bench/README.md, "Comparing two builds").
chattr +T "$work" 2>/dev/null || true

openssl genpkey -algorithm ed25519 -out "$work/key.pem" 2>/dev/null
echo "== $(nproc) CPUs, $(df -T "$work" | awk 'NR==2 {print $2}') at $work"
# Each step starts with nothing left to write back: the previous step's
# (or an earlier script's) writeback shared the disk with the next step's
# fdatasyncs, and the step after the 100 MB fill ran at a third less.
fresh_log() {
	rm -rf "$work/log"
	sync
}
for w in 1 8 64; do
	fresh_log
	"$BENCH" append "$work/log" "$work/key.pem" "$w" "$SECONDS_EACH" loops 2>/dev/null
done
fresh_log
"$BENCH" append "$work/log" "$work/key.pem" 64 "$SECONDS_EACH" threads 2>/dev/null
fresh_log
"$BENCH" fill "$work/log" "$work/key.pem" "$ENTRIES" 2>/dev/null
echo "log size: $(du -sh "$work/log" | cut -f1)"
"$BENCH" verify "$work/log"
openssl speed -seconds 2 -evp sha256 2>/dev/null | tail -n 2
