#!/usr/bin/env bash
# The main job on the built-in demo scene, end to end. Output in demo_out/ (or the folder given).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
exec .venv/bin/saga-engine demo --out "${1:-demo_out}"
