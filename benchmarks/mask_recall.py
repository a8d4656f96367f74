"""Mask recall: how well a mask source's masks cover each labelled object and part, before any training.

    .venv/bin/python benchmarks/mask_recall.py [--scenes table:0,room:0,guitar,biker] [--sources fallback]
        [--gaussians 60000] [--views 20] [--size 256] [--each]

For every training view of the accuracy benchmark (same scenes, same automatic views) the label maps are
rendered, and for every object and part with at least 100 pixels in the view the best IoU of any of the
source's masks with it is taken; printed: the mean over views per label, then the mean over labels, and the
masks per view. Seconds, no training: a quick look at what a mask source can teach.

It is not a forecast of the accuracy benchmark: masks that raise the recall can lower the accuracy after
training (README, "Accuracy on scenes nobody tuned for": the concave-fold level raised room:0's object
recall 0.48 -> 0.53 and lowered room:1's accuracy 0.38 -> 0.32). Use it to see which labels no mask holds.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

MIN_PIXELS = 100


def recall(scene_name: str, source_name: str, args) -> dict:
    """{"objects": {name: mean best IoU}, "parts": {...}, "masks_per_view": float, "seconds": float}."""
    from bench_accuracy import clickable, load_scene, mask_source

    from engine.synthetic.label_maps import render_label_maps
    from engine.views.view_sources import rendered_views

    scene, views = load_scene(scene_name, args.gaussians)
    cams = views(args.views, args.size)
    source = mask_source(source_name, scene, cams)
    maps = render_label_maps(scene, cams)
    levels = [("objects", 0, scene.object_names)]
    if scene.part_names is not scene.object_names:
        levels.append(("parts", 1, scene.part_names))
    best: dict[str, dict[str, list[float]]] = {level: {} for level, _, _ in levels}
    counts = []
    t0 = time.perf_counter()
    for i, view in enumerate(rendered_views(scene.splat, cams)):
        masks = source.masks_for_view(view)
        counts.append(len(masks))
        flat = masks.reshape(len(masks), -1)
        for level, which, names in levels:
            lab = maps[i][which]
            for label in np.unique(lab[lab >= 0]):
                obj = label if which == 0 else int(scene.part_object[label])
                if not clickable(scene, obj):
                    continue
                region = (lab == label).ravel()
                if region.sum() < MIN_PIXELS:
                    continue
                iou = (flat & region).sum(1) / np.maximum((flat | region).sum(1), 1) if len(flat) else [0.0]
                best[level].setdefault(names[label], []).append(float(np.max(iou)))
    out = {level: {k: float(np.mean(v)) for k, v in per.items()} for level, per in best.items()}
    return {**out, "masks_per_view": float(np.mean(counts)), "seconds": time.perf_counter() - t0}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenes", default="table:0,room:0,guitar,biker")
    ap.add_argument("--sources", default="fallback")
    ap.add_argument("--gaussians", type=int, default=60_000)
    ap.add_argument("--views", type=int, default=20)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--each", action="store_true", help="print every label's recall, lowest first")
    args = ap.parse_args()
    print(f"{args.gaussians:,} Gaussians (real captures: all of theirs), {args.views} views at {args.size} px; "
          f"best mask IoU per label and view, averaged", flush=True)  # fmt: skip
    from real_labels import missing_capture

    for scene in args.scenes.split(","):
        if reason := missing_capture(scene):
            print(reason)
            continue
        for source in args.sources.split(","):
            r = recall(scene, source, args)
            means = " ".join(f"{level} {np.mean(list(r[level].values())):.3f}" for level in ("objects", "parts")
                             if r.get(level))  # fmt: skip
            print(f"[{scene} / {source}] {means}; {r['masks_per_view']:.0f} masks a view; {r['seconds']:.0f} s",
                  flush=True)  # fmt: skip
            if args.each:
                for level in ("objects", "parts"):
                    if r.get(level):
                        low = sorted(r[level].items(), key=lambda kv: kv[1])
                        print(f"    {level}: " + ", ".join(f"{k} {v:.2f}" for k, v in low), flush=True)


if __name__ == "__main__":
    main()
