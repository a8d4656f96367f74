"""The command line as a user meets it, run as a process: bad numbers, bad files and folders, odd scenes. Each ends
in one line on stderr with exit status 2 (or, for info, a report), writes nothing, and never shows a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.synthetic.scene_generator import generate_table_scene, save_scene
from saga_blender.core.splat_io import write_splat

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "engine", *map(str, args)], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr
    return done


def refused(done: subprocess.CompletedProcess, *words: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    ply, _ = save_scene(generate_table_scene(4000, seed=0), tmp_path_factory.mktemp("scene"))
    return ply


QUICK = ("--views", "auto:3", "--size", "40", "--iterations", "20", "--pixels", "64", "--device", "cpu")


@pytest.mark.parametrize(
    "args, words",
    [
        (["--iterations", "-5"], ["--iterations", "must be from 1"]),
        (["--iterations", "0"], ["--iterations", "must be from 1"]),
        (["--pixels", "0"], ["--pixels", "must be from 16"]),
        (["--size", "abc"], ["--size", "whole number"]),
        (["--views", "auto:0"], ["--views", "auto:N needs N from 1"]),
        (["--masks", "sam"], ["--sam-checkpoint"]),
        (["--masks", "sam", "--sam-checkpoint", "/nonexistent/sam.pth"], ["sam.pth", "not found"]),
        (["--colmap", "/nonexistent/sparse"], ["--images"]),
        (["--views", "auto:4", "--transforms", "t.json", "--images", "."], ["not both"]),
    ],
)  # fmt: skip
def test_train_refuses_bad_options_and_writes_nothing(scene, tmp_path, args, words):
    refused(cli("train", scene, "--workdir", tmp_path / "w", *args), *words)
    assert not (tmp_path / "w" / "saga_features.npz").exists()


def test_render_refuses_a_zero_width(scene, tmp_path):
    refused(cli("render", scene, "--views", "auto:2", "--width", "0", "--out", tmp_path / "r"), "--width", "from 1")
    assert not (tmp_path / "r").exists()


def test_workdir_that_is_a_file_or_not_writable(scene, tmp_path, readonly_folder):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    refused(cli("train", scene, "--workdir", a_file, *QUICK), "a_file", "is a file, not a work folder")
    refused(cli("train", scene, "--workdir", readonly_folder / "w", *QUICK), "read_only", "cannot write")


def test_serve_refuses_a_bad_port_and_an_unwritable_data_folder(readonly_folder):
    refused(cli("serve", "--port", "99999"), "--port", "from 0 to 65535")
    refused(cli("serve", "--data-dir", readonly_folder / "data"), "read_only", "cannot write")


def _write(path, splat):
    write_splat(path, splat)
    return path


def test_info_never_refuses_an_empty_or_non_finite_file(tmp_path):
    base = generate_table_scene(1000, seed=1).splat
    empty = _write(tmp_path / "empty.ply", base.subset(np.zeros(len(base), bool)))
    all_nan = base.subset(np.arange(10))
    all_nan.means[:] = np.nan
    inf_scales = base.subset(np.arange(10))
    inf_scales.log_scales[:, 0] = -np.inf
    for path in (empty, _write(tmp_path / "nan.ply", all_nan), _write(tmp_path / "inf.ply", inf_scales)):
        done = cli("info", path)
        assert done.returncode == 0 and "(no finite Gaussians)" in done.stdout, (path, done.stdout, done.stderr)
        data = json.loads(cli("info", path, "--json").stdout)
        assert data["bounds_min"] is None and data["file"] == str(path)


def test_a_header_that_declares_fewer_vertices_than_the_body_holds(tmp_path):
    path = _write(tmp_path / "s.ply", generate_table_scene(1000, seed=1).splat)
    raw = path.read_bytes()
    path.write_bytes(raw.replace(b"element vertex 1000\n", b"element vertex 990\n", 1))
    refused(cli("info", path), "s.ply", "header declares 990 vertex", "10 more 'vertex' rows")


@pytest.mark.parametrize("log_scale, words", [(80.0, "scale above e^20"), (-100.0, "scale below e^-40")])
def test_degenerate_scales_are_refused_with_the_reason(tmp_path, log_scale, words):
    splat = generate_table_scene(2000, seed=1).splat
    splat.log_scales[:] = log_scale
    path = _write(tmp_path / "odd.ply", splat)
    assert cli("info", path).returncode == 0
    refused(cli("train", path, "--workdir", tmp_path / "w", *QUICK), "odd.ply", "cannot prepare this scene", words)


def test_a_scene_trained_with_sanitize_opens_for_segment_and_cluster(tmp_path):
    splat = generate_table_scene(4000, seed=2).splat
    splat.means[:7, 0] = np.nan
    path = _write(tmp_path / "nan.ply", splat)
    refused(cli("train", path, "--workdir", tmp_path / "w", *QUICK), "NaN", "--sanitize")
    done = cli("train", path, "--workdir", tmp_path / "w", *QUICK, "--sanitize")
    assert done.returncode == 0 and "dropped 7 Gaussians" in done.stderr, done.stderr
    cams = json.loads((tmp_path / "w" / "cameras.json").read_text())
    x, y = cams["width"] // 2, cams["height"] // 2
    done = cli("segment", tmp_path / "w", "--view", "0", "--point", f"{x},{y}", "--scale", "0.9", "--out",
               tmp_path / "ids")  # fmt: skip
    assert done.returncode == 0 and "of 3993 Gaussians" in done.stdout, (done.stdout, done.stderr)
    assert (tmp_path / "ids").exists() and not (tmp_path / "ids.npy").exists()  # exactly the name given
    assert str(tmp_path / "ids") in done.stdout
    done = cli("cluster", tmp_path / "w", "--scale", "0.5", "--out", tmp_path / "labels.npy")
    assert done.returncode == 0 and np.load(tmp_path / "labels.npy").shape == (3993,)
    # a damaged checkpoint is reported as such, with what to do
    ckpt = tmp_path / "w" / "saga_features.npz"
    ckpt.write_bytes(ckpt.read_bytes()[:1000])
    refused(cli("segment", tmp_path / "w", "--view", "0", "--point", f"{x},{y}", "--scale", "0.5", "--out",
                tmp_path / "x.npy"), "checkpoint damaged", "prepare the scene again")  # fmt: skip
    refused(cli("cluster", tmp_path / "w", "--scale", "0.5", "--out", tmp_path / "l.npy"), "checkpoint damaged")


def test_demo_uses_its_train_views(tmp_path):
    done = cli("demo", "--out", tmp_path / "demo", "--gaussians", "4000", "--train-views", "4", "--iterations", "30",
               "--size", "64", "--views", "2")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "4 automatic views" in done.stdout
    assert len(json.loads((tmp_path / "demo" / "work" / "cameras.json").read_text())["cameras"]) == 4
    assert (tmp_path / "demo" / "scene_without_lamp.ply").exists()


def test_train_with_geometric_masks_and_hidden_gaussians_off_then_segment(scene, tmp_path):
    """``--masks geometric`` (masks from the splat's 3D segmentation) and ``--no-fill-hidden`` through the CLI: the
    checkpoint records both, progress names the stages, and a click selects."""
    from engine.training.checkpoint import load_checkpoint

    done = cli("train", scene, "--workdir", tmp_path / "g", *QUICK, "--masks", "geometric")
    assert done.returncode == 0, done.stderr
    assert "hidden Gaussians" in done.stdout, done.stdout  # the fill stage reports (on by default)
    assert "left out of the smoothing" in done.stdout, done.stdout  # smoothing within the 3D segments
    meta = load_checkpoint(str(tmp_path / "g" / "saga_features.npz")).metadata
    assert meta["mask_source"] == "geometric" and meta["settings"]["fill_hidden"] is True
    assert meta["mask_settings"]["splat"] and meta["mask_settings"]["cameras"]
    assert meta["settings"]["identity"] == "nested"  # the default identity rule
    done = cli("train", scene, "--workdir", tmp_path / "n", *QUICK, "--masks", "geometric", "--no-fill-hidden",
               "--identity", "saga")  # fmt: skip
    assert done.returncode == 0 and "hidden Gaussians" not in done.stdout, done.stdout
    settings = load_checkpoint(str(tmp_path / "n" / "saga_features.npz")).metadata["settings"]
    assert settings["fill_hidden"] is False and settings["identity"] == "saga"
    bad = cli("train", scene, "--workdir", tmp_path / "x", *QUICK, "--identity", "sam")
    assert bad.returncode == 2 and "--identity" in bad.stderr and "nested" in bad.stderr, bad.stderr
    cams = json.loads((tmp_path / "g" / "cameras.json").read_text())
    done = cli("segment", tmp_path / "g", "--view", "0", "--point", f"{cams['width'] // 2},{cams['height'] // 2}",
               "--scale", "0.5", "--out", tmp_path / "ids.npy")  # fmt: skip
    assert done.returncode == 0 and np.load(tmp_path / "ids.npy").size > 0, (done.stdout, done.stderr)
