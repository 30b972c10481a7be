#!/usr/bin/env bash
# bench/run.sh — runs every benchmark script in bench/ (what `make bench` does).
set -u
cd "$(dirname "$0")/.."
for b in bench/*.sh; do
	case "$b" in bench/run.sh | bench/lib.sh) continue ;; esac
	echo "== $b"
	"$b" || echo "bench: $b failed"
done
