"""Surface samplers for synthetic scenes: points on a surface with unit normals, uniform by area.

Every surface has ``area()`` (m^2) and ``sample(rng, n) -> (points [n, 3], normals [n, 3])`` (float64,
exactly ``n`` points, vectorised numpy, deterministic for a given generator state). Normals point out of
the material: for a shell (a cup, a lamp shade) the inner side's normals point into the cavity.

Local conventions, before placing with :class:`Placed`:

- solids of revolution (:class:`Lathe` and its helpers :func:`cylinder`, :func:`frustum`, :func:`cone`,
  :func:`disc`, :func:`shell`) have the z axis as axis and are given by a (r, z) profile;
- a :class:`Box` is centred in x and y and stands on z = 0;
- a :class:`Rect` is centred at the origin in the plane z = 0 and faces +z;
- :class:`Sphere` and :class:`Torus` are centred at the origin (the torus lies in the xy plane).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Sample = tuple[np.ndarray, np.ndarray]
TWO_PI = 2.0 * np.pi


class Surface:
    """A sampleable surface: ``area()`` and ``sample(rng, n)``."""

    def area(self) -> float:
        raise NotImplementedError

    def sample(self, rng: np.random.Generator, n: int) -> Sample:
        raise NotImplementedError


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


@dataclass(frozen=True)
class Lathe(Surface):
    """Surface of revolution of a polyline profile ``[(r, z), ...]`` about the z axis, azimuth in ``phi``.

    Each segment is a frustum (a cylinder when r is constant, an annulus when z is constant). Walking the
    profile with r to the right and z up, the material is on the left: the normal of a segment in the
    (r, z) plane is (dz, -dr) / length. So a solid is walked from its bottom centre outwards, up its side
    and back inwards over its top.
    """

    profile: tuple[tuple[float, float], ...]
    phi: tuple[float, float] = (0.0, TWO_PI)

    def _segments(self) -> tuple[np.ndarray, ...]:
        p = np.asarray(self.profile, dtype=np.float64)
        r1, z1, r2, z2 = p[:-1, 0], p[:-1, 1], p[1:, 0], p[1:, 1]
        length = np.hypot(r2 - r1, z2 - z1)
        area = (self.phi[1] - self.phi[0]) * 0.5 * (r1 + r2) * length
        return r1, z1, r2, z2, length, area

    def area(self) -> float:
        return float(self._segments()[5].sum())

    def sample(self, rng: np.random.Generator, n: int) -> Sample:
        r1, z1, r2, z2, length, area = self._segments()
        cdf = np.cumsum(area) / area.sum()
        seg = np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), len(area) - 1)
        u, v = rng.random(n), rng.random(n)
        a, b = r1[seg], r2[seg]
        # The area density along a segment grows linearly with r, so r^2 is uniform between the ends.
        r = np.sqrt(a * a + u * (b * b - a * a))
        dr = b - a
        t = np.where(np.abs(dr) > 1e-12, (r - a) / np.where(np.abs(dr) > 1e-12, dr, 1.0), u)
        z = z1[seg] + t * (z2[seg] - z1[seg])
        phi = self.phi[0] + v * (self.phi[1] - self.phi[0])
        c, s = np.cos(phi), np.sin(phi)
        nr = (z2 - z1)[seg] / length[seg]
        nz = -dr / length[seg]
        points = np.stack([r * c, r * s, z], axis=1)
        normals = np.stack([nr * c, nr * s, nz], axis=1)
        return points, normals


def frustum(r_bottom: float, r_top: float, height: float, bottom: bool = True, top: bool = True) -> Lathe:
    """Frustum (cylinder when the radii are equal, cone when ``r_top`` is 0) from z = 0 to ``height``."""
    profile = [(0.0, 0.0)] if bottom else []
    profile += [(r_bottom, 0.0), (r_top, height)]
    if top and r_top > 0:
        profile.append((0.0, height))
    return Lathe(tuple(profile))


def cylinder(radius: float, height: float, bottom: bool = True, top: bool = True) -> Lathe:
    """Cylinder from z = 0 to ``height``, with or without its caps."""
    return frustum(radius, radius, height, bottom, top)


def cone(radius: float, height: float, bottom: bool = True) -> Lathe:
    """Cone with its base on z = 0 and its apex at z = ``height``."""
    return frustum(radius, 0.0, height, bottom, top=False)


def disc(radius: float, inner: float = 0.0) -> Lathe:
    """Disc (annulus when ``inner`` > 0) in the plane z = 0, facing +z."""
    return Lathe(((radius, 0.0), (inner, 0.0)))


def shell(outer: Sequence[tuple[float, float]], thickness: float, phi=(0.0, TWO_PI)) -> Lathe:
    """A thin-walled solid of revolution (cup, bowl, lamp shade, plate) from its outer profile.

    ``outer`` is walked as for :class:`Lathe` (material on the left) up to the rim; the inner side is the
    outer one offset by ``thickness`` into the material (mitred at corners), walked back, and the ends are
    joined (rim at the last point; the first point is joined too, which adds nothing when it is on the axis).
    """
    p = np.asarray(outer, dtype=np.float64)
    d = np.diff(p, axis=0)
    seg_n = _unit(np.stack([d[:, 1], -d[:, 0]], axis=1))
    n_prev = np.vstack([seg_n[:1], seg_n])
    n_next = np.vstack([seg_n, seg_n[-1:]])
    miter = (n_prev + n_next) / (1.0 + np.sum(n_prev * n_next, axis=1, keepdims=True))
    inner = p - thickness * miter
    inner[:, 0] = np.maximum(inner[:, 0], 0.0)
    full = np.vstack([p, inner[::-1], p[:1]])
    return Lathe(tuple(map(tuple, full.tolist())), phi)


@dataclass(frozen=True)
class Box(Surface):
    """The six faces of a box of ``size`` (x, y, z), centred in x and y, standing on z = 0."""

    size: tuple[float, float, float]

    def _face_areas(self) -> np.ndarray:
        sx, sy, sz = self.size
        return np.array([sy * sz, sy * sz, sx * sz, sx * sz, sx * sy, sx * sy])

    def area(self) -> float:
        return float(self._face_areas().sum())

    def sample(self, rng: np.random.Generator, n: int) -> Sample:
        half = np.array(self.size, dtype=np.float64) / 2
        areas = self._face_areas()
        face = np.minimum(np.searchsorted(np.cumsum(areas) / areas.sum(), rng.random(n), side="right"), 5)
        points = (rng.random((n, 3)) * 2 - 1) * half
        axis, sign = face // 2, np.where(face % 2 == 0, 1.0, -1.0)
        rows = np.arange(n)
        points[rows, axis] = sign * half[axis]
        normals = np.zeros((n, 3))
        normals[rows, axis] = sign
        points[:, 2] += half[2]
        return points, normals


@dataclass(frozen=True)
class Rect(Surface):
    """A rectangle ``size_x`` x ``size_y`` centred at the origin in the plane z = 0, facing +z."""

    size_x: float
    size_y: float

    def area(self) -> float:
        return self.size_x * self.size_y

    def sample(self, rng: np.random.Generator, n: int) -> Sample:
        points = (rng.random((n, 3)) - 0.5) * np.array([self.size_x, self.size_y, 0.0])
        return points, np.tile([0.0, 0.0, 1.0], (n, 1))


@dataclass(frozen=True)
class Sphere(Surface):
    """Sphere of ``radius`` centred at the origin, or the zone of it between ``z_min`` and ``z_max``.

    By Archimedes' theorem the area of a zone is linear in z, so z is drawn uniformly.
    """

    radius: float
    z_min: float | None = None
    z_max: float | None = None

    def _zone(self) -> tuple[float, float]:
        lo = -self.radius if self.z_min is None else max(self.z_min, -self.radius)
        hi = self.radius if self.z_max is None else min(self.z_max, self.radius)
        return lo, hi

    def area(self) -> float:
        lo, hi = self._zone()
        return TWO_PI * self.radius * (hi - lo)

    def sample(self, rng: np.random.Generator, n: int) -> Sample:
        lo, hi = self._zone()
        z = lo + rng.random(n) * (hi - lo)
        phi = rng.random(n) * TWO_PI
        rho = np.sqrt(np.maximum(self.radius**2 - z * z, 0.0))
        points = np.stack([rho * np.cos(phi), rho * np.sin(phi), z], axis=1)
        return points, points / self.radius


@dataclass(frozen=True)
class Torus(Surface):
    """Torus (or an arc of it, a mug handle) in the xy plane: tube of radius ``minor`` around a circle of
    radius ``major``, azimuth in ``phi``. The area element is minor * (major + minor cos(theta)), so theta
    is drawn by inverting its cumulative distribution on a fine grid."""

    major: float
    minor: float
    phi: tuple[float, float] = (0.0, TWO_PI)

    def area(self) -> float:
        return TWO_PI * self.minor * self.major * (self.phi[1] - self.phi[0])

    def sample(self, rng: np.random.Generator, n: int) -> Sample:
        grid = np.linspace(0.0, TWO_PI, 2049)
        cdf = (self.major * grid + self.minor * np.sin(grid)) / (TWO_PI * self.major)
        theta = np.interp(rng.random(n), cdf, grid)
        phi = self.phi[0] + rng.random(n) * (self.phi[1] - self.phi[0])
        ct, st, cp, sp = np.cos(theta), np.sin(theta), np.cos(phi), np.sin(phi)
        normals = np.stack([ct * cp, ct * sp, st], axis=1)
        centre = np.stack([self.major * cp, self.major * sp, np.zeros(n)], axis=1)
        return centre + self.minor * normals, normals


@dataclass(frozen=True)
class Placed(Surface):
    """A surface moved rigidly: x -> rotation @ x + translation (rotation a 3x3 proper rotation)."""

    surface: Surface
    rotation: tuple[tuple[float, float, float], ...] = ((1.0, 0, 0), (0, 1.0, 0), (0, 0, 1.0))
    translation: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def area(self) -> float:
        return self.surface.area()

    def sample(self, rng: np.random.Generator, n: int) -> Sample:
        points, normals = self.surface.sample(rng, n)
        rot = np.asarray(self.rotation, dtype=np.float64)
        return points @ rot.T + np.asarray(self.translation), normals @ rot.T


@dataclass(frozen=True)
class Union(Surface):
    """Several surfaces as one; each receives a multinomial share of the points by area."""

    surfaces: tuple[Surface, ...]

    def area(self) -> float:
        return float(sum(s.area() for s in self.surfaces))

    def sample(self, rng: np.random.Generator, n: int) -> Sample:
        areas = np.array([s.area() for s in self.surfaces])
        counts = rng.multinomial(n, areas / areas.sum())
        parts = [s.sample(rng, int(k)) for s, k in zip(self.surfaces, counts, strict=True)]
        return np.concatenate([p for p, _ in parts]), np.concatenate([q for _, q in parts])


def rotation(axis: str, angle: float) -> tuple[tuple[float, float, float], ...]:
    """Rotation by ``angle`` (radians, right-handed) about the world axis ``"x"``, ``"y"`` or ``"z"``."""
    c, s = float(np.cos(angle)), float(np.sin(angle))
    mats = {
        "x": ((1.0, 0.0, 0.0), (0.0, c, -s), (0.0, s, c)),
        "y": ((c, 0.0, s), (0.0, 1.0, 0.0), (-s, 0.0, c)),
        "z": ((c, -s, 0.0), (s, c, 0.0), (0.0, 0.0, 1.0)),
    }
    return mats[axis]


def compose(*rotations) -> tuple[tuple[float, float, float], ...]:
    """Product of rotations, applied right to left (``compose(a, b)`` applies b first)."""
    out = np.eye(3)
    for rot in rotations:
        out = out @ np.asarray(rot, dtype=np.float64)
    return tuple(map(tuple, out.tolist()))


def surface_quats(rng: np.random.Generator, normals: np.ndarray) -> np.ndarray:
    """[n, 4] unit quaternions w, x, y, z (w >= 0) whose rotation maps local z to ``normals`` [n, 3] (unit)
    and local x to a tangent at a uniformly random angle: the frame of a Gaussian lying on the surface.

    q = align(e_z -> n) * twist(psi about z), with align = normalise(1 + n_z, -n_y, n_x, 0) (a half turn
    about x where n = -e_z).
    """
    nx, ny, nz = normals[:, 0], normals[:, 1], normals[:, 2]
    flip = 1.0 + nz < 1e-9
    a = np.stack([1.0 + nz, -ny, nx, np.zeros_like(nz)], axis=1)
    a[flip] = (0.0, 1.0, 0.0, 0.0)
    a = _unit(a)
    half = rng.random(len(normals)) * np.pi
    c, s = np.cos(half), np.sin(half)
    q = np.stack(
        [a[:, 0] * c - a[:, 3] * s, a[:, 1] * c + a[:, 2] * s, a[:, 2] * c - a[:, 1] * s, a[:, 0] * s + a[:, 3] * c], 1
    )
    return np.where(q[:, :1] < 0, -q, q)
