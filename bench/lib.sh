# bench/lib.sh — what the benchmark scripts share; sourced, not run.
# Sets BUILD and W (a scratch folder, removed on exit), collects the
# background processes to stop in `pids`, and defines port, bench_keys,
# bench_store and bench_gateway.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/release}
W=$(mktemp -d /tmp/tellonce-bench.XXXXXX)
pids=()
STORE_URL="sqlite:$W/tellonce.db"
cleanup() {
	kill "${pids[@]}" 2>/dev/null || true
	wait 2>/dev/null || true
	[ ! -d "$W/pg" ] || tests/tools/pgserver.sh stop "$W/pg" >/dev/null 2>&1 || true
	rm -rf "$W"
}
trap cleanup EXIT

# A free loopback port.
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The audit signing key and the gateway secrets read from the environment.
bench_keys() {
	openssl genpkey -algorithm ed25519 -out "$W/audit.key" 2>/dev/null
	chmod 600 "$W/audit.key"
	export TELLONCE_PSEUDONYM_KEY=bench-pseudonym-key-0123456789abcdef0123456789
	export TELLONCE_ADMIN_TOKEN=bench-admin
}

# STORE=postgresql: a PostgreSQL server of the run's own (the test
# suite's tests/tools/pgserver.sh, on a unix socket in $W), whose database
# becomes STORE_URL; sqlite (the default) keeps the file in $W.
bench_store() {
	[ "${STORE:-sqlite}" = postgresql ] || return 0
	chmod 711 "$W"   # as root the server runs as postgres
	PG_DSN=$(tests/tools/pgserver.sh start "$W/pg")
	STORE_URL="postgresql:///tellonce?host=$W/pg&user=tellonce"
}

# The gateway section listening on port $1, plus the lines in $2 (indented
# two spaces: tls, limits, ...); $3 names a node's own audit log when
# several share the store.
bench_gateway() {
	cat <<YAML
gateway:
  listen: 127.0.0.1:$1
  workers: 2
  log: {level: warn}
  store: $STORE_URL
  pseudonym_key: env:TELLONCE_PSEUDONYM_KEY
  admin_token: env:TELLONCE_ADMIN_TOKEN
  audit: {dir: $W/audit${3:-}, origin: bench.tellonce.example/log${3:-}, signing_key: file:$W/audit.key}
${2:-}
YAML
}
