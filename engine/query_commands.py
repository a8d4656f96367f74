"""``saga-engine segment``, ``cluster`` and ``extract``: prompts, segment-everything and cutting a splat by ids."""

from __future__ import annotations

import os
import time

import numpy as np


def _point(text: str) -> tuple[float, float]:
    try:
        x, y = (float(v) for v in text.split(","))
    except ValueError as exc:
        raise ValueError(f"a point is X,Y in pixels (e.g. 120,84), got {text!r}") from exc
    return x, y


def _polyline(text: str) -> np.ndarray:
    return np.array([_point(p) for p in text.split(";") if p.strip()], np.float64)


def add_parsers(sub) -> None:
    s = sub.add_parser("segment", help="select Gaussians with clicks / scribbles / a mask at a scale -> ids.npy")
    s.add_argument("workdir", help="a trained work folder (saga-engine train)")
    where = s.add_mutually_exclusive_group(required=True)
    where.add_argument("--camera", help="cameras.json (saga format) holding the camera the prompts are given in")
    where.add_argument("--view", type=int, help="index of a training view of the work folder")
    s.add_argument("--camera-index", type=int, default=0, help="which camera of --camera (default 0)")
    s.add_argument("--point", action="append", default=[], metavar="X,Y", help="positive click (repeatable)")
    s.add_argument("--negative", action="append", default=[], metavar="X,Y", help="negative click (repeatable)")
    s.add_argument("--scribble", action="append", default=[], metavar="X,Y;X,Y;...", help="positive scribble")
    s.add_argument("--negative-scribble", action="append", default=[], metavar="X,Y;X,Y;...")
    s.add_argument("--mask", help="a positive 2D mask: PNG (non-zero = inside) or .npy bool [H, W]")
    s.add_argument("--scale", type=float, required=True, help="granularity in [0, 1]: 0 finest parts, 1 whole groups")
    s.add_argument("--threshold", type=float, default=0.75, help="cosine threshold (default 0.75, SAGA's)")
    s.add_argument("--outlier-filter", action="store_true", help="drop stray Gaussians (statistical filter)")
    s.add_argument("--grow", action="store_true", help="ball-query growth (after the filter when both are given)")
    s.add_argument("--scene", help="the splat file (default: the one the work folder was trained on)")
    s.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    s.add_argument("--out", required=True, help="output .npy of int64 Gaussian ids")
    s.set_defaults(func=cmd_segment)

    s = sub.add_parser("cluster", help="segment everything: one cluster label per Gaussian -> labels.npy")
    s.add_argument("workdir")
    s.add_argument("--scale", type=float, required=True, help="granularity in [0, 1]")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--sample-fraction", type=float, default=0.02, help="share of Gaussians HDBSCAN sees")
    s.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    s.add_argument("--out", required=True, help="output .npy of int32 labels, one per Gaussian")
    s.set_defaults(func=cmd_cluster)

    s = sub.add_parser("extract", help="write the Gaussians of ids.npy (or all others) as an INRIA .ply")
    s.add_argument("scene")
    s.add_argument("--ids", required=True, help=".npy of Gaussian ids (as written by segment)")
    s.add_argument("--invert", action="store_true", help="keep every Gaussian except those ids")
    s.add_argument("--out", required=True, help="output .ply")
    s.add_argument("--sanitize", action="store_true", help="drop NaN/inf Gaussians first (ids refer to the rest)")
    s.set_defaults(func=cmd_extract)


def _save_npy(path: str, array: np.ndarray) -> None:
    """Atomic .npy write."""
    path = path if path.endswith(".npy") else path + ".npy"
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}.npy"
    np.save(tmp, array)
    os.replace(tmp, path)


def _load_mask(path: str) -> np.ndarray:
    if not os.path.exists(path):
        raise ValueError(f"{path}: mask file not found")
    if path.lower().endswith(".npy"):
        return np.load(path, allow_pickle=False).astype(bool)
    from PIL import Image

    img = np.asarray(Image.open(path))
    return (img.max(axis=2) if img.ndim == 3 else img) > 0


def _camera(args):
    from engine.query.prompts import QueryCamera

    if args.camera:
        from engine.cameras.cameras import Cameras

        return QueryCamera.from_cameras(Cameras.load_json(args.camera), args.camera_index)
    path = os.path.join(args.workdir, "cameras.json")
    if not os.path.exists(path):
        raise ValueError(f"{args.workdir} has no cameras.json of its training views; give --camera CAM.json")
    from engine.cameras.cameras import Cameras

    return QueryCamera.from_cameras(Cameras.load_json(path), args.view)


