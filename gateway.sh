#!/usr/bin/env bash
# One entry point for a fresh machine: creates .venv, installs the locked dependencies and the
# portal build, then runs the gateway or the test suite.
#   ./gateway.sh serve [options]   run the gateway (embedded default: SQLite, in-process jobs, sandbox)
#   ./gateway.sh test [pytest args] run the whole test suite
#   ./gateway.sh <any gateway command>  e.g. ./gateway.sh clients create Acme
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=.venv

install_python() {
  local stamp="$VENV/.installed"
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
  fi
  if [ ! -f "$stamp" ] || [ requirements.lock -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --require-hashes -r requirements.lock
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
    touch "$stamp"
  fi
}

build_portal() {
  if ! command -v npm >/dev/null 2>&1; then
    echo "gateway.sh: npm (Node.js 20+) is needed to build the portal and GraphiQL assets" >&2
    exit 1
  fi
  local stamp=portal/dist/.built
  # The pages are generated from the contracts, the example operations, the data-handling document
  # and the code's error codes and limits too, so a change there rebuilds them.
  if [ ! -f "$stamp" ] || [ -n "$(find portal graphql contracts docs app -path portal/node_modules -prune -o -path portal/dist -prune -o -name __pycache__ -prune -o -newer "$stamp" -type f -print -quit)" ]; then
    (cd portal && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build)
    touch "$stamp"
  fi
}

install_python
build_portal

case "${1:-serve}" in
  test)
    shift
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
  *)
    exec "$VENV/bin/gateway" "$@"
    ;;
esac
