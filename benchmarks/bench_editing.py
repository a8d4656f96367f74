"""The editing toolkit at 1M Gaussians in Blender: every clean-up selection operator, Select Similar through a local
engine, export to each format (one object and two merged), .spz import, and the display's evaluation. Prints a table.

    .venv-bpy50/bin/python benchmarks/bench_editing.py [--gaussians 1000000] [--repeat 3]

The engine's Python (.venv) writes the synthetic table scene (surfaces, as a capture's) with SH degree 3 and a
prepared work folder of label-made features (as bench_blender_click.py), so Select Similar finds the scene prepared.
Selections start from the table (the largest object, touching everything on it). Operators are run as a user runs
them (``bpy.ops``: reading the selection, the work, writing the vertex group) with the display modifier hidden, and
the display's re-evaluation after a change (what the viewport adds before it shows the result) is timed on its own,
at the Density import sets (300k footprints of the 1M); medians of ``--repeat`` runs, the first Grow (which builds
the neighbour grid) timed on its own.
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
rng = np.random.default_rng(0)
scene.splat.sh_rest = rng.normal(0, 0.05, (len(scene.splat), 15, 3)).astype(np.float32)  # SH degree 3
write_splat({ply!r}, scene.splat)
np.save({labels!r}, scene.object_id)
ckpt = label_feature_checkpoint(scene, rng)
save_checkpoint(scene_workdir({data!r}, ckpt.content_hash) + "/" + CHECKPOINT_NAME, ckpt)
"""


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def median_of(fn, repeat: int) -> float:
    return statistics.median(timed(fn) for _ in range(repeat))


def set_group(obj, name: str, indices: np.ndarray) -> None:
    old = obj.vertex_groups.get(name)
    if old is not None:
        obj.vertex_groups.remove(old)
    obj.vertex_groups.new(name=name).add(indices.tolist(), 1.0, "REPLACE")
    obj.vertex_groups.active = obj.vertex_groups[name]


