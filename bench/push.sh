#!/usr/bin/env bash
# bench/push.sh — pushes accepted per second (durable: record, deliveries
# and idempotency key committed, push audited and fsync'd before the 202)
# and deliveries per second to three loopback subscribers.
#
# The subscribers are nginx answering 204, so that they are not the limit.
# wrk pushes records for SUBJECTS different subjects (each with its own
# idempotency key); every record fans out to the three subscribers, each
# with its own policy, field names and local id. Deliveries/s is measured
# from the first push until the outbox is empty.
#
# The machine is usually shared: next to the rates it prints the gateway's
# CPU time per accepted push, which moves less with the neighbours' load.
# It exits 1 when a figure misses its goal (issue 11).
#
#   bench/push.sh [DURATION] [CONNECTIONS] [SUBJECTS]   defaults: 10s 64 2000
#   PROFILE=/tmp/perf.data bench/push.sh   `perf record -g` on the gateway
#                                          while wrk pushes (not the set-up);
#                                          PERF_RECORD="perf record ..." to vary
#   CALLGRIND=/tmp/cg.out bench/push.sh 20s 8 200   instructions the gateway
#                       executes per push or delivery (bench/lib.sh), one node
#   STORE=postgresql [NODES=2] bench/push.sh   the store on a PostgreSQL server
#       of the run's own, shared by NODES gateways, the connections split
#       among them (contract §9); the CPU is the gateways' together
#   WALPAGES=1 bench/push.sh   also the WAL pages written per push while
#       wrk pushed, by thread and by the table or index each page belongs
#       to (bench/walpages.c, preloaded into the gateway; SQLite store
#       only): what the schema costs. A count, not a rate: each frame
#       costs the gateway a readlink more
#   ROUNDS=N bench/push.sh   N rounds on the same gateway, each wrk then
#       the outbox drained; the goals are checked on the medians of the
#       rounds' rates: one round of pushes moved by a tenth from run to run
#   READERS=N bench/push.sh   N more connections read audit tiles from the
#       first gateway while wrk pushes (the tiles of the first 64 bundles,
#       most of them not written yet), to see what readers cost the appends
DURATION=${1:-10s}
ROUNDS=${ROUNDS:-1}
GOAL_PUSHES=20000
GOAL_DELIVERIES=10000
CONNS=${2:-64}
SUBJECTS=${3:-2000}
NODES=${NODES:-1}
. bench/lib.sh
[ "$ROUNDS" = 1 ] || [ -z "${PROFILE:-}${CALLGRIND:-}${WALPAGES:-}" ] ||
	{ echo "bench: PROFILE, CALLGRIND and WALPAGES measure one round (ROUNDS=1)"; exit 1; }
SUB=$(port)

cat > "$W/nginx.conf" <<NGINX
worker_processes 1;
pid $W/nginx.pid;
error_log $W/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$SUB;
    location / { return 204; }
  }
}
NGINX
nginx -c "$W/nginx.conf" -g 'daemon off;' &
pids+=($!)

bench_keys
bench_store
export MAIRIE_KEY=bench-mairie CAF_KEY=bench-caf \
	CCAS_KEY=bench-ccas IMPOTS_KEY=bench-impots
services() {
	cat <<YAML
datasets:
  address: {attributes: {street: string, postal_code: string, city: string, country: string}}
services:
  mairie:
    name: Mairie
    auth: {api_key: env:MAIRIE_KEY}
  caf:
    name: CAF
    auth: {api_key: env:CAF_KEY}
    connector: {type: http, base_url: "http://127.0.0.1:$SUB", push: {method: PUT, path: "/caf/{local_id}"}}
    subscribes: [{dataset: address, from: mairie}]
    delivery: {concurrency: 128}
  ccas:
    name: CCAS
    auth: {api_key: env:CCAS_KEY}
    connector: {type: http, base_url: "http://127.0.0.1:$SUB", push: {method: POST, path: "/ccas/{local_id}"},
                map: {city: commune.nom}}
    subscribes: [{dataset: address, from: mairie}]
    delivery: {concurrency: 128}
  impots:
    name: Impots
    auth: {api_key: env:IMPOTS_KEY}
    connector: {type: http, base_url: "http://127.0.0.1:$SUB", push: {method: PUT, path: "/impots/{local_id}"},
                map: {postal_code: cp, country: pays}}
    subscribes: [{dataset: address, from: mairie}]
    delivery: {concurrency: 128}
policies:
  - {id: caf, consumer: caf, provider: mairie, dataset: address, attributes: [street, postal_code, city],
     purpose: benefits, basis: public_task, legal_reference: "CSS L114-19"}
  - {id: ccas, consumer: ccas, provider: mairie, dataset: address, attributes: [city],
     purpose: social-aid, basis: legal_obligation, legal_reference: "CASF L123-5"}
  - {id: impots, consumer: impots, provider: mairie, dataset: address, attributes: [postal_code, country],
     purpose: tax, basis: public_task, legal_reference: "LPF L81"}
YAML
}
walpages=()
if [ -n "${WALPAGES:-}" ]; then
	[ "${STORE:-sqlite}" = sqlite ] || { echo "bench: WALPAGES counts the SQLite store's pages"; exit 1; }
	[ -e "$BUILD/bench/walpages.so" ] || { echo "bench: no $BUILD/bench/walpages.so (make bench builds it)"; exit 1; }
	walpages=(env LD_PRELOAD="$(realpath "$BUILD/bench/walpages.so")" WALPAGES_OUT="$W/walpages.txt")
