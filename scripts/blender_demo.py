"""The main job, headless in Blender (bpy), on the built-in demo scene: what an artist does, end to end.

    .venv-bpy50/bin/python scripts/blender_demo.py [--out demo_out] [--iterations 2000]

1. generate the demo scene (engine CLI) and install the extension into a throw-away Blender user folder;
2. start a local engine (the project's .venv Python), import the splat (File > Import), Prepare Scene with the
   weights-free masks;
3. click the lamp's shade through the click tool's own code path (a viewport looking through a camera,
   stand-in mouse events), at the lamp's scale, Enter: the selection becomes the vertex group "lamp";
4. delete those points, export the edited splat (File > Export), and render before / after with the engine.
The scene's labels tell the script where the lamp is on screen (as an artist's eyes would).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="saga-demo-user-"))
sys.path[:0] = [ROOT, os.path.join(ROOT, "scripts")]

import bpy  # noqa: E402
import numpy as np  # noqa: E402


def log(msg: str) -> None:
    print(msg, flush=True)


def engine_cli(python: str, *args: str) -> None:
    subprocess.run([python, "-m", "engine", *args], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def side_by_side(paths: list[str], out: str) -> None:
    """Concatenate PNGs left to right with Blender's image API."""
    images = [bpy.data.images.load(p) for p in paths]
    w, h = images[0].size
    rows = [np.array(img.pixels[:], np.float32).reshape(h, w, 4) for img in images]
    joined = np.concatenate(rows, axis=1)
    result = bpy.data.images.new("side_by_side", width=w * len(rows), height=h, alpha=True)
    result.pixels.foreach_set(joined.ravel())
    result.filepath_raw, result.file_format = out, "PNG"
    result.save()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(ROOT, "demo_out"))
    ap.add_argument("--gaussians", type=int, default=200_000)
    ap.add_argument("--iterations", type=int, default=2000)
    ap.add_argument("--views", type=int, default=24)
    ap.add_argument("--engine-python", default=os.path.join(ROOT, ".venv", "bin", "python"))
    args = ap.parse_args()
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    t0 = time.perf_counter()

    log(f"[1/5] demo scene ({args.gaussians:,} Gaussians) and the extension")
    engine_cli(args.engine_python, "generate-scene", out, "--gaussians", str(args.gaussians), "--name", "demo_scene")
    from build_extension import build

    zip_path = build(os.path.join(out, "dist"))
    bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default", enable_on_install=True)
    module = "bl_ext.user_default.saga_blender"
    import importlib

    session = importlib.import_module(module + ".engine_session").SESSION
    process = importlib.import_module(module + ".engine_process")
    headless = importlib.import_module(module + ".headless")

    log("[2/5] local engine, import, Prepare Scene (weights-free masks)")
    session.local = process.LocalEngine(args.engine_python, os.path.join(out, "engine_data"))
    session.client = session.local.start()
    try:
        for obj in list(bpy.data.objects):
            bpy.data.objects.remove(obj)
        scene_path = os.path.join(out, "demo_scene.ply")
        bpy.ops.saga.import_splat(filepath=scene_path, up_axis="Z")
        obj = bpy.context.view_layer.objects.active
        bpy.ops.saga.prepare(views="SPLAT", view_count=args.views, iterations=args.iterations)
        last = 0.0
        while session.prepare.state == "running":
            session.drain()
            p = session.prepare
            if time.perf_counter() - last > 10:
                eta = f", ETA {p.eta_s:.0f} s" if p.eta_s else ""
                log(f"      [{p.percent:5.1f}%] {p.stage}: {p.message}{eta}")
                last = time.perf_counter()
            time.sleep(0.3)
        session.drain()
        if session.prepare.state != "done":
            raise RuntimeError(f"prepare {session.prepare.state}: {session.prepare.error}")

        log("[3/5] one click on the lamp's shade, at the lamp's scale (the click tool's code path)")
        from mathutils import Vector

        labels = np.load(os.path.join(out, "demo_scene_labels.npz"))
        parts = list(labels["part_names"])
        co = np.empty(len(obj.data.vertices) * 3, np.float32)
        obj.data.vertices.foreach_get("co", co)
        co = co.reshape(-1, 3)
        shade = labels["part_id"] == parts.index("lamp/shade")
        cam = bpy.data.objects.new("demo_view", bpy.data.cameras.new("demo_view"))
        bpy.context.scene.collection.objects.link(cam)
        centre = Vector(co.mean(axis=0).tolist())
        cam.location = centre + Vector((0.0, -1.7, 1.25))
        cam.rotation_euler = (np.radians(55), 0.0, 0.0)
        bpy.context.view_layer.update()
        region, rv3d = headless.viewport_from_camera(cam, 512, 512)
        from bpy_extras.view3d_utils import location_3d_to_region_2d

        xy = location_3d_to_region_2d(region, rv3d, Vector(co[shade].mean(axis=0).tolist()))
        bpy.context.window_manager.saga_scale = 0.5
        tool = headless.HeadlessClickTool(obj, region, rv3d, group_name="lamp")
        t = time.perf_counter()
        tool.event("LEFTMOUSE", round(xy.x), round(xy.y))
        click_ms = 1e3 * (time.perf_counter() - t)
        tool.event("RET")
        lamp = labels["object_id"] == list(labels["object_names"]).index("lamp")
        iou = (tool.mask & lamp).sum() / (tool.mask | lamp).sum()
        verdict = "met" if iou >= 0.95 else "NOT met"
        left = int((lamp & ~tool.mask).sum())
        log(f"      {int(tool.mask.sum()):,} points selected in {click_ms:.0f} ms (IoU with the lamp {iou:.3f} over "
            f"all its Gaussians, target 0.95: {verdict}; {left:,} of its {int(lamp.sum()):,} stay); kept as vertex "
            f"group '{obj.vertex_groups.active.name}'")  # fmt: skip

        log("[4/5] delete the lamp and export the edited splat")
        bpy.ops.saga.selection_delete(group=obj.vertex_groups.active.name)
        edited = os.path.join(out, "scene_edited.ply")
        bpy.ops.saga.export_splat(filepath=edited)

        log("[5/5] before / after, rendered by the engine from the same view")
        from engine.cameras.cameras import Cameras

        view = tool.camera(tool.context)
        Cameras(view.viewmat[None], view.K[None], view.width, view.height, ["view"]).save_json(
            os.path.join(out, "demo_view.json"))  # fmt: skip
        for name, splat in (("before", scene_path), ("after", edited)):
            engine_cli(args.engine_python, "render", splat, "--cameras", os.path.join(out, "demo_view.json"),
                       "--out", os.path.join(out, name), "--no-depth")  # fmt: skip
        side_by_side([os.path.join(out, "before", "view.png"), os.path.join(out, "after", "view.png")],
                     os.path.join(out, "blender_before_after.png"))  # fmt: skip
        summary = {
            "selected": int(tool.mask.sum()), "iou_with_lamp": round(float(iou), 3), "click_ms": round(click_ms, 1),
            "edited": edited, "seconds": round(time.perf_counter() - t0, 1),
        }  # fmt: skip
        with open(os.path.join(out, "blender_demo.json"), "w") as fh:
            json.dump(summary, fh, indent=1)
        log(f"done in {summary['seconds']} s: {edited}, {out}/blender_before_after.png")
    finally:
        session.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
