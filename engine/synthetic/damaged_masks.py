"""Masks from the synthetic scene's 2D ground truth, with realistic damage: the benchmark's mask source
that isolates the 2D -> 3D lifting from the quality of the mask generator.

Per view, the clean masks are every part, every object and a few groups (everything but the background:
the table with all on it; everything). Damage, deterministic for (seed, view name):

* merges: a fraction ``merge`` of the part and object masks is replaced by its union with a touching mask
  of the same level (two neighbouring objects in one mask, as SAM does now and then);
* drops: a fraction ``drop`` of the masks, chosen at random, is removed;
* boundary noise: every remaining mask is eroded or dilated by up to ``boundary_px`` pixels, varying
  smoothly along its boundary;
* spurious masks: ``spurious`` random blobs per view.

The label maps come from :func:`engine.synthetic.label_maps.render_label_maps`; a view finds its maps by
name (``TrainingView.name`` equals the camera's name).
"""

from __future__ import annotations

import hashlib
import zlib

import numpy as np
from scipy import ndimage

from engine.masks.source import MaskSource, MaskSourceError
from engine.views.training_view import TrainingView

KINDS = ("part", "object", "group", "merged", "spurious")


class DamagedLabelMaskSource(MaskSource):
    """Ground-truth part / object / group masks with boundary noise, drops, merges and spurious blobs."""

    name = "damaged-labels"

    def __init__(
        self,
        label_maps: dict[str, tuple[np.ndarray, np.ndarray]],
        background_objects: tuple[int, ...] = (0,),
        seed: int = 0,
        drop: float = 0.2,
        merge: float = 0.1,
        boundary_px: float = 1.5,
        spurious: int = 2,
        min_area: int = 20,
    ):
        """``label_maps``: view name -> (object_map, part_map), int [H, W], -1 where empty.
        ``background_objects``: object ids left out of the "everything but the background" group."""
        self.label_maps = {k: (np.asarray(o, np.int32), np.asarray(p, np.int32)) for k, (o, p) in label_maps.items()}
        self.background_objects = tuple(int(b) for b in background_objects)
        self.seed, self.drop, self.merge = int(seed), float(drop), float(merge)
        self.boundary_px, self.spurious, self.min_area = float(boundary_px), int(spurious), int(min_area)

    @classmethod
    def from_scene(cls, scene, cameras, **kwargs) -> DamagedLabelMaskSource:
        """Render the scene's label maps at ``cameras`` (keyed by camera name). The floor object
        ("background") is left out of the first group."""
        from .label_maps import render_label_maps

        maps = dict(zip(cameras.names, render_label_maps(scene, cameras), strict=True))
        background = tuple(i for i, n in enumerate(scene.object_names) if n == "background")
        return cls(maps, background_objects=background, **kwargs)

    def settings(self) -> dict:
        digest = hashlib.sha1()
        for key in sorted(self.label_maps):
            digest.update(key.encode())
            for m in self.label_maps[key]:
                digest.update(np.ascontiguousarray(m).tobytes())
        return {
            "source": self.name,
            "version": 1,
            "labels": digest.hexdigest()[:16],
            "background_objects": list(self.background_objects),
            "seed": self.seed,
            "drop": self.drop,
            "merge": self.merge,
            "boundary_px": self.boundary_px,
            "spurious": self.spurious,
            "min_area": self.min_area,
        }

    def masks_for_view(self, view: TrainingView) -> np.ndarray:
        return self.damaged_masks(view)[0]

    def _maps(self, view: TrainingView) -> tuple[np.ndarray, np.ndarray]:
        if view.name not in self.label_maps:
            raise MaskSourceError(
                f"{self.name}: no label map for view {view.name!r}; build the source from the same cameras "
                f"as the views (known views: {sorted(self.label_maps)[:5]}...)"
            )
        maps = self.label_maps[view.name]
        if maps[0].shape != (view.height, view.width):
            raise MaskSourceError(f"{self.name}: label map of {view.name!r} is {maps[0].shape}, view is "
                                  f"{(view.height, view.width)}")  # fmt: skip
        return maps

    def clean_masks(self, view: TrainingView) -> tuple[np.ndarray, list[str]]:
        """The undamaged masks [M, H, W] and their kinds ("part", "object", "group"); a part mask equal to
        its object's (a one-part object) is given once, as the object."""
        object_map, part_map = self._maps(view)
        masks, kinds = [], []
        objects = [(object_map == o) for o in np.unique(object_map[object_map >= 0])]
        objects = [m for m in objects if m.sum() >= self.min_area]
        for p in np.unique(part_map[part_map >= 0]):
            m = part_map == p
            if m.sum() >= self.min_area and not any(np.array_equal(m, o) for o in objects):
                masks.append(m)
                kinds.append("part")
        masks += objects
        kinds += ["object"] * len(objects)
        labelled = object_map >= 0
        foreground = labelled & ~np.isin(object_map, self.background_objects)
        for group in (foreground, labelled):
            if group.sum() >= self.min_area and not any(np.array_equal(group, m) for m in masks):
                masks.append(group)
                kinds.append("group")
        stack = np.stack(masks) if masks else np.zeros((0, *object_map.shape), bool)
        return stack, kinds

    def damaged_masks(self, view: TrainingView) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """(masks [M', H, W], source [M'] index of the clean mask each one damages (-1 for spurious blobs),
        kinds [M']: the clean kind, "merged" or "spurious")."""
        clean, kinds = self.clean_masks(view)
        rng = np.random.default_rng([self.seed, zlib.crc32(view.name.encode())])
        masks, kinds = list(clean), list(kinds)
        # merges: a part or object with a touching mask of the same level
        for i in np.flatnonzero(rng.random(len(masks)) < self.merge):
            if kinds[i] not in ("part", "object"):
                continue
            grown = ndimage.binary_dilation(clean[i])
            touching = [j for j in range(len(clean)) if j != i and kinds[j] == kinds[i] and (grown & clean[j]).any()]
            if touching:
                masks[i] = clean[i] | clean[touching[rng.integers(len(touching))]]
                kinds[i] = "merged"
        # drops: exactly round(drop * M) masks
        keep = np.sort(rng.permutation(len(masks))[round(self.drop * len(masks)) :])
        out, source, out_kinds = [], [], []
        for i in keep:
            m = _wobble(masks[i], rng, self.boundary_px)
            if m.sum() >= self.min_area:
                out.append(m)
                source.append(int(i))
                out_kinds.append(kinds[i])
        shape = clean.shape[1:] if len(clean) else (view.height, view.width)
        for _ in range(self.spurious):
            out.append(_blob(shape, rng, self.boundary_px))
            source.append(-1)
            out_kinds.append("spurious")
        stack = np.stack(out) if out else np.zeros((0, *shape), bool)
        return stack, np.asarray(source, np.int64), out_kinds