fi
gws=(); gwpids=()
for n in $(seq "$NODES"); do
	gw=$(port)
	gws+=("$gw")
	{ bench_gateway "$gw"; services; } > "$W/tellonce$n.yaml"
	"${walpages[@]}" $(bench_wrap) "$BUILD/tellonce" serve -c "$W/tellonce$n.yaml" \
	    2> "$W/gateway$n.log" &
	gwpids+=($!)
	pids+=($!)
done
GW=${gws[0]}
gwpid=${gwpids[0]}
for gw in "${gws[@]}"; do
	for _ in $(seq 600); do
		curl -fs "http://127.0.0.1:$gw/healthz" >/dev/null && curl -fs -o /dev/null "http://127.0.0.1:$SUB/" && break
		sleep 0.1
	done
done

# Every subject linked at the four services, over one kept-alive connection.
/usr/bin/python3 - "$GW" "$SUBJECTS" <<'PY'
import http.client, json, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
conn = http.client.HTTPConnection("127.0.0.1", port)
for i in range(n):
    pivot = {"family_name": "Bench", "given_names": "S%d" % i, "birthdate": "1980-01-01",
             "birthplace": "Brest", "gender": "F"}
    for svc, prefix in (("mairie", "m"), ("caf", "c"), ("ccas", "s"), ("impots", "i")):
        conn.request("POST", "/v1/links", json.dumps({"local_id": "%s%d" % (prefix, i),
                     "pivot": pivot}), {"Authorization": "Bearer bench-" + svc})
        r = conn.getresponse(); r.read()
        if r.status not in (200, 201):
            sys.exit("bench: link answered %d" % r.status)
PY

cat > "$W/push.lua" <<LUA
-- tid is the global that setup gives each thread: a local of that name
-- would be 0 in every thread, and the threads would send the same keys
-- (answered as replays, without storing anything).
local subjects = $SUBJECTS
local node = os.getenv("BENCH_NODE") .. "r" .. os.getenv("BENCH_ROUND")
local n = 0
local threads = 0
setup = function(thread) threads = threads + 1; thread:set("tid", threads) end
init = function() math.randomseed(tid) end
request = function()
	n = n + 1
	local s = math.random(0, subjects - 1)
	local body = string.format('{"subject":"m%d","dataset":"address","idempotency_key":"%s-t%d-%d",'
		.. '"record":{"street":"%d rue de la Paix","postal_code":"29%03d","city":"Quimper","country":"FR"}}',
		s, node, tid, n, n, s % 1000)
	return wrk.format("POST", "/v1/records", {["Authorization"] = "Bearer bench-mairie",
		["Content-Type"] = "application/json"}, body)
end
LUA
check=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer bench-mairie' \
	"http://127.0.0.1:$GW/v1/records" -d '{"subject":"m0","dataset":"address","record":{"city":"Brest"}}')
[ "$check" = 202 ] || { echo "bench: push answered $check"; cat "$W/gateway1.log"; exit 1; }

