"""Prepare a scene: views, masks, mask scales, the frozen-geometry precompute, training, checkpoint.

Stages report progress through one callback (stage, overall percent, ETA, message); ``cancel`` (a
threading.Event) stops within one view or one training iteration. Everything this writes goes into ``out_dir``
(the checkpoint and ``records/``), which the caller stages and swaps in whole (``engine.api.work_folder``), so a
cancelled or failed run changes nothing the user had. Masks are cached per view in ``mask_cache_dir`` (entries are
keyed by content and written atomically, so a cache shared between runs is safe).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from engine.masks.source import drop_cut_masks
from saga_blender.core.gaussians import GaussianSplat

from .checkpoint import CHECKPOINT_NAME, SceneCheckpoint, package_versions, save_checkpoint
from .hidden_gaussians import fill_hidden_by_levels
from .mask_scales import ScaleTransform
from .trainer import TrainingCancelled, TrainSettings, knn_neighbours, train_features
from .view_records import ViewRecord, build_view_record

# share of the overall progress bar per stage
STAGE_WEIGHTS = {"views and masks": 0.35, "neighbours": 0.03, "training": 0.58, "hidden Gaussians": 0.02,
                 "saving": 0.02}  # fmt: skip
TOP_K = 32
RECORDS_NAME = "records"


@dataclass
class Progress:
    stage: str
    step: int
    total: int
    percent: float  # overall, 0-100
    eta_s: float | None
    message: str = ""
    info: dict = field(default_factory=dict)


ProgressFn = Callable[[Progress], None]


@dataclass
class PrepareResult:
    checkpoint_path: str
    records_path: str
    seconds: float
    training_seconds: float
    num_views: int
    num_masks: int
    final_loss: float


class _Reporter:
    def __init__(self, fn: ProgressFn | None):
        self.fn = fn
        self.done = 0.0  # weight of finished stages

    def stage(self, name: str, step: int, total: int, started: float, message: str = "", info=None) -> None:
        if self.fn is None:
            return
        frac = step / total if total else 1.0
        elapsed = time.perf_counter() - started
        eta = elapsed / frac * (1 - frac) if 0 < frac < 1 else (0.0 if frac >= 1 else None)
        pct = 100.0 * (self.done + STAGE_WEIGHTS[name] * frac)
        self.fn(Progress(name, step, total, min(pct, 100.0), eta, message, info or {}))

    def finish(self, name: str) -> None:
        self.done += STAGE_WEIGHTS[name]


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise TrainingCancelled("preparation cancelled; the previous checkpoint (if any) is unchanged")


def prepare_scene(
    splat: GaussianSplat,
    views: Callable[[], object],  # () -> iterator of engine.views.training_view.TrainingView
    num_views: int,
    mask_source,
    out_dir: str,
    settings: TrainSettings,
    mask_cache_dir: str,
    device: str = "cpu",
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    metadata: dict | None = None,
) -> PrepareResult:
    """Run every stage; write ``out_dir/saga_features.npz`` and the per-view records ``out_dir/records/``."""
    from engine.masks.mask_cache import MaskCache
    from engine.render.contributors import render_contributors
    from engine.render.splat_tensors import splat_to_tensors

    if len(splat) == 0:
        raise ValueError("the scene has no Gaussians: nothing to train")
    t_start = time.perf_counter()
    report = _Reporter(progress)
    cache = MaskCache(mask_cache_dir)
    records_dir = os.path.join(out_dir, RECORDS_NAME)
    os.makedirs(records_dir, exist_ok=True)
    st = splat_to_tensors(splat, device)

    started = time.perf_counter()
    records: list[ViewRecord] = []
    close_ups: list[bool] = []  # per record: a close-up (only its whole masks, only the scales up to theirs)
    visibility = np.zeros(len(splat), np.float32)
    close_up_visibility = np.zeros(len(splat), np.float32)  # used only when every view is a close-up
    for i, view in enumerate(views()):
        _check_cancel(cancel)
        masks = cache.masks_for_view(mask_source, view)
        if view.close_up:
            masks = drop_cut_masks(masks)
        vm = torch.from_numpy(view.viewmat.astype(np.float32))[None].to(device)
        K = torch.from_numpy(view.K.astype(np.float32))[None].to(device)
        contrib = render_contributors(st.means, st.quats, st.scales, st.opacities, vm, K, view.width, view.height,
                                      top_k=TOP_K, backend="auto")  # fmt: skip
        record = build_view_record(view.name, masks, view.depth, view.K, contrib.ids[0].cpu().numpy(),
                                   contrib.weights[0].cpu().numpy(), view.alpha)  # fmt: skip
        valid = record.ids >= 0  # a close-up trains a Gaussian too briefly to keep it from the hidden-Gaussian fill
        np.maximum.at(close_up_visibility if view.close_up else visibility, record.ids[valid], record.weights[valid])
        folder = os.path.join(records_dir, f"{i:05d}")
        record.save(folder)
        records.append(ViewRecord.load(folder))  # memory-mapped from here on
        close_ups.append(view.close_up)
        del masks, contrib, record
        report.stage("views and masks", i + 1, num_views, started, f"view {i + 1}/{num_views}: {view.name}")
    report.finish("views and masks")
    if not records:
        raise ValueError("no training views")
    if all(close_ups):
        visibility = close_up_visibility
    if not visibility.any():
        raise ValueError(f"no Gaussian of the scene is visible in any of the {len(records)} training views: "
                         "the cameras do not look at the splat (check the capture's cameras)")  # fmt: skip
    all_scales = np.concatenate([np.asarray(r.scales) for r in records])
    if len(all_scales) == 0:
        raise ValueError(f"the mask source '{mask_source.name}' produced no usable mask in {len(records)} views")
    # the slider spreads the scene's granularities as the overview views see them: a close-up's masks are things the
    # overview has too, seen again larger (and its many small masks would crowd the slider's low end)
    overview = [np.asarray(r.scales) for r, close in zip(records, close_ups, strict=True) if not close]
    overview_scales = np.concatenate(overview) if overview else all_scales
    transform = ScaleTransform.fit(overview_scales if len(overview_scales) else all_scales)
    unit_scales = [transform.to_unit(np.asarray(r.scales)) for r in records]

    started = time.perf_counter()
    _check_cancel(cancel)
    neighbours = knn_neighbours(splat.means, settings.knn)
    all_neighbours = neighbours
    note = ""
    segments = _segment_levels(mask_source)[0]
    if settings.segment_smoothing and segments is not None:
        # smoothing within each segment only: a thin part (a pole, a handle) is not blurred into what it touches
        same = segments[neighbours] == segments[:, None]
        neighbours = np.where(same, neighbours, np.arange(len(splat))[:, None])
        note = f", {1.0 - same.mean():.0%} of the pairs across segments left out of the smoothing"
    report.stage("neighbours", 1, 1, started, f"{settings.knn} nearest neighbours of {len(splat)} Gaussians{note}")
    report.finish("neighbours")

    started = time.perf_counter()

    def on_step(step: int, total: int, stats: dict) -> None:
        if step % 10 == 0 or step == total:
            report.stage("training", step, total, started, f"iteration {step}/{total}, loss {stats['loss']:.4f}",
                         stats)  # fmt: skip

    result = train_features(records, unit_scales, neighbours, settings, device=device, progress=on_step, cancel=cancel,
                            close_ups=close_ups)  # fmt: skip
    report.finish("training")
    if settings.fill_hidden:
        started = time.perf_counter()
        _check_cancel(cancel)
        colours = np.clip(splat.base_rgb, 0.0, 1.0)
        result.features, filled = fill_hidden_by_levels(result.features, visibility, all_neighbours,
                                                        _segment_levels(mask_source), colours=colours)  # fmt: skip
        report.stage("hidden Gaussians", 1, 1, started, f"{filled} Gaussians no view sees took their neighbours' "
                     "features")  # fmt: skip
        report.finish("hidden Gaussians")
    views_used = len(records)
    del records  # release the memory maps before the caller moves or removes the folder

    started = time.perf_counter()
    _check_cancel(cancel)
    meta = dict(metadata or {})
    meta.update(
        content_hash=splat.content_hash(), num_gaussians=len(splat), settings=settings.to_dict(),
        num_views=views_used, mask_source=mask_source.name, mask_settings=mask_source.settings(),
        versions=package_versions(), training_seconds=round(result.seconds, 2),
    )  # fmt: skip
    path = os.path.join(out_dir, CHECKPOINT_NAME)
    save_checkpoint(path, SceneCheckpoint(result.features, result.gate_weight, result.gate_bias,
                                          transform.quantiles, meta, visibility))  # fmt: skip
    report.stage("saving", 1, 1, started, "checkpoint written")
    report.finish("saving")
    return PrepareResult(path, records_dir, time.perf_counter() - t_start, result.seconds, views_used,
                         len(all_scales), float(np.mean(result.losses[-50:])))  # fmt: skip


def _segment_levels(mask_source) -> list:
    """The levels that hidden Gaussians are filled within: the mask source's 3D segmentation when it has one (its
    finest parts, then objects), then the plain neighbour graph."""
    segmentation = getattr(mask_source, "segmentation", None)
    if segmentation is None:
        return [None]
    return [segmentation.levels[0][1], segmentation.level("objects"), None]
