#!/usr/bin/env bash
# Coverage-guided fuzzing of the parsers that read hand-written or hostile
# input (fuzz/): each target runs FUZZ_SECONDS (default 600) under libFuzzer
# through cargo-fuzz, starting from and adding to fuzz/corpus/<target>.
#
#   scripts/fuzz.sh                       # every target, 10 minutes each
#   FUZZ_SECONDS=60 scripts/fuzz.sh jwt_verify
#
# The machine has one stable toolchain. cargo-fuzz asks rustc for two
# unstable things even without a sanitizer (`-Z` flags for the coverage
# instrumentation), so the build runs with RUSTC_BOOTSTRAP=1 and `-s none`:
# the same stable compiler, the instrumentation libFuzzer needs, no
# AddressSanitizer (safe Rust; a panic is what is looked for). cargo-fuzz is
# installed into CORE_TOOLS_DIR on first use.
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS_DIR="${CORE_TOOLS_DIR:-/opt/core-sdk/tools}"
SECONDS_EACH="${FUZZ_SECONDS:-600}"
CARGO_FUZZ_VERSION=0.13.2
export PATH="$TOOLS_DIR/bin:$PATH"

if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
  cargo install "cargo-fuzz@$CARGO_FUZZ_VERSION" --locked --root "$TOOLS_DIR"
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(config_loader enc_value jwt_verify json_extractor)
fi
export RUSTC_BOOTSTRAP=1
for target in "${targets[@]}"; do
  echo "=== $target: ${SECONDS_EACH} s"
  mkdir -p "fuzz/corpus/$target"
  cargo fuzz run --fuzz-dir fuzz -s none "$target" "fuzz/corpus/$target" -- \
    -max_total_time="$SECONDS_EACH" -rss_limit_mb=4096 -print_final_stats=1
done
