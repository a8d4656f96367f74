"""The weights-free mask source: multi-granularity masks from colour and rendered depth, no model file.

The fallback when no SAM checkpoint is available. Like SAM's automatic masks it gives, per view, parts
(uniform colour on a continuous surface), objects (parts joined in 3D, standing on a large supporting plane)
and groups (a support with all on it; the whole view). Tolerances are in pixel sizes (depth / focal length).

1. Geometry: points and normals from the depth; a neighbour pair has a depth *jump* when its step departs
   from the slope on both sides by over ``jump`` pixel sizes (a grazing table is smooth, a silhouette not).
2. Over-segmentation: Felzenszwalb on CIELAB + log depth, segments split along depth jumps.
3. Parts: adjacent depth-continuous regions merged by mean colour, closest first, cut at each colour level.
4. Supports: large planar part regions (table top, floor), by a robust plane fit of points and normals.
5. Objects: other regions joined where depth-continuous (a book stack, a pole on its base), then those on
   one support whose footprints on its plane overlap (a lamp shade over its base); items below a support,
   inside its footprint, belong to it (table legs).
6. Groups: a support with all that stands on it, transitively (the table with its objects); everything.

Masks under ``min(min_area_pixels, min_area_fraction * H * W)`` pixels and near-duplicates (IoU over
``dedupe_iou`` with a finer mask) are dropped. Deterministic; uses nothing but the view.
"""

from __future__ import annotations

import heapq
import math
import warnings
from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components
from skimage.color import rgb2lab
from skimage.morphology import convex_hull_image
from skimage.segmentation import felzenszwalb

from engine.masks.source import MaskSource
from engine.views.training_view import TrainingView


@dataclass
class WeightsFreeMaskSource(MaskSource):
    """Weights-free fallback: multi-granularity masks from colour + rendered depth + normals (no model)."""

    name = "weights-free"
    felzenszwalb_scale: float = 100.0
    colour_levels: tuple[float, ...] = (0.08, 0.2)  # CIELAB / 100 distances between region means
    jump: float = 5.0  # pixel sizes
    support_fraction: float = 0.04  # of the view's valid pixels
    min_area_fraction: float = 0.001
    min_area_pixels: int = 100
    dedupe_iou: float = 0.9

    def __post_init__(self):
        self.colour_levels = tuple(sorted(float(t) for t in self.colour_levels))

    def settings(self) -> dict:
        return {"source": self.name, "version": 1, **asdict(self), "colour_levels": list(self.colour_levels)}

    def masks_for_view(self, view: TrainingView) -> np.ndarray:
        geo = _Geometry(view, self.jump)
        h, w = geo.valid.shape
        min_area = min(self.min_area_pixels, int(np.ceil(self.min_area_fraction * h * w)))
        return _dedupe(_masks_from_label_images(self.label_images(view, geo), geo.valid, min_area), self.dedupe_iou)

    def label_images(self, view: TrainingView, geo: _Geometry | None = None) -> list[np.ndarray]:
        """The partitions behind the masks, finest first (int [H, W], -1 = none): one per colour level,
        then objects, stacked objects, support structures, one per support group, and the whole view."""
        geo = geo or _Geometry(view, self.jump)
        if not geo.valid.any():
            return []
        labels = _oversegment(geo, self.felzenszwalb_scale)
        base = _Regions(labels, geo)
        out = [np.where(labels >= 0, base.merge_by_colour(t)[np.maximum(labels, 0)], -1) for t in self.colour_levels]
        return out + _objects_and_groups(_Regions(out[0], geo), geo, self.support_fraction, self.colour_levels[-1])


