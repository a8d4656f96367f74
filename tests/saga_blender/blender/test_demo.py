"""The README's main job (scripts/blender_demo.py) runs end to end, small: a real engine, real bpy."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .conftest import REPO

pytest.importorskip("bpy")


def test_blender_demo_end_to_end(tmp_path):
    if not (REPO / ".venv" / "bin" / "python").exists():
        pytest.skip("the engine's environment .venv is missing (bash scripts/setup_env.sh)")
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "blender_demo.py"), "--out", str(tmp_path),
                           "--gaussians", "20000", "--iterations", "150", "--views", "8"],
                          capture_output=True, text=True, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads((tmp_path / "blender_demo.json").read_text())
    assert summary["selected"] > 0
    assert (tmp_path / "blender_before_after.png").stat().st_size > 1000
    from saga_blender.core.splat_io import read_splat

    assert len(read_splat(tmp_path / "scene_edited.ply").splat) == 20000 - summary["selected"]
