"""Robust bounds of a splat from its Gaussians alone: centre, extent, axes, up and a coarse occupancy grid.

Captures carry floaters (stray Gaussians far from the scene), near-transparent haze and a few huge
background blobs; naive min/max bounds are dominated by them. :func:`scene_bounds` keeps the
Gaussians that describe the scene:

1. Opaque: opacity >= 0.1. If that keeps fewer than 5% of them (a scene of faint Gaussians), the more
   opaque half is kept instead.
2. Not huge: largest scale <= 20 x the median largest scale (unless that would drop more than 10%).
3. Not a floater: the remaining centres are binned in a coarse grid spanning the 0.5-99.5% quantile box
   grown by 50% on every side (points outside it are dropped), occupied cells are grown by one cell and
   split in connected components; components holding less than 5% of the points are dropped. Floaters
   are small clusters away from the geometry, while a real but thin part (a guitar neck) is connected
   to the rest, which a distance rule (median + k MAD) would cut.

From the kept Gaussians: ``centre`` is the middle of the 1-99% quantile box (it frames the whole
scene; ``median`` is the mass centre), ``radius`` the 95th percentile distance from ``centre``,
``axes`` the principal axes (rows, decreasing spread) and ``grid`` counts the kept Gaussians per
voxel (:class:`OccupancyGrid`).

``up``: first from the Gaussians' orientations (``up_axis.up_from_normals``): when a large share of
the flat Gaussians' area shares one normal (a floor, a table top), that normal, signed so that the
plane (``support``, its height along up) is at the bottom of the scene. Otherwise, as COLMAP-based
captures need, the prior (-y by default) refined by the normal of a flat scene (:func:`estimate_up`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from saga_blender.core.gaussians import GaussianSplat

from .up_axis import up_from_normals

#: Up of a capture in OpenCV world axes when nothing else is known: COLMAP (and so the reference 3DGS
#: trainer, SuperSplat, most exports) keeps the first photo's camera frame, and photos are taken
#: upright, so gravity points along +y (image down) and up is -y.
DEFAULT_UP = np.array([0.0, -1.0, 0.0])
MIN_OPACITY = 0.1
FLAT_RATIO = 0.6  # smallest / middle principal spread below this: a flat scene
FLAT_MAX_TILT_DEG = 25.0  # flat-scene normal accepted as up only this close to the prior up


@dataclass
class OccupancyGrid:
    """Voxel counts of robust (opaque, non-floater) Gaussians, with free-space distances.

    origin [3]: world corner of cell (0, 0, 0); voxel: cell edge; counts [nx, ny, nz]; dense: cells with
    at least ``dense_min`` Gaussians; distance [nx, ny, nz]: from each cell centre to the nearest dense
    cell centre (0 in dense cells, inf when there is none).
    """

    origin: np.ndarray
    voxel: float
    counts: np.ndarray
    dense_min: int
    dense: np.ndarray
    distance: np.ndarray

    @staticmethod
    def build(points: np.ndarray, resolution: int = 64, margin_cells: int = 2) -> OccupancyGrid:
        lo, hi = points.min(axis=0), points.max(axis=0)
        voxel = float(max((hi - lo).max(), 1e-6) / resolution)
        origin = lo - margin_cells * voxel
        shape = np.ceil((hi - lo) / voxel).astype(int) + 2 * margin_cells + 1
        idx = np.floor((points - origin) / voxel).astype(int)
        flat = np.ravel_multi_index(tuple(idx.T), shape)
        counts = np.bincount(flat, minlength=int(np.prod(shape))).reshape(shape).astype(np.int32)
        occupied = counts[counts > 0]
        # Dense: a tenth of a typical occupied cell, at least 2 (a lone Gaussian is not a surface).
        dense_min = int(max(2, round(0.1 * np.median(occupied)))) if occupied.size else 2
        dense = counts >= dense_min
        if dense.any():
            distance = ndimage.distance_transform_edt(~dense).astype(np.float32) * voxel
        else:
            distance = np.full(shape, np.inf, np.float32)
        return OccupancyGrid(origin, voxel, counts, dense_min, dense, distance)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.counts.shape)

    @property
    def upper(self) -> np.ndarray:
        return self.origin + np.array(self.shape) * self.voxel

    def cells(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Integer cells [M, 3] of points (clamped into the grid) and whether each point is inside."""
        idx = np.floor((np.asarray(points, np.float64) - self.origin) / self.voxel).astype(int)
        inside = np.all((idx >= 0) & (idx < np.array(self.shape)), axis=-1)
        return np.clip(idx, 0, np.array(self.shape) - 1), inside

    def cell_centres(self, cells: np.ndarray) -> np.ndarray:
        return self.origin + (np.asarray(cells) + 0.5) * self.voxel

    def is_dense(self, points: np.ndarray) -> np.ndarray:
        """[M] whether each point lies in a dense cell (points outside the grid are not)."""
        idx, inside = self.cells(points)
        return inside & self.dense[tuple(idx.T)]

    def clearance(self, points: np.ndarray) -> np.ndarray:
        """[M] lower bound of the distance from each point to dense geometry (0 inside dense cells).

        Inside the grid: centre-to-centre distance minus one cell diagonal (the point and the geometry
        may sit anywhere in their cells). Outside: with c the point clamped onto the grid box,
        |p - q|^2 >= |p - c|^2 + |c - q|^2 for every q in the (convex) box.
        """
        p = np.asarray(points, np.float64).reshape(-1, 3)
        c = np.clip(p, self.origin, self.upper - 1e-9 * self.voxel)
        idx, _ = self.cells(c)
        inner = np.maximum(self.distance[tuple(idx.T)] - np.sqrt(3.0) * self.voxel, 0.0)
        return np.sqrt(np.sum((p - c) ** 2, axis=1) + inner.astype(np.float64) ** 2)

    def is_clear(self, points: np.ndarray, radius: float) -> np.ndarray:
        """[M] whether a ball of ``radius`` around each point is free of dense geometry."""
        return self.clearance(points) >= radius

    def free_cells(self, radius: float) -> np.ndarray:
        """[K, 3] centres of the grid cells whose whole cell keeps ``radius`` from dense geometry."""
        ok = self.distance - np.sqrt(3.0) * self.voxel >= radius
        return self.cell_centres(np.argwhere(ok))

    def ray_hits(self, origin: np.ndarray, dirs: np.ndarray, closed: bool = True) -> tuple:
        """Distances along rays from ``origin`` to the first and last dense cell ([K] each, inf/nan if none).

        ``closed`` grows dense cells by one cell first, so that rays do not leak through small holes.
        """
        dense = ndimage.binary_dilation(self.dense) if closed else self.dense
        far = float(np.linalg.norm(self.upper - self.origin))
        t = np.arange(0.0, far, 0.5 * self.voxel)
        pts = origin[None, None, :] + dirs[:, None, :] * t[None, :, None]
        idx, inside = self.cells(pts.reshape(-1, 3))
        hit = (inside & dense[tuple(idx.T)]).reshape(len(dirs), len(t))
        any_hit = hit.any(axis=1)
        first = np.where(any_hit, t[np.argmax(hit, axis=1)], np.inf)
        last = np.where(any_hit, t[len(t) - 1 - np.argmax(hit[:, ::-1], axis=1)], np.nan)
        return first, last


