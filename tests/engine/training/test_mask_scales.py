"""Eq. 2 mask scales on a plane with a known answer, and the quantile transform."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.training.mask_scales import ScaleTransform, backproject, mask_scale, mask_scales


def plane_view(z=2.0, f=100.0, size=64):
    depth = np.full((size, size), z, np.float32)
    K = np.array([[f, 0, size / 2], [0, f, size / 2], [0, 0, 1.0]])
    return depth, K


def test_square_on_a_fronto_parallel_plane():
    depth, K = plane_view()
    mask = np.zeros((64, 64), bool)
    mask[10:50, 20:60] = True  # 40 x 40 px at z = 2, f = 100 -> 0.8 m side
    # erosion by 2 px leaves 36 x 36 px; uniform on a square of side L: var = L^2 / 12 per axis (pixel grid)
    side_m = 36 * 2.0 / 100.0
    var = (side_m**2 - (2.0 / 100.0) ** 2) / 12.0  # discrete uniform grid variance
    expected = 2.0 * math.sqrt(2 * var)
    assert mask_scale(mask, depth, K) == pytest.approx(expected, rel=1e-4)
    assert mask_scale(mask, depth, K, erosion=0) > mask_scale(mask, depth, K)


def test_scale_follows_depth_and_needs_valid_pixels():
    depth, K = plane_view()
    mask = np.zeros((64, 64), bool)
    mask[20:40, 20:40] = True
    near = mask_scale(mask, depth, K)
    far = mask_scale(mask, depth * 3, K)
    assert far == pytest.approx(3 * near, rel=1e-5)
    empty_depth = np.full_like(depth, np.nan)
    assert math.isnan(mask_scale(mask, empty_depth, K))
    tiny = np.zeros((64, 64), bool)
    tiny[5, 5] = True
    assert math.isnan(mask_scale(tiny, depth, K))
    assert mask_scales(np.stack([mask, tiny]), depth, K).shape == (2,)


def test_backproject_pixel_centres():
    depth, K = plane_view(z=1.0)
    pts = backproject(depth, K, np.array([32 * 64 + 32]))  # pixel (32, 32): centre at 32.5
    np.testing.assert_allclose(pts[0], [0.5 / 100, 0.5 / 100, 1.0])


def test_quantile_transform_monotone_unit_range_and_inverse():
    rng = np.random.default_rng(0)
    scales = np.exp(rng.normal(size=5000))
    t = ScaleTransform.fit(np.concatenate([scales, [np.nan]]))
    u = t.to_unit(np.sort(scales))
    assert u[0] == pytest.approx(0, abs=1e-3) and u[-1] == pytest.approx(1, abs=1e-3)
    assert np.all(np.diff(u) >= 0)
    assert np.mean(np.abs(np.quantile(t.to_unit(scales), [0.25, 0.5, 0.75]) - [0.25, 0.5, 0.75])) < 0.01
    np.testing.assert_allclose(t.to_unit(t.to_metric([0.1, 0.5, 0.9])), [0.1, 0.5, 0.9], atol=1e-3)
    with pytest.raises(ValueError, match="no mask"):
        ScaleTransform.fit(np.array([np.nan]))
