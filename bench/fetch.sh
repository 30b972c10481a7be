#!/usr/bin/env bash
# bench/fetch.sh — fetches per second through the gateway, next to nginx
# proxy_pass to the same upstream, measured in one run with wrk on loopback.
#
# The upstream "provider" is nginx answering a fixed JSON record, so that
# neither side is limited by the provider. The gateway does the whole path
# for each fetch: auth, link lookup, policy (public task), provider call,
# mapping, and a durable (fsync'd, group-committed) audit entry.
#
#   bench/fetch.sh [DURATION] [CONNECTIONS]     defaults: 10s 64
#   PERF="perf record -g -o /tmp/perf.data" bench/fetch.sh   to profile the gateway
#   STORE=postgresql bench/fetch.sh   the store on a PostgreSQL server of the
#       run's own (tests/tools/pgserver.sh)
DURATION=${1:-10s}
CONNS=${2:-64}
. bench/lib.sh
UP=$(port); PROXY=$(port); GW=$(port)

cat > "$W/nginx.conf" <<NGINX
worker_processes 1;
pid $W/nginx.pid;
error_log $W/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  upstream provider { server 127.0.0.1:$UP; keepalive 64; }
  server {
    listen 127.0.0.1:$UP;
    default_type application/json;
    location / { return 200 '{"adresse":{"voie":"1 rue de la Paix","cp":"29000","commune":"Quimper","pays":"FR"}}'; }
  }
  server {
    listen 127.0.0.1:$PROXY;
    location / {
      proxy_pass http://provider;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
NGINX
nginx -c "$W/nginx.conf" -g 'daemon off;' &
pids+=($!)

bench_keys
bench_store
export MAIRIE_KEY=bench-mairie CAF_KEY=bench-caf
{
	bench_gateway "$GW"
	cat <<YAML
datasets:
  address: {attributes: {street: string, postal_code: string, city: string, country: string}}
services:
  mairie:
    name: Mairie
    auth: {api_key: env:MAIRIE_KEY}
    connector:
      type: http
      base_url: http://127.0.0.1:$UP
      fetch: {method: GET, path: "/citizens/{local_id}/address"}
      map: {street: adresse.voie, postal_code: adresse.cp, city: adresse.commune, country: adresse.pays}
  caf:
    name: CAF
    auth: {api_key: env:CAF_KEY}
policies:
  - {id: caf-pc, consumer: caf, provider: mairie, dataset: address, attributes: [postal_code],
     purpose: benefit-eligibility, basis: public_task, legal_reference: "CRPA L114-8"}
YAML
} > "$W/tellonce.yaml"
${PERF:-} "$BUILD/tellonce" serve -c "$W/tellonce.yaml" 2> "$W/gateway.log" &
pids+=($!)
for _ in $(seq 100); do
	curl -fs "http://127.0.0.1:$GW/healthz" >/dev/null && curl -fs "http://127.0.0.1:$PROXY/" >/dev/null && break
	sleep 0.1
done
PIVOT='{"family_name":"Bench","given_names":"Mark","birthdate":"1980-01-01","birthplace":"Brest","gender":"M"}'
curl -fs -H 'Authorization: Bearer bench-mairie' "http://127.0.0.1:$GW/v1/links" -d "{\"local_id\":\"M1\",\"pivot\":$PIVOT}" >/dev/null
curl -fs -H 'Authorization: Bearer bench-caf' "http://127.0.0.1:$GW/v1/links" -d "{\"local_id\":\"C1\",\"pivot\":$PIVOT}" >/dev/null

cat > "$W/fetch.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"subject":"C1","dataset":"address","purpose":"benefit-eligibility","attributes":["postal_code"]}'
wrk.headers["Authorization"] = "Bearer bench-caf"
wrk.headers["Content-Type"] = "application/json"
LUA
check=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer bench-caf' \
	"http://127.0.0.1:$GW/v1/fetch" -d '{"subject":"C1","dataset":"address","purpose":"benefit-eligibility","attributes":["postal_code"]}')
[ "$check" = 200 ] || { echo "bench: gateway fetch answered $check"; cat "$W/gateway.log"; exit 1; }

rps() { sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p'; }
echo "wrk -t2 -c$CONNS -d$DURATION, $(nproc) cores, loopback"
nginx_out=$(wrk -t2 -c"$CONNS" -d"$DURATION" --latency "http://127.0.0.1:$PROXY/citizens/M1/address")
gw_out=$(wrk -t2 -c"$CONNS" -d"$DURATION" --latency -s "$W/fetch.lua" "http://127.0.0.1:$GW/v1/fetch")
n=$(rps <<<"$nginx_out"); g=$(rps <<<"$gw_out")
p99() { awk '/ 99% /{print $2}'; }
printf 'nginx proxy_pass : %10.0f req/s  p99 %s\n' "$n" "$(p99 <<<"$nginx_out")"
printf 'tellonce fetch   : %10.0f req/s  p99 %s\n' "$g" "$(p99 <<<"$gw_out")"
awk -v g="$g" -v n="$n" 'BEGIN { printf "ratio tellonce/nginx: %.2f\n", g / n }'
grep -c '' "$W/gateway.log" >/dev/null
non200=$(grep -E 'Non-2xx' <<<"$gw_out" || true)
[ -z "$non200" ] || echo "gateway: $non200"
