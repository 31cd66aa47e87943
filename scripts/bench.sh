#!/usr/bin/env bash
# Runs every criterion bench against the raw drivers, redis-benchmark at the
# same client count and pipelining depth as the Redis benches, wrk against
# the user service's cached read, and regenerates docs/BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/opt/core-sdk/target}"

bash scripts/services.sh start
cargo bench --all-features -- --warm-up-time 1 --measurement-time "${MEASUREMENT_SECONDS:-5}" |
  tee "$CARGO_TARGET_DIR/bench-output.txt"
# The MongoDB rows timed in one loop that alternates raw and SDK calls (the
# test server slows down as it runs; criterion times one variant after the
# other).
interleaved="$CARGO_TARGET_DIR/db-mongodb-interleaved.txt"
grep '^interleaved db/' "$CARGO_TARGET_DIR/bench-output.txt" >"$interleaved" || true
# The message queues' saturation and end-to-end loads, the variants taking
# turns in one loop, with the publishing thread's CPU time per message.
mq_interleaved="$CARGO_TARGET_DIR/mq-saturation-interleaved.txt"
grep '^interleaved mq/' "$CARGO_TARGET_DIR/bench-output.txt" >"$mq_interleaved" || true

# redis-benchmark doing what cache/redis and cache/redis-batch-100 time, with
# the same client count (1) and pipelining depth: one GET or SET at a time;
# one MGET of the same 100 keys; 100 SETs of the same 58-byte value pipelined
# (without the MULTI/EXEC that set_many and its raw twin wrap them in).
extra="$CARGO_TARGET_DIR/redis-benchmark-like-for-like.txt"
if command -v redis-benchmark >/dev/null; then
  batch_keys=()
  for i in $(seq 0 99); do batch_keys+=("bench:batch:$i"); done
  bench_redis() {
    echo "\$ redis-benchmark -h 127.0.0.1 -p 6379 -q $*" | sed -E 's/bench:batch:0 .* bench:batch:99/bench:batch:0 ... bench:batch:99/'
    redis-benchmark -h 127.0.0.1 -p 6379 -q "$@" 2>&1 | tr '\r' '\n' | grep 'requests per second' |
      sed -E 's/^MGET bench:batch:0 .* bench:batch:99:/MGET (100 keys):/'
  }
  {
    bench_redis -c 1 -P 1 -d 58 -n 50000 -t get,set
    bench_redis -c 1 -P 1 -n 20000 MGET "${batch_keys[@]}"
    bench_redis -c 1 -P 100 -d 58 -n 200000 -t set
  } >"$extra"
fi
# The example service under HTTP load (issue: req/s, p99, idle RSS).
load="$CARGO_TARGET_DIR/user-service-load.md"
{
  echo "## example service under load"
  bash scripts/load-users.sh
} >"$load"
python3 scripts/bench-report.py "$CARGO_TARGET_DIR/criterion" "$interleaved" "$mq_interleaved" "$extra" "$load"
