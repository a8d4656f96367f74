"""Damaged ground-truth masks: drops, merges, boundary noise and spurious blobs, deterministic per seed."""

from __future__ import annotations

import numpy as np
import pytest

from engine.cameras.auto_views import auto_views
from engine.masks.source import MaskSourceError, check_mask_stack
from engine.synthetic.damaged_masks import DamagedLabelMaskSource
from engine.synthetic.scene_generator import generate_table_scene
from engine.views.view_sources import rendered_views

SIZE = 128


@pytest.fixture(scope="module")
def setup():
    scene = generate_table_scene(40_000, seed=0)
    cams = auto_views(scene.splat, 3, width=SIZE, height=SIZE, layout="object", up=scene.up)
    return scene, list(rendered_views(scene.splat, cams)), DamagedLabelMaskSource.from_scene(scene, cams, seed=3)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def test_clean_masks_cover_parts_objects_and_groups(setup):
    scene, views, source = setup
    mug = scene.object_index("mug")
    object_map, _ = source.label_maps[views[0].name]
    clean, kinds = source.clean_masks(views[0])
    assert clean.dtype == bool and clean.shape[1:] == (SIZE, SIZE) and len(kinds) == len(clean)
    assert {"part", "object", "group"} <= set(kinds)
    assert any(np.array_equal(m, object_map == mug) for m in clean), "the whole mug is a mask"
    table_and_all = (object_map >= 0) & (object_map != scene.object_index("background"))
    assert any(np.array_equal(m, table_and_all) for m in clean), "the table with everything on it"


def test_drop_rate_is_about_20_percent(setup):
    _, views, source = setup
    exact = DamagedLabelMaskSource(source.label_maps, boundary_px=0.0, spurious=0, min_area=1, seed=3)
    n_clean = n_kept = 0
    for view in views:
        clean, _ = exact.clean_masks(view)
        damaged, src, _ = exact.damaged_masks(view)
        assert len(damaged) == len(clean) - round(0.2 * len(clean))
        n_clean += len(clean)
        n_kept += len(set(src.tolist()))
    assert 0.15 <= 1 - n_kept / n_clean <= 0.25
    # with the default damage, small masks may also vanish under the boundary noise
    n_clean = sum(len(source.clean_masks(v)[0]) for v in views)
    n_kept = sum(int((source.damaged_masks(v)[1] >= 0).sum()) for v in views)
    assert 0.15 <= 1 - n_kept / n_clean <= 0.35


def test_deterministic_for_a_seed(setup):
    _, views, source = setup
    a = source.masks_for_view(views[1])
    b = DamagedLabelMaskSource(source.label_maps, seed=3).masks_for_view(views[1])
    np.testing.assert_array_equal(a, b)
    check_mask_stack(a, views[1], source.name)
    c = DamagedLabelMaskSource(source.label_maps, seed=4).masks_for_view(views[1])
    assert c.shape != a.shape or not np.array_equal(a, c)
    assert source.settings() != DamagedLabelMaskSource(source.label_maps, seed=4).settings()


def test_damage_is_present(setup):
    _, views, source = setup
    ious, merged, spurious = [], 0, 0
    for view in views:
        clean, _ = source.clean_masks(view)
        damaged, src, kinds = source.damaged_masks(view)
        for m, s, kind in zip(damaged, src, kinds, strict=True):
            if kind == "spurious":
                spurious += 1
                assert s == -1
            elif kind == "merged":
                merged += 1
                assert (m & clean[s]).sum() >= 0.6 * clean[s].sum() and m.sum() > clean[s].sum(), "a union"
            else:
                ious.append(_iou(m, clean[s]))
    ious = np.array(ious)
    assert 0.7 <= ious.mean() < 0.97, f"boundary noise: mean IoU {ious.mean():.3f}"
    assert (ious < 1).mean() > 0.9
    assert spurious == 2 * len(views) and merged >= 1


def test_unknown_view_is_a_clear_error(setup):
    _, views, source = setup
    view = views[0]
    other = type(view)("not_a_camera", view.image, view.depth, view.alpha, view.viewmat, view.K)
    with pytest.raises(MaskSourceError, match="not_a_camera"):
        source.masks_for_view(other)
