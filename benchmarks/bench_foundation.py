"""Foundation benchmarks: splat file read/write and rendering. Prints a table; asserts nothing.

    .venv/bin/python benchmarks/bench_foundation.py [--quick]

- read/write of a 1M-Gaussian INRIA .ply (SH degree 3, 62 properties), against the floor of reading the
  same bytes with numpy alone (ratio in the same run);
- render of the synthetic table scene at 256x256 with the PyTorch backend on CPU, 100k and 1M Gaussians,
  colour + expected depth; top-32 contributor extraction at the same size;
- the gsplat backend on the same views where CUDA and gsplat are present (ratio torch / gsplat).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import tempfile
import time

import numpy as np
import torch


def timed(fn, repeat: int = 3, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def machine() -> str:
    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""
    threads = torch.get_num_threads()
    return f"{platform.machine()}, {os.cpu_count()} CPU threads, torch {torch.__version__} ({threads} threads){gpu}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="100k only (no 1M rows)")
    args = ap.parse_args()

    from engine.cameras.auto_views import auto_views
    from engine.render.contributors import render_contributors
    from engine.render.rasterization import gsplat_available, rasterization
    from engine.render.splat_tensors import cameras_to_tensors, splat_to_tensors
    from engine.synthetic.scene_generator import generate_table_scene
    from saga_blender.core.splat_io import read_splat, write_splat

    print(f"machine: {machine()}")
    rows = []
    sizes = [100_000] if args.quick else [100_000, 1_000_000]
    with tempfile.TemporaryDirectory() as tmp:
        scene = generate_table_scene(1_000_000 if not args.quick else 100_000, seed=0, sh_degree=3)
        path = os.path.join(tmp, "scene.ply")
        t_write = timed(lambda: write_splat(path, scene.splat), repeat=2)
        t_read = timed(lambda: read_splat(path), repeat=3)
        size = os.path.getsize(path)
        t_floor = timed(lambda: np.fromfile(path, dtype=np.uint8).copy(), repeat=3)
        n = len(scene.splat)
        rows.append((f"read INRIA .ply, {n:,} Gaussians, SH3 ({size / 2**20:.0f} MiB)", t_read,
                     f"{t_read / t_floor:.1f}x raw np.fromfile ({t_floor * 1e3:.0f} ms)"))  # fmt: skip
        rows.append((f"write INRIA .ply, {n:,} Gaussians", t_write, ""))

    for n in sizes:
        scene = generate_table_scene(n, seed=0)
        cams = auto_views(scene.splat, 1, width=256, height=256, layout="object", up=scene.up)
        for device in ["cpu"] + (["cuda"] if torch.cuda.is_available() else []):
            st = splat_to_tensors(scene.splat, device)
            vm, K = cameras_to_tensors(cams, device)

            def render(backend, st=st, vm=vm, K=K):
                with torch.no_grad():
                    rasterization(st.means, st.quats, st.scales, st.opacities, st.sh, vm, K, 256, 256,
                                  sh_degree=0, render_mode="RGB+ED", backend=backend)  # fmt: skip

            t_torch = timed(lambda render=render: render("torch"), repeat=3 if device == "cpu" else 10)
            note = ""
            if device == "cuda" and gsplat_available():
                t_gs = timed(lambda render=render: render("gsplat"), repeat=20)
                rows.append((f"render 256x256 RGB+depth, {n:,} Gaussians, gsplat CUDA", t_gs, ""))
                note = f"{t_torch / t_gs:.1f}x gsplat"
            rows.append((f"render 256x256 RGB+depth, {n:,} Gaussians, torch {device}", t_torch, note))

            def contrib(st=st, vm=vm, K=K):
                render_contributors(st.means, st.quats, st.scales, st.opacities, vm, K, 256, 256, top_k=32,
                                    backend="torch")  # fmt: skip

            rows.append((f"top-32 contributors 256x256, {n:,} Gaussians, torch {device}",
                         timed(contrib, repeat=3 if device == "cpu" else 10), ""))  # fmt: skip

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    width = max(len(r[0]) for r in rows)
    print(f"\n{'what'.ljust(width)} | seconds | compared")
    for what, secs, note in rows:
        print(f"{what.ljust(width)} | {secs:7.3f} | {note}")
    print(f"\npeak resident memory of this process: {peak:.2f} GiB")


if __name__ == "__main__":
    main()
