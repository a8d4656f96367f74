# Sourced by the setup scripts: make_venv DIR creates a Python 3.11 virtual environment at DIR (if missing),
# installing Python 3.11 or its venv module with apt-get only when they are absent.

find_python() {
  for cand in python3.11 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      command -v "$cand"; return 0
    fi
  done
  return 1
}

make_venv() {
  local venv=$1 py
  py=$(find_python || true)
  if [ -z "$py" ]; then
    echo "Python 3.11 not found; installing it with apt-get" >&2
    apt-get update -qq && apt-get install -y -qq python3.11 python3.11-venv >/dev/null
    py=$(find_python)
  fi
  if [ ! -x "$venv/bin/python" ]; then
    "$py" -m venv "$venv" || { apt-get update -qq && apt-get install -y -qq python3.11-venv >/dev/null && "$py" -m venv "$venv"; }
  fi
}
