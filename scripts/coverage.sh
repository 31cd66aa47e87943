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
# --no-fail-fast: a test that fails under ptrace's slowdown still leaves the
# figure of everything else; the script then exits non-zero after the table.
tarpaulin_status=0
# core-config's command (src/bin) is left out: its tests run the binary, and
# ptrace follows only the test process (--follow-exec, which would follow
# it, crashed tarpaulin 0.37.5 here and left orphaned tests stopping servers).
rm -f "$COVERAGE_DIR/tarpaulin-report.json"
cargo tarpaulin --workspace --exclude core-sdk --all-features --skip-clean --no-fail-fast \
  --target-dir "$COVERAGE_DIR/target" --out Json --output-dir "$COVERAGE_DIR" \
  --timeout 600 --exclude-files 'examples/*' --exclude-files 'tests/*' \
  --exclude-files 'core-config/src/bin/*' \
  --exclude-files '*/tests/*' --exclude-files '*/benches/*' --exclude-files 'core-testkit/*' \
  -- --test-threads 2 || tarpaulin_status=$?

python3 - "$COVERAGE_DIR/tarpaulin-report.json" "$COVERAGE_DIR/coverage.md" <<'PY'
import json, sys
from collections import defaultdict
from pathlib import Path
report = json.load(open(sys.argv[1]))
root = Path.cwd()
covered, coverable = defaultdict(int), defaultdict(int)
for f in report["files"]:
    relative = Path(*f["path"]).relative_to(root)
    crate = relative.parts[0] if len(relative.parts) > 1 else "core-sdk"
    covered[crate] += f["covered"]
    coverable[crate] += f["coverable"]
rows = ["| crate | lines covered | coverable lines | coverage |", "|---|---|---|---|"]
# The root package's src/lib.rs only re-exports: nothing in it is coverable.
for crate in sorted(c for c in coverable if coverable[c]):
    rows.append(f"| {crate} | {covered[crate]:,} | {coverable[crate]:,} | {100 * covered[crate] / coverable[crate]:.1f}% |")
total_c, total = sum(covered.values()), sum(coverable.values())
rows.append(f"| **workspace** | {total_c:,} | {total:,} | **{100 * total_c / total:.1f}%** |")
text = "\n".join(rows) + "\n"
open(sys.argv[2], "w").write(text)
print(text)
PY
if [ "$tarpaulin_status" -ne 0 ]; then
  echo "coverage: some tests failed under tarpaulin (exit $tarpaulin_status); the figure above counts what ran" >&2
  exit "$tarpaulin_status"
fi
