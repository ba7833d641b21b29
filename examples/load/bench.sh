#!/usr/bin/env bash
# HTTP-level benchmark for BENCHMARKS.md: the demo's users list through tenancy
# (database/sql), through a database/sql baseline on the same driver, through a
# raw pgxpool baseline and through tenancypgx (native pgx), all in one process
# (examples/benchserver), loaded alternately with wrk and rotate.lua (the Tenant
# header rotating over the tenants) at each connection count. One benchserver per
# driver and latency; within one, the modes alternate, so their ratios come from the same minutes of the machine.
#
#   examples/load/bench.sh
#   DRIVERS=pgx LATENCIES="0 0.2ms" DURATION=3s ROUNDS=1 examples/load/bench.sh   # a quick look
#
# Settings (environment): TENANTS (24), CONNECTIONS ("20 100"), DURATION (10s),
# ROUNDS (2: the modes alternate, to spread the machine's noise), THREADS (2),
# DRIVERS ("pgx postgres": benchserver -driver, the database/sql driver of the
# tenancy and baseline modes), LATENCIES ("0 0.2ms": benchserver -latency, the
# one-way delay internal/latproxy adds between the server and PostgreSQL),
# MODES ("tenancy baseline pgx native"), AFFINITY (false: true runs tenancy with
# WithAffinity). Needs wrk (apt-get install -y wrk). Loopback only.
#
# Each wrk run prints one line: driver, latency, mode, connections, round, then
# rotate.lua's RESULT fields (rps, p50/p90/p99/max in ms, non2xx: responses whose
# status is not 2xx, socket_errors, timeouts), then the CPU time per request of
# benchserver (go_cpu_us) and of the PostgreSQL it started (pg_cpu_us: every
# process under it), from /proc/<pid>/stat before and after the run (10 ms ticks;
# without DATABASE_URL only, since an outside server's processes are not counted). At the end, per driver, latency and
# connection count, the mean req/s of each mode and its ratio to each baseline.
set -euo pipefail
TENANTS=${TENANTS:-24}
CONNECTIONS=${CONNECTIONS:-"20 100"}
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-2}
THREADS=${THREADS:-2}
DRIVERS=${DRIVERS:-"pgx postgres"}
LATENCIES=${LATENCIES:-"0 0.2ms"}
MODES=${MODES:-"tenancy baseline pgx native"}
AFFINITY=${AFFINITY:-false}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
command -v wrk >/dev/null 2>&1 || { echo "bench.sh: wrk is not installed (apt-get install -y wrk)" >&2; exit 1; }

port_of() {
	case $1 in
	tenancy) echo 8081 ;;
	baseline) echo 8082 ;;
	pgx) echo 8083 ;;
	native) echo 8084 ;;
	*) echo "bench.sh: unknown mode $1 (want tenancy, baseline, pgx or native)" >&2; exit 2 ;;
	esac
}
for m in $MODES; do port_of "$m" >/dev/null; done

# tree_pids prints the pids of every process under $1.
tree_pids() {
	local p
	for p in $(pgrep -P "$1"); do
		echo "$p"
		tree_pids "$p"
	done
}
# cpu_of prints "pid ticks" (user+system CPU time in clock ticks) for each pid
# given that is still running.
cpu_of() {
	local p v
	for p in "$@"; do
		v=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null) && echo "$p $v"
	done
}
# cpu_delta prints the CPU ticks spent between two cpu_of snapshots by the
# processes of the second (a process that started in between counts whole; one
# that exited is not counted, so backends must outlive the run: the pools keep
# theirs).
cpu_delta() {
	awk 'NR == FNR { t0[$1] = $2; next } { d += $2 - t0[$1] } END { print d + 0 }' "$1" "$2"
}
hz=$(getconf CLK_TCK)

tmp=$(mktemp -d)
bin=$tmp/benchserver
results=$tmp/results
pid=
stop_server() {
	if [[ -n $pid ]]; then
		kill -INT "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		pid=
	fi
}
trap 'stop_server; rm -rf "$tmp"' EXIT
(cd "$ROOT" && go build -o "$bin" ./examples/benchserver)
echo "machine: $(nproc) cores, $(uname -sr), $(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"

