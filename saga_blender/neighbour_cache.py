"""What the clean-up selections read from a splat object, cached per mesh: the Gaussians' positions (file frame),
opacities and log scales, the neighbour spacing, and the neighbour grids (``core.point_grid``) per cell size.

A cache, not state: an entry is used only while the mesh is the same datablock with the same positions (compared
exactly each time, a few ms at 1M points); any edit, undo or reload rebuilds it. The first Grow / Shrink on an
object builds its grid (about 0.1-0.4 s at 1M points), later ones reuse it.
"""

from __future__ import annotations

import json

import numpy as np

from .core.grow_shrink import neighbour_spacing
from .core.point_grid import PointGrid
from .splat_mesh import LAYOUT_KEY

MAX_OBJECTS = 4
MAX_GRIDS = 3
_CACHE: dict[int, SplatData] = {}


def positions_of(mesh) -> np.ndarray:
    out = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.vertices.foreach_get("co", out)
    return out.reshape(-1, 3)


def property_column(mesh, name: str) -> np.ndarray:
    """[N] float32 column of a splat property (``opacity``, ``scale_0``...), through the layout's renames."""
    layout = json.loads(mesh[LAYOUT_KEY])
    stored = {original: stored for stored, original in layout.get("renamed", {}).items()}.get(name, name)
    attr = mesh.attributes.get(stored)
    if attr is None:
        raise ValueError(f"the mesh has no attribute for the splat property {name!r}")
    out = np.empty(len(mesh.vertices), np.float32)
    attr.data.foreach_get("value", out)
    return out


class SplatData:
    def __init__(self, mesh, positions: np.ndarray):
        self.positions = positions
        self.opacity_logits = property_column(mesh, "opacity")
        self.log_scales = np.stack([property_column(mesh, f"scale_{i}") for i in range(3)], axis=1)
        self.spacing = neighbour_spacing(self.log_scales)
        self.grids: dict[float, PointGrid] = {}

    def grid(self, cell: float) -> PointGrid:
        if cell not in self.grids:
            if len(self.grids) >= MAX_GRIDS:
                self.grids.pop(next(iter(self.grids)))
            self.grids[cell] = PointGrid(self.positions, cell)
        return self.grids[cell]


def splat_data(obj) -> SplatData:
    """The cached data of the splat object's mesh (rebuilt when the mesh or its positions changed)."""
    mesh = obj.data
    key = mesh.as_pointer()
    positions = positions_of(mesh)
    entry = _CACHE.get(key)
    if entry is not None and entry.positions.shape == positions.shape and np.array_equal(entry.positions, positions):
        return entry
    entry = SplatData(mesh, positions)
    _CACHE.pop(key, None)
    while len(_CACHE) >= MAX_OBJECTS:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[key] = entry
    return entry


def world_scale(obj) -> float:
    """The object's (mean) scale: file-frame lengths times this are scene lengths."""
    return float(abs(np.linalg.det(np.array(obj.matrix_world, np.float64)[:3, :3])) ** (1.0 / 3.0)) or 1.0


def clear() -> None:
    _CACHE.clear()