def _wobble(mask: np.ndarray, rng: np.random.Generator, amplitude: float) -> np.ndarray:
    """The mask with its boundary moved in or out by up to ``amplitude`` px, smoothly along the boundary."""
    if amplitude <= 0 or not mask.any():
        return mask.copy()
    inside = ndimage.distance_transform_edt(mask) - 0.5
    outside = ndimage.distance_transform_edt(~mask) - 0.5
    signed = np.where(mask, inside, -outside)
    noise = ndimage.gaussian_filter(rng.standard_normal(mask.shape), 3.0, mode="wrap")
    noise *= amplitude / max(float(noise.std()), 1e-12) / 1.5
    return signed + np.clip(noise, -amplitude, amplitude) > 0


def _blob(shape: tuple[int, int], rng: np.random.Generator, amplitude: float) -> np.ndarray:
    """A random blob: an ellipse of 3-12% of the image size with a wobbly boundary."""
    h, w = shape
    cy, cx = rng.uniform(0, h), rng.uniform(0, w)
    ry, rx = rng.uniform(0.03, 0.12, 2) * np.array([h, w])
    yy, xx = np.mgrid[:h, :w]
    ellipse = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0
    if not ellipse.any():
        ellipse[int(min(cy, h - 1)), int(min(cx, w - 1))] = True
    return _wobble(ellipse, rng, max(amplitude, 1.0) * 2)
