"""``saga-engine segment``, ``cluster`` and ``extract``: shells over ``engine.api`` (prompts in, ids / labels / a
splat out)."""

from __future__ import annotations

import argparse
import time

import numpy as np

from engine.cli_support import read_scene_for_command


def _point(text: str) -> tuple[float, float]:
    """argparse type: X,Y in pixels."""
    try:
        x, y = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a point is X,Y in pixels (e.g. 120,84), got {text!r}") from None
    return x, y


def _polyline(text: str) -> np.ndarray:
    """argparse type: X,Y;X,Y;... in pixels."""
    points = [_point(p) for p in text.split(";") if p.strip()]
    if not points:
        raise argparse.ArgumentTypeError(f"a scribble is X,Y;X,Y;... in pixels, got {text!r}")
    return np.array(points, np.float64)


def _fraction(text: str) -> float:
    """argparse type: a number in (0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}") from None
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {value}")
    return value


def add_parsers(sub) -> None:
    s = sub.add_parser("segment", help="select Gaussians with clicks / scribbles / a mask at a scale -> ids.npy")
    s.add_argument("workdir", help="a trained work folder (saga-engine train)")
    where = s.add_mutually_exclusive_group(required=True)
    where.add_argument("--camera", help="cameras.json (saga format) holding the camera the prompts are given in")
    where.add_argument("--view", type=int, help="index of a training view of the work folder; points are in that "
                       "view's own pixels (the photo's, for a capture)")  # fmt: skip
    s.add_argument("--camera-index", type=int, default=0, help="which camera of --camera (default 0)")
    s.add_argument(
        "--point", action="append", default=[], type=_point, metavar="X,Y", help="positive click (repeatable)"
    )
    s.add_argument(
        "--negative", action="append", default=[], type=_point, metavar="X,Y", help="negative click (repeatable)"
    )
    s.add_argument(
        "--scribble", action="append", default=[], type=_polyline, metavar="X,Y;X,Y;...", help="positive scribble"
    )
    s.add_argument("--negative-scribble", action="append", default=[], type=_polyline, metavar="X,Y;X,Y;...")
    s.add_argument("--mask", help="a positive 2D mask: PNG (non-zero = inside) or .npy bool [H, W], at the view's size")
    s.add_argument("--scale", type=float, required=True, help="granularity in [0, 1]: 0 finest parts, 1 whole groups")
    s.add_argument("--threshold", type=float, default=0.75, help="cosine threshold (default 0.75, SAGA's)")
    s.add_argument("--outlier-filter", action="store_true", help="drop stray Gaussians (statistical filter)")
    s.add_argument("--grow", action="store_true", help="ball-query growth (after the filter when both are given)")
    s.add_argument("--scene", help="the splat file (default: the one the work folder was trained on)")
    s.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    s.add_argument("--out", required=True, help="output .npy of int64 Gaussian ids (written exactly there)")
    s.set_defaults(func=cmd_segment)

    s = sub.add_parser("cluster", help="segment everything: one cluster label per Gaussian -> labels.npy")
    s.add_argument("workdir")
    s.add_argument("--scale", type=float, required=True, help="granularity in [0, 1]")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--sample-fraction", type=_fraction, default=0.02, help="share of Gaussians HDBSCAN sees")
    s.add_argument("--scene", help="the splat file (default: the one the work folder was trained on)")
    s.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    s.add_argument("--out", required=True, help="output .npy of int32 labels, one per Gaussian")
    s.set_defaults(func=cmd_cluster)

    s = sub.add_parser("extract", help="write the Gaussians of ids.npy (or all others) as an INRIA .ply")
    s.add_argument("scene")
    s.add_argument("--ids", required=True, help=".npy of Gaussian ids (as written by segment)")
    s.add_argument("--invert", action="store_true", help="keep every Gaussian except those ids")
    s.add_argument("--out", required=True, help="output .ply (its folder must exist)")
    s.add_argument("--sanitize", action="store_true", help="drop NaN/inf Gaussians first (ids refer to the rest)")
    s.set_defaults(func=cmd_extract)


def _load_mask(path: str) -> np.ndarray:
    """A mask prompt from a PNG (non-zero = inside) or a .npy [H, W]."""
    import os

    from engine.api.npy_files import ArrayInputError, read_npy

    if path.lower().endswith(".npy"):
        return read_npy(path, "mask").astype(bool)
    if not os.path.isfile(path):
        raise ArrayInputError(f"mask {path}: file not found")
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            img = np.asarray(im)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ArrayInputError(f"mask {path}: not an image (give a PNG, non-zero = inside, or a .npy) ({exc})") from exc
    return (img.max(axis=2) if img.ndim == 3 else img) > 0


def _camera(args, trained):
    from engine.query.prompts import QueryCamera

    if args.camera:
        from engine.cameras.cameras import Cameras

        return QueryCamera.from_cameras(Cameras.load_json(args.camera), args.camera_index)
    return trained.view_camera(args.view)


def _open(args):
    from engine.api.trained_scene import open_trained

    return open_trained(args.workdir, scene_path=args.scene, device=args.device)


def cmd_segment(args) -> int:
    from engine.query.postprocess import PostProcess
    from engine.query.predictor import check_scale
    from engine.query.prompts import Prompts
    from saga_blender.core.atomic_files import save_npy

    check_scale(args.scale)
    prompts = Prompts(
        positive=args.point, negative=args.negative, positive_scribbles=args.scribble,
        negative_scribbles=args.negative_scribble,
        mask=_load_mask(args.mask) if args.mask else None,
    )  # fmt: skip
    t0 = time.perf_counter()
    trained = _open(args)
    camera = _camera(args, trained)
    t1 = time.perf_counter()
    # off by default: on the accuracy benchmark neither step improves a plain click (README, post-processing)
    post = PostProcess(outlier_filter=args.outlier_filter, grow=args.grow) if args.outlier_filter or args.grow else None
    sel = trained.select(camera, prompts, args.scale, args.threshold, postprocess=post)
    t2 = time.perf_counter()
    save_npy(args.out, sel.ids)
    for note in sel.notes:
        print(f"note: {note}")
    print(f"selected {len(sel.ids)} of {len(trained.scene)} Gaussians at scale {args.scale:g}, threshold "
          f"{args.threshold:g} (load {t1 - t0:.2f} s, query {1e3 * (t2 - t1):.0f} ms) -> {args.out}")  # fmt: skip
    return 0


def cmd_cluster(args) -> int:
    from engine.query.predictor import check_scale
    from saga_blender.core.atomic_files import save_npy

    check_scale(args.scale)
    trained = _open(args)
    t0 = time.perf_counter()
    clusters = trained.cluster(args.scale, seed=args.seed, sample_fraction=args.sample_fraction)
    save_npy(args.out, clusters.labels)
    for note in clusters.notes:
        print(f"note: {note}")
    sizes = np.bincount(clusters.labels, minlength=clusters.count)
    print(f"{clusters.count} clusters at scale {args.scale:g} (HDBSCAN on {clusters.sample_size} Gaussians, "
          f"{clusters.sample_noise} noise), largest {sizes[:5].tolist()}, {time.perf_counter() - t0:.1f} s -> "
          f"{args.out}")  # fmt: skip
    return 0


def cmd_extract(args) -> int:
    from engine.api.selection import extract, load_ids, select_rows

    scene = read_scene_for_command(args.scene, args.sanitize)
    rows = select_rows(load_ids(args.ids, len(scene)), len(scene), args.invert, args.ids)
    extract(scene, rows, args.out)
    print(f"wrote {len(rows)} of {len(scene)} Gaussians -> {args.out}")
    return 0
