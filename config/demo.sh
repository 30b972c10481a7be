#!/usr/bin/env bash
# config/demo.sh — what `make run` runs: two demo partner services on
# loopback (a town hall on :9001 and a benefits office on :9002), then the
# gateway on :8080 with config/demo.yaml, in the foreground. Ctrl-C stops all.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/release}
DEMO=build/demo
PY=/usr/bin/python3
mkdir -p "$DEMO"

# Demo credentials only: a real deployment reads its own from the
# environment or from files of mode 0600 (see docs/configuration.md).
export TELLONCE_PSEUDONYM_KEY=demo-pseudonym-key-0123456789abcdef0123456789
export TELLONCE_ADMIN_TOKEN=demo-admin-token
export MAIRIE_KEY=demo-mairie-key CAF_KEY=demo-caf-key
export CCAS_KEY=demo-ccas-key PORTAL_KEY=demo-portal-key

[ -f "$DEMO/audit.key" ] || "$BUILD/tellonce" keygen -o "$DEMO/audit.key" \
	--origin demo.tellonce.example/audit \
	> "$DEMO/audit.vkey"

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

start_partner() {  # name port
	"$PY" tests/partners/partner.py --name "$1" --port "$2" \
		> "$DEMO/$1.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 100); do
		curl -fs "http://127.0.0.1:$2/_control/received" >/dev/null && return
		sleep 0.1
	done
	echo "demo: partner $1 did not start (see $DEMO/$1.log)" >&2
	exit 1
}
start_partner mairie 9001
start_partner caf 9002
curl -fs -X POST http://127.0.0.1:9001/_control/records -d '{"local_id": "M-0042",
  "dataset": "address", "record": {"adresse": {"voie": "12 rue Kéréon",
  "cp": "29000", "commune": "Quimper", "pays": "FR"}}}' >/dev/null

"$BUILD/tellonce" check -c config/demo.yaml
"$BUILD/tellonce" serve -c config/demo.yaml &
pids+=($!)
for _ in $(seq 100); do
	curl -fs http://127.0.0.1:8080/healthz >/dev/null && break
	sleep 0.1
done

cat <<'TRY'

tellonce demo is up on http://127.0.0.1:8080 (Ctrl-C stops it).
Try, in another terminal (README.md explains each step):

  G=http://127.0.0.1:8080
  PIVOT='{"family_name":"Le Goff","given_names":"Maëlle","birthdate":"1984-03-12","birthplace":"Quimper","gender":"F"}'
  curl -s -H 'Authorization: Bearer demo-mairie-key' $G/v1/links -d "{\"local_id\":\"M-0042\",\"pivot\":$PIVOT}"
  curl -s -H 'Authorization: Bearer demo-caf-key' $G/v1/links -d "{\"local_id\":\"CAF-981\",\"pivot\":$PIVOT}"
  curl -s -H 'Authorization: Bearer demo-caf-key' $G/v1/fetch -d '{"subject":"CAF-981","dataset":"address","purpose":"benefit-eligibility","attributes":["street"]}'
  curl -s -H 'Authorization: Bearer demo-caf-key' $G/v1/consents -d '{"subject":"CAF-981","provider":"mairie","dataset":"address","attributes":["street","postal_code","city"],"purpose":"benefit-eligibility"}'
  curl -s -H 'Authorization: Bearer demo-caf-key' $G/v1/fetch -d '{"subject":"CAF-981","dataset":"address","purpose":"benefit-eligibility"}'
  curl -s $G/audit/checkpoint

TRY
wait "${pids[-1]}"