sql() {  # the one number a query on the store answers
	if [ "${STORE:-sqlite}" = postgresql ]; then
		psql -qAt "$PG_DSN" -c "$1"
		return
	fi
	/usr/bin/python3 -c 'import sqlite3, sys
print(sqlite3.connect(sys.argv[1], timeout=10).execute(sys.argv[2]).fetchone()[0])' \
	    "$DATA/tellonce.db" "$1"
}
count() {  # deliveries in the given states (enum store_delivery_state)
	sql "SELECT count(*) FROM deliveries WHERE state $1"
}
cpu() {  # the gateways' user + system CPU time so far, in seconds
	for p in "${gwpids[@]}"; do cat "/proc/$p/stat"; done |
	    awk -v hz="$(getconf CLK_TCK)" '{ t += $14 + $15 } END { print t / hz }'
}
records() {
	sql "SELECT count(*) FROM records"
}
# The WAL frames noted from offset $1 to $2 of the log (while wrk pushed),
# per push of the $3 accepted: each page named by dbstat, read in one
# transaction while the gateway runs (on a filled store, SCALE_DIR, that
# reads the whole file), the threads grouped as bench_thread_split does.
walpages_report() {
	/usr/bin/python3 - "$W/walpages.txt" "$1" "$2" "$DATA/tellonce.db" \
	    "$3" <<'PY'
import collections, re, sqlite3, sys
log, lo, hi, db, pushes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
    sys.argv[4], int(sys.argv[5])
store = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
owner = dict(store.execute("SELECT pageno, name FROM dbstat"))
with open(log, "rb") as f:
    f.seek(lo)
    lines = f.read(hi - lo).decode().splitlines()
pages = collections.defaultdict(collections.Counter)
commits = collections.Counter()
for line in lines:
    thread, where, page, last = line.split()
    group = re.sub(r"/[0-9]+$", "", thread)
    name = owner.get(int(page), "(freed)") if where == "store" else "(access file)"
    pages[group][name] += 1
    commits[group] += last == "1"
print("WAL pages written per push accepted, by thread and table or index "
      "(bench/walpages.c; %d pushes):" % pushes)
for group, names in sorted(pages.items(), key=lambda g: -sum(g[1].values())):
    total = sum(names.values())
    top = ", ".join("%s %.2f" % (n, c / pushes) for n, c in names.most_common(6)
                    if c / pushes >= 0.01)
    print("  %-12s %5.2f in %d commits: %s" % (group, total / pushes, commits[group], top))
PY
}
if [ -n "${PROFILE:-}" ]; then
	${PERF_RECORD:-perf record -g} -o "$PROFILE" -p "$gwpid" 2>/dev/null &
	perfpid=$!
	pids+=($perfpid)
fi
if [ "${READERS:-0}" -gt 0 ]; then
	cat > "$W/tiles.lua" <<'LUA'
request = function()
	local n = math.random(0, 63)
	local kind = math.random(0, 1) == 0 and "entries" or "0"
	return wrk.format("GET", string.format("/audit/tile/%s/%03d", kind, n))
end
LUA
fi
echo "wrk -t2 -c$CONNS -d$DURATION, $SUBJECTS subjects, 3 subscribers, $(nproc) cores, loopback," \
    "store ${STORE:-sqlite}, $NODES node(s)"

