"""Blender extension benchmark: import, selection edits and export at 1M Gaussians. Prints a table.

    bash scripts/setup_blender_env.sh 5.0
    .venv-bpy50/bin/python benchmarks/bench_blender.py [--gaussians 1000000] [--selected 300000]

Writes a random SH-degree-3 INRIA .ply (62 properties) into a temporary folder, builds and installs the
extension into a temporary Blender user folder, then times (median of 3 where cheap) File > Import, the
selection operators on a 300k-point selection, and File > Export of the whole object. Each operator's time includes
the display's re-evaluation that ``bpy.ops`` runs after it (the viewport would run it before showing the result).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="saga-bench-user-"))
sys.path[:0] = [ROOT, os.path.join(ROOT, "scripts")]

import bpy  # noqa: E402
import numpy as np  # noqa: E402


def random_splat(n: int, seed: int = 0):
    from saga_blender.core.gaussians import GaussianSplat

    rng = np.random.default_rng(seed)
    f = np.float32
    return GaussianSplat(
        means=rng.normal(size=(n, 3)).astype(f), quats=rng.normal(size=(n, 4)).astype(f),
        log_scales=rng.normal(-4, 0.5, size=(n, 3)).astype(f), opacity_logits=rng.normal(size=n).astype(f),
        sh_dc=rng.normal(size=(n, 3)).astype(f), sh_rest=rng.normal(0, 0.1, size=(n, 15, 3)).astype(f),
        normals=np.zeros((n, 3), f),
    )  # fmt: skip


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gaussians", type=int, default=1_000_000)
    ap.add_argument("--selected", type=int, default=300_000)
    args = ap.parse_args()
    from build_extension import build

    from saga_blender.core.splat_io import write_splat

    tmp = tempfile.mkdtemp(prefix="saga-bench-")
    path = os.path.join(tmp, "bench.ply")
    write_splat(path, random_splat(args.gaussians))
    zip_path = build(os.path.join(tmp, "dist"))
    bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default", enable_on_install=True)
    print(f"Blender {bpy.app.version_string}, {os.cpu_count()} CPU threads; {args.gaussians:,} Gaussians (SH 3), "
          f"selection of {args.selected:,}")  # fmt: skip
    rows = []
    import_times = []
    for _ in range(3):
        for obj in list(bpy.data.objects):
            bpy.data.objects.remove(obj)
        for mesh in list(bpy.data.meshes):
            bpy.data.meshes.remove(mesh)
        import_times.append(timed(lambda: bpy.ops.saga.import_splat(filepath=path)))
    rows.append(("import .ply (File > Import)", statistics.median(import_times)))
    obj = bpy.context.view_layer.objects.active
    rng = np.random.default_rng(1)
    sel = np.sort(rng.choice(args.gaussians, args.selected, replace=False))

    def reset_groups():
        for g in list(obj.vertex_groups):
            obj.vertex_groups.remove(g)
        obj.vertex_groups.new(name="sel").add(sel.tolist(), 1.0, "REPLACE")
        obj.vertex_groups.new(name="other").add(np.arange(0, args.gaussians, 3).tolist(), 1.0, "REPLACE")
        obj.vertex_groups.active = obj.vertex_groups["sel"]
        bpy.context.view_layer.update()  # the display follows the reset here, not inside the next timing

    rows.append(("write a 300k selection (vertex group)", timed(reset_groups)))
    for label, op, kwargs in [
        ("invert selection", bpy.ops.saga.selection_invert, {}),
        ("combine two selections", bpy.ops.saga.selection_combine, {"other": "other"}),
        ("subtract a selection", bpy.ops.saga.selection_subtract, {"other": "other"}),
        ("duplicate selection to a new object", bpy.ops.saga.selection_duplicate, {}),
    ]:
        reset_groups()
        rows.append((label, timed(lambda op=op, kwargs=kwargs: op(group="sel", **kwargs))))
    reset_groups()
    rows.append(
        ("separate selection (new object + delete)", timed(lambda: bpy.ops.saga.selection_separate(group="sel")))
    )
    bpy.context.view_layer.objects.active = obj
    obj.vertex_groups.active = obj.vertex_groups["other"]
    rows.append(("delete selected points", timed(lambda: bpy.ops.saga.selection_delete(group="other"))))
    bpy.context.view_layer.objects.active = obj
    out = os.path.join(tmp, "out.ply")
    rows.append((f"export .ply ({len(obj.data.vertices):,} points left)", timed(lambda: bpy.ops.saga.export_splat(
        filepath=out))))  # fmt: skip
    print("what | seconds")
    for label, seconds in rows:
        print(f"{label} | {seconds:.3f}")


if __name__ == "__main__":
    main()
