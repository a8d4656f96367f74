"""prepare_scene (the training library's pipeline) end to end on a small synthetic scene, with masks given as user label
PNGs; and the train command on it."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
from PIL import Image

from engine.cameras.auto_views import auto_views
from engine.cli import main
from engine.masks.source import MaskSourceError
from engine.masks.user_masks import UserMaskSource
from engine.masks.weights_free import WeightsFreeMaskSource
from engine.synthetic.label_maps import render_label_maps
from engine.synthetic.scene_generator import generate_table_scene, save_scene
from engine.training.checkpoint import CHECKPOINT_NAME, load_checkpoint
from engine.training.pipeline import prepare_scene
from engine.training.trainer import TrainingCancelled, TrainSettings
from engine.views.view_sources import rendered_views

SIZE = 48


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A small scene, 3 views, and a folder of user masks (part and object label PNGs as two levels)."""
    root = tmp_path_factory.mktemp("scene")
    scene = generate_table_scene(8000, seed=0)
    cams = auto_views(scene.splat, 3, width=SIZE, height=SIZE, layout="object", up=scene.up)
    masks_dir = root / "masks"
    masks_dir.mkdir()
    for name, (obj, part) in zip(cams.names, render_label_maps(scene, cams), strict=True):
        Image.fromarray((part + 1).astype(np.uint8)).save(masks_dir / f"{name}.0.png")
        Image.fromarray((obj + 1).astype(np.uint8)).save(masks_dir / f"{name}.1.png")
    return scene, cams, masks_dir, root


def run(scene, cams, masks_dir, workdir, progress=None, cancel=None, iterations=30):
    settings = TrainSettings(iterations=iterations, num_pixels=120, knn=8)
    return prepare_scene(scene.splat, lambda: rendered_views(scene.splat, cams), len(cams),
                         UserMaskSource(masks_dir), str(workdir), settings, mask_cache_dir=str(workdir / "masks"),
                         progress=progress, cancel=cancel)  # fmt: skip


def test_prepare_writes_a_checkpoint_and_reports_progress(small, tmp_path):
    scene, cams, masks_dir, _ = small
    seen = []
    result = run(scene, cams, masks_dir, tmp_path, progress=seen.append)
    ckpt = load_checkpoint(result.checkpoint_path, scene.splat.content_hash())
    assert ckpt.features.shape == (len(scene.splat), 32)
    assert ckpt.metadata["num_views"] == 3 and ckpt.metadata["mask_source"] == "user-masks"
    assert ckpt.metadata["settings"]["iterations"] == 30 and "torch" in ckpt.metadata["versions"]
    # visibility: what the views see carries weight, the floor under the table mostly does not
    assert ckpt.visibility.shape == (len(scene.splat),) and 0 < (ckpt.visibility > 0.05).mean() < 1
    stages = [p.stage for p in seen]
    assert stages[0] == "views and masks" and stages[-1] == "saving" and "training" in stages
    percents = [p.percent for p in seen]
    assert percents == sorted(percents) and percents[-1] == pytest.approx(100.0)
    assert all(p.eta_s is None or p.eta_s >= 0 for p in seen)
    assert result.num_masks > 3


def test_cancel_keeps_the_previous_checkpoint_and_masks_are_cached(small, tmp_path):
    scene, cams, masks_dir, _ = small
    run(scene, cams, masks_dir, tmp_path)
    before = (tmp_path / CHECKPOINT_NAME).read_bytes()
    cancel = threading.Event()

    def progress(p):
        if p.stage == "training" and p.step >= 20:
            cancel.set()

    with pytest.raises(TrainingCancelled):
        run(scene, cams, masks_dir, tmp_path, progress=progress, cancel=cancel, iterations=10_000)
    assert (tmp_path / CHECKPOINT_NAME).read_bytes() == before
    assert len(list((tmp_path / "masks").glob("*.npz"))) == 3  # one cached mask file per view, reused


def test_masks_of_the_wrong_size_are_refused(small, tmp_path):
    scene, cams, _, _ = small
    bad = tmp_path / "bad_masks"
    bad.mkdir()
    for name in cams.names:
        Image.fromarray(np.ones((SIZE + 2, SIZE), np.uint8)).save(bad / f"{name}.png")
    with pytest.raises(MaskSourceError, match="50"):
        run(scene, cams, bad, tmp_path / "w")


def test_train_command_end_to_end_and_its_errors(small, tmp_path, capsys):
    scene, _, _, root = small
    ply, _ = save_scene(scene, root / "cli", name="scene")
    code = main(["train", str(ply), "--workdir", str(tmp_path / "w"), "--views", "auto:2", "--size", "40",
                 "--iterations", "15", "--pixels", "80", "--device", "cpu"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0 and "done in" in out and "peak memory" in out and CHECKPOINT_NAME in out
    assert load_checkpoint(str(tmp_path / "w" / CHECKPOINT_NAME), scene.splat.content_hash())
    code = main(["train", str(ply), "--workdir", str(tmp_path / "c"), "--views", "auto:2", "--close-ups", "2",
                 "--size", "40", "--iterations", "15", "--pixels", "80", "--device", "cpu"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0 and "4 views rendered from the splat (2 automatic, 2 close-ups) (40x40)" in out, out
    with open(tmp_path / "c" / "cameras.json") as fh:
        names = [c["name"] for c in json.load(fh)["cameras"]]
    assert len(names) == 4 and names[2:] == ["closeup_0000", "closeup_0001"]
    code = main(["train", str(ply), "--workdir", str(tmp_path / "x"), "--masks", "sam"])
    assert code == 2 and "--sam-checkpoint" in capsys.readouterr().err
    code = main(["train", str(ply), "--workdir", str(tmp_path / "x"), "--colmap", str(tmp_path)])
    assert code == 2 and "--images" in capsys.readouterr().err


def test_empty_scene_is_refused(tmp_path):
    scene = generate_table_scene(2000, seed=0)
    empty = scene.splat.subset(np.zeros(len(scene.splat), bool))
    with pytest.raises(ValueError, match="no Gaussians"):
        prepare_scene(empty, lambda: iter(()), 0, WeightsFreeMaskSource(), str(tmp_path), TrainSettings(),
                      mask_cache_dir=str(tmp_path / "masks"))  # fmt: skip
