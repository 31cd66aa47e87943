#!/usr/bin/env bash
# Proves every crate compiles with no optional feature, and with each of its
# features alone: features are additive and no crate needs one backend.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo metadata --no-deps --format-version 1 | python3 -c '
import json, sys
for package in json.load(sys.stdin)["packages"]:
    # Libraries only: a binary (the benchmark peers) has no features to combine.
    if not any("lib" in target["kind"] for target in package["targets"]):
        continue
    features = sorted(name for name in package["features"] if name != "default")
    print(package["name"], *features)
' | while read -r crate features; do
  echo "check $crate --no-default-features"
  cargo check --quiet -p "$crate" --no-default-features --lib
  for feature in $features; do
    echo "check $crate --no-default-features --features $feature"
    cargo check --quiet -p "$crate" --no-default-features --features "$feature" --lib
  done
done

# A PostgreSQL-only service does not build SQLite (bundled libsqlite3).
echo "tree core-sdk --no-default-features --features db,postgres,outbox,web leaves SQLite out"
if cargo tree -q -p core-sdk --no-default-features --features db,postgres,outbox,web -e normal \
  | grep -E 'libsqlite3-sys|sqlx-sqlite'; then
  echo "SQLite is built for a service that did not ask for it" >&2
  exit 1
fi
