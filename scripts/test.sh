#!/usr/bin/env bash
# The whole test suite, every backend on its real server: starts (and on a
# new machine installs) the servers scripts/services.sh manages, then runs
# cargo test. Extra arguments go to cargo test (`scripts/test.sh -p core-cache`).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/services.sh start
# Every backend test must reach its server: one that cannot fails instead
# of passing as skipped (CORE_REQUIRE_SERVICES=0 to allow skips).
export CORE_REQUIRE_SERVICES="${CORE_REQUIRE_SERVICES:-1}"
exec cargo test --workspace --all-features "$@"