# One round: wrk pushes for DURATION, then the outbox drains. Prints the
# round's figures and adds its rates to the lists the medians are taken
# from.
pushes_all=; delivered_all=; non2xx=
push_round() {
	local records_before delivered_before superseded_before other_before
	local cpu_before th_before wal_from wal_to start wrks readerpid out
	local pushed_at cpu_pushed th_pushed drained_at cpu_drained p99
	local delivered superseded other instr pushes deliveries accepted
	records_before=$(records)
	# A filled store (SCALE_DIR) holds earlier runs' deliveries: count
	# the run's own, once the check push's are out of the outbox
	# (counted pending here and delivered during the run, they made
	# "dead or denied" -2).
	while [ "$(count 'IN (0, 1)')" != 0 ]; do sleep 0.1; done
	delivered_before=$(count '= 2'); superseded_before=$(count '= 4')
	other_before=$(count 'NOT IN (2, 4)')
	cpu_before=$(cpu)
	th_before=$(bench_thread_ticks "$gwpid")
	bench_instr_on "$gwpid"
	wal_from=$(stat -c %s "$W/walpages.txt" 2>/dev/null || echo 0)
	start=$(date +%s.%N)
	if [ "${READERS:-0}" -gt 0 ]; then
		wrk -t1 -c"$READERS" -d"$DURATION" -s "$W/tiles.lua" "http://127.0.0.1:$GW" \
		    > "$W/tiles.txt" &
		readerpid=$!
	fi
	# One wrk per node, the connections and the two threads split among
	# them.
	wrks=()
	for gw in "${gws[@]}"; do
		BENCH_NODE=$gw BENCH_ROUND=$1 wrk -t$(( NODES > 1 ? 1 : 2 )) -c$(( CONNS / NODES )) \
		    -d"$DURATION" --latency -s "$W/push.lua" "http://127.0.0.1:$gw" > "$W/wrk$gw.txt" &
		wrks+=($!)
	done
	wait "${wrks[@]}"
	[ -z "${readerpid:-}" ] || wait "$readerpid"
	out=$(cat "$W"/wrk*.txt)
	pushed_at=$(date +%s.%N)
	wal_to=$(stat -c %s "$W/walpages.txt" 2>/dev/null || echo 0)
	cpu_pushed=$(cpu)
	th_pushed=$(bench_thread_ticks "$gwpid")
	[ -z "${PROFILE:-}" ] || { kill -INT "$perfpid"; wait "$perfpid" || true; }
	accepted=$(($(records) - records_before))
	while [ "$(count 'IN (0, 1)')" != 0 ]; do sleep 0.1; done
	drained_at=$(date +%s.%N)
	cpu_drained=$(cpu)
	delivered=$(($(count '= 2') - delivered_before))
	superseded=$(($(count '= 4') - superseded_before))
	other=$(($(count 'NOT IN (2, 4)') - other_before))
	[ -z "${CALLGRIND:-}" ] || instr=$(bench_instr "$gwpid")
	pushes=$(awk -v n="$accepted" -v s="$start" -v p="$pushed_at" 'BEGIN { printf "%.0f", n / (p - s) }')
	deliveries=$(awk -v d="$delivered" -v s="$start" -v e="$drained_at" 'BEGIN { printf "%.0f", d / (e - s) }')
	pushes_all="${pushes_all:+$pushes_all }$pushes"
	delivered_all="${delivered_all:+$delivered_all }$deliveries"

	p99=$(awk '/ 99% /{print $2}' <<<"$out" | paste -sd/)
	awk -v r="$pushes" -v n="$accepted" -v g="$GOAL_PUSHES" -v p99="$p99" \
	    -v c0="$cpu_before" -v c1="$cpu_pushed" 'BEGIN {
		printf "accepted (durable)  : %10.0f pushes/s      goal >= %d   p99 %s, gateway CPU %.3f ms per push\n",
		    r, g, p99, 1000 * (c1 - c0) / n }'
	# The deliveries made while wrk pushed count in the delivery
	# thread's share.
	echo "gateway CPU per push while pushing, by thread (us$([ "$NODES" = 1 ] || echo ", first node")):" \
	    "$(bench_thread_split "$th_before" "$th_pushed" "$(awk -v n="$accepted" -v k="$NODES" 'BEGIN { print n / k }')")"
	awk -v r="$deliveries" -v d="$delivered" -v s="$start" -v e="$drained_at" -v p="$pushed_at" \
	    -v g="$GOAL_DELIVERIES" 'BEGIN {
		printf "delivered           : %10.0f deliveries/s  goal >= %d   (%d in %.1fs, outbox empty %.1fs after the last push)\n",
		    r, g, d, e - s, e - p }'
	awk -v n="$accepted" -v d="$delivered" -v c0="$cpu_before" -v c1="$cpu_drained" 'BEGIN {
		printf "gateway CPU, whole run: %.3f ms per push or delivery\n", 1000 * (c1 - c0) / (n + d) }'
	[ -z "${CALLGRIND:-}" ] || awk -v i="$instr" -v n="$accepted" -v d="$delivered" 'BEGIN {
		printf "gateway instructions (callgrind): %.0f per push or delivery (%d pushes, %d deliveries)\n",
		    i / (n + d), n, d }'
	echo "superseded undelivered: $superseded; dead or denied: $other"
	[ -z "${WALPAGES:-}" ] || walpages_report "$wal_from" "$wal_to" "$accepted"
	if [ -n "${readerpid:-}" ]; then
		echo "tile reads ($READERS connections): $(awk '/Requests\/sec/{print $2}' "$W/tiles.txt")/s"
		# What reached the database: each node reads a tile once, then
		# its cache.
		[ "${STORE:-sqlite}" != postgresql ] || echo "  of which read from PostgreSQL:" \
		    "$(sql "SELECT coalesce(sum(idx_scan), 0) FROM pg_stat_user_tables WHERE relname = 'audit_tiles'")"
	fi
	non2xx="$non2xx$(grep -E 'Non-2xx' <<<"$out" || true)"
}
for round in $(seq "$ROUNDS"); do
	[ "$ROUNDS" = 1 ] || echo "== round $round"
	push_round "$round"
done
pushes=$(bench_median <<<"$pushes_all"); deliveries=$(bench_median <<<"$delivered_all")
bench_figure push_rps "$pushes"
bench_figure push_rss_mib "$(bench_rss_mib "$gwpid")"
if [ "$ROUNDS" != 1 ]; then
	echo "== the medians of $ROUNDS rounds"
	printf 'accepted (durable)  : %10.0f pushes/s\n' "$pushes"
	printf 'delivered           : %10.0f deliveries/s\n' "$deliveries"
fi
[ -z "$non2xx" ] || { echo "gateway: $non2xx"; bench_missed=1; }
bench_goal "pushes accepted/s" "$pushes" ">=" "$GOAL_PUSHES"
bench_goal "deliveries/s" "$deliveries" ">=" "$GOAL_DELIVERIES"
bench_exit
