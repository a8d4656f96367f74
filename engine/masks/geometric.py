"""The geometric mask source: masks rendered from one 3D segmentation of the splat itself (no model file).

The splat is a 3D reconstruction, so the weights-free masks come from it rather than from each picture alone:
``engine.splat_segments`` segments the Gaussians in 3D (normals, colour, supervoxels, supports, region merging:
parts, objects, things on supports, groups), and every view's masks are those segments rendered through the view's
contributors (a pixel belongs to the segment carrying most of its blending weight). The masks of all views come
from one segmentation, so they agree with each other by construction, and an object is whole in every view that
sees it, even where the picture alone could not tell (a texture, a shadow, a guitar against its stand).

The segmentation needs to know which side of each surface the cameras see (it orients the normals, which tells a
concave crease from a convex rim and an up-facing support from an underside): on first use the source renders the
contributors of every camera at a quarter of the pixels to find, for each Gaussian, the cameras that see it.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import asdict, dataclass, field

import numpy as np

from engine.cameras.cameras import Cameras
from engine.masks.source import MaskSource
from engine.views.training_view import TrainingView
from saga_blender.core.gaussians import GaussianSplat

#: contributors kept per pixel for the masks and for the facing pass
MASK_TOP_K = 16
FACING_TOP_K = 8
FACING_SIDE = 128  # the facing pass renders at most this many pixels along a view's longer side


@dataclass
class GeometricMaskSource(MaskSource):
    """Masks from the splat's 3D segmentation (``engine.splat_segments``), rendered into each view."""

    splat: GaussianSplat
    cameras: Cameras  # every training view (any size: the facing pass scales them)
    up: np.ndarray | None = None
    device: str = "cpu"
    name = "geometric"
    _segmentation: object = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def settings(self) -> dict:
        from engine.splat_segments.segmentation import SegmentSettings

        cams = hashlib.sha256(np.ascontiguousarray(self.cameras.viewmats, np.float64).tobytes())
        cams.update(np.ascontiguousarray(self.cameras.Ks, np.float64).tobytes())
        up = None if self.up is None else [round(float(x), 6) for x in self.up]
        return {"source": self.name, "version": 1, "splat": self.splat.content_hash(), "cameras": cams.hexdigest(),
                "up": up, "segment": asdict(SegmentSettings())}  # fmt: skip

    @property
    def segmentation(self):
        """The splat's ``SplatSegmentation`` (computed on first use)."""
        if self._segmentation is None:
            with self._lock:
                if self._segmentation is None:
                    self._segmentation = self._segment()
        return self._segmentation

    def _segment(self):
        from engine.splat_segments.segmentation import camera_facing, segment_splat

        cams = self.cameras
        factor = min(1.0, FACING_SIDE / max(cams.width, cams.height))
        small = cams.scaled(factor) if factor < 1.0 else cams
        facing = camera_facing(self.splat, small, contributor_images(self.splat, small, FACING_TOP_K, self.device))
        return segment_splat(self.splat, facing, self.up)

    def masks_for_view(self, view: TrainingView) -> np.ndarray:
        seg = self.segmentation
        ids, weights = view_contributors(self.splat, view, MASK_TOP_K, self.device)
        return seg.masks(ids, weights)


def contributor_images(splat: GaussianSplat, cameras: Cameras, top_k: int, device: str = "cpu"):
    """Yields (ids [H, W, K] int64, weights [H, W, K] float32) of each camera of ``cameras``."""
    import torch

    from engine.render.contributors import render_contributors
    from engine.render.splat_tensors import splat_to_tensors

    st = splat_to_tensors(splat, device)
    for i in range(len(cameras)):
        vm = torch.from_numpy(cameras.viewmats[i].astype(np.float32))[None].to(device)
        K = torch.from_numpy(cameras.Ks[i].astype(np.float32))[None].to(device)
        c = render_contributors(st.means, st.quats, st.scales, st.opacities, vm, K, cameras.width, cameras.height,
                                top_k=top_k, backend="auto")  # fmt: skip
        yield c.ids[0].cpu().numpy(), c.weights[0].cpu().numpy()


def view_contributors(splat: GaussianSplat, view: TrainingView, top_k: int, device: str = "cpu"):
    """(ids [H, W, K], weights [H, W, K]) of one training view at its size."""
    cams = Cameras(view.viewmat[None].astype(np.float64), view.K[None].astype(np.float64), view.width, view.height)
    return next(contributor_images(splat, cams, top_k, device))


@dataclass
class CombinedMaskSource(MaskSource):
    """The masks of several sources for each view, stacked (near-duplicates across them left out)."""

    sources: tuple
    dedupe_iou: float = 0.9
    name = "combined"

    def settings(self) -> dict:
        return {"source": self.name, "version": 1, "parts": [s.settings() for s in self.sources],
                "dedupe_iou": self.dedupe_iou}  # fmt: skip

    @property
    def segmentation(self):
        """The first geometric source's segmentation (the hidden-Gaussian fill uses it)."""
        for s in self.sources:
            if isinstance(s, GeometricMaskSource):
                return s.segmentation
        return None

    def masks_for_view(self, view: TrainingView) -> np.ndarray:
        from engine.splat_segments.segmentation import dedupe_masks

        stacks = [np.asarray(s.masks_for_view(view), bool) for s in self.sources]
        masks = [m for stack in stacks for m in stack]
        return dedupe_masks(masks, self.dedupe_iou, (view.height, view.width))
