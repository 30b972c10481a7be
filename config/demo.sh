#!/usr/bin/env bash
# config/demo.sh — what `make run` runs: two demo partner services on
# loopback (a town hall on :9001 and a benefits office on :9002), then the
# gateway on :8080 with config/demo.yaml, in the foreground.
#
# Every start is a clean one: the previous demo's database, audit log and
# keys are removed first, so README.md's walk-through answers as written.
# Ctrl-C, SIGTERM or SIGHUP stops everything this script started, also when
# it runs under another script: the children of a shell without job control
# ignore SIGINT, so the traps below stop them, by pid, and wait for them.
#
# The suite runs the demo on ports and in a directory of its own
# (tests/e2e/test_readme.py): DEMO is the state directory, DEMO_CONFIG the
# configuration, DEMO_PORTS its gateway, town hall and benefits office ports.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/release}
DEMO=${DEMO:-build/demo}
DEMO_CONFIG=${DEMO_CONFIG:-config/demo.yaml}
read -r GW_PORT MAIRIE_PORT CAF_PORT <<<"${DEMO_PORTS:-8080 9001 9002}"
PY=/usr/bin/python3

pids=()
cleanup() {
	local alive
	trap - EXIT INT TERM HUP
	[ "${#pids[@]}" -gt 0 ] || return 0
	kill -TERM "${pids[@]}" 2>/dev/null || true
	# The gateway drains before it stops: give it 10 s, then no more.
	for _ in $(seq 100); do
		alive=0
		for p in "${pids[@]}"; do
			kill -0 "$p" 2>/dev/null && alive=1
		done
		[ "$alive" -eq 0 ] && break
		sleep 0.1
	done
	kill -KILL "${pids[@]}" 2>/dev/null || true
	wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

rm -rf "$DEMO/audit" "$DEMO"/tellonce.db* "$DEMO/audit.key" "$DEMO/audit.vkey"
mkdir -p "$DEMO"

# Demo credentials only: a real deployment reads its own from the
# environment or from files of mode 0600 (see docs/configuration.md).
export TELLONCE_PSEUDONYM_KEY=demo-pseudonym-key-0123456789abcdef0123456789
export TELLONCE_ADMIN_TOKEN=demo-admin-token
export MAIRIE_KEY=demo-mairie-key CAF_KEY=demo-caf-key
export CCAS_KEY=demo-ccas-key PORTAL_KEY=demo-portal-key
export FS_KEY=demo-franceservices-key

"$BUILD/tellonce" keygen -o "$DEMO/audit.key" \
	--origin demo.tellonce.example/audit > "$DEMO/audit.vkey"

wait_up() {  # url what [log]
	for _ in $(seq 100); do
		curl -fs "$1" >/dev/null && return
		kill -0 "${pids[-1]}" 2>/dev/null || break
		sleep 0.1
	done
	echo "demo: $2 did not start${3:+ (see $3)}" >&2
	exit 1
}

start_partner() {  # name port
	"$PY" tests/partners/partner.py --name "$1" --port "$2" \
		> "$DEMO/$1.log" 2>&1 &
	pids+=($!)
	wait_up "http://127.0.0.1:$2/_control/received" "$1" "$DEMO/$1.log"
}
start_partner mairie "$MAIRIE_PORT"
start_partner caf "$CAF_PORT"
curl -fs -X POST "http://127.0.0.1:$MAIRIE_PORT/_control/records" \
	-d '{"local_id": "M-0042", "dataset": "address", "record": {"adresse":
  {"voie": "12 rue Kéréon", "cp": "29000", "commune": "Quimper",
  "pays": "FR"}}}' >/dev/null

"$BUILD/tellonce" check -c "$DEMO_CONFIG"
"$BUILD/tellonce" serve -c "$DEMO_CONFIG" &
pids+=($!)
wait_up "http://127.0.0.1:$GW_PORT/healthz" gateway

cat <<TRY

tellonce demo is up on http://127.0.0.1:$GW_PORT (Ctrl-C stops it).
In another terminal, follow README.md, "Five minutes with curl".
The verifier key of its audit log is in $DEMO/audit.vkey.

TRY
wait "${pids[-1]}"