class _Geometry:
    """One view's valid pixels, colour (CIELAB / 100), camera-space points [H, W, 3], pixel sizes, normals
    and depth jumps. Translucent pixels (alpha < 0.9, mixed with the background) take the nearest solid
    pixel's colour."""

    def __init__(self, view: TrainingView, jump: float):
        depth = np.asarray(view.depth, np.float64)
        self.valid = np.isfinite(depth) & (depth > 0)
        self.jump = jump
        solid = self.valid & (np.asarray(view.alpha) >= 0.9)
        rgb = np.asarray(view.image, np.float64) / 255.0
        self.colour = rgb2lab(_fill(rgb, solid) if solid.any() else rgb) / 100.0
        h, w = depth.shape
        z = _fill(depth, self.valid) if self.valid.any() else np.ones_like(depth)
        fx, fy, cx, cy = view.K[0, 0], view.K[1, 1], view.K[0, 2], view.K[1, 2]
        u, v = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
        self.z, self.pixel = z, z / fx
        self.points = np.stack([(u - cx) / fx * z, (v - cy) / fy * z, z], axis=-1)
        zs = ndimage.gaussian_filter(z, 1.0)
        ps = np.stack([(u - cx) / fx * zs, (v - cy) / fy * zs, zs], axis=-1)
        n = np.cross(np.gradient(ps, axis=1), np.gradient(ps, axis=0))
        n /= np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-12)
        self.normals = n * -np.sign(np.sum(n * ps, axis=-1, keepdims=True) + 1e-30)  # facing the camera
        self.jx, self.jy = self._jump(z, self.pixel), self._jump(z.T, self.pixel.T).T

    @staticmethod
    def _jump(z: np.ndarray, pix: np.ndarray) -> np.ndarray:
        """[H, W-1] how far each horizontal step departs from the steps two pixels before and after."""
        step = np.diff(z, axis=1)
        pad = np.pad(step, ((0, 0), (2, 2)), mode="edge")
        return np.minimum(np.abs(step - pad[:, :-4]), np.abs(step - pad[:, 4:])) / np.minimum(pix[:, :-1], pix[:, 1:])

    def near_jump(self) -> np.ndarray:
        """[H, W] pixels within 2 px of a depth jump (silhouette pixels whose mixed depth floats in the air)."""
        bx = np.pad(self.jx >= self.jump, ((0, 0), (1, 1)))
        by = np.pad(self.jy >= self.jump, ((1, 1), (0, 0)))
        return ndimage.binary_dilation(bx[:, 1:] | bx[:, :-1] | by[1:] | by[:-1])


