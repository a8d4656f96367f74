#!/usr/bin/env bash
# The main job on the built-in demo scene, end to end and headless in Blender (bpy 5.0): import the splat,
# prepare it with the weights-free masks, click the lamp with the click tool, delete it, export the edited
# splat and render before/after. Output in demo_out/ (or the folder given).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
bash scripts/setup_blender_env.sh 5.0
exec .venv-bpy50/bin/python scripts/blender_demo.py --out "${1:-demo_out}"
