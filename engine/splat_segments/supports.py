"""Supports: the large horizontal planes things stand on (a floor, a table top, a shelf), found among the patches.

A patch is horizontal when its surface normal is within 15 degrees of the up axis and its points are planar.
Horizontal patches that touch at about the same height join into planes; a plane is a support when it spans at
least a quarter of the scene's horizontal extent (so a book's top or a die's face never is).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from .patch_graph import PatchGraph

HORIZONTAL_COS = np.cos(np.radians(15.0))
MIN_SPAN = 0.25  # of the scene's horizontal extent


def patch_frames(g: PatchGraph) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(centroid [P, 3], surface normal [P, 3] (the dominant Gaussian normal), point covariance [P, 3, 3])."""
    n = np.maximum(g.count, 1.0)
    centroid = g.point_sum / n[:, None]
    cov = g.point_outer / n[:, None, None] - centroid[:, :, None] * centroid[:, None, :]
    _, vec = np.linalg.eigh(g.normal_outer + 1e-12 * np.eye(3))
    return centroid, vec[:, :, -1], cov


def find_supports(g: PatchGraph, up: np.ndarray, points: np.ndarray | None = None,
                  patch: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """[P] int64: the support plane of each patch (0..S-1), or -1. With the Gaussians' ``points`` and ``patch``
    labels, a plane must also have free space above most of it (a slab's underside has the slab above it)."""
    p = len(g)
    out = np.full(p, -1, np.int64)
    if p == 0:
        return out
    up = np.asarray(up, np.float64) / np.linalg.norm(up)
    centroid, normal, cov = patch_frames(g)
    height = centroid @ up
    thickness = np.sqrt(np.maximum(np.einsum("i,pij,j->p", up, cov, up), 0.0))
    spread = np.sqrt(np.maximum(np.trace(cov, axis1=1, axis2=2) - thickness**2, 0.0))
    if g.oriented:  # a support faces up (a slab's underside faces down: it belongs to the slab, not the floor)
        facing = g.normal_sum @ up / np.linalg.norm(g.normal_sum, axis=1).clip(1e-12)
    else:
        facing = np.abs(normal @ up)
    # and is seen: the hidden underside of a slab is not something to stand on
    horizontal = (facing > HORIZONTAL_COS) & (thickness < 0.35 * np.maximum(spread, 1e-9))
    horizontal &= g.seen >= 0.3 * g.count
    a, b = g.pair_a, g.pair_b
    tol = 3.0 * np.maximum(thickness[a], thickness[b]) + 0.05 * np.minimum(spread[a], spread[b])
    mean = g.colour_sum / np.maximum(g.count, 1.0)[:, None]
    var = (g.colour_sq / np.maximum(g.count, 1.0)[:, None] - mean**2).mean(axis=1).clip(0.0)
    alike = np.linalg.norm(mean[a] - mean[b], axis=1) <= 2.5 * np.sqrt(np.maximum(var[a], var[b])) + 0.06
    join = horizontal[a] & horizontal[b] & (np.abs(height[a] - height[b]) <= tol) & alike
    adj = sparse.coo_matrix((np.ones(int(join.sum())), (a[join], b[join])), shape=(p, p))
    _, comp = csgraph.connected_components(adj, directed=False)
    flat = np.flatnonzero(horizontal)
    if len(flat) == 0:
        return out
    # the scene's horizontal extent from every patch
    tang = centroid - np.outer(centroid @ up, up)
    scene_span = float(np.ptp(tang, axis=0).max()) or 1.0
    planes = 0
    for c in np.unique(comp[flat]):
        members = flat[comp[flat] == c]
        t = tang[members]
        span = float(np.sqrt(np.ptp(t, axis=0)[np.argsort(np.ptp(t, axis=0))[-2:]].prod())) if len(t) > 1 else 0.0
        if span >= MIN_SPAN * scene_span and (points is None or _open_above(points, patch, members, up, span)):
            out[members] = planes
            planes += 1
    if planes:
        _grow_planes(g, out, height, thickness, np.abs(normal @ up) > HORIZONTAL_COS, mean, var)
    return out


def _grow_planes(g: PatchGraph, out: np.ndarray, height, thickness, level, mean, var) -> None:
    """Add to each plane the adjacent patches lying on it that the first pass left out (unseen table top under
    and between objects, patches at its edges): level, at the plane's height, of its colour. In place."""
    for s in range(int(out.max()) + 1):
        members = out == s
        h = float(np.median(height[members]))
        tol = 3.0 * float(np.median(thickness[members])) + 1e-6
        colour = np.average(mean[members], axis=0, weights=g.count[members])
        spread = float(np.sqrt(np.average(var[members], weights=g.count[members])))
        fits = level & (out < 0) & (np.abs(height - h) <= tol)
        fits &= np.linalg.norm(mean - colour, axis=1) <= 2.5 * spread + 0.06
        while True:
            a, b = g.pair_a, g.pair_b
            grow = (fits[a] & (out[b] == s)) | (fits[b] & (out[a] == s))
            new = np.unique(np.concatenate([a[grow & fits[a]], b[grow & fits[b]]]))
            new = new[out[new] < 0]
            if len(new) == 0:
                break
            out[new] = s


def _open_above(points: np.ndarray, patch: np.ndarray, members: np.ndarray, up: np.ndarray, span: float,
                sample: int = 4000) -> bool:  # fmt: skip
    """Whether most of the plane has no other surface just above it (within 6% of its span)."""
    from scipy.spatial import cKDTree

    mine = np.isin(patch, members)
    idx = np.flatnonzero(mine)
    if len(idx) == 0:
        return False
    rng = np.random.default_rng(0)
    probe = points[rng.choice(idx, min(sample, len(idx)), replace=False)]
    others = points[~mine]
    if len(others) == 0:
        return True
    gap = 0.06 * span
    hits = cKDTree(others).query_ball_point(probe + 0.5 * gap * up, r=0.45 * gap, return_length=True, workers=-1)
    return float(np.mean(np.asarray(hits) > 0)) < 0.5
