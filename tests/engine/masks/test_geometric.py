"""The geometric mask source: masks from the splat's 3D segmentation, rendered into each view, whole objects and
parts in every view, the same segment in every view."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.cameras.auto_views import auto_views
from engine.masks.geometric import GeometricMaskSource
from engine.masks.source import check_mask_stack
from engine.synthetic.label_maps import pooled_recall, render_label_maps
from engine.synthetic.scene_generator import generate_table_scene
from engine.views.view_sources import rendered_views

SIZE = 128


@pytest.fixture(scope="module")
def scene_source():
    scene = generate_table_scene(40_000, seed=3, layout_seed=3)  # a placement the segmenter was not tuned on
    cams = auto_views(scene.splat, 8, width=SIZE, height=SIZE, layout="object", up=scene.up)
    source = GeometricMaskSource(scene.splat, cams, up=scene.up)
    views = list(rendered_views(scene.splat, cams))
    return scene, cams, source, views, [source.masks_for_view(v) for v in views]


def test_masks_are_boolean_stacks_of_the_views_size(scene_source):
    _, _, _, views, masks = scene_source
    for view, m in zip(views, masks, strict=True):
        check_mask_stack(m, view, "geometric")
        assert m.dtype == bool and 5 <= len(m) <= 300
        assert m.reshape(len(m), -1).sum(1).min() >= 20  # tiny masks are dropped


def test_objects_and_parts_are_found_whole(scene_source):
    scene, cams, _, _, masks = scene_source
    r = pooled_recall(masks, render_label_maps(scene, cams))
    assert r["objects"]["mean_best_iou"] >= 0.85 and r["parts"]["mean_best_iou"] >= 0.8, r


def test_settings_name_the_splat_and_cameras(scene_source):
    scene, cams, source, _, _ = scene_source
    settings = source.settings()
    json.dumps(settings)
    assert settings["source"] == "geometric" and settings["splat"] == scene.splat.content_hash()
    fewer = GeometricMaskSource(scene.splat, cams.subset([0, 1]) if hasattr(cams, "subset") else
                                auto_views(scene.splat, 2, width=SIZE, height=SIZE, layout="object", up=scene.up))
    assert fewer.settings()["cameras"] != settings["cameras"]


def test_every_level_is_one_labelling_of_the_gaussians(scene_source):
    scene, _, source, _, _ = scene_source
    seg = source.segmentation
    names = [name for name, _ in seg.levels]
    assert "objects" in names and names[0].startswith("parts")
    for _, labels in seg.levels:
        assert labels.shape == (len(scene.splat),) and labels.dtype == np.int32
    # finer levels nest in coarser ones for most Gaussians: a part lies in one object
    parts, objects = seg.levels[0][1], seg.level("objects")
    agree = 0
    for p in np.unique(parts):
        members = objects[parts == p]
        agree += np.bincount(members - members.min()).max()
    assert agree / len(parts) > 0.95


def test_combined_source_stacks_both_without_near_duplicates(scene_source):
    from engine.masks.geometric import CombinedMaskSource
    from engine.masks.weights_free import WeightsFreeMaskSource

    _, _, source, views, masks = scene_source
    combined = CombinedMaskSource((WeightsFreeMaskSource(), source))
    assert combined.segmentation is source.segmentation  # the hidden-Gaussian fill uses it
    json.dumps(combined.settings())
    view = views[0]
    pictures = WeightsFreeMaskSource().masks_for_view(view)
    both = combined.masks_for_view(view)
    check_mask_stack(both, view, "combined")
    assert max(len(pictures), len(masks[0])) <= len(both) <= len(pictures) + len(masks[0])
    flat = both.reshape(len(both), -1).astype(np.float32)
    inter = flat @ flat.T
    area = flat.sum(1)
    iou = inter / (area[:, None] + area[None, :] - inter)
    np.fill_diagonal(iou, 0.0)
    assert iou.max() <= 0.9  # no near-duplicates left
    for m in masks[0]:  # every geometric mask is there, or one very like it
        f = m.reshape(-1).astype(np.float32)
        best = (flat @ f) / (area + f.sum() - flat @ f)
        assert best.max() > 0.9
