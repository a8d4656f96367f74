"""transforms.json reader: the real instant-ngp fox file, generated NeRF-synthetic and nerfstudio files."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from PIL import Image

from engine.cameras import CameraFileError
from engine.cameras.cameras import look_at_viewmat
from engine.cameras.colmap import distortion_note
from engine.cameras.nerf_transforms import applied_transform, read_transforms_json
from saga_blender.core.axes import viewmat_to_opengl_c2w


def _closest_point_to_axes(origins, dirs):
    """Least-squares point minimising the squared distances to the lines origin + t * dir."""
    A, b = np.zeros((3, 3)), np.zeros(3)
    for o, d in zip(origins, dirs, strict=True):
        P = np.eye(3) - np.outer(d, d)
        A += P
        b += P @ o
    return np.linalg.solve(A, b)


def _project(cams, point):
    cam = cams.viewmats[:, :3, :3] @ point + cams.viewmats[:, :3, 3]
    uv = np.einsum("cij,cj->ci", cams.Ks, cam / cam[:, 2:3])[:, :2]
    return uv, cam[:, 2]


def test_fox(real_data):
    cams = read_transforms_json(real_data / "fox_transforms.json")
    assert len(cams) == 67
    assert (cams.width, cams.height) == (1080, 1920)
    np.testing.assert_allclose(cams.Ks[0], [[1375.52, 0, 554.558], [0, 1374.49, 965.268], [0, 0, 1]])
    np.testing.assert_allclose(cams.distortion[0], [0.0578421, -0.0805099, -0.000980296, 0.00015575])
    assert cams.names[0] == "images/0001.jpg"
    assert cams.image_paths is None  # the images are not shipped
    assert "undistort" in distortion_note(cams)
    # rigid viewmats, and the file's matrices come back exactly through the OpenGL conversion
    R = cams.viewmats[:, :3, :3]
    np.testing.assert_allclose(R @ np.swapaxes(R, 1, 2), np.broadcast_to(np.eye(3), R.shape), atol=1e-5)
    frames = json.loads((real_data / "fox_transforms.json").read_text())["frames"]
    np.testing.assert_allclose(viewmat_to_opengl_c2w(cams.viewmats[5]), frames[5]["transform_matrix"], atol=1e-9)

    # Every camera looks at the scene centre: the point closest to all optical axes is at about
    # (0.03, -0.06, -0.02); the largest angle between a camera's +z (OpenCV forward) and the
    # direction to it is ~15.4 deg (mean ~8.1 deg), and it projects well inside every image.
    centre = _closest_point_to_axes(cams.centers, cams.forward)
    to_centre = centre - cams.centers
    to_centre /= np.linalg.norm(to_centre, axis=1, keepdims=True)
    angles = np.degrees(np.arccos(np.clip(np.sum(to_centre * cams.forward, axis=1), -1, 1)))
    assert angles.max() < 25.0, angles.max()
    uv, depth = _project(cams, centre)
    assert np.all(depth > 0)
    assert np.all((uv >= 0) & (uv <= [cams.width, cams.height]))


def _frames(n=4, seed=1):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        eye = rng.normal(size=3)
        eye = 3 * eye / np.linalg.norm(eye)
        vm = look_at_viewmat(eye, np.zeros(3), np.array([0.0, 0.0, 1.0]))
        out.append((vm, viewmat_to_opengl_c2w(vm)))
    return out


def test_nerf_synthetic(tmp_path):
    frames = _frames()
    (tmp_path / "train").mkdir()
    Image.new("RGBA", (200, 150)).save(tmp_path / "train" / "r_0.png")
    angle = 0.6911112070083618
    meta = {
        "camera_angle_x": angle,
        "frames": [
            {"file_path": f"./train/r_{i}", "rotation": 0.0, "transform_matrix": c2w.tolist()}
            for i, (_, c2w) in enumerate(frames)
        ],
    }
    path = tmp_path / "transforms_train.json"
    path.write_text(json.dumps(meta))
    cams = read_transforms_json(path)
    assert (cams.width, cams.height) == (200, 150)
    f = 0.5 * 200 / math.tan(0.5 * angle)
    np.testing.assert_allclose(cams.Ks[2], [[f, 0, 100], [0, f, 75], [0, 0, 1]])
    np.testing.assert_allclose(cams.viewmats, np.stack([vm for vm, _ in frames]), atol=1e-12)
    assert cams.names[0] == "train/r_0" and cams.distortion is None
    assert cams.image_paths is None  # only r_0.png exists: not every image found
    for i in range(1, 4):
        Image.new("RGBA", (200, 150)).save(tmp_path / "train" / f"r_{i}.png")
    assert read_transforms_json(path).image_paths[3] == str(tmp_path / "train" / "r_3.png")

    # neither w/h nor an image: clear error
    (tmp_path / "train" / "r_0.png").unlink()
    with pytest.raises(CameraFileError, match=r"no image size.*r_0"):
        read_transforms_json(path)


def test_nerfstudio_per_frame_intrinsics_and_applied_transform(tmp_path):
    frames = _frames()
    A = np.array([[1.0, 0, 0, 0], [0, 0, 1, 0], [0, -1, 0, 0]])  # what ns-process-data writes
    A4 = np.vstack([A, [0, 0, 0, 1]])
    meta = {
        "camera_model": "OPENCV",
        "applied_transform": A.tolist(),
        "frames": [
            {
                "file_path": f"images/frame_{i:05d}.png",
                "transform_matrix": (A4 @ c2w).tolist(),
                "fl_x": 300.0 + i,
                "fl_y": 301.0 + i,
                "cx": 160.0,
                "cy": 119.0,
                "w": 320,
                "h": 240,
                "k1": 0.01 * i,
            }
            for i, (_, c2w) in enumerate(frames)
        ],
    }
    path = tmp_path / "transforms.json"
    path.write_text(json.dumps(meta))
    cams = read_transforms_json(path)
    np.testing.assert_allclose(cams.Ks[:, 0, 0], [300, 301, 302, 303])
    np.testing.assert_allclose(cams.Ks[:, 1, 1], [301, 302, 303, 304])
    np.testing.assert_allclose(cams.distortion[:, 0], [0, 0.01, 0.02, 0.03])
    np.testing.assert_allclose(applied_transform(path), A4)
    # the file's world: viewmats of the transformed cameras; "original": the COLMAP-world truth
    np.testing.assert_allclose(cams.viewmats, np.stack([vm for vm, _ in frames]) @ np.linalg.inv(A4), atol=1e-12)
    orig = read_transforms_json(path, world="original")
    np.testing.assert_allclose(orig.viewmats, np.stack([vm for vm, _ in frames]), atol=1e-12)

    # images_dir given: every image must exist
    with pytest.raises(CameraFileError, match="4 of 4 images are missing"):
        read_transforms_json(path, images_dir=tmp_path)

    # per-frame sizes that differ
    meta["frames"][2]["w"] = 640
    path.write_text(json.dumps(meta))
    with pytest.raises(CameraFileError, match=r"different image sizes: 320x240 \(3 frames\), 640x240 \(1 frames\)"):
        read_transforms_json(path)


def test_errors(tmp_path):
    path = tmp_path / "t.json"
    with pytest.raises(CameraFileError, match="file not found"):
        read_transforms_json(path)
    path.write_text("{")
    with pytest.raises(CameraFileError, match="not valid JSON"):
        read_transforms_json(path)
    path.write_text(json.dumps({"frames": []}))
    with pytest.raises(CameraFileError, match="frames"):
        read_transforms_json(path)
    good = {"file_path": "a.png", "transform_matrix": np.eye(4).tolist(), "fl_x": 10, "w": 4, "h": 4}
    path.write_text(json.dumps({"frames": [{**good, "transform_matrix": [[1, 2], [3, 4]]}]}))
    with pytest.raises(CameraFileError, match=r"frame 0.*shape"):
        read_transforms_json(path)
    path.write_text(json.dumps({"frames": [{**good, "transform_matrix": (2 * np.eye(4)).tolist()}]}))
    with pytest.raises(CameraFileError, match="not a rotation"):
        read_transforms_json(path)
    path.write_text(json.dumps({"frames": [{k: v for k, v in good.items() if k != "fl_x"}]}))
    with pytest.raises(CameraFileError, match="no focal length"):
        read_transforms_json(path)
    path.write_text(json.dumps({"camera_model": "OPENCV_FISHEYE", "frames": [good]}))
    with pytest.raises(CameraFileError, match="OPENCV_FISHEYE"):
        read_transforms_json(path)
    path.write_text(json.dumps({"k3": 0.1, "frames": [good]}))
    with pytest.raises(CameraFileError, match="k3"):
        read_transforms_json(path)
    path.write_text(json.dumps({"frames": [good]}))
    assert len(read_transforms_json(path)) == 1
