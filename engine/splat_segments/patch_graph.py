"""The patches' adjacency and the statistics region merging needs, gathered once from the neighbour graph.

Per patch: size, colour sums (mean and spread), centroid, points' second moments (extent, plane), the summed
flatness-weighted normal outer products (its surface orientation). Per adjacent pair: how many neighbour edges
join them (the contact), their colour contrast across the boundary, and how many of those edges are concave (the
surfaces fold inwards there: a valley between two things rather than the bend of one).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CONCAVE_COS = 0.12  # (n_i - n_j) . (p_i - p_j) / |p_i - p_j| below -this: a concave edge


@dataclass
class PatchGraph:
    count: np.ndarray  # [P] Gaussians
    colour_sum: np.ndarray  # [P, 3]
    colour_sq: np.ndarray  # [P, 3]
    point_sum: np.ndarray  # [P, 3]
    point_outer: np.ndarray  # [P, 3, 3] sum of p p^T
    normal_outer: np.ndarray  # [P, 3, 3] sum of w n n^T
    normal_sum: np.ndarray  # [P, 3] sum of w n (meaningful when the normals are oriented)
    oriented: bool
    seen: np.ndarray  # [P] Gaussians some training view sees
    pair_a: np.ndarray  # [Q] patch a < b
    pair_b: np.ndarray
    pair_edges: np.ndarray  # [Q] neighbour edges joining them
    pair_contrast: np.ndarray  # [Q] sum over those edges of |c_i - c_j|
    pair_concave: np.ndarray  # [Q] concave edges among them

    def __len__(self) -> int:
        return len(self.count)


def build_patch_graph(label: np.ndarray, points: np.ndarray, colour: np.ndarray, normals: np.ndarray,
                      flatness: np.ndarray, edges: tuple[np.ndarray, np.ndarray], oriented: bool,
                      seen: np.ndarray | None = None) -> PatchGraph:  # fmt: skip
    p = int(label.max()) + 1 if len(label) else 0
    cnt = np.bincount(label, minlength=p).astype(np.float64)
    csum = np.stack([np.bincount(label, colour[:, d], p) for d in range(3)], 1)
    csq = np.stack([np.bincount(label, colour[:, d] ** 2, p) for d in range(3)], 1)
    psum = np.stack([np.bincount(label, points[:, d], p) for d in range(3)], 1)
    pts = points.astype(np.float64)
    pout = np.zeros((p, 3, 3))
    nout = np.zeros((p, 3, 3))
    w = np.clip(1.0 - 2.0 * flatness.astype(np.float64), 0.05, 1.0)  # flat Gaussians know their normal
    for i in range(3):
        for j in range(i, 3):
            pout[:, i, j] = pout[:, j, i] = np.bincount(label, pts[:, i] * pts[:, j], p)
            nout[:, i, j] = nout[:, j, i] = np.bincount(label, w * normals[:, i] * normals[:, j], p)
    a, b = edges
    la, lb = label[a], label[b]
    cross = la != lb
    a, b, la, lb = a[cross], b[cross], la[cross], lb[cross]
    lo, hi = np.minimum(la, lb), np.maximum(la, lb)
    key = lo * p + hi
    uniq, inv = np.unique(key, return_inverse=True)
    inv = inv.reshape(-1)
    contrast = np.linalg.norm(colour[a] - colour[b], axis=1)
    if oriented:
        d = points[a] - points[b]
        dn = np.linalg.norm(d, axis=1).clip(1e-12)
        concave = (np.einsum("ek,ek->e", normals[a] - normals[b], d) / dn) < -CONCAVE_COS
    else:
        concave = np.zeros(len(a), bool)
    q = len(uniq)
    nsum = np.stack([np.bincount(label, w * normals[:, d], p) for d in range(3)], 1)
    return PatchGraph(
        cnt, csum, csq, psum, pout, nout, nsum, oriented,
        np.bincount(label, np.ones(len(label)) if seen is None else seen.astype(np.float64), p),
        (uniq // p).astype(np.int64), (uniq % p).astype(np.int64),
        np.bincount(inv, minlength=q).astype(np.float64), np.bincount(inv, contrast, q),
        np.bincount(inv, concave.astype(np.float64), q),
    )  # fmt: skip
