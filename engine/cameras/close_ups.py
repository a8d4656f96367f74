"""Close-up views: more pixels on the detailed places of a scene than the overview views give them.

The overview views (:mod:`auto_views`) frame the whole scene, so at 256 px a pen's cap or a lamp's pole spans a
few pixels and a mask generator drops it as too small or merges it into what it touches. Close-ups frame a ball
of radius ``rho = radius / zoom`` around a target, so everything in it is seen ``zoom`` times larger.

Targets: where the detail is. A splat holds many Gaussians where the scene has detail (objects, edges,
texture) and few on a bare table top or wall, so the robust Gaussians counted in the occupancy grid and summed
over a cube of side ``2 rho`` around each dense cell (the *detail mass* a close-up there would hold) rank the
places; targets are taken greedily, densest first, no two closer than ``spacing * rho`` (non-maximum
suppression), and a target needs a camera that sees it (below).

Each target's camera frames its ball (the ball's radius is ``fill`` of half the smaller image side), from the
candidate direction (a Fibonacci band of elevations) whose eye is in free space (a clearance ball) and whose
line of sight, from ``rho / 2`` off the target to the eye, crosses no dense cell; among those, the one closest to
the preferred direction: for an object scene outwards from the centre and ``PREFERRED_ELEVATION_DEG`` above
the horizon (a person leaning over the table), for a room towards its open point (from inside the room). A
target with no clear direction is skipped for the next one. Occlusion is judged on the occupancy grid, not
rendered. Deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from saga_blender.core.gaussians import GaussianSplat

from .auto_views import (
    DEFAULT_FOV_DEG,
    GROUNDED_ELEVATIONS_DEG,
    OBJECT_ELEVATIONS_DEG,
    ROOM_ELEVATIONS_DEG,
    _up_frame,
    choose_layout,
    fibonacci_band,
)
from .cameras import Cameras, concatenate_cameras, intrinsics, look_at_viewmats
from .scene_bounds import SceneBounds, scene_bounds

PREFERRED_ELEVATION_DEG = 35.0
#: close-up cameras are named CLOSE_UP_PREFIX + index, so a camera set (cameras.json) keeps which views are close-ups
CLOSE_UP_PREFIX = "closeup_"
CANDIDATE_DIRECTIONS = 96


@dataclass
class CloseUps:
    cameras: Cameras
    targets: np.ndarray  # [K, 3] the framed centres
    mass: np.ndarray  # [K] robust Gaussians within each close-up's cube
    rho: float  # radius of the framed ball
    skipped: int  # dense places with no clear line of sight


def _prefer(bounds: SceneBounds, layout: str, anchor: np.ndarray, target: np.ndarray) -> np.ndarray:
    up = bounds.up / np.linalg.norm(bounds.up)
    if layout == "room":
        d = anchor - target
    else:
        out = target - bounds.centre
        out = out - (out @ up) * up
        if np.linalg.norm(out) < 1e-6 * bounds.radius:
            out = _up_frame(bounds)[0]
        e = np.radians(PREFERRED_ELEVATION_DEG)
        d = np.cos(e) * out / np.linalg.norm(out) + np.sin(e) * up
    return d / np.linalg.norm(d)


def _clear_sight(bounds: SceneBounds, target: np.ndarray, dirs: np.ndarray, dist: float, start: float) -> np.ndarray:
    """[D] whether the segment from ``start`` to ``dist`` along each direction crosses no dense cell."""
    grid = bounds.grid
    t = np.arange(start, dist, 0.5 * grid.voxel)
    if len(t) == 0:
        return np.ones(len(dirs), bool)
    pts = target[None, None, :] + dirs[:, None, :] * t[None, :, None]
    return ~grid.is_dense(pts.reshape(-1, 3)).reshape(len(dirs), len(t)).any(axis=1)


def plan_close_ups(
    splat: GaussianSplat,
    n: int,
    width: int = 256,
    height: int = 256,
    layout: str = "auto",
    zoom: float = 2.0,
    fill: float = 0.8,
    spacing: float = 1.5,
    fov_deg: float | None = None,
    up: np.ndarray | None = None,
    bounds: SceneBounds | None = None,
) -> CloseUps:
    """Up to ``n`` close-up cameras of ``splat`` (module docstring); ``layout`` as :func:`auto_views.plan_views`."""
    if n < 0:
        raise ValueError(f"the number of close-ups must be >= 0, not {n}")
    if zoom < 1.0:
        raise ValueError(f"zoom must be >= 1, not {zoom}")
    bounds = bounds if bounds is not None else scene_bounds(splat, up=up)
    choice = choose_layout(bounds)
    kind = choice.layout if layout == "auto" else layout
    grid = bounds.grid
    rho = bounds.radius / zoom
    fov = np.radians(fov_deg if fov_deg is not None else DEFAULT_FOV_DEG["object"])
    f = 0.5 * max(width, height) / np.tan(0.5 * fov)
    clearance = max(2.0 * grid.voxel, 0.05 * bounds.radius)
    dist = max(rho * f / (fill * 0.5 * min(width, height)), rho + clearance)
    band = ROOM_ELEVATIONS_DEG if kind == "room" else (
        GROUNDED_ELEVATIONS_DEG if bounds.support is not None else OBJECT_ELEVATIONS_DEG)  # fmt: skip
    dirs = fibonacci_band(CANDIDATE_DIRECTIONS, band) @ _up_frame(bounds)

    side = max(1, round(2.0 * rho / grid.voxel) | 1)
    counts = grid.counts.astype(np.float64)
    dense = grid.dense.copy()
    if bounds.support is not None:  # the ground a grounded scene stands on is not detail
        heights = grid.cell_centres(np.argwhere(np.ones(grid.shape, bool))) @ bounds.up
        ground = (heights <= bounds.support + 2.0 * grid.voxel).reshape(grid.shape)
        counts[ground], dense[ground] = 0.0, False
    mass = ndimage.uniform_filter(counts, size=side, mode="constant") * side**3
    cells = np.argwhere(dense)
    order = np.argsort(-mass[tuple(cells.T)], kind="stable")
    eyes, targets, masses, skipped = [], [], [], 0
    for c in cells[order]:
        if len(targets) >= n:
            break
        target = grid.cell_centres(c[None])[0]
        if targets and np.min(np.linalg.norm(np.asarray(targets) - target, axis=1)) < spacing * rho:
            continue
        ok = grid.is_clear(target + dirs * dist, clearance) & _clear_sight(bounds, target, dirs, dist, 0.5 * rho)
        if not ok.any():
            skipped += 1
            continue
        score = np.where(ok, dirs @ _prefer(bounds, kind, choice.anchor, target), -np.inf)
        eyes.append(target + dirs[int(np.argmax(score))] * dist)
        targets.append(target)
        masses.append(float(mass[tuple(c)]))
    k = len(targets)
    if k == 0:
        cams = Cameras(np.zeros((0, 4, 4)), np.zeros((0, 3, 3)), width, height, [])
        return CloseUps(cams, np.zeros((0, 3)), np.zeros(0), rho, skipped)
    eyes_a, targets_a = np.asarray(eyes), np.asarray(targets)
    viewmats = look_at_viewmats(eyes_a, targets_a, bounds.up)
    Ks = np.repeat(intrinsics(f, f, 0.5 * width, 0.5 * height)[None], k, axis=0)
    cams = Cameras(viewmats, Ks, width, height, [f"{CLOSE_UP_PREFIX}{i:04d}" for i in range(k)])
    return CloseUps(cams, targets_a, np.asarray(masses), rho, skipped)


def is_close_up(name: str) -> bool:
    return name.startswith(CLOSE_UP_PREFIX)


def with_close_ups(splat: GaussianSplat, overview: Cameras, n: int, **kwargs) -> Cameras:
    """``overview`` followed by up to ``n`` close-ups at the same image size (keyword arguments as
    :func:`plan_close_ups`)."""
    close = plan_close_ups(splat, n, width=overview.width, height=overview.height, **kwargs).cameras
    return concatenate_cameras(overview, close)
