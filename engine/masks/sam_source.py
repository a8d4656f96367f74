"""SAM's automatic mask generator as a mask source (SAGA's reference masks).

Defaults are SAGA's reference settings: points_per_side 32, pred_iou_thresh 0.88,
stability_score_thresh 0.95, box_nms_thresh 0.7, min_mask_region_area 100 (all overridable).

segment-anything's own small-region post-processing (``min_mask_region_area > 0``) needs OpenCV, which
is not a dependency here. So the generator runs with ``min_mask_region_area=0`` and
:func:`postprocess_small_regions` reproduces ``SamAutomaticMaskGenerator.postprocess_small_regions``
(segment_anything 1.0) with scipy: per mask, fill background components ("holes") smaller than the
area, then drop mask components ("islands") smaller than it (keeping the largest if all are small),
both with 8-connectivity; then box NMS again (threshold max(box_nms_thresh, crop_nms_thresh)) with
score 1 for unchanged masks and 0 for changed ones, so duplicates that needed cleaning lose.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np
from scipy import ndimage

from engine.masks.sam_loading import SamCheckpointError, get_spec, import_segment_anything, load_sam
from engine.masks.source import MaskSource, MaskSourceError, check_mask_stack
from engine.views.training_view import TrainingView

_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)
_MIB = 1 << 20


def _largest_label(labels: np.ndarray, sizes: np.ndarray) -> int:
    """The label of the largest component; on a tie, the one OpenCV numbers first. OpenCV's default
    8-connected labelling (Spaghetti/BBDT) scans 2x2 blocks, row pairs top to bottom, so a component's
    number follows its first block in that order (not its first pixel in raster order)."""
    ties = np.flatnonzero(sizes == sizes.max()) + 1
    if len(ties) == 1:
        return int(ties[0])
    yy, xx = np.indices(labels.shape)
    block = (yy // 2) * ((labels.shape[1] + 1) // 2) + xx // 2
    first = ndimage.minimum(block, labels, index=ties)
    return int(ties[int(np.argmin(first))])


def remove_small_regions(mask: np.ndarray, area_thresh: float, mode: str) -> tuple[np.ndarray, bool]:
    """segment_anything.utils.amg.remove_small_regions without OpenCV: (new mask, whether it changed).

    mode "holes": background components (8-connected, including ones touching the border, as in SAM)
    with fewer than ``area_thresh`` pixels are filled. mode "islands": mask components with fewer than
    ``area_thresh`` pixels are removed; if every component is small, the largest is kept (on a tie, the one
    OpenCV would number first).
    """
    if mode not in ("holes", "islands"):
        raise ValueError(f"mode must be 'holes' or 'islands', not {mode!r}")
    mask = np.asarray(mask, dtype=bool)
    correct_holes = mode == "holes"
    working = ~mask if correct_holes else mask
    labels, n = ndimage.label(working, structure=_EIGHT_CONNECTED)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    small = sizes < area_thresh
    if not small.any():
        return mask, False
    if correct_holes:
        fill = np.concatenate([[True], small])  # label 0 = the mask itself, plus the small holes
    else:
        fill = np.concatenate([[False], ~small])  # the large islands
        if not fill.any():
            fill[_largest_label(labels, sizes)] = True
    return fill[labels], True


def postprocess_small_regions(masks: np.ndarray, min_area: int, nms_thresh: float) -> np.ndarray:
    """SamAutomaticMaskGenerator.postprocess_small_regions on a bool stack [M, H, W]: the cleaned masks
    that survive the re-run box NMS (in NMS order; callers sort)."""
    import torch
    from segment_anything.utils.amg import batched_mask_to_box
    from torchvision.ops.boxes import batched_nms

    masks = np.asarray(masks, dtype=bool)
    if len(masks) == 0:
        return masks
    new_masks, scores = [], []
    for mask in masks:
        mask, changed_holes = remove_small_regions(mask, min_area, "holes")
        mask, changed_islands = remove_small_regions(mask, min_area, "islands")
        new_masks.append(mask)
        scores.append(float(not (changed_holes or changed_islands)))
    stacked = torch.as_tensor(np.stack(new_masks))
    boxes = batched_mask_to_box(stacked)
    keep = batched_nms(boxes.float(), torch.as_tensor(scores), torch.zeros(len(boxes)), iou_threshold=nms_thresh)
    return stacked[keep].numpy()


def checkpoint_fingerprint(path: str | os.PathLike) -> str:
    """A cheap identity of a (multi-GB) checkpoint: "<size>:<sha256 of the first MiB + the last MiB>".

    Reading 2 MiB instead of 2.5 GB; a different SAM checkpoint differs in size or in those bytes.
    """
    path = os.fspath(path)
    try:
        size = os.path.getsize(path)
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            digest.update(f.read(_MIB))
            if size > _MIB:
                f.seek(max(size - _MIB, _MIB))
                digest.update(f.read(_MIB))
    except FileNotFoundError as exc:
        raise SamCheckpointError(f"SAM checkpoint not found: {path}") from exc
    except OSError as exc:
        raise SamCheckpointError(f"cannot read SAM checkpoint {path}: {exc}") from exc
    return f"{size}:{digest.hexdigest()}"


class SamMaskSource(MaskSource):
    """Masks from segment-anything's SamAutomaticMaskGenerator. The model is loaded on first use and kept
    for every later view (``close()`` frees it)."""

    def __init__(
        self,
        checkpoint: str | os.PathLike,
        model_type: str = "vit_h",
        device: str = "auto",
        *,
        points_per_side: int = 32,
        points_per_batch: int = 64,
        pred_iou_thresh: float = 0.88,
        stability_score_thresh: float = 0.95,
        stability_score_offset: float = 1.0,
        box_nms_thresh: float = 0.7,
        crop_n_layers: int = 0,
        crop_nms_thresh: float = 0.7,
        min_mask_region_area: int = 100,
    ) -> None:
        get_spec(model_type)  # unknown model type: clear error now, not at the first view
        if device not in ("auto", "cpu") and not device.startswith("cuda"):
            raise MaskSourceError(f"unknown device {device!r}; use 'auto', 'cpu' or 'cuda'")
        self.checkpoint = os.fspath(checkpoint)
        self.model_type = model_type
        self.device = device
        self.points_per_side = int(points_per_side)
        self.points_per_batch = int(points_per_batch)
        self.pred_iou_thresh = float(pred_iou_thresh)
        self.stability_score_thresh = float(stability_score_thresh)
        self.stability_score_offset = float(stability_score_offset)
        self.box_nms_thresh = float(box_nms_thresh)
        self.crop_n_layers = int(crop_n_layers)
        self.crop_nms_thresh = float(crop_nms_thresh)
        self.min_mask_region_area = int(min_mask_region_area)
        self._fingerprint: str | None = None
        self._generator = None

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"sam-{self.model_type}"

    def settings(self) -> dict:
        """Model type, checkpoint fingerprint (see :func:`checkpoint_fingerprint`) and every threshold.
        The device and points_per_batch are left out: they change speed, not the masks."""
        if self._fingerprint is None:
            self._fingerprint = checkpoint_fingerprint(self.checkpoint)
        return {
            "model_type": self.model_type,
            "checkpoint": self._fingerprint,
            "points_per_side": self.points_per_side,
            "pred_iou_thresh": self.pred_iou_thresh,
            "stability_score_thresh": self.stability_score_thresh,
            "stability_score_offset": self.stability_score_offset,
            "box_nms_thresh": self.box_nms_thresh,
            "crop_n_layers": self.crop_n_layers,
            "crop_nms_thresh": self.crop_nms_thresh,
            "min_mask_region_area": self.min_mask_region_area,
        }

    def _get_generator(self):
        if self._generator is None:
            import_segment_anything()
            from segment_anything import SamAutomaticMaskGenerator

            model = load_sam(self.checkpoint, self.model_type, self.device)
            self._generator = SamAutomaticMaskGenerator(
                model,
                points_per_side=self.points_per_side,
                points_per_batch=self.points_per_batch,
                pred_iou_thresh=self.pred_iou_thresh,
                stability_score_thresh=self.stability_score_thresh,
                stability_score_offset=self.stability_score_offset,
                box_nms_thresh=self.box_nms_thresh,
                crop_n_layers=self.crop_n_layers,
                crop_nms_thresh=self.crop_nms_thresh,
                min_mask_region_area=0,  # ours below: SAM's needs OpenCV
                output_mode="binary_mask",
            )
        return self._generator

    def close(self) -> None:
        """Drop the model (frees its memory); the next view loads it again."""
        self._generator = None

    def masks_for_view(self, view: TrainingView) -> np.ndarray:
        """Bool [M, H, W], sorted by area (largest first); empty masks are dropped."""
        image = np.asarray(view.image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise MaskSourceError(
                f"{self.name}: view {view.name!r} image must be uint8 [H, W, 3] RGB, got {image.dtype} {image.shape}"
            )
        generator = self._get_generator()
        records = generator.generate(np.ascontiguousarray(image))
        if records:
            masks = np.stack([np.asarray(r["segmentation"], dtype=bool) for r in records])
        else:
            masks = np.zeros((0, view.height, view.width), dtype=bool)
        del records
        if self.min_mask_region_area > 0 and len(masks):
            masks = postprocess_small_regions(
                masks, self.min_mask_region_area, max(self.box_nms_thresh, self.crop_nms_thresh)
            )
        areas = masks.sum(axis=(1, 2))
        masks = masks[np.argsort(-areas, kind="stable")]
        masks = masks[: int(np.count_nonzero(areas))]  # empty masks (possible with relaxed thresholds) say nothing
        return check_mask_stack(masks, view, self.name)
