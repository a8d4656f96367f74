#!/usr/bin/env bash
# Create (or refresh) a virtual environment with Blender as a Python module, for the extension's tests:
#   bash scripts/setup_blender_env.sh 4.2   -> .venv-bpy42      bash scripts/setup_blender_env.sh 5.0 -> .venv-bpy50
# Python 3.11 (bpy's wheels need exactly that); re-running is cheap when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
SERIES=${1:?usage: setup_blender_env.sh 4.2|5.0}
case "$SERIES" in
  4.2) PIN="bpy==4.2.*" ;;
  5.0) PIN="bpy==5.0.*" ;;
  *) echo "unsupported Blender series $SERIES (4.2 or 5.0)" >&2; exit 2 ;;
esac
VENV=.venv-bpy${SERIES/./}
source scripts/python311_venv.sh
make_venv "$VENV"
stamp="$VENV/.saga-installed"
want=$(printf '%s\n' "$PIN" "$(cat constraints-blender.txt)" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "installing $PIN into $VENV (first time: ~1 min, ~400 MB)" >&2
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -c constraints-blender.txt "$PIN" pytest plyfile
  echo "$want" > "$stamp"
fi
