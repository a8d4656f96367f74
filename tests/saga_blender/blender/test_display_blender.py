"""The splat's display in real Blender: footprint quads (the Gaussian's two largest axes, times Point Size), the
viewport density setting, the points alternative, and the splat's colours in a Solid-mode (Workbench) render."""

from __future__ import annotations

import numpy as np
import pytest

from saga_blender.core.gaussians import GaussianSplat
from saga_blender.core.point_attributes import footprint_axes
from saga_blender.core.splat_io import read_splat, write_splat

from .test_extension import import_file

bpy = pytest.importorskip("bpy")


def evaluated_mesh_positions(obj, depsgraph=None):
    depsgraph = depsgraph or bpy.context.evaluated_depsgraph_get()
    mesh = obj.evaluated_get(depsgraph).data
    co = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.vertices.foreach_get("co", co)
    return co.reshape(-1, 3), mesh


def set_input(obj, name, value):
    import importlib

    display = importlib.import_module("bl_ext.user_default.saga_blender.display_nodes")
    assert display.set_display_input(obj, name, value)
    bpy.context.view_layer.update()


def test_footprints_are_the_gaussians_axes_times_the_point_size(clean_scene, sample_ply):
    obj = import_file(sample_ply)
    splat = read_splat(sample_ply).splat
    n = len(splat)
    u, v = footprint_axes(splat)
    for size in (1.0, 2.5):
        set_input(obj, "Point Size", size)
        co, mesh = evaluated_mesh_positions(obj)
        assert len(co) == 4 * n and len(mesh.polygons) == n
        loops = np.empty(4 * n, np.int32)
        mesh.polygons.foreach_get("vertices", loops)  # every polygon is a quad
        quads = co[loops.reshape(n, 4)]  # [n, 4 corners, 3], polygon i drawn for Gaussian i
        np.testing.assert_allclose(quads.mean(axis=1), splat.means, atol=1e-4)  # centred on the Gaussian
        sides = np.sort(np.linalg.norm(quads - np.roll(quads, 1, axis=1), axis=2), axis=1)  # [n, 4]
        expected = np.sort(2 * size * np.linalg.norm(np.stack([u, v, u, v], axis=1), axis=2), axis=1)
        np.testing.assert_allclose(sides, expected, rtol=1e-3, atol=1e-6)
        assert mesh.color_attributes.active_color_name == "gs_color"  # what Solid view's Attribute colour shows


def test_density_thins_the_viewport_only_and_points_are_an_alternative(clean_scene, sample_ply):
    obj = import_file(sample_ply)
    n = len(obj.data.vertices)
    set_input(obj, "Density", 0.25)
    co, _ = evaluated_mesh_positions(obj)
    shown = len(co) / 4
    assert 0.2 * n < shown < 0.3 * n
    set_input(obj, "Density", 1.0)
    set_input(obj, "Footprints", False)
    depsgraph = bpy.context.evaluated_depsgraph_get()
    evaluated = obj.evaluated_get(depsgraph)
    clouds = [g for g in depsgraph.object_instances if g.object.original == obj]
    assert clouds and len(evaluated.data.vertices) == 0  # the points live in a point cloud component


def split_colour_splat(n=6000, seed=0) -> GaussianSplat:
    """A flat sheet facing -Y: left half red, right half blue; round, opaque Gaussians."""
    rng = np.random.default_rng(seed)
    x, z = rng.uniform(-1, 1, n), rng.uniform(-1, 1, n)
    means = np.c_[x, np.zeros(n), z]
    q = np.tile([np.cos(np.pi / 4), np.sin(np.pi / 4), 0, 0], (n, 1))  # the disc (x, y axes) turned to face -Y
    rgb = np.where((x < 0)[:, None], [0.9, 0.1, 0.1], [0.1, 0.1, 0.9])
    return GaussianSplat.from_activated(means, q, np.tile([0.03, 0.03, 0.001], (n, 1)), np.full(n, 0.99), rgb)


def test_solid_view_shows_the_splats_colours(clean_scene, tmp_path):
    """A Workbench (Solid shading) render with the colour set as the Colours in Solid View button sets it."""
    path = tmp_path / "split.ply"
    write_splat(path, split_colour_splat())
    import_file(path, up_axis="Z")
    scene = bpy.context.scene
    cam = bpy.data.objects.new("cam", bpy.data.cameras.new("cam"))
    scene.collection.objects.link(cam)
    cam.location, cam.rotation_euler = (0.0, -4.0, 0.0), (np.pi / 2, 0.0, 0.0)
    scene.camera = cam
    scene.render.engine = "BLENDER_WORKBENCH"
    shading = scene.display.shading
    assert bpy.ops.saga.solid_colours() == {"FINISHED"}  # no viewport headless: it sets the scene's Solid shading
    assert shading.color_type == "VERTEX" and shading.light == "FLAT"
    scene.render.resolution_x = scene.render.resolution_y = 64
    scene.render.film_transparent = True
    scene.render.filepath = str(tmp_path / "solid.png")
    bpy.ops.render.render(write_still=True)
    image = bpy.data.images.load(str(tmp_path / "solid.png"))
    pixels = np.array(image.pixels[:]).reshape(64, 64, 4)
    left, right = pixels[16:48, 14:28], pixels[16:48, 36:50]
    assert (left[..., 3] > 0.5).mean() > 0.9 and (right[..., 3] > 0.5).mean() > 0.9
    lr, rr = left[..., :3].reshape(-1, 3).mean(0), right[..., :3].reshape(-1, 3).mean(0)
    assert lr[0] > 2 * lr[2] and rr[2] > 2 * rr[0]  # red on the left, blue on the right: the splat's own colours
