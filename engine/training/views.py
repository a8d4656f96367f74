"""Training views: a camera with its image, and the depth and alpha rendered from the frozen splat.

Views come from the original capture (COLMAP or transforms.json with its images) or are rendered from
the splat itself at automatic views. Either way the depth (for the mask scales) is rendered from the
splat, because the splat is what the features live on.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from engine.cameras.cameras import CameraFileError, Cameras


@dataclass
class TrainingView:
    """One view. image [H, W, 3] uint8; depth [H, W] float32 expected depth (NaN where alpha < 0.5);
    alpha [H, W] float32; viewmat [4, 4] and K [3, 3] OpenCV; name unique within the set."""

    name: str
    image: np.ndarray
    depth: np.ndarray
    alpha: np.ndarray
    viewmat: np.ndarray
    K: np.ndarray

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])


def rendered_views(splat, cameras: Cameras, device: str = "cpu", backend: str = "auto") -> Iterator[TrainingView]:
    """Views rendered from the splat itself (no photos): image, depth and alpha all from the renderer."""
    from engine.render.image_files import to_uint8
    from engine.render.render_views import render_views

    for i, view in enumerate(render_views(splat, cameras, backend=backend, device=device)):
        depth = np.where(view.alpha > 0.5, view.depth, np.nan).astype(np.float32)
        yield TrainingView(view.name, to_uint8(view.rgb), depth, view.alpha.astype(np.float32),
                           cameras.viewmats[i], cameras.Ks[i])  # fmt: skip


def captured_views(splat, cameras: Cameras, device: str = "cpu", backend: str = "auto") -> Iterator[TrainingView]:
    """Views from the capture: the photo from disk, depth and alpha rendered from the splat. Every camera
    needs ``image_paths``; an image that is missing or whose size differs from the camera's is reported
    naming the file (CameraFileError)."""
    from PIL import Image

    from engine.render.render_views import render_views

    if cameras.image_paths is None:
        raise CameraFileError(None, "the cameras have no image files; give the images folder")
    for path in cameras.image_paths:
        if not os.path.exists(path):
            raise CameraFileError(path, "image file not found")
    for i, view in enumerate(render_views(splat, cameras, backend=backend, device=device)):
        path = cameras.image_paths[i]
        with Image.open(path) as im:
            image = np.asarray(im.convert("RGB"))
        if image.shape[:2] != (cameras.height, cameras.width):
            raise CameraFileError(path, f"image is {image.shape[1]}x{image.shape[0]} but its camera is "
                                        f"{cameras.width}x{cameras.height}")  # fmt: skip
        depth = np.where(view.alpha > 0.5, view.depth, np.nan).astype(np.float32)
        yield TrainingView(view.name, image, depth, view.alpha.astype(np.float32), cameras.viewmats[i],
                           cameras.Ks[i])  # fmt: skip
