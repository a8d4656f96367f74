"""Close-up views of the detailed places: where they look, how close, what they avoid; cut masks dropped."""

from __future__ import annotations

import numpy as np
import pytest

from engine.cameras.auto_views import auto_views
from engine.cameras.cameras import concatenate_cameras
from engine.cameras.close_ups import CLOSE_UP_PREFIX, is_close_up, plan_close_ups, with_close_ups
from engine.cameras.scene_bounds import scene_bounds
from engine.masks.source import drop_cut_masks
from engine.synthetic.scene_generator import generate_table_scene


@pytest.fixture(scope="module")
def table():
    return generate_table_scene(30_000, seed=3)


def _project(cams, pts):
    cam = np.einsum("cij,pj->cpi", cams.viewmats[:, :3, :3], pts) + cams.viewmats[:, None, :3, 3]
    z = cam[..., 2]
    px = cams.Ks[:, 0, 0, None] * cam[..., 0] / z + cams.Ks[:, 0, 2, None]
    py = cams.Ks[:, 1, 1, None] * cam[..., 1] / z + cams.Ks[:, 1, 2, None]
    return px, py, z


def test_close_ups_frame_the_objects_on_the_table_closer(table):
    bounds = scene_bounds(table.splat, up=table.up)
    plan = plan_close_ups(table.splat, 6, 256, 256, layout="object", bounds=bounds)
    cams = plan.cameras
    assert len(cams) == 6 and all(is_close_up(n) for n in cams.names) and cams.names[0] == f"{CLOSE_UP_PREFIX}0000"
    assert plan.rho == pytest.approx(bounds.radius / 2.0)
    # each target is on the image centre, in front, and targets are spread out (non-maximum suppression)
    px, py, z = _project(cams, plan.targets)
    np.testing.assert_allclose(np.diagonal(px), 128.0, atol=1e-6)
    np.testing.assert_allclose(np.diagonal(py), 128.0, atol=1e-6)
    assert (np.diagonal(z) > plan.rho).all()
    d = np.linalg.norm(plan.targets[:, None] - plan.targets[None], axis=2) + np.eye(6) * 1e9
    assert d.min() >= 1.5 * plan.rho - 1e-9
    # the targets are what stands on the table (the ground the scene stands on is not detail), not the floor
    assert np.all(plan.targets @ bounds.up > bounds.support + 2.0 * bounds.grid.voxel)
    on_objects = np.isin(table.object_id, np.arange(2, len(table.object_names)))
    near = np.linalg.norm(np.asarray(table.splat.means)[on_objects][None] - plan.targets[:, None], axis=2).min(axis=1)
    assert np.median(near) < plan.rho
    # eyes keep the clearance from the geometry; the view is rho * 4 times closer than an overview's pixel size
    eyes = cams.centers
    assert bounds.grid.is_clear(eyes, 0.05 * bounds.radius).all()
    overview = auto_views(table.splat, 8, width=256, height=256, layout="object", up=table.up)
    f_over = overview.Ks[0, 0, 0] / np.linalg.norm(overview.centers - plan.targets[0], axis=1).mean()
    f_close = cams.Ks[0, 0, 0] / np.linalg.norm(eyes[0] - plan.targets[0])
    assert f_close / f_over > 1.5  # pixels per metre on the target


def test_no_close_ups_and_joined_camera_sets(table):
    none = plan_close_ups(table.splat, 0, 64, 48, layout="object", up=table.up)
    assert len(none.cameras) == 0 and (none.cameras.width, none.cameras.height) == (64, 48)
    overview = auto_views(table.splat, 3, width=64, height=48, layout="object", up=table.up)
    both = with_close_ups(table.splat, overview, 2, layout="object", up=table.up)
    assert len(both) == 5 and both.names[:3] == overview.names and all(map(is_close_up, both.names[3:]))
    np.testing.assert_array_equal(both.viewmats[:3], overview.viewmats)
    with pytest.raises(ValueError, match="cannot join 64x48 and 32x32"):
        concatenate_cameras(overview, plan_close_ups(table.splat, 1, 32, 32, up=table.up).cameras)
    with pytest.raises(ValueError, match=">= 0"):
        plan_close_ups(table.splat, -1)


def test_cut_masks_are_dropped():
    masks = np.zeros((3, 10, 12), bool)
    masks[0, 3:6, 3:6] = True  # inside
    masks[1, 0:4, 4:6] = True  # reaches the top border
    masks[2, 5:9, 10:12] = True  # reaches the right border
    kept = drop_cut_masks(masks)
    assert len(kept) == 1 and kept[0].sum() == 9
    assert drop_cut_masks(np.zeros((0, 4, 4), bool)).shape == (0, 4, 4)
