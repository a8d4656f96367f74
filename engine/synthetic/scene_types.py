"""The types of a synthetic labelled scene: a part (a surface with a colour), an object (named parts), and the scene
(the splat with every Gaussian's object and part)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from saga_blender.core.gaussians import GaussianSplat

from .shapes import Surface

TABLE_TOP_Z = 0.75


@dataclass(frozen=True)
class PartSpec:
    name: str
    surface: Surface
    rgb: tuple[float, float, float]
    density: float = 3.0  # relative Gaussians per m^2 (foreground objects 3, table 0.5, floor 0.25)
    grain: float = 0.0  # amplitude of a wood-like stripe texture along x
    #: (points [n, 3], colour [n, 3]) -> colour: a texture painted on the part (None: its plain colour)
    texture: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None


@dataclass(frozen=True)
class ObjectSpec:
    name: str
    parts: tuple[PartSpec, ...]


@dataclass
class SyntheticScene:
    """Splat plus per-Gaussian labels. ``part_object[part_id] == object_id`` for every Gaussian."""

    splat: GaussianSplat
    object_id: np.ndarray  # int32 [N]
    part_id: np.ndarray  # int32 [N]
    object_names: list[str]
    part_names: list[str]  # "object/part"
    part_object: np.ndarray  # int32 [P]
    normals: np.ndarray  # float32 [N, 3] surface normal at each Gaussian (not written to the .ply)
    part_rgb: np.ndarray  # float32 [P, 3] base colour of each part
    up: np.ndarray = field(default_factory=lambda: np.array([0.0, 0.0, 1.0]))
    center: np.ndarray = field(default_factory=lambda: np.zeros(3))  # centre of the table and objects
    radius: float = 1.0  # half the diagonal of the table-and-objects box
    bbox_min: np.ndarray = field(default_factory=lambda: np.zeros(3))  # of all Gaussians
    bbox_max: np.ndarray = field(default_factory=lambda: np.zeros(3))
    table_top_z: float = TABLE_TOP_Z

    def object_index(self, name: str) -> int:
        return self.object_names.index(name)

    def part_index(self, name: str) -> int:
        return self.part_names.index(name)
