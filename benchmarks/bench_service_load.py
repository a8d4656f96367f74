"""The engine service under load: N clients x M clicks on one prepared scene, through HTTP on loopback.

    .venv/bin/python benchmarks/bench_service_load.py [--gaussians 1000000] [--clients 12] [--clicks 40]

The synthetic scene gets D = 32 label-made features (as bench_service.py) in a prepared work folder, so the engine
finds it prepared. Clicks are spread over a set of pixels of one 512x512 view that hit the scene, a tenth of them on
background (those are 400s: "hits empty background"). First one client alone (the baseline), then N at once.
Printed: p50 / p99 latency, queries per second, the count of 5xx answers (must be 0), and the engine's resident
memory before and after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def run_clients(client_factory, scene_id, camera, pixels, clients: int, clicks: int, seed: int):
    from saga_blender.engine_client import EngineError

    latencies, codes, lock = [], [], threading.Lock()

    def one(i: int) -> None:
        c = client_factory()
        rng = np.random.default_rng(seed + i)
        for _ in range(clicks):
            p = pixels[int(rng.integers(len(pixels)))]
            t0 = time.perf_counter()
            try:
                c.query(scene_id, camera, float(rng.uniform(0.2, 0.9)), positive=[p])
                code = 200
            except EngineError as exc:
                code = exc.status
            dt = time.perf_counter() - t0
            with lock:
                latencies.append(dt)
                codes.append(code)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=3600)
    wall = time.perf_counter() - t0
    return np.array(latencies), codes, wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gaussians", type=int, default=1_000_000)
    ap.add_argument("--clients", type=int, default=12)
    ap.add_argument("--clicks", type=int, default=40)
    args = ap.parse_args()

    from engine.cameras.auto_views import auto_views
    from engine.query.predictor import ScenePredictor
    from engine.query.prompts import PromptError, Prompts, QueryCamera
    from engine.service.state import scene_workdir
    from engine.synthetic.label_features import label_feature_checkpoint
    from engine.synthetic.scene_generator import generate_table_scene
    from engine.training.checkpoint import CHECKPOINT_NAME, save_checkpoint
    from saga_blender.core.splat_io import write_splat
    from saga_blender.engine_client import EngineClient

    tmp = tempfile.mkdtemp(prefix="saga-bench-load-")
    scene = generate_table_scene(args.gaussians, seed=0)
    ply = os.path.join(tmp, "scene.ply")
    write_splat(ply, scene.splat)
    rng = np.random.default_rng(0)
    ckpt = label_feature_checkpoint(scene, rng)
    data_dir = os.path.join(tmp, "data")
    os.makedirs(scene_workdir(data_dir, ckpt.content_hash))
    save_checkpoint(os.path.join(scene_workdir(data_dir, ckpt.content_hash), CHECKPOINT_NAME), ckpt)
    cams = auto_views(scene.splat, 1, width=512, height=512, layout="object", up=scene.up)
    camera = {"viewmat": cams.viewmats[0].tolist(), "K": cams.Ks[0].tolist(), "width": 512, "height": 512}
    predictor, qcam = ScenePredictor(scene.splat, ckpt), QueryCamera.from_cameras(cams, 0)
    hits, misses = [], []
    for _ in range(3000):  # pixels that hit the scene, and some that do not
        p = tuple(float(v) + 0.5 for v in rng.integers(0, 512, 2))
        try:
            predictor.predict(qcam, Prompts(positive=[p]), 0.5)
            hits.append(p)
        except PromptError:
            misses.append(p)
        if len(hits) >= 60 and len(misses) >= 6:
            break
    pixels = hits[:60] + misses[:6]
    del predictor

    proc = subprocess.Popen([sys.executable, "-m", "engine", "serve", "--data-dir", data_dir], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        ready = proc.stdout.readline()
        first = EngineClient.from_ready_line(ready)
        scene_id = first.open_scene(ply)["id"]
        first.query(scene_id, camera, 0.5, positive=[hits[0]])  # load the features, project the view
        rss_before = rss_mib(proc.pid)

        def factory():
            return EngineClient(first.url, first.token, timeout=600)

        base, base_codes, base_wall = run_clients(factory, scene_id, camera, pixels, 1, args.clicks, 100)
        lat, codes, wall = run_clients(factory, scene_id, camera, pixels, args.clients, args.clicks, 0)
        rss_after = rss_mib(proc.pid)
        first.shutdown()
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()

    def row(name, lat, codes, wall, clients):
        ms = 1e3 * lat
        five = sum(c >= 500 for c in codes)
        return (f"| {name} | {clients} x {len(codes) // clients} | {statistics.median(ms):.1f} | "
                f"{np.percentile(ms, 99):.1f} | {len(codes) / wall:.1f} | {five} | {codes.count(400)} |")  # fmt: skip

    print(f"{args.gaussians:,} Gaussians, D = 32, one 512x512 view, {os.cpu_count()} CPU threads")
    print("| run | clients x clicks | p50 ms | p99 ms | queries/s | 5xx | 400 (background) |")
    print("|---|---|---|---|---|---|---|")
    print(row("one client (baseline)", base, base_codes, base_wall, 1))
    print(row(f"{args.clients} clients at once", lat, codes, wall, args.clients))
    print(f"engine resident memory: {rss_before:.0f} MiB before, {rss_after:.0f} MiB after "
          f"({rss_after - rss_before:+.0f} MiB)")  # fmt: skip
    if any(c >= 500 for c in codes + base_codes):
        raise SystemExit("5xx answers under load")


if __name__ == "__main__":
    main()