def cmd_segment(args) -> int:
    from engine.query.postprocess import PostProcess
    from engine.query.predictor import ScenePredictor, check_scale
    from engine.query.prompts import Prompts

    check_scale(args.scale)
    camera = _camera(args)
    prompts = Prompts(
        positive=[_point(p) for p in args.point], negative=[_point(p) for p in args.negative],
        positive_scribbles=[_polyline(s) for s in args.scribble],
        negative_scribbles=[_polyline(s) for s in args.negative_scribble],
        mask=_load_mask(args.mask) if args.mask else None,
    )  # fmt: skip
    t0 = time.perf_counter()
    predictor = ScenePredictor.from_workdir(args.workdir, args.scene, device=args.device)
    t1 = time.perf_counter()
    # off by default: on the accuracy benchmark neither step improves a plain click (README, post-processing)
    post = PostProcess(outlier_filter=args.outlier_filter, grow=args.grow) if args.outlier_filter or args.grow else None
    sel = predictor.predict(camera, prompts, args.scale, args.threshold, postprocess=post)
    t2 = time.perf_counter()
    _save_npy(args.out, sel.ids)
    for note in sel.notes:
        print(f"note: {note}")
    print(f"selected {len(sel.ids)} of {len(predictor)} Gaussians at scale {args.scale:g}, threshold "
          f"{args.threshold:g} (load {t1 - t0:.2f} s, query {1e3 * (t2 - t1):.0f} ms) -> {args.out}")  # fmt: skip
    return 0


def cmd_cluster(args) -> int:
    from engine.query.feature_scores import FeatureScorer
    from engine.query.predictor import check_scale
    from engine.query.segment_everything import segment_everything
    from engine.training.checkpoint import CHECKPOINT_NAME, load_checkpoint

    check_scale(args.scale)
    ckpt = load_checkpoint(os.path.join(args.workdir, CHECKPOINT_NAME))
    scorer = FeatureScorer(ckpt.features, ckpt.gate_weight, ckpt.gate_bias, args.device)
    t0 = time.perf_counter()
    clusters = segment_everything(scorer, args.scale, sample_fraction=args.sample_fraction, seed=args.seed)
    _save_npy(args.out, clusters.labels)
    for note in clusters.notes:
        print(f"note: {note}")
    sizes = np.bincount(clusters.labels, minlength=clusters.count)
    print(f"{clusters.count} clusters at scale {args.scale:g} (HDBSCAN on {clusters.sample_size} Gaussians, "
          f"{clusters.sample_noise} noise), largest {sizes[:5].tolist()}, {time.perf_counter() - t0:.1f} s -> "
          f"{args.out}")  # fmt: skip
    return 0


def load_ids(path: str, count: int) -> np.ndarray:
    """Validated int64 ids [M] from a .npy file (integer ids in [0, count), or a bool mask of length count)."""
    if not os.path.exists(path):
        raise ValueError(f"{path}: ids file not found")
    try:
        ids = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a .npy array of Gaussian ids ({exc})") from exc
    return validate_ids(ids, count, path)


def validate_ids(ids: np.ndarray, count: int, source: str = "ids") -> np.ndarray:
    """Sorted distinct int64 ids from integer ids in [0, count) or a bool mask of length count."""
    if ids.dtype == bool:
        if ids.shape != (count,):
            raise ValueError(f"{source}: a bool mask must have one entry per Gaussian ({count}), it has {ids.shape}")
        return np.flatnonzero(ids)
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"{source}: expected a 1-D integer array of ids, got {ids.dtype} {ids.shape}")
    if len(ids) and (ids.min() < 0 or ids.max() >= count):
        raise ValueError(f"{source}: ids must be in [0, {count}), found {ids.min()}..{ids.max()} (another scene?)")
    return np.unique(ids.astype(np.int64))


def select_rows(ids: np.ndarray, count: int, invert: bool = False, source: str = "ids") -> np.ndarray:
    """The rows to write: the validated ids, or every other row with ``invert``; refuses an empty result."""
    keep = np.zeros(count, bool)
    keep[validate_ids(ids, count, source)] = True
    if invert:
        keep = ~keep
    if not keep.any():
        raise ValueError("nothing to write: the selection is empty" + (" after --invert" if invert else ""))
    return np.flatnonzero(keep)


def cmd_extract(args) -> int:
    from engine.cli import read_scene
    from saga_blender.core.splat_io import write_splat

    splat = read_scene(args.scene, args.sanitize).splat
    rows = select_rows(load_ids(args.ids, len(splat)), len(splat), args.invert, args.ids)
    write_splat(args.out, splat.subset(rows))
    print(f"wrote {len(rows)} of {len(splat)} Gaussians -> {args.out}")
    return 0
