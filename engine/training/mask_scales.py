"""Mask scales (SAGA eq. 2) and the quantile transform that maps them to the UI's [0, 1] scale slider.

A mask's 3D scale is s_M = 2 * sqrt(std(X)^2 + std(Y)^2 + std(Z)^2) of its pixels back-projected with the
depth rendered from the splat. As in the reference code the mask is eroded a little first (its border
pixels mix depths of neighbouring surfaces). The transform is the empirical CDF of all the scene's mask
scales, stored as quantiles, so the slider spreads the scene's real granularities evenly over [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

MIN_PIXELS = 16
EROSION_PIXELS = 2


def backproject(depth: np.ndarray, K: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """Camera-space points [P, 3] of flat pixel indices ``pixels`` of an [H, W] depth (pixel centres)."""
    v, u = np.divmod(pixels, depth.shape[1])
    z = depth.reshape(-1)[pixels].astype(np.float64)
    x = (u + 0.5 - K[0, 2]) / K[0, 0] * z
    y = (v + 0.5 - K[1, 2]) / K[1, 1] * z
    return np.stack([x, y, z], axis=1)


def mask_scale(mask: np.ndarray, depth: np.ndarray, K: np.ndarray, erosion: int = EROSION_PIXELS) -> float:
    """Eq. 2 for one mask [H, W] bool with depth [H, W] (NaN = empty). NaN when too few valid pixels."""
    eroded = ndimage.binary_erosion(mask, iterations=erosion) if erosion > 0 else mask
    if eroded.sum() < MIN_PIXELS:  # thin masks: erosion would remove them, use the mask itself
        eroded = mask
    pixels = np.flatnonzero(eroded & np.isfinite(depth))
    if len(pixels) < MIN_PIXELS:
        return float("nan")
    points = backproject(depth, K, pixels)
    return float(2.0 * np.sqrt(points.var(axis=0).sum()))


def mask_scales(masks: np.ndarray, depth: np.ndarray, K: np.ndarray) -> np.ndarray:
    """[M] scales of a mask stack [M, H, W] (NaN for masks without enough depth)."""
    return np.array([mask_scale(m, depth, K) for m in masks], dtype=np.float64)


@dataclass
class ScaleTransform:
    """Monotone map from metric mask scale to [0, 1] (quantile transform) and back."""

    quantiles: np.ndarray  # [Q] metric scales at probabilities linspace(0, 1, Q), non-decreasing

    @staticmethod
    def fit(scales: np.ndarray, n_quantiles: int = 1001) -> ScaleTransform:
        finite = np.asarray(scales, np.float64)
        finite = finite[np.isfinite(finite)]
        if len(finite) == 0:
            raise ValueError("no mask has a valid scale: the masks do not cover any rendered surface")
        q = np.quantile(finite, np.linspace(0.0, 1.0, n_quantiles))
        return ScaleTransform(np.maximum.accumulate(q))

    @property
    def probabilities(self) -> np.ndarray:
        return np.linspace(0.0, 1.0, len(self.quantiles))

    def to_unit(self, metric: np.ndarray) -> np.ndarray:
        """Metric scale -> [0, 1]; ties in the quantiles map to their mean probability."""
        metric = np.asarray(metric, np.float64)
        lo = np.interp(metric, self.quantiles, self.probabilities, left=0.0, right=1.0)
        hi = 1.0 - np.interp(-metric, -self.quantiles[::-1], self.probabilities, left=0.0, right=1.0)
        return np.clip(0.5 * (lo + hi), 0.0, 1.0)

    def to_metric(self, unit: np.ndarray) -> np.ndarray:
        """[0, 1] -> metric scale (the inverse of :meth:`to_unit` where it is strictly increasing)."""
        return np.interp(np.clip(np.asarray(unit, np.float64), 0.0, 1.0), self.probabilities, self.quantiles)
