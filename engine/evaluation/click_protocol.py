"""The click protocol of the accuracy benchmark.

For every object and every part: find the view where it is most visible and, in it, its most interior
pixel (largest distance to its 2D boundary in the ground-truth label map); click that pixel; sweep
scales 0, 0.1, ..., 1; at each scale select the Gaussians whose scale-gated feature has cosine >= the
threshold with the clicked pixel's query feature; score IoU against the ground-truth Gaussian set.
The selection is exactly what the product returns for that click (``engine.query.predictor``): the query
feature comes from the clicked pixel's contributors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

SCALES = np.linspace(0.0, 1.0, 11)
THRESHOLD = 0.75


@dataclass
class Click:
    label: int
    view: int
    x: int
    y: int
    interior_px: float  # distance from the clicked pixel to the region's boundary


def choose_clicks(label_maps: list[np.ndarray], labels: np.ndarray, min_area: int = 30) -> list[Click]:
    """Per label, the most interior pixel over all views (skips labels never visible with >= min_area px)."""
    clicks = []
    for label in labels:
        best: Click | None = None
        for v, lm in enumerate(label_maps):
            region = lm == label
            if region.sum() < min_area:
                continue
            dist = ndimage.distance_transform_edt(region)
            y, x = np.unravel_index(int(dist.argmax()), dist.shape)
            if best is None or dist[y, x] > best.interior_px:
                best = Click(int(label), v, int(x), int(y), float(dist[y, x]))
        if best is not None:
            clicks.append(best)
    return clicks


def evaluate_clicks(
    predictor,
    cameras,
    clicks: list[Click],
    gt_labels: np.ndarray,
    threshold: float = THRESHOLD,
    consider: np.ndarray | None = None,
    postprocess=None,
    scales: np.ndarray = SCALES,
) -> np.ndarray:
    """IoU [len(clicks), S] of each click's selection against ``gt_labels == click.label``, over the Gaussians
    where ``consider`` is True (all when None; e.g. those seen by the training views). The selection is the
    product's: ``ScenePredictor.predict`` with one positive click (optionally post-processed). ``scales`` is [S]
    for every click, or [len(clicks), S] per click."""
    from engine.query.prompts import Prompts, QueryCamera

    scales = np.asarray(scales, np.float64)
    per_click = scales if scales.ndim == 2 else np.broadcast_to(scales, (len(clicks), len(scales)))
    ious = np.zeros(per_click.shape)
    for c, click in enumerate(clicks):
        camera = QueryCamera.from_cameras(cameras, click.view)
        prompts = Prompts(positive=[(click.x, click.y)])
        truth = gt_labels == click.label
        if consider is not None:
            truth = truth & consider
        for j, s in enumerate(per_click[c]):
            selected = np.zeros(len(gt_labels), bool)
            selected[predictor.predict(camera, prompts, float(s), threshold, postprocess).ids] = True
            if consider is not None:
                selected &= consider
            union = np.count_nonzero(selected | truth)
            ious[c, j] = np.count_nonzero(selected & truth) / union if union else 0.0
    return ious


def evaluate_clicks_all_and_seen(predictor, cameras, clicks: list[Click], gt_labels: np.ndarray, seen: np.ndarray,
                                 threshold: float = THRESHOLD, scales: np.ndarray = SCALES):  # fmt: skip
    """(IoU over all Gaussians, IoU over the ``seen`` ones), each [len(clicks), S], from one selection per click and
    scale (as :func:`evaluate_clicks` twice, at half the cost)."""
    from engine.query.prompts import Prompts, QueryCamera

    scales = np.asarray(scales, np.float64)
    every, only_seen = np.zeros((len(clicks), len(scales))), np.zeros((len(clicks), len(scales)))
    for c, click in enumerate(clicks):
        camera = QueryCamera.from_cameras(cameras, click.view)
        prompts = Prompts(positive=[(click.x, click.y)])
        truth = gt_labels == click.label
        for j, s in enumerate(scales):
            selected = np.zeros(len(gt_labels), bool)
            selected[predictor.predict(camera, prompts, float(s), threshold).ids] = True
            for out, keep in ((every, None), (only_seen, seen)):
                sel, tru = (selected, truth) if keep is None else (selected & keep, truth & keep)
                union = np.count_nonzero(sel | tru)
                out[c, j] = np.count_nonzero(sel & tru) / union if union else 0.0
    return every, only_seen


def summarise(ious: np.ndarray) -> dict:
    """Mean IoU at each click's best scale, and at the single fixed scale that is best on average."""
    if len(ious) == 0:
        return {"best_scale_miou": float("nan"), "fixed_scale": float("nan"), "fixed_scale_miou": float("nan")}
    per_scale = ious.mean(axis=0)
    fixed = int(per_scale.argmax())
    return {
        "best_scale_miou": float(ious.max(axis=1).mean()),
        "fixed_scale": float(SCALES[fixed]),
        "fixed_scale_miou": float(per_scale[fixed]),
        "count": len(ious),
    }
