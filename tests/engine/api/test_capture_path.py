"""Training from a capture, end to end through the CLI as a process: COLMAP (binary and text) and transforms.json with
photos larger than the training size, then clicks taken in the photos' own pixels select the right object."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.capture_maker import make_capture, object_iou

REPO = Path(__file__).resolve().parents[3]


def engine(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "engine", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr
    return done


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    return make_capture(tmp_path_factory.mktemp("capture"), gaussians=20_000, views=10, width=400, height=300)


def train(capture, workdir, *source: str, masks: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    done = engine("train", capture["scene"], "--workdir", str(workdir), *source, "--size", "128", "--iterations",
                  "600", "--pixels", "256", "--device", "cpu", *masks)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done


def click(capture, workdir, tmp_path, name: str, scale: float) -> float:
    """segment --view I --point X,Y at the object's deepest pixel in its photo (photo pixels); the IoU it gets."""
    with open(os.path.join(workdir, "cameras.json")) as fh:
        views = [os.path.basename(c["name"]) for c in json.load(fh)["cameras"]]
    c = capture["clicks"][name]
    out = tmp_path / f"{name}.npy"
    done = engine("segment", str(workdir), "--view", str(views.index(c["photo"])), "--point", f"{c['x']},{c['y']}",
                  "--scale", str(scale), "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert str(out) in done.stdout  # it says where it wrote, exactly there
    labels = np.load(capture["labels"])
    return object_iou(np.load(out), labels["object_id"], list(labels["object_names"]).index(name))


def test_colmap_binary_with_masks_at_the_photos_size(capture, tmp_path):
    work = tmp_path / "work"
    done = train(capture, work, "--colmap", capture["colmap"], "--images", capture["images"],
                 masks=("--masks", "dir", "--masks-dir", capture["masks_dir"]))  # fmt: skip
    assert "10 photos of the capture (COLMAP, 400x300, trained at 128x96)" in done.stdout
    with open(work / "cameras.json") as fh:
        cams = json.load(fh)
    assert (cams["width"], cams["height"], cams["training_size"]) == (400, 300, [128, 96])  # the photos' own size
    assert not (work / "records").exists()  # removed after training unless asked to keep them
    assert sorted(p.name for p in work.iterdir() if not p.name.startswith(".")) == ["cameras.json", "masks",
                                                                                    "saga_features.npz"]  # fmt: skip
    for name in ("lamp", "bowl", "mug"):
        assert click(capture, work, tmp_path, name, 0.5) > 0.6, name


def test_colmap_text_with_the_weights_free_masks(capture, tmp_path):
    work = tmp_path / "work"
    done = train(capture, work, "--colmap", capture["colmap_text"], "--images", capture["images"], "--keep-records")
    assert "masks: weights-free" in done.stdout
    assert len(list((work / "records").iterdir())) == 10  # kept when asked
    for name in ("lamp", "bowl"):
        assert click(capture, work, tmp_path, name, 0.3) > 0.5, name


def test_close_ups_rendered_from_the_splat_join_the_photos(capture, tmp_path):
    work = tmp_path / "work"
    done = train(capture, work, "--colmap", capture["colmap"], "--images", capture["images"], "--close-ups", "3")
    assert "10 photos of the capture (COLMAP, 400x300, trained at 128x96) and 3 close-ups rendered" in done.stdout
    with open(work / "cameras.json") as fh:
        cams = json.load(fh)
    names = [c["name"] for c in cams["cameras"]]
    assert len(names) == 13 and names[10:] == ["closeup_0000", "closeup_0001", "closeup_0002"]
    assert (cams["width"], cams["height"], cams["training_size"]) == (400, 300, [128, 96])
    for name in ("lamp", "bowl"):  # the photos' clicks still hold
        assert click(capture, work, tmp_path, name, 0.5) > 0.5, name
    out = tmp_path / "closeup.npy"  # a close-up is a view like the photos: clicked in photo pixels
    done = engine("segment", str(work), "--view", "11", "--point", "200,150", "--scale", "0.5", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert len(np.load(out)) > 0
    done = engine("train", capture["scene"], "--workdir", str(tmp_path / "w2"), "--colmap", capture["colmap"],
                  "--images", capture["images"], "--masks", "dir", "--masks-dir", capture["masks_dir"],
                  "--close-ups", "2")  # fmt: skip
    assert done.returncode == 2 and "--close-ups renders new views" in done.stderr


def test_transforms_json_in_its_own_frame_order(capture, tmp_path):
    work = tmp_path / "work"
    train(capture, work, "--transforms", capture["transforms"], "--images", capture["root"],
          masks=("--masks", "dir", "--masks-dir", capture["masks_dir"]))  # fmt: skip
    with open(work / "cameras.json") as fh:
        names = [c["name"] for c in json.load(fh)["cameras"]]
    assert names[0] == "images/photo_009.png"  # the file's order (reversed), so --view I follows the file
    for name in ("lamp", "bowl"):
        assert click(capture, work, tmp_path, name, 0.5) > 0.6, name


def test_a_capture_that_does_not_fit_is_refused_before_training(capture, tmp_path):
    from PIL import Image

    bad = tmp_path / "images"
    bad.mkdir()
    for name in capture["photos"]:
        Image.new("RGB", (200, 150)).save(bad / name)
    done = engine("train", capture["scene"], "--workdir", str(tmp_path / "w"), "--colmap", capture["colmap"],
                  "--images", str(bad))  # fmt: skip
    assert done.returncode == 2 and "photo_000.png: image is 200x150 but its camera is 400x300" in done.stderr
    done = engine("train", capture["scene"], "--workdir", str(tmp_path / "w"), "--colmap", capture["colmap"])
    assert done.returncode == 2 and "--images" in done.stderr
    assert not (tmp_path / "w" / "saga_features.npz").exists()
