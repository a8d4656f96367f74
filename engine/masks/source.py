"""The interface every mask source implements."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from engine.views.training_view import TrainingView


class MaskSourceError(ValueError):
    """A mask source cannot produce masks (message says what is wrong and what to do)."""


class MaskSource(ABC):
    #: Short name used in logs and cache keys ("sam-vit_h", "weights-free", "user-masks").
    name: str = "masks"

    @abstractmethod
    def settings(self) -> dict:
        """Everything that changes the masks (model, checkpoint identity, thresholds...): the cache key."""

    @abstractmethod
    def masks_for_view(self, view: TrainingView) -> np.ndarray:
        """Boolean masks [M, H, W] for one view (M may be 0). Must not keep them after returning."""


def check_mask_stack(masks: np.ndarray, view: TrainingView, source: str) -> np.ndarray:
    """Validate a source's output: bool [M, H, W] matching the view's size (clear error otherwise)."""
    masks = np.asarray(masks)
    if masks.ndim != 3 or masks.shape[1:] != (view.height, view.width):
        raise MaskSourceError(
            f"{source}: masks for view {view.name!r} have shape {masks.shape}, expected [M, {view.height}, "
            f"{view.width}] (the view's image size)"
        )
    return masks.astype(bool, copy=False)


def drop_cut_masks(masks: np.ndarray, margin: int = 1) -> np.ndarray:
    """The masks [M, H, W] that keep ``margin`` pixels off the image border: in a close-up, a mask reaching the
    border is a thing cut by the frame, and its 3D extent (its scale) would be that of the visible piece."""
    if len(masks) == 0:
        return masks
    m = max(1, int(margin))
    edge = np.zeros(masks.shape[1:], bool)
    edge[:m], edge[-m:], edge[:, :m], edge[:, -m:] = True, True, True, True
    return masks[~(masks & edge).any(axis=(1, 2))]