def display_time(obj, display, footprints: bool, density: float) -> float:
    display.set_display_input(obj, "Footprints", footprints)
    display.set_display_input(obj, "Density", density)
    obj.data.update()
    return timed(lambda: bpy.context.evaluated_depsgraph_get().update())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gaussians", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--engine-python", default=os.path.join(ROOT, ".venv", "bin", "python"))
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="saga-bench-edit-")
    ply, data, labels_path = (os.path.join(tmp, name) for name in ("scene.ply", "data", "labels.npy"))
    code = PREPARE.format(root=ROOT, n=args.gaussians, ply=ply, data=data, labels=labels_path)
    subprocess.run([args.engine_python, "-c", code], check=True)
    from build_extension import build

    bpy.ops.extensions.package_install_files(filepath=build(os.path.join(tmp, "dist")), repo="user_default",
                                             enable_on_install=True)  # fmt: skip
    module = "bl_ext.user_default.saga_blender"
    session = importlib.import_module(module + ".engine_session").SESSION
    process = importlib.import_module(module + ".engine_process")
    display = importlib.import_module(module + ".display_nodes")
    session.local = process.LocalEngine(args.engine_python, data)
    session.client = session.local.start()
    rows = []
    try:
        imports = []
        for _ in range(args.repeat):  # the first import of a session also faults in fresh memory (~2 s more)
            for o in list(bpy.data.objects):
                bpy.data.objects.remove(o)
            for m in list(bpy.data.meshes):
                bpy.data.meshes.remove(m)
            imports.append(timed(lambda: bpy.ops.saga.import_splat(filepath=ply, up_axis="Z")))
        rows.append(("import .ply (File > Import)", statistics.median(imports)))
        obj = bpy.context.view_layer.objects.active
        mod = display.display_modifier(obj)
        default_density = display.get_display_input(obj, "Density")
        mod.show_viewport = False  # the operators alone; the display's update is timed below
        labels = np.load(labels_path)
        table = np.flatnonzero(labels == 1)  # the table: 200k of the 1M, touching the floor and every object
        r = args.repeat
        rows.append(("Select Floaters (strength 0.5)", median_of(lambda: bpy.ops.saga.select_floaters(), r)))
        for measure, kw in (("OPACITY", {"opacity": 0.05}), ("SIZE", {"size": 0.0}), ("ELONGATION", {})):
            rows.append((f"Select by Attribute: {measure.lower()}", median_of(
                lambda m=measure, kw=kw: bpy.ops.saga.select_by_attribute(measure=m, **kw), r)))  # fmt: skip
        set_group(obj, "Table", table)
        rows.append(("Grow 1 step, first use (builds the neighbour grid)",
                     timed(lambda: bpy.ops.saga.selection_grow(group="Table", steps=1))))  # fmt: skip
        for label, op, kw in [
            ("Grow 1 step", bpy.ops.saga.selection_grow, {"steps": 1}),
            ("Grow 5 steps", bpy.ops.saga.selection_grow, {"steps": 5}),
            ("Grow by 2 cm (distance mode)", bpy.ops.saga.selection_grow, {"mode": "DISTANCE", "distance": 0.02}),
            ("Shrink 1 step", bpy.ops.saga.selection_shrink, {"steps": 1}),
            ("Shrink by 2 cm", bpy.ops.saga.selection_shrink, {"mode": "DISTANCE", "distance": 0.02}),
        ]:

            def run(op=op, kw=kw):
                set_group(obj, "Table", table)
                t0 = time.perf_counter()
                op(group="Table", **kw)
                return time.perf_counter() - t0

            rows.append((label + " (table, 200k)", statistics.median(run() for _ in range(r))))
        set_group(obj, "Table", table)
        wm = bpy.context.window_manager
        wm.saga_scale, wm.saga_threshold = 0.5, 0.75
        bpy.ops.saga.select_similar("INVOKE_DEFAULT")  # first call loads the scene's features in the engine
        rows.append(("Select Similar (table, engine on CPU, HTTP)", median_of(
            lambda: bpy.ops.saga.select_similar(scale=0.5, threshold=0.75), r)))  # fmt: skip
        for name, kw in [("out_v3.spz", {"spz_version": "3"}), ("out_v4.spz", {"spz_version": "4"}),
                         ("out.compressed.ply", {}), ("out.splat", {}), ("out.ply", {})]:  # fmt: skip
            path = os.path.join(tmp, name)
            bpy.context.view_layer.objects.active = obj
            seconds = median_of(lambda p=path, kw=kw: bpy.ops.saga.export_splat(filepath=p, **kw), r)
            size = os.path.getsize(path) / 2**20
            rows.append((f"export {name.split('_')[-1] if 'spz' in name else name[3:]} ({size:.0f} MiB)", seconds))
        spz = os.path.join(tmp, "out_v3.spz")
        spz_imports = []
        for _ in range(args.repeat):
            for o in [o for o in bpy.data.objects if o is not obj]:
                mesh = o.data
                bpy.data.objects.remove(o)
                if mesh is not None and mesh.users == 0:
                    bpy.data.meshes.remove(mesh)
            spz_imports.append(timed(lambda: bpy.ops.saga.import_splat(filepath=spz, up_axis="Z")))
        rows.append(("import .spz version 3", statistics.median(spz_imports)))
        part = bpy.context.view_layer.objects.active
        part.location = (2.0, 0.0, 0.0)
        for o in bpy.data.objects:
            o.select_set(o in (obj, part))
        bpy.context.view_layer.objects.active = obj
        merged = os.path.join(tmp, "merged.spz")
        rows.append(("export two 1M objects merged to .spz (2M)", median_of(
            lambda: bpy.ops.saga.export_splat(filepath=merged, merge_selected=True), r)))  # fmt: skip
        bpy.data.objects.remove(part)
        mod.show_viewport = True
        for footprints, density in ((True, default_density), (True, 1.0), (False, 1.0)):
            what = ("footprints" if footprints else "points") + f", density {density:g}"
            rows.append((f"display evaluation ({what})", statistics.median(
                display_time(obj, display, footprints, density) for _ in range(r))))  # fmt: skip
    finally:
        session.stop()
    print(f"Blender {bpy.app.version_string}, {os.cpu_count()} CPU threads; {args.gaussians:,} Gaussians (SH 3), "
          f"synthetic table scene; median of {args.repeat}")  # fmt: skip
    print("what | seconds")
    for label, seconds in rows:
        print(f"{label} | {seconds:.3f}")


if __name__ == "__main__":
    main()
