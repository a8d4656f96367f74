#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment in .venv: Python 3.11, the engine's packages
# (CPU torch; pinned in constraints.txt), the test tools. Re-running is cheap when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${SAGA_VENV:-.venv}

source scripts/python311_venv.sh
make_venv "$VENV"

stamp="$VENV/.saga-installed"
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "installing the engine environment into $VENV (first time: a few minutes, ~5 GB for torch)" >&2
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -c constraints.txt -e ".[engine,sam,dev]"
  echo "$want" > "$stamp"
fi
bash scripts/setup_node_tools.sh  # the reference converter for the format tests, when npm is here
