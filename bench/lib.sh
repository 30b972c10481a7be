# bench/lib.sh — what the benchmark scripts share; sourced, not run.
# Sets BUILD and W (a scratch folder, removed on exit), collects the
# background processes to stop in `pids`, and defines port, bench_keys and
# bench_gateway.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/release}
W=$(mktemp -d /tmp/tellonce-bench.XXXXXX)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$W"; }
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

# The gateway section listening on port $1, plus the lines in $2 (indented
# two spaces: tls, limits, ...).
bench_gateway() {
	cat <<YAML
gateway:
  listen: 127.0.0.1:$1
  workers: 2
  log: {level: warn}
  store: sqlite:$W/tellonce.db
  pseudonym_key: env:TELLONCE_PSEUDONYM_KEY
  admin_token: env:TELLONCE_ADMIN_TOKEN
  audit: {dir: $W/audit, origin: bench.tellonce.example/log, signing_key: file:$W/audit.key}
${2:-}
YAML
}
