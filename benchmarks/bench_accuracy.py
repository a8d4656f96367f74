"""Accuracy benchmark: several scenes, each prepared with several mask sources, then clicked.

    .venv/bin/python benchmarks/bench_accuracy.py [--scenes table:0,table:5:5,room:1,guitar,biker]
        [--sources fallback,geometric,damaged-gt,perfect] [--gaussians 100000] [--views 24] [--size 256]
        [--iterations 2000] [--pixels 400] [--no-fill-hidden] [--identity nested|saga] [--seed S] [--close-ups K]

Scenes: ``table:SEED[:LAYOUT]`` the demo's generator (a random placement of its objects with LAYOUT),
``room:SEED[:LAYOUT]`` the textured room of touching objects (engine/synthetic/room_scene.py), ``guitar`` and
``biker`` the real captures of ../shared/data/real with the hand labels of benchmarks/real_labels.py (skipped
when ../shared is absent). Tuning used table seeds 0-2 (fixed layout), table layout 1, room seed 0, and the two
captures' pictures; held out: every other seed and layout (report those).

Each (scene, source) is prepared through the engine API in its own process (so its peak memory is its own) from
``--views`` automatic views (the room: views from where a person would stand), then for every object (the floor /
walls excluded) and every part the most interior pixel of it in 12 other views is clicked, 11 scales from 0 to 1
are swept, and the selection's IoU is taken over **all** the label's Gaussians (and over the seen ones: those
carrying a blending weight >= 0.05 in some training view). Printed per scene and source, then the mean over
scenes: objects and parts mIoU at each click's best scale, seen share, prepare time, peak memory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

SEEN_WEIGHT = 0.05


def load_scene(name: str, gaussians: int):
    """(scene, training cameras' maker (n, size) -> Cameras, evaluation cameras)."""
    from engine.cameras.auto_views import auto_views

    kind, *rest = name.split(":")
    if kind in ("table", "room"):
        seed = int(rest[0]) if rest else 0
        layout = int(rest[1]) if len(rest) > 1 else None
        if kind == "table":
            from engine.synthetic.scene_generator import generate_table_scene

            scene = generate_table_scene(gaussians, seed=seed, layout_seed=layout)

            def views(n, size, scene=scene):
                return auto_views(scene.splat, n, width=size, height=size, layout="object", up=scene.up)
        else:
            from engine.synthetic.room_scene import generate_room_scene, room_views

            scene = generate_room_scene(gaussians, seed=seed, layout_seed=layout)

            def views(n, size, seed=seed):
                return room_views(n, size, size, seed=seed + (0 if n != 12 else 1000))
        return scene, views
    from real_labels import load_capture

    scene = load_capture(kind)

    def views(n, size, scene=scene):
        return auto_views(scene.splat, n, width=size, height=size, layout="object")

    return scene, views


def mask_source(name: str, scene, cams):
    if name == "geometric":
        from engine.masks.geometric import GeometricMaskSource

        return GeometricMaskSource(scene.splat, cams, up=getattr(scene, "up", None))
    if name == "both":
        from engine.masks.geometric import CombinedMaskSource, GeometricMaskSource
        from engine.masks.weights_free import WeightsFreeMaskSource

        return CombinedMaskSource((WeightsFreeMaskSource(), GeometricMaskSource(scene.splat, cams,
                                                                                up=getattr(scene, "up", None))))
    if name == "fallback":
        from engine.masks.weights_free import WeightsFreeMaskSource

        return WeightsFreeMaskSource()
    from engine.synthetic.damaged_masks import DamagedLabelMaskSource

    if name == "damaged-gt":
        return DamagedLabelMaskSource.from_scene(scene, cams, seed=0)
    if name == "perfect":
        return DamagedLabelMaskSource.from_scene(scene, cams, seed=0, drop=0.0, merge=0.0, boundary_px=0.0,
                                                 spurious=0)  # fmt: skip
    raise SystemExit(f"unknown source {name!r}")


def run_one(scene_name: str, source_name: str, args) -> dict:
    from engine.api.prepare import plan_prepare, run_prepare
    from engine.api.prepare_spec import PrepareSpec
    from engine.api.scene_files import read_scene
    from engine.api.trained_scene import open_trained
    from engine.evaluation.click_protocol import choose_clicks, evaluate_clicks_all_and_seen, summarise
    from engine.synthetic.label_maps import render_label_maps
    from saga_blender.core.ply_inria import write_inria_ply

    scene, views = load_scene(scene_name, args.gaussians)
    train_cams = views(args.views, args.size)
    if args.close_ups:
        from engine.cameras.close_ups import with_close_ups

        layout = "room" if scene_name.startswith("room") else "object"
        train_cams = with_close_ups(scene.splat, train_cams, args.close_ups, layout=layout,
                                    up=getattr(scene, "up", None))  # fmt: skip
    eval_cams = views(12, args.size)
    with tempfile.TemporaryDirectory() as tmp:
        ply = os.path.join(tmp, "scene.ply")
        write_inria_ply(ply, scene.splat)
        spec = PrepareSpec(iterations=args.iterations, pixels=args.pixels, size=args.size, seed=args.seed, device="cpu",
                           fill_hidden=not args.no_fill_hidden, identity=args.identity)
        source = mask_source(source_name, scene, train_cams)
        t0 = time.perf_counter()
        plan = plan_prepare(read_scene(ply), os.path.join(tmp, "work"), spec, cameras=train_cams, mask_source=source)
        result = run_prepare(plan)
        prepare_s = time.perf_counter() - t0
        trained = open_trained(os.path.join(tmp, "work"), ply)
        predictor = trained.predictor
        seen = predictor.checkpoint.visibility >= SEEN_WEIGHT
        maps = render_label_maps(scene, eval_cams)
        objects = [o for o in range(len(scene.object_names)) if clickable(scene, o)]
        parts = [p for p in range(len(scene.part_names)) if clickable(scene, int(scene.part_object[p]))]
        out = {"scene": scene_name, "source": source_name, "prepare_s": prepare_s, "seen": float(seen.mean()),
               "gaussians": len(scene.splat), "masks": getattr(result, "num_masks", None)}  # fmt: skip
        levels = [("objects", objects, scene.object_id, 0)]
        if scene.part_names is not scene.object_names:
            levels.append(("parts", parts, scene.part_id, 1))
        for level, labels, gt, which in levels:
            clicks = choose_clicks([m[which] for m in maps], np.asarray(labels))
            names = scene.object_names if level == "objects" else scene.part_names
            all_iou, seen_iou = evaluate_clicks_all_and_seen(predictor, eval_cams, clicks, gt, seen)
            out[level] = summarise(all_iou)["best_scale_miou"]
            out[level + "_seen"] = summarise(seen_iou)["best_scale_miou"]
            out[level + "_each"] = {names[c.label]: round(float(r.max()), 3) for c, r in zip(clicks, all_iou,
                                                                                           strict=True)}  # fmt: skip
    out["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def clickable(scene, obj: int) -> bool:
    """Whether an object is clicked by the benchmark (not object 0, the floor or the walls)."""
    name = scene.object_names[obj]
    return obj != 0 and name not in ("background", "floor", "walls", "wall", "(none)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenes", default="table:0,table:5:5,table:6:6,room:1,guitar,biker")
    ap.add_argument("--sources", default="fallback,geometric,damaged-gt,perfect")
    ap.add_argument("--gaussians", type=int, default=100_000)
    ap.add_argument("--views", type=int, default=24)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--iterations", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0, help="the training's random seed")
    ap.add_argument("--close-ups", type=int, default=0, help="close-up views added to the --views overview views")
    ap.add_argument("--pixels", type=int, default=400)
    ap.add_argument("--no-fill-hidden", action="store_true", help="leave the never-seen Gaussians' features as trained")
    ap.add_argument("--identity", default="nested", choices=("nested", "saga"), help="the training's identity rule")
    ap.add_argument("--one", nargs=2, metavar=("SCENE", "SOURCE"), help=argparse.SUPPRESS)
    ap.add_argument("--json", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        result = run_one(args.one[0], args.one[1], args)
        with open(args.json, "w") as fh:
            json.dump(result, fh)
        return
    import torch

    print(f"machine: {os.cpu_count()} CPU threads, torch {torch.__version__}, "
          f"{'GPU ' + torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU'}; "
          f"{args.gaussians:,} Gaussians (real captures: all of theirs), {args.views} views at {args.size} px, "
          f"{args.iterations} iterations x {args.pixels} pixels, hidden Gaussians "
          f"{'left as trained' if args.no_fill_hidden else 'filled'}, identity rule {args.identity}",
          flush=True)  # fmt: skip
    rows = []
    passthrough = ["--gaussians", str(args.gaussians), "--views", str(args.views), "--size", str(args.size),
                   "--iterations", str(args.iterations), "--pixels", str(args.pixels), "--identity", args.identity,
                   "--close-ups", str(args.close_ups), "--seed", str(args.seed)]  # fmt: skip
    if args.no_fill_hidden:
        passthrough.append("--no-fill-hidden")
    from real_labels import missing_capture

    for scene in args.scenes.split(","):
        if reason := missing_capture(scene):
            print(reason)
            continue
        for source in args.sources.split(","):
            with tempfile.NamedTemporaryFile(suffix=".json") as fh:
                proc = subprocess.run([sys.executable, __file__, "--one", scene, source, "--json", fh.name,
                                       *passthrough], capture_output=True, text=True)  # fmt: skip
                if proc.returncode != 0:
                    print(f"[{scene} / {source}] FAILED:\n{proc.stderr[-3000:]}", flush=True)
                    continue
                r = json.load(open(fh.name))
            rows.append(r)
            parts = f", parts {r['parts']:.3f} (seen {r['parts_seen']:.3f})" if "parts" in r else ""
            print(f"[{scene} / {source}] objects {r['objects']:.3f} (seen {r['objects_seen']:.3f}){parts}; "
                  f"seen {r['seen']:.0%}, prepare {r['prepare_s']:.0f} s, peak {r['peak_mib']:.0f} MiB", flush=True)
            print(f"    objects: {r['objects_each']}", flush=True)
            if "parts_each" in r:
                low = {k: v for k, v in r["parts_each"].items() if v < 0.8}
                print(f"    parts under 0.8: {low}", flush=True)
    print("\nscene | masks | objects all | objects seen | parts all | parts seen | seen | prepare s | peak MiB")
    for r in rows:
        print(f"{r['scene']} | {r['source']} | {r['objects']:.3f} | {r['objects_seen']:.3f} | "
              f"{r.get('parts', float('nan')):.3f} | {r.get('parts_seen', float('nan')):.3f} | {r['seen']:.0%} | "
              f"{r['prepare_s']:.0f} | {r['peak_mib']:.0f}")  # fmt: skip
    for source in args.sources.split(","):
        mine = [r for r in rows if r["source"] == source]
        if mine:
            o = np.mean([r["objects"] for r in mine])
            p = [r["parts"] for r in mine if "parts" in r]
            print(f"mean over {len(mine)} scenes | {source} | {o:.3f} | "
                  f"{np.mean([r['objects_seen'] for r in mine]):.3f} | {np.mean(p) if p else float('nan'):.3f} |")


if __name__ == "__main__":
    main()
