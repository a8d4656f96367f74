"""A real engine process on loopback (``python -m engine serve``) and a small synthetic scene for it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from saga_blender.engine_client import EngineClient

REPO = Path(__file__).resolve().parents[3]


class Engine:
    def __init__(self, data_dir: Path, *extra: str):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "engine", "serve", "--data-dir", str(data_dir), *extra],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.ready_line = self.proc.stdout.readline()
        if not self.ready_line:
            raise RuntimeError(f"engine did not start: {self.proc.stderr.read()}")
        self.client = EngineClient.from_ready_line(self.ready_line)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    """Two small scenes on disk: {"a": path, "b": path}."""
    from engine.synthetic.scene_generator import generate_table_scene
    from saga_blender.core.splat_io import write_splat

    root = tmp_path_factory.mktemp("scenes")
    out = {}
    for name, seed in (("a", 0), ("b", 1)):
        out[name] = root / f"{name}.ply"
        write_splat(out[name], generate_table_scene(8000, seed=seed).splat)
    return out


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    e = Engine(tmp_path_factory.mktemp("engine-data"))
    yield e
    e.stop()


QUICK = {"views": "auto:6", "size": 64, "iterations": 40, "pixels": 64, "device": "cpu"}