# Without DATABASE_URL each benchserver starts its own throwaway PostgreSQL (a few
# seconds), so the driver/latency combinations do not share a server's state.
for driver in $DRIVERS; do
	for lat in $LATENCIES; do
		log=$tmp/log
		"$bin" -tenants "$TENANTS" -affinity="$AFFINITY" -driver "$driver" -latency "$lat" >"$log" 2>&1 &
		pid=$!
		for _ in $(seq 1 600); do
			grep -q '^ready' "$log" && break
			kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
			sleep 0.2 # waiting for a child process's start-up line: no other signal to wait on
		done
		grep -q '^ready' "$log" || { echo "bench.sh: benchserver did not start" >&2; cat "$log" >&2; exit 1; }
		sed -n '/^ready/p' "$log"
		for c in $CONNECTIONS; do
			for ((r = 1; r <= ROUNDS; r++)); do
				# Rotate the order each round, so that no mode always goes first.
				read -r -a modes <<<"$MODES"
				n=${#modes[@]}
				for ((k = 0; k < n; k++)); do
					mode=${modes[$(((k + r - 1) % n))]}
					cpu_of "$pid" >"$tmp/go0"
					cpu_of $(tree_pids "$pid") >"$tmp/pg0"
					out=$(wrk -t"$THREADS" -c"$c" -d"$DURATION" --latency -s "$HERE/rotate.lua" \
						"http://127.0.0.1:$(port_of "$mode")" -- bench_ "$TENANTS" | grep '^RESULT' | cut -d' ' -f2-)
					cpu_of "$pid" >"$tmp/go1"
					cpu_of $(tree_pids "$pid") >"$tmp/pg1"
					reqs=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$out")
					cpu=$(awk -v g="$(cpu_delta "$tmp/go0" "$tmp/go1")" -v q="$(cpu_delta "$tmp/pg0" "$tmp/pg1")" -v n="${reqs:-0}" -v hz="$hz" \
						'BEGIN { if (n > 0) printf "go_cpu_us=%.0f pg_cpu_us=%.0f", g * 1e6 / hz / n, q * 1e6 / hz / n }')
					line="driver=$driver latency=$lat mode=$mode c=$c round=$r $out $cpu"
					echo "$line" | tee -a "$results"
				done
			done
		done
		stop_server
	done
done

echo
echo "summary (mean req/s over the rounds; ratio = mode / baseline on the same server)"
awk -v order="$MODES" '
{
	for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
	k = f["driver"] " " f["latency"] " " f["c"]
	if (!(k in seen)) { seen[k] = 1; keys[++nk] = k }
	sum[k, f["mode"]] += f["rps"]; cnt[k, f["mode"]]++
	p99[k, f["mode"]] = p99[k, f["mode"]] " " f["p99_ms"]
	bad[k, f["mode"]] += f["non2xx"] + f["socket_errors"] + f["timeouts"]
	gcpu[k, f["mode"]] += f["go_cpu_us"]; pcpu[k, f["mode"]] += f["pg_cpu_us"]
}
END {
	printf "%-9s %-8s %-5s %-9s %9s %16s %13s %13s %14s %s\n", "driver", "latency", "c", "mode", "req/s", "p99 ms (rounds)", "/baseline", "/pgx", "cpu µs go+pg", "non2xx+errors"
	for (i = 1; i <= nk; i++) {
		k = keys[i]; split(k, p, " ")
		b = cnt[k, "baseline"] ? sum[k, "baseline"] / cnt[k, "baseline"] : 0
		x = cnt[k, "pgx"] ? sum[k, "pgx"] / cnt[k, "pgx"] : 0
		nm = split(order, ms, " ")
		for (j = 1; j <= nm; j++) {
			m = ms[j]
			if (!cnt[k, m]) continue
			v = sum[k, m] / cnt[k, m]
			printf "%-9s %-8s %-5s %-9s %9.0f %16s %13s %13s %14s %d\n", p[1], p[2], p[3], m, v, p99[k, m], \
				(b ? sprintf("%.2f", v / b) : "-"), (x ? sprintf("%.2f", v / x) : "-"), \
				sprintf("%.0f+%.0f", gcpu[k, m] / cnt[k, m], pcpu[k, m] / cnt[k, m]), bad[k, m]
		}
	}
}' "$results"
