"""One training view: the image the masks are made from, the depth and alpha rendered from the splat, its camera."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class TrainingView:
    """One view at the size the engine trains at.

    image [H, W, 3] uint8; depth [H, W] float32 expected depth (NaN where alpha < 0.5); alpha [H, W] float32;
    viewmat [4, 4] and K [3, 3] OpenCV at that size; name unique within the set. ``source_width`` /
    ``source_height`` are the size of the view's own image (the photo as the user has it, or the rendered view):
    user masks and clicks may be given at that size. ``close_up``: the view frames only a part of the scene (a
    close-up rendered from the splat), so a mask that reaches its border is a thing cut by the frame."""

    name: str
    image: np.ndarray
    depth: np.ndarray
    alpha: np.ndarray
    viewmat: np.ndarray
    K: np.ndarray
    source_width: int | None = None
    source_height: int | None = None
    close_up: bool = False

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def source_size(self) -> tuple[int, int]:
        """(width, height) of the view's own image."""
        return (self.source_width or self.width, self.source_height or self.height)
