#!/usr/bin/env bash
# bench/run.sh — runs every benchmark script in bench/ (what `make bench` does),
# but the scale mode (bench/scale.sh: many minutes and some GB of disk) only
# with SCALE=1.
set -u
cd "$(dirname "$0")/.."
for b in bench/*.sh; do
	case "$b" in bench/run.sh | bench/lib.sh) continue ;; esac
	[ "$b" != bench/scale.sh ] || [ "${SCALE:-0}" = 1 ] || continue
	echo "== $b"
	"$b" || echo "bench: $b failed"
done
