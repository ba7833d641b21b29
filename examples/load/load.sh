#!/usr/bin/env bash
# Load test of the demo server: GET /users/ with the "tenant" header rotating over
# many tenants, driven by wrk (rotate.lua beside this script).
#
#   ADMIN_TOKEN=... examples/load/load.sh
#
# It creates the tenants it needs through the admin API (load_0001 .. load_NNNN,
# each with a few users) unless they exist, then runs wrk once per connection
# count for a fixed duration and prints a summary. It installs nothing.
#
# Settings (environment):
#   BASE_URL          the demo server (default http://127.0.0.1:8080)
#   ADMIN_TOKEN       the demo's admin token; needed only to create tenants
#   TENANTS           how many tenants to rotate over (default 100)
#   USERS             users per tenant (default 5)
#   CONNECTIONS       wrk connection counts to run, one run each (default "20 100")
#   DURATION          each run's duration (default 10s)
#   THREADS           wrk threads (default 2)
#   PREFIX            tenant schema prefix (default load_)
#   LOAD_ALLOW_REMOTE set to 1 to aim at a server that is not on this machine
#
# Run the server with LOG_LEVEL=warn for throughput figures: an access-log line
# per request costs a noticeable share of the time at tens of thousands of
# requests per second.
set -euo pipefail

BASE_URL=${BASE_URL:-http://127.0.0.1:8080}
BASE_URL=${BASE_URL%/}
TENANTS=${TENANTS:-100}
USERS=${USERS:-5}
CONNECTIONS=${CONNECTIONS:-"20 100"}
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
PREFIX=${PREFIX:-load_}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

die() { printf 'load.sh: %s\n' "$*" >&2; exit 1; }

if ! command -v wrk >/dev/null 2>&1; then
	die "wrk is not installed. Install it, then run this again:
    Debian/Ubuntu:  apt-get install -y wrk
    Fedora:         dnf install -y wrk
    macOS:          brew install wrk"
fi
command -v curl >/dev/null 2>&1 || die "curl is not installed (apt-get install -y curl)"
[[ $TENANTS =~ ^[1-9][0-9]{0,3}$ ]] || die "TENANTS must be 1 to 9999, got '$TENANTS'"
[[ $USERS =~ ^[0-9]+$ ]] || die "USERS must be a number, got '$USERS'"
[[ $PREFIX =~ ^[a-z_][a-z0-9_]*$ ]] || die "PREFIX must be a valid schema name prefix, got '$PREFIX'"

# A load test aimed at someone else's server by mistake is an attack: loopback
# only, unless asked otherwise.
host=${BASE_URL#*://}
host=${host%%/*}
host=${host%:*}
case $host in
127.*|localhost|*.localhost|\[::1\]) ;;
*) [[ ${LOAD_ALLOW_REMOTE:-} == 1 ]] || die "$BASE_URL is not on this machine; set LOAD_ALLOW_REMOTE=1 if you mean it" ;;
esac

curl -fsS -o /dev/null --max-time 5 "$BASE_URL/health" ||
	die "the server at $BASE_URL does not answer /health; start it: go run ./examples/server"

# status METHOD PATH [curl args...] prints the HTTP status of a request.
status() {
	local method=$1 path=$2
	shift 2
	curl -sS -o /dev/null -w '%{http_code}' --max-time 30 -X "$method" "$BASE_URL$path" "$@"
}

printf 'Preparing %d tenants (%s0001..) with %d users each\n' "$TENANTS" "$PREFIX" "$USERS"
created=0
for ((i = 1; i <= TENANTS; i++)); do
	schema=$(printf '%s%04d' "$PREFIX" "$i")
	code=$(status GET /users/?limit=1 -H "tenant: $schema")
	if [[ $code == 404 ]]; then
		[[ -n ${ADMIN_TOKEN:-} ]] || die "tenant $schema does not exist and ADMIN_TOKEN is not set (the server printed it)"
		code=$(status POST /tenants -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \
			-d "{\"name\":\"Load $schema\",\"schema\":\"$schema\"}")
		[[ $code == 201 || $code == 409 ]] || die "create tenant $schema: HTTP $code"
		for ((u = 1; u <= USERS; u++)); do
			code=$(status POST /users/ -H "tenant: $schema" -H 'Content-Type: application/json' \
				-d "{\"email\":\"user$u@$schema.example\",\"first_name\":\"User\",\"last_name\":\"$u\"}")
			[[ $code == 201 || $code == 409 ]] || die "create user $u in $schema: HTTP $code"
		done
		created=$((created + 1))
	elif [[ $code != 200 ]]; then
		die "GET /users/ for $schema: HTTP $code"
	fi
	((i % 10 == 0)) && printf '  %d/%d\n' "$i" "$TENANTS"
done
printf 'Tenants ready (%d created now)\n\n' "$created"

results=()
for c in $CONNECTIONS; do
	t=$THREADS
	((c < t)) && t=$c
	printf '=== wrk -t%d -c%d -d%s --latency -s rotate.lua %s -- %s %d\n' "$t" "$c" "$DURATION" "$BASE_URL" "$PREFIX" "$TENANTS"
	out=$(wrk -t"$t" -c"$c" -d"$DURATION" --timeout 5s --latency -s "$HERE/rotate.lua" "$BASE_URL" -- "$PREFIX" "$TENANTS")
	printf '%s\n\n' "$out"
	results+=("connections=$c $(grep '^RESULT ' <<<"$out" | cut -d' ' -f2-)")
done

printf '=== Summary: GET /users/ over %d tenants, %s per run\n' "$TENANTS" "$DURATION"
for r in "${results[@]}"; do
	printf '%s\n' "$r"
done
