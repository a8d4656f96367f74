"""From patches, supports and the merge tree to the levels of a segmentation: objects, things, groups, slabs.

* objects: the connected pieces of the scene once supports are set apart, each cut where the coarse merge level
  says two things meet (touching things);
* a support's body: the objects under its plane that hang from it or hold it up (a table's edges, underside and
  legs), found outwards from the plane;
* things: connected pieces, a support's body and plane together;
* groups: a support with its body and every thing standing on it;
* slab: in the parts, a support plane with the body just under it (a table top with its edges), not the legs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from .patch_graph import PatchGraph
from .supports import patch_frames

BELOW_SHARE = 0.7  # an object is under a plane when this share of it lies below the plane's height


@dataclass
class ObjectLevels:
    objects: np.ndarray  # [P] object label per patch (supports included, each its own)
    things: np.ndarray  # [P]
    groups: np.ndarray | None  # [P] (-1 where no support)
    slab: np.ndarray  # [P] support index of the parts' slab, or -1
    body: np.ndarray  # [P] support index of the body a patch belongs to, or -1


def object_levels(g: PatchGraph, support: np.ndarray, coarse: np.ndarray, up: np.ndarray) -> ObjectLevels:
    p = len(g)
    is_support = support >= 0
    strong = g.pair_edges >= 2
    a, b = g.pair_a[strong], g.pair_b[strong]
    keep = ~is_support[a] & ~is_support[b]
    adj = sparse.coo_matrix((np.ones(int(keep.sum())), (a[keep], b[keep])), shape=(p, p))
    _, comp = csgraph.connected_components(adj, directed=False)
    objects = np.unique(comp * (int(coarse.max()) + 1) + coarse, return_inverse=True)[1].reshape(-1)
    offset = int(objects.max()) + 1
    centroid, normal, _ = patch_frames(g)
    up = np.asarray(up, np.float64) / np.linalg.norm(up)
    height = centroid @ up
    planes = np.unique(support[is_support])
    plane_height = {int(s): float(np.median(height[support == s])) for s in planes}
    # region adjacency (objects and supports)
    region = np.where(is_support, offset + support, objects)
    ra, rb = region[g.pair_a[strong]], region[g.pair_b[strong]]
    neighbours: dict[int, set[int]] = {}
    for x, y in zip(ra.tolist(), rb.tolist(), strict=True):
        if x != y:
            neighbours.setdefault(x, set()).add(y)
            neighbours.setdefault(y, set()).add(x)
    count = np.bincount(region, g.count, int(region.max()) + 1)
    body = np.where(is_support, support, -1)
    for s in planes:
        h = plane_height[int(s)]
        below = np.bincount(region, g.count * (height < h), len(count)) / np.maximum(count, 1)
        frontier, taken = [offset + int(s)], {offset + int(s)}
        while frontier:
            r = frontier.pop()
            for t in neighbours.get(r, ()):
                if t not in taken and t < offset and below[t] >= BELOW_SHARE:
                    taken.add(t)
                    frontier.append(t)
        members = np.isin(region, [t for t in taken if t < offset])
        body[members & (body < 0)] = int(s)
    objects_out = np.where(body >= 0, offset + body, objects)
    things = np.where(body >= 0, offset + body, comp)
    groups = None
    if len(planes):
        groups = np.where(body >= 0, body, -1)
        for x, y in zip(g.pair_a[strong].tolist(), g.pair_b[strong].tolist(), strict=True):
            if (body[x] >= 0) != (body[y] >= 0):
                s, other = (body[x], y) if body[x] >= 0 else (body[y], x)
                members = (comp == comp[other]) & (groups < 0)
                groups[members] = s
    # the parts' slab: a plane with the body just under it, down to its underside (when it has one)
    slab = np.where(is_support, support, -1)
    level_patch = np.abs(normal @ up) > 0.9
    for s in planes:
        members = support == s
        span = 2.0 * float(np.sqrt(np.linalg.eigvalsh(np.cov(centroid[members].T) + 1e-12 * np.eye(3))[-1]))
        h = plane_height[int(s)]
        zone = (body == s) & ~is_support & (height >= h - 0.15 * span)
        under = zone & level_patch
        h_under = float(np.median(height[under])) if under.any() else h - 0.02 * span
        slab[zone & (height >= h_under - 0.5 * max(h - h_under, 0.0) - 1e-6)] = int(s)
    return ObjectLevels(objects_out, things, groups, slab, body)
