#!/usr/bin/env bash
# HTTP-level benchmark for BENCHMARKS.md: the demo's users list through tenancy
# against a baseline without it, in one process (examples/benchserver), loaded
# alternately with wrk and rotate.lua (the Tenant header rotating over the tenants)
# at each connection count.
#
#   examples/load/bench.sh
#
# Settings (environment): TENANTS (24), CONNECTIONS ("20 100"), DURATION (10s),
# ROUNDS (2: tenancy and baseline alternate, to spread the machine's noise),
# THREADS (2), AFFINITY (false: true runs tenancy with WithAffinity). Needs wrk (apt-get install -y wrk). Loopback only.
set -euo pipefail
TENANTS=${TENANTS:-24}
CONNECTIONS=${CONNECTIONS:-"20 100"}
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-2}
THREADS=${THREADS:-2}
AFFINITY=${AFFINITY:-false}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
command -v wrk >/dev/null 2>&1 || { echo "bench.sh: wrk is not installed (apt-get install -y wrk)" >&2; exit 1; }

bin=$(mktemp -d)/benchserver
(cd "$ROOT" && go build -o "$bin" ./examples/benchserver)
log=$(mktemp)
"$bin" -tenants "$TENANTS" -affinity="$AFFINITY" >"$log" 2>&1 &
pid=$!
trap 'kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null || true; rm -f "$bin" "$log"' EXIT
for _ in $(seq 1 600); do
	grep -q '^ready' "$log" && break
	kill -0 $pid 2>/dev/null || { cat "$log" >&2; exit 1; }
	sleep 0.2 # waiting for a child process's start-up line: no other signal to wait on
done
grep -q '^ready' "$log" || { echo "bench.sh: benchserver did not start" >&2; cat "$log" >&2; exit 1; }
sed -n '/^ready/p' "$log"
echo "machine: $(nproc) cores, $(uname -sr), $(date -u +%FT%TZ)"
for c in $CONNECTIONS; do
	for ((r = 1; r <= ROUNDS; r++)); do
		for side in tenancy:8081 baseline:8082; do
			name=${side%%:*} port=${side##*:}
			printf '%-8s c=%-4s round %d: ' "$name" "$c" "$r"
			wrk -t"$THREADS" -c"$c" -d"$DURATION" --latency -s "$HERE/rotate.lua" \
				"http://127.0.0.1:$port" -- bench_ "$TENANTS" | grep '^RESULT'
		done
	done
done
