"""The main job on the built-in demo scene (``saga-engine demo``).

At this stage: generate the synthetic labelled table scene, choose automatic views from the splat alone,
render them (colour + depth) and write a contact sheet. Later stages (training, a click, the edit, the
export) extend this same flow.
"""

from __future__ import annotations

import os
import time

import numpy as np


def run_demo(out_dir: str, n_gaussians: int = 200_000, n_views: int = 8, size: int = 384, log=print) -> int:
    from engine.cameras.auto_views import auto_views
    from engine.render.image_files import save_png
    from engine.render.render_views import render_to_folder
    from engine.synthetic.scene_generator import generate_table_scene, save_scene

    t0 = time.perf_counter()
    os.makedirs(out_dir, exist_ok=True)
    log(f"[1/3] generating the demo scene ({n_gaussians} Gaussians)")
    scene = generate_table_scene(n_gaussians=n_gaussians, seed=0)
    save_scene(scene, out_dir, name="demo_scene")
    log(f"[2/3] choosing {n_views} automatic views from the splat")
    cameras = auto_views(scene.splat, n_views, width=size, height=size, layout="object", up=scene.up)
    cameras.save_json(os.path.join(out_dir, "cameras.json"))
    log("[3/3] rendering (CPU renderer unless a GPU and gsplat are present)")
    views_dir = os.path.join(out_dir, "views")
    paths = render_to_folder(scene.splat, cameras, views_dir, log=log)
    sheet = contact_sheet(paths, columns=4)
    save_png(os.path.join(out_dir, "contact_sheet.png"), sheet)
    log(f"done in {time.perf_counter() - t0:.1f} s: {out_dir}/demo_scene.ply, {out_dir}/contact_sheet.png")
    return 0


def contact_sheet(paths: list[str], columns: int = 4) -> np.ndarray:
    """Tile PNGs of equal size into one uint8 image."""
    from PIL import Image

    images = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
    h, w, _ = images[0].shape
    rows = -(-len(images) // columns)
    sheet = np.full((rows * h, columns * w, 3), 255, np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, columns)
        sheet[r * h : (r + 1) * h, c * w : (c + 1) * w] = img
    return sheet
