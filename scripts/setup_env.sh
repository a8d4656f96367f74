#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment in .venv: Python 3.11, the engine's packages
# (CPU torch; pinned in constraints.txt), the test tools. Re-running is cheap when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${SAGA_VENV:-.venv}

find_python() {
  for cand in python3.11 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      command -v "$cand"; return 0
    fi
  done
  return 1
}

PY=$(find_python || true)
if [ -z "$PY" ]; then
  echo "Python 3.11 not found; installing it with apt-get" >&2
  apt-get update -qq && apt-get install -y -qq python3.11 python3.11-venv >/dev/null
  PY=$(find_python)
fi
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV" || { apt-get update -qq && apt-get install -y -qq python3.11-venv >/dev/null && "$PY" -m venv "$VENV"; }
fi

stamp="$VENV/.saga-installed"
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "installing the engine environment into $VENV (first time: a few minutes, ~5 GB for torch)" >&2
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -c constraints.txt -e ".[engine,sam,dev]"
  echo "$want" > "$stamp"
fi
