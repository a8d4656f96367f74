"""Select Floaters: the Gaussians outside the scene's dense body (stray blobs in the air, far outliers, small
disconnected clusters), numpy only.

1. Bin the Gaussians into cells of 1/``RESOLUTION`` of the scene's robust extent (the 2-98% percentile box, so far
   outliers do not stretch the cells) and weigh each cell by the opacity it holds.
2. *Dense* cells hold at least ``density_threshold`` of opacity: a fraction of the median occupied cell's. A splat
   too sparse for the cells (the cell of its median Gaussian holds fewer than ``MIN_PER_CELL``) gets coarser cells.
3. Dense cells that touch (26-neighbourhood) form components; the *body* is every component holding at least
   ``component_fraction`` of the largest one's opacity (so several objects, or a room and its furniture, stay).
4. Floaters are the Gaussians in cells that are neither body nor next to it (the fringe of a surface stays), which
   includes every far outlier (its cell touches nothing).

``strength`` in [0, 1] moves all three knobs together (0.5 is the default): higher strength wants denser cells,
bigger components and a finer grid, so it selects more.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .point_grid import PointGrid, connected_components

RESOLUTION = (96, 192)  # cells along the robust extent at strength 0 and 1
MIN_PER_CELL = 6  # coarser cells where the median occupied cell holds fewer Gaussians (a sparse splat)
MIN_RESOLUTION = 12


@dataclass(frozen=True)
class FloaterSettings:
    resolution: int
    density_threshold: float  # of the median occupied cell's opacity
    component_fraction: float  # of the largest component's opacity

    @staticmethod
    def for_strength(strength: float) -> FloaterSettings:
        s = float(np.clip(strength, 0.0, 1.0))
        return FloaterSettings(
            resolution=round(RESOLUTION[0] + (RESOLUTION[1] - RESOLUTION[0]) * s),
            density_threshold=0.02 + 0.28 * s,  # 2% .. 30% of a median cell
            component_fraction=10.0 ** (-3.5 + 2.5 * s),  # 0.03% .. 10% of the largest component
        )


@dataclass
class FloaterResult:
    mask: np.ndarray  # [N] bool: the floaters
    cell: float  # the cell size used
    components: int  # dense components found
    body_components: int  # of which kept as the body


def robust_extent(positions: np.ndarray) -> float:
    """The largest side of the 2-98% percentile box (of at most 200k of the points: a strided sample)."""
    sample = positions[:: max(1, len(positions) // 200_000)]
    lo, hi = np.percentile(sample, 2, axis=0), np.percentile(sample, 98, axis=0)
    extent = float(np.max(hi - lo))
    if not extent > 0:
        extent = float(np.max(positions.max(axis=0) - positions.min(axis=0)))
    return extent if extent > 0 else 1.0


def typical(values: np.ndarray, counts: np.ndarray) -> float:
    """The median of a per-cell value over the Gaussians (each cell counted as often as it holds Gaussians)."""
    order = np.argsort(values)
    cum = np.cumsum(counts[order])
    return float(values[order][np.searchsorted(cum, cum[-1] / 2.0)])


def select_floaters(positions: np.ndarray, opacities: np.ndarray, strength: float = 0.5) -> FloaterResult:
    """The floaters of a splat (positions [N, 3], activated opacities [N]) at ``strength`` in [0, 1]."""
    positions = np.asarray(positions, np.float64)
    n = len(positions)
    settings = FloaterSettings.for_strength(strength)
    if n == 0:
        return FloaterResult(np.zeros(0, bool), 1.0, 0, 0)
    extent = robust_extent(positions)
    resolution = settings.resolution
    while True:
        cell = extent / resolution
        grid = PointGrid(positions, cell)
        if typical(grid.counts, grid.counts) >= MIN_PER_CELL or resolution <= MIN_RESOLUTION:
            break
        resolution = max(MIN_RESOLUTION, int(resolution / 1.5))
    weight = np.bincount(grid.cell_of, weights=np.asarray(opacities, np.float64), minlength=len(grid))
    dense = weight >= settings.density_threshold * np.median(weight)
    a, b = grid.adjacent_pairs(dense)
    label = connected_components(len(grid), a, b)
    mass = np.bincount(label[dense], weights=weight[dense], minlength=len(grid))
    roots = np.flatnonzero(mass > 0)
    body_roots = roots[mass[roots] >= settings.component_fraction * mass.max()] if len(roots) else roots
    body = dense & np.isin(label, body_roots)
    near_body = np.zeros(len(grid), bool)
    near_body[grid.neighbour_cells(np.flatnonzero(body))] = True
    return FloaterResult(~near_body[grid.cell_of], cell, len(roots), len(body_roots))
