"""Training / preview views generated from the splat alone (no photos).

Two layouts (OpenCV cameras, image up aligned with the scene's estimated up, see ``scene_bounds``):

object
    Cameras on a Fibonacci spiral over a band of elevations, -15 to +60 degrees above the horizon
    (views from above are more useful than from below a grounded object), looking at the object. Each
    camera's distance and aim are refined by projecting the robust Gaussian centres: the 2-98% extent
    of the projection is centred in the image and its larger side fills ``fill`` (default 0.75) of the
    smaller image dimension, so the whole object is in frame with a margin.
    A grounded scene (``bounds.support``: up came from a support plane, e.g. a table on a floor) is
    seen from above, like a person walking around a table: elevations +15 to +60 degrees, and the
    framed points are the centres of the dense grid cells (the geometry, not the Gaussian density:
    a table top holds far fewer Gaussians per m^2 than the objects on it), 1-99% extent, less the
    ground slab when the support plane is the bottom of the scene (it extends beyond the subject).
room
    Cameras in the free space of the room, looking out at its walls: positions are grid cells in the
    central part of the room (within 25% of the half extent of the centre) that keep a clearance from
    dense geometry, spread by farthest-point sampling (one position per ~8 views); directions are a
    Fibonacci spiral over elevations -40 to +45 degrees. Each direction goes to the position on the
    far side of the centre (an assignment), so a camera looks across the room at the opposite wall:
    on a generated 8 x 6 x 3 m room this sees 2-3x more of the walls per view than looking at the
    nearest wall (32 views: every wall point in >= 1 view, ~99% in >= 3).

``layout="auto"`` (:func:`choose_layout`): a room encloses free space. From the most open point near
the centre, rays are cast in 96 directions through the occupancy grid; a direction is "enclosed" when
it meets dense geometry and that first hit is at least half as far as the last geometry along the ray
(a wall at the scene boundary, not a near part of an object). Room when that point keeps a clearance
of at least 15% of the scene radius (a large free region), >= 60% of the directions are enclosed and
so are >= 75% of 48 directions within 20 degrees of the horizon (w.r.t. the estimated up): a room
has walls all around. Object otherwise: a dense blob has no open centre; from an open point next to
an object most rays escape or hit it close by; the gap between a floor and a table top is enclosed
above and below (64% of all directions on the table scene) but open around the horizon (25%, the
legs). A closed hollow shell with nothing inside is geometrically a room; override with ``layout``.

No camera is left inside dense geometry: every centre is checked with a clearance ball against the
occupancy grid and moved (outwards for objects; room positions are free cells by construction).
:func:`view_coverage` reports how many robust Gaussians each view sees by projection (occlusion is
not modelled: that needs a renderer).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from saga_blender.core.gaussians import GaussianSplat

from .cameras import Cameras, intrinsics, look_at_viewmats
from .scene_bounds import SceneBounds, scene_bounds

LAYOUTS = ("auto", "object", "room")
DEFAULT_FOV_DEG = {"object": 50.0, "room": 75.0}
OBJECT_ELEVATIONS_DEG = (-15.0, 60.0)
GROUNDED_ELEVATIONS_DEG = (15.0, 60.0)  # a scene standing on a found support plane
GROUNDED_QUANTILE = 0.01  # framed extent of the dense cells of a grounded scene: 1-99%
GROUND_SLAB = 0.02  # x height range: half thickness of the ground left out of the framing
ROOM_ELEVATIONS_DEG = (-40.0, 45.0)
ROOM_MIN_CLEARANCE = 0.15  # x radius, for the open point of a room
ROOM_MIN_ENCLOSED = 0.60  # of all directions
ROOM_HORIZON_DEG = (-20.0, 20.0)  # elevations of the wall rays, w.r.t. the estimated up
ROOM_MIN_WALLS = 0.75  # of the wall rays
GOLDEN_ANGLE = np.pi * (3.0 - np.sqrt(5.0))


@dataclass
class LayoutChoice:
    layout: str  # "object" or "room"
    reason: str
    enclosed: float  # fraction of directions from ``anchor`` enclosed by far geometry
    anchor: np.ndarray  # [3] the most open point near the centre
    anchor_clearance: float
    walls: float = float("nan")  # fraction of the directions near the horizon enclosed from ``anchor``


@dataclass
class Coverage:
    seen_1: float  # fraction of the points inside >= 1 view
    seen_3: float  # ... >= 3 views
    per_view: np.ndarray  # [C] fraction of the points inside each view


@dataclass
class AutoViews:
    cameras: Cameras
    choice: LayoutChoice  # layout "object"/"room" actually used and why
    bounds: SceneBounds
    coverage: Coverage
    clearance: float  # minimum distance kept between a camera and dense geometry
    moved: int  # cameras moved out of dense geometry


def fibonacci_band(n: int, elevations_deg: tuple[float, float], offset: float = 0.0) -> np.ndarray:
    """[n, 3] evenly spread unit vectors (x, y, z = up) over a band of elevations (equal-area spiral)."""
    z_lo, z_hi = np.sin(np.radians(elevations_deg))
    i = np.arange(n) + 0.5
    z = z_hi - i / n * (z_hi - z_lo)
    az = i * GOLDEN_ANGLE + offset
    r = np.sqrt(np.maximum(1.0 - z * z, 0.0))
    return np.stack([r * np.cos(az), r * np.sin(az), z], axis=1)


def _up_frame(bounds: SceneBounds) -> np.ndarray:
    """[3, 3] rows e1, e2, up: e1 the largest horizontal principal direction."""
    up = bounds.up / np.linalg.norm(bounds.up)
    for a in bounds.axes:
        e1 = a - (a @ up) * up
        if np.linalg.norm(e1) > 1e-3:
            break
    e1 /= np.linalg.norm(e1)
    return np.stack([e1, np.cross(up, e1), up])


def _project(viewmats: np.ndarray, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normalised image coordinates u = x/z, v = y/z and depth z, each [C, P]."""
    cam = np.einsum("cij,pj->cpi", viewmats[:, :3, :3], pts) + viewmats[:, None, :3, 3]
    z = cam[..., 2]
    zs = np.where(z > 1e-9, z, 1e-9)
    return cam[..., 0] / zs, cam[..., 1] / zs, z


