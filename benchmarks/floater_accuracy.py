"""Select Floaters on scenes with known floaters: the synthetic table scene (1M) and the real captures, each with
3,600 stray Gaussians added (3,000 uniform in a box three times the scene's, 15 clusters of 40 in the air). Prints
the share of strays found, the share of the scene flagged, and the time, per strength.

    .venv/bin/python benchmarks/floater_accuracy.py [--gaussians 1000000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from saga_blender.core.floaters import select_floaters  # noqa: E402
from saga_blender.core.splat_io import read_splat  # noqa: E402


def add_strays(p, opacity, rng, far=3000, clusters=15, per=40):
    lo, hi = p.min(0), p.max(0)
    centre, extent = (lo + hi) / 2, hi - lo
    points = [centre + (rng.random((far, 3)) - 0.5) * extent * 3]
    sample = p[:: max(1, len(p) // 20000)]
    for _ in range(clusters):
        while True:  # a cluster in the air: away from the scene's surfaces
            c = centre + (rng.random(3) - 0.5) * extent * 1.6
            if np.min(np.linalg.norm(sample - c, axis=1)) > 0.08 * extent.max():
                break
        points.append(c + rng.normal(0, 0.005 * extent.max(), (per, 3)))
    strays = np.concatenate(points)
    return (np.concatenate([p, strays]), np.concatenate([opacity, rng.uniform(0.05, 0.6, len(strays))]),
            np.arange(len(p) + len(strays)) >= len(p))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gaussians", type=int, default=1_000_000)
    args = ap.parse_args()
    from engine.synthetic.scene_generator import generate_table_scene

    scenes = [(f"synthetic table scene ({args.gaussians:,})", generate_table_scene(args.gaussians, seed=0).splat)]
    real = os.path.join(ROOT, "..", "shared", "data", "real")
    for name in ("guitar.compressed.ply", "biker.compressed.ply"):
        if os.path.exists(os.path.join(real, name)):
            scenes.append((name, read_splat(os.path.join(real, name)).splat))
    rng = np.random.default_rng(0)
    print("scene | strength | strays found | scene flagged | seconds")
    for name, splat in scenes:
        p, opacity, truth = add_strays(splat.means.astype(np.float64), splat.opacities.astype(np.float64), rng)
        for strength in (0.0, 0.25, 0.5, 0.75, 1.0):
            t0 = time.perf_counter()
            mask = select_floaters(p, opacity, strength).mask
            seconds = time.perf_counter() - t0
            print(f"{name} | {strength:g} | {mask[truth].mean():.1%} | {mask[~truth].mean():.2%} | {seconds:.2f}")


if __name__ == "__main__":
    main()
