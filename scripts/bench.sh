#!/usr/bin/env bash
# Runs every criterion bench against the raw drivers, a pipelined
# redis-benchmark for comparison, wrk against the user service's cached read,
# and regenerates docs/BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/opt/core-sdk/target}"

bash scripts/services.sh start
cargo bench --all-features -- --warm-up-time 1 --measurement-time "${MEASUREMENT_SECONDS:-5}"

extra="$CARGO_TARGET_DIR/redis-benchmark-P16.txt"
if command -v redis-benchmark >/dev/null; then
  {
    echo "$ redis-benchmark -h 127.0.0.1 -p 6379 -q -P 16 -n 200000 -t set,get,mset"
    redis-benchmark -h 127.0.0.1 -p 6379 -q -P 16 -n 200000 -t set,get,mset 2>&1 | tr '\r' '\n' | grep -v '^$' | grep 'requests per second'
  } >"$extra"
fi
# The example service under HTTP load (issue: req/s, p99, idle RSS).
load="$CARGO_TARGET_DIR/user-service-load.md"
{
  echo "## example service under load"
  bash scripts/load-users.sh
} >"$load"
python3 scripts/bench-report.py "$CARGO_TARGET_DIR/criterion" "$extra" "$load"
