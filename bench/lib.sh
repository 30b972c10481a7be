# bench/lib.sh — what the benchmark scripts share; sourced, not run.
# Sets BUILD, W (a scratch folder, removed on exit) and DATA (where the
# store, the audit log and its key live: $W, or a store filled by
# bench/scale.sh when SCALE_DIR is set), collects the background processes
# to stop in `pids`, and defines port, bench_keys, bench_store,
# bench_gateway, the instruction counters (bench_wrap, bench_instr_on,
# bench_instr) and the figure helpers (bench_serve, bench_ms,
# bench_rss_mib, bench_cpu_s, bench_thread_ticks, bench_thread_split,
# bench_ctxsw, bench_goal, bench_figure,
# bench_exit).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/release}
# Each run's folder in a block group of its own (ext4 spreads the folders
# made in a +T one): on ext4 without a journal, as here, a file made in a
# group where many were deleted in the last minutes scans past each of
# them (recently_deleted), and the previous run deleted thousands (a fetch
# run's openat went from 1% to 5-9% of the gateway's CPU).
mkdir -p -m 1777 /tmp/tellonce-bench   # shared by the machine's users, as /tmp
chattr +T /tmp/tellonce-bench 2>/dev/null || true
W=$(mktemp -d /tmp/tellonce-bench/run.XXXXXX)
# Nothing left of an earlier run to write back while this one fsyncs.
sync
pids=()
cleanup() {
	kill "${pids[@]}" 2>/dev/null || true
	wait 2>/dev/null || true
	[ ! -d "$W/pg" ] || tests/tools/pgserver.sh stop "$W/pg" >/dev/null 2>&1 || true
	rm -rf "$W"
}
trap cleanup EXIT
DATA=${SCALE_DIR:-$W}
STORE_URL="sqlite:$DATA/tellonce.db"
WORKERS=${WORKERS:-2}
bench_missed=0

# A free loopback port.
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The audit signing key and the gateway secrets read from the environment.
bench_keys() {
	if [ ! -e "$DATA/audit.key" ]; then
		openssl genpkey -algorithm ed25519 -out "$DATA/audit.key" 2>/dev/null
		chmod 600 "$DATA/audit.key"
	fi
	export TELLONCE_PSEUDONYM_KEY=bench-pseudonym-key-0123456789abcdef0123456789
	export TELLONCE_ADMIN_TOKEN=bench-admin
}

# STORE=postgresql: a PostgreSQL server of the run's own (the test
# suite's tests/tools/pgserver.sh, on a unix socket in $W), whose database
# becomes STORE_URL; sqlite (the default) keeps the file in $DATA.
bench_store() {
	[ "${STORE:-sqlite}" = postgresql ] || return 0
	chmod 711 "$W"   # as root the server runs as postgres
	PG_DSN=$(tests/tools/pgserver.sh start "$W/pg")
	STORE_URL="postgresql:///tellonce?host=$W/pg&user=tellonce"
}

# The audit section: a directory on SQLite; on PostgreSQL the nodes'
# one log, in the store.
bench_audit() {
	local where="dir: $DATA/audit, "
	[ "${STORE:-sqlite}" = postgresql ] && where=
	echo "{${where}origin: bench.tellonce.example/log, signing_key: file:$DATA/audit.key}"
}

# The gateway section listening on port $1, plus the lines in $2 (indented
# two spaces: tls, limits, ...).
bench_gateway() {
	cat <<YAML
gateway:
  listen: 127.0.0.1:$1
  workers: $WORKERS
  log: {level: warn}
  store: $STORE_URL
  pseudonym_key: env:TELLONCE_PSEUDONYM_KEY
  admin_token: env:TELLONCE_ADMIN_TOKEN
  audit: $(bench_audit)
${2:-}
YAML
}

# Starts the gateway on config $1, logging to $2, and waits until
# http://127.0.0.1:$3/healthz answers; sets gw_pid and start_s (seconds
# from exec to the first answer, polled every 5 ms).
bench_serve() {
	local t0
	t0=$(date +%s.%N)
	${PERF:-} $(bench_wrap) "$BUILD/tellonce" serve -c "$1" 2> "$2" &
	gw_pid=$!
	pids+=($gw_pid)
	for _ in $(seq 6000); do
		curl -fs -o /dev/null "http://127.0.0.1:$3/healthz" && break
		sleep 0.005
	done
	start_s=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
	# Under a PERF wrapper the gateway is its child: its CPU and RSS are
	# the figures, and it is stopped with the wrapper (strace and perf
	# stat leave it running when they are).
	[ -z "${PERF:-}" ] || { gw_pid=$(pgrep -P "$gw_pid" | head -1); pids+=($gw_pid); }
}

