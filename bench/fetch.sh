#!/usr/bin/env bash
# bench/fetch.sh — fetches per second through the gateway, next to nginx
# proxy_pass to the same upstream, measured in one run with wrk on loopback.
#
# The upstream "provider" is its own nginx (one worker) answering a fixed
# JSON record, so that neither side is limited by the provider. The nginx
# proxy runs as many worker processes as the gateway has workers
# (WORKERS, default 2), neither pinned to cores: like with like. The
# gateway does the whole path for each fetch: auth, link lookup, policy
# (public task), provider call, mapping, and a durable (fsync'd,
# group-committed) audit entry.
#
#   bench/fetch.sh [DURATION] [CONNECTIONS]     defaults: 10s 64
#   PERF="perf record -g -o /tmp/perf.data" bench/fetch.sh   to profile the gateway
#   CALLGRIND=/tmp/cg.out bench/fetch.sh 20s 8   instructions the gateway
#       executes per fetch (bench/lib.sh)
#   STORE=postgresql bench/fetch.sh   the store on a PostgreSQL server of the
#       run's own (tests/tools/pgserver.sh)
#   SCALE_DIR=DIR bench/fetch.sh     on a store filled by bench/scale.sh
#   SYSCALLS=1 bench/fetch.sh        also the gateway's syscalls per fetch
#       (perf stat on its syscall tracepoints, all threads; as root)
#   ROUNDS=N bench/fetch.sh          nginx and the gateway N times each,
#       alternated, each rate and p99 the median of its N (the CPU
#       figures cover the gateway from its first round to its last): on a
#       shared machine one round of nginx moves by a fifth from run to run
#   FLOOR=1 bench/fetch.sh           also the same requests through
#       bench/stackfloor: evhttp and the http connector alone, as many
#       workers, with none of the gateway's work (what the stack leaves
#       to it)
#
# Exits 1 when a figure misses its goal: at least 0.5x nginx's requests/s,
# a p99 at most twice nginx's, peak RSS under 32 MiB (small store only),
# start-up under 1 s.
DURATION=${1:-10s}
CONNS=${2:-64}
ROUNDS=${ROUNDS:-1}
. bench/lib.sh
UP=$(port); PROXY=$(port); GW=$(port)

nginx_conf() {  # $1 = worker processes, $2 = name, rest = the servers
	local workers=$1 name=$2
	shift 2
	cat > "$W/$name.conf" <<NGINX
worker_processes $workers;
pid $W/$name.pid;
error_log $W/$name-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  $*
}
NGINX
	nginx -c "$W/$name.conf" -g 'daemon off;' &
	pids+=($!)
}
nginx_conf 1 upstream "server {
    listen 127.0.0.1:$UP;
    default_type application/json;
    location / { return 200 '{\"adresse\":{\"voie\":\"1 rue de la Paix\",\"cp\":\"29000\",\"commune\":\"Quimper\",\"pays\":\"FR\"}}'; }
  }"
nginx_conf "$WORKERS" proxy "upstream provider { server 127.0.0.1:$UP; keepalive 64; }
  server {
    listen 127.0.0.1:$PROXY;
    location / {
      proxy_pass http://provider;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
    }
  }"

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
bench_serve "$W/tellonce.yaml" "$W/gateway.log" "$GW"
for _ in $(seq 100); do
	curl -fs "http://127.0.0.1:$PROXY/" >/dev/null && break
	sleep 0.1
done
PIVOT='{"family_name":"Bench","given_names":"Mark","birthdate":"1980-01-01","birthplace":"Brest","gender":"M"}'
curl -fs -H 'Authorization: Bearer bench-mairie' "http://127.0.0.1:$GW/v1/links" -d "{\"local_id\":\"M1\",\"pivot\":$PIVOT}" >/dev/null
curl -fs -H 'Authorization: Bearer bench-caf' "http://127.0.0.1:$GW/v1/links" -d "{\"local_id\":\"C1\",\"pivot\":$PIVOT}" >/dev/null

