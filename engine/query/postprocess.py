"""3D post-processing of a selection (SAGA arXiv v1, section 3.5): statistical outlier removal, ball-query growth.

* Statistical filter: each selected Gaussian's mean distance to its k nearest selected neighbours
  (k = sqrt(|selection|) in the paper, capped at ``max_k`` so a 100k-Gaussian selection stays interactive);
  those farther than mean + std of these distances are dropped (stray Gaussians far from the object).
* Ball-query growth: every Gaussian of the scene within radius r of a (filtered) selected Gaussian joins,
  r = the largest nearest-neighbour distance inside the selection (the paper), or a quantile of them
  (``grow_quantile`` < 1), which one stray pair cannot blow up.

Both are off unless asked for: on the accuracy benchmark the filter alone lowers a plain click's IoU
(objects 0.864 -> 0.842, weights-free masks) because it trims thin parts and object rims, and filter + growth
is neutral (0.861-0.873). They remain useful on real captures with floaters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PostProcess:
    outlier_filter: bool = True
    grow: bool = False
    max_k: int = 32
    grow_quantile: float = 1.0

    def describe(self) -> str:
        parts = []
        if self.outlier_filter:
            parts.append(f"outlier filter (k <= {self.max_k})")
        if self.grow:
            parts.append(f"ball-query growth (r = {self.grow_quantile:g} quantile of nearest-neighbour distances)")
        return ", ".join(parts) or "none"


def statistical_filter(means: np.ndarray, ids: np.ndarray, max_k: int = 32) -> np.ndarray:
    """The ids whose mean distance to their k nearest selected neighbours is <= mean + std over the selection."""
    from scipy.spatial import cKDTree

    if len(ids) < 4:
        return ids
    pts = np.asarray(means[ids], np.float64)
    k = int(min(max_k, max(2, round(np.sqrt(len(ids))))))
    d, _ = cKDTree(pts).query(pts, k=k + 1, workers=-1)  # the first neighbour is the point itself
    mean_d = d[:, 1:].mean(axis=1)
    return ids[mean_d <= mean_d.mean() + mean_d.std()]


def ball_query_grow(means: np.ndarray, ids: np.ndarray, quantile: float = 1.0) -> np.ndarray:
    """ids plus every Gaussian within r of one of them, r from the selection's nearest-neighbour distances."""
    from scipy.spatial import cKDTree

    if len(ids) < 2:
        return ids
    pts = np.asarray(means[ids], np.float64)
    tree = cKDTree(pts)
    nn, _ = tree.query(pts, k=2, workers=-1)
    r = float(np.quantile(nn[:, 1], quantile))
    lo, hi = pts.min(axis=0) - r, pts.max(axis=0) + r
    inside = np.flatnonzero(np.all((means >= lo) & (means <= hi), axis=1))  # only these can be within r
    d, _ = tree.query(np.asarray(means[inside], np.float64), k=1, distance_upper_bound=r * (1 + 1e-9), workers=-1)
    return np.union1d(ids, inside[np.isfinite(d)])


def apply_postprocess(means: np.ndarray, ids: np.ndarray, settings: PostProcess, notes: list[str] | None = None):
    """Run the enabled steps in the paper's order (filter, then grow); returns sorted ids [M] int64."""
    before = len(ids)
    ids = np.asarray(ids, np.int64)
    if settings.outlier_filter:
        ids = statistical_filter(means, ids, settings.max_k)
    filtered = len(ids)
    if settings.grow:
        ids = ball_query_grow(means, ids, settings.grow_quantile)
    if notes is not None:
        grown = f" -> {len(ids)} after growth" if settings.grow else ""
        notes.append(f"post-processing: {before} -> {filtered} after the outlier filter{grown}")
    return np.sort(ids).astype(np.int64)