# CALLGRIND=FILE: the gateway runs under valgrind's callgrind, which counts
# the instructions it executes between bench_instr_on and bench_instr
# (none during start-up and set-up). A CPU figure that other work sharing
# the machine does not move, unlike CPU time; the rates of such a run are
# those of a gateway slowed some fifty times, and mean nothing.
bench_wrap() {
	[ -z "${CALLGRIND:-}" ] ||
	    echo "valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=$CALLGRIND"
}
bench_instr_on() {  # $1 = the gateway's pid
	[ -z "${CALLGRIND:-}" ] || callgrind_control -i on "$1" >/dev/null 2>&1
}
# The instructions counted since bench_instr_on in process $1 (all its
# threads), from the dump callgrind writes to $CALLGRIND.1.
bench_instr() {
	callgrind_control -d "$1" >/dev/null 2>&1
	for _ in $(seq 100); do
		[ ! -s "$CALLGRIND.1" ] || break
		sleep 0.1
	done
	awk '/^totals:/ { print $2 }' "$CALLGRIND.1"
}

# A wrk latency ("850.00us", "3.88ms", "1.02s") in milliseconds.
bench_ms() {
	awk -v v="$1" 'BEGIN {
		if (v ~ /us$/) m = v / 1000; else if (v ~ /ms$/) m = v + 0;
		else if (v ~ /m$/) m = v * 60000; else m = v * 1000;
		printf "%.2f", m }'
}

# The peak resident memory of process $1 in MiB (VmHWM).
bench_rss_mib() {
	awk '/^VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"
}

# CPU seconds process $1 has used (user and system, all its threads):
# on a shared machine, CPU per request compares runs better than req/s.
bench_cpu_s() {
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' \
		"/proc/$1/stat"
}

# CPU ticks of process $1 so far by kind of thread, as "NAME TICKS" pairs
# on one line: the threads are named (docs/operations.md, Capacity), the
# workers' worker/N summed as "workers", and "all" the process's total,
# which also holds what threads that exited used (each audit-sync lives
# for one checkpoint).
bench_thread_ticks() {
	{
		for t in /proc/"$1"/task/*; do
			printf '%s ' "$(cat "$t/comm" 2>/dev/null)"
			awk '{ sub(/.*\) /, ""); print $12 + $13 }' "$t/stat" 2>/dev/null || echo 0
		done
		awk '{ sub(/.*\) /, ""); print "all", $12 + $13 }' "/proc/$1/stat"
	} | awk '{ n = $1; if (n ~ /^worker\//) n = "workers"; t[n] += $2 }
		END { for (k in t) printf "%s %d ", k, t[k] }'
}

# The CPU per unit, in microseconds, of each kind of thread between two
# bench_thread_ticks ($1, $2) over $3 units: "workers 31, audit 6, ...",
# the busiest first; "other" is what the process used beyond its live
# threads.
bench_thread_split() {
	awk -v a="$1" -v b="$2" -v n="$3" -v hz="$(getconf CLK_TCK)" 'BEGIN {
		na = split(a, x, " "); nb = split(b, y, " ")
		for (i = 1; i < na; i += 2) t0[x[i]] = x[i + 1]
		for (i = 1; i < nb; i += 2) t1[y[i]] = y[i + 1]
		for (k in t1) if (k != "all") { d[k] = t1[k] - t0[k]; sum += d[k] }
		d["other"] = t1["all"] - t0["all"] - sum
		while (1) {
			best = ""
			for (k in d) if (best == "" || d[k] > d[best]) best = k
			if (best == "" || d[best] * 1e6 / hz / n < 0.5) break
			printf "%s%s %.0f", sep, best, d[best] * 1e6 / hz / n
			sep = ", "; delete d[best]
		}
	}'
}

# Context switches of process $1 so far, all its threads: "VOLUNTARY
# INVOLUNTARY". A voluntary one is a thread that waited (for the audit
# log's write, a wake-up from another thread, the disk); an involuntary one
# a thread preempted by another that woke up.
bench_ctxsw() {
	cat /proc/"$1"/task/*/status 2>/dev/null | awk '
		/^voluntary_ctxt_switches/ { v += $2 }
		/^nonvoluntary_ctxt_switches/ { n += $2 }
		END { print v + 0, n + 0 }'
}

# Prints "LABEL: FIGURE (goal OP GOAL) ok|MISSED" and remembers a miss;
# OP is >= or <=.
bench_goal() {
	local label=$1 figure=$2 op=$3 goal=$4 ok
	ok=$(awk -v f="$figure" -v o="$op" -v g="$goal" 'BEGIN {
		print (o == ">=" ? f >= g : f <= g) ? "ok" : "MISSED" }')
	printf '%-44s %10s   (goal %s %s) %s\n' "$label" "$figure" "$op" "$goal" "$ok"
	[ "$ok" = ok ] || bench_missed=1
}

# Records figure $2 under name $1 in the file $FIGURES, when set: how
# bench/scale.sh reads what a run measured.
bench_figure() {
	[ -z "${FIGURES:-}" ] || echo "$1 $2" >> "$FIGURES"
}

# The median of the numbers on stdin, separated by spaces or newlines.
bench_median() {
	tr ' ' '\n' | sort -g | awk '{ v[NR] = $1 }
		END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Ends the script: status 1 when a figure missed its goal.
bench_exit() {
	[ "$bench_missed" = 0 ] || echo "bench: a figure missed its goal"
	exit "$bench_missed"
}
