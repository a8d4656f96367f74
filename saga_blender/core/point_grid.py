"""Points binned into cubic cells (sparse: only occupied cells are stored), numpy only.

This is the splat's neighbour structure (Blender's Python has no scipy, and a k-nearest-neighbour graph of 1M points
takes seconds even with one): neighbours of a point are looked up in its own cell and the 26 around it, so any two
points closer than the cell size are found. Cell keys pack the three cell coordinates into one int64 (21 bits
each), sorted once; a set of cells is looked up with ``searchsorted``.
"""

from __future__ import annotations

import numpy as np

BITS = 21
MAX_CELLS = (1 << BITS) - 4  # cells per axis (two of padding on each side)
OFFSETS = np.array([(x, y, z) for x in (-1, 0, 1) for y in (-1, 0, 1) for z in (-1, 0, 1)], np.int64)
#: the 13 "forward" neighbour offsets: each adjacent pair of cells is seen once
FORWARD = OFFSETS[[i for i, (x, y, z) in enumerate(OFFSETS) if (x, y, z) > (0, 0, 0)]]


def pack(cells: np.ndarray) -> np.ndarray:
    """int64 keys of [N, 3] non-negative cell coordinates."""
    return (cells[:, 0] << (2 * BITS)) | (cells[:, 1] << BITS) | cells[:, 2]


def offset_keys(offsets: np.ndarray) -> np.ndarray:
    """What adding each [K, 3] cell offset adds to a key (valid while no coordinate leaves its range)."""
    return (offsets[:, 0] << (2 * BITS)) + (offsets[:, 1] << BITS) + offsets[:, 2]


class PointGrid:
    """``positions`` [N, 3] binned at ``cell``: ``keys`` [M] (sorted, unique), ``counts`` [M], ``cell_of`` [N]
    (index into keys), ``order`` [N] (point indices sorted by cell) and ``starts`` [M + 1] (their ranges)."""

    def __init__(self, positions: np.ndarray, cell: float):
        positions = np.asarray(positions, np.float64)
        if not cell > 0 or not np.isfinite(cell):
            raise ValueError(f"cell size must be positive, got {cell}")
        self.cell = float(cell)
        self.n = len(positions)
        self.origin = (positions.min(axis=0) if self.n else np.zeros(3)) - 2 * self.cell
        coords = np.floor((positions - self.origin) / self.cell).astype(np.int64)
        if self.n and coords.max() > MAX_CELLS:
            raise ValueError(f"cells of {cell:g} are too small for a scene of this extent "
                             f"({int(coords.max())} cells along an axis, at most {MAX_CELLS})")  # fmt: skip
        keys = pack(coords)
        self.order = np.argsort(keys)
        sorted_keys = keys[self.order]
        first = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]]) if self.n else np.zeros(0, np.int64)
        self.keys = sorted_keys[first]
        self.starts = np.r_[first, self.n].astype(np.int64)
        self.counts = np.diff(self.starts)
        self.cell_of = np.empty(self.n, np.int64)
        self.cell_of[self.order] = np.repeat(np.arange(len(self.keys)), self.counts)

    def __len__(self) -> int:
        return len(self.keys)

    def find(self, keys: np.ndarray) -> np.ndarray:
        """Cell index of each key, -1 where no point lies in that cell."""
        if len(self.keys) == 0:
            return np.full(len(keys), -1, np.int64)
        pos = np.searchsorted(self.keys, keys)
        pos = np.minimum(pos, len(self.keys) - 1)
        return np.where(self.keys[pos] == keys, pos, -1)

    def neighbour_pairs(self, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, neighbours, ring): every occupied cell in the 27-neighbourhood of each of ``cells`` (pair i belongs
        to ``cells[rows[i]]``; ``ring`` is |dx| + |dy| + |dz| of its offset, 0 for the cell itself). The three cells
        stacked along z have consecutive keys, so 9 sorted searches find all 27."""
        base = self.keys[cells]
        rows, found, rings = [], [], []
        top = len(self.keys) - 1
        column = OFFSETS[OFFSETS[:, 2] == -1]  # (dx, dy, -1): the lowest cell of each z-column
        for (dx, dy, _), off in zip(column, offset_keys(column), strict=True):
            low = base + off
            pos = np.searchsorted(self.keys, low)
            for j in range(3):
                at = np.minimum(pos + j, top)
                ok = (pos + j <= top) & (self.keys[at] <= low + 2)
                hit_rows = np.flatnonzero(ok)
                dz = self.keys[at[hit_rows]] - low[hit_rows] - 1
                rows.append(hit_rows)
                found.append(at[hit_rows])
                rings.append(abs(dx) + abs(dy) + np.abs(dz))
        return np.concatenate(rows), np.concatenate(found), np.concatenate(rings)

    def neighbour_cells(self, cells: np.ndarray) -> np.ndarray:
        """The occupied cells among the 27-neighbourhoods of ``cells`` (them included), sorted, unique."""
        mark = np.zeros(len(self.keys), bool)
        mark[self.neighbour_pairs(cells)[1]] = True
        return np.flatnonzero(mark)

    def sorted_members(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(point indices of ``mask`` sorted by cell, their cells (sorted unique), start of each cell's run)."""
        count = int(np.count_nonzero(mask))
        if count < self.n // 8:  # few: sort them (cheaper than walking every point)
            idx = np.flatnonzero(mask)
            idx = idx[np.argsort(self.cell_of[idx], kind="stable")]
        else:
            idx = self.order[mask[self.order]]
        cell = self.cell_of[idx]
        first = np.flatnonzero(np.r_[True, cell[1:] != cell[:-1]]) if len(idx) else np.zeros(0, np.int64)
        return idx, cell[first], first

    def points_in(self, cells: np.ndarray) -> np.ndarray:
        """Indices of the points in ``cells``."""
        start, count = self.starts[cells], self.counts[cells]
        total = int(count.sum())
        within = np.arange(total) - np.repeat(np.cumsum(count) - count, count)
        return self.order[np.repeat(start, count) + within]

    def adjacent_pairs(self, cells_mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(a, b) index arrays of every pair of 26-adjacent occupied cells (each once), optionally only between
        cells where ``cells_mask`` [M] is True."""
        a, b = [], []
        for off in offset_keys(FORWARD):
            other = self.find(self.keys + off)
            ok = other >= 0
            if cells_mask is not None:
                ok &= cells_mask & cells_mask[np.maximum(other, 0)]
            a.append(np.flatnonzero(ok))
            b.append(other[ok])
        return np.concatenate(a), np.concatenate(b)


def connected_components(count: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[count] component label of each node of the graph with edges (a, b): the smallest node index in it.
    Vectorised union-find: hook each edge's larger root to the smaller, then pointer jumping, until stable."""
    label = np.arange(count, dtype=np.int64)
    while len(a):
        la, lb = label[a], label[b]
        differ = la != lb
        if not differ.any():
            break
        a, b, la, lb = a[differ], b[differ], la[differ], lb[differ]
        np.minimum.at(label, np.maximum(la, lb), np.minimum(la, lb))
        while True:  # pointer jumping: every node straight to its root
            jumped = label[label]
            if np.array_equal(jumped, label):
                break
            label = jumped
    return label
