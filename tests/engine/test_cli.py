"""``saga-engine`` end to end: info, convert, render, generate-scene, demo, and its error reporting."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from engine.cli import main
from engine.synthetic.scene_generator import generate_table_scene
from saga_blender.core.splat_io import read_splat, write_splat


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_info_reports_count_degree_bounds_extras(capsys, real_data):
    code, out, _ = run(capsys, "info", str(real_data / "inria_sh3_small.ply"), "--json")
    info = json.loads(out)
    assert code == 0 and info["count"] == 9080 and info["sh_degree"] == 3
    assert info["format"] == "inria-ply" and info["non_finite"]["gaussians"] == 0
    assert all(lo < hi for lo, hi in zip(info["bounds_min"], info["bounds_max"], strict=True))
    code, out, _ = run(capsys, "info", str(real_data / "guitar.compressed.ply"))
    assert code == 0 and "90854" in out and "supersplat-compressed-ply" in out


def test_info_reports_nan_instead_of_refusing(capsys, tmp_path):
    splat = generate_table_scene(2000, seed=0).splat
    splat.means[3, 0] = np.nan
    splat.opacity_logits[7] = np.inf
    splat.extras = {"f_0": np.zeros(len(splat), np.float32)}
    path = tmp_path / "dirty.ply"
    write_splat(path, splat)
    code, out, _ = run(capsys, "info", str(path), "--json")
    info = json.loads(out)
    assert code == 0
    assert info["non_finite"] == {"gaussians": 2, "by_property": {"x": 1, "opacity": 1}}
    assert info["extra_properties"] == ["f_0"]
    code, _, err = run(capsys, "convert", str(path), str(tmp_path / "out.ply"))
    assert code == 2 and "dirty.ply" in err and "NaN" in err and "--sanitize" in err
    code, out, err = run(capsys, "convert", str(path), str(tmp_path / "out.ply"), "--sanitize")
    assert code == 0 and "dropped 2" in err
    assert len(read_splat(tmp_path / "out.ply").splat) == len(splat) - 2


def test_convert_compressed_to_inria_and_back_equal(capsys, tmp_path, real_data):
    out = tmp_path / "biker.ply"
    code, _, _ = run(capsys, "convert", str(real_data / "biker.compressed.ply"), str(out))
    assert code == 0
    a, b = read_splat(real_data / "biker.compressed.ply").splat, read_splat(out).splat
    for name, col in a.columns().items():
        np.testing.assert_array_equal(b.columns()[name], col, err_msg=name)


def test_bad_files_give_one_clear_error(capsys, tmp_path):
    garbage = tmp_path / "garbage.ply"
    garbage.write_bytes(b"\x00\x01not a ply at all")
    code, _, err = run(capsys, "info", str(garbage))
    assert code == 2 and err.startswith("error: ") and "garbage.ply" in err and "Traceback" not in err
    code, _, err = run(capsys, "render", str(tmp_path / "missing.ply"), "--views", "auto:2", "--out", str(tmp_path))
    assert code == 2 and "missing.ply: file not found" in err
    code, _, err = run(capsys, "render", str(garbage), "--views", "bogus", "--out", str(tmp_path))
    assert code == 2


def foreground_box(png) -> tuple[np.ndarray, float]:
    """(x0, y0, x1, y1) of the non-white pixels as fractions of the image, and their area fraction."""
    img = np.asarray(Image.open(png).convert("RGB")).astype(np.float32)
    fg = (255 - img).max(axis=2) > 40
    ys, xs = np.nonzero(fg)
    h, w = fg.shape
    return np.array([xs.min() / w, ys.min() / h, (xs.max() + 1) / w, (ys.max() + 1) / h]), fg.mean()


def test_render_guitar_auto_views_whole_centred_filling(capsys, tmp_path, real_data):
    out = tmp_path / "views"
    code, stdout, _ = run(capsys, "render", str(real_data / "guitar.compressed.ply"), "--views", "auto:8",
                          "--out", str(out), "--width", "160")  # fmt: skip
    assert code == 0 and "8 views" in stdout
    pngs = sorted(p for p in out.glob("*.png") if not p.name.endswith("_depth.png"))
    assert len(pngs) == 8 and len(list(out.glob("*_depth.npy"))) == 8
    for png in pngs:
        (x0, y0, x1, y1), area = foreground_box(png)
        assert min(x0, y0) > 0.01 and max(x1, y1) < 0.99, f"{png.name}: guitar cut at the border"
        assert abs((x0 + x1) / 2 - 0.5) < 0.1 and abs((y0 + y1) / 2 - 0.5) < 0.1, f"{png.name}: not centred"
        assert max(x1 - x0, y1 - y0) > 0.6, f"{png.name}: guitar too small in the frame"
        assert area > 0.04
    depth = np.load(out / pngs[0].name.replace(".png", "_depth.npy"))
    assert np.isfinite(depth).mean() > 0.04 and np.nanmin(depth) > 0


def test_render_with_saved_cameras_reproduces_images(capsys, tmp_path, real_data):
    first = tmp_path / "a"
    run(capsys, "render", str(real_data / "inria_sh3_small.ply"), "--views", "auto:2", "--out", str(first),
        "--width", "64", "--no-depth")  # fmt: skip
    second = tmp_path / "b"
    code, _, _ = run(capsys, "render", str(real_data / "inria_sh3_small.ply"), "--cameras",
                     str(first / "cameras.json"), "--out", str(second), "--no-depth")  # fmt: skip
    assert code == 0
    for png in first.glob("*.png"):
        np.testing.assert_array_equal(np.asarray(Image.open(png)), np.asarray(Image.open(second / png.name)))


def test_generate_scene_and_python_dash_m(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "engine", "generate-scene", str(tmp_path), "--gaussians", "5000"],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "scene.ply").exists() and (tmp_path / "scene_labels.npz").exists()
    assert len(read_splat(tmp_path / "scene.ply").splat) == 5000


@pytest.mark.slow
def test_demo_end_to_end(capsys, tmp_path):
    code, out, _ = run(capsys, "demo", "--out", str(tmp_path), "--gaussians", "20000", "--views", "4", "--size", "96",
                       "--iterations", "150", "--train-views", "6")  # fmt: skip
    assert code == 0
    assert (tmp_path / "demo_scene.ply").exists() and (tmp_path / "contact_sheet.png").exists()
    assert len(list((tmp_path / "views").glob("*_depth.npy"))) == 4
    for name in ("selection_scales.png", "before_after.png", "work/saga_features.npz"):
        assert (tmp_path / name).exists(), name
    obj, rest = read_splat(tmp_path / "lamp.ply").splat, read_splat(tmp_path / "scene_without_lamp.ply").splat
    assert len(obj) > 0 and len(obj) + len(rest) == 20000
    assert "IoU with the shade" in out and "the lamp's IoU over all its Gaussians" in out
    report = json.loads((tmp_path / "demo_report.json").read_text())
    assert report["lamp_target"] == 0.95 and 0.0 <= report["lamp_iou"] <= 1.0
    scene = generate_table_scene(20000, seed=0)
    lamp = int((scene.object_id == scene.object_names.index("lamp")).sum())
    assert report["lamp_gaussians_left"] + len(obj) - report["other_gaussians_removed"] == lamp  # the books balance
