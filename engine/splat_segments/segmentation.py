"""The whole 3D segmentation of a splat, and its masks in any view.

``segment_splat`` runs geometry -> neighbour graph -> oriented normals -> supervoxels -> patch graph -> supports ->
region merging, and returns levels of labels per Gaussian, finest first: parts at a few merge thresholds, objects
(connected things once supports are set apart, cut at concave creases by the coarsest merge level), and groups (a
support with what stands on it). ``SplatSegmentation.masks`` renders them into a view through its contributors:
a pixel belongs to the label carrying most of its blending weight, so the masks of every view come from one 3D
segmentation and agree with each other by construction.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from scipy.spatial import cKDTree

from saga_blender.core.gaussians import GaussianSplat

from .geometry import gaussian_geometry, orient_normals
from .hierarchy import MergeWeights, merge_regions
from .levels import object_levels
from .patch_graph import build_patch_graph
from .supervoxels import neighbour_graph, supervoxels
from .supports import find_supports

#: a Gaussian is seen by a camera when it carries at least this blending weight at one of its pixels
SEEN_WEIGHT = 0.05


@dataclass(frozen=True)
class SegmentSettings:
    knn: int = 12
    per_patch: int = 40
    thresholds: tuple[float, ...] = (1.6, 3.2)  # merge levels of the parts, finest first (0.8 gave fragments)
    object_threshold: float = 6.0  # the merge level that splits touching things into objects
    weights: MergeWeights = field(default_factory=MergeWeights)
    min_mask_pixels: int = 20
    min_mask_fraction: float = 0.0005  # of the view's pixels: a mask is at least this large (and min_mask_pixels)
    min_pixel_share: float = 0.5  # a pixel belongs to a label carrying at least this share of its weight
    dedupe_iou: float = 0.9  # a mask this like a finer level's mask is left out (identical ones too)


@dataclass
class SplatSegmentation:
    """``levels``: (name, [N] int32 label per Gaussian, -1 for none), finest first; ``patch`` the supervoxel of
    every Gaussian; ``seconds`` how long it took."""

    levels: list[tuple[str, np.ndarray]]
    patch: np.ndarray
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def level(self, name: str) -> np.ndarray:
        return dict(self.levels)[name]

    def masks(self, ids: np.ndarray, weights: np.ndarray, settings: SegmentSettings | None = None) -> np.ndarray:
        """bool [M, H, W] from a view's contributors (ids [H, W, K] int, -1 none; weights [H, W, K]): every label of
        every level covering enough pixels, finest level first, near-duplicates of a finer mask left out."""
        settings = settings or SegmentSettings()
        h, w, k = ids.shape
        min_pixels = max(settings.min_mask_pixels, int(np.ceil(settings.min_mask_fraction * h * w)))
        min_share = settings.min_pixel_share
        flat_ids = ids.reshape(h * w, k)
        flat_w = weights.reshape(h * w, k).astype(np.float64)
        valid = flat_ids >= 0
        total = np.where(valid, flat_w, 0.0).sum(axis=1)
        masks = []
        for _, labels in self.levels:
            lab = np.where(valid, labels[np.maximum(flat_ids, 0)], -1)
            keep = lab >= 0
            if not keep.any():
                continue
            pix = np.repeat(np.arange(h * w), k)[keep.reshape(-1)]
            uniq, inv = np.unique(lab[keep], return_inverse=True)
            acc = sparse.coo_matrix((flat_w[keep], (pix, inv.reshape(-1))), shape=(h * w, len(uniq))).tocsr()
            best = np.asarray(acc.argmax(axis=1)).reshape(-1)
            best_w = np.asarray(acc.max(axis=1).todense()).reshape(-1)
            owner = np.where((best_w >= min_share * np.maximum(total, 1e-12)) & (total > 0.5), best, -1)
            counts = np.bincount(owner[owner >= 0], minlength=len(uniq))
            masks.extend((owner == j).reshape(h, w) for j in np.flatnonzero(counts >= min_pixels))
        return dedupe_masks(masks, settings.dedupe_iou, (h, w))


def dedupe_masks(masks: list[np.ndarray], max_iou: float, shape: tuple[int, int]) -> np.ndarray:
    """The masks in order, each left out when its IoU with one already kept is over ``max_iou``."""
    if not masks:
        return np.zeros((0, *shape), bool)
    flat = np.stack(masks).reshape(len(masks), -1)
    area = flat.sum(axis=1).astype(np.float64)
    inter = flat.astype(np.float32) @ flat.T.astype(np.float32)
    keep: list[int] = []
    for i in range(len(masks)):
        iou = inter[i, keep] / np.maximum(area[i] + area[keep] - inter[i, keep], 1.0) if keep else np.zeros(0)
        if not (iou > max_iou).any():
            keep.append(i)
    return flat[keep].reshape(len(keep), *shape)


def segment_splat(splat: GaussianSplat, facing: np.ndarray | None = None, up: np.ndarray | None = None,
                  settings: SegmentSettings = SegmentSettings()) -> SplatSegmentation:  # fmt: skip
    """Segment ``splat`` in 3D. ``facing`` [N, 3] (the weighted directions to the cameras that see each Gaussian,
    ``camera_facing``) orients the normals (concave creases and up-facing supports need it); ``up`` (default:
    estimated from the splat) finds the supports."""
    t0 = time.perf_counter()
    notes: list[str] = []
    geom = gaussian_geometry(splat)
    solid = np.flatnonzero(geom.solid)
    n = len(splat)
    if len(solid) < 50:
        raise ValueError(f"only {len(solid)} solid Gaussians (opacity >= 0.15): nothing to segment")
    pts = geom.points[solid]
    graph = neighbour_graph(pts, settings.knn)
    sub = _subset(geom, solid)
    if facing is not None:
        orient_normals(sub, facing[solid], graph.idx)
    else:
        notes.append("no views: normals are not oriented, concave creases are not used")
    if up is None:
        from engine.cameras.scene_bounds import scene_bounds

        up = scene_bounds(splat).up
    patch = supervoxels(pts, sub.colour, sub.normals, graph, settings.per_patch)
    edges = graph.edges()
    seen = None if facing is None else np.linalg.norm(facing[solid], axis=1) > 0
    g = build_patch_graph(patch, pts, sub.colour, sub.normals, sub.flatness, edges, sub.oriented, seen)
    support = find_supports(g, up, pts, patch)
    is_support = support >= 0
    tree = merge_regions(g, is_support, settings.weights)
    parts = [tree.cut(t) for t in settings.thresholds]
    lv = object_levels(g, support, tree.cut(settings.object_threshold), up)
    offset = max(int(x.max()) for x in (*parts, lv.objects, lv.things)) + 1
    levels_patch: list[tuple[str, np.ndarray]] = []
    for i, labels in enumerate(parts):  # in the parts a support is its slab (a table top with its edges)
        levels_patch.append((f"parts-{i}", np.where(lv.slab >= 0, offset + lv.slab, labels)))
    levels_patch.append(("objects", lv.objects))
    levels_patch.append(("things", lv.things))
    if lv.groups is not None:
        levels_patch.append(("groups", lv.groups))
    # to every Gaussian: solid ones through their patch, the rest from their nearest solid neighbour
    nearest = np.full(n, -1, np.int64)
    nearest[solid] = np.arange(len(solid))
    rest = np.flatnonzero(~geom.solid)
    if len(rest):
        _, nn = cKDTree(pts).query(geom.points[rest], k=1, workers=-1)
        nearest[rest] = nn
    per_gaussian = patch[nearest]
    levels = [(name, labels[per_gaussian].astype(np.int32)) for name, labels in levels_patch]
    return SplatSegmentation(levels, per_gaussian.astype(np.int32), time.perf_counter() - t0, notes)


def camera_facing(splat: GaussianSplat, cameras, contributors) -> np.ndarray:
    """[N, 3] for each Gaussian the sum of unit directions towards the cameras that see it, each weighted by its
    largest blending weight in that camera; only weights of the surface in front of a pixel count (at least
    ``SEEN_WEIGHT`` and a quarter of the pixel's largest): light leaking through a semi-transparent surface onto
    what is behind it does not. ``contributors`` yields (ids [H, W, K], weights [H, W, K])."""
    means = splat.means.astype(np.float64)
    out = np.zeros((len(splat), 3))
    for c, (ids, weights) in enumerate(contributors):
        k = ids.shape[-1]
        w2 = weights.reshape(-1, k).astype(np.float64)
        dominant = w2 >= np.maximum(SEEN_WEIGHT, 0.25 * w2.max(axis=1, keepdims=True))  # the surface in front
        flat, w = ids.reshape(-1), w2.reshape(-1)
        ok = (flat >= 0) & dominant.reshape(-1)
        per = np.zeros(len(splat))
        np.maximum.at(per, flat[ok], w[ok])
        hit = np.flatnonzero(per)
        direction = cameras.centers[c][None, :] - means[hit]
        direction /= np.linalg.norm(direction, axis=1, keepdims=True).clip(1e-12)
        out[hit] += per[hit, None] * direction
    return out


def _subset(geom, idx):
    from .geometry import GaussianGeometry

    return GaussianGeometry(geom.points[idx], geom.normals[idx].copy(), geom.flatness[idx], geom.radius[idx],
                            geom.colour[idx], geom.opacity[idx], geom.solid[idx])  # fmt: skip
