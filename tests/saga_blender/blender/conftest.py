"""Tests in real Blender (bpy as a Python module): build the extension zip, install it headless into a temporary
user folder, enable it. Run them with a bpy environment, e.g.

    bash scripts/setup_blender_env.sh 4.2 && .venv-bpy42/bin/python -m pytest -m blender tests/saga_blender/blender
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
ENGINE_PYTHON = REPO / ".venv" / "bin" / "python"  # the engine's own environment (bash scripts/setup_env.sh)
# Blender reads its user folder when bpy is imported: point it at a throw-away folder first
os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="saga-blender-user-"))
bpy = pytest.importorskip("bpy", reason="needs Blender as a Python module (bash scripts/setup_blender_env.sh 4.2)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        item.add_marker(pytest.mark.blender)


@pytest.fixture(scope="session")
def extension(tmp_path_factory):
    """The built zip, installed and enabled; returns its add-on module name."""
    sys.path.insert(0, str(REPO / "scripts"))
    from build_extension import build

    zip_path = build(str(tmp_path_factory.mktemp("dist")))
    result = bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default", enable_on_install=True)
    assert result == {"FINISHED"}
    module = "bl_ext.user_default.saga_blender"
    assert module in bpy.context.preferences.addons
    return module


@pytest.fixture(scope="module")
def engine(extension, tmp_path_factory):
    """The add-on's session connected to a local engine started from the engine's environment (one per module)."""
    import importlib

    if not ENGINE_PYTHON.exists():
        pytest.skip(f"the engine's environment {ENGINE_PYTHON} is missing (bash scripts/setup_env.sh)")
    process = importlib.import_module(extension + ".engine_process")
    session = importlib.import_module(extension + ".engine_session").SESSION
    local = process.LocalEngine(str(ENGINE_PYTHON), str(tmp_path_factory.mktemp("engine-data")))
    session.local, session.client = local, local.start()
    yield session
    session.stop()


@pytest.fixture
def clean_scene(extension):
    """An empty scene (no objects, meshes, node groups or materials left from other tests)."""
    for collection in (bpy.data.objects, bpy.data.meshes, bpy.data.node_groups, bpy.data.materials):
        for item in list(collection):
            collection.remove(item)
    return bpy.context.scene


@pytest.fixture(scope="session")
def sample_ply(tmp_path_factory):
    """A generated SH-degree-3 splat with normals and an extra int property (no ../shared needed)."""
    import numpy as np

    from saga_blender.core.gaussians import GaussianSplat
    from saga_blender.core.splat_io import write_splat

    rng = np.random.default_rng(0)
    n, f = 9080, np.float32
    splat = GaussianSplat(
        means=rng.normal(size=(n, 3)).astype(f), quats=rng.normal(size=(n, 4)).astype(f),
        log_scales=rng.normal(-3, 0.3, size=(n, 3)).astype(f), opacity_logits=rng.normal(2, 1, size=n).astype(f),
        sh_dc=rng.normal(size=(n, 3)).astype(f), sh_rest=rng.normal(0, 0.1, size=(n, 15, 3)).astype(f),
        normals=rng.normal(size=(n, 3)).astype(f), extras={"segment_id": rng.integers(0, 9, n).astype(np.int32)},
    )  # fmt: skip
    path = tmp_path_factory.mktemp("sample") / "sample_sh3.ply"
    write_splat(path, splat)
    return path
