"""Click to selection in Blender at 1M points: the click tool's code path talking to a local engine on CPU.

    .venv-bpy50/bin/python benchmarks/bench_blender_click.py [--gaussians 1000000] [--clicks 9]

The engine's Python (.venv) writes the synthetic scene with N Gaussians and a prepared work folder holding D = 32
features made from the part labels (as bench_latency.py), so the engine finds the scene prepared. Blender imports
the splat, and each click goes through ``SAGA_OT_click_select.modal`` (stand-in event in a 512x512 viewport):
viewport camera -> HTTP query -> ids -> vertex mask (what the overlay draws). Timed separately: writing the
selection as a vertex group (Enter). Medians over different clicks in one view.
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="saga-bench-user-"))
sys.path[:0] = [ROOT, os.path.join(ROOT, "scripts")]

import bpy  # noqa: E402
import numpy as np  # noqa: E402

PREPARE = """
import sys, numpy as np
sys.path.insert(0, {root!r})
from engine.service.state import scene_workdir
from engine.synthetic.label_features import label_feature_checkpoint
from engine.synthetic.scene_generator import generate_table_scene
from engine.training.checkpoint import CHECKPOINT_NAME, save_checkpoint
from saga_blender.core.splat_io import write_splat
scene = generate_table_scene({n}, seed=0)
write_splat({ply!r}, scene.splat)
ckpt = label_feature_checkpoint(scene, np.random.default_rng(0))
save_checkpoint(scene_workdir({data!r}, ckpt.content_hash) + "/" + CHECKPOINT_NAME, ckpt)
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gaussians", type=int, default=1_000_000)
    ap.add_argument("--clicks", type=int, default=9)
    ap.add_argument("--engine-python", default=os.path.join(ROOT, ".venv", "bin", "python"))
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="saga-bench-click-")
    ply, data = os.path.join(tmp, "scene.ply"), os.path.join(tmp, "data")
    code = PREPARE.format(root=ROOT, n=args.gaussians, ply=ply, data=data)
    subprocess.run([args.engine_python, "-c", code], check=True)
    from build_extension import build

    bpy.ops.extensions.package_install_files(filepath=build(os.path.join(tmp, "dist")), repo="user_default",
                                             enable_on_install=True)  # fmt: skip
    module = "bl_ext.user_default.saga_blender"
    session = importlib.import_module(module + ".engine_session").SESSION
    process = importlib.import_module(module + ".engine_process")
    headless = importlib.import_module(module + ".headless")
    session.local = process.LocalEngine(args.engine_python, data)
    session.client = session.local.start()
    try:
        for obj in list(bpy.data.objects):
            bpy.data.objects.remove(obj)
        bpy.ops.saga.import_splat(filepath=ply, up_axis="Z")
        obj = bpy.context.view_layer.objects.active
        from mathutils import Vector

        cam = bpy.data.objects.new("view", bpy.data.cameras.new("view"))
        bpy.context.scene.collection.objects.link(cam)
        cam.location, cam.rotation_euler = Vector((0.0, -1.7, 2.05)), (np.radians(55), 0.0, 0.0)
        bpy.context.view_layer.update()
        region, rv3d = headless.viewport_from_camera(cam, 512, 512)
        tool = headless.HeadlessClickTool(obj, region, rv3d)
        rng = np.random.default_rng(1)
        clicks, keeps, sizes = [], [], []
        tool.event("LEFTMOUSE", 256, 256)  # first click in the view: the engine projects the centres once
        tool.event("ESC")
        while len(clicks) < args.clicks:
            tool = headless.HeadlessClickTool(obj, region, rv3d)
            x, y = (int(v) for v in rng.integers(180, 332, 2))
            t0 = time.perf_counter()
            try:
                tool.event("LEFTMOUSE", x, y)
            except Exception:  # a click on background: not a sample
                continue
            if not tool.mask.any():
                continue
            clicks.append(time.perf_counter() - t0)
            sizes.append(int(tool.mask.sum()))
            t0 = time.perf_counter()
            tool.event("RET")
            keeps.append(time.perf_counter() - t0)
    finally:
        session.stop()
    print(f"Blender {bpy.app.version_string}, {os.cpu_count()} CPU threads, engine on CPU; {args.gaussians:,} points, "
          f"median selection {int(statistics.median(sizes)):,}")  # fmt: skip
    print("what | median ms")
    click_ms = 1e3 * statistics.median(clicks)
    print(f"click -> selection shown (viewport camera, HTTP query, ids -> vertex mask) | {click_ms:.1f}")
    print(f"Enter -> vertex group written | {1e3 * statistics.median(keeps):.1f}")


if __name__ == "__main__":
    main()
