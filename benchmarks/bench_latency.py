"""Query latency: click to ids, scale change, threshold change, segment everything. Prints a table; asserts nothing.

    .venv/bin/python benchmarks/bench_latency.py [--sizes 100000,1000000,5000000] [--device cpu|cuda]

For each size N the synthetic table scene is generated with N Gaussians and given D = 32 features made from its
part labels plus noise (so selections have realistic sizes; the timings do not depend on how the features
were learned). The camera is an automatic 512x512 view. Timed (median of several different clicks):
  (a) click -> ids: the clicked pixel's contributors, the query feature, the scores, the threshold, the ids;
      "first click in a view" includes projecting every centre into the new camera, later clicks re-use it;
  (b) a scale change for the same click; (c) a threshold change; (d) segment everything (HDBSCAN).
Peak memory is the process's (CPU) and torch's allocator peak (GPU).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import time

import numpy as np
import torch


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def run_size(n: int, device: str, clicks: int) -> dict:
    from engine.cameras.auto_views import auto_views
    from engine.query.predictor import ScenePredictor
    from engine.query.prompts import Prompts, QueryCamera
    from engine.query.segment_everything import segment_everything
    from engine.render.pixel_contributors import PixelContributorFinder
    from engine.synthetic.label_features import label_feature_checkpoint
    from engine.synthetic.scene_generator import generate_table_scene

    scene = generate_table_scene(n, seed=0)
    rng = np.random.default_rng(0)
    ckpt = label_feature_checkpoint(scene, rng)
    t0 = time.perf_counter()
    predictor = ScenePredictor(scene.splat, ckpt, device)
    load_s = time.perf_counter() - t0
    cams = auto_views(scene.splat, 2, width=512, height=512, layout="object", up=scene.up)
    cam_a, cam_b = QueryCamera.from_cameras(cams, 0), QueryCamera.from_cameras(cams, 1)
    # clicks on covered pixels (accumulated alpha > 0.9) near the centre of the image; found with a separate
    # finder, so that the predictor's per-camera cache starts cold
    grid = torch.from_numpy(rng.integers(160, 352, size=(400, 2)))
    probe = PixelContributorFinder(predictor.finder.splat)

    def covered(c: int) -> list[tuple[int, int]]:
        vm, K = (torch.from_numpy(a.astype(np.float32)) for a in (cams.viewmats[c], cams.Ks[c]))
        return [tuple(int(v) for v in p) for p in grid[probe.find(vm, K, 512, 512, grid).alphas > 0.9]]

    pts, pts_b = covered(0)[: clicks + 1], covered(1)

    def click(cam, p, scale=0.5, threshold=0.75):
        t = time.perf_counter()
        sel = predictor.predict(cam, Prompts(positive=[p]), scale, threshold)
        sync(device)
        return time.perf_counter() - t, sel

    click(cam_a, pts[0])  # warm the camera and the scale's norms
    first_view, _ = click(cam_b, pts_b[0])  # a view never seen: projects every centre
    same_view, sizes, scale_change, thr_change = [], [], [], []
    for p in pts[1:]:
        dt, sel = click(cam_a, p)
        same_view.append(dt)
        sizes.append(len(sel.ids))
        scale_change.append(click(cam_a, p, scale=float(rng.uniform(0.05, 0.95)))[0])
        thr_change.append(click(cam_a, p, threshold=0.8)[0])
    t = time.perf_counter()
    clusters = segment_everything(predictor.scorer, 0.5)
    sync(device)
    cluster_s = time.perf_counter() - t
    return {
        "n": n, "load_s": load_s, "first_view_ms": 1e3 * first_view, "click_ms": 1e3 * statistics.median(same_view),
        "scale_ms": 1e3 * statistics.median(scale_change), "threshold_ms": 1e3 * statistics.median(thr_change),
        "cluster_s": cluster_s, "clusters": clusters.count, "selected": int(statistics.median(sizes)),
    }  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100000,1000000,5000000")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cpu", "cuda"])
    ap.add_argument("--clicks", type=int, default=9)
    args = ap.parse_args()
    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ", no GPU"
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPU threads, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads){gpu}; device {args.device}")  # fmt: skip
    print(
        "N | first click in a view ms | click -> ids ms | scale change ms | threshold change ms | "
        "segment everything s (clusters) | selected | peak RSS GiB | GPU peak GiB"
    )
    for n in (int(s) for s in args.sizes.split(",")):
        if args.device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        r = run_size(n, args.device, args.clicks)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        gpu_peak = f"{torch.cuda.max_memory_allocated() / 2**30:.2f}" if args.device == "cuda" else "-"
        print(f"{n:,} | {r['first_view_ms']:.1f} | {r['click_ms']:.1f} | {r['scale_ms']:.1f} | "
              f"{r['threshold_ms']:.1f} | {r['cluster_s']:.2f} ({r['clusters']}) | {r['selected']:,} | {rss:.2f} | "
              f"{gpu_peak}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