def view_coverage(cameras: Cameras, points: np.ndarray, chunk: int = 16) -> Coverage:
    """Which points project inside each view (in front of the camera); no occlusion."""
    pts = np.asarray(points, np.float64)
    hits = np.zeros((len(cameras), len(pts)), bool)
    for s in range(0, len(cameras), chunk):
        vm, K = cameras.viewmats[s : s + chunk], cameras.Ks[s : s + chunk]
        u, v, z = _project(vm, pts)
        px = K[:, 0, 0, None] * u + K[:, 0, 2, None]
        py = K[:, 1, 1, None] * v + K[:, 1, 2, None]
        hits[s : s + chunk] = (z > 0) & (px >= 0) & (px < cameras.width) & (py >= 0) & (py < cameras.height)
    count = hits.sum(axis=0)
    return Coverage(float(np.mean(count >= 1)), float(np.mean(count >= 3)), hits.mean(axis=1))


def choose_layout(bounds: SceneBounds) -> LayoutChoice:
    """Room or object, by the enclosure of the most open point near the centre (module docstring)."""
    grid, r = bounds.grid, bounds.radius
    half = 0.5 * (bounds.hi - bounds.lo)
    cells = np.argwhere(np.ones(grid.shape, bool))
    centres = grid.cell_centres(cells)
    inner = np.all(np.abs(centres - bounds.centre) <= 0.35 * half + 0.5 * grid.voxel, axis=1)
    if not inner.any():
        inner = np.linalg.norm(centres - bounds.centre, axis=1) <= np.sqrt(3.0) * grid.voxel
    cand = centres[inner]
    anchor = cand[np.argmax(grid.clearance(cand))]
    clear = float(grid.clearance(anchor[None])[0])
    sphere, horizon = fibonacci_band(96, (-90.0, 90.0)), fibonacci_band(48, ROOM_HORIZON_DEG) @ _up_frame(bounds)
    first, last = grid.ray_hits(anchor, np.concatenate([sphere, horizon]))
    hit = np.isfinite(first) & (first >= 0.5 * np.nan_to_num(last, nan=np.inf))
    enclosed, walls = float(np.mean(hit[: len(sphere)])), float(np.mean(hit[len(sphere) :]))
    stats = (
        f"open point clearance {clear / r:.2f} x radius, {enclosed:.0%} of directions enclosed, "
        f"{walls:.0%} around the horizon"
    )

    def pick(layout: str, why: str) -> LayoutChoice:
        what = "a room" if layout == "room" else "an object"
        return LayoutChoice(layout, f"{why} ({stats}): {what}", enclosed, anchor, clear, walls)

    if clear < ROOM_MIN_CLEARANCE * r:
        return pick("object", "no large free space")
    if enclosed < ROOM_MIN_ENCLOSED:
        return pick("object", "free space not enclosed")
    if walls < ROOM_MIN_WALLS:
        return pick("object", "free space open around the horizon (no walls)")
    return pick("room", "free space enclosed by far geometry")