# On a filled store, each fetch is for one of its subjects at random (caf's
# c-N, linked by scale_fill), so that lookups miss as they would in a large
# deployment; on the empty store, always C1.
filled=$(sed -n 's/^subjects=\([0-9]*\).*/\1/p' "$DATA/filled" 2>/dev/null || true)
# Each wrk thread seeds its own generator (tid, as push.sh does): unseeded,
# both threads drew the same subjects in the same order, so every subject
# was fetched twice within a few requests, the second time from caches.
cat > "$W/fetch.lua" <<LUA
local n = ${filled:-0}
local body = '{"subject":"%s","dataset":"address","purpose":"benefit-eligibility","attributes":["postal_code"]}'
local threads = 0
setup = function(thread) threads = threads + 1; thread:set("tid", threads) end
init = function() math.randomseed(tid) end
request = function()
	local who = n > 0 and ("c-" .. math.random(0, n - 1)) or "C1"
	return wrk.format("POST", nil, {["Authorization"] = "Bearer bench-caf",
		["Content-Type"] = "application/json"}, string.format(body, who))
end
LUA
check=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer bench-caf' \
	"http://127.0.0.1:$GW/v1/fetch" -d '{"subject":"C1","dataset":"address","purpose":"benefit-eligibility","attributes":["postal_code"]}')
[ "$check" = 200 ] || { echo "bench: gateway fetch answered $check"; cat "$W/gateway.log"; exit 1; }

rps() { sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p'; }
p99() { bench_ms "$(awk '/ 99% /{print $2}')"; }
nginx_round() { nginx_out=$(wrk -t2 -c"$CONNS" -d"$DURATION" --latency "http://127.0.0.1:$PROXY/citizens/M1/address"); }
gw_round() { gw_out=$(wrk -t2 -c"$CONNS" -d"$DURATION" --latency -s "$W/fetch.lua" "http://127.0.0.1:$GW/v1/fetch"); }
# Adds round $1's figures to the lists the medians are taken from, and
# prints them when there are several rounds.
n_all=; np99_all=; g_all=; gp99_all=; done_n=0; non200=
tally() {
	local n g np gp
	n=$(rps <<<"$nginx_out"); np=$(p99 <<<"$nginx_out")
	g=$(rps <<<"$gw_out"); gp=$(p99 <<<"$gw_out")
	n_all="${n_all:+$n_all }$n"; np99_all="${np99_all:+$np99_all }$np"
	g_all="${g_all:+$g_all }$g"; gp99_all="${gp99_all:+$gp99_all }$gp"
	done_n=$((done_n + $(awk '/requests in/ { print $1 }' <<<"$gw_out")))
	non200="$non200$(grep -E 'Non-2xx' <<<"$gw_out" || true)"
	[ "$ROUNDS" = 1 ] || printf 'round %d: nginx %.0f req/s p99 %s ms, tellonce %.0f req/s p99 %s ms\n' \
		"$1" "$n" "$np" "$g" "$gp"
}
echo "wrk -t2 -c$CONNS -d$DURATION, $(nproc) cores, loopback, store: ${SCALE_DIR:-small (empty)}, ${filled:-1} subject(s) fetched"
echo "nginx proxy: $WORKERS worker processes; tellonce: gateway.workers $WORKERS; neither pinned"
nginx_round
# SYSCALLS=1: the gateway's syscalls while wrk runs, by name, from perf's
# syscall tracepoints (as root). Unlike CPU time, other work sharing the
# cores does not move them. Counting them costs the gateway some CPU (a
# tracepoint hit per syscall), which the CPU figure then includes.
sys_names="epoll_wait epoll_ctl poll ioctl readv writev sendto recvfrom read write
	futex sched_yield fdatasync pwrite64 pread64"
sys_pid=
if [ -n "${SYSCALLS:-}" ]; then
	# shellcheck disable=SC2046,SC2086  # one -e per name
	perf stat -x, $(printf -- '-e syscalls:sys_enter_%s ' $sys_names) \
		-p "$gw_pid" -o "$W/syscalls.csv" &
	sys_pid=$!
	pids+=("$sys_pid")
	sleep 0.5   # attached to every thread before the load starts
fi
cpu0=$(bench_cpu_s "$gw_pid")
th0=$(bench_thread_ticks "$gw_pid")
cs0=$(bench_ctxsw "$gw_pid")
bench_instr_on "$gw_pid"
gw_round
tally 1
for round in $(seq 2 "$ROUNDS"); do
	nginx_round
	gw_round
	tally "$round"
done
cpu1=$(bench_cpu_s "$gw_pid")
th1=$(bench_thread_ticks "$gw_pid")
cs1=$(bench_ctxsw "$gw_pid")
if [ -n "$sys_pid" ]; then
	kill -INT "$sys_pid"
	wait "$sys_pid" || true
fi
[ -z "${CALLGRIND:-}" ] || instr=$(bench_instr "$gw_pid")
n=$(bench_median <<<"$n_all"); g=$(bench_median <<<"$g_all")
np99=$(bench_median <<<"$np99_all"); gp99=$(bench_median <<<"$gp99_all")
rss=$(bench_rss_mib "$gw_pid")
[ "$ROUNDS" = 1 ] || echo "the medians of $ROUNDS rounds:"
printf 'nginx proxy_pass : %10.0f req/s  p99 %s ms\n' "$n" "$np99"
printf 'tellonce fetch   : %10.0f req/s  p99 %s ms\n' "$g" "$gp99"
echo "gateway CPU per fetch: $(awk -v c="$cpu1" -v z="$cpu0" -v n="$done_n" \
	'BEGIN { printf "%.0f", (c - z) * 1e6 / n }') us (all threads; $(awk -v c="$cpu1" -v z="$cpu0" 'BEGIN { print c - z }') s for $done_n fetches)"
echo "gateway CPU per fetch by thread (us): $(bench_thread_split "$th0" "$th1" "$done_n")"
echo "gateway context switches per fetch: $(awk -v a="$cs0" -v b="$cs1" -v n="$done_n" \
	'BEGIN { split(a, x, " "); split(b, y, " ")
		printf "%.2f voluntary, %.2f involuntary", (y[1] - x[1]) / n, (y[2] - x[2]) / n }') (all threads)"
