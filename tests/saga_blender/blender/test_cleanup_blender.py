"""Clean-up selections in real Blender: Select Floaters, Select by Attribute (with its histogram picture), Grow /
Shrink Selection, the live preview of the active selection in the display, and their undo steps."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from saga_blender.core import grow_shrink, splat_measures
from saga_blender.core.gaussians import GaussianSplat
from saga_blender.core.point_grid import PointGrid
from saga_blender.core.splat_io import read_splat, write_splat

from ..core.test_floaters_and_measures import with_floaters
from .test_extension import import_file, make_groups, members, positions

bpy = pytest.importorskip("bpy")
ADDON = "bl_ext.user_default.saga_blender"


def addon(module: str):
    return importlib.import_module(f"{ADDON}.{module}")


@pytest.fixture(scope="module")
def floater_ply(tmp_path_factory):
    p, opacity, truth = with_floaters(0)
    n = len(p)
    rng = np.random.default_rng(0)
    splat = GaussianSplat.from_activated(p, rng.normal(size=(n, 4)), np.full((n, 3), 0.004), opacity,
                                         rng.uniform(0, 1, (n, 3)))  # fmt: skip
    path = tmp_path_factory.mktemp("floaters") / "floaters.ply"
    write_splat(path, splat)
    return path, truth


def test_select_floaters_makes_a_previewed_selection_of_the_floaters(clean_scene, floater_ply):
    path, truth = floater_ply
    obj = import_file(path, up_axis="Z")
    assert bpy.ops.saga.select_floaters(strength=0.5) == {"FINISHED"}
    group = obj.vertex_groups.active
    assert group.name == "Floaters"
    ids = np.array(sorted(members(obj, "Floaters")))
    mask = np.zeros(len(truth), bool)
    mask[ids] = True
    assert mask[truth].mean() > 0.97 and mask[~truth].mean() < 0.005
    assert addon("selection_preview").highlighted_group(obj) == "Floaters"
    # the Adjust Last Operation panel re-runs it: a higher strength selects at least as much, as a new group
    assert bpy.ops.saga.select_floaters(strength=1.0) == {"FINISHED"}
    assert len(members(obj, "Floaters.002")) >= len(ids)


def test_select_by_attribute_equals_the_core_cut_and_draws_its_histogram(clean_scene, sample_ply):
    obj = import_file(sample_ply)
    splat = read_splat(sample_ply).splat
    assert bpy.ops.saga.select_by_attribute(measure="OPACITY", opacity=0.3) == {"FINISHED"}
    expected = set(np.flatnonzero(splat.opacities < 0.3).tolist())
    assert members(obj, "Low Opacity") == expected and 0 < len(expected) < len(splat)
    preview = addon("histogram_preview")
    from saga_blender.core.histogram_image import histogram_image

    values = splat_measures.measure("OPACITY", splat.opacity_logits, splat.log_scales)
    picture = preview.histogram_pixels(obj, "OPACITY")
    cut = float(np.float32(0.3))  # the operator's property is a float32
    expected_picture = histogram_image(splat_measures.histogram("OPACITY", values), cut)
    np.testing.assert_allclose(picture, expected_picture, atol=0.5 / 255 + 1e-6)  # a preview holds bytes
    assert preview.last_measure(obj) == "OPACITY"
    # size in scene units: the object scaled x2 doubles every size; 0 picks the largest 1%
    obj.scale = (2.0, 2.0, 2.0)
    bpy.context.view_layer.update()
    assert bpy.ops.saga.select_by_attribute(measure="SIZE", size=0.0) == {"FINISHED"}
    size = splat_measures.measure("SIZE", splat.opacity_logits, splat.log_scales, world_scale=2.0)
    assert len(members(obj, "Large")) == pytest.approx(0.01 * len(splat), abs=3)
    assert members(obj, "Large") == set(np.flatnonzero(size > np.quantile(size, 0.99)).tolist())
    assert bpy.ops.saga.select_by_attribute(measure="ELONGATION", elongation=3.0) == {"FINISHED"}
    elong = splat_measures.measure("ELONGATION", splat.opacity_logits, splat.log_scales)
    assert members(obj, "Elongated") == set(np.flatnonzero(elong > 3.0).tolist())


def test_grow_and_shrink_change_the_active_selection_as_the_core_does(clean_scene, sample_ply):
    obj = import_file(sample_ply, up_axis="Z")
    splat = read_splat(sample_ply).splat
    p = splat.means
    seed = np.linalg.norm(p - p[0], axis=1) < 1.0
    obj.vertex_groups.new(name="Part").add(np.flatnonzero(seed).tolist(), 1.0, "REPLACE")
    obj.vertex_groups.active = obj.vertex_groups["Part"]
    spacing = grow_shrink.neighbour_spacing(splat.log_scales)
    assert bpy.ops.saga.selection_grow(steps=2) == {"FINISHED"}
    grid = PointGrid(p, grow_shrink.grid_cell_for(spacing, spacing))
    grown = grow_shrink.grow(p, grid, seed, spacing, 2)
    assert members(obj, "Part") == set(np.flatnonzero(grown).tolist()) and grown.sum() > seed.sum()
    # shrink by a distance in scene units: the object is scaled x2, so the hops are half as long in the file
    obj.scale = (2.0, 2.0, 2.0)
    bpy.context.view_layer.update()
    assert bpy.ops.saga.selection_shrink(mode="DISTANCE", distance=0.6) == {"FINISHED"}
    count, hop = grow_shrink.hops_for_distance(0.3, spacing)
    grid = PointGrid(p, grow_shrink.grid_cell_for(hop, spacing))
    shrunk = grow_shrink.shrink(p, grid, grown, hop, count)
    assert members(obj, "Part") == set(np.flatnonzero(shrunk).tolist()) and shrunk.sum() < grown.sum()
    assert obj.vertex_groups.active.name == "Part" and addon("selection_preview").highlighted_group(obj) == "Part"


def test_grow_without_a_selection_says_so(clean_scene, sample_ply):
    obj = import_file(sample_ply)
    assert not bpy.ops.saga.selection_grow.poll()
    obj.vertex_groups.new(name="Empty")
    assert bpy.ops.saga.selection_grow() == {"FINISHED"}  # an empty selection stays empty
    assert members(obj, "Empty") == set()


def evaluated_colours(obj) -> np.ndarray:
    depsgraph = bpy.context.evaluated_depsgraph_get()
    mesh = obj.evaluated_get(depsgraph).data
    out = np.empty(len(mesh.vertices) * 4, np.float32)
    mesh.color_attributes["gs_color"].data.foreach_get("color", out)
    return out.reshape(-1, 4)


def test_the_display_highlights_the_active_selection_and_follows_it(clean_scene, sample_ply):
    preview, display = addon("selection_preview"), addon("display_nodes")
    obj = import_file(sample_ply)
    a, _ = make_groups(obj, np.random.default_rng(0))
    obj.vertex_groups.active = obj.vertex_groups["A"]
    preview._on_active_group_change()  # what the message bus calls when the Selections list's active row changes
    assert preview.highlighted_group(obj) == "A"
    colours = evaluated_colours(obj)[: len(a)]  # the footprints: the first N vertices are the moved centres
    np.testing.assert_allclose(colours[a, :3], np.tile(display.HIGHLIGHT_COLOR[:3], (int(a.sum()), 1)), atol=1e-6)
    assert not np.allclose(colours[~a][:, :3], display.HIGHLIGHT_COLOR[:3], atol=1e-3)
    obj.saga_show_selection = False  # the panel's toggle
    assert preview.highlighted_group(obj) == ""
    splat = read_splat(sample_ply).splat
    colours = evaluated_colours(obj)[: len(a)]
    np.testing.assert_allclose(colours[:, :3], np.clip(0.5 + 0.28209479177387814 * splat.sh_dc, 0, 1), atol=1e-5)


def test_every_clean_up_operator_registers_an_undo_step(extension):
    for name in ("select_floaters", "select_by_attribute", "selection_grow", "selection_shrink", "select_similar"):
        op = getattr(bpy.types, f"SAGA_OT_{name}")
        assert {"REGISTER", "UNDO"} <= op.bl_options, name


def test_positions_read_for_the_tools_are_cached_until_the_mesh_changes(clean_scene, sample_ply):
    cache = addon("neighbour_cache")
    obj = import_file(sample_ply)
    first = cache.splat_data(obj)
    assert cache.splat_data(obj) is first
    np.testing.assert_array_equal(first.positions, positions(obj))
    obj.vertex_groups.new(name="G").add([0, 1, 2], 1.0, "REPLACE")
    assert bpy.ops.saga.selection_delete(group="G") == {"FINISHED"}  # a new mesh: the cache is rebuilt
    again = cache.splat_data(obj)
    assert again is not first and len(again.positions) == len(first.positions) - 3
