#!/usr/bin/env bash
# Instructions the user service runs per cached, token-checked
# GET /api/v1/users/{id}, counted by callgrind: a figure that, unlike
# req/s or CPU time on a shared 2-core machine, does not move between runs,
# so a change to the request path can be judged by itself.
#
#   scripts/instructions-per-request.sh [LAYERS...]
#   BACKEND=servers scripts/instructions-per-request.sh   # PostgreSQL + Redis
#
# LAYERS: true (the standard layers of core-web) and/or false (without
# them), and/or axum (the same service hand-written without the SDK,
# benches/peers/axum-users, the floor); default "true false axum". For each, the service starts under
# `valgrind --tool=callgrind` on SQLite + the in-process cache (BACKEND=embedded,
# the default) or on PostgreSQL + Redis (BACKEND=servers, as started by
# scripts/services.sh; DATABASE_SERVER_URL, REDIS_URL), gets a
# registration, a login and 3 s of warm-up, then is counted for 10 s of
# `wrk -t1 -c4` load. Prints one line per case; with KEEP=1 the callgrind
# files stay in the work directory for callgrind_annotate.
#
# Needs valgrind and wrk (Debian packages; installed when missing).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
WORK=${WORK:-$TARGET/instructions-per-request}
PORT=${PORT:-18091}
BACKEND=${BACKEND:-embedded}
DATABASE_SERVER_URL=${DATABASE_SERVER_URL:-postgres://postgres@127.0.0.1:5432}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
CASES=("$@"); [ ${#CASES[@]} -eq 0 ] && CASES=(true false axum)

for tool in valgrind wrk; do
    if ! command -v "$tool" >/dev/null; then
        echo "installing $tool from the Debian packages" >&2
        SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool" >/dev/null
    fi
done
# The same build as scripts/peers.sh: the features the service runs on.
(cd "$ROOT" && cargo build --release --quiet --no-default-features \
    --features "$(bash scripts/user-service-features.sh)" --example user_service)

json_field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }

[[ " ${CASES[*]} " == *" axum "* ]] && (cd "$ROOT" && cargo build --release --quiet -p peer-axum-users)

SECRET=instructions-per-request-secret-0123456789
for layers in "${CASES[@]}"; do
    rm -rf "$WORK/$layers"; mkdir -p "$WORK/$layers"
    dir=$WORK/$layers
    counted=(valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$dir/callgrind.out")
    case $BACKEND in
        embedded) database="sqlite://$dir/users.db?mode=rwc" cache=memory:// ;;
        servers)
            name=instructions_per_request_$layers
            psql -q "$DATABASE_SERVER_URL/test" -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" \
                -c "CREATE DATABASE $name" >/dev/null
            database=$DATABASE_SERVER_URL/$name cache=$REDIS_URL ;;
        *) echo "BACKEND is embedded or servers, not $BACKEND" >&2; exit 2 ;;
    esac
    if [ "$layers" = axum ]; then
        env BIND_ADDR=127.0.0.1:$PORT DATABASE_URL="$database" \
            CACHE_URL="$cache" JWT_SECRET=$SECRET \
            "${counted[@]}" "$TARGET/release/peer-axum-users" >"$dir/service.log" 2>&1 &
    else
        (cd "$ROOT" && exec env APP_ENV=local BIND_ADDR=127.0.0.1:$PORT APP__LOG__LEVEL=warn \
            APP__SERVER__STANDARD_LAYERS="$layers" APP__DATABASE__URL="$database" \
            APP__CACHE__URL="$cache" APP__AUTH__JWT__SECRET=$SECRET \
            "${counted[@]}" "$TARGET/release/examples/user_service") >"$dir/service.log" 2>&1 &
    fi
    pid=$!
    trap 'kill "$pid" 2>/dev/null || true' EXIT
    address=http://127.0.0.1:$PORT
    for _ in $(seq 600); do curl -sf -o /dev/null "$address/health" && break; sleep 0.1; done
    user=$(curl -sf -X POST "$address/api/v1/auth/register" -H 'content-type: application/json' \
        -d '{"username":"counted","email":"counted@example.com","password":"tally of instructions 1"}' | json_field id) ||
        { echo "registration failed:" >&2; cat "$dir/service.log" >&2; exit 1; }
    token=$(curl -sf -X POST "$address/api/v1/auth/login" -H 'content-type: application/json' \
        -d '{"username":"counted","password":"tally of instructions 1"}' | json_field access_token)
    url=$address/api/v1/users/$user
    wrk -t1 -c4 -d3s -H "Authorization: Bearer $token" "$url" >/dev/null
    callgrind_control -i on "$pid" >/dev/null
    wrk -t1 -c4 -d10s -H "Authorization: Bearer $token" "$url" >"$dir/wrk.txt"
    callgrind_control -d "$pid" >/dev/null
    kill "$pid"; wait "$pid" 2>/dev/null || true
    requests=$(awk '/requests in/ {print $1}' "$dir/wrk.txt")
    instructions=$(callgrind_annotate "$dir/callgrind.out.1" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
    case $layers in
        axum) echo "$BACKEND: hand-written axum (benches/peers/axum-users) requests=$requests instructions/request=$((instructions / requests))" ;;
        *) echo "$BACKEND: standard_layers=$layers requests=$requests instructions/request=$((instructions / requests))" ;;
    esac
    [ "${KEEP:-0}" = 1 ] || rm -rf "$dir"
done
