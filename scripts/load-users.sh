#!/usr/bin/env bash
# Load test of the user service's cached read: GET /api/v1/users/{id} on a
# warm cache, with wrk, against a release build on embedded backends.
#
#   scripts/load-users.sh                 # 30 s, 2 threads, 32 connections
#   DURATION=5s scripts/load-users.sh     # a smoke run
#
# Prints requests per second, p99 latency and resident memory (idle, before
# the load, and after it) as a Markdown table row for docs/BENCHMARKS.md.
# Run it on a quiet machine: wrk and the service share its cores.
#
# Environment: DURATION (30s), THREADS (2), CONNECTIONS (32),
# LOG_LEVEL (warn: no access log line per request), CARGO_TARGET_DIR.
set -euo pipefail

DURATION=${DURATION:-30s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}
LOG_LEVEL=${LOG_LEVEL:-warn}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}

if ! command -v wrk >/dev/null; then
    echo "installing wrk from the Debian packages" >&2
    SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi

echo "building user_service (release)" >&2
(cd "$ROOT" && cargo build --release --quiet --all-features --example user_service)
BINARY=$TARGET/release/examples/user_service

WORK=$(mktemp -d)
SERVICE_PID=
cleanup() {
    if [ -n "$SERVICE_PID" ] && kill -0 "$SERVICE_PID" 2>/dev/null; then
        kill -TERM "$SERVICE_PID"
        wait "$SERVICE_PID" || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

(
    cd "$ROOT"
    exec env APP_ENV=local BIND_ADDR=127.0.0.1:0 \
        APP__LOG__LEVEL="$LOG_LEVEL" \
        APP__DATABASE__URL="sqlite://$WORK/users.db?mode=rwc" \
        "$BINARY"
) >"$WORK/service.log" 2>&1 &
SERVICE_PID=$!

ADDR=
for _ in $(seq 100); do
    ADDR=$(sed -n 's/^listening on \(http:\/\/[0-9.:]*\).*/\1/p' "$WORK/service.log" | head -n1)
    [ -n "$ADDR" ] && break
    kill -0 "$SERVICE_PID" 2>/dev/null || { cat "$WORK/service.log" >&2; exit 1; }
    sleep 0.1
done
[ -n "$ADDR" ] || { echo "the service did not start:" >&2; cat "$WORK/service.log" >&2; exit 1; }

json_field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }
PASSWORD="load test passphrase $RANDOM"
USER_ID=$(curl -sf -X POST "$ADDR/api/v1/auth/register" -H 'content-type: application/json' \
    -d "{\"username\":\"loadtest\",\"email\":\"loadtest@example.com\",\"password\":\"$PASSWORD\"}" | json_field id)
TOKEN=$(curl -sf -X POST "$ADDR/api/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"username\":\"loadtest\",\"password\":\"$PASSWORD\"}" | json_field access_token)
URL="$ADDR/api/v1/users/$USER_ID"
for _ in $(seq 100); do  # warm: the first read fills the cache
    curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" "$URL"
done

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$SERVICE_PID/status"; }
sleep 1
IDLE_RSS=$(rss_kib)

wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency \
    -H "Authorization: Bearer $TOKEN" "$URL" | tee "$WORK/wrk.txt" >&2
LOADED_RSS=$(rss_kib)

RPS=$(awk '/^Requests\/sec:/ {print $2}' "$WORK/wrk.txt")
P99=$(awk '$1 == "99%" {print $2}' "$WORK/wrk.txt")
ERRORS=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$WORK/wrk.txt")

mib() { awk -v kib="$1" 'BEGIN {printf "%.1f MiB", kib / 1024}'; }
CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
echo
echo "user_service GET /api/v1/users/{id}, warm memory cache, SQLite; wrk -t$THREADS -c$CONNECTIONS -d$DURATION; log level $LOG_LEVEL; $(nproc) cores ($CPU)"
echo
echo "| endpoint | req/s | p99 latency | idle RSS | RSS after load | non-2xx |"
echo "|---|---|---|---|---|---|"
echo "| GET /api/v1/users/{id} | $RPS | $P99 | $(mib "$IDLE_RSS") | $(mib "$LOADED_RSS") | ${ERRORS:-0} |"