@dataclass
class SceneBounds:
    """Robust description of a splat's extent (see the module docstring for the rules)."""

    centre: np.ndarray  # [3] middle of the 1-99% quantile box
    median: np.ndarray  # [3] per-axis median of the robust centres
    lo: np.ndarray  # [3] 1% quantiles
    hi: np.ndarray  # [3] 99% quantiles
    radius: float  # 95th percentile distance from ``centre``
    axes: np.ndarray  # [3, 3] principal axes as rows, largest spread first
    spreads: np.ndarray  # [3] standard deviations along ``axes``
    up: np.ndarray  # [3] unit up direction
    up_reason: str
    keep: np.ndarray  # [N] bool, the robust Gaussians
    grid: OccupancyGrid
    support: float | None = None  # height along ``up`` of the ground plane the scene stands on, if found

    def robust_points(self, means: np.ndarray, max_points: int = 20000, seed: int = 0) -> np.ndarray:
        """A deterministic random subset (at most ``max_points``) of the robust Gaussian centres."""
        pts = np.asarray(means, np.float64)[self.keep]
        if len(pts) > max_points:
            pts = pts[np.sort(np.random.default_rng(seed).choice(len(pts), max_points, replace=False))]
        return pts


def estimate_up(axes: np.ndarray, spreads: np.ndarray, prior: np.ndarray | None = None) -> tuple:
    """(up [3], reason): the prior (default -y), tilted onto the normal of a flat scene.

    The splat alone rarely says where up is: an upright guitar and a lying one have the same shape, and
    the smallest principal axis of a flat *object* (a guitar, a painting) is horizontal. So the
    convention of the source decides (``prior``; -y for COLMAP-based captures), and the data only
    refine it: when the scene is flat (smallest spread < 0.6 x middle one, as rooms, tabletops and
    outdoor scenes are) and its normal is within 25 degrees of the prior, the normal (signed like the
    prior) is a better estimate of gravity than the arbitrary COLMAP frame.
    """
    prior = DEFAULT_UP if prior is None else np.asarray(prior, np.float64)
    prior = prior / np.linalg.norm(prior)
    normal = axes[2]
    cos = float(normal @ prior)
    flat = spreads[2] < FLAT_RATIO * spreads[1]
    if flat and abs(cos) >= np.cos(np.radians(FLAT_MAX_TILT_DEG)):
        tilt = np.degrees(np.arccos(min(abs(cos), 1.0)))
        return normal * np.sign(cos), f"flat scene: its normal, {tilt:.1f} deg from the prior up {prior.round(3)}"
    why = "the scene is not flat" if not flat else "the flat scene's normal is far from it"
    return prior, f"prior up {prior.round(3)} ({why})"


