"""Per-Gaussian measures for Select by Attribute, their histograms, and the cut: numpy only.

* opacity: sigmoid of the stored logit, in [0, 1]; selected *below* the cut (near-transparent haze);
* size: the largest axis' standard deviation (exp of the largest log scale) times the object's scale, in scene
  units; selected *above* the cut (huge blobs);
* elongation: the largest axis over the second one (a disc is ~1, a needle much more); selected *above* the cut
  (spiky artefacts). The ratio of the two largest axes, because trained Gaussians are flat: the smallest axis is
  tiny for most of them, and largest / smallest would flag every good one.

Histograms of size and elongation are over log10 of the value (they span decades); opacity's is linear.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MEASURES = {  # kind: (label, selects values above the cut?, log axis?)
    "OPACITY": ("Opacity", False, False),
    "SIZE": ("Size", True, True),
    "ELONGATION": ("Elongation", True, True),
}
BINS = 64


@dataclass
class Histogram:
    kind: str
    edges: np.ndarray  # [B + 1] bin edges in the measure's units (log-spaced for log measures)
    counts: np.ndarray  # [B] Gaussians per bin
    log: bool

    def position(self, value: float) -> float:
        """Where ``value`` falls along the histogram's axis, 0 (first edge) to 1 (last edge)."""
        lo, hi = self.edges[0], self.edges[-1]
        if self.log:
            value, lo, hi = np.log10(max(value, 1e-30)), np.log10(lo), np.log10(hi)
        return float(np.clip((value - lo) / (hi - lo), 0.0, 1.0)) if hi > lo else 0.0


def measure(kind: str, opacity_logits: np.ndarray, log_scales: np.ndarray, world_scale: float = 1.0) -> np.ndarray:
    """[N] float64 values of the measure ``kind`` (see the module docstring)."""
    if kind == "OPACITY":
        return 1.0 / (1.0 + np.exp(-np.asarray(opacity_logits, np.float64)))
    s = np.sort(np.asarray(log_scales, np.float64), axis=1)
    if kind == "SIZE":
        return np.exp(s[:, 2]) * float(world_scale)
    if kind == "ELONGATION":
        return np.exp(s[:, 2] - s[:, 1])
    raise ValueError(f"unknown measure {kind!r} (one of {', '.join(MEASURES)})")


def select(kind: str, values: np.ndarray, cut: float) -> np.ndarray:
    """[N] bool: below the cut for opacity, above it for size and elongation."""
    above = MEASURES[kind][1]
    return values > cut if above else values < cut


def histogram(kind: str, values: np.ndarray, bins: int = BINS) -> Histogram:
    values = np.asarray(values, np.float64)
    values = values[np.isfinite(values)]
    log = MEASURES[kind][2]
    if kind == "OPACITY":
        edges = np.linspace(0.0, 1.0, bins + 1)
    else:
        positive = values[values > 0]
        lo = float(positive.min()) if len(positive) else 1e-6
        hi = float(values.max()) if len(values) else 1.0
        if kind == "ELONGATION":
            lo = 1.0
        hi = max(hi, lo * 1.0001)
        edges = np.logspace(np.log10(lo), np.log10(hi), bins + 1)
    counts, _ = np.histogram(np.clip(values, edges[0], edges[-1]), bins=edges)
    return Histogram(kind, edges, counts, log)


def default_cut(kind: str, values: np.ndarray) -> float:
    """A starting cut: opacity below 0.05; the largest 1% by size; elongation above max(10, its 99.5th percentile)."""
    if kind == "OPACITY":
        return 0.05
    values = np.asarray(values, np.float64)
    if kind == "SIZE":
        return float(np.quantile(values, 0.99)) if len(values) else 1.0
    return float(max(10.0, np.quantile(values, 0.995))) if len(values) else 10.0
