"""COLMAP reader: synthetic models of every supported camera model, written as .bin and .txt."""

from __future__ import annotations

import numpy as np
import pytest

from engine.cameras import CameraFileError
from engine.cameras.cameras import look_at_viewmat
from engine.cameras.colmap import distortion_note, distortion_shift_px, read_colmap

from .colmap_writer import write_model

W, H = 640, 480
# model -> (params, expected K entries (fx, fy, cx, cy), expected (k1, k2, p1, p2))
MODELS = {
    "SIMPLE_PINHOLE": ([500.0, 320.5, 239.5], (500.0, 500.0, 320.5, 239.5), (0, 0, 0, 0)),
    "PINHOLE": ([510.0, 505.0, 321.0, 238.0], (510.0, 505.0, 321.0, 238.0), (0, 0, 0, 0)),
    "SIMPLE_RADIAL": ([520.0, 320.0, 240.0, 0.03], (520.0, 520.0, 320.0, 240.0), (0.03, 0, 0, 0)),
    "RADIAL": ([530.0, 319.0, 241.0, 0.02, -0.01], (530.0, 530.0, 319.0, 241.0), (0.02, -0.01, 0, 0)),
    "OPENCV": (
        [540.0, 545.0, 322.0, 237.0, 0.05, -0.02, 0.001, -0.002],
        (540.0, 545.0, 322.0, 237.0),
        (0.05, -0.02, 0.001, -0.002),
    ),
}


def _truth(n=5, seed=0):
    rng = np.random.default_rng(seed)
    viewmats = []
    for _ in range(n):
        eye = rng.normal(size=3)
        eye = 4 * eye / np.linalg.norm(eye)
        viewmats.append(look_at_viewmat(eye, rng.normal(scale=0.2, size=3), np.array([0.0, -1.0, 0.3])))
    return viewmats


def _scene(folder, model, binary, sizes=((W, H),), names=None):
    params = MODELS[model][0]
    cams = [{"id": i + 1, "model": model, "width": w, "height": h, "params": params} for i, (w, h) in enumerate(sizes)]
    viewmats = _truth()
    names = names or ["c.jpg", "a.jpg", "e.jpg", "b.jpg", "d.jpg"]  # out of order on purpose
    images = [
        {
            "id": 10 + i,
            "viewmat": v,
            "camera_id": 1 + i % len(sizes),
            "name": nm,
            "points": [] if i % 2 else [(1.5, 2.5, 7), (3.25, 4.0, -1)],
        }
        for i, (v, nm) in enumerate(zip(viewmats, names, strict=True))
    ]
    write_model(folder, cams, images, binary)
    return dict(zip(names, viewmats, strict=True))


@pytest.mark.parametrize("binary", [True, False], ids=["bin", "txt"])
@pytest.mark.parametrize("model", list(MODELS))
def test_models_read_back(tmp_path, model, binary):
    truth = _scene(tmp_path, model, binary)
    cams = read_colmap(tmp_path)
    assert cams.names == sorted(truth)
    assert (cams.width, cams.height) == (W, H)
    np.testing.assert_allclose(cams.viewmats, np.stack([truth[n] for n in cams.names]), atol=1e-12)
    fx, fy, cx, cy = MODELS[model][1]
    K = np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]])
    np.testing.assert_allclose(cams.Ks, np.broadcast_to(K, (5, 3, 3)))
    dist = np.array(MODELS[model][2], float)
    if np.any(dist):
        np.testing.assert_allclose(cams.distortion, np.broadcast_to(dist, (5, 4)))
        assert "undistort" in distortion_note(cams)
        assert distortion_shift_px(cams).max() > 0.5
    else:
        assert cams.distortion is None
        assert distortion_note(cams) is None
    assert cams.image_paths is None


@pytest.mark.parametrize("model", list(MODELS))
def test_bin_equals_txt(tmp_path, model):
    _scene(tmp_path / "b", model, True)
    _scene(tmp_path / "t", model, False)
    b, t = read_colmap(tmp_path / "b"), read_colmap(tmp_path / "t")
    assert b.names == t.names
    np.testing.assert_allclose(b.viewmats, t.viewmats, atol=1e-14)
    np.testing.assert_array_equal(b.Ks, t.Ks)


