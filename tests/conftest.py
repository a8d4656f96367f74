"""Shared fixtures: the real test files in ../shared/data (skipped with a reason where absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SAGA_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def real_data() -> Path:
    """Folder of real splat / camera files (``../shared/data/real``); skips the test where absent."""
    folder = SHARED_DATA / "real"
    if not folder.is_dir():
        pytest.skip(f"real test files not found at {folder} (a user's clone has no ../shared)")
    return folder


def cuda_available() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


def pytest_collection_modifyitems(config, items):
    if cuda_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs CUDA (no GPU on this machine)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


@pytest.fixture(scope="session")
def splat_transform():
    """The reference converter @playcanvas/splat-transform and its .spz library (``tests/reference_converter.py``);
    skips the test, saying why, where node or the package is absent."""
    from tests.reference_converter import ReferenceConverter, missing_reason

    reason = missing_reason()
    if reason:
        pytest.skip(reason)
    return ReferenceConverter()


@pytest.fixture
def small_filesystem(tmp_path):
    """A real 1 MiB file system (tmpfs) the test can fill up; skips where mounting is not allowed."""
    import shutil
    import subprocess

    mount_point = tmp_path / "small_fs"
    mount_point.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no 'mount' command here: cannot make a small file system to fill")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)], capture_output=True,
                          text=True, timeout=30)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root or CAP_SYS_ADMIN): {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True, timeout=30)


@pytest.fixture
def readonly_folder(tmp_path):
    """A folder nobody can write in, root included (a read-only mount as root, mode 0555 otherwise)."""
    import subprocess

    folder = tmp_path / "read_only"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(folder)], capture_output=True,
                          text=True, timeout=30)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot make a read-only folder as root here (mount failed: {done.stderr.strip()})")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, timeout=30)
