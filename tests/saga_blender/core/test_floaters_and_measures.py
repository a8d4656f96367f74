"""Select Floaters on a scene with known, injected floaters; Select by Attribute measures, histograms, picture."""

from __future__ import annotations

import numpy as np
import pytest

from saga_blender.core.floaters import FloaterSettings, select_floaters
from saga_blender.core.histogram_image import BAR, CUT, SELECTED, histogram_image
from saga_blender.core.splat_measures import default_cut, histogram, measure, select

from .test_grow_shrink import surface_points


def with_floaters(seed=0):
    """A dense body (surfaces, 30k) plus known floaters: far uniform points and small clusters in the air."""
    rng = np.random.default_rng(seed)
    body = surface_points(30_000, seed)
    far = rng.uniform(-3, 4, (400, 3))
    far = far[np.linalg.norm(far - np.clip(far, -0.2, 2.8), axis=1) > 0.5]  # out of the body's box
    clusters = np.concatenate([rng.uniform(-1.5, -0.8, 3) + rng.normal(0, 0.01, (20, 3)) for _ in range(8)])
    p = np.concatenate([body, far, clusters])
    opacity = np.concatenate([rng.uniform(0.5, 1, len(body)), rng.uniform(0.05, 0.5, len(far) + len(clusters))])
    truth = np.arange(len(p)) >= len(body)
    return p, opacity, truth


def test_injected_floaters_are_found_and_the_body_is_kept():
    p, opacity, truth = with_floaters()
    result = select_floaters(p, opacity, 0.5)
    assert result.mask[truth].mean() > 0.97
    assert result.mask[~truth].mean() < 0.005
    assert result.body_components >= 2  # the separate patches are all body (each is large)


def test_strength_selects_more_as_it_rises_and_a_clean_scene_loses_little():
    p, opacity, truth = with_floaters(1)
    counts = [select_floaters(p, opacity, s).mask.sum() for s in (0.0, 0.5, 1.0)]
    assert counts[0] <= counts[1] <= counts[2]
    clean = select_floaters(p[~truth], opacity[~truth], 0.5).mask
    assert clean.mean() < 0.005
    lo, hi = FloaterSettings.for_strength(0.0), FloaterSettings.for_strength(1.0)
    assert lo.resolution < hi.resolution and lo.component_fraction < hi.component_fraction


def test_a_sparse_splat_gets_coarser_cells():
    rng = np.random.default_rng(2)
    sparse = rng.uniform(0, 1, (3000, 3)) * [1, 1, 0.01]  # one thin layer, few points for its area
    result = select_floaters(sparse, np.ones(len(sparse)), 0.5)
    assert result.mask.mean() < 0.01 and result.cell > 1 / 192
    assert select_floaters(np.zeros((0, 3)), np.zeros(0)).mask.shape == (0,)


def test_measures_and_their_cut_sides():
    log_scales = np.log(np.array([[0.01, 0.01, 0.001], [0.5, 0.01, 0.001], [0.02, 0.02, 0.02]]))
    logits = np.array([-5.0, 0.0, 5.0])
    np.testing.assert_allclose(measure("OPACITY", logits, log_scales), 1 / (1 + np.exp(-logits)))
    np.testing.assert_allclose(measure("SIZE", logits, log_scales, world_scale=2.0), [0.02, 1.0, 0.04])
    np.testing.assert_allclose(measure("ELONGATION", logits, log_scales), [1.0, 50.0, 1.0])
    assert select("OPACITY", np.array([0.01, 0.5]), 0.05).tolist() == [True, False]
    assert select("SIZE", np.array([0.01, 0.5]), 0.1).tolist() == [False, True]
    with pytest.raises(ValueError, match="unknown measure"):
        measure("COLOUR", logits, log_scales)


def test_histograms_and_default_cuts():
    rng = np.random.default_rng(3)
    log_scales = rng.normal(-4, 1, (5000, 3))
    logits = rng.normal(0, 2, 5000)
    for kind in ("OPACITY", "SIZE", "ELONGATION"):
        values = measure(kind, logits, log_scales)
        hist = histogram(kind, values)
        assert hist.counts.sum() == 5000 and len(hist.edges) == len(hist.counts) + 1
        cut = default_cut(kind, values)
        assert 0.0 <= hist.position(cut) <= 1.0
    size = measure("SIZE", logits, log_scales)
    assert select("SIZE", size, default_cut("SIZE", size)).mean() == pytest.approx(0.01, abs=0.002)
    assert histogram("SIZE", size).log and not histogram("OPACITY", size.clip(0, 1)).log


def test_histogram_picture_marks_the_selected_side_and_the_cut():
    values = np.r_[np.full(900, 0.9), np.full(100, 0.02)]
    hist = histogram("OPACITY", values)
    image = histogram_image(hist, 0.05, width=128, height=40)
    assert image.shape == (40, 128, 4)
    cut_col = round(hist.position(0.05) * 127)
    assert np.allclose(image[:, cut_col], CUT)
    assert np.allclose(image[0, 2], SELECTED)  # the low-opacity bar, left of the cut: selected
    assert np.allclose(image[0, 115], BAR)  # the 0.9 bar: not
    assert np.isclose(image[:, 115, 0], BAR[0]).sum() > np.isclose(image[:, 2, 0], SELECTED[0]).sum()  # taller
