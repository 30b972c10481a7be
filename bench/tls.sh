#!/usr/bin/env bash
# bench/tls.sh — TLS on the inbound side, next to nginx with the same
# certificate and key (ECDSA P-256), both with 2 workers, on loopback:
#
#   full handshakes/s   openssl s_time -new: a new connection and a full
#                       TLS 1.3 handshake per request (one client process)
#   connections/s       wrk with Connection: close; both servers allow
#                       session resumption (tickets), as they do by default
#   requests/s          wrk on keep-alive connections, GET /healthz, which
#                       both answer with a small fixed JSON body
#
#   bench/tls.sh [DURATION] [CONNECTIONS]     defaults: 10s 64
DURATION=${1:-10s}
CONNS=${2:-64}
. bench/lib.sh
NGINX=$(port); GW=$(port)

# One P-256 server certificate for 127.0.0.1, used by both servers.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$W/server.key" -out "$W/server.crt" 2>/dev/null
chmod 600 "$W/server.key"

cat > "$W/nginx.conf" <<NGINX
worker_processes 2;
pid $W/nginx.pid;
error_log $W/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$NGINX ssl;
    ssl_certificate $W/server.crt;
    ssl_certificate_key $W/server.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:10m;
    default_type application/json;
    location / { return 200 '{"status":"ok"}'; }
  }
}
NGINX
nginx -c "$W/nginx.conf" -g 'daemon off;' &
pids+=($!)

bench_keys

bench_gateway "$GW" "  tls: {cert: file:$W/server.crt, key: file:$W/server.key}
  limits: {max_connections: 8192, max_connections_per_address: 8192}" > "$W/tellonce.yaml"
"$BUILD/tellonce" serve -c "$W/tellonce.yaml" 2> "$W/gateway.log" &
pids+=($!)
for _ in $(seq 100); do
	curl -fsk "https://127.0.0.1:$GW/healthz" >/dev/null &&
	    curl -fsk "https://127.0.0.1:$NGINX/healthz" >/dev/null && break
	sleep 0.1
done
# A server that did not start would be measured as 0/s, or stop the
# script at its first figure: say why instead.
curl -fsk "https://127.0.0.1:$GW/healthz" >/dev/null ||
	{ echo "tls: the gateway did not start:" >&2; cat "$W/gateway.log" >&2; exit 1; }
curl -fsk "https://127.0.0.1:$NGINX/healthz" >/dev/null ||
	{ echo "tls: nginx did not start:" >&2; cat "$W/nginx-error.log" >&2; exit 1; }

rps() { sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p'; }
p99() { awk '/ 99% /{print $2}'; }
run() {  # $1 = label, $2 = port, rest = extra wrk arguments
	local label=$1 port=$2 out
	shift 2
	out=$(wrk -t2 -c"$CONNS" -d"$DURATION" --latency "$@" "https://127.0.0.1:$port/healthz")
	printf '%-28s %10.0f /s  p99 %s\n' "$label" "$(rps <<<"$out")" "$(p99 <<<"$out")"
	grep -E 'Non-2xx|Socket errors' <<<"$out" | sed 's/^/    /' || true
}
secs=${DURATION%s}
stime() {  # $1 = label, $2 = port
	local out
	out=$(openssl s_time -connect "127.0.0.1:$2" -new -time "$secs" 2>/dev/null |
	    sed -n 's/^\([0-9]*\) connections in \([0-9]*\) real seconds.*/\1 \2/p' |
	    head -n 1)
	printf '%-30s %10.0f /s\n' "$1" "$(awk -v r="$out" \
	    'BEGIN { split(r, a, " "); print a[2] ? a[1] / a[2] : 0 }')"
}
echo "$(nproc) cores, loopback, $(openssl version | cut -d' ' -f1-2); wrk -t2 -c$CONNS -d$DURATION"
stime "nginx full handshakes" "$NGINX"
stime "tellonce full handshakes" "$GW"
run "nginx connections" "$NGINX" -H "Connection: close"
run "tellonce connections" "$GW" -H "Connection: close"
run "nginx requests (keep-alive)" "$NGINX"
run "tellonce requests (keep-alive)" "$GW"
