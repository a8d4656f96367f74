"""The README's pictures of the editing toolkit, rendered headless in Blender (Workbench, i.e. the Solid shading mode)
from the real guitar capture (../shared/data/real/guitar.compressed.ply):

    .venv-bpy50/bin/python scripts/editing_pictures.py [--out docs]

* solid_view_colours.png: Solid view before (spheres in the material's grey) and with the footprint display and
  Colours in Solid View;
* select_floaters.png: the capture with 2,000 stray Gaussians added (far ones and small clusters in the air), then
  Select Floaters (strength 0.5) previewed in the highlight colour, then deleted;
* select_by_attribute.png: the opacity histogram the Select by Attribute panel draws, cut at 0.1;
* grow_selection.png: a selection of the headstock's top, grown by 1.0 (a quarter of the guitar's height), then
  shrunk by 10 steps (where it touches the unselected Gaussians).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="saga-pictures-user-"))
sys.path[:0] = [ROOT, os.path.join(ROOT, "scripts")]

import bpy  # noqa: E402
import numpy as np  # noqa: E402

SIZE = (360, 480)
GUITAR = os.path.join(ROOT, "..", "shared", "data", "real", "guitar.compressed.ply")


def world_points(obj) -> np.ndarray:
    co = np.empty(len(obj.data.vertices) * 3, np.float32)
    obj.data.vertices.foreach_get("co", co)
    m = np.array(obj.matrix_world)
    return co.reshape(-1, 3) @ m[:3, :3].T + m[:3, 3]


def frame_camera(points: np.ndarray, margin: float = 1.1, side_of: np.ndarray | None = None):
    """An orthographic camera looking horizontally at the points' box, at the widest side of ``side_of``'s box
    (default: the points')."""
    lo, hi = np.percentile(points, 0.5, axis=0), np.percentile(points, 99.5, axis=0)
    centre = (lo + hi) / 2
    ref = points if side_of is None else side_of
    extent = np.percentile(ref, 99.5, axis=0) - np.percentile(ref, 0.5, axis=0)
    across_y = extent[0] >= extent[1]  # look along Y when the box is wider in X
    cam = bpy.data.objects.get("pictures") or bpy.data.objects.new("pictures", bpy.data.cameras.new("pictures"))
    if cam.name not in bpy.context.scene.collection.objects:
        bpy.context.scene.collection.objects.link(cam)
    cam.data.type = "ORTHO"
    aspect = SIZE[0] / SIZE[1]
    width = (hi - lo)[0] if across_y else (hi - lo)[1]
    cam.data.ortho_scale = margin * max(hi[2] - lo[2], width / aspect)
    cam.data.clip_end = 1000.0
    if across_y:
        cam.location, cam.rotation_euler = (centre[0], lo[1] - 10.0, centre[2]), (np.pi / 2, 0.0, 0.0)
    else:
        cam.location, cam.rotation_euler = (hi[0] + 10.0, centre[1], centre[2]), (np.pi / 2, 0.0, np.pi / 2)
    bpy.context.scene.camera = cam


def render(path: str, colour_type: str = "VERTEX") -> np.ndarray:
    scene = bpy.context.scene
    scene.render.engine = "BLENDER_WORKBENCH"
    shading = scene.display.shading
    shading.color_type, shading.light = colour_type, "FLAT" if colour_type == "VERTEX" else "STUDIO"
    scene.render.resolution_x, scene.render.resolution_y = SIZE
    scene.render.film_transparent = False
    scene.world = scene.world or bpy.data.worlds.new("World")
    scene.world.color = (1.0, 1.0, 1.0)
    scene.display_settings.display_device = "sRGB"
    scene.view_settings.view_transform = "Standard"
    scene.render.filepath = path
    bpy.ops.render.render(write_still=True)
    image = bpy.data.images.load(path)
    pixels = np.array(image.pixels[:], np.float32).reshape(SIZE[1], SIZE[0], 4)
    bpy.data.images.remove(image)
    return pixels


def save(pixels: np.ndarray, path: str) -> None:
    h, w = pixels.shape[:2]
    image = bpy.data.images.new(os.path.basename(path), width=w, height=h, alpha=True)
    image.pixels.foreach_set(np.ascontiguousarray(pixels, np.float32).ravel())
    image.filepath_raw, image.file_format = path, "PNG"
    image.save()
    bpy.data.images.remove(image)


def row(*panels: np.ndarray, gap: int = 8) -> np.ndarray:
    h = panels[0].shape[0]
    white = np.ones((h, gap, 4), np.float32)
    parts = []
    for p in panels:
        parts += [p, white]
    return np.concatenate(parts[:-1], axis=1)


def with_floaters(path: str, out: str, count: int = 2000, seed: int = 0) -> None:
    from saga_blender.core.gaussians import GaussianSplat
    from saga_blender.core.splat_io import read_splat, write_splat
    from saga_blender.core.splat_merge import merge_splats

    splat = read_splat(path).splat
    rng = np.random.default_rng(seed)
    lo, hi = splat.means.min(0), splat.means.max(0)
    centre, extent = (lo + hi) / 2, hi - lo
    far = centre + (rng.random((count // 2, 3)) - 0.5) * extent * [2.2, 1.4, 2.2]
    clusters = [centre + (rng.random(3) - 0.5) * extent * [1.8, 1.2, 1.8] + rng.normal(0, 0.01, (25, 3))
                for _ in range(count // 2 // 25)]  # fmt: skip
    means = np.concatenate([far, *clusters])
    n = len(means)
    stray = GaussianSplat.from_activated(means, rng.normal(size=(n, 4)), np.exp(rng.uniform(-5.5, -3.5, (n, 3))),
                                         rng.uniform(0.2, 0.9, n), rng.uniform(0.3, 0.9, (n, 3)))  # fmt: skip
    merged, _ = merge_splats([splat, stray])
    write_splat(out, merged)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(ROOT, "docs"))
    args = ap.parse_args()
    out = os.path.abspath(args.out)
    tmp = tempfile.mkdtemp(prefix="saga-pictures-")
    from build_extension import build

    bpy.ops.extensions.package_install_files(filepath=build(os.path.join(tmp, "dist")), repo="user_default",
                                             enable_on_install=True)  # fmt: skip
    display = importlib.import_module("bl_ext.user_default.saga_blender.display_nodes")
    for obj in list(bpy.data.objects):  # the default scene's cube, light and camera
        bpy.data.objects.remove(obj)

    # 1. Solid view: spheres in the material colour, then footprints in the splat's colours
    bpy.ops.saga.import_splat(filepath=GUITAR)
    guitar = bpy.context.view_layer.objects.active
    frame_camera(world_points(guitar))
    display.set_display_input(guitar, "Footprints", False)
    before = render(os.path.join(tmp, "points.png"), "MATERIAL")
    display.set_display_input(guitar, "Footprints", True)
    after = render(os.path.join(tmp, "footprints.png"))
    save(row(before, after), os.path.join(out, "solid_view_colours.png"))

    # 2. Select Floaters on the capture with stray Gaussians added
    bpy.data.objects.remove(guitar)
    dirty = os.path.join(tmp, "guitar_with_floaters.ply")
    with_floaters(GUITAR, dirty)
    bpy.ops.saga.import_splat(filepath=dirty)
    obj = bpy.context.view_layer.objects.active
    frame_camera(world_points(obj), margin=1.6)
    obj.saga_show_selection = True
    a = render(os.path.join(tmp, "dirty.png"))
    bpy.ops.saga.select_floaters(strength=0.5)
    b = render(os.path.join(tmp, "selected.png"))
    bpy.ops.saga.selection_delete(group="Floaters")
    c = render(os.path.join(tmp, "clean.png"))
    save(row(a, b, c), os.path.join(out, "select_floaters.png"))

    # 3. the histogram Select by Attribute draws
    bpy.ops.saga.select_by_attribute(measure="OPACITY", opacity=0.1)
    pixels = importlib.import_module("bl_ext.user_default.saga_blender.histogram_preview").histogram_pixels(
        obj, "OPACITY")  # fmt: skip
    save(np.repeat(np.repeat(pixels, 2, axis=0), 2, axis=1), os.path.join(out, "select_by_attribute.png"))

    # 4. Grow / Shrink from a small selection on the headstock
    points = world_points(obj)
    top = points[:, 2] > np.percentile(points[:, 2], 99.0)
    obj.vertex_groups.new(name="Headstock").add(np.flatnonzero(top).tolist(), 1.0, "REPLACE")
    obj.vertex_groups.active = obj.vertex_groups["Headstock"]
    frame_camera(points[points[:, 2] > np.percentile(points[:, 2], 55)], margin=1.1, side_of=points)
    importlib.import_module("bl_ext.user_default.saga_blender.selection_preview").sync_highlight(obj)
    a = render(os.path.join(tmp, "start.png"))
    bpy.ops.saga.selection_grow(group="Headstock", mode="DISTANCE", distance=1.0)
    b = render(os.path.join(tmp, "grown.png"))
    bpy.ops.saga.selection_shrink(group="Headstock", steps=10)
    c = render(os.path.join(tmp, "shrunk.png"))
    save(row(a, b, c), os.path.join(out, "grow_selection.png"))
    print(f"pictures in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
