"""Agglomerative region merging over the patch graph: the cheapest adjacent pair merges first, one run gives every
level (a level at threshold t is the state when the cheapest remaining merge costs more than t).

The cost of merging regions A and B is small when they look alike and hold together:

* colour: the smaller of their mean-colour difference and the contrast across their boundary, over their pooled
  colour spread (a textured region tolerates more, as it should);
* concavity: the share of their boundary that folds inwards (the valley where a mug meets a table, a helmet meets
  a hand) rather than bending outwards (the rim of one bowl);
* contact: how little of the smaller region's boundary they share (a thing touching another at a point, or
  leaning on it, shares little; a part of one surface shares a lot);
* a small region merges easily (noise), a region flagged as a support (a floor, a table top) never merges with
  another region here (the group level puts them together).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

from .patch_graph import PatchGraph


@dataclass(frozen=True)
class MergeWeights:
    colour_floor: float = 0.03  # added to the pooled colour spread
    concave: float = 2.0
    contact: float = 1.0
    small: float = 60.0  # regions below this many Gaussians merge at a discount


@dataclass
class MergeTree:
    """The merges in order: ``cost[k]`` of merging ``a[k]`` into ``b[k]`` (patch ids of their representatives)."""

    patches: int
    a: np.ndarray
    b: np.ndarray
    cost: np.ndarray

    def cut(self, threshold: float) -> np.ndarray:
        """[P] region label of every patch when merging stops at the first merge costing more than ``threshold``."""
        over = np.flatnonzero(self.cost > threshold)
        stop = int(over[0]) if len(over) else len(self.cost)
        parent = np.arange(self.patches)
        for a, b in zip(self.a[:stop], self.b[:stop], strict=True):
            parent[_find(parent, a)] = _find(parent, b)
        roots = np.array([_find(parent, i) for i in range(self.patches)])
        return np.unique(roots, return_inverse=True)[1].reshape(-1)


def _find(parent: np.ndarray, i: int) -> int:
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:
        parent[i], i = root, parent[i]
    return int(root)


def merge_regions(g: PatchGraph, support: np.ndarray | None = None, weights: MergeWeights = MergeWeights(),
                  max_cost: float = np.inf) -> MergeTree:  # fmt: skip
    """Merge greedily until no adjacent pair is left (or the cheapest costs more than ``max_cost``)."""
    p = len(g)
    n = g.count.copy()
    csum, csq = g.colour_sum.copy(), g.colour_sq.copy()
    is_support = np.zeros(p, bool) if support is None else support.copy()
    adj: list[dict[int, list[float]]] = [dict() for _ in range(p)]
    for a, b, e, c, cc in zip(g.pair_a, g.pair_b, g.pair_edges, g.pair_contrast, g.pair_concave, strict=True):
        adj[a][b] = [e, c, cc]
        adj[b][a] = [e, c, cc]
    boundary = np.array([sum(v[0] for v in adj[i].values()) for i in range(p)])
    version = np.zeros(p, np.int64)
    alive = np.ones(p, bool)

    def cost(r: int, s: int) -> float:
        if is_support[r] != is_support[s] or (is_support[r] and is_support[s]):
            return np.inf
        e, contrast, concave = adj[r][s]
        mr, ms = csum[r] / n[r], csum[s] / n[s]
        var = ((csq[r] / n[r] - mr**2).mean() * n[r] + (csq[s] / n[s] - ms**2).mean() * n[s]) / (n[r] + n[s])
        colour = min(float(np.linalg.norm(mr - ms)), contrast / e) / (np.sqrt(max(var, 0.0)) + weights.colour_floor)
        contact = e / max(min(boundary[r], boundary[s]), 1.0)
        c = colour + weights.concave * concave / e + weights.contact * (1.0 - min(contact, 1.0))
        small = min(n[r], n[s]) / weights.small
        return c * min(1.0, small) ** 0.5

    heap = [(cost(int(a), int(b)), 0, 0, int(a), int(b)) for a, b in zip(g.pair_a, g.pair_b, strict=True)]
    heap = [h for h in heap if np.isfinite(h[0])]
    heapq.heapify(heap)
    out_a, out_b, out_c = [], [], []
    while heap:
        c, vr, vs, r, s = heapq.heappop(heap)
        if not (alive[r] and alive[s]) or vr != version[r] or vs != version[s]:
            continue
        if c > max_cost:
            break
        # merge the smaller into the larger
        if n[r] > n[s]:
            r, s = s, r
        out_a.append(r)
        out_b.append(s)
        out_c.append(c)
        alive[r] = False
        n[s] += n[r]
        csum[s] += csum[r]
        csq[s] += csq[r]
        del adj[s][r]
        for t, stats in adj[r].items():
            if t == s:
                continue
            del adj[t][r]
            if t in adj[s]:
                merged = [x + y for x, y in zip(adj[s][t], stats, strict=True)]
            else:
                merged = list(stats)
            adj[s][t] = merged
            adj[t][s] = merged
        boundary[s] = sum(v[0] for v in adj[s].values())
        adj[r] = {}
        version[s] += 1
        for t in adj[s]:
            boundary[t] = sum(v[0] for v in adj[t].values())
            c_new = cost(s, t)
            if np.isfinite(c_new):
                heapq.heappush(heap, (c_new, int(version[s]), int(version[t]), s, t))
    return MergeTree(p, np.array(out_a, np.int64), np.array(out_b, np.int64), np.array(out_c))