def _aim_object(eyes_dir, dist, centre, pts, f, side, fill, dist_min, up, iterations, q=0.02):
    """Refine distances (when ``fill``) and aims so the q to 1-q projected extent is centred and fills."""
    targets = np.repeat(centre[None], len(dist), axis=0)
    for _ in range(iterations):
        eyes = centre + eyes_dir * dist[:, None]
        vm = look_at_viewmats(eyes, targets, up)
        u, v, _ = _project(vm, pts)
        (u0, u1), (v0, v1) = np.quantile(u, [q, 1 - q], axis=1), np.quantile(v, [q, 1 - q], axis=1)
        depth = np.linalg.norm(targets - eyes, axis=1)
        shift = 0.5 * (u0 + u1)[:, None] * vm[:, 0, :3] + 0.5 * (v0 + v1)[:, None] * vm[:, 1, :3]
        targets = targets + shift * depth[:, None]
        if fill is not None:
            current = np.maximum(u1 - u0, v1 - v0) * f / side
            dist = np.maximum(dist * current / fill, dist_min)
    return centre + eyes_dir * dist[:, None], targets


def _framed_points(bounds: SceneBounds, pts: np.ndarray) -> np.ndarray:
    """The points to frame. Without a support plane: the robust Gaussian centres. With one (a grounded
    scene): the centres of the dense grid cells, so that the framing follows the geometry and not the
    Gaussian density (a table top holds far fewer Gaussians per m^2 than the objects on it), less the
    ground itself when the plane is the bottom of the scene (< 5% of the cells below it): it extends
    beyond the subject, which stands on it."""
    if bounds.support is None:
        return pts
    cells = bounds.grid.cell_centres(np.argwhere(bounds.grid.dense))
    h = cells @ bounds.up
    tol = max(GROUND_SLAB * float(np.subtract(*np.quantile(h, [0.99, 0.01]))), bounds.grid.voxel)
    above = h > bounds.support + tol
    if np.mean(h < bounds.support - tol) >= 0.05 or above.sum() < max(0.1 * len(cells), 10):
        return cells
    return cells[above]


def _object_views(bounds, pts, n, width, height, f, fill, clearance, rng):
    centre, q, band = bounds.centre, 0.02, OBJECT_ELEVATIONS_DEG
    if bounds.support is not None:  # grounded: frame the geometry standing on the ground, from above
        pts, q, band = _framed_points(bounds, pts), GROUNDED_QUANTILE, GROUNDED_ELEVATIONS_DEG
        centre = 0.5 * np.sum(np.quantile(pts, [q, 1 - q], axis=0), axis=0)
    dirs = fibonacci_band(n, band, rng.uniform(0.0, 2.0 * np.pi)) @ _up_frame(bounds)
    side = min(width, height)
    r_max = float(np.max(np.linalg.norm(pts - centre, axis=1)))
    dist_min = 1.1 * r_max + clearance
    dist = np.maximum(np.full(n, bounds.radius * f / (0.5 * side * fill)), dist_min)
    eyes, targets = _aim_object(dirs, dist, centre, pts, f, side, fill, dist_min, bounds.up, 6, q)
    dist = np.linalg.norm(eyes - centre, axis=1)
    blocked = ~bounds.grid.is_clear(eyes, clearance)
    moved = int(blocked.sum())
    step = 0.1 * bounds.radius
    while blocked.any():  # outwards until clear (always ends: far from the grid every ball is clear)
        dist[blocked] += step
        blocked &= ~bounds.grid.is_clear(centre + dirs * dist[:, None], clearance)
    if moved:
        eyes, targets = _aim_object(dirs, dist, centre, pts, f, side, None, dist, bounds.up, 3, q)
    return eyes, targets, moved


