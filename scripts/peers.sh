#!/usr/bin/env bash
# The user service side by side with its peers: the seeds' FastAPI stack
# (benches/peers/fastapi) and the same service hand-written on axum without
# the SDK (benches/peers/axum-users). Each serves register, login and the
# cached, token-checked GET /api/v1/users/{id}; wrk loads that read.
#
#   scripts/peers.sh                          # 3 rounds of 20 s, both backend sets
#   ROUNDS=1 DURATION=5s scripts/peers.sh     # a smoke run
#
# Backend sets: "embedded" (SQLite + in-process cache) and "servers"
# (PostgreSQL + Redis, as started by scripts/services.sh). Within a round the
# services take turns in a rotating order, so a machine that slows down over
# the run does not favour one of them. Per case: start-up time (spawn to the
# first 200 from /health), req/s, p50, p99, server CPU per request (user +
# system time of the whole process tree over the load, divided by the
# requests wrk counted), wrk's own CPU per request (it shares the cores), RSS idle (IDLE_WAIT seconds after a registration,
# a login and 100 warm reads) and after the load (the process tree's sum).
#
# The table (medians over the rounds, with ratios) goes to stdout and, with
# WRITE_DOCS=1 (the default), between the peers markers of
# docs/BENCHMARKS.md.
#
# Installs what it needs: wrk (Debian), a Python venv with the pinned
# FastAPI stack (benches/peers/fastapi/requirements.txt) under the target
# directory, and release builds of both Rust services.
#
# Environment: ROUNDS (3), DURATION (20s), THREADS (2), CONNECTIONS (32),
# BACKENDS ("embedded servers"), SERVICES ("sdk sdk-bare axum fastapi";
# sdk-bare is the SDK's service without its standard layers),
# FASTAPI_WORKERS (2), IDLE_WAIT (12), WRITE_DOCS (1), SCRAPE (0; 1 reads
# /metrics every second during the load, as a Prometheus server would),
# SDK_ENV (local: the SDK's service on its developer settings, CORS for any
# origin included; prod: its production settings, which allow no CORS
# origin, as neither peer has CORS), DATABASE_SERVER_URL
# (postgres://postgres@127.0.0.1:5432), REDIS_URL (redis://127.0.0.1:6379),
# CARGO_TARGET_DIR.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-20s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}
BACKENDS=${BACKENDS:-embedded servers}
SERVICES=${SERVICES:-sdk sdk-bare axum fastapi}
FASTAPI_WORKERS=${FASTAPI_WORKERS:-2}
# Past the SDK's 10 s release of idle argon2 buffers.
IDLE_WAIT=${IDLE_WAIT:-12}
WRITE_DOCS=${WRITE_DOCS:-1}
SCRAPE=${SCRAPE:-0}
SDK_ENV=${SDK_ENV:-local}
DATABASE_SERVER_URL=${DATABASE_SERVER_URL:-postgres://postgres@127.0.0.1:5432}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
VENV=$TARGET/peers-venv
PORT=18090
SECRET="peers-benchmark-jwt-secret-0123456789abcdef"

SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
if ! command -v wrk >/dev/null; then
    echo "installing wrk from the Debian packages" >&2
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi

REQUIREMENTS=$ROOT/benches/peers/fastapi/requirements.txt
if ! cmp -s "$REQUIREMENTS" "$VENV/requirements.txt" 2>/dev/null; then
    echo "installing the FastAPI stack into $VENV" >&2
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
    cp "$REQUIREMENTS" "$VENV/requirements.txt"
fi

echo "building the Rust services (release)" >&2
# The user service with the features it runs on here, as a team deploys it
# (not --all-features: Kafka, MongoDB, NATS... would only make the binary,
# and the code pages it maps, larger); the axum peer likewise.
(cd "$ROOT" && cargo build --release --quiet --no-default-features \
    --features "$(bash scripts/user-service-features.sh)" --example user_service)
(cd "$ROOT" && cargo build --release --quiet -p peer-axum-users)

WORK=$(mktemp -d)
SERVICE_PID=
stop_service() {
    if [ -n "$SERVICE_PID" ] && kill -0 "$SERVICE_PID" 2>/dev/null; then
        kill -TERM "$SERVICE_PID"
        wait "$SERVICE_PID" 2>/dev/null || true
    fi
    SERVICE_PID=
}
cleanup() {
    stop_service
    rm -rf "$WORK"
}
trap cleanup EXIT

# The process and every descendant (uvicorn's workers).
tree_pids() {
    local pid=$1 child
    echo "$pid"
    for child in $(pgrep -P "$pid" || true); do
        tree_pids "$child"
    done
}
# Sums, over the process tree, what `program` (awk) prints from each
# process's /proc/<pid>/<file>.
tree_sum() {
    local file=$1 program=$2 total=0 pid value
    for pid in $(tree_pids "$SERVICE_PID"); do
        value=$(awk "$program" "/proc/$pid/$file" 2>/dev/null || echo 0)
        total=$((total + ${value:-0}))
    done
    echo "$total"
}
tree_rss_kib() { tree_sum status '/^VmRSS:/ {print $2}'; }
# User + system clock ticks (fields 14 and 15; the command name in field 2
# has no spaces for these processes).
tree_cpu_ticks() { tree_sum stat '{print $14 + $15}'; }

fresh_database() {
    psql -q "$DATABASE_SERVER_URL/test" -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1" >/dev/null
}

start_service() {
    local service=$1 backend=$2 db cache
    case $backend in
        embedded) cache=memory:// ;;
        servers) cache=$REDIS_URL ;;
        *) echo "unknown backend set $backend" >&2; exit 2 ;;
    esac
    case $service in
        sdk | sdk-bare)
            # sdk-bare: the same service without core-web's standard layers,
            # to measure what they cost.
            local layers=true; [ "$service" = sdk-bare ] && layers=false
            if [ "$backend" = servers ]; then fresh_database peers_sdk; db=$DATABASE_SERVER_URL/peers_sdk
            else db="sqlite://$WORK/sdk.db?mode=rwc"; fi
            (cd "$ROOT" && exec env APP_ENV="$SDK_ENV" BIND_ADDR=127.0.0.1:$PORT APP__LOG__LEVEL=warn \
                APP__SERVER__STANDARD_LAYERS=$layers \
                APP__DATABASE__URL="$db" APP__CACHE__URL="$cache" APP__AUTH__JWT__SECRET="$SECRET" \
                "$TARGET/release/examples/user_service") >"$WORK/service.log" 2>&1 &
            ;;
        axum)
            if [ "$backend" = servers ]; then fresh_database peers_axum; db=$DATABASE_SERVER_URL/peers_axum
            else db="sqlite://$WORK/axum.db?mode=rwc"; fi
            env BIND_ADDR=127.0.0.1:$PORT DATABASE_URL="$db" CACHE_URL="$cache" JWT_SECRET="$SECRET" \
                "$TARGET/release/peer-axum-users" >"$WORK/service.log" 2>&1 &
            ;;
        fastapi)
            if [ "$backend" = servers ]; then
                fresh_database peers_fastapi
                db=postgresql+asyncpg://${DATABASE_SERVER_URL#postgres://}/peers_fastapi
            else db="sqlite+aiosqlite:///$WORK/fastapi.db"; fi
            (cd "$ROOT/benches/peers/fastapi" && exec env DATABASE_URL="$db" CACHE_URL="$cache" JWT_SECRET="$SECRET" \
                "$VENV/bin/uvicorn" app:app --host 127.0.0.1 --port $PORT --workers "$FASTAPI_WORKERS" \
                --loop uvloop --http httptools --no-access-log --log-level warning) >"$WORK/service.log" 2>&1 &
            ;;
        *) echo "unknown service $service" >&2; exit 2 ;;
    esac
    SERVICE_PID=$!
}

