"""Query round trip through the engine service (HTTP on loopback) against the same query in process.

    .venv/bin/python benchmarks/bench_service.py [--gaussians 1000000] [--clicks 15]

The synthetic scene at N Gaussians gets D = 32 features made from its part labels (as in bench_latency.py),
stored as a prepared work folder in a fresh engine data folder, so the engine finds the scene prepared by
its content hash. Timed per click (median): the client's ``query`` call until the ids are a numpy array in
hand, and ``ScenePredictor.predict`` in this process for the same clicks. Different pixels of one view.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gaussians", type=int, default=1_000_000)
    ap.add_argument("--clicks", type=int, default=15)
    args = ap.parse_args()

    from engine.cameras.auto_views import auto_views
    from engine.query.predictor import ScenePredictor
    from engine.query.prompts import Prompts, QueryCamera
    from engine.service.state import scene_workdir
    from engine.synthetic.label_features import label_feature_checkpoint
    from engine.synthetic.scene_generator import generate_table_scene
    from engine.training.checkpoint import CHECKPOINT_NAME, save_checkpoint
    from saga_blender.core.splat_io import write_splat
    from saga_blender.engine_client import EngineClient

    tmp = tempfile.mkdtemp(prefix="saga-bench-service-")
    scene = generate_table_scene(args.gaussians, seed=0)
    ply = os.path.join(tmp, "scene.ply")
    write_splat(ply, scene.splat)
    rng = np.random.default_rng(0)
    ckpt = label_feature_checkpoint(scene, rng)
    data_dir = os.path.join(tmp, "data")
    save_checkpoint(os.path.join(scene_workdir(data_dir, ckpt.content_hash), CHECKPOINT_NAME), ckpt)

    cams = auto_views(scene.splat, 1, width=512, height=512, layout="object", up=scene.up)
    camera = {"viewmat": cams.viewmats[0].tolist(), "K": cams.Ks[0].tolist(), "width": 512, "height": 512}
    predictor = ScenePredictor(scene.splat, ckpt)
    qcam = QueryCamera.from_cameras(cams, 0)
    pts, tries = [], 0
    while len(pts) < args.clicks + 1 and tries < 2000:  # covered pixels near the centre
        tries += 1
        p = tuple(int(v) for v in rng.integers(180, 332, 2))
        try:
            predictor.predict(qcam, Prompts(positive=[p]), 0.5)
            pts.append(p)
        except ValueError:
            continue

    proc = subprocess.Popen([sys.executable, "-m", "engine", "serve", "--data-dir", data_dir], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        client = EngineClient.from_ready_line(proc.stdout.readline())
        scene_id = client.open_scene(ply)["id"]
        client.query(scene_id, camera, 0.5, positive=[pts[0]])  # load the predictor, project the view
        http, local, sizes = [], [], []
        for p in pts[1:]:
            t0 = time.perf_counter()
            ids = client.query(scene_id, camera, 0.5, positive=[p]).ids
            http.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            sel = predictor.predict(qcam, Prompts(positive=[p]), 0.5)
            local.append(time.perf_counter() - t0)
            assert np.array_equal(ids, sel.ids)
            sizes.append(len(ids))
        client.shutdown()
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    h, loc = 1e3 * statistics.median(http), 1e3 * statistics.median(local)
    print(f"{args.gaussians:,} Gaussians, {len(http)} clicks, median selection {int(statistics.median(sizes)):,} ids, "
          f"{os.cpu_count()} CPU threads")  # fmt: skip
    print("path | click -> ids in hand (median ms)")
    print(f"in process (ScenePredictor.predict) | {loc:.1f}")
    print(f"through the service (HTTP, loopback, .npy ids) | {h:.1f} ({h / loc:.2f}x, +{h - loc:.1f} ms)")


if __name__ == "__main__":
    main()