[ -z "$sys_pid" ] || echo "gateway syscalls per fetch: $(awk -F, -v n="$done_n" '
	$1 ~ /^[0-9]+$/ && $1 > 0 { sub(/.*sys_enter_/, "", $3)
		printf "%s%s %.2f", sep, $3, $1 / n; all += $1; sep = ", " }
	END { printf "; %.1f in all (those counted)", all / n }' "$W/syscalls.csv")"
[ -z "${CALLGRIND:-}" ] || echo "gateway instructions (callgrind): $(awk -v i="$instr" \
	-v n="$done_n" 'BEGIN { printf "%.0f", i / n }') per fetch ($done_n fetches)"
if [ -n "${FLOOR:-}" ]; then
	FL=$(port)
	"$BUILD/bench/stackfloor" "$W/tellonce.yaml" mairie M1 "$FL" "$WORKERS" 2> "$W/floor.log" &
	fl_pid=$!
	pids+=($fl_pid)
	for _ in $(seq 100); do
		curl -fs -o /dev/null -d '{}' "http://127.0.0.1:$FL/v1/fetch" && break
		sleep 0.05
	done
	fcpu0=$(bench_cpu_s "$fl_pid")
	fl_out=$(wrk -t2 -c"$CONNS" -d"$DURATION" --latency -s "$W/fetch.lua" "http://127.0.0.1:$FL/v1/fetch")
	fcpu1=$(bench_cpu_s "$fl_pid")
	f=$(rps <<<"$fl_out")
	printf 'stack floor      : %10.0f req/s  p99 %s ms  (evhttp + http connector alone, %s workers; %.2f of nginx)\n' \
		"$f" "$(p99 <<<"$fl_out")" "$WORKERS" "$(awk -v f="$f" -v n="$n" 'BEGIN { print f / n }')"
	echo "stack floor CPU per request: $(awk -v c="$fcpu1" -v z="$fcpu0" -v n="$(awk '/requests in/ { print $1 }' <<<"$fl_out")" \
		'BEGIN { printf "%.0f", (c - z) * 1e6 / n }') us"
	! grep -q 'Non-2xx' <<<"$fl_out" || echo "stack floor: $(grep 'Non-2xx' <<<"$fl_out")"
fi
bench_goal "fetch/s, ratio tellonce/nginx" "$(awk -v g="$g" -v n="$n" 'BEGIN { printf "%.2f", g / n }')" ">=" 0.5
bench_goal "fetch p99 (ms), goal twice nginx's" "$gp99" "<=" "$(awk -v n="$np99" 'BEGIN { printf "%.2f", 2 * n }')"
if [ -z "${SCALE_DIR:-}" ]; then
	bench_goal "peak RSS (MiB) at $CONNS connections" "$rss" "<=" 32
else
	echo "peak RSS at $CONNS connections, large store: $rss MiB"
fi
bench_goal "start-up (s), to the first /healthz answer" "$start_s" "<=" 1
bench_figure fetch_rps "$g"; bench_figure fetch_p99_ms "$gp99"
bench_figure fetch_rss_mib "$rss"; bench_figure fetch_start_s "$start_s"
[ -z "$non200" ] || { echo "gateway: $non200"; bench_missed=1; }
bench_exit