def test_bin_preferred_and_scene_folder_accepted(tmp_path):
    model_dir = tmp_path / "sparse" / "0"
    _scene(model_dir, "PINHOLE", True)
    _scene(model_dir, "SIMPLE_PINHOLE", False)  # different intrinsics in the .txt
    cams = read_colmap(tmp_path)  # the scene folder, not sparse/0
    assert cams.Ks[0, 0, 0] == 510.0 and cams.Ks[0, 1, 1] == 505.0


def test_several_cameras_one_size(tmp_path):
    _scene(tmp_path, "PINHOLE", False, sizes=((W, H), (W, H)))
    cams = read_colmap(tmp_path)
    assert len(cams) == 5


def test_unsupported_model(tmp_path):
    cams = [{"id": 1, "model": "OPENCV_FISHEYE", "width": W, "height": H, "params": [500, 500, 320, 240, 0, 0, 0, 0]}]
    images = [{"id": 1, "viewmat": np.eye(4), "camera_id": 1, "name": "a.jpg"}]
    for binary in (True, False):
        folder = tmp_path / str(binary)
        write_model(folder, cams, images, binary)
        with pytest.raises(CameraFileError) as err:
            read_colmap(folder)
        msg = str(err.value)
        assert "OPENCV_FISHEYE" in msg and "PINHOLE" in msg and "SIMPLE_RADIAL" in msg


@pytest.mark.parametrize("which", ["images.bin", "cameras.bin"])
def test_truncated_bin(tmp_path, which):
    _scene(tmp_path, "OPENCV", True)
    data = (tmp_path / which).read_bytes()
    for cut in (3, 20, len(data) // 2, len(data) - 1):
        (tmp_path / which).write_bytes(data[:cut])
        with pytest.raises(CameraFileError) as err:
            read_colmap(tmp_path)
        assert which in str(err.value) and "truncated" in str(err.value)


def test_trailing_garbage(tmp_path):
    _scene(tmp_path, "PINHOLE", True)
    with open(tmp_path / "images.bin", "ab") as fh:
        fh.write(b"junk")
    with pytest.raises(CameraFileError, match=r"images\.bin.*unexpected bytes"):
        read_colmap(tmp_path)


def test_missing_files(tmp_path):
    with pytest.raises(CameraFileError, match=r"cameras\.bin.*not found"):
        read_colmap(tmp_path)
    _scene(tmp_path, "PINHOLE", True)
    (tmp_path / "images.bin").unlink()
    with pytest.raises(CameraFileError, match=r"images\.bin.*not found"):
        read_colmap(tmp_path)


def test_different_sizes_refused(tmp_path):
    _scene(tmp_path, "PINHOLE", True, sizes=((W, H), (800, 600)))
    with pytest.raises(CameraFileError) as err:
        read_colmap(tmp_path)
    assert "640x480" in str(err.value) and "800x600" in str(err.value)


def test_unknown_camera_id(tmp_path):
    cams = [{"id": 1, "model": "PINHOLE", "width": W, "height": H, "params": [1, 1, 1, 1]}]
    write_model(tmp_path, cams, [{"id": 1, "viewmat": np.eye(4), "camera_id": 7, "name": "a.jpg"}], False)
    with pytest.raises(CameraFileError, match=r"camera ids \[7\]"):
        read_colmap(tmp_path)


def test_malformed_text(tmp_path):
    _scene(tmp_path, "PINHOLE", False)
    (tmp_path / "cameras.txt").write_text("1 PINHOLE 640 480 1.0 2.0\n")
    with pytest.raises(CameraFileError, match="line 1: PINHOLE needs 4 parameters"):
        read_colmap(tmp_path)


def test_images_dir(tmp_path):
    _scene(tmp_path / "sparse", "PINHOLE", True)
    imgs = tmp_path / "images"
    imgs.mkdir()
    for n in ("a.jpg", "b.jpg", "c.jpg"):
        (imgs / n).write_bytes(b"")
    with pytest.raises(CameraFileError) as err:
        read_colmap(tmp_path / "sparse", imgs)
    assert "2 of 5 images are missing" in str(err.value) and "d.jpg" in str(err.value)
    cams = read_colmap(tmp_path / "sparse", imgs, missing_ok=True)
    assert cams.image_paths == [str(imgs / n) for n in cams.names]
    for n in ("d.jpg", "e.jpg"):
        (imgs / n).write_bytes(b"")
    assert read_colmap(tmp_path / "sparse", imgs).image_paths[4].endswith("e.jpg")
