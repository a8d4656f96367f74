"""The click protocol of the accuracy benchmark.

For every object and every part: find the view where it is most visible and, in it, its most interior
pixel (largest distance to its 2D boundary in the ground-truth label map); click that pixel; sweep
scales 0, 0.1, ..., 1; at each scale select the Gaussians whose scale-gated feature has cosine >= the
threshold with the clicked pixel's query feature; score IoU against the ground-truth Gaussian set.
The query feature is the clicked pixel's rendered feature, from its top-K contributors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from engine.render.contributors import render_contributors
from engine.render.splat_tensors import cameras_to_tensors, splat_to_tensors
from engine.training.checkpoint import SceneCheckpoint

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


def selection_scores(ckpt: SceneCheckpoint, query: np.ndarray, scale: float) -> np.ndarray:
    """[N] cosine between each Gaussian's gated feature and the gated query feature [D] at ``scale``."""
    gate = ckpt.gate(scale)
    f = ckpt.features * gate[None, :]
    q = query * gate
    return (f @ q) / (np.linalg.norm(f, axis=1) * np.linalg.norm(q) + 1e-12)


def query_feature(ckpt: SceneCheckpoint, ids: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """F(p) = sum_k w_k f_k / ||f_k|| for one pixel's contributors (ids -1 ignored)."""
    keep = ids >= 0
    f = ckpt.features[ids[keep]]
    f = f / np.linalg.norm(f, axis=1, keepdims=True).clip(1e-12)
    return (f * weights[keep, None]).sum(axis=0)


def evaluate_clicks(
    scene,
    ckpt: SceneCheckpoint,
    cameras,
    clicks: list[Click],
    gt_labels: np.ndarray,
    threshold: float = THRESHOLD,
    consider: np.ndarray | None = None,
) -> np.ndarray:
    """IoU [len(clicks), len(SCALES)] of each click's selection against ``gt_labels == click.label``, over the
    Gaussians where ``consider`` is True (all when None; e.g. those seen by the training views)."""
    st = splat_to_tensors(scene.splat)
    vm, K = cameras_to_tensors(cameras)
    ious = np.zeros((len(clicks), len(SCALES)))
    contrib_cache: dict[int, object] = {}
    for c, click in enumerate(clicks):
        if click.view not in contrib_cache:
            contrib_cache[click.view] = render_contributors(
                st.means, st.quats, st.scales, st.opacities, vm[click.view : click.view + 1],
                K[click.view : click.view + 1], cameras.width, cameras.height,
            )  # fmt: skip
        contrib = contrib_cache[click.view]
        ids = contrib.ids[0, click.y, click.x].numpy()
        w = contrib.weights[0, click.y, click.x].numpy()
        query = query_feature(ckpt, ids, w)
        truth = gt_labels == click.label
        if consider is not None:
            truth = truth & consider
        for j, s in enumerate(SCALES):
            selected = selection_scores(ckpt, query, s) >= threshold
            if consider is not None:
                selected &= consider
            union = np.count_nonzero(selected | truth)
            ious[c, j] = np.count_nonzero(selected & truth) / union if union else 0.0
    return ious


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
