"""``saga-engine train``: prepare a scene from the command line. A shell over ``engine.api.prepare``: its options are
made from ``PrepareSpec`` (help, choices, ranges and defaults live there)."""

from __future__ import annotations

import argparse
import resource
import sys
import threading
import time

from engine.api.prepare_spec import PrepareSpec
from engine.cli_support import int_range, read_scene_for_command

#: spec options shown under their own heading in --help
_GROUPS = {"views": ("views", "colmap", "transforms", "images", "layout", "size"),
           "masks": ("masks", "sam_checkpoint", "sam_model", "masks_dir")}  # fmt: skip


def add_spec_arguments(parser: argparse.ArgumentParser) -> None:
    """One option per PrepareSpec field (``--sam-checkpoint`` for ``sam_checkpoint``), default None = the spec's."""
    groups = {name: parser.add_argument_group(name) for name in _GROUPS}
    for f in PrepareSpec.fields():
        meta = f.metadata
        group = next((groups[g] for g, names in _GROUPS.items() if f.name in names), parser)
        flag = "--" + f.name.replace("_", "-")
        default = f" (default {f.default})" if f.default not in (None, False) else ""
        if f.type in ("bool", bool) and f.default:  # on by default: --no-NAME turns it off
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=None,
                               help=meta["help"] + " (default on)")  # fmt: skip
        elif f.type in ("bool", bool):
            group.add_argument(flag, action="store_true", default=None, help=meta["help"])
        elif meta["choices"]:
            group.add_argument(flag, choices=meta["choices"], default=None, help=meta["help"] + default)
        elif meta["low"] is not None:
            group.add_argument(flag, type=int_range(meta["low"], meta["high"]), default=None,
                               help=meta["help"] + default)  # fmt: skip
        else:
            group.add_argument(flag, default=None, help=meta["help"] + default)


def spec_from_args(args) -> PrepareSpec:
    """The spec of the options given (a capture is named by --colmap / --transforms: views become 'capture')."""
    given = {f.name: getattr(args, f.name) for f in PrepareSpec.fields() if getattr(args, f.name) is not None}
    if (given.get("colmap") or given.get("transforms")) and "views" not in given:
        given["views"] = "capture"
    return PrepareSpec.from_dict(given)


def add_parser(sub) -> None:
    s = sub.add_parser("train", help="learn SAGA affinity features for a splat (views, masks, training)")
    s.add_argument("scene", help="the splat file (.ply, .compressed.ply, .splat)")
    s.add_argument("--workdir", required=True, help="folder for the mask cache, the checkpoint and the cameras")
    add_spec_arguments(s)
    s.add_argument("--sanitize", action="store_true", help="drop Gaussians with NaN/inf values (the work folder "
                   "remembers it: segment and cluster read the scene the same way)")  # fmt: skip
    s.set_defaults(func=cmd_train)


def cmd_train(args) -> int:
    import torch

    from engine.api.prepare import plan_prepare, run_prepare
    from engine.training.trainer import TrainingCancelled

    t0 = time.perf_counter()
    spec = spec_from_args(args)
    scene = read_scene_for_command(args.scene, args.sanitize)
    plan = plan_prepare(scene, args.workdir, spec)
    print(f"training {plan.describe()}", flush=True)
    last = {"stage": None, "t": 0.0}

    def show(p) -> None:
        now = time.perf_counter()
        if p.stage != last["stage"] or now - last["t"] > 2.0 or p.step == p.total:
            eta = f", ETA {p.eta_s:.0f} s" if p.eta_s is not None else ""
            print(f"[{p.percent:5.1f}%] {p.stage}: {p.message}{eta}", flush=True)
            last.update(stage=p.stage, t=now)

    cancel = threading.Event()
    if plan.run.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    try:
        outcome = run_prepare(plan, progress=show, cancel=cancel)
    except (KeyboardInterrupt, TrainingCancelled):
        cancel.set()
        print("cancelled: the work folder is as it was before", file=sys.stderr)
        return 130
    r = outcome.result
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    gpu = f", GPU peak {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB" if plan.run.device == "cuda" else ""
    print(f"done in {time.perf_counter() - t0:.1f} s (training {r.training_seconds:.1f} s), {r.num_views} views, "
          f"{r.num_masks} masks, final loss {r.final_loss:.4f}, peak memory {peak:.2f} GiB{gpu} -> "
          f"{outcome.checkpoint_path} (views: {outcome.cameras_path})")  # fmt: skip
    return 0
