"""Turning a layout of labelled surfaces into a splat: Gaussians sampled on each part's surface, flattened along its
normal, with the part's colour (and texture), position and colour noise, and their object and part labels. The
table scene and the room scene are both made here."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from saga_blender.core.gaussians import GaussianSplat

from .scene_types import SyntheticScene
from .shapes import surface_quats


def _allocate(weights: np.ndarray, n: int) -> np.ndarray:
    """Exactly n counts about proportional to weights, each at least 1 (16 from n = 64 P on); largest remainder."""
    p = len(weights)
    if n < p:
        raise ValueError(f"n_gaussians={n} is smaller than the number of parts ({p})")
    floor = max(1, min(16, n // (4 * p)))
    raw = (n - floor * p) * weights / weights.sum()
    counts = np.floor(raw).astype(np.int64)
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[: n - floor * p - counts.sum()]] += 1
    return counts + floor


def scene_from_layout(objects, n_gaussians: int, rng: np.random.Generator, sh_degree: int = 0,
                      foreground_from: int = 1,
                      shading: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None = None,
                      up=(0.0, 0.0, 1.0), table_top_z: float = 0.75) -> SyntheticScene:  # fmt: skip
    """The splat of ``objects`` (``ObjectSpec``) with exactly ``n_gaussians`` Gaussians. Objects from
    ``foreground_from`` on make the scene's centre and radius; ``shading(points, normals, colour)`` bakes light."""
    if sh_degree not in (0, 1, 2, 3):
        raise ValueError(f"sh_degree must be 0..3, got {sh_degree}")
    parts = [(oi, obj.name, spec) for oi, obj in enumerate(objects) for spec in obj.parts]
    areas = np.array([spec.surface.area() for _, _, spec in parts])
    # Small parts get relatively more Gaussians (area^0.8), as densification does for detail.
    counts = _allocate(areas**0.8 * np.array([spec.density for _, _, spec in parts]), n_gaussians)
    pts, nrm, spacing, rgb, obj_ids, part_ids = [], [], [], [], [], []
    for pi, ((oi, _, spec), k) in enumerate(zip(parts, counts, strict=True)):
        p, q = spec.surface.sample(rng, int(k))
        colour = np.tile(np.asarray(spec.rgb), (len(p), 1))
        if spec.grain:
            wobble = np.sin(2 * np.pi * (p[:, 0] + 0.01 * np.sin(9.0 * p[:, 1])) / 0.025)
            colour *= 1.0 + spec.grain * wobble[:, None]
        if spec.texture is not None:
            colour = spec.texture(p, colour)
        pts.append(p)
        nrm.append(q)
        rgb.append(colour)
        spacing.append(np.full(len(p), np.sqrt(areas[pi] / max(int(k), 1))))
        obj_ids.append(np.full(len(p), oi, np.int32))
        part_ids.append(np.full(len(p), pi, np.int32))
    points, normals = np.concatenate(pts), np.concatenate(nrm)
    h, colour = np.concatenate(spacing), np.concatenate(rgb)
    n = len(points)

    tangent = 0.7 * h[:, None] * np.exp(rng.normal(0.0, 0.3, (n, 2)))
    tangent = np.clip(tangent, 0.2 * h[:, None], 3.0 * h[:, None])
    flat = np.clip(np.exp(rng.normal(np.log(0.08), 0.5, n)), 0.01, 0.5) * tangent.min(axis=1)
    scales = np.concatenate([tangent, flat[:, None]], axis=1)
    quats = surface_quats(rng, normals)
    means = points + rng.normal(0.0, 1.0, (n, 3)) * np.minimum(0.0005, 0.05 * h)[:, None]
    low = rng.random(n) < 0.15
    opacities = np.where(low, 0.05 + 0.55 * rng.random(n), 0.995 - 0.395 * rng.random(n) ** 2)
    colour += rng.normal(0.0, 0.025, (n, 3)) + rng.normal(0.0, 0.02, (n, 1))
    if shading is not None:
        colour = shading(points, normals, colour)
    sh_rest = None
    if sh_degree:
        sh_rest = rng.normal(0.0, 0.02, (n, (sh_degree + 1) ** 2 - 1, 3))
    splat = GaussianSplat.from_activated(means, quats, scales, opacities, np.clip(colour, 0.0, 1.0), sh_rest)

    object_id, part_id = np.concatenate(obj_ids), np.concatenate(part_ids)
    fg = object_id >= foreground_from
    lo, hi = splat.means[fg].min(axis=0).astype(np.float64), splat.means[fg].max(axis=0).astype(np.float64)
    return SyntheticScene(
        splat=splat,
        object_id=object_id,
        part_id=part_id,
        object_names=[obj.name for obj in objects],
        part_names=[f"{name}/{spec.name}" for _, name, spec in parts],
        part_object=np.array([oi for oi, _, _ in parts], np.int32),
        normals=normals.astype(np.float32),
        part_rgb=np.array([spec.rgb for _, _, spec in parts], np.float32),
        center=(lo + hi) / 2,
        radius=float(np.linalg.norm(hi - lo) / 2),
        bbox_min=splat.means.min(axis=0).astype(np.float64),
        bbox_max=splat.means.max(axis=0).astype(np.float64),
        up=np.asarray(up, np.float64),
        table_top_z=table_top_z,
    )
