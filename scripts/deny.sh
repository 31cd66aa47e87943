#!/usr/bin/env bash
# The dependency policy: licenses, bans and sources of every crate in the
# tree, checked by cargo-deny against deny.toml.
#
#   scripts/deny.sh                 cargo deny check licenses bans sources
#   scripts/deny.sh advisories      any other cargo-deny checks, as given
#
# cargo-deny is installed once, outside the clone, into
# CORE_TOOLS_DIR (default /opt/core-sdk/tools); building it takes several
# minutes on 2 cores. The advisory database (RustSec, fetched from GitHub)
# cannot be reached from this machine, so the default checks leave
# advisories out; where GitHub is reachable run `scripts/deny.sh advisories`.
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS_DIR="${CORE_TOOLS_DIR:-/opt/core-sdk/tools}"
CARGO_DENY_VERSION="0.20.2"
CARGO_DENY="$TOOLS_DIR/bin/cargo-deny"

log() { printf '[deny] %s\n' "$*" >&2; }
die() { printf '[deny] ERROR: %s\n' "$*" >&2; exit 1; }

if [ ! -x "$CARGO_DENY" ]; then
  log "installing cargo-deny $CARGO_DENY_VERSION into $TOOLS_DIR (one time; several minutes)"
  mkdir -p "$TOOLS_DIR"
  cargo install --locked --root "$TOOLS_DIR" "cargo-deny@$CARGO_DENY_VERSION" \
    || die "could not install cargo-deny (cargo install --locked cargo-deny@$CARGO_DENY_VERSION)"
fi

checks=("$@")
[ ${#checks[@]} -eq 0 ] && checks=(licenses bans sources)

# --all-features: the optional drivers are part of what users ship. The
# inclusion graphs (which crate pulls in which) are long; to see one, run
# "$CARGO_DENY" --all-features check bans.
exec "$CARGO_DENY" --all-features check --hide-inclusion-graph "${checks[@]}"
