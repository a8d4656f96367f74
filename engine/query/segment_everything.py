"""Segment everything (SPEC 3.9): HDBSCAN on the gated, normalised features of a random sample of the Gaussians,
then every Gaussian takes the label of its most similar cluster centre.

Noise points of the sample (HDBSCAN label -1) define no cluster; like every other Gaussian they are assigned to
the most similar centre, so the labels cover the whole scene. Labels are ordered by cluster size (0 = largest).
Deterministic for a seed (the sample is the only random part).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .feature_scores import CHUNK, FeatureScorer
from .predictor import check_scale


@dataclass
class Clusters:
    labels: np.ndarray  # [N] int32, 0..C-1
    centres: np.ndarray  # [C, D] unit gated cluster centres
    sample_size: int
    sample_noise: int  # sample points HDBSCAN called noise
    notes: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.centres)


def _hdbscan():
    try:
        import hdbscan
    except ImportError as exc:  # optional dependency of the engine
        raise ImportError(
            "segment everything needs the 'hdbscan' package: pip install 'saga-blender[engine]' "
            "(or pip install hdbscan)"
        ) from exc
    return hdbscan


def gated_unit(scorer: FeatureScorer, ids: torch.Tensor, scale: float) -> torch.Tensor:
    """[n, D] S(s) * f_i / |S(s) * f_i| for the Gaussians ``ids``."""
    x = scorer.features[ids] * scorer.gate(scale)
    return x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)


def segment_everything(
    scorer: FeatureScorer,
    scale: float,
    sample_fraction: float = 0.02,
    min_sample: int = 2000,
    max_sample: int = 20000,
    min_cluster_size: int | None = None,
    seed: int = 0,
) -> Clusters:
    """Cluster the scene at a unit ``scale`` (0 finest parts, 1 coarsest groups)."""
    check_scale(scale)
    N = len(scorer)
    if N == 0:
        raise ValueError("the scene has no Gaussians")
    n = int(min(N, max(min_sample, min(max_sample, round(sample_fraction * N)))))
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(N, n, replace=False))
    x = gated_unit(scorer, torch.from_numpy(sample).to(scorer.device), scale).cpu().numpy().astype(np.float64)
    mcs = min_cluster_size or max(8, n // 400)
    notes: list[str] = []
    if n < 2 * mcs:
        labels_s = np.zeros(n, np.int64)
        notes.append(f"only {n} Gaussians: one cluster")
    else:
        hdbscan = _hdbscan()
        # euclidean on unit vectors orders pairs like the cosine does
        labels_s = hdbscan.HDBSCAN(min_cluster_size=mcs, min_samples=None, core_dist_n_jobs=1).fit_predict(x)
    noise = int((labels_s < 0).sum())
    found = np.unique(labels_s[labels_s >= 0])
    if len(found) == 0:
        notes.append("HDBSCAN found no cluster (all noise): the whole scene is one cluster")
        labels_s = np.zeros(n, np.int64)
        found = np.array([0])
    sizes = np.array([(labels_s == c).sum() for c in found])
    order = found[np.argsort(-sizes, kind="stable")]
    centres = np.stack([x[labels_s == c].mean(axis=0) for c in order])
    centres /= np.linalg.norm(centres, axis=1, keepdims=True).clip(1e-12)
    c = torch.from_numpy(centres.astype(np.float32)).to(scorer.device)
    labels = np.empty(N, np.int32)
    for start in range(0, N, CHUNK):
        ids = torch.arange(start, min(N, start + CHUNK), device=scorer.device)
        labels[start : start + len(ids)] = (gated_unit(scorer, ids, scale) @ c.T).argmax(dim=1).cpu().numpy()
    return Clusters(labels, centres.astype(np.float32), n, noise, notes)