def _farthest_points(cand: np.ndarray, k: int, start: int) -> np.ndarray:
    chosen = [start]
    d = np.linalg.norm(cand - cand[start], axis=1)
    for _ in range(k - 1):
        nxt = int(np.argmax(d))
        chosen.append(nxt)
        d = np.minimum(d, np.linalg.norm(cand - cand[nxt], axis=1))
    return cand[chosen]


def _room_views(bounds, choice, n, clearance, rng):
    from scipy.optimize import linear_sum_assignment

    grid = bounds.grid
    cand = grid.free_cells(clearance)
    if len(cand) == 0:
        return None
    half = 0.5 * (bounds.hi - bounds.lo)
    inner = np.all(np.abs(cand - bounds.centre) <= 0.25 * half + grid.voxel, axis=1)
    if inner.any():
        cand = cand[inner]
    else:
        cand = cand[np.argsort(np.linalg.norm(cand - bounds.centre, axis=1))[:64]]
    n_pos = int(np.clip(round(n / 8), 1, min(n, len(cand))))
    start = int(np.argmin(np.linalg.norm(cand - choice.anchor, axis=1)))
    positions = _farthest_points(cand, n_pos, start)
    dirs = fibonacci_band(n, ROOM_ELEVATIONS_DEG, rng.uniform(0.0, 2.0 * np.pi)) @ _up_frame(bounds)
    slots = np.repeat(positions, -(-n // n_pos), axis=0)
    if n <= 256:  # each direction to the position on the far side of the centre (looking across)
        _, col = linear_sum_assignment(dirs @ (slots - bounds.centre).T)
    else:
        col = np.arange(n)
    eyes = slots[col]
    return eyes, eyes + dirs


def plan_views(
    splat: GaussianSplat,
    n_views: int = 64,
    width: int = 1024,
    height: int = 768,
    layout: str = "auto",
    fov_deg: float | None = None,
    seed: int = 0,
    up: np.ndarray | None = None,
    fill: float = 0.75,
    bounds: SceneBounds | None = None,
) -> AutoViews:
    """Views of ``splat`` with the layout, bounds, coverage and reasons (see the module docstring).

    ``fov_deg`` spans the larger image dimension (Blender's sensor fit AUTO); default 50 (object) or
    75 (room). ``up`` is the prior up (default -y). ``seed`` turns the spiral and picks the point sample.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, not {layout!r}")
    if n_views < 1:
        raise ValueError(f"n_views must be >= 1, not {n_views}")
    rng = np.random.default_rng(seed)
    bounds = bounds if bounds is not None else scene_bounds(splat, up=up)
    choice = choose_layout(bounds)
    if layout != "auto":
        choice = replace(choice, layout=layout, reason=f"requested by the caller (auto: {choice.reason})")
    pts = bounds.robust_points(splat.means, 10000, seed)
    clearance = max(2.0 * bounds.grid.voxel, 0.05 * bounds.radius)
    moved, placed = 0, None
    if choice.layout == "room":
        fov = np.radians(fov_deg if fov_deg is not None else DEFAULT_FOV_DEG["room"])
        f = 0.5 * max(width, height) / np.tan(0.5 * fov)
        placed = _room_views(bounds, choice, n_views, clearance, rng)
        if placed is None:
            choice = replace(choice, layout="object", reason="room requested but no free space: object layout")
    if placed is None:
        fov = np.radians(fov_deg if fov_deg is not None else DEFAULT_FOV_DEG["object"])
        f = 0.5 * max(width, height) / np.tan(0.5 * fov)
        *placed, moved = _object_views(bounds, pts, n_views, width, height, f, fill, clearance, rng)
    eyes, targets = placed
    viewmats = look_at_viewmats(eyes, targets, bounds.up)
    Ks = np.repeat(intrinsics(f, f, 0.5 * width, 0.5 * height)[None], n_views, axis=0)
    names = [f"auto_{choice.layout}_{i:04d}" for i in range(n_views)]
    cameras = Cameras(viewmats, Ks, width, height, names)
    return AutoViews(cameras, choice, bounds, view_coverage(cameras, pts), clearance, moved)


def auto_views(splat: GaussianSplat, n_views: int = 64, **kwargs) -> Cameras:
    """Cameras for ``splat`` from the splat alone; keyword arguments as :func:`plan_views`."""
    return plan_views(splat, n_views, **kwargs).cameras
