"""Accuracy benchmark: train SAGA features on the synthetic labelled scene, then evaluate the click protocol.

    .venv/bin/python benchmarks/bench_accuracy.py [--gaussians 200000] [--views 32] [--size 256]
        [--iterations 3000] [--pixels 400] [--sources weights-free,damaged-gt]

For every object (the floor excluded) and every part, the most interior pixel of it in the evaluation views
is clicked, 11 scales from 0 to 1 are swept, and the IoU of the selection (cosine >= 0.75) with the
ground-truth Gaussians is computed. Printed: mean IoU at each click's best scale, and at the one fixed scale
per level that is best on average (what a user gets without searching), training time after masks, peak
memory. Targets: weights-free objects >= 0.90, parts >= 0.75; damaged ground truth >= 0.95 / 0.90.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time

import numpy as np


def _variants() -> dict:
    from engine.query.postprocess import PostProcess

    return {
        "none": None,
        "outlier filter": PostProcess(outlier_filter=True),
        "filter + growth (paper: r = max NN distance)": PostProcess(outlier_filter=True, grow=True),
        "filter + growth (r = 0.95 quantile)": PostProcess(outlier_filter=True, grow=True, grow_quantile=0.95),
    }


#: A Gaussian counts as seen when it carries at least this blending weight at some training-view pixel.
VISIBLE_WEIGHT = 0.05


def run_source(name, scene, train_cams, eval_cams, eval_maps, args, workdir) -> dict:
    from engine.evaluation.click_protocol import SCALES, choose_clicks, evaluate_clicks, summarise
    from engine.query.predictor import ScenePredictor
    from engine.training.checkpoint import load_checkpoint
    from engine.training.pipeline import prepare_scene
    from engine.training.trainer import TrainSettings
    from engine.views.view_sources import rendered_views

    if name == "weights-free":
        from engine.masks.weights_free import WeightsFreeMaskSource

        source = WeightsFreeMaskSource()
    else:
        from engine.synthetic.damaged_masks import DamagedLabelMaskSource

        source = DamagedLabelMaskSource.from_scene(scene, train_cams, seed=0)
    settings = TrainSettings(iterations=args.iterations, num_pixels=args.pixels, lr=args.lr,
                             mask_balanced=args.mask_balanced, knn=args.knn, seed=0)  # fmt: skip
    t0 = time.perf_counter()
    result = prepare_scene(scene.splat, lambda: rendered_views(scene.splat, train_cams), len(train_cams), source,
                           workdir, settings, mask_cache_dir=os.path.join(workdir, "masks"))  # fmt: skip
    prepare_s = time.perf_counter() - t0
    ckpt = load_checkpoint(result.checkpoint_path, scene.splat.content_hash())
    predictor = ScenePredictor(scene.splat, ckpt)
    objects = np.arange(1, len(scene.object_names))  # object 0 is the floor ("background")
    parts = np.array([p for p in range(len(scene.part_names)) if scene.part_object[p] != 0])
    obj_clicks = choose_clicks([m[0] for m in eval_maps], objects)
    part_clicks = choose_clicks([m[1] for m in eval_maps], parts)
    seen = ckpt.visibility >= VISIBLE_WEIGHT
    obj_iou = evaluate_clicks(predictor, eval_cams, obj_clicks, scene.object_id, consider=seen)
    part_iou = evaluate_clicks(predictor, eval_cams, part_clicks, scene.part_id, consider=seen)
    obj_all = evaluate_clicks(predictor, eval_cams, obj_clicks, scene.object_id)
    part_all = evaluate_clicks(predictor, eval_cams, part_clicks, scene.part_id)
    post = {}  # post-processing variants at each click's best plain scale and at the fixed scale of its level
    for variant, settings in _variants().items():
        row = {}
        for level, clicks, labels, plain in [("objects", obj_clicks, scene.object_id, obj_iou),
                                             ("parts", part_clicks, scene.part_id, part_iou)]:  # fmt: skip
            fixed = SCALES[int(plain.mean(axis=0).argmax())]
            scales = np.stack([SCALES[plain.argmax(axis=1)], np.full(len(clicks), fixed)], axis=1)
            ious = evaluate_clicks(predictor, eval_cams, clicks, labels, consider=seen, postprocess=settings,
                                   scales=scales)  # fmt: skip
            row[level] = (float(ious[:, 0].mean()), float(ious[:, 1].mean()))
        post[variant] = row
    return {
        "source": name, "objects": summarise(obj_iou), "parts": summarise(part_iou),
        "objects_all": summarise(obj_all), "parts_all": summarise(part_all), "seen_fraction": float(seen.mean()),
        "postprocess": post,
        "training_s": result.training_seconds, "prepare_s": prepare_s, "masks": result.num_masks,
        "per_object": {scene.object_names[c.label]: float(r.max()) for c, r in zip(obj_clicks, obj_iou, strict=True)},
        "per_part": {scene.part_names[c.label]: float(r.max()) for c, r in zip(part_clicks, part_iou, strict=True)},
    }  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gaussians", type=int, default=200_000)
    ap.add_argument("--views", type=int, default=32)
    ap.add_argument("--eval-views", type=int, default=12)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--iterations", type=int, default=3000)
    ap.add_argument("--pixels", type=int, default=400)
    ap.add_argument("--lr", type=float, default=0.03)
    ap.add_argument("--mask-balanced", type=float, default=0.5)
    ap.add_argument("--knn", type=int, default=16, help="neighbours of the feature smoothing")
    ap.add_argument("--sources", default="weights-free,damaged-gt")
    args = ap.parse_args()

    import torch

    from engine.cameras.auto_views import auto_views
    from engine.synthetic.label_maps import render_label_maps
    from engine.synthetic.scene_generator import generate_table_scene

    print(f"machine: {os.cpu_count()} CPU threads, torch {torch.__version__}, "
          f"{'GPU ' + torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU'}")  # fmt: skip
    scene = generate_table_scene(args.gaussians, seed=0)
    train_cams = auto_views(scene.splat, args.views, width=args.size, height=args.size, layout="object", up=scene.up)
    eval_cams = auto_views(scene.splat, args.eval_views, width=args.size, height=args.size, layout="object",
                           up=scene.up)  # fmt: skip
    eval_maps = render_label_maps(scene, eval_cams)
    rows = []
    for name in args.sources.split(","):
        with tempfile.TemporaryDirectory() as workdir:
            r = run_source(name, scene, train_cams, eval_cams, eval_maps, args, workdir)
        rows.append(r)
        print(f"\n[{name}] {r['masks']} masks, training {r['training_s']:.1f} s, whole prepare {r['prepare_s']:.1f} s")
        print("  per object (best-scale IoU):", {k: round(v, 3) for k, v in r["per_object"].items()})
        print("  per part (best-scale IoU):  ", {k: round(v, 3) for k, v in r["per_part"].items()})
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"\nscene: {args.gaussians:,} Gaussians, {args.views} training views at {args.size} px, "
          f"{args.iterations} iterations x {args.pixels} pixels; peak memory {peak:.2f} GiB")  # fmt: skip
    print("source | Gaussians counted | objects mIoU best scale | objects fixed scale | parts best | parts fixed")
    for r in rows:
        for which, o, p in [(f"seen ({r['seen_fraction']:.0%})", r["objects"], r["parts"]),
                            ("all", r["objects_all"], r["parts_all"])]:  # fmt: skip
            print(f"{r['source']} | {which} | {o['best_scale_miou']:.3f} | {o['fixed_scale_miou']:.3f} @ "
                  f"{o['fixed_scale']:.1f} | {p['best_scale_miou']:.3f} | {p['fixed_scale_miou']:.3f} @ "
                  f"{p['fixed_scale']:.1f}")  # fmt: skip
    print("\npost-processing (seen Gaussians; at each click's best plain scale | at the level's fixed scale)")
    print("source | variant | objects best | objects fixed | parts best | parts fixed")
    for r in rows:
        for variant, v in r["postprocess"].items():
            print(f"{r['source']} | {variant} | {v['objects'][0]:.3f} | {v['objects'][1]:.3f} | {v['parts'][0]:.3f} | "
                  f"{v['parts'][1]:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
