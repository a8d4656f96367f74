"""A capture as a user brings it, written by the tests: a splat, its photos (larger than the training size), a COLMAP
model (binary and text) and a transforms.json of the same cameras, and per-photo label maps to check clicks against.

The photos are rendered from the synthetic labelled scene by the engine's renderer, so the splat and the photos
agree exactly (as a well-trained capture's would). Also a command, so tests running in Blender's Python can make
one with the engine's environment::

    .venv/bin/python -m tests.capture_maker OUT_DIR [--gaussians N] [--views V] [--width W --height H]

prints a JSON summary (paths, sizes, the click of each object in photo pixels).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from tests.engine.cameras.colmap_writer import write_model  # noqa: E402


def _deepest_pixel(region: np.ndarray) -> tuple[int, int, float]:
    from scipy import ndimage

    depth = ndimage.distance_transform_edt(region)
    y, x = np.unravel_index(int(depth.argmax()), depth.shape)
    return int(x), int(y), float(depth[y, x])


def make_capture(root: str | os.PathLike, gaussians: int = 20_000, views: int = 10, width: int = 400,
                 height: int = 300, seed: int = 0) -> dict:  # fmt: skip
    """Write the capture under ``root``; returns its summary (see the module docstring)."""
    from PIL import Image

    from engine.cameras.auto_views import auto_views
    from engine.render.image_files import to_uint8
    from engine.render.render_views import render_views
    from engine.synthetic.label_maps import render_label_maps
    from engine.synthetic.scene_generator import generate_table_scene, save_scene
    from saga_blender.core.axes import viewmat_to_opengl_c2w

    root = Path(root)
    images = root / "images"
    labels_dir = root / "labels"
    images.mkdir(parents=True, exist_ok=True)
    labels_dir.mkdir(exist_ok=True)
    scene = generate_table_scene(gaussians, seed=seed)
    ply, labels_npz = save_scene(scene, root, name="scene")
    cams = auto_views(scene.splat, views, width=width, height=height, layout="object", up=scene.up, seed=seed)
    names = [f"photo_{i:03d}.png" for i in range(views)]
    for name, view in zip(names, render_views(scene.splat, cams), strict=True):
        Image.fromarray(to_uint8(view.rgb)).save(images / name)
    maps = render_label_maps(scene, cams)
    for name, (obj, part) in zip(names, maps, strict=True):
        stem = name[:-4]
        Image.fromarray((obj + 1).astype(np.uint16)).save(labels_dir / f"{stem}.1.png")
        Image.fromarray((part + 1).astype(np.uint16)).save(labels_dir / f"{stem}.0.png")
        np.save(labels_dir / f"{stem}.objects.npy", obj)
    # COLMAP (OpenCV world-to-camera, like the engine), one PINHOLE camera per photo, binary and text
    K = cams.Ks
    col_cams = [{"id": i + 1, "model": "PINHOLE", "width": width, "height": height,
                 "params": [K[i, 0, 0], K[i, 1, 1], K[i, 0, 2], K[i, 1, 2]]} for i in range(views)]  # fmt: skip
    col_imgs = [{"id": i + 1, "viewmat": cams.viewmats[i], "camera_id": i + 1, "name": names[i]} for i in range(views)]
    write_model(root / "sparse" / "0", col_cams, col_imgs, binary=True)
    write_model(root / "sparse_text" / "0", col_cams, col_imgs, binary=False)
    # transforms.json (camera-to-world, OpenGL axes), frames in another order than COLMAP's sorted names
    frames = [{"file_path": f"images/{names[i]}", "transform_matrix": viewmat_to_opengl_c2w(cams.viewmats[i]).tolist()}
              for i in reversed(range(views))]  # fmt: skip
    transforms = {"fl_x": float(K[0, 0, 0]), "fl_y": float(K[0, 1, 1]), "cx": float(K[0, 0, 2]),
                  "cy": float(K[0, 1, 2]), "w": width, "h": height, "frames": frames}  # fmt: skip
    (root / "transforms.json").write_text(json.dumps(transforms, indent=1))
    # per object: the photo where it is largest and its deepest pixel there (photo pixels)
    clicks = {}
    for label, name in enumerate(scene.object_names):
        if label == 0:
            continue  # the floor
        best = None
        for v, (obj, _) in enumerate(maps):
            x, y, depth = _deepest_pixel(obj == label)
            if best is None or depth > best["depth_px"]:
                best = {"photo": names[v], "x": x, "y": y, "depth_px": depth}
        clicks[name] = best
    return {
        "root": str(root), "scene": str(ply), "labels": str(labels_npz), "images": str(images),
        "colmap": str(root / "sparse" / "0"), "colmap_text": str(root / "sparse_text" / "0"),
        "transforms": str(root / "transforms.json"), "masks_dir": str(labels_dir), "photos": names,
        "width": width, "height": height, "object_names": list(scene.object_names), "clicks": clicks,
    }  # fmt: skip


def object_iou(ids: np.ndarray, object_id: np.ndarray, label: int) -> float:
    truth = object_id == label
    sel = np.zeros(len(object_id), bool)
    sel[np.asarray(ids, np.int64)] = True
    return float((sel & truth).sum() / max((sel | truth).sum(), 1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--gaussians", type=int, default=20_000)
    ap.add_argument("--views", type=int, default=10)
    ap.add_argument("--width", type=int, default=400)
    ap.add_argument("--height", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    summary = make_capture(args.out, args.gaussians, args.views, args.width, args.height, args.seed)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
