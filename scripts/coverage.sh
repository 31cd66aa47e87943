#!/usr/bin/env bash
# Line coverage of the whole workspace with every server up, by
# cargo-tarpaulin (its ptrace engine: llvm-tools cannot be installed here).
#
#   scripts/coverage.sh            # all crates, every feature, every test
#
# Installs cargo-tarpaulin into CORE_TOOLS_DIR once, builds into a target
# directory of its own (instrumented objects must not mix with CI's), and
# prints the figure per crate as a Markdown table (also written to
# $COVERAGE_DIR/coverage.md) for docs/COVERAGE.md.
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS_DIR="${CORE_TOOLS_DIR:-/opt/core-sdk/tools}"
COVERAGE_DIR="${COVERAGE_DIR:-/opt/core-sdk/coverage}"
TARPAULIN_VERSION="${TARPAULIN_VERSION:-}"  # empty: the newest release
export PATH="$TOOLS_DIR/bin:$PATH"

if ! command -v cargo-tarpaulin >/dev/null; then
  echo "installing cargo-tarpaulin into $TOOLS_DIR (one time)" >&2
  cargo install cargo-tarpaulin ${TARPAULIN_VERSION:+--version "$TARPAULIN_VERSION"} --locked --root "$TOOLS_DIR"
fi

bash scripts/services.sh start
mkdir -p "$COVERAGE_DIR"
# Restart tests stop shared servers: one test binary at a time, as cargo does.
# The root package is left out: its library only re-exports the crates, and
# its tests drive example binaries that tarpaulin does not build.
cargo tarpaulin --workspace --exclude core-sdk --all-features --skip-clean \
  --target-dir "$COVERAGE_DIR/target" --out Json --output-dir "$COVERAGE_DIR" \
  --timeout 600 --exclude-files 'examples/*' --exclude-files 'tests/*' \
  --exclude-files '*/tests/*' --exclude-files '*/benches/*' --exclude-files 'core-testkit/*' \
  -- --test-threads 2

python3 - "$COVERAGE_DIR/tarpaulin-report.json" "$COVERAGE_DIR/coverage.md" <<'PY'
import json, sys
from collections import defaultdict
report = json.load(open(sys.argv[1]))
covered, coverable = defaultdict(int), defaultdict(int)
for f in report["files"]:
    parts = f["path"]
    crate = next((p for p in parts if p.startswith("core-")), "core-sdk")
    covered[crate] += f["covered"]
    coverable[crate] += f["coverable"]
rows = ["| crate | lines covered | coverable lines | coverage |", "|---|---|---|---|"]
for crate in sorted(coverable):
    rows.append(f"| {crate} | {covered[crate]:,} | {coverable[crate]:,} | {100 * covered[crate] / coverable[crate]:.1f}% |")
total_c, total = sum(covered.values()), sum(coverable.values())
rows.append(f"| **workspace** | {total_c:,} | {total:,} | **{100 * total_c / total:.1f}%** |")
text = "\n".join(rows) + "\n"
open(sys.argv[2], "w").write(text)
print(text)
PY
