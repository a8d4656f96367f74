#!/usr/bin/env bash
# The whole test suite (set-up included): lint, the engine and core tests, then the extension's tests in real
# Blender 4.2 and 5.0 (bpy as a Python module; SAGA_SKIP_BLENDER=1 skips those). Extra arguments go to the
# first pytest run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
.venv/bin/ruff check .
.venv/bin/python -m pytest -q "$@"
if [ "${SAGA_SKIP_BLENDER:-0}" != "1" ]; then
  for series in 4.2 5.0; do
    bash scripts/setup_blender_env.sh "$series"
    echo "== extension tests in Blender $series ==" >&2
    ".venv-bpy${series/./}/bin/python" -m pytest -q -p no:cacheprovider tests/saga_blender/blender
  done
fi
