"""Prompt validation, scribble rasterisation and the k-means of region prompts."""

from __future__ import annotations

import numpy as np
import pytest

from engine.query.prompts import PromptError, Prompts, QueryCamera, kmeans, polyline_pixels

CAM = QueryCamera(np.eye(4), np.array([[50.0, 0, 32], [0, 50.0, 24], [0, 0, 1]]), 64, 48)


def test_polyline_pixels_are_connected_and_in_order():
    pix = polyline_pixels(np.array([[1.5, 1.5], [10.5, 1.5], [10.5, 8.5]]), 64, 48)
    assert tuple(pix[0]) == (1, 1) and tuple(pix[-1]) == (10, 8)
    steps = np.abs(np.diff(pix, axis=0)).max(axis=1)
    assert (steps == 1).all() and len(np.unique(pix, axis=0)) == len(pix)


def test_kmeans_is_deterministic_and_finds_the_groups():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 0.05, (50, 4)), rng.normal(3, 0.05, (50, 4))])
    c1, c2 = kmeans(x, 2, seed=1), kmeans(x, 2, seed=1)
    np.testing.assert_array_equal(c1, c2)
    assert sorted(np.round(c1.mean(axis=1)).tolist()) == [0.0, 3.0]
    assert len(kmeans(np.ones((5, 3)), 4)) == 1  # no more centres than distinct points


def test_bad_prompts_are_refused_with_what_is_wrong():
    with pytest.raises(PromptError, match="at least one positive"):
        Prompts(negative=[(3, 3)])
    with pytest.raises(PromptError, match=r"outside the 64x48 image"):
        Prompts(positive=[(70, 3)]).check_inside(CAM)
    with pytest.raises(PromptError, match="the camera's image is 64x48"):
        Prompts(mask=np.ones((10, 10), bool)).check_inside(CAM)
    with pytest.raises(PromptError, match="finite"):
        Prompts(positive=[(np.nan, 3)])
    with pytest.raises(PromptError, match="view 5 does not exist"):
        from engine.cameras.cameras import Cameras

        QueryCamera.from_cameras(Cameras(np.eye(4)[None], CAM.K[None], 64, 48), 5)
    assert Prompts(positive=[(1, 2)]).key() != Prompts(positive=[(2, 1)]).key()
