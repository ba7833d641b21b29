#!/usr/bin/env bash
# The demo's users list through tenancy (examples/benchserver's tenancy handler)
# against the original Python design (app.py here: FastAPI + SQLAlchemy +
# psycopg2, 2 uvicorn workers), on ONE PostgreSQL server with the same tenants
# and rows, loaded alternately with wrk and ../rotate.lua (the Tenant header
# rotating over the tenants): per connection count and round, Python then
# tenancy, so both modes share the same minutes of the machine. MODES adds
# the other handlers of examples/benchserver to every round: native (tenancypgx)
# and pgxpool (raw pgx, schema-qualified SQL: the ceiling of any Go server on
# this machine).
#
#   examples/load/python/compare.sh
#   ROUNDS=1 DURATION=3s examples/load/python/compare.sh     # a quick look
#
# Settings (environment): MODES ("python tenancy native pgxpool"), TENANTS (24),
# CONNECTIONS ("20 100"), DURATION (10s),
# ROUNDS (2), THREADS (2), CONNS (16: benchserver -conns, its pool size),
# PY_WORKERS (2), POOL_SIZE (8 per worker) and MAX_OVERFLOW (0) for app.py (2 x 8 =
# the 16 connections of the Go side), SCHEMA_MODE (search_path|translate: see
# app.py), PYTHON (/usr/bin/python3, Debian's, with python3-fastapi uvicorn
# python3-sqlalchemy python3-psycopg2 installed), DATABASE_URL (unset: a
# throwaway PostgreSQL is started here from /usr/lib/postgresql/*/bin, with the
# settings internal/pgserver uses: fsync, synchronous_commit and
# full_page_writes off, max_connections 300). Ports: 127.0.0.1:18081-18083
# (benchserver) and :18090 (Python). Needs wrk and curl.
#
# Each wrk run prints one line: mode, connections, round, then rotate.lua's
# RESULT fields (rps, p50/p90/p99/max in ms, non2xx, socket_errors, timeouts).
# At the end, per connection count: each mode's mean, min and max req/s and the
# ratio tenancy/Python of the means (and the range min/max .. max/min).
set -euo pipefail
MODES=${MODES:-"python tenancy native pgxpool"}
TENANTS=${TENANTS:-24}
CONNECTIONS=${CONNECTIONS:-"20 100"}
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-2}
THREADS=${THREADS:-2}
CONNS=${CONNS:-16}
PY_WORKERS=${PY_WORKERS:-2}
export POOL_SIZE=${POOL_SIZE:-8} MAX_OVERFLOW=${MAX_OVERFLOW:-0} SCHEMA_MODE=${SCHEMA_MODE:-search_path}
PYTHON=${PYTHON:-/usr/bin/python3}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
for c in wrk curl; do
	command -v $c >/dev/null 2>&1 || { echo "compare.sh: $c is not installed (apt-get install -y $c)" >&2; exit 1; }
done
"$PYTHON" -c 'import fastapi, sqlalchemy, psycopg2, uvicorn' || {
	echo "compare.sh: $PYTHON lacks fastapi/sqlalchemy/psycopg2/uvicorn (apt-get install -y python3-fastapi uvicorn python3-sqlalchemy python3-psycopg2)" >&2
	exit 1
}

tmp=$(mktemp -d)
chmod 755 "$tmp"
results=$tmp/results
go_pid= py_pid= pgdata=
cleanup() {
	[[ -n $py_pid ]] && { kill -TERM "$py_pid" 2>/dev/null || true; wait "$py_pid" 2>/dev/null || true; }
	[[ -n $go_pid ]] && { kill -INT "$go_pid" 2>/dev/null || true; wait "$go_pid" 2>/dev/null || true; }
	[[ -n $pgdata ]] && { as_pg "$pgbin/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null 2>&1 || true; }
	rm -rf "$tmp"
}
trap cleanup EXIT
as_pg() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }

if [[ -z ${DATABASE_URL:-} ]]; then
	pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
	[[ -x $pgbin/initdb ]] || { echo "compare.sh: no PostgreSQL server in /usr/lib/postgresql/*/bin; set DATABASE_URL" >&2; exit 1; }
	pgdata=$tmp/pgdata
	mkdir "$pgdata"
	[[ $(id -u) == 0 ]] && chown postgres "$pgdata"
	as_pg "$pgbin/initdb" -D "$pgdata" -U postgres -A trust --no-sync >"$tmp/initdb.log" 2>&1 || { cat "$tmp/initdb.log" >&2; exit 1; }
	pgport=$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	as_pg "$pgbin/pg_ctl" -D "$pgdata" -w -l "$pgdata/log" -o "-p $pgport -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" start >/dev/null \
		|| { cat "$pgdata/log" >&2; exit 1; }
	export DATABASE_URL="postgres://postgres@127.0.0.1:$pgport/postgres?sslmode=disable"
fi

(cd "$ROOT" && go build -o "$tmp/benchserver" ./examples/benchserver)
echo "machine: $(nproc) cores, $(uname -sr), $(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "database: $DATABASE_URL"

# benchserver first: it migrates the shared schema and creates/seeds the tenants
# (bench_0001.., 20 users each) that the Python app then reads.
"$tmp/benchserver" -tenants "$TENANTS" -conns "$CONNS" -addr 127.0.0.1:18081 -baseline-addr 127.0.0.1:18082 -pgx-addr 127.0.0.1:18083 -native-addr 127.0.0.1:18084 >"$tmp/go.log" 2>&1 &
go_pid=$!
for _ in $(seq 1 600); do
	grep -q '^ready' "$tmp/go.log" && break
	kill -0 "$go_pid" 2>/dev/null || { cat "$tmp/go.log" >&2; exit 1; }
	sleep 0.2 # waiting for a child process's start-up line
done
grep -q '^ready' "$tmp/go.log" || { echo "compare.sh: benchserver did not start" >&2; cat "$tmp/go.log" >&2; exit 1; }
sed -n '/^ready/p' "$tmp/go.log"

(cd "$HERE" && exec "$PYTHON" -m uvicorn app:app --workers "$PY_WORKERS" --host 127.0.0.1 --port 18090 \
	--no-access-log --log-level warning) >"$tmp/py.log" 2>&1 &
py_pid=$!
for _ in $(seq 1 300); do
	curl -fsS -o /dev/null http://127.0.0.1:18090/health 2>/dev/null && break
	kill -0 "$py_pid" 2>/dev/null || { cat "$tmp/py.log" >&2; exit 1; }
	sleep 0.2
done
curl -fsS -o /dev/null http://127.0.0.1:18090/health || { echo "compare.sh: Python app did not start" >&2; cat "$tmp/py.log" >&2; exit 1; }
echo "python: $PYTHON $("$PYTHON" -c 'import fastapi, sqlalchemy, uvicorn; print("fastapi", fastapi.__version__, "sqlalchemy", sqlalchemy.__version__, "uvicorn", uvicorn.__version__)'), workers $PY_WORKERS, pool $POOL_SIZE+$MAX_OVERFLOW per worker, schema mode $SCHEMA_MODE"

port_of() { case $1 in python) echo 18090 ;; tenancy) echo 18081 ;; pgxpool) echo 18083 ;; native) echo 18084 ;; *) echo "compare.sh: unknown mode $1" >&2; exit 1 ;; esac; }

# Both answer the same rows for the same tenant (compared after normalising the
# JSON: key order and timestamp formatting differ).
norm='import json,sys,datetime
rows=json.load(sys.stdin)
for r in rows:
    for k in ("created_at","updated_at"):
        if r[k]: r[k]=datetime.datetime.fromisoformat(r[k].replace("Z","+00:00")).timestamp()