def _fill(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Unknown pixels take the value of the nearest known pixel."""
    idx = ndimage.distance_transform_edt(~known, return_distances=False, return_indices=True)
    return values[idx[0], idx[1]]


def _relabel(labels: np.ndarray) -> np.ndarray:
    _, inv = np.unique(labels, return_inverse=True)
    return (inv.reshape(labels.shape) - (1 if (labels < 0).any() else 0)).astype(np.int64)


def _oversegment(geo: _Geometry, scale: float, min_size: int = 15) -> np.ndarray:
    """Felzenszwalb on colour + log depth, segments split along depth jumps (an object in front of another
    of the same colour); fragments join the neighbour they are most continuous with. -1 where invalid."""
    logz = np.log(geo.z) / np.median(geo.pixel / geo.z) / 40.0  # 40 pixel sizes of depth ~ one colour unit
    feats = np.concatenate([geo.colour, logz[..., None]], axis=-1)
    with warnings.catch_warnings():  # "third dimension of 4": intended, colour + depth
        warnings.simplefilter("ignore", RuntimeWarning)
        seg = felzenszwalb(feats, scale=scale, sigma=0.5, min_size=min_size, channel_axis=-1)
    seg = np.where(geo.valid, seg, -1)
    h, w = seg.shape
    ids = np.arange(h * w).reshape(h, w)
    ex = (seg[:, :-1] == seg[:, 1:]) & (seg[:, :-1] >= 0) & (geo.jx < geo.jump)
    ey = (seg[:-1] == seg[1:]) & (seg[:-1] >= 0) & (geo.jy < geo.jump)
    rows, cols = np.r_[ids[:, :-1][ex], ids[:-1][ey]], np.r_[ids[:, 1:][ex], ids[1:][ey]]
    _, comp = connected_components(coo_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(h * w,) * 2))
    labels = _relabel(np.where(seg.ravel() >= 0, comp, -1).reshape(h, w))
    for _ in range(2):
        n = int(labels.max()) + 1
        small = np.bincount(labels[labels >= 0], minlength=n) < min_size
        edges, _, cont = _adjacency(labels, geo)
        strength = np.r_[cont, cont] + 0.5 * ~small[np.r_[edges[:, 1], edges[:, 0]]]
        pairs = _strongest(np.r_[edges[:, 0], edges[:, 1]], np.r_[edges[:, 1], edges[:, 0]], strength, small)
        if not len(pairs):
            break
        labels = _relabel(np.where(labels >= 0, _union_find(n, pairs)[np.maximum(labels, 0)], -1))
    return labels


def _strongest(src, dst, strength, only) -> np.ndarray:
    """[K, 2] for each ``only[src]`` node with a link of positive strength, its strongest (src, dst) link."""
    ok = only[src] & (strength > 0.5)
    src, dst, strength = src[ok], dst[ok], strength[ok]
    order = np.lexsort((-strength, src))
    first = np.r_[True, src[order][1:] != src[order][:-1]] if len(order) else np.zeros(0, bool)
    return np.stack([src[order][first], dst[order][first]], 1)


def _adjacency(labels: np.ndarray, geo: _Geometry):
    """Edges [E, 2] (a < b) between touching regions, their boundary pixel pairs [E], continuous ones [E]."""
    n = int(labels.max()) + 1
    a = np.r_[labels[:, :-1].ravel(), labels[:-1].ravel()]
    b = np.r_[labels[:, 1:].ravel(), labels[1:].ravel()]
    cont = np.r_[geo.jx.ravel(), geo.jy.ravel()] < geo.jump
    keep = (a != b) & (a >= 0) & (b >= 0)
    a, b, cont = a[keep], b[keep], cont[keep]
    uniq, inv = np.unique(np.minimum(a, b) * n + np.maximum(a, b), return_inverse=True)
    return np.stack([uniq // n, uniq % n], 1), np.bincount(inv) * 1.0, np.bincount(inv, cont * 1.0)


class _Regions:
    """Area, mean colour and the adjacency graph (with depth continuity) of a label image."""

    def __init__(self, labels: np.ndarray, geo: _Geometry):
        self.labels, self.n = labels, int(labels.max()) + 1
        ok = labels.ravel() >= 0
        lab = labels.ravel()[ok]
        self.area = np.bincount(lab, minlength=self.n).astype(np.float64)
        colour = geo.colour.reshape(-1, 3)[ok]
        self.colour = np.stack([np.bincount(lab, colour[:, c], self.n) for c in range(3)], 1) / self.area[:, None]
        self.edges, self.boundary, self.continuous = _adjacency(labels, geo)
        # depth-continuous over enough of the shared boundary
        c, b = self.continuous, self.boundary
        self.connected = ((c >= 3) & (c >= 0.3 * b)) | (c >= 0.7 * b)

    def merge_by_colour(self, threshold: float) -> np.ndarray:
        """[R] group of each region: connected neighbours merged, closest mean colour first, below threshold."""
        colour, area = self.colour.tolist(), self.area.tolist()
        parent, version = list(range(self.n)), [0] * self.n
        nbrs: list[set[int]] = [set() for _ in range(self.n)]
        for a, b in self.edges[self.connected].tolist():
            nbrs[a].add(b)
            nbrs[b].add(a)

        def dist(a: int, b: int) -> float:
            return math.dist(colour[a], colour[b])

        heap = [(d, a, b, 0, 0) for a in range(self.n) for b in nbrs[a] if a < b and (d := dist(a, b)) < threshold]
        heapq.heapify(heap)
        while heap:
            _, a, b, va, vb = heapq.heappop(heap)
            if va != version[a] or vb != version[b]:
                continue  # stale: a or b has merged since
            w = area[a] + area[b]
            colour[a] = [(ca * area[a] + cb * area[b]) / w for ca, cb in zip(colour[a], colour[b], strict=True)]
            area[a], parent[b] = w, a
            version[a] += 1
            version[b] = -1
            for x in nbrs[b] - {a}:
                nbrs[x].discard(b)
                nbrs[x].add(a)
            nbrs[a] = (nbrs[a] | nbrs[b]) - {a, b}
            for x in nbrs[a]:
                if (d := dist(a, x)) < threshold:
                    heapq.heappush(heap, (d, min(a, x), max(a, x), version[min(a, x)], version[max(a, x)]))
        return _union_find(self.n, [(i, p) for i, p in enumerate(parent) if i != p])


def _union_find(n: int, pairs) -> np.ndarray:
    """[n] component index (0..C-1, in order of first node) of the graph with the given edges."""
    if n == 0:
        return np.zeros(0, np.int64)
    pairs = np.asarray(list(pairs), np.int64).reshape(-1, 2)
    graph = coo_matrix((np.ones(len(pairs), np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    comp = connected_components(graph, directed=False)[1]
    _, first = np.unique(comp, return_index=True)
    rank = np.empty(len(first), np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    return rank[comp]


def _plane(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Robust plane (centre, unit normal towards the camera): refitted on the closest 60% of the points, so
    a table top's side faces do not tilt it."""
    sel = points
    for _ in range(4):
        centre = np.median(sel, axis=0)
        normal = np.linalg.svd(sel - centre, full_matrices=False)[2][2]
        dist = np.abs((points - centre) @ normal)
        sel = points[dist <= np.quantile(dist, 0.6)]
    return centre, -normal if normal @ centre > 0 else normal


def _supports(regions: _Regions, geo: _Geometry, pix: float, fraction: float, colour_join: float) -> np.ndarray:
    """[R] support index per region (-1: none). A support is a large region most of whose points lie on one
    plane with normals agreeing; coplanar supports of similar colour share an index (a table top cut in two)."""
    pts, nrm, flat = geo.points.reshape(-1, 3), geo.normals.reshape(-1, 3), regions.labels.ravel()
    total, found = float(regions.area.sum()), []
    for r in np.argsort(-regions.area, kind="stable"):
        if regions.area[r] < fraction * total:
            break
        idx = np.flatnonzero(flat == r)
        idx = idx[:: max(1, len(idx) // 3000)]
        centre, normal = _plane(pts[idx])
        tol = 2.0 * np.median(geo.pixel.ravel()[idx])  # this region's pixel size: far floors are coarser
        on = (np.abs((pts[idx] - centre) @ normal) < tol) & (np.abs(nrm[idx] @ normal) > 0.8)
        if on.mean() >= 0.5 and on.mean() * regions.area[r] >= fraction * total:
            found.append((int(r), centre, normal))
    pairs = [
        (i, j)
        for i, (ri, ci, ni) in enumerate(found)
        for j, (rj, cj, nj) in enumerate(found[i + 1 :], i + 1)
        if abs((cj - ci) @ ni) < 2.0 * pix and abs(ni @ nj) > 0.95
        and np.linalg.norm(regions.colour[ri] - regions.colour[rj]) < colour_join
    ]  # fmt: skip
    out = np.full(regions.n, -1)
    out[[r for r, _, _ in found]] = _union_find(len(found), pairs)
    return out


def _objects_and_groups(regions: _Regions, geo: _Geometry, fraction: float, colour_join: float) -> list[np.ndarray]:
    """Label images: objects, stacked objects, support structures, one per support group, the whole view."""
    labels, n = regions.labels, regions.n
    pix = float(np.median(geo.pixel[geo.valid])) if geo.valid.any() else 1.0
    support = _supports(regions, geo, pix, fraction, colour_join)
    n_sup = int(support.max()) + 1
    # objects: non-support regions joined where depth-continuous; a small region (mixed pixels along a
    # silhouette) keeps only its strongest link so that it cannot bridge two objects
    keep = regions.connected & (support[regions.edges[:, 0]] < 0) & (support[regions.edges[:, 1]] < 0)
    e, c = regions.edges[keep], regions.continuous[keep]
    small = regions.area < 0.001 * labels.size
    links = [e[~small[e[:, 0]] & ~small[e[:, 1]]], _strongest(np.r_[e[:, 0], e[:, 1]], np.r_[e[:, 1], e[:, 0]],
                                                              np.r_[c, c], small)]  # fmt: skip
    comp = np.where(support >= 0, -1, _union_find(n, np.concatenate(links)))
    comp = np.where(comp >= 0, _relabel(comp), -1)
    n_comp = int(comp.max()) + 1
    # items: the components, then the supports; measured away from depth jumps where they can be
    item = np.where(comp >= 0, comp, n_comp + support)
    n_items = n_comp + n_sup
    item_px = np.where(labels.ravel() >= 0, item[np.maximum(labels.ravel(), 0)], -1)
    solid = ~geo.near_jump().ravel() & (item_px >= 0)
    count = np.bincount(item_px[item_px >= 0], minlength=n_items)
    use_solid = np.bincount(item_px[solid], minlength=n_items) >= 0.2 * count
    used = (item_px >= 0) & (solid | ~use_solid[np.maximum(item_px, 0)])
    inside, h_lo, h_hi, overlap = _relations(item_px[used], geo.points.reshape(-1, 3)[used], pix, n_comp, n_sup)
    tol = 2.0 * pix
    below = inside & (h_hi < tol) & (h_lo < -tol)
    on_h = np.where(inside & (h_lo > -tol) & ~below, h_lo, np.inf)
    none = np.full(n_items, -1)
    stands = np.where(np.isfinite(on_h.min(1)), on_h.argmin(1), -1) if n_sup else none  # closest support beneath
    below_of = np.where(below.any(1), below.argmax(1), -1) if n_sup else none
    pairs = []  # stacking: components on one support whose footprints overlap (a shade above its base)
    for g in range(n_sup):
        cs = np.flatnonzero((stands[:n_comp] == g) & (below_of[:n_comp] < 0))
        a, b = np.nonzero(np.triu(overlap[g][np.ix_(cs, cs)] > 0.3, 1))
        pairs += list(zip(cs[a], cs[b], strict=True))
    stacked = np.r_[_union_find(n_comp, pairs), -1]  # -1 maps to -1
    # structure of a support: its regions and the items below it (table top + legs), resolved transitively
    owner = np.r_[below_of[:n_comp], np.where(below_of[n_comp:] >= 0, below_of[n_comp:], np.arange(n_sup))]
    for _ in range(n_sup):
        owner = np.where(owner >= 0, owner[n_comp + np.maximum(owner, 0)], -1)
    out = [comp, stacked[comp], owner[item]]
    for g in np.unique(owner[n_comp:]):  # a support's structure and all that stands on it, transitively
        inc = owner == g
        for _ in range(n_sup + 1):
            sup = np.flatnonzero(inc[n_comp:])
            inc |= np.isin(stands, sup) & (below_of < 0) | np.isin(owner, sup)
        out.append(np.where(inc[item], 0, -1))
    out.append(np.zeros(n, np.int64))  # the whole view
    return [np.where(labels >= 0, a[np.maximum(labels, 0)], -1) for a in out]


def _relations(it: np.ndarray, p: np.ndarray, pix: float, n_comp: int, n_sup: int):
    """Per item (``it`` of each point ``p``) and support plane: footprint inside the support's convex hull,
    heights above the plane (2nd, 98th percentiles), and footprint overlaps [I, I] per support."""
    n_items = n_comp + n_sup
    count = np.maximum(np.bincount(it, minlength=n_items), 1)
    starts = np.searchsorted(np.sort(it), np.arange(n_items))
    lo_at = np.minimum(starts + np.floor(0.02 * (count - 1)).astype(int), len(it) - 1)
    hi_at = np.minimum(starts + np.ceil(0.98 * (count - 1)).astype(int), len(it) - 1)
    inside = np.zeros((n_items, n_sup), bool)
    h_lo, h_hi, overlap = np.zeros((n_items, n_sup)), np.zeros((n_items, n_sup)), []
    for g in range(n_sup):
        mine = it == n_comp + g
        centre, normal = _plane(p[mine][:: max(1, int(mine.sum()) // 20000)])
        e1 = np.cross(normal, [1.0, 0.0, 0.0] if abs(normal[0]) < 0.9 else [0.0, 1.0, 0.0])
        basis = np.stack([e1 / np.linalg.norm(e1), np.cross(normal, e1 / np.linalg.norm(e1))], 1)
        hgt = (p - centre) @ normal
        xy = np.floor((p - centre) @ basis / (3.0 * pix)).astype(np.int64)  # cells of 3 pixel sizes
        lo = xy[mine].min(0) - 3
        grid = np.zeros(tuple(xy[mine].max(0) - lo + 4), bool)
        grid[tuple((xy[mine] - lo).T)] = True
        grid = convex_hull_image(grid)
        gxy = xy - lo
        ok = (gxy >= 0).all(1) & (gxy[:, 0] < grid.shape[0]) & (gxy[:, 1] < grid.shape[1])
        hit = np.zeros(len(it), bool)
        hit[ok] = grid[tuple(gxy[ok].T)]
        inside[:, g] = np.bincount(it, hit, n_items) / count > 0.7
        inside[n_comp + g, g] = False
        srt = hgt[np.lexsort((hgt, it))]
        h_lo[:, g], h_hi[:, g] = srt[lo_at], srt[hi_at]
        overlap.append(_footprint_overlap(it, xy, n_items))
    return inside, h_lo, h_hi, overlap


def _footprint_overlap(it: np.ndarray, xy: np.ndarray, n_items: int) -> np.ndarray:
    """[I, I] cells of a's footprint, dilated by one cell, covered by b's, over the smaller footprint."""
    xy = xy - xy.min(0) + 1
    width = int(xy[:, 1].max()) + 2
    pairs = np.unique((it.astype(np.int64) << 40) + xy[:, 0] * width + xy[:, 1])
    item, code = pairs >> 40, pairs & ((1 << 40) - 1)
    cells, col = np.unique(code, return_inverse=True)
    feet = csr_matrix((np.ones(len(item)), (item, col)), shape=(n_items, len(cells)))
    d_code = (code[:, None] + np.array([dx * width + dy for dx in (-1, 0, 1) for dy in (-1, 0, 1)])).ravel()
    pos = np.minimum(np.searchsorted(cells, d_code), len(cells) - 1)
    hit = cells[pos] == d_code
    dil = csr_matrix((np.ones(int(hit.sum())), (np.repeat(item, 9)[hit], pos[hit])), shape=feet.shape)
    dil.sum_duplicates()
    dil.data[:] = 1.0
    size = np.asarray(feet.sum(1)).ravel()
    return (dil @ feet.T).toarray() / np.maximum(np.minimum(size[:, None], size[None, :]), 1)


def _masks_from_label_images(label_images: list[np.ndarray], valid: np.ndarray, min_area: int) -> np.ndarray:
    """One mask per label of each image (valid pixels only) with at least ``min_area`` pixels, in order."""
    masks = []
    for lab in label_images:
        lab = np.where(valid, lab, -1)
        counts = np.bincount(lab[lab >= 0], minlength=1)
        masks += [lab == v for v in np.flatnonzero(counts >= min_area)]
    return np.stack(masks) if masks else np.zeros((0, *valid.shape), bool)


def _dedupe(masks: np.ndarray, max_iou: float) -> np.ndarray:
    """Drop masks whose IoU with an earlier (finer) kept mask exceeds ``max_iou``."""
    flat = masks.reshape(len(masks), int(np.prod(masks.shape[1:]))).astype(np.float32)
    inter = flat @ flat.T
    a = flat.sum(1)
    iou = inter / np.maximum(a[:, None] + a[None, :] - inter, 1)
    keep: list[int] = []
    for i in range(len(masks)):
        if not keep or iou[i, keep].max() <= max_iou:
            keep.append(i)
    return masks[keep]
