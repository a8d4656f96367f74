"""Grow / Shrink a selection over the splat's neighbour graph (Blender's Select More / Less, which follows mesh edges;
a splat has none).

The graph links two Gaussians when their centres are closer than a *hop* distance. One step of growing adds every
Gaussian within one hop of the selection (exactly: Euclidean distance <= hop); ``steps`` steps repeat it from what
the previous step added, so the selection spreads along the splat's surfaces and crosses no gap wider than a hop.
Shrinking is the dual: the unselected Gaussians grow into the selection, and what they reach leaves it.

* :func:`neighbour_spacing`: the default hop, twice the median 1-sigma footprint of the Gaussians (neighbouring
  Gaussians of a trained splat overlap at about that distance).
* By a distance d: ``hops_for_distance`` splits d into hops of at most 2 spacings (exact Euclidean growth for d up to
  that; beyond, the growth follows the surfaces in those hops, never farther than d from the selection).

Numpy only (``point_grid``). The grids are cached by the caller (``neighbour_cache``) per object and cell size.
"""

from __future__ import annotations

import math

import numpy as np

from .point_grid import PointGrid

MAX_HOP_IN_SPACINGS = 2.0  # longer hops cross wider gaps and cost more (pairs grow with the square)
MAX_HOPS = 64
PAIR_CHUNK = 1 << 21  # point pairs compared per pass


def neighbour_spacing(log_scales: np.ndarray) -> float:
    """Twice the median footprint sigma (geometric mean of each Gaussian's two largest axis scales)."""
    s = np.sort(np.asarray(log_scales, np.float64), axis=1)
    footprint = np.exp(0.5 * (s[:, 1] + s[:, 2]))
    finite = footprint[np.isfinite(footprint)]
    return float(2.0 * np.median(finite)) if len(finite) else 1.0


def hops_for_distance(distance: float, spacing: float) -> tuple[int, float]:
    """(number of hops, hop) covering ``distance`` in hops of at most ``MAX_HOP_IN_SPACINGS`` spacings."""
    if distance <= 0:
        raise ValueError(f"the distance must be positive, got {distance}")
    count = min(MAX_HOPS, max(1, math.ceil(distance / (MAX_HOP_IN_SPACINGS * spacing) - 1e-9)))
    return count, distance / count


def grid_cell_for(hop: float, spacing: float) -> float:
    """The cell of the cached grid that serves ``hop``: ``spacing`` times the smallest power of two >= hop/spacing
    (so a few grids serve every hop, and each hop's neighbours lie in the 27 cells around a point)."""
    ratio = max(hop / spacing, 1e-6)
    return spacing * 2.0 ** math.ceil(math.log2(ratio) - 1e-12)


