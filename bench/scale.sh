#!/usr/bin/env bash
# bench/scale.sh — cost as the work grows: the fetch and push benchmarks on
# an empty store, then on one filled like a large deployment, in one run.
#
# bench/scale_fill (C, through store.h and the audit API) fills DIR with
# SUBJECTS subjects linked at two services, CONSENTS consents and ENTRIES
# audit entries (access index included); a DIR filled before with the same
# numbers is reused (DIR/filled records them). Either way scale_fill then
# moves and merges the access index's runs due, taking pending schema
# steps on its way. Then bench/fetch.sh and bench/push.sh run against it
# (SCALE_DIR=DIR), after a short first run that warms the OS cache.
#
#   bench/scale.sh [DIR] [DURATION]      defaults: /var/tmp/tellonce-scale 10s
#   SUBJECTS=1000000 CONSENTS=1000000 ENTRIES=10000000   (the defaults)
#   ROUNDS=3 bench/scale.sh   each store's fetch and push figures the
#       medians of 3 rounds (bench/fetch.sh and bench/push.sh read ROUNDS):
#       a single round of the small store moved by a tenth from run to run,
#       and the ratio with it
#
# Exits 1 when a figure misses its goal: fetches/s and pushes/s on the large
# store at least 80% of the empty store's, start-up on the large store under
# 1 s. Peak RSS on the large store is reported (its goal, under 32 MiB, is
# for the small store: bench/fetch.sh checks it).
DIR=${1:-/var/tmp/tellonce-scale}
DURATION=${2:-10s}
SUBJECTS=${SUBJECTS:-1000000}
CONSENTS=${CONSENTS:-1000000}
ENTRIES=${ENTRIES:-10000000}
. bench/lib.sh
# Only this tree's own build is brought up to date: a copied build being
# compared (BUILD=/tmp/old) would be rebuilt from these newer sources.
# A copied build brings its own bench/scale_fill.
if [ "$BUILD" = build/release ]; then
	make --no-print-directory -j2 all "$BUILD/bench/scale_fill" >/dev/null
fi
[ -x "$BUILD/bench/scale_fill" ] ||
	{ echo "scale: no $BUILD/bench/scale_fill (make $BUILD/bench/scale_fill)" >&2; exit 1; }

want="subjects=$SUBJECTS consents=$CONSENTS entries=$ENTRIES"
if [ "$(cat "$DIR/filled" 2>/dev/null)" != "$want" ]; then
	rm -rf "$DIR"
	mkdir -p "$DIR"
	SCALE_DIR=$DIR DATA=$DIR bench_keys
	echo "== filling $DIR: $want"
	t0=$(date +%s)
	"$BUILD/bench/scale_fill" "sqlite:$DIR/tellonce.db" "$DIR/audit" \
		"$DIR/audit.key" "$SUBJECTS" "$CONSENTS" "$ENTRIES" 2> "$W/fill.log" ||
		{ cat "$W/fill.log"; exit 1; }
	echo "filled in $(( $(date +%s) - t0 )) s"
	echo "$want" > "$DIR/filled"
fi
# The access index's runs moved and merged as a deployment that logged
# these entries at its pace holds them: a fill (or an older build's fill
# of a reused DIR) leaves runs due that the next gateway would otherwise
# work through while it is measured.
"$BUILD/bench/scale_fill" "sqlite:$DIR/tellonce.db" 2> "$W/settle.log" ||
	{ cat "$W/settle.log"; exit 1; }
echo "store: $(du -sh "$DIR/tellonce.db" | cut -f1) SQLite, audit log $(du -sh "$DIR/audit" | cut -f1)"

# One short run first: the OS caches the parts of the files a deployment
# keeps reading.
echo "== first start on the large store (OS cache)"
SCALE_DIR=$DIR FIGURES=$W/first bench/fetch.sh 2s 8 >/dev/null 2>&1 || true
echo "first start: $(awk '$1 == "fetch_start_s" { print $2 }' "$W/first" 2>/dev/null) s"

for size in small large; do
	echo "== $size store"
	export FIGURES=$W/$size
	[ "$size" = small ] || export SCALE_DIR=$DIR
	bench/fetch.sh "$DURATION" 64 || true
	bench/push.sh "$DURATION" 64 || true
done
unset SCALE_DIR

fig() { awk -v k="$2" '$1 == k { v = $2 } END { print v + 0 }' "$W/$1"; }
echo "== large store / small store ($want)"
for k in fetch_rps push_rps; do
	bench_goal "$k large/small" "$(awk -v l="$(fig large $k)" -v s="$(fig small $k)" \
		'BEGIN { printf "%.2f", (s > 0 ? l / s : 0) }')" ">=" 0.8
done
echo "fetch p99: small $(fig small fetch_p99_ms) ms, large $(fig large fetch_p99_ms) ms"
echo "peak RSS at 64 connections: small $(fig small fetch_rss_mib) MiB (fetch), large $(fig large fetch_rss_mib) MiB (fetch), $(fig large push_rss_mib) MiB (push)"
bench_goal "start-up on the large store (s)" "$(fig large fetch_start_s)" "<=" 1
bench_exit
