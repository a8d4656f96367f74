#!/usr/bin/env bash
# Install the reference splat converter @playcanvas/splat-transform (pinned) into .node/, for the tests that check
# our formats against files another program wrote and read. Needs node and npm; without them (or without the npm
# registry) it says so and installs nothing, and those tests skip with that reason. Re-running is cheap.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=3.7.0
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "node/npm not found: splat-transform is not installed (its format tests will skip)" >&2
  exit 0
fi
stamp=.node/.saga-installed
if [ "$(cat "$stamp" 2>/dev/null)" != "$VERSION" ]; then
  echo "installing @playcanvas/splat-transform@$VERSION into .node/ (the reference converter for the format tests)" >&2
  mkdir -p .node
  if npm install --prefix .node --save-exact --no-audit --no-fund --ignore-scripts \
      "@playcanvas/splat-transform@$VERSION" >&2; then
    echo "$VERSION" > "$stamp"
  else
    echo "npm install failed: the splat-transform format tests will skip" >&2
  fi
fi
