"""Build the installable Blender extension: dist/saga_blender-<version>.zip.

    python scripts/build_extension.py [--blender-ext PATH] [--out-dir dist]

Stages the add-on (``saga_blender/`` without caches), ``blender_manifest.toml`` and ``wheels/`` into
``build/extension/`` and runs Blender's own extension tool (``blender_ext.py``, shipped inside Blender and
inside the ``bpy`` wheel) to validate and build it. The tool is found in ``--blender-ext``, the environment
variable ``BLENDER_EXT_CLI``, or a ``bpy`` installed in ``.venv-bpy*/`` (``scripts/setup_blender_env.sh``).
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def find_blender_ext(explicit: str | None = None) -> str:
    candidates = [explicit, os.environ.get("BLENDER_EXT_CLI")]
    pattern = os.path.join(ROOT, ".venv-bpy*", "lib", "python3.*", "site-packages", "bpy", "*", "scripts",
                           "addons_core", "bl_pkg", "cli", "blender_ext.py")  # fmt: skip
    candidates += sorted(glob.glob(pattern))
    for path in candidates:
        if path and os.path.isfile(path):
            return path
    raise SystemExit(
        "blender_ext.py not found: install bpy with 'bash scripts/setup_blender_env.sh 4.2', or pass --blender-ext "
        "PATH (it lives in <blender>/<version>/scripts/addons_core/bl_pkg/cli/ of any Blender >= 4.2)"
    )


def stage(target: str) -> None:
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(os.path.join(ROOT, "saga_blender"), target,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))  # fmt: skip
    shutil.copy2(os.path.join(ROOT, "blender_manifest.toml"), target)
    shutil.copytree(os.path.join(ROOT, "wheels"), os.path.join(target, "wheels"))


def build(out_dir: str, blender_ext: str | None = None) -> str:
    """Stage, validate and build; returns the path of the zip."""
    tool = find_blender_ext(blender_ext)
    staging = os.path.join(ROOT, "build", "extension")
    stage(staging)
    os.makedirs(out_dir, exist_ok=True)
    for args in ([tool, "validate", staging], [tool, "build", "--source-dir", staging, "--output-dir", out_dir]):
        done = subprocess.run([sys.executable, *args], capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"blender_ext {args[1]} failed:\n{done.stdout}{done.stderr}")
    zips = sorted(glob.glob(os.path.join(out_dir, "saga_blender-*.zip")), key=os.path.getmtime)
    if not zips:
        raise SystemExit(f"blender_ext build wrote no zip into {out_dir}")
    return zips[-1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blender-ext", help="path to Blender's blender_ext.py")
    ap.add_argument("--out-dir", default=os.path.join(ROOT, "dist"))
    args = ap.parse_args()
    print(build(os.path.abspath(args.out_dir), args.blender_ext))


if __name__ == "__main__":
    main()