def _sample(x: np.ndarray, k: int = 500_000) -> np.ndarray:
    """Every m-th row, at most about ``k`` rows: statistics of big scenes (deterministic, order-free)."""
    return x[:: max(1, -(-len(x) // k))]


def robust_mask(splat: GaussianSplat) -> np.ndarray:
    """[N] bool: opaque, not huge, not a floater (rules 1-3 of the module docstring)."""
    n = len(splat)
    means = np.asarray(splat.means, np.float64)
    finite = np.all(np.isfinite(means), axis=1)
    opac = splat.opacities
    keep = finite & (opac >= MIN_OPACITY)
    if keep.sum() < max(0.05 * finite.sum(), min(100, finite.sum())):
        keep = finite & (opac >= np.median(_sample(opac[finite])))
    big = splat.scales.max(axis=1)
    huge = big > 20.0 * np.median(_sample(big[keep]))
    if (keep & ~huge).sum() >= 0.9 * keep.sum():
        keep &= ~huge
    pts = means[keep]
    lo, hi = np.quantile(_sample(pts), [0.005, 0.995], axis=0)
    pad = 0.5 * (hi - lo) + 1e-6
    inside = np.all((pts >= lo - pad) & (pts <= hi + pad), axis=1)
    grid = OccupancyGrid.build(pts[inside], resolution=64, margin_cells=1)
    labels, n_comp = ndimage.label(ndimage.binary_dilation(grid.counts > 0, np.ones((3, 3, 3), bool)))
    idx, _ = grid.cells(pts[inside])
    lab = labels[tuple(idx.T)]
    sizes = np.bincount(lab, minlength=n_comp + 1)
    big_comp = sizes >= 0.05 * len(lab)
    sub = np.zeros(len(pts), bool)
    sub[np.flatnonzero(inside)] = big_comp[lab]
    out = np.zeros(n, bool)
    out[np.flatnonzero(keep)] = sub
    return out


def scene_bounds(splat: GaussianSplat, up: np.ndarray | None = None, resolution: int = 64) -> SceneBounds:
    """Robust bounds of ``splat``; ``up`` is the prior up (default -y; a given one is only refined)."""
    if len(splat) == 0:
        raise ValueError("cannot bound an empty splat")
    keep = robust_mask(splat)
    if not keep.any():
        raise ValueError("the splat has no finite, opaque Gaussians to bound")
    pts = np.asarray(splat.means, np.float64)[keep]
    sample = _sample(pts)
    lo, hi = np.quantile(sample, [0.01, 0.99], axis=0)
    centre = 0.5 * (lo + hi)
    radius = float(np.quantile(np.linalg.norm(sample - centre, axis=1), 0.95))
    median = np.median(sample, axis=0)
    evals, evecs = np.linalg.eigh(np.cov((sample - median).T) if len(sample) > 1 else np.eye(3))
    order = np.argsort(evals)[::-1]
    axes, spreads = evecs[:, order].T, np.sqrt(np.maximum(evals[order], 0.0))
    prior = DEFAULT_UP if up is None else np.asarray(up, np.float64) / np.linalg.norm(up)
    up_vec, up_reason, evidence = up_from_normals(splat, keep, prior, explicit=up is not None)
    support = None
    if up_vec is None:
        up_vec, pca_reason = estimate_up(axes, spreads, prior)
        up_reason = f"{pca_reason}; {up_reason}"
    elif evidence.grounded:
        support = evidence.support
    grid = OccupancyGrid.build(pts, resolution=resolution)
    return SceneBounds(centre, median, lo, hi, max(radius, 1e-6), axes, spreads, up_vec, up_reason, keep, grid, support)
