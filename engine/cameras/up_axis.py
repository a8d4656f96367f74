"""Up from the Gaussians' own orientations: the normal of the dominant flat surfaces (a floor, a table top).

A Gaussian trained on a surface is flat: its smallest scale lies along the surface normal. Scenes that
stand on something (a floor, the ground, a table top) carry a large area of such Gaussians sharing one
normal, which is the up axis. :func:`up_from_normals`:

1. Surface elements: robust Gaussians whose smallest scale is < 0.3 x the middle one. Normal: the
   rotation's column of the smallest scale; weight: its visible area, middle x largest scale x opacity.
2. Dominant normal: the axis (sign-free) holding the most weight within a 10 degree cone, found on a
   histogram of +-normals over 4000 Fibonacci directions and refined by weighted-mean steps over the
   cone. Its ``share`` is the cone's weight over all the flat weight. Evidence is strong when
   share >= 0.35 and the flat Gaussians hold >= 30% of all the weight (isotropic Gaussians say nothing).
   Measured: the synthetic table scene 0.79 (floor and table top), 0.61 without its floor (table top);
   the guitar capture's best cone 0.19, the biker's 0.06: both keep the prior.
3. Sign: the support plane is the height along the axis with the most cone weight (a 100-bin
   histogram over the scene's height range). A support is at the bottom of a scene: up is the side
   holding most of the robust Gaussians off the plane (counted, not weighted: detail is where the
   Gaussians are). The side is decisive when at most 35% lie on the other side (table scene: ~0%
   below its floor; ~20%, the legs, below the top without the floor) and no second strong plane
   (>= 20% of the support's cone weight) caps the scene at the other end with at most 35% beyond it
   (a floor and a ceiling: whichever is stronger, the sides say nothing). Otherwise the prior's sign
   when the axis is within 45 degrees of the prior's axis, else no answer. ``grounded``: decisive
   sides with the plane at the bottom; then ``scene_bounds`` reports it as ``support``.
4. An explicit prior (a caller who knows the convention, e.g. Z up) is only refined: the axis is used,
   signed like the prior, when it is within 25 degrees of it.

Limits: a scene dominated by one vertical plane (a facade, a wall-sized painting, a corridor's walls)
gets a horizontal "up"; a ceiling far stronger than everything under it (5x the floor's weight)
reads as a ground, upside down; a Z-up export of a room (floor and ceiling, 90 degrees from the -y
prior) gets no sign and keeps the prior; a thin flat object alone (a sheet of paper) has mass on
both sides of its plane and falls back on the prior. Normals of real captures are noisier than the
synthetic ones: a real floor may spread beyond the 10 degree cone and miss the 35% share.
Without strong evidence the caller keeps the previous rule (prior, refined by the PCA of a flat scene).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from saga_blender.core.gaussians import GaussianSplat

FLAT_GAUSSIAN_RATIO = 0.3  # smallest / middle scale below this: a surface element
NORMAL_CONE_DEG = 10.0
MIN_NORMAL_SHARE = 0.35  # of the flat weight within the cone
MIN_FLAT_WEIGHT = 0.3  # flat weight / all weight
CAP_PLANE_WEIGHT = 0.2  # x the support plane's weight: a plane strong enough to be a ceiling
MAX_OTHER_SIDE = 0.35  # of the robust Gaussians off the support plane, on the side that is not up
PRIOR_SIGN_DEG = 45.0  # an undecided sign comes from the prior within this angle of its axis
EXPLICIT_MAX_TILT_DEG = 25.0
HISTOGRAM_DIRECTIONS = 4000
HISTOGRAM_SAMPLES = 50_000
MAX_SAMPLES = 500_000


@dataclass
class NormalEvidence:
    """What the surface normals say: the dominant axis, its share, the support plane and the sides."""

    axis: np.ndarray  # [3] unit, sign as found (not yet up)
    share: float  # weight within the cone / all flat weight
    flat_weight: float  # flat weight / all weight
    support: float  # height of the support plane along ``axis``
    below: float  # fraction of the robust Gaussians off the plane on the -axis side
    capped: bool  # a second strong plane at the other end (a floor and a ceiling): the sides say nothing

    @property
    def grounded(self) -> bool:
        """Whether the support plane is the bottom of the scene (along ``axis``): a ground."""
        return self.below <= MAX_OTHER_SIDE and not self.capped


def _sphere(n: int) -> np.ndarray:
    i = np.arange(n) + 0.5
    z = 1.0 - 2.0 * i / n
    az = i * np.pi * (3.0 - np.sqrt(5.0))
    r = np.sqrt(np.maximum(1.0 - z * z, 0.0))
    return np.stack([r * np.cos(az), r * np.sin(az), z], axis=1)


def smallest_axes(quats: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """[N, 3] unit axis of each Gaussian's smallest scale (w, x, y, z quaternions; normalised here)."""
    q = np.asarray(quats, np.float64)
    q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
    w, x, y, z = q.T
    cols = np.stack(  # [N, column, row] of the rotation matrix
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y + w * z), 2 * (x * z - w * y)], -1),
            np.stack([2 * (x * y - w * z), 1 - 2 * (x * x + z * z), 2 * (y * z + w * x)], -1),
            np.stack([2 * (x * z + w * y), 2 * (y * z - w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        axis=1,
    )
    return cols[np.arange(len(q)), np.argmin(scales, axis=1)]


def dominant_axis(normals: np.ndarray, weights: np.ndarray, cone_deg: float = NORMAL_CONE_DEG) -> tuple:
    """(axis [3], share, in_cone [M]): the sign-free direction with the most weight within ``cone_deg``."""
    dirs = _sphere(HISTOGRAM_DIRECTIONS)
    tree = cKDTree(dirs)
    step = max(1, -(-len(normals) // HISTOGRAM_SAMPLES))  # the histogram only seeds the mean shift
    _, idx = tree.query(np.concatenate([normals[::step], -normals[::step]]))
    hist = np.bincount(idx, np.tile(weights[::step], 2), HISTOGRAM_DIRECTIONS)
    pairs = tree.query_pairs(2.0 * np.sin(0.5 * np.radians(cone_deg)), output_type="ndarray")
    cone = hist.copy()
    np.add.at(cone, pairs[:, 0], hist[pairs[:, 1]])
    np.add.at(cone, pairs[:, 1], hist[pairs[:, 0]])
    axis = dirs[int(np.argmax(cone))]
    cos_cone = np.cos(np.radians(cone_deg))
    for _ in range(5):  # mean shift over the cone
        c = normals @ axis
        m = np.abs(c) >= cos_cone
        mean = (normals[m] * (np.sign(c[m]) * weights[m])[:, None]).sum(axis=0)
        if np.linalg.norm(mean) < 1e-12:
            break
        axis = mean / np.linalg.norm(mean)
    in_cone = np.abs(normals @ axis) >= cos_cone
    return axis, float(weights[in_cone].sum() / max(weights.sum(), 1e-30)), in_cone


def support_plane(heights: np.ndarray, cone_heights: np.ndarray, cone_weights: np.ndarray) -> tuple:
    """(h0, below, capped): the height of the plane with the most cone weight, the fraction of the
    other heights below it, and whether a second strong plane (>= 20% of its weight) caps the scene on
    the other side (a ceiling over a floor: at most 35% of the heights beyond it)."""
    lo, hi = np.quantile(heights, [0.005, 0.995])
    lo, hi = min(lo, cone_heights.min()), max(hi, cone_heights.max())  # the plane itself is in range
    span = max(hi - lo, 1e-9)
    hist, edges = np.histogram(cone_heights, bins=100, range=(lo - 0.01 * span, hi + 0.01 * span), weights=cone_weights)
    window = np.convolve(hist, np.ones(3), mode="same")  # a plane may straddle two bins
    k = int(np.argmax(window))
    near = (cone_heights >= edges[max(k - 1, 0)]) & (cone_heights <= edges[min(k + 2, len(edges) - 1)])
    h0 = float(np.average(cone_heights[near], weights=cone_weights[near] + 1e-30))
    tol = 0.01 * span
    ordered = np.sort(heights)

    def side_below(h: np.ndarray) -> np.ndarray:
        below = np.searchsorted(ordered, h - tol)
        above = len(ordered) - np.searchsorted(ordered, h + tol, side="right")
        return below / np.maximum(below + above, 1)

    below = float(side_below(np.array([h0]))[0])
    centres = 0.5 * (edges[:-1] + edges[1:])
    strong = (window >= CAP_PLANE_WEIGHT * window[k]) & (np.abs(centres - h0) > 0.25 * span)
    other = side_below(centres[strong])
    capped = bool(np.any(other >= 1.0 - MAX_OTHER_SIDE) if below <= 0.5 else np.any(other <= MAX_OTHER_SIDE))
    return h0, below, capped


def normal_evidence(splat: GaussianSplat, keep: np.ndarray) -> NormalEvidence | None:
    """The dominant surface normal of the robust Gaussians ``keep`` and its support plane (rules 1-3)."""
    idx = np.flatnonzero(keep)
    idx = idx[:: max(1, -(-len(idx) // MAX_SAMPLES))]
    scales = np.sort(np.exp(splat.log_scales[idx].astype(np.float64)), axis=1)
    weight = scales[:, 1] * scales[:, 2] * splat.opacities[idx]
    finite = np.isfinite(weight) & np.all(np.isfinite(splat.quats[idx]), axis=1)
    finite &= np.linalg.norm(splat.quats[idx].astype(np.float64), axis=1) > 0
    idx, scales, weight = idx[finite], scales[finite], weight[finite]
    if len(idx) < 10:
        return None
    flat = scales[:, 0] < FLAT_GAUSSIAN_RATIO * scales[:, 1]
    flat_weight = float(weight[flat].sum() / max(weight.sum(), 1e-30))
    if flat.sum() < 10 or flat_weight < MIN_FLAT_WEIGHT:
        return None
    fidx = idx[flat]
    normals = smallest_axes(splat.quats[fidx], splat.log_scales[fidx])
    axis, share, in_cone = dominant_axis(normals, weight[flat])
    heights = splat.means[idx].astype(np.float64) @ axis
    h0, below, capped = support_plane(heights, heights[flat][in_cone], weight[flat][in_cone])
    return NormalEvidence(axis, share, flat_weight, h0, below, capped)


def up_from_normals(splat: GaussianSplat, keep: np.ndarray, prior: np.ndarray, explicit: bool) -> tuple:
    """(up [3] or None, reason, evidence or None): up from the dominant surface normal (module rules).

    ``prior`` is the unit prior up; ``explicit`` whether the caller gave it (then it is only refined).
    The evidence returned is oriented like the up returned (its ``support`` a height along that up).
    """
    ev = normal_evidence(splat, keep)
    if ev is None:
        return None, "no flat Gaussians to read a normal from", None
    share = f"{ev.share:.0%} of the flat area within {NORMAL_CONE_DEG:.0f} deg of"
    if ev.share < MIN_NORMAL_SHARE:
        return None, f"weak surface normal evidence ({share} {_fmt(ev.axis)})", ev
    cos = float(ev.axis @ prior)
    tilt = float(np.degrees(np.arccos(min(abs(cos), 1.0))))
    decisive = min(ev.below, 1.0 - ev.below) <= MAX_OTHER_SIDE and not ev.capped
    if explicit:
        if tilt > EXPLICIT_MAX_TILT_DEG:
            return None, f"surface normal {tilt:.1f} deg from the given up ({share} {_fmt(ev.axis)})", ev
        how, flip = f"signed like the given up {_fmt(prior)}", cos < 0
    elif decisive:
        how, flip = "", ev.below > 0.5
    else:
        sides = "a plane at each end, floor and ceiling" if ev.capped else f"{ev.below:.0%} of the rest below"
        if tilt > PRIOR_SIGN_DEG:
            return None, f"surface normal found but its sign is undecided ({share} {_fmt(ev.axis)}; {sides})", ev
        how, flip = f"sign undecided ({sides}): signed like the prior {_fmt(prior)}", cos < 0
    if flip:
        _flip(ev)
    how = how or f"{1 - ev.below:.0%} of the Gaussians off the support plane above it: it is the ground"
    return ev.axis, f"surface normals ({share} {_fmt(ev.axis)}; {how})", ev


def _fmt(v: np.ndarray) -> str:
    return str(np.round(v, 3) + 0.0)


def _flip(ev: NormalEvidence) -> None:
    """Turn ``ev`` upside down in place: axis, support height and side fraction."""
    ev.axis, ev.support, ev.below = -ev.axis, -ev.support, 1.0 - ev.below
