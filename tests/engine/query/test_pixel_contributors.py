"""The few-pixel contributor finder equals the full-frame render's contributors at those pixels."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.cameras.auto_views import auto_views
from engine.cameras.cameras import intrinsics, look_at_viewmat
from engine.render.contributors import render_contributors
from engine.render.pixel_contributors import PixelContributorFinder
from engine.render.splat_tensors import splat_to_tensors
from engine.synthetic.scene_generator import generate_table_scene


@pytest.fixture(scope="module")
def scene():
    s = generate_table_scene(20_000, seed=1)
    return s, splat_to_tensors(s.splat)


def _compare(st, vm, K, w, h, pixels, model="pinhole"):
    full = render_contributors(st.means, st.quats, st.scales, st.opacities, vm[None], K[None], w, h, top_k=32,
                               camera_model=model)  # fmt: skip
    found = PixelContributorFinder(st).find(vm, K, w, h, pixels, top_k=32, camera_model=model)
    x, y = pixels[:, 0], pixels[:, 1]
    torch.testing.assert_close(found.alphas, full.alphas[0, y, x], atol=2e-6, rtol=0)
    torch.testing.assert_close(found.weights, full.weights[0, y, x], atol=2e-6, rtol=0)
    same = (found.ids == full.ids[0, y, x]) | (found.weights < 1e-6)  # ties of (near) zero weight may swap
    assert same.all()


def test_equals_the_full_render_at_random_pixels(scene):
    s, st = scene
    cams = auto_views(s.splat, 3, width=96, height=80, layout="object", up=s.up)
    rng = np.random.default_rng(0)
    for c in range(3):
        vm = torch.from_numpy(cams.viewmats[c].astype(np.float32))
        K = torch.from_numpy(cams.Ks[c].astype(np.float32))
        pixels = torch.from_numpy(np.stack([rng.integers(0, 96, 60), rng.integers(0, 80, 60)], axis=1))
        _compare(st, vm, K, 96, 80, pixels)


def test_close_up_camera_with_gaussians_around_and_behind_it(scene):
    s, st = scene
    centre = s.splat.means.mean(axis=0)
    vm = torch.from_numpy(look_at_viewmat(centre + np.array([0.3, -0.2, 0.25]), centre, s.up).astype(np.float32))
    K = torch.from_numpy(intrinsics(40.0, 40.0, 30.0, 26.0).astype(np.float32))  # wide angle, off-centre
    xs, ys = np.meshgrid(np.arange(0, 64, 7), np.arange(0, 48, 7))
    _compare(st, vm, K, 64, 48, torch.from_numpy(np.stack([xs.ravel(), ys.ravel()], axis=1)))


def test_orthographic_and_scaled_cameras(scene):
    """An orthographic viewport, and a viewmat that scales (a Blender object scaled by 2: the engine camera is
    view @ matrix_world)."""
    s, st = scene
    cams = auto_views(s.splat, 1, width=64, height=48, layout="object", up=s.up)
    vm = torch.from_numpy(cams.viewmats[0].astype(np.float32))
    xs, ys = np.meshgrid(np.arange(0, 64, 5), np.arange(0, 48, 5))
    pixels = torch.from_numpy(np.stack([xs.ravel(), ys.ravel()], axis=1))
    extent = float(np.ptp(s.splat.means, axis=0).max())
    K_ortho = torch.tensor([[64 / extent, 0, 32], [0, 64 / extent, 24], [0, 0, 1]], dtype=torch.float32)
    _compare(st, vm, K_ortho, 64, 48, pixels, model="ortho")
    scaled = vm.clone()
    scaled[:3, :3] *= 2.0
    scaled[:3, 3] *= 2.0  # the same view of the scene scaled by 2 about the origin
    _compare(st, scaled, torch.from_numpy(cams.Ks[0].astype(np.float32)), 64, 48, pixels)


def test_every_contributor_when_top_k_is_none_and_errors(scene):
    s, st = scene
    cams = auto_views(s.splat, 1, width=64, height=64, layout="object", up=s.up)
    vm, K = torch.from_numpy(cams.viewmats[0].astype(np.float32)), torch.from_numpy(cams.Ks[0].astype(np.float32))
    finder = PixelContributorFinder(st)
    allc = finder.find(vm, K, 64, 64, torch.tensor([[32, 32]]), top_k=None)
    torch.testing.assert_close(allc.weights.sum(), allc.alphas[0], atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="outside the 64x64 image"):
        finder.find(vm, K, 64, 64, torch.tensor([[64, 3]]))
