"""Work folders change all at once or not at all: a cancelled, failed, busy or killed prepare leaves the previous
checkpoint, cameras and records byte for byte; a damaged checkpoint reads as "not prepared" with the reason."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from engine.api.prepare import plan_prepare, run_prepare
from engine.api.prepare_spec import PrepareSpec
from engine.api.scene_files import read_scene
from engine.api.trained_scene import open_trained
from engine.api.work_folder import STAGING_PREFIX, WorkFolder, WorkFolderBusyError
from engine.masks.weights_free import WeightsFreeMaskSource
from engine.synthetic.scene_generator import generate_table_scene, save_scene
from engine.training.checkpoint import CheckpointDamagedError
from engine.training.trainer import TrainingCancelled

REPO = Path(__file__).resolve().parents[3]
QUICK = PrepareSpec(views="auto:3", size=48, iterations=20, pixels=64, device="cpu", keep_records=True)


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    ply, _ = save_scene(generate_table_scene(6000, seed=0), tmp_path_factory.mktemp("scene"))
    return read_scene(ply)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file of the work folder but the mask cache, the lock and staging folders, by relative path."""
    out = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if p.is_file() and not rel.startswith(("masks/", ".lock", STAGING_PREFIX)):
            out[rel] = p.read_bytes()
    return out


@pytest.fixture
def prepared(scene, tmp_path):
    """A work folder prepared once (with records kept), and its files."""
    work = tmp_path / "work"
    run_prepare(plan_prepare(scene, str(work), QUICK))
    before = snapshot(work)
    assert {"saga_features.npz", "cameras.json"} <= set(before) and any(k.startswith("records/") for k in before)
    return work, before


def test_cancel_leaves_checkpoint_cameras_and_records_unchanged(scene, prepared):
    work, before = prepared
    cancel = threading.Event()

    def progress(p):
        if p.stage == "training" and p.step >= 10:
            cancel.set()

    # other views (auto:4, another size): if any of it leaked, the files would differ
    spec = PrepareSpec(views="auto:4", size=40, iterations=100_000, pixels=64, device="cpu", keep_records=True)
    with pytest.raises(TrainingCancelled):
        run_prepare(plan_prepare(scene, str(work), spec), progress=progress, cancel=cancel)
    assert snapshot(work) == before
    assert not [p for p in os.listdir(work) if p.startswith(STAGING_PREFIX)]


def test_a_failing_mask_source_leaves_everything(scene, prepared):
    work, before = prepared

    class Failing(WeightsFreeMaskSource):
        calls = 0

        def masks_for_view(self, view):
            Failing.calls += 1
            if Failing.calls == 2:
                raise RuntimeError("the mask model crashed")
            return super().masks_for_view(view)

    spec = PrepareSpec(views="auto:3", size=44, iterations=20, pixels=64, device="cpu")
    with pytest.raises(RuntimeError, match="crashed"):
        run_prepare(plan_prepare(scene, str(work), spec, mask_source=Failing()))
    assert snapshot(work) == before


def test_a_second_prepare_in_the_same_folder_is_refused(scene, prepared):
    work, _before = prepared
    started, release = threading.Event(), threading.Event()

    def progress(p):
        started.set()
        release.wait(30)

    plan = plan_prepare(scene, str(work), QUICK)
    t = threading.Thread(target=lambda: run_prepare(plan, progress=progress), daemon=True)
    t.start()
    assert started.wait(60)
    with pytest.raises(WorkFolderBusyError, match="another prepare is running"):
        run_prepare(plan_prepare(scene, str(work), QUICK))
    release.set()
    t.join(120)
    assert not t.is_alive()


def test_a_killed_prepare_changes_nothing_and_the_next_one_cleans_up(scene, prepared):
    work, before = prepared
    code = (
        f"import sys; sys.path.insert(0, {str(REPO)!r})\n"
        "from engine.api.prepare import plan_prepare, run_prepare\n"
        "from engine.api.prepare_spec import PrepareSpec\n"
        "from engine.api.scene_files import read_scene\n"
        "spec = PrepareSpec(views='auto:4', size=40, iterations=100000, pixels=64, device='cpu')\n"
        "def progress(p):\n"
        "    if p.stage == 'training': print('training', flush=True)\n"
        f"run_prepare(plan_prepare(read_scene({scene.path!r}), {str(work)!r}, spec), progress=progress)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        line = ""
        while "training" not in line and time.monotonic() < deadline:
            line = proc.stdout.readline()
        assert "training" in line
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert snapshot(work) == before  # the kill left only its staging folder, which is not part of the training
    assert [p for p in os.listdir(work) if p.startswith(STAGING_PREFIX)]
    run_prepare(plan_prepare(scene, str(work), QUICK))  # takes the lock, removes the dead staging folder
    assert not [p for p in os.listdir(work) if p.startswith(STAGING_PREFIX)]


def test_damaged_checkpoint_reads_as_not_prepared(scene, prepared):
    work, _ = prepared
    folder = WorkFolder(work)
    assert folder.state(scene.content_hash).prepared
    raw = (work / "saga_features.npz").read_bytes()
    (work / "saga_features.npz").write_bytes(raw[: len(raw) // 3])
    state = folder.state(scene.content_hash)
    assert not state.prepared and state.problem.startswith("checkpoint damaged:") and "prepare" in state.problem
    with pytest.raises(CheckpointDamagedError, match="prepare the scene again"):
        open_trained(str(work))
    assert not WorkFolder(work).state("another scene's hash").prepared


def test_cameras_file_is_rewritten_from_the_checkpoint(scene, prepared):
    """A crash between the checkpoint's rename and cameras.json's leaves a stale cameras.json: opening mends it."""
    work, before = prepared
    (work / "cameras.json").write_text('{"format": "saga-cameras", "version": 1, "cameras": []}')
    trained = open_trained(str(work))
    assert (work / "cameras.json").read_bytes() == before["cameras.json"]
    assert len(trained.cameras) == 3


def test_records_are_removed_unless_kept(scene, tmp_path):
    work = tmp_path / "w"
    run_prepare(plan_prepare(scene, str(work), QUICK))
    assert (work / "records").is_dir()
    spec = PrepareSpec(views="auto:3", size=48, iterations=20, pixels=64, device="cpu")
    run_prepare(plan_prepare(scene, str(work), spec))
    assert not (work / "records").exists()  # the old ones went too: they belonged to another training


def test_disk_full_names_the_file_and_keeps_the_previous_training(scene, prepared, small_filesystem):
    """A prepare on a 1 MiB file system: one error naming the file, the previous files intact, no temporaries."""
    from saga_blender.core.errors import DiskFullError

    _work, before = prepared
    target = small_filesystem / "work"
    target.mkdir()
    for rel in ("saga_features.npz", "cameras.json"):
        (target / rel).write_bytes(before[rel])
    kept = snapshot(target)
    spec = PrepareSpec(views="auto:3", size=64, iterations=20, pixels=64, device="cpu")
    with pytest.raises(DiskFullError, match=r"cannot write: the disk is full") as info:
        run_prepare(plan_prepare(scene, str(target), spec))
    assert str(target) in str(info.value)
    assert snapshot(target) == kept
    leftovers = [p.name for p in target.rglob("*") if p.name.endswith(".saga-tmp") or p.name.startswith(".prepare-")]
    assert leftovers == []
    assert np.isfinite(open_trained(str(target)).checkpoint.features).all()
