"""The predictor on a small trained scene: objects at a coarse scale, parts at a fine one, negatives, any
camera, caching, and every bad input with one clear error."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
from scipy import ndimage

from engine.api.trained_scene import open_trained
from engine.cameras.cameras import intrinsics, look_at_viewmat
from engine.evaluation.click_protocol import choose_clicks
from engine.query.postprocess import PostProcess
from engine.query.prompts import PromptError, Prompts, QueryCamera
from engine.synthetic.label_maps import render_label_maps
from engine.training.checkpoint import CheckpointError
from saga_blender.core.errors import SplatFileError


@pytest.fixture(scope="module")
def predictor(trained):
    return open_trained(trained["workdir"]).predictor


def iou(ids, truth):
    sel = np.zeros(len(truth), bool)
    sel[ids] = True
    return (sel & truth).sum() / max((sel | truth).sum(), 1)


def click(trained, label, level):
    cams = trained["cameras"]
    maps = render_label_maps(trained["scene"], cams)
    c = choose_clicks([m[0 if level == "object" else 1] for m in maps], [label])[0]
    return QueryCamera.from_cameras(cams, c.view), (c.x, c.y), c.view


def best(predictor, cam, prompts, truth, scales):
    return max(iou(predictor.predict(cam, prompts, s).ids, truth) for s in scales)


def test_object_at_a_coarse_scale_and_part_at_a_fine_scale(trained, predictor):
    scene = trained["scene"]
    mug = scene.object_names.index("mug")
    cam, xy, _ = click(trained, mug, "object")
    assert best(predictor, cam, Prompts(positive=[xy]), scene.object_id == mug, np.linspace(0.2, 0.7, 6)) > 0.8
    shade = scene.part_names.index("lamp/shade")
    cam, xy, _ = click(trained, shade, "part")
    fine = predictor.predict(cam, Prompts(positive=[xy]), 0.0)
    assert iou(fine.ids, scene.part_id == shade) > 0.7
    lamp_rest = (scene.object_id == scene.object_names.index("lamp")) & (scene.part_id != shade)
    # not the pole nor the base (the whole lamp would hold all of them); 0.13 measured on one CPU, under 0.1 on
    # another: training floats differ between CPUs, so the bound leaves room
    assert np.isin(np.flatnonzero(lamp_rest), fine.ids).mean() < 0.2


def test_a_negative_click_removes_a_touching_object(trained, predictor):
    scene = trained["scene"]
    lamp, books = scene.object_names.index("lamp"), scene.object_names.index("books")
    cam, xy, view = click(trained, lamp, "object")
    region = render_label_maps(scene, trained["cameras"])[view][0] == books
    depth = ndimage.distance_transform_edt(region)
    y, x = np.unravel_index(int(depth.argmax()), depth.shape)

    def share(ids, label):
        return np.isin(np.flatnonzero(scene.object_id == label), ids).mean()

    # the finest scale at which the lamp click alone also takes the books next to it
    coarse = next(s for s in np.linspace(0.5, 1.0, 11) if share(predictor.predict(cam, Prompts(positive=[xy]), s).ids,
                                                                books) > 0.4)  # fmt: skip
    both = predictor.predict(cam, Prompts(positive=[xy], negative=[(x, y)]), coarse)
    assert share(both.ids, books) < 0.1
    assert share(both.ids, lamp) > 0.8


def test_a_camera_that_is_not_a_training_view(trained, predictor):
    scene = trained["scene"]
    bowl = scene.object_names.index("bowl")
    centre = scene.splat.means[scene.object_id == bowl].mean(axis=0)
    eye = centre + 0.9 * np.asarray(scene.up) + np.array([0.35, -0.3, 0.0])
    cam = QueryCamera(look_at_viewmat(eye, centre, np.asarray(scene.up)), intrinsics(90, 90, 40, 30), 80, 60)
    sel = [predictor.predict(cam, Prompts(positive=[(40, 30)]), s) for s in np.linspace(0.2, 0.7, 6)]
    assert max(iou(s.ids, scene.object_id == bowl) for s in sel) > 0.8


def test_scale_and_threshold_changes_reuse_the_work(trained, predictor):
    cam, xy, _ = click(trained, trained["scene"].object_names.index("vase"), "object")
    p = Prompts(positive=[xy])
    predictor.predict(cam, p, 0.4)
    q = predictor._query_cache[(cam.key(), p.key())]
    again = predictor.predict(cam, p, 0.4, threshold=0.9)
    assert predictor._query_cache[(cam.key(), p.key())] is q and again.timings_ms["scores"] < 5
    predictor.predict(cam, p, 0.6)
    assert predictor._query_cache[(cam.key(), p.key())] is q  # a new scale re-uses the query features
    loose, strict = predictor.predict(cam, p, 0.4, threshold=0.5), predictor.predict(cam, p, 0.4, threshold=0.9)
    assert set(strict.ids) <= set(loose.ids)


def test_scribbles_masks_and_post_processing(trained, predictor):
    scene = trained["scene"]
    plate = scene.object_names.index("plate")
    maps = render_label_maps(scene, trained["cameras"])
    view = int(np.argmax([(m[0] == plate).sum() for m in maps]))
    cam = QueryCamera.from_cameras(trained["cameras"], view)
    mask = maps[view][0] == plate
    truth = scene.object_id == plate
    by_mask = max(iou(predictor.predict(cam, Prompts(mask=mask), s).ids, truth) for s in np.linspace(0.2, 0.7, 6))
    assert by_mask > 0.8
    ys, xs = np.nonzero(mask)
    line = np.stack([xs[:: max(1, len(xs) // 5)], ys[:: max(1, len(ys) // 5)]], axis=1) + 0.5
    by_scribble = [predictor.predict(cam, Prompts(positive_scribbles=[line]), s).ids for s in np.linspace(0.2, 0.7, 6)]
    assert max(iou(ids, truth) for ids in by_scribble) > 0.8
    plain = predictor.predict(cam, Prompts(mask=mask), 0.5)
    filtered = predictor.predict(cam, Prompts(mask=mask), 0.5, postprocess=PostProcess(outlier_filter=True))
    grown = predictor.predict(cam, Prompts(mask=mask), 0.5, postprocess=PostProcess(outlier_filter=True, grow=True))
    assert set(filtered.ids) <= set(plain.ids) and set(filtered.ids) <= set(grown.ids)


def test_bad_input_gives_one_clear_error(trained, predictor, tmp_path):
    cams = trained["cameras"]
    cam = QueryCamera.from_cameras(cams, 0)
    with pytest.raises(PromptError, match="outside the 128x128 image"):
        predictor.predict(cam, Prompts(positive=[(200, 5)]), 0.5)
    with pytest.raises(PromptError, match=r"scale 1.5 is outside \[0, 1\]"):
        predictor.predict(cam, Prompts(positive=[(64, 64)]), 1.5)
    with pytest.raises(PromptError, match="empty background"):
        predictor.predict(cam, Prompts(positive=[(0, 0)]), 0.5)  # a corner of an object view: nothing there
    with pytest.raises(CheckpointError, match="no trained features here"):
        open_trained(str(tmp_path))
    other = tmp_path / "other.ply"
    from engine.synthetic.scene_generator import generate_table_scene
    from saga_blender.core.splat_io import write_splat

    write_splat(other, generate_table_scene(30_000, seed=5).splat)
    with pytest.raises(CheckpointError, match="trained for another scene"):
        open_trained(trained["workdir"], str(other))
    moved = tmp_path / "work"
    shutil.copytree(trained["workdir"], moved)
    os.rename(trained["scene_path"], trained["scene_path"] + ".moved")
    try:
        with pytest.raises(SplatFileError, match="no longer exists"):
            open_trained(str(moved))
    finally:
        os.rename(trained["scene_path"] + ".moved", trained["scene_path"])


def test_points_from_several_views_combine(trained, predictor):
    scene, cams = trained["scene"], trained["cameras"]
    maps = render_label_maps(scene, cams)
    picks = []
    for name in ("bowl", "vase"):
        label = scene.object_names.index(name)
        c = choose_clicks([m[0] for m in maps], [label])[0]
        picks.append((QueryCamera.from_cameras(cams, c.view), Prompts(positive=[(c.x, c.y)]), label))
    (cam_a, p_a, bowl), (cam_b, p_b, vase) = picks
    truth = scene.object_id == bowl
    scale = max(np.linspace(0.2, 0.7, 6), key=lambda s: iou(predictor.predict(cam_a, p_a, s).ids, truth))
    both = predictor.predict(cam_a, p_a, scale, more_views=[(cam_b, p_b)])
    for label in (bowl, vase):
        assert np.isin(np.flatnonzero(scene.object_id == label), both.ids).mean() > 0.6
    alone = predictor.predict(cam_a, p_a, scale)
    assert set(alone.ids) <= set(both.ids)
    # a view holding only a negative point is allowed as an extra view
    neg_only = Prompts(negative=[p_b.positive[0]], require_positive=False)
    minus = predictor.predict(cam_a, p_a, scale, more_views=[(cam_b, neg_only)])
    assert np.isin(np.flatnonzero(scene.object_id == vase), minus.ids).mean() < 0.1
