"""``saga-engine train``: prepare a scene (views, masks, scales, SAGA features) from the command line."""

from __future__ import annotations

import os
import resource
import sys
import threading
import time

import torch


def add_parser(sub) -> None:
    s = sub.add_parser("train", help="learn SAGA affinity features for a splat (views, masks, training)")
    s.add_argument("scene", help="the splat file (.ply, .compressed.ply, .splat)")
    s.add_argument("--workdir", required=True, help="folder for the mask cache, records and the checkpoint")
    views = s.add_argument_group("views (default: auto:32 rendered from the splat)")
    views.add_argument("--views", help="auto:N  N views rendered from the splat itself")
    views.add_argument("--colmap", help="COLMAP model folder (sparse/0 or its parent) of the original capture")
    views.add_argument("--transforms", help="transforms.json of the original capture")
    views.add_argument("--images", help="folder of the capture's images (with --colmap or --transforms)")
    views.add_argument("--size", type=int, help="longest image side used for training (default 256 on CPU, 512 on GPU)")
    masks = s.add_argument_group("masks")
    masks.add_argument(
        "--masks", default="fallback", choices=["sam", "fallback", "dir"],
        help="sam: SAM automatic masks; fallback: the weights-free generator; dir: masks from --masks-dir",
    )  # fmt: skip
    masks.add_argument("--sam-checkpoint", help="SAM checkpoint file, e.g. sam_vit_h_4b8939.pth")
    masks.add_argument("--sam-model", default="vit_h", choices=["vit_h", "vit_l", "vit_b"])
    masks.add_argument("--masks-dir", help="folder of user masks (see engine/masks/user_masks.py for the format)")
    s.add_argument("--iterations", type=int, help="training iterations (default 3000 on CPU, 10000 on GPU)")
    s.add_argument("--pixels", type=int, help="pixels per iteration (default 400 on CPU, 1000 on GPU)")
    s.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--sanitize", action="store_true", help="drop Gaussians with NaN/inf values")
    s.set_defaults(func=cmd_train)


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA GPU is available here (use --device cpu)")
    return device


def make_mask_source(args, device: str):
    if args.masks == "sam":
        if not args.sam_checkpoint:
            raise ValueError("--masks sam needs --sam-checkpoint FILE (e.g. sam_vit_h_4b8939.pth); "
                             "or use --masks fallback, which needs no model file")  # fmt: skip
        from engine.masks.sam_source import SamMaskSource

        return SamMaskSource(args.sam_checkpoint, args.sam_model, device)
    if args.masks == "dir":
        if not args.masks_dir:
            raise ValueError("--masks dir needs --masks-dir FOLDER")
        from engine.masks.user_masks import UserMaskSource

        return UserMaskSource(args.masks_dir)
    from engine.masks.weights_free import WeightsFreeMaskSource

    return WeightsFreeMaskSource()


def make_views(args, splat, device: str):
    """(callable yielding TrainingViews, number of views, description)."""
    from engine.training.views import captured_views, rendered_views

    size = args.size or (512 if device == "cuda" else 256)
    if args.colmap or args.transforms:
        if args.views:
            raise ValueError("give either --views auto:N or a capture (--colmap / --transforms), not both")
        if not args.images:
            raise ValueError("--colmap / --transforms need --images FOLDER (the capture's photos)")
        from engine.cameras.colmap import read_colmap
        from engine.cameras.nerf_transforms import read_transforms_json

        cams = (
            read_colmap(args.colmap, args.images) if args.colmap else read_transforms_json(args.transforms, args.images)
        )
        factor = min(1.0, size / max(cams.width, cams.height))
        scaled = cams.scaled(factor)
        return (lambda: captured_views(splat, scaled, device=device, source_cameras=cams)), len(cams), "capture"
    from engine.cameras.auto_views import auto_views
    from engine.cli import parse_views

    n = parse_views(args.views or "auto:32")
    cams = auto_views(splat, n, width=size, height=size)
    return (lambda: rendered_views(splat, cams, device=device)), n, f"{n} automatic views"


def cmd_train(args) -> int:
    from engine.cli import read_scene
    from engine.training.pipeline import prepare_scene
    from engine.training.trainer import TrainingCancelled, TrainSettings

    device = resolve_device(args.device)
    t0 = time.perf_counter()
    splat = read_scene(args.scene, args.sanitize).splat
    source = make_mask_source(args, device)
    views, n_views, what = make_views(args, splat, device)
    settings = TrainSettings(
        iterations=args.iterations or (10_000 if device == "cuda" else 3000),
        num_pixels=args.pixels or (1000 if device == "cuda" else 400),
        seed=args.seed,
    )
    print(f"training {len(splat)} Gaussians from {what}, masks: {source.name}, device: {device}, "
          f"{settings.iterations} iterations x {settings.num_pixels} pixels", flush=True)  # fmt: skip
    last = {"stage": None, "t": 0.0}

    def show(p) -> None:
        now = time.perf_counter()
        if p.stage != last["stage"] or now - last["t"] > 2.0 or p.step == p.total:
            eta = f", ETA {p.eta_s:.0f} s" if p.eta_s is not None else ""
            print(f"[{p.percent:5.1f}%] {p.stage}: {p.message}{eta}", flush=True)
            last.update(stage=p.stage, t=now)

    cancel = threading.Event()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    try:
        result = prepare_scene(splat, views, n_views, source, args.workdir, settings, device=device, progress=show,
                               cancel=cancel, metadata={"scene_path": os.path.abspath(args.scene)})  # fmt: skip
    except (KeyboardInterrupt, TrainingCancelled):
        cancel.set()
        print("cancelled: the previous checkpoint (if any) is unchanged", file=sys.stderr)
        return 130
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    gpu = f", GPU peak {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB" if device == "cuda" else ""
    print(f"done in {time.perf_counter() - t0:.1f} s (training {result.training_seconds:.1f} s), "
          f"{result.num_views} views, {result.num_masks} masks, final loss {result.final_loss:.4f}, "
          f"peak memory {peak:.2f} GiB{gpu} -> {result.checkpoint_path}")  # fmt: skip
    return 0
