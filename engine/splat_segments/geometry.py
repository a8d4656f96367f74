"""Per-Gaussian geometry for 3D segmentation: centre, normal (the flattest axis), how flat, base colour, opacity, and
which Gaussians are solid enough to carry the segmentation (the rest take the labels of their solid neighbours)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from saga_blender.core.gaussians import SH_C0, GaussianSplat

SOLID_OPACITY = 0.15
#: a Gaussian whose largest axis exceeds this multiple of the 99th percentile is a floater or a sky blob
HUGE_FACTOR = 4.0


@dataclass
class GaussianGeometry:
    """points [N, 3], normals [N, 3] unit (sign arbitrary unless ``oriented``), flatness [N] = smallest / middle
    axis (0 = a disc), radius [N] largest axis, colour [N, 3] in [0, 1], opacity [N], solid [N] bool."""

    points: np.ndarray
    normals: np.ndarray
    flatness: np.ndarray
    radius: np.ndarray
    colour: np.ndarray
    opacity: np.ndarray
    solid: np.ndarray
    oriented: bool = False

    def __len__(self) -> int:
        return len(self.points)


def quat_to_matrix(quats: np.ndarray) -> np.ndarray:
    """[N, 3, 3] rotation matrices of unnormalised (w, x, y, z) quaternions."""
    q = quats / np.linalg.norm(quats, axis=1, keepdims=True).clip(1e-12)
    w, x, y, z = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], axis=1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], axis=1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], axis=1),
    ], axis=1)  # fmt: skip


def gaussian_geometry(splat: GaussianSplat) -> GaussianGeometry:
    """The geometry of every Gaussian of ``splat`` (float32)."""
    scales = np.exp(splat.log_scales.astype(np.float64))
    rot = quat_to_matrix(splat.quats.astype(np.float64))
    order = np.argsort(scales, axis=1)
    smallest, middle, largest = (np.take_along_axis(scales, order[:, i : i + 1], 1)[:, 0] for i in range(3))
    normals = np.take_along_axis(rot, order[:, None, :1], axis=2)[:, :, 0]  # column of the smallest axis
    opacity = 1.0 / (1.0 + np.exp(-splat.opacity_logits.astype(np.float64)))
    colour = np.clip(0.5 + SH_C0 * splat.sh_dc.astype(np.float64), 0.0, 1.0)
    limit = HUGE_FACTOR * np.percentile(largest, 99) if len(largest) else np.inf
    solid = (opacity >= SOLID_OPACITY) & (largest <= limit) & np.isfinite(largest)
    return GaussianGeometry(
        splat.means.astype(np.float32), normals.astype(np.float32),
        (smallest / np.maximum(middle, 1e-12)).astype(np.float32), largest.astype(np.float32),
        colour.astype(np.float32), opacity.astype(np.float32), solid,
    )  # fmt: skip


def orient_normals(geom: GaussianGeometry, facing: np.ndarray, neighbours: np.ndarray) -> None:
    """Flip each normal to agree with ``facing`` [N, 3] (the blending-weighted sum of unit directions from the
    Gaussian to the cameras that see it, from the training views' contributors); Gaussians no view sees take the
    orientation of their oriented neighbours ([N, k] indices), in place."""
    dot = np.einsum("nd,nd->n", geom.normals, facing)
    geom.normals[dot < 0] *= -1.0
    unknown = np.abs(dot) < 1e-9
    for _ in range(8):  # propagate into the unseen from oriented neighbours
        if not unknown.any():
            break
        idx = np.flatnonzero(unknown)
        nb = neighbours[idx]
        known_nb = np.where(unknown[nb][..., None], 0.0, geom.normals[nb])
        agree = np.einsum("nd,nd->n", geom.normals[idx], known_nb.sum(axis=1))
        geom.normals[idx[agree < 0]] *= -1.0
        unknown[idx[agree != 0]] = False
    geom.oriented = True
