"""2D ground truth of the synthetic scene: label maps consistent with the scene and the renderer."""

from __future__ import annotations

import numpy as np
import pytest

from engine.cameras.auto_views import auto_views
from engine.synthetic.label_maps import mask_recall, pooled_recall, render_label_maps
from engine.synthetic.scene_generator import generate_table_scene
from engine.views.view_sources import rendered_views

SIZE = 128


@pytest.fixture(scope="module")
def labelled():
    scene = generate_table_scene(40_000, seed=0)
    cams = auto_views(scene.splat, 3, width=SIZE, height=SIZE, layout="object", up=scene.up)
    return scene, list(rendered_views(scene.splat, cams)), render_label_maps(scene, cams)


def test_shapes_and_empty_pixels(labelled):
    scene, views, maps = labelled
    assert len(maps) == len(views)
    for view, (object_map, part_map) in zip(views, maps, strict=True):
        for m in (object_map, part_map):
            assert m.shape == (SIZE, SIZE) and m.dtype == np.int32
        # -1 exactly where the splat's alpha is low (where the view has no depth), both maps alike
        np.testing.assert_array_equal(object_map < 0, np.isnan(view.depth))
        np.testing.assert_array_equal(part_map < 0, np.isnan(view.depth))
        assert (view.alpha[object_map < 0] <= 0.5).all()
        assert object_map.max() < len(scene.object_names) and part_map.max() < len(scene.part_names)


def test_maps_agree_with_the_scene(labelled):
    scene, _, maps = labelled
    mug, handle = scene.object_index("mug"), scene.part_index("mug/handle")
    seen_handle = 0
    for object_map, part_map in maps:
        labelled_px = part_map >= 0
        agree = scene.part_object[part_map[labelled_px]] == object_map[labelled_px]
        assert agree.mean() > 0.99, "a pixel's part belongs to the pixel's object"
        in_handle = part_map == handle
        seen_handle += int(in_handle.sum())
        if in_handle.any():
            assert (object_map[in_handle] == mug).mean() > 0.95, "the mug's region contains its handle"
        # the big things are there: floor, table, and a few objects on it
        objects, counts = np.unique(object_map[object_map >= 0], return_counts=True)
        assert {0, 1} <= set(objects[counts > 500].tolist())
        assert (counts[objects >= 2] >= 20).sum() >= 5
    assert seen_handle > 0, "the handle is visible in some view"


def test_mask_recall():
    label_map = np.full((20, 20), -1, np.int32)
    label_map[:10] = 0
    label_map[10:, :10] = 1
    label_map[10:, 10:12] = 2  # 20 px: below min_area
    exact = np.stack([label_map == 0, label_map == 1])
    r = mask_recall(exact, label_map, min_area=50)
    assert r["labels"].tolist() == [0, 1]
    assert r["mean_best_iou"] == 1.0 and r["fraction_at_0.8"] == 1.0
    half = np.zeros((1, 20, 20), bool)
    half[0, :5] = True  # half of region 0, nothing of region 1
    r = mask_recall(half, label_map, min_area=50)
    np.testing.assert_allclose(r["best_iou"], [0.5, 0.0])
    assert r["fraction_at_0.8"] == 0.0
    r = mask_recall(np.zeros((0, 20, 20), bool), label_map, min_area=10)
    assert r["labels"].tolist() == [0, 1, 2] and r["mean_best_iou"] == 0.0
    assert np.isnan(mask_recall(exact, np.full((20, 20), -1), min_area=1)["mean_best_iou"])


def test_pooled_recall_counts_every_region_of_every_view(labelled):
    _, _, maps = labelled
    perfect = [
        np.stack([o == v for v in np.unique(o[o >= 0])] + [p == v for v in np.unique(p[p >= 0])]) for o, p in maps
    ]
    r = pooled_recall(perfect, maps, min_area=100)
    assert r["objects"]["mean_best_iou"] == 1.0 and r["parts"]["fraction_at_0.8"] == 1.0
    assert r["objects"]["n"] == sum(int((np.bincount(o[o >= 0]) >= 100).sum()) for o, _ in maps)