# Milliseconds from spawn to the first 200 from /health.
wait_healthy() {
    local started=$1 _
    for _ in $(seq 3000); do
        if curl -sf -o /dev/null "http://127.0.0.1:$PORT/health"; then
            echo $((($(date +%s%N) - started) / 1000000))
            return
        fi
        kill -0 "$SERVICE_PID" 2>/dev/null || break
        sleep 0.01
    done
    echo "the service did not become healthy:" >&2
    cat "$WORK/service.log" >&2
    exit 1
}

json_field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }

# One case: prints a tab-separated result line.
run_case() {
    local service=$1 backend=$2 started startup address user_id token url idle cpu_before cpu_after loaded
    rm -f "$WORK"/*.db "$WORK"/*.db-*  # each case starts on an empty database
    if curl -s -o /dev/null "http://127.0.0.1:$PORT/"; then
        echo "port $PORT is taken by another process; stop it first" >&2
        exit 1
    fi
    started=$(date +%s%N)
    start_service "$service" "$backend"
    startup=$(wait_healthy "$started")
    address=http://127.0.0.1:$PORT
    local password="peer benchmark passphrase $RANDOM"
    user_id=$(curl -sf -X POST "$address/api/v1/auth/register" -H 'content-type: application/json' \
        -d "{\"username\":\"loadtest\",\"email\":\"loadtest@example.com\",\"password\":\"$password\"}" | json_field id)
    token=$(curl -sf -X POST "$address/api/v1/auth/login" -H 'content-type: application/json' \
        -d "{\"username\":\"loadtest\",\"password\":\"$password\"}" | json_field access_token)
    if [ -z "$user_id" ] || [ -z "$token" ]; then
        echo "$service on $backend: registration or login failed" >&2
        cat "$WORK/service.log" >&2
        exit 1
    fi
    url=$address/api/v1/users/$user_id
    for _ in $(seq 100); do
        curl -sf -o /dev/null -H "Authorization: Bearer $token" "$url"
    done
    sleep "$IDLE_WAIT"
    idle=$(tree_rss_kib)
    cpu_before=$(tree_cpu_ticks)
    local scraper=
    if [ "$SCRAPE" = 1 ]; then
        # Only the SDK's service has /metrics; for the peers this costs a
        # refused request a second.
        while sleep 1; do curl -s -o /dev/null "$address/metrics" || true; done &
        scraper=$!
    fi
    # In a subshell whose `times` then reports wrk's own CPU time: wrk runs
    # on the same 2 cores, so what it takes per request is what the service
    # cannot have.
    (
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency \
            -H "Authorization: Bearer $token" "$url" >"$WORK/wrk.txt"
        times >"$WORK/wrk-times.txt"
    )
    if [ -n "$scraper" ]; then kill "$scraper"; wait "$scraper" 2>/dev/null || true; fi
    cpu_after=$(tree_cpu_ticks)
    loaded=$(tree_rss_kib)
    stop_service
    python3 - "$WORK/wrk.txt" "$service" "$backend" "$startup" "$idle" "$loaded" \
        "$((cpu_after - cpu_before))" "$(getconf CLK_TCK)" "$WORK/wrk-times.txt" <<'PY'
import re, sys
wrk, service, backend, startup, idle, loaded, ticks, hz, wrk_times = sys.argv[1:]
text = open(wrk).read()
# The subshell's `times`: its own user and system time, then its children's (wrk's).
children = open(wrk_times).read().splitlines()[1]
wrk_seconds = sum(float(m) * 60 + float(s) for m, s in re.findall(r"(\d+)m([\d.]+)s", children))
def ms(value):
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", text, re.M))
requests = int(re.search(r"(\d+) requests in", text).group(1))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
errors = int(bad.group(1)) if bad else 0
cpu_us = int(ticks) / int(hz) / requests * 1e6
wrk_cpu_us = wrk_seconds / requests * 1e6
print("\t".join(map(str, [service, backend, rps, ms(latency["50"]), ms(latency["99"]), round(cpu_us, 1),
                          int(idle), int(loaded), startup, errors, round(wrk_cpu_us, 1)])))
PY
}

RESULTS=$WORK/results.tsv
: >"$RESULTS"
read -r -a services <<<"$SERVICES"
for round in $(seq "$ROUNDS"); do
    for backend in $BACKENDS; do
        # Rotate who goes first each round.
        count=${#services[@]}
        for i in $(seq 0 $((count - 1))); do
            service=${services[$(((i + round - 1) % count))]}
            echo "round $round/$ROUNDS: $service on $backend" >&2
            # Not in a pipeline: the case's service must be this shell's
            # child, so that the exit trap stops it whatever happens.
            run_case "$service" "$backend" >"$WORK/case.tsv"
            cat "$WORK/case.tsv" >&2
            cat "$WORK/case.tsv" >>"$RESULTS"
        done
    done
done

CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
HEADER="wrk -t$THREADS -c$CONNECTIONS -d$DURATION on GET /api/v1/users/{id} (warm cache, valid token), $ROUNDS rounds, medians; idle RSS ${IDLE_WAIT} s after a registration and a login; FastAPI with $FASTAPI_WORKERS uvicorn workers (uvloop, httptools); $(nproc) cores ($CPU), shared by wrk and the service$([ "$SCRAPE" = 1 ] && echo "; /metrics read every second during the load" || true); \`scripts/peers.sh\`, $(date -u +%Y-%m-%d)"
python3 "$ROOT/scripts/peers-report.py" "$RESULTS" "$HEADER" >"$WORK/table.md"
cat "$WORK/table.md"
if [ "$WRITE_DOCS" = 1 ]; then
    python3 - "$ROOT/docs/BENCHMARKS.md" "$WORK/table.md" <<'PY'
import sys
path, table = sys.argv[1], open(sys.argv[2]).read().strip()
doc = open(path).read()
begin, end = "<!-- peers:begin -->", "<!-- peers:end -->"
if begin in doc:
    head, rest = doc.split(begin, 1)
    doc = head + begin + "\n" + table + "\n" + end + rest.split(end, 1)[1]
else:
    doc = (doc.rstrip() + "\n\n## the user service beside its peers\n\n"
           "Written by `scripts/peers.sh` (kept by `scripts/bench-report.py`).\n\n"
           + begin + "\n" + table + "\n" + end + "\n")
open(path, "w").write(doc)
PY
    echo "table written to docs/BENCHMARKS.md" >&2
fi
