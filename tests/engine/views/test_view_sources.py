"""Training views from a capture: photos are checked against their cameras and resized with them."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from engine.cameras.auto_views import auto_views
from engine.cameras.cameras import CameraFileError, Cameras
from engine.synthetic.scene_generator import generate_table_scene
from engine.views.view_sources import captured_views, rendered_views


@pytest.fixture(scope="module")
def scene_and_cameras():
    scene = generate_table_scene(3000, seed=0)
    cams = auto_views(scene.splat, 2, width=64, height=48, layout="object", up=scene.up)
    return scene, cams


def with_images(cams: Cameras, paths) -> Cameras:
    return Cameras(cams.viewmats, cams.Ks, cams.width, cams.height, cams.names, None, [str(p) for p in paths])


def test_captured_views_resize_photo_and_render_depth(scene_and_cameras, tmp_path):
    scene, cams = scene_and_cameras
    paths = []
    for i in range(2):
        paths.append(tmp_path / f"img{i}.png")
        Image.fromarray(np.full((48, 64, 3), 40 * i, np.uint8)).save(paths[-1])
    views = list(captured_views(scene.splat, with_images(cams, paths), max_side=32))
    assert [v.image.shape for v in views] == [(24, 32, 3)] * 2 and views[1].image.mean() == pytest.approx(40, abs=1)
    assert views[0].depth.shape == (24, 32) and np.isfinite(views[0].depth).any()
    np.testing.assert_allclose(views[0].K, cams.scaled(0.5).Ks[0])
    rendered = list(rendered_views(scene.splat, cams))
    assert rendered[0].image.shape == (48, 64, 3) and rendered[0].image.dtype == np.uint8


def test_missing_image_and_wrong_size_are_reported_by_name(scene_and_cameras, tmp_path):
    scene, cams = scene_and_cameras
    good = tmp_path / "good.png"
    Image.fromarray(np.zeros((48, 64, 3), np.uint8)).save(good)
    with pytest.raises(CameraFileError, match=r"missing\.png: image file not found \(1 of 2 missing\)"):
        list(captured_views(scene.splat, with_images(cams, [good, tmp_path / "missing.png"])))
    wrong = tmp_path / "wrong.png"
    Image.fromarray(np.zeros((50, 64, 3), np.uint8)).save(wrong)
    with pytest.raises(CameraFileError, match=r"wrong\.png: image is 64x50 but its camera is 64x48"):
        list(captured_views(scene.splat, with_images(cams, [good, wrong])))
    with pytest.raises(CameraFileError, match="no image files"):
        list(captured_views(scene.splat, cams))