print(json.dumps(rows, sort_keys=True))'
for t in bench_0001 "bench_$(printf %04d "$TENANTS")"; do
	a=$(curl -fsS -H "Tenant: $t" http://127.0.0.1:18090/users/ | "$PYTHON" -c "$norm")
	b=$(curl -fsS -H "Tenant: $t" http://127.0.0.1:18081/users/ | "$PYTHON" -c "$norm")
	[[ $a == "$b" ]] || { echo "compare.sh: tenant $t: the two answers differ" >&2; echo "python:  ${a:0:300}" >&2; echo "tenancy: ${b:0:300}" >&2; exit 1; }
done
echo "check: same rows from both for bench_0001 and bench_$(printf %04d "$TENANTS") ($(curl -fsS -H 'Tenant: bench_0001' http://127.0.0.1:18090/users/ | "$PYTHON" -c 'import json,sys; print(len(json.load(sys.stdin)))') users)"
[[ $(curl -s -o /dev/null -w '%{http_code}' -H 'Tenant: nope' http://127.0.0.1:18090/users/) == 404 ]] || { echo "compare.sh: Python app: unknown tenant is not 404" >&2; exit 1; }

# Warm-up, not recorded.
for mode in $MODES; do
	wrk -t"$THREADS" -c20 -d2s -s "$ROOT/examples/load/rotate.lua" "http://127.0.0.1:$(port_of $mode)" -- bench_ "$TENANTS" >/dev/null
done

for c in $CONNECTIONS; do
	for ((r = 1; r <= ROUNDS; r++)); do
		for mode in $MODES; do
			out=$(wrk -t"$THREADS" -c"$c" -d"$DURATION" --latency -s "$ROOT/examples/load/rotate.lua" \
				"http://127.0.0.1:$(port_of $mode)" -- bench_ "$TENANTS" | grep '^RESULT' | cut -d' ' -f2-)
			echo "mode=$mode c=$c round=$r load=$(cut -d' ' -f1 /proc/loadavg) $out" | tee -a "$results"
		done
	done
done
echo "end: $(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"

echo
echo "summary (req/s over the rounds; ratio = mode / python)"
awk -v modes="$MODES" '
{
	for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
	k = f["c"]; m = f["mode"]
	if (!(k in seen)) { seen[k] = 1; keys[++nk] = k }
	sum[k, m] += f["rps"]; cnt[k, m]++
	if (!((k, m) in mn) || f["rps"] < mn[k, m]) mn[k, m] = f["rps"]
	if (!((k, m) in mx) || f["rps"] > mx[k, m]) mx[k, m] = f["rps"]
	p50[k, m] = p50[k, m] " " f["p50_ms"]; p99[k, m] = p99[k, m] " " f["p99_ms"]
	bad[k, m] += f["non2xx"] + f["socket_errors"] + f["timeouts"]
}
END {
	printf "%-5s %-8s %9s %15s %22s %26s %s\n", "c", "mode", "mean", "min..max", "p50 ms (runs)", "p99 ms (runs)", "non2xx+errors"
	for (i = 1; i <= nk; i++) {
		k = keys[i]
		nm = split(modes, ms, " ")
		for (j = 1; j <= nm; j++) {
			m = ms[j]
			printf "%-5s %-8s %9.0f %15s %22s %26s %d\n", k, m, sum[k, m] / cnt[k, m], mn[k, m] ".." mx[k, m], p50[k, m], p99[k, m], bad[k, m]
		}
		if (!((k, "python") in cnt)) continue
		pm = sum[k, "python"] / cnt[k, "python"]
		for (j = 1; j <= nm; j++) {
			m = ms[j]
			if (m == "python" || !((k, m) in cnt)) continue
			tm = sum[k, m] / cnt[k, m]
			printf "c=%s ratio %s/python: %.1fx (range %.1fx..%.1fx)\n", k, m, tm / pm, mn[k, m] / mx[k, "python"], mx[k, m] / mn[k, "python"]
		}
	}
}' "$results"