def within(positions: np.ndarray, grid: PointGrid, seeds: np.ndarray, candidates: np.ndarray,
           hop: float) -> np.ndarray:  # fmt: skip
    """[N] bool: the ``candidates`` ([N] bool) whose distance to a ``seeds`` point ([N] bool) is <= ``hop``.
    ``grid.cell`` must be >= hop. Exact: per pair of cells, the seeds' bounding box decides most pairs (all inside
    reach, or none), the rest are compared point by point."""
    out = np.zeros(grid.n, bool)
    n_seeds, n_candidates = int(np.count_nonzero(seeds)), int(np.count_nonzero(candidates))
    if n_seeds == 0 or n_candidates == 0:
        return out
    if n_seeds > n_candidates:  # (shrinking) only seeds next to a candidate can reach one
        allowed = np.zeros(len(grid), bool)
        allowed[grid.neighbour_cells(grid.sorted_members(candidates)[1])] = True
        seeds = seeds & allowed[grid.cell_of]
    seed_idx, cells, first = grid.sorted_members(seeds)
    if len(seed_idx) == 0:
        return out
    bounds = np.r_[first, len(seed_idx)]
    sp = positions[seed_idx].astype(np.float64)
    box_lo, box_hi = np.minimum.reduceat(sp, first, axis=0), np.maximum.reduceat(sp, first, axis=0)
    # every (seed cell, neighbour cell) pair once; the neighbour cells hold the candidates
    seed_rows, other, ring = grid.neighbour_pairs(cells)
    near_mark = np.zeros(len(grid), bool)
    near_mark[other] = True
    near = grid.points_in(np.flatnonzero(near_mark))  # sorted by cell
    cand = near[candidates[near]]
    if len(cand) == 0:
        return out
    cand_cell = grid.cell_of[cand]
    cand_first = np.flatnonzero(np.r_[True, cand_cell[1:] != cand_cell[:-1]])
    cand_cells = cand_cell[cand_first]
    per_cell = np.diff(np.r_[cand_first, len(cand)])  # candidates of each candidate cell
    cp = positions[cand].astype(np.float64)
    cell_lo, cell_hi = np.minimum.reduceat(cp, cand_first, axis=0), np.maximum.reduceat(cp, cand_first, axis=0)
    r2 = hop * hop
    hit = np.zeros(len(cand), bool)
    cell_done = np.zeros(len(cand_cells), bool)  # every candidate of the cell is hit
    row_of = np.full(len(grid), -1, np.int64)
    row_of[cand_cells] = np.arange(len(cand_cells))
    all_rows = row_of[other]  # candidate-cell row of each pair's neighbour
    with_candidates = all_rows >= 0
    all_rows, all_sc, ring = all_rows[with_candidates], seed_rows[with_candidates], ring[with_candidates]
    # nearest rings first: most candidates are hit early
    pending_c, pending_s = [], []
    for r in range(4):
        take = (ring == r) & ~cell_done[all_rows]
        rows, sc = all_rows[take], all_sc[take]
        # cell against cell: the boxes decide for whole cells (all in reach, or none)
        sure, maybe = _box_test(cell_lo[rows], cell_hi[rows], box_lo[sc], box_hi[sc], r2)
        cell_done[rows[sure]] = True
        rows, sc = rows[maybe], sc[maybe]
        # the undecided cell pairs, candidate by candidate
        count = per_cell[rows]
        ci = np.repeat(cand_first[rows], count) + (
            np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
        )
        sc = np.repeat(sc, count)
        open_ = ~hit[ci]
        ci, sc = ci[open_], sc[open_]
        q = cp[ci]
        sure, maybe = _box_test(q, q, box_lo[sc], box_hi[sc], r2)
        hit[ci[sure]] = True
        pending_c.append(ci[maybe])
        pending_s.append(sc[maybe])
    hit |= np.repeat(cell_done, per_cell)
    ci, sc = np.concatenate(pending_c), np.concatenate(pending_s)
    keep = ~hit[ci]
    ci, sc = ci[keep], sc[keep]
    start, count = bounds[sc], bounds[sc + 1] - bounds[sc]
    cum = np.cumsum(count)
    i = 0
    while i < len(ci):  # point-by-point for the undecided pairs, in bounded chunks
        base = cum[i - 1] if i else 0
        j = max(i + 1, int(np.searchsorted(cum, base + PAIR_CHUNK, side="right")))
        c_ci, c_start, c_count = ci[i:j], start[i:j], count[i:j]
        open_ = ~hit[c_ci]
        c_ci, c_start, c_count = c_ci[open_], c_start[open_], c_count[open_]
        total = int(c_count.sum())
        if total:
            rep = np.repeat(np.arange(len(c_ci)), c_count)
            offset = np.arange(total) - np.repeat(np.cumsum(c_count) - c_count, c_count)
            d2 = np.sum((sp[c_start[rep] + offset] - cp[c_ci[rep]]) ** 2, axis=1)
            hit[c_ci[rep[d2 <= r2]]] = True
        i = j
    out[cand[hit]] = True
    return out


def _box_test(a_lo, a_hi, b_lo, b_hi, r2: float) -> tuple[np.ndarray, np.ndarray]:
    """(sure, maybe) per row: every point of box a is within sqrt(r2) of every point of box b / of some point of
    it may be (neither sure nor out of reach)."""
    gap = np.maximum(np.maximum(b_lo - a_hi, a_lo - b_hi), 0.0)
    span = np.maximum(np.abs(a_hi - b_lo), np.abs(b_hi - a_lo))
    near, far = np.sum(gap * gap, axis=1), np.sum(span * span, axis=1)
    sure = far <= r2
    return sure, ~sure & (near <= r2)


def spread(positions: np.ndarray, grid: PointGrid, seeds: np.ndarray, target: np.ndarray, hop: float,
           steps: int) -> np.ndarray:  # fmt: skip
    """[N] bool: the ``target`` points reached from ``seeds`` in ``steps`` hops (each step starts from what the
    previous one reached: a point within a hop of an older one would have been reached already)."""
    reached = np.zeros(grid.n, bool)
    frontier = seeds
    remaining = target & ~seeds
    for _ in range(max(0, int(steps))):
        new = within(positions, grid, frontier, remaining, hop)
        if not new.any():
            break
        reached |= new
        remaining &= ~new
        frontier = new
    return reached


def grow(positions: np.ndarray, grid: PointGrid, selection: np.ndarray, hop: float, steps: int = 1) -> np.ndarray:
    """The selection and every Gaussian ``steps`` hops of at most ``hop`` from it."""
    selection = np.asarray(selection, bool)
    return selection | spread(positions, grid, selection, ~selection, hop, steps)


def shrink(positions: np.ndarray, grid: PointGrid, selection: np.ndarray, hop: float, steps: int = 1) -> np.ndarray:
    """The selection without the Gaussians the unselected ones reach in ``steps`` hops (only where the selection
    touches unselected Gaussians: a selected island with nothing around it keeps its points, as in Select Less)."""
    selection = np.asarray(selection, bool)
    return selection & ~spread(positions, grid, ~selection, selection, hop, steps)
